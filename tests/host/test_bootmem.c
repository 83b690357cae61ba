/*
 * test_bootmem.c - host tests of the early boot allocator (mm/bootmem.c)
 * over simulated physical memory: an mmap'd region whose host addresses are
 * the "physical" addresses (tests/host/mm_env.h: phys == host pointer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "mm/mm_platform.h"
#include "mm/bootmem.h"
#include "host_env.h"

#define SIM_SIZE	(16ull << 20)	/* 16 MiB of simulated RAM */
#define PG		MM_PAGE_SIZE
#define SIM_PAGES	(SIM_SIZE / PG)

static uint8_t *sim;		/* base of the simulated RAM (2 MiB aligned) */
static paddr_t S;		/* its physical address */

/* Map the simulated RAM once, aligned so page arithmetic is simple. */
static int sim_setup(void **state)
{
	size_t len = SIM_SIZE + (2u << 20);
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)state;
	if (p == MAP_FAILED)
		return -1;
	sim = (uint8_t *)(((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
	S = virt_to_phys(sim);
	return 0;
}

/* Each case starts from an empty bootmem. */
static int reset(void **state)
{
	(void)state;
	bootmem_reset();
	return 0;
}

struct collect {
	unsigned n;			/* ranges seen */
	paddr_t base[BOOTMEM_MAX_RANGES];
	uint64_t size[BOOTMEM_MAX_RANGES];
	int node[BOOTMEM_MAX_RANGES];
	uint64_t total;			/* bytes seen */
};

static void collect_fn(paddr_t base, uint64_t size, int node, void *arg)
{
	struct collect *c = arg;

	c->base[c->n] = base;
	c->size[c->n] = size;
	c->node[c->n] = node;
	c->n++;
	c->total += size;
}

/* An allocation comes from the top of the range, aligned and zeroed. */
static void bootmem_test_alloc_top_aligned_zeroed(void **state)
{
	paddr_t pa;

	(void)state;
	memset(sim, 0xa5, SIM_SIZE);
	assert_int_equal(bootmem_add(S, SIM_SIZE, 0), 0);
	assert_true(bootmem_alloc(100, 64, 0, true, 0, &pa));
	assert_int_equal(pa % 64, 0);
	assert_true(pa + 100 <= S + SIM_SIZE);
	assert_true(pa >= S + SIM_SIZE - 164);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(((uint8_t *)phys_to_virt(pa))[i], 0);
	assert_true(bootmem_alloc(PG, 1u << 20, 0, true, 0, &pa));
	/* The highest MiB boundary with a free page above it. */
	assert_int_equal(pa, S + SIM_SIZE - (1u << 20));
	assert_int_equal(bootmem_free_bytes(0), SIM_SIZE - PG - 100);
}

/* Two allocations never overlap and the free count drops by their sizes. */
static void bootmem_test_allocations_disjoint(void **state)
{
	paddr_t a, b;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	assert_true(bootmem_alloc(2 * PG, PG, 0, true, 0, &a));
	assert_true(bootmem_alloc(2 * PG, PG, 0, true, 0, &b));
	assert_true(a + 2 * PG <= b || b + 2 * PG <= a);
	assert_false(bootmem_alloc(1, 1, 0, false, 0, &a));
	assert_int_equal(bootmem_free_bytes(BOOTMEM_ANY_NODE), 0);
}

/* A reservation made before the memory is added still trims it. */
static void bootmem_test_reserve_before_add_trims(void **state)
{
	struct collect c = { 0 };

	(void)state;
	assert_int_equal(bootmem_reserve(S + PG, PG), 0);
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	bootmem_walk(collect_fn, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.base[0], S);
	assert_int_equal(c.size[0], PG);
	assert_int_equal(c.base[1], S + 2 * PG);
	assert_int_equal(c.size[1], 2 * PG);
}

/* A reservation after the add splits the range; repeating it changes nothing. */
static void bootmem_test_reserve_idempotent(void **state)
{
	struct bootmem_stats st;
	struct collect c = { 0 };

	(void)state;
	assert_int_equal(bootmem_add(S, 8 * PG, 0), 0);
	assert_int_equal(bootmem_reserve(S + 2 * PG, 2 * PG), 0);
	assert_int_equal(bootmem_reserve(S + 2 * PG, 2 * PG), 0);
	assert_int_equal(bootmem_reserve(S + 3 * PG, PG), 0);
	bootmem_get_stats(&st);
	assert_int_equal(st.bs_added, 8 * PG);
	assert_int_equal(st.bs_reserved, 2 * PG);
	bootmem_walk(collect_fn, &c);
	assert_int_equal(c.total, 6 * PG);
	assert_int_equal(st.bs_nranges, 2);
}

/* Memory listed twice is counted once. */
static void bootmem_test_duplicate_add_counted_once(void **state)
{
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	assert_true(bootmem_alloc(PG, PG, 0, true, 0, &pa));
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	assert_int_equal(bootmem_free_bytes(0), 3 * PG);
}

/* Touching ranges on one node merge; on different nodes they stay apart. */
static void bootmem_test_merge_same_node_only(void **state)
{
	struct collect c = { 0 };

	(void)state;
	assert_int_equal(bootmem_add(S + 2 * PG, 2 * PG, 0), 0);
	assert_int_equal(bootmem_add(S, 2 * PG, 0), 0);
	assert_int_equal(bootmem_add(S + 4 * PG, 2 * PG, 1), 0);
	bootmem_walk(collect_fn, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.size[0], 4 * PG);
	assert_int_equal(c.node[0], 0);
	assert_int_equal(c.node[1], 1);
}

/* A node-less range (negative node) belongs to node 0. */
static void bootmem_test_no_node_is_node0(void **state)
{
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, -1), 0);
	assert_true(bootmem_alloc(PG, PG, 0, true, 0, &pa));
}

