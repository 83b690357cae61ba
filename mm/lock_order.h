/*
 * lock_order.h - the one place where the kernel's lock order is written.
 *
 * Every spinlock is created with a rank (spin_init(l, name, rank) or
 * SPINLOCK_INIT(name, rank)).  A hart may take a lock only when its rank is
 * higher than the rank of every lock the hart already holds; two locks of
 * the same rank are never held together.  Debug builds (MM_DEBUG) keep a
 * mask of the ranks each hart holds (struct lock_held_set below) and panic
 * on an acquisition that breaks the order, naming both locks, so an order
 * violation shows up the first time the path runs instead of the first
 * time it deadlocks.  spin_trylock() is exempt from the check (it cannot
 * wait, so it cannot deadlock) but its lock joins the set.
 *
 * The order, outermost first, and why each lock sits where it does:
 *
 *   XCALL        kernel/smp.c xcall_lock.  A cross-call initiator holds it
 *                while the target harts (and it) run the function, and the
 *                function may take any lock below; so cpu_call_all() is
 *                made holding no other lock.
 *   KMALLOC_CLASS  mm/kmalloc.c: making a class cache on first use
 *                (kmalloc_ondemand, libkmem) and the large-record cache;
 *                held across kmem_cache_create, so before every kmem lock.
 *                Never taken in interrupt context: kmalloc only makes
 *                caches in a process.  mm/kmem.c's kmem_magtype_lock
 *                (making a magazine cache on first use, from any magazine
 *                slow path) shares the rank but is only ever tried
 *                (spin_trylock): it never waits, and a hart that fails
 *                goes on without a magazine.
 *   KMEM_LIST    the list of object caches (create, destroy, reap, dumps).
 *   KMEM_DEPOT   one NUMA node's depot of one object cache (full and empty
 *                magazine lists).
 *   KMEM_SLAB    one node's slab layer of one object cache (slab lists,
 *                bufctl hash); dropped around slab creation and
 *                destruction, so vmem and the page allocator are called
 *                without it (mm/kmem_impl.h).
 *   SEGKMEM      kernel/segkmem.c: the heap's dirty list.  Held across a
 *                whole free or lazy purge (unmap, TLB fences, frees to the
 *                arena), so it comes before the arena, MMU and zone locks;
 *                after the kmem locks, so a cache may use the heap even if
 *                it someday holds one of them.
 *   VMEM_LIST    the list of vmem arenas (create, destroy, dumps).
 *   VMEM_ARENA   one arena (vm_lock).  Never two at once: an arena drops its
 *                lock before it calls its source or a quantum cache.
 *   MMU          arch/riscv/mmu.c page tables; allocates page-table pages
 *                from the page allocator while held.
 *   VMEM_SEG     vmem's global pool of segment structures: a leaf.
 *   ZONE         one zone's buddy lists (z_lock): never two zones at once.
 *   TEST         locks that tests create to exercise the lock code.  They
 *                are unrelated locks that share a rank, so the
 *                interrupt-safety check (below) skips this rank.
 *   TEST_IRQ     the lock the interrupt-safety check's own test uses.
 *   PRINTK       kernel/printk.c: innermost, so any code may print while
 *                holding any lock above; printk takes no other lock.
 *
 * The per-hart caches (page caches, magazines) are not locks: they are
 * "interrupts off on the owning hart", and may take any lock inside.
 *
 * Interrupts: every lock of the ranks KMEM_LIST to ZONE is taken with
 * interrupts off, because the timer's reaper (kernel/kmem_glue.c) and the
 * drain cross-calls (page_drain_all, kmem_drain_this_hart) take them in
 * interrupt context; debug builds check this too (lock_irq_note below).
 */
#ifndef MM_LOCK_ORDER_H
#define MM_LOCK_ORDER_H

#include <stddef.h>

enum lock_rank {
	LOCK_RANK_XCALL = 1,
	LOCK_RANK_KMALLOC_CLASS,
	LOCK_RANK_KMEM_LIST,
	LOCK_RANK_KMEM_DEPOT,
	LOCK_RANK_KMEM_SLAB,
	LOCK_RANK_SEGKMEM,
	LOCK_RANK_VMEM_LIST,
	LOCK_RANK_VMEM_ARENA,
	LOCK_RANK_MMU,
	LOCK_RANK_VMEM_SEG,
	LOCK_RANK_ZONE,
	LOCK_RANK_TEST,
	LOCK_RANK_TEST_IRQ,
	LOCK_RANK_PRINTK,
	LOCK_RANK_COUNT		/* ranks are 1..LOCK_RANK_COUNT-1 */
};

