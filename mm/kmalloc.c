/*
 * kmalloc.c - general-purpose allocation by size, over the object caches.
 *
 * 1. Size classes
 * ---------------
 * Requests up to KMALLOC_MAX_CLASS go to one of the caches "kmalloc-SIZE"
 * (and "dma-kmalloc-SIZE" with KM_DMA: KMC_DMA caches, slabs inside the DMA
 * window).  The classes are every multiple of 8 up to 64, then eight
 * equal steps per power of two: 72, 80, ..., 128, 144, ..., 256, ..., 8192.
 * A request of s > 64 bytes lands in the class c whose predecessor p < s;
 * the step c - p is p/8, so the waste c - s < p/8 < s/8: below 12.5%.  Below 64
 * the classes are 8 bytes apart, the finest step that keeps every buffer
 * 8-byte aligned, so the waste is under 8 bytes (that is more than 12.5% of
 * a request under 56 bytes; no 8-aligned class scheme can do better).
 * Classes are multiples of 8, so the class of s is that of the 8-byte step
 * holding s: a table of one byte per step up to KMALLOC_MAX_CLASS
 * (kmalloc_size_index[(s - 1) / 8], 1 KiB), the idea of Linux's
 * size_index, built at init from the class sizes by a search.  kmalloc
 * itself is inline (kmem.h): for a size and flags known at compile time it
 * computes the class by the formula kmalloc_index_formula(), which folds to
 * a constant, and calls the class cache's inline allocation; any other call
 * goes to kmalloc_var() and the table.  kmalloc_init checks (ASSERT) that
 * formula and table agree for every size.
 *   kmalloc_init makes every class cache and its DMA twin, and the cache
 * of large records (§2), unless kmalloc_ondemand is set (libkmem): then
 * kmalloc_caches[][] starts NULL, the hit paths test the entry and fall to
 * kmalloc_common, and kmalloc_class_get makes that one cache under
 * kmalloc_class_lock (rank KMALLOC_CLASS, held across kmem_cache_create)
 * and publishes it with a release store; the large-record cache is made
 * the same way by the first large request (kmalloc_large_get).
 *   libkmem's malloc runs only a magazine hit (kmem_cache_alloc_hit) inline,
 * so it reads kmalloc_hit[] instead (kmalloc_hit_cache, kmem_impl.h), which
 * mirrors kmalloc_caches[0][] but holds kmalloc_stub where a class is not
 * made: a cache that is never written, whose every hart's magazine is
 * empty, so that its hit misses and the class needs no test of its own.
 * Making a class follows the request's flags, as a slab import does
 * (kmem.c §5-6): KM_PANIC holds failure injection off, a request that may
 * sleep reaps once and tries again; a class that still cannot be made fails
 * the request (KM_PANIC panics), and the next request tries again.
 *
 * 2. Large requests
 * -----------------
 * Bigger requests go to the large arena that kmem_init was given (the
 * kernel's mapped heap; a host arena in tests) with vmem_xalloc, which never
 * goes through quantum caches.  Each is recorded in a small hash (address ->
 * size; the records are objects of the cache "kmalloc_large"), so kfree
 * and ksize know its size and can tell it from a pointer nobody allocated.
 *
 * 3. kfree
 * --------
 * A pointer inside a slab page carries its slab in the page's owner word
 * (kmem.c §3).  The slab of a kmalloc cache without debugging carries its
 * class (slab_kclass, the byte offset of its struct kmalloc_class, copied
 * from the cache's cache_kclass when the slab is made: its cache and the
 * numbers below, found without touching the cache) and its buffer count
 * again (slab_kchunks; 0 in every other slab, so the test below fails there
 * with no test of its own), and the pointer must start one of the slab's
 * buffers.  That test has no division:
 * with the chunk size d = d0 * 2^t (d0 odd) and inv the inverse of d0
 * modulo 2^64, q = rotate-right((p - first) * inv, t) equals (p - first) / d
 * when d divides p - first and exceeds (2^64 - 1) / d otherwise (Granlund
 * and Montgomery's exact-division test), so "q < buffers in the slab" checks
 * both the multiple and the range, a pointer below the first buffer
 * included.  Pointers that fail, debug caches (whose free classifies the
 * error), and everything else take kfree_slow: the pointer must then be a
 * recorded large allocation, or the slow path panics naming it ("kfree(PTR):
 * not the start of a buffer of CACHE", "kfree(PTR): not allocated by
 * kmalloc").  The cache's free then checks that the buffer is allocated.
 */
#include "mm/kmem_impl.h"

