/*
 * mbench.h - the harness shared by the malloc race benchmarks
 * (tests/malloc_bench/mb_*.c, built as build/host/mbench-*).
 *
 * Each benchmark is a plain C program that calls malloc and free through the
 * PLT, so the allocator under test is whatever LD_PRELOAD put first
 * (tools/bench_malloc.py runs every binary under every allocator).  Every
 * benchmark checks its own data: objects carry tags written at allocation and
 * checked before free, and mb_selfcheck() first fills a few hundred live
 * objects completely and checks that none overlaps another.  Any mismatch
 * prints "mbench FAIL: ..." and exits 1, so a broken allocator fails the run.
 *
 * Work is fixed, not timed: -n is the total operation count, split evenly
 * over the threads, so every allocator does exactly the same work; the
 * result line gives the time and ops/s (tools/bench_malloc.py reads it).
 */
#ifndef MBENCH_H
#define MBENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Command-line options common to every benchmark. */
struct mb_opts {
	int		mo_threads;	/* -t: worker threads (or pairs, see each file) */
	long		mo_n;		/* -n: total operations over all threads */
	size_t		mo_size;	/* -z: object size, where the benchmark has one */
	uint64_t	mo_seed;	/* -s: random seed */
	int		mo_noself;	/* -S: skip mb_selfcheck (negative-control runs) */
};

/* Parse argv into o (defaults already set by the caller); exit 2 on bad input. */
void mb_parse(int argc, char **argv, struct mb_opts *o, const char *name);

/* Monotonic seconds. */
double mb_now(void);

/* Print "mbench FAIL: <name>: ..." and exit 1. */
void mb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* malloc that fails the run on NULL. */
void *mb_malloc(size_t size);

/* Overlap and content check of the allocator under test (see the top). */
void mb_selfcheck(const struct mb_opts *o);

/* Run n threads fn(arg + i * stride) to completion behind one barrier (each
 * worker calls mb_ready() before its timed work); returns the start time:
 * the earliest moment a worker passed the barrier (mb_now() scale). */
double mb_run_threads(int n, void *(*fn)(void *), void *arg, size_t stride);

/* The one result line: "mbench NAME threads=T size=Z ops=N secs=S ops_per_s=R hwm_kb=H ok". */
void mb_report(const char *name, const struct mb_opts *o, double ops, double secs);

/* Barrier every worker passes before timed work (mb_run_threads sets it up). */
void mb_ready(void);

/* xorshift64*: a fast private generator per thread. */
static inline uint64_t mb_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Write a tag at both ends of an object of size bytes (size >= 16). */
static inline void mb_tag(void *p, size_t size, uint64_t tag)
{
	uint64_t *head = p;
	uint64_t *tail = (uint64_t *)((char *)p + (size & ~(size_t)7) - 8);

	*head = tag;
	*tail = ~tag;
}

/* Check the tags mb_tag wrote; fail the run naming the benchmark. */
static inline void mb_check(const char *who, const void *p, size_t size, uint64_t tag)
{
	const uint64_t *head = p;
	const uint64_t *tail = (const uint64_t *)((const char *)p + (size & ~(size_t)7) - 8);

	if (*head != tag || *tail != ~tag)
		mb_fail("%s: object %p (%zu B) tags %#llx/%#llx, expected %#llx/%#llx "
			"(overlap or corruption)", who, p, size,
			(unsigned long long)*head, (unsigned long long)*tail,
			(unsigned long long)tag, (unsigned long long)~tag);
}

#endif
