/*
 * kmem.h - object caches and kmalloc (public interface).
 *
 * Bonwick, "The Slab Allocator: An Object-Caching Kernel Memory Allocator"
 * (USENIX 1994) with the magazine and depot layer of Bonwick & Adams,
 * "Magazines and Vmem" (USENIX 2001), one depot per NUMA node.  The theory
 * statement is at the top of mm/kmem.c; structures, flags and the lock order
 * are in mm/kmem_impl.h; kmalloc's size classes in mm/kmalloc.c.
 *
 *   kmem_cache_t *cp = kmem_cache_create("foo", sizeof(struct foo), 0,
 *                                        foo_ctor, foo_dtor, NULL, NULL, NULL, 0);
 *   struct foo *f = kmem_cache_alloc(cp, KM_SLEEP);    NULL on failure
 *   kmem_cache_free(cp, f);
 *   void *p = kmalloc(100, KM_SLEEP);  kfree(p);
 *
 * Constructed state: a cache keeps its free buffers constructed.  The
 * constructor runs once when a buffer enters the cache's constructed set
 * (when its slab is created, or when a magazine-less allocation finds an
 * unconstructed buffer); the destructor runs when it leaves the set (its
 * slab is freed by reaping or destroy, or a magazine holding it is
 * destroyed).  kmem_cache_free takes the buffer back in constructed state:
 * the caller must undo whatever it changed.
 *
 * Every function may be called with interrupts on or off, from any hart,
 * while holding no lock of rank KMEM_LIST or above (mm/lock_order.h).
 * KM_SLEEP never sleeps (there is no scheduler): it means "may reap caches
 * and retry once before failing" exactly like vmem's VM_SLEEP.
 */
#ifndef MM_KMEM_H
#define MM_KMEM_H

#include "mm/mm_platform.h"
#include "mm/vmem.h"

typedef struct kmem_cache kmem_cache_t;

/* ------------------------------------------------------------ allocation flags */

#define KM_SLEEP	0x0000	/* may reap and retry once, then fail (never blocks) */
#define KM_NOSLEEP	0x0001	/* fail at once when no memory is at hand */
#define KM_PANIC	0x0002	/* panic naming the cache instead of returning NULL */
#define KM_ZERO		0x0004	/* kmalloc only: zero the buffer (kzalloc) */
#define KM_DMA		0x0008	/* kmalloc only: memory inside the DMA window */
#define KM_FLAGS_VALID	(KM_NOSLEEP | KM_PANIC | KM_ZERO | KM_DMA)

/* ----------------------------------------------------------------- cache flags */

/*
 * kmem_cache_create flags.  The KMF_ debug bits may also be set for every
 * cache at once through kmem_debug (below); KMC_NODEBUG exempts a cache.
 */
#define KMC_NOMAGAZINE	0x0001	/* no per-hart magazines: every call takes the slab lock */
#define KMC_DMA		0x0002	/* slabs from PAGE_DMA pages (inside the DMA window) */
#define KMC_NODEBUG	0x0004	/* ignore the global kmem_debug flags */
#define KMC_NOTNUMA	0x0008	/* one home for every buffer: no per-node depots */

#define KMF_REDZONE	0x0100	/* a redzone after each buffer, checked on free */
#define KMF_DEADBEEF	0x0200	/* free buffers hold 0xdeadbeef, checked on reuse */
#define KMF_BADDCAFE	0x0400	/* new, unconstructed buffers are filled with 0xbaddcafe */
#define KMF_FREECHECK	0x0800	/* catch double free, wrong cache, interior pointer */
#define KMF_AUDIT	0x1000	/* per-buffer log of recent transactions */
#define KMF_LEAK	0x2000	/* remember allocation order for leak reports */
#define KMF_DEBUG_ALL	(KMF_REDZONE | KMF_DEADBEEF | KMF_BADDCAFE | KMF_FREECHECK | \
			 KMF_AUDIT | KMF_LEAK)
