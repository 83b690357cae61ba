/*
 * page.h - the physical page allocator (public interface).
 *
 * Memory is split into NUMA nodes and, per node, into zones (DMA, DMA32,
 * NORMAL); each zone keeps buddy free lists for blocks of 2^0..2^10 pages and
 * every hart keeps a small cache of single pages per zone in front of them.
 * The theory statement is in mm/buddy.c (buddy), mm/zone_layout.c (where
 * the zones are), mm/zone.c (nodes, zones, watermarks, fallback), mm/pcp.c (per-hart caches) and mm/page_init.c
 * (descriptors and boot).
 *
 *   paddr_t pa = page_alloc(order, flags);    PAGE_NOADDR on failure
 *   int err    = page_free(pa, order);        0, or a PAGE_E* code (misuse)
 *
 * PAGE_NOADDR is all ones, which is never page aligned, so it cannot be
 * mistaken for memory (address 0 can be valid RAM on some boards).
 * Flags choose where the memory may come from:
 *
 *   zone     PAGE_ANY (default)  any zone, highest first (NORMAL, DMA32, DMA)
 *            PAGE_DMA32          below 4 GiB: DMA32, then DMA
 *            PAGE_DMA            inside the DMA window: the DMA zones if the
 *                                platform has any, else DMA32; never above
 *                                dma_limit
 *   node     PAGE_NODE(n)        prefer node n (default: the calling hart's)
 *            PAGE_THISNODE       only the preferred node, no fallback
 *   urgency  PAGE_URGENT         may dip into the reserve below the min
 *                                watermark; never waits (no cross-hart drain)
 *   content  PAGE_ZERO           zero the block before returning it
 *
 * Fallback: the preferred node's allowed zones from highest to lowest, then
 * the other nodes' in order of NUMA distance.
 */
#ifndef MM_PAGE_H
#define MM_PAGE_H

#include "mm/mm_platform.h"
#include "mm/fail.h"

#define PAGE_MAX_ORDER		10			/* 2^10 pages = 4 MiB blocks */
#define PAGE_NR_ORDERS		(PAGE_MAX_ORDER + 1)
#define PAGE_NOADDR		((paddr_t)-1)		/* allocation failed */

/* Allocation flags. */
#define PAGE_ANY		0x0u	/* any zone */
#define PAGE_DMA32		0x1u	/* below 4 GiB */
#define PAGE_DMA		0x2u	/* inside the DMA window */
#define PAGE_ZONE_MASK		0x3u
#define PAGE_THISNODE		0x4u	/* no fallback to other nodes */
#define PAGE_URGENT		0x8u	/* may use the reserve below min */
#define PAGE_ZERO		0x10u	/* zero the memory */
#define PAGE_NODE_SHIFT		16
#define PAGE_NODE_MASK		(0xffu << PAGE_NODE_SHIFT)
#define PAGE_NODE(n)		((((unsigned)(n)) + 1u) << PAGE_NODE_SHIFT)
#define PAGE_FLAGS_VALID	(PAGE_ZONE_MASK | PAGE_THISNODE | PAGE_URGENT | \
				 PAGE_ZERO | PAGE_NODE_MASK)

/* page_free results: 0 or one of these (the misuse is also printed and counted). */
#define PAGE_EALIGN		(-1)	/* address not aligned to the block size */
#define PAGE_ENOTALLOC		(-2)	/* not the first page of an allocated block */
#define PAGE_EDOUBLE		(-3)	/* the block is already free */
#define PAGE_EORDER		(-4)	/* allocated with another order */

/* Zone types, lowest addresses first: the only zone-type enum of the system. */
enum page_zone_type { PAGE_ZONE_DMA, PAGE_ZONE_DMA32, PAGE_ZONE_NORMAL, PAGE_NR_ZONE_TYPES };

/*
 * The machine's memory as the platform describes it, the input of
 * page_zones_derive() (mm/zone_layout.c), as memblock and max_zone_pfn[] are
 * the input of Linux's free_area_init(): node-tagged memory, reserved ranges
 * and the limits of the two low zones.
 */
struct page_range {
	paddr_t prg_base;		/* first byte */
	uint64_t prg_size;		/* bytes; prg_base + prg_size does not wrap */
	int prg_node;			/* NUMA node, negative counts as 0 (memory only) */
};

struct page_memmap {
	const struct page_range *pmm_mem;	/* memory sorted by base; a byte in two
						   ranges belongs to the first */
	unsigned pmm_nmem;
	const struct page_range *pmm_resv;	/* reserved ranges sorted by base */
	unsigned pmm_nresv;
	paddr_t pmm_dma_limit;			/* devices reach below this; 0 = no limit */
	paddr_t pmm_dma32_limit;		/* end of DMA32; 0 = 4 GiB */
};

