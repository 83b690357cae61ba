/*
 * test_vmem_mt.c - vmem under concurrency: several threads (each its own
 * "hart") allocate from shared arenas, stamp the memory, and hand the ranges
 * to each other through a shared pool, so most frees happen on another thread
 * than the allocation.  One arena is flat, one imports from it (concurrent
 * import and release).  Checks: no two live ranges overlap (stamps survive),
 * every arena passes vmem_check afterwards and is back to empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "host_env.h"
#include "mm/vmem_impl.h"

#define NTHREADS	4
#define POOL_SLOTS	4096
#define OPS_PER_THREAD	100000

/* vmem's page source on the host: page-aligned malloc. */
static void *host_pgsrc_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void host_pgsrc_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source pgsrc = { host_pgsrc_alloc, host_pgsrc_free };

/* A live range waiting in the shared pool. */
struct item {
	vmem_t *it_arena;		/* where it came from */
	uintptr_t it_addr;		/* its address (real memory) */
	size_t it_size;			/* size asked for */
	bool it_x;			/* from vmem_xalloc */
	uint64_t it_stamp;		/* written at both ends */
};

static struct item pool[POOL_SLOTS];
static unsigned pool_n;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static vmem_t *flat, *child;
static unsigned char *memory;
static volatile int failed;

/* Write the stamp at both ends of the range. */
static void stamp(const struct item *it)
{
	memcpy((void *)it->it_addr, &it->it_stamp, 8);
	memcpy((void *)(it->it_addr + it->it_size - 8), &it->it_stamp, 8);
}

/* True if both stamps are intact (nobody else was handed overlapping memory). */
static bool stamp_ok(const struct item *it)
{
	uint64_t a, b;

	memcpy(&a, (void *)it->it_addr, 8);
	memcpy(&b, (void *)(it->it_addr + it->it_size - 8), 8);
	return a == it->it_stamp && b == it->it_stamp;
}

/* Free an item with the function that pairs with its allocation. */
static void item_free(const struct item *it)
{
	if (!stamp_ok(it))
		failed = 1;
	if (it->it_x)
		vmem_xfree(it->it_arena, it->it_addr, it->it_size);
	else
		vmem_free(it->it_arena, it->it_addr, it->it_size);
}

/* Allocate one random range from a random arena with a random policy. */
static bool item_alloc(struct item *it, uint64_t *rng)
{
	static const int pol[] = { VM_INSTANTFIT, VM_BESTFIT, VM_NEXTFIT };
	uint64_t r;

	*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
	r = *rng;
	it->it_arena = (r & 1) ? child : flat;
	it->it_size = 64 * (1 + (r >> 8) % 32);
	it->it_x = (r >> 16) & 1;
	if (it->it_x)
		it->it_addr = vmem_xalloc(it->it_arena, it->it_size, 64 << ((r >> 20) % 4), 0, 0, 0,
					  0, pol[(r >> 24) % 3] | VM_NOSLEEP);
	else
		it->it_addr = vmem_alloc(it->it_arena, it->it_size, pol[(r >> 24) % 3] | VM_NOSLEEP);
	it->it_stamp = r;
	return it->it_addr != 0;
}

/* Swap our new item with a random one in the pool; free what comes out. */
static void *worker(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t rng = 0x1234567 + cpu * 0x9e3779b97f4a7c15ull;
	struct item it, out;

	host_cpu_register(cpu, 0);
	for (int i = 0; i < OPS_PER_THREAD && !failed; i++) {
		bool have = item_alloc(&it, &rng), give = false;

		if (have)
			stamp(&it);
		pthread_mutex_lock(&pool_lock);
		if (pool_n > 0 && (!have || pool_n == POOL_SLOTS || (rng >> 40) % 2)) {
			unsigned j = (unsigned)((rng >> 32) % pool_n);

			out = pool[j];
			give = true;
			if (have)
				pool[j] = it;
			else
				pool[j] = pool[--pool_n];
		} else if (have) {
			pool[pool_n++] = it;
		}
		pthread_mutex_unlock(&pool_lock);
		if (give)
			item_free(&out);
	}
	return NULL;
}

static uintptr_t import_fn(vmem_t *src, size_t size, int vmflag) { return vmem_xalloc(src, size, 0, 0, 0, 0, 0, vmflag); }
static void release_fn(vmem_t *src, uintptr_t addr, size_t size) { vmem_xfree(src, addr, size); }

/* Frees from other threads, concurrent imports and releases: no overlap, arenas consistent and empty at the end. */
static void test_cross_thread_frees_keep_arenas_consistent(void **state)
{
	size_t size = 4u << 20;
	pthread_t th[NTHREADS];
	char err[256];

	(void)state;
	vmem_page_source_set(&pgsrc);
	host_cpus_online(NTHREADS + 1);
	memory = aligned_alloc(4096, size);
	flat = vmem_create("mt_flat", (uintptr_t)memory, size, 64, NULL, NULL, NULL, 0, 0);
	child = vmem_create("mt_child", 0, 0, 64, import_fn, release_fn, flat, 0, 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	assert_false(failed);
	while (pool_n > 0)
		item_free(&pool[--pool_n]);
	assert_false(failed);
	if (!vmem_check(flat, err, sizeof(err)) || !vmem_check(child, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	assert_int_equal(vmem_size(flat, VMEM_ALLOC), 0);
	vmem_destroy(child);
	vmem_destroy(flat);
	free(memory);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cross_thread_frees_keep_arenas_consistent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
