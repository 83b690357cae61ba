/*
 * spinlock.c - spinlocks with owner tracking (see spinlock.h).
 *
 * gcc 12 turns __atomic_exchange_n(..., __ATOMIC_ACQUIRE) on a 32-bit word
 * into amoswap.w.aq, and __atomic_store_n(..., __ATOMIC_RELEASE) into
 * `fence iorw,ow; amoswap.w zero,zero,(a0)` (checked in the object file), so
 * the critical section can neither start before the lock is taken nor leak
 * past its release.  The owner field is written only by the holder and read
 * by others just for diagnostics, so it needs no ordering.
 *
 * Lock order: with LOCK_DEBUG each hart keeps the set of locks it holds in
 * struct hart (h_locks) and spin_lock() panics when the new lock's rank is
 * not above every held one (mm/lock_order.h).  The set is private to the
 * hart, so the check needs no atomics.
 *
 * Interrupt safety: with LOCK_DEBUG, spin_lock also notes, per rank, whether
 * a lock is taken in interrupt context (trap_handler's h_in_irq: an IPI,
 * and the cross-call functions it runs, or the timer tick) or with
 * interrupts on, and panics naming the lock when a rank has been taken both
 * ways (mm/lock_order.h).  The common case, thread context with interrupts
 * off, costs six instructions (a byte load, a csrr, two branches); the
 * record is written only the first time each way is seen.
 *
 * Statistics: spin_lock's first amoswap is the whole uncontended path (plus
 * the owner store and sl_acquires++).  When it fails, spin_lock_contended()
 * (out of line, so the fast path stays as short as it was) announces itself
 * in sl_waiters, spins reading the word until it looks free, retries the
 * swap, and once the lock is its own adds the wait to the counters.  Only
 * the holder writes them, so no count is lost; readers (lockstat) see
 * values that are at most one acquisition old.
 *
 * Napping waiters.  Under QEMU every hart is a host thread, and a host with
 * fewer cores than harts deschedules a lock holder now and then: its
 * critical section then lasts a host time slice or more, and every waiter
 * spinning meanwhile burns host time the holder needs (docs/scale.md,
 * "Lock holders preempted by the host").  So a waiter that has spun for
 * SPIN_NAP_AFTER_US without getting the lock naps SPIN_NAP_US in wfi
 * (timer_nap_us: the SBI timer wakes it; its host thread sleeps meanwhile),
 * then spins again.  A lock held for less than SPIN_NAP_AFTER_US, the
 * normal case, never sees a nap.  A hart whose timer interrupt is not
 * enabled (sie.STIE, set by trap_init_hart) could not wake, so it only
 * spins.  The nap does not change the lock word or the unlock path;
 * sl_naps counts the naps.
 */
#include "arch/riscv/spinlock.h"
#include "arch/riscv/csr.h"
#include "kernel/hart.h"
#include "kernel/lockstat.h"
#include "kernel/printk.h"
#include "kernel/timer.h"

#define SPIN_CLOCK_EVERY	256	/* wait-loop iterations between clock reads */

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank)
{
	if (rank == 0 || rank >= LOCK_RANK_COUNT)
		panic("spin_init: lock '%s' has rank %u, outside 1..%u (mm/lock_order.h)",
		      name, (unsigned)rank, LOCK_RANK_COUNT - 1);
	if (LOCK_DEBUG && spin_held(l))		/* re-initialised while held */
		lock_held_forget(&this_hart()->h_locks, l->sl_rank);
	l->sl_locked = 0;
	l->sl_owner = -1;
	l->sl_name = name;
	l->sl_rank = rank;
	l->sl_waiters = 0;
	l->sl_naps = 0;
	lockstat_reset_one(l);
	lockstat_register(l);		/* a lock already on a list stays there once */
}

void spin_destroy(spinlock_t *l)
{
	if (l->sl_locked)
		panic("spin_destroy: lock '%s' (%p) is held by cpu %d", l->sl_name,
		      (void *)l, (int)l->sl_owner);
	lockstat_unregister(l);
}