#define KMC_FLAGS_VALID	(KMC_NOMAGAZINE | KMC_DMA | KMC_NODEBUG | KMC_NOTNUMA | KMF_DEBUG_ALL)

/* ------------------------------------------------------------------ callbacks */

/* Construct buf (0) or fail (-1: the allocation fails, nothing is lost). */
typedef int kmem_ctor_fn(void *buf, void *private, int kmflag);
/* Undo the constructor. */
typedef void kmem_dtor_fn(void *buf, void *private);
/* Memory is short: give back what the client can (called by kmem_reap). */
typedef void kmem_reclaim_fn(void *private);

/*
 * A back end for the magazine layer (kmem_zcache_create): fill bufs[0..n-1]
 * with objects and return how many (0..n); give n objects back.  node is the
 * NUMA node the caller prefers, or -1.  Called with no kmem lock held and
 * interrupts in the caller's state.
 */
typedef unsigned kmem_import_fn(void *arg, void **bufs, unsigned n, int kmflag, int node);
typedef void kmem_release_fn(void *arg, void **bufs, unsigned n);

/* ----------------------------------------------------------------------- setup */

/*
 * Global switches, read when a cache is created (set them before kmem_init;
 * the kernel's boot options `kmem_debug=` and `kmem_nomagazine` do).
 */
extern unsigned kmem_debug;		/* KMF_ bits for every cache */
extern bool kmem_nomagazine;		/* as if every cache had KMC_NOMAGAZINE */
/*
 * kmalloc's class caches are made on first use instead of all by kmem_init
 * (libkmem: a process uses a handful of the 128).  Set before kmem_init.
 */
extern bool kmalloc_ondemand;
extern unsigned kmem_reap_interval_ms;	/* working-set period (default 15000) */
/*
 * The most rounds a magazine may hold: caches start with, and contention
 * grows them to, no bigger magazine type (0, the default: the paper's
 * sizes, up to 255).  libkmem sets 15, which measured leaner on its
 * cross-thread benchmark at the same speed (docs/malloc_race.md).
 */
extern unsigned kmem_magsize_max;

/*
 * Parse a comma-separated list of debug flag names ("redzone", "deadbeef" or
 * "poison", "baddcafe" or "uninit", "freecheck", "audit", "leak", "all",
 * "none") into KMF_ bits.  0, or -1 naming the bad word through printk.
 */
int kmem_debug_parse(const char *s, unsigned *flagsp);

/*
 * Bring the allocator up over the page allocator (page_init done): one slab
 * arena per NUMA node ("kmem_slab_N") and one for the DMA window
 * ("kmem_slab_dma"), the magazine caches and the kmalloc-SIZE caches.
 * large_arena serves kmalloc sizes above the largest class (the kernel's
 * mapped heap; NULL: such requests fail).  0, or -1 with a message.
 */
int kmem_init(vmem_t *large_arena);

/* Destroy every cache and arena kmem_init made (host tests, between cases). */
void kmem_fini(void);

/* kmem_init has succeeded (and kmem_fini not run since). */
bool kmem_initialized(void);

/* ---------------------------------------------------------------- object caches */

/*
 * Create a cache of `size`-byte objects aligned to `align` (0: 8; a power of
 * two).  ctor/dtor/reclaim may be NULL; `private` is passed to them.  Slabs
 * come from `source` (NULL: the per-node page-backed slab arenas); a cache
 * with its own source keeps every slab header outside the slab and finds
 * buffers through its hash, and has one home node.  Returns NULL when out of
 * memory; panics on invalid arguments.
 */
kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
				kmem_ctor_fn *ctor, kmem_dtor_fn *dtor, kmem_reclaim_fn *reclaim,
				void *private, vmem_t *source, unsigned cflags);

/*
 * A magazine-layer cache over any back end (FreeBSD's uma_zcache_create):
 * objects of `size` bytes come from import and go back through release.
 * vmem's quantum caches are made this way.  cflags: KMC_NOMAGAZINE only
 * (such a cache has no slab layer and one home node).
 */
