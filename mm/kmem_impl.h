/*
 * kmem_impl.h - object-cache structures, constants and lock order (private
 * to mm/kmem*.c, mm/kmalloc.c and white-box tests).  The theory statement is
 * at the top of mm/kmem.c.
 *
 * Locks (ranks from mm/lock_order.h), outermost first:
 *   1. kmem_list_lock   (KMEM_LIST)  the list of caches: create, destroy,
 *                       reap, dumps
 *   2. kn_depot_lock    (KMEM_DEPOT) one node's depot of one cache
 *   3. kn_slab_lock     (KMEM_SLAB)  one node's slab layer of one cache
 * Never two locks of one rank: a hart holds at most one depot and one slab
 * lock, of the same cache.  The slab layer drops kn_slab_lock before it
 * calls vmem or the page allocator (slab creation and destruction) and
 * before constructors and destructors run; the magazine layer calls the back
 * end (import/release) holding no kmem lock.  Every lock is taken with
 * interrupts off.  The per-hart magazines are not locks: "interrupts off on
 * the owning hart".
 */
#ifndef MM_KMEM_IMPL_H
#define MM_KMEM_IMPL_H

#include "mm/fail.h"
#include "mm/kmem.h"
#include "mm/page.h"

#define KMEM_NAMELEN		32	/* cache names, NUL included */
/* Minimum alignment: a pointer, or the environment's MM_MIN_ALIGN (mm_platform.h). */
#ifdef MM_MIN_ALIGN
#define KMEM_ALIGN		MM_MIN_ALIGN
#else
#define KMEM_ALIGN		8
#endif

/*
 * Slab sizes are 2^0..2^KMEM_SLAB_MAX_ORDER pages: the smallest whose waste
 * (space no buffer uses, header included) is at most 1/KMEM_WASTE_FRAC of
 * the slab.  An object is "small" in a slab when it is at most
 * 1/KMEM_SMALL_FRAC of it: then the slab header sits at the slab's end and
 * free buffers are linked through themselves.
 */
#define KMEM_SLAB_MAX_ORDER	8	/* 1 MiB */
#define KMEM_WASTE_FRAC		8
#define KMEM_SMALL_FRAC		8

/*
 * Partial slabs are kept on KMEM_FULLNESS lists by how full they are
 * (list i: i/KMEM_FULLNESS <= allocated/total < (i+1)/KMEM_FULLNESS), with
 * a bitmap of non-empty lists: allocation takes the fullest class in O(1).
 */
#define KMEM_FULLNESS		16

/*
 * Bucket count of a node's initial bufctl hash (inside struct kmem_cnode);
 * it grows x4 at load 2.  32 keeps a cache's structure with its node-0
 * part (cache_cnode0) within one page in libkmem (32 thread slots).
 */
#define KMEM_HASH_INITIAL	32
#define KMEM_HASH_LOAD		2

/* ---------------------------------------------------------------- debugging */

/* Patterns (kmem.c §8): free, new-uninitialised, redzone bytes and word. */
#define KMEM_FREE_PATTERN	0xdeadbeefdeadbeefull
#define KMEM_UNINIT_PATTERN	0xbaddcafebaddcafeull
#define KMEM_REDZONE_BYTE	0xbb
#define KMEM_REDZONE_PATTERN	0xfeedfacefeedfaceull
/* tag_bxstat = buffer address ^ one of these: the buffer's state, tied to its address. */
#define KMEM_BUFTAG_ALLOC	0xa110c8edf00dull
#define KMEM_BUFTAG_FREE	0xf4eef4eef4eeull
#define KMEM_AUDIT_N		4	/* transactions remembered per buffer */

/* One transaction on a buffer (KMF_AUDIT). */
struct kmem_audit {
	uintptr_t ka_pc;		/* caller of kmem_cache_alloc/free */
	uint64_t ka_time;		/* mm_time_us() */
	uint16_t ka_cpu;		/* hart */
	uint8_t ka_op;			/* KMEM_AUDIT_ALLOC or _FREE */
};
#define KMEM_AUDIT_ALLOC	1
#define KMEM_AUDIT_FREE		2