/*
 * The machine as page_init sees it: zones (one row per node and type, from
 * page_zones_derive or, in host tests, written by hand), the NUMA distance
 * matrix and the DMA limit.  Usable free memory is not described here: it
 * comes from bootmem.
 */
struct page_zone_desc {
	int pzd_node;			/* NUMA node (negative counts as 0) */
	enum page_zone_type pzd_type;	/* DMA, DMA32 or NORMAL */
	paddr_t pzd_base;		/* lowest usable address of the zone */
	paddr_t pzd_end;		/* end (exclusive) of its highest usable range */
	uint64_t pzd_pages;		/* usable pages inside (0: the whole span) */
};

/*
 * The zones of a memory map: memory minus reservations, rounded inward to
 * pages, cut at the DMA limit (only when it lies below the DMA32 limit) and
 * at the DMA32 limit into DMA, DMA32 and NORMAL, one row per node and type,
 * sorted by base.  Returns the number of rows, or -1 when the input is not
 * sorted or there would be more than `max` rows.
 */
int page_zones_derive(const struct page_memmap *mm, struct page_zone_desc *zd, unsigned max);

/* The end (exclusive) of the addresses a zone of type t may hold. */
paddr_t page_zone_ceiling(enum page_zone_type t, paddr_t dma_limit, paddr_t dma32_limit);

struct page_layout {
	unsigned lay_nzones;			/* rows in lay_zones */
	const struct page_zone_desc *lay_zones;	/* any order */
	unsigned lay_nnodes;			/* nodes 0..n-1 (0: from the zones) */
	const uint8_t *lay_dist;			/* distance matrix, NULL: 10 local, 20 remote */
	unsigned lay_dist_stride;		/* bytes between rows of lay_dist */
	paddr_t lay_dma_limit;			/* no DMA above this; 0 = no limit */
	paddr_t lay_dma32_limit;			/* end of DMA32 (0 = 4 GiB; tests move it) */
	uint64_t lay_defer;			/* bytes of free memory per zone that
						   page_init gives to the buddy lists (in
						   PAGE_GROW_BYTES steps); the rest waits
						   until the zone needs it (page_init.c §2);
						   0: all of it at once */
};

/*
 * Build nodes and zones, take every free range from bootmem (which closes
 * it) and initialise the page descriptors, each node's by harts of that node
 * in parallel (cpu_call_all: every hart must be online and idle-callable);
 * with lay_defer, only each zone's first lay_defer bytes, the rest as the
 * zone needs them (mm/page_init.c §2).
 * Returns 0, or -1 with a message when the layout is unusable.
 */
int page_init(const struct page_layout *pl);

/* Forget everything (host tests, between cases). */
void page_fini(void);

/* Flush every hart's page cache to the buddy lists (all harts, cpu_call_all). */
void page_drain_all(void);

/*
 * Memory pressure: fn (kmem_reap, set by kmem_init; NULL: none) is called
 * once before the page allocator fails a request that may wait (not
 * PAGE_URGENT, interrupts enabled: the same requests that may drain every
 * hart's cache, so the caller holds no lock), after the drain, and the
 * request is retried once.
 */
void page_reclaim_hook_set(void (*fn)(void));
/*
 * Give the calling hart's page caches back to the buddy lists (interrupts
 * may be on or off).  The kernel runs it on every hart with cpu_call_all
 * before it counts free pages (page_drain_all does exactly that).
 */
void page_pcp_drain_this_hart(void);

/*
 * Per-hart level counts since boot (mm_levelstat_cpu in kmem.h sums them
 * with kmem's and vmem's): order-0 allocations served by hart cpu's page
 * caches (by conservation, pcp.c §6), and higher orders served by the buddy
 * lists under a zone lock.  Exact when that hart is quiet.
 */
void page_levelstat_cpu(unsigned cpu, uint64_t *pcp, uint64_t *buddy);

/* Totals, in pages: free (buddy lists and deferred sections), and held in per-hart caches. */
uint64_t page_free_count(void);
uint64_t page_cached_count(void);

/* Linux /proc/buddyinfo and /proc/zoneinfo text, through `out`. */
void page_buddyinfo(int (*out)(const char *fmt, ...));
void page_zoneinfo(int (*out)(const char *fmt, ...));

