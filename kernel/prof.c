/*
 * prof.c - the marker functions tools/qprof.c counts between, and
 * prof_region(), which turns a measured loop into "N instructions per op".
 *
 * The QEMU plugin cannot read guest registers (plugin API v1), so the kernel
 * talks to it only by executing code: the plugin finds prof_begin, prof_end
 * and prof_region_mark by their ELF symbols and notes, per vCPU, when their
 * first instruction runs.  A window is everything one vCPU executes from the
 * first instruction of prof_begin (included) to the first instruction of
 * prof_end (excluded).  The plugin's exactness rests on three properties of
 * the markers, kept here:
 *   - they are real calls: noinline, and an empty asm volatile with a memory
 *     clobber, so the compiler can neither drop a call to them nor move
 *     memory accesses across one;
 *   - they are straight-line code entered only at the entry;
 *   - they are aligned to 64 bytes, so none straddles a page (a page
 *     boundary would cut the plugin's translation block mid-function).
 *
 * prof_region() prints one console line, hits prof_region_mark, then runs
 * the loop twice under the markers: first with an empty callback (the
 * calibration window), then with the caller's (the measured window).  Both
 * runs go through the same prof_loop() code with the same iteration count,
 * so subtracting the two leaves exactly the callback's cost minus an empty
 * callback's, per iteration.  tools/profile.py pairs the console line with
 * the plugin's two windows (the n-th region line for a hart is the n-th
 * region mark on that vCPU).  See docs/profiling.md.
 *
 * Interrupts are disabled across both windows, so timer or IPI handlers do
 * not leak into the counts; a callback must therefore not wait for an
 * interrupt on this hart.
 */
#include "kernel/prof.h"

#include "arch/riscv/csr.h"
#include "kernel/hart.h"
#include "kernel/printk.h"

/* What the plugin's default marker symbols (begin, end, mark) must be. */
#define PROF_MARKER	__attribute__((noinline, used, aligned(64)))

typedef void (*prof_fn_t)(void *arg, unsigned long i);

void prof_region_mark(void);

/* Opens a window on this vCPU: the plugin counts from its first instruction. */
PROF_MARKER void prof_begin(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Closes the window: its first instruction is the first one not counted. */
PROF_MARKER void prof_end(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Ties the next two windows on this vCPU to the region just announced. */
PROF_MARKER void prof_region_mark(void)
{
	__asm__ volatile("" ::: "memory");
}

/* The calibration callback: costs what an empty callback costs. */
static __attribute__((noinline)) void prof_nop(void *arg, unsigned long i)
{
	__asm__ volatile("" :: "r"(arg), "r"(i) : "memory");
}

/* Run fn(arg, 0..iters-1) inside one window. */
static __attribute__((noinline)) void prof_loop(prof_fn_t fn, void *arg, unsigned long iters)
{
	unsigned long i;

	prof_begin();
	for (i = 0; i < iters; i++)
		fn(arg, i);
	prof_end();
}

void prof_region_ops(const char *name, unsigned long calls, unsigned long ops_per_call,
		     void (*fn)(void *arg, unsigned long i), void *arg)
{
	prof_fn_t calib = prof_nop;
	unsigned long flags;

	if (name == NULL || fn == NULL || ops_per_call == 0)
		panic("prof_region_ops(%p, %lu, %lu, %p, %p): NULL name or fn, or no ops",
		      name, calls, ops_per_call, (void *)fn, arg);
	/* Hide the constant so the compiler keeps one prof_loop for both runs. */
	__asm__("" : "+r"(calib));
	printk("prof: region %s cpu %u hart %lu iters %lu\n",
	       name, this_cpu(), this_hart()->h_hartid, calls * ops_per_call);
	flags = arch_irq_save();
	prof_region_mark();
	prof_loop(calib, arg, calls);
	prof_loop(fn, arg, calls);
	arch_irq_restore(flags);
}

void prof_region(const char *name, unsigned long iters,
		 void (*fn)(void *arg, unsigned long i), void *arg)
{
	prof_region_ops(name, iters, 1, fn, arg);
}
