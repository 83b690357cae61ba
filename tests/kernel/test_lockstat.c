/*
 * test_lockstat.c - spinlock contention counters and the `lockstat` report.
 *
 * The counts are read back the way a user reads them: lockstat_dump() prints
 * the table into a buffer and the cases parse its text, then compare with
 * the workload they ran (a known number of acquisitions, a contention forced
 * by holding the lock until the other hart is seen in the contended path).
 */
#include <stdarg.h>

#include "arch/riscv/csr.h"
#include "kernel/console.h"
#include "kernel/hart.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/lockstat.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"
#include "mm/vmem.h"

#define LW_ROUNDS	1000	/* lock/unlock pairs per hart in the counted run */

/* One row of the report, as parsed from its text. */
struct lockstat_line {
	unsigned long long ll_acquires, ll_contended, ll_spins, ll_wait_max, ll_wait_sum;
	unsigned ll_rank;
	unsigned long ll_addr;
	char ll_name[40];
};

static char lt_text[262144];	/* the captured report: up to 2048 rows of ~100 characters */
static size_t lt_len;		/* characters in lt_text */
static bool lt_overflow;	/* the report did not fit */

/* printk-like sink that appends to lt_text. */
static int lt_out(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lt_text + lt_len, sizeof(lt_text) - lt_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(lt_text) - lt_len) {
		lt_overflow = true;
		return n;
	}
	lt_len += (size_t)n;
	return n;
}

/* Capture a fresh report; returns the number of rows lockstat_dump printed. */
static int lt_capture(void)
{
	lt_len = 0;
	lt_text[0] = 0;
	lt_overflow = false;
	return lockstat_dump(lt_out);
}

/* Parse one data row at s; false for the header lines. */
static bool lt_parse_line(const char *s, struct lockstat_line *ll)
{
	unsigned long long *f[5] = { &ll->ll_acquires, &ll->ll_contended, &ll->ll_spins,
				     &ll->ll_wait_max, &ll->ll_wait_sum };
	char *end;
	size_t n;

	for (unsigned i = 0; i < 5; i++) {
		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		*f[i] = strtoul(s, &end, 10);
		s = end;
	}
	ll->ll_rank = (unsigned)strtoul(s, &end, 10);
	ll->ll_addr = strtoul(end, &end, 16);
	while (*end == ' ')
		end++;
	for (n = 0; end[n] != '\n' && end[n] != 0 && n + 1 < sizeof(ll->ll_name); n++)
		ll->ll_name[n] = end[n];
	ll->ll_name[n] = 0;
	return true;
}

/* Find the row of the lock at addr in the captured report; false if absent. */
static bool lt_find(const void *addr, struct lockstat_line *ll)
{
	for (const char *s = lt_text; s != NULL && *s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		if (lt_parse_line(s, ll) && ll->ll_addr == (unsigned long)addr)
			return true;
	return false;
}

static spinlock_t lw_lock;	/* the contended lock */
static struct {
	unsigned lw_other;		/* the second hart */
	volatile unsigned lw_held;	/* the other hart holds lw_lock for the forced wait */
	volatile unsigned lw_timeouts;	/* bounded waits that ran out */
	uint64_t lw_hold;		/* ticks to keep holding once a waiter is seen */
} lw;

/* Wait (bounded to 10 s) until *word is non-zero; false on timeout. */
static bool lw_wait_for(volatile uint32_t *word)
{
	uint64_t deadline = arch_rdtime() + 10 * timer_hz();

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0)
		if (arch_rdtime() > deadline) {
			__atomic_fetch_add(&lw.lw_timeouts, 1, __ATOMIC_RELAXED);
			return false;
		}
	return true;
}

/* The other hart: hold the lock until cpu 0 is spinning, then lw_hold longer. */
static void lw_hold_until_waiter(void)
{
	uint64_t until;

	spin_lock(&lw_lock);
	__atomic_store_n(&lw.lw_held, 1, __ATOMIC_RELEASE);
	lw_wait_for(&lw_lock.sl_waiters);
	until = arch_rdtime() + lw.lw_hold;
	while (arch_rdtime() < until)
		arch_cpu_relax();
	spin_unlock(&lw_lock);
}

