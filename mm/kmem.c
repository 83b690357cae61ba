/*
 * kmem.c - object caches: the magazine and depot layer over a slab layer.
 *
 * Bonwick, "The Slab Allocator" (USENIX 1994) for the slab layer (§2-§3
 * below) and Bonwick & Adams, "Magazines and Vmem" (USENIX 2001, §3) for the
 * per-hart magazines and depots (§4), with one depot per NUMA node.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * A *cache* hands out *buffers* (objects) of one size.  It keeps them in
 * their *constructed* state: a client's constructor runs when a buffer
 * enters the cache, and its destructor when the buffer leaves, so a buffer
 * handed out and given back again costs no construction (paper 1994 §2).
 * Here a buffer enters the constructed set when its *slab* is created and
 * leaves it when the slab is freed (by reaping or destroy): buffers on a
 * slab's free list, in magazines and in depots are all constructed, so a
 * magazine destroyed by reaping hands its buffers back to their slabs still
 * constructed; the destructor runs when such a slab is freed.  (A
 * KMF_DEADBEEF debug cache constructs at each allocation instead, §8.)
 *
 * Three layers, each in front of the next:
 *   per-hart   each hart has a *loaded* and a *previous* magazine per cache
 *              (a magazine is an array of rounds = buffer pointers);
 *   depot      per cache and NUMA node, lists of full and empty magazines;
 *   back end   a bulk import/release interface.  Slab caches use the slab
 *              layer (kmem_slab.c); a *zcache* (kmem_zcache_create) uses any
 *              other source, e.g. vmem's quantum caches import objects from
 *              their arena with vmem_xalloc.  One front end, two back ends,
 *              as FreeBSD's uma_zcache_create.
 *
 * 2. The slab layer and its geometry
 * ----------------------------------
 * A slab is 2^k pages (k <= KMEM_SLAB_MAX_ORDER) from a vmem arena, or
 * quanta of the cache's own source arena.  Its buffers are chunks of
 * cache_chunksize bytes: the object rounded up to its alignment; a cache
 * with a constructor gets one more word per chunk, after the object, for the
 * free-list link, so linking a free buffer never touches its constructed
 * state.  The slab size is the smallest one whose waste (space no chunk
 * uses, header included) is at most 1/8 of the slab.  Objects of at most
 * 1/8 of the slab are *small*: the header (struct kmem_slab) sits at the end
 * of the slab and free buffers are linked through themselves.  Larger
 * objects, and every object of a cache over its own source arena, are
 * described by external headers and one *bufctl* per buffer (kmem_bufctl
 * cache); an allocated buffer's bufctl is in the node's hash, keyed by
 * address.
 *   Colouring: successive slabs start their first buffer cache_align bytes
 * further in, wrapping after the leftover (cache_maxcolour), so that
 * buffers of different slabs spread over cache lines (1994 §4.1).
 *   Lists: per node, completely free slabs, full slabs, and partial slabs in
 * KMEM_FULLNESS classes by how full they are, with a bitmap of non-empty
 * classes.  Allocation takes the fullest class first (so emptier slabs can
 * drain; the preference is exact between classes, any order within one),
 * then a free slab, then creates a slab.  A slab that becomes free stays on
 * the free list: only reaping gives it back.
 *
 * 3. Memory, nodes and finding a buffer's slab
 * --------------------------------------------
 * Slab memory comes from one vmem arena per node ("kmem_slab_N"), whose
 * import takes pages from the page allocator on that node only
 * (PAGE_THISNODE), and from "kmem_slab_dma" (PAGE_DMA) for KMC_DMA caches:
 * the illumos segkmem model.  A hart fills from its own node's slabs while
 * that node has memory, then from the other nodes'.  Every page of a slab
 * has pg_owner = slab address | 1 (mm/page.h: the word is ours while we
 * hold the page; bit 0 tells it from the NULL/pointer values the page
 * allocator leaves there; it is cleared before the pages go back), so
 * buffer -> slab, and so the buffer's home node, is O(1).  A free checks
 * that the slab belongs to the cache and that the address starts a chunk.
 * A cache with one home (KMC_DMA, KMC_NOTNUMA, its own source arena, a
 * zcache) has a single node part, node 0, and files every slab there
 * whatever node its memory is on.
 *   A cache is one allocation of whole pages of node 0's slab arena
 * (kmem_meta_alloc): its struct kmem_cache with node 0's part inside it
 * (cache_cnode0).  The parts of nodes 1.. (struct kmem_cnode, under a KiB)
 * are objects of the cache "kmem_cnode", each allocated on its node;
 * kmem_init makes that cache only on a NUMA machine.  The caches made
 * before it (marked cache_bootmeta) take those parts from pages of their
 * node's arena.  In libkmem a cache, its node part included, fits one page.
 *
 * 4. The per-hart layer and the depots
 * ------------------------------------
 * struct kmem_cpu_cache (kmem.h) is one cache line per hart and cache,
 * touched only by its hart with interrupts off: no lock and no atomic on a
 * hit.  Allocation pops the loaded magazine; when it is empty and the
 * previous one is full they swap; else the hart trades its empty previous
 * magazine for a full one from its node's depot; else it fills an empty
 * magazine from the back end in one bulk import.  Free mirrors it: push,
 * swap with an empty previous, trade a full magazine for an empty one from
 * the depot, or allocate a new empty magazine; if none can be had, the
 * buffer goes straight to the back end.  One asymmetry: when both of a
 * hart's magazines are full and the depot has two empty ones, the free
 * trades both full magazines for them at once.  A hart that only frees
 * (the consumer of a producer/consumer pair) then takes the depot lock
 * once per two magazines instead of once per magazine, and after such a
 * trade holds no full magazine that the producers could be using.  Only
 * the free side does so: were allocation to trade two empty magazines for
 * two full ones too, a hart whose allocations and frees go back and forth
 * across a magazine boundary would trade every few calls; with one side
 * single, a swap with the previous magazine absorbs that, as in the
 * paper.  The slow paths run with interrupts still off on the hart,
 * including back-end calls (slab creation and constructors): there is no
 * preemption to protect against, and the per-hart state can then never
 * change under them.
 *   NUMA: each node's depot holds only buffers of that node's memory.  A
 * free whose buffer lives on another node (hc_numa: the cache has several
 * nodes) goes into the hart's *cross* magazine instead; when that is full
 * its buffers go home to their slab layers in one batch (FreeBSD's cross
 * bucket).  With one node hc_numa is false and the free fast path does not
 * look at the buffer's node; with several it reads the node of the
 * buffer's 128 MiB section from kmem_numa_map (kmem.h, built from the
 * zones by kmem_slab.c), and a section of several nodes sends the free to
 * the slow path, which asks the slab (kmem_buf_node).  kfree passes the
 * slab's node it already has (kmem_cache_free_home).
 *   Magazines are objects of the caches "kmem_magazine_N" (one per size).
 * Each is made the first time a hart needs a magazine of its size
 * (kmem_magtype_make), so sizes that no cache uses cost nothing (libkmem
 * caps magazines at 15 rounds: the four bigger sizes are never made);
 * with several nodes kmem_init makes the cross magazines' one, which every
 * cross-node free uses.
 * Under a cap (kmem_magsize_max) every magazine of up to the cap's size
 * comes from the one cache of the biggest size allowed: a magazine of 1, 3
 * or 7 rounds then takes 128 bytes instead of 16, 32 or 64, but a process
 * pays one cache structure and one partial slab instead of up to four.
 * Making one takes kmem_magtype_lock with spin_trylock only: the hart
 * that loses a race, or that already holds kmem_list_lock (a reclaim
 * callback), or that finds no memory, goes on without a magazine, the path
 * of any failed magazine allocation, and tries again at its next slow path.
 * Recursion guard: those caches, and the other internal caches (kmem_slab,
 * kmem_bufctl), are KMC_NOMAGAZINE, so allocating or freeing a magazine or
 * a header goes straight to a slab layer and never needs a magazine.  The
 * two biggest magazines (1 and 2 KiB) are large objects, whose slabs take
 * headers and bufctls from kmem_slab and kmem_bufctl, which are small.
 *   Magazine size: each node's depot has a magazine type (kmem_magtypes[]).
 * Depot lock contention (trylock failures) counted over a working-set
 * interval above KMEM_CONTENTION_LIMIT moves the depot to the next size; the
 * depot's magazines are then destroyed and each hart drops its magazines of
 * the old size at its next slow path.  kmem_magsize_max (0: no limit) caps
 * both the starting size and the growth at the biggest type not above it;
 * libkmem sets 15.
 *
 * 5. Reaping and the working set
 * ------------------------------
 * Every kmem_reap_interval_ms each depot list's working set is updated
 * (paper §3.7): the lowest length seen during the last interval becomes the
 * reap limit, i.e. magazines nobody needed for a whole interval.
 * kmem_reap() destroys up to that many full and empty magazines per list,
 * then frees every free slab, then calls the cache's reclaim callback.  It
 * also raises a generation number: each hart, in kmem_reap_local(), empties
 * its own magazines when it sees a new generation.  KM_SLEEP allocations
 * that fail reap once and retry (vmem's VM_SLEEP semantics).  For the end
 * of a run (a stress verification), kmem_drain_this_hart flushes the
 * calling hart's magazines of every cache, and kmem_purge empties every
 * depot, frees every free slab and shrinks an idle grown bufctl hash back
 * to its first table: afterwards a cache with nothing allocated holds only
 * its own structures.  kmem_init
 * makes kmem_reap the reclaim hook of vmem (VM_SLEEP) and of the page
 * allocator (requests that may wait), so memory pressure anywhere below
 * reaches the caches once before an allocation fails.
 *
 * 6. Failure semantics
 * --------------------
 * An allocation returns NULL (KM_PANIC: panics) when no layer can give a
 * buffer.  A failed slab creation (arena empty, header or bufctl
 * allocation failed, constructor failed) undoes every step: nothing is lost
 * and the counters are unchanged but cache_fail.  Failure injection
 * (mm/fail.c) fails one kmem_slab_import in N, so every path above runs
 * for real: a failed fill destroys its empty magazine, a free that gets no
 * magazine goes to the slab, a KM_SLEEP miss reaps and retries, and each
 * NULL returned is one cache_fail.  A KM_PANIC request holds injection off
 * (fail_hold) for everything below it.  Misuse panics naming the
 * function, the cache and the buffer: freeing a pointer that no slab of the
 * cache holds, an interior pointer, a free to a fully free slab, invalid
 * flags or sizes, destroying a cache with buffers outstanding.
 *
 * 7. Statistics
 * -------------
 * Per hart: magazine hits (allocs and frees) and, beside the flows,
 * allocations and frees that missed the magazines, no atomics.  Per node:
 * depot and slab counters under their locks.  Per cache: the rarer
 * slow-path counters (failures, cross-node frees, reaps, resizes: atomics).
 * kmem_cache_stats() sums them into the table of kmem.h (enum kmem_stat, kmem_stat_names[]); buffers in use are allocations minus
 * frees, and kmem_cache_check() verifies total = in use + free in slabs +
 * in magazines + in depots.  The hit path counts allocations only (one
 * add in the hart's line); a hart's frees follow from conservation:
 * frees = rounds it holds - buffers brought in by slow paths (cf_in) +
 * buffers sent out by slow paths (cf_out) + its allocations.  Per hart,
 * struct kmem_hart counts depot trades for a full magazine and buffers
 * imported from slab layers; with the sum of hc_alloc they make the kmem
 * levels of mm_levelstat_cpu (kmem.h).  Dumps are in kmem_dump.c.
 *
 * 8. Debugging (kmem_debug.c)
 * ---------------------------
 * KMF_ flags per cache, or for every cache through kmem_debug (the
 * kernel's kmem_debug= option; kmem_debug_parse reads "redzone,audit,...",
 * "all").  A debug cache has no magazines: every allocation and free takes
 * the slow path, where one test of cache_cflags sends it to kmem_debug.c;
 * caches without flags pay nothing else.  Each buffer of a debug cache
 * carries a struct kmem_buftag after the object (and after the slack up to
 * 8 bytes, filled with 0xbb): the redzone word, the free-list link (so a
 * free buffer's contents are all pattern), tag_bxstat = address ^ state
 * (allocated or free: a double free, or a tag that is neither, is caught
 * before anything changes), the allocation sequence number and a ring of
 * the last KMEM_AUDIT_N transactions (hart, caller PC, mm_time_us()).
 *   redzone   the slack and the word after each buffer, checked on free
 *             and on reallocation;
 *   deadbeef  free buffers are filled with 0xdeadbeef and checked when
 *             allocated again; such a cache constructs at each allocation
 *             and destructs at each free (the pattern replaces the
 *             constructed state), as illumos does;
 *   baddcafe  new uninitialised buffers (no constructor) hold 0xbaddcafe;
 *   freecheck and every other flag: a free must name the start of an
 *             allocated buffer of this cache: wrong cache, interior
 *             pointer, foreign address and double free are told apart;
 *   audit     the transaction ring, printed with every report;
 *   leak      kmem_leak_mark() / kmem_leak_report(): buffers allocated
 *             after a mark and still allocated.
 * Every detection goes through kmem_error(), which prints the kind, the
 * cache, the buffer and its audit records, then panics with a message
 * naming the kind, the cache, the buffer and the last transaction.
 */
