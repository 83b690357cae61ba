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
 *    any hart's TLB may still translate it.  A purge takes the whole list
 *    as its batch under segkmem_lock (two arrays swap roles: the list being
 *    filled and the batch of the one purge in flight), then fences and
 *    frees the batch without the lock (§5).  A range freed after the batch
 *    was taken waits for the next purge, whose fence comes after its unmap.
 *    A purge runs
 *      - when a free leaves more than SEGKMEM_DIRTY_PAGES pages (8 MiB) of
 *        address space dirty, or fills the SEGKMEM_DIRTY_SLOTS ranges the
 *        list holds, and no purge is in flight; a purge that ends with the
 *        list past the threshold again runs once more, so after a free the
 *        list holds at most the threshold unless another hart's purge is in
 *        flight (the tests check this through vmem's own count); a free
 *        that finds the list full while a purge is in flight waits for it;
 *      - when an allocation finds no address space (it waits for a purge
 *        in flight, purges, then retries once), and on request
 *        (segkmem_purge, which returns when every range freed before the
 *        call is back in the arena).
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
 * 5. Locking.  segkmem_lock (rank SEGKMEM, mm/lock_order.h) covers the
 *    check that a freed range is live, its unmap (a local flush only) and
 *    the dirty list; under it the code takes the MMU lock and zone locks,
 *    ranked after it.  No lock is held across the remote fence: a purge
 *    takes its batch under the lock and fences and gives the batch back to
 *    the arena after dropping it (segkmem_purge_run), with interrupts still
 *    off on its hart, so that its own tick cannot free into a list that
 *    waits for it.  (Holding the lock across the fence made every heap free
 *    on a 64-hart guest wait behind one hart in the firmware: 56 of 64 harts
 *    spun on it.)  segkmem_purging says a batch is in flight; a hart that
 *    must wait for it (list full, an allocation out of space, segkmem_purge)
 *    spins on that flag without the lock, with its interrupts off.  Such a
 *    wait ends only because the purging hart never needs another hart's
 *    help in S-mode to finish: its remote fence is an SBI RFENCE, which
 *    OpenSBI carries out with machine-mode IPIs, and S-mode cannot mask
 *    those, so a waiter spinning with interrupts off still flushes and the
 *    purge completes.  A fence done by IPIs to S-mode handlers would
 *    deadlock here.  segkmem_alloc takes the lock only
 *    to purge or to retire a range it could not finish mapping.  It is
 *    taken with interrupts off: the object caches' timer tick may free heap
 *    ranges in interrupt context (kernel/kmem_glue.c).
 * 6. Faults.  segkmem_init adds segkmem_fault_explain to the trap fault hooks:
 *    a fault in the heap window names, in the panic message, the allocation
 *    whose guard page was hit, or the freed allocation, from the dirty list
 *    (freed, purge pending) or else from a ring of the last SEGKMEM_RECENT
 *    frees, with the caller that freed it.  A range in the batch of a purge
 *    in flight is no longer on the dirty list: it reads as inside a heap
 *    allocation until the purge gives it back.  The freeing hart faults at once
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
static spinlock_t segkmem_lock __attribute__((aligned(64))) = SPINLOCK_INIT("segkmem", LOCK_RANK_SEGKMEM);
static struct segkmem_dirty segkmem_dirty_a[SEGKMEM_DIRTY_SLOTS], segkmem_dirty_b[SEGKMEM_DIRTY_SLOTS];
static struct segkmem_dirty *segkmem_dirty = segkmem_dirty_a;	/* [0, ndirty) in use */
static unsigned segkmem_ndirty;		/* ranges on the dirty list */
static size_t segkmem_dirty_pages;	/* their address space, in pages */
static struct segkmem_stats segkmem_st;	/* frees, purges, high-water marks */

/* The purge in flight (§3, §5): its batch is the array the dirty list is not. */
static struct segkmem_dirty *segkmem_batch = segkmem_dirty_b;	/* [0, nbatch): owned by the purger */
static unsigned segkmem_nbatch;		/* ranges in the batch */
static bool segkmem_purging;		/* a batch is in flight (atomic; set under the lock) */

void (*segkmem_purge_test_hook)(void);	/* tests: run between a purge's fence and its frees */

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

/* Take the dirty list as the batch of a new purge; false if one is in flight or the list is empty. */
static bool segkmem_purge_take_locked(void)
{
	struct segkmem_dirty *list = segkmem_dirty;

	ASSERT(spin_held(&segkmem_lock));
	if (segkmem_ndirty == 0 || __atomic_load_n(&segkmem_purging, __ATOMIC_ACQUIRE))
		return false;
	segkmem_dirty = segkmem_batch;
	segkmem_batch = list;
	segkmem_nbatch = segkmem_ndirty;
	segkmem_st.sks_purges++;
	segkmem_st.sks_purged_pages += segkmem_dirty_pages;
	segkmem_ndirty = 0;
	segkmem_dirty_pages = 0;
	__atomic_store_n(&segkmem_purging, true, __ATOMIC_RELAXED);
	return true;
}

/* Is the dirty list past a purge threshold (§3)? */
static bool segkmem_over_locked(void)
{
	return segkmem_ndirty == SEGKMEM_DIRTY_SLOTS || segkmem_dirty_pages > SEGKMEM_DIRTY_PAGES;
}

/*
 * Run the purge this hart took: flush every hart's TLB once, then give the
 * batch back to the arena; again while the list refilled past the threshold
 * meanwhile.  Called without segkmem_lock, interrupts off.
 */
static void segkmem_purge_run(void)
{
	bool again;

	ASSERT(!spin_held(&segkmem_lock));
	do {
		mmu_tlb_flush_all();
		if (segkmem_purge_test_hook != NULL)
			segkmem_purge_test_hook();
		for (unsigned i = 0; i < segkmem_nbatch; i++)
			vmem_free(segkmem_heap, segkmem_batch[i].skd_va, segkmem_batch[i].skd_len);
		__atomic_store_n(&segkmem_purging, false, __ATOMIC_RELEASE);
		spin_lock(&segkmem_lock);
		again = segkmem_over_locked() && segkmem_purge_take_locked();
		spin_unlock(&segkmem_lock);
	} while (again);
}

/* Wait, without the lock, until no purge is in flight (lock held on entry and exit). */
static void segkmem_wait_purge_locked(void)
{
	while (__atomic_load_n(&segkmem_purging, __ATOMIC_ACQUIRE)) {
		spin_unlock(&segkmem_lock);
		while (__atomic_load_n(&segkmem_purging, __ATOMIC_ACQUIRE))
			arch_cpu_relax();
		spin_lock(&segkmem_lock);
	}
}

/*
 * Put [va, va + len) (unmapped) on the dirty list, waiting for room if the
 * list is full, then drop the lock (taken with flags) and run a purge if this
 * free made one due.
 */
static void segkmem_retire_unlock(uintptr_t va, size_t len, void *caller, unsigned long flags)
{
	struct segkmem_dirty *kd;
	bool purge;

	ASSERT(spin_held(&segkmem_lock));
	while (segkmem_ndirty == SEGKMEM_DIRTY_SLOTS && !segkmem_purge_take_locked())
		segkmem_wait_purge_locked();
	ASSERT(segkmem_ndirty < SEGKMEM_DIRTY_SLOTS);
	kd = &segkmem_dirty[segkmem_ndirty++];
	kd->skd_va = va;
	kd->skd_len = len;
	kd->skd_caller = caller;
	segkmem_dirty_pages += len / SEGKMEM_PAGE;
	purge = segkmem_over_locked() && segkmem_purge_take_locked();
	if (segkmem_dirty_pages > segkmem_st.sks_dirty_max)
		segkmem_st.sks_dirty_max = segkmem_dirty_pages;
	spin_unlock(&segkmem_lock);
	if (purge)
		segkmem_purge_run();
	arch_irq_restore(flags);
}

/* Purge every range freed so far (waiting for one in flight); count it forced if asked. */
static void segkmem_purge_all(bool forced)
{
	unsigned long flags = spin_lock_irqsave(&segkmem_lock);
	bool purge;

	if (forced && (segkmem_ndirty != 0 || __atomic_load_n(&segkmem_purging, __ATOMIC_ACQUIRE)))
		segkmem_st.sks_forced_purges++;
	segkmem_wait_purge_locked();
	purge = segkmem_purge_take_locked();
	spin_unlock(&segkmem_lock);
	if (purge)
		segkmem_purge_run();
	arch_irq_restore(flags);
}

void segkmem_purge(void)
{
	segkmem_init();
	segkmem_purge_all(false);
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
		segkmem_retire_unlock(va, len + SEGKMEM_PAGE, NULL, flags);
		return -1;
	}
	return 0;
}

/* Address space for len bytes and a guard page; purge and retry once if there is none. */
static uintptr_t segkmem_va_alloc(size_t len, int vmflag)
{
	uintptr_t va = vmem_alloc(segkmem_heap, len + SEGKMEM_PAGE, vmflag & ~VM_PANIC);

	if (va != 0)
		return va;
	segkmem_purge_all(true);
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
	segkmem_retire_unlock(va, len + SEGKMEM_PAGE, caller, flags);
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
