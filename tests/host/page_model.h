/*
 * page_model.h - the reference model of the page allocator's random tests
 * (test_buddy, test_defer): which simulated pages the test holds, one byte
 * each, and the blocks it holds.  Every block the allocator hands out is
 * marked; a mark on a page already held is an overlap, a clear of a page not
 * held a double free.  Include after page_sim.h and cmocka.h.
 */
#ifndef TESTS_HOST_PAGE_MODEL_H
#define TESTS_HOST_PAGE_MODEL_H

#define R_MAX_HELD	4096

struct held_block {
	paddr_t pa;		/* address */
	unsigned order;		/* its order */
};

static struct held_block rh[R_MAX_HELD];	/* blocks the model says we hold */
static unsigned nrh;				/* how many */
static uint64_t rh_pages;			/* pages in them */
static uint8_t *owned;				/* per simulated page: 1 if held */
static uint64_t rstate = 0x9e3779b97f4a7c15ull;

/* xorshift64: the tests' one random stream (fixed seed: a failure replays). */
static uint64_t rnd(void)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 7;
	rstate ^= rstate << 17;
	return rstate;
}

/* Mark or clear the model's ownership of a block; returns false on overlap. */
static bool model_mark(paddr_t pa, unsigned order, uint8_t v)
{
	uint64_t first = (pa - sim_base) / PG;

	for (uint64_t i = first; i < first + (1ull << order); i++) {
		if (owned[i] == v)
			return false;
		owned[i] = v;
	}
	return true;
}

/* Keep a block just allocated and marked (freed again when the table is full). */
static void model_hold(paddr_t pa, unsigned order)
{
	if (nrh == R_MAX_HELD) {
		assert_int_equal(page_free(pa, order), 0);
		assert_true(model_mark(pa, order, 0));	/* the model agrees it was held */
		return;
	}
	rh[nrh].pa = pa;
	rh[nrh++].order = order;
	rh_pages += 1ull << order;
}

/* Free a random held block. */
static void random_free(void)
{
	unsigned i;

	if (nrh == 0)
		return;
	i = (unsigned)(rnd() % nrh);
	assert_int_equal(page_free(rh[i].pa, rh[i].order), 0);
	if (!model_mark(rh[i].pa, rh[i].order, 0))
		fail_msg("model: block 0x%llx order %u freed but not held",
			 (unsigned long long)rh[i].pa, rh[i].order);
	rh_pages -= 1ull << rh[i].order;
	rh[i] = rh[--nrh];
}

/* The page counts at step: free + cached + held (by the model) == managed. */
static void model_expect_counts(unsigned step, uint64_t managed)
{
	if (page_free_count() + page_cached_count() + rh_pages != managed)
		fail_msg("step %u: free %llu + cached %llu + held %llu != managed %llu", step,
			 (unsigned long long)page_free_count(),
			 (unsigned long long)page_cached_count(),
			 (unsigned long long)rh_pages, (unsigned long long)managed);
}

#endif /* TESTS_HOST_PAGE_MODEL_H */
