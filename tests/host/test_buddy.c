/*
 * test_buddy.c - host tests of nodes, zones and buddy free areas (mm/buddy.c,
 * mm/zone.c, mm/page_init.c) over simulated physical memory (page_sim.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mm/mm_platform.h"
#include "mm/page.h"
#include "host_env.h"
#include "page_sim.h"

static char why[256];

/* Boot the standard two-node machine before each case. */
static int boot_two(void **state)
{
	(void)state;
	return sim_boot(&sim_two_nodes);
}

/* Everything consistent, and nothing held in a cache, at the end of a case. */
static void expect_clean(void)
{
	page_drain_all();
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	assert_int_equal(page_free_count(), sim_managed());
}

/* Free blocks per order of every zone, for "back to the boot state" checks. */
struct snapshot {
	uint64_t nr_free[8][PAGE_NR_ORDERS];
	uint64_t free[8];
};

static void snap(struct snapshot *s)
{
	struct page_zone_info zi;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; page_zone_info(i, &zi) == 0; i++) {
		memcpy(s->nr_free[i], zi.pzi_nr_free, sizeof(zi.pzi_nr_free));
		s->free[i] = zi.pzi_free;
	}
}

/* The zones built are those described: spans, types, nodes; managed <= present. */
static void buddy_test_zones_match_description(void **state)
{
	struct page_zone_info zi;

	(void)state;
	assert_int_equal(page_zone_count(), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(page_zone_info(i, &zi), 0);
		assert_int_equal(zi.pzi_node, sim_two_nodes.sm_zones[i].node);
		assert_int_equal(zi.pzi_type, sim_two_nodes.sm_zones[i].type);
		assert_int_equal(zi.pzi_base, sim_base + sim_two_nodes.sm_zones[i].base);
		assert_int_equal(zi.pzi_end, sim_base + sim_two_nodes.sm_zones[i].end);
		assert_int_equal(zi.pzi_spanned, zi.pzi_present);
		assert_true(zi.pzi_managed <= zi.pzi_present);
		assert_int_equal(zi.pzi_free, zi.pzi_managed);
		assert_true(zi.pzi_min < zi.pzi_low && zi.pzi_low < zi.pzi_high);
	}
	/* The reserved "kernel image" is not managed: DMA lost 16 pages. */
	page_zone_info(0, &zi);
	assert_int_equal(zi.pzi_managed, zi.pzi_present - 16);
	assert_int_equal(page_zone_info(4, &zi), -1);
	expect_clean();
}

/* Every order returns a block aligned to its size and inside one zone. */
static void buddy_test_blocks_aligned_every_order(void **state)
{
	paddr_t pa[PAGE_NR_ORDERS];

	(void)state;
	for (unsigned o = 0; o <= PAGE_MAX_ORDER; o++) {
		pa[o] = page_alloc(o, 0);
		assert_int_not_equal(pa[o], PAGE_NOADDR);
		assert_int_equal(pa[o] & ((PG << o) - 1), 0);
		assert_true(sim_in_zone(pa[o], PG << o, -1, -1));
	}
	for (unsigned o = 0; o <= PAGE_MAX_ORDER; o++)
		assert_int_equal(page_free(pa[o], o), 0);
	expect_clean();
}

/* A split then a free coalesces back to exactly the boot free lists. */
static void buddy_test_split_then_free_coalesces(void **state)
{
	struct snapshot before, after;
	paddr_t pa[64];

	(void)state;
	snap(&before);
	for (unsigned i = 0; i < 64; i++) {
		pa[i] = page_alloc(i % 4, PAGE_NODE(1) | PAGE_THISNODE);
		assert_int_not_equal(pa[i], PAGE_NOADDR);
	}
	for (unsigned i = 0; i < 64; i += 2)
		assert_int_equal(page_free(pa[i], i % 4), 0);
	for (unsigned i = 1; i < 64; i += 2)
		assert_int_equal(page_free(pa[i], i % 4), 0);
	page_drain_all();
	snap(&after);
	assert_memory_equal(&before, &after, sizeof(before));
	expect_clean();
}