#define KMALLOC_LARGE_HASH	256	/* buckets of the large-allocation hash */

/* A large allocation: address and size, in the large hash. */
struct kmalloc_large {
	struct kmalloc_large *kl_next;	/* hash chain */
	uintptr_t kl_addr;		/* start */
	size_t kl_size;			/* bytes asked for */
};

kmem_cache_t *kmalloc_caches[2][KMALLOC_NCLASSES];	/* [dma][class] (kmem.h) */
kmem_cache_t kmalloc_stub;				/* never written (§1) */
kmem_cache_t *kmalloc_hit[KMALLOC_NCLASSES] = {		/* kmalloc_caches[0] or the stub */
	[0 ... KMALLOC_NCLASSES - 1] = &kmalloc_stub
};
struct kmalloc_class kmalloc_class[1 + 2 * KMALLOC_NCLASSES];	/* kmem_impl.h */
uint8_t kmalloc_size_index[KMALLOC_MAX_CLASS / 8];		/* (size - 1) / 8 -> class */
bool kmalloc_ondemand;
static spinlock_t kmalloc_class_lock;		/* making a class on demand (§1) */
static kmem_cache_t *kmalloc_large_cache;			/* struct kmalloc_large */
static vmem_t *kmalloc_large_arena;
static spinlock_t kmalloc_large_lock;			/* the hash */
static struct kmalloc_large *kmalloc_large_hash[KMALLOC_LARGE_HASH];

/* Class index of a request of 1..KMALLOC_MAX_CLASS bytes. */
static inline unsigned kmalloc_index(size_t size)
{
	return kmalloc_size_index[(size - 1) >> 3];
}

/* Buffer size of class i. */
static size_t kmalloc_class_size(unsigned i)
{
	unsigned k;

	if (i < 8)
		return 8 * (size_t)(i + 1);
	k = 6 + (i - 8) / 8;
	return ((size_t)1 << k) + ((size_t)((i - 8) % 8) + 1) * ((size_t)1 << (k - 3));
}

/*
 * Fill kmalloc_size_index: each 8-byte step's smallest class that holds it,
 * found by a search; the inline kmalloc's formula must give the same class
 * for every size.
 */
static void kmalloc_size_index_init(void)
{
	unsigned i = 0;

	for (unsigned step = 0; step < KMALLOC_MAX_CLASS / 8; step++) {
		while (kmalloc_class_size(i) < 8 * ((size_t)step + 1))
			i++;
		kmalloc_size_index[step] = (uint8_t)i;
	}
	for (size_t s = 1; s <= KMALLOC_MAX_CLASS; s++)
		ASSERT(kmalloc_index_formula(s) == kmalloc_index(s));
}

/*
 * kfree's buffer test for cp (its chunk size d = d0 * 2^t): t and d0^-1 mod
 * 2^64; a cache without debugging gets its class's byte offset in
 * kmalloc_class[] in cache_kclass, which its slabs copy, so that kfree's
 * hit path takes it.
 */
static void kmalloc_class_init(struct kmalloc_class *kc, kmem_cache_t *cp)
{
	uint64_t d = cp->cache_chunksize, inv;
	unsigned t = 0;

	while ((d & 1) == 0) {
		d >>= 1;
		t++;
	}
	inv = d;			/* correct to 3 bits; each step doubles them */
	for (unsigned k = 0; k < 5; k++)
		inv *= 2 - d * inv;
	ASSERT(d * inv == 1);
	kc->kc_cache = cp;
	kc->kc_inv = inv;
	kc->kc_shift = t;
	if (!kmem_debugging(cp))
		cp->cache_kclass = (uint16_t)((uintptr_t)kc - (uintptr_t)kmalloc_class);
}

/* Does cp belong to kmalloc?  (Its private data names it; any cache may have private data.) */
static bool kmalloc_is_class(const kmem_cache_t *cp)
{
	uintptr_t kc = (uintptr_t)cp->cache_private, base = (uintptr_t)kmalloc_class;

	return kc - base - sizeof(kmalloc_class[0]) < sizeof(kmalloc_class) - sizeof(kmalloc_class[0]) &&
	       (kc - base) % sizeof(kmalloc_class[0]) == 0 &&
	       ((const struct kmalloc_class *)kc)->kc_cache == cp;
}

/*
 * Make class i's cache (dma: its dma-kmalloc twin) and its kfree data,
 * then publish it in kmalloc_caches; 0, or -1 when there is no memory.
 */