/* On cpu 0 and lw_other: LW_ROUNDS pairs each, then one forced contention. */
static void lw_work(void *arg)
{
	unsigned self = this_cpu();

	(void)arg;
	if (self != 0 && self != lw.lw_other)
		return;
	for (unsigned i = 0; i < LW_ROUNDS; i++) {
		spin_lock(&lw_lock);
		spin_unlock(&lw_lock);
	}
	if (self == lw.lw_other) {
		lw_hold_until_waiter();
	} else if (lw_wait_for(&lw.lw_held)) {
		spin_lock(&lw_lock);
		spin_unlock(&lw_lock);
	}
}

/* Two harts' acquisitions are counted exactly; a forced wait is seen and timed. */
static void lockstat_test_counts_match_workload(struct ktest *t)
{
	struct lockstat_line ll;

	if (ncpus < 2)
		ktest_skip(t, "needs 2 harts");
	spin_init(&lw_lock, "lockstat-test", LOCK_RANK_TEST);
	lw.lw_other = ncpus - 1;
	lw.lw_held = 0;
	lw.lw_timeouts = 0;
	lw.lw_hold = timer_hz() / 500;	/* 2 ms */
	cpu_call_all(lw_work, NULL);
	KEXPECT_EQ(t, lw.lw_timeouts, 0);
	KASSERT_GT(t, lt_capture(), 0);
	KASSERT_FALSE(t, lt_overflow);
	KASSERT_TRUE(t, lt_find(&lw_lock, &ll));
	KEXPECT_STREQ(t, ll.ll_name, "lockstat-test");
	KEXPECT_EQ(t, ll.ll_rank, LOCK_RANK_TEST);
	KEXPECT_EQ(t, ll.ll_acquires, 2 * LW_ROUNDS + 2);
	KEXPECT_GE(t, ll.ll_contended, 1);
	KEXPECT_LT(t, ll.ll_contended, ll.ll_acquires);	/* someone took it without waiting */
	KEXPECT_GE(t, ll.ll_wait_max, lw.lw_hold);	/* cpu 0 waited through the hold */
	KEXPECT_GE(t, ll.ll_wait_sum, ll.ll_wait_max);
	ktest_log(t, "acquires %llu contended %llu spins %llu wait-max %llu ticks",
		  ll.ll_acquires, ll.ll_contended, ll.ll_spins, ll.ll_wait_max);
	spin_destroy(&lw_lock);
}

/* The report is ordered by contention and lists static and per-zone locks. */
static void lockstat_test_sorted_and_complete(struct ktest *t)
{
	static spinlock_t busy;
	struct lockstat_line ll;
	unsigned long long prev = ~0ULL >> 1;
	unsigned rows = 0, zones = 0;
	bool printk_seen = false;

	spin_init(&busy, "lockstat-busy", LOCK_RANK_TEST);
	busy.sl_contended = ~0ULL >> 2;		/* must come first */
	KASSERT_GT(t, lt_capture(), 0);
	for (const char *s = lt_text; s != NULL && *s; s = strchr(s, '\n'), s = s ? s + 1 : s) {
		if (!lt_parse_line(s, &ll))
			continue;
		if (rows++ == 0)
			KEXPECT_EQ(t, ll.ll_addr, (unsigned long)&busy);
		KEXPECT_LE(t, ll.ll_contended, prev);
		prev = ll.ll_contended;
		zones += strcmp(ll.ll_name, "zone") == 0;
		printk_seen |= strcmp(ll.ll_name, "printk") == 0;
	}
	KEXPECT_EQ(t, rows, strtoul(lt_text + strlen("lockstat: "), NULL, 10));	/* none left out */
	KEXPECT_EQ(t, (int)rows, lt_capture());
	KEXPECT_TRUE(t, printk_seen);
	KEXPECT_GE(t, zones, 1);
	spin_destroy(&busy);
}

