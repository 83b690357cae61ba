/*
 * malloc_torture.c - a multi-threaded malloc torture test, for libkmem
 * (docs/libkmem.md) or any malloc: run it with and without LD_PRELOAD.
 *
 * Properties checked, each against a model the test keeps itself:
 *   - every block holds the pattern written at allocation (a function of its
 *     address, size and a per-block seed) until it is freed, so any overlap
 *     of two live blocks, or a block reused while live, shows up;
 *   - calloc memory is zero; realloc keeps the old prefix through chains of
 *     growth and shrinking; malloc_usable_size is at least the size asked;
 *   - every alignment API returns the alignment asked (posix_memalign,
 *     aligned_alloc, memalign, valloc, pvalloc), and rejects bad ones with
 *     EINVAL; calloc, reallocarray and malloc report overflow with ENOMEM;
 *   - blocks freed on other threads than the one that allocated them
 *     (a shared exchange ring);
 *   - fork while the workers run: the child allocates, checks inherited
 *     blocks and frees them, and exits 0 only if all of that holds;
 *   - more threads than libkmem has slots, and slots reused by new threads.
 * Prints "malloc_torture: passed ..." and exits 0, or names the first
 * failure and exits 1.  --expect-kmem: fail unless libkmem.so is loaded.
 * --fill MIB: instead, hold MIB mebibytes of small blocks at once, check and
 * free them (libkmem with a small heap=: the overflow path).
 * --serial N: instead, N threads one after the other, each allocating (with
 * libkmem's stats: every one must find a slot of its own, freed by the last).
 * --big reuse|spread|split: instead, big blocks (libkmem's stats say how
 * many were given back to the kernel): one 256 KiB block taken and freed
 * 2,000 times; 64 of them held at once, freed, and left free while 64
 * others come and go; or one freed and then taken again as 16 KiB pieces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS	8	/* workers */
#define NSLOTS		256	/* live blocks per worker */
#define NOPS		40000	/* operations per worker */
#define RING		1024	/* cross-thread exchange ring */
#define NFORKS		12	/* forks while the workers run */
#define NBURST		80	/* concurrent short threads (more than libkmem's slots) */

struct block {
	unsigned char *b_ptr;	/* NULL: empty slot */
	size_t b_size;		/* bytes asked for */
	uint32_t b_seed;	/* pattern seed */
	uintptr_t b_tag;	/* the address the pattern was written for */
};

static struct block ring[RING];		/* blocks in flight between threads */
static unsigned ring_n;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop_forking;

/* Report a failure and exit 1 (from any thread or child). */
static void die(const char *what, const void *p, size_t n)
{
	fprintf(stderr, "malloc_torture: FAILED: %s (block %p, size %zu)\n", what, p, n);
	fflush(stderr);
	_exit(1);
}

/* xorshift32: the workers' random numbers. */
static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Pattern byte i of a block: depends on the block's seed and address. */
static unsigned char pat(const struct block *b, size_t i)
{
	return (unsigned char)((b->b_seed + i * 131 + (b->b_tag >> 4)) ^ (i >> 8));
}

/* The bytes a pattern covers: the first and last 256 of a block, and every 61st. */
static size_t next(size_t i, size_t size)
{
	return (i < 256 || i + 256 >= size) ? i + 1 : i + 61;
}

/* Fill a block with its pattern. */
static void fill(struct block *b)
{
	for (size_t i = 0; i < b->b_size; i = next(i, b->b_size))
		b->b_ptr[i] = pat(b, i);
}

/* Check a block's pattern, over its first n bytes. */
static void check(const struct block *b, size_t n, const char *when)
{
	for (size_t i = 0; i < n; i = next(i, b->b_size))
		if (b->b_ptr[i] != pat(b, i))
			die(when, b->b_ptr, b->b_size);
}

/* A random size: mostly small, sometimes pages, rarely a megabyte. */
static size_t rsize(uint32_t *s)
{
	uint32_t r = rnd(s);

	if (r % 1000 == 0)
		return (1u << 20) + r % 100000;
	if (r % 50 == 0)
		return 8192 + r % 200000;
	return r % (1u << (3 + (r >> 8) % 10)) + ((r >> 20) & 1);
}

