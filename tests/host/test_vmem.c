/*
 * test_vmem.c - vmem arenas: policies, constraints, import/release, nested
 * arenas, quantum-cache hook, failure semantics, and every misuse path.
 * Each test names the property it checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <cmocka.h>

#include "host_env.h"
#include "mm/vmem_impl.h"

/* ------------------------------------------------------------- helpers */

/* vmem's page source on the host: page-aligned malloc. */
static void *host_pgsrc_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void host_pgsrc_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source pgsrc = { host_pgsrc_alloc, host_pgsrc_free };

/* Fail the test unless the arena passes every invariant check. */
static void check(vmem_t *vmp)
{
	char err[256];

	if (!vmem_check(vmp, err, sizeof(err)))
		fail_msg("%s", err);
}

static int quiet(const char *fmt, ...) { (void)fmt; return 0; }

struct segcount { unsigned nfree, nalloc, nspan; };
static void count_cb(void *arg, uintptr_t start, size_t size, int type)
{
	struct segcount *c = arg;

	(void)start;
	(void)size;
	c->nfree += type == VMEM_FREE;
	c->nalloc += type == VMEM_ALLOC;
	c->nspan += type == VMEM_SPAN;
}

static struct segcount counts(vmem_t *vmp)
{
	struct segcount c = { 0, 0, 0 };

	vmem_walk(vmp, VMEM_FREE | VMEM_ALLOC | VMEM_SPAN, count_cb, &c);
	return c;
}

static int setup(void **state)
{
	(void)state;
	vmem_page_source_set(&pgsrc);
	vmem_reclaim_hook_set(NULL);
	return 0;
}

/* ---------------------------------------------------------- basic shape */

/* Allocations are quantum-rounded, inside the span, disjoint; freeing all coalesces back to one segment. */
static void test_alloc_free_coalesces_to_one_segment(void **state)
{
	vmem_t *vmp = vmem_create("basic", 0x10000, 0x10000, 0x100, NULL, NULL, NULL, 0, 0);
	uintptr_t a[64];

	(void)state;
	for (int i = 0; i < 64; i++) {
		a[i] = vmem_alloc(vmp, 0x80 + (size_t)i, VM_NOSLEEP);
		assert_true(a[i] >= 0x10000 && a[i] + 0x100 <= 0x20000);
		assert_int_equal(a[i] % 0x100, 0);
		for (int j = 0; j < i; j++)
			assert_true(a[i] + 0x100 <= a[j] || a[j] + 0x100 <= a[i]);
		check(vmp);
	}
	assert_int_equal(vmem_size(vmp, VMEM_ALLOC), 64 * 0x100);
	for (int i = 0; i < 64; i += 2)
		vmem_free(vmp, a[i], 0x80 + (size_t)i);
	check(vmp);
	for (int i = 1; i < 64; i += 2)
		vmem_free(vmp, a[i], 0x80 + (size_t)i);
	check(vmp);
	struct segcount c = counts(vmp);
	assert_int_equal(c.nfree, 1);
	assert_int_equal(c.nalloc, 0);
	assert_int_equal(vmem_size(vmp, VMEM_FREE), 0x10000);
	vmem_destroy(vmp);
}

/* Exhaustion returns 0 (never a valid address) and counts a failure. */
static void test_exhaustion_returns_zero_and_counts_failure(void **state)
{
	vmem_t *vmp = vmem_create("small", 0x1000, 0x4000, 0x1000, NULL, NULL, NULL, 0, 0);
	struct vmem_kstat vk;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_not_equal(vmem_alloc(vmp, 0x1000, VM_NOSLEEP), 0);
	assert_int_equal(vmem_alloc(vmp, 0x1000, VM_NOSLEEP), 0);
	assert_int_equal(vmem_alloc(vmp, 0x1000, VM_SLEEP), 0);
	vmem_stats(vmp, &vk);
	assert_int_equal(vk.vk_fail, 2);
	assert_int_equal(vk.vk_alloc, 4);
	assert_int_equal(vk.vk_wait, 1);
	check(vmp);
	vmem_destroy(vmp);
}