bool spin_held(const spinlock_t *l)
{
	return l->sl_locked && l->sl_owner == (int32_t)this_cpu();
}

/* Report an acquisition out of rank order (LOCK_DEBUG builds); never returns. */
static __attribute__((noinline, noreturn)) void spin_order_panic(const spinlock_t *l)
{
	const struct lock_held_set *hs = &this_hart()->h_locks;
	unsigned r = lock_order_conflict(hs, l->sl_rank);

	panic("spin_lock: lock order violation on cpu %u: taking '%s' (rank %u) "
	      "while holding '%s' (rank %u); see mm/lock_order.h",
	      this_cpu(), l->sl_name, l->sl_rank, hs->lhs_name[r], r);
}

/* Report a rank held 256 times at once (a leak of trylocks); never returns. */
static __attribute__((noinline, noreturn)) void spin_depth_panic(const spinlock_t *l)
{
	panic("spin_lock: cpu %u holds 256 locks of rank %u (taking '%s')",
	      this_cpu(), l->sl_rank, l->sl_name);
}

/* Add l to this hart's held set (LOCK_DEBUG builds). */
static inline void spin_note_held(const spinlock_t *l)
{
	if (!lock_held_add(&this_hart()->h_locks, l->sl_name, l->sl_rank))
		spin_depth_panic(l);
}

/* Per rank: how its locks have been taken (LOCK_IRQ_* bits, atomic OR in lock_irq_note), and
 * the first lock seen each way (plain stores, racy between harts: only the panic reads them). */
static unsigned spin_irq_uses[LOCK_RANK_COUNT];
static const char *spin_irq_first[LOCK_RANK_COUNT][2];

/*
 * How this acquisition is made: LOCK_IRQ_* bits, 0 in thread context with
 * interrupts off.  A cross-call function counts as interrupt context when it
 * runs from the IPI's trap; the initiator and a hart polling for IPIs while
 * it waits to start its own cross-call run it in thread context with
 * interrupts off, holding no lock (mm/lock_order.h, XCALL).
 */
static inline unsigned spin_irq_use(void)
{
	return (this_hart()->h_in_irq ? LOCK_IRQ_IN_IRQ : 0) |
	       (arch_irqs_disabled() ? 0 : LOCK_IRQ_ON);
}

/* Record how l is taken now; panic if its rank is taken both in interrupts and with them on. */
static __attribute__((noinline)) void spin_irq_check(const spinlock_t *l, unsigned use)
{
	unsigned r = l->sl_rank, seen;

	for (unsigned b = 0; b < 2; b++)
		if ((use >> b) & 1 && spin_irq_first[r][b] == NULL)
			spin_irq_first[r][b] = l->sl_name;
	seen = lock_irq_note(spin_irq_uses, r, use);
	if (lock_irq_conflict(seen))
		panic("spin_lock: lock '%s' (rank %u) is not interrupt-safe: taken %s (cpu %u), "
		      "and '%s' of its rank was taken in interrupt context, '%s' with interrupts "
		      "on; hold it with interrupts off (spin_lock_irqsave)", l->sl_name, r,
		      use & LOCK_IRQ_IN_IRQ ? "in interrupt context" : "with interrupts on",
		      this_cpu(), spin_irq_first[r][0], spin_irq_first[r][1]);
}

void spin_irq_forget(enum lock_rank rank)
{
	__atomic_store_n(&spin_irq_uses[rank], 0, __ATOMIC_RELAXED);
	spin_irq_first[rank][0] = spin_irq_first[rank][1] = NULL;
}

/* rdtime value SPIN_NAP_AFTER_US after `from`: when a wait that spins from there may nap. */
static uint64_t spin_nap_deadline(uint64_t from)
{
	return from + SPIN_NAP_AFTER_US * timer_hz() / 1000000;
}

/*
 * Nap if this wait has spun past *nap_at (rdtime ticks) and the timer can
 * wake this hart; then set *nap_at one SPIN_NAP_AFTER_US later.  Returns 1
 * if it napped, else 0.
 */
