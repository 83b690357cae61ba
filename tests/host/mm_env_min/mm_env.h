/*
 * mm_env.h (minimal) - exactly the names mm/mm_platform.h documents, and no more.
 *
 * No libc header is included and nothing is defined: every name is only
 * declared, so `make mm-env-check` compiles every mm source file against this file
 * with -ffreestanding -nostdinc and fails when mm uses a name that
 * mm/mm_platform.h does not list.  Keep this file and the list in
 * mm/mm_platform.h in step: a name added here must be added there first.
 *
 * MM_ENV_MIN_CPU_PTR=1 also declares the optional per-hart pointer and the
 * optional flat descriptor map, so both shapes of mm (with and without
 * MM_CPU_PTR and MM_PAGE_FLAT) are checked.
 */
#ifndef MM_ENV_MIN_H
#define MM_ENV_MIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/lock_order.h"

/* Limits and bits */
#define MM_MAX_CPUS	4
#define MM_MAX_NODES	2
#define MM_CACHE_LINE	64
#define MM_FAST_CLZ	0

/* Types */
typedef uint64_t paddr_t;
typedef unsigned long irqflags_t;
typedef struct spinlock { int sl_opaque; } spinlock_t;

/* Locks */
void spin_init(spinlock_t *l, const char *name, enum lock_rank rank);
void spin_destroy(spinlock_t *l);
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_held(const spinlock_t *l);
bool spin_trylock(spinlock_t *l);

/* Interrupts */
irqflags_t irq_save(void);
void irq_restore(irqflags_t f);
bool irqs_disabled(void);

/* Harts */
unsigned cpu_id(void);
unsigned cpu_count(void);
int cpu_node(unsigned cpu);
void cpu_call_all(void (*fn)(void *), void *arg);
#if MM_ENV_MIN_CPU_PTR
void *mm_env_min_cpu_ptr(void);
void mm_env_min_cpu_ptr_set(unsigned cpu, void *p);
#define MM_CPU_PTR()		mm_env_min_cpu_ptr()
#define MM_CPU_PTR_SET(cpu, p)	mm_env_min_cpu_ptr_set((cpu), (p))
#endif

/* Memory */
void *phys_to_virt(paddr_t pa);
paddr_t virt_to_phys(const void *va);
#if MM_ENV_MIN_CPU_PTR
#define MM_PAGE_FLAT	1
void *mm_flat_map(uint64_t bytes);
void mm_flat_unmap(void *map, uint64_t bytes);
#endif

/* Time */
uint64_t mm_time_us(void);

/* Output */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Formatting into a buffer (dumps and check messages) */
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Checks */
#define VERIFY(e)	((e) ? (void)0 : panic("VERIFY failed: %s", #e))
#if MM_DEBUG
#define ASSERT(e)	VERIFY(e)
#else
#define ASSERT(e)	((void)0)
#endif

/* Strings */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif /* MM_ENV_MIN_H */
