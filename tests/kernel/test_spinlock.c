/*
 * test_spinlock.c - contended waits nap instead of spinning on (suite "spinlock").
 *
 * Two harts (cpu 0 and the last one) share a lock through cpu_call_all, with
 * interrupts off as in the allocators.  The waiter's nap count (sl_naps) is
 * compared with what the hold time allows, and a counter bumped without
 * atomics under the lock checks that napping keeps the exclusion.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/spinlock.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/smp.h"
#include "kernel/timer.h"

#define SN_ROUNDS	400	/* lock/unlock pairs per hart in the exclusion case */

static spinlock_t sn_lock;
static struct {
	unsigned sn_other;		/* the second hart */
	uint64_t sn_hold;		/* rdtime ticks the holder keeps the lock */
	volatile uint32_t sn_held;	/* the holder has the lock */
	volatile uint32_t sn_timeouts;	/* bounded waits that ran out */
	uint64_t sn_count;		/* bumped under sn_lock, no atomics */
} sn;

/* Busy-wait until *word is non-zero (bounded to 10 s); false on timeout. */
static bool sn_wait_for(volatile uint32_t *word)
{
	uint64_t deadline = arch_rdtime() + 10 * timer_hz();

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0)
		if (arch_rdtime() > deadline) {
			__atomic_fetch_add(&sn.sn_timeouts, 1, __ATOMIC_RELAXED);
			return false;
		}
	return true;
}

/* The other hart holds sn_lock until cpu 0 waits, then sn_hold longer. */
static void sn_long_hold(void *arg)
{
	uint64_t until;

	(void)arg;
	if (this_cpu() == sn.sn_other) {
		spin_lock(&sn_lock);
		__atomic_store_n(&sn.sn_held, 1, __ATOMIC_RELEASE);
		sn_wait_for(&sn_lock.sl_waiters);
		until = arch_rdtime() + sn.sn_hold;
		while (arch_rdtime() < until)
			arch_cpu_relax();
		spin_unlock(&sn_lock);
	} else if (this_cpu() == 0 && sn_wait_for(&sn.sn_held)) {
		spin_lock(&sn_lock);
		spin_unlock(&sn_lock);
	}
}

/* A wait of 5 ms naps (it spins only SPIN_NAP_AFTER_US between naps). */
static void spinlock_test_long_wait_naps(struct ktest *t)
{
	uint64_t waited, per_round;

	if (ncpus < 2)
		ktest_skip(t, "needs 2 harts");
	spin_init(&sn_lock, "spinlock-test", LOCK_RANK_TEST);
	sn.sn_other = ncpus - 1;
	sn.sn_held = 0;
	sn.sn_timeouts = 0;
	sn.sn_hold = timer_hz() / 200;		/* 5 ms */
	cpu_call_all(sn_long_hold, NULL);
	KEXPECT_EQ(t, sn.sn_timeouts, 0);
	KEXPECT_EQ(t, sn_lock.sl_contended, 1);
	waited = sn_lock.sl_wait_max;
	KEXPECT_GE(t, waited, sn.sn_hold);
	/* Each nap follows SPIN_NAP_AFTER_US of spinning (a nap may end early
	 * if an interrupt is pending), so at most one per that much waiting;
	 * a 5 ms wait is far longer than one. */
	per_round = SPIN_NAP_AFTER_US * timer_hz() / 1000000;
	KEXPECT_GE(t, sn_lock.sl_naps, 1);
	KEXPECT_LE(t, sn_lock.sl_naps, waited / per_round + 1);
	ktest_log(t, "waited %llu ticks, %llu naps, %llu spins",
		  (unsigned long long)waited, (unsigned long long)sn_lock.sl_naps,
		  (unsigned long long)sn_lock.sl_spins);
	spin_destroy(&sn_lock);
}

/* Both harts bump sn_count SN_ROUNDS times; every 50th hold lasts 200 us. */
static void sn_bump(void *arg)
{
	(void)arg;
	if (this_cpu() != 0 && this_cpu() != sn.sn_other)
		return;
	for (unsigned i = 0; i < SN_ROUNDS; i++) {
		spin_lock(&sn_lock);
		uint64_t c = sn.sn_count;

		if (i % 50 == 0) {
			uint64_t until = arch_rdtime() + timer_hz() / 5000;

			while (arch_rdtime() < until)
				arch_cpu_relax();
		}
		__atomic_store_n(&sn.sn_count, c + 1, __ATOMIC_RELAXED);
		spin_unlock(&sn_lock);
	}
}

/* Napping waiters keep mutual exclusion: no increment is lost. */
static void spinlock_test_naps_keep_exclusion(struct ktest *t)
{
	if (ncpus < 2)
		ktest_skip(t, "needs 2 harts");
	spin_init(&sn_lock, "spinlock-test", LOCK_RANK_TEST);
	sn.sn_other = ncpus - 1;
	sn.sn_count = 0;
	cpu_call_all(sn_bump, NULL);
	KEXPECT_EQ(t, sn.sn_count, 2 * SN_ROUNDS);
	KEXPECT_EQ(t, sn_lock.sl_acquires, 2 * SN_ROUNDS);
	ktest_log(t, "contended %llu naps %llu", (unsigned long long)sn_lock.sl_contended,
		  (unsigned long long)sn_lock.sl_naps);
	spin_destroy(&sn_lock);
}

static const struct ktest_case spinlock_cases[] = {
	KTEST_CASE(spinlock_test_long_wait_naps),
	KTEST_CASE(spinlock_test_naps_keep_exclusion),
	KTEST_END,
};
KTEST_SUITE(spinlock_suite, "spinlock", spinlock_cases);