/* Allocator-wide misuse and failure counters. */
struct page_stats {
	uint64_t pst_alloc_fail;		/* page_alloc returned PAGE_NOADDR */
	uint64_t pst_bad_order;		/* page_alloc with order > PAGE_MAX_ORDER */
	uint64_t pst_misaligned;		/* page_free: PAGE_EALIGN */
	uint64_t pst_not_alloc;		/* page_free: PAGE_ENOTALLOC */
	uint64_t pst_double_free;	/* page_free: PAGE_EDOUBLE */
	uint64_t pst_wrong_order;	/* page_free: PAGE_EORDER */
	uint64_t pst_drain_all;		/* cross-hart drains */
	uint64_t pst_reclaim;		/* reclaim hook calls before failing */
};
void page_get_stats(struct page_stats *st);

/* One zone, for the console, tests and tools (index 0..page_zone_count()-1). */
struct page_zone_info {
	int pzi_node;				/* NUMA node */
	enum page_zone_type pzi_type;		/* DMA, DMA32, NORMAL */
	paddr_t pzi_base, pzi_end;		/* span */
	uint64_t pzi_spanned;			/* pages in the span */
	uint64_t pzi_present;			/* usable pages (platform map) */
	uint64_t pzi_managed;			/* pages given to the buddy at boot */
	uint64_t pzi_free;			/* free pages now: on the buddy lists
						   plus pzi_deferred */
	uint64_t pzi_deferred;			/* free pages whose descriptors are
						   not written yet (page_init.c §2) */
	uint64_t pzi_cached;			/* pages in per-hart caches now */
	uint64_t pzi_nr_free[PAGE_NR_ORDERS];	/* free blocks per order */
	uint64_t pzi_min, pzi_low, pzi_high;	/* watermarks */
	uint64_t pzi_lowmem[3];			/* protection against PAGE_ANY, _DMA32, _DMA */
	unsigned pzi_batch, pzi_pcp_high;	/* per-hart cache sizing */
};
unsigned page_zone_count(void);
int page_zone_info(unsigned zi, struct page_zone_info *info);
const char *page_zone_name(enum page_zone_type t);	/* "DMA", "DMA32", "Normal" */

/* The node and zone type of the memory at pa; -1 if it is not managed. */
int page_node_of(paddr_t pa);
int page_zone_type_of(paddr_t pa);

/*
 * Page descriptors.  One per 4 KiB page of every section of memory, placed
 * on the node of the memory it describes (or, with a flat map, in the
 * environment's one array, written lazily).  Only the allocator writes them,
 * except pg_owner: the layer that holds an allocated block may keep a
 * pointer-sized word there in every page of the block (kmem: the slab the
 * page belongs to, so a buffer finds its slab in O(1)).  pg_owner shares its
 * storage with pg_prev, which only the buddy lists use, i.e. only while the
 * page is free: the descriptor stays 32 bytes, and the word is meaningless
 * once the block is freed (the allocator overwrites it).
 */
struct page {
	struct page *pg_next;		/* free list / cache link (free blocks only) */
	union {
		struct page *pg_prev;	/* free list back link (buddy lists only) */
		uintptr_t pg_owner;	/* allocated: free for the layer holding it */
	};
	paddr_t pg_pa;			/* physical address (constant) */
	uint8_t pg_state;		/* PG_* in page_impl.h */
	uint8_t pg_order;		/* order of the block this page heads */
	uint8_t pg_zone;		/* index of its zone, PAGE_NO_ZONE if unmanaged */
	uint8_t pg_spare;		/* unused: keeps the descriptor at 32 bytes */
	uint32_t pg_pad;		/* unused: keeps the descriptor at 32 bytes */
};
_Static_assert(sizeof(struct page) == 32, "PAGE_GROW_BYTES counts 32-byte descriptors");

/* Descriptor of the page containing pa, or NULL outside described memory
 * (holes, sections whose descriptors are still deferred, and with a flat
 * map any descriptor not written yet: page_init.c §2). */
struct page *page_lookup(paddr_t pa);

/*
 * Check every invariant of every zone and cache (host tests and ktest, with
 * the other harts quiet).  0, or -1 with the first problem in why.
 */
int page_check(char *why, size_t whylen);

/* ---- the fast paths are inline; what they touch is declared below ---- */

paddr_t page_alloc_slow(unsigned order, unsigned flags);
int page_free_slow(paddr_t pa, unsigned order);
void page_pcp_overflow(unsigned zi);

#define PG_ALLOCATED	3		/* see page_impl.h: head of an allocated block */
#define PG_CACHED	4		/* see page_impl.h: free in a per-hart cache */

/*
 * A hart's cache of free pages of one zone: touched only by its hart, irqs
 * off.  The list length is kept as the room left below the high mark, so the
 * free path's overflow test is a sign test (pcp_count() gives the length).
 * Pages handed out are not counted on the fast path; they follow from
 * conservation: allocs = frees + refilled - drained - count.
 */
