/*
 * test_vmem_random.c - millions of random vmem operations, every policy and
 * constraint, each step checked against a reference model (the set of live
 * allocations, one entry per quantum) and against vmem_check():
 *   - a returned range lies in a span, overlaps no live allocation, and meets
 *     every constraint it was asked for;
 *   - the arena's allocated segments are exactly the model's allocations;
 *   - free space is fully coalesced and the statistics agree (vmem_check);
 *   - an unconstrained request fails only when no free segment is large
 *     enough; best fit picks the smallest fitting segment; instant fit picks
 *     from the lowest free list whose segments all fit;
 *   - an importing arena never keeps a wholly free imported span.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "host_env.h"
#include "mm/vmem_impl.h"

/* vmem's page source on the host: page-aligned malloc. */
static void *host_pgsrc_alloc(size_t size) { return aligned_alloc(MM_PAGE_SIZE, size); }
static void host_pgsrc_free(void *p, size_t size) { (void)size; free(p); }
static const struct vmem_page_source pgsrc = { host_pgsrc_alloc, host_pgsrc_free };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

/* The reference model: live allocations indexed by quantum in a region. */
struct model {
	vmem_t *m_vmp;			/* the arena under test */
	uintptr_t m_base;		/* region start (covers every span) */
	size_t m_q;			/* quantum */
	size_t m_nq;			/* region length in quanta */
	uint8_t *m_used;		/* 1 per allocated quantum */
	uint32_t *m_len;		/* at an allocation's first quantum: its length in quanta */
	uint8_t *m_x;			/* ... and whether it came from vmem_xalloc */
	uintptr_t *m_live;		/* starts of live allocations */
	size_t m_nlive;
	bool m_import;			/* arena imports: check the release invariant */
	unsigned m_every;		/* full verification every this many steps */
	uint64_t m_steps, m_fails;	/* counters for the log line */
};

static size_t qi(const struct model *m, uintptr_t a) { return (size_t)((a - m->m_base) / m->m_q); }

static void model_init(struct model *m, vmem_t *vmp, uintptr_t base, size_t q, size_t nq)
{
	memset(m, 0, sizeof(*m));
	m->m_vmp = vmp;
	m->m_base = base;
	m->m_q = q;
	m->m_nq = nq;
	m->m_used = calloc(nq, 1);
	m->m_len = calloc(nq, sizeof(uint32_t));
	m->m_x = calloc(nq, 1);
	m->m_live = calloc(nq, sizeof(uintptr_t));
}

static void model_fini(struct model *m)
{
	free(m->m_used);
	free(m->m_len);
	free(m->m_x);
	free(m->m_live);
}

/* A free segment seen by a walk. */
struct fseg { uintptr_t start; size_t size; };
struct walk {
	const struct model *w_m;
	struct fseg *w_free;		/* free segments, if collecting */
	size_t w_nfree, w_cap;
	size_t w_nalloc;		/* allocated segments seen */
	int w_span_allocs;		/* allocations in the current span */
	bool w_span_import_empty;	/* an imported span with none */
	const char *w_err;		/* first disagreement */
};

static void walk_cb(void *arg, uintptr_t start, size_t size, int type)
{
	struct walk *w = arg;
	const struct model *m = w->w_m;

	if (type == VMEM_SPAN) {
		if (m->m_import && w->w_span_allocs == 0 && w->w_nalloc + w->w_nfree > 0)
			w->w_span_import_empty = true;
		w->w_span_allocs = 0;
		return;
	}
	if (start < m->m_base || qi(m, start) + size / m->m_q > m->m_nq) {
		w->w_err = "segment outside the model region";
		return;
	}
	if (type == VMEM_ALLOC) {
		if (m->m_len[qi(m, start)] * m->m_q != size)
			w->w_err = "allocated segment the model does not have";
		w->w_nalloc++;
		w->w_span_allocs++;
	} else if (w->w_free != NULL && w->w_nfree < w->w_cap) {
		w->w_free[w->w_nfree++] = (struct fseg){ start, size };
	} else {
		w->w_nfree++;
	}
}