kmem_cache_t *kmem_zcache_create(const char *name, size_t size, kmem_import_fn *import,
				 kmem_release_fn *release, void *arg, unsigned cflags);

/* Destroy a cache; panics naming it if buffers are still allocated. */
void kmem_cache_destroy(kmem_cache_t *cp);

/*
 * Allocate one object (constructed); NULL on failure (KM_PANIC: panic).
 * The magazine hit path checks nothing: invalid flags are caught on the
 * slow path only.
 */
static inline void *kmem_cache_alloc(kmem_cache_t *cp, int kmflag);
/* Allocate preferably (not only) from node `node`; bypasses the local magazines. */
void *kmem_cache_alloc_node(kmem_cache_t *cp, int kmflag, int node);
/*
 * Give an object back (constructed).  buf must be an object of cp: the hit
 * path does not check (a NULL or foreign pointer is caught when it reaches
 * the slab layer, or at once in a debug cache, which has no magazines).
 */
static inline void kmem_cache_free(kmem_cache_t *cp, void *buf);

const char *kmem_cache_name(const kmem_cache_t *cp);
size_t kmem_cache_bufsize(const kmem_cache_t *cp);	/* object size asked for */
kmem_cache_t *kmem_cache_find(const char *name);		/* NULL if none */
/* Call fn(cp, arg) for every cache, in creation order, with the cache list locked. */
void kmem_cache_walk(void (*fn)(kmem_cache_t *cp, void *arg), void *arg);

/* -------------------------------------------------------------------- reaping */

/*
 * Give memory back: each cache's depot magazines beyond its working set,
 * then its free slabs, then its reclaim callback.  Asks every hart to flush
 * its magazines at its next kmem_reap_local().  Never called with a lock held.
 */
void kmem_reap(void);
/*
 * The per-hart part, run by each hart for itself (the kernel's timer tick):
 * if kmem_reap asked since this hart last looked, empty its magazines into
 * the depots; every kmem_reap_interval_ms, update the depots' working sets
 * and resize magazines of contended caches.  Cheap when there is nothing to do.
 */
void kmem_reap_local(void);
/* Everything back to the slab layer and every free slab freed (all harts; quiet system). */
void kmem_drain_all(void);
/*
 * The end-of-run pair (a stress run's verification, tests): the calling
 * hart's loaded, previous and cross magazines of every cache go back to
 * the back end (their buffers to their slabs, the magazines freed);
 * kmem_purge then empties every depot and frees every free slab of every
 * cache: a reap that keeps no working set.  Run kmem_drain_this_hart on
 * every hart (cpu_call_all) first; both may run while other harts
 * allocate, but only a quiet system ends with no buffer cached anywhere.
 */
void kmem_drain_this_hart(void);
void kmem_purge(void);
/* The same for one cache. */
void kmem_cache_drain(kmem_cache_t *cp);
/*
 * Give back now, with other harts running: the calling hart's magazines of
 * cp and every magazine in cp's depots (vmem's VM_SLEEP retry uses it).
 */
void kmem_cache_reap_now(kmem_cache_t *cp);

/* ---------------------------------------------------------------------- kmalloc */

/*
 * kmalloc: size classes "kmalloc-SIZE" (internal fragmentation <= 12.5% up to
 * the largest class, KMALLOC_MAX_CLASS), and "dma-kmalloc-SIZE" for KM_DMA.
 * Larger sizes come from the large arena given to kmem_init.  kfree of a
 * pointer kmalloc did not return panics, naming it.  kfree(NULL) is a no-op;
 * kmalloc(0) returns a buffer of the smallest class.
 */
#define KMALLOC_MIN_CLASS	8
#define KMALLOC_MAX_CLASS	8192
static inline void *kmalloc(size_t size, int kmflag);	/* inline for a constant size (below) */
void *kzalloc(size_t size, int kmflag);
void *kmalloc_node(size_t size, int kmflag, int node);
void kfree(void *ptr);
size_t ksize(const void *ptr);			/* usable bytes; panics like kfree */

