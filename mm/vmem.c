/*
 * vmem.c - resource arenas: the general allocator of integer ranges.
 *
 * Bonwick & Adams, "Magazines and Vmem: Extending the Slab Allocator to Many
 * CPUs and Arbitrary Resources", USENIX 2001, sections 4 and 5.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * An *arena* manages a set of integer ranges.  The ranges given to it are
 * *spans* (vmem_create's initial range, vmem_add, or spans *imported* from a
 * *source* arena).  Inside a span every address belongs to exactly one
 * *segment*, free or allocated.  The *quantum* is the unit of everything: a
 * power of two; spans, allocations and constraints are multiples of it.
 * Arenas stack: the kernel heap imports from a virtual-address arena; an ID
 * space is an arena of quantum 1 used with next fit.
 *
 * Allocation policies (vmflag):
 *   instant fit  (default) take the first segment of the smallest free list
 *                whose every segment is large enough: constant time, and
 *                within a factor of two of best fit (paper §4.3).
 *   best fit     the smallest free segment that fits.
 *   next fit     the first fit at or after the end of the last next-fit
 *                allocation, wrapping around: IDs cycle instead of being
 *                reused at once.
 * vmem_xalloc adds constraints (align, phase, nocross, minaddr, maxaddr);
 * every policy honours them.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * Each segment has a struct vmem_seg (a boundary tag; see vmem_impl.h).
 *   - The address list (vs_anext/vs_aprev, circular through vm_seg0) holds
 *     every span marker and segment in address order.  A span marker
 *     (VMEM_SPAN) precedes the segments of its span, which tile it exactly:
 *     the first starts at the span's start, each starts where the previous
 *     ends, the last ends at the span's end.
 *   - Spans never overlap; they are also on the span list (vm_span0), in
 *     address order.
 *   - Free segments are on free list i = floor(log2(size)), i.e. list i holds
 *     sizes in [2^i, 2^(i+1)); bit i of vm_freemap is set exactly when list i
 *     is non-empty.  So "the smallest list whose every member fits `size`" is
 *     one find-first-set: instant fit is O(1) whatever the number of
 *     segments.
 *   - Allocated segments are in a hash table keyed by start address, so a
 *     free finds its segment in O(1); the table grows four-fold when the
 *     average chain passes 2 (with a page source; without one, chains grow).
 *   - Coalescing is immediate: no two free segments are adjacent in the
 *     address list (a span marker separates spans, so segments of different
 *     spans never merge, and an imported span can be handed back whole).
 *   - An imported span that becomes entirely free is released to its
 *     source at once; so is a span just imported that the request it was
 *     imported for did not use (vmem_import_alloc), so an arena never holds
 *     an imported span with nothing allocated in it.
 *   - The statistics agree with the lists (vmem_check() verifies all of
 *     this; the host tests call it after every operation).
 *
 * 3. Locking and lock order
 * -------------------------
 * One spinlock per arena (vm_lock), taken with interrupts disabled.  An
 * arena never holds its lock while calling its source (import, release) or
 * a quantum cache, so arena locks never nest.  The segment supply
 * (vmem_seg.c) has a leaf lock; the page source may be called with vm_lock
 * held and therefore must not call vmem.  The full order is in vmem_impl.h.
 *
 * Never recursing ("populate", paper §4.4): before each allocation the arena
 * tops up a private reserve of segment structures to the most one operation
 * can use (VMEM_SEGS_PER_ALLOC), from a global pool that is fed first by a
 * static boot array and then by pages from the page source.  After that the
 * operation cannot fail half-way and never allocates from any arena.
 *
 * 4. The per-hart layer: quantum caches
 * -------------------------------------
 * vmem itself has no per-hart state.  Most allocations of a heap-like arena
 * are of one to a few quanta; the paper puts object caches in front of those
 * sizes (§5, "quantum caching"), whose per-hart magazines make them
 * lock-free on a hit.  An arena with qcache_max > 0 gets one magazine-layer
 * cache per multiple of the quantum up to qcache_max, made with
 * kmem_zcache_create (mm/kmem.c §1: the same per-hart magazines and
 * per-node depots as the object caches, over a back end of our own): its
 * bulk import takes objects from the arena with vmem_xalloc, its release
 * gives them back with vmem_xfree, which never go through the caches: that
 * is why vmem_alloc must pair with vmem_free and vmem_xalloc with
 * vmem_xfree.  The caches exist once the object caches do: an arena made
 * before kmem_init gets them when kmem_init calls vmem_qcache_attach_all(),
 * and kmem_fini takes them away (vmem_qcache_detach_all()); until then
 * every size goes to the segment layer.
 *   A quantum-cache hit touches no arena state: vk_qcache_alloc and
 * vk_qcache_free are not counted on the hit path but summed when read
 * (vmem_qcache_kstat: each cache's allocations + failures, and frees, from
 * its per-hart statistics), plus vm_kstat's counts of caches already
 * destroyed.
 *
 * 5. Failure semantics
 * --------------------
 * No arena contains address 0 (vmem_add panics on a span that does, or that
 * wraps past the top of the address space), so 0 is the one failure value.
 *   - VM_NOSLEEP: return 0 at once if neither the arena nor an import can
 *     satisfy the request.
 *   - VM_SLEEP: there is no scheduler to wait on.  On failure the arena reaps
 *     its quantum caches and those of its sources, calls the reclaim hook
 *     (the slab reaper), and retries once; then it returns 0.  It never
 *     blocks and never loops forever.
 *   - VM_PANIC: panic naming the arena and request instead of returning 0.
 *   - Running out of segment structures (no page source, or the page source
 *     empty) is an ordinary failure, counted in vk_populate_fail.
 *   - Failure injection (mm/fail.c): with a rate set, one request in N below
 *     the quantum caches fails at once (no reap, no retry), VM_SLEEP and
 *     VM_NOSLEEP alike, counted in vk_fail; VM_PANIC requests never, and
 *     they hold injection off for everything they call (imports included).
 * Misuse panics, always (VERIFY class, not ASSERT): freeing a range that is
 * not allocated (wrong address, wrong size, double free), invalid or
 * inconsistent constraints, flags or spans, overlapping spans.  The message
 * names the function, the arena and every argument.  Checks happen before
 * anything is modified, and the arena lock is dropped before panicking, so
 * when a test catches the panic the arena is intact and usable.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * struct vmem_kstat in every arena counts bytes in use / total / imported,
 * allocations, frees, failures, segments examined by searches, imports,
 * releases, reaps, hash growth and quantum-cache traffic; segment counts and
 * free-list occupancy are computed on demand.  Per hart, vmem_hart counts
 * the allocations that reached the segment layer (vmem_levelstat_cpu).
 * vmem_dump_all() prints the illumos ::vmem table, vmem_dump() one arena in
 * full (vmem_dump.c), and vmem_check() verifies every invariant of §2.
 */
