/*
 * bootmem.c - the early boot allocator.
 *
 * 1. Overview and vocabulary
 * --------------------------
 * Between the moment the kernel has parsed the device tree and the moment the
 * page allocator runs, memory is needed for metadata: page tables, the page
 * descriptors of every node, the per-hart page caches.  bootmem serves those
 * requests from a table of *free ranges*, each tagged with the NUMA node it
 * belongs to.  The kernel adds memory ranges (bootmem_add) and *reservations*
 * (bootmem_reserve: its image, the FDT blob, /reserved-memory, OpenSBI); an
 * allocation is carved from the top of a free range on the requested node.
 * Nothing is ever given back to bootmem: when the page allocator starts it
 * takes every range still free (bootmem_hand_over) and bootmem is closed.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * bm_free[] holds the free ranges sorted by base; ranges never overlap, none
 * is empty, and two ranges that touch are merged when they share a node.
 * bm_resv[] remembers every reservation and every allocation (touching
 * records of one kind merged), so a range added *after* a reservation or an
 * allocation that covers part of it is still trimmed: the order of
 * bootmem_add and bootmem_reserve calls does not matter, and memory listed
 * twice is never handed out twice.  Both tables are
 * fixed arrays (BOOTMEM_MAX_RANGES): bootmem runs before any allocator, so it
 * cannot allocate its own bookkeeping.  Only the first bm_nfree (bm_nresv)
 * entries mean anything, so bootmem_reset clears the counts, not the
 * tables: a start-up on zeroed memory (.bss, in the kernel and in libkmem)
 * writes only the pages of the entries it uses.
 *
 * 3. Locking
 * ----------
 * None.  bootmem is used by the boot hart alone, before the other harts run
 * mm code; the page allocator closes it before going parallel.
 *
 * 4. Per-hart layer
 * -----------------
 * None: callers ask for memory on a node, so per-hart areas are placed on
 * the hart's node by passing that node.
 *
 * 5. Failure semantics
 * --------------------
 * bootmem_add/bootmem_reserve return -1 when a table is full (the memory is
 * then not added, or the reservation not recorded).  bootmem_alloc returns
 * false when no range satisfies the request; bootmem_alloc_or_panic panics
 * naming the request.  Any use after bootmem_hand_over panics: a late
 * allocation would hand the same memory to two owners.
 *
 * 6. Debugging and statistics
 * ---------------------------
 * bootmem_get_stats reports bytes added, reserved (taken out of free
 * ranges), allocated, the allocation count and the number of free ranges.
 * bootmem_dump prints the free table.
 */
#include "mm/mm_platform.h"
#include "mm/bootmem.h"

#define BM_MIN(a, b)		((a) < (b) ? (a) : (b))
#define BM_MAX(a, b)		((a) > (b) ? (a) : (b))
#define BM_ALIGN_DOWN(x, a)	((x) & ~((paddr_t)(a) - 1))
#define BM_IS_POW2(x)		((x) != 0 && ((x) & ((x) - 1)) == 0)

/* Kinds of records in bm_resv (kept in br_node, which they do not need). */
#define BM_RESERVED	(-2)	/* bootmem_reserve: never usable */
#define BM_ALLOCATED	(-3)	/* handed out by bootmem_alloc */

/* A free range [br_base, br_end) on node br_node, or a bm_resv record. */
struct bootmem_range {
	paddr_t br_base;		/* first byte */
	paddr_t br_end;			/* one past the last byte */
	int br_node;			/* NUMA node (free) or BM_RESERVED/BM_ALLOCATED */
};

/*
 * The counts come first and the tables last: entries past bm_nfree and
 * bm_nresv are never read, so the pages of entries never used are never
 * written (§2), and with them neither is .bss that is already zero.
 */
