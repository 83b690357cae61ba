/*
 * timer.h - time from the `time` CSR (frequency from /cpus/timebase-frequency),
 * sleeping in wfi until an SBI timer interrupt or any other interrupt, and a
 * periodic per-hart tick (timer.c says what may run in it).
 */
#ifndef KERNEL_TIMER_H
#define KERNEL_TIMER_H

#include <stdint.h>

void timer_init(uint64_t timebase_hz);
uint64_t timer_now_us(void);
uint64_t timer_hz(void);
/* Sleep in wfi for up to `us` microseconds; any interrupt (an IPI, a tick) ends it early. */
void timer_nap_us(uint64_t us);
void timer_interrupt(void);	/* called from the trap handler */

/*
 * Every online hart calls fn() from its timer interrupt every period_us
 * (0: stop the tick).  Cross-calls every hart: call it from the boot hart's
 * thread, holding no lock, never from a tick or a cross-call.
 */
void timer_tick_start(uint64_t period_us, void (*fn)(void));
/* Ticks hart `cpu` ran fn in, and ticks it skipped because it held a lock. */
void timer_tick_stats(unsigned cpu, uint64_t *ticks, uint64_t *deferred);

#endif /* KERNEL_TIMER_H */
