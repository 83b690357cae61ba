/*
 * dma.h - coherent DMA memory: one vmem arena per shared-dma-pool region of
 * the platform map, else pages from the DMA zone.
 *
 *   void *cpu = dma_alloc_coherent(size, &bus, VM_NOSLEEP);   NULL when empty
 *   dma_free_coherent(cpu, size, bus);
 *
 * The memory is zeroed, page aligned and, on this platform (QEMU virt, cache
 * coherent), needs no cache maintenance.  The bus address is the CPU
 * physical address minus the offset of the dma-ranges window that sets the
 * platform's DMA limit (0 without one): what the device must be given.
 * dma_free_coherent panics unless bus is the address the allocation got.
 */
#ifndef KERNEL_DMA_H
#define KERNEL_DMA_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/platform.h"
#include "mm/vmem.h"

/* One arena per pool; idempotent.  Call after mm_pages_init and segkmem_init. */
void dma_init(const struct plat_map *pm);

void *dma_alloc_coherent(size_t size, uint64_t *bus, int vmflag);
void dma_free_coherent(void *cpu, size_t size, uint64_t bus);

/* Pools found (0: allocations come from the DMA zone). */
unsigned dma_pool_count(void);
vmem_t *dma_pool_arena(unsigned i);

#endif /* KERNEL_DMA_H */