#include "mm/kmem_impl.h"

/* Contention (depot trylock failures) per working-set interval that grows magazines. */
#define KMEM_CONTENTION_LIMIT	3
/* Rounds of a hart's cross-node magazine (magazine type index). */
#define KMEM_CROSS_MAGTYPE	3

_Static_assert(__builtin_offsetof(struct kmem_cache, cache_cpu) == 0,
	       "kmem_cpu() needs the per-hart array first");
_Static_assert(sizeof(struct kmem_cpu_cache) == MM_CACHE_LINE, "one line per hart");

unsigned kmem_debug;
bool kmem_nomagazine;
unsigned kmem_reap_interval_ms = 15000;
unsigned kmem_magsize_max;

spinlock_t kmem_list_lock;
struct kmem_cache *kmem_cache_list;
static unsigned kmem_reap_gen;			/* raised by kmem_reap */
struct kmem_hart kmem_hart[MM_MAX_CPUS];	/* per-hart reaping and level counts */
static bool kmem_ready;
static bool kmem_was_up;			/* kmem_init ran before: kmem_hart may not be zero */
/* Making a magazine cache (kmem_magtype_make): spin_trylock only; rank KMALLOC_CLASS. */
static spinlock_t kmem_magtype_lock;
/* The node parts' cache (§3); NULL until kmem_internal_caches made it. */
static kmem_cache_t *kmem_cnode_cache;

/*
 * Magazine sizes: rounds, smallest buffer that starts with the type, largest
 * buffer that may grow into it.  Big buffers start with small magazines (a
 * magazine of 4 KiB objects pins much memory); small buffers may grow far.
 */
struct kmem_magtype kmem_magtypes[KMEM_NMAGTYPES] = {
	{ 1, 16384, SIZE_MAX, NULL },
	{ 3, 4096, SIZE_MAX, NULL },
	{ 7, 1024, 65536, NULL },
	{ 15, 256, 16384, NULL },
	{ 31, 64, 4096, NULL },
	{ 63, 0, 1024, NULL },
	{ 127, 0, 256, NULL },
	{ 255, 0, 64, NULL },
};

const char *kmem_cache_name(const kmem_cache_t *cp) { return cp->cache_name; }
size_t kmem_cache_bufsize(const kmem_cache_t *cp) { return cp->cache_bufsize; }

/* --------------------------------------------------------------- magazines */

/* The magazine type with `rounds` rounds. */
static const struct kmem_magtype *kmem_magtype_of(int rounds)
{
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++)
		if (kmem_magtypes[i].mt_magsize == rounds)
			return &kmem_magtypes[i];
	panic("kmem_magtype_of(%d): no such magazine size", rounds);
}

static bool kmem_magtype_top(const struct kmem_magtype *mt);

/*
 * The type whose cache holds mt's magazines: mt itself, or with
 * kmem_magsize_max set the biggest type a magazine may grow to, when mt is
 * not above it (§4: one magazine cache under a cap).
 */
static struct kmem_magtype *kmem_magtype_source(const struct kmem_magtype *mt)
{
	unsigned i = (unsigned)(mt - kmem_magtypes);

	while (kmem_magsize_max != 0 && !kmem_magtype_top(&kmem_magtypes[i]))
		i++;
	return &kmem_magtypes[i];
}

/*
 * Make the cache of mt's magazines on its first use (theory §4) and
 * publish it in mt_cache; NULL when that cannot be done now: another hart
 * is making one (kmem_magtype_lock is only tried, never waited for), this
 * hart holds kmem_list_lock (a reclaim callback of kmem_reap), or there is
 * no memory.  The caller then has no magazine, the path of any failed
 * magazine allocation, and a later slow path tries again.
 */
