/*
 * kmem_glue.h - the kernel side of the object caches (kernel/kmem_glue.c):
 * the mapped arena behind large kmalloc requests, and the periodic reaper
 * driven by the timer tick.
 */
#ifndef KERNEL_KMEM_GLUE_H
#define KERNEL_KMEM_GLUE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/vmem.h"

/* The arena "kmem_heap": mapped heap memory (segkmem) for kmalloc above its classes. */
vmem_t *kmem_heap_create(void);

/*
 * The periodic reaper.  Every hart runs kmem_reap_local() from its timer
 * tick; the last online hart also runs kmem_reap() once every interval_ms.
 * The tick period is a quarter of the interval, between 10 ms and 1 s.
 * interval_ms 0 stops both.  Call from the boot hart, holding no lock.
 */
void kmem_reaper_start(unsigned interval_ms);

/*
 * While held (a count), ticks do no kmem work: tests that compare counters
 * on a quiet system hold the reaper.  The ktest run holds it from the start.
 */
void kmem_reaper_hold(void);
void kmem_reaper_release(void);

/* kmem_reap() calls made by the reaper, and kmem_reap_local() calls on `cpu`. */
struct kmem_reaper_stats {
	uint64_t krs_reaps;		/* kmem_reap() calls */
	uint64_t krs_local;		/* kmem_reap_local() calls on the cpu asked */
	unsigned krs_interval_ms;	/* current interval (0: off) */
	unsigned krs_reaper_cpu;	/* the hart that calls kmem_reap() */
};
void kmem_reaper_stats(unsigned cpu, struct kmem_reaper_stats *st);

#endif /* KERNEL_KMEM_GLUE_H */
