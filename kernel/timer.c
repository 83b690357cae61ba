/*
 * timer.c - timekeeping and naps.
 *
 * Waiting loops in the kernel (hart start-up, cross-calls, the console) nap
 * in wfi rather than spin: under `-icount` all harts share one host thread
 * (PLATFORM.md), and a spinning hart would starve the one it waits for.  A
 * nap arms the SBI timer and sleeps; the timer interrupt disarms it again.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi.h"
#include "kernel/timer.h"

static uint64_t timer_freq = 10000000;	/* QEMU virt's default, until the FDT says */

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

void timer_nap_us(uint64_t us)
{
	unsigned long flags = arch_irq_save();

	sbi_set_timer(arch_rdtime() + us * timer_freq / 1000000);
	arch_wfi();		/* wakes on any pending enabled interrupt */
	sbi_set_timer(~0ULL);
	arch_irq_restore(flags);
}

void timer_interrupt(void)
{
	sbi_set_timer(~0ULL);	/* disarm: clears STIP */
}
