/*
 * hart.h - per-hart data.
 *
 * Every hart has one struct hart, reached through the tp register, which
 * always points at it while the kernel runs.  Logical cpu ids are dense
 * (0..ncpus-1) and map to the possibly sparse hart ids from the FDT.  A
 * struct hart is written only by its own hart, except for the fields marked
 * "shared", which use atomics.
 */
#ifndef KERNEL_HART_H
#define KERNEL_HART_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/riscv/csr.h"
#include "mm/lock_order.h"

#define MAX_CPUS	128
#define HART_STACK_SIZE	(16 * 1024)

struct panic_catch;

enum hart_state { HART_OFFLINE, HART_STARTING, HART_ONLINE, HART_FAILED, HART_STOPPED };

struct hart {
	/* identity: set once before the hart starts */
	unsigned h_cpu;			/* dense logical id */
	unsigned long h_hartid;		/* RISC-V hart id from the FDT */
	int h_node;			/* NUMA node (0 when the FDT names none) */
	uintptr_t h_stack_top;		/* initial sp */

	/* shared: touched by other harts with atomics */
	volatile int h_state;		/* enum hart_state */
	volatile uint32_t h_ipi_pending;/* bit mask of IPI_* reasons */

	/* private to the hart */
	struct panic_catch *h_panic_catch;	/* armed by KTEST_EXPECT_PANIC */
	bool h_in_xcall;		/* running a cross-call function */
	bool h_in_irq;			/* in trap_handler for an interrupt */
	struct lock_held_set h_locks;	/* spinlocks held, for the order check */
	uint64_t h_ntraps;		/* statistics: traps taken */
	uint64_t h_nipis;		/* statistics: IPIs received */
	void *h_mm;			/* mm/ per-hart state (opaque here) */
} __attribute__((aligned(64)));

extern struct hart harts[MAX_CPUS];
extern unsigned ncpus;			/* harts online (grows during SMP boot) */
extern unsigned ncpus_possible;		/* harts found enabled in the FDT */

static inline struct hart *this_hart(void)
{
	return (struct hart *)arch_get_tp();
}

static inline unsigned this_cpu(void)
{
	return this_hart()->h_cpu;
}

#endif /* KERNEL_HART_H */
