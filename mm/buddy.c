/*
 * buddy.c - buddy free areas of one zone.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * A *block* of order k is 2^k contiguous pages whose physical address is a
 * multiple of its size (4 KiB << k), for k = 0..PAGE_MAX_ORDER (4 KiB to
 * 4 MiB).  The *buddy* of a block is the other half of the order k+1 block
 * containing it: its address differs in exactly one bit, so it is found by
 * arithmetic (pa ^ size), not by search (Knuth, TAOCP vol. 1, 2.5; the
 * scheme Linux's mm/page_alloc.c uses).  Allocation takes the smallest free
 * block that is large enough and *splits* it, giving back the upper halves;
 * freeing *coalesces* a block with its buddy for as long as the buddy is a
 * whole free block of the same order in the same zone.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * Every page has a descriptor (struct page, page.h).  Only the first page of
 * a block carries the block's state and order; every other page of a block
 * is PG_TAIL.  So each managed page is exactly one of:
 *   PG_FREE       heads a free block of order pg_order, on z_area[pg_order]
 *   PG_ALLOCATED  heads an allocated block of order pg_order
 *   PG_CACHED     a free order-0 page in some hart's cache (pcp.c)
 *   PG_TAIL       inside a block headed by a lower page
 * Unmanaged pages (holes, firmware, the kernel, bootmem's allocations) are
 * PG_RESERVED with pg_zone PAGE_NO_ZONE and never change.
 * With a flat map (MM_PAGE_FLAT, page_init.c §2) descriptors start zero,
 * which reads as PG_RESERVED, and this file writes them as blocks need
 * them: a block's head when it is given to the lists (buddy_add_range) or
 * split off (buddy_alloc), its tails when it is handed out.  A PG_TAIL
 * inside a free block may therefore still be zero; nothing reads it there
 * (a zero page cannot pass for a free head), and merges do not even read a
 * buddy that page_grow has not given yet (buddy_given).
 * A merge therefore needs only to look at the buddy's head: "pg_state ==
 * PG_FREE && pg_order == k && pg_zone == this zone" means the whole buddy is
 * free.  The zone check stops merges across zone (and node) boundaries,
 * which need not be 4 MiB aligned.  After every free no two free buddies of
 * one order coexist (full coalescing); buddy_check_zone verifies it.
 * Each free list is doubly linked through pg_next/pg_prev so a buddy can
 * be unlinked in constant time; z_free counts the pages on all lists.
 * A block never crosses a section (page.h: a section holds at least one
 * block of the largest order), so its descriptors are contiguous and a
 * buddy's descriptor is reached by pointer arithmetic (a flat map is
 * contiguous throughout).
 *
 * 3. Locking
 * ----------
 * Every function here runs with the zone's z_lock held (asserted), except
 * during boot, when a section's descriptors belong to one hart.
 *
 * 4. Per-hart layer
 * -----------------
 * None here: pcp.c moves batches of order-0 pages between the harts' caches
 * and these lists.
 *
 * 5. Failure semantics
 * --------------------
 * buddy_alloc returns NULL when no block of the order or larger is free;
 * watermarks are the caller's business (zone.c).  buddy_classify names what
 * is wrong with a free (double free, never allocated, wrong order) before
 * anything is changed, so a bad free corrupts nothing.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * Splits, merges, allocations and frees are counted in the zone's
 * z_stats.  buddy_check_zone walks every list and checks the invariants
 * above (used by the host tests after every step).
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"

/* Push a free block on the list of its order. */
static inline void area_push(struct page_zone *zp, unsigned order, struct page *pg)
{
	struct page_free_area *fa = &zp->z_area[order];

	pg->pg_prev = NULL;
	pg->pg_next = fa->fa_head;
	if (fa->fa_head != NULL)
		fa->fa_head->pg_prev = pg;
	fa->fa_head = pg;
	fa->fa_count++;
}

/* Unlink a free block from the list of its order. */
static inline void area_remove(struct page_zone *zp, unsigned order, struct page *pg)
{
	struct page_free_area *fa = &zp->z_area[order];

	if (pg->pg_prev != NULL)
		pg->pg_prev->pg_next = pg->pg_next;
	else
		fa->fa_head = pg->pg_next;
	if (pg->pg_next != NULL)
		pg->pg_next->pg_prev = pg->pg_prev;
	pg->pg_next = pg->pg_prev = NULL;
	fa->fa_count--;
}

/*
 * Flat map (page_init.c §2): make pg the written descriptor of pa in zp, a
 * PG_TAIL, unless it already is; with section maps it always is.
 */