/* PAGE_DMA memory lies below dma_limit, PAGE_DMA32 below "4 GiB", default prefers NORMAL. */
static void buddy_test_zone_flags_respected(void **state)
{
	paddr_t dma = page_alloc(2, PAGE_DMA), d32 = page_alloc(2, PAGE_DMA32);
	paddr_t any = page_alloc(2, 0), one = page_alloc(0, PAGE_DMA);

	(void)state;
	assert_true(sim_in_zone(dma, 4 * PG, 0, PAGE_ZONE_DMA));
	assert_true(dma + 4 * PG <= sim_base + sim_two_nodes.sm_dma_limit);
	assert_true(sim_in_zone(one, PG, 0, PAGE_ZONE_DMA));
	assert_true(sim_in_zone(d32, 4 * PG, 0, PAGE_ZONE_DMA32));
	assert_true(sim_in_zone(any, 4 * PG, 0, PAGE_ZONE_NORMAL));
	assert_int_equal(page_zone_type_of(dma), PAGE_ZONE_DMA);
	assert_int_equal(page_node_of(any), 0);
	page_free(dma, 2);
	page_free(d32, 2);
	page_free(any, 2);
	page_free(one, 0);
	expect_clean();
}

/* Default allocations come from the calling hart's node; PAGE_NODE overrides it. */
static void buddy_test_node_preference(void **state)
{
	paddr_t a, b, c;

	(void)state;
	sim_become(&sim_two_nodes, 2);		/* a hart of node 1 */
	a = page_alloc(0, 0);
	b = page_alloc(3, 0);
	c = page_alloc(3, PAGE_NODE(0));
	assert_int_equal(page_node_of(a), 1);
	assert_int_equal(page_node_of(b), 1);
	assert_int_equal(page_node_of(c), 0);
	page_free(a, 0);
	page_free(b, 3);
	page_free(c, 3);
	sim_become(&sim_two_nodes, 0);
	expect_clean();
}

/* Allocate `order` blocks with `flags` until failure; returns how many, fills list. */
static unsigned exhaust(unsigned order, unsigned flags, paddr_t *list, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		paddr_t pa = page_alloc(order, flags);

		if (pa == PAGE_NOADDR)
			break;
		list[n++] = pa;
	}
	return n;
}

static paddr_t held[70000];

/* Fallback: node 0's NORMAL, then its DMA32, then its DMA, then node 1. */
static void buddy_test_fallback_order(void **state)
{
	unsigned n = 0;
	int seen[4] = { 0 }, order_seen[4], k = 0;

	(void)state;
	/* Order-3 allocations from hart 0 until node 1 serves one. */
	while (n < 70000) {
		paddr_t pa = page_alloc(3, 0);
		int z;

		assert_int_not_equal(pa, PAGE_NOADDR);
		held[n++] = pa;
		z = page_node_of(pa) == 1 ? 3 : page_zone_type_of(pa);
		if (!seen[z]) {
			seen[z] = 1;
			order_seen[k++] = z;
		}
		if (z == 3)
			break;
	}
	assert_int_equal(k, 4);
	assert_int_equal(order_seen[0], PAGE_ZONE_NORMAL);
	assert_int_equal(order_seen[1], PAGE_ZONE_DMA32);
	assert_int_equal(order_seen[2], PAGE_ZONE_DMA);
	assert_int_equal(order_seen[3], 3);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(page_free(held[i], 3), 0);
	expect_clean();
}

