/*
 * page_impl.h - the page allocator's private structures, flags and lock order.
 *
 * Only mm/buddy.c, mm/zone.c, mm/pcp.c, mm/page_init.c and mm/page_dump.c
 * include this; everyone else uses mm/page.h.
 *
 * Locking
 * -------
 * The lock order of the whole kernel is in mm/lock_order.h.  Here:
 *   - a hart's page caches (struct page_pcp) are not a lock but "interrupts
 *     off on the owning hart"; they may take a zone lock inside;
 *   - z_lock (LOCK_RANK_ZONE) guards one zone.  Never two zone locks at once
 *     (equal ranks never nest); only printk may be taken inside it; never
 *     cpu_call_all while holding one.  It is always taken with interrupts
 *     off (zone_lock/zone_unlock below): page_drain_all's cross-call and the
 *     object caches' timer reaper take it in interrupt context, and a hart
 *     interrupted while holding it would take it again (Linux holds
 *     zone->lock with spin_lock_irqsave for the same reason).  It also
 *     guards the zone's deferred sections: page_grow writes their
 *     descriptors under it (page_init.c §3).
 * Nothing that waits for another hart (page_drain_all) runs with a zone lock
 * held.
 */
#ifndef MM_PAGE_IMPL_H
#define MM_PAGE_IMPL_H

#include "mm/mm_platform.h"
#include "mm/page.h"

/* Page states (pg_state).  Only the first page of a block carries its state. */
#define PG_RESERVED	0	/* not managed: hole, firmware, kernel, bootmem */
#define PG_TAIL		1	/* inside a block headed by a lower page */
#define PG_FREE		2	/* heads a free block on a buddy list */
/*      PG_ALLOCATED	3	   heads an allocated block (page.h) */
/*      PG_CACHED	4	   free order-0 page in a per-hart cache (page.h) */

#define PAGE_MAX_ZONES	(MM_MAX_NODES * PAGE_NR_ZONE_TYPES)

/*
 * A low zone keeps 1/PAGE_LOWMEM_RATIO of the managed pages of the higher
 * zones of its node (those a request's class allows) out of reach of that
 * request, so ordinary allocations cannot use up the DMA and DMA32 zones that
 * only they can serve.  256 is Linux's default for DMA and DMA32.
 */
#define PAGE_LOWMEM_RATIO	256
#define PAGE_NO_ZONE	0xffu	/* pg_zone of unmanaged pages; empty zonelist slot */
#define PAGE_NR_CLASSES	3	/* zonelists per node: ANY, DMA32, DMA */
#define PAGE_MAX_PIECES	(2 * 256 + 2 * PAGE_MAX_ZONES)	/* free ranges cut at zone ends */

/* Watermark levels an allocation must leave free (page_zone_mark). */
enum page_mark { PAGE_MARK_LOW, PAGE_MARK_MIN, PAGE_MARK_URGENT };

#define PAGE_BLOCK_BYTES(order)	(MM_PAGE_SIZE << (order))

/* Buddy list of free blocks of one order. */
struct page_free_area {
	struct page *fa_head;		/* first block, NULL when empty */
	uint64_t fa_count;		/* blocks on the list */
};

/* Per-zone statistics (under z_lock; names in page_dump.c). */
struct page_zone_stats {
	uint64_t zs_allocs;		/* blocks handed out by the buddy */
	uint64_t zs_frees;		/* blocks given back to the buddy */
	uint64_t zs_splits;		/* blocks split in two */
	uint64_t zs_merges;		/* buddies coalesced */
	uint64_t zs_refused;		/* requests refused by a watermark */
	uint64_t zs_urgent;		/* allocations that went below min */
	uint64_t zs_fallback;		/* served although not the first choice */
	uint64_t zs_remote;		/* served to a request preferring another node */
	uint64_t zs_refills;		/* per-hart cache refills */
	uint64_t zs_drains;		/* per-hart cache drains */
	uint64_t zs_grows;		/* deferred sections initialised (page_grow) */
};

struct page_zone {
	/* identity and sizing: constant after page_init */
	unsigned z_index;		/* index in page_state.pgs_zone */
	int z_node;			/* NUMA node */
	enum page_zone_type z_type;	/* DMA, DMA32, NORMAL */
	paddr_t z_base, z_end;		/* span */
	uint64_t z_spanned;		/* pages in the span */
	uint64_t z_present;		/* usable pages (platform map) */
	uint64_t z_managed;		/* pages given to the zone at boot (deferred ones too) */
	uint64_t z_min, z_low, z_high;	/* watermarks, pages */
	uint64_t z_lowmem[PAGE_NR_CLASSES];	/* pages kept back from requests of each
					   class that could use a higher zone of this node
					   (Linux's lowmem_reserve; 0 for the highest) */
	unsigned z_batch;		/* per-hart cache batch */
	unsigned z_pcp_high;		/* per-hart cache high-water mark */

	/* buddy layer: protected by z_lock */
	spinlock_t z_lock;		/* the zone lock (leaf) */
	uint64_t z_free;		/* pages on the free lists */
	uint64_t z_deferred;		/* free pages in deferred sections (page_init.c §2) */
	uint64_t z_dnext, z_dend;	/* deferred sections lie in [z_dnext, z_dend) */
	struct page_free_area z_area[PAGE_NR_ORDERS];	/* free lists per order */
	struct page_zone_stats z_stats;	/* statistics */
} MM_CACHE_ALIGNED;

/* A NUMA node: its zones and its fallback lists (constant after page_init). */
struct page_node {
	unsigned pn_nharts;				/* harts on this node */
	uint8_t pn_zone[PAGE_NR_ZONE_TYPES];		/* zone index per type, or PAGE_NO_ZONE */
	uint8_t pn_nzl[PAGE_NR_CLASSES];		/* lengths of the zonelists */
	uint8_t pn_zl[PAGE_NR_CLASSES][PAGE_MAX_ZONES];	/* zonelist per PAGE_DMA* class */
};