#include "mm/vmem_impl.h"
#include "mm/fail.h"
#include "mm/kmem.h"

/* A request, after validation: what vmem_fit() must satisfy. */
struct vmem_req {
	size_t vr_size;			/* bytes, a multiple of the quantum */
	size_t vr_align;		/* power of two, >= quantum */
	size_t vr_phase;		/* < vr_align */
	size_t vr_nocross;		/* power of two or 0 */
	uintptr_t vr_minaddr;		/* lowest start, 0: none */
	uintptr_t vr_maxaddr;		/* highest end, 0: none */
};

/* Per-hart statistics: each hart writes its own line, interrupts off. */
struct vmem_hart {
	uint64_t vh_alloc;		/* segment-layer attempts (arena lock taken) */
} MM_CACHE_ALIGNED;

static struct vmem vmem_boot_arenas[VMEM_BOOT_ARENAS];	/* before a page source */
static struct vmem_hart vmem_hart[MM_MAX_CPUS];		/* level counts (mm_levelstat_cpu) */
static void (*vmem_reclaim_hook)(void);			/* VM_SLEEP reclaim */
static int vmem_init_state;				/* 0, 1 running, 2 done */
spinlock_t vmem_list_lock;				/* guards vmem_list */
struct vmem *vmem_list;					/* every arena */

