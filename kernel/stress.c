/*
 * stress.c - the per-hart stress workload: `stress=SECONDS` (DESIGN.md §4,
 * issue 9 §1, docs/stress.md).
 *
 * 1. Overview.  Every online hart runs a random mix of allocations and
 *    frees against every allocator of the kernel at once, for SECONDS
 *    seconds; then the run gives everything back and proves that nothing
 *    was lost.  The last console line is the contract: `stress: passed ...`
 *    (QEMU exits 0) or `stress: FAILED <reason>` (exits 1).  A panic exits
 *    non-zero by itself.  Files: this one (the run), stress_kinds.c (the
 *    kinds of allocation and their patterns), stress_mix.c (what a
 *    hart does), stress_mbox.c (frees on another hart), stress_verify.c
 *    (snapshots, verification, report); structures in stress_impl.h.
 *
 * 2. The mix.  One seed (stress_seed=N, else drawn from the clock and
 *    printed) seeds one xorshift generator per hart (seed and cpu id), and
 *    the generator draws everything: the hart's weights per kind, each
 *    operation, size, flag and constraint.  The kinds: objects of the run's
 *    own 12 caches (8 B .. 9000 B; the odd ones with a constructor, one
 *    without magazines, one KMC_NOTNUMA, one KMC_DMA where a DMA zone
 *    exists), kmalloc 8 B .. 1 MiB (KM_DMA, kmalloc_node), pages of orders
 *    0..10 with zone and node flags, vmem_alloc/vmem_xalloc with align,
 *    phase, nocross, min and max on the run's own arena, vmem_xalloc on
 *    the kernel heap, and dma_alloc_coherent where the board has DMA pools
 *    (else that kind is off and the first line says so).  The heap kind,
 *    kmalloc above 8 KiB and pressure rounds run on at most 8 "heavy"
 *    harts (every n-th hart): every 8 MiB of heap freed costs a remote fence
 *    of every hart, and at 64 vCPUs on two loaded host cores, with every
 *    hart freeing heap memory, the end of the run (each hart frees all it
 *    holds) outlasted the watchdog (docs/stress.md).  A hart holds at
 *    most sh_slots objects (2048 / harts, 16..256: with many vCPUs on few
 *    host cores each operation is slow, and the end frees all of them) and
 *    sh_budget bytes (free memory / 2 / harts, at most 256 MiB), which scales
 *    the run with the machine.  Every
 *    allocator call goes through a noinline stress_op_* wrapper, so that a
 *    profile attributes a whole operation to its kind.  Replaying: the same
 *    seed gives each hart the same sequence of draws; which allocations fail
 *    and what other harts send depend on timing, so a replay repeats the mix,
 *    not the interleaving.
 *
 * 3. Patterns.  Each allocation is filled with words naming its owner hart,
 *    its sequence number and the word's index (stress_kinds.c: whole objects
 *    up to 4 KiB, sampled words of larger ones) and checked just before it
 *    is freed, on whatever hart frees it.  A constructed cache object is
 *    also checked for its constructed state when allocated, and put back in
 *    that state before it is freed.  Page flags (alignment, DMA32, THISNODE,
 *    PAGE_ZERO) and vmem constraints are checked on every result.  Any
 *    mismatch fails the run with the object, kind, owner, sequence number
 *    and first bad word.
 *
 * 4. Frees on other harts.  stress_remote=PERCENT (default 25) of frees go
 *    to another hart (on NUMA, half of them to a hart of another node when
 *    one exists) through that hart's mailbox, a bounded lock-free MPSC queue
 *    (stress_mbox.c); the owner empties it every 16 steps and frees what it
 *    finds after checking the pattern.  A full mailbox never blocks the
 *    sender: it frees the object itself and counts sh_mbox_full.
 *
 * 5. Pressure and interrupts.  Hart 0 opens a pressure epoch at seconds 1,
 *    5, 9, ...  On seeing it, each pressure hart (every hart, or every n-th
 *    so that at most STRESS_PRESSURE_HARTS take part: a failure may
 *    cross-call every hart) allocates pages from order 10 downwards, then
 *    4 KiB kmallocs, until each fails, then frees them all (zone class ANY,
 *    DMA32, DMA in turn).  The page allocator's last resorts (draining every
 *    hart's page cache by cross-call, then its reclaim hook, kmem_reap) run
 *    only for a caller with interrupts on.  The run is started in thread
 *    context (cpu_start_others) so that they can, and every hart runs with
 *    interrupts on throughout, so drain IPIs and the timer tick's reaper
 *    (kmem_reap_local, with kmem_reap_interval_ms set to 1 s for the run, so
 *    depot working sets are updated and reaped) arrive anywhere, inside the
 *    allocators too: every lock they take is held with interrupts off, and
 *    the debug lock check panics on one that is not (arch/riscv/spinlock.c).
 *    The last hart also calls kmem_reap() once a second.
 * 6. Reporting and hangs.  Counters are per hart, written by their hart with
 *    plain stores and read by hart 0 (no atomics on the hot path).  Hart 0
 *    prints `stress: t=` once a second and is the watchdog, before and after
 *    the stop.  It judges progress, not wall time: with 32-128 vCPUs on a
 *    2-core host a hart may wait many seconds for the host without being
 *    stuck.  The run hangs when no hart made progress (operations, harts
 *    done freeing, harts finished) for sr_hang_s seconds (20 s plus one per
 *    2 harts), or when one hart that is running or freeing stood still for
 *    sr_hang_s seconds while the others made STRESS_HANG_OPS operations per
 *    hart.  Waiting harts (the start line, the end) nap in wfi instead of
 *    spinning, so their vCPU threads leave the host to the harts at work.
 *    A hung hart 0, or a hart stuck with interrupts off (every cross-call
 *    then waits for it), is not caught by this: the test runner's timeout
 *    catches it.  The self-test hook stress_hang=1 stops the last hart on
 *    purpose (stress_hang_one), and make test's boot stress-selftest-hang
 *    checks that the watchdog names it.
 *
 * 7. Failure.  stress_fail() records the first reason; every other hart
 *    parks at its next poll; the first failing hart waits (at most 2 s) for
 *    them, prints `stress: FAILED <reason>` last and exits QEMU with 1.
 *
 * 8. The end.  Hart 0 sets sr_stop at SECONDS.  Each hart frees all it holds
 *    itself, says so (sr_freed), keeps emptying its mailbox (napping 1 ms
 *    whenever it was empty) until every hart has said so (nothing can arrive
 *    after that), empties it once more and returns.  Then stress_verify.c
 *    drains and checks (docs/stress.md).
 *    fail_every=N injects failures (mm/fail.h) during the mixed phase only.
 */
