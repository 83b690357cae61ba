/*
 * stress_verify.c - the stress run's proof that nothing was lost, and its
 * summary lines (kernel/stress.c §8, docs/stress.md).
 *
 * Before the mixed phase and after it, the same drain runs: on every hart
 * (cpu_call_all) kmem_drain_this_hart() then page_pcp_drain_this_hart(),
 * then kmem_purge() on hart 0, whose frees land in hart 0's page caches, so
 * hart 0 drains those once more.  What is left in use is then only what
 * someone holds.  The checks, each against a value taken independently of
 * the code under test:
 *   (a) every zone's free count equals its count before the run, less the
 *       page-table pages the mapped heap grew in that zone, which the MMU
 *       counts on its own (mmu_pt_pages_zone) and the line prints as
 *       `page tables +N`, and less the change of grown hash tables' pages
 *       in that zone (vmem's and kmem's tables, found by translating their
 *       own addresses: a table that grows moves to new pages, perhaps on
 *       another node, and frees the old ones); what is left short must be
 *       vmem's segment structures (pages carved into segments are never
 *       returned, vmem_seg.c), counted by vmem only in total;
 *   (b) every stress cache has 0 buffers in use (kmem's own statistics);
 *   (c) every arena is back to its starting in-use size: the run's own
 *       arena (0), the kernel heap (kmem_heap) and each DMA pool.
 */
#include "arch/riscv/mmu.h"
#include "kernel/dma.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "kernel/stress_impl.h"
#include "mm/fail.h"
#include "mm/kmem_impl.h"
#include "mm/page_impl.h"
#include "mm/vmem_impl.h"

_Static_assert(FAIL_NSITES == 3, "stress_run.sr_injected holds FAIL_NSITES counts");

#define STRESS_MAX_POOLS	8	/* DMA pools checked */
#define STRESS_MAX_ARENAS	64	/* arenas the loss report compares */
#define STRESS_MAX_CACHES	256	/* caches the loss report compares */

/* What the verification compares: taken before the run and after it. */
struct stress_snap {
	uint64_t ss_free[PAGE_MAX_ZONES];		/* pages free per zone */
	uint64_t ss_pt[PAGE_MAX_ZONES];			/* page-table pages per zone (MMU) */
	uint64_t ss_seg_pages;				/* pages carved into vmem segments */
	uint64_t ss_hash_pages;				/* pages of grown vmem hash tables */
	uint64_t ss_khash_pages;			/* pages of grown kmem bufctl hashes */
	uint64_t ss_table_z[PAGE_MAX_ZONES];		/* ... both kinds of table, per zone */
	size_t ss_heap;					/* kmem_heap bytes in use */
	size_t ss_pool[STRESS_MAX_POOLS];		/* DMA pool bytes in use */
	struct mm_levelstat ss_level[MAX_CPUS];		/* level counters per hart */
	struct page_stats ss_pst;			/* page allocator statistics */
	uint64_t ss_refused, ss_drains, ss_urgent;	/* summed over zones */
	uint64_t ss_reaps;				/* reaps of the stress caches */
	uint64_t ss_arena[STRESS_MAX_ARENAS];		/* every arena's bytes in spans */
	const void *ss_arena_id[STRESS_MAX_ARENAS];	/* ... and which arena */
	unsigned ss_narena;				/* arenas noted */
	uint64_t ss_cache[STRESS_MAX_CACHES];		/* every cache's slab memory */
	const void *ss_cache_id[STRESS_MAX_CACHES];	/* ... and which cache */
	unsigned ss_ncache;				/* caches seen by the walk */
};
static struct stress_snap stress_before, stress_after;

/* cpu_call_all body: this hart's magazines to the depots, its page caches to the buddy. */
static void stress_drain_hart(void *arg)
{
	(void)arg;
	kmem_drain_this_hart();
	page_pcp_drain_this_hart();
}

void stress_drain_everything(void)
{
	cpu_call_all(stress_drain_hart, NULL);
	kmem_purge();
	kmem_purge();
	page_pcp_drain_this_hart();
}