static __attribute__((noinline)) kmem_cache_t *kmem_magtype_make(const struct kmem_magtype *mt)
{
	struct kmem_magtype *src = kmem_magtype_source(mt);
	char name[KMEM_NAMELEN];
	kmem_cache_t *mc;

	if (spin_held(&kmem_list_lock) || !spin_trylock(&kmem_magtype_lock))
		return NULL;
	mc = src->mt_cache;
	if (mc == NULL) {
		snprintf(name, sizeof(name), "kmem_magazine_%d", src->mt_magsize);
		mc = kmem_cache_create(name, (size_t)(src->mt_magsize + 1) * sizeof(void *), 0, NULL,
				       NULL, NULL, NULL, NULL, KMC_NOMAGAZINE | KMC_NODEBUG);
		__atomic_store_n(&src->mt_cache, mc, __ATOMIC_RELEASE);
	}
	if (mc != NULL)
		__atomic_store_n(&kmem_magtypes[mt - kmem_magtypes].mt_cache, mc, __ATOMIC_RELEASE);
	spin_unlock(&kmem_magtype_lock);
	return mc;
}

kmem_cache_t *kmem_magtype_cache(unsigned i)
{
	const struct kmem_magtype *mt = &kmem_magtypes[i];
	kmem_cache_t *mc = __atomic_load_n(&mt->mt_cache, __ATOMIC_ACQUIRE);

	return mc != NULL ? mc : kmem_magtype_make(mt);
}

int kmem_magazine_caches_make(void)
{
	int err = 0;

	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++) {
		if (kmem_magtype_cache(i) == NULL)
			err = -1;
		if (kmem_magtype_top(&kmem_magtypes[i]))
			break;
	}
	return err;
}

/* An empty magazine of type mt, or NULL (its cache made first if need be). */
static struct kmem_magazine *kmem_mag_new(const struct kmem_magtype *mt)
{
	kmem_cache_t *mc = kmem_magtype_cache((unsigned)(mt - kmem_magtypes));

	return mc != NULL ? kmem_cache_alloc(mc, KM_NOSLEEP) : NULL;
}

/* Destroy a magazine of capacity cap holding n buffers: buffers to the back end. */
static void kmem_mag_destroy(kmem_cache_t *cp, struct kmem_magazine *mp, int cap, int n)
{
	if (n > 0)
		cp->cache_release(cp->cache_arg, mp->mag_round, (unsigned)n);
	kmem_cache_free(kmem_magtype_of(cap)->mt_cache, mp);
}

/* Destroy a list of magazines of capacity cap, each holding `full` ? cap : 0. */
static void kmem_mag_destroy_list(kmem_cache_t *cp, struct kmem_magazine *list, int cap, bool full)
{
	struct kmem_magazine *mp;

	while ((mp = list) != NULL) {
		list = mp->mag_next;
		kmem_mag_destroy(cp, mp, cap, full ? cap : 0);
	}
}

/* The depot of the node a hart belongs to (node 0 for one-home caches). */
static inline struct kmem_cnode *kmem_home(kmem_cache_t *cp, const struct kmem_cpu_cache *ccp)
{
	return cp->cache_node[cp->cache_nnodes > 1 ? (unsigned)ccp->hc_node : 0];
}

/* Lock a depot, counting a failed first try as contention. */
static irqflags_t kmem_depot_lock(struct kmem_cnode *cn)
{
	irqflags_t fl = irq_save();

	if (!spin_trylock(&cn->kn_depot_lock)) {
		kmem_stat_add(&cn->kn_contention, 1);
		spin_lock(&cn->kn_depot_lock);
	}
	return fl;
}

/* Pop a magazine from a depot list; updates its working-set minimum.  Lock held. */
static struct kmem_magazine *kmem_depot_pop(struct kmem_magazine **list, uint64_t *count,
					    uint64_t *min)
{
	struct kmem_magazine *mp = *list;

	if (mp == NULL)
		return NULL;
	*list = mp->mag_next;
	if (--*count < *min)
		*min = *count;
	return mp;
}

/* Push a magazine on a depot list.  Lock held. */
static void kmem_depot_push(struct kmem_magazine **list, uint64_t *count, struct kmem_magazine *mp)
{
	mp->mag_next = *list;
	*list = mp;
	++*count;
}

/* The depot's magazine size differs from cap (it was resized): lock held. */
static inline bool kmem_depot_stale(const struct kmem_cnode *cn, int cap)
{
	return cn->kn_magtype == NULL || cn->kn_magtype->mt_magsize != cap;
}

/* ---- the loaded magazine, as the three pointers of kmem.h ---- */

/* The loaded magazine, or NULL. */
static inline struct kmem_magazine *kmem_cc_loaded(const struct kmem_cpu_cache *ccp)
{
	if (ccp->hc_base == NULL)
		return NULL;
	return (struct kmem_magazine *)((uintptr_t)ccp->hc_base -
					__builtin_offsetof(struct kmem_magazine, mag_round));
}

/* Objects in the loaded magazine (0 when none). */
static inline int kmem_cc_rounds(const struct kmem_cpu_cache *ccp)
{
	return (int)(ccp->hc_top - ccp->hc_base);
}

/* Capacity of the loaded magazine (0 when none). */
static inline int kmem_cc_cap(const struct kmem_cpu_cache *ccp)
{
	return (int)(ccp->hc_limit - ccp->hc_base);
}

/* Make mp (n objects, capacity cap; NULL: none) the loaded magazine. */
static inline void kmem_cc_set(struct kmem_cpu_cache *ccp, struct kmem_magazine *mp, int n, int cap)
{
	if (mp == NULL) {
		ccp->hc_base = ccp->hc_top = ccp->hc_limit = NULL;
		return;
	}
	ccp->hc_base = mp->mag_round;
	ccp->hc_top = mp->mag_round + n;
	ccp->hc_limit = mp->mag_round + cap;
}

/* Empty the hart's magazines (and cross magazine) into the back end. */
static void kmem_cpu_flush(kmem_cache_t *cp, struct kmem_cpu_cache *ccp)
{
	struct kmem_cpu_flow *cf = &cp->cache_flow[ccp - cp->cache_cpu];
	int cap = kmem_cc_cap(ccp), n = kmem_cc_rounds(ccp);

	if (kmem_cc_loaded(ccp) != NULL)
		kmem_mag_destroy(cp, kmem_cc_loaded(ccp), cap, n);
	if (ccp->hc_prev != NULL) {
		kmem_mag_destroy(cp, ccp->hc_prev, cap, ccp->hc_prounds);
		n += ccp->hc_prounds;
	}
	if (ccp->hc_cross != NULL)
		kmem_mag_destroy(cp, ccp->hc_cross, kmem_magtypes[KMEM_CROSS_MAGTYPE].mt_magsize,
				 ccp->hc_crounds);
	cf->cf_out += (uint64_t)n + (uint64_t)ccp->hc_crounds;
	kmem_cc_set(ccp, NULL, 0, 0);
	ccp->hc_prev = ccp->hc_cross = NULL;
	ccp->hc_crounds = 0;
	ccp->hc_prounds = -1;
}

/* Swap the loaded and previous magazines (both exist, of one capacity). */
static inline void kmem_cpu_swap(struct kmem_cpu_cache *ccp)
{
	struct kmem_magazine *mp = kmem_cc_loaded(ccp);
	int r = kmem_cc_rounds(ccp), cap = kmem_cc_cap(ccp);

	kmem_cc_set(ccp, ccp->hc_prev, ccp->hc_prounds, cap);
	ccp->hc_prev = mp;
	ccp->hc_prounds = r;
}

/* Load mp (n rounds of capacity cap); the old loaded one becomes previous. */
static void kmem_cpu_load(struct kmem_cpu_cache *ccp, struct kmem_magazine *mp, int n, int cap)
{
	struct kmem_magazine *old = kmem_cc_loaded(ccp);

	ccp->hc_prev = old;
	ccp->hc_prounds = old != NULL ? kmem_cc_rounds(ccp) : -1;
	kmem_cc_set(ccp, mp, n, cap);
}

/*
 * Alloc: trade the empty previous magazine for a full one from the depot.
 * False if the depot has none; true with nothing changed if the depot was
 * resized meanwhile (the caller looks again).  Interrupts off.
 */
static bool kmem_depot_trade_full(kmem_cache_t *cp, struct kmem_cnode *cn,
				  struct kmem_cpu_cache *ccp, int cap)
{
	struct kmem_magazine *full;
	irqflags_t fl = kmem_depot_lock(cn);