static struct {
	unsigned bm_nfree;					/* used entries of bm_free */
	unsigned bm_nresv;					/* used entries of bm_resv */
	bool bm_closed;						/* hand_over has run */
	struct bootmem_stats bm_stats;				/* see bootmem.h */
	struct bootmem_range bm_free[BOOTMEM_MAX_RANGES];	/* sorted, disjoint */
	struct bootmem_range bm_resv[BOOTMEM_MAX_RANGES];	/* reservations, allocations */
} bootmem;

void bootmem_reset(void)
{
	/* Only the counts: the tables' stale entries lie past them, unread. */
	bootmem.bm_nfree = 0;
	bootmem.bm_nresv = 0;
	bootmem.bm_closed = false;
	memset(&bootmem.bm_stats, 0, sizeof(bootmem.bm_stats));
}

/* Panic if bootmem has been handed over to the page allocator. */
static void bootmem_check_open(const char *fn)
{
	if (bootmem.bm_closed)
		panic("%s: bootmem used after bootmem_hand_over", fn);
}

/* Insert a range at index i, shifting the tail up.  false if the table is full. */
static bool bootmem_insert_at(unsigned i, paddr_t base, paddr_t end, int node)
{
	if (bootmem.bm_nfree == BOOTMEM_MAX_RANGES)
		return false;
	memmove(&bootmem.bm_free[i + 1], &bootmem.bm_free[i],
		(bootmem.bm_nfree - i) * sizeof(bootmem.bm_free[0]));
	bootmem.bm_free[i].br_base = base;
	bootmem.bm_free[i].br_end = end;
	bootmem.bm_free[i].br_node = node;
	bootmem.bm_nfree++;
	return true;
}

/* Remove the range at index i. */
static void bootmem_remove_at(unsigned i)
{
	memmove(&bootmem.bm_free[i], &bootmem.bm_free[i + 1],
		(bootmem.bm_nfree - i - 1) * sizeof(bootmem.bm_free[0]));
	bootmem.bm_nfree--;
}

/* Merge range i with its neighbours when they touch and share a node. */
static void bootmem_merge_around(unsigned i)
{
	struct bootmem_range *r = bootmem.bm_free;

	if (i + 1 < bootmem.bm_nfree && r[i].br_end == r[i + 1].br_base &&
	    r[i].br_node == r[i + 1].br_node) {
		r[i].br_end = r[i + 1].br_end;
		bootmem_remove_at(i + 1);
	}
	if (i > 0 && r[i - 1].br_end == r[i].br_base && r[i - 1].br_node == r[i].br_node) {
		r[i - 1].br_end = r[i].br_end;
		bootmem_remove_at(i);
	}
}

/*
 * Take [base, end) out of the free ranges.  Returns the bytes removed, or -1
 * (and removes nothing) when splitting a range would overflow the table.
 */
static int64_t bootmem_carve(paddr_t base, paddr_t end)
{
	int64_t removed = 0;
	unsigned i = 0;

	while (i < bootmem.bm_nfree) {
		struct bootmem_range *r = &bootmem.bm_free[i];
		paddr_t lo = BM_MAX(r->br_base, base), hi = BM_MIN(r->br_end, end);

		if (lo >= hi) {
			i++;
			continue;
		}
		removed += (int64_t)(hi - lo);
		if (lo > r->br_base && hi < r->br_end) {
			/* The hole is strictly inside: split in two. */
			if (!bootmem_insert_at(i + 1, hi, r->br_end, r->br_node))
				return -1;
			bootmem.bm_free[i].br_end = lo;
			i += 2;
		} else if (lo > r->br_base) {
			r->br_end = lo;
			i++;
		} else if (hi < r->br_end) {
			r->br_base = hi;
			i++;
		} else {
			bootmem_remove_at(i);
		}
	}
	return removed;
}

/* Insert free [base, end) on node, assuming it overlaps no free range. */
static int bootmem_insert_free(paddr_t base, paddr_t end, int node)
{
	unsigned i = 0;

	while (i < bootmem.bm_nfree && bootmem.bm_free[i].br_base < base)
		i++;
	if (!bootmem_insert_at(i, base, end, node))
		return -1;
	bootmem_merge_around(i);
	return 0;
}

