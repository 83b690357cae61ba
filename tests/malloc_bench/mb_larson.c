/*
 * mb_larson.c - a server workload after Larson & Krishnan 1998 ("Memory
 * allocation for long-running server applications", ISMM): each of -t
 * lineages owns an array of LARSON_SLOTS live objects of random sizes in
 * [LARSON_MIN, LARSON_MAX]; a step frees a random slot's object and puts a
 * new random-size one there.  After every generation (steps / LARSON_GENS)
 * the thread starts its successor, hands it the array and exits, so objects
 * allocated by one thread are freed by another, and thread caches die often
 * (the "client connection ends" of the original).  The original runs for a
 * fixed time; ours does a fixed number of steps so every allocator does the
 * same work.  Every object's tags are checked before it is freed.
 *
 *   mbench-larson [-t lineages] [-n steps] [-s seed] [-S]
 */
#include <stdlib.h>

#include "mbench.h"

#define LARSON_SLOTS	1000	/* live objects per lineage */
#define LARSON_MIN	16	/* smallest object (two tags) */
#define LARSON_MAX	1000	/* largest object, as in mimalloc-bench's larson runs */
#define LARSON_GENS	10	/* threads per lineage, one after another */

/* One lineage: its objects and the thread currently running it. */
struct larson_line {
	void		*ll_obj[LARSON_SLOTS];
	uint32_t	ll_size[LARSON_SLOTS];
	uint64_t	ll_tag[LARSON_SLOTS];
	uint64_t	ll_rand;
	uint64_t	ll_seq;		/* tags handed out so far */
	long		ll_steps;	/* steps per generation */
	int		ll_gen;		/* generation running now */
	int		ll_id;
	pthread_t	ll_tid[LARSON_GENS];	/* [g] set by generation g - 1 before it exits */
};

/* A random size in [LARSON_MIN, LARSON_MAX]. */
static uint32_t larson_size(struct larson_line *ll)
{
	return LARSON_MIN + (uint32_t)(mb_rand(&ll->ll_rand) % (LARSON_MAX - LARSON_MIN + 1));
}

/* Put a fresh object in slot i. */
static void larson_fill(struct larson_line *ll, int i)
{
	uint32_t size = larson_size(ll);

	ll->ll_obj[i] = mb_malloc(size);
	ll->ll_size[i] = size;
	ll->ll_tag[i] = ((uint64_t)ll->ll_id << 48) ^ ll->ll_seq++;
	mb_tag(ll->ll_obj[i], size, ll->ll_tag[i]);
}

/* Check and free slot i. */
static void larson_drop(struct larson_line *ll, int i)
{
	mb_check("larson", ll->ll_obj[i], ll->ll_size[i], ll->ll_tag[i]);
	free(ll->ll_obj[i]);
}

/* One generation: its steps, then the successor (or, last, free everything). */
static void *larson_worker(void *arg)
{
	struct larson_line *ll = arg;

	if (ll->ll_gen == 0)
		mb_ready();
	for (long s = 0; s < ll->ll_steps; s++) {
		int i = (int)(mb_rand(&ll->ll_rand) % LARSON_SLOTS);

		larson_drop(ll, i);
		larson_fill(ll, i);
	}
	if (++ll->ll_gen == LARSON_GENS) {
		for (int i = 0; i < LARSON_SLOTS; i++)
			larson_drop(ll, i);
		return NULL;
	}
	if (pthread_create(&ll->ll_tid[ll->ll_gen], NULL, larson_worker, ll))
		mb_fail("larson: pthread_create failed in lineage %d", ll->ll_id);
	return NULL;
}

/* Thread 0 of lineage: fill the array (timed with the rest), then run. */
static void *larson_first(void *arg)
{
	struct larson_line *ll = arg;

	for (int i = 0; i < LARSON_SLOTS; i++)
		larson_fill(ll, i);
	return larson_worker(ll);
}

int main(int argc, char **argv)
{
	struct mb_opts o = { .mo_threads = 1, .mo_n = 5000000, .mo_seed = 1 };
	static struct larson_line lines[256];
	double start, secs;
	long steps;

	mb_parse(argc, argv, &o, "mbench-larson");
	mb_selfcheck(&o);
	steps = o.mo_n / o.mo_threads / LARSON_GENS;
	for (int i = 0; i < o.mo_threads; i++) {
		lines[i].ll_rand = (o.mo_seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(i + 1);
		lines[i].ll_steps = steps;
		lines[i].ll_id = i + 1;
	}
	/* mb_run_threads joins generation 0; joining generation g - 1 makes
	 * the tid of generation g visible here. */
	start = mb_run_threads(o.mo_threads, larson_first, lines, sizeof(lines[0]));
	for (int i = 0; i < o.mo_threads; i++)
		for (int g = 1; g < LARSON_GENS; g++)
			pthread_join(lines[i].ll_tid[g], NULL);
	secs = mb_now() - start;
	for (int i = 0; i < o.mo_threads; i++)
		if (lines[i].ll_gen != LARSON_GENS)
			mb_fail("larson: lineage %d ran %d generations, not %d", i + 1,
				lines[i].ll_gen, LARSON_GENS);
	mb_report("larson", &o, (double)steps * LARSON_GENS * o.mo_threads, secs);
	return 0;
}
