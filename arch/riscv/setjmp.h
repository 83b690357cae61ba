/*
 * setjmp.h - a minimal setjmp/longjmp for the kernel (callee-saved registers,
 * sp and ra).  Used by the test framework to abort a case and to catch an
 * expected panic.
 */
#ifndef ARCH_RISCV_SETJMP_H
#define ARCH_RISCV_SETJMP_H

struct jmp_buf {
	unsigned long jb_regs[14];	/* ra, sp, s0..s11 */
};

int arch_setjmp(struct jmp_buf *jb) __attribute__((returns_twice));
void arch_longjmp(struct jmp_buf *jb, int val) __attribute__((noreturn));

#endif /* ARCH_RISCV_SETJMP_H */
