/*
 * test_kmem_debug.c - the object caches' debugging (mm/kmem.c §8): every
 * detection panics through kmem_error with the kind, the cache and the
 * buffer; patterns, audit records and leak reports; and the whole of
 * kmalloc under kmem_debug=all and under kmem_nomagazine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host_env.h"
#include "kmem_sim.h"

static kmem_cache_t *dc;		/* a 100-byte cache with every debug flag */

static int boot_debug(void **state)
{
	(void)state;
	if (ksim_boot(&sim_two_nodes, 0, false) != 0)
		return -1;
	dc = kmem_cache_create("dbg", 100, 0, NULL, NULL, NULL, NULL, NULL, KMF_DEBUG_ALL);
	return dc == NULL ? -1 : 0;
}

static int boot_all(void **state) { (void)state; return ksim_boot(&sim_two_nodes, KMF_DEBUG_ALL, false); }
static int boot_nomag(void **state) { (void)state; return ksim_boot(&sim_two_nodes, 0, true); }

/* Out-of-line allocation: test functions with setjmp must not inline the fast path. */
static __attribute__((noinline)) void *nalloc(kmem_cache_t *cp)
{
	return kmem_cache_alloc(cp, KM_SLEEP);
}

/* Debug caches have no magazines, and a new buffer holds 0xbaddcafe. */
static void kmem_debug_test_new_buffer_is_baddcafe(void **state)
{
	uint32_t *b = nalloc(dc);

	(void)state;
	assert_int_equal(ksim_stat(dc, KMS_MAGSIZE), 0);
	for (int i = 0; i < 96 / 4; i++)
		assert_int_equal(b[i], 0xbaddcafe);
	kmem_cache_free(dc, b);
	assert_int_equal(b[0], 0xdeadbeef);	/* free buffers hold 0xdeadbeef */
	ksim_check(dc);
}

/* A write into a free buffer is found when it is allocated again. */
static void kmem_debug_test_write_after_free(void **state)
{
	char *b = nalloc(dc), *c;

	(void)state;
	kmem_cache_free(dc, b);
	b[40] = 1;
	HOST_EXPECT_PANIC(c = nalloc(dc), "buffer modified after being freed");
	assert_non_null(strstr(host_panic_msg, "cache dbg"));
	assert_non_null(strstr(host_panic_msg, "offset 40"));
	assert_non_null(strstr(host_panic_msg, "last free by hart 0"));	/* audit */
	(void)c;
	/* The panic left b taken from its slab: restore the pattern and put it back. */
	b[40] = (char)0xef;
	kmem_slab_release(dc, (void **)&b, 1);
	ksim_check(dc);
}

/* A write past the end of a buffer is found when it is freed. */
static void kmem_debug_test_redzone_overrun(void **state)
{
	char *b = nalloc(dc);

	(void)state;
	b[100] = 'x';				/* one byte past the 100 */
	HOST_EXPECT_PANIC(kmem_cache_free(dc, b), "redzone violation");
	assert_non_null(strstr(host_panic_msg, "last alloc by hart 0"));
	b[100] = (char)KMEM_REDZONE_BYTE;
	kmem_cache_free(dc, b);
	ksim_check(dc);
}

/* Freeing twice is reported as such. */
static void kmem_debug_test_double_free(void **state)
{
	void *b = nalloc(dc);

	(void)state;
	kmem_cache_free(dc, b);
	HOST_EXPECT_PANIC(kmem_cache_free(dc, b), "duplicate free");
	ksim_check(dc);
}

/* A buffer freed to another cache, an interior pointer, a foreign address. */
static void kmem_debug_test_wrong_cache_interior_foreign(void **state)
{
	kmem_cache_t *other = kmem_cache_create("other", 100, 0, NULL, NULL, NULL, NULL, NULL, 0);
	char *o = nalloc(other), *b = nalloc(dc);
	int local;

	(void)state;
	HOST_EXPECT_PANIC(kmem_cache_free(dc, o), "free to the wrong cache");
	assert_non_null(strstr(host_panic_msg, "belongs to cache other"));
	HOST_EXPECT_PANIC(kmem_cache_free(dc, b + 24), "free of an address inside a buffer");
	assert_non_null(strstr(host_panic_msg, "24 bytes into the buffer"));
	HOST_EXPECT_PANIC(kmem_cache_free(dc, &local), "no buffer of this cache");
	kmem_cache_free(dc, b);
	kmem_cache_free(other, o);
	ksim_check(dc);
	kmem_cache_destroy(other);
}

/* A corrupt buffer tag is reported, not trusted. */
static void kmem_debug_test_corrupt_buftag(void **state)
{
	char *b = nalloc(dc);
	struct kmem_buftag *bt = kmem_buftag(dc, b);
	uintptr_t saved = bt->tag_bxstat;

	(void)state;
	bt->tag_bxstat ^= 0x10;
	HOST_EXPECT_PANIC(kmem_cache_free(dc, b), "buffer tag corrupt");
	bt->tag_bxstat = saved;
	kmem_cache_free(dc, b);
}

