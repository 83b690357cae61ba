/*
 * segkmem.c - the layer that maps pages into kernel address space (illumos
 * segkmem): a vmem arena over upper-half virtual addresses (mm/vmem.c) whose
 * ranges it backs with mapped pages, and vmem's page source in the kernel.
 *
 * 1. Layout.  The arena "kheap_va" covers [MMU_HEAP_BASE, +SEGKMEM_VA_SIZE)
 *    with a 4 KiB quantum (the top GiB of the heap window is left to tests
 *    that map pages by hand).  An allocation of n pages takes n + 1 pages of
 *    address space: the last one is never mapped, so every allocation is
 *    followed by a guard page and, since the arena's own start is unmapped
 *    too, there is a guard page between any two allocations.
 * 2. Backing.  Each page comes from the page allocator (zeroed) and is
 *    mapped read-write with mmu_map_page.  A free clears the PTEs, flushes
 *    this hart's TLB for the range and returns the pages to the page
 *    allocator at once (§4 says why that is safe).
 * 3. Lazy TLB purge (the idea of Linux's lazy vunmap purge).  A remote TLB
 *    fence is an SBI RFENCE that interrupts every other hart and waits for
 *    all of them; under QEMU on a small host it costs milliseconds to
 *    seconds at 64 harts, and with one per free the heap tests took over
 *    290 s.  So a free does not fence other harts and does not give its
 *    address range back to the arena: the range (guard page included) goes
 *    on the dirty list and stays allocated in vmem.  A purge flushes every
 *    TLB on every online hart once (mmu_tlb_flush_all: OpenSBI turns any
 *    fence above one page into a full flush anyway, so a full flush is the
 *    cheaper request) and only then frees every dirty range to the arena.
 *    Hence the invariant: an address range is never handed out again while
 *    any hart's TLB may still translate it.  A purge runs
 *      - when a free leaves more than SEGKMEM_DIRTY_PAGES pages (8 MiB) of
 *        address space dirty, or fills the SEGKMEM_DIRTY_SLOTS ranges the
 *        list holds, so that outside the lock the list holds at most the
 *        threshold (the tests check this through vmem's own count);
 *      - when an allocation finds no address space (it purges, then retries
 *        once), and on request (segkmem_purge).
 *    Why 8 MiB: the dirty list holds only address space (the pages are
 *    already free), 8 MiB of the 63 GiB arena; a purge costs one full flush
 *    however much it covers, so the larger the threshold the fewer fences.
 *    A fixed number, not scaled by harts as Linux's (32 MiB times
 *    1 + log2 of the CPU count), so the tests' work does not grow with the
 *    machine.  Ranges whose mapping failed half way (segkmem_map) go on the
 *    dirty list too: a hart may cache a valid PTE speculatively, without
 *    ever touching the page.
 * 4. Freed pages and stale translations.  Between a free and the next
 *    purge, another hart may still hold a TLB entry for the freed range
 *    that points at pages already back in the page allocator and perhaps
 *    reused.  Correct code never touches memory it has freed (the free
 *    happens after its last use, by the caller's own synchronisation), so a
 *    stale entry is never used; speculative accesses through it have no
 *    architectural effect.  Page-table pages are never freed, so no stale
 *    walk cache can point into freed memory either.  Only a use-after-free
 *    on another hart can read or corrupt the page's next owner, and only
 *    until the purge: this is the trade Linux makes for vfree.
 * 5. Locking.  segkmem_lock (rank SEGKMEM, mm/lock_order.h) covers a whole
 *    free: the check that the range is live, the unmap, the dirty list and a
 *    purge if one is due; under it the code takes the arena lock, the MMU
 *    lock and zone locks, all ranked after it.  A purge holds it across the
 *    fences, so an allocation that failed and purges waits for a purge in
 *    flight instead of retrying too early.  segkmem_alloc takes it only to
 *    purge or to retire a range it could not finish mapping.  It is taken
 *    with interrupts off: the object caches' timer tick may free heap
 *    ranges in interrupt context (kernel/kmem_glue.c).
 * 6. Faults.  segkmem_init adds segkmem_fault_explain to the trap fault hooks:
 *    a fault in the heap window names, in the panic message, the allocation
 *    whose guard page was hit, or the freed allocation, from the dirty list
 *    (freed, purge pending) or else from a ring of the last SEGKMEM_RECENT
 *    frees, with the caller that freed it.  The freeing hart faults at once
 *    (its TLB was flushed); another hart that had the range in its TLB may
 *    read it without a fault until the next purge (§4).
 * 7. Failure.  segkmem_alloc returns NULL when address space (after a
 *    purge) or pages run out (VM_PANIC: panics, and holds failure injection
 *    off meanwhile, mm/fail.c); a page that cannot be had half way through
 *    the mapping sends the pages mapped so far back and the range to the
 *    dirty list, so nothing is lost.  A free of something that is
 *    not exactly a live allocation, including one already freed and waiting
 *    for its purge, panics with its arguments before touching any mapping.
 * 8. Statistics.  struct segkmem_stats (segkmem.h): frees, purges (and how
 *    many an allocation forced), pages purged, the dirty list now and its
 *    high-water mark; the `vmem` command prints them (segkmem_dump).
 */
