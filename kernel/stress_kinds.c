/*
 * stress_kinds.c - the kinds of allocation a stress run makes (kernel/stress.c
 * §2 and §3): the run's caches and arena, the stress_op_* wrappers every
 * allocator call goes through, each kind's draw and checks, and the pattern
 * written into every allocation and checked before its free.
 */
#include "kernel/dma.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/segkmem.h"
#include "kernel/stress_impl.h"
#include "kernel/timer.h"

const char *const stress_kind_names[SK_NKINDS] = {
	"cache", "kmalloc", "page", "vmem", "heap", "dma",
};

/* The run's caches: sizes, and which ones have a constructor (odd indices). */
static const uint32_t stress_cache_size[STRESS_NCACHES] = {
	8, 24, 48, 64, 100, 192, 256, 520, 1024, 2000, 4096, 9000,
};
static char stress_cache_name[STRESS_NCACHES][16];

#define STRESS_CTOR_WORD(ci, i)		(0xc0c0000000000000ULL | ((uint64_t)(ci) << 16) | \
					 ((i) & 0xffff))

uint64_t stress_rand(struct stress_hart *sh)
{
	uint64_t x = sh->sh_rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sh->sh_rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * Harts that run pressure rounds: every stride-th, at most STRESS_PRESSURE_HARTS
 * (each failure may drain every hart's page cache by cross-call: with 128
 * harts all exhausting memory at once, those calls alone would take minutes).
 */
unsigned stress_pressure_stride(void)
{
	unsigned n = stress_run.sr_nharts;

	return n <= STRESS_PRESSURE_HARTS ? 1 : (n + STRESS_PRESSURE_HARTS - 1) / STRESS_PRESSURE_HARTS;
}

/*
 * A "heavy" hart (every hart up to STRESS_PRESSURE_HARTS harts, else every
 * stride-th) runs pressure rounds and the kinds that go through the mapped
 * heap (the heap kind, kmalloc above KMALLOC_MAX_CLASS).  Every 8 MiB of
 * heap freed costs an SBI remote fence of every hart (no longer under
 * segkmem's lock); with 64 vCPUs on 2 loaded host cores and every hart
 * freeing heap memory, the end of the run outlasted its watchdog
 * (stress.c §2, docs/stress.md).
 */
bool stress_heavy(const struct stress_hart *sh)
{
	return sh->sh_cpu % stress_pressure_stride() == 0;
}

/* ------------------------------------------------------------ the wrappers */
/*
 * Every allocator call of the mix goes through one of these, never inlined,
 * so that the profiler's call graph attributes a whole operation (the inlined
 * magazine or per-hart page cache hit path included) to its kind.
 */
static __attribute__((noinline)) void *stress_op_cache_alloc(kmem_cache_t *cp, int kmflag)
{
	return kmem_cache_alloc(cp, kmflag);
}

static __attribute__((noinline)) void stress_op_cache_free(kmem_cache_t *cp, void *buf)
{
	kmem_cache_free(cp, buf);
}

__attribute__((noinline)) void *stress_op_kmalloc(size_t size, int kmflag, int node)
{
	return node < 0 ? kmalloc(size, kmflag) : kmalloc_node(size, kmflag, node);
}

__attribute__((noinline)) void stress_op_kmalloc_free(void *p)
{
	kfree(p);
}

__attribute__((noinline)) paddr_t stress_op_page_alloc(unsigned order, unsigned flags)
{
	return page_alloc(order, flags);
}

__attribute__((noinline)) int stress_op_page_free(paddr_t pa, unsigned order)
{
	return page_free(pa, order);
}

/* A vmem constraint set: align, phase, nocross, min, max (0: none). */
struct stress_vreq {
	size_t vr_align, vr_phase, vr_nocross;
	uintptr_t vr_min, vr_max;
	bool vr_x;			/* vmem_xalloc (else vmem_alloc) */
};

static __attribute__((noinline)) uintptr_t stress_op_vmem_alloc(vmem_t *vmp, size_t size,
							       const struct stress_vreq *vr,
							       int vmflag)
{
	if (!vr->vr_x)
		return vmem_alloc(vmp, size, vmflag);
	return vmem_xalloc(vmp, size, vr->vr_align, vr->vr_phase, vr->vr_nocross, vr->vr_min,
			   vr->vr_max, vmflag);
}

static __attribute__((noinline)) void stress_op_vmem_free(vmem_t *vmp, uintptr_t addr,
							  size_t size, bool x)
{
	if (x)
		vmem_xfree(vmp, addr, size);
	else
		vmem_free(vmp, addr, size);
}

static __attribute__((noinline)) void *stress_op_dma_alloc(size_t size, uint64_t *bus,
							   int vmflag)
{
	return dma_alloc_coherent(size, bus, vmflag);
}

static __attribute__((noinline)) void stress_op_dma_free(void *cpu, size_t size, uint64_t bus)
{
	dma_free_coherent(cpu, size, bus);
}

/* ---------------------------------------------------------------- patterns */

/* Fill (got == NULL) or check word i of o; true if it is wrong (value in *got). */
static inline bool stress_word(const struct stress_obj *o, size_t i, uint64_t *got)
{
	uint64_t *w = o->so_ptr, want = STRESS_PAT(o->so_owner, o->so_seq, i);

	if (got == NULL) {
		w[i] = want;
		return false;
	}
	*got = w[i];
	return w[i] != want;
}

/*
 * Fill (got == NULL) or check the pattern of o: every word of an object up
 * to STRESS_FILL_FULL bytes; of a larger one the first 64 words, the first
 * two words of every further 4 KiB page and the last 8 words (touching every
 * word of 4 MiB blocks would make the run measure memset).  Returns the
 * first bad word's index, its value in *got, or -1.
 */
static long stress_walk(const struct stress_obj *o, uint64_t *got)
{
	size_t n = o->so_size / 8, head = o->so_size <= STRESS_FILL_FULL ? n : 64;

	for (size_t i = 0; i < head; i++)
		if (stress_word(o, i, got))
			return (long)i;
	if (n <= head)
		return -1;
	for (size_t i = 512; i + 1 < n; i += 512) {
		if (stress_word(o, i, got))
			return (long)i;
		if (stress_word(o, i + 1, got))
			return (long)(i + 1);
	}
	for (size_t i = MAX(head, n - 8); i < n; i++)
		if (stress_word(o, i, got))
			return (long)i;
	return -1;
}

/* Fill o's memory with its owner's pattern. */
static void stress_fill(const struct stress_obj *o)
{
	stress_walk(o, NULL);
}

/* Check o's pattern before it is freed; a mismatch fails the run. */
static void stress_check(const struct stress_obj *o)
{
	uint64_t got;
	long i = stress_walk(o, &got);

	if (i < 0)
		return;
	stress_fail("corrupt %s object %p size %zu owner %u seq %llu: word %ld is 0x%016llx, "
		    "expected 0x%016llx (checked on hart %u)", stress_kind_names[o->so_kind],
		    o->so_ptr, o->so_size, o->so_owner, (unsigned long long)o->so_seq, i,
		    (unsigned long long)got,
		    (unsigned long long)STRESS_PAT(o->so_owner, o->so_seq, (uint64_t)i), this_cpu());
}

/* ------------------------------------------------------------ the caches */

/* Constructor of the odd-numbered caches: every word names the cache. */
static int stress_ctor(void *buf, void *private, int kmflag)
{
	unsigned ci = (unsigned)(uintptr_t)private;
	uint64_t *w = buf;

	(void)kmflag;
	for (size_t i = 0; i < stress_cache_size[ci] / 8; i++)
		w[i] = STRESS_CTOR_WORD(ci, i);
	return 0;
}

/* Is o (from cache ci) in its constructed state?  Fails the run if not. */
static void stress_ctor_check(unsigned ci, void *buf)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < stress_cache_size[ci] / 8; i++)
		if (w[i] != STRESS_CTOR_WORD(ci, i))
			stress_fail("cache %s returned %p not constructed: word %zu is 0x%016llx, "
				    "expected 0x%016llx", stress_cache_name[ci], buf, i,
				    (unsigned long long)w[i],
				    (unsigned long long)STRESS_CTOR_WORD(ci, i));
}

