/*
 * zone_layout.c - where the zones are: the one function that turns the
 * platform's memory description into zone rows.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * The platform (kernel/platform.c for a device tree) says what exists:
 * memory ranges tagged with a NUMA node, reserved ranges, and how far
 * devices reach (the DMA limit).  It says nothing about zones.  Zone policy
 * lives here, as Linux keeps it in free_area_init(max_zone_pfn): the arch
 * names the limits, mm decides the zones.  The kernel (kernel/mm_init.c) and
 * the host tool build/host/fdtinfo both call page_zones_derive(), so the
 * zones a board boots with and the zones the tool prints cannot disagree.
 *
 *   usable     memory minus every reserved range, rounded inward to pages
 *   DMA        usable memory below the DMA limit, only when that limit lies
 *              below the DMA32 limit (else devices reach all of DMA32 and a
 *              separate zone would change nothing)
 *   DMA32      the rest below the DMA32 limit (4 GiB on real machines; host
 *              tests move it into simulated memory)
 *   NORMAL     everything above
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * Input arrays are sorted by base (page_zones_derive checks, and refuses
 * unsorted input).  A byte that two memory ranges describe belongs to the
 * first of them in that order, so overlapping ranges are never counted
 * twice.  Output: one row per (node, type) with at least one usable page;
 * pzd_base is its lowest usable byte, pzd_end the end of its highest usable
 * range and pzd_pages the usable pages between; rows sorted by base.
 *
 * 3. Locking
 * ----------
 * None: a pure function of its arguments, which it only reads.
 *
 * 4. Per-hart layer
 * -----------------
 * None.  Runs once at boot (and in host tools), never on an allocation path.
 *
 * 5. Failure semantics
 * --------------------
 * Returns -1, writing nothing past `max` rows, when the input is unsorted or
 * the rows do not fit; it never panics, so a host tool can link this file
 * without mm's environment implementation.  page_zone_ceiling() is also what
 * page_init checks hand-written rows against (mm/page_init.c).
 *
 * 6. Debugging and statistics
 * ---------------------------
 * None here: the rows are printed by the boot log (kernel/plat_print.c) and
 * as JSON by fdtinfo, and tools/fdtcheck.py recomputes them independently.
 */
#include "mm/mm_platform.h"
#include "mm/page.h"

#define ZL_4G		((paddr_t)1 << 32)
#define ZL_PAGE_MASK	(MM_PAGE_SIZE - 1)

paddr_t page_zone_ceiling(enum page_zone_type t, paddr_t dma_limit, paddr_t dma32_limit)
{
	if (dma32_limit == 0)
		dma32_limit = ZL_4G;
	switch (t) {
	case PAGE_ZONE_DMA:
		return dma_limit != 0 && dma_limit < dma32_limit ? dma_limit : dma32_limit;
	case PAGE_ZONE_DMA32:
		return dma32_limit;
	default:
		return (paddr_t)-1;
	}
}

/* State of one page_zones_derive() call. */
struct zone_layout {
	struct page_zone_desc *zlo_rows;	/* the caller's array */
	unsigned zlo_n;				/* rows used */
	unsigned zlo_max;			/* its capacity */
	paddr_t zlo_dma;			/* DMA/DMA32 cut, page aligned; 0 = no DMA zone */
	paddr_t zlo_dma32;			/* DMA32/NORMAL cut */
	bool zlo_full;				/* a row did not fit */
};

/* The lower and the higher of two addresses. */
static inline paddr_t zl_min(paddr_t a, paddr_t b) { return a < b ? a : b; }
static inline paddr_t zl_max(paddr_t a, paddr_t b) { return a > b ? a : b; }

