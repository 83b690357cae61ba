/*
 * stress.h - the per-hart stress workload (`stress=SECONDS`, DESIGN.md §4).
 *
 * stress_main() runs the random allocation mix on every online hart for the
 * given number of seconds, proves at the end that nothing was lost and
 * returns the QEMU exit status: 0 only after printing `stress: passed ...`.
 * kernel/stress.c has the theory statement; docs/stress.md the user's view.
 */
#ifndef KERNEL_STRESS_H
#define KERNEL_STRESS_H

struct cmdline;

/* Run the workload the command line asks for; 0 passed, 1 failed. */
int stress_main(const struct cmdline *cl);

#endif /* KERNEL_STRESS_H */
