/*
 * pcp.c - per-hart page caches in front of the buddy lists.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * Most page traffic is single pages.  Every hart keeps, for every zone, a
 * *cache* (struct page_pcp, page.h): a LIFO list of free order-0 pages.
 * page_alloc and page_free (inline in page.h) serve order 0 from it with no
 * lock and no atomic instruction, interrupts disabled only on the local hart
 * around the few loads and stores.  An empty cache is *refilled* with a
 * *batch* of pages from the zone's buddy lists under the zone lock; a cache
 * above its *high* mark is *drained* by a batch back to the buddy lists.  The
 * idea and the sizing follow Linux's per-cpu pagesets (mm/page_alloc.c,
 * zone_batchsize): the batch is about a quarter of a thousandth of the zone,
 * capped at 1 MiB / 4, rounded to 2^n - 1 pages (odd, so consecutive
 * batches do not fall into the same cache-colour pattern), and high is six
 * batches.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * page_mem.pgm_hart[cpu] points at the hart's struct page_hart, allocated on
 * the hart's node by bootmem: a small header (its node, and per class the
 * first zone of its local zonelist) and pgh_pcp[nzones + 1], one cache line
 * per zone.  The extra last slot is always empty: a class with no zone
 * names it, so the fast path never tests for "no zone".  Every page on a
 * cache is PG_CACHED, order 0, of that zone; pc_high - pc_room is the list
 * length (pcp_count), and pc_room < 0 means "drain a batch".
 * Cached pages are not in z_free: a zone's free count plus all caches'
 * counts is what it could hand out.
 *
 * 3. Locking
 * ----------
 * A cache is touched only by its own hart, with interrupts off on that hart
 * (irq_save/irq_restore), so no lock and no atomic is needed: the DESIGN.md
 * per-hart rule.  Refill and drain take the zone lock inside that region
 * (order: cache, then zone).  Another hart's caches are emptied only by
 * asking that hart (page_drain_all runs pcp_drain_hart on every hart through
 * cpu_call_all; callers at the same time share one drain, one at a time);
 * page_pcp_drain_this_hart is the one per-hart drain.
 *
 * 4. Per-hart layer
 * -----------------
 * This file is the per-hart layer.  The fast paths are inline in page.h;
 * the refill is reached through page_alloc_slow -> zone_walk -> pcp_take,
 * and the drain through page_pcp_overflow, both out of line.
 *
 * 5. Failure semantics
 * --------------------
 * A refill takes a full batch only when the zone stays above the caller's
 * watermark afterwards, else a single page, else nothing (the caller tries
 * the next zone).  While failure injection is on (mm/fail.c) the inline
 * fast path sends every request to page_alloc_slow, which may fail it
 * before a cache is touched, so cache hits fail too; off, the fast path
 * pays one load and one branch for it.  page_drain_all is the only
 * cross-hart operation: the allocator calls it when a request that may wait
 * is about to fail, and callers that count pages (leak checks, tests) call
 * it first.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * Each cache counts pages taken back, pages refilled and pages drained
 * (plain increments: the hart owns the cache); pages handed out follow by
 * conservation, which keeps one increment off the allocation fast path:
 * handed out = taken back + refilled - drained - on the list
 * (page_levelstat_cpu reports it per hart, with pgh_buddy, the blocks of
 * higher orders the hart took from the buddy lists).
 * Zones count refill and drain batches.  page_check verifies every cache list.
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"

/* Linux-style batch for a zone of `managed` pages: 2^n - 1, at least 1. */
static unsigned pcp_batch_for(uint64_t managed)
{
	uint64_t batch = managed / 1024, cap = (1ull << 20) / MM_PAGE_SIZE, p = 1;

	if (batch > cap)
		batch = cap;
	batch /= 4;
	if (batch < 1)
		batch = 1;
	batch += batch / 2;
	while (p * 2 <= batch)
		p *= 2;
	return p > 1 ? (unsigned)(p - 1) : 1;
}