/*
 * The tail of every buffer of a debug cache: after the object (rounded up
 * to 8 bytes, the slack filled with KMEM_REDZONE_BYTE), at cache_buftag.
 */
struct kmem_buftag {
	uint64_t tag_redzone;		/* KMEM_REDZONE_PATTERN */
	void *tag_link;			/* small slabs: the free-list link */
	uintptr_t tag_bxstat;		/* address ^ KMEM_BUFTAG_ALLOC / _FREE */
	uint64_t tag_seq;		/* allocation sequence number (leak reports) */
	uint32_t tag_nrec;		/* transactions recorded (ring position) */
	struct kmem_audit tag_rec[KMEM_AUDIT_N];	/* the last ones */
};

/* The kinds of corruption and misuse kmem_error() reports. */
enum kmem_err {
	KMERR_MODIFIED,		/* a free buffer was written (0xdeadbeef broken) */
	KMERR_REDZONE,		/* the redzone after a buffer was written */
	KMERR_DUPFREE,		/* the buffer is already free */
	KMERR_BADADDR,		/* the address is in no slab of the cache */
	KMERR_WRONGCACHE,	/* the buffer belongs to another cache */
	KMERR_INTERIOR,		/* the address is inside a buffer, not its start */
	KMERR_BADBUFTAG,	/* the buffer's tag is corrupt */
};

/* ---------------------------------------------------------------- magazines */

/*
 * A magazine size (the paper's §3.4 and illumos's kmem_magtype, our own
 * numbers).  A cache starts with the first type whose mt_minbuf <= its
 * buffer size; contention moves it to the next type while its buffer size
 * is <= that type's mt_maxbuf.  Rounds are 2^k - 1 so that a magazine
 * (link + rounds) is 2^k words: the magazine caches waste nothing.
 */
struct kmem_magtype {
	int mt_magsize;			/* rounds per magazine */
	size_t mt_minbuf;		/* smallest buffer that starts with this type */
	size_t mt_maxbuf;		/* largest buffer that may grow to this type */
	kmem_cache_t *mt_cache;		/* its magazines' cache (NULL until first use) */
};
#define KMEM_NMAGTYPES		8
/*
 * The cache of kmem_magtypes[i]'s magazines, made now if it was not yet
 * (kmem.c §4); NULL when it cannot be made now.
 */
kmem_cache_t *kmem_magtype_cache(unsigned i);
/*
 * Make now every magazine cache a magazine may come from (up to
 * kmem_magsize_max); -1 if one cannot be made.  They are made on first use
 * and kept, so a check that counts pages before and after a workload (host
 * tests, the stress verifier) calls this before its first count.
 */
int kmem_magazine_caches_make(void);

/* --------------------------------------------------------------- slab layer */

/*
 * A free-buffer link for large objects and for caches over a foreign arena:
 * one per buffer, outside the slab (the kmem_bufctl cache).  Free: on its
 * slab's free list.  Allocated: in its node's hash, keyed by address.
 */
struct kmem_bufctl {
	struct kmem_bufctl *bc_next;	/* slab free list or hash chain */
	uintptr_t bc_addr;		/* the buffer */
	struct kmem_slab *bc_slab;	/* its slab */
};

/*
 * A slab: one run of 2^k pages (or one span of a foreign arena) cut into
 * buffers.  Small-object slabs carry this header in their last bytes; the
 * others get it from the kmem_slab cache.  Protected by its node's
 * kn_slab_lock.
 */
