/*
 * kheap.h - the kernel's mapped heap: page-granular allocations in the upper
 * half of the address space (arch/riscv/mmu.h MMU_HEAP_BASE), backed by pages
 * from the page allocator, each followed by an unmapped guard page.
 *
 *   void *p = kheap_alloc(size, VM_NOSLEEP);   NULL on failure
 *   kheap_free(p, size);                        same size as allocated
 *
 * A fault on a guard page or a freed heap range panics through the trap
 * fault hook, which names the allocation (kheap_fault_explain).
 */
#ifndef KERNEL_KHEAP_H
#define KERNEL_KHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/vmem.h"

/* Create the arenas, give vmem its page source, install the fault hook.
 * Idempotent; call once after mm_pages_init (the first use also does it). */
void kheap_init(void);

/* Map ceil(size / 4 KiB) fresh zeroed pages; vmflag as for vmem (VM_NOSLEEP...). */
void *kheap_alloc(size_t size, int vmflag);

/* Unmap, shoot the TLBs down on every hart, return the pages and the range. */
void kheap_free(void *p, size_t size);

/* Print what the heap knows about addr; false if addr is not heap space. */
bool kheap_fault_explain(uintptr_t addr, char *buf, size_t len);

/* The virtual-address arena (for dumps and tests). */
vmem_t *kheap_arena(void);

#endif /* KERNEL_KHEAP_H */
