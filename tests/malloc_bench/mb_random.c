/*
 * mb_random.c - random sizes, random lifetimes, some objects migrating
 * between threads: after mimalloc's test-stress ("mstressN" in
 * mimalloc-bench: power-of-two-ish sizes, mostly small and a few large,
 * lifetimes short and long, objects handed between threads through a shared
 * transfer array).  Ours draws each object's lifetime explicitly: a step
 * allocates one object of a random size and files it on a timing wheel
 * RND_WHEEL steps around, at a random distance skewed towards short lives;
 * the step first frees (after checking their tags) every object whose time
 * has come.  One object in RND_SHARE is swapped into a random slot of the
 * shared transfer array instead, and whatever another thread had left there
 * is filed on this thread's wheel, so it is freed here.
 *
 * Sizes: 16 << k bytes plus up to as much again, k = 0..7 with probability
 * halving at each step (16 B to 4 KiB), and one object in 256 between 16 KiB
 * and 256 KiB (large objects).
 *
 *   mbench-random [-t threads] [-n steps] [-s seed] [-S]
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "mbench.h"

#define RND_WHEEL	4096	/* wheel slots: the longest lifetime in steps */
#define RND_SHARE	16	/* one object in RND_SHARE migrates */
#define RND_XFER	256	/* slots of the shared transfer array */

/* Every object starts with this header; mb_tag's head word is ro_tag and
 * its tail word ~ro_tag, so a tail that is not the complement of the head
 * (or a size past the largest) is corruption. */
struct rnd_obj {
	uint64_t	ro_tag;
	struct rnd_obj	*ro_next;	/* wheel slot list */
	uint64_t	ro_size;
};

/* One worker. */
struct rnd_thr {
	struct rnd_obj	*rt_wheel[RND_WHEEL];
	uint64_t	rt_rand;
	uint64_t	rt_seq;
	long		rt_steps;
	int		rt_id;
};

static _Atomic(struct rnd_obj *) rnd_xfer[RND_XFER];

/* A random object size (see the top). */
static size_t rnd_size(uint64_t *rs)
{
	uint64_t r = mb_rand(rs);
	int k = 0;

	if ((r & 255) == 0)
		return 16384 + (size_t)((r >> 8) % (256 * 1024 - 16384));
	while (k < 7 && ((r >> (8 + k)) & 1))
		k++;
	return ((size_t)16 << k) + (size_t)((r >> 20) % ((size_t)16 << k));
}

/* A random lifetime in steps, 1..RND_WHEEL-1, mostly short. */
static unsigned rnd_life(uint64_t *rs)
{
	uint64_t r = mb_rand(rs);
	unsigned span = 1u << (1 + (r % 12));	/* 2 .. 4096 */

	return 1 + (unsigned)((r >> 8) % (span - 1));
}

/* File o on the wheel of t, life steps after step s. */
static void rnd_file(struct rnd_thr *t, long s, struct rnd_obj *o, unsigned life)
{
	struct rnd_obj **slot = &t->rt_wheel[(unsigned long)(s + life) % RND_WHEEL];

	o->ro_next = *slot;
	*slot = o;
}

/* Check and free every object on one wheel slot. */
static void rnd_reap(struct rnd_obj **slot)
{
	struct rnd_obj *o = *slot, *next;

	*slot = NULL;
	for (; o != NULL; o = next) {
		next = o->ro_next;
		if (o->ro_size > 256 * 1024)
			mb_fail("random: object %p size word %#llx: corrupt", (void *)o,
				(unsigned long long)o->ro_size);
		mb_check("random", o, o->ro_size, o->ro_tag);
		free(o);
	}
}

/* A fresh tagged object of a random size. */
static struct rnd_obj *rnd_new(struct rnd_thr *t)
{
	size_t size = rnd_size(&t->rt_rand);
	struct rnd_obj *o;

	if (size < sizeof(*o) + 8)
		size = sizeof(*o) + 8;
	o = mb_malloc(size);
	mb_tag(o, size, ((uint64_t)t->rt_id << 48) ^ t->rt_seq++);
	o->ro_next = NULL;
	o->ro_size = size;
	return o;
}

/* A worker: rt_steps steps, then free what is left on its wheel. */
static void *rnd_worker(void *arg)
{
	struct rnd_thr *t = arg;

	mb_ready();
	for (long s = 0; s < t->rt_steps; s++) {
		struct rnd_obj *o = rnd_new(t);
		uint64_t r = mb_rand(&t->rt_rand);

		rnd_reap(&t->rt_wheel[(unsigned long)s % RND_WHEEL]);
		if (r % RND_SHARE == 0)
			o = atomic_exchange(&rnd_xfer[(r >> 8) % RND_XFER], o);
		if (o != NULL)
			rnd_file(t, s, o, rnd_life(&t->rt_rand));
	}
	for (int i = 0; i < RND_WHEEL; i++)
		rnd_reap(&t->rt_wheel[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	struct mb_opts o = { .mo_threads = 1, .mo_n = 2000000, .mo_seed = 1 };
	static struct rnd_thr thr[256];
	double start, secs;

	mb_parse(argc, argv, &o, "mbench-random");
	mb_selfcheck(&o);
	for (int i = 0; i < o.mo_threads; i++) {
		thr[i].rt_rand = (o.mo_seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(i + 1);
		thr[i].rt_steps = o.mo_n / o.mo_threads;
		thr[i].rt_id = i + 1;
	}
	start = mb_run_threads(o.mo_threads, rnd_worker, thr, sizeof(thr[0]));
	secs = mb_now() - start;
	for (int i = 0; i < RND_XFER; i++) {
		struct rnd_obj *left = atomic_load(&rnd_xfer[i]);

		rnd_reap(&left);
	}
	mb_report("random", &o, (double)(o.mo_n / o.mo_threads) * o.mo_threads, secs);
	return 0;
}
