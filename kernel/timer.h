/*
 * timer.h - time from the `time` CSR (frequency from /cpus/timebase-frequency)
 * and sleeping in wfi until an SBI timer interrupt or any other interrupt.
 */
#ifndef KERNEL_TIMER_H
#define KERNEL_TIMER_H

#include <stdint.h>

void timer_init(uint64_t timebase_hz);
uint64_t timer_now_us(void);
uint64_t timer_hz(void);
/* Sleep in wfi for up to `us` microseconds; any interrupt (an IPI) ends it early. */
void timer_nap_us(uint64_t us);
void timer_interrupt(void);	/* called from the trap handler */

#endif /* KERNEL_TIMER_H */
