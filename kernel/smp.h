/*
 * smp.h - starting harts, IPIs and cross-hart calls.
 */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include <stdbool.h>

struct plat_map;

#define IPI_CALL	(1u << 0)	/* run the pending cross-call */
#define IPI_WAKE	(1u << 1)	/* just wake from wfi */
#define IPI_STOP	(1u << 2)	/* stop for good (panic, poweroff) */

/*
 * How long harts may take to arrive.  The boot hart keeps waiting while
 * harts keep arriving: it gives up on the harts SBI still reports as "start
 * pending" only once SMP_START_TIMEOUT_US have passed with no arrival at all
 * (so the wait grows with the number of harts and the host's load, not with
 * a fixed budget that 128 harts on a loaded host overran).  A hart that SBI
 * reports as "started" is running but slow (a loaded host under MTTCG) and
 * gets until SMP_START_SLOW_US after the first hart_start.
 */
#define SMP_START_TIMEOUT_US	1000000
#define SMP_START_SLOW_US	15000000

void smp_boot_secondaries(const struct plat_map *pm);
void smp_send_ipi(unsigned cpu, unsigned reason);
bool smp_poll_ipi(void);		/* handle a pending IPI now; true if one was */
void smp_handle_ipi(void);		/* from the trap handler */
void smp_stop_others(void);
void smp_stop_self(void) __attribute__((noreturn));
void smp_idle(void) __attribute__((noreturn));
void cpu_call_all(void (*fn)(void *), void *arg);
void cpu_call_one(unsigned cpu, void (*fn)(void *), void *arg);
/*
 * Run fn(arg) on every other online hart in thread context, interrupts on,
 * from its idle loop (not in the IPI handler, so fn may take interrupts and
 * cross-call); returns at once.  The harts must be idle, and the caller
 * learns by its own means when they are done (the stress run).
 */
void cpu_start_others(void (*fn)(void *), void *arg);
void smp_print_harts(void);

/* Secondary harts that never arrived, for the boot report and tests. */
extern unsigned smp_nfailed;

#endif /* KERNEL_SMP_H */