/* Account the page-aligned range [a, b) of type t on `node`. */
static void zl_piece(struct zone_layout *zl, int node, enum page_zone_type t, paddr_t a,
		     paddr_t b)
{
	struct page_zone_desc *d = NULL;

	if (a >= b)
		return;
	for (unsigned i = 0; i < zl->zlo_n && d == NULL; i++)
		if (zl->zlo_rows[i].pzd_node == node && zl->zlo_rows[i].pzd_type == t)
			d = &zl->zlo_rows[i];
	if (d == NULL) {
		if (zl->zlo_n == zl->zlo_max) {
			zl->zlo_full = true;
			return;
		}
		d = &zl->zlo_rows[zl->zlo_n++];
		*d = (struct page_zone_desc){ node, t, a, b, 0 };
	}
	d->pzd_base = zl_min(d->pzd_base, a);
	d->pzd_end = zl_max(d->pzd_end, b);
	d->pzd_pages += (b - a) >> MM_PAGE_SHIFT;
}

/* Usable bytes [a, b) on `node`: round inward to pages, cut into zone types. */
static void zl_usable(struct zone_layout *zl, int node, paddr_t a, paddr_t b)
{
	if (a > (paddr_t)-1 - ZL_PAGE_MASK)
		return;
	a = (a + ZL_PAGE_MASK) & ~ZL_PAGE_MASK;
	b &= ~ZL_PAGE_MASK;
	if (a >= b)
		return;
	if (node < 0)
		node = 0;
	zl_piece(zl, node, PAGE_ZONE_DMA, a, zl_min(b, zl->zlo_dma));
	zl_piece(zl, node, PAGE_ZONE_DMA32, zl_max(a, zl->zlo_dma), zl_min(b, zl->zlo_dma32));
	zl_piece(zl, node, PAGE_ZONE_NORMAL, zl_max(a, zl->zlo_dma32), b);
}

/* Memory [a, b) on `node` minus every reserved range. */
static void zl_subtract(struct zone_layout *zl, const struct page_memmap *mm, int node,
			paddr_t a, paddr_t b)
{
	paddr_t cur = a;

	for (unsigned i = 0; i < mm->pmm_nresv && cur < b; i++) {
		const struct page_range *r = &mm->pmm_resv[i];
		paddr_t rend = r->prg_base + r->prg_size;

		if (r->prg_base >= b)
			break;
		if (rend <= cur)
			continue;
		if (r->prg_base > cur)
			zl_usable(zl, node, cur, r->prg_base);
		cur = rend;
	}
	if (cur < b)
		zl_usable(zl, node, cur, b);
}

/* Ranges sorted by base? */
static bool zl_sorted(const struct page_range *r, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		if (r[i].prg_base < r[i - 1].prg_base)
			return false;
	return true;
}

/* Stable insertion sort of the rows by base. */
static void zl_sort(struct page_zone_desc *d, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct page_zone_desc t = d[i];
		unsigned j = i;

		for (; j > 0 && d[j - 1].pzd_base > t.pzd_base; j--)
			d[j] = d[j - 1];
		d[j] = t;
	}
}

int page_zones_derive(const struct page_memmap *mm, struct page_zone_desc *zd, unsigned max)
{
	struct zone_layout zl = { .zlo_rows = zd, .zlo_max = max };
	paddr_t covered = 0, dma32 = page_zone_ceiling(PAGE_ZONE_DMA32, 0, mm->pmm_dma32_limit);

	if (!zl_sorted(mm->pmm_mem, mm->pmm_nmem) || !zl_sorted(mm->pmm_resv, mm->pmm_nresv))
		return -1;
	zl.zlo_dma32 = dma32;
	if (mm->pmm_dma_limit != 0 && mm->pmm_dma_limit < dma32)
		zl.zlo_dma = mm->pmm_dma_limit & ~ZL_PAGE_MASK;
	for (unsigned i = 0; i < mm->pmm_nmem; i++) {
		const struct page_range *m = &mm->pmm_mem[i];
		paddr_t a = zl_max(m->prg_base, covered), b = m->prg_base + m->prg_size;

		/* Sorted by base: earlier ranges cover exactly [.., covered) above a. */
		if (a < b)
			zl_subtract(&zl, mm, m->prg_node, a, b);
		covered = zl_max(covered, b);
	}
	if (zl.zlo_full)
		return -1;
	zl_sort(zd, zl.zlo_n);
	return (int)zl.zlo_n;
}