/* Take every recorded reservation that meets [base, end) out again. */
static int bootmem_apply_resv(paddr_t base, paddr_t end)
{
	for (unsigned j = 0; j < bootmem.bm_nresv; j++) {
		const struct bootmem_range *rv = &bootmem.bm_resv[j];
		int64_t removed;

		if (rv->br_end <= base || rv->br_base >= end)
			continue;
		removed = bootmem_carve(BM_MAX(rv->br_base, base), BM_MIN(rv->br_end, end));
		if (removed < 0)
			return -1;
		if (rv->br_node == BM_RESERVED)
			bootmem.bm_stats.bs_reserved += (uint64_t)removed;
	}
	return 0;
}

int bootmem_add(paddr_t base, uint64_t size, int node)
{
	paddr_t end = base + size;

	bootmem_check_open("bootmem_add");
	if (size == 0)
		return 0;
	if (node < 0)
		node = 0;
	if (end < base)
		end = (paddr_t)-1;	/* clamp a range that wraps */
	/* Memory listed twice must not be handed out twice. */
	if (bootmem_carve(base, end) < 0)
		return -1;
	if (bootmem_insert_free(base, end, node) != 0 || bootmem_apply_resv(base, end) != 0)
		return -1;
	bootmem.bm_stats.bs_added += end - base;
	bootmem.bm_stats.bs_nranges = bootmem.bm_nfree;
	return 0;
}

/*
 * Remember [base, end) as reserved (kind BM_RESERVED) or allocated (kind
 * BM_ALLOCATED) so later bootmem_add calls never free it again.  Records of
 * one kind that touch are merged, which keeps the table small: allocations
 * are carved from the top of a range, so consecutive ones are adjacent.
 */
static int bootmem_record(paddr_t base, paddr_t end, int kind)
{
	unsigned j = 0;

	while (j < bootmem.bm_nresv) {
		struct bootmem_range *rv = &bootmem.bm_resv[j];

		if (rv->br_node != kind || rv->br_end < base || rv->br_base > end) {
			j++;
			continue;
		}
		base = BM_MIN(base, rv->br_base);
		end = BM_MAX(end, rv->br_end);
		*rv = bootmem.bm_resv[--bootmem.bm_nresv];
		j = 0;
	}
	if (bootmem.bm_nresv == BOOTMEM_MAX_RANGES)
		return -1;
	bootmem.bm_resv[bootmem.bm_nresv].br_base = base;
	bootmem.bm_resv[bootmem.bm_nresv].br_end = end;
	bootmem.bm_resv[bootmem.bm_nresv].br_node = kind;
	bootmem.bm_nresv++;
	return 0;
}

int bootmem_reserve(paddr_t base, uint64_t size)
{
	paddr_t end = base + size;
	int64_t removed;

	bootmem_check_open("bootmem_reserve");
	if (size == 0)
		return 0;
	if (end < base)
		end = (paddr_t)-1;
	if (bootmem_record(base, end, BM_RESERVED) != 0)
		return -1;
	removed = bootmem_carve(base, end);
	if (removed < 0)
		return -1;
	bootmem.bm_stats.bs_reserved += (uint64_t)removed;
	bootmem.bm_stats.bs_nranges = bootmem.bm_nfree;
	return 0;
}

/*
 * The highest address in range r, below limit, where an aligned block of
 * `size` bytes fits; false if none.
 */
static bool bootmem_fit(const struct bootmem_range *r, uint64_t size, uint64_t align,
			paddr_t limit, paddr_t *pa)
{
	paddr_t top = r->br_end, at;

	if (limit != 0 && top > limit)
		top = limit;
	if (top <= r->br_base || top - r->br_base < size)
		return false;
	at = BM_ALIGN_DOWN(top - size, align);
	if (at < r->br_base)
		return false;
	*pa = at;
	return true;
}