	if (kmem_depot_stale(cn, cap)) {
		kmem_unlock(&cn->kn_depot_lock, fl);
		return true;
	}
	full = kmem_depot_pop(&cn->kn_full, &cn->kn_nfull, &cn->kn_full_min);
	if (full != NULL) {
		cn->kn_depot_alloc++;
		kmem_hart[cpu_id()].kh_depot++;
		if (ccp->hc_prev != NULL) {	/* prev is empty here (hc_prounds == 0) */
			kmem_depot_push(&cn->kn_empty, &cn->kn_nempty, ccp->hc_prev);
			ccp->hc_prev = NULL;
			ccp->hc_prounds = -1;
		}
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	if (full == NULL)
		return false;
	cp->cache_flow[ccp - cp->cache_cpu].cf_in += (uint64_t)cap;
	kmem_cpu_load(ccp, full, cap, cap);	/* the empty loaded one becomes previous */
	return true;
}

/* Alloc: an empty magazine, from the hart, the depot or the magazine cache. */
static struct kmem_magazine *kmem_get_empty(struct kmem_cnode *cn, struct kmem_cpu_cache *ccp,
					    const struct kmem_magtype *mt)
{
	struct kmem_magazine *mp = kmem_cc_loaded(ccp);
	irqflags_t fl;

	if (mp != NULL) {		/* empty: the previous one (empty too) moves up */
		kmem_cc_set(ccp, ccp->hc_prev, 0, kmem_cc_cap(ccp));
		ccp->hc_prev = NULL;
		ccp->hc_prounds = -1;
		return mp;
	}
	fl = kmem_depot_lock(cn);
	mp = kmem_depot_stale(cn, mt->mt_magsize) ? NULL :
	     kmem_depot_pop(&cn->kn_empty, &cn->kn_nempty, &cn->kn_empty_min);
	kmem_unlock(&cn->kn_depot_lock, fl);
	return mp != NULL ? mp : kmem_mag_new(mt);
}

/*
 * Alloc: fill an empty magazine from the back end in one bulk import and
 * load it.  False (nothing changed) if the back end has nothing.
 */
static bool kmem_mag_fill(kmem_cache_t *cp, struct kmem_cnode *cn, struct kmem_cpu_cache *ccp,
			  const struct kmem_magtype *mt, int kmflag)
{
	struct kmem_magazine *mp = kmem_get_empty(cn, ccp, mt);
	unsigned n;

	if (mp == NULL)
		return false;
	n = cp->cache_import(cp->cache_arg, mp->mag_round, (unsigned)mt->mt_magsize, kmflag,
			     ccp->hc_node);
	if (n == 0) {
		kmem_mag_destroy(cp, mp, mt->mt_magsize, 0);
		return false;
	}
	cp->cache_flow[ccp - cp->cache_cpu].cf_in += n;
	kmem_cpu_load(ccp, mp, (int)n, mt->mt_magsize);
	return true;
}

/*
 * Does this hart's depot have magazines now?  A hint read with interrupts
 * on, so that an allocation from a cache without magazines skips
 * kmem_mag_alloc's large out-of-line frame (frees keep kmem_mag_free
 * inline: a cross-node free, which always takes the slow path, would pay
 * for the call).  kmem_mag_alloc tests it again; a stale answer only sends
 * one allocation to the back end, or into a function that finds no
 * magazine.
 */
static inline bool kmem_mag_hint(kmem_cache_t *cp)
{
	return __atomic_load_n(&kmem_home(cp, kmem_cpu(cp))->kn_magtype, __ATOMIC_RELAXED) != NULL;
}

/* The magazine layer's allocation; NULL if it and the back end have nothing. */
static __attribute__((noinline)) void *kmem_mag_alloc(kmem_cache_t *cp, int kmflag)
{
	irqflags_t f = irq_save();
	struct kmem_cpu_cache *ccp = kmem_cpu(cp);
	struct kmem_cnode *cn = kmem_home(cp, ccp);
	const struct kmem_magtype *mt;
	void *buf = NULL;

	while ((mt = __atomic_load_n(&cn->kn_magtype, __ATOMIC_RELAXED)) != NULL) {
		if (ccp->hc_top != ccp->hc_base) {
			buf = *--ccp->hc_top;
			ccp->hc_alloc++;
			break;
		}
		if (ccp->hc_prounds > 0) {
			kmem_cpu_swap(ccp);
			continue;
		}
		if (ccp->hc_base != NULL && kmem_cc_cap(ccp) != mt->mt_magsize) {
			kmem_cpu_flush(cp, ccp);	/* magazines of an old size */
			continue;
		}
		if (!kmem_depot_trade_full(cp, cn, ccp, mt->mt_magsize) &&
		    !kmem_mag_fill(cp, cn, ccp, mt, kmflag))
			break;
	}
	irq_restore(f);
	return buf;
}

/* Free: send the cross magazine's buffers home in one batch. */
static void kmem_cross_flush(kmem_cache_t *cp, struct kmem_cpu_cache *ccp)
{
	cp->cache_release(cp->cache_arg, ccp->hc_cross->mag_round, (unsigned)ccp->hc_crounds);
	cp->cache_flow[ccp - cp->cache_cpu].cf_out += (uint64_t)ccp->hc_crounds;
	ccp->hc_crounds = 0;
}

/* Free of a buffer of another node: into the cross magazine (false: none to be had). */
static bool kmem_cross_free(kmem_cache_t *cp, struct kmem_cpu_cache *ccp, void *buf)
{
	const struct kmem_magtype *mt = &kmem_magtypes[KMEM_CROSS_MAGTYPE];

	if (ccp->hc_cross == NULL && (ccp->hc_cross = kmem_mag_new(mt)) == NULL)
		return false;
	kmem_stat_add(&cp->cache_cross_free, 1);
	ccp->hc_cross->mag_round[ccp->hc_crounds++] = buf;
	if (ccp->hc_crounds == mt->mt_magsize)
		kmem_cross_flush(cp, ccp);
	return true;
}

/*
 * Free, after a depot trade: load the empty magazine `empty`.  With a
 * spare (both full magazines went to the depot) the spare becomes the
 * previous one; without, the full loaded one does.  The previous one, if
 * any, is in the depot already.
 */
static void kmem_cpu_give(kmem_cache_t *cp, struct kmem_cpu_cache *ccp,
			  struct kmem_magazine *empty, struct kmem_magazine *spare, int cap)
{
	struct kmem_cpu_flow *cf = &cp->cache_flow[ccp - cp->cache_cpu];

	if (ccp->hc_prev != NULL)
		cf->cf_out += (uint64_t)cap;
	ccp->hc_prev = NULL;
	ccp->hc_prounds = -1;
	if (spare == NULL) {
		kmem_cpu_load(ccp, empty, 0, cap);
		return;
	}
	cf->cf_out += (uint64_t)cap;
	kmem_cc_set(ccp, empty, 0, cap);
	ccp->hc_prev = spare;
	ccp->hc_prounds = 0;
}

/*
 * Free: give the full loaded magazine's place to an empty one from the
 * depot; the full previous one goes to the depot.  If the depot holds a
 * second empty magazine, the full loaded one goes too and the second empty
 * one becomes the previous (theory §4: a hart that only frees trades once
 * per two magazines).  False if the depot has no empty magazine; true with
 * nothing changed if it was resized meanwhile.
 */
static bool kmem_depot_trade_empty(kmem_cache_t *cp, struct kmem_cnode *cn,
				   struct kmem_cpu_cache *ccp, int cap)
{
	struct kmem_magazine *empty, *spare = NULL;
	irqflags_t fl = kmem_depot_lock(cn);