bool stress_caches_create(void)
{
	for (unsigned ci = 0; ci < STRESS_NCACHES; ci++) {
		bool ctor = ci & 1;
		unsigned cflags = ci == 5 ? KMC_NOMAGAZINE : ci == 7 ? KMC_NOTNUMA : 0;

		if (ci == 9 && stress_run.sr_dma_zone)
			cflags = KMC_DMA;
		snprintf(stress_cache_name[ci], sizeof(stress_cache_name[ci]), "stress-%u%s",
			 stress_cache_size[ci], ctor ? "c" : "");
		stress_run.sr_cache[ci] = kmem_cache_create(stress_cache_name[ci],
				stress_cache_size[ci], ci == 3 ? 64 : 0, ctor ? stress_ctor : NULL,
				NULL, NULL, (void *)(uintptr_t)ci, NULL, cflags);
		if (stress_run.sr_cache[ci] == NULL)
			return false;
	}
	return true;
}

void stress_caches_destroy(void)
{
	for (unsigned ci = 0; ci < STRESS_NCACHES; ci++)
		if (stress_run.sr_cache[ci] != NULL)
			kmem_cache_destroy(stress_run.sr_cache[ci]);
}

/* ------------------------------------------------------------ the arena */

bool stress_arena_create(void)
{
	struct stress_run *sr = &stress_run;

	sr->sr_arena_size = MIN(MAX(sr->sr_nharts, 2u), 32u) << 20;
	sr->sr_arena_mem = segkmem_alloc(sr->sr_arena_size, VM_NOSLEEP);
	if (sr->sr_arena_mem == NULL)
		return false;
	sr->sr_arena = vmem_create("stress_vmem", (uintptr_t)sr->sr_arena_mem, sr->sr_arena_size,
				   16, NULL, NULL, NULL, 128, VM_NOSLEEP);
	sr->sr_heap = vmem_find("kmem_heap");
	return sr->sr_arena != NULL && sr->sr_heap != NULL;
}

