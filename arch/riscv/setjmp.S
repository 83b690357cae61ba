/*
 * setjmp.S - save/restore the callee-saved state (ra, sp, s0-s11).
 * arch_setjmp returns 0; arch_longjmp makes it return `val` (1 if val is 0).
 */
	.section .text
	.globl arch_setjmp
	.type arch_setjmp, @function
arch_setjmp:
	sd	ra, 0(a0)
	sd	sp, 8(a0)
	sd	s0, 16(a0)
	sd	s1, 24(a0)
	sd	s2, 32(a0)
	sd	s3, 40(a0)
	sd	s4, 48(a0)
	sd	s5, 56(a0)
	sd	s6, 64(a0)
	sd	s7, 72(a0)
	sd	s8, 80(a0)
	sd	s9, 88(a0)
	sd	s10, 96(a0)
	sd	s11, 104(a0)
	li	a0, 0
	ret
	.size arch_setjmp, .-arch_setjmp

	.globl arch_longjmp
	.type arch_longjmp, @function
arch_longjmp:
	ld	ra, 0(a0)
	ld	sp, 8(a0)
	ld	s0, 16(a0)
	ld	s1, 24(a0)
	ld	s2, 32(a0)
	ld	s3, 40(a0)
	ld	s4, 48(a0)
	ld	s5, 56(a0)
	ld	s6, 64(a0)
	ld	s7, 72(a0)
	ld	s8, 80(a0)
	ld	s9, 88(a0)
	ld	s10, 96(a0)
	ld	s11, 104(a0)
	seqz	a0, a1		/* a0 = (val == 0) */
	add	a0, a0, a1	/* so a0 = val, or 1 when val is 0 */
	ret
	.size arch_longjmp, .-arch_longjmp