static unsigned spin_maybe_nap(uint64_t *nap_at)
{
	uint64_t now = arch_rdtime();

	if (now < *nap_at || !(csr_read(sie) & SIE_STIE))
		return 0;
	timer_nap_us(SPIN_NAP_US);
	*nap_at = spin_nap_deadline(arch_rdtime());
	return 1;
}

/*
 * Spin until l is ours, napping now and then on a long wait, then count the
 * wait (we hold l: plain stores suffice).  Returns l so that spin_lock need
 * not keep it in a callee-saved register across the call: the fast path
 * then has no extra save/restore.
 */
static __attribute__((noinline)) spinlock_t *spin_lock_contended(spinlock_t *l)
{
	uint64_t start = arch_rdtime(), spins = 0, waited, naps = 0;
	uint64_t nap_at = spin_nap_deadline(start);

	__atomic_fetch_add(&l->sl_waiters, 1, __ATOMIC_RELAXED);
	do {
		while (__atomic_load_n(&l->sl_locked, __ATOMIC_RELAXED)) {
			arch_cpu_relax();
			if (++spins % SPIN_CLOCK_EVERY == 0)
				naps += spin_maybe_nap(&nap_at);
		}
	} while (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE));
	__atomic_fetch_sub(&l->sl_waiters, 1, __ATOMIC_RELAXED);
	waited = arch_rdtime() - start;
	l->sl_contended++;
	l->sl_naps += naps;
	l->sl_spins += spins;
	l->sl_wait_sum += waited;
	if (waited > l->sl_wait_max)
		l->sl_wait_max = waited;
	return l;
}

void spin_lock(spinlock_t *l)
{
	if (spin_held(l))
		panic("spin_lock: lock '%s' already held by this hart (cpu %u)",
		      l->sl_name, this_cpu());
	if (LOCK_DEBUG && !lock_order_ok(&this_hart()->h_locks, l->sl_rank))
		spin_order_panic(l);
	if (LOCK_DEBUG) {
		unsigned use = spin_irq_use();

		/* relaxed: other harts OR bits in; a stale read only costs a call */
		if (use != 0 &&
		    (__atomic_load_n(&spin_irq_uses[l->sl_rank], __ATOMIC_RELAXED) & use) != use &&
		    l->sl_rank != LOCK_RANK_TEST)
			spin_irq_check(l, use);		/* a way not seen before */
	}
	if (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE))
		l = spin_lock_contended(l);
	l->sl_owner = (int32_t)this_cpu();
	l->sl_acquires++;
	if (LOCK_DEBUG)
		spin_note_held(l);
}

bool spin_trylock(spinlock_t *l)
{
	if (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE))
		return false;
	l->sl_owner = (int32_t)this_cpu();
	l->sl_acquires++;
	if (LOCK_DEBUG)
		spin_note_held(l);
	return true;
}

void spin_unlock(spinlock_t *l)
{
	if (!spin_held(l))
		panic("spin_unlock: lock '%s' not held by this hart (cpu %u, owner %d)",
		      l->sl_name, this_cpu(), (int)l->sl_owner);
	if (LOCK_DEBUG)
		lock_held_remove(&this_hart()->h_locks, l->sl_rank);
	l->sl_owner = -1;
	__atomic_store_n(&l->sl_locked, 0, __ATOMIC_RELEASE);
}

unsigned long spin_lock_irqsave(spinlock_t *l)
{
	unsigned long flags = arch_irq_save();

	spin_lock(l);
	return flags;
}

void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags)
{
	spin_unlock(l);
	arch_irq_restore(flags);
}

void spin_force_release(spinlock_t *l)
{
	if (LOCK_DEBUG)
		lock_held_forget(&this_hart()->h_locks, l->sl_rank);
	l->sl_owner = -1;
	__atomic_store_n(&l->sl_locked, 0, __ATOMIC_RELEASE);
}
