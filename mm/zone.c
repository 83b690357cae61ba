/*
 * zone.c - nodes, zones, watermarks and fallback: where a request is served.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * A *node* is a NUMA node; a *zone* is the part of a node's memory in one
 * address class: DMA (below the platform's dma_limit, when that is below
 * 4 GiB), DMA32 (the rest below 4 GiB) and NORMAL (above).  The zones come
 * in through page_layout: the kernel derives them with page_zones_derive
 * (mm/zone_layout.c, the one place that decides zone boundaries) and host
 * tests write rows by hand, so the boundaries can sit anywhere in simulated
 * memory.  Every
 * request names a *class* (PAGE_ANY, PAGE_DMA32, PAGE_DMA) and a preferred
 * node; its *zonelist* is the fallback order: the preferred node's allowed
 * zones from highest to lowest, then the other nodes' in order of NUMA
 * distance (ties by node id).  The DMA class is served from the DMA zones
 * when the platform has any and from DMA32 otherwise; a zone that ends
 * above dma_limit is never in it.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * page_state.pgs_zone[] holds the zones sorted by node and type; pgs_node[]
 * the per-node zone indices and the three zonelists (bytes: zone indices).
 * Each zone has three *watermarks* (Linux's scheme, mm/page_alloc.c):
 *   min   = its share, by managed pages, of sqrt(16 * managed KiB) KiB,
 *           clamped to [128 KiB, 64 MiB] over the whole machine;
 *   low   = min + max(min/4, managed/1000), high = min + 2*(low - min).
 * Free pages, for watermarks, are zone_free_pages: the buddy lists plus
 * the zone's deferred sections (page_init.c §2).
 * A normal request first walks its zonelist taking only from zones that
 * stay above low after it, then walks it again down to min.  The pages
 * below min are the *reserve*: only PAGE_URGENT requests take them (down to
 * zero).  There is no reclaim, so high is advisory (shown by zoneinfo).
 * On top of the watermark, a lower zone keeps *protection* pages
 * (z_lowmem, Linux's lowmem_reserve) away from requests that could have used
 * a higher zone of the same node: a PAGE_ANY request falling back into DMA32
 * or DMA must leave 1/256 of the node's higher zones' pages there, so the
 * memory only DMA-limited devices can use is not spent on anything else.
 *
 * 3. Locking
 * ----------
 * Zonelists, watermarks and sizes are written by page_init alone and read
 * without locks afterwards.  Free counts are read without the lock for the
 * watermark pre-check and re-checked under z_lock, which is always held
 * with interrupts off (zone_lock: a drain cross-call or the timer's reaper
 * may take it on any hart; page_impl.h has the lock order).
 *
 * 4. Per-hart layer
 * -----------------
 * Order-0 requests that leave the inline fast path (page.h) come here and
 * are still served through the calling hart's cache of each zone they try
 * (pcp_take); other orders go to the buddy under the zone lock.
 *
 * 5. Failure semantics
 * --------------------
 * A zone whose lists hold no block of the order asked but which still has
 * deferred sections grows into them first (zone_buddy_alloc, under z_lock),
 * before the request moves on to the next zone.
 * page_alloc returns PAGE_NOADDR, never panics, when no allowed zone can
 * serve the request; before giving up, a request that may wait (not urgent,
 * interrupts on) drains every hart's cache once and retries.  With failure
 * injection on (mm/fail.c), page_alloc_slow also fails one request in N
 * that is not PAGE_URGENT, before trying any zone: counted in
 * pst_alloc_fail and in fail_stats.  Invalid flags
 * (unknown bits, both DMA bits, a node that does not exist) are API misuse
 * and panic with the arguments.  page_free detects a double free, the free
 * of a page that was not allocated and a wrong order before touching
 * anything, prints the address, counts it and returns the PAGE_E* code.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * Each zone counts refusals by watermark, urgent allocations, fallbacks and
 * remote allocations (the last two with atomics, outside the lock); page_stats counts failures and every kind of misuse.
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"

/* Zone types each class may use, highest first; PAGE_NR_ZONE_TYPES ends a row. */
static const enum page_zone_type zone_class_types[PAGE_NR_CLASSES][PAGE_NR_ZONE_TYPES + 1] = {
	[PAGE_ANY] = { PAGE_ZONE_NORMAL, PAGE_ZONE_DMA32, PAGE_ZONE_DMA, PAGE_NR_ZONE_TYPES },
	[PAGE_DMA32] = { PAGE_ZONE_DMA32, PAGE_ZONE_DMA, PAGE_NR_ZONE_TYPES },
	[PAGE_DMA] = { PAGE_ZONE_DMA, PAGE_NR_ZONE_TYPES },
};

