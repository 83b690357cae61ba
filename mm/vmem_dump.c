/*
 * vmem_dump.c - looking inside arenas: statistics snapshots, walks, the
 * illumos-style ::vmem dump and the invariant checker (mm/vmem.c §2, §6).
 */
#include "mm/vmem_impl.h"

/* One table of counter names, so a dump prints every counter there is. */
static const struct {
	const char *vn_name;		/* as printed */
	size_t vn_off;			/* offset in struct vmem_kstat */
} vmem_kstat_names[] = {
#define VMEM_KSTAT(f) { #f + 3, __builtin_offsetof(struct vmem_kstat, f) }
	VMEM_KSTAT(vk_mem_inuse), VMEM_KSTAT(vk_mem_total), VMEM_KSTAT(vk_mem_import),
	VMEM_KSTAT(vk_alloc), VMEM_KSTAT(vk_free), VMEM_KSTAT(vk_fail),
	VMEM_KSTAT(vk_search), VMEM_KSTAT(vk_wait), VMEM_KSTAT(vk_import),
	VMEM_KSTAT(vk_release), VMEM_KSTAT(vk_add), VMEM_KSTAT(vk_populate_fail),
	VMEM_KSTAT(vk_hash_grow), VMEM_KSTAT(vk_qcache_alloc), VMEM_KSTAT(vk_qcache_free),
	VMEM_KSTAT(vk_nspan), VMEM_KSTAT(vk_nfree_seg), VMEM_KSTAT(vk_nalloc_seg),
	VMEM_KSTAT(vk_hash_size), VMEM_KSTAT(vk_hash_max_chain),
#undef VMEM_KSTAT
};

/* Fill the computed fields (lock held): free-list occupancy, longest chain. */
static void vmem_stats_compute(vmem_t *vmp, struct vmem_kstat *vk)
{
	for (unsigned i = 0; i < VMEM_FREELISTS; i++) {
		uint64_t n = 0;

		for (struct vmem_seg *vsp = vmp->vm_freelist[i]; vsp != NULL; vsp = vsp->vs_knext)
			n++;
		vk->vk_freelist[i] = n;
	}
	vk->vk_hash_max_chain = 0;
	for (size_t b = 0; b <= vmp->vm_hash_mask; b++) {
		uint64_t n = 0;

		for (struct vmem_seg *vsp = vmp->vm_hash[b]; vsp != NULL; vsp = vsp->vs_knext)
			n++;
		if (n > vk->vk_hash_max_chain)
			vk->vk_hash_max_chain = n;
	}
}

void vmem_stats(vmem_t *vmp, struct vmem_kstat *vk)
{
	uint64_t qa, qf;
	irqflags_t fl;

	vmem_qcache_kstat(vmp, &qa, &qf);	/* before the lock: kmem takes its own */
	fl = vmem_lock(vmp);
	*vk = vmp->vm_kstat;
	vmem_stats_compute(vmp, vk);
	vmem_unlock(vmp, fl);
	vk->vk_qcache_alloc += qa;
	vk->vk_qcache_free += qf;
}

void vmem_walk(vmem_t *vmp, int typemask,
	       void (*fn)(void *arg, uintptr_t start, size_t size, int type), void *arg)
{
	irqflags_t fl = vmem_lock(vmp);

	for (struct vmem_seg *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	     vsp = vsp->vs_anext)
		if (vsp->vs_type & typemask)
			fn(arg, vsp->vs_start, vmem_seg_size(vsp), vsp->vs_type);
	vmem_unlock(vmp, fl);
}

vmem_t *vmem_find(const char *name)
{
	irqflags_t fl = irq_save();
	vmem_t *vmp;

	spin_lock(&vmem_list_lock);
	for (vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next)
		if (strcmp(vmp->vm_name, name) == 0)
			break;
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	return vmp;
}

/* ----------------------------------------------------------------- dumps */

/* One ::vmem line for vmp, indented by its depth, then its children. */
static void vmem_dump_tree(vmem_t *parent, unsigned depth, int (*out)(const char *fmt, ...))
{
	for (vmem_t *vmp = vmem_list; vmp != NULL; vmp = vmp->vm_next) {
		struct vmem_kstat vk;
		irqflags_t fl;

		if (vmp->vm_source != parent)
			continue;
		fl = vmem_lock(vmp);
		vk = vmp->vm_kstat;
		vmem_unlock(vmp, fl);
		out("%*s%-*s %14lu %14lu %14lu %10lu %6lu\n", (int)(2 * depth), "",
		    (int)(24 - 2 * depth), vmp->vm_name, (unsigned long)vk.vk_mem_inuse,
		    (unsigned long)vk.vk_mem_total, (unsigned long)vk.vk_mem_import,
		    (unsigned long)vk.vk_alloc, (unsigned long)vk.vk_fail);
		if (depth < 8)
			vmem_dump_tree(vmp, depth + 1, out);
	}
}