/* Allocate into b with a randomly chosen API, checking what that API promises. */
static void alloc_block(struct block *b, uint32_t *s)
{
	size_t n = rsize(s), al = (size_t)16 << (rnd(s) % 9);
	unsigned how = rnd(s) % 10;
	void *p = NULL;

	switch (how) {
	case 0: p = calloc(1, n); break;
	case 1: if (posix_memalign(&p, al, n) != 0) p = NULL; break;
	case 2: p = aligned_alloc(al, n); break;
	case 3: p = memalign(al, n); break;
	case 4: p = (rnd(s) & 1) ? valloc(n) : pvalloc(n); al = 4096; break;
	default: p = malloc(n); al = 16; break;
	}
	if (p == NULL)
		die("allocation returned NULL", NULL, n);
	if (how == 0) {
		for (size_t i = 0; i < n; i++)
			if (((unsigned char *)p)[i] != 0)
				die("calloc memory not zero", p, n);
		al = 16;
	}
	if ((uintptr_t)p % al != 0)
		die("misaligned block", p, al);
	if (malloc_usable_size(p) < n)
		die("malloc_usable_size below the size asked", p, n);
	b->b_ptr = p;
	b->b_size = n;
	b->b_seed = rnd(s);
	b->b_tag = (uintptr_t)p;
	fill(b);
}

/* Grow or shrink a block with realloc; the common prefix must survive. */
static void realloc_block(struct block *b, uint32_t *s)
{
	size_t n = rsize(s), keep = n < b->b_size ? n : b->b_size;
	struct block nb = *b;

	check(b, b->b_size, "pattern changed before realloc");
	nb.b_ptr = realloc(b->b_ptr, n + 1);
	if (nb.b_ptr == NULL)
		die("realloc returned NULL", b->b_ptr, n);
	/* the bytes kept still hold the old block's pattern (nb.b_tag, b_size are the old ones) */
	check(&nb, keep, "realloc lost the old contents");
	nb.b_size = n + 1;
	nb.b_tag = (uintptr_t)nb.b_ptr;
	fill(&nb);
	*b = nb;
}

/* Free a block after checking it. */
static void free_block(struct block *b)
{
	check(b, b->b_size, "pattern changed while allocated");
	free(b->b_ptr);
	b->b_ptr = NULL;
}

/* Trade with the ring: give b away, or take a block another thread gave. */
static void ring_trade(struct block *b)
{
	struct block got = { 0 };

	pthread_mutex_lock(&ring_lock);
	if (b->b_ptr != NULL && ring_n < RING) {
		ring[ring_n++] = *b;
		b->b_ptr = NULL;
	} else if (b->b_ptr == NULL && ring_n > 0) {
		got = ring[--ring_n];
	}
	pthread_mutex_unlock(&ring_lock);
	if (got.b_ptr != NULL)
		free_block(&got);	/* a cross-thread free */
}

/* One worker: NOPS random operations over its slots. */
static void *worker(void *arg)
{
	struct block *slot = calloc(NSLOTS, sizeof(*slot));
	uint32_t s = (uint32_t)(uintptr_t)arg * 2654435761u + 1;

	if (slot == NULL)
		die("calloc of the slot table", NULL, 0);
	for (unsigned op = 0; op < NOPS; op++) {
		struct block *b = &slot[rnd(&s) % NSLOTS];
		unsigned r = rnd(&s) % 16;

		if (r < 2)
			ring_trade(b);
		else if (b->b_ptr == NULL)
			alloc_block(b, &s);
		else if (r < 5)
			realloc_block(b, &s);
		else
			free_block(b);
	}
	for (unsigned i = 0; i < NSLOTS; i++)
		if (slot[i].b_ptr != NULL)
			free_block(&slot[i]);
	free(slot);
	return NULL;
}