static const char *const page_err_names[] = {
	[0] = "ok",
	[-PAGE_EALIGN] = "address not page aligned",
	[-PAGE_ENOTALLOC] = "not the first page of an allocated block",
	[-PAGE_EDOUBLE] = "double free",
	[-PAGE_EORDER] = "wrong order",
};

bool zone_watermark_ok(const struct page_zone *zp, unsigned order, enum page_mark mark,
		       uint64_t extra)
{
	uint64_t need = (1ull << order) + extra, free = zone_free_pages(zp);
	uint64_t floor = mark == PAGE_MARK_LOW ? zp->z_low :
			 mark == PAGE_MARK_MIN ? zp->z_min : 0;

	return free >= need && free - need >= floor;
}

/*
 * buddy_alloc, growing the zone first when its lists cannot serve the order
 * but deferred sections remain (page_init.c §2): one grow step at a time
 * until a block of the order is free or nothing is deferred.  z_lock held.
 */
struct page *zone_buddy_alloc(struct page_zone *zp, unsigned order)
{
	struct page *pg = buddy_alloc(zp, order);

	while (pg == NULL && zp->z_deferred != 0 && page_grow(zp))
		pg = buddy_alloc(zp, order);
	return pg;
}

/* Count a block the calling hart took from the buddy lists (its own line, interrupts off). */
static void zone_count_buddy(void)
{
	irqflags_t f = irq_save();
	struct page_hart *ph = page_mem.pgm_hart[cpu_id()];

	if (ph != NULL)
		ph->pgh_buddy++;
	irq_restore(f);
}

/* Take a block of `order` from the buddy lists of zp if the watermark (plus
 * the zone's protection against class cls) allows. */
static struct page *zone_take_block(struct page_zone *zp, unsigned order, enum page_mark mark,
				    unsigned cls)
{
	struct page *pg = NULL;
	irqflags_t zf;

	zf = zone_lock(zp);
	if (zone_watermark_ok(zp, order, mark, zp->z_lowmem[cls]))
		pg = zone_buddy_alloc(zp, order);
	else
		zp->z_stats.zs_refused++;
	if (pg != NULL && mark == PAGE_MARK_URGENT && zone_free_pages(zp) < zp->z_min)
		zp->z_stats.zs_urgent++;
	zone_unlock(zp, zf);
	if (pg != NULL)
		zone_count_buddy();
	return pg;
}

/* One walk over the zonelist of (node, class) at one watermark level. */
static struct page *zone_walk(int node, unsigned order, unsigned flags, enum page_mark mark)
{
	const struct page_node *pn = &page_state.pgs_node[node];
	unsigned cls = flags & PAGE_ZONE_MASK;

	for (unsigned i = 0; i < pn->pn_nzl[cls]; i++) {
		struct page_zone *zp = &page_state.pgs_zone[pn->pn_zl[cls][i]];
		struct page *pg;

		if ((flags & PAGE_THISNODE) && zp->z_node != node)
			break;	/* the list starts with the node's own zones */
		if (zone_free_pages(zp) == 0 && order > 0)
			continue;
		pg = order == 0 ? pcp_take(zp, mark, cls) : zone_take_block(zp, order, mark, cls);
		if (pg == NULL)
			continue;
		if (i > 0)
			page_stat_inc(&zp->z_stats.zs_fallback);
		if (zp->z_node != node)
			page_stat_inc(&zp->z_stats.zs_remote);
		return pg;
	}
	return NULL;
}

/* Panic on flags that no caller can mean; returns the preferred node. */
static int zone_check_flags(unsigned order, unsigned flags)
{
	unsigned nodebits = (flags & PAGE_NODE_MASK) >> PAGE_NODE_SHIFT;
	int node;

	if (!page_state.pgs_ready)
		panic("page_alloc: order %u flags 0x%x before page_init", order, flags);
	if ((flags & ~PAGE_FLAGS_VALID) != 0 || (flags & PAGE_ZONE_MASK) == PAGE_ZONE_MASK)
		panic("page_alloc: order %u flags 0x%x: invalid flags", order, flags);
	if (nodebits == 0) {
		node = cpu_node(cpu_id());
		return node >= 0 && (unsigned)node < page_state.pgs_nnodes ? node : 0;
	}
	if (nodebits - 1 >= page_state.pgs_nnodes)
		panic("page_alloc: order %u flags 0x%x: node %u does not exist (%u nodes)",
		      order, flags, nodebits - 1, page_state.pgs_nnodes);
	return (int)nodebits - 1;
}

static void (*zone_reclaim_hook)(void);	/* kmem_reap, or NULL */

void page_reclaim_hook_set(void (*fn)(void)) { zone_reclaim_hook = fn; }

