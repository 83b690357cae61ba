/*
 * vmem.h - resource arenas (public interface).
 *
 * A vmem arena hands out ranges of an integer resource: kernel virtual
 * addresses, DMA pool memory, IDs.  It follows Bonwick & Adams, "Magazines
 * and Vmem" (USENIX 2001), sections 4-5.  The theory statement is at the top
 * of mm/vmem.c; structures and the lock order are in mm/vmem_impl.h.
 *
 * Addresses are uintptr_t and sizes size_t.  An arena never contains address
 * 0, so every allocation function returns 0 for "no memory" and nothing else
 * means failure.  A span may not wrap past the top of the address space.
 *
 * Pairing rules (the paper's, section 4.1): memory from vmem_alloc() goes back
 * with vmem_free(), memory from vmem_xalloc() with vmem_xfree(), always with
 * the size that was asked for.  Small vmem_alloc() sizes may be served by the
 * arena's quantum caches; vmem_xalloc() never is.
 */
#ifndef MM_VMEM_H
#define MM_VMEM_H

#include "mm/mm_platform.h"

typedef struct vmem vmem_t;

/* Import a span of `size` from `source`; returns its address or 0. */
typedef uintptr_t vmem_import_fn(vmem_t *source, size_t size, int vmflag);
/* Give a whole imported span back to `source`. */
typedef void vmem_release_fn(vmem_t *source, uintptr_t addr, size_t size);

/*
 * Allocation flags (vmflag).  Exactly one of the sleep flags, at most one
 * policy.  No flags at all means VM_SLEEP | VM_INSTANTFIT.
 */
#define VM_SLEEP	0x0000	/* may reap caches and retry once, then fail (see vmem.c §5) */
#define VM_NOSLEEP	0x0001	/* fail at once if memory is not there */
#define VM_PANIC	0x0002	/* panic instead of returning 0 */
#define VM_INSTANTFIT	0x0000	/* default: constant-time good fit */
#define VM_BESTFIT	0x0010	/* smallest segment that fits */
#define VM_NEXTFIT	0x0020	/* first fit at or after the last allocation (IDs) */
#define VM_POLICIES	(VM_BESTFIT | VM_NEXTFIT)
#define VM_FLAGS_ALL	(VM_NOSLEEP | VM_PANIC | VM_POLICIES)

/* Segment types, for vmem_walk() and vmem_size() masks. */
#define VMEM_ALLOC	0x01
#define VMEM_FREE	0x02
#define VMEM_SPAN	0x10	/* whole spans (vmem_walk only) */

#define VMEM_NAMELEN	32	/* arena names, NUL included */
#define VMEM_NQCACHE_MAX 16	/* quantum caches: 1..16 quanta */
#define VMEM_FREELISTS	64	/* one per power of two of a size_t */

/*
 * Create an arena named `name` over [base, base + size) (size 0: start
 * empty) with allocation unit `quantum` (a power of two).  With a `source`,
 * the arena imports spans through afunc and gives whole free imported spans
 * back through ffunc.  Sizes up to `qcache_max` (rounded to quanta, at most
 * VMEM_NQCACHE_MAX quanta) are served by quantum caches once the object
 * caches exist (vmem_qcache_attach_all).  Returns NULL when out of
 * memory for the arena itself; panics on invalid arguments.
 */
vmem_t *vmem_create(const char *name, uintptr_t base, size_t size, size_t quantum,
		    vmem_import_fn *afunc, vmem_release_fn *ffunc, vmem_t *source,
		    size_t qcache_max, int vmflag);

/* Destroy an arena; reports leaks, releases imported spans to the source. */
void vmem_destroy(vmem_t *vmp);

/* Add the span [base, base + size); returns base or 0 (out of segments). */
uintptr_t vmem_add(vmem_t *vmp, uintptr_t base, size_t size, int vmflag);

/* Allocate `size` (rounded up to the quantum); 0 on failure. */
uintptr_t vmem_alloc(vmem_t *vmp, size_t size, int vmflag);
void vmem_free(vmem_t *vmp, uintptr_t addr, size_t size);

/*
 * Constrained allocation: the result `addr` satisfies
 *   addr % align == phase          (align 0 means the quantum)
 *   [addr, addr + size) does not cross a multiple of nocross (0: no limit)
 *   minaddr <= addr and addr + size <= maxaddr          (0: no limit)
 * align, phase and nocross must be multiples of the quantum; align and
 * nocross powers of two; phase < align; nocross >= the aligned size.
 * Inconsistent constraints panic (they are a bug in the caller).
 */
uintptr_t vmem_xalloc(vmem_t *vmp, size_t size, size_t align, size_t phase,
		      size_t nocross, uintptr_t minaddr, uintptr_t maxaddr, int vmflag);
void vmem_xfree(vmem_t *vmp, uintptr_t addr, size_t size);

/* Bytes in segments of the given types (VMEM_ALLOC, VMEM_FREE, or both). */
size_t vmem_size(vmem_t *vmp, int typemask);

