/*
 * csr.h - supervisor CSRs and the few RISC-V instructions C code needs.
 */
#ifndef ARCH_RISCV_CSR_H
#define ARCH_RISCV_CSR_H

#include <stdint.h>

#define SSTATUS_SIE	(1UL << 1)	/* supervisor interrupts enabled */
#define SSTATUS_SPIE	(1UL << 5)
#define SSTATUS_SPP	(1UL << 8)
#define SSTATUS_SUM	(1UL << 18)

#define SIE_SSIE	(1UL << 1)	/* software (IPI) */
#define SIE_STIE	(1UL << 5)	/* timer */
#define SIE_SEIE	(1UL << 9)	/* external */

#define SCAUSE_INTR	(1UL << 63)
#define IRQ_S_SOFT	1
#define IRQ_S_TIMER	5
#define IRQ_S_EXT	9

#define SATP_MODE_SV39	(8UL << 60)
#define SATP_MODE_SV48	(9UL << 60)

#define csr_read(csr)							\
	({ unsigned long __v;						\
	   __asm__ volatile("csrr %0, " #csr : "=r"(__v) :: "memory");	\
	   __v; })

#define csr_write(csr, val)						\
	({ unsigned long __v = (unsigned long)(val);			\
	   __asm__ volatile("csrw " #csr ", %0" :: "rK"(__v) : "memory"); })

#define csr_set(csr, val)						\
	({ unsigned long __v = (unsigned long)(val);			\
	   __asm__ volatile("csrs " #csr ", %0" :: "rK"(__v) : "memory"); })

#define csr_clear(csr, val)						\
	({ unsigned long __v = (unsigned long)(val);			\
	   __asm__ volatile("csrc " #csr ", %0" :: "rK"(__v) : "memory"); })

/* Clear SIE and return the old sstatus in one instruction (csrrci). */
static inline unsigned long arch_irq_save(void)
{
	unsigned long old;

	__asm__ volatile("csrrci %0, sstatus, %1" : "=r"(old) : "i"(SSTATUS_SIE) : "memory");
	return old;
}

static inline void arch_irq_restore(unsigned long old)
{
	if (old & SSTATUS_SIE)
		__asm__ volatile("csrsi sstatus, %0" :: "i"(SSTATUS_SIE) : "memory");
}

static inline int arch_irqs_disabled(void)
{
	return !(csr_read(sstatus) & SSTATUS_SIE);
}

static inline void arch_irq_enable(void) { csr_set(sstatus, SSTATUS_SIE); }
static inline void arch_irq_disable(void) { csr_clear(sstatus, SSTATUS_SIE); }
static inline void arch_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void arch_fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }
static inline void arch_cpu_relax(void) { __asm__ volatile("nop" ::: "memory"); }

static inline void *arch_get_tp(void)
{
	void *tp;

	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return tp;
}

static inline uint64_t arch_rdtime(void) { return csr_read(time); }
static inline uint64_t arch_rdinstret(void) { return csr_read(instret); }

static inline unsigned long arch_frame_pointer(void)
{
	return (unsigned long)__builtin_frame_address(0);
}

#endif /* ARCH_RISCV_CSR_H */