	if (kmem_depot_stale(cn, cap)) {
		kmem_unlock(&cn->kn_depot_lock, fl);
		return true;
	}
	empty = kmem_depot_pop(&cn->kn_empty, &cn->kn_nempty, &cn->kn_empty_min);
	if (empty != NULL && ccp->hc_prev != NULL) {	/* prev is full here */
		kmem_depot_push(&cn->kn_full, &cn->kn_nfull, ccp->hc_prev);
		cn->kn_depot_free++;
		spare = kmem_depot_pop(&cn->kn_empty, &cn->kn_nempty, &cn->kn_empty_min);
		if (spare != NULL) {		/* the loaded one is full too */
			kmem_depot_push(&cn->kn_full, &cn->kn_nfull, kmem_cc_loaded(ccp));
			cn->kn_depot_free++;
		}
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	if (empty == NULL)
		return false;
	kmem_cpu_give(cp, ccp, empty, spare, cap);
	return true;
}

/* Free: put a new empty magazine in the depot; false if none can be allocated. */
static bool kmem_depot_add_empty(struct kmem_cnode *cn, const struct kmem_magtype *mt)
{
	struct kmem_magazine *mp = kmem_mag_new(mt);
	irqflags_t fl;

	if (mp == NULL)
		return false;
	fl = kmem_depot_lock(cn);
	if (cn->kn_magtype == mt) {
		kmem_depot_push(&cn->kn_empty, &cn->kn_nempty, mp);
		mp = NULL;
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	if (mp != NULL)
		kmem_cache_free(mt->mt_cache, mp);	/* resized meanwhile */
	return true;
}

/* The magazine layer's free; false if the buffer must go to the back end. */
static bool kmem_mag_free(kmem_cache_t *cp, void *buf)
{
	irqflags_t f = irq_save();
	struct kmem_cpu_cache *ccp = kmem_cpu(cp);
	struct kmem_cnode *cn = kmem_home(cp, ccp);
	const struct kmem_magtype *mt = __atomic_load_n(&cn->kn_magtype, __ATOMIC_RELAXED);
	bool done = false;
	int node;

	if (mt == NULL) {		/* no magazines: straight to the back end */
		irq_restore(f);
		return false;
	}
	/* A buffer in no slab (node -1) goes to the back end, which reports it. */
	node = ccp->hc_numa ? kmem_buf_node(buf) : ccp->hc_node;
	if (node != ccp->hc_node && node >= 0) {
		done = kmem_cross_free(cp, ccp, buf);
		irq_restore(f);
		return done;
	}
	while ((mt = __atomic_load_n(&cn->kn_magtype, __ATOMIC_RELAXED)) != NULL) {
		if (ccp->hc_top != ccp->hc_limit) {
			*ccp->hc_top++ = buf;
			done = true;
			break;
		}
		if (ccp->hc_prounds == 0) {
			kmem_cpu_swap(ccp);
			continue;
		}
		if (ccp->hc_base != NULL && kmem_cc_cap(ccp) != mt->mt_magsize) {
			kmem_cpu_flush(cp, ccp);
			continue;
		}
		if (!kmem_depot_trade_empty(cp, cn, ccp, mt->mt_magsize) &&
		    !kmem_depot_add_empty(cn, mt))
			break;
	}
	irq_restore(f);
	return done;
}

/* ---------------------------------------------------------------- slow paths */

/* Below: a debug cache's allocation (no magazines). */
static void *kmem_debug_alloc_slow(kmem_cache_t *cp, int kmflag, uintptr_t pc);

/* A magazine miss: the magazine layer's slow path, then one buffer from the back end. */
static void *kmem_alloc_miss(kmem_cache_t *cp, int kmflag)
{
	void *buf = kmem_mag_hint(cp) ? kmem_mag_alloc(cp, kmflag) : NULL;	/* counts its own hits */

	if (buf != NULL)
		return buf;
	if (kmem_debugging(cp))			/* debug caches have no magazines */
		return kmem_debug_alloc_slow(cp, kmflag, (uintptr_t)__builtin_return_address(0));
	if (cp->cache_import(cp->cache_arg, &buf, 1, kmflag, -1) == 0)
		buf = NULL;
	if (buf == NULL && !(kmflag & KM_NOSLEEP)) {
		kmem_reap();
		if (cp->cache_import(cp->cache_arg, &buf, 1, kmflag, -1) == 0)
			buf = NULL;
	}
	if (buf == NULL) {
		kmem_stat_add(&cp->cache_fail, 1);
		if (kmflag & KM_PANIC)
			panic("kmem_cache_alloc(%s, flags 0x%x): out of memory", cp->cache_name,
			      kmflag);
		return NULL;
	}
	kmem_count_slow(cp, false);
	return buf;
}

void *kmem_cache_alloc_slow(kmem_cache_t *cp, int kmflag)
{
	void *buf;

	if ((kmflag & ~(KM_NOSLEEP | KM_PANIC)) != 0)
		panic("kmem_cache_alloc(%s, flags 0x%x): invalid flags", cp->cache_name, kmflag);
	if (!(kmflag & KM_PANIC))
		return kmem_alloc_miss(cp, kmflag);
	fail_hold();		/* may not fail: no injected failure below (§6) */
	buf = kmem_alloc_miss(cp, kmflag);
	fail_release();
	return buf;
}

void kmem_cache_free_slow(kmem_cache_t *cp, void *buf)
{
	if (buf == NULL)
		panic("kmem_cache_free(%s, NULL): freeing NULL", cp->cache_name);
	if (kmem_debugging(cp))			/* checks, audit, 0xdeadbeef: before release */
		kmem_debug_free(cp, buf, (uintptr_t)__builtin_return_address(0));
	if (kmem_mag_free(cp, buf))	/* counts its own hits */
		return;
	cp->cache_release(cp->cache_arg, &buf, 1);	/* panics on misuse, before counting */
	kmem_count_slow(cp, true);
}

/*
 * One buffer straight from the back end, for a debug cache: the checks and
 * construction of kmem_debug_alloc; a constructor failure gives it back.
 */
static void *kmem_debug_alloc_slow(kmem_cache_t *cp, int kmflag, uintptr_t pc)
{
	void *buf;

	if (cp->cache_import(cp->cache_arg, &buf, 1, kmflag, -1) == 0)
		buf = NULL;
	if (buf != NULL && kmem_debug_alloc(cp, buf, kmflag, pc) != 0) {
		cp->cache_release(cp->cache_arg, &buf, 1);
		buf = NULL;
	}
	if (buf == NULL) {
		kmem_stat_add(&cp->cache_fail, 1);
		if (kmflag & KM_PANIC)
			panic("kmem_cache_alloc(%s, flags 0x%x): out of memory", cp->cache_name,
			      kmflag);
		return NULL;
	}
	kmem_count_slow(cp, false);
	return buf;
}

/* One buffer from the back end, preferably of `node` (kmem_cache_alloc_node). */
static void *kmem_alloc_node_import(kmem_cache_t *cp, int kmflag, int node)
{
	void *buf = NULL;

	if (cp->cache_import(cp->cache_arg, &buf, 1, kmflag, node) == 0) {
		buf = NULL;
	} else if (kmem_debugging(cp) &&
		   kmem_debug_alloc(cp, buf, kmflag, (uintptr_t)__builtin_return_address(0)) != 0) {
		cp->cache_release(cp->cache_arg, &buf, 1);	/* constructor failed */
		buf = NULL;
	}
	if (buf == NULL) {
		kmem_stat_add(&cp->cache_fail, 1);
		if (kmflag & KM_PANIC)
			panic("kmem_cache_alloc_node(%s, flags 0x%x, node %d): out of memory",
			      cp->cache_name, kmflag, node);
		return NULL;
	}
	kmem_count_slow(cp, false);
	return buf;
}

void *kmem_cache_alloc_node(kmem_cache_t *cp, int kmflag, int node)
{
	void *buf;

	if ((kmflag & ~(KM_NOSLEEP | KM_PANIC)) != 0)
		panic("kmem_cache_alloc_node(%s, flags 0x%x, node %d): invalid flags",
		      cp->cache_name, kmflag, node);
	if (!(kmflag & KM_PANIC))
		return kmem_alloc_node_import(cp, kmflag, node);
	fail_hold();
	buf = kmem_alloc_node_import(cp, kmflag, node);
	fail_release();
	return buf;
}

/* ------------------------------------------------------------ create/destroy */

/* Panic unless the arguments of kmem_cache_create make sense. */
static void kmem_cache_verify(const char *name, size_t size, size_t align, unsigned cflags)
{
	if (name == NULL || strlen(name) >= KMEM_NAMELEN || size == 0 ||
	    size > ((size_t)MM_PAGE_SIZE << KMEM_SLAB_MAX_ORDER) ||
	    (align != 0 && (align & (align - 1)) != 0) || align > MM_PAGE_SIZE ||
	    (cflags & ~KMC_FLAGS_VALID) != 0)
		panic("kmem_cache_create(%s, size %lu, align %lu, flags 0x%x): invalid name "
		      "(< %d chars), size, alignment (power of two <= page) or flags",
		      name != NULL ? name : "(null)", (unsigned long)size, (unsigned long)align,
		      cflags, KMEM_NAMELEN);
}

/*
 * Zeroed pages for cache structures, and node parts made before
 * kmem_cnode_cache (a node's slab arena; node 0 when that node has none).
 */
static void *kmem_meta_alloc(size_t size, int node)
{
	void *p = (void *)vmem_alloc(kmem_node_arena(node), size, VM_NOSLEEP);

	if (p == NULL && node != 0)
		p = (void *)vmem_alloc(kmem_node_arena(0), size, VM_NOSLEEP);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

/* Give back kmem_meta_alloc memory (any node's arena: find it by address). */
static void kmem_meta_free(void *p, size_t size)
{
	for (unsigned n = 0; n < kmem_nnodes; n++)
		if (vmem_is_allocated(kmem_node_arena(n), (uintptr_t)p,
				      (size + MM_PAGE_SIZE - 1) & ~(size_t)(MM_PAGE_SIZE - 1))) {
			vmem_free(kmem_node_arena(n), (uintptr_t)p, size);
			return;
		}
	panic("kmem_meta_free(%p, %lu): not kmem metadata", p, (unsigned long)size);
}

/* The node part of cp on node `node` (kmem_cnode_init zeroes it); §3. */
static struct kmem_cnode *kmem_cnode_alloc(kmem_cache_t *cp, int node)
{
	if (node == 0)
		return &cp->cache_cnode0;
	if (cp->cache_bootmeta)
		return kmem_meta_alloc(sizeof(struct kmem_cnode), node);
	return kmem_cache_alloc_node(kmem_cnode_cache, KM_NOSLEEP, node);
}

/* Free a node part kmem_cnode_alloc gave (node 0's lives in the cache). */
static void kmem_cnode_free(kmem_cache_t *cp, struct kmem_cnode *cn)
{
	if (cn == &cp->cache_cnode0)
		return;
	if (cp->cache_bootmeta)
		kmem_meta_free(cn, sizeof(*cn));
	else
		kmem_cache_free(kmem_cnode_cache, cn);
}

/* Is mt the biggest type a magazine may grow to (the last, or kmem_magsize_max)? */
static bool kmem_magtype_top(const struct kmem_magtype *mt)
{
	return mt == &kmem_magtypes[KMEM_NMAGTYPES - 1] ||
	       (kmem_magsize_max != 0 && (unsigned)mt[1].mt_magsize > kmem_magsize_max);
}

/* The magazine type a cache of this buffer size starts with. */
static const struct kmem_magtype *kmem_magtype_start(size_t bufsize)
{
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++)
		if (bufsize >= kmem_magtypes[i].mt_minbuf || kmem_magtype_top(&kmem_magtypes[i]))
			return &kmem_magtypes[i];
	return &kmem_magtypes[KMEM_NMAGTYPES - 1];
}

/* Allocate and set up the node parts and the per-hart lines of a new cache. */
static int kmem_cache_setup(kmem_cache_t *cp, unsigned nnodes)
{
	const struct kmem_magtype *mt = NULL;

	if (!(cp->cache_cflags & KMC_NOMAGAZINE))
		mt = kmem_magtype_start(cp->cache_bufsize);
	cp->cache_nnodes = nnodes;
	for (unsigned n = 0; n < nnodes; n++) {
		struct kmem_cnode *cn = kmem_cnode_alloc(cp, (int)n);
		vmem_t *arena = cp->cache_source;

		if (cn == NULL)
			return -1;
		if (arena == NULL && cp->cache_slablayer)
			arena = (cp->cache_cflags & KMC_DMA) ? kmem_dma_arena() : kmem_node_arena((int)n);
		kmem_cnode_init(cp, cn, (int)n, arena);
		cn->kn_magtype = mt;
		cp->cache_node[n] = cn;
	}
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		struct kmem_cpu_cache *ccp = &cp->cache_cpu[c];

		ccp->hc_prounds = -1;
		ccp->hc_node = cpu_node(c);	/* harts not yet online included */
		if (ccp->hc_node < 0 || (unsigned)ccp->hc_node >= nnodes)
			ccp->hc_node = 0;
		ccp->hc_numa = nnodes > 1 && cp->cache_pagemode;
	}
	return 0;
}

/* Free a cache's structures (its slabs and magazines are gone). */
static void kmem_cache_free_struct(kmem_cache_t *cp)
{
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		if (cp->cache_node[n] == NULL)
			continue;
		kmem_cnode_fini(cp, cp->cache_node[n]);
		kmem_cnode_free(cp, cp->cache_node[n]);
	}
	kmem_meta_free(cp, sizeof(*cp));
}

/* Append a finished cache to the list. */
static void kmem_cache_publish(kmem_cache_t *cp)
{
	irqflags_t fl = kmem_lock(&kmem_list_lock);
	kmem_cache_t **pp = &kmem_cache_list;

	while (*pp != NULL)
		pp = &(*pp)->cache_next;
	*pp = cp;
	kmem_unlock(&kmem_list_lock, fl);
}

/* A zeroed cache structure with its name and common properties. */
static kmem_cache_t *kmem_cache_new(const char *name, size_t size, unsigned cflags)
{
	kmem_cache_t *cp;

	if (!kmem_ready)
		panic("kmem_cache_create(%s): kmem_init has not run", name);
	cp = kmem_meta_alloc(sizeof(*cp), 0);
	if (cp == NULL)
		return NULL;
	cp->cache_bootmeta = kmem_cnode_cache == NULL;	/* §3 */
	snprintf(cp->cache_name, sizeof(cp->cache_name), "%s", name);
	cp->cache_bufsize = size;
	if (kmem_nomagazine)
		cflags |= KMC_NOMAGAZINE;
	cp->cache_cflags = cflags;
	return cp;
}

kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
				kmem_ctor_fn *ctor, kmem_dtor_fn *dtor, kmem_reclaim_fn *reclaim,
				void *private, vmem_t *source, unsigned cflags)
{
	kmem_cache_t *cp;

	kmem_cache_verify(name, size, align, cflags);
	if (!(cflags & KMC_NODEBUG))
		cflags |= kmem_debug & KMF_DEBUG_ALL;
	if (cflags & KMF_DEBUG_ALL)		/* every check needs every call (§8) */
		cflags |= KMC_NOMAGAZINE;
	if ((cp = kmem_cache_new(name, size, cflags)) == NULL)
		return NULL;
	cp->cache_align = align < KMEM_ALIGN ? KMEM_ALIGN : align;
	cp->cache_ctor = ctor;
	cp->cache_dtor = dtor;
	cp->cache_reclaim = reclaim;
	cp->cache_private = private;
	cp->cache_source = source;
	cp->cache_slablayer = true;
	cp->cache_pagemode = source == NULL;
	cp->cache_import = kmem_slab_import;
	cp->cache_release = kmem_slab_release;
	cp->cache_arg = cp;
	if (kmem_slab_geometry(cp) != 0)
		panic("kmem_cache_create(%s, size %lu): no slab size wastes <= 1/%d",
		      name, (unsigned long)size, KMEM_WASTE_FRAC);
	if (kmem_cache_setup(cp, (source == NULL && !(cflags & (KMC_NOTNUMA | KMC_DMA))) ?
			     kmem_nnodes : 1) != 0) {
		kmem_cache_free_struct(cp);
		return NULL;
	}
	kmem_cache_publish(cp);
	return cp;
}

