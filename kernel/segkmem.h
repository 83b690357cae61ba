/*
 * segkmem.h - the kernel segment that maps pages into kernel address space
 * (illumos calls this layer segkmem): it takes a range of virtual addresses
 * from the arena "kheap_va" (the kernel heap's address space, upper half,
 * arch/riscv/mmu.h MMU_HEAP_BASE), backs it with pages from the page
 * allocator and maps them, leaving an unmapped guard page after each range.
 * It is the import function the object caches will sit on; today callers
 * use it directly for page-granular allocations.
 *
 *   void *p = segkmem_alloc(size, VM_NOSLEEP);   NULL on failure
 *   segkmem_free(p, size);                       same size as allocated
 *
 * A fault on a guard page or a freed range panics through the trap fault
 * hook, which names the allocation (segkmem_fault_explain).
 */
#ifndef KERNEL_SEGKMEM_H
#define KERNEL_SEGKMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/vmem.h"

/* Create the arenas, give vmem its page source, install the fault hook.
 * Idempotent; call once after mm_pages_init (the first use also does it). */
void segkmem_init(void);

/* Map ceil(size / 4 KiB) fresh zeroed pages; vmflag as for vmem (VM_NOSLEEP...). */
void *segkmem_alloc(size_t size, int vmflag);

/* Unmap, shoot the TLBs down on every hart, return the pages and the range. */
void segkmem_free(void *p, size_t size);

/* Print what the heap knows about addr; false if addr is not heap space. */
bool segkmem_fault_explain(uintptr_t addr, char *buf, size_t len);

/* The virtual-address arena (for dumps and tests). */
vmem_t *segkmem_arena(void);

#endif /* KERNEL_SEGKMEM_H */
