/*
 * page_dump.c - the page allocator seen from outside: /proc/buddyinfo and
 * /proc/zoneinfo text (Linux formats), and zone snapshots for tests.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * buddyinfo prints one line per zone: node, zone name and the number of free
 * blocks of each order on the lists (deferred pages are in no block yet).
 * zoneinfo prints per zone the free pages (deferred ones included, and
 * counted apart as nr_deferred_pages), the watermarks,
 * spanned/present/managed pages, the statistics, and per hart the cache's
 * count, high and batch, with Linux's labels and indentation so the usual
 * tools and eyes read it.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * None of its own: snapshots are copied out of the zones under z_lock, one
 * zone at a time, so a zone's numbers agree with each other (the machine's
 * totals may move between two zones).
 *
 * 3. Locking
 * ----------
 * z_lock per zone while copying; printing happens after the lock is dropped
 * (printk is never called under a zone lock).  Per-hart cache counts are
 * read without their owners' cooperation: they are a snapshot.
 *
 * 4. Per-hart layer
 * -----------------
 * Read only.
 *
 * 5. Failure semantics
 * --------------------
 * page_zone_info returns -1 for an index out of range.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * The table page_zone_stat_names gives every zone counter a name, so the
 * dump prints them all.
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"

static const char *const page_zone_names[PAGE_NR_ZONE_TYPES] = {
	[PAGE_ZONE_DMA] = "DMA", [PAGE_ZONE_DMA32] = "DMA32", [PAGE_ZONE_NORMAL] = "Normal",
};

/* Names of the struct page_zone_stats fields, in order. */
static const char *const page_zone_stat_names[] = {
	"nr_allocs", "nr_frees", "nr_splits", "nr_merges", "nr_refused",
	"nr_urgent", "nr_fallback", "nr_remote", "nr_pcp_refills", "nr_pcp_drains",
	"nr_deferred_grows",
};

_Static_assert(sizeof(page_zone_stat_names) / sizeof(page_zone_stat_names[0]) ==
	       sizeof(struct page_zone_stats) / sizeof(uint64_t),
	       "every zone statistic needs a name");

const char *page_zone_name(enum page_zone_type t)
{
	return (unsigned)t < PAGE_NR_ZONE_TYPES ? page_zone_names[t] : "?";
}

unsigned page_zone_count(void)
{
	return page_state.pgs_nzones;
}

/* Pages of zone zi held in the harts' caches (snapshot). */
static uint64_t page_zone_cached(unsigned zi)
{
	uint64_t n = 0;

	for (unsigned c = 0; c < MM_MAX_CPUS; c++)
		if (page_mem.pgm_hart[c] != NULL)
			n += pcp_count(&page_mem.pgm_hart[c]->pgh_pcp[zi]);
	return n;
}

int page_zone_info(unsigned zi, struct page_zone_info *info)
{
	struct page_zone *zp;
	irqflags_t zf;

	if (zi >= page_state.pgs_nzones)
		return -1;
	zp = &page_state.pgs_zone[zi];
	memset(info, 0, sizeof(*info));
	info->pzi_node = zp->z_node;
	info->pzi_type = zp->z_type;
	info->pzi_base = zp->z_base;
	info->pzi_end = zp->z_end;
	info->pzi_spanned = zp->z_spanned;
	info->pzi_present = zp->z_present;
	info->pzi_managed = zp->z_managed;
	info->pzi_min = zp->z_min;
	info->pzi_low = zp->z_low;
	info->pzi_high = zp->z_high;
	memcpy(info->pzi_lowmem, zp->z_lowmem, sizeof(info->pzi_lowmem));
	info->pzi_batch = zp->z_batch;
	info->pzi_pcp_high = zp->z_pcp_high;
	zf = zone_lock(zp);
	info->pzi_free = zone_free_pages(zp);
	info->pzi_deferred = zp->z_deferred;
	for (unsigned o = 0; o < PAGE_NR_ORDERS; o++)
		info->pzi_nr_free[o] = zp->z_area[o].fa_count;
	zone_unlock(zp, zf);
	info->pzi_cached = page_zone_cached(zi);
	return 0;
}