struct page_pcp {
	struct page *pc_head;		/* LIFO list through pg_next */
	long pc_room;			/* pc_high - pages on the list: drain below 0 */
	unsigned long pc_high;		/* drain pc_batch pages above this many */
	unsigned pc_batch;		/* pages moved per refill or drain */
	unsigned pc_zone;		/* zone index (constant) */
	uint64_t pc_frees;		/* statistics: pages taken back */
	uint64_t pc_refilled;		/* pages brought in from the buddy */
	uint64_t pc_drained;		/* pages given back to the buddy */
} MM_CACHE_ALIGNED;

/* Pages on a cache's list. */
static inline unsigned long pcp_count(const struct page_pcp *pc)
{
	return pc->pc_high - (unsigned long)__atomic_load_n(&pc->pc_room, __ATOMIC_RELAXED);
}

/*
 * Per-hart state: the caches of every zone, plus one always-empty slot that
 * pgh_first points at when a class has no zone, and for the invalid class 3
 * (so the fast path needs no test: the slow path sorts it out).
 */
struct page_hart {
	struct page_pcp *pgh_first[4];	/* cache of the first zone of the local
					   zonelist, per PAGE_ZONE_MASK value */
	unsigned pgh_cpu;		/* dense hart id */
	int pgh_node;			/* its NUMA node */
	uint64_t pgh_buddy;		/* statistics: blocks of order > 0 it took
					   from the buddy lists (zone.c) */
	struct page_pcp pgh_pcp[];	/* [nzones + 1]; the last is never filled */
} MM_CACHE_ALIGNED;

/*
 * Where descriptors live.  Two ways, chosen by the environment:
 *
 * Sections (the default).  One map per *section* of 2^PAGE_SECT_SHIFT
 * bytes (the environment's MM_PAGE_SECT_SHIFT; 128 MiB when it sets none).
 * pgm_sect[s] holds the map's address minus (first pfn of the section) *
 * sizeof(struct page), so adding pfn * sizeof(struct page) gives the
 * descriptor; 0 marks a hole, or a section whose descriptors are deferred
 * and not written yet (page_init.c §2): page_lookup says NULL for both.
 * A section holds at least one block of the largest order, so no block
 * crosses two maps.
 *
 * A flat map (MM_PAGE_FLAT, like Linux's vmemmap).  The environment gives
 * one virtually contiguous, zero-filled array of descriptors for all of
 * [pgm_base, pgm_base + pgm_span) (mm_flat_map, mm/mm_platform.h) whose
 * pages cost nothing until written; pgm_flat is its address, so a lookup is
 * a subtraction, one bound test, a shift and an add.  Descriptors are
 * written lazily (page_init.c §2): one never written reads all zero, i.e.
 * PG_RESERVED with pg_owner 0, "not allocated, not a slab", so the inline
 * hit paths below may read it without knowing; page_lookup returns NULL
 * for it (its pg_pa is not its page's address).  Sections still exist, as
 * the unit of deferral and of boot-time work, but not for lookups.
 */
#ifdef MM_PAGE_SECT_SHIFT
#define PAGE_SECT_SHIFT		MM_PAGE_SECT_SHIFT
#else
#define PAGE_SECT_SHIFT		27
#endif
#ifdef MM_PAGE_FLAT
#define PAGE_FLAT		1
#else
#define PAGE_FLAT		0
#endif
#define PAGE_SECT_PAGES		(1ull << (PAGE_SECT_SHIFT - MM_PAGE_SHIFT))
_Static_assert(PAGE_SECT_SHIFT >= MM_PAGE_SHIFT + PAGE_MAX_ORDER && PAGE_SECT_SHIFT < 48,
	       "a section must hold a block of PAGE_MAX_ORDER");
struct page_mem {
	paddr_t pgm_base;		/* first section's address (section aligned) */
	uint64_t pgm_nsect;		/* sections from pgm_base */
	uintptr_t *pgm_sect;		/* biased descriptor map per section, 0: none
					   (sections only; NULL with a flat map) */
	struct page *pgm_flat;		/* flat map only: the descriptor of pgm_base */
	uint64_t pgm_span;		/* flat map only: bytes it describes from pgm_base */
	struct page_hart *pgm_hart[MM_MAX_CPUS];	/* per-hart state, on its node */
};
extern struct page_mem page_mem;

