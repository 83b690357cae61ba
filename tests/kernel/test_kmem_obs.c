/*
 * test_kmem_obs.c - the `kmem` suite, continued: the dumps (kmastat,
 * slabinfo, magstat) captured into a buffer after a known workload and
 * parsed, their numbers compared with kmem_cache_stats() and with the
 * test's own tally, and the console commands that print them.
 */
#include "kernel/console.h"
#include "kernel/hart.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/smp.h"
#include "mm/page.h"
#include "test_kmem.h"

#include <stdarg.h>

#define KT_PROF_ITERS	1000	/* iterations of each warm region */

/* The line of the capture that starts with `name` and then a blank or ':'; NULL if none. */
static const char *kt_find_line(const char *name)
{
	size_t n = strlen(name);

	for (const char *l = ktest_captured(); l != NULL && *l; ) {
		if (strncmp(l, name, n) == 0 && (l[n] == ' ' || l[n] == ':'))
			return l;
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	return NULL;
}

/*
 * Parse up to max unsigned numbers from the line at l, after its first
 * `skip` characters, up to the end of the line; returns how many.
 */
static unsigned kt_numbers(const char *l, size_t skip, uint64_t *v, unsigned max)
{
	const char *p = l + skip;
	unsigned n = 0;

	while (*p && *p != '\n' && n < max) {
		if (*p >= '0' && *p <= '9') {
			char *end;

			v[n++] = strtoul(p, &end, 10);
			p = end;
		} else {
			p++;
		}
	}
	return n;
}

/* The signed number after `key` in the line at l (up to its end); false if absent. */
static bool kt_field(const char *l, const char *key, long *v)
{
	const char *end = strchr(l, '\n'), *p = strstr(l, key);
	bool neg;

	if (p == NULL || (end != NULL && p > end))
		return false;
	p += strlen(key);
	neg = *p == '-';
	p += neg;
	if (*p < '0' || *p > '9')
		return false;
	*v = (long)strtoul(p, NULL, 10);
	*v = neg ? -*v : *v;
	return true;
}

/* A new cache with `alloc` allocations of which `alloc - keep` were freed; kept in b[]. */
static kmem_cache_t *kt_workload(const char *name, size_t size, void **b, unsigned alloc,
				 unsigned keep)
{
	kmem_cache_t *cp = kmem_cache_create(name, size, 0, NULL, NULL, NULL, NULL, NULL, 0);

	if (cp == NULL)
		return NULL;
	for (unsigned i = 0; i < alloc; i++)
		b[i] = kmem_cache_alloc(cp, KM_PANIC);
	for (unsigned i = keep; i < alloc; i++)
		kmem_cache_free(cp, b[i]);
	return cp;
}

/* Free what kt_workload kept and destroy the cache. */
static void kt_workload_end(kmem_cache_t *cp, void **b, unsigned keep)
{
	for (unsigned i = 0; i < keep; i++)
		kmem_cache_free(cp, b[i]);
	kmem_cache_destroy(cp);
}

/*
 * kmastat after 300 allocations and 100 frees of 200-byte objects: the
 * cache's line says buf size 200, 200 in use, 300 allocations, none failed
 * (the tally), and total and memory equal kmem_cache_stats; the Total line
 * adds up every cache line; the vmem arenas follow, kmem_heap among them.
 */
void kmem_test_kmastat_matches_counters(struct ktest *t)
{
	static void *b[300];
	uint64_t v[8], st[KMS_NSTATS], mem = 0, allocs = 0;
	kmem_cache_t *cp = kt_workload("kt_kmastat", 200, b, 300, 200);
	const char *l;

	KASSERT_NOT_NULL(t, cp);
	kmem_cache_stats(cp, st);
	ktest_capture_reset();
	kmem_kmastat(ktest_capture);
	KEXPECT_FALSE(t, ktest_capture_truncated());
	l = kt_find_line("kt_kmastat");
	KASSERT_NOT_NULL(t, l);
	KASSERT_EQ(t, kt_numbers(l, strlen("kt_kmastat"), v, 8), 6);
	KEXPECT_EQ(t, v[0], 200);			/* buf size */
	KEXPECT_EQ(t, v[1], 200);			/* buf in use: 300 - 100 */
	KEXPECT_EQ(t, v[2], st[KMS_BUF_TOTAL]);
	KEXPECT_GE(t, v[2], 200);
	KEXPECT_EQ(t, v[3], st[KMS_MEM_TOTAL]);
	KEXPECT_GE(t, v[3], v[2] * 200);		/* the buffers fit in that memory */
	KEXPECT_EQ(t, v[4], 300);			/* allocs succeeded */
	KEXPECT_EQ(t, v[5], 0);				/* allocs failed */
	/* Every cache line (6 numbers after a name) adds up to the Total line. */
	for (l = strstr(ktest_captured(), "------\n"); l != NULL && strncmp(l + 7, "-----", 5) != 0; ) {
		const char *name_end;

		l = strchr(l, '\n') + 1;
		name_end = strchr(l, ' ');
		if (name_end == NULL || strncmp(l, "-----", 5) == 0)
			break;
		if (kt_numbers(l, (size_t)(name_end - l), v, 8) == 6) {
			mem += v[3];
			allocs += v[4];
		}
	}
	l = kt_find_line("Total");
	KASSERT_NOT_NULL(t, l);
	KASSERT_EQ(t, kt_numbers(l, 5, v, 8), 3);
	KEXPECT_EQ(t, v[0], mem);
	KEXPECT_EQ(t, v[1], allocs);
	KEXPECT_NOT_NULL(t, strstr(ktest_captured(), "kmem_heap"));
	kt_workload_end(cp, b, 200);
}

/*
 * slabinfo (2.1) after the same workload: active objects are the 200 in
 * use, objects = slabs x objects per slab = kmem_cache_stats' total, and
 * the slab geometry keeps waste at or below 1/8 of each slab.
 */
void kmem_test_slabinfo_matches_counters(struct ktest *t)
{
	static void *b[300];
	uint64_t v[12], st[KMS_NSTATS];
	kmem_cache_t *cp = kt_workload("kt_slabinfo", 200, b, 300, 200);
	const char *l;

	KASSERT_NOT_NULL(t, cp);
	kmem_cache_stats(cp, st);
	ktest_capture_reset();
	kmem_slabinfo(ktest_capture);
	KEXPECT_EQ(t, strncmp(ktest_captured(), "slabinfo - version: 2.1\n", 24), 0);
	l = kt_find_line("kt_slabinfo");
	KASSERT_NOT_NULL(t, l);
	/* active num objsize perslab pages : tunables 3 numbers : slabdata 3 numbers */
	KASSERT_EQ(t, kt_numbers(l, strlen("kt_slabinfo"), v, 12), 11);
	KEXPECT_EQ(t, v[0], 200);
	KEXPECT_EQ(t, v[1], st[KMS_BUF_TOTAL]);
	KEXPECT_GE(t, v[2], 200);
	KEXPECT_EQ(t, v[1], v[3] * v[9]);		/* objects = perslab x slabs */
	KEXPECT_EQ(t, v[9], st[KMS_SLABS]);
	KEXPECT_LE(t, v[8], v[9]);			/* active slabs <= slabs */
	KEXPECT_GE(t, v[8] * v[3], v[0]);		/* the active slabs hold the in-use objects */
	KEXPECT_LE(t, v[3] * v[2], v[4] * MM_PAGE_SIZE);
	KEXPECT_GE(t, v[3] * v[2] * 8, v[4] * MM_PAGE_SIZE * 7);	/* waste <= 1/8 */
	KEXPECT_EQ(t, v[9] * v[4] * MM_PAGE_SIZE, st[KMS_MEM_TOTAL]);
	KEXPECT_NOT_NULL(t, kt_find_line("kmalloc-64"));
	kt_workload_end(cp, b, 200);
}

/* cpu_call_all body: 5 + cpu allocations then their frees, counted per hart. */
static void kt_magstat_hart(void *arg)
{
	kmem_cache_t *cp = arg;
	void *b[5 + 64];
	unsigned n = 5 + this_cpu() % 64;

	for (unsigned i = 0; i < n; i++)	/* NOSLEEP: a cross-call must not reap or drain */
		b[i] = kmem_cache_alloc(cp, KM_NOSLEEP | KM_PANIC);
	for (unsigned i = 0; i < n; i++)
		kmem_cache_free(cp, b[i]);
}

/*
 * magstat after every hart allocated and freed: the cache's summary line
 * gives the magazine size and the hits of kmem_cache_stats, one line per
 * hart gives that hart's rounds (kmem_cache_cpu_rounds), one line per node
 * its depot; and what the magazines and depots hold adds up with the slab
 * layer to every buffer, none in use (the tally).
 */
/* Each "  hart N:" line of magstat's text l shows that hart's rounds; returns their sum. */
static uint64_t kt_magstat_check_harts(struct ktest *t, kmem_cache_t *cp, const char *l)
{
	uint64_t rounds = 0;
	char key[24];

	for (unsigned c = 0; c < ncpus; c++) {
		int loaded, prev;
		const char *h;
		long lv, pv;

		kmem_cache_cpu_rounds(cp, c, &loaded, &prev);
		snprintf(key, sizeof(key), "  hart %u:", c);
		h = strstr(l, key);
		KASSERT_NOT_NULL(t, h);
		KASSERT_TRUE(t, kt_field(h, "loaded ", &lv) && kt_field(h, "prev ", &pv));
		KEXPECT_EQ(t, lv, loaded);
		KEXPECT_EQ(t, pv, prev);
		rounds += loaded > 0 ? (uint64_t)loaded : 0;
		rounds += prev > 0 ? (uint64_t)prev : 0;
	}
	return rounds;
}

/* Each "  node N:" line of l shows that node's depot; returns the full magazines. */
static uint64_t kt_magstat_check_nodes(struct ktest *t, kmem_cache_t *cp, const char *l)
{
	uint64_t v[4], depot_full = 0;
	char key[24];

	for (unsigned n = 0; n < MM_MAX_NODES; n++) {
		uint64_t full, empty;
		const char *d;

		snprintf(key, sizeof(key), "  node %u:", n);
		if ((d = strstr(l, key)) == NULL)
			break;
		kmem_cache_depot_count(cp, (int)n, &full, &empty);
		KASSERT_EQ(t, kt_numbers(d, strlen(key), v, 4), 2);
		KEXPECT_EQ(t, v[0], full);
		KEXPECT_EQ(t, v[1], empty);
		depot_full += full;
	}
	return depot_full;
}

void kmem_test_magstat_matches_harts(struct ktest *t)
{
	uint64_t v[12], st[KMS_NSTATS], rounds, depot_full, allocs = 0;
	kmem_cache_t *cp = kmem_cache_create("kt_magstat", 64, 0, NULL, NULL, NULL, NULL, NULL, 0);
	const char *l;

	KASSERT_NOT_NULL(t, cp);
	cpu_call_all(kt_magstat_hart, cp);
	for (unsigned c = 0; c < ncpus; c++)
		allocs += 5 + c % 64;
	kmem_cache_stats(cp, st);
	KEXPECT_EQ(t, st[KMS_ALLOC], allocs);
	KEXPECT_EQ(t, st[KMS_BUF_INUSE], 0);
	ktest_capture_reset();
	kmem_cache_magstat(cp, ktest_capture);	/* one cache: all of it fits at 128 harts */
	KEXPECT_FALSE(t, ktest_capture_truncated());
	l = kt_find_line("kt_magstat");
	KASSERT_NOT_NULL(t, l);
	KASSERT_EQ(t, kt_numbers(l, strlen("kt_magstat"), v, 12), 9);
	KEXPECT_EQ(t, v[0], st[KMS_MAGSIZE]);
	KEXPECT_EQ(t, v[1], st[KMS_MAG_ALLOC]);
	KEXPECT_EQ(t, v[2], st[KMS_MAG_FREE]);
	KEXPECT_LE(t, v[1], allocs);
	rounds = kt_magstat_check_harts(t, cp, l);
	depot_full = kt_magstat_check_nodes(t, cp, l);
	KEXPECT_EQ(t, rounds, st[KMS_BUF_MAG]);
	KEXPECT_EQ(t, depot_full * st[KMS_MAGSIZE], st[KMS_BUF_DEPOT]);
	KEXPECT_EQ(t, st[KMS_BUF_TOTAL], st[KMS_BUF_SLABFREE] + rounds + st[KMS_BUF_DEPOT]);
	kmem_drain_all();
	KEXPECT_EQ(t, kmem_test_stat(cp, KMS_BUF_MAG), 0);
	kmem_cache_destroy(cp);
}

/* The console commands run, magstat takes one cache name, and extra or bad words are refused. */
void kmem_test_console_commands_run(struct ktest *t)
{
	char kmastat[] = "kmastat", slabinfo[] = "slabinfo", magstat[] = "magstat";
	char one[] = "magstat kmalloc-64", none[] = "magstat no-such-cache";
	char bad[] = "kmastat extra", opt[] = "magstat -x", two[] = "magstat a b";

	KEXPECT_EQ(t, console_exec(kmastat), 0);
	KEXPECT_EQ(t, console_exec(slabinfo), 0);
	KEXPECT_EQ(t, console_exec(magstat), 0);
	KEXPECT_EQ(t, console_exec(one), 0);
	KEXPECT_EQ(t, console_exec(none), -1);
	KEXPECT_EQ(t, console_exec(bad), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(opt), CONSOLE_USAGE);
	KEXPECT_EQ(t, console_exec(two), CONSOLE_USAGE);
}
