/*
 * bench_vmem.c - host benchmark: the cost of an allocate+free pair in a vmem
 * arena (instant fit, best fit) and in a plain address-ordered first-fit
 * resource map (tests/common/firstfit.c), with 10, 1,000 and 100,000 free
 * segments in the arena.  Not a test: built by `make build/host/bench_vmem`
 * (-O2, no sanitizers, MM_DEBUG=0) and run by `make bench`.  Results and how
 * to read them: docs/vmem.md.
 *
 * Scenario "fragments" (the paper's): 2N one-quantum blocks are allocated and
 * every other one freed, leaving N one-quantum holes below one large free
 * segment; each pair asks for 2 quanta, which only the large segment can
 * serve.  A first-fit list walks past every hole (and walks again to free).
 * Scenario "mixed": holes of 1..7 quanta; each pair asks for 5 quanta, so
 * the size class [4, 8) quanta holds many candidates, only some big enough:
 * best fit must look at all of them, instant fit goes one class up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>

#include "tests/common/firstfit.h"
#include "mm/vmem_impl.h"

#define Q	4096ul			/* quantum: a page, as for a heap arena */
#define BASE	0x100000000ul		/* arena start */
#define TAIL	(1024 * Q)		/* the large free segment */
#define RUNS	7			/* report the fastest of this many runs */

/* vmem's page source on the host: page-aligned malloc. */
static void *host_pgsrc_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void host_pgsrc_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source pgsrc = { host_pgsrc_alloc, host_pgsrc_free };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Hole i's size in quanta: 1 in "fragments", 1..7 in "mixed". */
static size_t hole_quanta(bool mixed, size_t i)
{
	return mixed ? 1 + (i * 2654435761u >> 7) % 7 : 1;
}

/* Total span: each hole plus a one-quantum separator, then the tail. */
static size_t layout_size(bool mixed, size_t n)
{
	size_t size = TAIL;

	for (size_t i = 0; i < n; i++)
		size += (hole_quanta(mixed, i) + 1) * Q;
	return size;
}

/* Build the layout in a vmem arena with xalloc at fixed addresses. */
static vmem_t *bench_layout_vmem(bool mixed, size_t n)
{
	size_t size = layout_size(mixed, n);
	vmem_t *vmp = vmem_create("bench", BASE, size, Q, NULL, NULL, NULL, 0, VM_PANIC);
	uintptr_t a = BASE;

	for (size_t i = 0; i < n; i++) {
		size_t h = hole_quanta(mixed, i) * Q;

		/* allocate the hole and its separator, then free the hole */
		/* next fit: the rotor sits just below the tail, so building is linear */
		vmem_xalloc(vmp, h, 0, 0, 0, a, a + h, VM_NEXTFIT | VM_PANIC);
		vmem_xalloc(vmp, Q, 0, 0, 0, a + h, a + h + Q, VM_NEXTFIT | VM_PANIC);
		vmem_xfree(vmp, a, h);
		a += h + Q;
	}
	return vmp;
}

/* Free the separators so the arena is destroyed empty. */
static void bench_unlayout_vmem(vmem_t *vmp, bool mixed, size_t n)
{
	uintptr_t a = BASE;

	for (size_t i = 0; i < n; i++) {
		a += hole_quanta(mixed, i) * Q;
		vmem_xfree(vmp, a, Q);
		a += Q;
	}
}

/* Descriptors for the first-fit map: one per hole plus the tail. */
static struct ff_range ff_descs[100000 + 16];

/* The same layout in the first-fit map, built top-down so each free is O(1). */
static void bench_layout_ff(struct ff_map *fm, bool mixed, size_t n)
{
	uintptr_t a = BASE + layout_size(mixed, n) - TAIL;

	ff_init(fm, ff_descs, sizeof(ff_descs) / sizeof(ff_descs[0]), 0, 0);
	ff_free(fm, a, TAIL);
	for (size_t i = n; i-- > 0;) {
		size_t h = hole_quanta(mixed, i) * Q;

		a -= h + Q;
		ff_free(fm, a, h);
	}
	if (a != BASE)
		abort();
}

/* ns per vmem_alloc/vmem_free pair with `policy` (the arena has no quantum caches). */
static double time_vmem(vmem_t *vmp, size_t size, int policy, long iters, double *searched)
{
	struct vmem_kstat before, after;
	double best = 1e30;

	vmem_stats(vmp, &before);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			uintptr_t a = vmem_alloc(vmp, size, policy | VM_NOSLEEP);

			if (a == 0)
				abort();
			vmem_free(vmp, a, size);
		}
		double t = (now_ns() - t0) / (double)iters;
		if (t < best)
			best = t;
	}
	vmem_stats(vmp, &after);
	*searched = (double)(after.vk_search - before.vk_search) / (double)(iters * RUNS);
	return best;
}

