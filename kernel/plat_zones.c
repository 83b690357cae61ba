/*
 * plat_zones.c - the platform map's memory, reservations and DMA limit as
 * mm's struct page_memmap, and the zones mm derives from them (plat_zones.h).
 * Portable: the kernel and build/host/fdtinfo run it.
 */
#include "kernel/plat_zones.h"

static struct page_range plat_zmem[PLAT_MAX_MEM];	/* staging for plat_zones() */
static struct page_range plat_zresv[PLAT_MAX_RESV];

int plat_zones(const struct plat_map *pm, struct page_zone_desc *zd, unsigned max)
{
	struct page_memmap mm = {
		.pmm_mem = plat_zmem, .pmm_nmem = pm->pm_nmem,
		.pmm_resv = plat_zresv, .pmm_nresv = pm->pm_nresv,
		.pmm_dma_limit = pm->pm_has_dma_limit ? pm->pm_dma_limit : 0,
	};

	for (unsigned i = 0; i < pm->pm_nmem; i++)
		plat_zmem[i] = (struct page_range){ pm->pm_mem[i].pmr_base, pm->pm_mem[i].pmr_size,
						    pm->pm_mem[i].pmr_node };
	for (unsigned i = 0; i < pm->pm_nresv; i++)
		plat_zresv[i] = (struct page_range){ pm->pm_resv[i].pr_base,
						     pm->pm_resv[i].pr_size, 0 };
	return page_zones_derive(&mm, zd, max);
}

const char *plat_zone_name(enum page_zone_type t)
{
	switch (t) {
	case PAGE_ZONE_DMA:
		return "DMA";
	case PAGE_ZONE_DMA32:
		return "DMA32";
	case PAGE_ZONE_NORMAL:
		return "NORMAL";
	default:
		return "?";
	}
}
