/*
 * segkmem.h - the kernel segment that maps pages into kernel address space
 * (illumos calls this layer segkmem): it takes a range of virtual addresses
 * from the arena "kheap_va" (the kernel heap's address space, upper half,
 * arch/riscv/mmu.h MMU_HEAP_BASE), backs it with pages from the page
 * allocator and maps them, leaving an unmapped guard page after each range.
 * It is the import of the object caches' arena "kmem_heap"
 * (kernel/kmem_glue.c); other callers use it directly for page-granular
 * allocations.
 *
 *   void *p = segkmem_alloc(size, VM_NOSLEEP);   NULL on failure
 *   segkmem_free(p, size);                       same size as allocated
 *
 * A fault on a guard page or a freed range panics through the trap fault
 * hook, which names the allocation (segkmem_fault_explain).  A free flushes
 * only this hart's TLB; other harts' TLBs are flushed in one batch, the
 * lazy purge (segkmem.c §3), before the address range can be reused.
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

/* Unmap, flush this hart's TLB, return the pages at once; the range waits on
 * the dirty list for the next purge. */
void segkmem_free(void *p, size_t size);

/* Purge thresholds (segkmem.c §3): after a free, the dirty list holds at most
 * SEGKMEM_DIRTY_PAGES pages of address space in fewer than SEGKMEM_DIRTY_SLOTS
 * ranges. */
#define SEGKMEM_DIRTY_PAGES	2048u	/* 8 MiB */
#define SEGKMEM_DIRTY_SLOTS	256u

/* Flush every hart's TLB once and give every range freed before the call back
 * to the arena (waits for a purge in flight on another hart). */
void segkmem_purge(void);

/* Tests only: called by a purge after its fence, before it frees its batch,
 * without segkmem_lock and with interrupts off (segkmem.c §5). */
extern void (*segkmem_purge_test_hook)(void);

struct segkmem_stats {
	uint64_t sks_frees;		/* segkmem_free calls */
	uint64_t sks_purges;		/* purges that had ranges to free */
	uint64_t sks_forced_purges;	/* of which an allocation ran out of space */
	uint64_t sks_purged_pages;	/* address space purged, guard pages included */
	uint64_t sks_dirty_ranges;	/* on the dirty list now */
	uint64_t sks_dirty_pages;	/* their address space now, in pages */
	uint64_t sks_dirty_max;		/* most pages left on the list by a free */
};
void segkmem_get_stats(struct segkmem_stats *st);

/* One line of the statistics above (the `vmem` command prints it). */
void segkmem_dump(int (*out)(const char *fmt, ...));

/* Print what the heap knows about addr; false if addr is not heap space. */
bool segkmem_fault_explain(uintptr_t addr, char *buf, size_t len);

/* The virtual-address arena (for dumps and tests). */
vmem_t *segkmem_arena(void);

#endif /* KERNEL_SEGKMEM_H */