/* THISNODE never leaves the node: exhaustion fails instead of falling back. */
static void buddy_test_thisnode_fails_instead_of_fallback(void **state)
{
	unsigned n = exhaust(4, PAGE_NODE(1) | PAGE_THISNODE, held, 70000);

	(void)state;
	assert_true(n > 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(page_node_of(held[i]), 1);
	for (unsigned i = 0; i < n; i++)
		page_free(held[i], 4);
	expect_clean();
}

/* Exhaustion returns PAGE_NOADDR, urgent dips below min, and freeing restores every page. */
static void buddy_test_exhaustion_fails_and_loses_nothing(void **state)
{
	struct snapshot before, after;
	struct page_stats st0, st1;
	struct page_zone_info zi;
	unsigned n, u;

	(void)state;
	snap(&before);
	page_get_stats(&st0);
	n = exhaust(0, PAGE_DMA, held, 70000);
	page_zone_info(0, &zi);
	assert_true(n > 0);
	assert_true(zi.pzi_free + zi.pzi_cached <= zi.pzi_min);
	u = exhaust(0, PAGE_DMA | PAGE_URGENT, held + n, 70000 - n);
	assert_true(u > 0);
	page_zone_info(0, &zi);
	assert_int_equal(zi.pzi_free, 0);
	for (unsigned i = 0; i < n + u; i++)
		assert_true(sim_in_zone(held[i], PG, 0, PAGE_ZONE_DMA));
	page_get_stats(&st1);
	assert_true(st1.pst_alloc_fail >= st0.pst_alloc_fail + 2);
	for (unsigned i = 0; i < n + u; i++)
		assert_int_equal(page_free(held[i], 0), 0);
	page_drain_all();
	snap(&after);
	assert_memory_equal(&before, &after, sizeof(before));
	expect_clean();
}

/*
 * Ordinary requests that fall back into node 0's DMA zone leave it its
 * protection (1/256 of the node's DMA32 and NORMAL pages), which DMA
 * requests can still have; DMA32 requests are held back by the DMA32 pages
 * only, DMA requests not at all.
 */
static void buddy_test_lowmem_protects_dma(void **state)
{
	struct page_zone_info dma, dma32, normal;
	unsigned n, in_dma = 0, d;

	(void)state;
	page_zone_info(0, &dma);
	page_zone_info(1, &dma32);
	page_zone_info(2, &normal);
	assert_int_equal(dma.pzi_type, PAGE_ZONE_DMA);
	assert_int_equal(dma.pzi_lowmem[PAGE_ANY], (dma32.pzi_managed + normal.pzi_managed) / 256);
	assert_int_equal(dma.pzi_lowmem[PAGE_DMA32], dma32.pzi_managed / 256);
	assert_int_equal(dma.pzi_lowmem[PAGE_DMA], 0);
	assert_int_equal(dma32.pzi_lowmem[PAGE_ANY], normal.pzi_managed / 256);
	assert_int_equal(normal.pzi_lowmem[PAGE_ANY], 0);
	n = exhaust(0, PAGE_THISNODE, held, 70000);
	for (unsigned i = 0; i < n; i++)
		in_dma += sim_in_zone(held[i], PG, 0, PAGE_ZONE_DMA);
	page_zone_info(0, &dma);
	assert_true(in_dma > 0);				/* it did fall back */
	assert_true(dma.pzi_free >= dma.pzi_min + dma.pzi_lowmem[PAGE_ANY]);
	d = exhaust(0, PAGE_DMA | PAGE_THISNODE, held + n, 70000 - n);
	assert_true(d >= dma.pzi_lowmem[PAGE_ANY]);		/* the protected pages */
	for (unsigned i = 0; i < n + d; i++)
		assert_int_equal(page_free(held[i], 0), 0);
	expect_clean();
}

/* After a fragmenting workload is freed, a max-order allocation succeeds everywhere. */
static void buddy_test_max_order_after_fragmentation(void **state)
{
	unsigned n = exhaust(0, PAGE_NODE(1) | PAGE_THISNODE, held, 70000);

	(void)state;
	assert_int_equal(page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE), PAGE_NOADDR);
	for (unsigned i = 0; i < n; i += 2)
		page_free(held[i], 0);
	for (unsigned i = 1; i < n; i += 2)
		page_free(held[i], 0);
	held[0] = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE);
	assert_int_not_equal(held[0], PAGE_NOADDR);
	page_free(held[0], PAGE_MAX_ORDER);
	expect_clean();
}