void stress_arena_destroy(void)
{
	struct stress_run *sr = &stress_run;

	if (sr->sr_arena != NULL)
		vmem_destroy(sr->sr_arena);
	if (sr->sr_arena_mem != NULL)
		segkmem_free(sr->sr_arena_mem, sr->sr_arena_size);
}

/* ------------------------------------------------------- allocation kinds */

/* An object of one of the run's caches into o; false if it failed. */
static bool stress_alloc_cache(struct stress_hart *sh, struct stress_obj *o)
{
	unsigned ci = (unsigned)stress_below(sh, STRESS_NCACHES);
	void *p = stress_op_cache_alloc(stress_run.sr_cache[ci],
					stress_below(sh, 4) ? KM_NOSLEEP : KM_SLEEP);

	if (p == NULL)
		return false;
	if (ci & 1)
		stress_ctor_check(ci, p);
	o->so_ptr = p;
	o->so_size = stress_cache_size[ci];
	o->so_sub = (uint8_t)ci;
	return true;
}

/* kmalloc of 8 B .. 1 MiB, mostly small; sometimes KM_DMA or a node. */
static bool stress_alloc_kmalloc(struct stress_hart *sh, struct stress_obj *o)
{
	unsigned e = (unsigned)(stress_below(sh, 4) ? stress_below(sh, 10) : stress_below(sh, 18));
	size_t size = MIN((size_t)8 << e, STRESS_KMALLOC_MAX);
	int flags = stress_below(sh, 4) ? KM_NOSLEEP : KM_SLEEP, node = -1;
	void *p;

	size = MIN(size + stress_below(sh, size), (size_t)STRESS_KMALLOC_MAX);
	if (!stress_heavy(sh))
		size = MIN(size, (size_t)KMALLOC_MAX_CLASS);
	if (stress_run.sr_dma_zone && size <= KMALLOC_MAX_CLASS && stress_below(sh, 16) == 0)
		flags |= KM_DMA;
	else if (stress_below(sh, 8) == 0)
		node = (int)stress_below(sh, stress_run.sr_nnodes);
	p = stress_op_kmalloc(size, flags, node);
	if (p == NULL)
		return false;
	o->so_ptr = p;
	o->so_size = size;
	return true;
}

/* Page-allocator flags of the mix: zone (ANY/DMA32/DMA) and node bits. */
static unsigned stress_page_flags(struct stress_hart *sh)
{
	unsigned r = (unsigned)stress_below(sh, 16), flags = PAGE_ANY;

	if (r == 0 && stress_run.sr_dma_zone)
		flags = PAGE_DMA;
	else if (r <= 2)
		flags = PAGE_DMA32;
	if (stress_run.sr_nnodes > 1 && stress_below(sh, 4) == 0) {
		flags |= PAGE_NODE(stress_below(sh, stress_run.sr_nnodes));
		if (stress_below(sh, 2))
			flags |= PAGE_THISNODE;
	}
	return flags;
}