/* ns per ff_alloc/ff_free pair. */
static double time_ff(struct ff_map *fm, size_t size, long iters, double *searched)
{
	uint64_t s0 = fm->fm_searched;
	double best = 1e30;

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			uintptr_t a = ff_alloc(fm, size);

			if (a == 0)
				abort();
			ff_free(fm, a, size);
		}
		double t = (now_ns() - t0) / (double)iters;
		if (t < best)
			best = t;
	}
	*searched = (double)(fm->fm_searched - s0) / (double)(iters * RUNS);
	return best;
}

/* One scenario: a row per segment count. */
static void scenario(const char *name, bool mixed, size_t request)
{
	static const size_t counts[] = { 10, 1000, 100000 };
	double tmin = 1e30, tmax = 0;

	printf("\nscenario %s: alloc+free of %zu quanta\n", name, request / Q);
	printf("%10s %12s %9s %12s %9s %12s %9s\n", "free segs", "instant ns", "(search)",
	       "best ns", "(search)", "firstfit ns", "(search)");
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t n = counts[c];
		vmem_t *vmp = bench_layout_vmem(mixed, n);
		struct ff_map fm;
		struct vmem_kstat vk;
		double si, sb, sf, ti, tb, tf;
		long ff_iters = n >= 100000 ? (mixed ? 100000 : 1000) : n >= 1000 ? 100000 : 1000000;

		vmem_stats(vmp, &vk);
		ti = time_vmem(vmp, request, VM_INSTANTFIT, 1000000, &si);
		tb = time_vmem(vmp, request, VM_BESTFIT, n >= 100000 ? (mixed ? 100 : 2000) : 200000, &sb);
		bench_layout_ff(&fm, mixed, n);
		tf = time_ff(&fm, request, ff_iters, &sf);
		printf("%10lu %12.1f %9.1f %12.1f %9.1f %12.1f %9.1f\n",
		       (unsigned long)vk.vk_nfree_seg, ti, si, tb, sb, tf, sf);
		tmin = ti < tmin ? ti : tmin;
		tmax = ti > tmax ? ti : tmax;
		bench_unlayout_vmem(vmp, mixed, n);
		vmem_destroy(vmp);
	}
	printf("instant fit largest/smallest: %.2f\n", tmax / tmin);
}

/*
 * `bench_vmem icount SCENARIO N POLICY ITERS`: build one layout and run ITERS
 * pairs inside measured_pairs(), for instruction counting with
 *   valgrind --tool=callgrind --toggle-collect=measured_pairs ...
 * POLICY is instant, best or firstfit.
 */
__attribute__((noinline)) void measured_pairs(vmem_t *vmp, struct ff_map *fm, size_t size,
					      int policy, long iters);
__attribute__((noinline)) void measured_pairs(vmem_t *vmp, struct ff_map *fm, size_t size,
					      int policy, long iters)
{
	for (long i = 0; i < iters; i++) {
		uintptr_t a = vmp ? vmem_alloc(vmp, size, policy | VM_NOSLEEP) : ff_alloc(fm, size);

		if (a == 0)
			abort();
		if (vmp)
			vmem_free(vmp, a, size);
		else
			ff_free(fm, a, size);
	}
}

static int icount_main(char **argv)
{
	bool mixed = strcmp(argv[2], "mixed") == 0;
	size_t n = strtoul(argv[3], NULL, 0), size = (mixed ? 5 : 2) * Q;
	long iters = strtol(argv[5], NULL, 0);
	struct ff_map fm;

	if (strcmp(argv[4], "firstfit") == 0) {
		bench_layout_ff(&fm, mixed, n);
		measured_pairs(NULL, &fm, size, 0, iters);
	} else {
		vmem_t *vmp = bench_layout_vmem(mixed, n);

		measured_pairs(vmp, NULL, size,
			       strcmp(argv[4], "best") == 0 ? VM_BESTFIT : VM_INSTANTFIT, iters);
	}
	printf("%s %s n=%zu iters=%ld done\n", argv[2], argv[4], n, iters);
	return 0;
}

int main(int argc, char **argv)
{
	struct utsname u;

	vmem_page_source_set(&pgsrc);
	if (argc == 6 && strcmp(argv[1], "icount") == 0)
		return icount_main(argv);
	uname(&u);
	printf("bench_vmem: ns per allocate+free pair, fastest of %d runs; host %s %s, "
	       "gcc -O2, MM_DEBUG=0, one thread\n", RUNS, u.sysname, u.machine);
	printf("(search) = free segments examined per pair\n");
	scenario("fragments", false, 2 * Q);
	scenario("mixed", true, 5 * Q);
	return 0;
}
