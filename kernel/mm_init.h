/*
 * mm_init.h - start the page allocator from the platform map (kernel/mm_init.c).
 *
 * mm_pages_init(pm): call once on the boot hart after bootmem has every
 * memory range and reservation, and after every hart is online
 * (smp_boot_secondaries): descriptors are initialised on all harts, each
 * online hart gets its page caches, bootmem is closed, and page tables come
 * from the page allocator from then on.  Panics if the zones are unusable.
 */
#ifndef KERNEL_MM_INIT_H
#define KERNEL_MM_INIT_H

#include <stdint.h>

#include "kernel/platform.h"

struct mm_boot_info {
	uint64_t mbi_init_us;			/* page_init wall time, microseconds */
	uint64_t mbi_pages;			/* descriptors' span: pages in all zones */
	unsigned mbi_harts;			/* harts online during the init */
	uint64_t mbi_free[PLAT_MAX_ZONES];	/* free pages per zone right after boot */
};
extern struct mm_boot_info mm_boot_info;

void mm_pages_init(const struct plat_map *pm);

#endif /* KERNEL_MM_INIT_H */