/* Does a block at pa meet what flags asked for?  Fails the run if not. */
void stress_page_constraints(paddr_t pa, unsigned order, unsigned flags)
{
	uint64_t size = (uint64_t)MM_PAGE_SIZE << order;
	unsigned node = ((flags & PAGE_NODE_MASK) >> PAGE_NODE_SHIFT) - 1;

	if (pa % size != 0)
		stress_fail("page_alloc(%u, 0x%x) returned 0x%llx, not aligned to its size", order,
			    flags, (unsigned long long)pa);
	if ((flags & PAGE_ZONE_MASK) == PAGE_DMA32 && pa + size > (1ULL << 32))
		stress_fail("page_alloc(%u, 0x%x) returned 0x%llx, above 4 GiB", order, flags,
			    (unsigned long long)pa);
	if ((flags & PAGE_THISNODE) && page_node_of(pa) != (int)node)
		stress_fail("page_alloc(%u, 0x%x) returned 0x%llx on node %d, not node %u", order,
			    flags, (unsigned long long)pa, page_node_of(pa), node);
}

/* 2^order pages, orders 0..10 (mostly small), into o. */
static bool stress_alloc_page(struct stress_hart *sh, struct stress_obj *o)
{
	unsigned order = (unsigned)(stress_below(sh, 4) ? stress_below(sh, 3) :
				    stress_below(sh, PAGE_MAX_ORDER + 1));
	unsigned flags = stress_page_flags(sh);
	paddr_t pa;

	if (stress_below(sh, 8) == 0)
		flags |= PAGE_ZERO;
	pa = stress_op_page_alloc(order, flags);
	if (pa == PAGE_NOADDR)
		return false;
	stress_page_constraints(pa, order, flags);
	o->so_ptr = phys_to_virt(pa);
	o->so_size = (size_t)MM_PAGE_SIZE << order;
	o->so_aux = pa;
	o->so_sub = (uint8_t)order;
	if ((flags & PAGE_ZERO) && (((uint64_t *)o->so_ptr)[0] | ((uint64_t *)o->so_ptr)[511]))
		stress_fail("page_alloc(%u, 0x%x) with PAGE_ZERO returned 0x%llx not zeroed",
			    order, flags, (unsigned long long)pa);
	return true;
}

/* Random constraints for a vmem_xalloc of size bytes on the run's arena. */
static void stress_vreq_draw(struct stress_hart *sh, size_t size, struct stress_vreq *vr)
{
	uintptr_t base = (uintptr_t)stress_run.sr_arena_mem;
	size_t asize = stress_run.sr_arena_size, p2 = 16;

	memset(vr, 0, sizeof(*vr));
	vr->vr_x = stress_below(sh, 2);
	if (!vr->vr_x)
		return;
	vr->vr_align = (size_t)16 << stress_below(sh, 9);
	vr->vr_phase = stress_below(sh, vr->vr_align / 16) * 16;
	while (p2 < vr->vr_phase + size)	/* vmem asks nocross >= phase + size */
		p2 <<= 1;
	if (stress_below(sh, 2))
		vr->vr_nocross = MAX(p2 * 2, vr->vr_align);
	if (stress_below(sh, 3) == 0) {
		vr->vr_min = base + stress_below(sh, asize / 2 / 16) * 16;
		vr->vr_max = vr->vr_min + asize / 4;
	}
}

/* Does addr meet vr's constraints (size rounded to the quantum)? */
static bool stress_vreq_ok(const struct stress_vreq *vr, uintptr_t addr, size_t size)
{
	if (!vr->vr_x)
		return addr % 16 == 0;
	if (addr % vr->vr_align != vr->vr_phase)
		return false;
	if (vr->vr_nocross && addr / vr->vr_nocross != (addr + size - 1) / vr->vr_nocross)
		return false;
	return (vr->vr_min == 0 || addr >= vr->vr_min) &&
	       (vr->vr_max == 0 || addr + size <= vr->vr_max);
}

/* 16 B .. 8 KiB from the run's own arena, half of them constrained. */
static bool stress_alloc_vmem(struct stress_hart *sh, struct stress_obj *o)
{
	size_t size = (size_t)16 << stress_below(sh, 9);
	struct stress_vreq vr;
	uintptr_t a;

	size = (size + stress_below(sh, size) + 15) & ~(size_t)15;
	stress_vreq_draw(sh, size, &vr);
	a = stress_op_vmem_alloc(stress_run.sr_arena, size, &vr,
				 VM_NOSLEEP | (stress_below(sh, 4) ? 0 : VM_BESTFIT));
	if (a == 0)
		return false;
	if (!stress_vreq_ok(&vr, a, size))
		stress_fail("vmem_%salloc(stress_vmem, %zu, align %zu phase %zu nocross %zu "
			    "min 0x%lx max 0x%lx) returned 0x%lx, which breaks them",
			    vr.vr_x ? "x" : "", size, vr.vr_align, vr.vr_phase, vr.vr_nocross,
			    (unsigned long)vr.vr_min, (unsigned long)vr.vr_max, (unsigned long)a);
	o->so_ptr = (void *)a;
	o->so_size = size;
	o->so_flags = vr.vr_x ? SOF_XALLOC : 0;
	return true;
}