/* A free range cut to one zone, waiting for the descriptor workers. */
struct page_piece {
	paddr_t pgp_base, pgp_end;	/* page aligned */
	unsigned pgp_zone;		/* zone it belongs to */
};

/*
 * Bookkeeping of one section: set up by page_init; psc_deferred and
 * psc_next change afterwards only under the zone lock of psc_zone
 * (page_grow).
 */
struct page_sect {
	int psc_node;			/* node its descriptors live on, -1: no map */
	unsigned psc_owner;		/* hart that initialises them at boot */
	struct page *psc_map;		/* its descriptor map (unbiased), NULL: none */
	paddr_t psc_next;		/* its free pages below this are on the buddy
					   lists; the rest wait (page_init.c §2) */
	uint8_t psc_zone;		/* zone of all its free pages, or PAGE_NO_ZONE */
	bool psc_deferred;		/* some free pages wait for page_grow */
};


/* Everything the allocator knows, besides page_mem (page.h). */
struct page_state {
	bool pgs_ready;					/* page_init succeeded */
	unsigned pgs_nzones;				/* zones in use */
	struct page_zone pgs_zone[PAGE_MAX_ZONES];	/* sorted by node, then type */
	unsigned pgs_nnodes;				/* nodes 0..n-1 */
	struct page_node pgs_node[MM_MAX_NODES];		/* per node */
	uint8_t pgs_dist[MM_MAX_NODES][MM_MAX_NODES];	/* NUMA distances */
	paddr_t pgs_dma_limit;				/* 0: none */
	bool pgs_has_dma_zone;				/* some node has a DMA zone */
	struct page_stats pgs_stats;			/* misuse and failures (atomics) */

	/* written at boot; read afterwards by page_grow and page_check */
	struct page_sect *pgs_sect;			/* per-section bookkeeping */
	struct page *pgs_flat_map;			/* flat map (unbiased), NULL: sections */
	uint64_t pgs_flat_bytes;			/* its size, for mm_flat_unmap */
	uint64_t pgs_unzoned;				/* free pages outside every zone */
	uint64_t pgs_inited;				/* descriptors initialised (atomic;
							   flat map: under the zone lock) */
	unsigned pgs_npieces;				/* free ranges to initialise */
	/* Last, so that the pages of entries never used stay untouched (.bss). */
	struct page_piece pgs_piece[PAGE_MAX_PIECES];	/* sorted by base */
};
extern struct page_state page_state;

static inline struct page_zone *page_zone_of(const struct page *pg)
{
	return &page_state.pgs_zone[pg->pg_zone];
}

/* Publish hart c's page_hart through the environment's per-hart pointer, if any. */
static inline void page_set_hart_ptr(unsigned c, struct page_hart *ph)
{
#ifdef MM_CPU_PTR_SET
	MM_CPU_PTR_SET(c, ph);
#else
	(void)c;
	(void)ph;
#endif
}

/* Take zp's lock with interrupts off on this hart; returns the old state. */
static inline irqflags_t zone_lock(struct page_zone *zp)
{
	irqflags_t f = irq_save();

	spin_lock(&zp->z_lock);
	return f;
}

/* Release zp's lock and restore the interrupt state zone_lock returned. */
static inline void zone_unlock(struct page_zone *zp, irqflags_t f)
{
	spin_unlock(&zp->z_lock);
	irq_restore(f);
}

/*
 * Write descriptor pg of the page at pa: state, zone, order 0, no links, no
 * owner.  page_fill for every page of a section map, and with a flat map
 * the lazy writes of buddy.c (page_init.c §2).
 */
static inline void page_desc_init(struct page *pg, paddr_t pa, uint8_t state, uint8_t zone)
{
	pg->pg_next = NULL;
	pg->pg_owner = 0;
	pg->pg_pa = pa;
	pg->pg_state = state;
	pg->pg_order = 0;
	pg->pg_zone = zone;
	pg->pg_spare = 0;
}

/* Pages zp can still hand out from the buddy side: its lists plus its deferred sections. */
static inline uint64_t zone_free_pages(const struct page_zone *zp)
{
	return zp->z_free + zp->z_deferred;
}

static inline void page_stat_inc(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* buddy.c: the free lists of one zone; z_lock held. */
struct page *buddy_alloc(struct page_zone *zp, unsigned order);
void buddy_free(struct page_zone *zp, struct page *pg, unsigned order);
void buddy_add_range(struct page_zone *zp, struct page *first, paddr_t base, paddr_t end);
int buddy_classify(const struct page *pg, paddr_t pa, unsigned order);
int buddy_check_zone(struct page_zone *zp, char *why, size_t whylen);

/* zone.c: watermarks, zonelists, taking pages from one zone. */
void zone_setup(void);
struct page *zone_buddy_alloc(struct page_zone *zp, unsigned order);
bool zone_watermark_ok(const struct page_zone *zp, unsigned order, enum page_mark mark,
		       uint64_t extra);

/* page_init.c: deferred sections; z_lock held. */
bool page_grow(struct page_zone *zp);
int page_check_deferred(struct page_zone *zp, char *why, size_t whylen);

/* pcp.c: per-hart caches. */
void pcp_setup(void);
struct page *pcp_take(struct page_zone *zp, enum page_mark mark, unsigned cls);
void pcp_drain_zone(struct page_hart *ph, unsigned zi, unsigned n);
int pcp_check(char *why, size_t whylen);

#endif /* MM_PAGE_IMPL_H */