/* A misuse returns its code, is counted, and changes no free count. */
static void expect_misuse(paddr_t pa, unsigned order, int code)
{
	uint64_t free0 = page_free_count(), cached0 = page_cached_count();

	assert_int_equal(page_free(pa, order), code);
	assert_int_equal(page_free_count(), free0);
	assert_int_equal(page_cached_count(), cached0);
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check after misuse: %s", why);
}

/* Double frees are detected: cached order 0, free order 3, and one merged away. */
static void buddy_test_double_free_detected(void **state)
{
	paddr_t a = page_alloc(0, 0), b = page_alloc(3, 0), c = page_alloc(3, 0);
	struct page_stats st;

	(void)state;
	assert_int_equal(page_free(a, 0), 0);
	expect_misuse(a, 0, PAGE_EDOUBLE);
	assert_int_equal(page_free(b, 3), 0);
	assert_int_equal(page_free(c, 3), 0);
	/* One of b and c now lies inside a merged free block. */
	expect_misuse(b, 3, PAGE_EDOUBLE);
	expect_misuse(c, 3, PAGE_EDOUBLE);
	page_get_stats(&st);
	assert_int_equal(st.pst_double_free, 3);
	expect_clean();
}

/* Frees of memory that was never allocated are detected. */
static void buddy_test_free_never_allocated_detected(void **state)
{
	paddr_t b = page_alloc(2, 0);
	struct page_stats st;

	(void)state;
	expect_misuse(sim_base + 1 * MIB, 0, PAGE_ENOTALLOC);		/* reserved image */
	expect_misuse(sim_base + 300 * MIB, 0, PAGE_ENOTALLOC);	/* no memory there */
	expect_misuse(0x1000, 0, PAGE_ENOTALLOC);			/* far below */
	expect_misuse(b + PG, 0, PAGE_ENOTALLOC);			/* inside a block */
	page_get_stats(&st);
	assert_int_equal(st.pst_not_alloc, 4);
	assert_int_equal(page_free(b, 2), 0);
	expect_clean();
}

/* Frees with the wrong order, and unaligned addresses, are detected. */
static void buddy_test_wrong_order_and_misaligned_detected(void **state)
{
	paddr_t a = page_alloc(2, 0), z = page_alloc(0, 0);
	struct page_stats st;

	(void)state;
	expect_misuse(a, 1, PAGE_EORDER);
	expect_misuse(a, 3, PAGE_EORDER);
	expect_misuse(z, 1, PAGE_EORDER);
	expect_misuse(a + 8, 2, PAGE_EALIGN);
	page_get_stats(&st);
	assert_int_equal(st.pst_wrong_order, 3);
	assert_int_equal(st.pst_misaligned, 1);
	assert_int_equal(page_free(a, 2), 0);
	assert_int_equal(page_free(z, 0), 0);
	expect_clean();
}

/* Bad orders fail cleanly; impossible flags and nodes are API misuse and panic. */
static void buddy_test_bad_arguments(void **state)
{
	struct page_stats st;

	(void)state;
	assert_int_equal(page_alloc(PAGE_MAX_ORDER + 1, 0), PAGE_NOADDR);
	page_get_stats(&st);
	assert_int_equal(st.pst_bad_order, 1);
	HOST_EXPECT_PANIC(page_alloc(0, PAGE_DMA | PAGE_DMA32), "invalid flags");
	HOST_EXPECT_PANIC(page_alloc(1, 0x100), "invalid flags");
	HOST_EXPECT_PANIC(page_alloc(0, PAGE_NODE(5)), "node 5 does not exist");
	expect_clean();
}