/* Allocations land on the requested node; fallback only when not exact. */
static void bootmem_test_node_placement_and_fallback(void **state)
{
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	assert_int_equal(bootmem_add(S + 8 * PG, 4 * PG, 1), 0);
	assert_true(bootmem_alloc(PG, PG, 0, true, 0, &pa));
	assert_true(pa < S + 4 * PG);
	assert_true(bootmem_alloc(PG, PG, 1, true, 0, &pa));
	assert_true(pa >= S + 8 * PG);
	assert_false(bootmem_alloc(4 * PG, PG, 1, true, 0, &pa));
	assert_true(bootmem_alloc(3 * PG, PG, 1, false, 0, &pa));
	assert_true(pa >= S + 8 * PG);
	assert_true(bootmem_alloc(2 * PG, PG, 1, false, 0, &pa));
	assert_true(pa < S + 4 * PG);
	assert_false(bootmem_alloc(PG, PG, 2, true, 0, &pa));
	assert_true(bootmem_alloc(PG, PG, 2, false, 0, &pa));
}

/* The limit is honoured: the block ends at or below it. */
static void bootmem_test_limit_honoured(void **state)
{
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 16 * PG, 0), 0);
	assert_true(bootmem_alloc(2 * PG, PG, 0, true, S + 5 * PG, &pa));
	assert_int_equal(pa, S + 3 * PG);
	assert_false(bootmem_alloc(2 * PG, PG, 0, true, S + PG, &pa));
	assert_true(bootmem_alloc(PG, PG, BOOTMEM_ANY_NODE, false, S + PG, &pa));
	assert_int_equal(pa, S);
}