/* Compare the arena with the model; fail the test on any difference. */
static void model_verify(struct model *m)
{
	struct walk w = { .w_m = m };
	char err[256];

	if (!vmem_check(m->m_vmp, err, sizeof(err)))
		fail_msg("step %lu: %s", (unsigned long)m->m_steps, err);
	vmem_walk(m->m_vmp, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, walk_cb, &w);
	walk_cb(&w, 0, 0, VMEM_SPAN);	/* close the last span */
	if (w.w_err)
		fail_msg("step %lu: %s", (unsigned long)m->m_steps, w.w_err);
	if (w.w_nalloc != m->m_nlive)
		fail_msg("step %lu: arena has %zu allocations, model %zu", (unsigned long)m->m_steps,
			 w.w_nalloc, m->m_nlive);
	if (w.w_span_import_empty)
		fail_msg("step %lu: a wholly free imported span was kept", (unsigned long)m->m_steps);
}

/* Record an allocation in the model after checking it overlaps nothing. */
static void model_add(struct model *m, uintptr_t a, size_t size, bool x)
{
	size_t i = qi(m, a), n = size / m->m_q;

	if (a < m->m_base || i + n > m->m_nq)
		fail_msg("step %lu: 0x%lx outside the region", (unsigned long)m->m_steps,
			 (unsigned long)a);
	for (size_t k = 0; k < n; k++) {
		if (m->m_used[i + k])
			fail_msg("step %lu: [0x%lx, +0x%zx) overlaps a live allocation",
				 (unsigned long)m->m_steps, (unsigned long)a, size);
		m->m_used[i + k] = 1;
	}
	m->m_len[i] = (uint32_t)n;
	m->m_x[i] = x;
	m->m_live[m->m_nlive++] = a;
}

/* Free a random live allocation through the matching free function. */
static void model_free_random(struct model *m)
{
	size_t j = rnd_below(m->m_nlive), i;
	uintptr_t a = m->m_live[j];

	i = qi(m, a);
	if (m->m_x[i])
		vmem_xfree(m->m_vmp, a, m->m_len[i] * m->m_q);
	else
		vmem_free(m->m_vmp, a, m->m_len[i] * m->m_q - (m->m_q > 1 ? 1 : 0));
	memset(&m->m_used[i], 0, m->m_len[i]);
	m->m_len[i] = 0;
	m->m_live[j] = m->m_live[--m->m_nlive];
}

/* Free segments of the arena (for the policy checks). */
static size_t free_segs(struct model *m, struct fseg *buf, size_t cap)
{
	struct walk w = { .w_m = m, .w_free = buf, .w_cap = cap };

	vmem_walk(m->m_vmp, VMEM_FREE, walk_cb, &w);
	return w.w_nfree;
}

/* The free segment (from a pre-allocation walk) that contains a. */
static const struct fseg *seg_of(const struct fseg *f, size_t n, uintptr_t a)
{
	for (size_t k = 0; k < n; k++)
		if (a >= f[k].start && a - f[k].start < f[k].size)
			return &f[k];
	return NULL;
}

/* Check an unconstrained allocation against its policy's promise. */
static void check_policy(struct model *m, const struct fseg *f, size_t n, size_t size,
			 int policy, uintptr_t a)
{
	size_t best = 0;
	unsigned g = vmem_ispow2(size) ? vmem_highbit(size) : vmem_highbit(size) + 1, lowc = 99;
	const struct fseg *s;

	for (size_t k = 0; k < n; k++) {
		if (f[k].size >= size && (best == 0 || f[k].size < best))
			best = f[k].size;
		if (vmem_highbit(f[k].size) >= g && vmem_highbit(f[k].size) < lowc)
			lowc = vmem_highbit(f[k].size);
	}
	if (a == 0) {
		if (best != 0)
			fail_msg("step %lu: failed with a 0x%zx segment free for 0x%zx",
				 (unsigned long)m->m_steps, best, size);
		return;
	}
	s = seg_of(f, n, a);
	if (s == NULL && m->m_import)
		return;		/* from a span imported just now */
	if (s == NULL)
		fail_msg("step %lu: 0x%lx was not free", (unsigned long)m->m_steps, (unsigned long)a);
	if (policy == VM_BESTFIT && s->size != best)
		fail_msg("step %lu: best fit took 0x%zx, smallest fit 0x%zx",
			 (unsigned long)m->m_steps, s->size, best);
	if (policy == VM_INSTANTFIT && lowc != 99 && vmem_highbit(s->size) != lowc)
		fail_msg("step %lu: instant fit took class %u, lowest sure class %u",
			 (unsigned long)m->m_steps, vmem_highbit(s->size), lowc);
}