void vmem_dump_all(int (*out)(const char *fmt, ...))
{
	uint64_t pool, pages;
	unsigned boot;
	irqflags_t fl;

	vmem_seg_pool_stats(&pool, &pages, &boot);
	out("%-24s %14s %14s %14s %10s %6s\n", "NAME", "INUSE", "TOTAL", "IMPORTED",
	    "SUCCEED", "FAIL");
	fl = irq_save();
	spin_lock(&vmem_list_lock);
	vmem_dump_tree(NULL, 0, out);
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	out("segment pool: %lu free, %u of %u boot segments used, %lu pages carved\n",
	    (unsigned long)pool, boot, VMEM_BOOT_SEGS, (unsigned long)pages);
}

/* Print each segment of the arena in address order (lock held). */
static void vmem_dump_segs(vmem_t *vmp, int (*out)(const char *fmt, ...))
{
	for (struct vmem_seg *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	     vsp = vsp->vs_anext) {
		const char *t = vsp->vs_type == VMEM_SPAN ? "SPAN" :
				vsp->vs_type == VMEM_FREE ? "FREE" : "ALLOC";

		out("  %s%-5s [0x%016lx, 0x%016lx) %lu%s\n", vsp->vs_type == VMEM_SPAN ? "" : "  ",
		    t, (unsigned long)vsp->vs_start, (unsigned long)vsp->vs_end,
		    (unsigned long)vmem_seg_size(vsp),
		    vsp->vs_type == VMEM_SPAN && vsp->vs_import ? " imported" : "");
	}
}

void vmem_dump(vmem_t *vmp, bool segs, int (*out)(const char *fmt, ...))
{
	struct vmem_kstat vk;
	uint64_t qa, qf;
	irqflags_t fl;

	vmem_qcache_kstat(vmp, &qa, &qf);	/* before the lock: kmem takes its own */
	fl = vmem_lock(vmp);
	vk = vmp->vm_kstat;
	vmem_stats_compute(vmp, &vk);
	vk.vk_qcache_alloc += qa;
	vk.vk_qcache_free += qf;
	out("arena %s: quantum 0x%lx, source %s, qcache_max 0x%lx, reserve %u segments\n",
	    vmp->vm_name, (unsigned long)vmp->vm_quantum,
	    vmp->vm_source ? vmp->vm_source->vm_name : "-", (unsigned long)vmp->vm_qcache_max,
	    vmp->vm_nsegfree);
	for (size_t i = 0; i < sizeof(vmem_kstat_names) / sizeof(vmem_kstat_names[0]); i++)
		out("  %-16s %lu\n", vmem_kstat_names[i].vn_name,
		    (unsigned long)*(const uint64_t *)((const char *)&vk +
						       vmem_kstat_names[i].vn_off));
	out("  free lists (size class: segments):");
	for (unsigned i = 0; i < VMEM_FREELISTS; i++)
		if (vk.vk_freelist[i] != 0)
			out(" 2^%u:%lu", i, (unsigned long)vk.vk_freelist[i]);
	out("\n");
	if (segs)
		vmem_dump_segs(vmp, out);
	vmem_unlock(vmp, fl);
}

/* ------------------------------------------------------------ checking */

/* Accumulated facts from the address-list walk. */
struct vmem_walkstate {
	const struct vmem_seg *cw_span;	/* span being tiled, or NULL */
	uintptr_t cw_cursor;		/* where the next segment must start */
	uint64_t cw_nspan, cw_nfree, cw_nalloc;	/* counts */
	uint64_t cw_total, cw_import, cw_inuse;	/* bytes */
	bool cw_rotor_seen;		/* vm_rotor is on the list */
};

/* Check one address-list entry; returns a reason or NULL. */
static const char *vmem_check_seg(vmem_t *vmp, const struct vmem_seg *vsp,
				  struct vmem_walkstate *w)
{
	if (vsp->vs_anext->vs_aprev != vsp)
		return "address list links broken";
	if (vsp == vmp->vm_rotor)
		w->cw_rotor_seen = true;
	if (vsp->vs_end <= vsp->vs_start || ((vsp->vs_start | vsp->vs_end) & (vmp->vm_quantum - 1)))
		return "empty, inverted or unaligned segment";
	if (vsp->vs_type == VMEM_SPAN) {
		if (w->cw_span != NULL && (w->cw_cursor != w->cw_span->vs_end ||
					   w->cw_span->vs_end > vsp->vs_start))
			return "span not tiled, or spans out of order/overlapping";
		w->cw_span = vsp;
		w->cw_cursor = vsp->vs_start;
		w->cw_nspan++;
		w->cw_total += vmem_seg_size(vsp);
		w->cw_import += vsp->vs_import ? vmem_seg_size(vsp) : 0;
		return NULL;
	}
	if (w->cw_span == NULL || vsp->vs_start != w->cw_cursor || vsp->vs_end > w->cw_span->vs_end)
		return "segment does not tile its span";
	w->cw_cursor = vsp->vs_end;
	if (vsp->vs_type == VMEM_FREE) {
		if (vsp->vs_aprev->vs_type == VMEM_FREE)
			return "two adjacent free segments (not coalesced)";
		w->cw_nfree++;
	} else if (vsp->vs_type == VMEM_ALLOC) {
		if (vmem_hash_find(vmp, vsp->vs_start) != vsp)
			return "allocated segment missing from the hash table";
		w->cw_nalloc++;
		w->cw_inuse += vmem_seg_size(vsp);
	} else {
		return "bad segment type";
	}
	return NULL;
}

