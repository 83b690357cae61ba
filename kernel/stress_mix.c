/*
 * stress_mix.c - what one hart does during a stress run (kernel/stress.c §2,
 * §4 and §5): draw a step, allocate or free (here or through another hart's
 * mailbox), poll, and run the pressure rounds; the start and end of a hart's
 * run.  The kinds themselves are in stress_kinds.c.
 */
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/stress_impl.h"
#include "kernel/timer.h"

/* ------------------------------------------------------------ the loop */

/* A kind drawn from this hart's weights. */
static enum stress_kind stress_pick_kind(struct stress_hart *sh)
{
	unsigned sum = 0, r;

	for (unsigned k = 0; k < SK_NKINDS; k++)
		sum += sh->sh_weight[k];
	r = (unsigned)stress_below(sh, sum);
	for (unsigned k = 0; k < SK_NKINDS; k++) {
		if (r < sh->sh_weight[k])
			return (enum stress_kind)k;
		r -= sh->sh_weight[k];
	}
	return SK_KMALLOC;
}

/* Where a free goes: another hart (on another node, half the time if any), or -1. */
static int stress_remote_target(struct stress_hart *sh)
{
	unsigned n = stress_run.sr_nharts;

	if (n < 2 || stress_below(sh, 100) >= stress_run.sr_remote)
		return -1;
	for (unsigned tries = 0; tries < 8; tries++) {
		unsigned c = (unsigned)stress_below(sh, n);

		if (c == sh->sh_cpu)
			continue;
		if (stress_run.sr_nnodes > 1 && tries < 4 && (sh->sh_seq & 1) &&
		    harts[c].h_node == sh->sh_node)
			continue;
		return (int)c;
	}
	return (int)((sh->sh_cpu + 1) % n);
}

/* Free a random held object, here or through another hart's mailbox. */
static void stress_free_one(struct stress_hart *sh)
{
	unsigned i = (unsigned)stress_below(sh, sh->sh_nheld);
	struct stress_obj o = sh->sh_slot[i];
	int to;

	sh->sh_slot[i] = sh->sh_slot[--sh->sh_nheld];
	sh->sh_held_bytes -= o.so_size;
	to = stress_remote_target(sh);
	if (to >= 0) {
		if (stress_mbox_put(stress_run.sr_hart[to]->sh_mbox, &o)) {
			sh->sh_remote_sent++;
			sh->sh_remote_node += harts[to].h_node != sh->sh_node;
			return;
		}
		sh->sh_mbox_full++;
	}
	stress_obj_release(sh, &o);
}

/* One step of the mix: allocate into a free slot, or free a held object. */
static void stress_step(struct stress_hart *sh)
{
	bool room = sh->sh_nheld < sh->sh_slots && sh->sh_held_bytes < sh->sh_budget;

	if (sh->sh_nheld == 0 || (room && stress_below(sh, 100) < 55)) {
		struct stress_obj *o = &sh->sh_slot[sh->sh_nheld];

		if (stress_alloc(sh, stress_pick_kind(sh), o)) {
			sh->sh_nheld++;
			sh->sh_held_bytes += o->so_size;
		}
		return;
	}
	stress_free_one(sh);
}

/* stress_corrupt=1: the last hart flips a bit in a held object after 1 s. */
static void stress_corrupt_maybe(struct stress_hart *sh)
{
	if (!stress_run.sr_corrupt || sh->sh_corrupted || sh->sh_cpu != stress_run.sr_nharts - 1 ||
	    sh->sh_nheld == 0 || timer_now_us() - stress_run.sr_t0_us < 1000000)
		return;
	((uint64_t *)sh->sh_slot[0].so_ptr)[0] ^= 1ULL << 3;
	sh->sh_corrupted = true;
	printk("stress: stress_corrupt=1: hart %u flipped bit 3 of %s object %p (seq %llu) "
	       "on purpose\n", sh->sh_cpu, stress_kind_names[sh->sh_slot[0].so_kind],
	       sh->sh_slot[0].so_ptr, (unsigned long long)sh->sh_slot[0].so_seq);
}