/* One-time setup of the global locks, safe against racing first callers. */
static void vmem_init_once(void)
{
	int expected = 0;

	if (__atomic_load_n(&vmem_init_state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&vmem_init_state, &expected, 1, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		spin_init(&vmem_list_lock, "vmem_list", LOCK_RANK_VMEM_LIST);
		vmem_seg_init();
		__atomic_store_n(&vmem_init_state, 2, __ATOMIC_RELEASE);
	}
	while (__atomic_load_n(&vmem_init_state, __ATOMIC_ACQUIRE) != 2)
		;
}

void vmem_reclaim_hook_set(void (*fn)(void)) { vmem_reclaim_hook = fn; }
uint64_t vmem_levelstat_cpu(unsigned cpu)
{
	return cpu < MM_MAX_CPUS ? __atomic_load_n(&vmem_hart[cpu].vh_alloc, __ATOMIC_RELAXED) : 0;
}
const char *vmem_name(const vmem_t *vmp) { return vmp->vm_name; }
size_t vmem_quantum(const vmem_t *vmp) { return vmp->vm_quantum; }

/* --------------------------------------------------------- list plumbing */

/* Insert vsp after prev in the address list. */
static void vmem_alist_insert(struct vmem_seg *prev, struct vmem_seg *vsp)
{
	vsp->vs_aprev = prev;
	vsp->vs_anext = prev->vs_anext;
	prev->vs_anext->vs_aprev = vsp;
	prev->vs_anext = vsp;
}

/* Remove vsp from the address list; the rotor moves to `survivor`. */
static void vmem_alist_remove(vmem_t *vmp, struct vmem_seg *vsp, struct vmem_seg *survivor)
{
	vsp->vs_aprev->vs_anext = vsp->vs_anext;
	vsp->vs_anext->vs_aprev = vsp->vs_aprev;
	if (vmp->vm_rotor == vsp) {
		vmp->vm_rotor = survivor;
		if (survivor == &vmp->vm_seg0)
			vmp->vm_rotor_addr = 0;
	}
}

/* Put a free segment on its free list. */
static void vmem_freelist_insert(vmem_t *vmp, struct vmem_seg *vsp)
{
	unsigned i = vmem_freelist_index(vmem_seg_size(vsp));
	struct vmem_seg *head = vmp->vm_freelist[i];

	vsp->vs_type = VMEM_FREE;
	vsp->vs_kprev = NULL;
	vsp->vs_knext = head;
	if (head != NULL)
		head->vs_kprev = vsp;
	vmp->vm_freelist[i] = vsp;
	vmp->vm_freemap |= 1ull << i;
	vmp->vm_kstat.vk_nfree_seg++;
}

/* Take a free segment off its free list (its size must not have changed). */
static void vmem_freelist_remove(vmem_t *vmp, struct vmem_seg *vsp)
{
	unsigned i = vmem_freelist_index(vmem_seg_size(vsp));

	ASSERT(vsp->vs_type == VMEM_FREE);
	if (vsp->vs_kprev != NULL)
		vsp->vs_kprev->vs_knext = vsp->vs_knext;
	else
		vmp->vm_freelist[i] = vsp->vs_knext;
	if (vsp->vs_knext != NULL)
		vsp->vs_knext->vs_kprev = vsp->vs_kprev;
	if (vmp->vm_freelist[i] == NULL)
		vmp->vm_freemap &= ~(1ull << i);
	vsp->vs_knext = vsp->vs_kprev = NULL;
	vmp->vm_kstat.vk_nfree_seg--;
}

/* ----------------------------------------------------------------- spans */

/* The span overlapping [base, end), or NULL; *prevp gets the span before it. */
static struct vmem_seg *vmem_span_find(vmem_t *vmp, uintptr_t base, uintptr_t end,
				       struct vmem_seg **prevp)
{
	struct vmem_seg *sp = vmp->vm_span0.vs_kprev;

	/* Walk back from the highest span: imports usually come in rising order. */
	while (sp != &vmp->vm_span0 && sp->vs_start >= end)
		sp = sp->vs_kprev;
	*prevp = sp;
	if (sp != &vmp->vm_span0 && sp->vs_end > base)
		return sp;
	return NULL;
}

/* Make [base, base + size) a span with one free segment.  Reserve: 2. */
static struct vmem_seg *vmem_span_create(vmem_t *vmp, struct vmem_seg *prev,
					 uintptr_t base, size_t size, bool import)
{
	struct vmem_seg *span = vmem_seg_get(vmp), *vsp = vmem_seg_get(vmp);
	struct vmem_seg *after;

	span->vs_type = VMEM_SPAN;
	span->vs_start = vsp->vs_start = base;
	span->vs_end = vsp->vs_end = base + size;
	span->vs_import = import;
	/* span list */
	span->vs_kprev = prev;
	span->vs_knext = prev->vs_knext;
	prev->vs_knext->vs_kprev = span;
	prev->vs_knext = span;
	/* address list: just before the next span's marker (or at the end) */
	after = span->vs_knext == &vmp->vm_span0 ? vmp->vm_seg0.vs_aprev
						 : span->vs_knext->vs_aprev;
	vmem_alist_insert(after, span);
	vmem_alist_insert(span, vsp);
	vmem_freelist_insert(vmp, vsp);
	vmp->vm_kstat.vk_nspan++;
	vmp->vm_kstat.vk_mem_total += size;
	if (import)
		vmp->vm_kstat.vk_mem_import += size;
	return vsp;
}

/* Remove a span whose only segment, vsp, is free and off the free list. */
static void vmem_span_destroy(vmem_t *vmp, struct vmem_seg *vsp)
{
	struct vmem_seg *span = vsp->vs_aprev;
	size_t size = vmem_seg_size(span);

	ASSERT(span->vs_type == VMEM_SPAN && span->vs_start == vsp->vs_start &&
	       span->vs_end == vsp->vs_end);
	vmem_alist_remove(vmp, vsp, &vmp->vm_seg0);
	vmem_alist_remove(vmp, span, &vmp->vm_seg0);
	span->vs_kprev->vs_knext = span->vs_knext;
	span->vs_knext->vs_kprev = span->vs_kprev;
	vmp->vm_kstat.vk_nspan--;
	vmp->vm_kstat.vk_mem_total -= size;
	if (span->vs_import)
		vmp->vm_kstat.vk_mem_import -= size;
	vmem_seg_put(vmp, vsp);
	vmem_seg_put(vmp, span);
}

/* Check a span's arguments; panics naming `fn` on misuse. */
static void vmem_span_verify(vmem_t *vmp, const char *fn, uintptr_t base, size_t size)
{
	if (base == 0 || size == 0 || base + size < base || base + size == 0 ||
	    ((base | size) & (vmp->vm_quantum - 1)) != 0)
		panic("%s(%s, 0x%lx, 0x%lx): span must be non-empty, quantum (0x%lx) aligned, "
		      "exclude address 0 and not wrap", fn, vmp->vm_name, (unsigned long)base,
		      (unsigned long)size, (unsigned long)vmp->vm_quantum);
}

uintptr_t vmem_add(vmem_t *vmp, uintptr_t base, size_t size, int vmflag)
{
	struct vmem_seg *prev, *sp;
	irqflags_t fl;

	vmem_span_verify(vmp, "vmem_add", base, size);
	fl = vmem_lock(vmp);
	sp = vmem_span_find(vmp, base, base + size, &prev);
	if (sp != NULL) {
		uintptr_t s = sp->vs_start, e = sp->vs_end;

		vmem_unlock(vmp, fl);
		panic("vmem_add(%s, 0x%lx, 0x%lx): overlaps span [0x%lx, 0x%lx)", vmp->vm_name,
		      (unsigned long)base, (unsigned long)size, (unsigned long)s, (unsigned long)e);
	}
	if (!vmem_populate(vmp, 2)) {
		vmem_unlock(vmp, fl);
		if (vmflag & VM_PANIC)
			panic("vmem_add(%s, 0x%lx, 0x%lx): out of segment structures",
			      vmp->vm_name, (unsigned long)base, (unsigned long)size);
		return 0;
	}
	vmem_span_create(vmp, prev, base, size, false);
	vmp->vm_kstat.vk_add++;
	vmem_unlock(vmp, fl);
	return base;
}

/* ------------------------------------------------------------ searching */

/* Smallest x >= start with x % align == phase (may wrap: caller checks x < start). */
static inline uintptr_t vmem_phase_up(uintptr_t start, size_t align, size_t phase)
{
	return ((start - phase + align - 1) & ~(uintptr_t)(align - 1)) + phase;
}

/* Where in vsp the request fits (lowest address), if it does. */
static bool vmem_fit(const struct vmem_req *rq, const struct vmem_seg *vsp, uintptr_t *addrp)
{
	uintptr_t start = vsp->vs_start, end = vsp->vs_end, addr;

	if (start < rq->vr_minaddr)
		start = rq->vr_minaddr;
	if (rq->vr_maxaddr != 0 && end > rq->vr_maxaddr)
		end = rq->vr_maxaddr;
	if (start >= end || end - start < rq->vr_size)
		return false;
	addr = vmem_phase_up(start, rq->vr_align, rq->vr_phase);
	if (addr < start)
		return false;
	if (rq->vr_nocross != 0 &&
	    ((addr ^ (addr + rq->vr_size - 1)) & ~(uintptr_t)(rq->vr_nocross - 1)) != 0) {
		uintptr_t boundary = (addr | (rq->vr_nocross - 1)) + 1;

		addr = vmem_phase_up(boundary, rq->vr_align, rq->vr_phase);
		if (boundary == 0 || addr < boundary)
			return false;
	}
	if (addr > end - rq->vr_size)
		return false;
	*addrp = addr;
	return true;
}

/*
 * Search the free lists from `first` up.  First fit within lists (instant
 * fit), or the smallest fit in the lowest list that has one (best fit: every
 * segment of a higher list is larger).
 */
static struct vmem_seg *vmem_search_lists(vmem_t *vmp, const struct vmem_req *rq,
					  unsigned first, bool best, uintptr_t *addrp)
{
	uint64_t map = first >= VMEM_FREELISTS ? 0 : vmp->vm_freemap & (~0ull << first);

	for (; map != 0; map &= map - 1) {
		struct vmem_seg *vsp, *found = NULL;
		uintptr_t addr;

		for (vsp = vmp->vm_freelist[vmem_lowbit(map)]; vsp != NULL; vsp = vsp->vs_knext) {
			vmp->vm_kstat.vk_search++;
			if (!vmem_fit(rq, vsp, &addr))
				continue;
			if (found == NULL || vmem_seg_size(vsp) < vmem_seg_size(found)) {
				found = vsp;
				*addrp = addr;
			}
			if (!best)
				break;
		}
		if (found != NULL)
			return found;
	}
	return NULL;
}

/* Next fit: walk the address list from the rotor, wrapping once. */
static struct vmem_seg *vmem_search_next(vmem_t *vmp, const struct vmem_req *rq,
					 uintptr_t *addrp)
{
	struct vmem_seg *first = vmp->vm_rotor, *vsp;
	struct vmem_req past = *rq;

	if (past.vr_minaddr < vmp->vm_rotor_addr)
		past.vr_minaddr = vmp->vm_rotor_addr;
	if (first->vs_type == VMEM_FREE) {
		vmp->vm_kstat.vk_search++;
		if (vmem_fit(&past, first, addrp))
			return first;
	}
	for (vsp = first->vs_anext;; vsp = vsp->vs_anext) {
		if (vsp->vs_type == VMEM_FREE) {
			vmp->vm_kstat.vk_search++;
			if (vmem_fit(rq, vsp, addrp))
				return vsp;
		}
		if (vsp == first)
			return NULL;
	}
}

/* Smallest list index whose every segment is at least `size` bytes. */
static inline unsigned vmem_list_all_fit(size_t size)
{
	return vmem_ispow2(size) ? vmem_highbit(size) : vmem_highbit(size) + 1;
}

/* Pick a free segment and an address in it for the request, per policy. */
static struct vmem_seg *vmem_find_fit(vmem_t *vmp, const struct vmem_req *rq, int vmflag,
				      uintptr_t *addrp)
{
	struct vmem_seg *vsp;
	size_t slack;

	if (vmflag & VM_NEXTFIT)
		return vmem_search_next(vmp, rq, addrp);
	if (vmflag & VM_BESTFIT)
		return vmem_search_lists(vmp, rq, vmem_highbit(rq->vr_size), true, addrp);
	/* Instant fit: lists where any segment fits, alignment slack included. */
	slack = rq->vr_align > vmp->vm_quantum ? rq->vr_align - vmp->vm_quantum : 0;
	if (rq->vr_size + slack >= rq->vr_size) {
		vsp = vmem_search_lists(vmp, rq, vmem_list_all_fit(rq->vr_size + slack),
					false, addrp);
		if (vsp != NULL)
			return vsp;
	}
	/* Nothing large enough for sure: the lists below may still hold a fit. */
	return vmem_search_lists(vmp, rq, vmem_highbit(rq->vr_size), false, addrp);
}

/* --------------------------------------------------------- allocating */

/* Carve [addr, addr + size) out of free segment vsp.  Reserve: 2. */
static void vmem_seg_alloc(vmem_t *vmp, struct vmem_seg *vsp, uintptr_t addr, size_t size)
{
	ASSERT(vsp->vs_type == VMEM_FREE && addr >= vsp->vs_start &&
	       addr + size <= vsp->vs_end);
	vmem_freelist_remove(vmp, vsp);
	if (addr + size < vsp->vs_end) {
		struct vmem_seg *tail = vmem_seg_get(vmp);

		tail->vs_start = addr + size;
		tail->vs_end = vsp->vs_end;
		vmem_alist_insert(vsp, tail);
		vmem_freelist_insert(vmp, tail);
		vsp->vs_end = addr + size;
	}
	if (addr > vsp->vs_start) {
		struct vmem_seg *head = vmem_seg_get(vmp);

		head->vs_start = vsp->vs_start;
		head->vs_end = addr;
		vmem_alist_insert(vsp->vs_aprev, head);
		vmem_freelist_insert(vmp, head);
		vsp->vs_start = addr;
		if (vmp->vm_rotor == vsp)
			vmp->vm_rotor = head;
	}
	vsp->vs_type = VMEM_ALLOC;
	vmem_hash_insert(vmp, vsp);
	vmp->vm_kstat.vk_nalloc_seg++;
	vmp->vm_kstat.vk_mem_inuse += size;
	vmp->vm_kstat.vk_alloc++;
}

/* Search and, on success, allocate; vm_lock held, reserve populated. */
static uintptr_t vmem_alloc_locked(vmem_t *vmp, const struct vmem_req *rq, int vmflag)
{
	uintptr_t addr;
	struct vmem_seg *vsp = vmem_find_fit(vmp, rq, vmflag, &addr);

	if (vsp == NULL)
		return 0;
	vmem_seg_alloc(vmp, vsp, addr, rq->vr_size);
	if (vmflag & VM_NEXTFIT) {
		vmp->vm_rotor = vsp;	/* vmem_seg_alloc keeps vsp as the allocated part */
		vmp->vm_rotor_addr = addr + rq->vr_size;
	}
	vmem_hash_maybe_grow(vmp);
	return addr;
}

/* Span size to import so that any placement the request needs fits. */
static size_t vmem_import_size(vmem_t *vmp, const struct vmem_req *rq)
{
	size_t size = rq->vr_size, q;

	if (rq->vr_align > vmp->vm_quantum)
		size += rq->vr_align - vmp->vm_quantum;
	q = vmp->vm_source != NULL ? vmp->vm_source->vm_quantum : vmp->vm_quantum;
	if (q < vmp->vm_quantum)
		q = vmp->vm_quantum;
	if (size + q - 1 < size)
		return 0;
	return (size + q - 1) & ~(q - 1);
}

/*
 * The new span [span's start, end) if it is still one whole free segment
 * (nothing allocated from it): take it off the free list and out of the
 * arena, and return true; the caller gives it back to the source.
 */
static bool vmem_import_unused(vmem_t *vmp, struct vmem_seg *span)
{
	struct vmem_seg *vsp = span->vs_anext;

	ASSERT(span->vs_type == VMEM_SPAN && span->vs_import);
	if (vsp->vs_type != VMEM_FREE || vsp->vs_start != span->vs_start ||
	    vsp->vs_end != span->vs_end)
		return false;
	vmem_freelist_remove(vmp, vsp);
	vmem_span_destroy(vmp, vsp);
	vmp->vm_kstat.vk_release++;
	return true;
}

/*
 * Import a span from the source and allocate from the arena while still
 * holding the lock, so nobody else can take the new span first.  The lock
 * was dropped for the import, so the request may be served from room that
 * another hart freed meanwhile (or from another hart's import): a new span
 * left entirely free goes straight back, as does one that cannot serve the
 * request (constraints).  Otherwise an arena could keep an imported span
 * with nothing allocated in it, which no free would ever release.
 */
static uintptr_t vmem_import_alloc(vmem_t *vmp, const struct vmem_req *rq, int vmflag)
{
	size_t isize = vmem_import_size(vmp, rq);
	struct vmem_seg *prev, *vsp, *sp;
	uintptr_t base, addr = 0;
	bool unused = true;
	irqflags_t fl;

	if (isize == 0)
		return 0;
	base = vmp->vm_source_alloc(vmp->vm_source, isize, vmflag & ~VM_PANIC);
	if (base == 0)
		return 0;
	vmem_span_verify(vmp, "vmem import", base, isize);
	fl = vmem_lock(vmp);
	sp = vmem_span_find(vmp, base, base + isize, &prev);
	if (sp != NULL) {
		vmem_unlock(vmp, fl);
		panic("vmem import(%s): source returned [0x%lx, 0x%lx), overlapping a span",
		      vmp->vm_name, (unsigned long)base, (unsigned long)(base + isize));
	}
	if (vmem_populate(vmp, VMEM_SEGS_PER_ALLOC)) {
		vsp = vmem_span_create(vmp, prev, base, isize, true);
		sp = vsp->vs_aprev;		/* the span marker: never moves */
		vmp->vm_kstat.vk_import++;
		addr = vmem_alloc_locked(vmp, rq, vmflag);
		unused = vmem_import_unused(vmp, sp);
	}
	vmem_unlock(vmp, fl);
	if (unused)
		vmp->vm_source_free(vmp->vm_source, base, isize);
	return addr;
}

/* One attempt: the arena's free segments, then an import. */
static uintptr_t vmem_try_alloc(vmem_t *vmp, const struct vmem_req *rq, int vmflag)
{
	irqflags_t fl = vmem_lock(vmp);
	uintptr_t addr = 0;

	vmem_hart[cpu_id()].vh_alloc++;		/* interrupts are off under vm_lock */
	if (vmem_populate(vmp, VMEM_SEGS_PER_ALLOC))
		addr = vmem_alloc_locked(vmp, rq, vmflag);
	vmem_unlock(vmp, fl);
	if (addr == 0 && vmp->vm_source_alloc != NULL)
		addr = vmem_import_alloc(vmp, rq, vmflag);
	return addr;
}

/* Give cached memory back: this arena's quantum caches and its sources'. */
static void vmem_reap(vmem_t *vmp)
{
	for (vmem_t *v = vmp; v != NULL; v = v->vm_source) {
		for (unsigned i = 0; i < VMEM_NQCACHE_MAX; i++)
			if (v->vm_qcache[i].vqc_cache != NULL)
				kmem_cache_reap_now(v->vm_qcache[i].vqc_cache);
	}
	if (vmem_reclaim_hook != NULL)
		vmem_reclaim_hook();
}

/* An attempt, and for VM_SLEEP a reap and a second attempt (§5). */
static uintptr_t vmem_try_twice(vmem_t *vmp, const struct vmem_req *rq, int vmflag)
{
	uintptr_t addr = vmem_try_alloc(vmp, rq, vmflag);
	irqflags_t fl;

	if (addr == 0 && !(vmflag & VM_NOSLEEP)) {
		vmem_reap(vmp);
		addr = vmem_try_alloc(vmp, rq, vmflag);
		fl = vmem_lock(vmp);
		vmp->vm_kstat.vk_wait++;
		vmem_unlock(vmp, fl);
	}
	return addr;
}

/*
 * The segment layer with the failure semantics of §5.  A VM_PANIC request
 * is never failed by injection, nor is anything below it (fail_hold).
 */
static uintptr_t vmem_do_alloc(vmem_t *vmp, const struct vmem_req *rq, int vmflag)
{
	uintptr_t addr;
	irqflags_t fl;

	if (vmflag & VM_PANIC) {
		fail_hold();
		addr = vmem_try_twice(vmp, rq, vmflag);
		fail_release();
	} else {
		addr = fail_inject(FAIL_VMEM) ? 0 : vmem_try_twice(vmp, rq, vmflag);
	}
	if (addr != 0)
		return addr;
	fl = vmem_lock(vmp);
	vmp->vm_kstat.vk_fail++;
	vmem_unlock(vmp, fl);
	if (vmflag & VM_PANIC)
		panic("vmem_xalloc(%s, size 0x%lx, align 0x%lx, phase 0x%lx, nocross 0x%lx, "
		      "min 0x%lx, max 0x%lx, flags 0x%x): out of space", vmp->vm_name,
		      (unsigned long)rq->vr_size, (unsigned long)rq->vr_align,
		      (unsigned long)rq->vr_phase, (unsigned long)rq->vr_nocross,
		      (unsigned long)rq->vr_minaddr, (unsigned long)rq->vr_maxaddr, vmflag);
	return 0;
}

/* Panic unless vmflag is valid: known bits, at most one policy. */
static void vmem_flags_verify(vmem_t *vmp, const char *fn, size_t size, int vmflag)
{
	if ((vmflag & ~VM_FLAGS_ALL) != 0 || (vmflag & VM_POLICIES) == VM_POLICIES || size == 0)
		panic("%s(%s, 0x%lx, flags 0x%x): invalid flags or zero size", fn, vmp->vm_name,
		      (unsigned long)size, vmflag);
}

/* Round a size up to the quantum; panics if that overflows. */
static size_t vmem_round(vmem_t *vmp, const char *fn, size_t size)
{
	size_t r = (size + vmp->vm_quantum - 1) & ~(vmp->vm_quantum - 1);

	if (r < size)
		panic("%s(%s, 0x%lx): size overflows", fn, vmp->vm_name, (unsigned long)size);
	return r;
}

/* vmem_alloc below the quantum caches (out of line: the hit path builds no request). */
static __attribute__((noinline)) uintptr_t vmem_alloc_seg(vmem_t *vmp, size_t size, int vmflag)
{
	struct vmem_req rq = { 0 };

	rq.vr_size = size;
	rq.vr_align = vmp->vm_quantum;
	return vmem_do_alloc(vmp, &rq, vmflag);
}

uintptr_t vmem_alloc(vmem_t *vmp, size_t size, int vmflag)
{
	vmem_flags_verify(vmp, "vmem_alloc", size, vmflag);
	size = vmem_round(vmp, "vmem_alloc", size);
	if (size <= vmp->vm_qcache_max && !(vmflag & VM_NEXTFIT)) {
		kmem_cache_t *qc = vmp->vm_qcache[(size >> vmp->vm_qshift) - 1].vqc_cache;

		if (qc != NULL) {
			uintptr_t addr = (uintptr_t)kmem_cache_alloc(qc, (vmflag & VM_NOSLEEP) ?
								   KM_NOSLEEP : KM_SLEEP);

			if (addr == 0 && (vmflag & VM_PANIC))
				panic("vmem_alloc(%s, 0x%lx, flags 0x%x): quantum cache empty",
				      vmp->vm_name, (unsigned long)size, vmflag);
			return addr;
		}
	}
	return vmem_alloc_seg(vmp, size, vmflag);
}

/* Panic on constraints that are invalid or can never be met (paper §4.1). */
static void vmem_xalloc_verify(vmem_t *vmp, const struct vmem_req *rq, size_t align, int vmflag)
{
	const char *why = NULL;
	size_t q = vmp->vm_quantum;

	if (align != 0 && !vmem_ispow2(align))
		why = "align not a power of two";
	else if (((rq->vr_align | rq->vr_phase | rq->vr_nocross) & (q - 1)) != 0)
		why = "align, phase or nocross not a multiple of the quantum";
	else if (rq->vr_phase >= rq->vr_align)
		why = "phase >= align";
	else if (rq->vr_nocross != 0 && !vmem_ispow2(rq->vr_nocross))
		why = "nocross not a power of two";
	else if (rq->vr_nocross != 0 && (rq->vr_align > rq->vr_nocross ||
		 rq->vr_phase + rq->vr_size > rq->vr_nocross ||
		 rq->vr_phase + rq->vr_size < rq->vr_size))
		why = "overconstrained: nocross smaller than phase + size, or than align";
	else if (rq->vr_maxaddr != 0 && (rq->vr_minaddr >= rq->vr_maxaddr ||
		 rq->vr_maxaddr - rq->vr_minaddr < rq->vr_size))
		why = "overconstrained: [minaddr, maxaddr) smaller than size";
	if (why != NULL)
		panic("vmem_xalloc(%s, size 0x%lx, align 0x%lx, phase 0x%lx, nocross 0x%lx, "
		      "min 0x%lx, max 0x%lx, flags 0x%x): %s", vmp->vm_name,
		      (unsigned long)rq->vr_size, (unsigned long)align,
		      (unsigned long)rq->vr_phase, (unsigned long)rq->vr_nocross,
		      (unsigned long)rq->vr_minaddr, (unsigned long)rq->vr_maxaddr, vmflag, why);
}

uintptr_t vmem_xalloc(vmem_t *vmp, size_t size, size_t align, size_t phase,
		      size_t nocross, uintptr_t minaddr, uintptr_t maxaddr, int vmflag)
{
	struct vmem_req rq;

	vmem_flags_verify(vmp, "vmem_xalloc", size, vmflag);
	rq.vr_size = vmem_round(vmp, "vmem_xalloc", size);
	rq.vr_align = align != 0 ? align : vmp->vm_quantum;
	rq.vr_phase = phase;
	rq.vr_nocross = nocross;
	rq.vr_minaddr = minaddr;
	rq.vr_maxaddr = maxaddr;
	vmem_xalloc_verify(vmp, &rq, align, vmflag);
	return vmem_do_alloc(vmp, &rq, vmflag);
}

/* ------------------------------------------------------------- freeing */

/* Explain a bad free (lock held, nothing modified yet), unlock and panic. */
static void vmem_free_panic(vmem_t *vmp, irqflags_t fl, const char *fn, uintptr_t addr,
			    size_t size, const struct vmem_seg *vsp)
{
	uintptr_t s = 0, e = 0;
	const char *what = "not in any span of the arena";

	if (vsp != NULL) {
		s = vsp->vs_start;
		e = vsp->vs_end;
		what = "wrong size: the allocation there is [0x%lx, 0x%lx)";
	} else {
		for (vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0; vsp = vsp->vs_anext) {
			if (vsp->vs_type == VMEM_SPAN || addr < vsp->vs_start || addr >= vsp->vs_end)
				continue;
			s = vsp->vs_start;
			e = vsp->vs_end;
			what = vsp->vs_type == VMEM_FREE
			       ? "not allocated (double free?): free segment [0x%lx, 0x%lx)"
			       : "wrong address: inside the allocation [0x%lx, 0x%lx)";
		}
	}
	vmem_unlock(vmp, fl);
	char buf[96];

	snprintf(buf, sizeof(buf), what, (unsigned long)s, (unsigned long)e);
	panic("%s(%s, 0x%lx, 0x%lx): %s", fn, vmp->vm_name, (unsigned long)addr,
	      (unsigned long)size, buf);
}

/* Merge free vsp with free neighbours; returns the surviving segment. */
static struct vmem_seg *vmem_coalesce(vmem_t *vmp, struct vmem_seg *vsp)
{
	struct vmem_seg *next = vsp->vs_anext, *prev = vsp->vs_aprev;

	if (next->vs_type == VMEM_FREE) {
		ASSERT(next->vs_start == vsp->vs_end);
		vmem_freelist_remove(vmp, next);
		vsp->vs_end = next->vs_end;
		vmem_alist_remove(vmp, next, vsp);
		vmem_seg_put(vmp, next);
	}
	if (prev->vs_type == VMEM_FREE) {
		ASSERT(prev->vs_end == vsp->vs_start);
		vmem_freelist_remove(vmp, prev);
		prev->vs_end = vsp->vs_end;
		vmem_alist_remove(vmp, vsp, prev);
		vmem_seg_put(vmp, vsp);
		vsp = prev;
	}
	return vsp;
}

/* The segment layer's free: look up, coalesce, maybe release the span. */
static void vmem_do_free(vmem_t *vmp, const char *fn, uintptr_t addr, size_t size)
{
	irqflags_t fl = vmem_lock(vmp);
	struct vmem_seg *vsp = vmem_hash_find(vmp, addr), *span;
	uintptr_t rbase = 0;
	size_t rsize = 0;

	if (vsp == NULL || vmem_seg_size(vsp) != size)
		vmem_free_panic(vmp, fl, fn, addr, size, vsp);
	vmem_hash_remove(vmp, addr);
	vmp->vm_kstat.vk_nalloc_seg--;
	vmp->vm_kstat.vk_mem_inuse -= size;
	vmp->vm_kstat.vk_free++;
	vsp->vs_type = VMEM_FREE;
	vsp = vmem_coalesce(vmp, vsp);
	span = vsp->vs_aprev;
	if (span->vs_type == VMEM_SPAN && span->vs_import && vmp->vm_source_free != NULL &&
	    span->vs_start == vsp->vs_start && span->vs_end == vsp->vs_end) {
		rbase = span->vs_start;
		rsize = vmem_seg_size(span);
		vmem_span_destroy(vmp, vsp);
		vmp->vm_kstat.vk_release++;
	} else {
		vmem_freelist_insert(vmp, vsp);
	}
	vmem_unlock(vmp, fl);
	if (rsize != 0)
		vmp->vm_source_free(vmp->vm_source, rbase, rsize);
}

void vmem_xfree(vmem_t *vmp, uintptr_t addr, size_t size)
{
	vmem_do_free(vmp, "vmem_xfree", addr, vmem_round(vmp, "vmem_xfree", size));
}

void vmem_free(vmem_t *vmp, uintptr_t addr, size_t size)
{
	size = vmem_round(vmp, "vmem_free", size);
	if (size != 0 && size <= vmp->vm_qcache_max) {
		kmem_cache_t *qc = vmp->vm_qcache[(size >> vmp->vm_qshift) - 1].vqc_cache;

		if (qc != NULL) {
			kmem_cache_free(qc, (void *)addr);
			return;
		}
	}
	vmem_do_free(vmp, "vmem_free", addr, size);
}

/* ------------------------------------------------- creation, destruction */

/* A zeroed arena structure: the boot array first, then the page source. */
static vmem_t *vmem_struct_alloc(void)
{
	vmem_t *vmp = NULL;
	irqflags_t fl = irq_save();

	spin_lock(&vmem_list_lock);
	for (unsigned i = 0; i < VMEM_BOOT_ARENAS && vmp == NULL; i++)
		if (vmem_boot_arenas[i].vm_name[0] == 0) {
			vmp = &vmem_boot_arenas[i];
			memset(vmp, 0, sizeof(*vmp));
			vmp->vm_boot = true;
			vmp->vm_name[0] = '?';	/* claimed until vmem_struct_init names it */
		}
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	if (vmp != NULL)
		return vmp;
	vmp = vmem_meta_alloc(sizeof(*vmp));
	if (vmp != NULL)
		memset(vmp, 0, sizeof(*vmp));
	return vmp;
}

/* Give an arena structure back (boot slots are marked free by an empty name). */
static void vmem_struct_free(vmem_t *vmp)
{
	irqflags_t fl;

	spin_destroy(&vmp->vm_lock);	/* off the kernel's lock list before it is reused */
	if (!vmp->vm_boot) {
		vmem_meta_free(vmp, sizeof(*vmp));
		return;
	}
	fl = irq_save();
	spin_lock(&vmem_list_lock);
	vmp->vm_name[0] = 0;
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
}

/* Panic on invalid vmem_create arguments. */
static void vmem_create_verify(const char *name, uintptr_t base, size_t size, size_t quantum,
			       vmem_import_fn *afunc, vmem_release_fn *ffunc, size_t qcache_max)
{
	if (name == NULL || name[0] == 0 || !vmem_ispow2(quantum) ||
	    (afunc == NULL) != (ffunc == NULL) || qcache_max > VMEM_NQCACHE_MAX * quantum)
		panic("vmem_create(%s, 0x%lx, 0x%lx, quantum 0x%lx, qcache_max 0x%lx): invalid "
		      "name, quantum (power of two), import/release pair or qcache_max "
		      "(at most %d quanta)", name ? name : "(null)", (unsigned long)base,
		      (unsigned long)size, (unsigned long)quantum, (unsigned long)qcache_max,
		      VMEM_NQCACHE_MAX);
}

/* Fill in a fresh arena structure: empty lists, first hash table. */
static void vmem_struct_init(vmem_t *vmp, const char *name, size_t quantum)
{
	size_t n = strlen(name);

	if (n >= VMEM_NAMELEN)
		n = VMEM_NAMELEN - 1;
	memcpy(vmp->vm_name, name, n);
	vmp->vm_name[n] = 0;
	vmp->vm_quantum = quantum;
	vmp->vm_qshift = vmem_highbit(quantum);
	spin_init(&vmp->vm_lock, vmp->vm_name, LOCK_RANK_VMEM_ARENA);
	vmp->vm_seg0.vs_type = VMEM_HEAD;
	vmp->vm_seg0.vs_anext = vmp->vm_seg0.vs_aprev = &vmp->vm_seg0;
	vmp->vm_span0.vs_type = VMEM_HEAD;
	vmp->vm_span0.vs_knext = vmp->vm_span0.vs_kprev = &vmp->vm_span0;
	vmp->vm_rotor = &vmp->vm_seg0;
	vmp->vm_hash = vmp->vm_hash0;
	vmp->vm_hash_mask = VMEM_HASH_INITIAL - 1;
	vmp->vm_kstat.vk_hash_size = VMEM_HASH_INITIAL;
}

/* Quantum-cache back end: n objects of one size from the arena (§4). */
static unsigned vmem_qcache_import(void *arg, void **bufs, unsigned n, int kmflag, int node)
{
	struct vmem_qcache *vqc = arg;
	unsigned got = 0;

	(void)kmflag, (void)node;
	for (; got < n; got++) {
		uintptr_t a = vmem_xalloc(vqc->vqc_arena, vqc->vqc_size, 0, 0, 0, 0, 0, VM_NOSLEEP);

		if (a == 0)
			break;
		bufs[got] = (void *)a;
	}
	return got;
}

/* Quantum-cache back end: objects back to the arena. */
static void vmem_qcache_release(void *arg, void **bufs, unsigned n)
{
	struct vmem_qcache *vqc = arg;

	for (unsigned i = 0; i < n; i++)
		vmem_xfree(vqc->vqc_arena, (uintptr_t)bufs[i], vqc->vqc_size);
}

/* Create the quantum caches (once the object caches exist). */
static void vmem_qcache_create(vmem_t *vmp)
{
	char name[VMEM_NAMELEN + 8];

	if (!kmem_initialized() || vmp->vm_qcache_max == 0 || vmp->vm_qcache[0].vqc_cache != NULL)
		return;
	for (size_t i = 0; i < (vmp->vm_qcache_max >> vmp->vm_qshift); i++) {
		struct vmem_qcache *vqc = &vmp->vm_qcache[i];

		snprintf(name, sizeof(name), "%s_%lu", vmp->vm_name,
			 (unsigned long)((i + 1) << vmp->vm_qshift));
		vqc->vqc_arena = vmp;
		vqc->vqc_size = (i + 1) << vmp->vm_qshift;
		vqc->vqc_cache = kmem_zcache_create(name, vqc->vqc_size, vmem_qcache_import,
						    vmem_qcache_release, vqc, 0);
	}
}

/* Add a quantum cache's allocation calls and frees (no vmem lock held: kmem takes its own). */
static void vmem_qcache_count(kmem_cache_t *qc, uint64_t *allocs, uint64_t *frees)
{
	uint64_t st[KMS_NSTATS];

	kmem_cache_stats(qc, st);
	*allocs += st[KMS_ALLOC] + st[KMS_FAIL];
	*frees += st[KMS_FREE];
}

void vmem_qcache_kstat(vmem_t *vmp, uint64_t *allocs, uint64_t *frees)
{
	*allocs = *frees = 0;
	for (unsigned i = 0; i < VMEM_NQCACHE_MAX; i++)
		if (vmp->vm_qcache[i].vqc_cache != NULL)
			vmem_qcache_count(vmp->vm_qcache[i].vqc_cache, allocs, frees);
}

/*
 * Destroy the quantum caches: their objects go back to the arena, their
 * call counts into vm_kstat (vmem_qcache_kstat adds the live caches' counts).
 */
static void vmem_qcache_destroy(vmem_t *vmp)
{
	uint64_t allocs = 0, frees = 0;
	irqflags_t fl;

	for (unsigned i = 0; i < VMEM_NQCACHE_MAX; i++)
		if (vmp->vm_qcache[i].vqc_cache != NULL) {
			vmem_qcache_count(vmp->vm_qcache[i].vqc_cache, &allocs, &frees);
			kmem_cache_destroy(vmp->vm_qcache[i].vqc_cache);
			vmp->vm_qcache[i].vqc_cache = NULL;
		}
	fl = vmem_lock(vmp);
	vmp->vm_kstat.vk_qcache_alloc += allocs;
	vmp->vm_kstat.vk_qcache_free += frees;
	vmem_unlock(vmp, fl);
}

/*
 * Call fn on every arena with quantum caches.  fn creates or destroys
 * caches (kmem_list_lock ranks above vmem_list_lock), so it runs on a
 * snapshot taken under the list lock, not under it.
 */
static void vmem_qcache_each(void (*fn)(vmem_t *vmp))
{
	vmem_t *arenas[64];
	unsigned n = 0;
	irqflags_t fl;

	vmem_init_once();
	fl = irq_save();
	spin_lock(&vmem_list_lock);
	for (vmem_t *v = vmem_list; v != NULL; v = v->vm_next)
		if (v->vm_qcache_max != 0 && n < 64)
			arenas[n++] = v;
		else if (v->vm_qcache_max != 0)
			n = 65;
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	if (n > 64)
		panic("vmem_qcache_each: more than 64 arenas with quantum caches");
	for (unsigned i = 0; i < n; i++)
		fn(arenas[i]);
}

void vmem_qcache_attach_all(void) { vmem_qcache_each(vmem_qcache_create); }
void vmem_qcache_detach_all(void) { vmem_qcache_each(vmem_qcache_destroy); }

vmem_t *vmem_create(const char *name, uintptr_t base, size_t size, size_t quantum,
		    vmem_import_fn *afunc, vmem_release_fn *ffunc, vmem_t *source,
		    size_t qcache_max, int vmflag)
{
	vmem_t *vmp;
	irqflags_t fl;

	vmem_init_once();
	vmem_create_verify(name, base, size, quantum, afunc, ffunc, qcache_max);
	vmp = vmem_struct_alloc();
	if (vmp == NULL) {
		if (vmflag & VM_PANIC)
			panic("vmem_create(%s): no memory for the arena", name);
		return NULL;
	}
	vmem_struct_init(vmp, name, quantum);
	vmp->vm_source = source;
	vmp->vm_source_alloc = afunc;
	vmp->vm_source_free = ffunc;
	vmp->vm_qcache_max = qcache_max & ~(quantum - 1);
	if (size != 0 && vmem_add(vmp, base, size, vmflag) == 0) {
		vmem_struct_free(vmp);
		return NULL;
	}
	vmem_qcache_create(vmp);
	fl = irq_save();
	spin_lock(&vmem_list_lock);
	vmp->vm_next = vmem_list;
	vmem_list = vmp;
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
	return vmp;
}

/* Unlink an arena from the list of all arenas. */
static void vmem_list_remove(vmem_t *vmp)
{
	irqflags_t fl = irq_save();

	spin_lock(&vmem_list_lock);
	for (vmem_t **pp = &vmem_list; *pp != NULL; pp = &(*pp)->vm_next)
		if (*pp == vmp) {
			*pp = vmp->vm_next;
			break;
		}
	spin_unlock(&vmem_list_lock);
	irq_restore(fl);
}

/* Release every imported span (leaked allocations included) to the source. */
static void vmem_release_imports(vmem_t *vmp)
{
	struct vmem_seg *sp;

	for (sp = vmp->vm_span0.vs_knext; sp != &vmp->vm_span0; sp = sp->vs_knext)
		if (sp->vs_import && vmp->vm_source_free != NULL)
			vmp->vm_source_free(vmp->vm_source, sp->vs_start, vmem_seg_size(sp));
}

void vmem_destroy(vmem_t *vmp)
{
	struct vmem_seg *vsp, *next;
	irqflags_t fl;

	vmem_list_remove(vmp);
	vmem_qcache_destroy(vmp);
	if (vmp->vm_kstat.vk_mem_inuse != 0)
		printk("vmem_destroy(%s): leaked 0x%lx bytes in %lu segments\n", vmp->vm_name,
		       (unsigned long)vmp->vm_kstat.vk_mem_inuse,
		       (unsigned long)vmp->vm_kstat.vk_nalloc_seg);
	/* Nobody may use the arena any more: no lock is needed to call the source. */
	vmem_release_imports(vmp);
	fl = vmem_lock(vmp);
	for (vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0; vsp = next) {
		next = vsp->vs_anext;
		vmem_seg_put(vmp, vsp);
	}
	vmem_seg_drain(vmp);
	vmem_hash_release(vmp);
	vmem_unlock(vmp, fl);
	vmem_struct_free(vmp);
}

/* -------------------------------------------------------------- queries */

size_t vmem_size(vmem_t *vmp, int typemask)
{
	irqflags_t fl = vmem_lock(vmp);
	size_t size = 0;

	if (typemask & VMEM_ALLOC)
		size += vmp->vm_kstat.vk_mem_inuse;
	if (typemask & VMEM_FREE)
		size += vmp->vm_kstat.vk_mem_total - vmp->vm_kstat.vk_mem_inuse;
	vmem_unlock(vmp, fl);
	return size;
}

bool vmem_is_allocated(vmem_t *vmp, uintptr_t addr, size_t size)
{
	irqflags_t fl = vmem_lock(vmp);
	struct vmem_seg *vsp = vmem_hash_find(vmp, addr);
	bool ok = vsp != NULL && vmem_seg_size(vsp) == size;

	vmem_unlock(vmp, fl);
	return ok;
}

int vmem_lookup(vmem_t *vmp, uintptr_t addr, uintptr_t *startp, uintptr_t *endp)
{
	irqflags_t fl = irq_save();
	int type = 0;

	if (!spin_trylock(&vmp->vm_lock)) {
		irq_restore(fl);
		return -1;
	}
	for (struct vmem_seg *vsp = vmp->vm_seg0.vs_anext; vsp != &vmp->vm_seg0;
	     vsp = vsp->vs_anext) {
		if (vsp->vs_type == VMEM_SPAN || addr < vsp->vs_start || addr >= vsp->vs_end)
			continue;
		*startp = vsp->vs_start;
		*endp = vsp->vs_end;
		type = vsp->vs_type;
		break;
	}
	vmem_unlock(vmp, fl);
	return type;
}
