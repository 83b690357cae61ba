/*
 * mb_pair.c - the alloc+free pair loop: each thread allocates one object of
 * -z bytes, writes a tag at both ends, reads it back and frees it, -n / -t
 * times.  The fastest path an allocator has (a thread cache hit both ways);
 * it follows glibc's benchtests/bench-malloc-simple (allocate a number of
 * blocks of one size, then free them) with that number at 1, the alloc+free
 * cycle Bonwick & Adams 2001 time for magazines.  docs/malloc_race.md.
 *
 *   mbench-pair [-t threads] [-n pairs] [-z size] [-s seed] [-S]
 */
#include <stdlib.h>

#include "mbench.h"

/* One worker's slot (padded: workers never share a line). */
struct pair_thr {
	const struct mb_opts	*pt_opts;
	long			pt_pairs;
	uint64_t		pt_tag;
	char			pt_pad[40];
};

/* A worker: pt_pairs alloc+tag+check+free cycles. */
static void *pair_worker(void *arg)
{
	struct pair_thr *pt = arg;
	size_t size = pt->pt_opts->mo_size;
	uint64_t tag = pt->pt_tag;

	mb_ready();
	for (long i = 0; i < pt->pt_pairs; i++) {
		void *p = malloc(size);

		if (p == NULL)
			mb_fail("pair: malloc(%zu) returned NULL", size);
		mb_tag(p, size, tag + (uint64_t)i);
		__asm__ volatile("" ::: "memory");	/* the check reads memory */
		mb_check("pair", p, size, tag + (uint64_t)i);
		free(p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct mb_opts o = { .mo_threads = 1, .mo_n = 10000000, .mo_size = 64, .mo_seed = 1 };
	static struct pair_thr thr[256];
	double start;

	mb_parse(argc, argv, &o, "mbench-pair");
	if (o.mo_size < 16)
		mb_fail("pair: -z %zu: at least 16 (two tags)", o.mo_size);
	mb_selfcheck(&o);
	for (int i = 0; i < o.mo_threads; i++) {
		thr[i].pt_opts = &o;
		thr[i].pt_pairs = o.mo_n / o.mo_threads;
		thr[i].pt_tag = (uint64_t)(i + 1) << 48;
	}
	start = mb_run_threads(o.mo_threads, pair_worker, thr, sizeof(thr[0]));
	mb_report("pair", &o, (double)(o.mo_n / o.mo_threads) * o.mo_threads, mb_now() - start);
	return 0;
}