/*
 * How much of a deferred section one page_grow gives (page_init.c §2): the
 * whole section when its map is written at once; with a flat map, whose
 * descriptors are written block by block, the memory one page of
 * descriptors describes (512 KiB), so a grow touches one such page.
 * page_layout.lay_defer is best a multiple of it.
 */
#if PAGE_FLAT
#define PAGE_GROW_BYTES		((uint64_t)(MM_PAGE_SIZE / 32) << MM_PAGE_SHIFT)
#else
#define PAGE_GROW_BYTES		(1ull << PAGE_SECT_SHIFT)
#endif

/*
 * The calling hart's struct page_hart.  An environment that keeps a per-hart
 * pointer for mm (MM_CPU_PTR: one load through tp in the kernel) saves the
 * cpu_id() lookup on the fast paths.
 */
#ifdef MM_CPU_PTR
#define page_this_hart()	((struct page_hart *)MM_CPU_PTR())
#else
#define page_this_hart()	(page_mem.pgm_hart[cpu_id()])
#endif

/*
 * Does pa have a descriptor?  *pgp receives it: with a flat map, written or
 * not.  (A bool, not a NULL pointer, so that an inlined caller's one test
 * is the bound test itself.)
 */
#ifdef MM_PAGE_FLAT
static inline bool page_slot(paddr_t pa, struct page **pgp)
{
	uint64_t off = pa - page_mem.pgm_base;

	if (off >= page_mem.pgm_span)
		return false;
	*pgp = page_mem.pgm_flat + (off >> MM_PAGE_SHIFT);
	return true;
}
#else
static inline bool page_slot(paddr_t pa, struct page **pgp)
{
	uint64_t s = (pa - page_mem.pgm_base) >> PAGE_SECT_SHIFT;
	uintptr_t map;

	if (s >= page_mem.pgm_nsect || (map = page_mem.pgm_sect[s]) == 0)
		return false;
	*pgp = (struct page *)(map + (uintptr_t)(pa >> MM_PAGE_SHIFT) * sizeof(struct page));
	return true;
}
#endif

/* page_lookup inline: a flat map's never-written descriptors say NULL too. */
static inline struct page *page_lookup_inline(paddr_t pa)
{
	struct page *pg;

	if (!page_slot(pa, &pg) ||
	    (PAGE_FLAT && pg->pg_pa != (pa & ~(paddr_t)(MM_PAGE_SIZE - 1))))
		return NULL;
	return pg;
}

/*
 * Allocate 2^order pages.  Order 0 with only zone flags is served from this
 * hart's cache, unless failure injection is on (mm/fail.c §2: then every
 * request goes to the slow path, which decides).
 */
static inline paddr_t page_alloc(unsigned order, unsigned flags)
{
	struct page_pcp *pc;
	struct page *pg;
	irqflags_t f;

	if (__builtin_expect(order != 0 || (flags & ~PAGE_ZONE_MASK) != 0 ||
			     __atomic_load_n(&fail_rate, __ATOMIC_RELAXED) != 0, 0))
		return page_alloc_slow(order, flags);
	f = irq_save();
	pc = page_this_hart()->pgh_first[flags];
	pg = pc->pc_head;
	if (__builtin_expect(pg == NULL, 0)) {
		/* Empty: refill (or fall back, or fail) out of line. */
		irq_restore(f);
		return page_alloc_slow(order, flags);
	}
	pc->pc_head = pg->pg_next;
	pc->pc_room++;
	pg->pg_state = PG_ALLOCATED;
	irq_restore(f);
	return pg->pg_pa;
}

/* Free 2^order pages at pa.  A valid order-0 free goes to this hart's cache. */
static inline int page_free(paddr_t pa, unsigned order)
{
	struct page_pcp *pc;
	struct page *pg;
	irqflags_t f;

	/* One test for a hole, a bad order or alignment; a flat map's unwritten
	 * descriptor is PG_RESERVED, so the state test sends it to the slow path. */
	if (__builtin_expect(order != 0 || !page_slot(pa, &pg) || (pa & (MM_PAGE_SIZE - 1)) != 0, 0))
		return page_free_slow(pa, order);
	if (__builtin_expect(pg->pg_state != PG_ALLOCATED || pg->pg_order != 0, 0))
		return page_free_slow(pa, order);
	f = irq_save();
	pc = &page_this_hart()->pgh_pcp[pg->pg_zone];
	pg->pg_state = PG_CACHED;
	pg->pg_next = pc->pc_head;
	pc->pc_head = pg;
	pc->pc_frees++;
	if (__builtin_expect(--pc->pc_room < 0, 0))
		page_pcp_overflow(pg->pg_zone);
	irq_restore(f);
	return 0;
}

#endif /* MM_PAGE_H */