#include "arch/riscv/mmu.h"
#include "arch/riscv/spinlock.h"
#include "arch/riscv/trap.h"
#include "kernel/segkmem.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "mm/fail.h"
#include "mm/page.h"
#include "mm/vmem.h"

#define SEGKMEM_VA_SIZE	(MMU_HEAP_SIZE - (1UL << 30))
#define SEGKMEM_PAGE	MMU_PAGE_SIZE
#define SEGKMEM_BATCH	32		/* pages unmapped per local flush */
#define SEGKMEM_RECENT	64		/* frees remembered for fault reports */

/* A recent free, for naming a use-after-free. */
struct segkmem_freed {
	uintptr_t skf_va;		/* start of the freed allocation */
	size_t skf_size;			/* its mapped size */
	void *skf_caller;		/* who called segkmem_free */
};

/* A freed range waiting for the purge (§3): still allocated in the arena. */
struct segkmem_dirty {
	uintptr_t skd_va;		/* start of the range */
	size_t skd_len;			/* address space held, guard page included */
	void *skd_caller;		/* who freed it (NULL: a failed mapping) */
};

static vmem_t *segkmem_heap;		/* "kheap_va": the heap's address space */
static int segkmem_state;		/* 0, 1 initialising, 2 ready */
static struct segkmem_freed segkmem_recent[SEGKMEM_RECENT];	/* ring of frees */
static unsigned segkmem_recent_next;	/* next slot (atomic) */
static char segkmem_explained[160];	/* last fault explanation (tests) */

/* Protected by segkmem_lock: the dirty list and the statistics. */
static spinlock_t segkmem_lock = SPINLOCK_INIT("segkmem", LOCK_RANK_SEGKMEM);
static struct segkmem_dirty segkmem_dirty[SEGKMEM_DIRTY_SLOTS];	/* [0, ndirty) in use */
static unsigned segkmem_ndirty;		/* ranges on the dirty list */
static size_t segkmem_dirty_pages;	/* their address space, in pages */
static struct segkmem_stats segkmem_st;	/* frees, purges, high-water marks */

/* Smallest order whose block holds size bytes. */
static unsigned segkmem_order(size_t size)
{
	unsigned order = 0;

	while ((SEGKMEM_PAGE << order) < size)
		order++;
	return order;
}

/* vmem's page source: direct-mapped blocks from the page allocator. */
static void *segkmem_meta_alloc(size_t size)
{
	paddr_t pa = page_alloc(segkmem_order(size), PAGE_URGENT);

	return pa == PAGE_NOADDR ? NULL : phys_to_virt(pa);
}

static void segkmem_meta_free(void *p, size_t size)
{
	VERIFY(page_free(virt_to_phys(p), segkmem_order(size)) == 0);
}

static const struct vmem_page_source segkmem_pgsrc = { segkmem_meta_alloc, segkmem_meta_free };