struct kmem_slab {
	struct kmem_slab *slab_next;	/* on one of the node's lists */
	struct kmem_slab *slab_prev;	/* and back (unlinking is O(1)) */
	struct kmem_cache *slab_cache;	/* owner (checked on every free) */
	uintptr_t slab_base;		/* first byte of slab memory */
	uintptr_t slab_first;		/* first buffer (slab_base + colour) */
	void *slab_head;			/* free list: buffers (small) or bufctls */
	unsigned slab_refcnt;		/* buffers allocated from this slab */
	unsigned slab_chunks;		/* buffers in the slab */
	int16_t slab_node;		/* NUMA node of its memory */
	int16_t slab_list;		/* KMEM_SL_FREE, _FULL or a fullness class */
	uint16_t slab_kclass;		/* its cache's cache_kclass (kfree's hit path) */
	uint16_t slab_kchunks;		/* slab_chunks for kfree's hit path, 0: no class */
};
#define KMEM_SL_FREE		(-1)
#define KMEM_SL_FULL		(-2)

/*
 * One NUMA node's part of a cache: its depot (magazines of buffers of this
 * node) and its slab layer (slabs of this node's memory).  Caches with one
 * home have node 0 only.  Three groups, each from a cache line of its own:
 * the read-mostly words every magazine slow path reads before it locks
 * anything (kn_magtype), the depot, and the slab layer.  Harts trading
 * magazines bounce the depot's line between them; kept apart, the
 * kn_magtype they read first stays shared in every hart's cache, and the
 * depot's line moves once per trade (the lock's atomic) instead of twice
 * (a read miss, then the upgrade for the atomic).
 */
struct kmem_cnode {
	int kn_node;				/* which node */
	vmem_t *kn_arena;			/* slabs come from here */
	/* written under kn_depot_lock, read without it (a resize is rare) */
	const struct kmem_magtype *kn_magtype;	/* current magazine size (NULL: none) */

	/* depot: protected by kn_depot_lock */
	spinlock_t kn_depot_lock MM_CACHE_ALIGNED;
	struct kmem_magazine *kn_full;		/* full magazines */
	struct kmem_magazine *kn_empty;		/* empty magazines */
	uint64_t kn_nfull, kn_nempty;		/* list lengths */
	uint64_t kn_full_min, kn_empty_min;	/* lowest lengths this interval */
	uint64_t kn_full_reaplimit;		/* may reap this many full (last interval's min) */
	uint64_t kn_empty_reaplimit;		/* ... and this many empty */
	uint64_t kn_depot_alloc;		/* full magazines taken */
	uint64_t kn_depot_free;			/* full magazines given */
	uint64_t kn_contention;			/* trylock failures, all time */
	uint64_t kn_contention_last;		/* ... at the last working-set update */

	/* slab layer: protected by kn_slab_lock */
	spinlock_t kn_slab_lock MM_CACHE_ALIGNED;
	struct kmem_slab *kn_partial[KMEM_FULLNESS];	/* by fullness class */
	uint32_t kn_partial_map;		/* bit i: kn_partial[i] non-empty */
	struct kmem_slab *kn_freeslabs;		/* completely free slabs */
	struct kmem_slab *kn_fullslabs;		/* completely allocated slabs */
	struct kmem_bufctl **kn_hash;		/* allocated bufctls by address */
	size_t kn_hash_mask;			/* buckets - 1 */
	uint64_t kn_hash_count;			/* bufctls in the hash */
	struct kmem_bufctl *kn_hash0[KMEM_HASH_INITIAL];	/* the first table */
	uint64_t kn_slabs;			/* slabs now */
	uint64_t kn_buf_total;			/* buffers in those slabs */
	uint64_t kn_buf_free;			/* free buffers in those slabs */
	uint64_t kn_slab_alloc;			/* buffers taken from slabs */
	uint64_t kn_slab_free;			/* buffers returned to slabs */
	uint64_t kn_slab_create;		/* slabs created */
	uint64_t kn_slab_destroy;		/* slabs freed */
};

/*
 * A hart's slow-path flows of one cache (off the hit path's line): buffers
 * that entered its magazines other than by a free (depot trades, bulk
 * fills) and that left them other than by an allocation (depot trades,
 * cross-node batches, flushes).  Frees on the hit path are not counted:
 * frees = rounds held - cf_in + cf_out + allocations.  Also the hart's
 * allocations and frees that missed the magazines (kmem_count_slow).
 */
