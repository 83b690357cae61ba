/*
 * sbi.h - calls into the Supervisor Binary Interface (OpenSBI 1.1, SBI 1.0).
 * Extensions used: legacy console putchar, TIME, IPI, RFENCE, HSM, SRST.
 */
#ifndef ARCH_RISCV_SBI_H
#define ARCH_RISCV_SBI_H

#include <stdint.h>

struct sbiret {
	long error;	/* SBI_SUCCESS (0) or a negative SBI_ERR_* */
	long value;	/* the call's result when error is 0 */
};

#define SBI_SUCCESS		0
#define SBI_ERR_ALREADY_AVAILABLE (-6)

/* HSM hart states (hart_get_status). */
#define SBI_HSM_STARTED		0
#define SBI_HSM_STOPPED		1
#define SBI_HSM_START_PENDING	2
#define SBI_HSM_STOP_PENDING	3

void sbi_console_putchar(int c);
struct sbiret sbi_hart_start(unsigned long hartid, unsigned long entry, unsigned long opaque);
struct sbiret sbi_hart_status(unsigned long hartid);
struct sbiret sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base);
struct sbiret sbi_remote_sfence_vma(unsigned long hart_mask, unsigned long hart_mask_base,
				    unsigned long start, unsigned long size);
struct sbiret sbi_set_timer(uint64_t when);
void sbi_shutdown(void) __attribute__((noreturn));
const char *sbi_hsm_state_name(long state);

#endif /* ARCH_RISCV_SBI_H */