/* After hand_over every free byte is visited once and bootmem is closed. */
static void bootmem_test_hand_over_visits_all_and_closes(void **state)
{
	struct collect c = { 0 };
	struct bootmem_stats st;
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 64 * PG, 0), 0);
	assert_int_equal(bootmem_add(S + 128 * PG, 64 * PG, 1), 0);
	assert_int_equal(bootmem_reserve(S + 10 * PG, 3 * PG), 0);
	assert_true(bootmem_alloc(5000, PG, 1, true, 0, &pa));
	bootmem_get_stats(&st);
	bootmem_hand_over(collect_fn, &c);
	assert_true(bootmem_is_closed());
	assert_int_equal(c.total, st.bs_added - st.bs_reserved - 5000);
	assert_int_equal(st.bs_nallocs, 1);
	HOST_EXPECT_PANIC(bootmem_alloc(PG, PG, 0, false, 0, &pa), "after bootmem_hand_over");
	HOST_EXPECT_PANIC(bootmem_add(S, PG, 0), "after bootmem_hand_over");
}

/* bootmem_alloc_or_panic names the request when memory runs out. */
static void bootmem_test_alloc_or_panic_names_request(void **state)
{
	void *p;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	p = bootmem_alloc_or_panic(PG, PG, 0, "test area");
	assert_non_null(p);
	HOST_EXPECT_PANIC(bootmem_alloc_or_panic(8 * PG, PG, 0, "huge thing"), "huge thing");
	assert_non_null(strstr(host_panic_msg, "size 32768"));
}

/* An alignment that is not a power of two is API misuse and panics. */
static void bootmem_test_bad_align_panics(void **state)
{
	paddr_t pa;

	(void)state;
	assert_int_equal(bootmem_add(S, 4 * PG, 0), 0);
	HOST_EXPECT_PANIC(bootmem_alloc(PG, 3000, 0, false, 0, &pa), "not a power of two");
}

