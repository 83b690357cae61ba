/*
 * kmem_glue.c - what the kernel adds around the portable object caches
 * (mm/kmem.c): the memory behind large kmalloc requests and the periodic
 * reaper.  kernel/mm_init.c (mm_kmem_init) puts them together at boot.
 *
 * 1. The large arena.  kmalloc serves sizes above KMALLOC_MAX_CLASS from
 *    the arena kmem_init is given.  "kmem_heap" is an arena with no span of
 *    its own that imports from the mapped kernel heap (kernel/segkmem.c): an
 *    import maps fresh zeroed pages, followed by the heap's guard page, and
 *    a span that becomes entirely free is unmapped and its pages returned
 *    (illumos's heap_arena over segkmem).  An overrun past a large buffer's
 *    last page therefore faults and the heap names the allocation.
 *
 * 2. The reaper.  Bonwick's reaper runs from a timeout every 15 s
 *    (illumos kmem_reap_interval).  Here the timer tick (kernel/timer.c)
 *    calls kmem_reaper_tick() on every hart: each hart runs
 *    kmem_reap_local() (it flushes its own magazines after a kmem_reap(),
 *    and hart 0 keeps the depots' working-set clock), and the last online
 *    hart, usually idle, runs kmem_reap() once per interval.  Both run in
 *    interrupt context with interrupts off; kmem takes its locks with
 *    interrupts off and never cross-calls on these paths, and the tick does
 *    not run while its hart holds a lock (timer.c §3).  kmem_drain_all,
 *    which cross-calls, is never called from here.
 *
 * 3. Holding.  ktest suites compare counters (free pages, buffers in use)
 *    before and after a workload on a quiet system; a reap in between would
 *    move them.  So kmem_reaper_hold() stops the tick's kmem work until the
 *    matching release; the ktest run holds the reaper throughout, and the
 *    kmem suite releases it to check the reaper itself.
 */
#include "kernel/hart.h"
#include "kernel/segkmem.h"
#include "kernel/kmem_glue.h"
#include "kernel/printk.h"
#include "kernel/timer.h"
#include "mm/kmem.h"

#define KMEM_TICK_MIN_MS	10	/* shortest tick period */
#define KMEM_TICK_MAX_MS	1000	/* longest: a flush asked by kmem_reap waits <= 1 s */

static int kmem_reaper_holds;			/* kmem_reaper_hold count (atomic) */
static unsigned kmem_reaper_interval;		/* ms between kmem_reap() calls; 0 off */
static unsigned kmem_reaper_cpu;		/* the hart that calls kmem_reap() */
static uint64_t kmem_reaper_last_us;		/* when it last did */
static uint64_t kmem_reaper_reaps;		/* kmem_reap() calls */
static uint64_t kmem_reaper_local[MAX_CPUS];	/* kmem_reap_local() calls per hart */

/* kmem_heap's import: fresh mapped pages from the kernel heap. */
static uintptr_t kmem_heap_import(vmem_t *source, size_t size, int vmflag)
{
	(void)source;
	return (uintptr_t)segkmem_alloc(size, vmflag & (VM_NOSLEEP | VM_PANIC));
}

/* kmem_heap's release: unmap a whole free span and give its pages back. */
static void kmem_heap_release(vmem_t *source, uintptr_t addr, size_t size)
{
	(void)source;
	segkmem_free((void *)addr, size);
}

vmem_t *kmem_heap_create(void)
{
	return vmem_create("kmem_heap", 0, 0, 4096, kmem_heap_import, kmem_heap_release,
			   segkmem_arena(), 0, VM_NOSLEEP);
}

/* The timer tick on every hart (interrupt context, no lock held). */
static void kmem_reaper_tick(void)
{
	unsigned cpu = this_cpu();
	uint64_t now;

	if (__atomic_load_n(&kmem_reaper_holds, __ATOMIC_ACQUIRE) != 0)
		return;
	kmem_reap_local();
	kmem_reaper_local[cpu]++;
	if (cpu != kmem_reaper_cpu)
		return;
	now = timer_now_us();
	if (now - kmem_reaper_last_us < (uint64_t)kmem_reaper_interval * 1000)
		return;
	kmem_reaper_last_us = now;
	kmem_reap();
	__atomic_fetch_add(&kmem_reaper_reaps, 1, __ATOMIC_RELAXED);
}

void kmem_reaper_start(unsigned interval_ms)
{
	unsigned tick_ms = interval_ms / 4;

	if (tick_ms < KMEM_TICK_MIN_MS)
		tick_ms = KMEM_TICK_MIN_MS;
	if (tick_ms > KMEM_TICK_MAX_MS)
		tick_ms = KMEM_TICK_MAX_MS;
	timer_tick_start(0, NULL);
	kmem_reap_interval_ms = interval_ms ? interval_ms : kmem_reap_interval_ms;
	kmem_reaper_interval = interval_ms;
	kmem_reaper_cpu = ncpus - 1;
	kmem_reaper_last_us = timer_now_us();
	if (interval_ms)
		timer_tick_start((uint64_t)tick_ms * 1000, kmem_reaper_tick);
}

void kmem_reaper_hold(void)
{
	__atomic_fetch_add(&kmem_reaper_holds, 1, __ATOMIC_ACQ_REL);
}

void kmem_reaper_release(void)
{
	if (__atomic_sub_fetch(&kmem_reaper_holds, 1, __ATOMIC_ACQ_REL) < 0)
		panic("kmem_reaper_release: not held");
}

void kmem_reaper_stats(unsigned cpu, struct kmem_reaper_stats *st)
{
	st->krs_reaps = __atomic_load_n(&kmem_reaper_reaps, __ATOMIC_RELAXED);
	st->krs_local = cpu < MAX_CPUS ? __atomic_load_n(&kmem_reaper_local[cpu], __ATOMIC_RELAXED) : 0;
	st->krs_interval_ms = kmem_reaper_interval;
	st->krs_reaper_cpu = kmem_reaper_cpu;
}