static int kmalloc_class_make(unsigned dma, unsigned i)
{
	struct kmalloc_class *kc = &kmalloc_class[1 + dma * KMALLOC_NCLASSES + i];
	size_t sz = kmalloc_class_size(i);
	char name[KMEM_NAMELEN];
	kmem_cache_t *cp;

	snprintf(name, sizeof(name), "%skmalloc-%lu", dma ? "dma-" : "", (unsigned long)sz);
	cp = kmem_cache_create(name, sz, 0, NULL, NULL, NULL, kc, NULL, dma ? KMC_DMA : 0);
	if (cp == NULL)
		return -1;
	kmalloc_class_init(kc, cp);
	__atomic_store_n(&kmalloc_caches[dma][i], cp, __ATOMIC_RELEASE);
	if (!dma)
		__atomic_store_n(&kmalloc_hit[i], cp, __ATOMIC_RELEASE);
	return 0;
}

/* The cache of class i (dma or not), made now if it does not exist yet; NULL: no memory. */
/* The cache of class i (dma or not), made now under the class lock if it does not exist yet. */
static kmem_cache_t *kmalloc_class_try(unsigned dma, unsigned i)
{
	kmem_cache_t *cp;

	spin_lock(&kmalloc_class_lock);
	if (kmalloc_caches[dma][i] == NULL)
		(void)kmalloc_class_make(dma, i);
	cp = kmalloc_caches[dma][i];
	spin_unlock(&kmalloc_class_lock);
	return cp;
}

/*
 * The cache of class i, made on demand with the request's semantics (§1):
 * KM_PANIC holds failure injection off meanwhile, and a request that may
 * sleep reaps once and tries again (outside the class lock: a reap calls
 * every hart).  NULL: no memory.
 */
static __attribute__((noinline)) kmem_cache_t *kmalloc_class_get(unsigned dma, unsigned i,
								 int kmflag)
{
	kmem_cache_t *cp;

	if (kmflag & KM_PANIC)
		fail_hold();
	cp = kmalloc_class_try(dma, i);
	if (cp == NULL && !(kmflag & KM_NOSLEEP)) {
		kmem_reap();
		cp = kmalloc_class_try(dma, i);
	}
	if (kmflag & KM_PANIC)
		fail_release();
	return cp;
}

/* Make the large-record cache; 0, or -1 when there is no memory. */
static int kmalloc_large_make(void)
{
	kmem_cache_t *cp = kmem_cache_create("kmalloc_large", sizeof(struct kmalloc_large), 0,
					     NULL, NULL, NULL, NULL, NULL, 0);

	__atomic_store_n(&kmalloc_large_cache, cp, __ATOMIC_RELEASE);
	return cp == NULL ? -1 : 0;
}

/* The large-record cache, made now if it does not exist yet (§2); NULL: no memory. */
static __attribute__((noinline)) kmem_cache_t *kmalloc_large_get(void)
{
	kmem_cache_t *cp;

	spin_lock(&kmalloc_class_lock);
	if (kmalloc_large_cache == NULL)
		(void)kmalloc_large_make();
	cp = kmalloc_large_cache;
	spin_unlock(&kmalloc_class_lock);
	return cp;
}

int kmalloc_init(vmem_t *large)
{
	kmalloc_large_arena = large;
	spin_init(&kmalloc_large_lock, "kmalloc_large", LOCK_RANK_KMEM_SLAB);
	spin_init(&kmalloc_class_lock, "kmalloc_class", LOCK_RANK_KMALLOC_CLASS);
	memset(kmalloc_large_hash, 0, sizeof(kmalloc_large_hash));
	kmalloc_size_index_init();
	if (kmalloc_ondemand)
		return 0;
	for (unsigned i = 0; i < KMALLOC_NCLASSES; i++)
		if (kmalloc_class_make(0, i) != 0 || kmalloc_class_make(1, i) != 0)
			return -1;
	return kmalloc_large_make();
}

void kmalloc_fini(void)
{
	for (unsigned b = 0; b < KMALLOC_LARGE_HASH; b++)
		if (kmalloc_large_hash[b] != NULL)
			panic("kmalloc_fini: large allocation %p still allocated",
			      (void *)kmalloc_large_hash[b]->kl_addr);
	for (unsigned d = 0; d < 2; d++)
		for (unsigned i = 0; i < KMALLOC_NCLASSES; i++)
			if (kmalloc_caches[d][i] != NULL) {
				kmem_cache_destroy(kmalloc_caches[d][i]);
				kmalloc_caches[d][i] = NULL;
			}
	for (unsigned i = 0; i < KMALLOC_NCLASSES; i++)
		kmalloc_hit[i] = &kmalloc_stub;
	if (kmalloc_large_cache != NULL)
		kmem_cache_destroy(kmalloc_large_cache);
	kmalloc_large_cache = NULL;
	kmalloc_large_arena = NULL;
	memset(kmalloc_class, 0, sizeof(kmalloc_class));
	spin_destroy(&kmalloc_class_lock);
}

