/*
 * qprof_selftest.S - a bare-metal M-mode program (QEMU virt, -bios none)
 * whose marker windows have counts known in advance; `tools/profile.py
 * --selftest` builds it, runs it under the plugin and checks every number.
 *
 * Run with -smp QST_NHARTS.  Every hart runs, with N = 1000 on hart 0 and N = 777 on the others:
 *   prof_region_mark, then
 *   calib(N)      window 2N + 2 instructions, no atomics      (region, calib)
 *   measure(N)    window 5N + 4 instructions, N AMO, N LR, N SC (region, measure)
 *   measure(N+7)  the same formula, a raw window
 *   fallin(N)     a mark reached by falling into prof_begin2 mid-TB:
 *                 window 3N + 3 with begin=prof_begin2 (second run only)
 * Counting from prof_begin's first instruction to prof_end's first: 1 (the
 * marker's ret) + the body + 1 (the jal into prof_end).
 */
#define QST_NHARTS	2
	.text				/* first: linked at 0x80000000 */
	.globl	_start
_start:
	csrr	a0, mhartid
	la	sp, qst_stacks
	addi	t0, a0, 1
	slli	t0, t0, 12
	add	sp, sp, t0
	mv	s1, a0
	li	s2, 1000
	beqz	s1, 1f
	li	s2, 777
1:	jal	prof_region_mark
	mv	a0, s2
	jal	calib
	mv	a0, s2
	jal	measure
	addi	a0, s2, 7
	jal	measure
	mv	a0, s2
	jal	fallin
	la	t0, qst_done		/* every hart checks in */
	li	t1, 1
	amoadd.w zero, t1, (t0)
	bnez	s1, 3f
2:	lw	t1, 0(t0)		/* hart 0 waits for the others, then exits */
	li	t3, QST_NHARTS
	bne	t1, t3, 2b
	li	t0, 0x100000
	li	t1, 0x5555
	sw	t1, 0(t0)
3:	wfi
	j	3b

	.type	calib, @function
calib:	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	prof_begin
1:	addi	a0, a0, -1		/* 2 per iteration */
	bnez	a0, 1b
	jal	prof_end
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	calib, .-calib

	.type	measure, @function
measure:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	prof_begin
2:	auipc	t1, %pcrel_hi(qst_var)	/* 2 */
	addi	t1, t1, %pcrel_lo(2b)
1:	amoadd.w zero, t2, (t1)		/* 5 per iteration */
	lr.w	t3, (t1)
	sc.w	t4, t3, (t1)
	addi	a0, a0, -1
	bnez	a0, 1b
	jal	prof_end
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	measure, .-measure

	.type	fallin, @function
fallin:	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	fallin_pre
1:	addi	t6, t6, 1		/* 3 per iteration */
	addi	a0, a0, -1
	bnez	a0, 1b
	jal	prof_end2
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	fallin, .-fallin

	.balign	64
	.type	fallin_pre, @function
fallin_pre:				/* falls through into prof_begin2 */
	addi	t5, zero, 1
	addi	t5, t5, 1
	.size	fallin_pre, .-fallin_pre
	.type	prof_begin2, @function
prof_begin2:				/* window starts here: 2 + 3N + 1 */
	addi	t5, t5, 1
	ret
	.size	prof_begin2, .-prof_begin2

	.balign	64
	.type	prof_end2, @function
prof_end2:
	ret
	.size	prof_end2, .-prof_end2

	.balign	64
	.globl	prof_begin
	.type	prof_begin, @function
prof_begin:
	ret
	.size	prof_begin, .-prof_begin

	.balign	64
	.globl	prof_end
	.type	prof_end, @function
prof_end:
	ret
	.size	prof_end, .-prof_end

	.balign	64
	.globl	prof_region_mark
	.type	prof_region_mark, @function
prof_region_mark:
	ret
	.size	prof_region_mark, .-prof_region_mark

	.data
	.balign	8
qst_var:	.dword	0
qst_done:	.word	0
	.bss
	.balign	16
qst_stacks:	.space	4096 * 8