/* The forked child: inherited blocks are intact; allocate, free, exit 0. */
static void child_work(struct block *mine, unsigned n)
{
	uint32_t s = 12345;
	struct block b[64];

	for (unsigned i = 0; i < n; i++)
		free_block(&mine[i]);
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 64; i++)
			alloc_block(&b[i], &s);
		for (unsigned i = 0; i < 64; i++)
			free_block(&b[i]);
	}
	_exit(0);
}

/* Fork NFORKS times while the workers run; each child must exit 0. */
static void fork_while_running(void)
{
	struct block mine[32];
	uint32_t s = 777;

	for (unsigned f = 0; f < NFORKS; f++) {
		int st;
		pid_t pid;

		for (unsigned i = 0; i < 32; i++)
			alloc_block(&mine[i], &s);
		usleep(5000);
		pid = fork();
		if (pid < 0)
			die("fork failed", NULL, 0);
		if (pid == 0)
			child_work(mine, 32);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("forked child failed", NULL, (size_t)st);
		for (unsigned i = 0; i < 32; i++)
			free_block(&mine[i]);
	}
}

static pthread_barrier_t burst_barrier;	/* all NBURST burst threads alive at once */
static int burst_wait;				/* the burst threads wait on it */

/* A short thread: a few allocations, freed, then exit (slot reuse, shared slot). */
static void *short_thread(void *arg)
{
	uint32_t s = (uint32_t)(uintptr_t)arg + 99;
	struct block b[16];

	for (unsigned i = 0; i < 16; i++)
		alloc_block(&b[i], &s);
	if (burst_wait)
		pthread_barrier_wait(&burst_barrier);
	usleep(2000);
	for (unsigned i = 0; i < 16; i++)
		free_block(&b[i]);
	return NULL;
}

/* NBURST threads alive at once (a barrier), then NBURST more one after the other. */
static void thread_burst(void)
{
	pthread_t t[NBURST];

	pthread_barrier_init(&burst_barrier, NULL, NBURST);
	burst_wait = 1;
	for (uintptr_t i = 0; i < NBURST; i++)
		if (pthread_create(&t[i], NULL, short_thread, (void *)i) != 0)
			die("pthread_create", NULL, i);
	for (unsigned i = 0; i < NBURST; i++)
		pthread_join(t[i], NULL);
	burst_wait = 0;
	pthread_barrier_destroy(&burst_barrier);
	for (uintptr_t i = 0; i < NBURST; i++) {
		if (pthread_create(&t[0], NULL, short_thread, (void *)i) != 0)
			die("pthread_create", NULL, i);
		pthread_join(t[0], NULL);
	}
}

/* Errors the API must report: overflow (ENOMEM) and bad alignments (EINVAL). */
static void check_errors(int kmem)
{
	volatile size_t big = SIZE_MAX / 2, huge = SIZE_MAX - 4096;	/* hidden from gcc's checks */
	void *p = (void *)1;

	errno = 0;
	if (calloc(big, 3) != NULL || errno != ENOMEM)
		die("calloc overflow not refused with ENOMEM", NULL, 0);
	errno = 0;
	if (malloc(huge) != NULL || errno != ENOMEM)
		die("malloc(huge) not refused with ENOMEM", NULL, 0);
	errno = 0;
	if (reallocarray(NULL, big / 2, 8) != NULL || errno != ENOMEM)
		die("reallocarray overflow not refused with ENOMEM", NULL, 0);
	if (posix_memalign(&p, 24, 10) != EINVAL || p != (void *)1)
		die("posix_memalign(24) not EINVAL", p, 24);
	if (posix_memalign(&p, 4, 10) != EINVAL)
		die("posix_memalign(4) not EINVAL", p, 4);
	errno = 0;	/* C17 and glibc >= 2.38 refuse it; glibc 2.36 rounds 48 up */
	if (kmem && (aligned_alloc(48, 96) != NULL || errno != EINVAL))
		die("aligned_alloc(48) not EINVAL", NULL, 48);
	p = malloc(0);
	if (p == NULL)
		die("malloc(0) returned NULL", NULL, 0);
	free(p);
	if (realloc(malloc(10), 0) != NULL)
		die("realloc(p, 0) did not free and return NULL", NULL, 0);
}

