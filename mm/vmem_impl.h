/*
 * vmem_impl.h - vmem structures, constants and lock order (private to mm/vmem*.c
 * and white-box tests).  The theory statement is in mm/vmem.c.
 *
 * Locks (their ranks, in the kernel-wide order of mm/lock_order.h):
 *   1. vmem_list_lock      (VMEM_LIST) the list of all arenas (create,
 *                          destroy, dumps)
 *   2. vm_lock             (VMEM_ARENA) one arena; never two arena locks at
 *                          once: an arena drops its lock before calling its
 *                          source's import or release function, or a
 *                          quantum cache (whose kmem locks rank above it
 *                          come first: the caches call the arena holding
 *                          no kmem lock)
 *   3. the page source     (the page allocator's ZONE locks) may be called
 *                          with vm_lock held, so it must never call vmem
 *   4. vmem_seg_lock       (VMEM_SEG) the global segment-structure pool; a leaf
 * Every lock is taken with interrupts disabled on the local hart, so an
 * interrupt handler may use a VM_NOSLEEP arena.
 */
#ifndef MM_VMEM_IMPL_H
#define MM_VMEM_IMPL_H

#include "mm/vmem.h"
#include "mm/kmem.h"

/*
 * Segments per operation.  An allocation splits one free segment into at
 * most three (free, allocated, free): 2 new structures.  If it must import
 * first, the new span needs a span marker and a free segment: 2 more.  Adding
 * a span needs 2.  A free never needs one (coalescing only gives them back).
 * So 4 in the arena's reserve before any allocation makes it unable to fail
 * half-way.
 */
#define VMEM_SEGS_PER_ALLOC	4
/* Keep at most this many in an arena's reserve; the rest go to the pool. */
#define VMEM_SEGS_RESERVE_MAX	16

/*
 * Static boot supply, used before a page source exists: 1024 segments is
 * enough for a few dozen boot arenas with their spans and early allocations
 * (each arena needs 4 in reserve); 32 arenas covers the heap, DMA pools and
 * ID spaces made at boot.  Later arenas and segments come from pages.
 */
#define VMEM_BOOT_SEGS		1024
#define VMEM_BOOT_ARENAS	32

/* Initial hash size (inside the arena); grows x4 when chains average > 2. */
#define VMEM_HASH_INITIAL	16
#define VMEM_HASH_LOAD		2

/* How often an allocation may import and retry when others race for the span. */
#define VMEM_IMPORT_TRIES	8

/* Segment types (VMEM_ALLOC, VMEM_FREE and VMEM_SPAN are public). */
#define VMEM_HEAD		0x20	/* list heads inside the arena */
#define VMEM_RESERVE		0x40	/* unused structure in a reserve or the pool */

/*
 * A segment: a boundary tag.  Every span, free range and allocated range of
 * an arena has one.  Protected by the owning arena's vm_lock (or
 * vmem_seg_lock while in the global pool).
 */
struct vmem_seg {
	uintptr_t vs_start;		/* first address */
	uintptr_t vs_end;		/* one past the last address */
	struct vmem_seg *vs_anext;	/* next in address order (circular via vm_seg0) */
	struct vmem_seg *vs_aprev;	/* previous in address order */
	struct vmem_seg *vs_knext;	/* FREE: free list; ALLOC: hash chain;
					   SPAN: span list; RESERVE: reserve/pool */
	struct vmem_seg *vs_kprev;	/* FREE, SPAN: previous on that list */
	uint8_t vs_type;		/* VMEM_FREE, VMEM_ALLOC, VMEM_SPAN, ... */
	uint8_t vs_import;		/* SPAN: imported from the source */
};

/*
 * One quantum cache: a magazine-layer cache of objects of vqc_size bytes,
 * whose back end is this arena (vmem.c §4).  Set when the caches are
 * attached, read-only afterwards.
 */
struct vmem_qcache {
	vmem_t *vqc_arena;		/* the arena the objects come from */
	size_t vqc_size;		/* object size: a multiple of the quantum */
	kmem_cache_t *vqc_cache;	/* the cache, or NULL (none yet / detached) */
};

