/*
 * test_vmem.c - vmem in the kernel: the same arenas the host tests check,
 * built with the kernel's spinlocks and page source; misuse panics; the
 * console command; and the instruction-count regions for docs/vmem.md
 * (instant fit and best fit alloc+free pairs with 10, 1,000 and 100,000 free
 * segments, measured by `make profile ARGS=ktest=vmem`).
 */
#include "kernel/segkmem.h"
#include "kernel/ktest.h"
#include "kernel/lib.h"
#include "kernel/prof.h"
#include "mm/vmem.h"
#include "tests/common/firstfit.h"

int console_exec(char *line);

static int vmem_suite_init(void)
{
	segkmem_init();		/* sets vmem's page source */
	return 0;
}

/* Allocate, free, coalesce, and pass vmem_check with the kernel's locks. */
static void vmem_test_alloc_free_coalesce(struct ktest *t)
{
	vmem_t *vmp = vmem_create("kt_basic", 0x10000, 0x100000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a[32];
	char err[128];

	KASSERT_NOT_NULL(t, vmp);
	for (int i = 0; i < 32; i++)
		KEXPECT_NE(t, a[i] = vmem_alloc(vmp, 0x1000 * (size_t)(i % 4 + 1), VM_NOSLEEP), 0);
	for (int i = 0; i < 32; i++)
		vmem_free(vmp, a[i], 0x1000 * (size_t)(i % 4 + 1));
	KEXPECT_TRUE(t, vmem_check(vmp, err, sizeof(err)));
	KEXPECT_EQ(t, vmem_size(vmp, VMEM_FREE), 0x100000);
	vmem_destroy(vmp);
}

/* Bad frees and constraints panic naming the arena; the arena stays usable. */
static void vmem_test_misuse_panics(struct ktest *t)
{
	vmem_t *vmp = vmem_create("kt_misuse", 0x10000, 0x10000, 0x1000, NULL, NULL, NULL, 0, 0);
	uintptr_t a = vmem_alloc(vmp, 0x2000, 0);
	char err[128];

	KTEST_EXPECT_PANIC(t, vmem_free(vmp, a, 0x1000), "wrong size");
	KTEST_EXPECT_PANIC(t, vmem_free(vmp, a + 0x1000, 0x1000), "wrong address");
	KTEST_EXPECT_PANIC(t, vmem_xalloc(vmp, 0x1000, 0x3000, 0, 0, 0, 0, 0), "power of two");
	KTEST_EXPECT_PANIC(t, vmem_add(vmp, 0x18000, 0x10000, 0), "overlaps");
	vmem_free(vmp, a, 0x2000);
	KTEST_EXPECT_PANIC(t, vmem_free(vmp, a, 0x2000), "double free");
	KEXPECT_TRUE(t, vmem_check(vmp, err, sizeof(err)));
	vmem_destroy(vmp);
}

/* The `vmem` console command prints every arena and one in full. */
static void vmem_test_console_command(struct ktest *t)
{
	char all[] = "vmem", one[] = "vmem kheap_va", bad[] = "vmem no_such_arena";

	KEXPECT_EQ(t, console_exec(all), 0);
	KEXPECT_EQ(t, console_exec(one), 0);
	KEXPECT_NE(t, console_exec(bad), 0);
}

/* ---------------------------------------------------- measurement */

#define KB_Q	4096ul
#define KB_BASE	0x100000000ul

struct kb_ctx {
	vmem_t *kb_vmp;			/* the arena */
	int kb_policy;			/* VM_INSTANTFIT or VM_BESTFIT */
};

/* One alloc+free pair of 2 quanta (what prof_region counts). */
static void kb_pair(void *arg, unsigned long i)
{
	struct kb_ctx *kb = arg;
	uintptr_t a = vmem_alloc(kb->kb_vmp, 2 * KB_Q, kb->kb_policy | VM_NOSLEEP);

	(void)i;
	vmem_free(kb->kb_vmp, a, 2 * KB_Q);
}

/* n one-quantum holes below one large free segment (the host bench's layout). */
static vmem_t *kb_layout(unsigned long n)
{
	vmem_t *vmp = vmem_create("kt_bench", KB_BASE, (2 * n + 1024) * KB_Q, KB_Q, NULL, NULL,
				  NULL, 0, VM_PANIC);

	for (unsigned long i = 0; i < n; i++) {
		uintptr_t a = KB_BASE + 2 * i * KB_Q;

		vmem_xalloc(vmp, KB_Q, 0, 0, 0, a, a + KB_Q, VM_NEXTFIT | VM_PANIC);
		vmem_xalloc(vmp, KB_Q, 0, 0, 0, a + KB_Q, a + 2 * KB_Q, VM_NEXTFIT | VM_PANIC);
		vmem_xfree(vmp, a, KB_Q);
	}
	return vmp;
}

/* Instruction-count regions: instant and best fit at 10, 1,000, 100,000 free segments. */
static void vmem_test_prof_pairs(struct ktest *t)
{
	static const unsigned long counts[] = { 10, 1000, 100000 };
	static const char *names[2][3] = {
		{ "vmem_instant_10", "vmem_instant_1000", "vmem_instant_100000" },
		{ "vmem_best_10", "vmem_best_1000", "vmem_best_100000" },
	};

	for (int c = 0; c < 3; c++) {
		struct kb_ctx kb = { kb_layout(counts[c]), VM_INSTANTFIT };
		struct vmem_kstat vk;

		vmem_stats(kb.kb_vmp, &vk);
		KEXPECT_EQ(t, vk.vk_nfree_seg, counts[c] + 1);
		prof_region(names[0][c], 1000, kb_pair, &kb);
		kb.kb_policy = VM_BESTFIT;
		prof_region(names[1][c], 1000, kb_pair, &kb);
		for (unsigned long i = 0; i < counts[c]; i++)
			vmem_xfree(kb.kb_vmp, KB_BASE + (2 * i + 1) * KB_Q, KB_Q);
		vmem_destroy(kb.kb_vmp);
	}
}

/* One first-fit alloc+free pair of 2 quanta. */
static void kb_ff_pair(void *arg, unsigned long i)
{
	struct ff_map *fm = arg;
	uintptr_t a = ff_alloc(fm, 2 * KB_Q);

	(void)i;
	ff_free(fm, a, 2 * KB_Q);
}

/* The same layout in the first-fit map, built top-down so each insert is O(1). */
static bool kb_ff_layout(struct ff_map *fm, struct ff_range *descs, unsigned long n)
{
	ff_init(fm, descs, n + 16, 0, 0);
	if (ff_free(fm, KB_BASE + 2 * n * KB_Q, 1024 * KB_Q))
		return false;
	for (unsigned long i = n; i-- > 0;)
		if (ff_free(fm, KB_BASE + 2 * i * KB_Q, KB_Q))
			return false;
	return ff_count(fm) == n + 1;
}

/* The paper's baseline in the kernel: first fit grows with the free segments. */
static void vmem_test_prof_firstfit(struct ktest *t)
{
	static const unsigned long counts[] = { 10, 1000, 100000 }, iters[] = { 1000, 100, 10 };
	static const char *names[] = { "firstfit_10", "firstfit_1000", "firstfit_100000" };
	size_t bytes = (100000 + 16) * sizeof(struct ff_range);
	struct ff_range *descs = segkmem_alloc(bytes, VM_NOSLEEP);
	struct ff_map fm;

	KASSERT_NOT_NULL(t, descs);
	for (int c = 0; c < 3; c++) {
		KEXPECT_TRUE(t, kb_ff_layout(&fm, descs, counts[c]));
		prof_region(names[c], iters[c], kb_ff_pair, &fm);
		KEXPECT_EQ(t, ff_count(&fm), counts[c] + 1);
	}
	segkmem_free(descs, bytes);
}

/* Hole i's size in quanta in the "mixed" layout: 1..7, as tests/host/bench_vmem.c. */
static unsigned long kb_mixed_quanta(unsigned long i)
{
	return 1 + (i * 2654435761u >> 7) % 7;
}

/* n holes of kb_mixed_quanta(i) quanta, each followed by a held quantum, then a tail. */
static vmem_t *kb_mixed_layout(unsigned long n, unsigned long *spanp)
{
	unsigned long span = 1024 * KB_Q;
	uintptr_t a = KB_BASE;
	vmem_t *vmp;

	for (unsigned long i = 0; i < n; i++)
		span += (kb_mixed_quanta(i) + 1) * KB_Q;
	vmp = vmem_create("kt_mixed", KB_BASE, span, KB_Q, NULL, NULL, NULL, 0, VM_PANIC);
	for (unsigned long i = 0; i < n; i++) {
		size_t h = kb_mixed_quanta(i) * KB_Q;

		vmem_xalloc(vmp, h, 0, 0, 0, a, a + h, VM_NEXTFIT | VM_PANIC);
		vmem_xalloc(vmp, KB_Q, 0, 0, 0, a + h, a + h + KB_Q, VM_NEXTFIT | VM_PANIC);
		vmem_xfree(vmp, a, h);
		a += h + KB_Q;
	}
	*spanp = span;
	return vmp;
}

/* One alloc+free pair of 5 quanta (the "mixed" request). */
static void kb_pair5(void *arg, unsigned long i)
{
	struct kb_ctx *kb = arg;
	uintptr_t a = vmem_alloc(kb->kb_vmp, 5 * KB_Q, kb->kb_policy | VM_NOSLEEP);

	(void)i;
	vmem_free(kb->kb_vmp, a, 5 * KB_Q);
}

/*
 * The "mixed" workload in the kernel: 1,000 holes of 1..7 quanta, requests of
 * 5 quanta.  Instant fit takes the first segment of a list where everything
 * fits (the tail); best fit must look at every hole of the [4, 8) list.  The
 * arena's search counter must show the difference the regions measure.
 */
static void vmem_test_prof_mixed(struct ktest *t)
{
	unsigned long span;
	struct kb_ctx kb = { kb_mixed_layout(1000, &span), VM_INSTANTFIT };
	struct vmem_kstat k0, k1, k2;

	vmem_stats(kb.kb_vmp, &k0);
	prof_region("vmem_mixed_instant_1000", 1000, kb_pair5, &kb);
	vmem_stats(kb.kb_vmp, &k1);
	kb.kb_policy = VM_BESTFIT;
	prof_region("vmem_mixed_best_1000", 1000, kb_pair5, &kb);
	vmem_stats(kb.kb_vmp, &k2);
	KEXPECT_EQ(t, k1.vk_search - k0.vk_search, 1000);	/* one segment per pair */
	KEXPECT_GT(t, k2.vk_search - k1.vk_search, 100 * 1000ul);	/* the whole list */
	KEXPECT_EQ(t, k2.vk_fail, k0.vk_fail);
	for (uintptr_t a = KB_BASE, i = 0; i < 1000; a += (kb_mixed_quanta(i) + 1) * KB_Q, i++)
		vmem_xfree(kb.kb_vmp, a + kb_mixed_quanta(i) * KB_Q, KB_Q);
	KEXPECT_EQ(t, vmem_size(kb.kb_vmp, VMEM_FREE), span);
	vmem_destroy(kb.kb_vmp);
}

/* A 5-quantum request that only the linear "might fit" scan can answer: it fails. */
static void kb_mightfit(void *arg, unsigned long i)
{
	struct kb_ctx *kb = arg;

	(void)i;
	if (vmem_alloc(kb->kb_vmp, 5 * KB_Q, VM_INSTANTFIT | VM_NOSLEEP) != 0)
		kb->kb_policy = -1;		/* must not happen: recorded for the test */
}

/* n holes of 4 quanta and nothing larger: all of them sit in the [4, 8) list. */
static vmem_t *kb_mightfit_layout(unsigned long n)
{
	vmem_t *vmp = vmem_create("kt_mightfit", KB_BASE, 5 * n * KB_Q, KB_Q, NULL, NULL, NULL,
				  0, VM_PANIC);

	for (unsigned long i = 0; i < n; i++)
		vmem_xalloc(vmp, KB_Q, 0, 0, 0, KB_BASE + (5 * i + 4) * KB_Q,
			    KB_BASE + (5 * i + 5) * KB_Q, VM_BESTFIT | VM_PANIC);
	return vmp;
}

/*
 * The cost of vmem_find_fit's linear scan: instant fit finds no list where
 * every segment fits, so it walks the [4, 8) list looking at each 4-quantum
 * hole and fails.  The cost per failed request grows with the list (10 and
 * 1,000 holes); the search counter confirms every hole was looked at.
 */
static void vmem_test_prof_mightfit_scan(struct ktest *t)
{
	static const unsigned long counts[] = { 10, 1000 };
	static const char *names[] = { "vmem_mightfit_scan_10", "vmem_mightfit_scan_1000" };

	for (int c = 0; c < 2; c++) {
		struct kb_ctx kb = { kb_mightfit_layout(counts[c]), VM_INSTANTFIT };
		struct vmem_kstat k0, k1;

		vmem_stats(kb.kb_vmp, &k0);
		KEXPECT_EQ(t, k0.vk_nfree_seg, counts[c]);
		prof_region(names[c], 100, kb_mightfit, &kb);
		vmem_stats(kb.kb_vmp, &k1);
		KEXPECT_EQ(t, kb.kb_policy, VM_INSTANTFIT);
		KEXPECT_EQ(t, k1.vk_search - k0.vk_search, 100 * counts[c]);
		for (unsigned long i = 0; i < counts[c]; i++)
			vmem_xfree(kb.kb_vmp, KB_BASE + (5 * i + 4) * KB_Q, KB_Q);
		vmem_destroy(kb.kb_vmp);
	}
}

static const struct ktest_case vmem_cases[] = {
	KTEST_CASE(vmem_test_alloc_free_coalesce),
	KTEST_CASE(vmem_test_misuse_panics),
	KTEST_CASE(vmem_test_console_command),
	KTEST_CASE(vmem_test_prof_pairs),
	KTEST_CASE(vmem_test_prof_firstfit),
	KTEST_CASE(vmem_test_prof_mixed),
	KTEST_CASE(vmem_test_prof_mightfit_scan),
	KTEST_END,
};
KTEST_SUITE_INIT(vmem_suite, "vmem", vmem_cases, vmem_suite_init);