#ifndef LOCK_DEBUG
#define LOCK_DEBUG	MM_DEBUG	/* check the order on every acquisition */
#endif

/*
 * The locks one hart holds, by rank.  Ranks are small, so the set is a bit
 * mask of the ranks held, a count per rank (several locks of one rank are
 * held together only through spin_trylock) and the name of the last lock
 * taken at each rank, for the report.  Checking an acquisition is one shift
 * of the mask: any bit at or above the new rank is a violation.  Each
 * environment keeps one set per hart (kernel: struct hart; host:
 * thread-local) and calls the helpers below from its spin_lock,
 * spin_trylock and spin_unlock; a set is touched only by its own hart.
 */
struct lock_held_set {
	unsigned lhs_mask;				/* bit r: some lock of rank r held */
	unsigned char lhs_count[LOCK_RANK_COUNT];	/* locks held per rank */
	const char *lhs_name[LOCK_RANK_COUNT];		/* last lock taken per rank */
};

/* True when no held lock forbids taking one of `rank` now. */
static inline int lock_order_ok(const struct lock_held_set *s, unsigned rank)
{
	return (s->lhs_mask >> rank) == 0;
}

/* The lowest held rank at or above `rank` (call only when !lock_order_ok). */
static inline unsigned lock_order_conflict(const struct lock_held_set *s, unsigned rank)
{
	while (!((s->lhs_mask >> rank) & 1))
		rank++;
	return rank;
}

/* Record a lock of `rank` just taken; false when the rank's count would overflow. */
static inline int lock_held_add(struct lock_held_set *s, const char *name, unsigned rank)
{
	unsigned n = s->lhs_count[rank] + 1u;

	s->lhs_count[rank] = (unsigned char)n;
	s->lhs_mask |= 1u << rank;
	s->lhs_name[rank] = name;
	return n <= 255;
}

/* Forget a lock of `rank` that the set holds (released); any order is fine. */
static inline void lock_held_remove(struct lock_held_set *s, unsigned rank)
{
	if (--s->lhs_count[rank] == 0)
		s->lhs_mask &= ~(1u << rank);
}

/* Forget a lock that may or may not be in the set (re-initialised, forced free). */
static inline void lock_held_forget(struct lock_held_set *s, unsigned rank)
{
	if (rank < LOCK_RANK_COUNT && s->lhs_count[rank] != 0)
		lock_held_remove(s, rank);
}

/*
 * Interrupt safety (lockdep's irq rule, kept per rank).  A lock that is ever
 * taken in interrupt context (an interrupt handler, or a cross-call function
 * on its target) must never be taken with interrupts on: an interrupt that
 * arrives on the hart holding it would take it again, and spin forever or
 * panic.  Each rank keeps a record (a word of LOCK_IRQ_* bits, set once per
 * bit with an atomic OR) of how its locks have been taken so far; a record
 * with both bits is a bug whichever came first, so the first boot that runs
 * both paths reports it, even when the fatal interleaving never happens.
 * The kernel's spin_lock keeps the records (arch/riscv/spinlock.c);
 * spin_trylock is exempt, as from the order check: it never waits; so is
 * rank TEST, whose locks are unrelated test locks (a test may take one in
 * a cross-call and another with interrupts on).
 */
#define LOCK_IRQ_IN_IRQ	1u	/* some lock of the rank taken in interrupt context */
#define LOCK_IRQ_ON	2u	/* some lock of the rank taken with interrupts on */

/* Add `use` (LOCK_IRQ_* bits) to rank's record in uses[]; returns the record after. */
static inline unsigned lock_irq_note(unsigned *uses, unsigned rank, unsigned use)
{
	unsigned seen = __atomic_load_n(&uses[rank], __ATOMIC_RELAXED);

	if ((seen & use) != use)
		seen = __atomic_or_fetch(&uses[rank], use, __ATOMIC_RELAXED);
	return seen;
}

/* True when a record shows both uses: the rank is not interrupt-safe. */
static inline int lock_irq_conflict(unsigned seen)
{
	return (seen & (LOCK_IRQ_IN_IRQ | LOCK_IRQ_ON)) == (LOCK_IRQ_IN_IRQ | LOCK_IRQ_ON);
}

#endif /* MM_LOCK_ORDER_H */