void pcp_setup(void)
{
	for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
		struct page_zone *zp = &page_state.pgs_zone[i];

		zp->z_batch = pcp_batch_for(zp->z_managed);
		zp->z_pcp_high = 6 * zp->z_batch;
	}
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		struct page_hart *ph = page_mem.pgm_hart[c];

		if (ph == NULL)
			continue;
		for (unsigned i = 0; i < page_state.pgs_nzones; i++) {
			ph->pgh_pcp[i].pc_batch = page_state.pgs_zone[i].z_batch;
			ph->pgh_pcp[i].pc_high = page_state.pgs_zone[i].z_pcp_high;
			ph->pgh_pcp[i].pc_room = (long)ph->pgh_pcp[i].pc_high;
			ph->pgh_pcp[i].pc_zone = i;
		}
		ph->pgh_pcp[page_state.pgs_nzones].pc_zone = PAGE_NO_ZONE;
	}
}

/* Fill an empty cache from the zone, respecting the caller's watermark plus
 * the zone's protection `keep` against the caller's class. */
static void pcp_refill(struct page_zone *zp, struct page_pcp *pc, enum page_mark mark,
		       uint64_t keep)
{
	unsigned n = pc->pc_batch;
	irqflags_t zf;

	zf = zone_lock(zp);
	if (!zone_watermark_ok(zp, 0, mark, n - 1 + keep))
		n = zone_watermark_ok(zp, 0, mark, keep) ? 1 : 0;
	for (unsigned i = 0; i < n; i++) {
		struct page *pg = zone_buddy_alloc(zp, 0);

		if (pg == NULL)
			break;
		pg->pg_state = PG_CACHED;
		pg->pg_next = pc->pc_head;
		pc->pc_head = pg;
		pc->pc_room--;
		pc->pc_refilled++;
	}
	if (pc->pc_head != NULL) {
		zp->z_stats.zs_refills++;
		if (mark == PAGE_MARK_URGENT && zone_free_pages(zp) < zp->z_min)
			zp->z_stats.zs_urgent++;
	} else {
		zp->z_stats.zs_refused++;
	}
	zone_unlock(zp, zf);
}

struct page *pcp_take(struct page_zone *zp, enum page_mark mark, unsigned cls)
{
	irqflags_t f = irq_save();
	struct page_pcp *pc = &page_this_hart()->pgh_pcp[zp->z_index];
	struct page *pg = pc->pc_head;

	if (pg == NULL) {
		pcp_refill(zp, pc, mark, zp->z_lowmem[cls]);
		pg = pc->pc_head;
	}
	if (pg != NULL) {
		ASSERT(pg->pg_state == PG_CACHED && pg->pg_zone == zp->z_index);
		pc->pc_head = pg->pg_next;
		pc->pc_room++;
		pg->pg_state = PG_ALLOCATED;
		pg->pg_order = 0;
	}
	irq_restore(f);
	return pg;
}

/*
 * Give the n coldest pages of this hart's cache of zone zi back to the
 * buddy (the list is LIFO, so the coldest are at its end).  Interrupts off.
 */
void pcp_drain_zone(struct page_hart *ph, unsigned zi, unsigned n)
{
	struct page_pcp *pc = &ph->pgh_pcp[zi];
	struct page_zone *zp = &page_state.pgs_zone[zi];
	struct page *pg, **cut = &pc->pc_head;
	unsigned long count = pcp_count(pc);
	irqflags_t zf;

	ASSERT(irqs_disabled());
	if (n > count)
		n = (unsigned)count;
	if (n == 0)
		return;
	for (unsigned long keep = count - n; keep > 0; keep--)
		cut = &(*cut)->pg_next;
	pg = *cut;
	*cut = NULL;
	pc->pc_room += n;
	pc->pc_drained += n;
	zf = zone_lock(zp);
	while (pg != NULL) {
		struct page *next = pg->pg_next;

		ASSERT(pg->pg_state == PG_CACHED && pg->pg_zone == zi);
		buddy_free(zp, pg, 0);
		pg = next;
	}
	zp->z_stats.zs_drains++;
	zone_unlock(zp, zf);
}

void page_pcp_overflow(unsigned zi)
{
	struct page_hart *ph = page_this_hart();

	pcp_drain_zone(ph, zi, ph->pgh_pcp[zi].pc_batch);
}

/* Empty every cache of the calling hart (cpu_call_all callback too). */
static void pcp_drain_hart(void *arg)
{
	struct page_hart *ph = page_mem.pgm_hart[cpu_id()];	/* NULL if it came up late */
	irqflags_t f;

	(void)arg;
	if (ph == NULL)
		return;
	f = irq_save();
	for (unsigned zi = 0; zi < page_state.pgs_nzones; zi++)
		pcp_drain_zone(ph, zi, (unsigned)pcp_count(&ph->pgh_pcp[zi]));
	irq_restore(f);
}