/* VM_PANIC turns an allocation failure into a panic naming the arena. */
static void test_vm_panic_panics_on_failure(void **state)
{
	vmem_t *vmp = vmem_create("tiny", 0x1000, 0x1000, 0x1000, NULL, NULL, NULL, 0, 0);

	(void)state;
	HOST_EXPECT_PANIC(vmem_alloc(vmp, 0x2000, VM_NOSLEEP | VM_PANIC), "tiny");
	check(vmp);
	vmem_destroy(vmp);
}

/* Instant fit takes a segment from the smallest list whose members all fit, even when a smaller exact fit exists lower. */
static void test_instantfit_uses_smallest_guaranteed_list(void **state)
{
	vmem_t *vmp = vmem_create("if", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t keep[2], hole3, hole4;

	(void)state;
	/* Layout: [3 pages free][1 alloc][4 pages free][1 alloc][rest free] */
	hole3 = vmem_xalloc(vmp, 0x3000, 0, 0, 0, 0x100000, 0x103000, VM_NOSLEEP);
	keep[0] = vmem_xalloc(vmp, 0x1000, 0, 0, 0, 0x103000, 0x104000, VM_NOSLEEP);
	hole4 = vmem_xalloc(vmp, 0x4000, 0, 0, 0, 0x104000, 0x108000, VM_NOSLEEP);
	keep[1] = vmem_xalloc(vmp, 0x1000, 0, 0, 0, 0x108000, 0x109000, VM_NOSLEEP);
	vmem_xfree(vmp, hole3, 0x3000);
	vmem_xfree(vmp, hole4, 0x4000);
	check(vmp);
	/* Free lists: the 12 KiB hole is on list 2^13 (8 KiB..16 KiB), the 16 KiB hole
	 * on list 2^14, the rest on a higher list.  Not every member of list 2^13 fits
	 * 3 pages (12 KiB), so instant fit starts at list 2^14: the 16 KiB hole. */
	assert_int_equal(keep[0] + keep[1], 0x103000 + 0x108000);
	assert_int_equal(vmem_alloc(vmp, 0x3000, VM_NOSLEEP), 0x104000);
	/* Best fit takes the exact 3-page hole. */
	assert_int_equal(vmem_alloc(vmp, 0x3000, VM_BESTFIT | VM_NOSLEEP), 0x100000);
	check(vmp);
	vmem_destroy(vmp);
}

/* Best fit chooses the smallest free segment that fits, anywhere in the arena. */
static void test_bestfit_chooses_smallest_fitting_segment(void **state)
{
	vmem_t *vmp = vmem_create("bf", 0x1000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a[40];

	(void)state;
	for (int i = 0; i < 40; i++)
		a[i] = vmem_alloc(vmp, 0x1000 * (size_t)(1 + i % 5), VM_NOSLEEP);
	/* Free holes of 5, 3, 4 pages (indices 4, 7, 13 have sizes 5, 3, 4) */
	vmem_free(vmp, a[4], 0x5000);
	vmem_free(vmp, a[7], 0x3000);
	vmem_free(vmp, a[13], 0x4000);
	check(vmp);
	assert_int_equal(vmem_alloc(vmp, 0x3000, VM_BESTFIT), a[7]);
	assert_int_equal(vmem_alloc(vmp, 0x4000, VM_BESTFIT), a[13]);
	assert_int_equal(vmem_alloc(vmp, 0x2000, VM_BESTFIT), a[4]);
	check(vmp);
	vmem_destroy(vmp);
}

/* Next fit hands out IDs in rising order and wraps around instead of reusing a freed ID at once. */
static void test_nextfit_cycles_ids(void **state)
{
	vmem_t *vmp = vmem_create("ids", 1, 100, 1, NULL, NULL, NULL, 0, 0);
	uintptr_t id;

	(void)state;
	for (uintptr_t i = 1; i <= 10; i++)
		assert_int_equal(vmem_alloc(vmp, 1, VM_NEXTFIT), i);
	vmem_free(vmp, 3, 1);
	vmem_free(vmp, 10, 1);
	assert_int_equal(vmem_alloc(vmp, 1, VM_NEXTFIT), 11);	/* not 3, not 10 */
	for (uintptr_t i = 12; i <= 100; i++)
		assert_int_equal(vmem_alloc(vmp, 1, VM_NEXTFIT), i);
	id = vmem_alloc(vmp, 1, VM_NEXTFIT);			/* wraps */
	assert_int_equal(id, 3);
	assert_int_equal(vmem_alloc(vmp, 1, VM_NEXTFIT), 10);
	assert_int_equal(vmem_alloc(vmp, 1, VM_NEXTFIT | VM_NOSLEEP), 0);
	check(vmp);
	for (uintptr_t i = 1; i <= 100; i++)
		vmem_free(vmp, i, 1);
	check(vmp);
	assert_int_equal(counts(vmp).nfree, 1);
	vmem_destroy(vmp);
}

/* Every constraint of vmem_xalloc is honoured: align, phase, nocross, minaddr, maxaddr. */
static void test_xalloc_honours_constraints(void **state)
{
	vmem_t *vmp = vmem_create("xa", 0x10000, 0x100000, 0x10, NULL, NULL, NULL, 0, 0);
	int policies[] = { VM_INSTANTFIT, VM_BESTFIT, VM_NEXTFIT };

	(void)state;
	for (int p = 0; p < 3; p++) {
		for (int i = 0; i < 200; i++) {
			size_t size = 0x10 * (size_t)(1 + i % 7), align = (size_t)0x10 << (i % 9);
			size_t phase = (align / 0x10 > 1) ? (size_t)(i % (int)(align / 0x10)) * 0x10 : 0;
			size_t nocross = (i % 3 == 0) ? (size_t)0x1000 : 0;
			uintptr_t min = (i % 4 == 0) ? 0x20000 : 0, max = (i % 5 == 0) ? 0xf0000 : 0;
			uintptr_t a = vmem_xalloc(vmp, size, align, phase, nocross, min, max,
						  policies[p] | VM_NOSLEEP);

			assert_int_not_equal(a, 0);
			assert_int_equal(a % align, phase);
			if (nocross)
				assert_int_equal(a / nocross, (a + size - 1) / nocross);
			assert_true(a >= min && (max == 0 || a + size <= max));
		}
		check(vmp);
	}
	vmem_destroy(vmp);
}

/* A constrained request that no free segment can satisfy fails cleanly without touching the arena. */
static void test_xalloc_unsatisfiable_fails_cleanly(void **state)
{
	vmem_t *vmp = vmem_create("xu", 0x10000, 0x10000, 0x1000, NULL, NULL, NULL, 0, 0);

	(void)state;
	assert_int_equal(vmem_xalloc(vmp, 0x1000, 0, 0, 0, 0x30000, 0x40000, VM_NOSLEEP), 0);
	assert_int_equal(vmem_xalloc(vmp, 0x1000, 0x100000, 0, 0, 0, 0, VM_NOSLEEP), 0);
	check(vmp);
	assert_int_equal(counts(vmp).nfree, 1);
	vmem_destroy(vmp);
}

/* ------------------------------------------------------ import, nesting */

static unsigned imports, releases;
static uintptr_t import_fn(vmem_t *src, size_t size, int vmflag)
{
	imports++;
	return vmem_alloc(src, size, vmflag);
}
static void release_fn(vmem_t *src, uintptr_t addr, size_t size)
{
	releases++;
	vmem_free(src, addr, size);
}

/* An arena with a source imports when empty and releases whole free imported spans at once. */
static void test_import_and_release_whole_spans(void **state)
{
	vmem_t *src = vmem_create("src", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *vmp = vmem_create("child", 0, 0, 0x10, import_fn, release_fn, src, 0, 0);
	uintptr_t a, b;
	struct vmem_kstat vk;

	(void)state;
	imports = releases = 0;
	a = vmem_alloc(vmp, 0x100, VM_NOSLEEP);
	assert_true(a >= 0x100000 && a < 0x200000);
	assert_int_equal(imports, 1);
	b = vmem_alloc(vmp, 0x2000, VM_NOSLEEP);		/* bigger than the first span */
	assert_int_not_equal(b, 0);
	assert_int_equal(imports, 2);
	vmem_stats(vmp, &vk);
	assert_int_equal(vk.vk_mem_import, 0x1000 + 0x2000);
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0x3000);
	check(vmp);
	check(src);
	vmem_free(vmp, a, 0x100);
	assert_int_equal(releases, 1);
	vmem_free(vmp, b, 0x2000);
	assert_int_equal(releases, 2);
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0);
	vmem_stats(vmp, &vk);
	assert_int_equal(vk.vk_mem_total, 0);
	assert_int_equal(vk.vk_nspan, 0);
	check(vmp);
	check(src);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

/*
 * The import race (found by the stress run under kmem_debug=all): an arena
 * drops its lock to import, and while it is out another hart frees a
 * segment that fits.  The request is then served from that hole, and the
 * new span must go straight back to the source; an arena that kept it would
 * hold an imported span with nothing allocated, never to be released.
 * racing_import plays the other hart: it frees race_addr before importing.
 */
static vmem_t *race_arena;
static uintptr_t race_addr;
static uintptr_t racing_import(vmem_t *src, size_t size, int vmflag)
{
	if (race_addr != 0) {
		vmem_free(race_arena, race_addr, 0x1000);
		race_addr = 0;
	}
	return import_fn(src, size, vmflag);
}

/* A span imported while another hart freed room is released if the request used the room. */
static void test_import_race_releases_unused_span(void **state)
{
	vmem_t *src = vmem_create("src-race", 0x100000, 0x100000, 0x4000, NULL, NULL, NULL, 0, 0);
	vmem_t *vmp = vmem_create("child-race", 0, 0, 0x1000, racing_import, release_fn, src, 0, 0);
	uintptr_t a[9];
	struct vmem_kstat vk;

	(void)state;
	race_arena = vmp;
	race_addr = 0;
	imports = releases = 0;
	for (unsigned i = 0; i < 8; i++)	/* two full 16 KiB spans of 4 KiB blocks */
		assert_int_not_equal(a[i] = vmem_alloc(vmp, 0x1000, VM_NOSLEEP), 0);
	assert_int_equal(imports, 2);
	race_addr = a[1];			/* its span keeps a[0], a[2], a[3] */
	a[8] = vmem_alloc(vmp, 0x1000, VM_NOSLEEP);
	assert_int_equal(a[8], a[1]);		/* served from the hole the race made */
	assert_int_equal(imports, 3);
	assert_int_equal(releases, 1);		/* the third span went straight back */
	vmem_stats(vmp, &vk);
	assert_int_equal(vk.vk_mem_import, 0x8000);
	assert_int_equal(vk.vk_nspan, 2);
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0x8000);
	check(vmp);
	a[1] = a[8];
	for (unsigned i = 0; i < 8; i++)
		vmem_free(vmp, a[i], 0x1000);
	vmem_stats(vmp, &vk);			/* everything freed: nothing imported */
	assert_int_equal(vk.vk_mem_import, 0);
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0);
	check(vmp);
	check(src);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

/* Aligned requests import enough to be satisfiable; a span that cannot serve a constrained request goes straight back. */
static void test_import_for_constrained_requests(void **state)
{
	vmem_t *src = vmem_create("src2", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *vmp = vmem_create("child2", 0, 0, 0x1000, import_fn, release_fn, src, 0, 0);
	uintptr_t a;

	(void)state;
	imports = releases = 0;
	vmem_alloc(src, 0x1000, VM_NOSLEEP);	/* misalign the source */
	a = vmem_xalloc(vmp, 0x1000, 0x8000, 0x1000, 0, 0, 0, VM_NOSLEEP);
	assert_int_not_equal(a, 0);
	assert_int_equal(a % 0x8000, 0x1000);
	/* maxaddr below everything the source hands out: import, fail, release. */
	assert_int_equal(vmem_xalloc(vmp, 0x1000, 0, 0, 0, 0x1000, 0x2000, VM_NOSLEEP), 0);
	assert_int_equal(releases, 1);
	check(vmp);
	vmem_xfree(vmp, a, 0x1000);
	assert_int_equal(releases, 2);
	check(vmp);
	check(src);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

/* Three levels of nested arenas keep their byte counts consistent and unwind completely. */
static void test_nested_arenas_unwind(void **state)
{
	vmem_t *a = vmem_create("L0", 0x10000000, 0x1000000, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *b = vmem_create("L1", 0, 0, 0x1000, import_fn, release_fn, a, 0, 0);
	vmem_t *c = vmem_create("L2", 0, 0, 0x8, import_fn, release_fn, b, 0, 0);
	uintptr_t x[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_not_equal(x[i] = vmem_alloc(c, 8 * (size_t)(1 + i), VM_NOSLEEP), 0);
	check(a);
	check(b);
	check(c);
	assert_int_equal(vmem_size(a, VMEM_ALLOC), vmem_size(b, VMEM_ALLOC | VMEM_FREE));
	assert_int_equal(vmem_size(b, VMEM_ALLOC), vmem_size(c, VMEM_ALLOC | VMEM_FREE));
	vmem_dump_all(quiet);
	for (int i = 0; i < 100; i++)
		vmem_free(c, x[i], 8 * (size_t)(1 + i));
	assert_int_equal(vmem_size(a, VMEM_ALLOC), 0);
	check(a);
	vmem_destroy(c);
	vmem_destroy(b);
	vmem_destroy(a);
}

/* Destroying an arena with live allocations reports the leak and still gives its imported spans back. */
static void test_destroy_releases_imports_despite_leaks(void **state)
{
	vmem_t *src = vmem_create("src3", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *vmp = vmem_create("leaky", 0, 0, 0x1000, import_fn, release_fn, src, 0, 0);

	(void)state;
	assert_int_not_equal(vmem_alloc(vmp, 0x3000, VM_NOSLEEP), 0);
	vmem_destroy(vmp);
	assert_int_equal(vmem_size(src, VMEM_ALLOC), 0);
	check(src);
	vmem_destroy(src);
}

/* Quantum caches are object caches now: see test_kmem.c (kmem_test_vmem_qcache_*). */

/* ---------------------------------------------------- growth, stats */

/* The allocated-segment hash table grows with the arena and keeps chains short. */
static void test_hash_grows_with_allocations(void **state)
{
	vmem_t *vmp = vmem_create("hash", 0x1000, 0x1000000, 0x10, NULL, NULL, NULL, 0, 0);
	struct vmem_kstat vk;
	enum { N = 20000 };
	static uintptr_t a[N];

	(void)state;
	for (int i = 0; i < N; i++)
		a[i] = vmem_alloc(vmp, 0x10, VM_NOSLEEP);
	vmem_stats(vmp, &vk);
	assert_true(vk.vk_hash_size >= N / VMEM_HASH_LOAD);
	assert_true(vk.vk_hash_grow >= 3);
	assert_true(vk.vk_hash_max_chain < 16);
	check(vmp);
	for (int i = 0; i < N; i++)
		vmem_free(vmp, a[i], 0x10);
	check(vmp);
	vmem_destroy(vmp);
}


/* The number after "  NAME " on its own line of the dump, or ~0. */
static unsigned long dump_value(const char *name)
{
	char key[40];
	const char *p;

	snprintf(key, sizeof(key), "\n  %s ", name);
	p = strstr(host_captured(), key);
	return p ? strtoul(p + strlen(key), NULL, 10) : ~0ul;
}

/*
 * vmem_dump of the "stats" arena after its known workload (30 allocations of
 * 1, 2 and 3 pages, the first three freed, over two spans): the counters it
 * prints, its free-list line and its segment lines agree with the workload.
 */
static void dump_check_arena(vmem_t *vmp, struct segcount c)
{
	unsigned long nseg[3] = { 0, 0, 0 }, bytes[3] = { 0, 0, 0 }, lists = 0, start, end, size;
	char type[8], *p;

	host_capture_reset();
	vmem_dump(vmp, true, host_capture);
	assert_int_equal(dump_value("mem_inuse"), 0x3c000 - 0x6000);
	assert_int_equal(dump_value("mem_total"), 0x110000);
	assert_int_equal(dump_value("alloc"), 30);
	assert_int_equal(dump_value("free"), 3);
	assert_int_equal(dump_value("fail"), 0);
	assert_int_equal(dump_value("nspan"), 2);
	assert_int_equal(dump_value("nalloc_seg"), 27);
	assert_int_equal(dump_value("nfree_seg"), c.nfree);
	p = strstr(host_captured(), "(size class: segments):");
	assert_non_null(p);
	for (p += strlen("(size class: segments):"); *p == ' ';) {
		unsigned long cls = strtoul(p + 3, &p, 10);	/* " 2^CLS:N" */

		assert_true(cls < VMEM_FREELISTS && *p == ':');
		lists += strtoul(p + 1, &p, 10);
	}
	assert_int_equal(*p, '\n');
	assert_int_equal(lists, c.nfree);
	for (p = strtok(host_captured(), "\n"); p != NULL; p = strtok(NULL, "\n")) {
		if (sscanf(p, " %7s [0x%lx, 0x%lx) %lu", type, &start, &end, &size) != 4)
			continue;
		int k = strcmp(type, "ALLOC") == 0 ? 0 : strcmp(type, "FREE") == 0 ? 1 : 2;

		assert_int_equal(end - start, size);
		nseg[k]++;
		bytes[k] += size;
	}
	assert_int_equal(nseg[0], c.nalloc);
	assert_int_equal(nseg[1], c.nfree);
	assert_int_equal(nseg[2], c.nspan);
	assert_int_equal(bytes[0], 0x3c000 - 0x6000);
	assert_int_equal(bytes[0] + bytes[1], 0x110000);
	assert_int_equal(bytes[2], 0x110000);
}

/* vmem_dump_all's line for "stats": in use, total, imported, succeeded, failed. */
static void dump_check_all(void)
{
	unsigned long inuse, total, import, ok, fail;
	const char *p;

	host_capture_reset();
	vmem_dump_all(host_capture);
	assert_non_null(strstr(host_captured(), "NAME "));
	p = strstr(host_captured(), "\nstats ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "\nstats %lu %lu %lu %lu %lu", &inuse, &total, &import, &ok,
				&fail), 5);
	assert_int_equal(inuse, 0x3c000 - 0x6000);
	assert_int_equal(total, 0x110000);
	assert_int_equal(import, 0);
	assert_int_equal(ok, 30);
	assert_int_equal(fail, 0);
	assert_non_null(strstr(host_captured(), "segment pool: "));
}

/* Statistics and the free-list occupancy agree with a walk of the segments; the dump prints them. */
static void test_stats_agree_with_segments(void **state)
{
	vmem_t *vmp = vmem_create("stats", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	struct vmem_kstat vk;
	uint64_t nfl = 0;
	uintptr_t a[30];

	(void)state;
	vmem_add(vmp, 0x400000, 0x10000, 0);
	for (int i = 0; i < 30; i++)
		a[i] = vmem_alloc(vmp, 0x1000 * (size_t)(i % 3 + 1), 0);
	for (int i = 0; i < 3; i++)
		vmem_free(vmp, a[i], 0x1000 * (size_t)(i % 3 + 1));
	vmem_stats(vmp, &vk);
	struct segcount c = counts(vmp);
	for (int i = 0; i < VMEM_FREELISTS; i++)
		nfl += vk.vk_freelist[i];
	assert_int_equal(vk.vk_nfree_seg, c.nfree);
	assert_int_equal(nfl, c.nfree);
	assert_int_equal(vk.vk_nalloc_seg, c.nalloc);
	assert_int_equal(vk.vk_nspan, 2);
	assert_int_equal(vk.vk_mem_total, 0x110000);
	assert_int_equal(vk.vk_alloc, 30);
	assert_ptr_equal(vmem_find("stats"), vmp);
	dump_check_arena(vmp, c);
	dump_check_all();
	vmem_destroy(vmp);
	assert_null(vmem_find("stats"));
}

/* vmem_lookup names the segment around an address (what a fault handler prints). */
static void test_lookup_finds_enclosing_segment(void **state)
{
	vmem_t *vmp = vmem_create("look", 0x100000, 0x10000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a = vmem_alloc(vmp, 0x3000, 0), s, e;

	(void)state;
	assert_int_equal(vmem_lookup(vmp, a + 0x1234, &s, &e), VMEM_ALLOC);
	assert_int_equal(s, a);
	assert_int_equal(e, a + 0x3000);
	assert_int_equal(vmem_lookup(vmp, a + 0x3000, &s, &e), VMEM_FREE);
	assert_int_equal(vmem_lookup(vmp, 0x50000, &s, &e), 0);
	vmem_destroy(vmp);
}

/* An arena may be created empty at the top of the address space without wrapping. */
static void test_span_at_top_of_address_space(void **state)
{
	uintptr_t base = (uintptr_t)0 - 0x100000;
	vmem_t *vmp = vmem_create("top", base, 0x100000 - 0x1000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a;

	(void)state;
	a = vmem_xalloc(vmp, 0x1000, 0, 0, 0, (uintptr_t)0 - 0x2000, 0, VM_NOSLEEP);
	assert_int_equal(a, (uintptr_t)0 - 0x2000);
	assert_int_equal(vmem_xalloc(vmp, 0x2000, 0x100000, 0, 0, 0, 0, VM_NOSLEEP), base);
	check(vmp);
	vmem_destroy(vmp);
}

/* ------------------------------------------------------------- misuse */

/* Freeing a wrong address, a wrong size, or twice panics with the arguments; the arena stays intact. */
static void test_misuse_bad_free_panics_and_leaves_arena_intact(void **state)
{
	vmem_t *vmp = vmem_create("misuse", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a = vmem_alloc(vmp, 0x3000, 0), b = vmem_alloc(vmp, 0x1000, 0);

	(void)state;
	HOST_EXPECT_PANIC(vmem_free(vmp, a + 0x1000, 0x1000), "wrong address");
	HOST_EXPECT_PANIC(vmem_free(vmp, a + 0x1000, 0x1000), "0x101000");
	HOST_EXPECT_PANIC(vmem_free(vmp, a, 0x2000), "wrong size");
	HOST_EXPECT_PANIC(vmem_free(vmp, 0x900000, 0x1000), "not in any span");
	check(vmp);
	vmem_free(vmp, b, 0x1000);
	HOST_EXPECT_PANIC(vmem_free(vmp, b, 0x1000), "double free");
	HOST_EXPECT_PANIC(vmem_xfree(vmp, b, 0x1000), "vmem_xfree(misuse");
	check(vmp);
	/* still fully usable */
	vmem_free(vmp, a, 0x3000);
	assert_int_equal(counts(vmp).nfree, 1);
	assert_int_not_equal(vmem_alloc(vmp, 0x100000, VM_NOSLEEP), 0);
	check(vmp);
	vmem_destroy(vmp);
}

/* Invalid or inconsistent constraints panic before touching the arena. */
static void test_misuse_bad_constraints_panic(void **state)
{
	vmem_t *vmp = vmem_create("cons", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);

	(void)state;
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0x3000, 0, 0, 0, 0, 0), "align not a power of two");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0x4000, 0x4000, 0, 0, 0, 0), "phase >= align");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0x4000, 0x800, 0, 0, 0, 0), "multiple of the quantum");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x4000, 0, 0, 0x2000, 0, 0, 0), "nocross smaller");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0, 0, 0x3000, 0, 0, 0), "nocross not a power");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0x8000, 0, 0x4000, 0, 0, 0), "overconstrained");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x2000, 0, 0, 0, 0x200000, 0x201000, 0), "minaddr, maxaddr");
	HOST_EXPECT_PANIC(vmem_xalloc(vmp, 0x1000, 0, 0, 0, 0x200000, 0x100000, 0), "minaddr, maxaddr");
	HOST_EXPECT_PANIC(vmem_alloc(vmp, 0, 0), "zero size");
	HOST_EXPECT_PANIC(vmem_alloc(vmp, 0x1000, VM_BESTFIT | VM_NEXTFIT), "invalid flags");
	HOST_EXPECT_PANIC(vmem_alloc(vmp, 0x1000, 0x4000), "invalid flags");
	check(vmp);
	assert_int_equal(vmem_size(vmp, VMEM_ALLOC), 0);
	vmem_destroy(vmp);
}