/* Last resort for a request that may wait: let the caches give memory back, retry once. */
static struct page *zone_reclaim(int node, unsigned order, unsigned flags)
{
	if (zone_reclaim_hook == NULL)
		return NULL;
	page_stat_inc(&page_state.pgs_stats.pst_reclaim);
	zone_reclaim_hook();
	return zone_walk(node, order, flags, PAGE_MARK_MIN);
}

/* Walk the zonelist at each permitted level, then drain every cache once, then reclaim. */
static struct page *zone_alloc(int node, unsigned order, unsigned flags)
{
	bool urgent = (flags & PAGE_URGENT) != 0;
	struct page *pg;

	pg = zone_walk(node, order, flags, PAGE_MARK_LOW);
	if (pg == NULL)
		pg = zone_walk(node, order, flags, PAGE_MARK_MIN);
	if (pg == NULL && urgent)
		pg = zone_walk(node, order, flags, PAGE_MARK_URGENT);
	if (pg == NULL && !urgent && !irqs_disabled() && page_cached_count() != 0) {
		page_drain_all();
		pg = zone_walk(node, order, flags, PAGE_MARK_MIN);
	}
	if (pg == NULL && !urgent && !irqs_disabled())
		pg = zone_reclaim(node, order, flags);
	return pg;
}

paddr_t page_alloc_slow(unsigned order, unsigned flags)
{
	int node = zone_check_flags(order, flags);
	struct page *pg;

	if (order > PAGE_MAX_ORDER) {
		page_stat_inc(&page_state.pgs_stats.pst_bad_order);
		page_stat_inc(&page_state.pgs_stats.pst_alloc_fail);
		return PAGE_NOADDR;
	}
	/* Injected failure (mm/fail.c §2): never for PAGE_URGENT, the reserve's users. */
	if (!(flags & PAGE_URGENT) && fail_inject(FAIL_PAGE)) {
		page_stat_inc(&page_state.pgs_stats.pst_alloc_fail);
		return PAGE_NOADDR;
	}
	pg = zone_alloc(node, order, flags);
	if (pg == NULL) {
		page_stat_inc(&page_state.pgs_stats.pst_alloc_fail);
		return PAGE_NOADDR;
	}
	if (flags & PAGE_ZERO)
		memset(phys_to_virt(pg->pg_pa), 0, PAGE_BLOCK_BYTES(order));
	return pg->pg_pa;
}

/* Print and count a rejected free; returns err. */
static int zone_report_free(paddr_t pa, unsigned order, const struct page *pg, int err)
{
	static uint64_t *const counters[] = {
		[-PAGE_EALIGN] = &page_state.pgs_stats.pst_misaligned,
		[-PAGE_ENOTALLOC] = &page_state.pgs_stats.pst_not_alloc,
		[-PAGE_EDOUBLE] = &page_state.pgs_stats.pst_double_free,
		[-PAGE_EORDER] = &page_state.pgs_stats.pst_wrong_order,
	};

	page_stat_inc(counters[-err]);
	if (pg != NULL)
		printk("page_free: pa 0x%llx order %u: %s (page state %u, order %u, zone %u)\n",
		       (unsigned long long)pa, order, page_err_names[-err], pg->pg_state,
		       pg->pg_order, pg->pg_zone);
	else
		printk("page_free: pa 0x%llx order %u: %s (no such memory)\n",
		       (unsigned long long)pa, order, page_err_names[-err]);
	return err;
}

int page_free_slow(paddr_t pa, unsigned order)
{
	struct page *pg = page_lookup(pa);
	struct page_zone *zp;
	int err;
	irqflags_t zf;

	if (pg == NULL || pg->pg_zone == PAGE_NO_ZONE || (pa & (MM_PAGE_SIZE - 1)) != 0)
		return zone_report_free(pa, order, pg, buddy_classify(pg, pa, order));
	zp = page_zone_of(pg);
	zf = zone_lock(zp);
	err = buddy_classify(pg, pa, order);
	if (err == 0)
		buddy_free(zp, pg, order);
	zone_unlock(zp, zf);
	return err == 0 ? 0 : zone_report_free(pa, order, pg, err);
}

/* Integer square root (boot only). */
static uint64_t zone_isqrt(uint64_t x)
{
	uint64_t r = 0;

	for (uint64_t bit = 1ull << 62; bit != 0; bit >>= 2) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
	}
	return r;
}

