/*
 * fail.c - failure injection: every Nth allocation fails, at random.
 *
 * 1. Overview
 * -----------
 * illumos's kmem_mtbf makes one KM_NOSLEEP allocation in N fail, so that
 * the code behind every "if (p == NULL)" runs under real load.  We do the
 * same for three layers (enum fail_site): the page allocator, vmem and the
 * slab layer of the object caches.  fail_set(N, seed) turns it on; each
 * request that may legitimately fail then fails with probability 1/N, and
 * the layer that failed it counts it here (fail_stats) as well as in its
 * own failure counter (pst_alloc_fail, vk_fail, cache_fail).
 *
 * 2. Where each layer injects, and what it never fails
 * ----------------------------------------------------
 *   page  page_alloc_slow, before any zone is tried.  The inline fast path
 *         (page.h) sends every order-0 request there while a rate is set, so
 *         per-hart cache hits fail as well as buddy allocations.  PAGE_URGENT
 *         requests are never failed: they are the reserve's users (page
 *         tables, vmem's segment structures), whose failure must mean that
 *         memory is really gone.
 *   vmem  vmem_xalloc and vmem_alloc below the quantum caches (vmem.c §5):
 *         VM_NOSLEEP and VM_SLEEP requests both may fail (VM_SLEEP never
 *         sleeps in this kernel: it reaps, retries once, and may return 0,
 *         so every VM_SLEEP caller already handles 0).  An injected failure
 *         skips the reap and the retry.  A quantum-cache hit is not failed;
 *         its refill (vmem_xalloc) is.
 *   slab  kmem_slab_import, the slab layer's bulk import (kmem.c §4): the
 *         magazine fills, the slow single-buffer path and the internal
 *         caches (magazines, slab headers, bufctls) all come through it.
 * A request that may not fail (KM_PANIC, VM_PANIC) holds injection off on
 * its hart for its whole duration (fail_hold), so that nothing it calls
 * below fails it either.
 *
 * 3. Per-hart state
 * -----------------
 * Each hart has its own xorshift64 generator and counters, in its own cache
 * line, touched only by that hart with interrupts off: no lock, no atomic.
 * fail_set seeds every hart's generator from (seed, hart), so a run with a
 * given seed draws the same sequence on each hart.  Off (rate 0) the test
 * in fail_inject (fail.h) is one load and one not-taken branch; it is kept
 * off the magazine hit path and the per-hart page cache hit path (page.h
 * sends those requests to the slow path only while a rate is set).
 *
 * 4. Locking
 * ----------
 * None.  fail_set writes every hart's state: call it when no other hart is
 * allocating (boot, or the start of a test); the rate itself is published
 * last, with a release store.
 */
#include "mm/fail.h"

/* A hart's dice and counts: one cache line, written by that hart only. */
struct fail_hart {
	uint64_t fh_state;			/* xorshift64 state, never 0 */
	uint64_t fh_count[FAIL_NSITES];		/* failures injected per site */
	unsigned fh_hold;			/* fail_hold depth */
} MM_CACHE_ALIGNED;

unsigned fail_rate;
static struct fail_hart fail_hart[MM_MAX_CPUS];

/* splitmix64: spreads (seed, hart) into a well-mixed non-zero state. */
static uint64_t fail_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x != 0 ? x : 1;
}

void fail_set(unsigned every, uint64_t seed)
{
	__atomic_store_n(&fail_rate, 0, __ATOMIC_RELEASE);
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		struct fail_hart *fh = &fail_hart[c];

		fh->fh_state = fail_mix(seed ^ ((uint64_t)c << 32));
		for (unsigned s = 0; s < FAIL_NSITES; s++)
			fh->fh_count[s] = 0;
	}
	__atomic_store_n(&fail_rate, every, __ATOMIC_RELEASE);
}

unsigned fail_every(void)
{
	return __atomic_load_n(&fail_rate, __ATOMIC_RELAXED);
}

bool fail_roll(enum fail_site site)
{
	irqflags_t f = irq_save();
	struct fail_hart *fh = &fail_hart[cpu_id()];
	unsigned every = __atomic_load_n(&fail_rate, __ATOMIC_RELAXED);
	uint64_t x = fh->fh_state;
	bool fail;

	ASSERT((unsigned)site < FAIL_NSITES);
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	fh->fh_state = x;
	fail = every != 0 && fh->fh_hold == 0 && x % every == 0;
	if (fail)
		fh->fh_count[site]++;
	irq_restore(f);
	return fail;
}

void fail_stats(uint64_t out[FAIL_NSITES])
{
	for (unsigned s = 0; s < FAIL_NSITES; s++)
		out[s] = 0;
	for (unsigned c = 0; c < MM_MAX_CPUS; c++)
		for (unsigned s = 0; s < FAIL_NSITES; s++)
			out[s] += __atomic_load_n(&fail_hart[c].fh_count[s], __ATOMIC_RELAXED);
}

void fail_hold(void)
{
	irqflags_t f = irq_save();

	fail_hart[cpu_id()].fh_hold++;
	irq_restore(f);
}

void fail_release(void)
{
	irqflags_t f = irq_save();
	struct fail_hart *fh = &fail_hart[cpu_id()];

	if (fh->fh_hold == 0)
		panic("fail_release: no fail_hold on cpu %u", cpu_id());
	fh->fh_hold--;
	irq_restore(f);
}
