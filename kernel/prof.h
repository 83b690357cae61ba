/*
 * prof.h - markers for the QEMU profiling plugin (tools/qprof.c).
 *
 * prof_begin() and prof_end() are empty noinline functions: the plugin
 * watches their entry addresses (by symbol) and counts, per vCPU, the
 * instructions and atomic instructions executed between them.
 * prof_region() wraps a measured loop: it prints a line naming the region
 * and its iteration count, so the report can give "N instructions per
 * operation".  prof_region_ops() is the same for a callback that performs
 * ops_per_call operations per call: the console line gives calls *
 * ops_per_call iterations, so the figure is per operation and the
 * callback's own cost (its call, prologue and epilogue, beyond what the
 * empty calibration callback costs) is divided among the batch.  See
 * docs/profiling.md.
 */
#ifndef KERNEL_PROF_H
#define KERNEL_PROF_H

void prof_begin(void);
void prof_end(void);
void prof_region(const char *name, unsigned long iters,
		 void (*fn)(void *arg, unsigned long i), void *arg);
void prof_region_ops(const char *name, unsigned long calls, unsigned long ops_per_call,
		     void (*fn)(void *arg, unsigned long i), void *arg);

#endif /* KERNEL_PROF_H */
