/*
 * malloc_badfree.c - one misuse of malloc per run, for libkmem's bad-free
 * checks (tools/libkmem/check.py).  `malloc_badfree MODE` prints the
 * pointer it is about to misuse ("ptr 0x..."), then misuses it; the
 * allocator must report it naming that pointer and abort.  Reaching the end
 * prints "survived" and exits 0, which the checker counts as a failure.
 *   double        free the same small block twice
 *   double-large  the same for a 1 MiB block
 *   double-align  the same for a posix_memalign(64) block
 *   interior      free a pointer 16 bytes inside a block
 *   stack         free the address of a local variable
 *   realloc-bad   realloc a pointer 8 bytes inside a block
 *   use-after     write to a freed block, then allocate again (debug=poison)
 *   overrun       write one byte past a 24-byte block, then free (debug=redzone)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The misuses below are the point: keep gcc from refusing to compile them. */
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"

/* Say which pointer is about to be misused, before the allocator aborts. */
static void *show(void *p)
{
	printf("ptr %p\n", p);
	fflush(stdout);
	return p;
}

/* The three double frees (mode m): small, 1 MiB, posix_memalign(64); 2 if that fails. */
static int double_free(const char *m)
{
	void *q;

	if (strcmp(m, "double") == 0) {
		q = show(malloc(40));
	} else if (strcmp(m, "double-large") == 0) {
		q = show(malloc(1 << 20));
	} else {
		if (posix_memalign(&q, 64, 100) != 0)
			return 2;
		show(q);
	}
	free(q);
	free(q);
	return 0;
}

/* Write to a freed block, then allocate the same size again (debug=poison). */
static void use_after_free(void)
{
	volatile char *v = show(malloc(64));

	free((void *)v);
	v[8] = 1;
	for (int i = 0; i < 1000; i++) {	/* used: gcc drops free(malloc(n)) */
		char *w = malloc(64);

		w[0] = (char)i;
		free(show(w));
	}
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	volatile char *v;
	char *p;
	int local;

	if (strncmp(m, "double", 6) == 0 && (m[6] == '\0' || strcmp(m + 6, "-large") == 0 ||
					     strcmp(m + 6, "-align") == 0)) {
		if (double_free(m) != 0)
			return 2;
	} else if (strcmp(m, "interior") == 0) {
		p = malloc(64);
		free(show(p + 16));
	} else if (strcmp(m, "stack") == 0) {
		free(show(&local));
	} else if (strcmp(m, "realloc-bad") == 0) {
		p = malloc(64);
		p = realloc(show(p + 8), 200);
	} else if (strcmp(m, "use-after") == 0) {
		use_after_free();
	} else if (strcmp(m, "overrun") == 0) {
		v = show(malloc(24));
		v[24] = 'x';
		free((void *)v);
	} else {
		fprintf(stderr, "malloc_badfree: unknown mode '%s'\n", m);
		return 2;
	}
	printf("survived\n");
	return 0;
}
