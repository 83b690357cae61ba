/*
 * firstfit.c - address-ordered first-fit resource map (see firstfit.h).
 * Single-threaded, no locking: it is only the benchmark's baseline.
 */
#include "tests/common/firstfit.h"

/* A descriptor from the spare list, or NULL when the caller's array is used up. */
static struct ff_range *ff_get(struct ff_map *fm)
{
	struct ff_range *fr = fm->fm_spare;

	if (fr != NULL)
		fm->fm_spare = fr->fr_next;
	return fr;
}

/* Put a descriptor on the spare list. */
static void ff_put(struct ff_map *fm, struct ff_range *fr)
{
	fr->fr_next = fm->fm_spare;
	fm->fm_spare = fr;
}

void ff_init(struct ff_map *fm, struct ff_range *descs, size_t ndescs, uintptr_t base,
	     size_t size)
{
	fm->fm_head = NULL;
	fm->fm_spare = NULL;
	fm->fm_searched = 0;
	for (size_t i = ndescs; i-- > 0;)
		ff_put(fm, &descs[i]);
	if (size != 0)
		ff_free(fm, base, size);
}

uintptr_t ff_alloc(struct ff_map *fm, size_t size)
{
	struct ff_range **pp, *fr;

	for (pp = &fm->fm_head; (fr = *pp) != NULL; pp = &fr->fr_next) {
		uintptr_t addr = fr->fr_start;

		fm->fm_searched++;
		if (fr->fr_end - fr->fr_start < size)
			continue;
		fr->fr_start += size;
		if (fr->fr_start == fr->fr_end) {
			*pp = fr->fr_next;
			ff_put(fm, fr);
		}
		return addr;
	}
	return 0;
}

int ff_free(struct ff_map *fm, uintptr_t addr, size_t size)
{
	struct ff_range **pp = &fm->fm_head, *prev = NULL, *next, *fr;
	uintptr_t end = addr + size;

	while ((next = *pp) != NULL && next->fr_start < addr) {
		prev = next;
		pp = &next->fr_next;
	}
	if (prev != NULL && prev->fr_end == addr) {
		prev->fr_end = end;
		if (next != NULL && next->fr_start == end) {
			prev->fr_end = next->fr_end;
			prev->fr_next = next->fr_next;
			ff_put(fm, next);
		}
		return 0;
	}
	if (next != NULL && next->fr_start == end) {
		next->fr_start = addr;
		return 0;
	}
	fr = ff_get(fm);
	if (fr == NULL)
		return -1;
	fr->fr_start = addr;
	fr->fr_end = end;
	fr->fr_next = next;
	*pp = fr;
	return 0;
}

size_t ff_count(const struct ff_map *fm)
{
	size_t n = 0;

	for (const struct ff_range *fr = fm->fm_head; fr != NULL; fr = fr->fr_next)
		n++;
	return n;
}