void page_buddyinfo(int (*out)(const char *fmt, ...))
{
	struct page_zone_info zi;

	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++) {
		out("Node %d, zone %8s ", zi.pzi_node, page_zone_name(zi.pzi_type));
		for (unsigned o = 0; o < PAGE_NR_ORDERS; o++)
			out("%6llu ", (unsigned long long)zi.pzi_nr_free[o]);
		out("\n");
	}
}

/* The per-hart part of one zone's zoneinfo. */
static void page_zoneinfo_pagesets(unsigned zi, int (*out)(const char *fmt, ...))
{
	out("  pagesets\n");
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		const struct page_hart *ph = page_mem.pgm_hart[c];
		const struct page_pcp *pc;

		if (ph == NULL)
			continue;
		pc = &ph->pgh_pcp[zi];
		out("    cpu: %u\n", c);
		unsigned long count = pcp_count(pc);

		out("              count: %lu\n", count);
		out("              high:  %lu\n", pc->pc_high);
		out("              batch: %u\n", pc->pc_batch);
		out("              allocs: %llu frees: %llu refilled: %llu drained: %llu\n",
		    (unsigned long long)(pc->pc_frees + pc->pc_refilled - pc->pc_drained - count),
		    (unsigned long long)pc->pc_frees, (unsigned long long)pc->pc_refilled,
		    (unsigned long long)pc->pc_drained);
	}
}

/* One zone's zoneinfo block. */
static void page_zoneinfo_zone(unsigned zi, int (*out)(const char *fmt, ...))
{
	struct page_zone *zp = &page_state.pgs_zone[zi];
	struct page_zone_stats st;
	struct page_zone_info info;
	const uint64_t *sv = (const uint64_t *)&st;
	irqflags_t zf;

	page_zone_info(zi, &info);
	zf = zone_lock(zp);
	st = zp->z_stats;
	zone_unlock(zp, zf);
	out("Node %d, zone %8s\n", info.pzi_node, page_zone_name(info.pzi_type));
	out("  pages free     %llu\n", (unsigned long long)info.pzi_free);
	out("        min      %llu\n", (unsigned long long)info.pzi_min);
	out("        low      %llu\n", (unsigned long long)info.pzi_low);
	out("        high     %llu\n", (unsigned long long)info.pzi_high);
	out("        spanned  %llu\n", (unsigned long long)info.pzi_spanned);
	out("        present  %llu\n", (unsigned long long)info.pzi_present);
	out("        managed  %llu\n", (unsigned long long)info.pzi_managed);
	/* Linux's order: requests whose highest zone is DMA, DMA32, NORMAL. */
	out("        protection: (%llu, %llu, %llu)\n",
	    (unsigned long long)info.pzi_lowmem[PAGE_DMA],
	    (unsigned long long)info.pzi_lowmem[PAGE_DMA32],
	    (unsigned long long)info.pzi_lowmem[PAGE_ANY]);
	out("      nr_free_pages %llu\n", (unsigned long long)info.pzi_free);
	out("      nr_pcp_pages %llu\n", (unsigned long long)info.pzi_cached);
	out("      nr_deferred_pages %llu\n", (unsigned long long)info.pzi_deferred);
	for (unsigned k = 0; k < sizeof(page_zone_stat_names) / sizeof(page_zone_stat_names[0]); k++)
		out("      %s %llu\n", page_zone_stat_names[k], (unsigned long long)sv[k]);
	page_zoneinfo_pagesets(zi, out);
	out("  start_pfn:           %llu\n", (unsigned long long)(info.pzi_base >> MM_PAGE_SHIFT));
}

void page_zoneinfo(int (*out)(const char *fmt, ...))
{
	for (unsigned i = 0; i < page_state.pgs_nzones; i++)
		page_zoneinfo_zone(i, out);
}
