/*
 * main.c - the boot sequence, in order.
 *
 * kmain() runs on the boot hart (whichever hart OpenSBI's lottery picked)
 * with the MMU off, tp = &harts[0] and a stack in .bss.  Each step below
 * depends only on the ones above it.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/mmu.h"
#include "arch/riscv/trap.h"
#include "drivers/testdev.h"
#include "drivers/uart.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/devtree.h"
#include "kernel/dma.h"
#include "kernel/hart.h"
#include "kernel/kmem_glue.h"
#include "kernel/segkmem.h"
#include "kernel/ktest.h"
#include "kernel/mm_init.h"
#include "kernel/lib.h"
#include "kernel/panic.h"
#include "kernel/plat_boot.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/stress.h"
#include "kernel/timer.h"
#include "mm/bootmem.h"

extern char boot_stack_top[];

/* The boot hart is cpu 0; its node is known once the map is parsed. */
static void boot_hart_setup(unsigned long hartid)
{
	struct hart *h = &harts[0];

	h->h_cpu = 0;
	h->h_hartid = hartid;
	h->h_stack_top = (uintptr_t)boot_stack_top;
	h->h_state = HART_ONLINE;
}

/* A reservation bootmem cannot record would let that memory be handed out. */
static void bootmem_reserve_or_panic(uint64_t base, uint64_t size, const char *name)
{
	if (bootmem_reserve(base, size) != 0)
		panic("bootmem: cannot reserve [0x%lx, 0x%lx) '%s': range table full (%d)",
		      (unsigned long)base, (unsigned long)(base + size), name[0] ? name : "memreserve",
		      BOOTMEM_MAX_RANGES);
}

/* Hand bootmem every memory range, minus every reservation. */
static void bootmem_setup(const struct plat_map *pm)
{
	for (unsigned i = 0; i < pm->pm_nmem; i++)
		if (bootmem_add(pm->pm_mem[i].pmr_base, pm->pm_mem[i].pmr_size,
				pm->pm_mem[i].pmr_node < 0 ? 0 : pm->pm_mem[i].pmr_node))
			panic("bootmem: too many memory ranges (%u)", pm->pm_nmem);
	for (unsigned i = 0; i < pm->pm_nresv; i++)
		bootmem_reserve_or_panic(pm->pm_resv[i].pr_base, pm->pm_resv[i].pr_size,
					 pm->pm_resv[i].pr_name);
	for (unsigned i = 0; i < pm->pm_npools; i++)
		bootmem_reserve_or_panic(pm->pm_pools[i].pp_base, pm->pm_pools[i].pp_size,
					 pm->pm_pools[i].pp_name);
}

void kernel_poweroff(void)
{
	printk("poweroff\n");
	smp_stop_others();
	kernel_exit(0);
}

void kmain(unsigned long hartid, uintptr_t fdt_pa)
{
	boot_hart_setup(hartid);		/* harts[0] = this hart */
	trap_init_hart();			/* from here a fault gives a report */
	dt_init(fdt_pa);			/* full structural check, or panic */
	uart_init();				/* console on /chosen/stdout-path */
	testdev_init();				/* QEMU exit with a status */
	printk("\nkmem: SMP RISC-V kernel, boot hart %lu, FDT at 0x%lx\n", hartid, fdt_pa);
	timer_init(dt_timebase_hz());
	plat_boot(fdt_pa);			/* platform map, the kernel's own ranges */
	plat_print(&boot_plat_map, printk);
	bootmem_setup(&boot_plat_map);		/* early allocator over usable RAM */
	mmu_init(&boot_plat_map);		/* Sv39/Sv48, direct map + image */
	printk("mmu: Sv%u paging on\n", mmu_levels() == 4 ? 48 : 39);
	cmdline_parse(dt_bootargs(), &cmdline);	/* reports unknown words */
	smp_boot_secondaries(&boot_plat_map);	/* every enabled hart, bounded wait */
	smp_print_harts();
	mm_pages_init(&boot_plat_map);		/* zones, buddy, per-hart page caches */
	segkmem_init();				/* vmem: the mapped kernel heap */
	if (cmdline.cl_ktest)
		kmem_reaper_hold();		/* the suites count on a quiet system */
	mm_kmem_init(&cmdline);			/* object caches, kmalloc, reaper */
	dma_init(&boot_plat_map);		/* vmem: one arena per shared-dma-pool */
	arch_irq_enable();
	if (cmdline.cl_ktest)
		kernel_exit(ktest_run(cmdline.cl_ktest_suites) ? 1 : 0);
	if (cmdline.cl_stress)
		kernel_exit(stress_main(&cmdline));	/* ends `stress: passed|FAILED` */
	console_run();
}