kmem_cache_t *kmem_zcache_create(const char *name, size_t size, kmem_import_fn *import,
				 kmem_release_fn *release, void *arg, unsigned cflags)
{
	kmem_cache_t *cp;

	if (import == NULL || release == NULL || (cflags & ~KMC_NOMAGAZINE) != 0)
		panic("kmem_zcache_create(%s, size %lu, flags 0x%x): needs import and release, "
		      "and takes KMC_NOMAGAZINE only", name != NULL ? name : "(null)",
		      (unsigned long)size, cflags);
	kmem_cache_verify(name, size, 0, cflags);
	if ((cp = kmem_cache_new(name, size, cflags)) == NULL)
		return NULL;
	cp->cache_align = KMEM_ALIGN;
	cp->cache_chunksize = size;
	cp->cache_import = import;
	cp->cache_release = release;
	cp->cache_arg = arg;
	if (kmem_cache_setup(cp, 1) != 0) {
		kmem_cache_free_struct(cp);
		return NULL;
	}
	kmem_cache_publish(cp);
	return cp;
}

/* Every magazine of every depot of cp back to the back end. */
static void kmem_depot_purge(kmem_cache_t *cp)
{
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		struct kmem_cnode *cn = cp->cache_node[n];
		struct kmem_magazine *full, *empty;
		irqflags_t fl = kmem_depot_lock(cn);
		int cap = cn->kn_magtype != NULL ? cn->kn_magtype->mt_magsize : 0;

		full = cn->kn_full;
		empty = cn->kn_empty;
		cn->kn_full = cn->kn_empty = NULL;
		cn->kn_nfull = cn->kn_nempty = cn->kn_full_min = cn->kn_empty_min = 0;
		kmem_unlock(&cn->kn_depot_lock, fl);
		kmem_mag_destroy_list(cp, full, cap, true);
		kmem_mag_destroy_list(cp, empty, cap, false);
	}
}

