/*
 * kheap.c - the kernel's mapped heap, a vmem arena over upper-half virtual
 * addresses (mm/vmem.c), and vmem's page source in the kernel.
 *
 * 1. Layout.  The arena "kheap_va" covers [MMU_HEAP_BASE, +KHEAP_VA_SIZE)
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
 * 4. Faults.  kheap_init adds kheap_fault_explain to the trap fault hooks:
 *    a fault in the heap window names, in the panic message, the allocation
 *    whose guard page was hit, or the freed allocation (from a ring of the
 *    last KHEAP_RECENT frees, with the caller that freed it).
 * 5. Failure.  kheap_alloc returns NULL when address space or pages run out
 *    (VM_PANIC: panics); a free of something that is not exactly a live
 *    allocation panics with its arguments before touching any mapping.
 */
#include "arch/riscv/mmu.h"
#include "arch/riscv/trap.h"
#include "kernel/console.h"
#include "kernel/kheap.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "mm/page.h"
#include "mm/vmem.h"

#define KHEAP_VA_SIZE	(MMU_HEAP_SIZE - (1UL << 30))
#define KHEAP_PAGE	MMU_PAGE_SIZE
#define KHEAP_BATCH	32		/* pages unmapped per TLB shootdown */
#define KHEAP_RECENT	64		/* frees remembered for fault reports */

/* A recent free, for naming a use-after-free. */
struct kheap_freed {
	uintptr_t kf_va;		/* start of the freed allocation */
	size_t kf_size;			/* its mapped size */
	void *kf_caller;		/* who called kheap_free */
};

static vmem_t *kheap_va;			/* the address-space arena */
static int kheap_state;				/* 0, 1 initialising, 2 ready */
static struct kheap_freed kheap_recent[KHEAP_RECENT];	/* ring of frees */
static unsigned kheap_recent_next;		/* next slot (atomic) */
static char kheap_explained[160];		/* last fault explanation (tests) */

/* Smallest order whose block holds size bytes. */
static unsigned kheap_order(size_t size)
{
	unsigned order = 0;

	while ((KHEAP_PAGE << order) < size)
		order++;
	return order;
}

/* vmem's page source: direct-mapped blocks from the page allocator. */
static void *kheap_meta_alloc(size_t size)
{
	paddr_t pa = page_alloc(kheap_order(size), PAGE_URGENT);

	return pa == PAGE_NOADDR ? NULL : phys_to_virt(pa);
}

static void kheap_meta_free(void *p, size_t size)
{
	VERIFY(page_free(virt_to_phys(p), kheap_order(size)) == 0);
}

static const struct vmem_page_source kheap_pgsrc = { kheap_meta_alloc, kheap_meta_free };

