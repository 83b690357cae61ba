/*
 * mbench.c - the harness of the malloc race benchmarks (see mbench.h).
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbench.h"

#define MB_SELF_OBJS	512	/* live objects in mb_selfcheck */

static pthread_barrier_t mb_barrier;
static _Atomic uint64_t mb_start_ns;	/* earliest worker start, see mb_ready */

void mb_parse(int argc, char **argv, struct mb_opts *o, const char *name)
{
	int c;
	char *end;

	while ((c = getopt(argc, argv, "t:n:z:s:S")) != -1) {
		long v = 0;

		if (c != 'S' && c != '?') {
			v = strtol(optarg, &end, 0);
			if (*end || v <= 0) {
				fprintf(stderr, "%s: -%c %s: a positive number\n", name, c, optarg);
				exit(2);
			}
		}
		switch (c) {
		case 't': o->mo_threads = (int)v; break;
		case 'n': o->mo_n = v; break;
		case 'z': o->mo_size = (size_t)v; break;
		case 's': o->mo_seed = (uint64_t)v; break;
		case 'S': o->mo_noself = 1; break;
		default:
			fprintf(stderr, "usage: %s [-t threads] [-n ops] [-z size] [-s seed] [-S]\n",
				name);
			exit(2);
		}
	}
	if (optind != argc || o->mo_threads > 256) {
		fprintf(stderr, "%s: unexpected argument or more than 256 threads\n", name);
		exit(2);
	}
}

/* Monotonic nanoseconds. */
static uint64_t mb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double mb_now(void)
{
	return (double)mb_now_ns() * 1e-9;
}

void mb_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mbench FAIL: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
	_exit(1);
}

void *mb_malloc(size_t size)
{
	void *p = malloc(size);

	if (p == NULL)
		mb_fail("malloc(%zu) returned NULL", size);
	return p;
}

/* The byte pattern of selfcheck object i. */
static unsigned char mb_self_byte(int i)
{
	return (unsigned char)(0x5a ^ (i * 37));
}

void mb_selfcheck(const struct mb_opts *o)
{
	static void *objs[MB_SELF_OBJS];
	static size_t sizes[MB_SELF_OBJS];
	uint64_t rs = o->mo_seed | 1;

	if (o->mo_noself)
		return;
	for (int i = 0; i < MB_SELF_OBJS; i++) {
		sizes[i] = 1 + mb_rand(&rs) % (i % 8 == 7 ? 65536 : 1024);
		objs[i] = mb_malloc(sizes[i]);
		if (malloc_usable_size(objs[i]) < sizes[i])
			mb_fail("selfcheck: malloc_usable_size(%p) = %zu < %zu requested",
				objs[i], malloc_usable_size(objs[i]), sizes[i]);
		memset(objs[i], mb_self_byte(i), sizes[i]);
	}
	for (int i = 0; i < MB_SELF_OBJS; i++) {
		const unsigned char *b = objs[i];

		for (size_t k = 0; k < sizes[i]; k++)
			if (b[k] != mb_self_byte(i))
				mb_fail("selfcheck: object %d (%p, %zu B) byte %zu is %#x, not %#x: "
					"live objects overlap", i, objs[i], sizes[i], k, b[k],
					mb_self_byte(i));
		free(objs[i]);
	}
}

/* Each worker notes when it passed the barrier, and the earliest counts: the
 * main thread's own clock would start late whenever it is descheduled after
 * the barrier while the workers already run (2 cores, many threads). */
void mb_ready(void)
{
	uint64_t now, old;

	pthread_barrier_wait(&mb_barrier);
	now = mb_now_ns();
	old = atomic_load(&mb_start_ns);
	while (now < old && !atomic_compare_exchange_weak(&mb_start_ns, &old, now))
		;
}

double mb_run_threads(int n, void *(*fn)(void *), void *arg, size_t stride)
{
	pthread_t tids[256];

	atomic_store(&mb_start_ns, UINT64_MAX);
	pthread_barrier_init(&mb_barrier, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, fn, (char *)arg + (size_t)i * stride))
			mb_fail("pthread_create failed at thread %d", i);
	pthread_barrier_wait(&mb_barrier);
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&mb_barrier);
	return (double)atomic_load(&mb_start_ns) * 1e-9;
}

/* VmHWM of this process in KiB, or -1. */
static long mb_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void mb_report(const char *name, const struct mb_opts *o, double ops, double secs)
{
	printf("mbench %s threads=%d size=%zu ops=%.0f secs=%.6f ops_per_s=%.1f hwm_kb=%ld ok\n",
	       name, o->mo_threads, o->mo_size, ops, secs, secs > 0 ? ops / secs : 0.0,
	       mb_hwm_kb());
	fflush(stdout);
}
