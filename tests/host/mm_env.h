/*
 * mm_env.h (host) - the mm/ platform interface on x86-64 with pthreads.
 *
 * Each test thread that calls into mm/ first registers itself as a "hart" with
 * host_cpu_register(); cpu_id() is then a thread-local dense id.  Interrupt
 * masking is meaningless here: irq_save() only records a nesting depth so that
 * ASSERTs about "interrupts off" still mean something.  Spinlocks are real
 * (pthread spinlock plus an owner field) so races show up under ASan/TSan.
 * See mm/mm_platform.h for the contract.
 */
#ifndef HOST_MM_ENV_H
#define HOST_MM_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/lock_order.h"

#define MM_MAX_CPUS	64
#define MM_MAX_NODES	8
#define MM_CACHE_LINE	64
#define MM_FAST_CLZ	1	/* x86-64: lzcnt/bsr and tzcnt/bsf */

typedef uint64_t paddr_t;
typedef unsigned long irqflags_t;

typedef struct spinlock {
	pthread_spinlock_t sl_lock;	/* the lock itself */
	const char *sl_name;		/* for messages */
	unsigned sl_rank;		/* enum lock_rank (mm/lock_order.h) */
	int sl_owner;			/* cpu_id() of the holder, -1 when free */
} spinlock_t;

extern __thread int host_cpu;		/* -1 until host_cpu_register() */
extern __thread int host_irq_depth;	/* nesting of irq_save() */

void host_cpu_register(unsigned cpu, int node);	/* make this thread hart `cpu` */
void host_cpus_online(unsigned ncpus);		/* how many harts cpu_count() reports */
void host_cpu_set_node(unsigned cpu, int node);

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank);
void spin_destroy(spinlock_t *l);
void spin_lock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_held(const spinlock_t *l);

static inline irqflags_t irq_save(void) { return (irqflags_t)host_irq_depth++; }
static inline void irq_restore(irqflags_t f) { host_irq_depth = (int)f; }
static inline bool irqs_disabled(void) { return host_irq_depth > 0; }

unsigned cpu_id(void);
unsigned cpu_count(void);
int cpu_node(unsigned cpu);
/* Host: runs fn once per online hart id on the calling thread, with cpu_id()
 * temporarily switched.  Callers use it only when the other threads are quiet. */
void cpu_call_all(void (*fn)(void *), void *arg);

/* Simulated physical memory: identity, physical address == host pointer. */
static inline void *phys_to_virt(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t virt_to_phys(const void *va) { return (paddr_t)(uintptr_t)va; }

/* Monotonic microseconds (CLOCK_MONOTONIC). */
uint64_t mm_time_us(void);

/*
 * Built with -DHOST_PAGE_FLAT (build/host/objflat, test_pageflat): the page
 * allocator over one flat descriptor map (mm/page.h), which host_env.c
 * reserves with mmap(MAP_NORESERVE) as libkmem does.
 */
#ifdef HOST_PAGE_FLAT
#define MM_PAGE_FLAT	1
#endif
void *mm_flat_map(uint64_t bytes);
void mm_flat_unmap(void *map, uint64_t bytes);

#define printk(...) printf(__VA_ARGS__)
void host_panic(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define panic(...) host_panic(__FILE__, __LINE__, __VA_ARGS__)

#define VERIFY(e) ((e) ? (void)0 : panic("VERIFY failed: %s", #e))
#if MM_DEBUG
#define ASSERT(e) VERIFY(e)
#else
#define ASSERT(e) ((void)0)
#endif

#endif /* HOST_MM_ENV_H */