static inline void buddy_desc_need(struct page_zone *zp, struct page *pg, paddr_t pa)
{
	if (!PAGE_FLAT || pg->pg_pa == pa)
		return;
	page_desc_init(pg, pa, PG_TAIL, (uint8_t)zp->z_index);
	__atomic_fetch_add(&page_state.pgs_inited, 1, __ATOMIC_RELAXED);
}

/* Flat map: write the tails of a block about to be handed out that never were. */
static void buddy_tails_need(struct page_zone *zp, struct page *pg, unsigned order)
{
	for (uint64_t i = 1; PAGE_FLAT && i < (1ull << order); i++)
		buddy_desc_need(zp, pg + i, pg->pg_pa + (i << MM_PAGE_SHIFT));
}

/*
 * May the descriptor of the block at pa be read for a merge?  With a flat
 * map, not while page_grow has still to give that part of its section: it
 * cannot be free, and reading it would map a page of the map for nothing.
 */
static inline bool buddy_given(paddr_t pa)
{
	const struct page_sect *ps;

	if (!PAGE_FLAT)
		return true;
	ps = &page_state.pgs_sect[(pa - page_mem.pgm_base) >> PAGE_SECT_SHIFT];
	return !ps->psc_deferred || pa < ps->psc_next;
}

struct page *buddy_alloc(struct page_zone *zp, unsigned order)
{
	struct page *pg;
	unsigned o;

	ASSERT(spin_held(&zp->z_lock));
	for (o = order; o <= PAGE_MAX_ORDER; o++)
		if (zp->z_area[o].fa_head != NULL)
			break;
	if (o > PAGE_MAX_ORDER)
		return NULL;
	pg = zp->z_area[o].fa_head;
	ASSERT(pg->pg_state == PG_FREE && pg->pg_order == o && pg->pg_zone == zp->z_index);
	area_remove(zp, o, pg);
	while (o > order) {
		struct page *half;

		o--;
		half = pg + (1u << o);
		buddy_desc_need(zp, half, pg->pg_pa + PAGE_BLOCK_BYTES(o));
		half->pg_state = PG_FREE;
		half->pg_order = (uint8_t)o;
		area_push(zp, o, half);
		zp->z_stats.zs_splits++;
	}
	buddy_tails_need(zp, pg, order);
	pg->pg_state = PG_ALLOCATED;
	pg->pg_order = (uint8_t)order;
	zp->z_free -= 1ull << order;
	zp->z_stats.zs_allocs++;
	return pg;
}

/* Put a block on the free lists, coalescing with free buddies. */
static void buddy_insert(struct page_zone *zp, struct page *pg, unsigned order)
{
	while (order < PAGE_MAX_ORDER) {
		bool upper = (pg->pg_pa & PAGE_BLOCK_BYTES(order)) != 0;
		struct page *bud = upper ? pg - (1u << order) : pg + (1u << order);

		if (!buddy_given(pg->pg_pa ^ PAGE_BLOCK_BYTES(order)) || bud->pg_state != PG_FREE ||
		    bud->pg_order != order || bud->pg_zone != pg->pg_zone)
			break;
		ASSERT(bud->pg_pa == (pg->pg_pa ^ PAGE_BLOCK_BYTES(order)));
		area_remove(zp, order, bud);
		if (upper) {
			pg->pg_state = PG_TAIL;
			pg = bud;
		} else {
			bud->pg_state = PG_TAIL;
		}
		order++;
		zp->z_stats.zs_merges++;
	}
	pg->pg_state = PG_FREE;
	pg->pg_order = (uint8_t)order;
	area_push(zp, order, pg);
}

void buddy_free(struct page_zone *zp, struct page *pg, unsigned order)
{
	ASSERT(spin_held(&zp->z_lock));
	ASSERT(pg->pg_zone == zp->z_index);
	ASSERT(pg->pg_state == PG_ALLOCATED || pg->pg_state == PG_CACHED);
	ASSERT((pg->pg_pa & (PAGE_BLOCK_BYTES(order) - 1)) == 0);
	zp->z_free += 1ull << order;
	zp->z_stats.zs_frees++;
	buddy_insert(zp, pg, order);
}

/*
 * Boot and zone growth (page_init.c): give [base, end) (page aligned,
 * inside one section, descriptors already PG_TAIL with this zone, or with
 * a flat map not written yet) to the free lists as the largest aligned
 * blocks that fit; a flat map gets each block's head written here.
 */