/* Work that is not allocation: failure, hart 0's duties, reaping, the mailbox. */
static void stress_poll(struct stress_hart *sh, uint64_t iter)
{
	uint64_t now;

	stress_park_if_failed();
	if (sh->sh_cpu == 0)
		stress_poll_hart0(sh);
	if (iter % 16 != 0)
		return;
	stress_mbox_drain(sh);
	now = timer_now_us();
	if (now < sh->sh_next_reap_us)
		return;
	sh->sh_next_reap_us = now + 1000000;
	if (sh->sh_cpu == stress_run.sr_nharts - 1)
		kmem_reap();		/* once a second: the reaper's is every 15 s */
	stress_corrupt_maybe(sh);
}

/* -------------------------------------------------------------- pressure */

/* A pressure allocation, linked through its own first words. */
struct stress_pnode {
	struct stress_pnode *pn_next;	/* the rest of the list */
	uint64_t pn_pat;		/* STRESS_PAT(owner, seq, 1) */
	uint64_t pn_seq;		/* its sequence number */
	uint64_t pn_order;		/* page: its order; else ~0 (a kmalloc of 4 KiB) */
};

/* Allocate one pressure block: pages of `order` (or kmalloc 4 KiB if order < 0). */
static bool stress_pressure_one(struct stress_hart *sh, int order, unsigned flags)
{
	struct stress_pnode *pn;

	if (order >= 0) {
		paddr_t pa = stress_op_page_alloc((unsigned)order, flags);

		if (pa == PAGE_NOADDR)
			return false;
		stress_page_constraints(pa, (unsigned)order, flags);
		pn = phys_to_virt(pa);
	} else if ((pn = stress_op_kmalloc(4096, KM_NOSLEEP, -1)) == NULL) {
		return false;
	}
	pn->pn_seq = ++sh->sh_seq;
	pn->pn_pat = STRESS_PAT(sh->sh_cpu, pn->pn_seq, 1);
	pn->pn_order = order >= 0 ? (uint64_t)order : ~0ULL;
	pn->pn_next = sh->sh_plist;
	sh->sh_plist = pn;
	sh->sh_ops++;
	sh->sh_pressure_allocs++;
	return true;
}

/* Check and free every pressure block. */
static void stress_pressure_release(struct stress_hart *sh)
{
	struct stress_pnode *pn, *next;
	uint64_t iter = 0;

	for (pn = sh->sh_plist; pn != NULL; pn = next) {
		next = pn->pn_next;
		if (pn->pn_pat != STRESS_PAT(sh->sh_cpu, pn->pn_seq, 1))
			stress_fail("corrupt pressure block %p owner %u seq %llu: word 1 is "
				    "0x%016llx", (void *)pn, sh->sh_cpu,
				    (unsigned long long)pn->pn_seq, (unsigned long long)pn->pn_pat);
		if (pn->pn_order == ~0ULL)
			stress_op_kmalloc_free(pn);
		else if (stress_op_page_free(virt_to_phys(pn), (unsigned)pn->pn_order) != 0)
			stress_fail("page_free(%p, %llu) refused a pressure block", (void *)pn,
				    (unsigned long long)pn->pn_order);
		sh->sh_ops++;
		stress_poll(sh, ++iter);
	}
	sh->sh_plist = NULL;
}

/*
 * One pressure round (stress.c §5): pages of the largest order that still
 * comes, down to order 0, then 4 KiB kmallocs, until each fails; then give
 * everything back.  The zone class rotates with the epoch: ANY, DMA32, DMA;
 * on a machine above STRESS_PRESSURE_ANY_MAX only DMA32 and DMA pages (and
 * no kmallocs, which would come from anywhere), because
 * writing a header into every block makes the host back that memory (QEMU
 * guests are lazily backed, with 2 MiB host pages: a 256 GiB guest would need
 * 128 GiB of host memory).
 */
static void stress_pressure(struct stress_hart *sh, unsigned epoch)
{
	bool big = stress_run.sr_mem_bytes > STRESS_PRESSURE_ANY_MAX;
	unsigned flags = epoch % 3 == 1 ? PAGE_DMA32 :
			 epoch % 3 == 2 && stress_run.sr_dma_zone ? PAGE_DMA : PAGE_ANY;
	int order = PAGE_MAX_ORDER, last = big ? 0 : -1;
	uint64_t iter = 0;

	if (big && flags == PAGE_ANY)
		flags = PAGE_DMA32;
	sh->sh_pressure_rounds++;
	sh->sh_where = "pressure";
	while (!stress_run.sr_stop && order >= last) {
		if (!stress_pressure_one(sh, order, flags)) {
			sh->sh_fails++;
			order--;
		}
		stress_poll(sh, ++iter);
	}
	stress_pressure_release(sh);
}