struct kmem_cpu_flow {
	uint64_t cf_in;			/* buffers brought in */
	uint64_t cf_out;		/* buffers sent out */
	uint64_t cf_slow_alloc;		/* allocations that missed the magazines */
	uint64_t cf_slow_free;		/* frees that missed the magazines */
};

/*
 * An object cache.  Field groups follow what protects them.
 */
struct kmem_cache {
	/* per-hart layer: first, so kmem_cpu() is one add (kmem.h) */
	struct kmem_cpu_cache cache_cpu[MM_MAX_CPUS];

	/* per-hart slow-path flows: each written by its hart, interrupts off */
	struct kmem_cpu_flow cache_flow[MM_MAX_CPUS];

	/* properties: set by kmem_cache_create, read-only afterwards */
	char cache_name[KMEM_NAMELEN];	/* for dumps and messages */
	size_t cache_bufsize;		/* object size asked for */
	size_t cache_align;		/* buffer alignment */
	size_t cache_chunksize;		/* bytes per buffer in a slab */
	size_t cache_link;		/* small slabs: offset of the free-list link */
	size_t cache_buftag;		/* debug caches: offset of struct kmem_buftag */
	size_t cache_slabsize;		/* bytes per slab */
	unsigned cache_chunks;		/* buffers per slab */
	size_t cache_maxcolour;		/* largest colour offset */
	unsigned cache_cflags;		/* KMC_ and KMF_ flags in force */
	uint16_t cache_kclass;		/* kmalloc class without debugging: its byte offset in
					   kmalloc_class[]; else 0 (kmalloc.c §3) */
	bool cache_small;		/* header in the slab, links in the buffers */
	bool cache_pagemode;		/* slabs are pages: owner word finds the slab */
	bool cache_slablayer;		/* false: a zcache over a foreign back end */
	bool cache_bootmeta;		/* node parts 1.. from pages, not kmem_cnode_cache (kmem.c §3) */
	kmem_ctor_fn *cache_ctor;	/* may be NULL */
	kmem_dtor_fn *cache_dtor;	/* may be NULL */
	kmem_reclaim_fn *cache_reclaim;	/* may be NULL */
	void *cache_private;		/* argument of the three */
	vmem_t *cache_source;		/* foreign arena, or NULL */
	kmem_import_fn *cache_import;	/* the magazine layer's back end */
	kmem_release_fn *cache_release;
	void *cache_arg;		/* their argument */
	unsigned cache_nnodes;		/* entries of cache_node in use */
	struct kmem_cnode *cache_node[MM_MAX_NODES];	/* per node: [0] is cache_cnode0 */

	/* protected by kmem_list_lock */
	struct kmem_cache *cache_next;	/* list of all caches */

	/* slow-path statistics: atomics */
	size_t cache_colour;		/* next slab's colour (atomic) */
	uint64_t cache_fail;		/* allocations that returned NULL */
	uint64_t cache_ctor_fail;	/* constructor failures */
	uint64_t cache_cross_free;	/* buffers freed on another node's hart */
	uint64_t cache_reap;		/* reaps */
	uint64_t cache_resize;		/* magazine size changes */

	/* node 0's part, in the same allocation (kmem.c §3); the others are apart */
	struct kmem_cnode cache_cnode0 MM_CACHE_ALIGNED;
};

/*
 * Per-hart state shared by every cache.  Written by its hart with
 * interrupts off, except kh_mag_gone (atomic: any hart destroying a cache).
 */
struct kmem_hart {
	unsigned kh_reap_gen;		/* last kmem_reap generation honoured */
	uint64_t kh_last_update;	/* mm_time_us of the last working-set update */
	bool kh_reaping;		/* inside kmem_reap (no recursion) */
	/* level counts (mm_levelstat_cpu, kmem.h) */
	uint64_t kh_depot;		/* allocations that traded for a full magazine */
	uint64_t kh_slab;		/* buffers this hart imported from slab layers */
	uint64_t kh_mag_gone;		/* hc_alloc of this hart in destroyed caches */
} MM_CACHE_ALIGNED;
extern struct kmem_hart kmem_hart[MM_MAX_CPUS];

