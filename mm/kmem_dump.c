/*
 * kmem_dump.c - object-cache statistics, the consistency check, and the
 * text dumps (kmastat, magazine statistics, slabinfo).  See mm/kmem.c §7.
 */
#include "mm/kmem_impl.h"

const char *const kmem_stat_names[KMS_NSTATS] = {
	[KMS_ALLOC] = "alloc",
	[KMS_FREE] = "free",
	[KMS_FAIL] = "alloc_fail",
	[KMS_MAG_ALLOC] = "mag_alloc",
	[KMS_MAG_FREE] = "mag_free",
	[KMS_SLAB_ALLOC] = "slab_alloc",
	[KMS_SLAB_FREE] = "slab_free",
	[KMS_SLAB_CREATE] = "slab_create",
	[KMS_SLAB_DESTROY] = "slab_destroy",
	[KMS_DEPOT_ALLOC] = "depot_alloc",
	[KMS_DEPOT_FREE] = "depot_free",
	[KMS_DEPOT_CONTENTION] = "depot_contention",
	[KMS_MAG_RESIZE] = "mag_resize",
	[KMS_CROSS_FREE] = "cross_node_free",
	[KMS_REAP] = "reap",
	[KMS_CTOR_FAIL] = "ctor_fail",
	[KMS_BUF_INUSE] = "buf_inuse",
	[KMS_BUF_TOTAL] = "buf_total",
	[KMS_BUF_SLABFREE] = "buf_slab_free",
	[KMS_BUF_MAG] = "buf_magazine",
	[KMS_BUF_DEPOT] = "buf_depot",
	[KMS_SLABS] = "slabs",
	[KMS_MEM_TOTAL] = "mem_total",
	[KMS_MAGSIZE] = "magsize",
};

/* A counter bumped with atomics elsewhere, read once. */
static uint64_t kmem_ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* Rounds held by the hart magazines (loaded, previous, cross). */
static void kmem_sum_cpus(kmem_cache_t *cp, uint64_t st[KMS_NSTATS])
{
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		const struct kmem_cpu_cache *ccp = &cp->cache_cpu[c];
		const struct kmem_cpu_flow *cf = &cp->cache_flow[c];
		uint64_t held = (uint64_t)(ccp->hc_top - ccp->hc_base) + (uint64_t)ccp->hc_crounds +
				(ccp->hc_prounds > 0 ? (uint64_t)ccp->hc_prounds : 0);

		st[KMS_MAG_ALLOC] += ccp->hc_alloc;
		st[KMS_ALLOC] += cf->cf_slow_alloc;	/* + the magazine hits, below */
		st[KMS_FREE] += cf->cf_slow_free;
		st[KMS_MAG_FREE] += held - cf->cf_in + cf->cf_out + ccp->hc_alloc;	/* §7 */
		st[KMS_BUF_MAG] += held;
	}
}