/* Every magazine of every hart and of every depot of cp (quiet system: other harts' lines too). */
static void kmem_cache_magazine_purge(kmem_cache_t *cp)
{
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		irqflags_t f = irq_save();

		kmem_cpu_flush(cp, &cp->cache_cpu[c]);
		irq_restore(f);
	}
	kmem_depot_purge(cp);
}

void kmem_cache_reap_now(kmem_cache_t *cp)
{
	irqflags_t f = irq_save();

	kmem_cpu_flush(cp, kmem_cpu(cp));
	irq_restore(f);
	kmem_depot_purge(cp);
	kmem_stat_add(&cp->cache_reap, 1);
}

void kmem_cache_drain(kmem_cache_t *cp)
{
	kmem_cache_magazine_purge(cp);
	if (cp->cache_slablayer)
		kmem_slab_reap(cp);
}

void kmem_cache_destroy(kmem_cache_t *cp)
{
	uint64_t st[KMS_NSTATS];
	irqflags_t fl;

	kmem_cache_drain(cp);
	kmem_cache_stats(cp, st);
	if (st[KMS_BUF_INUSE] != 0 || st[KMS_SLABS] != 0)
		panic("kmem_cache_destroy(%s): %lu buffers still allocated", cp->cache_name,
		      (unsigned long)st[KMS_BUF_INUSE]);
	fl = kmem_lock(&kmem_list_lock);
	for (kmem_cache_t **pp = &kmem_cache_list; *pp != NULL; pp = &(*pp)->cache_next)
		if (*pp == cp) {
			*pp = cp->cache_next;
			break;
		}
	kmem_unlock(&kmem_list_lock, fl);
	for (unsigned c = 0; c < MM_MAX_CPUS; c++)	/* level counts outlive the cache */
		__atomic_fetch_add(&kmem_hart[c].kh_mag_gone, cp->cache_cpu[c].hc_alloc,
				   __ATOMIC_RELAXED);
	kmem_cache_free_struct(cp);
}

kmem_cache_t *kmem_cache_find(const char *name)
{
	irqflags_t fl = kmem_lock(&kmem_list_lock);
	kmem_cache_t *cp;

	for (cp = kmem_cache_list; cp != NULL; cp = cp->cache_next)
		if (strcmp(cp->cache_name, name) == 0)
			break;
	kmem_unlock(&kmem_list_lock, fl);
	return cp;
}

void kmem_cache_walk(void (*fn)(kmem_cache_t *cp, void *arg), void *arg)
{
	irqflags_t fl = kmem_lock(&kmem_list_lock);

	for (kmem_cache_t *cp = kmem_cache_list; cp != NULL; cp = cp->cache_next)
		fn(cp, arg);
	kmem_unlock(&kmem_list_lock, fl);
}

/* ------------------------------------------------------------------ reaping */

/*
 * Free the free slabs of the internal caches, those that hold magazines
 * first (their slabs may have headers and bufctls), then the bufctl and
 * slab-header caches.  Magazine caches not made yet are skipped.
 */
static void kmem_internal_reap(void)
{
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++) {
		kmem_cache_t *mc = __atomic_load_n(&kmem_magtypes[i].mt_cache, __ATOMIC_ACQUIRE);

		if (mc != NULL)
			kmem_slab_reap(mc);
	}
	kmem_slab_reap(kmem_bufctl_cache);
	kmem_slab_reap(kmem_slab_cache);
}

