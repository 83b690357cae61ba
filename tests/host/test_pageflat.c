/*
 * test_pageflat.c - host tests of the page allocator over a flat descriptor
 * map (MM_PAGE_FLAT, mm/page.h; mm/page_init.c §2), as libkmem runs it.
 *
 * Built only against build/host/objflat (mm/ compiled with -DHOST_PAGE_FLAT,
 * tests/host/mm_env.h), so these cases see the flat lookup, the lazily
 * written descriptors and the 512 KiB grow steps.  The machine is
 * page_sim.h's two-node one with lay_defer = one grow step: section 0
 * (three zones of node 0) is given whole at boot, section 1 (node 1's
 * NORMAL zone) only its first 512 KiB, the rest as node 1 needs it.
 * The models the cases compare with are independent of the allocator:
 * blocks the test holds (with an owner word it writes itself, as kmem
 * does), the simulated address range, and which pages of the map the
 * host kernel says are resident (mincore).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "mm/mm_platform.h"
#include "mm/page.h"
#include "mm/page_impl.h"
#include "host_env.h"
#include "page_sim.h"

#ifndef MM_PAGE_FLAT
#error "test_pageflat is built with -DHOST_PAGE_FLAT (Makefile: build/host/objflat)"
#endif

#define SECT		(128 * MIB)
#define STEP		(512 * 1024ull)		/* one page of 32-byte descriptors */
#define NHELD		512

static char why[256];

/* A block the test holds: address, order and the owner word it wrote. */
struct held {
	paddr_t h_pa;
	unsigned h_order;
	uintptr_t h_tag;
};
static struct held held[NHELD];
static unsigned nheld;

/* Boot the two-node machine with one grow step eager per zone. */
static int boot_flat(void **state)
{
	struct sim_machine m = sim_two_nodes;

	(void)state;
	m.sm_defer = STEP;
	nheld = 0;
	return sim_boot(&m);
}

/* "Physical" address of offset off. */
static paddr_t at(uint64_t off)
{
	return sim_base + off;
}