/* --------------------------------------------------------- the hart's run */

/* Are all of this hart's weights 0 (its kinds all heavy-only)? */
static bool stress_pick_weights_zero(const struct stress_hart *sh)
{
	for (unsigned k = 0; k < SK_NKINDS; k++)
		if (sh->sh_weight[k] != 0)
			return false;
	return true;
}

void stress_hart_setup(struct stress_hart *sh, unsigned cpu)
{
	sh->sh_cpu = cpu;
	sh->sh_node = harts[cpu].h_node;
	sh->sh_slots = MIN(MAX(STRESS_SLOTS_ALL / stress_run.sr_nharts, 16u), (unsigned)STRESS_SLOTS);
	sh->sh_rng = stress_run.sr_seed ^ (0x9e3779b97f4a7c15ULL * (cpu + 1));
	if (sh->sh_rng == 0)
		sh->sh_rng = 1;
	for (unsigned k = 0; k < SK_NKINDS; k++) {
		sh->sh_weight[k] = 1 + (unsigned)stress_below(sh, 8);
		if (!(stress_run.sr_kinds & (1u << k)))
			sh->sh_weight[k] = 0;
	}
	if (!stress_heavy(sh))
		sh->sh_weight[SK_HEAP] = 0;
	if (stress_pick_weights_zero(sh))
		sh->sh_weight[SK_CACHE] = 1;	/* stress_kinds=heap: light harts do cache */
	stress_mbox_init(sh->sh_mbox);
}

/* Give back everything this hart holds (the end of the run). */
static void stress_release_all(struct stress_hart *sh)
{
	while (sh->sh_nheld > 0) {
		sh->sh_nheld--;
		sh->sh_held_bytes -= sh->sh_slot[sh->sh_nheld].so_size;
		stress_obj_release(sh, &sh->sh_slot[sh->sh_nheld]);
		stress_poll(sh, sh->sh_nheld);
	}
	stress_pressure_release(sh);
}

void stress_leak_one(struct stress_hart *sh)
{
	paddr_t pa = page_alloc(0, PAGE_ANY);
	void *obj = kmem_cache_alloc(stress_run.sr_cache[0], KM_NOSLEEP);

	printk("stress: stress_leak=1: hart %u leaks page 0x%llx and %s object %p on purpose\n",
	       sh->sh_cpu, (unsigned long long)pa, kmem_cache_name(stress_run.sr_cache[0]), obj);
}

/*
 * stress_hang=1 (docs/stress.md): the last hart stops making progress, as a
 * hart stuck on a lock would, but naps instead of spinning, until the
 * watchdog fails the run or (if it never does) the run stops.
 */
void stress_hang_one(struct stress_hart *sh)
{
	printk("stress: stress_hang=1: hart %u stops on purpose after %llu operations\n",
	       sh->sh_cpu, (unsigned long long)sh->sh_ops);
	sh->sh_where = "stress_hang=1";
	while (!stress_run.sr_stop)
		timer_nap_us(STRESS_WAIT_NAP_US);
}

void stress_hart_run(struct stress_hart *sh)
{
	struct stress_run *sr = &stress_run;
	uint64_t iter = 0;

	while (!sr->sr_stop) {
		unsigned epoch = sr->sr_pressure;

		if (epoch != sh->sh_pressure_seen) {
			sh->sh_pressure_seen = epoch;
			if (stress_heavy(sh))
				stress_pressure(sh, epoch);
		}
		stress_step(sh);
		stress_poll(sh, ++iter);
		if (sr->sr_hang_test && sh->sh_cpu == sr->sr_nharts - 1 && iter == 1000)
			stress_hang_one(sh);
	}
	stress_release_all(sh);
	if (sr->sr_leak && sh->sh_cpu == sr->sr_nharts - 1)
		stress_leak_one(sh);
}
