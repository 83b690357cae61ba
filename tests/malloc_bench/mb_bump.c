/*
 * mb_bump.c - the control allocators of the race's smoke check (make test):
 * a bump allocator that never reuses memory, preloaded like any other
 * malloc.  Built twice:
 *   build/host/mbench-bump.so    correct: every benchmark must pass under it;
 *   build/host/mbench-broken.so  -DMB_BROKEN: every BUMP_BREAK_EVERY-th block
 *                                starts BUMP_BREAK_BACK bytes inside the one
 *                                before it, so live objects overlap; every
 *                                benchmark must fail under it (its selfcheck,
 *                                and the workloads that keep objects alive
 *                                also without the selfcheck).
 * Memory comes from one MAP_NORESERVE reservation; free does nothing, so it
 * suits only the tiny counts of the smoke check.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define BUMP_RESERVE		(4ul << 30)	/* address space reserved */
#define BUMP_HDR		16		/* size header before each block */
#define BUMP_BREAK_EVERY	64
#define BUMP_BREAK_BACK		64

static char *bump_base;
static _Atomic size_t bump_off;
#ifdef MB_BROKEN
static _Atomic unsigned long bump_calls;
#endif
static atomic_flag bump_init_lock = ATOMIC_FLAG_INIT;

/* Reserve the arena once (first caller; the others spin briefly). */
static int bump_init(void)
{
	while (atomic_flag_test_and_set(&bump_init_lock))
		;
	if (bump_base == NULL) {
		void *p = mmap(NULL, BUMP_RESERVE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		bump_base = p == MAP_FAILED ? NULL : p;
	}
	atomic_flag_clear(&bump_init_lock);
	return bump_base != NULL;
}

/* size bytes aligned to align (a power of two >= 16), size header before. */
static void *bump_alloc(size_t size, size_t align)
{
	size_t need, off, start;

	if ((bump_base == NULL && !bump_init()) || size > BUMP_RESERVE / 2) {
		errno = ENOMEM;
		return NULL;
	}
	need = ((size + 15) & ~(size_t)15) + BUMP_HDR + align;
	off = atomic_fetch_add(&bump_off, need);
#ifdef MB_BROKEN
	if (atomic_fetch_add(&bump_calls, 1) % BUMP_BREAK_EVERY == BUMP_BREAK_EVERY - 1 &&
	    off >= BUMP_BREAK_BACK)
		off -= BUMP_BREAK_BACK;
#endif
	if (off + need > BUMP_RESERVE) {
		errno = ENOMEM;
		return NULL;
	}
	start = ((size_t)(bump_base + off + BUMP_HDR) + align - 1) & ~(align - 1);
	((size_t *)start)[-1] = size;
	return (void *)start;
}

void *malloc(size_t size) { return bump_alloc(size, 16); }
void free(void *p) { (void)p; }
void *memalign(size_t align, size_t size) { return bump_alloc(size, align < 16 ? 16 : align); }
void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }
void *valloc(size_t size) { return memalign(4096, size); }
void *pvalloc(size_t size) { return memalign(4096, (size + 4095) & ~(size_t)4095); }
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = memalign(align, size);

	if (p == NULL)
		return ENOMEM;
	*out = p;
	return 0;
}

void *calloc(size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Fresh mmap memory is zero, but a broken block may overlap a used one. */
	void *p = malloc(total);

	if (p != NULL)
		memset(p, 0, total);
	return p;
}

void *realloc(void *old, size_t size)
{
	void *p = malloc(size);
	size_t had = malloc_usable_size(old);

	if (p != NULL && old != NULL)
		memcpy(p, old, had < size ? had : size);
	return p;
}
