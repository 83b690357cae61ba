/*
 * plat_zones.h - the platform map's facts handed to mm, which decides the
 * zones (mm/zone_layout.c).  Used by the kernel (kernel/mm_init.c, the boot
 * log) and by build/host/fdtinfo, so both show the zones the allocator uses.
 */
#ifndef KERNEL_PLAT_ZONES_H
#define KERNEL_PLAT_ZONES_H

#include "mm/page.h"
#include "kernel/platform.h"

/*
 * Zone rows of the map (memory, every reservation, the DMA limit), sorted by
 * base: page_zones_derive() on them.  Returns the number of rows, or -1 when
 * more than max.  Not reentrant (the ranges are staged in static arrays):
 * boot hart, tools and tests only.
 */
int plat_zones(const struct plat_map *pm, struct page_zone_desc *zd, unsigned max);

/* Zone names in the map's dump and fdtinfo's JSON: "DMA", "DMA32", "NORMAL". */
const char *plat_zone_name(enum page_zone_type t);

#endif /* KERNEL_PLAT_ZONES_H */
