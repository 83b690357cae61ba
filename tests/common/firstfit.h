/*
 * firstfit.h - the baseline for the vmem benchmark: a plain resource map
 * (the allocator Bonwick & Adams compare vmem against, paper §4.3).  Free
 * ranges sit on one list sorted by address; allocation takes the first range
 * that is large enough, freeing walks to the insertion point and merges with
 * the neighbours.  Both are linear in the number of free ranges.
 *
 * Portable: it builds into the host benchmark and into the kernel (the
 * in-kernel instruction counts).  Range descriptors come from an array the
 * caller supplies, so it needs no allocator of its own.
 */
#ifndef TESTS_COMMON_FIRSTFIT_H
#define TESTS_COMMON_FIRSTFIT_H

#include <stddef.h>
#include <stdint.h>

struct ff_range {
	uintptr_t fr_start;		/* first address */
	uintptr_t fr_end;		/* one past the last */
	struct ff_range *fr_next;	/* next free range by address, or spare list */
};

struct ff_map {
	struct ff_range *fm_head;	/* free ranges by address */
	struct ff_range *fm_spare;	/* unused descriptors (from the caller's array) */
	uint64_t fm_searched;		/* ranges examined (statistics) */
};

/* An empty map whose descriptors are descs[0..ndescs); then [base, base+size) free. */
void ff_init(struct ff_map *fm, struct ff_range *descs, size_t ndescs, uintptr_t base,
	     size_t size);
uintptr_t ff_alloc(struct ff_map *fm, size_t size);	/* 0 on failure */
int ff_free(struct ff_map *fm, uintptr_t addr, size_t size);	/* -1: out of descriptors */
size_t ff_count(const struct ff_map *fm);		/* free ranges */

#endif /* TESTS_COMMON_FIRSTFIT_H */
