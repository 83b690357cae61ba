/*
 * mm_init.h - start the page allocator from the platform map (kernel/mm_init.c).
 *
 * mm_pages_init(pm): call once on the boot hart after bootmem has every
 * memory range and reservation, and after every hart is online
 * (smp_boot_secondaries): descriptors are initialised on all harts (with
 * `page_defer=MIB`, only each zone's first MIB of free memory: the rest
 * when the zone needs it, mm/page_init.c §2), each
 * online hart gets its page caches, bootmem is closed, and page tables come
 * from the page allocator from then on.  Panics if the zones are unusable.
 *
 * mm_kmem_init(cl): call once on the boot hart after kheap_init, holding no
 * lock: applies the kmem boot options of cl, starts the object caches and
 * kmalloc, and the periodic reaper on every hart.  Panics if they cannot start.
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
	uint64_t mbi_kmem_us;			/* kmem_init wall time, microseconds */
};
extern struct mm_boot_info mm_boot_info;

struct cmdline;

void mm_pages_init(const struct plat_map *pm);
void mm_kmem_init(const struct cmdline *cl);

#endif /* KERNEL_MM_INIT_H */
