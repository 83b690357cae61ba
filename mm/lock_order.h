/*
 * lock_order.h - the one place where the kernel's lock order is written.
 *
 * Every spinlock is created with a rank (spin_init(l, name, rank) or
 * SPINLOCK_INIT(name, rank)).  A hart may take a lock only when its rank is
 * higher than the rank of every lock the hart already holds; two locks of
 * the same rank are never held together.  Debug builds (MM_DEBUG) keep a
 * short list of the locks each hart holds and panic on an acquisition that
 * breaks the order, naming both locks, so an order violation shows up the
 * first time the path runs instead of the first time it deadlocks.
 * spin_trylock() is exempt from the check (it cannot wait, so it cannot
 * deadlock) but its lock joins the list.
 *
 * The order, outermost first, and why each lock sits where it does:
 *
 *   XCALL        kernel/smp.c xcall_lock.  A cross-call initiator holds it
 *                while the target harts (and it) run the function, and the
 *                function may take any lock below; so cpu_call_all() is
 *                made holding no other lock.
 *   KMEM_LIST    the list of object caches (create, destroy, reap, dumps).
 *   KMEM_DEPOT   one NUMA node's depot of one object cache (full and empty
 *                magazine lists).
 *   KMEM_SLAB    one node's slab layer of one object cache (slab lists,
 *                bufctl hash); dropped around slab creation and
 *                destruction, so vmem and the page allocator are called
 *                without it (mm/kmem_impl.h).
 *   VMEM_LIST    the list of vmem arenas (create, destroy, dumps).
 *   VMEM_ARENA   one arena (vm_lock).  Never two at once: an arena drops its
 *                lock before it calls its source or a quantum cache.
 *   MMU          arch/riscv/mmu.c page tables; allocates page-table pages
 *                from the page allocator while held.
 *   VMEM_SEG     vmem's global pool of segment structures: a leaf.
 *   ZONE         one zone's buddy lists (z_lock): never two zones at once.
 *   TEST         locks that tests create to exercise the lock code.
 *   PRINTK       kernel/printk.c: innermost, so any code may print while
 *                holding any lock above; printk takes no other lock.
 *
 * The per-hart caches (page caches, magazines) are not locks: they are
 * "interrupts off on the owning hart", and may take any lock inside.
 */
#ifndef MM_LOCK_ORDER_H
#define MM_LOCK_ORDER_H

#include <stddef.h>

enum lock_rank {
	LOCK_RANK_XCALL = 10,
	LOCK_RANK_KMEM_LIST = 20,
	LOCK_RANK_KMEM_DEPOT = 30,
	LOCK_RANK_KMEM_SLAB = 40,
	LOCK_RANK_VMEM_LIST = 50,
	LOCK_RANK_VMEM_ARENA = 60,
	LOCK_RANK_MMU = 70,
	LOCK_RANK_VMEM_SEG = 80,
	LOCK_RANK_ZONE = 90,
	LOCK_RANK_TEST = 100,
	LOCK_RANK_PRINTK = 110,
};

#ifndef LOCK_DEBUG
#define LOCK_DEBUG	MM_DEBUG	/* check the order on every acquisition */
#endif

/* Locks one hart may hold at once (debug bookkeeping; deeper nesting panics). */
#define LOCK_HELD_MAX	8

/*
 * The locks one hart holds, in the order it took them.  Each environment
 * keeps one per hart (kernel: struct hart; host: thread-local) and calls the
 * helpers below from its spin_lock/spin_trylock/spin_unlock.
 */
struct lock_held {
	const void *lh_lock;		/* the lock (identity only) */
	const char *lh_name;		/* its name, for the report */
	unsigned lh_rank;		/* its rank */
};
struct lock_held_set {
	unsigned lhs_n;				/* entries in use */
	struct lock_held lhs_held[LOCK_HELD_MAX];	/* in no particular order */
};

/* A held lock whose rank forbids taking one of `rank` now, or NULL. */
static inline const struct lock_held *lock_order_conflict(const struct lock_held_set *s,
							  unsigned rank)
{
	for (unsigned i = 0; i < s->lhs_n; i++)
		if (s->lhs_held[i].lh_rank >= rank)
			return &s->lhs_held[i];
	return NULL;
}

/* Record a lock just taken; false when the set is full. */
static inline int lock_held_add(struct lock_held_set *s, const void *lock, const char *name,
				unsigned rank)
{
	if (s->lhs_n >= LOCK_HELD_MAX)
		return 0;
	s->lhs_held[s->lhs_n].lh_lock = lock;
	s->lhs_held[s->lhs_n].lh_name = name;
	s->lhs_held[s->lhs_n].lh_rank = rank;
	s->lhs_n++;
	return 1;
}

/* Forget a lock (released, or re-initialised); locks may be dropped in any order. */
static inline void lock_held_remove(struct lock_held_set *s, const void *lock)
{
	for (unsigned i = s->lhs_n; i-- > 0;)
		if (s->lhs_held[i].lh_lock == lock) {
			s->lhs_held[i] = s->lhs_held[--s->lhs_n];
			return;
		}
}

#endif /* MM_LOCK_ORDER_H */