/* Counters of the zones (lock-free reads: for the report only). */
static void stress_snap_zones(struct stress_snap *ss)
{
	struct page_zone_info zi;

	ss->ss_refused = ss->ss_drains = ss->ss_urgent = 0;
	for (unsigned i = 0; i < page_zone_count() && i < PAGE_MAX_ZONES; i++) {
		const struct page_zone_stats *zs = &page_state.pgs_zone[i].z_stats;

		if (page_zone_info(i, &zi) != 0)
			continue;
		ss->ss_free[i] = zi.pzi_free + zi.pzi_cached;
		ss->ss_pt[i] = mmu_pt_pages_zone(zi.pzi_node, zi.pzi_type);
		ss->ss_refused += zs->zs_refused;
		ss->ss_drains += zs->zs_drains;
		ss->ss_urgent += zs->zs_urgent;
	}
}

/* The zone index of the page under kernel address va (its descriptor's pg_zone), or -1. */
static int stress_zone_of(uintptr_t va)
{
	const struct page *pg;
	unsigned prot;
	uint64_t pa;

	if (!mmu_translate(va, &pa, &prot) || (pg = page_lookup(pa)) == NULL ||
	    pg->pg_zone == PAGE_NO_ZONE || pg->pg_zone >= PAGE_MAX_ZONES)
		return -1;
	return pg->pg_zone;
}

/*
 * Note `pages` pages of a grown table at va in the zones they are in: a
 * table that grows is copied to a new one and the old one freed, so the
 * pages move between zones (and nodes) while the total only grows.
 */
static void stress_table_zones(uint64_t *table_z, const void *va, uint64_t pages)
{
	for (uint64_t k = 0; k < pages; k++) {
		int z = stress_zone_of((uintptr_t)va + k * MM_PAGE_SIZE);

		if (z >= 0)
			table_z[z]++;
	}
}

/*
 * Pages under every arena's grown hash table, from vmem's own count of its
 * buckets (vk_hash_size) and the page source's rounding (a power of two of
 * pages, kernel/segkmem.c): tables grow and are kept until the arena goes.
 */
static uint64_t stress_hash_pages(uint64_t *table_z)
{
	irqflags_t fl = irq_save();
	uint64_t pages = 0;

	spin_lock(&vmem_list_lock);
	for (const struct vmem *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		size_t bytes = vmp->vm_kstat.vk_hash_size * sizeof(struct vmem_seg *), p = 1;

		if (vmp->vm_kstat.vk_hash_size <= VMEM_HASH_INITIAL)
			continue;
		while (p * MM_PAGE_SIZE < bytes)
			p <<= 1;
		pages += p;
		stress_table_zones(table_z, vmp->vm_hash, p);
	}
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	return pages;
}

/* kmem_cache_walk body: add the pages of cp's grown bufctl hash tables. */
static void stress_khash_cb(kmem_cache_t *cp, void *arg)
{
	struct stress_snap *ss = arg;

	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		const struct kmem_cnode *cn = cp->cache_node[n];
		uint64_t p;

		if (cn == NULL || cn->kn_hash == cn->kn_hash0)
			continue;
		p = ((cn->kn_hash_mask + 1) * sizeof(*cn->kn_hash) + MM_PAGE_SIZE - 1) / MM_PAGE_SIZE;
		ss->ss_khash_pages += p;
		stress_table_zones(ss->ss_table_z, cn->kn_hash, p);
	}
}

/*
 * Pages under the caches' grown bufctl hash tables (kmem_slab.c: grown x4
 * under load, page-granular from kmem_slab_0, kept until the cache goes).
 */
static void stress_khash_pages(struct stress_snap *ss)
{
	ss->ss_khash_pages = 0;
	kmem_cache_walk(stress_khash_cb, ss);
}

/* kmem_cache_walk body: note each cache and its slab memory. */
static void stress_cache_mem_cb(kmem_cache_t *cp, void *arg)
{
	struct stress_snap *ss = arg;
	uint64_t st[KMS_NSTATS];

	if (ss->ss_ncache < STRESS_MAX_CACHES) {
		kmem_cache_stats(cp, st);
		ss->ss_cache[ss->ss_ncache] = st[KMS_MEM_TOTAL];
		ss->ss_cache_id[ss->ss_ncache++] = cp;
	}
}

/* Every arena's span bytes and every cache's slab memory, for the loss report. */
static void stress_snap_owners(struct stress_snap *ss)
{
	irqflags_t fl = irq_save();
	unsigned i = 0;

	spin_lock(&vmem_list_lock);
	for (const struct vmem *vmp = vmem_list; vmp != NULL && i < STRESS_MAX_ARENAS;
	     vmp = vmp->vm_next, i++) {
		ss->ss_arena[i] = vmp->vm_kstat.vk_mem_total;
		ss->ss_arena_id[i] = vmp;
	}
	ss->ss_narena = i;
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	ss->ss_ncache = 0;
	kmem_cache_walk(stress_cache_mem_cb, ss);
}