/* A free of a kmalloc pointer plus 8 under kmem_debug goes through the same reporter. */
static void kmem_debug_test_kfree_interior_reports(void **state)
{
	char *p = kmalloc_var(200, KM_SLEEP);	/* out of line: setjmp below */

	(void)state;
	assert_int_equal(ksim_stat(kmem_cache_find("kmalloc-208"), KMS_MAGSIZE), 0);
	HOST_EXPECT_PANIC(kfree(p + 8), "free of an address inside a buffer");
	assert_non_null(strstr(host_panic_msg, "kmalloc-208"));
	kfree(p);
}

static int ctor_n, dtor_n;
static int cnt_ctor(void *b, void *p, int f) { (void)b, (void)p, (void)f; ctor_n++; return 0; }
static void cnt_dtor(void *b, void *p) { (void)b, (void)p; dtor_n++; }

/* With 0xdeadbeef, constructors run at each allocation and destructors at each free. */
static void kmem_debug_test_deadbeef_constructs_per_allocation(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("dctor", 64, 0, cnt_ctor, cnt_dtor, NULL, NULL, NULL,
					     KMF_DEADBEEF);
	void *b;

	(void)state;
	ctor_n = dtor_n = 0;
	for (int i = 0; i < 3; i++) {
		b = nalloc(cp);
		kmem_cache_free(cp, b);
	}
	assert_int_equal(ctor_n, 3);
	assert_int_equal(dtor_n, 3);
	kmem_cache_destroy(cp);
	assert_int_equal(dtor_n, 3);		/* the slab held no constructed buffer */
}

/* Buffers allocated after a mark and never freed are reported, with their audit record. */
static void kmem_debug_test_leak_report(void **state)
{
	void *before = nalloc(dc), *a, *b, *c;
	uint64_t mark = kmem_leak_mark();
	unsigned n;

	(void)state;
	a = nalloc(dc);
	b = nalloc(dc);
	c = nalloc(dc);
	kmem_cache_free(dc, b);
	host_capture_reset();
	n = kmem_leak_report(NULL, mark, host_capture);
	assert_int_equal(n, 2);			/* a and c; not b (freed), not before (older) */
	assert_int_equal(kmem_leak_report(dc, mark, host_capture), 2);
	assert_non_null(strstr(host_captured(), "kmem leak: cache dbg buffer"));
	assert_non_null(strstr(host_captured(), "caller 0x"));
	kmem_cache_free(dc, a);
	kmem_cache_free(dc, c);
	kmem_cache_free(dc, before);
	assert_int_equal(kmem_leak_report(NULL, mark, host_capture), 0);
}

/* Every kmalloc size and a cache workload pass with every debug flag on every cache. */
static void kmem_debug_test_everything_under_debug_all(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("plain", 40, 0, cnt_ctor, cnt_dtor, NULL, NULL, NULL, 0);
	void *b[100];

	(void)state;
	assert_true(cp->cache_cflags & KMF_REDZONE);
	assert_int_equal(ksim_stat(cp, KMS_MAGSIZE), 0);
	for (size_t s = 1; s <= KMALLOC_MAX_CLASS + 4096; s += 7) {
		char *p = kmalloc(s, KM_SLEEP);

		memset(p, 0x11, s);
		assert_true(ksize(p) >= s);
		kfree(p);
	}
	for (int i = 0; i < 100; i++)
		b[i] = nalloc(cp);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(cp, b[i]);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

/* kmem_nomagazine: no cache has magazines, and everything still works. */
static void kmem_debug_test_everything_without_magazines(void **state)
{
	kmem_cache_t *cp = kmem_cache_create("nomag", 40, 0, NULL, NULL, NULL, NULL, NULL, 0);
	void *b[100];

	(void)state;
	assert_int_equal(ksim_stat(cp, KMS_MAGSIZE), 0);
	assert_int_equal(ksim_stat(kmem_cache_find("kmalloc-64"), KMS_MAGSIZE), 0);
	for (size_t s = 1; s <= KMALLOC_MAX_CLASS; s += 13)
		kfree(kmalloc(s, KM_SLEEP));
	for (int i = 0; i < 100; i++)
		b[i] = nalloc(cp);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(cp, b[i]);
	assert_int_equal(ksim_stat(cp, KMS_MAG_ALLOC), 0);
	assert_int_equal(ksim_stat(cp, KMS_ALLOC), 100);
	ksim_check(cp);
	kmem_cache_destroy(cp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, boot_debug, ksim_teardown)
		T(kmem_debug_test_new_buffer_is_baddcafe),
		T(kmem_debug_test_write_after_free),
		T(kmem_debug_test_redzone_overrun),
		T(kmem_debug_test_double_free),
		T(kmem_debug_test_wrong_cache_interior_foreign),
		T(kmem_debug_test_corrupt_buftag),
		T(kmem_debug_test_deadbeef_constructs_per_allocation),
		T(kmem_debug_test_leak_report),
#undef T
		cmocka_unit_test_setup_teardown(kmem_debug_test_kfree_interior_reports, boot_all,
						ksim_teardown),
		cmocka_unit_test_setup_teardown(kmem_debug_test_everything_under_debug_all, boot_all,
						ksim_teardown),
		cmocka_unit_test_setup_teardown(kmem_debug_test_everything_without_magazines,
						boot_nomag, ksim_teardown),
	};

	return cmocka_run_group_tests(tests, sim_map, NULL);
}