/* Resident pages of the flat map's part describing [lo, hi) (mincore: the host's word). */
static unsigned map_resident(paddr_t lo, paddr_t hi)
{
	uintptr_t a = (uintptr_t)page_state.pgs_flat_map +
		      ((lo - page_mem.pgm_base) >> MM_PAGE_SHIFT) * sizeof(struct page);
	size_t len = ((hi - lo) >> MM_PAGE_SHIFT) * sizeof(struct page);
	unsigned char vec[1024];
	unsigned n = 0;

	assert_true(len / 4096 <= sizeof(vec) && a % 4096 == 0);
	assert_int_equal(mincore((void *)a, len, vec), 0);
	for (size_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

/* Allocate a block of order on node 1 only, tag its pages as kmem would, and hold it. */
static void hold(unsigned order, unsigned flags)
{
	paddr_t pa = page_alloc(order, flags);
	uintptr_t tag = ((uintptr_t)(nheld + 1) << 4) | 1;

	assert_true(pa != PAGE_NOADDR && nheld < NHELD);
	for (uint64_t off = 0; off < (PG << order); off += PG) {
		struct page *pg = page_lookup(pa + off);

		assert_non_null(pg);
		pg->pg_owner = tag;
	}
	held[nheld++] = (struct held){ pa, order, tag };
}

/* Give back held block i (owner words cleared first, as kmem does). */
static void unhold(unsigned i)
{
	for (uint64_t off = 0; off < (PG << held[i].h_order); off += PG)
		page_lookup(held[i].h_pa + off)->pg_owner = 0;
	assert_int_equal(page_free(held[i].h_pa, held[i].h_order), 0);
	held[i] = held[--nheld];
}

/* The held block containing pa, or NULL (the model). */
static const struct held *model_find(paddr_t pa)
{
	for (unsigned i = 0; i < nheld; i++)
		if (pa >= held[i].h_pa && pa < held[i].h_pa + (PG << held[i].h_order))
			return &held[i];
	return NULL;
}

/* Every page of every held block: its descriptor, its address, the tag we wrote. */
static void check_held(void)
{
	for (unsigned i = 0; i < nheld; i++)
		for (uint64_t off = 0; off < (PG << held[i].h_order); off += PG) {
			struct page *pg = page_lookup(held[i].h_pa + off), *slot;

			assert_non_null(pg);
			assert_int_equal(pg->pg_pa, held[i].h_pa + off);
			assert_int_equal(pg->pg_owner, held[i].h_tag);
			assert_true(page_slot(held[i].h_pa + off + 123, &slot));
			assert_ptr_equal(slot, pg);
		}
}

/* A page the model says is not held reads as "not a slab" and cannot be freed. */
static void check_unheld(paddr_t pa)
{
	struct page *pg;
	uint64_t free_before = page_free_count();

	if (model_find(pa) != NULL)
		return;
	pg = page_lookup(pa);
	assert_true(pg == NULL || !(pg->pg_owner & 1));
	if (page_slot(pa, &pg))		/* what kmalloc_buf_class reads, written or not */
		assert_false(pg->pg_owner & 1);
	assert_true(page_free(pa & ~(PG - 1), 0) < 0);
	assert_int_equal(page_free_count(), free_before);
}

/* Everything consistent, everything given back. */
static void expect_clean(void)
{
	while (nheld > 0)
		unhold(nheld - 1);
	page_drain_all();
	if (page_check(why, sizeof(why)) != 0)
		fail_msg("page_check: %s", why);
	assert_int_equal(page_free_count(), sim_managed());
}

/* Random blocks on both nodes: every lookup agrees with the model, after every step. */
static void pageflat_test_lookup_matches_model(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (unsigned step = 0; step < 3000; step++) {
		unsigned r = rand_r(&seed);

		if (nheld < NHELD && (r % 3 != 0 || nheld == 0))
			hold(r % 5 == 0 ? (r >> 8) % 6 : 0, PAGE_NODE((r >> 4) & 1));
		else
			unhold((r >> 8) % nheld);
		check_unheld(at((uint64_t)rand_r(&seed) % (256 * MIB)));
		if (step % 100 == 0) {
			check_held();
			if (page_check(why, sizeof(why)) != 0)
				fail_msg("step %u: page_check: %s", step, why);
		}
	}
	check_held();
	expect_clean();
}

/* Inside the map but never handed out (deferred, reserved): NULL, owner 0, refused. */
static void pageflat_test_foreign_pointer_in_unused_range(void **state)
{
	paddr_t deferred = at(SECT + 100 * MIB + 40), resv = at(1 * MIB + 8 * PG);
	struct page *pg;

	(void)state;
	hold(0, PAGE_NODE(1) | PAGE_THISNODE);
	for (unsigned i = 0; i < 2; i++) {
		paddr_t pa = i == 0 ? deferred : resv;

		assert_true(page_slot(pa, &pg));	/* inside the map ... */
		assert_int_equal(pg->pg_owner, 0);	/* ... reads as no slab */
		assert_int_equal(pg->pg_state, PG_RESERVED);
		assert_null(page_lookup(pa));
		assert_int_equal(page_node_of(pa), -1);
		assert_int_equal(page_free(pa & ~(PG - 1), 0), PAGE_ENOTALLOC);
	}
	expect_clean();
}

/* Just below and just past the map: no slot at all, refused, nothing changes. */
static void pageflat_test_pointer_just_outside(void **state)
{
	paddr_t below = page_mem.pgm_base - PG, past = page_mem.pgm_base + page_mem.pgm_span;
	struct page *pg;

	(void)state;
	assert_int_equal(page_mem.pgm_span, 256 * MIB);	/* the machine's span */
	assert_true(page_slot(past - 1, &pg));		/* the last byte is in */
	assert_false(page_slot(below, &pg));
	assert_false(page_slot(below + PG - 1, &pg));
	assert_false(page_slot(past, &pg));
	assert_null(page_lookup(past));
	assert_int_equal(page_free(past, 0), PAGE_ENOTALLOC);
	assert_int_equal(page_free(below, 0), PAGE_ENOTALLOC);
	assert_int_equal(page_free_count(), sim_managed());
	expect_clean();
}

/* Only the map pages of memory handed out become resident; node 1 grows 512 KiB at a time. */
static void pageflat_test_map_touched_only_where_used(void **state)
{
	paddr_t s1 = at(SECT), s1end = at(2 * SECT);

	(void)state;
	assert_int_equal(map_resident(s1, s1end), 1);		/* the eager step's head */
	hold(0, PAGE_NODE(1) | PAGE_THISNODE);
	assert_true(held[0].h_pa >= s1 && held[0].h_pa < s1 + STEP);
	assert_int_equal(map_resident(s1, s1end), 1);
	/* An order-8 block is 1 MiB aligned and [0, 1M) is in use: the zone grows
	 * steps 1, 2 and 3, and 2 + 3 merge into it; one map page per step. */
	hold(8, PAGE_NODE(1) | PAGE_THISNODE);
	assert_int_equal(held[1].h_pa, s1 + 2 * STEP);
	assert_int_equal(map_resident(s1, s1end), 4);
	check_held();
	expect_clean();
}

/* Node 1 runs dry: every step is grown, the counts add up, then allocation fails cleanly. */
static void pageflat_test_exhaustion_grows_every_step(void **state)
{
	uint64_t pages = 0, managed, n = 0;
	paddr_t *got = calloc(SECT / PG / 4, sizeof(*got)), pa;
	struct page_zone_info zi;

	(void)state;
	assert_non_null(got);
	assert_int_equal(page_zone_info(3, &zi), 0);
	managed = zi.pzi_managed;
	assert_true(managed > (SECT / PG) - (SECT / PG) / 8);	/* node 1's 128 MiB less bootmem's */
	while ((pa = page_alloc(2, PAGE_NODE(1) | PAGE_THISNODE | PAGE_URGENT)) != PAGE_NOADDR) {
		assert_true(pa >= at(SECT) && pa < at(2 * SECT));
		assert_non_null(page_lookup(pa + 3 * PG));	/* tails written when handed out */
		got[n++] = pa;
		pages += 4;
	}
	assert_int_equal(page_zone_info(3, &zi), 0);
	assert_int_equal(zi.pzi_deferred, 0);
	assert_true(managed - pages < 4 + zi.pzi_cached);	/* only odd pages left */
	while (n > 0)
		assert_int_equal(page_free(got[--n], 2), 0);
	free(got);
	expect_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(pageflat_test_lookup_matches_model, boot_flat),
		cmocka_unit_test_setup(pageflat_test_foreign_pointer_in_unused_range, boot_flat),
		cmocka_unit_test_setup(pageflat_test_pointer_just_outside, boot_flat),
		cmocka_unit_test_setup(pageflat_test_map_touched_only_where_used, boot_flat),
		cmocka_unit_test_setup(pageflat_test_exhaustion_grows_every_step, boot_flat),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
