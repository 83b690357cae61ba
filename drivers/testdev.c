/*
 * testdev.c - exit QEMU through the sifive,test0 device (PLATFORM.md): a
 * 32-bit write of 0x5555 exits with status 0; 0x3333 | code << 16 exits with
 * `code` (1..255).
 */
#include <stdint.h>

#include "arch/riscv/mmu.h"
#include "drivers/testdev.h"
#include "kernel/devtree.h"

#define TEST_PASS	0x5555
#define TEST_FAIL	0x3333

/*
 * Where QEMU virt puts the device.  Used only when there is no device tree
 * to ask (a missing or corrupt blob), so that such a boot still ends with a
 * failure status instead of SBI shutdown's 0.  Paging is off that early.
 */
#define TESTDEV_VIRT_FALLBACK	0x100000UL

static volatile uint32_t *testdev_reg;

bool testdev_init(void)
{
	int node = dt_find_compatible("sifive,test0");
	uint64_t addr, size;

	if (node < 0 || !dt_reg(node, 0, &addr, &size))
		return false;
	mmu_early_mmio(addr, size ? size : 0x1000);
	testdev_reg = (volatile uint32_t *)(uintptr_t)addr;
	return true;
}

void testdev_exit(int status)
{
	if (!testdev_reg && !dt_fdt)
		testdev_reg = (volatile uint32_t *)TESTDEV_VIRT_FALLBACK;
	if (!testdev_reg)
		return;
	if (status == 0)
		*testdev_reg = TEST_PASS;
	else
		*testdev_reg = TEST_FAIL | ((uint32_t)(status & 0xff ? status & 0xff : 1) << 16);
	for (;;)
		__asm__ volatile("wfi");
}
