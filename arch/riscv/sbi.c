/*
 * sbi.c - SBI calls: ecall with the extension id in a7 and function id in
 * a6; arguments in a0..a5; error in a0 and value in a1 on return.
 */
#include "arch/riscv/sbi.h"

#define SBI_EXT_LEGACY_PUTCHAR	0x01
#define SBI_EXT_TIME		0x54494D45	/* "TIME" */
#define SBI_EXT_IPI		0x00735049	/* "sPI" */
#define SBI_EXT_RFENCE		0x52464E43	/* "RFNC" */
#define SBI_EXT_HSM		0x0048534D	/* "HSM" */
#define SBI_EXT_SRST		0x53525354	/* "SRST" */

static struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
			      unsigned long a1, unsigned long a2, unsigned long a3)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r3 __asm__("a3") = a3;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = ext;

	__asm__ volatile("ecall"
			 : "+r"(r0), "+r"(r1)
			 : "r"(r2), "r"(r3), "r"(r6), "r"(r7)
			 : "memory");
	return (struct sbiret){ (long)r0, (long)r1 };
}

void sbi_console_putchar(int c)
{
	sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned long)c, 0, 0, 0);
}

struct sbiret sbi_hart_start(unsigned long hartid, unsigned long entry, unsigned long opaque)
{
	return sbi_call(SBI_EXT_HSM, 0, hartid, entry, opaque, 0);
}

struct sbiret sbi_hart_status(unsigned long hartid)
{
	return sbi_call(SBI_EXT_HSM, 2, hartid, 0, 0, 0);
}

struct sbiret sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base)
{
	return sbi_call(SBI_EXT_IPI, 0, hart_mask, hart_mask_base, 0, 0);
}

struct sbiret sbi_remote_sfence_vma(unsigned long hart_mask, unsigned long hart_mask_base,
				    unsigned long start, unsigned long size)
{
	return sbi_call(SBI_EXT_RFENCE, 1, hart_mask, hart_mask_base, start, size);
}

struct sbiret sbi_set_timer(uint64_t when)
{
	return sbi_call(SBI_EXT_TIME, 0, when, 0, 0, 0);
}

void sbi_shutdown(void)
{
	sbi_call(SBI_EXT_SRST, 0, 0 /* shutdown */, 0 /* no reason */, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

const char *sbi_hsm_state_name(long state)
{
	static const char *const names[] = { "started", "stopped", "start pending",
					     "stop pending", "suspended" };

	return (state >= 0 && state < 5) ? names[state] : "unknown";
}