void kheap_init(void)
{
	int expected = 0;

	if (__atomic_load_n(&kheap_state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&kheap_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		vmem_page_source_set(&kheap_pgsrc);
		kheap_va = vmem_create("kheap_va", MMU_HEAP_BASE, KHEAP_VA_SIZE, KHEAP_PAGE,
				       NULL, NULL, NULL, 0, VM_PANIC);
		trap_add_fault_hook(kheap_fault_explain);
		__atomic_store_n(&kheap_state, 2, __ATOMIC_RELEASE);
	}
	while (__atomic_load_n(&kheap_state, __ATOMIC_ACQUIRE) != 2)
		;
}

vmem_t *kheap_arena(void)
{
	kheap_init();
	return kheap_va;
}

/* Unmap [va, va + len), shoot down, then free the pages, a batch at a time. */
static void kheap_unmap(uintptr_t va, size_t len)
{
	uint64_t pa[KHEAP_BATCH];

	for (size_t off = 0; off < len; off += KHEAP_BATCH * KHEAP_PAGE) {
		size_t chunk = MIN(len - off, KHEAP_BATCH * KHEAP_PAGE);
		unsigned n = 0;

		for (size_t o = 0; o < chunk; o += KHEAP_PAGE)
			if (mmu_unmap_page(va + off + o, &pa[n]))
				n++;
		mmu_tlb_shootdown(va + off, chunk);
		for (unsigned i = 0; i < n; i++)
			VERIFY(page_free(pa[i], 0) == 0);
	}
}

/* Back [va, va + len) with fresh zeroed pages; on failure undo and return -1. */
static int kheap_map(uintptr_t va, size_t len)
{
	for (size_t off = 0; off < len; off += KHEAP_PAGE) {
		paddr_t pa = page_alloc(0, PAGE_ZERO);

		if (pa != PAGE_NOADDR && mmu_map_page(va + off, pa, MMU_PROT_R | MMU_PROT_W) == 0)
			continue;
		if (pa != PAGE_NOADDR)
			page_free(pa, 0);
		kheap_unmap(va, off);
		return -1;
	}
	return 0;
}

void *kheap_alloc(size_t size, int vmflag)
{
	size_t len = ALIGN_UP(size, KHEAP_PAGE);
	uintptr_t va;

	if (size == 0 || len < size)
		panic("kheap_alloc(0x%zx, 0x%x): bad size", size, vmflag);
	kheap_init();
	va = vmem_alloc(kheap_va, len + KHEAP_PAGE, vmflag);
	if (va == 0)
		return NULL;
	if (kheap_map(va, len) != 0) {
		vmem_free(kheap_va, va, len + KHEAP_PAGE);
		if (vmflag & VM_PANIC)
			panic("kheap_alloc(0x%zx, 0x%x): out of pages", size, vmflag);
		return NULL;
	}
	return (void *)va;
}

void kheap_free(void *p, size_t size)
{
	uintptr_t va = (uintptr_t)p;
	size_t len = ALIGN_UP(size, KHEAP_PAGE);
	unsigned slot;

	kheap_init();
	if (size == 0 || !vmem_is_allocated(kheap_va, va, len + KHEAP_PAGE))
		panic("kheap_free(%p, 0x%zx): not a live heap allocation of that size", p, size);
	kheap_unmap(va, len);
	slot = __atomic_fetch_add(&kheap_recent_next, 1, __ATOMIC_RELAXED) % KHEAP_RECENT;
	kheap_recent[slot].kf_va = va;
	kheap_recent[slot].kf_size = len;
	kheap_recent[slot].kf_caller = __builtin_return_address(0);
	vmem_free(kheap_va, va, len + KHEAP_PAGE);
}

/* The most recent free that covered addr, or NULL. */
static const struct kheap_freed *kheap_recent_find(uintptr_t addr)
{
	unsigned next = __atomic_load_n(&kheap_recent_next, __ATOMIC_RELAXED);

	for (unsigned k = 1; k <= KHEAP_RECENT; k++) {
		const struct kheap_freed *kf = &kheap_recent[(next - k) % KHEAP_RECENT];

		if (kf->kf_size != 0 && addr >= kf->kf_va && addr - kf->kf_va < kf->kf_size)
			return kf;
	}
	return NULL;
}

bool kheap_fault_explain(uintptr_t addr, char *buf, size_t len)
{
	uintptr_t s = 0, e = 0;
	const struct kheap_freed *kf;
	int type;

	if (kheap_va == NULL || addr < MMU_HEAP_BASE || addr - MMU_HEAP_BASE >= KHEAP_VA_SIZE)
		return false;
	type = vmem_lookup(kheap_va, addr, &s, &e);
	kf = type == VMEM_ALLOC ? NULL : kheap_recent_find(addr);
	if (type == VMEM_ALLOC && addr >= e - KHEAP_PAGE)
		snprintf(kheap_explained, sizeof(kheap_explained), "guard page of heap allocation "
			 "[0x%lx, 0x%lx) (%lu bytes): overrun", s, e - KHEAP_PAGE, e - KHEAP_PAGE - s);
	else if (type == VMEM_ALLOC)
		snprintf(kheap_explained, sizeof(kheap_explained), "inside heap allocation "
			 "[0x%lx, 0x%lx)", s, e - KHEAP_PAGE);
	else if (kf != NULL)
		snprintf(kheap_explained, sizeof(kheap_explained), "use after free: heap allocation "
			 "[0x%lx, 0x%lx) freed by %p", kf->kf_va, kf->kf_va + kf->kf_size,
			 kf->kf_caller);
	else
		snprintf(kheap_explained, sizeof(kheap_explained), "unallocated heap address%s",
			 type < 0 ? " (heap arena busy)" : "");
	strlcpy(buf, kheap_explained, len);
	return true;
}

/* Last explanation (for the tests that provoke faults on purpose). */
const char *kheap_fault_last(void);
const char *kheap_fault_last(void) { return kheap_explained; }

/* `vmem [-s] [NAME]`: every arena (illumos ::vmem), or one in full. */
static int kheap_cmd_vmem(int argc, char **argv)
{
	bool segs = argc > 1 && strcmp(argv[1], "-s") == 0;
	const char *name = argc > 1 + segs ? argv[1 + segs] : NULL;
	vmem_t *vmp;

	kheap_init();
	if (name == NULL) {
		vmem_dump_all(printk);
		return 0;
	}
	vmp = vmem_find(name);
	if (vmp == NULL) {
		printk("vmem: no arena named %s\n", name);
		return 1;
	}
	vmem_dump(vmp, segs, printk);
	return 0;
}
CONSOLE_CMD(kheap_cmd, "vmem", "vmem [-s] [ARENA]: resource arenas (-s: every segment)",
	    kheap_cmd_vmem);
