/*
 * prof_test.c - prof_region() drives its callback as documented.
 *
 * These cases also give `make profile` a region with a known answer: the
 * callback of prof_test_region_calls_fn_once_per_iteration does one AMO, so
 * the report must show 1.00 atomics/op for region "prof_test_amoadd".
 */
#include <stddef.h>

#include "kernel/ktest.h"
#include "kernel/prof.h"

#define PROF_TEST_ITERS	1000

/* What the callback saw. */
struct prof_test_state {
	unsigned long pts_calls;	/* callback invocations (one AMO each) */
	unsigned long pts_next;		/* the i expected on the next call */
	unsigned long pts_out_of_order;	/* calls whose i was not pts_next */
};

/* Count the call with one atomic add, and check i runs 0, 1, 2, ... */
static void prof_test_count(void *arg, unsigned long i)
{
	struct prof_test_state *st = arg;

	__atomic_fetch_add(&st->pts_calls, 1, __ATOMIC_RELAXED);
	if (i != st->pts_next)
		st->pts_out_of_order++;
	st->pts_next = i + 1;
}

/* The callback runs exactly iters times, with i = 0 .. iters-1 in order. */
static void prof_test_region_calls_fn_once_per_iteration(struct ktest *t)
{
	struct prof_test_state st = { 0, 0, 0 };

	prof_region("prof_test_amoadd", PROF_TEST_ITERS, prof_test_count, &st);
	KEXPECT_EQ(t, st.pts_calls, PROF_TEST_ITERS);
	KEXPECT_EQ(t, st.pts_next, PROF_TEST_ITERS);
	KEXPECT_EQ(t, st.pts_out_of_order, 0);
}

/* With zero iterations the callback never runs. */
static void prof_test_region_with_zero_iterations_skips_fn(struct ktest *t)
{
	struct prof_test_state st = { 0, 0, 0 };

	prof_region("prof_test_empty", 0, prof_test_count, &st);
	KEXPECT_EQ(t, st.pts_calls, 0);
}

/* A NULL callback is API misuse and panics naming the function. */
static void prof_test_region_with_null_fn_panics(struct ktest *t)
{
	KTEST_EXPECT_PANIC(t, prof_region("prof_test_null", 1, NULL, NULL), "prof_region");
}

static const struct ktest_case prof_test_cases[] = {
	{ "prof_test_region_calls_fn_once_per_iteration",
	  prof_test_region_calls_fn_once_per_iteration },
	{ "prof_test_region_with_zero_iterations_skips_fn",
	  prof_test_region_with_zero_iterations_skips_fn },
	{ "prof_test_region_with_null_fn_panics", prof_test_region_with_null_fn_panics },
	{ NULL, NULL },
};

KTEST_SUITE(prof_test_suite, "prof", prof_test_cases);