/* Overlapping spans, spans containing 0 or wrapping, and bad create arguments panic; the arena stays intact. */
static void test_misuse_bad_spans_panic(void **state)
{
	vmem_t *vmp = vmem_create("spans", 0x100000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);

	(void)state;
	vmem_add(vmp, 0x400000, 0x100000, 0);
	HOST_EXPECT_PANIC(vmem_add(vmp, 0x1ff000, 0x2000, 0), "overlaps span [0x100000, 0x200000)");
	HOST_EXPECT_PANIC(vmem_add(vmp, 0x300000, 0x200000, 0), "overlaps span [0x400000, 0x500000)");
	HOST_EXPECT_PANIC(vmem_add(vmp, 0x100000, 0x100000, 0), "overlaps");
	HOST_EXPECT_PANIC(vmem_add(vmp, 0x450000, 0x1000, 0), "overlaps");
	HOST_EXPECT_PANIC(vmem_add(vmp, 0, 0x1000, 0), "exclude address 0");
	HOST_EXPECT_PANIC(vmem_add(vmp, (uintptr_t)0 - 0x1000, 0x1000, 0), "not wrap");
	HOST_EXPECT_PANIC(vmem_add(vmp, 0x600800, 0x1000, 0), "aligned");
	HOST_EXPECT_PANIC(vmem_create("q3", 0x1000, 0x1000, 3, NULL, NULL, NULL, 0, 0), "quantum");
	HOST_EXPECT_PANIC(vmem_create("qc", 0x1000, 0x1000, 1, NULL, NULL, NULL, 17, 0), "qcache_max");
	assert_int_equal(vmem_add(vmp, 0x200000, 0x100000, 0), 0x200000);	/* abutting is fine */
	check(vmp);
	assert_int_equal(vmem_size(vmp, VMEM_FREE), 0x300000);
	vmem_destroy(vmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_alloc_free_coalesces_to_one_segment, setup),
		cmocka_unit_test_setup(test_exhaustion_returns_zero_and_counts_failure, setup),
		cmocka_unit_test_setup(test_vm_panic_panics_on_failure, setup),
		cmocka_unit_test_setup(test_instantfit_uses_smallest_guaranteed_list, setup),
		cmocka_unit_test_setup(test_bestfit_chooses_smallest_fitting_segment, setup),
		cmocka_unit_test_setup(test_nextfit_cycles_ids, setup),
		cmocka_unit_test_setup(test_xalloc_honours_constraints, setup),
		cmocka_unit_test_setup(test_xalloc_unsatisfiable_fails_cleanly, setup),
		cmocka_unit_test_setup(test_import_and_release_whole_spans, setup),
		cmocka_unit_test_setup(test_import_for_constrained_requests, setup),
		cmocka_unit_test_setup(test_import_race_releases_unused_span, setup),
		cmocka_unit_test_setup(test_nested_arenas_unwind, setup),
		cmocka_unit_test_setup(test_destroy_releases_imports_despite_leaks, setup),
		cmocka_unit_test_setup(test_hash_grows_with_allocations, setup),
		cmocka_unit_test_setup(test_stats_agree_with_segments, setup),
		cmocka_unit_test_setup(test_lookup_finds_enclosing_segment, setup),
		cmocka_unit_test_setup(test_span_at_top_of_address_space, setup),
		cmocka_unit_test_setup(test_misuse_bad_free_panics_and_leaves_arena_intact, setup),
		cmocka_unit_test_setup(test_misuse_bad_constraints_panic, setup),
		cmocka_unit_test_setup(test_misuse_bad_spans_panic, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
