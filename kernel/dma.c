/*
 * dma.c - coherent DMA allocations (see dma.h).
 *
 * 1. Pools.  Every shared-dma-pool region of the platform map becomes a vmem
 *    arena named after its node ("dma-pool@90000000"), quantum 4 KiB, over
 *    the region's physical addresses (never 0 on these boards; vmem_add
 *    panics otherwise).  The region is reserved memory, so the page allocator
 *    never sees it; a no-map region is outside the kernel's direct map and is
 *    mapped here, read-write, at VA == PA.
 * 2. Allocation.  With pools: instant fit from each pool in turn; when all
 *    are full the call fails (NULL) and nothing else is tried, as Linux does
 *    for a device with a dedicated pool.  Without pools: a block of 2^order
 *    pages from the page allocator with PAGE_DMA (inside the DMA window).
 * 3. Bus addresses.  A device sees CPU physical address pa at pa - offset,
 *    the offset of the dma-ranges window that sets the platform's DMA limit
 *    (0 without one).
 * 4. Freeing checks the bus address first (it must be pa - offset), then
 *    goes to the pool that contains the address, else to the page
 *    allocator.  A wrong bus address, address or size panics: here, in
 *    vmem_free, or here when page_free refuses the block.
 */
#include "arch/riscv/mmu.h"
#include "kernel/dma.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "mm/page.h"

/* One shared-dma-pool region. */
struct dma_pool {
	vmem_t *dp_arena;		/* allocator over the region */
	uint64_t dp_base;		/* CPU physical start */
	uint64_t dp_size;		/* bytes */
};

static struct dma_pool dma_pools[PLAT_MAX_POOLS];	/* the pools found */
static unsigned dma_npools;				/* how many */
static int dma_state;					/* 0, 1 initialising, 2 ready */
static uint64_t dma_offset;	/* CPU minus device address (platform map's dma-ranges) */

/* Make sure every page of the region is reachable at VA == PA. */
static void dma_map_region(uint64_t base, uint64_t size)
{
	for (uint64_t pa = base; pa < base + size; pa += MMU_PAGE_SIZE) {
		uint64_t got;
		unsigned prot;

		if (mmu_translate(pa, &got, &prot))
			continue;
		if (mmu_map_page(pa, pa, MMU_PROT_R | MMU_PROT_W) != 0)
			panic("dma_init: cannot map pool page 0x%llx", (unsigned long long)pa);
	}
}

/* Create the arena for pool i of the platform map. */
static void dma_pool_create(const struct plat_pool *pp)
{
	struct dma_pool *dp = &dma_pools[dma_npools];
	uint64_t base = ALIGN_UP(pp->pp_base, MMU_PAGE_SIZE);
	uint64_t end = ALIGN_DOWN(pp->pp_base + pp->pp_size, MMU_PAGE_SIZE);

	if (end <= base)
		return;
	dma_map_region(base, end - base);
	dp->dp_base = base;
	dp->dp_size = end - base;
	dp->dp_arena = vmem_create(pp->pp_name, base, end - base, MMU_PAGE_SIZE, NULL, NULL,
				   NULL, 0, VM_PANIC);
	dma_npools++;
	printk("dma: pool %s [0x%llx, 0x%llx)\n", pp->pp_name, (unsigned long long)base,
	       (unsigned long long)end);
}

void dma_init(const struct plat_map *pm)
{
	int expected = 0;

	if (__atomic_load_n(&dma_state, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&dma_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		dma_offset = pm->pm_has_dma_limit ? pm->pm_dma_offset : 0;
		for (unsigned i = 0; i < pm->pm_npools && i < PLAT_MAX_POOLS; i++)
			dma_pool_create(&pm->pm_pools[i]);
		__atomic_store_n(&dma_state, 2, __ATOMIC_RELEASE);
	}
	while (__atomic_load_n(&dma_state, __ATOMIC_ACQUIRE) != 2)
		;
}

unsigned dma_pool_count(void) { return dma_npools; }
vmem_t *dma_pool_arena(unsigned i) { return i < dma_npools ? dma_pools[i].dp_arena : NULL; }

/* Smallest page order holding size bytes. */
static unsigned dma_order(size_t size)
{
	unsigned order = 0;

	while ((MMU_PAGE_SIZE << order) < size)
		order++;
	return order;
}

void *dma_alloc_coherent(size_t size, uint64_t *bus, int vmflag)
{
	size_t len = ALIGN_UP(size, MMU_PAGE_SIZE);
	paddr_t pa = 0;

	if (size == 0)
		panic("dma_alloc_coherent(0, %p, 0x%x): zero size", (void *)bus, vmflag);
	for (unsigned i = 0; i < dma_npools && pa == 0; i++)
		pa = vmem_alloc(dma_pools[i].dp_arena, len, vmflag | VM_NOSLEEP);
	if (dma_npools == 0) {
		unsigned order = dma_order(len);

		pa = order > PAGE_MAX_ORDER ? PAGE_NOADDR : page_alloc(order, PAGE_DMA);
		if (pa == PAGE_NOADDR)
			pa = 0;
	}
	if (pa == 0)
		return NULL;
	memset(phys_to_virt(pa), 0, len);
	*bus = pa - dma_offset;
	return phys_to_virt(pa);
}

void dma_free_coherent(void *cpu, size_t size, uint64_t bus)
{
	size_t len = ALIGN_UP(size, MMU_PAGE_SIZE);
	paddr_t pa = virt_to_phys(cpu);

	if (pa - dma_offset != bus)
		panic("dma_free_coherent(%p, 0x%zx, 0x%llx): bus address does not match", cpu,
		      size, (unsigned long long)bus);
	for (unsigned i = 0; i < dma_npools; i++) {
		struct dma_pool *dp = &dma_pools[i];

		if (pa >= dp->dp_base && pa - dp->dp_base < dp->dp_size) {
			vmem_free(dp->dp_arena, pa, len);
			return;
		}
	}
	if (page_free(pa, dma_order(len)) != 0)
		panic("dma_free_coherent(%p, 0x%zx, 0x%llx): not a DMA allocation", cpu, size,
		      (unsigned long long)bus);
}