void buddy_add_range(struct page_zone *zp, struct page *first, paddr_t base, paddr_t end)
{
	struct page *pg = first;
	paddr_t pa = base;

	ASSERT(spin_held(&zp->z_lock));
	while (pa < end) {
		unsigned order = PAGE_MAX_ORDER;

		while (order > 0 && ((pa & (PAGE_BLOCK_BYTES(order) - 1)) != 0 ||
				     end - pa < PAGE_BLOCK_BYTES(order)))
			order--;
		buddy_desc_need(zp, pg, pa);
		ASSERT(pg->pg_pa == pa);
		zp->z_free += 1ull << order;
		buddy_insert(zp, pg, order);
		pa += PAGE_BLOCK_BYTES(order);
		pg += 1u << order;
	}
}

/*
 * The head of the block that contains interior page pg (PG_TAIL), found by
 * looking at the aligned pages below it, or NULL.  Sets *order.
 */
static const struct page *buddy_enclosing(const struct page *pg, unsigned *order)
{
	uint64_t idx = pg->pg_pa >> MM_PAGE_SHIFT;

	for (unsigned o = 1; o <= PAGE_MAX_ORDER; o++) {
		const struct page *h = pg - (idx & ((1ull << o) - 1));

		if (h->pg_state != PG_TAIL && h->pg_state != PG_RESERVED && h->pg_order >= o) {
			*order = h->pg_order;
			return h;
		}
	}
	return NULL;
}

int buddy_classify(const struct page *pg, paddr_t pa, unsigned order)
{
	const struct page *h;
	unsigned ho = 0;

	if ((pa & (MM_PAGE_SIZE - 1)) != 0)
		return PAGE_EALIGN;
	if (pg == NULL || pg->pg_zone == PAGE_NO_ZONE)
		return PAGE_ENOTALLOC;
	switch (pg->pg_state) {
	case PG_FREE:
	case PG_CACHED:
		return PAGE_EDOUBLE;
	case PG_ALLOCATED:
		return pg->pg_order == order ? 0 : PAGE_EORDER;
	case PG_TAIL:
		h = buddy_enclosing(pg, &ho);
		/* Inside a free block: that page was freed before, then merged. */
		if (h != NULL && h->pg_state == PG_FREE)
			return PAGE_EDOUBLE;
		return PAGE_ENOTALLOC;
	default:
		return PAGE_ENOTALLOC;
	}
}

/* Check one free block's head; false with a reason if it breaks an invariant. */
static bool buddy_check_block(struct page_zone *zp, const struct page *pg, unsigned o,
			      char *why, size_t whylen)
{
	const struct page *bud;

	if (pg->pg_state != PG_FREE || pg->pg_order != o || pg->pg_zone != zp->z_index ||
	    (pg->pg_pa & (PAGE_BLOCK_BYTES(o) - 1)) != 0) {
		snprintf(why, whylen, "bad free block 0x%llx order %u (state %u order %u)",
			 (unsigned long long)pg->pg_pa, o, pg->pg_state, pg->pg_order);
		return false;
	}
	if (pg->pg_next != NULL && pg->pg_next->pg_prev != pg) {
		snprintf(why, whylen, "broken link after 0x%llx", (unsigned long long)pg->pg_pa);
		return false;
	}
	if (o == PAGE_MAX_ORDER)
		return true;
	bud = (pg->pg_pa & PAGE_BLOCK_BYTES(o)) ? pg - (1u << o) : pg + (1u << o);
	if (buddy_given(pg->pg_pa ^ PAGE_BLOCK_BYTES(o)) && bud->pg_state == PG_FREE &&
	    bud->pg_order == o && bud->pg_zone == pg->pg_zone) {
		snprintf(why, whylen, "free buddies 0x%llx and 0x%llx order %u not merged",
			 (unsigned long long)pg->pg_pa, (unsigned long long)bud->pg_pa, o);
		return false;
	}
	return true;
}

int buddy_check_zone(struct page_zone *zp, char *why, size_t whylen)
{
	uint64_t pages = 0;

	ASSERT(spin_held(&zp->z_lock));
	for (unsigned o = 0; o <= PAGE_MAX_ORDER; o++) {
		uint64_t n = 0;

		for (const struct page *pg = zp->z_area[o].fa_head; pg != NULL; pg = pg->pg_next) {
			if (!buddy_check_block(zp, pg, o, why, whylen))
				return -1;
			n++;
		}
		if (n != zp->z_area[o].fa_count) {
			snprintf(why, whylen, "order %u list has %llu blocks, count says %llu", o,
				 (unsigned long long)n, (unsigned long long)zp->z_area[o].fa_count);
			return -1;
		}
		pages += n << o;
	}
	if (pages != zp->z_free) {
		snprintf(why, whylen, "lists hold %llu pages, z_free says %llu",
			 (unsigned long long)pages, (unsigned long long)zp->z_free);
		return -1;
	}
	return 0;
}