/*
 * Call fn(arg, start, size, type) for every segment of the given types in
 * address order, with the arena locked: fn must not call into this arena.
 */
void vmem_walk(vmem_t *vmp, int typemask,
	       void (*fn)(void *arg, uintptr_t start, size_t size, int type), void *arg);

/*
 * Find the segment containing addr.  Returns its type (VMEM_ALLOC or
 * VMEM_FREE) and bounds, or 0 when addr is in no span.  Uses a trylock so a
 * fault handler may call it; returns -1 when the arena lock is busy.
 */
int vmem_lookup(vmem_t *vmp, uintptr_t addr, uintptr_t *startp, uintptr_t *endp);

/* True if [addr, addr + size) is exactly one live segment-layer allocation. */
bool vmem_is_allocated(vmem_t *vmp, uintptr_t addr, size_t size);

const char *vmem_name(const vmem_t *vmp);
size_t vmem_quantum(const vmem_t *vmp);

/* ------------------------------------------------------------ statistics */

/* Per-arena counters (a snapshot is taken under the arena lock). */
struct vmem_kstat {
	uint64_t vk_mem_inuse;		/* bytes allocated */
	uint64_t vk_mem_total;		/* bytes in all spans */
	uint64_t vk_mem_import;		/* bytes in imported spans */
	uint64_t vk_alloc;		/* successful allocations */
	uint64_t vk_free;		/* frees */
	uint64_t vk_fail;		/* allocations that returned 0 */
	uint64_t vk_search;		/* free segments examined by searches */
	uint64_t vk_wait;		/* VM_SLEEP reap-and-retry rounds */
	uint64_t vk_import;		/* spans imported from the source */
	uint64_t vk_release;		/* spans released to the source */
	uint64_t vk_add;		/* spans added with vmem_add/vmem_create */
	uint64_t vk_populate_fail;	/* operations refused for want of segments */
	uint64_t vk_hash_grow;		/* hash table resizes */
	uint64_t vk_qcache_alloc;	/* allocations served by quantum caches */
	uint64_t vk_qcache_free;	/* frees handed to quantum caches */
	uint64_t vk_nspan;		/* spans now */
	uint64_t vk_nfree_seg;		/* free segments now */
	uint64_t vk_nalloc_seg;		/* allocated segments now */
	uint64_t vk_hash_size;		/* hash buckets now */
	uint64_t vk_hash_max_chain;	/* longest hash chain (computed by vmem_stats) */
	uint64_t vk_freelist[VMEM_FREELISTS];	/* free segments per list (computed) */
};
void vmem_stats(vmem_t *vmp, struct vmem_kstat *vk);

/* ----------------------------------------------------------- environment */

/*
 * Where vmem gets memory for its own structures (segment structures, hash
 * tables, arenas beyond the static boot set).  Until one is set, vmem lives
 * on static arrays only.  alloc returns zeroed or unzeroed memory of `size`
 * bytes (a multiple of MM_PAGE_SIZE), aligned to a page, or NULL; it is
 * called with an arena lock held and so must never call into vmem.  The
 * kernel passes the page allocator.
 */
struct vmem_page_source {
	void *(*vps_alloc)(size_t size);		/* size bytes, page aligned, or NULL */
	void (*vps_free)(void *p, size_t size);		/* give back what vps_alloc gave */
};
void vmem_page_source_set(const struct vmem_page_source *src);

/*
 * Quantum caches are made by the object caches' magazine layer
 * (kmem_zcache_create, vmem.c §4).  kmem_init attaches them to every arena
 * with qcache_max > 0 made before it; kmem_fini detaches them (their objects
 * go back to the arenas).  Arenas made while kmem is up get them at once.
 */
void vmem_qcache_attach_all(void);
void vmem_qcache_detach_all(void);

/* Called by VM_SLEEP allocations before their retry (e.g. the slab reaper). */
void vmem_reclaim_hook_set(void (*fn)(void));
/* Segment-layer allocations (arena lock taken) made by hart cpu since boot. */
uint64_t vmem_levelstat_cpu(unsigned cpu);

/* ---------------------------------------------------------------- dumps */

/*
 * illumos ::vmem style: one line per arena (children indented under their
 * source) with in-use, total, imported, allocations and failures.  `out` is
 * printk-like.
 */
void vmem_dump_all(int (*out)(const char *fmt, ...));
/* Every counter of one arena, the free-list occupancy, and (segs) each segment. */
void vmem_dump(vmem_t *vmp, bool segs, int (*out)(const char *fmt, ...));
/* Find an arena by name (for the console command); NULL if none. */
vmem_t *vmem_find(const char *name);

/*
 * Check every invariant of the arena (see vmem.c §2).  Returns true, or
 * false with a one-line reason in err.  Takes the arena lock.
 */
bool vmem_check(vmem_t *vmp, char *err, size_t errlen);

#endif /* MM_VMEM_H */
