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
 *   stride(8, 3)  raw window 3 + 3 * (5 + 4 * 8) instructions: 3 passes loading
 *                 8 lines 4096 bytes apart (one set of the default 32 KiB 8-way
 *                 cache): 24 accesses, 8 misses
 *   stride(9, 3)  raw window 3 + 3 * (5 + 4 * 9): 27 accesses, 27 misses (LRU
 *                 with 9 lines in 8 ways misses every time)
 *   lru_probe     raw window 11 instructions: loads lines 1, 9, 1 of the same
 *                 set: LRU keeps line 1 (1 miss), FIFO would not (2)
 * Counting from prof_begin's first instruction to prof_end's first: 1 (the
 * marker's ret) + the body + 1 (the jal into prof_end).
 *
 * Then, outside any window:
 *   cg_a          a known call tree for the call graph (see cg_a below)
 *   fs_pingpong   raw window: the harts take turns writing their own 8 bytes
 *                 of one 64-byte line (qst_fs), QST_FS_ROUNDS times each: the
 *                 one line written by two harts at disjoint bytes (false
 *                 sharing); every other line both harts write (qst_turn,
 *                 qst_done, qst_var) is written at the same bytes (true
 *                 sharing).  Hart 0 has the first turn, so its window misses
 *                 exactly 2 + 2 * (QST_FS_ROUNDS - 1) times with coherence (the
 *                 first read of qst_turn and store to qst_fs, then in each later
 *                 round both again, each written by hart 1 since), 2 without.
 */
#define QST_FS_ROUNDS	8
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
1:	la	t0, qst_trap		/* ecall in cg_c lands there */
	csrw	mtvec, t0
	jal	prof_region_mark
	mv	a0, s2
	jal	calib
	mv	a0, s2
	jal	measure
	addi	a0, s2, 7
	jal	measure
	mv	a0, s2
	jal	fallin
	li	a0, 8
	li	a1, 3
	jal	stride
	li	a0, 9
	li	a1, 3
	jal	stride
	jal	lru_probe
	jal	cg_a
	mv	a0, s1
	jal	fs_pingpong
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

/* Load a0 lines 4096 bytes apart from qst_buf, a1 times, inside a window. */
	.type	stride, @function
stride:	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	prof_begin
	li	t2, 4096		/* 1 */
2:	lla	t1, qst_buf		/* 5 per pass */
	mv	t3, a0
1:	ld	t4, 0(t1)		/* 4 per line */
	add	t1, t1, t2
	addi	t3, t3, -1
	bnez	t3, 1b
	addi	a1, a1, -1
	bnez	a1, 2b
	jal	prof_end
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	stride, .-stride

/* Load lines 1, 9 and 1 of qst_buf's set, inside a window. */
	.type	lru_probe, @function
lru_probe:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	prof_begin
	lla	t1, qst_buf		/* 9 in all */
	li	t2, 4096
	add	t1, t1, t2
	ld	t4, 0(t1)
	li	t3, 8 * 4096
	add	t3, t1, t3
	ld	t4, 0(t3)
	ld	t4, 0(t1)
	jal	prof_end
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	lru_probe, .-lru_probe

/*
 * The call tree (tools/profile.py CG_MODEL holds the same as a model):
 * cg_a calls cg_b twice; cg_b calls cg_c; cg_c traps (ecall) in its middle,
 * then tail-calls cg_d with a jump; cg_d tail-calls cg_e through a register;
 * cg_e returns to cg_b.  Instructions: cg_a 7, cg_b 6 per call, cg_c 4,
 * the handler qst_trap 4, cg_d 4, cg_e 2 per call.
 */
	.type	cg_a, @function
cg_a:	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	cg_b
	jal	cg_b
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	cg_a, .-cg_a

	.type	cg_b, @function
cg_b:	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	cg_c
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	cg_b, .-cg_b

	.type	cg_c, @function
cg_c:	addi	t0, zero, 1
	ecall
	addi	t0, t0, 1
	j	cg_d
	.size	cg_c, .-cg_c

	.type	cg_d, @function
cg_d:	addi	t0, t0, 1
	lla	t1, cg_e
	jr	t1
	.size	cg_d, .-cg_d

	.type	cg_e, @function
cg_e:	addi	t0, t0, 1
	ret
	.size	cg_e, .-cg_e

/* M-mode trap handler: skip the ecall. */
	.balign	4
	.type	qst_trap, @function
qst_trap:
	csrr	t1, mepc
	addi	t1, t1, 4
	csrw	mepc, t1
	mret
	.size	qst_trap, .-qst_trap

/* Hart a0 (0 or 1) writes bytes 8*a0..8*a0+7 of qst_fs on its turns. */
	.type	fs_pingpong, @function
fs_pingpong:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	jal	prof_begin
	lla	t0, qst_turn
	lla	t1, qst_fs
	slli	t2, a0, 3
	add	t1, t1, t2
	li	t3, QST_FS_ROUNDS
1:	lw	t4, 0(t0)		/* wait for my turn */
	bne	t4, a0, 1b
	sd	t3, 0(t1)		/* my 8 bytes of the shared line */
	xori	t4, a0, 1
	sw	t4, 0(t0)		/* the other hart's turn */
	addi	t3, t3, -1
	bnez	t3, 1b
	jal	prof_end
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.size	fs_pingpong, .-fs_pingpong

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

	.data				/* each variable alone in its 64-byte line */
	.balign	64
	.type	qst_var, @object
qst_var:	.dword	0
	.size	qst_var, 8
	.balign	64
	.type	qst_done, @object
qst_done:	.word	0
	.size	qst_done, 4
	.balign	64
	.type	qst_turn, @object
qst_turn:	.word	0
	.size	qst_turn, 4
	.balign	64
	.type	qst_fs, @object
qst_fs:		.space	64
	.size	qst_fs, 64
	.balign	64
	.bss
	.balign	4096
qst_stacks:	.space	4096 * 8
qst_buf:	.space	4096 * 10