/* Search the free ranges from the top for a fit on `node` (any node if ANY). */
static bool bootmem_find(uint64_t size, uint64_t align, int node, paddr_t limit, paddr_t *pa)
{
	for (unsigned i = bootmem.bm_nfree; i-- > 0;) {
		const struct bootmem_range *r = &bootmem.bm_free[i];

		if (node != BOOTMEM_ANY_NODE && r->br_node != node)
			continue;
		if (bootmem_fit(r, size, align, limit, pa))
			return true;
	}
	return false;
}

bool bootmem_alloc_nozero(uint64_t size, uint64_t align, int node, bool exact,
			  paddr_t limit, paddr_t *pa)
{
	paddr_t at;

	bootmem_check_open("bootmem_alloc");
	if (align == 0)
		align = 1;
	if (!BM_IS_POW2(align))
		panic("bootmem_alloc: size %llu align %llu is not a power of two",
		      (unsigned long long)size, (unsigned long long)align);
	if (size == 0)
		size = 1;
	if (!bootmem_find(size, align, node, limit, &at)) {
		if (exact || node == BOOTMEM_ANY_NODE ||
		    !bootmem_find(size, align, BOOTMEM_ANY_NODE, limit, &at))
			return false;
	}
	/* Table full: fail and leave the memory free (carve changes nothing then). */
	if (bootmem_record(at, at + size, BM_ALLOCATED) != 0 || bootmem_carve(at, at + size) < 0)
		return false;
	bootmem.bm_stats.bs_allocated += size;
	bootmem.bm_stats.bs_nallocs++;
	bootmem.bm_stats.bs_nranges = bootmem.bm_nfree;
	*pa = at;
	return true;
}

bool bootmem_alloc(uint64_t size, uint64_t align, int node, bool exact,
		   paddr_t limit, paddr_t *pa)
{
	if (!bootmem_alloc_nozero(size, align, node, exact, limit, pa))
		return false;
	memset(phys_to_virt(*pa), 0, size ? size : 1);
	return true;
}

void *bootmem_alloc_or_panic(uint64_t size, uint64_t align, int node, const char *what)
{
	paddr_t pa;

	if (!bootmem_alloc(size, align, node, false, 0, &pa))
		panic("bootmem_alloc_or_panic: no memory for %s (size %llu align %llu node %d)",
		      what, (unsigned long long)size, (unsigned long long)align, node);
	return phys_to_virt(pa);
}

void bootmem_walk(void (*fn)(paddr_t base, uint64_t size, int node, void *arg), void *arg)
{
	for (unsigned i = 0; i < bootmem.bm_nfree; i++) {
		const struct bootmem_range *r = &bootmem.bm_free[i];

		fn(r->br_base, r->br_end - r->br_base, r->br_node, arg);
	}
}

void bootmem_hand_over(void (*fn)(paddr_t base, uint64_t size, int node, void *arg), void *arg)
{
	bootmem_check_open("bootmem_hand_over");
	bootmem.bm_closed = true;
	bootmem_walk(fn, arg);
}

void bootmem_get_stats(struct bootmem_stats *st)
{
	*st = bootmem.bm_stats;
	st->bs_nranges = bootmem.bm_nfree;
}

uint64_t bootmem_free_bytes(int node)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < bootmem.bm_nfree; i++) {
		const struct bootmem_range *r = &bootmem.bm_free[i];

		if (node == BOOTMEM_ANY_NODE || r->br_node == node)
			sum += r->br_end - r->br_base;
	}
	return sum;
}

bool bootmem_is_closed(void)
{
	return bootmem.bm_closed;
}

void bootmem_dump(void)
{
	printk("bootmem: %u free ranges%s\n", bootmem.bm_nfree,
	       bootmem.bm_closed ? " (handed over)" : "");
	for (unsigned i = 0; i < bootmem.bm_nfree; i++) {
		const struct bootmem_range *r = &bootmem.bm_free[i];

		printk("  [0x%llx-0x%llx) node %d\n", (unsigned long long)r->br_base,
		       (unsigned long long)r->br_end, r->br_node);
	}
}