/* ------------------------------------------------------------------ statistics */

/*
 * How often each level of the allocators served a request on one hart,
 * since kmem_init (page and vmem counts: since page_init and boot).
 *   ls_mag    object allocations served by a loaded or previous magazine
 *             (the sum of hc_alloc over caches, destroyed ones included;
 *             an allocation served right after a depot trade or a fill
 *             counts here too)
 *   ls_depot  allocations that traded an empty magazine for a full one
 *   ls_slab   buffers the hart imported from slab layers (magazine fills,
 *             magazine misses, the internal caches)
 *   ls_pcp    order-0 page allocations served by its per-hart page caches
 *   ls_buddy  page allocations of higher orders served by the buddy lists
 *   ls_vmem   vmem allocations that took an arena lock (not served by a
 *             quantum cache's magazines)
 * The hit paths add nothing for it: ls_mag is hc_alloc, ls_pcp follows by
 * conservation (mm/pcp.c §6).  Exact when the hart is quiet.
 */
struct mm_levelstat {
	uint64_t ls_mag, ls_depot, ls_slab, ls_pcp, ls_buddy, ls_vmem;
};
void mm_levelstat_cpu(unsigned cpu, struct mm_levelstat *out);

/*
 * Per-cache counters, one table of names (kmem_stat_names[]).  A snapshot is
 * the sum over harts and nodes; the "now" values are exact when the harts
 * are quiet.  The identity checked by kmem_cache_check() and the tests:
 *   KMS_BUF_TOTAL = KMS_BUF_INUSE + KMS_BUF_SLABFREE + KMS_BUF_MAG + KMS_BUF_DEPOT
 */
enum kmem_stat {
	KMS_ALLOC,		/* allocations that succeeded */
	KMS_FREE,		/* frees */
	KMS_FAIL,		/* allocations that returned NULL */
	KMS_MAG_ALLOC,		/* allocations served by a hart's magazines */
	KMS_MAG_FREE,		/* frees taken by a hart's magazines */
	KMS_SLAB_ALLOC,		/* buffers taken from slabs */
	KMS_SLAB_FREE,		/* buffers returned to slabs */
	KMS_SLAB_CREATE,	/* slabs created */
	KMS_SLAB_DESTROY,	/* slabs freed */
	KMS_DEPOT_ALLOC,	/* full magazines taken from a depot */
	KMS_DEPOT_FREE,		/* full magazines given to a depot */
	KMS_DEPOT_CONTENTION,	/* depot lock trylock failures */
	KMS_MAG_RESIZE,		/* magazine size increases */
	KMS_CROSS_FREE,		/* buffers freed on a hart of another node */
	KMS_REAP,		/* reaps of this cache */
	KMS_CTOR_FAIL,		/* constructor failures */
	KMS_BUF_INUSE,		/* now: buffers allocated to clients */
	KMS_BUF_TOTAL,		/* now: buffers in all slabs (zcache: held) */
	KMS_BUF_SLABFREE,	/* now: free buffers in slabs */
	KMS_BUF_MAG,		/* now: buffers in per-hart magazines */
	KMS_BUF_DEPOT,		/* now: buffers in full depot magazines */
	KMS_SLABS,		/* now: slabs */
	KMS_MEM_TOTAL,		/* now: bytes of slab memory and outside headers (zcache: objects) */
	KMS_MAGSIZE,		/* now: rounds per magazine, the largest node's (0: none) */
	KMS_NSTATS
};
extern const char *const kmem_stat_names[KMS_NSTATS];
void kmem_cache_stats(kmem_cache_t *cp, uint64_t st[KMS_NSTATS]);

/* Rounds in hart `cpu`'s loaded and previous magazines (-1: none). */
void kmem_cache_cpu_rounds(kmem_cache_t *cp, unsigned cpu, int *loaded, int *prev);
/* Full and empty magazines in node `node`'s depot. */
void kmem_cache_depot_count(kmem_cache_t *cp, int node, uint64_t *full, uint64_t *empty);

