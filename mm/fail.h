/*
 * fail.h - failure injection for the allocators (the idea of illumos's
 * kmem_mtbf): with a rate N set, each allocation of the page, vmem and
 * slab layers that is allowed to fail does fail, at random, with
 * probability 1/N.  Every caller's failure path then runs under load, and a
 * test or a stress run can prove that none of them loses memory.
 *
 *   fail_set(100, seed);      about one allocation in 100 fails
 *   ...
 *   fail_set(0, 0);           off again
 *
 * The theory statement is in mm/fail.c.
 */
#ifndef MM_FAIL_H
#define MM_FAIL_H

#include "mm/mm_platform.h"

/* The layers that inject, in the order fail_stats reports them. */
enum fail_site { FAIL_PAGE, FAIL_VMEM, FAIL_SLAB, FAIL_NSITES };

/* Fail one allocation in `every` at random (0: off); seed the per-hart generators. */
void fail_set(unsigned every, uint64_t seed);
/* The rate now (0: off). */
unsigned fail_every(void);
/* Failures injected per layer since the last fail_set (all harts; exact when quiet). */
void fail_stats(uint64_t out[FAIL_NSITES]);

/*
 * Inside a fail_hold/fail_release pair the calling hart injects nothing:
 * a request that may not fail (KM_PANIC, VM_PANIC) holds it around the
 * layers below it.  Pairs nest; interrupts on the hart may run in between
 * and are then not failed either (fewer injections, never a wrong one).
 */
void fail_hold(void);
void fail_release(void);

/* ---- the test is inline: off, it costs one load and one branch ---- */

extern unsigned fail_rate;		/* fail_set's `every`; 0: off */
bool fail_roll(enum fail_site site);	/* the dice, out of line */

/* true: the allocation asking must fail (the site counts it). */
static inline bool fail_inject(enum fail_site site)
{
	if (__builtin_expect(__atomic_load_n(&fail_rate, __ATOMIC_RELAXED) == 0, 1))
		return false;
	return fail_roll(site);
}

#endif /* MM_FAIL_H */
