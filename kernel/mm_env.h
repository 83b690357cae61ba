/*
 * mm_env.h (kernel) - the mm/ platform interface on the RISC-V kernel.
 * See mm/mm_platform.h for the contract.
 */
#ifndef KERNEL_MM_ENV_H
#define KERNEL_MM_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/riscv/csr.h"
#include "arch/riscv/spinlock.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/timer.h"

#define MM_MAX_CPUS	MAX_CPUS
#define MM_MAX_NODES	16
#define MM_CACHE_LINE	64
#define MM_FAST_CLZ	0	/* rv64imac has no Zbb: clz/ctz would be libgcc calls */

typedef uint64_t paddr_t;
typedef unsigned long irqflags_t;

static inline irqflags_t irq_save(void) { return arch_irq_save(); }
static inline void irq_restore(irqflags_t f) { arch_irq_restore(f); }
static inline bool irqs_disabled(void) { return arch_irqs_disabled(); }

/*
 * this_cpu() reads tp through an asm volatile; here tp is a global register
 * variable instead (tp is reserved by the ABI and always points at this
 * hart's struct hart), so the compiler folds it into the load: cpu_id() is
 * one lwu off tp, MM_CPU_PTR() one ld.
 */
register struct hart *mm_env_tp __asm__("tp");
static inline unsigned cpu_id(void) { return mm_env_tp->h_cpu; }
static inline unsigned cpu_count(void) { return ncpus; }
static inline int cpu_node(unsigned cpu) { return harts[cpu].h_node; }
void cpu_call_all(void (*fn)(void *), void *arg);	/* kernel/smp.c */

/* Optional: mm's per-hart pointer (struct hart.h_mm), one load off tp. */
#define MM_CPU_PTR()		(mm_env_tp->h_mm)
#define MM_CPU_PTR_SET(cpu, p)	(harts[(cpu)].h_mm = (p))

static inline uint64_t mm_time_us(void) { return timer_now_us(); }

/* RAM is identity-mapped (see arch/riscv/mmu.c): VA == PA. */
static inline void *phys_to_virt(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t virt_to_phys(const void *va) { return (paddr_t)(uintptr_t)va; }

#define VERIFY(e)	((e) ? (void)0 : panic("VERIFY failed: %s at %s:%d", #e, __FILE__, __LINE__))
#if MM_DEBUG
#define ASSERT(e)	((e) ? (void)0 : panic("ASSERT failed: %s at %s:%d", #e, __FILE__, __LINE__))
#else
#define ASSERT(e)	((void)0)
#endif

#endif /* KERNEL_MM_ENV_H */