extern spinlock_t kmem_list_lock;
extern struct kmem_cache *kmem_cache_list;
extern struct kmem_magtype kmem_magtypes[KMEM_NMAGTYPES];

/* Lock a depot or slab layer with interrupts off. */
static inline irqflags_t kmem_lock(spinlock_t *l)
{
	irqflags_t fl = irq_save();

	spin_lock(l);
	return fl;
}

/* Unlock and restore the interrupt state kmem_lock saved. */
static inline void kmem_unlock(spinlock_t *l, irqflags_t fl)
{
	spin_unlock(l);
	irq_restore(fl);
}

/* A slow-path counter shared by harts. */
static inline void kmem_stat_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/*
 * Count one slow-path allocation (freeing: one free) in the calling hart's
 * flow counters: no atomic and no line shared between harts; kmem_dump.c
 * sums them when read.  Interrupts are masked for the add, as for every
 * per-hart field.
 */
static inline void kmem_count_slow(kmem_cache_t *cp, bool freeing)
{
	irqflags_t f = irq_save();
	struct kmem_cpu_flow *cf = &cp->cache_flow[cpu_id()];

	if (freeing)
		cf->cf_slow_free++;
	else
		cf->cf_slow_alloc++;
	irq_restore(f);
}

/* kmem_slab.c: the slab layer, the back end of slab caches. */
unsigned kmem_slab_import(void *arg, void **bufs, unsigned n, int kmflag, int node);
void kmem_slab_release(void *arg, void **bufs, unsigned n);
int kmem_slab_geometry(kmem_cache_t *cp);
void kmem_slab_reap(kmem_cache_t *cp);
/* A node's grown bufctl hash back to the first table when no buffer is allocated (purge). */
void kmem_hash_shrink(struct kmem_cnode *cn);
struct kmem_slab *kmem_slab_of(kmem_cache_t *cp, const void *buf, struct kmem_bufctl **bcpp);
void kmem_cnode_init(kmem_cache_t *cp, struct kmem_cnode *cn, int node, vmem_t *arena);
void kmem_cnode_fini(kmem_cache_t *cp, struct kmem_cnode *cn);
vmem_t *kmem_node_arena(int node);
vmem_t *kmem_dma_arena(void);
int kmem_arenas_init(void);
void kmem_arenas_fini(void);
extern kmem_cache_t *kmem_slab_cache, *kmem_bufctl_cache;
extern unsigned kmem_nnodes;

/* kmem_debug.c: debug caches (kmem.c §8); every entry tests cache_cflags first. */
static inline bool kmem_debugging(const kmem_cache_t *cp)
{
	return (cp->cache_cflags & KMF_DEBUG_ALL) != 0;
}
/* Buffers are constructed with their slab (not at each allocation, as with KMF_DEADBEEF). */
static inline bool kmem_slab_constructs(const kmem_cache_t *cp)
{
	return !(cp->cache_cflags & KMF_DEADBEEF);
}
/* The tag of a debug cache's buffer. */
static inline struct kmem_buftag *kmem_buftag(const kmem_cache_t *cp, const void *buf)
{
	return (struct kmem_buftag *)((uintptr_t)buf + cp->cache_buftag);
}
void kmem_debug_slab_init(kmem_cache_t *cp, struct kmem_slab *sp);
int kmem_debug_alloc(kmem_cache_t *cp, void *buf, int kmflag, uintptr_t pc);
void kmem_debug_free(kmem_cache_t *cp, void *buf, uintptr_t pc);
void kmem_error(enum kmem_err err, kmem_cache_t *cp, const void *buf, const char *detail)
	__attribute__((noreturn));

/* kmem_dump.c */
void kmem_cache_sum(kmem_cache_t *cp, uint64_t st[KMS_NSTATS]);