/* Random valid constraints for a request of `size` (a quantum multiple). */
static void random_constraints(struct model *m, size_t size, size_t *align, size_t *phase,
			       size_t *nocross, uintptr_t *min, uintptr_t *max)
{
	size_t q = m->m_q, span = m->m_nq * q;

	*align = rnd_below(3) == 0 ? 0 : q << rnd_below(7);
	*phase = *align > q ? q * rnd_below(*align / q) : 0;
	*nocross = 0;
	if (rnd_below(3) == 0) {
		size_t need = (*align > *phase + size ? *align : *phase + size), nc = q;

		while (nc < need)
			nc <<= 1;
		*nocross = nc << rnd_below(3);
	}
	*min = rnd_below(4) == 0 ? m->m_base + q * rnd_below(m->m_nq / 2) : 0;
	*max = 0;
	if (rnd_below(4) == 0) {
		uintptr_t lo = *min ? *min : m->m_base;

		*max = lo + size + q * rnd_below(m->m_nq / 2);
		if (*max > m->m_base + span)
			*max = m->m_base + span;
		if (*max - lo < size)
			*max = 0;
	}
}

/* Check a constrained allocation's result against its constraints. */
static void check_constraints(struct model *m, uintptr_t a, size_t size, size_t align,
			      size_t phase, size_t nocross, uintptr_t min, uintptr_t max)
{
	if (align == 0)
		align = m->m_q;
	if (a % align != phase || (nocross && a / nocross != (a + size - 1) / nocross) ||
	    a < min || (max && a + size > max))
		fail_msg("step %lu: 0x%lx size 0x%zx breaks align 0x%zx phase 0x%zx nocross 0x%zx "
			 "min 0x%lx max 0x%lx", (unsigned long)m->m_steps, (unsigned long)a, size,
			 align, phase, nocross, (unsigned long)min, (unsigned long)max);
}

static const int policies[] = { VM_INSTANTFIT, VM_BESTFIT, VM_NEXTFIT };

/* One random allocation (plain or constrained), checked and recorded. */
static void model_alloc_random(struct model *m, size_t maxq, struct fseg *f, size_t cap)
{
	size_t nq = 1 + (rnd_below(4) ? rnd_below(maxq / 4 + 1) : rnd_below(maxq)), size = nq * m->m_q;
	int policy = policies[rnd_below(3)];
	uintptr_t a;

	if (rnd_below(2)) {
		bool full = policy != VM_NEXTFIT && m->m_steps % m->m_every == 0;
		size_t n = full ? free_segs(m, f, cap) : 0;

		if (n > cap)
			n = 0;
		a = vmem_alloc(m->m_vmp, size, policy | VM_NOSLEEP);
		if (n > 0)
			check_policy(m, f, n, size, policy, a);
		if (a != 0)
			model_add(m, a, size, false);
	} else {
		size_t align, phase, nocross;
		uintptr_t min, max;

		random_constraints(m, size, &align, &phase, &nocross, &min, &max);
		a = vmem_xalloc(m->m_vmp, size, align, phase, nocross, min, max, policy | VM_NOSLEEP);
		if (a != 0) {
			check_constraints(m, a, size, align, phase, nocross, min, max);
			model_add(m, a, size, true);
		}
	}
	m->m_fails += a == 0;
}

/* Run `steps` random operations with verification every `every` steps. */
static void model_run(struct model *m, uint64_t steps, size_t maxq, unsigned every)
{
	size_t cap = 4096;
	struct fseg *f = malloc(cap * sizeof(*f));

	m->m_every = every;

	for (uint64_t s = 0; s < steps; s++) {
		m->m_steps = s;
		if (m->m_nlive > 0 && rnd_below(100) < 48)
			model_free_random(m);
		else
			model_alloc_random(m, maxq, f, cap);
		if (s % every == 0)
			model_verify(m);
	}
	while (m->m_nlive > 0)
		model_free_random(m);
	model_verify(m);
	free(f);
}