/* Bucket of a large allocation's address. */
static unsigned kmalloc_large_bucket(uintptr_t addr)
{
	return (unsigned)((addr >> 12) ^ (addr >> 20)) & (KMALLOC_LARGE_HASH - 1);
}

/* A request above the largest class: the large arena, recorded in the hash. */
static void *kmalloc_large(size_t size, int kmflag)
{
	kmem_cache_t *lc;
	struct kmalloc_large *kl;
	uintptr_t addr;
	irqflags_t fl;
	unsigned b;

	if (kmalloc_large_arena == NULL || (kmflag & KM_DMA))
		return NULL;
	lc = __atomic_load_n(&kmalloc_large_cache, __ATOMIC_ACQUIRE);
	if (lc == NULL && (lc = kmalloc_large_get()) == NULL)
		return NULL;
	kl = kmem_cache_alloc(lc, KM_NOSLEEP);
	if (kl == NULL)
		return NULL;
	addr = vmem_xalloc(kmalloc_large_arena, size, 0, 0, 0, 0, 0,
			   (kmflag & KM_NOSLEEP) ? VM_NOSLEEP : VM_SLEEP);
	if (addr == 0) {
		kmem_cache_free(lc, kl);
		return NULL;
	}
	kl->kl_addr = addr;
	kl->kl_size = size;
	b = kmalloc_large_bucket(addr);
	fl = kmem_lock(&kmalloc_large_lock);
	kl->kl_next = kmalloc_large_hash[b];
	kmalloc_large_hash[b] = kl;
	kmem_unlock(&kmalloc_large_lock, fl);
	return (void *)addr;
}

/* Find (and with remove, unlink) the large record of ptr; NULL if none. */
static struct kmalloc_large *kmalloc_large_find(const void *ptr, bool remove)
{
	struct kmalloc_large **pp = &kmalloc_large_hash[kmalloc_large_bucket((uintptr_t)ptr)], *kl;
	irqflags_t fl = kmem_lock(&kmalloc_large_lock);

	for (; (kl = *pp) != NULL; pp = &kl->kl_next)
		if (kl->kl_addr == (uintptr_t)ptr) {
			if (remove)
				*pp = kl->kl_next;
			break;
		}
	kmem_unlock(&kmalloc_large_lock, fl);
	return kl;
}

/* kmalloc with an explicit node (-1: the calling hart's, through the magazines). */
static void *kmalloc_common(size_t size, int kmflag, int node)
{
	kmem_cache_t *cp;
	void *buf;

	if ((kmflag & ~KM_FLAGS_VALID) != 0)
		panic("kmalloc(%lu, flags 0x%x): invalid flags", (unsigned long)size, kmflag);
	if (size == 0)		/* a real, freeable buffer of the smallest class */
		size = 1;
	if (size > KMALLOC_MAX_CLASS) {
		if (kmflag & KM_PANIC)
			fail_hold();	/* may not fail: its record and range neither */
		buf = kmalloc_large(size, kmflag);
		if (kmflag & KM_PANIC)
			fail_release();
		if (buf == NULL && (kmflag & KM_PANIC))
			panic("kmalloc(%lu, flags 0x%x): out of memory", (unsigned long)size, kmflag);
		if (buf != NULL && (kmflag & KM_ZERO))
			memset(buf, 0, size);
		return buf;
	}
	cp = __atomic_load_n(&kmalloc_caches[(kmflag & KM_DMA) ? 1 : 0][kmalloc_index(size)],
			     __ATOMIC_ACQUIRE);
	if (cp == NULL && (cp = kmalloc_class_get((kmflag & KM_DMA) ? 1 : 0,
						  kmalloc_index(size), kmflag)) == NULL) {
		if (kmflag & KM_PANIC)
			panic("kmalloc(%lu, flags 0x%x): out of memory (making its class cache)",
			      (unsigned long)size, kmflag);
		return NULL;
	}
	buf = node < 0 ? kmem_cache_alloc(cp, kmflag & (KM_NOSLEEP | KM_PANIC)) :
	      kmem_cache_alloc_node(cp, kmflag & (KM_NOSLEEP | KM_PANIC), node);
	if (buf != NULL && (kmflag & KM_ZERO))
		memset(buf, 0, cp->cache_bufsize);
	return buf;
}