/* One arena.  Field groups follow what protects them. */
struct vmem {
	/* identity: set by vmem_create, read-only afterwards */
	char vm_name[VMEM_NAMELEN];	/* for dumps and messages */
	size_t vm_quantum;		/* allocation unit, a power of two */
	unsigned vm_qshift;		/* log2(vm_quantum) */
	vmem_t *vm_source;		/* where spans are imported from, or NULL */
	vmem_import_fn *vm_source_alloc; /* import function, or NULL */
	vmem_release_fn *vm_source_free; /* release function, or NULL */
	size_t vm_qcache_max;		/* largest size served by quantum caches */
	struct vmem_qcache vm_qcache[VMEM_NQCACHE_MAX]; /* (i + 1) quanta (vmem.c §4) */
	bool vm_boot;			/* struct from the static boot array */

	/* protected by vmem_list_lock */
	struct vmem *vm_next;		/* list of all arenas */

	/* protected by vm_lock */
	spinlock_t vm_lock;		/* the arena lock */
	struct vmem_seg vm_seg0;	/* head of the address-ordered segment list */
	struct vmem_seg vm_span0;	/* head of the address-ordered span list */
	struct vmem_seg *vm_rotor;	/* next fit: search starts here */
	uintptr_t vm_rotor_addr;	/* next fit: ... at or after this address */
	uint64_t vm_freemap;		/* bit i set <=> vm_freelist[i] non-empty */
	struct vmem_seg *vm_freelist[VMEM_FREELISTS]; /* free segs of size [2^i, 2^(i+1)) */
	struct vmem_seg **vm_hash;	/* allocated segments by start address */
	size_t vm_hash_mask;		/* buckets - 1 (a power of two minus one) */
	struct vmem_seg *vm_hash0[VMEM_HASH_INITIAL]; /* the first table */
	struct vmem_seg *vm_segfree;	/* reserve of unused segment structures */
	unsigned vm_nsegfree;		/* how many in the reserve */
	struct vmem_kstat vm_kstat;	/* statistics (computed fields left 0) */
};

/* Lowest set bit of a non-zero word. */
static inline unsigned vmem_lowbit(uint64_t x) { return mm_lowbit(x); }
/* floor(log2(x)) for x > 0. */
static inline unsigned vmem_highbit(uint64_t x) { return mm_highbit(x); }
static inline bool vmem_ispow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }
static inline size_t vmem_seg_size(const struct vmem_seg *vsp) { return vsp->vs_end - vsp->vs_start; }

/* Free list a free segment of `size` bytes lives on. */
static inline unsigned vmem_freelist_index(size_t size) { return vmem_highbit(size); }

/* Lock and unlock an arena (interrupts off on this hart while held). */
static inline irqflags_t vmem_lock(vmem_t *vmp)
{
	irqflags_t fl = irq_save();

	spin_lock(&vmp->vm_lock);
	return fl;
}

static inline void vmem_unlock(vmem_t *vmp, irqflags_t fl)
{
	spin_unlock(&vmp->vm_lock);
	irq_restore(fl);
}

/* vmem_seg.c: the segment supply and the hash table. */
bool vmem_populate(vmem_t *vmp, unsigned need);
struct vmem_seg *vmem_seg_get(vmem_t *vmp);
void vmem_seg_put(vmem_t *vmp, struct vmem_seg *vsp);
void vmem_seg_drain(vmem_t *vmp);
void vmem_hash_insert(vmem_t *vmp, struct vmem_seg *vsp);
struct vmem_seg *vmem_hash_remove(vmem_t *vmp, uintptr_t addr);
struct vmem_seg *vmem_hash_find(vmem_t *vmp, uintptr_t addr);
void vmem_hash_maybe_grow(vmem_t *vmp);
void vmem_hash_release(vmem_t *vmp);
void vmem_seg_init(void);
void vmem_seg_pool_stats(uint64_t *pool, uint64_t *pages, unsigned *boot_used);
void *vmem_meta_alloc(size_t size);
void vmem_meta_free(void *p, size_t size);

/*
 * vmem.c: the live quantum caches' allocation calls and frees (vm_kstat
 * holds those of caches already destroyed).  Called without the arena lock.
 */
void vmem_qcache_kstat(vmem_t *vmp, uint64_t *allocs, uint64_t *frees);

/* vmem_dump.c */
extern spinlock_t vmem_list_lock;
extern struct vmem *vmem_list;

#endif /* MM_VMEM_IMPL_H */