/* PAGE_ZERO returns zeroed memory. */
static void buddy_test_zero_flag_zeroes(void **state)
{
	paddr_t pa = page_alloc(1, 0);
	uint8_t *p = phys_to_virt(pa);

	(void)state;
	memset(p, 0x5a, 2 * PG);
	page_free(pa, 1);
	pa = page_alloc(1, PAGE_ZERO);
	p = phys_to_virt(pa);
	for (unsigned i = 0; i < 2 * PG; i++)
		assert_int_equal(p[i], 0);
	page_free(pa, 1);
	expect_clean();
}

/* A platform without a DMA zone serves PAGE_DMA from DMA32; with no low memory it fails. */
static void buddy_test_dma_without_dma_zone(void **state)
{
	struct sim_machine m = sim_two_nodes;
	paddr_t pa;

	(void)state;
	m.sm_nzones = 3;
	m.sm_zones[0] = (typeof(m.sm_zones[0])){ 0, PAGE_ZONE_DMA32, 0, 64 * MIB };
	m.sm_zones[1] = (typeof(m.sm_zones[0])){ 0, PAGE_ZONE_NORMAL, 64 * MIB, 128 * MIB };
	m.sm_zones[2] = (typeof(m.sm_zones[0])){ 1, PAGE_ZONE_NORMAL, 128 * MIB, 256 * MIB };
	m.sm_dma_limit = 0;
	assert_int_equal(sim_boot(&m), 0);
	pa = page_alloc(0, PAGE_DMA);
	assert_true(sim_in_zone(pa, PG, 0, PAGE_ZONE_DMA32));
	page_free(pa, 0);
	expect_clean();
	/* Only NORMAL memory: DMA requests fail, they never land above the limit. */
	m.sm_nzones = 1;
	m.sm_zones[0] = (typeof(m.sm_zones[0])){ 0, PAGE_ZONE_NORMAL, 64 * MIB, 128 * MIB };
	assert_int_equal(sim_boot(&m), 0);
	assert_int_equal(page_alloc(0, PAGE_DMA), PAGE_NOADDR);
	assert_int_equal(page_alloc(0, PAGE_DMA32), PAGE_NOADDR);
	assert_int_not_equal(page_alloc(0, 0), PAGE_NOADDR);
	page_drain_all();
	assert_int_equal(sim_boot(&sim_two_nodes), 0);
}

/* Layouts that cannot be right are refused with -1, not half-built. */
static void buddy_test_bad_layout_refused(void **state)
{
	struct sim_machine m = sim_two_nodes;

	(void)state;
	m.sm_zones[1].base = 8 * MIB;			/* overlaps DMA */
	assert_int_equal(sim_boot(&m), -1);
	m = sim_two_nodes;
	m.sm_dma_limit = 8 * MIB;			/* DMA zone above the limit */
	assert_int_equal(sim_boot(&m), -1);
	m = sim_two_nodes;
	m.sm_zones[1].end = 96 * MIB;			/* DMA32 above "4 GiB" */
	m.sm_zones[2].base = 96 * MIB;
	assert_int_equal(sim_boot(&m), -1);
	assert_int_equal(sim_boot(&sim_two_nodes), 0);
}

/* Distances order the fallback: node 0 falls back to node 2 (near) before node 1. */
static void buddy_test_fallback_follows_distance(void **state)
{
	static const uint8_t dist[9] = { 10, 40, 20, 40, 10, 20, 20, 20, 10 };
	struct sim_machine m = { 0 };
	paddr_t pa;
	unsigned n;

	(void)state;
	m.sm_nzones = 3;
	m.sm_zones[0] = (typeof(m.sm_zones[0])){ 0, PAGE_ZONE_NORMAL, 0, 16 * MIB };
	m.sm_zones[1] = (typeof(m.sm_zones[0])){ 1, PAGE_ZONE_NORMAL, 16 * MIB, 32 * MIB };
	m.sm_zones[2] = (typeof(m.sm_zones[0])){ 2, PAGE_ZONE_NORMAL, 32 * MIB, 48 * MIB };
	m.sm_dma32_limit = 0;
	m.sm_ncpus = 3;
	m.sm_cpu_node[1] = 1;
	m.sm_cpu_node[2] = 2;
	m.sm_dist = dist;
	m.sm_nnodes = 3;
	assert_int_equal(sim_boot(&m), 0);
	n = exhaust(2, PAGE_NODE(0) | PAGE_THISNODE, held, 70000);
	pa = page_alloc(2, PAGE_NODE(0));
	assert_int_equal(page_node_of(pa), 2);
	page_free(pa, 2);
	for (unsigned i = 0; i < n; i++)
		page_free(held[i], 2);
	expect_clean();
	assert_int_equal(sim_boot(&sim_two_nodes), 0);
}