/* spin_destroy takes a lock off the report; re-init does not list it twice. */
static void lockstat_test_destroy_unlists(struct ktest *t)
{
	spinlock_t l;
	struct lockstat_line ll;
	unsigned n = 0;

	spin_init(&l, "lockstat-stack", LOCK_RANK_TEST);
	spin_init(&l, "lockstat-stack", LOCK_RANK_TEST);
	KASSERT_GT(t, lt_capture(), 0);
	for (const char *s = lt_text; s != NULL && *s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		n += lt_parse_line(s, &ll) && ll.ll_addr == (unsigned long)&l;
	KEXPECT_EQ(t, n, 1);
	spin_lock(&l);
	KTEST_EXPECT_PANIC(t, spin_destroy(&l), "is held");
	spin_unlock(&l);
	KEXPECT_TRUE(t, lockstat_registered(&l));
	spin_destroy(&l);
	KEXPECT_FALSE(t, lockstat_registered(&l));
	KASSERT_GT(t, lt_capture(), 0);
	KEXPECT_FALSE(t, lt_find(&l, &ll));
	KTEST_EXPECT_PANIC(t, spin_destroy(&l), "not registered");
}

/* A lock overwritten while listed is reported, not followed; the list survives. */
static void lockstat_test_broken_list_reported(struct ktest *t)
{
	spinlock_t a, b, c;
	spinlock_t *saved;

	spin_init(&a, "lockstat-a", LOCK_RANK_TEST);
	spin_init(&b, "lockstat-b", LOCK_RANK_TEST);	/* the list is now b, a, ... */
	saved = a.sl_prev;
	a.sl_prev = NULL;				/* as if a were freed and reused */
	KTEST_EXPECT_PANIC(t, spin_init(&c, "lockstat-c", LOCK_RANK_TEST),
			   "lock list broken after 'lockstat-b'");
	a.sl_prev = saved;
	KEXPECT_FALSE(t, lockstat_registered(&c));
	spin_destroy(&b);
	spin_destroy(&a);
	KEXPECT_FALSE(t, lockstat_registered(&a));
}

/* A vmem arena's lock is listed under the arena's name until vmem_destroy. */
static void lockstat_test_vmem_arena(struct ktest *t)
{
	vmem_t *vmp = vmem_create("kt_lockstat", 0x10000, 0x10000, 0x1000, NULL, NULL, NULL,
				  0, 0);
	bool found = false;
	struct lockstat_line ll;

	KASSERT_NOT_NULL(t, vmp);
	KASSERT_GT(t, lt_capture(), 0);
	for (const char *s = lt_text; s != NULL && *s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		found |= lt_parse_line(s, &ll) && strcmp(ll.ll_name, "kt_lockstat") == 0;
	KEXPECT_TRUE(t, found);
	vmem_destroy(vmp);
	KASSERT_GT(t, lt_capture(), 0);
	KEXPECT_NULL(t, strstr(lt_text, "kt_lockstat"));
}

/* The console command runs, resets, and refuses unknown arguments. */
static void lockstat_test_command(struct ktest *t)
{
	static spinlock_t l;
	char show[] = "lockstat", reset[] = "lockstat -r", bad[] = "lockstat -x",
	     extra[] = "lockstat -r now";
	struct lockstat_line ll;

	spin_init(&l, "lockstat-cmd", LOCK_RANK_TEST);
	spin_lock(&l);
	spin_unlock(&l);
	KEXPECT_EQ(t, console_exec(show), 0);
	KEXPECT_EQ(t, console_exec(bad), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(extra), CONSOLE_USAGE);
	KASSERT_GT(t, lt_capture(), 0);
	KASSERT_TRUE(t, lt_find(&l, &ll));
	KEXPECT_EQ(t, ll.ll_acquires, 1);
	KEXPECT_EQ(t, console_exec(reset), 0);
	KASSERT_GT(t, lt_capture(), 0);
	KASSERT_TRUE(t, lt_find(&l, &ll));
	KEXPECT_EQ(t, ll.ll_acquires, 0);
	spin_destroy(&l);
}

static const struct ktest_case lockstat_cases[] = {
	KTEST_CASE(lockstat_test_counts_match_workload),
	KTEST_CASE(lockstat_test_sorted_and_complete),
	KTEST_CASE(lockstat_test_destroy_unlists),
	KTEST_CASE(lockstat_test_broken_list_reported),
	KTEST_CASE(lockstat_test_vmem_arena),
	KTEST_CASE(lockstat_test_command),
	KTEST_END
};
KTEST_SUITE(lockstat_suite, "lockstat", lockstat_cases);