/* Check every invariant of a cache (quiet system).  0, or -1 and why. */
int kmem_cache_check(kmem_cache_t *cp, char *why, size_t whylen);

/*
 * Text dumps through a printk-like `out`:
 *   kmem_kmastat   illumos ::kmastat (cache, buf size, buf in use, buf total,
 *                  memory in use, allocs succeeded, allocs failed), then the
 *                  vmem arenas (vmem_dump_all)
 *   kmem_magstat   per cache: magazine size, rounds per hart, depot
 *                  full/empty per node, contention, resizes, cross-node frees,
 *                  reaps
 *   kmem_slabinfo  Linux /proc/slabinfo, "slabinfo - version: 2.1"
 */
void kmem_kmastat(int (*out)(const char *fmt, ...));
void kmem_magstat(int (*out)(const char *fmt, ...));
/* kmem_magstat for one cache (its text grows with the harts: ~one line each). */
void kmem_cache_magstat(kmem_cache_t *cp, int (*out)(const char *fmt, ...));
void kmem_slabinfo(int (*out)(const char *fmt, ...));

/* ---------------------------------------------------------------- debugging */

/*
 * Leak reports (caches with KMF_LEAK): kmem_leak_mark() returns a mark;
 * kmem_leak_report() prints every buffer allocated after it and still
 * allocated (cache, address, and its audit record when KMF_AUDIT is on) and
 * returns how many.  cp NULL: every cache.
 */
uint64_t kmem_leak_mark(void);
unsigned kmem_leak_report(kmem_cache_t *cp, uint64_t mark, int (*out)(const char *fmt, ...));

/* ---- the fast paths are inline; what they touch is declared below ---- */

/*
 * A hart's magazines for one cache: touched only by that hart with
 * interrupts off, one cache line.  The loaded magazine is described by three
 * pointers into its round array: hc_base (its first round), hc_top (one past
 * the last object it holds) and hc_limit (one past its capacity).  Without
 * a loaded magazine all three are NULL (always so in a cache without
 * magazines: its flag, the global switch, or a debug cache), and both fast
 * paths fall to the slow functions with no extra test: allocation misses
 * when hc_top == hc_base, free when hc_top == hc_limit.
 * Only allocations are counted on the hit path; frees follow from
 * conservation (kmem.c §7): frees = rounds held - imported + exported + allocs.
 */
struct kmem_magazine;
struct kmem_cpu_cache {
	void **hc_top;			/* next free slot of the loaded magazine */
	void **hc_base;			/* its first round (NULL: none loaded) */
	void **hc_limit;		/* one past its last round */
	uint64_t hc_alloc;		/* allocations served from magazines */
	struct kmem_magazine *hc_prev;	/* the previous magazine, or NULL */
	int hc_prounds;			/* objects in hc_prev (-1 when none) */
	int hc_node;			/* this hart's NUMA node */
	struct kmem_magazine *hc_cross;	/* buffers of other nodes, going home */
	int hc_crounds;			/* objects in hc_cross (any other nodes) */
	bool hc_numa;			/* frees must check the buffer's home node */
} MM_CACHE_ALIGNED;

struct kmem_magazine {
	struct kmem_magazine *mag_next;	/* depot list link */
	void *mag_round[];		/* the objects (capacity: its magazine type's) */
};

/*
 * The per-hart array is the first member of struct kmem_cache
 * (kmem_impl.h asserts it), so a hart finds its line with one add.
 */
static inline struct kmem_cpu_cache *kmem_cpu(kmem_cache_t *cp)
{
	return (struct kmem_cpu_cache *)(void *)cp + cpu_id();
}

/*
 * The hart's line, for the hit paths: hit is cpu_hit_enter's value (cpu_id()
 * times MM_CPU_HIT_UNIT, never negative here).
 */