/* Hold mib MiB of 16..200-byte blocks at once, with patterns; check; free. */
static int fill_test(unsigned mib)
{
	size_t n = ((size_t)mib << 20) / 108, held = 0;
	struct block *b = calloc(n, sizeof(*b));
	uint32_t s = 4242;

	if (b == NULL)
		die("calloc of the block table", NULL, n);
	for (size_t i = 0; i < n; i++) {
		b[i].b_size = 16 + rnd(&s) % 185;
		b[i].b_ptr = malloc(b[i].b_size);
		if (b[i].b_ptr == NULL)
			die("malloc failed while filling", NULL, held);
		b[i].b_seed = rnd(&s);
		b[i].b_tag = (uintptr_t)b[i].b_ptr;
		fill(&b[i]);
		held += b[i].b_size;
	}
	for (size_t i = 0; i < n; i++)
		free_block(&b[i]);
	free(b);
	printf("malloc_torture: passed (fill: %zu blocks, %zu MiB held at once)\n", n, held >> 20);
	return 0;
}

/* --big: big blocks, each written whole; see the top of the file. */
static int big_test(const char *mode)
{
	enum { BIG = 256 << 10, NBIG = 64 };
	char *held[NBIG];

	if (strcmp(mode, "split") == 0) {
		char *volatile big = malloc(BIG);	/* volatile: the pair is not folded away */

		if (big == NULL)
			die("big malloc", NULL, BIG);
		big[0] = 1;
		free(big);
		for (int i = 0; i < 16; i++)		/* held to the end: exit reads the stats */
			if ((held[i] = malloc(16 << 10)) == NULL)
				die("big malloc", NULL, 16 << 10);
	} else if (strcmp(mode, "reuse") == 0) {
		for (int i = 0; i < 2000; i++) {
			char *p = malloc(BIG);

			if (p == NULL)
				die("big malloc", NULL, BIG);
			memset(p, i, BIG);
			free(p);
		}
	} else {
		for (int i = 0; i < NBIG; i++)
			if ((held[i] = malloc(BIG)) == NULL)
				die("big malloc", NULL, BIG);
			else
				memset(held[i], i, BIG);
		for (int i = 0; i < NBIG; i++)
			free(held[i]);
		for (int i = 0; i < NBIG; i++) {
			char *p = malloc(BIG + 4096 * (i + 1));	/* never fits a freed one */

			if (p == NULL)
				die("big malloc", NULL, BIG);
			p[0] = 1;
			free(p);
		}
	}
	printf("malloc_torture: passed (big %s)\n", mode);
	return 0;
}

/* Is libkmem.so mapped into this process? */
static int kmem_loaded(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		found |= strstr(line, "libkmem.so") != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	int kmem = argc > 1 && strcmp(argv[1], "--expect-kmem") == 0;
	pthread_t t[NTHREADS];

	if (kmem && !kmem_loaded())
		die("--expect-kmem: libkmem.so is not loaded", NULL, 0);
	if (argc > 3 && strcmp(argv[2], "--fill") == 0)
		return fill_test((unsigned)atoi(argv[3]));
	if (argc > 3 && strcmp(argv[2], "--big") == 0)
		return big_test(argv[3]);
	if (argc > 3 && strcmp(argv[2], "--serial") == 0) {
		for (int i = 0; i < atoi(argv[3]); i++) {
			if (pthread_create(&t[0], NULL, short_thread, (void *)(uintptr_t)i) != 0)
				die("pthread_create", NULL, (size_t)i);
			pthread_join(t[0], NULL);
		}
		printf("malloc_torture: passed (%s serial threads)\n", argv[3]);
		return 0;
	}
	check_errors(kmem);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)) != 0)
			die("pthread_create", NULL, i);
	fork_while_running();
	thread_burst();
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	stop_forking = 1;
	while (ring_n > 0)
		free_block(&ring[--ring_n]);
	printf("malloc_torture: passed (%d workers x %d ops, %d forks, %d + %d short threads)\n",
	       NTHREADS, NOPS, NFORKS, NBURST, NBURST);
	return 0;
}