/* A full range table makes add and reserve fail instead of overflowing. */
static void bootmem_test_table_full_fails(void **state)
{
	int rc = 0;

	(void)state;
	for (unsigned i = 0; i < BOOTMEM_MAX_RANGES; i++)
		rc |= bootmem_add(S + 2 * i * PG, PG, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(bootmem_add(S + 2 * BOOTMEM_MAX_RANGES * PG, PG, 0), -1);
	assert_int_equal(bootmem_add(S + 2 * BOOTMEM_MAX_RANGES * PG + PG, PG, 0), -1);
	bootmem_reset();
	assert_int_equal(bootmem_add(S, 2 * BOOTMEM_MAX_RANGES * PG, 0), 0);
	for (unsigned i = 0; i < BOOTMEM_MAX_RANGES - 1; i++)
		rc |= bootmem_reserve(S + (2 * i + 1) * PG, PG);
	assert_int_equal(rc, 0);
	assert_int_equal(bootmem_reserve(S + 1, 1), -1);
}

/* ---- randomized test against a page-granular reference model ---- */

enum { M_ABSENT, M_FREE, M_RESV, M_ALLOC };
static uint8_t model_state[SIM_PAGES];	/* per simulated page: M_* */
static int8_t model_node[SIM_PAGES];	/* node of a present page */

struct check {
	paddr_t last_end;		/* end of the previous range (sortedness) */
	int last_node;			/* node of the previous range (merging) */
	uint64_t pages;			/* free pages reported */
	bool ok;			/* no discrepancy found */
};

/* Every reported free page must be free in the model, on the same node. */
static void check_fn(paddr_t base, uint64_t size, int node, void *arg)
{
	struct check *ck = arg;

	if (base < ck->last_end || (base == ck->last_end && node == ck->last_node) || size == 0)
		ck->ok = false;
	for (paddr_t p = base; p < base + size; p += PG) {
		uint64_t i = (p - S) / PG;

		if (model_state[i] != M_FREE || model_node[i] != node)
			ck->ok = false;
	}
	ck->last_end = base + size;
	ck->last_node = node;
	ck->pages += size / PG;
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* One random add of a page range; the model marks non-reserved, non-allocated pages free. */
static void random_add(void)
{
	uint64_t first = rnd() % SIM_PAGES, n = 1 + rnd() % 64;
	int node = (int)(rnd() % 3);

	if (first + n > SIM_PAGES)
		n = SIM_PAGES - first;
	if (bootmem_add(S + first * PG, n * PG, node) != 0)
		return;
	for (uint64_t i = first; i < first + n; i++) {
		if (model_state[i] == M_ABSENT || model_state[i] == M_FREE) {
			model_state[i] = M_FREE;
			model_node[i] = (int8_t)node;
		}
	}
}

/* One random reservation. */
static void random_reserve(void)
{
	uint64_t first = rnd() % SIM_PAGES, n = 1 + rnd() % 16;

	if (first + n > SIM_PAGES)
		n = SIM_PAGES - first;
	if (bootmem_reserve(S + first * PG, n * PG) != 0)
		return;
	for (uint64_t i = first; i < first + n; i++)
		if (model_state[i] != M_ALLOC)
			model_state[i] = M_RESV;
}

/* One random allocation: must be free, on the node when exact, below the limit. */
static void random_alloc(void)
{
	uint64_t n = 1 + rnd() % 8, align = PG << (rnd() % 4);
	int node = (int)(rnd() % 3);
	bool exact = rnd() & 1;
	paddr_t limit = (rnd() & 1) ? S + (rnd() % SIM_PAGES) * PG : 0, pa;

	if (!bootmem_alloc(n * PG, align, node, exact, limit, &pa))
		return;
	assert_int_equal(pa % align, 0);
	assert_true(limit == 0 || pa + n * PG <= limit);
	for (uint64_t i = (pa - S) / PG; i < (pa - S) / PG + n; i++) {
		assert_int_equal(model_state[i], M_FREE);
		if (exact)
			assert_int_equal(model_node[i], node);
		model_state[i] = M_ALLOC;
	}
}

/* 20k random add/reserve/alloc steps, each followed by a full comparison with the model. */
static void bootmem_test_random_matches_model(void **state)
{
	(void)state;
	memset(model_state, M_ABSENT, sizeof(model_state));
	for (unsigned step = 0; step < 20000; step++) {
		struct check ck = { 0, -100, 0, true };
		uint64_t model_free = 0;
		unsigned op = (unsigned)(rnd() % 10);

		if (step % 400 == 0) {
			bootmem_reset();
			memset(model_state, M_ABSENT, sizeof(model_state));
		}
		if (op < 3)
			random_add();
		else if (op < 5)
			random_reserve();
		else
			random_alloc();
		bootmem_walk(check_fn, &ck);
		for (uint64_t i = 0; i < SIM_PAGES; i++)
			model_free += model_state[i] == M_FREE;
		assert_true(ck.ok);
		assert_int_equal(ck.pages, model_free);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(bootmem_test_alloc_top_aligned_zeroed, reset),
		cmocka_unit_test_setup(bootmem_test_allocations_disjoint, reset),
		cmocka_unit_test_setup(bootmem_test_reserve_before_add_trims, reset),
		cmocka_unit_test_setup(bootmem_test_reserve_idempotent, reset),
		cmocka_unit_test_setup(bootmem_test_duplicate_add_counted_once, reset),
		cmocka_unit_test_setup(bootmem_test_merge_same_node_only, reset),
		cmocka_unit_test_setup(bootmem_test_no_node_is_node0, reset),
		cmocka_unit_test_setup(bootmem_test_node_placement_and_fallback, reset),
		cmocka_unit_test_setup(bootmem_test_limit_honoured, reset),
		cmocka_unit_test_setup(bootmem_test_hand_over_visits_all_and_closes, reset),
		cmocka_unit_test_setup(bootmem_test_alloc_or_panic_names_request, reset),
		cmocka_unit_test_setup(bootmem_test_bad_align_panics, reset),
		cmocka_unit_test_setup(bootmem_test_table_full_fails, reset),
		cmocka_unit_test_setup(bootmem_test_random_matches_model, reset),
	};

	return cmocka_run_group_tests(tests, sim_setup, NULL);
}