/* 1..16 pages of the kernel heap, aligned to 1..8 pages with a phase. */
static bool stress_alloc_heap(struct stress_hart *sh, struct stress_obj *o)
{
	size_t size = (1 + stress_below(sh, 16)) * MM_PAGE_SIZE;
	struct stress_vreq vr = { .vr_x = true };
	uintptr_t a;

	vr.vr_align = (size_t)MM_PAGE_SIZE << stress_below(sh, 4);
	vr.vr_phase = stress_below(sh, 2) ? 0 : stress_below(sh, vr.vr_align / MM_PAGE_SIZE) *
		      MM_PAGE_SIZE;
	a = stress_op_vmem_alloc(stress_run.sr_heap, size, &vr,
				 stress_below(sh, 4) ? VM_NOSLEEP : VM_SLEEP);
	if (a == 0)
		return false;
	if (!stress_vreq_ok(&vr, a, size))
		stress_fail("vmem_xalloc(kmem_heap, %zu, align %zu phase %zu) returned 0x%lx",
			    size, vr.vr_align, vr.vr_phase, (unsigned long)a);
	o->so_ptr = (void *)a;
	o->so_size = size;
	o->so_flags = SOF_XALLOC;
	return true;
}

/* 64 B .. 64 KiB of coherent DMA memory from a pool. */
static bool stress_alloc_dma(struct stress_hart *sh, struct stress_obj *o)
{
	size_t size = (size_t)64 << stress_below(sh, 11);
	uint64_t bus;
	void *p;

	size += stress_below(sh, size);
	p = stress_op_dma_alloc(size, &bus, VM_NOSLEEP);
	if (p == NULL)
		return false;
	if ((uintptr_t)p % MM_PAGE_SIZE != 0)
		stress_fail("dma_alloc_coherent(%zu) returned %p, not page aligned", size, p);
	o->so_ptr = p;
	o->so_size = size;
	o->so_aux = bus;
	return true;
}

/* Allocate one object of kind k into o (filled); false if the allocator said no. */
bool stress_alloc(struct stress_hart *sh, enum stress_kind k, struct stress_obj *o)
{
	static bool (*const fn[SK_NKINDS])(struct stress_hart *, struct stress_obj *) = {
		stress_alloc_cache, stress_alloc_kmalloc, stress_alloc_page,
		stress_alloc_vmem, stress_alloc_heap, stress_alloc_dma,
	};

	memset(o, 0, sizeof(*o));
	sh->sh_where = stress_kind_names[k];
	if (!fn[k](sh, o)) {
		sh->sh_fails++;
		return false;
	}
	o->so_kind = (uint8_t)k;
	o->so_owner = (uint16_t)sh->sh_cpu;
	o->so_seq = ++sh->sh_seq;
	stress_fill(o);
	sh->sh_ops++;
	sh->sh_kind_ops[k]++;
	return true;
}

void stress_obj_release(struct stress_hart *sh, const struct stress_obj *o)
{
	sh->sh_where = "free";
	stress_check(o);
	switch (o->so_kind) {
	case SK_CACHE:
		if (o->so_sub & 1)
			stress_ctor(o->so_ptr, (void *)(uintptr_t)o->so_sub, 0);
		stress_op_cache_free(stress_run.sr_cache[o->so_sub], o->so_ptr);
		break;
	case SK_KMALLOC:
		stress_op_kmalloc_free(o->so_ptr);
		break;
	case SK_PAGE:
		if (stress_op_page_free(o->so_aux, o->so_sub) != 0)
			stress_fail("page_free(0x%llx, %u) refused a block page_alloc gave",
				    (unsigned long long)o->so_aux, o->so_sub);
		break;
	case SK_VMEM:
	case SK_HEAP:
		stress_op_vmem_free(o->so_kind == SK_VMEM ? stress_run.sr_arena : stress_run.sr_heap,
				    (uintptr_t)o->so_ptr, o->so_size, o->so_flags & SOF_XALLOC);
		break;
	case SK_DMA:
		stress_op_dma_free(o->so_ptr, o->so_size, o->so_aux);
		break;
	}
	sh->sh_ops++;
	sh->sh_kind_ops[o->so_kind]++;
}
