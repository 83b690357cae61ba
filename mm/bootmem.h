/*
 * bootmem.h - the early boot allocator (public interface).
 *
 * Before zones exist the kernel needs memory for page tables, page
 * descriptors and per-hart areas.  bootmem keeps a small sorted array of free
 * physical ranges, each tagged with its NUMA node, and hands out aligned
 * blocks from the top of a range on the requested node.  Nothing is ever
 * freed back to bootmem: when the page allocator starts it takes every range
 * still free (bootmem_for_each_free) and bootmem is closed.
 */
#ifndef MM_BOOTMEM_H
#define MM_BOOTMEM_H

#include "mm/mm_platform.h"

#define BOOTMEM_MAX_RANGES	256
#define BOOTMEM_ANY_NODE	(-1)

/* Forget everything (host tests call this between cases). */
void bootmem_reset(void);

/*
 * Add usable memory [base, base+size) on `node` (a negative node, i.e. no
 * numa-node-id, counts as node 0).  Reservations recorded earlier are taken
 * out of it, so add and reserve may come in any order.  0, or -1 if the table
 * is full.
 */
int bootmem_add(paddr_t base, uint64_t size, int node);

/* Remove [base, base+size) from the free ranges (reservations).  Idempotent. */
int bootmem_reserve(paddr_t base, uint64_t size);

/*
 * Allocate `size` bytes aligned to `align` (a power of two) below `limit`
 * (0 = no limit) on `node`, falling back to any node when node has none left
 * (unless `exact`).  Zeroed.  Returns true and the address in *pa, or false.
 */
bool bootmem_alloc(uint64_t size, uint64_t align, int node, bool exact,
		   paddr_t limit, paddr_t *pa);

/*
 * bootmem_alloc without the zeroing, for large areas the caller initialises
 * itself (page descriptors: their owners fill them in parallel).
 */
bool bootmem_alloc_nozero(uint64_t size, uint64_t align, int node, bool exact,
			  paddr_t limit, paddr_t *pa);

/* Convenience: bootmem_alloc on any node, panics with the size on failure. */
void *bootmem_alloc_or_panic(uint64_t size, uint64_t align, int node, const char *what);

/* Visit each free range; closes bootmem (later bootmem_alloc panics). */
void bootmem_hand_over(void (*fn)(paddr_t base, uint64_t size, int node, void *arg), void *arg);

/* Statistics: bytes added, reserved, allocated; allocation count. */
struct bootmem_stats {
	uint64_t bs_added;		/* bytes given by bootmem_add */
	uint64_t bs_reserved;		/* bytes removed by bootmem_reserve */
	uint64_t bs_allocated;		/* bytes handed out by bootmem_alloc */
	uint64_t bs_nallocs;		/* successful bootmem_alloc calls */
	unsigned bs_nranges;		/* free ranges now */
};
void bootmem_get_stats(struct bootmem_stats *st);

/* Bytes still free on `node` (BOOTMEM_ANY_NODE: on all nodes). */
uint64_t bootmem_free_bytes(int node);

/* Visit each free range without closing bootmem (dumps and tests). */
void bootmem_walk(void (*fn)(paddr_t base, uint64_t size, int node, void *arg), void *arg);

/* True once bootmem_hand_over has run. */
bool bootmem_is_closed(void);

/* Print the free ranges through printk. */
void bootmem_dump(void);

#endif /* MM_BOOTMEM_H */