/* kmalloc.c */
int kmalloc_init(vmem_t *large);
void kmalloc_fini(void);

/*
 * kmalloc's hit paths (kmalloc.c §1, §3), inline here for kfree and for
 * libkmem's malloc and free (tools/libkmem/umem.c), which run them
 * without the call through kmalloc_var and kfree.
 */

/* A kmalloc class cache's private data: kfree's division-free buffer test. */
struct kmalloc_class {
	kmem_cache_t *kc_cache;		/* the cache (NULL until created) */
	uint64_t kc_inv;		/* inverse of the chunk size's odd part, mod 2^64 */
	unsigned kc_shift;		/* trailing zero bits of the chunk size */
};
/*
 * [1 + dma * KMALLOC_NCLASSES + class]: a cache's cache_kclass is the byte
 * offset of its entry here; entry 0 (offset 0: no class) is never a
 * class's, so a slab without a class (slab_kchunks 0) may read it.
 */
extern struct kmalloc_class kmalloc_class[1 + 2 * KMALLOC_NCLASSES];
extern uint8_t kmalloc_size_index[KMALLOC_MAX_CLASS / 8];	/* (size - 1) / 8 -> class */
extern kmem_cache_t kmalloc_stub;			/* kmalloc.c §1 */
extern kmem_cache_t *kmalloc_hit[KMALLOC_NCLASSES];	/* [class]: its cache, or the stub */

/*
 * The cache of kmalloc(size) without flags, for 1 <= size <= KMALLOC_MAX_CLASS,
 * for kmem_cache_alloc_hit only: kmalloc_stub, whose hit always misses,
 * while the class has not been created (kmalloc_ondemand).
 */
static inline kmem_cache_t *kmalloc_hit_cache(size_t size)
{
	return __atomic_load_n(&kmalloc_hit[kmalloc_size_index[(size - 1) >> 3]], __ATOMIC_RELAXED);
}

/*
 * Does ptr start one of sp's buffers?  Exact-division test (kmalloc.c §3):
 * no divide; a pointer below the first buffer wraps to a huge quotient and
 * fails too, and so does every pointer of a slab without a class (its
 * slab_kchunks is 0).
 */
static inline bool kmalloc_starts_buffer(const struct kmalloc_class *kc,
					 const struct kmem_slab *sp, const void *ptr)
{
	uint64_t q = ((uintptr_t)ptr - sp->slab_first) * kc->kc_inv;

	q = (q >> kc->kc_shift) | (q << ((64 - kc->kc_shift) & 63));
	return q < sp->slab_kchunks;
}

/*
 * The class of the kmalloc buffer that ptr starts, with its slab's node in
 * *home; NULL when ptr is anything else (not in a slab, not the start of a
 * buffer, a debug cache's buffer): kfree_slow decides those.  Reads the
 * page descriptor, the slab header and the class, not the cache.
 */
static inline const struct kmalloc_class *kmalloc_buf_class(const void *ptr, unsigned *home)
{
	const struct kmalloc_class *kc;
	const struct kmem_slab *sp;
	struct page *pg;
	uintptr_t owner;

	/* page_slot, not page_lookup: a flat map's unwritten descriptor has owner 0 */
	if (__builtin_expect(!page_slot(virt_to_phys(ptr), &pg), 0))
		return NULL;
	owner = pg->pg_owner;
	if (__builtin_expect(!(owner & 1), 0))
		return NULL;
	sp = (const struct kmem_slab *)(owner & ~(uintptr_t)1);
	/* a byte offset: no scaling; no test for "no class" (slab_kchunks 0 fails below) */
	kc = (const struct kmalloc_class *)((uintptr_t)kmalloc_class + sp->slab_kclass);
	if (__builtin_expect(!kmalloc_starts_buffer(kc, sp, ptr), 0))
		return NULL;
	*home = (unsigned)sp->slab_node;
	return kc;
}

#endif /* MM_KMEM_IMPL_H */