/* Watermarks for every zone from the machine's managed memory. */
static void zone_set_watermarks(void)
{
	uint64_t total = 0, min_kb, min_pages;

	for (unsigned i = 0; i < page_state.pgs_nzones; i++)
		total += page_state.pgs_zone[i].z_managed;
	min_kb = zone_isqrt(total * (MM_PAGE_SIZE / 1024) * 16);
	min_kb = min_kb < 128 ? 128 : min_kb > 65536 ? 65536 : min_kb;
	min_pages = min_kb / (MM_PAGE_SIZE / 1024);
	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		struct page_zone *zp = &page_state.pgs_zone[i];
		uint64_t gap;

		zp->z_min = total ? min_pages * zp->z_managed / total : 0;
		gap = zp->z_min / 4 > zp->z_managed / 1000 ? zp->z_min / 4 : zp->z_managed / 1000;
		zp->z_low = zp->z_min + gap;
		zp->z_high = zp->z_min + 2 * gap;
	}
}

/* May zone zp serve class cls?  (Defined below, with the zonelists.) */
static bool zone_in_class(const struct page_zone *zp, unsigned cls);

/* Each zone's protection: the class-allowed higher zones of its node / ratio. */
static void zone_set_lowmem(void)
{
	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		struct page_zone *zp = &page_state.pgs_zone[i];

		for (unsigned cls = 0; cls < PAGE_NR_CLASSES; cls++) {
			uint64_t higher = 0;

			for (unsigned j = 0; j < page_state.pgs_nzones; j++) {
				const struct page_zone *up = &page_state.pgs_zone[j];

				if (up->z_node == zp->z_node && up->z_type > zp->z_type &&
				    zone_in_class(up, cls))
					higher += up->z_managed;
			}
			zp->z_lowmem[cls] = higher / PAGE_LOWMEM_RATIO;
		}
	}
}

/* Nodes in order of distance from `from` (itself first, ties by id). */
static void zone_node_order(unsigned from, uint8_t *order)
{
	unsigned n = page_state.pgs_nnodes;
	bool used[MM_MAX_NODES] = { false };

	order[0] = (uint8_t)from;
	used[from] = true;
	for (unsigned k = 1; k < n && k < MM_MAX_NODES; k++) {	/* n <= MM_MAX_NODES: says so to gcc */
		unsigned best = n;

		for (unsigned m = 0; m < n; m++)
			if (!used[m] && (best == n ||
					 page_state.pgs_dist[from][m] < page_state.pgs_dist[from][best]))
				best = m;
		order[k] = (uint8_t)best;
		used[best] = true;
	}
}

/* May zone zp serve class cls?  The DMA class needs a zone below dma_limit. */
static bool zone_in_class(const struct page_zone *zp, unsigned cls)
{
	if (cls == PAGE_DMA) {
		enum page_zone_type want = page_state.pgs_has_dma_zone ? PAGE_ZONE_DMA :
					   PAGE_ZONE_DMA32;

		if (page_state.pgs_dma_limit != 0 && zp->z_end > page_state.pgs_dma_limit)
			return false;
		return zp->z_type == want;
	}
	for (unsigned k = 0; zone_class_types[cls][k] != PAGE_NR_ZONE_TYPES; k++)
		if (zone_class_types[cls][k] == zp->z_type)
			return true;
	return false;
}

/* Build the three zonelists of node `from`. */
static void zone_build_lists(unsigned from)
{
	struct page_node *pn = &page_state.pgs_node[from];
	uint8_t order[MM_MAX_NODES];

	zone_node_order(from, order);
	for (unsigned cls = 0; cls < PAGE_NR_CLASSES; cls++) {
		pn->pn_nzl[cls] = 0;
		for (unsigned k = 0; k < page_state.pgs_nnodes; k++) {
			const struct page_node *other = &page_state.pgs_node[order[k]];

			/* Highest type first: NORMAL, DMA32, DMA. */
			for (int t = PAGE_NR_ZONE_TYPES - 1; t >= 0; t--) {
				unsigned zi = other->pn_zone[t];

				if (zi != PAGE_NO_ZONE && zone_in_class(&page_state.pgs_zone[zi], cls))
					pn->pn_zl[cls][pn->pn_nzl[cls]++] = (uint8_t)zi;
			}
		}
	}
}

void zone_setup(void)
{
	zone_set_watermarks();
	zone_set_lowmem();
	for (unsigned n = 0; n < page_state.pgs_nnodes; n++)
		zone_build_lists(n);
}

int page_node_of(paddr_t pa)
{
	const struct page *pg = page_lookup(pa);

	return pg == NULL || pg->pg_zone == PAGE_NO_ZONE ? -1 : page_zone_of(pg)->z_node;
}

int page_zone_type_of(paddr_t pa)
{
	const struct page *pg = page_lookup(pa);

	return pg == NULL || pg->pg_zone == PAGE_NO_ZONE ? -1 : (int)page_zone_of(pg)->z_type;
}

void page_get_stats(struct page_stats *st)
{
	*st = page_state.pgs_stats;
}