static int setup(void **state)
{
	(void)state;
	vmem_page_source_set(&pgsrc);
	return 0;
}

/* Page-quantum arena with three spans (two abutting): model agrees after every step. */
static void test_random_pages_agree_with_model(void **state)
{
	uintptr_t base = 0x80000000;
	vmem_t *vmp = vmem_create("rnd_pages", base, 0x80000, 0x1000, NULL, NULL, NULL, 0, 0);
	struct model m;

	(void)state;
	vmem_add(vmp, base + 0x80000, 0x20000, 0);	/* abuts the first span */
	vmem_add(vmp, base + 0xc0000, 0x40000, 0);
	model_init(&m, vmp, base, 0x1000, 0x100);
	model_run(&m, 700000, 24, 1);
	printf("# pages: %lu steps, %lu failures\n", (unsigned long)m.m_steps + 1,
	       (unsigned long)m.m_fails);
	assert_int_equal(vmem_size(vmp, VMEM_FREE), 0xe0000);
	model_fini(&m);
	vmem_destroy(vmp);
}

/* Quantum-1 ID space near the top of the address space, heavy on next fit. */
static void test_random_ids_near_top_agree_with_model(void **state)
{
	uintptr_t base = (uintptr_t)0 - 0x10000;
	vmem_t *vmp = vmem_create("rnd_ids", base, 0x200, 1, NULL, NULL, NULL, 0, 0);
	struct model m;

	(void)state;
	model_init(&m, vmp, base, 1, 0x200);
	model_run(&m, 700000, 8, 1);
	printf("# ids: %lu steps, %lu failures\n", (unsigned long)m.m_steps + 1,
	       (unsigned long)m.m_fails);
	model_fini(&m);
	vmem_destroy(vmp);
}

/* A big fragmented arena (thousands of segments), verified every 1000 steps. */
static void test_random_large_arena_agree_with_model(void **state)
{
	uintptr_t base = 0x100000000ull;
	vmem_t *vmp = vmem_create("rnd_large", base, 0x40000 * 0x10, 0x10, NULL, NULL, NULL, 0, 0);
	struct model m;

	(void)state;
	model_init(&m, vmp, base, 0x10, 0x40000);
	model_run(&m, 300000, 32, 1000);
	printf("# large: %lu steps, %lu failures\n", (unsigned long)m.m_steps + 1,
	       (unsigned long)m.m_fails);
	model_fini(&m);
	vmem_destroy(vmp);
}

static uintptr_t import_fn(vmem_t *src, size_t size, int vmflag) { return vmem_xalloc(src, size, 0, 0, 0, 0, 0, vmflag); }
static void release_fn(vmem_t *src, uintptr_t addr, size_t size) { vmem_xfree(src, addr, size); }

/* An importing arena over a source: both consistent, no wholly free import kept. */
static void test_random_import_agree_with_model(void **state)
{
	uintptr_t base = 0x40000000;
	vmem_t *src = vmem_create("rnd_src", base, 0x40000, 0x1000, NULL, NULL, NULL, 0, 0);
	vmem_t *vmp = vmem_create("rnd_imp", 0, 0, 0x40, import_fn, release_fn, src, 0, 0);
	struct model m;
	char err[256];

	(void)state;
	model_init(&m, vmp, base, 0x40, 0x40000 / 0x40);
	m.m_import = true;
	for (int round = 0; round < 40; round++) {
		model_run(&m, 5000, 40, 1);
		if (!vmem_check(src, err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(vmem_size(src, VMEM_ALLOC), 0);	/* everything released */
	}
	model_fini(&m);
	vmem_destroy(vmp);
	vmem_destroy(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_random_pages_agree_with_model, setup),
		cmocka_unit_test_setup(test_random_ids_near_top_agree_with_model, setup),
		cmocka_unit_test_setup(test_random_large_arena_agree_with_model, setup),
		cmocka_unit_test_setup(test_random_import_agree_with_model, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