/* The value a snapshot noted for owner id (ids[0..n)), or 0 when it was not there. */
static uint64_t stress_owner_value(const void *const *ids, const uint64_t *vals, unsigned n,
				    const void *id)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return vals[i];
	return 0;
}

/* kmem_cache_walk body: print a cache whose slab memory differs from before. */
static void stress_cache_diff_cb(kmem_cache_t *cp, void *arg)
{
	const struct stress_snap *b = &stress_before;
	uint64_t now = stress_owner_value(stress_after.ss_cache_id, stress_after.ss_cache,
					   stress_after.ss_ncache, cp);
	uint64_t then = stress_owner_value(b->ss_cache_id, b->ss_cache, b->ss_ncache, cp);

	(void)arg;
	if (now != then)
		printk("stress: lost? cache %s slab memory %llu before %llu\n", kmem_cache_name(cp),
		       (unsigned long long)now, (unsigned long long)then);
}

/*
 * After a loss: name the arenas and caches that hold more than before,
 * matched by identity (one made or destroyed meanwhile moves the others
 * in the lists); one that did not exist before counts as 0 then.
 */
static void stress_report_owners(void)
{
	const struct stress_snap *a = &stress_after, *b = &stress_before;
	irqflags_t fl = irq_save();

	spin_lock(&vmem_list_lock);
	for (unsigned i = 0; i < a->ss_narena; i++) {
		const struct vmem *vmp = a->ss_arena_id[i];
		uint64_t then = stress_owner_value(b->ss_arena_id, b->ss_arena, b->ss_narena, vmp);

		if (a->ss_arena[i] != then)
			printk("stress: lost? arena %s spans %llu bytes before %llu\n", vmp->vm_name,
			       (unsigned long long)a->ss_arena[i], (unsigned long long)then);
	}
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	kmem_cache_walk(stress_cache_diff_cb, NULL);
}

/* Everything a snapshot holds, on a drained system. */
static void stress_snap(struct stress_snap *ss)
{
	struct stress_run *sr = &stress_run;
	uint64_t pool, st[KMS_NSTATS];
	unsigned boot_used;

	stress_snap_zones(ss);
	vmem_seg_pool_stats(&pool, &ss->ss_seg_pages, &boot_used);
	memset(ss->ss_table_z, 0, sizeof(ss->ss_table_z));
	ss->ss_hash_pages = stress_hash_pages(ss->ss_table_z);
	stress_khash_pages(ss);
	stress_snap_owners(ss);
	ss->ss_heap = vmem_size(sr->sr_heap, VMEM_ALLOC);
	for (unsigned i = 0; i < dma_pool_count() && i < STRESS_MAX_POOLS; i++)
		ss->ss_pool[i] = vmem_size(dma_pool_arena(i), VMEM_ALLOC);
	for (unsigned c = 0; c < sr->sr_nharts; c++)
		mm_levelstat_cpu(c, &ss->ss_level[c]);
	page_get_stats(&ss->ss_pst);
	ss->ss_reaps = 0;
	for (unsigned ci = 0; ci < STRESS_NCACHES; ci++) {
		kmem_cache_stats(sr->sr_cache[ci], st);
		ss->ss_reaps += st[KMS_REAP];
	}
}

void stress_snapshot_before(void)
{
	(void)kmem_magazine_caches_make();	/* made on first use and kept: not the run's */
	stress_drain_everything();
	stress_snap(&stress_before);
}

void stress_report_levels(void)
{
	struct stress_run *sr = &stress_run;

	stress_snap(&stress_after);	/* levels and counters before the drain moves them */
	for (unsigned c = 0; c < sr->sr_nharts; c++) {
		const struct mm_levelstat *a = &stress_after.ss_level[c], *b = &stress_before.ss_level[c];

		printk("stress: levels cpu %u node %d mag %llu depot %llu slab %llu pcp %llu "
		       "buddy %llu vmem %llu\n", c, harts[c].h_node,
		       (unsigned long long)(a->ls_mag - b->ls_mag),
		       (unsigned long long)(a->ls_depot - b->ls_depot),
		       (unsigned long long)(a->ls_slab - b->ls_slab),
		       (unsigned long long)(a->ls_pcp - b->ls_pcp),
		       (unsigned long long)(a->ls_buddy - b->ls_buddy),
		       (unsigned long long)(a->ls_vmem - b->ls_vmem));
	}
	if (sr->sr_fail_every)
		printk("stress: injected page %llu vmem %llu slab %llu\n",
		       (unsigned long long)sr->sr_injected[FAIL_PAGE],
		       (unsigned long long)sr->sr_injected[FAIL_VMEM],
		       (unsigned long long)sr->sr_injected[FAIL_SLAB]);
}