static inline struct kmem_cpu_cache *kmem_cpu_of(kmem_cache_t *cp, int hit)
{
	_Static_assert(sizeof(struct kmem_cpu_cache) % MM_CPU_HIT_UNIT == 0,
		       "a hit unit divides a hart's line");
	return (struct kmem_cpu_cache *)(void *)((char *)cp + (ptrdiff_t)hit *
		(ptrdiff_t)(sizeof(struct kmem_cpu_cache) / MM_CPU_HIT_UNIT));
}

void *kmem_cache_alloc_slow(kmem_cache_t *cp, int kmflag);
void kmem_cache_free_slow(kmem_cache_t *cp, void *buf);
int kmem_buf_node(const void *buf);	/* home node of a slab buffer, -1: none */

/*
 * The NUMA node of memory per 128 MiB section, for the free fast path: a
 * byte per section from knm_base (the lowest managed address, rounded down
 * to a section), built by kmem_init from the page allocator's zones.
 * KMEM_NUMA_MIXED marks a section that several nodes' zones touch, or none,
 * and every address outside the table.  A slab's home node is the node of
 * its first page (kmem_slab.c), so when a buffer's section has one node that
 * node is its home; a mixed section sends the free to the slow path, which
 * asks the slab itself (kmem_buf_node).  4096 sections cover 512 GiB; memory
 * beyond works, through the slow path.
 */
#define KMEM_NUMA_SHIFT		27
#define KMEM_NUMA_SECTS		4096
#define KMEM_NUMA_MIXED		0xff
struct kmem_numa_map {
	uintptr_t knm_base;			/* address of section 0 */
	uint8_t knm_node[KMEM_NUMA_SECTS];	/* node, or KMEM_NUMA_MIXED */
};
extern struct kmem_numa_map kmem_numa_map;

/* The node of buf's section, or KMEM_NUMA_MIXED (ask kmem_buf_node). */
static inline unsigned kmem_numa_node(const void *buf)
{
	uintptr_t s = ((uintptr_t)virt_to_phys(buf) - kmem_numa_map.knm_base) >> KMEM_NUMA_SHIFT;

	return s < KMEM_NUMA_SECTS ? kmem_numa_map.knm_node[s] : KMEM_NUMA_MIXED;
}

/* Pop a round from ccp's loaded magazine; NULL when it is empty. */
static inline void *kmem_cc_pop(struct kmem_cpu_cache *ccp)
{
	void **top = ccp->hc_top;
	void *buf;

	if (__builtin_expect(top == ccp->hc_base, 0))
		return NULL;
	buf = *--top;
	ccp->hc_top = top;
	ccp->hc_alloc++;
	if (buf == NULL)		/* never: rounds are buffers; lets callers test once */
		__builtin_unreachable();
	return buf;
}

/*
 * Push buf (of node home; KMEM_NUMA_MIXED: ask the section map) on ccp's
 * loaded magazine if there is room and it is of this hart's node.
 */
static inline bool kmem_cc_push(struct kmem_cpu_cache *ccp, void *buf, unsigned home)
{
	void **top = ccp->hc_top;

	if (__builtin_expect(top == ccp->hc_limit ||
			     (MM_MAX_NODES > 1 && ccp->hc_numa &&
			      (home == KMEM_NUMA_MIXED ? kmem_numa_node(buf) : home) !=
			      (unsigned)ccp->hc_node), 0))
		return false;
	*top = buf;
	ccp->hc_top = top + 1;
	return true;
}

static inline void *kmem_cache_alloc(kmem_cache_t *cp, int kmflag)
{
	irqflags_t f;
	int cpu = cpu_hit_enter(&f);
	void *buf;

	if (__builtin_expect(cpu >= 0, 1)) {
		buf = kmem_cc_pop(kmem_cpu_of(cp, cpu));
		cpu_hit_exit(f);
		if (__builtin_expect(buf != NULL, 1))
			return buf;
	}
	return kmem_cache_alloc_slow(cp, kmflag);
}