void page_pcp_drain_this_hart(void)
{
	pcp_drain_hart(NULL);
}

/* Drains of every hart's caches (page_drain_all): started, finished, one in flight. */
static uint64_t pcp_drains_started, pcp_drains_finished;
static int pcp_drain_busy;

/*
 * Run one drain of every hart's caches.  Concurrent callers coalesce: a
 * caller that finds a drain in flight waits, with interrupts on (it must
 * answer that drain's cross-call), until a drain that started after its
 * call has finished, its own or another hart's.  Without this, N harts
 * whose allocations fail at once each run a cross-call to every hart in
 * turn, and one of them may lose the cross-call lock for a long time
 * (seen at 128 harts: a pressure hart without progress for 84 s).
 */
void page_drain_all(void)
{
	uint64_t seen = __atomic_load_n(&pcp_drains_started, __ATOMIC_ACQUIRE);
	int idle = 0;

	page_stat_inc(&page_state.pgs_stats.pst_drain_all);
	if (irqs_disabled()) {			/* cannot wait: drain alone (cpu_call_all orders) */
		cpu_call_all(pcp_drain_hart, NULL);
		return;
	}
	while (!__atomic_compare_exchange_n(&pcp_drain_busy, &idle, 1, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE)) {
		idle = 0;
		if (__atomic_load_n(&pcp_drains_finished, __ATOMIC_ACQUIRE) > seen)
			return;			/* one that started after this call is done */
	}
	__atomic_add_fetch(&pcp_drains_started, 1, __ATOMIC_ACQ_REL);
	cpu_call_all(pcp_drain_hart, NULL);
	__atomic_add_fetch(&pcp_drains_finished, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&pcp_drain_busy, 0, __ATOMIC_RELEASE);
}

void page_levelstat_cpu(unsigned cpu, uint64_t *pcp, uint64_t *buddy)
{
	const struct page_hart *ph = cpu < MM_MAX_CPUS ? page_mem.pgm_hart[cpu] : NULL;

	*pcp = *buddy = 0;
	if (ph == NULL)
		return;
	/* Pages that left a cache = pages that entered it - pages on it (§6). */
	for (unsigned zi = 0; zi < page_state.pgs_nzones; zi++) {
		const struct page_pcp *pc = &ph->pgh_pcp[zi];

		*pcp += pc->pc_frees + pc->pc_refilled - pc->pc_drained - pcp_count(pc);
	}
	*buddy = ph->pgh_buddy;
}

/* Pages held in caches: a racy snapshot, exact when the harts are quiet. */
uint64_t page_cached_count(void)
{
	uint64_t n = 0;

	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		const struct page_hart *ph = page_mem.pgm_hart[c];

		if (ph == NULL)
			continue;
		for (unsigned zi = 0; zi < page_state.pgs_nzones; zi++)
			n += pcp_count(&ph->pgh_pcp[zi]);
	}
	return n;
}

/* Check one hart's cache of one zone. */
static int pcp_check_one(const struct page_hart *ph, unsigned zi, char *why, size_t whylen)
{
	const struct page_pcp *pc = &ph->pgh_pcp[zi];
	unsigned long n = 0;

	for (const struct page *pg = pc->pc_head; pg != NULL; pg = pg->pg_next, n++) {
		if (pg->pg_state != PG_CACHED || pg->pg_zone != zi || n > pcp_count(pc)) {
			snprintf(why, whylen, "cpu %u zone %u cache: bad page 0x%llx (state %u)",
				 ph->pgh_cpu, zi, (unsigned long long)pg->pg_pa, pg->pg_state);
			return -1;
		}
	}
	if (n != pcp_count(pc)) {
		snprintf(why, whylen, "cpu %u zone %u cache holds %lu pages, count says %lu",
			 ph->pgh_cpu, zi, n, pcp_count(pc));
		return -1;
	}
	return 0;
}

int pcp_check(char *why, size_t whylen)
{
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		const struct page_hart *ph = page_mem.pgm_hart[c];

		if (ph == NULL)
			continue;
		for (unsigned zi = 0; zi <= page_state.pgs_nzones; zi++)
			if (pcp_check_one(ph, zi, why, whylen) != 0)
				return -1;
	}
	return 0;
}