/* Depot and slab-layer counters of one node, under their locks. */
static void kmem_sum_node(kmem_cache_t *cp, struct kmem_cnode *cn, uint64_t st[KMS_NSTATS])
{
	irqflags_t fl = kmem_lock(&cn->kn_depot_lock);

	st[KMS_DEPOT_ALLOC] += cn->kn_depot_alloc;
	st[KMS_DEPOT_FREE] += cn->kn_depot_free;
	st[KMS_DEPOT_CONTENTION] += kmem_ld(&cn->kn_contention);
	if (cn->kn_magtype != NULL) {
		st[KMS_BUF_DEPOT] += cn->kn_nfull * (uint64_t)cn->kn_magtype->mt_magsize;
		if ((uint64_t)cn->kn_magtype->mt_magsize > st[KMS_MAGSIZE])	/* largest node's */
			st[KMS_MAGSIZE] = (uint64_t)cn->kn_magtype->mt_magsize;
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	fl = kmem_lock(&cn->kn_slab_lock);
	st[KMS_SLAB_ALLOC] += cn->kn_slab_alloc;
	st[KMS_SLAB_FREE] += cn->kn_slab_free;
	st[KMS_SLAB_CREATE] += cn->kn_slab_create;
	st[KMS_SLAB_DESTROY] += cn->kn_slab_destroy;
	st[KMS_BUF_TOTAL] += cn->kn_buf_total;
	st[KMS_BUF_SLABFREE] += cn->kn_buf_free;
	st[KMS_SLABS] += cn->kn_slabs;
	st[KMS_MEM_TOTAL] += cn->kn_slabs * cp->cache_slabsize;
	if (!cp->cache_small)
		st[KMS_MEM_TOTAL] += cn->kn_slabs * sizeof(struct kmem_slab) +
				     cn->kn_buf_total * sizeof(struct kmem_bufctl);
	kmem_unlock(&cn->kn_slab_lock, fl);
}

void kmem_cache_stats(kmem_cache_t *cp, uint64_t st[KMS_NSTATS])
{
	memset(st, 0, KMS_NSTATS * sizeof(st[0]));
	kmem_sum_cpus(cp, st);
	for (unsigned n = 0; n < cp->cache_nnodes; n++)
		kmem_sum_node(cp, cp->cache_node[n], st);
	st[KMS_ALLOC] += st[KMS_MAG_ALLOC];
	st[KMS_FREE] += st[KMS_MAG_FREE];
	st[KMS_FAIL] = kmem_ld(&cp->cache_fail);
	st[KMS_MAG_RESIZE] = kmem_ld(&cp->cache_resize);
	st[KMS_CROSS_FREE] = kmem_ld(&cp->cache_cross_free);
	st[KMS_REAP] = kmem_ld(&cp->cache_reap);
	st[KMS_CTOR_FAIL] = kmem_ld(&cp->cache_ctor_fail);
	st[KMS_BUF_INUSE] = st[KMS_ALLOC] - st[KMS_FREE];
	if (!cp->cache_slablayer) {	/* a zcache holds what its clients, magazines, depot hold */
		st[KMS_BUF_TOTAL] = st[KMS_BUF_INUSE] + st[KMS_BUF_MAG] + st[KMS_BUF_DEPOT];
		st[KMS_MEM_TOTAL] = st[KMS_BUF_TOTAL] * cp->cache_bufsize;
	}
}

void kmem_cache_cpu_rounds(kmem_cache_t *cp, unsigned cpu, int *loaded, int *prev)
{
	const struct kmem_cpu_cache *ccp = &cp->cache_cpu[cpu];

	*loaded = ccp->hc_base != NULL ? (int)(ccp->hc_top - ccp->hc_base) : -1;
	*prev = ccp->hc_prev != NULL ? ccp->hc_prounds : -1;
}

void kmem_cache_depot_count(kmem_cache_t *cp, int node, uint64_t *full, uint64_t *empty)
{
	struct kmem_cnode *cn;
	irqflags_t fl;

	*full = *empty = 0;
	if (node < 0 || (unsigned)node >= cp->cache_nnodes)
		return;
	cn = cp->cache_node[node];
	fl = kmem_lock(&cn->kn_depot_lock);
	*full = cn->kn_nfull;
	*empty = cn->kn_nempty;
	kmem_unlock(&cn->kn_depot_lock, fl);
}

/* Count a slab list: slabs, and free buffers found by walking each free list. */
static int kmem_check_list(kmem_cache_t *cp, struct kmem_cnode *cn, struct kmem_slab *sp,
			   int cls, uint64_t *slabs, uint64_t *nfree, char *why, size_t len)
{
	for (; sp != NULL; sp = sp->slab_next) {
		unsigned n = 0;

		for (void *b = sp->slab_head; b != NULL; n++)
			b = cp->cache_small ? *(void **)((uintptr_t)b + cp->cache_link) :
					      (void *)((struct kmem_bufctl *)b)->bc_next;
		if (sp->slab_cache != cp || sp->slab_list != cls || n + sp->slab_refcnt != sp->slab_chunks ||
		    (cp->cache_pagemode && sp->slab_node != cn->kn_node)) {
			snprintf(why, len, "%s node %d: slab %p on list %d has %u free + %u "
				 "allocated of %u (list %d, node %d)", cp->cache_name, cn->kn_node,
				 (void *)sp, cls, n, sp->slab_refcnt, sp->slab_chunks, sp->slab_list,
				 sp->slab_node);
			return -1;
		}
		(*slabs)++;
		*nfree += n;
	}
	return 0;
}

/* Check one node's slab layer against its counters.  Lock held. */
static int kmem_check_node(kmem_cache_t *cp, struct kmem_cnode *cn, char *why, size_t len)
{
	uint64_t slabs = 0, nfree = 0;

	if (kmem_check_list(cp, cn, cn->kn_freeslabs, KMEM_SL_FREE, &slabs, &nfree, why, len) ||
	    kmem_check_list(cp, cn, cn->kn_fullslabs, KMEM_SL_FULL, &slabs, &nfree, why, len))
		return -1;
	for (int i = 0; i < KMEM_FULLNESS; i++) {
		if ((cn->kn_partial[i] != NULL) != ((cn->kn_partial_map >> i) & 1)) {
			snprintf(why, len, "%s node %d: partial map bit %d wrong", cp->cache_name,
				 cn->kn_node, i);
			return -1;
		}
		if (kmem_check_list(cp, cn, cn->kn_partial[i], i, &slabs, &nfree, why, len))
			return -1;
	}
	if (slabs != cn->kn_slabs || nfree != cn->kn_buf_free ||
	    slabs * cp->cache_chunks != cn->kn_buf_total ||
	    (!cp->cache_small && cn->kn_hash_count != cn->kn_buf_total - cn->kn_buf_free)) {
		snprintf(why, len, "%s node %d: lists hold %lu slabs %lu free; counters say %lu "
			 "slabs %lu free %lu total, hash %lu", cp->cache_name, cn->kn_node,
			 (unsigned long)slabs, (unsigned long)nfree, (unsigned long)cn->kn_slabs,
			 (unsigned long)cn->kn_buf_free, (unsigned long)cn->kn_buf_total,
			 (unsigned long)cn->kn_hash_count);
		return -1;
	}
	return 0;
}

int kmem_cache_check(kmem_cache_t *cp, char *why, size_t len)
{
	uint64_t st[KMS_NSTATS];

	for (unsigned n = 0; cp->cache_slablayer && n < cp->cache_nnodes; n++) {
		struct kmem_cnode *cn = cp->cache_node[n];
		irqflags_t fl = kmem_lock(&cn->kn_slab_lock);
		int err = kmem_check_node(cp, cn, why, len);

		kmem_unlock(&cn->kn_slab_lock, fl);
		if (err)
			return -1;
	}
	kmem_cache_stats(cp, st);
	if (st[KMS_BUF_TOTAL] != st[KMS_BUF_INUSE] + st[KMS_BUF_SLABFREE] + st[KMS_BUF_MAG] +
				 st[KMS_BUF_DEPOT]) {
		snprintf(why, len, "%s: total %lu != in use %lu + slab free %lu + magazines %lu + "
			 "depot %lu", cp->cache_name, (unsigned long)st[KMS_BUF_TOTAL],
			 (unsigned long)st[KMS_BUF_INUSE], (unsigned long)st[KMS_BUF_SLABFREE],
			 (unsigned long)st[KMS_BUF_MAG], (unsigned long)st[KMS_BUF_DEPOT]);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- the dumps */

/* One dump line needs the output function: passed through kmem_cache_walk. */
struct kmem_dump_arg {
	int (*kd_out)(const char *fmt, ...);	/* printk-like */
	uint64_t kd_mem;			/* kmastat: total memory */
	uint64_t kd_alloc, kd_fail;		/* kmastat: totals */
};

/* One ::kmastat line. */
static void kmem_kmastat_line(kmem_cache_t *cp, void *arg)
{
	struct kmem_dump_arg *kd = arg;
	uint64_t st[KMS_NSTATS];

	kmem_cache_stats(cp, st);
	kd->kd_out("%-24s %6lu %8lu %8lu %10lu %10lu %6lu\n", cp->cache_name,
		   (unsigned long)cp->cache_bufsize, (unsigned long)st[KMS_BUF_INUSE],
		   (unsigned long)st[KMS_BUF_TOTAL], (unsigned long)st[KMS_MEM_TOTAL],
		   (unsigned long)st[KMS_ALLOC], (unsigned long)st[KMS_FAIL]);
	kd->kd_mem += st[KMS_MEM_TOTAL];
	kd->kd_alloc += st[KMS_ALLOC];
	kd->kd_fail += st[KMS_FAIL];
}

/* The failure-injection line (mm/fail.c), when it is on or has injected since fail_set. */
static void kmem_kmastat_fail(int (*out)(const char *fmt, ...))
{
	uint64_t st[FAIL_NSITES];

	fail_stats(st);
	if (fail_every() == 0 && st[FAIL_PAGE] + st[FAIL_VMEM] + st[FAIL_SLAB] == 0)
		return;
	out("failure injection: every %u, injected page %lu vmem %lu slab %lu\n", fail_every(),
	    (unsigned long)st[FAIL_PAGE], (unsigned long)st[FAIL_VMEM],
	    (unsigned long)st[FAIL_SLAB]);
}

void kmem_kmastat(int (*out)(const char *fmt, ...))
{
	struct kmem_dump_arg kd = { out, 0, 0, 0 };

	out("%-24s %6s %8s %8s %10s %10s %6s\n", "cache", "buf", "buf", "buf", "memory", "alloc",
	    "alloc");
	out("%-24s %6s %8s %8s %10s %10s %6s\n", "name", "size", "in use", "total", "in use",
	    "succeed", "fail");
	out("------------------------ ------ -------- -------- ---------- ---------- ------\n");
	kmem_cache_walk(kmem_kmastat_line, &kd);
	out("------------------------ ------ -------- -------- ---------- ---------- ------\n");
	out("%-24s %6s %8s %8s %10lu %10lu %6lu\n", "Total", "", "", "", (unsigned long)kd.kd_mem,
	    (unsigned long)kd.kd_alloc, (unsigned long)kd.kd_fail);
	kmem_kmastat_fail(out);
	out("\n");
	vmem_dump_all(out);
}

/* Magazine statistics of one cache: a summary line, harts, depots. */
static void kmem_magstat_cache(kmem_cache_t *cp, void *arg)
{
	struct kmem_dump_arg *kd = arg;
	uint64_t st[KMS_NSTATS], full, empty;
	int l, p;

	kmem_cache_stats(cp, st);
	kd->kd_out("%s: magsize %lu mag_alloc %lu mag_free %lu depot_alloc %lu depot_free %lu "
		   "contention %lu resize %lu cross_node_free %lu reap %lu\n", cp->cache_name,
		   (unsigned long)st[KMS_MAGSIZE], (unsigned long)st[KMS_MAG_ALLOC],
		   (unsigned long)st[KMS_MAG_FREE], (unsigned long)st[KMS_DEPOT_ALLOC],
		   (unsigned long)st[KMS_DEPOT_FREE], (unsigned long)st[KMS_DEPOT_CONTENTION],
		   (unsigned long)st[KMS_MAG_RESIZE], (unsigned long)st[KMS_CROSS_FREE],
		   (unsigned long)st[KMS_REAP]);
	for (unsigned c = 0; c < cpu_count() && c < MM_MAX_CPUS; c++) {
		kmem_cache_cpu_rounds(cp, c, &l, &p);
		kd->kd_out("  hart %u: loaded %d prev %d\n", c, l, p);
	}
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		kmem_cache_depot_count(cp, (int)n, &full, &empty);
		kd->kd_out("  node %u: full %lu empty %lu\n", n, (unsigned long)full,
			   (unsigned long)empty);
	}
}

void kmem_magstat(int (*out)(const char *fmt, ...))
{
	struct kmem_dump_arg kd = { out, 0, 0, 0 };

	kmem_cache_walk(kmem_magstat_cache, &kd);
}

void kmem_cache_magstat(kmem_cache_t *cp, int (*out)(const char *fmt, ...))
{
	struct kmem_dump_arg kd = { out, 0, 0, 0 };

	kmem_magstat_cache(cp, &kd);
}

/* One /proc/slabinfo line (active = in use, num = total, pages per slab). */
static void kmem_slabinfo_line(kmem_cache_t *cp, void *arg)
{
	struct kmem_dump_arg *kd = arg;
	uint64_t st[KMS_NSTATS];
	uint64_t active_slabs = 0;

	if (!cp->cache_slablayer)
		return;
	kmem_cache_stats(cp, st);
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		struct kmem_cnode *cn = cp->cache_node[n];
		irqflags_t fl = kmem_lock(&cn->kn_slab_lock);

		active_slabs += cn->kn_slabs;
		for (struct kmem_slab *sp = cn->kn_freeslabs; sp != NULL; sp = sp->slab_next)
			active_slabs--;
		kmem_unlock(&cn->kn_slab_lock, fl);
	}
	kd->kd_out("%-24s %6lu %6lu %6lu %4u %4lu : tunables %4lu %4lu %4u : slabdata %6lu %6lu %6u\n",
		   cp->cache_name, (unsigned long)st[KMS_BUF_INUSE], (unsigned long)st[KMS_BUF_TOTAL],
		   (unsigned long)cp->cache_chunksize, cp->cache_chunks,
		   (unsigned long)(cp->cache_slabsize >> MM_PAGE_SHIFT),
		   (unsigned long)st[KMS_MAGSIZE], (unsigned long)(st[KMS_MAGSIZE] / 2), 0u,
		   (unsigned long)active_slabs, (unsigned long)st[KMS_SLABS], 0u);
}

void kmem_slabinfo(int (*out)(const char *fmt, ...))
{
	struct kmem_dump_arg kd = { out, 0, 0, 0 };

	out("slabinfo - version: 2.1\n");
	out("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> "
	    ": tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> "
	    "<num_slabs> <sharedavail>\n");
	kmem_cache_walk(kmem_slabinfo_line, &kd);
}