/* Working-set update of one depot (theory §5): last interval's minimum becomes the limit. */
static void kmem_depot_ws_update(kmem_cache_t *cp, struct kmem_cnode *cn)
{
	struct kmem_magazine *full = NULL, *empty = NULL;
	const struct kmem_magtype *old;
	bool resized = false;
	irqflags_t fl = kmem_depot_lock(cn);
	uint64_t now = __atomic_load_n(&cn->kn_contention, __ATOMIC_RELAXED);
	uint64_t contended = now - cn->kn_contention_last;

	cn->kn_full_reaplimit = cn->kn_full_min;
	cn->kn_empty_reaplimit = cn->kn_empty_min;
	cn->kn_full_min = cn->kn_nfull;
	cn->kn_empty_min = cn->kn_nempty;
	cn->kn_contention_last = now;
	old = cn->kn_magtype;
	if (old != NULL && contended > KMEM_CONTENTION_LIMIT && !kmem_magtype_top(old) &&
	    cp->cache_bufsize <= old[1].mt_maxbuf) {
		__atomic_store_n(&cn->kn_magtype, old + 1, __ATOMIC_RELAXED);	/* harts peek */
		resized = true;
		full = cn->kn_full;
		empty = cn->kn_empty;
		cn->kn_full = cn->kn_empty = NULL;
		cn->kn_nfull = cn->kn_nempty = cn->kn_full_min = cn->kn_empty_min = 0;
		cn->kn_full_reaplimit = cn->kn_empty_reaplimit = 0;
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	if (resized) {
		kmem_stat_add(&cp->cache_resize, 1);
		kmem_mag_destroy_list(cp, full, old->mt_magsize, true);
		kmem_mag_destroy_list(cp, empty, old->mt_magsize, false);
	}
}

/* Destroy up to the reap limit of full and empty magazines of one depot. */
static void kmem_depot_ws_reap(kmem_cache_t *cp, struct kmem_cnode *cn)
{
	struct kmem_magazine *full = NULL, *empty = NULL, *mp;
	irqflags_t fl = kmem_depot_lock(cn);
	int cap = cn->kn_magtype != NULL ? cn->kn_magtype->mt_magsize : 0;

	while (cn->kn_full_reaplimit > 0 &&
	       (mp = kmem_depot_pop(&cn->kn_full, &cn->kn_nfull, &cn->kn_full_min)) != NULL) {
		cn->kn_full_reaplimit--;
		mp->mag_next = full;
		full = mp;
	}
	while (cn->kn_empty_reaplimit > 0 &&
	       (mp = kmem_depot_pop(&cn->kn_empty, &cn->kn_nempty, &cn->kn_empty_min)) != NULL) {
		cn->kn_empty_reaplimit--;
		mp->mag_next = empty;
		empty = mp;
	}
	kmem_unlock(&cn->kn_depot_lock, fl);
	kmem_mag_destroy_list(cp, full, cap, true);
	kmem_mag_destroy_list(cp, empty, cap, false);
}

/* Reap one cache: depot magazines outside the working set, free slabs, reclaim. */
static void kmem_cache_reap(kmem_cache_t *cp, void *arg)
{
	(void)arg;
	kmem_stat_add(&cp->cache_reap, 1);
	for (unsigned n = 0; n < cp->cache_nnodes; n++)
		kmem_depot_ws_reap(cp, cp->cache_node[n]);
	if (cp->cache_slablayer)
		kmem_slab_reap(cp);
	if (cp->cache_reclaim != NULL)
		cp->cache_reclaim(cp->cache_private);
}

void kmem_reap(void)
{
	struct kmem_hart *kh;

	if (!kmem_ready)
		return;
	/* A reclaim callback (or the vmem hook under it) may land here again: once is enough. */
	kh = &kmem_hart[cpu_id()];
	if (kh->kh_reaping)
		return;
	kh->kh_reaping = true;
	__atomic_fetch_add(&kmem_reap_gen, 1, __ATOMIC_RELAXED);
	kmem_cache_walk(kmem_cache_reap, NULL);
	kmem_internal_reap();	/* reaping the others filled the internal caches' slabs */
	kh->kh_reaping = false;
}

/* This hart's magazines of one cache back to the back end. */
static void kmem_cache_flush_local(kmem_cache_t *cp, void *arg)
{
	irqflags_t f = irq_save();

	(void)arg;
	kmem_cpu_flush(cp, kmem_cpu(cp));
	irq_restore(f);
}

/* Working-set update of every depot of one cache. */
static void kmem_cache_ws_update(kmem_cache_t *cp, void *arg)
{
	(void)arg;
	for (unsigned n = 0; n < cp->cache_nnodes; n++)
		kmem_depot_ws_update(cp, cp->cache_node[n]);
}

void kmem_reap_local(void)
{
	struct kmem_hart *kh;
	unsigned gen;
	uint64_t now;

	if (!kmem_ready)
		return;
	kh = &kmem_hart[cpu_id()];
	gen = __atomic_load_n(&kmem_reap_gen, __ATOMIC_RELAXED);
	if (kh->kh_reap_gen != gen) {
		kh->kh_reap_gen = gen;
		kmem_cache_walk(kmem_cache_flush_local, NULL);
	}
	/* Hart 0 keeps the working-set clock for everybody. */
	now = mm_time_us();
	if (cpu_id() == 0 && now - kh->kh_last_update >= (uint64_t)kmem_reap_interval_ms * 1000) {
		kh->kh_last_update = now;
		kmem_cache_walk(kmem_cache_ws_update, NULL);
	}
}

/* cpu_call_all body: this hart's magazines of every cache. */
static void kmem_flush_hart(void *arg)
{
	kmem_cache_walk(kmem_cache_flush_local, arg);
}

/* kmem_cache_walk body: drain one cache. */
static void kmem_cache_drain_cb(kmem_cache_t *cp, void *arg)
{
	(void)arg;
	kmem_cache_drain(cp);
}

void kmem_drain_all(void)
{
	if (!kmem_ready)
		return;
	cpu_call_all(kmem_flush_hart, NULL);
	kmem_cache_walk(kmem_cache_drain_cb, NULL);
	kmem_internal_reap();
}

void kmem_drain_this_hart(void)
{
	if (kmem_ready)
		kmem_flush_hart(NULL);
}

/* kmem_cache_walk body: one cache's depots emptied, its free slabs freed, an idle hash shrunk. */
static void kmem_cache_purge_cb(kmem_cache_t *cp, void *arg)
{
	(void)arg;
	kmem_depot_purge(cp);
	if (!cp->cache_slablayer)
		return;
	kmem_slab_reap(cp);
	for (unsigned n = 0; n < cp->cache_nnodes; n++)
		kmem_hash_shrink(cp->cache_node[n]);
}

void kmem_purge(void)
{
	if (!kmem_ready)
		return;
	kmem_cache_walk(kmem_cache_purge_cb, NULL);
	kmem_internal_reap();	/* purging the others freed magazines and headers */
}

/* A hart's magazine hits summed over the caches (kmem_levelstat_cb's argument). */
struct kmem_levelsum {
	unsigned kls_cpu;		/* the hart */
	uint64_t kls_sum;		/* its hc_alloc, summed */
};

/* kmem_cache_walk body: add one cache's magazine hits of one hart. */
static void kmem_levelstat_cb(kmem_cache_t *cp, void *arg)
{
	struct kmem_levelsum *a = arg;

	a->kls_sum += __atomic_load_n(&cp->cache_cpu[a->kls_cpu].hc_alloc, __ATOMIC_RELAXED);
}

void mm_levelstat_cpu(unsigned cpu, struct mm_levelstat *out)
{
	struct kmem_levelsum a = { cpu, 0 };

	memset(out, 0, sizeof(*out));
	if (cpu >= MM_MAX_CPUS)
		return;
	if (kmem_ready) {
		kmem_cache_walk(kmem_levelstat_cb, &a);
		out->ls_mag = a.kls_sum + __atomic_load_n(&kmem_hart[cpu].kh_mag_gone, __ATOMIC_RELAXED);
		out->ls_depot = __atomic_load_n(&kmem_hart[cpu].kh_depot, __ATOMIC_RELAXED);
		out->ls_slab = __atomic_load_n(&kmem_hart[cpu].kh_slab, __ATOMIC_RELAXED);
	}
	page_levelstat_cpu(cpu, &out->ls_pcp, &out->ls_buddy);
	out->ls_vmem = vmem_levelstat_cpu(cpu);
}

/* Working sets of every cache now (tests: a known interval boundary). */
void kmem_ws_update_all(void)
{
	kmem_cache_walk(kmem_cache_ws_update, NULL);
}

/* ------------------------------------------------------------ init and fini */

/*
 * The internal caches, in this order: node parts of nodes 1.. (§3: only
 * with several nodes), slab headers, bufctls, and with several nodes the
 * cross magazines' cache, which every cross-node free uses.  The other
 * magazine caches are made on first use (kmem_magtype_make, §4): a size
 * no cache starts with or grows to, as every size above kmem_magsize_max,
 * is never made.  kmem_cnode_cache is published before the cross
 * magazines' cache only: every other internal cache keeps its node parts in
 * pages (cache_bootmeta).
 */
static int kmem_internal_caches(void)
{
	const unsigned fl = KMC_NOMAGAZINE | KMC_NODEBUG;
	kmem_cache_t *nc = NULL;

	if (kmem_nnodes > 1 &&
	    (nc = kmem_cache_create("kmem_cnode", sizeof(struct kmem_cnode), MM_CACHE_LINE, NULL,
				    NULL, NULL, NULL, NULL, fl)) == NULL)
		return -1;
	kmem_slab_cache = kmem_cache_create("kmem_slab", sizeof(struct kmem_slab), 0, NULL, NULL,
					    NULL, NULL, NULL, fl);
	kmem_bufctl_cache = kmem_cache_create("kmem_bufctl", sizeof(struct kmem_bufctl), 0, NULL,
					      NULL, NULL, NULL, NULL, fl);
	kmem_cnode_cache = nc;
	if (kmem_slab_cache == NULL || kmem_bufctl_cache == NULL)
		return -1;
	return kmem_nnodes > 1 && kmem_magtype_cache(KMEM_CROSS_MAGTYPE) == NULL ? -1 : 0;
}

int kmem_init(vmem_t *large_arena)
{
	spin_init(&kmem_list_lock, "kmem_list", LOCK_RANK_KMEM_LIST);
	spin_init(&kmem_magtype_lock, "kmem_magtype", LOCK_RANK_KMALLOC_CLASS);
	kmem_cache_list = NULL;
	kmem_reap_gen = 0;
	if (kmem_was_up)	/* the first time it is .bss, zero: leave its pages untouched */
		memset(kmem_hart, 0, sizeof(kmem_hart));
	kmem_was_up = true;
	if (kmem_arenas_init() != 0) {
		printk("kmem_init: cannot create the slab arenas\n");
		kmem_arenas_fini();
		return -1;
	}
	kmem_ready = true;
	if (kmem_internal_caches() != 0 || kmalloc_init(large_arena) != 0) {
		printk("kmem_init: out of memory for the first caches\n");
		kmem_fini();
		return -1;
	}
	vmem_qcache_attach_all();
	vmem_reclaim_hook_set(kmem_reap);
	page_reclaim_hook_set(kmem_reap);
	return 0;
}

bool kmem_initialized(void) { return kmem_ready; }

/* Is cp one of kmem's own caches (magazines, node parts, slab headers, bufctls)? */
static bool kmem_cache_internal(const kmem_cache_t *cp)
{
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++)
		if (cp == kmem_magtypes[i].mt_cache)
			return true;
	return cp == kmem_cnode_cache || cp == kmem_slab_cache || cp == kmem_bufctl_cache;
}

/* The most recently made cache that is not internal, or NULL. */
static kmem_cache_t *kmem_last_client(void)
{
	irqflags_t fl = kmem_lock(&kmem_list_lock);
	kmem_cache_t *last = NULL;

	for (kmem_cache_t *cp = kmem_cache_list; cp != NULL; cp = cp->cache_next)
		if (!kmem_cache_internal(cp))
			last = cp;
	kmem_unlock(&kmem_list_lock, fl);
	return last;
}

/* Destroy a magazine cache, forgotten by every type that shares it (§4). */
static void kmem_magcache_destroy(kmem_cache_t *mc)
{
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++)
		if (kmem_magtypes[i].mt_cache == mc)
			kmem_magtypes[i].mt_cache = NULL;
	kmem_cache_destroy(mc);
}

/* Destroy *cpp if it was made, and forget it. */
static void kmem_cache_destroy_ref(kmem_cache_t **cpp)
{
	if (*cpp != NULL)
		kmem_cache_destroy(*cpp);
	*cpp = NULL;
}

void kmem_fini(void)
{
	kmem_cache_t *cp;

	if (!kmem_ready)
		return;
	vmem_reclaim_hook_set(NULL);
	page_reclaim_hook_set(NULL);
	vmem_qcache_detach_all();
	kmalloc_fini();
	/*
	 * Clients in reverse creation order (their magazines go back to the
	 * magazine caches), then the internal caches, each before the caches
	 * its slabs use: magazines (large ones have external headers and
	 * bufctls), node parts, bufctls, slab headers.
	 */
	while ((cp = kmem_last_client()) != NULL)
		kmem_cache_destroy(cp);
	for (unsigned i = 0; i < KMEM_NMAGTYPES; i++)
		if (kmem_magtypes[i].mt_cache != NULL)
			kmem_magcache_destroy(kmem_magtypes[i].mt_cache);
	kmem_cache_destroy_ref(&kmem_cnode_cache);
	kmem_cache_destroy_ref(&kmem_bufctl_cache);
	kmem_cache_destroy_ref(&kmem_slab_cache);
	kmem_ready = false;
	kmem_arenas_fini();
}
