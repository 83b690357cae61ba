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
 *    mapped read-write with mmu_map_page.  A free unmaps the pages in batches,
 *    shoots the TLBs down on every hart (mmu_tlb_shootdown, SBI RFENCE) and
 *    only then returns the pages: no hart can still reach them.
 * 3. Locking.  vmem's arena lock, then (inside mmu) the page-table lock; the
 *    page allocator has its own.  Nothing here holds a lock across a call.
 * 4. Faults.  segkmem_init adds segkmem_fault_explain to the trap fault hooks:
 *    a fault in the heap window names, in the panic message, the allocation
 *    whose guard page was hit, or the freed allocation (from a ring of the
 *    last SEGKMEM_RECENT frees, with the caller that freed it).
 * 5. Failure.  segkmem_alloc returns NULL when address space or pages run out
 *    (VM_PANIC: panics); a free of something that is not exactly a live
 *    allocation panics with its arguments before touching any mapping.
 */
#include "arch/riscv/mmu.h"
#include "arch/riscv/trap.h"
#include "kernel/segkmem.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "mm/page.h"
#include "mm/vmem.h"

#define SEGKMEM_VA_SIZE	(MMU_HEAP_SIZE - (1UL << 30))
#define SEGKMEM_PAGE	MMU_PAGE_SIZE
#define SEGKMEM_BATCH	32		/* pages unmapped per TLB shootdown */
#define SEGKMEM_RECENT	64		/* frees remembered for fault reports */

/* A recent free, for naming a use-after-free. */
struct segkmem_freed {
	uintptr_t skf_va;		/* start of the freed allocation */
	size_t skf_size;			/* its mapped size */
	void *skf_caller;		/* who called segkmem_free */
};

static vmem_t *segkmem_heap;		/* "kheap_va": the heap's address space */
static int segkmem_state;		/* 0, 1 initialising, 2 ready */
static struct segkmem_freed segkmem_recent[SEGKMEM_RECENT];	/* ring of frees */
static unsigned segkmem_recent_next;	/* next slot (atomic) */
static char segkmem_explained[160];	/* last fault explanation (tests) */

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

/* Unmap [va, va + len), shoot down, then free the pages, a batch at a time. */
static void segkmem_unmap(uintptr_t va, size_t len)
{
	uint64_t pa[SEGKMEM_BATCH];

	for (size_t off = 0; off < len; off += SEGKMEM_BATCH * SEGKMEM_PAGE) {
		size_t chunk = MIN(len - off, SEGKMEM_BATCH * SEGKMEM_PAGE);
		unsigned n = 0;

		for (size_t o = 0; o < chunk; o += SEGKMEM_PAGE)
			if (mmu_unmap_page(va + off + o, &pa[n]))
				n++;
		mmu_tlb_shootdown(va + off, chunk);
		for (unsigned i = 0; i < n; i++)
			VERIFY(page_free(pa[i], 0) == 0);
	}
}

/* Back [va, va + len) with fresh zeroed pages; on failure undo and return -1. */
static int segkmem_map(uintptr_t va, size_t len)
{
	for (size_t off = 0; off < len; off += SEGKMEM_PAGE) {
		paddr_t pa = page_alloc(0, PAGE_ZERO);

		if (pa != PAGE_NOADDR && mmu_map_page(va + off, pa, MMU_PROT_R | MMU_PROT_W) == 0)
			continue;
		if (pa != PAGE_NOADDR)
			page_free(pa, 0);
		segkmem_unmap(va, off);
		return -1;
	}
	return 0;
}

void *segkmem_alloc(size_t size, int vmflag)
{
	size_t len = ALIGN_UP(size, SEGKMEM_PAGE);
	uintptr_t va;

	if (size == 0 || len < size)
		panic("segkmem_alloc(0x%zx, 0x%x): bad size", size, vmflag);
	segkmem_init();
	va = vmem_alloc(segkmem_heap, len + SEGKMEM_PAGE, vmflag);
	if (va == 0)
		return NULL;
	if (segkmem_map(va, len) != 0) {
		vmem_free(segkmem_heap, va, len + SEGKMEM_PAGE);
		if (vmflag & VM_PANIC)
			panic("segkmem_alloc(0x%zx, 0x%x): out of pages", size, vmflag);
		return NULL;
	}
	return (void *)va;
}

void segkmem_free(void *p, size_t size)
{
	uintptr_t va = (uintptr_t)p;
	size_t len = ALIGN_UP(size, SEGKMEM_PAGE);
	unsigned slot;

	segkmem_init();
	if (size == 0 || !vmem_is_allocated(segkmem_heap, va, len + SEGKMEM_PAGE))
		panic("segkmem_free(%p, 0x%zx): not a live heap allocation of that size", p, size);
	segkmem_unmap(va, len);
	slot = __atomic_fetch_add(&segkmem_recent_next, 1, __ATOMIC_RELAXED) % SEGKMEM_RECENT;
	segkmem_recent[slot].skf_va = va;
	segkmem_recent[slot].skf_size = len;
	segkmem_recent[slot].skf_caller = __builtin_return_address(0);
	vmem_free(segkmem_heap, va, len + SEGKMEM_PAGE);
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
	if (type == VMEM_ALLOC && addr >= g)
		snprintf(why, n, "guard page of heap allocation [0x%lx, 0x%lx) (%lu bytes): "
			 "overrun", s, g, g - s);
	else if (type == VMEM_ALLOC)
		snprintf(why, n, "inside heap allocation [0x%lx, 0x%lx)", s, g);
	else if (kf != NULL)
		snprintf(why, n, "use after free: heap allocation [0x%lx, 0x%lx) freed by %p",
			 kf->skf_va, kf->skf_va + kf->skf_size, kf->skf_caller);
	else
		snprintf(why, n, "unallocated heap address%s",
			 type < 0 ? " (heap arena busy)" : "");
	strlcpy(buf, why, len);
	return true;
}

/* Last explanation (for the tests that provoke faults on purpose). */
const char *segkmem_fault_last(void);
const char *segkmem_fault_last(void) { return segkmem_explained; }