/* Free lists: membership, size classes, links, the bitmap.  Lock held. */
static const char *vmem_check_freelists(vmem_t *vmp, uint64_t *nfree)
{
	*nfree = 0;
	for (unsigned i = 0; i < VMEM_FREELISTS; i++) {
		const struct vmem_seg *prev = NULL;

		if (((vmp->vm_freemap >> i) & 1) != (vmp->vm_freelist[i] != NULL))
			return "free bitmap disagrees with the free lists";
		for (const struct vmem_seg *vsp = vmp->vm_freelist[i]; vsp != NULL;
		     vsp = vsp->vs_knext) {
			if (vsp->vs_type != VMEM_FREE || vsp->vs_kprev != prev ||
			    vmem_freelist_index(vmem_seg_size(vsp)) != i)
				return "free list holds a wrong segment or bad links";
			prev = vsp;
			(*nfree)++;
		}
	}
	return NULL;
}

/* Everything else: spans list, hash count, statistics, reserve.  Lock held. */
static const char *vmem_check_totals(vmem_t *vmp, const struct vmem_walkstate *w)
{
	const struct vmem_kstat *vk = &vmp->vm_kstat;
	uint64_t nfree, nhash = 0, nspan = 0, nres = 0;
	const char *why = vmem_check_freelists(vmp, &nfree);

	if (why != NULL)
		return why;
	if (w->cw_span != NULL && w->cw_cursor != w->cw_span->vs_end)
		return "last span not tiled";
	for (size_t b = 0; b <= vmp->vm_hash_mask; b++)
		for (const struct vmem_seg *vsp = vmp->vm_hash[b]; vsp; vsp = vsp->vs_knext)
			nhash++;
	for (const struct vmem_seg *sp = vmp->vm_span0.vs_knext; sp != &vmp->vm_span0;
	     sp = sp->vs_knext) {
		if (sp->vs_type != VMEM_SPAN || sp->vs_knext->vs_kprev != sp ||
		    (sp->vs_knext != &vmp->vm_span0 && sp->vs_knext->vs_start < sp->vs_end))
			return "span list broken or out of order";
		nspan++;
	}
	for (const struct vmem_seg *vsp = vmp->vm_segfree; vsp != NULL; vsp = vsp->vs_knext)
		nres++;
	if (nfree != w->cw_nfree || nhash != w->cw_nalloc || nspan != w->cw_nspan ||
	    nres != vmp->vm_nsegfree)
		return "lists disagree (free list / hash / span list / reserve counts)";
	if (vk->vk_nfree_seg != nfree || vk->vk_nalloc_seg != nhash || vk->vk_nspan != nspan ||
	    vk->vk_mem_total != w->cw_total || vk->vk_mem_import != w->cw_import ||
	    vk->vk_mem_inuse != w->cw_inuse)
		return "statistics disagree with the segments";
	if (!w->cw_rotor_seen && vmp->vm_rotor != &vmp->vm_seg0)
		return "next-fit rotor is not on the address list";
	return NULL;
}

bool vmem_check(vmem_t *vmp, char *err, size_t errlen)
{
	struct vmem_walkstate w = { 0 };
	const char *why = NULL;
	const struct vmem_seg *vsp;
	irqflags_t fl = vmem_lock(vmp);

	for (vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0 && why == NULL; vsp = vsp->vs_anext)
		why = vmem_check_seg(vmp, vsp, &w);
	if (why == NULL)
		why = vmem_check_totals(vmp, &w);
	if (why != NULL)
		snprintf(err, errlen, "vmem %s: %s (at segment [0x%lx, 0x%lx))", vmp->vm_name,
			 why, why && vsp != &vmp->vm_seg0 ? (unsigned long)vsp->vs_aprev->vs_start : 0ul,
			 vsp != &vmp->vm_seg0 ? (unsigned long)vsp->vs_aprev->vs_end : 0ul);
	vmem_unlock(vmp, fl);
	return why == NULL;
}