void segkmem_init(void)
{
	int expected = 0;

	if (__atomic_load_n(&segkmem_state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&segkmem_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		vmem_page_source_set(&segkmem_pgsrc);
		segkmem_heap = vmem_create("kheap_va", MMU_HEAP_BASE, SEGKMEM_VA_SIZE,
					   SEGKMEM_PAGE, NULL, NULL, NULL, 0, VM_PANIC);
		trap_add_fault_hook(segkmem_fault_explain);
		__atomic_store_n(&segkmem_state, 2, __ATOMIC_RELEASE);
	}
	while (__atomic_load_n(&segkmem_state, __ATOMIC_ACQUIRE) != 2)
		;
}

vmem_t *segkmem_arena(void)
{
	segkmem_init();
	return segkmem_heap;
}

/* Unmap [va, va + len), flush this hart's TLB, free the pages, a batch at a time. */
static void segkmem_unmap(uintptr_t va, size_t len)
{
	uint64_t pa[SEGKMEM_BATCH];

	for (size_t off = 0; off < len; off += SEGKMEM_BATCH * SEGKMEM_PAGE) {
		size_t chunk = MIN(len - off, SEGKMEM_BATCH * SEGKMEM_PAGE);
		unsigned n = 0;

		for (size_t o = 0; o < chunk; o += SEGKMEM_PAGE)
			if (mmu_unmap_page(va + off + o, &pa[n]))
				n++;
		mmu_tlb_flush_local(va + off, chunk);
		for (unsigned i = 0; i < n; i++)
			VERIFY(page_free(pa[i], 0) == 0);
	}
}

/* Flush every hart's TLB once, then give every dirty range back to the arena. */
static void segkmem_purge_locked(void)
{
	ASSERT(spin_held(&segkmem_lock));
	if (segkmem_ndirty == 0)
		return;
	mmu_tlb_flush_all();
	for (unsigned i = 0; i < segkmem_ndirty; i++)
		vmem_free(segkmem_heap, segkmem_dirty[i].skd_va, segkmem_dirty[i].skd_len);
	segkmem_st.sks_purges++;
	segkmem_st.sks_purged_pages += segkmem_dirty_pages;
	segkmem_ndirty = 0;
	segkmem_dirty_pages = 0;
}

/* Put [va, va + len) (unmapped) on the dirty list; purge if past the threshold. */
static void segkmem_retire_locked(uintptr_t va, size_t len, void *caller)
{
	struct segkmem_dirty *kd = &segkmem_dirty[segkmem_ndirty++];

	ASSERT(spin_held(&segkmem_lock));
	kd->skd_va = va;
	kd->skd_len = len;
	kd->skd_caller = caller;
	segkmem_dirty_pages += len / SEGKMEM_PAGE;
	if (segkmem_ndirty == SEGKMEM_DIRTY_SLOTS || segkmem_dirty_pages > SEGKMEM_DIRTY_PAGES)
		segkmem_purge_locked();
	if (segkmem_dirty_pages > segkmem_st.sks_dirty_max)
		segkmem_st.sks_dirty_max = segkmem_dirty_pages;
}

void segkmem_purge(void)
{
	unsigned long flags;

	segkmem_init();
	flags = spin_lock_irqsave(&segkmem_lock);
	segkmem_purge_locked();
	spin_unlock_irqrestore(&segkmem_lock, flags);
}

/* Back [va, va + len) with fresh zeroed pages; on failure undo and return -1. */
static int segkmem_map(uintptr_t va, size_t len)
{
	unsigned long flags;

	for (size_t off = 0; off < len; off += SEGKMEM_PAGE) {
		paddr_t pa = page_alloc(0, PAGE_ZERO);

		if (pa != PAGE_NOADDR && mmu_map_page(va + off, pa, MMU_PROT_R | MMU_PROT_W) == 0)
			continue;
		if (pa != PAGE_NOADDR)
			page_free(pa, 0);
		flags = spin_lock_irqsave(&segkmem_lock);
		segkmem_unmap(va, off);
		segkmem_retire_locked(va, len + SEGKMEM_PAGE, NULL);
		spin_unlock_irqrestore(&segkmem_lock, flags);
		return -1;
	}
	return 0;
}

/* Address space for len bytes and a guard page; purge and retry once if there is none. */
static uintptr_t segkmem_va_alloc(size_t len, int vmflag)
{
	uintptr_t va = vmem_alloc(segkmem_heap, len + SEGKMEM_PAGE, vmflag & ~VM_PANIC);
	unsigned long flags;

	if (va != 0)
		return va;
	flags = spin_lock_irqsave(&segkmem_lock);
	if (segkmem_ndirty != 0)
		segkmem_st.sks_forced_purges++;
	segkmem_purge_locked();
	spin_unlock_irqrestore(&segkmem_lock, flags);
	return vmem_alloc(segkmem_heap, len + SEGKMEM_PAGE, vmflag);
}

/* Address space, then pages: NULL, with everything undone, if either runs out. */
static void *segkmem_alloc_map(size_t size, size_t len, int vmflag)
{
	uintptr_t va = segkmem_va_alloc(len, vmflag);

	if (va == 0)
		return NULL;
	if (segkmem_map(va, len) != 0) {
		if (vmflag & VM_PANIC)
			panic("segkmem_alloc(0x%zx, 0x%x): out of pages", size, vmflag);
		return NULL;
	}
	return (void *)va;
}

void *segkmem_alloc(size_t size, int vmflag)
{
	size_t len = ALIGN_UP(size, SEGKMEM_PAGE);
	void *p;

	if (size == 0 || len < size || len + SEGKMEM_PAGE < len)
		panic("segkmem_alloc(0x%zx, 0x%x): bad size", size, vmflag);
	segkmem_init();
	if (!(vmflag & VM_PANIC))
		return segkmem_alloc_map(size, len, vmflag);
	fail_hold();		/* may not fail: no injected failure below (mm/fail.c §2) */
	p = segkmem_alloc_map(size, len, vmflag);
	fail_release();
	return p;
}

/* The dirty range containing addr, or NULL (segkmem_lock held, or a racy peek). */
static const struct segkmem_dirty *segkmem_dirty_find(uintptr_t addr)
{
	for (unsigned i = 0; i < segkmem_ndirty && i < SEGKMEM_DIRTY_SLOTS; i++)
		if (addr - segkmem_dirty[i].skd_va < segkmem_dirty[i].skd_len)
			return &segkmem_dirty[i];
	return NULL;
}

/* Remember a free in the ring that names use-after-free faults. */
static void segkmem_recent_add(uintptr_t va, size_t len, void *caller)
{
	unsigned slot = __atomic_fetch_add(&segkmem_recent_next, 1, __ATOMIC_RELAXED) %
			SEGKMEM_RECENT;

	segkmem_recent[slot].skf_va = va;
	segkmem_recent[slot].skf_size = len;
	segkmem_recent[slot].skf_caller = caller;
}

void segkmem_free(void *p, size_t size)
{
	uintptr_t va = (uintptr_t)p;
	size_t len = ALIGN_UP(size, SEGKMEM_PAGE);
	void *caller = __builtin_return_address(0);
	const struct segkmem_dirty *kd;
	unsigned long flags;

	segkmem_init();
	flags = spin_lock_irqsave(&segkmem_lock);
	kd = segkmem_dirty_find(va);
	if (size == 0 || len < size || kd != NULL ||
	    !vmem_is_allocated(segkmem_heap, va, len + SEGKMEM_PAGE)) {
		spin_unlock_irqrestore(&segkmem_lock, flags);
		panic("segkmem_free(%p, 0x%zx): not a live heap allocation of that size%s", p,
		      size, kd != NULL ? " (already freed, TLB purge pending)" : "");
	}
	segkmem_unmap(va, len);
	segkmem_recent_add(va, len, caller);
	segkmem_st.sks_frees++;
	segkmem_retire_locked(va, len + SEGKMEM_PAGE, caller);
	spin_unlock_irqrestore(&segkmem_lock, flags);
}

void segkmem_get_stats(struct segkmem_stats *st)
{
	unsigned long flags = spin_lock_irqsave(&segkmem_lock);

	*st = segkmem_st;
	st->sks_dirty_ranges = segkmem_ndirty;
	st->sks_dirty_pages = segkmem_dirty_pages;
	spin_unlock_irqrestore(&segkmem_lock, flags);
}

void segkmem_dump(int (*out)(const char *fmt, ...))
{
	struct segkmem_stats st;

	segkmem_get_stats(&st);
	out("kheap_va lazy purge: frees %llu purges %llu (forced %llu) pages purged %llu "
	    "dirty %llu ranges %llu pages (max %llu; limit %u pages, %u ranges)\n",
	    (unsigned long long)st.sks_frees, (unsigned long long)st.sks_purges,
	    (unsigned long long)st.sks_forced_purges, (unsigned long long)st.sks_purged_pages,
	    (unsigned long long)st.sks_dirty_ranges, (unsigned long long)st.sks_dirty_pages,
	    (unsigned long long)st.sks_dirty_max, SEGKMEM_DIRTY_PAGES, SEGKMEM_DIRTY_SLOTS);
}

/* The most recent free that covered addr, or NULL. */
static const struct segkmem_freed *segkmem_recent_find(uintptr_t addr)
{
	unsigned next = __atomic_load_n(&segkmem_recent_next, __ATOMIC_RELAXED);

	for (unsigned k = 1; k <= SEGKMEM_RECENT; k++) {
		const struct segkmem_freed *kf = &segkmem_recent[(next - k) % SEGKMEM_RECENT];

		if (kf->skf_size != 0 && addr >= kf->skf_va && addr - kf->skf_va < kf->skf_size)
			return kf;
	}
	return NULL;
}

/* Explain a fault in a range still on the dirty list; false if addr is not in one. */
static bool segkmem_explain_dirty(uintptr_t addr, char *why, size_t n)
{
	const struct segkmem_dirty *kd;
	bool found = false;

	if (!spin_trylock(&segkmem_lock)) {	/* a free or purge in flight */
		snprintf(why, n, "heap allocation or freed range awaiting purge (heap busy)");
		return true;
	}
	kd = segkmem_dirty_find(addr);
	if (kd != NULL) {
		snprintf(why, n, "use after free: heap allocation [0x%lx, 0x%lx) freed by %p "
			 "(TLB purge pending)", kd->skd_va, kd->skd_va + kd->skd_len - SEGKMEM_PAGE,
			 kd->skd_caller);
		found = true;
	}
	spin_unlock(&segkmem_lock);
	return found;
}

bool segkmem_fault_explain(uintptr_t addr, char *buf, size_t len)
{
	char *why = segkmem_explained;
	size_t n = sizeof(segkmem_explained);
	uintptr_t s = 0, e = 0, g;
	const struct segkmem_freed *kf;
	int type;

	if (segkmem_heap == NULL || addr < MMU_HEAP_BASE || addr - MMU_HEAP_BASE >= SEGKMEM_VA_SIZE)
		return false;
	type = vmem_lookup(segkmem_heap, addr, &s, &e);
	g = e - SEGKMEM_PAGE;				/* the guard page */
	kf = type == VMEM_ALLOC ? NULL : segkmem_recent_find(addr);
	if (type == VMEM_ALLOC && segkmem_explain_dirty(addr, why, n)) {
		/* freed, still on the dirty list: why is written */
	} else if (type == VMEM_ALLOC && addr >= g) {
		snprintf(why, n, "guard page of heap allocation [0x%lx, 0x%lx) (%lu bytes): "
			 "overrun", s, g, g - s);
	} else if (type == VMEM_ALLOC) {
		snprintf(why, n, "inside heap allocation [0x%lx, 0x%lx)", s, g);
	} else if (kf != NULL) {
		snprintf(why, n, "use after free: heap allocation [0x%lx, 0x%lx) freed by %p",
			 kf->skf_va, kf->skf_va + kf->skf_size, kf->skf_caller);
	} else {
		snprintf(why, n, "unallocated heap address%s",
			 type < 0 ? " (heap arena busy)" : "");
	}
	strlcpy(buf, why, len);
	return true;
}

/* Last explanation (for the tests that provoke faults on purpose). */
const char *segkmem_fault_last(void);
const char *segkmem_fault_last(void) { return segkmem_explained; }
