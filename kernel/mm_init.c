/*
 * mm_init.c - start the page allocator from the platform map, and the
 * object caches over it (the allocators' console commands are in
 * kernel/mm_cmds.c).
 *
 * mm/ does not know how the kernel parsed the device tree: this file has mm
 * derive the zones from the platform map's memory, reservations and DMA
 * limit (plat_zones -> page_zones_derive), adds the distance matrix into the
 * portable struct page_layout and calls page_init, which takes bootmem's free ranges
 * (closing bootmem) and initialises the page descriptors on every hart.
 *
 * Call mm_pages_init() once, on the boot hart, after bootmem_setup and
 * after every hart is online (smp_boot_secondaries): the descriptor fill runs
 * on all harts through cpu_call_all, and each online hart gets its page
 * caches then.  From then on page tables come from the page allocator.
 */
#include "arch/riscv/mmu.h"
#include "kernel/cmdline.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/plat_zones.h"
#include "kernel/printk.h"
#include "kernel/kmem_glue.h"
#include "kernel/timer.h"
#include "mm/bootmem.h"
#include "kernel/mm_init.h"
#include "mm/kmem.h"
#include "mm/page.h"

/* Statistics of the boot: shown by pagestat and used by the page tests. */
struct mm_boot_info mm_boot_info;

/* Page-table pages once bootmem is closed. */
static bool mm_pt_alloc(uint64_t *pa)
{
	paddr_t p = page_alloc(0, PAGE_URGENT);

	if (p == PAGE_NOADDR)
		return false;
	*pa = p;
	return true;
}

void mm_pages_init(const struct plat_map *pm)
{
	static struct page_zone_desc zd[PLAT_MAX_ZONES];
	struct page_layout pl = { 0 };
	int nzones = plat_zones(pm, zd, PLAT_MAX_ZONES);
	uint64_t t0, deferred = 0;

	if (nzones < 0)
		panic("mm_pages_init: more than %d zones", PLAT_MAX_ZONES);
	pl.lay_nzones = (unsigned)nzones;
	pl.lay_zones = zd;
	pl.lay_nnodes = pm->pm_nnodes;
	pl.lay_dist = pm->pm_ndist ? &pm->pm_dist[0][0] : NULL;
	pl.lay_dist_stride = PLAT_MAX_NODES;
	pl.lay_dma_limit = pm->pm_has_dma_limit ? pm->pm_dma_limit : 0;
	pl.lay_defer = cmdline.cl_page_defer_mib << 20;	/* page_defer=MIB, 0: none */
	t0 = timer_now_us();
	if (page_init(&pl) != 0)
		panic("mm_pages_init: the platform map's zones are unusable (see above)");
	mm_boot_info.mbi_init_us = timer_now_us() - t0;
	mm_boot_info.mbi_harts = ncpus;
	for (unsigned i = 0; i < page_zone_count(); i++) {
		struct page_zone_info zi;

		page_zone_info(i, &zi);
		mm_boot_info.mbi_free[i] = zi.pzi_free;
		mm_boot_info.mbi_pages += zi.pzi_spanned;
		deferred += zi.pzi_deferred;
	}
	mmu_set_pt_alloc(mm_pt_alloc);
	printk("page: %u zones, %llu MiB free; descriptors for %llu pages set up by %u harts "
	       "in %llu us; %llu MiB deferred\n", page_zone_count(),
	       (unsigned long long)(page_free_count() >> (20 - MM_PAGE_SHIFT)),
	       (unsigned long long)mm_boot_info.mbi_pages, ncpus,
	       (unsigned long long)mm_boot_info.mbi_init_us,
	       (unsigned long long)(deferred >> (20 - MM_PAGE_SHIFT)));
}

/* The kmem boot options into kmem's switches; a bad kmem_debug flag is reported. */
static void mm_kmem_options(const struct cmdline *cl)
{
	unsigned flags = 0;

	if (cl->cl_kmem_debug[0] && kmem_debug_parse(cl->cl_kmem_debug, &flags) != 0) {
		printk("cmdline: kmem_debug=%s: bad flag (see above); kmem debugging stays off\n",
		       cl->cl_kmem_debug);
		flags = 0;
	}
	kmem_debug = flags;
	kmem_nomagazine = cl->cl_kmem_nomagazine;
	if (cl->cl_kmem_reap_set && cl->cl_kmem_reap_ms)
		kmem_reap_interval_ms = cl->cl_kmem_reap_ms;
}

void mm_kmem_init(const struct cmdline *cl)
{
	vmem_t *heap;
	uint64_t t0 = timer_now_us();

	mm_kmem_options(cl);
	heap = kmem_heap_create();
	if (heap == NULL || kmem_init(heap) != 0)
		panic("mm_kmem_init: the object caches cannot start (see above)");
	mm_boot_info.mbi_kmem_us = timer_now_us() - t0;
	printk("kmem: object caches up in %llu us; debug 0x%x%s; reap every %u ms%s\n",
	       (unsigned long long)mm_boot_info.mbi_kmem_us, kmem_debug,
	       kmem_nomagazine ? ", no magazines" : "",
	       cl->cl_kmem_reap_set ? cl->cl_kmem_reap_ms : kmem_reap_interval_ms,
	       cl->cl_kmem_reap_set && cl->cl_kmem_reap_ms == 0 ? " (off)" : "");
	kmem_reaper_start(cl->cl_kmem_reap_set ? cl->cl_kmem_reap_ms : kmem_reap_interval_ms);
}
