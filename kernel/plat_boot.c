/*
 * plat_boot.c - the platform map as the kernel uses it (see plat_boot.h).
 *
 * The walk (platform.c) records what the blob says; this file decides what
 * the kernel does about device trees that describe an impossible machine:
 *
 *   overlapping memory   merged (plat_merge_memory) with a warning, so bootmem
 *                        counts each byte once;
 *   a reservation over   warned about: the image is in use whatever the tree
 *   the kernel image     says, stays mapped, and its pages count once;
 *   DMA out of reach     dma-ranges that end below all RAM: warned about, DMA
 *                        allocations then fail and the DMA tests skip;
 *   memory that is not   cannot be seen before it is touched: a fault hook
 *   there                names the device-tree range an early fault hit.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/trap.h"
#include "kernel/devtree.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/plat_boot.h"
#include "kernel/printk.h"

struct plat_map boot_plat_map;
extern char __kernel_start[], __kernel_end[];

#define PLAT_SCAUSE_LOAD_ACCESS		5	/* load access fault */
#define PLAT_SCAUSE_STORE_ACCESS	7	/* store/AMO access fault */

/* An access fault inside a described memory range: name the range. */
static bool plat_fault_explain(uintptr_t addr, char *buf, size_t len)
{
	unsigned long cause = csr_read(scause);
	const struct plat_map *pm = &boot_plat_map;

	if (cause != PLAT_SCAUSE_LOAD_ACCESS && cause != PLAT_SCAUSE_STORE_ACCESS)
		return false;
	for (unsigned i = 0; i < pm->pm_nmem; i++) {
		const struct plat_mem *m = &pm->pm_mem[i];

		if (addr < m->pmr_base || addr - m->pmr_base >= m->pmr_size)
			continue;
		snprintf(buf, len, "memory range [0x%llx-0x%llx] (node %d) of the device tree is "
			 "not backed by RAM: the tree describes more memory than the machine has",
			 (unsigned long long)m->pmr_base,
			 (unsigned long long)(m->pmr_base + m->pmr_size - 1), m->pmr_node);
		return true;
	}
	return false;
}

/* Warn about reservations of the blob that cover part of the kernel image. */
static void plat_warn_image_reserved(const struct plat_map *pm, uint64_t ks, uint64_t ke)
{
	for (unsigned i = 0; i < pm->pm_nresv; i++) {
		const struct plat_resv *pr = &pm->pm_resv[i];

		if (pr->pr_kernel || pr->pr_base >= ke || pr->pr_base + pr->pr_size <= ks)
			continue;
		printk("fdt: warning: reservation '%s'%s [0x%llx-0x%llx] covers the kernel image "
		       "[0x%llx-0x%llx]: the image is in use and stays mapped\n",
		       pr->pr_has_name ? pr->pr_name : "/memreserve/", pr->pr_no_map ? " (no-map)" : "",
		       (unsigned long long)pr->pr_base,
		       (unsigned long long)(pr->pr_base + pr->pr_size - 1),
		       (unsigned long long)ks, (unsigned long long)(ke - 1));
	}
}

/* Warn when the DMA window reaches no memory at all. */
static void plat_warn_dma_reach(const struct plat_map *pm)
{
	if (!pm->pm_has_dma_limit)
		return;
	for (unsigned i = 0; i < pm->pm_nmem; i++)
		if (pm->pm_mem[i].pmr_base < pm->pm_dma_limit)
			return;
	printk("fdt: warning: dma-ranges end at 0x%llx, below every memory range: devices "
	       "reach no RAM, DMA allocations will fail\n", (unsigned long long)pm->pm_dma_limit);
}

void plat_boot(uintptr_t fdt_pa)
{
	struct plat_map *pm = &boot_plat_map;
	uint64_t ks = (uintptr_t)__kernel_start, ke = (uintptr_t)__kernel_end;
	char err[128];

	if (plat_parse(dt_fdt, dt_size(), pm, err, sizeof(err)) != 0)
		panic("fdt: invalid device tree at 0x%lx: %s", fdt_pa, err);
	if (pm->pm_nmem == 0)
		panic("fdt: the device tree describes no memory (no enabled device_type "
		      "\"memory\" node with a non-empty reg)");
	trap_add_fault_hook(plat_fault_explain);	/* before anything touches RAM */
	plat_merge_memory(pm, printk);
	plat_warn_image_reserved(pm, ks, ke);
	plat_warn_dma_reach(pm);
	if (plat_add_reserved(pm, ks, ke - ks, "kernel") ||
	    plat_add_reserved(pm, fdt_pa, ALIGN_UP(dt_size(), 4096), "fdt"))
		panic("fdt: too many reserved ranges to add the kernel's own");
	for (unsigned i = 0; i < pm->pm_nharts; i++)
		if (pm->pm_harts[i].ph_hartid == harts[0].h_hartid && pm->pm_harts[i].ph_node > 0)
			harts[0].h_node = pm->pm_harts[i].ph_node;
}
