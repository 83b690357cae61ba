/*
 * trap.h - the trap frame saved by trapvec.S and the trap entry points.
 *
 * The kernel never runs user code, so every trap comes from S-mode and the
 * frame is pushed on the current stack.  Frame slot i (0..31) holds register
 * xi, with slot 0 holding sepc (x0 needs no saving).
 */
#ifndef ARCH_RISCV_TRAP_H
#define ARCH_RISCV_TRAP_H

#define TF_SEPC		0
#define TF_SSTATUS	(32 * 8)
#define TF_SCAUSE	(33 * 8)
#define TF_STVAL	(34 * 8)
#define TF_SIZE		(36 * 8)	/* 288: keeps sp 16-byte aligned */

#ifndef __ASSEMBLY__
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trap_frame {
	unsigned long tf_regs[32];	/* [0] = sepc, [i] = xi for i >= 1 */
	unsigned long tf_sstatus;	/* sstatus at the trap (SPP, SPIE) */
	unsigned long tf_scause;	/* cause; bit 63 set for interrupts */
	unsigned long tf_stval;		/* faulting address or instruction */
	unsigned long tf_pad;		/* keeps the frame a multiple of 16 bytes */
};

#define TF_REG_RA	1
#define TF_REG_SP	2
#define TF_REG_S0	8

void trap_init_hart(void);			/* point stvec at the vector */
void trap_handler(struct trap_frame *tf);	/* called by trapvec.S */
void trap_dump_frame(const struct trap_frame *tf);
const char *trap_cause_name(unsigned long scause);

/*
 * A fault hook lets a subsystem explain a kernel fault on an address it owns
 * (e.g. the mapped heap naming the allocation behind a guard page).  It
 * writes one line into buf and returns true if the address was its own; the
 * line becomes part of the panic message, and the trap still ends in panic.
 */
typedef bool (*trap_fault_hook_t)(uintptr_t addr, char *buf, size_t len);
#define TRAP_MAX_FAULT_HOOKS	4
/* Add a hook (asked in the order added until one claims the address);
 * panics when all TRAP_MAX_FAULT_HOOKS slots are taken. */
void trap_add_fault_hook(trap_fault_hook_t fn);

#endif /* __ASSEMBLY__ */
#endif /* ARCH_RISCV_TRAP_H */