/* A node without harts is initialised by the boot hart and serves requests naming it. */
static void buddy_test_node_without_harts(void **state)
{
	struct sim_machine m = sim_two_nodes;
	struct page_zone_info zi;
	paddr_t pa;

	(void)state;
	m.sm_ncpus = 2;
	m.sm_cpu_node[0] = m.sm_cpu_node[1] = 0;
	assert_int_equal(sim_boot(&m), 0);
	page_zone_info(3, &zi);
	assert_int_equal(zi.pzi_node, 1);
	assert_int_equal(zi.pzi_free, zi.pzi_managed);
	assert_true(zi.pzi_nr_free[PAGE_MAX_ORDER] > 0);
	pa = page_alloc(PAGE_MAX_ORDER, PAGE_NODE(1) | PAGE_THISNODE);
	assert_int_equal(page_node_of(pa), 1);
	page_free(pa, PAGE_MAX_ORDER);
	expect_clean();
	assert_int_equal(sim_boot(&sim_two_nodes), 0);
}

/* A hart on a node without memory allocates from the nearest node that has some. */
static void buddy_test_hart_on_memoryless_node(void **state)
{
	static const uint8_t dist[9] = { 10, 20, 40, 20, 10, 20, 40, 20, 10 };
	struct sim_machine m = sim_two_nodes;
	paddr_t pa;

	(void)state;
	m.sm_ncpus = 3;
	m.sm_cpu_node[2] = 2;		/* node 2 has harts but no memory */
	m.sm_dist = dist;
	m.sm_nnodes = 3;
	assert_int_equal(sim_boot(&m), 0);
	sim_become(&m, 2);
	pa = page_alloc(0, 0);
	assert_int_equal(page_node_of(pa), 1);	/* distance 20 beats 40 */
	page_free(pa, 0);
	assert_int_equal(page_alloc(0, PAGE_THISNODE), PAGE_NOADDR);
	sim_become(&m, 0);
	expect_clean();
	assert_int_equal(sim_boot(&sim_two_nodes), 0);
}

/* ---- randomized test against a reference model ---- */

#include "page_model.h"

/* Small orders mostly, like real traffic. */
static unsigned rnd_order(void)
{
	uint64_t r = rnd() % 100;

	return r < 60 ? 0 : r < 80 ? 1 : r < 90 ? 2 : (unsigned)(3 + rnd() % 8);
}

/* One random allocation; checks placement against the flags and overlap. */
static void random_alloc(void)
{
	static const unsigned cls[4] = { PAGE_ANY, PAGE_ANY, PAGE_DMA32, PAGE_DMA };
	unsigned order = rnd_order(), flags = cls[rnd() % 4];
	paddr_t pa;

	if (rnd() % 8 == 0)
		flags |= PAGE_NODE(rnd() % 2) | ((rnd() & 1) ? PAGE_THISNODE : 0);
	if (rnd() % 16 == 0)
		flags |= PAGE_URGENT;
	pa = page_alloc(order, flags);
	if (pa == PAGE_NOADDR)
		return;
	assert_int_equal(pa & ((PG << order) - 1), 0);
	if ((flags & PAGE_ZONE_MASK) == PAGE_DMA)
		assert_true(sim_in_zone(pa, PG << order, -1, PAGE_ZONE_DMA));
	if ((flags & PAGE_ZONE_MASK) == PAGE_DMA32)
		assert_true(pa + (PG << order) <= sim_base + 64 * MIB);
	if (flags & PAGE_THISNODE)
		assert_int_equal(page_node_of(pa), (int)((flags >> PAGE_NODE_SHIFT) - 1));
	if (!model_mark(pa, order, 1))
		fail_msg("block 0x%llx order %u overlaps a held block", (unsigned long long)pa, order);
	model_hold(pa, order);
}

