/*
 * entry.S - where OpenSBI enters the kernel.
 *
 * _start: the boot hart, in S-mode, MMU off, a0 = hartid, a1 = FDT physical
 * address.  OpenSBI sends exactly one hart here (the lottery winner); should
 * a second one ever arrive it loses boot_lottery and parks in wfi.
 *
 * secondary_entry: harts started with SBI HSM hart_start, a0 = hartid,
 * a1 = opaque = the physical address of its struct hart_boot (kernel/smp.c).
 * Until the hart has its struct hart, a trap goes to secondary_early_trap,
 * which records scause/sepc/stval in the hart_boot and parks, so that the
 * boot hart can report why a started hart never arrived.
 */

/* struct hart_boot offsets (kernel/smp.c checks them at compile time) */
#define HB_STACK_TOP	16
#define HB_PROGRESS	32
#define HB_VIA_START	36
#define HB_SCAUSE	40
#define HB_SEPC		48
#define HB_STVAL	56
#include "arch/riscv/trap.h"

	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	csrw	sie, zero		/* no interrupts until we ask */
	csrw	sip, zero
	la	t0, boot_lottery	/* first hart in wins, the rest park */
	li	t1, 1
	amoswap.w.aq t1, t1, (t0)
	bnez	t1, lost_lottery
	mv	s2, a0			/* keep hartid and FDT across the bss clear */
	mv	s1, a1
	la	t0, __bss_start		/* zero .bss: stacks and harts[] live there */
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	la	sp, boot_stack_top	/* boot hart runs on a stack in .bss */
	la	tp, harts		/* harts[0] is the boot hart's (cpu 0) */
	li	fp, 0			/* end of the frame-pointer chain (fp is s0) */
	mv	a0, s2
	mv	a1, s1
	call	kmain			/* never returns */

/*
 * A hart that loses the lottery.  OpenSBI 1.1's hart_start marks the target
 * START_PENDING *before* it stores the start address and argument, so a
 * target that wakes early (a spurious wfi wake-up) jumps to the previous
 * stage's address, which is _start, with a stale a1.  a0 (the hart id) is
 * right, so look the hart up in hart_boot[] (kernel/smp.c) and go the normal
 * way.  A hart nobody is starting parks.
 */
lost_lottery:
	la	t0, hart_boot
	li	t1, 128			/* MAX_CPUS (kernel/hart.h; checked in smp.c) */
1:	ld	t2, 0(t0)		/* hb_hartid */
	lw	t3, 24(t0)		/* hb_state */
	addi	t3, t3, -1		/* HB_STARTING? */
	bne	t2, a0, 2f
	bnez	t3, 2f
	mv	a1, t0
	li	t2, 1
	sw	t2, HB_VIA_START(a1)
	j	secondary_entry
2:	addi	t0, t0, 64		/* sizeof(struct hart_boot) */
	addi	t1, t1, -1
	bnez	t1, 1b
park:
	wfi
	j	park
	.size _start, .-_start

	.globl secondary_entry
	.type secondary_entry, @function
secondary_entry:
	csrw	sie, zero
	csrw	sip, zero
	csrw	sscratch, a1		/* for secondary_early_trap */
	la	t0, secondary_early_trap
	csrw	stvec, t0
	li	t0, 1			/* progress 1: in the kernel */
	sw	t0, HB_PROGRESS(a1)
	ld	sp, HB_STACK_TOP(a1)
	li	fp, 0
	la	t0, kernel_satp		/* join the boot hart's page tables */
	ld	t0, 0(t0)
	beqz	t0, 3f
	sfence.vma
	csrw	satp, t0
	sfence.vma
3:	mv	tp, zero		/* smp_secondary_main sets tp */
	call	smp_secondary_main	/* never returns */
	j	park
	.size secondary_entry, .-secondary_entry

	.balign 4
	.type secondary_early_trap, @function
secondary_early_trap:
	csrr	t0, sscratch		/* this hart's struct hart_boot */
	csrr	t1, scause
	sd	t1, HB_SCAUSE(t0)
	csrr	t1, sepc
	sd	t1, HB_SEPC(t0)
	csrr	t1, stval
	sd	t1, HB_STVAL(t0)
	li	t1, -1			/* progress -1: trapped */
	sw	t1, HB_PROGRESS(t0)
	fence	rw, rw
	j	park
	.size secondary_early_trap, .-secondary_early_trap

/*
 * park_entry: for harts the kernel will not use (beyond MAX_CPUS).  Started
 * so that they wait in S-mode wfi instead of spinning inside OpenSBI, which
 * would steal a host core from the harts that work (PLATFORM.md).  No stack.
 */
	.globl park_entry
	.type park_entry, @function
	.balign 4
park_entry:
	csrw	sie, zero
	csrw	sip, zero
1:	wfi
	j	1b
	.size park_entry, .-park_entry

	.section .data
	.balign 4
boot_lottery:
	.word	0

	.section .bss
	.balign 16
	.globl boot_stack, boot_stack_top
boot_stack:
	.space	16384
boot_stack_top:
