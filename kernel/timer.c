/*
 * timer.c - timekeeping, naps and the periodic tick.
 *
 * 1. Naps.  Waiting loops in the kernel (hart start-up, cross-calls, the
 *    console) nap in wfi rather than spin: under `-icount` all harts share
 *    one host thread (PLATFORM.md), and a spinning hart would starve the one
 *    it waits for.  A nap arms the SBI timer for its end and sleeps with
 *    interrupts masked; wfi wakes on any pending enabled interrupt.
 *
 * 2. The tick.  timer_tick_start(period, fn) makes every online hart call
 *    fn() from its timer interrupt once per period (the object caches'
 *    reaper, kernel/kmem_glue.c).  Each hart keeps its own deadline
 *    (tmh_next) and the SBI timer of a hart is always armed for the earlier
 *    of that deadline and a nap in progress: a nap re-arms the tick when it
 *    ends, so a tick that fell due during the nap fires as soon as the
 *    hart's interrupts are on again.  Nothing is lost, a tick is only late.
 *
 * 3. What runs in interrupt context.  The tick runs with interrupts off,
 *    on the interrupted hart's stack, at any point where that hart had them
 *    on.  Every lock in mm/ is taken with interrupts off, so the tick can
 *    never find its own hart inside an allocator critical section; but code
 *    may hold other spinlocks with interrupts on (tests do), and taking a
 *    lower-ranked lock then would break the lock order (mm/lock_order.h).
 *    So a tick that finds its hart holding any lock (struct hart h_locks,
 *    kept by the debug lock-order check that every kernel build has) skips
 *    fn and counts it as deferred; the next tick tries again.  fn must not
 *    cross-call (cpu_call_all waits for harts that may be waiting for us)
 *    and must not nap.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi.h"
#include "kernel/hart.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/timer.h"

/* One hart's tick: written only by that hart (with interrupts off). */
struct timer_hart {
	uint64_t tmh_next;		/* time CSR value of the next tick; 0: none */
	uint64_t tmh_ticks;		/* ticks that ran the tick function */
	uint64_t tmh_deferred;		/* ticks skipped because a lock was held */
} __attribute__((aligned(64)));

static uint64_t timer_freq = 10000000;	/* QEMU virt's default, until the FDT says */
static uint64_t timer_period;		/* tick period in time CSR units; 0: no tick */
static void (*timer_tick_fn)(void);	/* what a tick runs */
static struct timer_hart timer_harts[MAX_CPUS];

void timer_init(uint64_t timebase_hz)
{
	if (timebase_hz)
		timer_freq = timebase_hz;
}

uint64_t timer_hz(void)
{
	return timer_freq;
}

uint64_t timer_now_us(void)
{
	return arch_rdtime() / (timer_freq / 1000000 ? timer_freq / 1000000 : 1);
}

/* Arm this hart's SBI timer for its next tick, or disarm it (clears STIP). */
static void timer_arm_tick(void)
{
	uint64_t next = timer_harts[this_cpu()].tmh_next;

	sbi_set_timer(next ? next : ~0ULL);
}

void timer_nap_us(uint64_t us)
{
	unsigned long flags = arch_irq_save();
	uint64_t end = arch_rdtime() + us * timer_freq / 1000000;
	uint64_t next = timer_harts[this_cpu()].tmh_next;

	sbi_set_timer(next && next < end ? next : end);
	arch_wfi();		/* wakes on any pending enabled interrupt */
	timer_arm_tick();
	arch_irq_restore(flags);
}

void timer_interrupt(void)
{
	struct timer_hart *th = &timer_harts[this_cpu()];
	uint64_t now = arch_rdtime();

	if (th->tmh_next == 0 || now < th->tmh_next) {
		timer_arm_tick();	/* a nap's end: its wfi already woke */
		return;
	}
	th->tmh_next = timer_period ? now + timer_period : 0;
	timer_arm_tick();
	if (this_hart()->h_locks.lhs_mask != 0) {
		th->tmh_deferred++;
		return;
	}
	th->tmh_ticks++;
	timer_tick_fn();
}

/* cpu_call_all body: (re)arm or stop this hart's tick with the current period. */
static void timer_tick_arm_hart(void *arg)
{
	(void)arg;
	timer_harts[this_cpu()].tmh_next = timer_period ? arch_rdtime() + timer_period : 0;
	timer_arm_tick();
}

void timer_tick_start(uint64_t period_us, void (*fn)(void))
{
	if (period_us && fn == NULL)
		panic("timer_tick_start(%llu, NULL): a tick needs a function",
		      (unsigned long long)period_us);
	timer_period = 0;			/* no hart ticks while fn changes */
	cpu_call_all(timer_tick_arm_hart, NULL);
	timer_tick_fn = fn;
	timer_period = period_us * timer_freq / 1000000;
	if (period_us && timer_period == 0)
		timer_period = 1;
	cpu_call_all(timer_tick_arm_hart, NULL);
}

void timer_tick_stats(unsigned cpu, uint64_t *ticks, uint64_t *deferred)
{
	*ticks = __atomic_load_n(&timer_harts[cpu].tmh_ticks, __ATOMIC_RELAXED);
	*deferred = __atomic_load_n(&timer_harts[cpu].tmh_deferred, __ATOMIC_RELAXED);
}