/* The cache of a request of size bytes without flags (the table), NULL until it is made. */
static inline kmem_cache_t *kmalloc_class_cache(size_t size)
{
	return __atomic_load_n(&kmalloc_caches[0][kmalloc_size_index[(size - 1) >> 3]],
			       __ATOMIC_RELAXED);
}

/* kmalloc of any size and flags; the common case first: no flag but KM_NOSLEEP, KM_PANIC. */
void *kmalloc_var(size_t size, int kmflag)
{
	kmem_cache_t *cp;

	if (__builtin_expect(size - 1 < KMALLOC_MAX_CLASS &&
			     (kmflag & ~(KM_NOSLEEP | KM_PANIC)) == 0 &&
			     (cp = kmalloc_class_cache(size)) != NULL, 1))
		return kmem_cache_alloc(cp, kmflag);
	return kmalloc_common(size, kmflag, -1);
}

void *kzalloc(size_t size, int kmflag) { return kmalloc_common(size, kmflag | KM_ZERO, -1); }
void *kmalloc_node(size_t size, int kmflag, int node) { return kmalloc_common(size, kmflag, node); }

/*
 * The kmalloc cache whose slab holds ptr, or NULL; panics (naming fn) when
 * ptr is inside a kmalloc slab but does not start a buffer, except when
 * freeing to a debug cache, whose free reports it through kmem_error.
 */
static kmem_cache_t *kmalloc_cache_of(const void *ptr, const char *fn, bool freeing)
{
	struct page *pg = page_lookup(virt_to_phys(ptr));
	struct kmem_slab *sp;
	kmem_cache_t *cp;
	uintptr_t off;

	if (pg == NULL || !(pg->pg_owner & 1))
		return NULL;
	sp = (struct kmem_slab *)(pg->pg_owner & ~(uintptr_t)1);
	cp = sp->slab_cache;
	if (!kmalloc_is_class(cp))
		return NULL;
	if (kmem_debugging(cp) && freeing)	/* the debug free classifies it (kmem_error) */
		return cp;
	off = (uintptr_t)ptr - sp->slab_first;
	if ((uintptr_t)ptr < sp->slab_first || off % cp->cache_chunksize != 0 ||
	    off / cp->cache_chunksize >= sp->slab_chunks)
		panic("%s(%p): not the start of a buffer of %s (slab %p, first buffer 0x%lx)", fn,
		      ptr, cp->cache_name, (void *)sp, (unsigned long)sp->slab_first);
	return cp;
}

/* kfree of everything but a non-debug kmalloc buffer (or a bad pointer, which panics). */
static __attribute__((noinline)) void kfree_slow(void *ptr)
{
	struct kmalloc_large *kl;
	kmem_cache_t *cp;

	if (ptr == NULL)
		return;
	if ((cp = kmalloc_cache_of(ptr, "kfree", true)) != NULL) {
		kmem_cache_free(cp, ptr);
		return;
	}
	if ((kl = kmalloc_large_find(ptr, true)) == NULL)
		panic("kfree(%p): not allocated by kmalloc (no kmalloc slab holds it and it is "
		      "no large allocation)", ptr);
	vmem_xfree(kmalloc_large_arena, kl->kl_addr, kl->kl_size);
	kmem_cache_free(kmalloc_large_cache, kl);
}

/*
 * The common case: the start of a buffer of a kmalloc class without
 * debugging (kmalloc_buf_class, kmem_impl.h), pushed on the hart's
 * magazine.  It reads the page descriptor, the slab header (its class
 * number, first buffer, count and node), the class (static, hot) and the
 * hart's magazine line: not the cache's properties.
 */
void kfree(void *ptr)
{
	const struct kmalloc_class *kc;
	unsigned home;

	if (__builtin_expect((kc = kmalloc_buf_class(ptr, &home)) != NULL, 1))
		kmem_cache_free_home(kc->kc_cache, ptr, home);
	else
		kfree_slow(ptr);
}

size_t ksize(const void *ptr)
{
	struct kmalloc_large *kl;
	kmem_cache_t *cp;

	if ((cp = kmalloc_cache_of(ptr, "ksize", false)) != NULL)
		return cp->cache_bufsize;
	if ((kl = kmalloc_large_find(ptr, false)) == NULL)
		panic("ksize(%p): not allocated by kmalloc", ptr);
	return kl->kl_size;
}