#include <stdarg.h>

#include "kernel/cmdline.h"
#include "kernel/dma.h"
#include "kernel/kmem_glue.h"
#include "kernel/lib.h"
#include "kernel/lockstat.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/stress.h"
#include "kernel/stress_impl.h"
#include "kernel/timer.h"
#include "mm/fail.h"

struct stress_run stress_run;

#define STRESS_PRESSURE_PERIOD	4	/* seconds between pressure epochs */
#define STRESS_BUDGET_MAX	(256ULL << 20)	/* bytes one hart holds at most */
#define STRESS_HANG_OPS		64	/* others' ops per hart that a stuck hart sits out */

/* Park this hart for good (a failure is being reported by another). */
static void __attribute__((noreturn)) stress_park(void)
{
	arch_irq_disable();
	__atomic_fetch_add(&stress_run.sr_parked, 1, __ATOMIC_ACQ_REL);
	for (;;)
		arch_wfi();
}

void stress_park_if_failed(void)
{
	if (__builtin_expect(stress_run.sr_failed, 0))
		stress_park();
}

void stress_fail(const char *fmt, ...)
{
	struct stress_run *sr = &stress_run;
	uint64_t deadline;
	va_list ap;
	int expected = 0;

	if (!__atomic_compare_exchange_n(&sr->sr_failed, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		stress_park();
	va_start(ap, fmt);
	vsnprintf(sr->sr_reason, sizeof(sr->sr_reason), fmt, ap);
	va_end(ap);
	deadline = timer_now_us() + 2000000;
	while (__atomic_load_n(&sr->sr_parked, __ATOMIC_ACQUIRE) + 1 < sr->sr_nharts &&
	       timer_now_us() < deadline)
		arch_cpu_relax();
	printk("stress: FAILED %s\n", sr->sr_reason);
	kernel_exit(1);
}

/* The `stress: t=` line: ops/s over the last interval, per hart and in all. */
static void stress_tick(unsigned t, uint64_t dt_us)
{
	static char line[16 * MAX_CPUS + 96];
	struct stress_run *sr = &stress_run;
	uint64_t total = 0, fails = 0;
	size_t n = 0;

	for (unsigned c = 0; c < sr->sr_nharts; c++) {
		uint64_t ops = sr->sr_hart[c]->sh_ops, rate = (ops - sr->sr_last_ops[c]) * 1000000 /
							       (dt_us ? dt_us : 1);

		total += rate;
		fails += sr->sr_hart[c]->sh_fails;
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %llu", (unsigned long long)rate);
	}
	printk("stress: t=%u ops/s %llu fails %llu per-hart%s\n", t, (unsigned long long)total,
	       (unsigned long long)(fails - sr->sr_last_fails), line);
	sr->sr_last_fails = fails;
}

/* Progress of the whole run: every hart's operations plus the end's milestones. */
static uint64_t stress_progress(void)
{
	struct stress_run *sr = &stress_run;
	uint64_t sum = __atomic_load_n(&sr->sr_freed, __ATOMIC_ACQUIRE) +
		       __atomic_load_n(&sr->sr_done, __ATOMIC_ACQUIRE);

	for (unsigned c = 0; c < sr->sr_nharts; c++)
		sum += sr->sr_hart[c]->sh_ops;
	return sum;
}

/* Fail the run: no hart made progress for sr_hang_s; name a hart still running or freeing. */
static void stress_hang_system(void)
{
	struct stress_run *sr = &stress_run;
	unsigned pick = 0;

	for (unsigned c = sr->sr_nharts; c-- > 0;)
		if (sr->sr_hart[c]->sh_phase == 0)
			pick = c;
	stress_fail("hang: no hart made progress for %u s%s (hart %u phase %d, last in %s)",
		    sr->sr_hang_s, sr->sr_stop ? " after the stop" : "", pick,
		    sr->sr_hart[pick]->sh_phase,
		    sr->sr_hart[pick]->sh_where ? sr->sr_hart[pick]->sh_where : "start");
}

/*
 * One hart c >= 1 (§6): idle while running or freeing (phase 0), it fails
 * the run after sr_hang_s seconds during which the other harts made
 * STRESS_HANG_OPS operations per hart: a hart the host merely starves
 * gets its turn long before that, one that is stuck never does.
 */
static void stress_watch_hart(unsigned c, uint64_t dt_us, uint64_t moved)
{
	struct stress_run *sr = &stress_run;
	struct stress_hart *sh = sr->sr_hart[c];
	uint64_t ops = sh->sh_ops;

	if (ops != sr->sr_last_ops[c] || sh->sh_phase != 0) {
		sr->sr_idle_us[c] = sr->sr_idle_ops[c] = 0;
	} else {
		sr->sr_idle_us[c] += MIN(dt_us, 2000000ULL);	/* hart 0 late: not proof */
		sr->sr_idle_ops[c] += moved;
	}
	sr->sr_last_ops[c] = ops;
	if (sr->sr_idle_us[c] >= (uint64_t)sr->sr_hang_s * 1000000 &&
	    sr->sr_idle_ops[c] >= (uint64_t)STRESS_HANG_OPS * sr->sr_nharts)
		stress_fail("hang: hart %u made no progress for %llu s while the others made %llu "
			    "operations (phase %d, ops stuck at %llu, last in %s)", c,
			    (unsigned long long)(sr->sr_idle_us[c] / 1000000),
			    (unsigned long long)sr->sr_idle_ops[c], sh->sh_phase,
			    (unsigned long long)ops, sh->sh_where ? sh->sh_where : "start");
}

/*
 * The watchdog, once a second on hart 0, before and after the stop (§6): it
 * judges progress, not wall time, because on a small host a many-hart guest
 * may get a fraction of one core.  The run hangs when nothing moved for
 * sr_hang_s seconds, or when one hart stood still while the rest did a lot.
 */
static void stress_watchdog(uint64_t dt_us)
{
	struct stress_run *sr = &stress_run;
	uint64_t progress = stress_progress(), moved = progress - sr->sr_last_progress;

	sr->sr_last_progress = progress;
	if (moved != 0)
		sr->sr_stall_us = 0;
	else
		sr->sr_stall_us += MIN(dt_us, 2000000ULL);
	if (sr->sr_stall_us >= (uint64_t)sr->sr_hang_s * 1000000)
		stress_hang_system();
	for (unsigned c = 1; c < sr->sr_nharts; c++)
		stress_watch_hart(c, dt_us, moved);
	sr->sr_last_ops[0] = sr->sr_hart[0]->sh_ops;
}

void stress_poll_hart0(struct stress_hart *sh)
{
	struct stress_run *sr = &stress_run;
	uint64_t now = timer_now_us(), dt;
	unsigned t = (unsigned)((now - sr->sr_t0_us) / 1000000);

	if (t <= sr->sr_ticks)
		return;
	dt = now - sr->sr_last_tick_us;
	sr->sr_ticks = t;
	sr->sr_last_tick_us = now;
	if (sr->sr_stop) {
		stress_watchdog(dt);	/* after the stop: no tick line */
		return;
	}
	sh->sh_where = "tick";
	stress_tick(t, dt);
	stress_watchdog(dt);
	if (t >= sr->sr_seconds) {
		sr->sr_stop_us = now;
		__atomic_store_n(&sr->sr_stop, 1, __ATOMIC_RELEASE);
	} else if (t % STRESS_PRESSURE_PERIOD == 1) {
		__atomic_store_n(&sr->sr_pressure, sr->sr_pressure + 1, __ATOMIC_RELEASE);
	}
}

/*
 * Hart 0: wait until every hart is at the start line, then start them all.
 * The limit counts from the last arrival: a slow host delays them, a hart
 * that never comes stops them.
 */
static void stress_start_line(void)
{
	struct stress_run *sr = &stress_run;
	uint64_t t0 = timer_now_us(), limit = (30 + sr->sr_nharts / 2) * 1000000ULL;
	unsigned seen = 0, arrived;

	while ((arrived = __atomic_load_n(&sr->sr_arrived, __ATOMIC_ACQUIRE)) < sr->sr_nharts) {
		if (arrived != seen) {
			seen = arrived;
			t0 = timer_now_us();
		}
		if (timer_now_us() - t0 > limit)
			stress_fail("hang: %u of %u harts reached the start line, none more within "
				    "%llu s", arrived, sr->sr_nharts,
				    (unsigned long long)(limit / 1000000));
		timer_nap_us(STRESS_WAIT_NAP_US);
	}
	sr->sr_t0_us = sr->sr_last_tick_us = timer_now_us();
	__atomic_store_n(&sr->sr_go, 1, __ATOMIC_RELEASE);
}

/*
 * The end on one hart (§8): every hart has freed what it held, mailboxes
 * emptied.  A hart that waits naps between looks at its mailbox, so that
 * its vCPU thread leaves the host's cores to the harts still freeing.
 */
static void stress_hart_finish(struct stress_hart *sh)
{
	struct stress_run *sr = &stress_run;

	sh->sh_phase = 1;
	__atomic_fetch_add(&sr->sr_freed, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&sr->sr_freed, __ATOMIC_ACQUIRE) < sr->sr_nharts) {
		if (stress_mbox_drain(sh) == 0)
			timer_nap_us(STRESS_WAIT_NAP_US);
		stress_park_if_failed();
		if (sh->sh_cpu == 0)
			stress_poll_hart0(sh);
	}
	stress_mbox_drain(sh);
	sh->sh_phase = 2;
	__atomic_fetch_add(&sr->sr_done, 1, __ATOMIC_ACQ_REL);
	while (sh->sh_cpu == 0 && __atomic_load_n(&sr->sr_done, __ATOMIC_ACQUIRE) < sr->sr_nharts) {
		timer_nap_us(STRESS_WAIT_NAP_US);
		stress_park_if_failed();
		stress_poll_hart0(sh);
	}
}

/* One hart's whole run (cpu_start_others on the others, called on hart 0). */
static void stress_hart_entry(void *arg)
{
	struct stress_run *sr = &stress_run;
	struct stress_hart *sh = sr->sr_hart[this_cpu()];

	(void)arg;
	arch_irq_enable();		/* §5: every hart takes IPIs and ticks anywhere */
	__atomic_fetch_add(&sr->sr_arrived, 1, __ATOMIC_ACQ_REL);
	if (sh->sh_cpu == 0)
		stress_start_line();
	while (!__atomic_load_n(&sr->sr_go, __ATOMIC_ACQUIRE)) {
		stress_park_if_failed();
		timer_nap_us(STRESS_WAIT_NAP_US);
	}
	stress_hart_run(sh);
	stress_hart_finish(sh);
	arch_irq_enable();
}

/* Nodes (the highest zone's node + 1) and whether a DMA zone exists. */
static void stress_machine(struct stress_run *sr)
{
	struct page_zone_info zi;

	sr->sr_nnodes = 1;
	for (unsigned i = 0; i < page_zone_count(); i++) {
		if (page_zone_info(i, &zi) != 0)
			continue;
		sr->sr_nnodes = MAX(sr->sr_nnodes, (unsigned)zi.pzi_node + 1);
		sr->sr_dma_zone |= zi.pzi_type == PAGE_ZONE_DMA;
		sr->sr_mem_bytes += zi.pzi_managed * MM_PAGE_SIZE;
	}
}

/*
 * The kinds named by stress_kinds=a,b,... (all when empty); 0 and a message
 * for an unknown name.  The dma kind is off on a board without DMA pools.
 */
static unsigned stress_parse_kinds(const char *list, bool dma)
{
	unsigned mask = 0;

	for (const char *p = list; *p;) {
		size_t n = 0;
		unsigned k;

		while (p[n] && p[n] != ',')
			n++;
		for (k = 0; k < SK_NKINDS; k++)
			if (strlen(stress_kind_names[k]) == n && strncmp(p, stress_kind_names[k], n) == 0)
				break;
		if (k == SK_NKINDS) {
			printk("stress: stress_kinds: no kind '%.*s' (cache kmalloc page vmem heap dma)\n",
			       (int)n, p);
			return 0;
		}
		mask |= 1u << k;
		p += n + (p[n] == ',');
	}
	mask = list[0] ? mask : (1u << SK_NKINDS) - 1;
	return dma ? mask : mask & ~(1u << SK_DMA);
}

/* The configuration from the command line and the machine. */
static void stress_configure(const struct cmdline *cl)
{
	struct stress_run *sr = &stress_run;
	uint64_t s;

	memset(sr, 0, sizeof(*sr));
	s = arch_rdtime() * 0x9e3779b97f4a7c15ULL;
	sr->sr_seed = cl->cl_stress_seed_set ? cl->cl_stress_seed : (s ^ (s >> 29)) & 0xffffffffffffULL;
	sr->sr_seconds = cl->cl_stress_seconds;
	sr->sr_nharts = ncpus;
	sr->sr_fail_every = cl->cl_fail_every;
	sr->sr_remote = cl->cl_stress_remote;
	sr->sr_leak = cl->cl_stress_leak;
	sr->sr_corrupt = cl->cl_stress_corrupt;
	sr->sr_hang_test = cl->cl_stress_hang;
	sr->sr_dma = dma_pool_count() > 0;
	stress_machine(sr);
	sr->sr_kinds = stress_parse_kinds(cl->cl_stress_kinds, sr->sr_dma);
	sr->sr_hang_s = 20 + sr->sr_nharts / 2;
}

/* Per-hart state, mailboxes and slots; false when memory is short. */
static bool stress_harts_create(void)
{
	struct stress_run *sr = &stress_run;
	uint64_t budget = page_free_count() * MM_PAGE_SIZE / 2 / sr->sr_nharts;

	for (unsigned c = 0; c < sr->sr_nharts; c++) {
		struct stress_hart *sh = kzalloc(sizeof(*sh), KM_SLEEP);

		if (sh == NULL)
			return false;
		sr->sr_hart[c] = sh;
		sh->sh_mbox = kzalloc(sizeof(*sh->sh_mbox), KM_SLEEP);
		sh->sh_slot = kzalloc(STRESS_SLOTS * sizeof(*sh->sh_slot), KM_SLEEP);
		if (sh->sh_mbox == NULL || sh->sh_slot == NULL)
			return false;
		sh->sh_budget = MIN(budget, STRESS_BUDGET_MAX);
		stress_hart_setup(sh, c);
	}
	return true;
}

/* Free what stress_harts_create made. */
static void stress_harts_destroy(void)
{
	struct stress_run *sr = &stress_run;

	for (unsigned c = 0; c < sr->sr_nharts; c++) {
		struct stress_hart *sh = sr->sr_hart[c];

		if (sh == NULL)
			continue;
		kfree(sh->sh_mbox);
		kfree(sh->sh_slot);
		kfree(sh);
		sr->sr_hart[c] = NULL;
	}
}

/* The first line: what this run does, and the seed that replays it. */
static void stress_print_config(void)
{
	struct stress_run *sr = &stress_run;
	char kinds[64];
	size_t n = 0;

	kinds[0] = 0;
	for (unsigned k = 0; k < SK_NKINDS; k++)
		if (sr->sr_kinds & (1u << k))
			n += (size_t)snprintf(kinds + n, sizeof(kinds) - n, "%s%s", n ? "," : "",
					      stress_kind_names[k]);
	printk("stress: seed %llu harts %u nodes %u seconds %u fail_every %u mix %s "
	       "(caches %u, %u with ctor; kmalloc 8B-1MiB; pages order 0-%u; vmem xalloc; %s) "
	       "remote %u%%\n", (unsigned long long)sr->sr_seed, sr->sr_nharts, sr->sr_nnodes,
	       sr->sr_seconds, sr->sr_fail_every, kinds, STRESS_NCACHES, STRESS_NCACHES / 2,
	       PAGE_MAX_ORDER, sr->sr_dma ? "dma pools" : "dma skipped: no DMA pool on this board",
	       sr->sr_remote);
}

/* Set up everything the run uses; NULL, or why it could not. */
static const char *stress_setup(void)
{
	if (!stress_caches_create())
		return "set-up: cannot create the stress caches";
	if (!stress_arena_create())
		return "set-up: cannot create the stress_vmem arena";
	if (!stress_harts_create())
		return "set-up: no memory for the per-hart state";
	return NULL;
}


/*
 * The mixed phase on every hart, in thread context with interrupts on (so
 * that allocation failures may drain every hart's page cache by cross-call,
 * and the timer tick's reaper runs), with failure injection on and the
 * depots' working-set period at 1 s.
 */
static void stress_mixed_phase(void)
{
	struct stress_run *sr = &stress_run;
	unsigned interval = kmem_reap_interval_ms;

	lockstat_reset();
	kmem_reap_interval_ms = 1000;
	fail_set(sr->sr_fail_every, sr->sr_seed);
	kmem_reaper_release();
	cpu_start_others(stress_hart_entry, NULL);
	stress_hart_entry(NULL);	/* hart 0 returns once every hart is done */
	kmem_reaper_hold();
	fail_stats(sr->sr_injected);	/* since fail_set: read before turning it off */
	fail_set(0, 0);
	kmem_reap_interval_ms = interval;
}

/* The summary lines, then the verification; true if it passed. */
static bool stress_report(void)
{
	struct stress_run *sr = &stress_run;
	uint64_t ops = 0;
	bool ok;

	stress_report_levels();
	stress_report_pressure();
	lockstat_dump_top(printk, 20);
	ok = stress_verify();
	for (unsigned c = 0; c < sr->sr_nharts; c++)
		ops += sr->sr_hart[c]->sh_ops;
	sr->sr_ops = ops;
	return ok;
}

int stress_main(const struct cmdline *cl)
{
	struct stress_run *sr = &stress_run;
	const char *why;
	uint64_t secs_x100;
	bool ok;

	stress_configure(cl);
	if (sr->sr_kinds == 0) {
		printk("stress: FAILED stress_kinds='%s' leaves nothing to run\n", cl->cl_stress_kinds);
		return 1;
	}
	kmem_reaper_hold();
	stress_print_config();
	if ((why = stress_setup()) != NULL) {
		printk("stress: FAILED %s\n", why);
		return 1;
	}
	stress_snapshot_before();
	stress_mixed_phase();
	ok = stress_report();
	if (ok) {
		stress_harts_destroy();
		stress_arena_destroy();
		stress_caches_destroy();
	}
	kmem_reaper_release();
	if (!ok) {
		printk("stress: FAILED %s\n", sr->sr_reason);
		return 1;
	}
	secs_x100 = (sr->sr_stop_us - sr->sr_t0_us) / 10000;
	printk("stress: passed ops %llu seconds %u ops/s %llu\n", (unsigned long long)sr->sr_ops,
	       sr->sr_seconds, (unsigned long long)(sr->sr_ops * 100 / (secs_x100 ? secs_x100 : 1)));
	return 0;
}