/* Sum of one per-hart counter (at offset off in struct stress_hart). */
static uint64_t stress_sum(size_t off)
{
	uint64_t sum = 0;

	for (unsigned c = 0; c < stress_run.sr_nharts; c++)
		sum += *(const uint64_t *)((const char *)stress_run.sr_hart[c] + off);
	return sum;
}
#define STRESS_SUM(field)	((unsigned long long)stress_sum(offsetof(struct stress_hart, field)))

void stress_report_pressure(void)
{
	const struct stress_snap *a = &stress_after, *b = &stress_before;
	uint64_t kinds[SK_NKINDS] = { 0 };

	for (unsigned c = 0; c < stress_run.sr_nharts; c++)
		for (unsigned k = 0; k < SK_NKINDS; k++)
			kinds[k] += stress_run.sr_hart[c]->sh_kind_ops[k];
	printk("stress: kinds cache %llu kmalloc %llu page %llu vmem %llu heap %llu dma %llu\n",
	       (unsigned long long)kinds[SK_CACHE], (unsigned long long)kinds[SK_KMALLOC],
	       (unsigned long long)kinds[SK_PAGE], (unsigned long long)kinds[SK_VMEM],
	       (unsigned long long)kinds[SK_HEAP], (unsigned long long)kinds[SK_DMA]);
	printk("stress: remote sent %llu (to another node %llu) freed-for-others %llu "
	       "mailbox-full %llu\n", STRESS_SUM(sh_remote_sent), STRESS_SUM(sh_remote_node),
	       STRESS_SUM(sh_remote_done), STRESS_SUM(sh_mbox_full));
	printk("stress: pressure rounds %llu allocs %llu failed-allocs %llu kmem_reap %llu "
	       "page-reclaim %llu pcp-drains %llu watermark-refused %llu urgent %llu\n",
	       STRESS_SUM(sh_pressure_rounds), STRESS_SUM(sh_pressure_allocs), STRESS_SUM(sh_fails),
	       (unsigned long long)(a->ss_reaps - b->ss_reaps),
	       (unsigned long long)(a->ss_pst.pst_reclaim - b->ss_pst.pst_reclaim),
	       (unsigned long long)(a->ss_drains - b->ss_drains),
	       (unsigned long long)(a->ss_refused - b->ss_refused),
	       (unsigned long long)(a->ss_urgent - b->ss_urgent));
}

/* Append a failure to the run's reason (the first few fit). */
static void stress_reason(const char *what)
{
	size_t n = strlen(stress_run.sr_reason);

	snprintf(stress_run.sr_reason + n, sizeof(stress_run.sr_reason) - n, "%s%s",
		 n ? "; " : "verify: ", what);
}

/* One zone's verify line; false if the zone holds more free pages than it may. */
static bool stress_verify_zone_line(unsigned i, int64_t short_z, int64_t tab_z, bool sum_ok)
{
	uint64_t pt = stress_after.ss_pt[i] - stress_before.ss_pt[i];
	struct page_zone_info zi;
	char buf[64] = "";
	size_t n = 0;

	page_zone_info(i, &zi);
	if (pt)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " page tables +%llu",
				      (unsigned long long)pt);
	if (tab_z)
		snprintf(buf + n, sizeof(buf) - n, " hash tables %s%lld", tab_z > 0 ? "+" : "",
			 (long long)tab_z);
	printk("stress: verify zone %d/%s free %llu before %llu%s %s\n", zi.pzi_node,
	       page_zone_name(zi.pzi_type), (unsigned long long)stress_after.ss_free[i],
	       (unsigned long long)stress_before.ss_free[i], buf,
	       sum_ok && short_z >= 0 ? "ok" : "LOST");
	return short_z >= 0;
}