/* 2 million random operations over all flags and harts, checked after each. */
static void buddy_test_random_matches_model(void **state)
{
	uint64_t managed = sim_managed();
	struct snapshot before, after;
	struct page_stats st;

	(void)state;
	owned = calloc(SIM_SPAN / PG, 1);
	assert_non_null(owned);
	snap(&before);
	for (unsigned step = 0; step < 2000000; step++) {
		unsigned op = (unsigned)(rnd() % 100);

		if (op < 2)
			sim_become(&sim_two_nodes, (unsigned)(rnd() % 4));
		if (op < 50)
			random_alloc();
		else
			random_free();
		/* Counts: free + cached + held == managed, after every step. */
		model_expect_counts(step, managed);
		if (step % 50000 == 0 && page_check(why, sizeof(why)) != 0)
			fail_msg("step %u: %s", step, why);
	}
	page_get_stats(&st);
	print_message("2000000 steps, %llu failed allocations, %llu cross-hart drains\n",
		      (unsigned long long)st.pst_alloc_fail, (unsigned long long)st.pst_drain_all);
	assert_true(st.pst_alloc_fail > 0);	/* the run did reach exhaustion */
	while (nrh > 0)
		random_free();
	sim_become(&sim_two_nodes, 0);
	page_drain_all();
	snap(&after);
	/* Full coalescing: the free lists are exactly those at boot. */
	assert_memory_equal(&before, &after, sizeof(before));
	free(owned);
	expect_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(buddy_test_zones_match_description, boot_two),
		cmocka_unit_test_setup(buddy_test_blocks_aligned_every_order, boot_two),
		cmocka_unit_test_setup(buddy_test_split_then_free_coalesces, boot_two),
		cmocka_unit_test_setup(buddy_test_zone_flags_respected, boot_two),
		cmocka_unit_test_setup(buddy_test_node_preference, boot_two),
		cmocka_unit_test_setup(buddy_test_fallback_order, boot_two),
		cmocka_unit_test_setup(buddy_test_thisnode_fails_instead_of_fallback, boot_two),
		cmocka_unit_test_setup(buddy_test_exhaustion_fails_and_loses_nothing, boot_two),
		cmocka_unit_test_setup(buddy_test_lowmem_protects_dma, boot_two),
		cmocka_unit_test_setup(buddy_test_max_order_after_fragmentation, boot_two),
		cmocka_unit_test_setup(buddy_test_double_free_detected, boot_two),
		cmocka_unit_test_setup(buddy_test_free_never_allocated_detected, boot_two),
		cmocka_unit_test_setup(buddy_test_wrong_order_and_misaligned_detected, boot_two),
		cmocka_unit_test_setup(buddy_test_bad_arguments, boot_two),
		cmocka_unit_test_setup(buddy_test_zero_flag_zeroes, boot_two),
		cmocka_unit_test_setup(buddy_test_dma_without_dma_zone, boot_two),
		cmocka_unit_test_setup(buddy_test_bad_layout_refused, boot_two),
		cmocka_unit_test_setup(buddy_test_fallback_follows_distance, boot_two),
		cmocka_unit_test_setup(buddy_test_node_without_harts, boot_two),
		cmocka_unit_test_setup(buddy_test_hart_on_memoryless_node, boot_two),
		cmocka_unit_test_setup(buddy_test_random_matches_model, boot_two),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
