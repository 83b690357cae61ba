/*
 * mb_scratch.c - passive false sharing, after Hoard's cache-scratch (Berger,
 * McKinley, Blumofe & Wilson 2000, ASPLOS-IX): the main thread allocates one
 * small object per thread, back to back, and hands object i to thread i;
 * each thread frees it, then -n / -t times allocates an object of -z bytes,
 * writes every byte of it SCRATCH_REPS times, checks it and frees it.  An
 * allocator that gives a thread the object it just freed (another thread's
 * neighbour on the same cache line) makes the threads' writes contend for one
 * line; one that keeps each thread's objects apart does not.  The count is
 * object lifetimes (alloc, writes, free); the writes dominate the time.
 *
 *   mbench-scratch [-t threads] [-n objects] [-z size] [-s seed] [-S]
 */
#include <stdlib.h>

#include "mbench.h"

#define SCRATCH_REPS	200	/* passes over each object */

/* One worker's slot (padded: the harness itself shares no line). */
struct scr_thr {
	void		*st_first;	/* allocated by main, freed here */
	long		st_objs;
	size_t		st_size;
	int		st_id;
	char		st_pad[36];
};

/* Write the object SCRATCH_REPS times, then check every byte. */
static void scr_scribble(volatile unsigned char *p, size_t size, unsigned char v)
{
	for (int r = 0; r < SCRATCH_REPS; r++)
		for (size_t k = 0; k < size; k++)
			p[k] = (unsigned char)(v + r);
	for (size_t k = 0; k < size; k++)
		if (p[k] != (unsigned char)(v + SCRATCH_REPS - 1))
			mb_fail("scratch: object %p byte %zu is %#x, not %#x: another thread "
				"wrote it (the allocator handed one object to two threads)",
				(void *)p, k, p[k], (unsigned char)(v + SCRATCH_REPS - 1));
}

/* A worker: free main's object, then allocate-scribble-free in a loop. */
static void *scr_worker(void *arg)
{
	struct scr_thr *st = arg;

	mb_ready();
	free(st->st_first);
	for (long i = 0; i < st->st_objs; i++) {
		unsigned char *p = malloc(st->st_size);

		if (p == NULL)
			mb_fail("scratch: malloc(%zu) returned NULL", st->st_size);
		scr_scribble(p, st->st_size, (unsigned char)(st->st_id * 16 + i));
		free(p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct mb_opts o = { .mo_threads = 1, .mo_n = 100000, .mo_size = 8, .mo_seed = 1 };
	static struct scr_thr thr[256];
	double start;

	mb_parse(argc, argv, &o, "mbench-scratch");
	mb_selfcheck(&o);
	for (int i = 0; i < o.mo_threads; i++) {
		thr[i].st_first = mb_malloc(o.mo_size);
		thr[i].st_objs = o.mo_n / o.mo_threads;
		thr[i].st_size = o.mo_size;
		thr[i].st_id = i;
	}
	start = mb_run_threads(o.mo_threads, scr_worker, thr, sizeof(thr[0]));
	mb_report("scratch", &o, (double)(o.mo_n / o.mo_threads) * o.mo_threads,
		  mb_now() - start);
	return 0;
}