/*
 * (a) per zone: free now == before, less this zone's new page-table pages
 * (the MMU's count) and less the change of the grown hash tables' pages in
 * this zone (found from the tables' own addresses: a table that grows moves,
 * so one zone may get pages back that another pays for).  What is still
 * short must be vmem segment pages, never returned and counted by vmem only
 * in total: no zone may be over, and the shortfalls must add up to it.
 */
static bool stress_verify_zones(void)
{
	const struct stress_snap *a = &stress_after, *b = &stress_before;
	int64_t segs = (int64_t)(a->ss_seg_pages - b->ss_seg_pages);
	int64_t hash = (int64_t)(a->ss_hash_pages - b->ss_hash_pages);
	int64_t khash = (int64_t)(a->ss_khash_pages - b->ss_khash_pages);
	int64_t short_sum = 0, tables_sum = 0, short_z[PAGE_MAX_ZONES], tab_z[PAGE_MAX_ZONES];
	unsigned nz = MIN(page_zone_count(), (unsigned)PAGE_MAX_ZONES);
	bool ok;

	for (unsigned i = 0; i < nz; i++) {
		tab_z[i] = (int64_t)(a->ss_table_z[i] - b->ss_table_z[i]);
		tables_sum += tab_z[i];
		short_sum += short_z[i] = (int64_t)(b->ss_free[i] - a->ss_free[i] -
						    (a->ss_pt[i] - b->ss_pt[i])) - tab_z[i];
	}
	/* table pages the walk could not place (unmapped) stay in the total */
	ok = short_sum == segs + hash + khash - tables_sum;
	for (unsigned i = 0; i < nz; i++)
		ok &= stress_verify_zone_line(i, short_z[i], tab_z[i], ok);
	printk("stress: verify metadata %lld pages (vmem segments %lld, vmem hash tables %lld, "
	       "kmem hash tables %lld), zones short by %lld beyond page tables and tables %s\n",
	       (long long)(segs + hash + khash), (long long)segs, (long long)hash, (long long)khash,
	       (long long)short_sum, ok ? "ok" : "LOST");
	if (!ok) {
		char why[64];

		stress_report_owners();
		snprintf(why, sizeof(why), "%lld pages lost",
			 (long long)(short_sum - (segs + hash + khash - tables_sum)));
		stress_reason(why);
	}
	return ok;
}

/* (b) every stress cache: no buffer in use after the drain. */
static bool stress_verify_caches(void)
{
	uint64_t st[KMS_NSTATS];
	char buf[64];
	bool ok = true;

	for (unsigned ci = 0; ci < STRESS_NCACHES; ci++) {
		kmem_cache_t *cp = stress_run.sr_cache[ci];

		kmem_cache_stats(cp, st);
		printk("stress: verify cache %s in use %llu %s\n", kmem_cache_name(cp),
		       (unsigned long long)st[KMS_BUF_INUSE], st[KMS_BUF_INUSE] ? "LOST" : "ok");
		if (st[KMS_BUF_INUSE] == 0)
			continue;
		snprintf(buf, sizeof(buf), "cache %s %llu objects lost", kmem_cache_name(cp),
			 (unsigned long long)st[KMS_BUF_INUSE]);
		stress_reason(buf);
		ok = false;
	}
	return ok;
}

/* One arena: in use now == before; prints the line, notes a loss. */
static bool stress_verify_arena(vmem_t *vmp, size_t before)
{
	size_t now = vmem_size(vmp, VMEM_ALLOC);
	char buf[80];

	printk("stress: verify arena %s in use %zu before %zu %s\n", vmem_name(vmp), now, before,
	       now == before ? "ok" : "LOST");
	if (now == before)
		return true;
	snprintf(buf, sizeof(buf), "arena %s %lld bytes lost", vmem_name(vmp),
		 (long long)(now - before));
	stress_reason(buf);
	return false;
}

bool stress_verify(void)
{
	struct stress_run *sr = &stress_run;
	bool ok;

	stress_drain_everything();
	stress_snap(&stress_after);
	ok = stress_verify_zones();
	ok &= stress_verify_caches();
	ok &= stress_verify_arena(sr->sr_arena, 0);
	ok &= stress_verify_arena(sr->sr_heap, stress_before.ss_heap);
	for (unsigned i = 0; i < dma_pool_count() && i < STRESS_MAX_POOLS; i++)
		ok &= stress_verify_arena(dma_pool_arena(i), stress_before.ss_pool[i]);
	return ok;
}