/*
 * The magazine hit alone (libkmem's malloc): a buffer from the calling
 * hart's loaded magazine, or NULL when it is empty or the hart cannot run
 * a hit path now (cpu_hit_enter); the caller then takes its slow path.
 */
static inline void *kmem_cache_alloc_hit(kmem_cache_t *cp)
{
	irqflags_t f;
	int cpu = cpu_hit_enter(&f);
	void *buf;

	if (__builtin_expect(cpu < 0, 0))
		return NULL;
	buf = kmem_cc_pop(kmem_cpu_of(cp, cpu));
	cpu_hit_exit(f);
	return buf;
}

/*
 * kmem_cache_free with the buffer's home node already known (kfree has its
 * slab; KMEM_NUMA_MIXED: ask the section map): the hit path pushes it on
 * the loaded magazine when it is of this hart's node.
 */
static inline void kmem_cache_free_home(kmem_cache_t *cp, void *buf, unsigned home)
{
	irqflags_t f;
	int cpu = cpu_hit_enter(&f);

	if (__builtin_expect(cpu >= 0, 1)) {
		if (__builtin_expect(kmem_cc_push(kmem_cpu_of(cp, cpu), buf,
						  home), 1)) {
			cpu_hit_exit(f);
			return;
		}
		cpu_hit_exit(f);
	}
	kmem_cache_free_slow(cp, buf);
}

/* The free hit alone (libkmem's free): false when the caller must take kmem_cache_free_slow. */
static inline bool kmem_cache_free_hit(kmem_cache_t *cp, void *buf, unsigned home)
{
	irqflags_t f;
	int cpu = cpu_hit_enter(&f);
	bool hit;

	if (__builtin_expect(cpu < 0, 0))
		return false;
	hit = kmem_cc_push(kmem_cpu_of(cp, cpu), buf, home);
	cpu_hit_exit(f);
	return hit;
}

static inline void kmem_cache_free(kmem_cache_t *cp, void *buf)
{
	kmem_cache_free_home(cp, buf, KMEM_NUMA_MIXED);
}

/*
 * kmalloc of a size and flags known at compile time goes straight to its
 * class's cache (as Linux's kmalloc does): the class index below folds to
 * a constant.  Every other call is kmalloc_var (kmalloc.c), whose table
 * lookup kmalloc_init checks against this formula for every size.
 */
#define KMALLOC_NCLASSES	64	/* 8 below 64 bytes, 8 per doubling to 8192 */
extern kmem_cache_t *kmalloc_caches[2][KMALLOC_NCLASSES];	/* [KM_DMA][class] */
void *kmalloc_var(size_t size, int kmflag);

/* Class index of a request of 1..KMALLOC_MAX_CLASS bytes, by formula (kmalloc.c §1). */
static inline unsigned kmalloc_index_formula(size_t size)
{
	unsigned k;

	if (size <= 64)
		return size <= 8 ? 0 : (unsigned)((size - 1) >> 3);
	/* size in (2^k, 2^(k+1)]; gcc folds clz of a constant (mm_highbit's loop it may not) */
	k = __builtin_constant_p(size) ? 63u - (unsigned)__builtin_clzll(size - 1) :
	    mm_highbit(size - 1);
	return 8 + (k - 6) * 8 + (unsigned)((size - 1 - ((size_t)1 << k)) >> (k - 3));
}

static inline void *kmalloc(size_t size, int kmflag)
{
	kmem_cache_t *cp;

	if (__builtin_constant_p(size) && __builtin_constant_p(kmflag) && size >= 1 &&
	    size <= KMALLOC_MAX_CLASS && (kmflag & ~(KM_NOSLEEP | KM_PANIC)) == 0 &&
	    __builtin_expect((cp = kmalloc_caches[0][kmalloc_index_formula(size)]) != NULL, 1))
		return kmem_cache_alloc(cp, kmflag);
	return kmalloc_var(size, kmflag);
}

#endif /* MM_KMEM_H */
