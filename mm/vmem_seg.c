/*
 * vmem_seg.c - where vmem's own structures come from: the segment reserve
 * ("populate", Bonwick & Adams 2001 §4.4), the allocated-segment hash table,
 * and the page source.  The theory statement is in mm/vmem.c (§2, §5).
 *
 * Segment structures live in three places: the static boot array (used until
 * a page source exists), the global pool (vmem_seg_pool, under
 * vmem_seg_lock), and each arena's private reserve (vm_segfree, under
 * vm_lock).  An operation first tops the arena's reserve up to what it can
 * consume at most (VMEM_SEGS_PER_ALLOC); after that it cannot fail for want of
 * a structure and never calls back into vmem.  Pages carved into segments are
 * never returned: the pool only grows, as in illumos.
 */
#include "mm/vmem_impl.h"

static struct vmem_seg vmem_seg_boot[VMEM_BOOT_SEGS];	/* the boot supply */
static unsigned vmem_seg_boot_used;			/* handed out so far */
static struct vmem_seg *vmem_seg_pool;			/* global free structures */
static uint64_t vmem_seg_pool_count;			/* how many in the pool */
static uint64_t vmem_seg_pages;				/* pages carved into segments */
static spinlock_t vmem_seg_lock;			/* guards the four above */
static const struct vmem_page_source *vmem_pgsrc;	/* NULL until set */

/* Initialise the pool lock (called once from vmem_create's first call). */
void vmem_seg_init(void)
{
	spin_init(&vmem_seg_lock, "vmem_seg", LOCK_RANK_VMEM_SEG);
}

void vmem_page_source_set(const struct vmem_page_source *src)
{
	__atomic_store_n(&vmem_pgsrc, src, __ATOMIC_RELEASE);
}

/* Memory for vmem metadata from the page source; NULL if none or empty. */
void *vmem_meta_alloc(size_t size)
{
	const struct vmem_page_source *src = __atomic_load_n(&vmem_pgsrc, __ATOMIC_ACQUIRE);

	if (src == NULL)
		return NULL;
	return src->vps_alloc((size + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1));
}

/* Give metadata memory back to the page source. */
void vmem_meta_free(void *p, size_t size)
{
	const struct vmem_page_source *src = __atomic_load_n(&vmem_pgsrc, __ATOMIC_ACQUIRE);

	VERIFY(src != NULL);
	src->vps_free(p, (size + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1));
}

/* Take up to `want` structures from the pool or the boot array onto *list. */
static unsigned vmem_pool_take(struct vmem_seg **list, unsigned want)
{
	unsigned got = 0;

	spin_lock(&vmem_seg_lock);
	while (got < want && vmem_seg_pool != NULL) {
		struct vmem_seg *vsp = vmem_seg_pool;

		vmem_seg_pool = vsp->vs_knext;
		vmem_seg_pool_count--;
		vsp->vs_knext = *list;
		*list = vsp;
		got++;
	}
	while (got < want && vmem_seg_boot_used < VMEM_BOOT_SEGS) {
		struct vmem_seg *vsp = &vmem_seg_boot[vmem_seg_boot_used++];

		vsp->vs_type = VMEM_RESERVE;
		vsp->vs_knext = *list;
		*list = vsp;
		got++;
	}
	spin_unlock(&vmem_seg_lock);
	return got;
}

/* Put a chain of `n` structures into the global pool. */
static void vmem_pool_give(struct vmem_seg *first, struct vmem_seg *last, unsigned n)
{
	spin_lock(&vmem_seg_lock);
	last->vs_knext = vmem_seg_pool;
	vmem_seg_pool = first;
	vmem_seg_pool_count += n;
	spin_unlock(&vmem_seg_lock);
}

/* Carve one page from the page source into segments for the pool. */
static bool vmem_pool_grow(void)
{
	struct vmem_seg *vsp = vmem_meta_alloc(MM_PAGE_SIZE);
	unsigned n = (unsigned)(MM_PAGE_SIZE / sizeof(*vsp));

	if (vsp == NULL)
		return false;
	memset(vsp, 0, MM_PAGE_SIZE);
	for (unsigned i = 0; i < n; i++) {
		vsp[i].vs_type = VMEM_RESERVE;
		vsp[i].vs_knext = i + 1 < n ? &vsp[i + 1] : NULL;
	}
	vmem_pool_give(&vsp[0], &vsp[n - 1], n);
	__atomic_fetch_add(&vmem_seg_pages, 1, __ATOMIC_RELAXED);
	return true;
}

/*
 * Make sure the arena's reserve holds at least `need` structures.  Called
 * with vm_lock held; may call the page source.  False if memory ran out.
 */
bool vmem_populate(vmem_t *vmp, unsigned need)
{
	ASSERT(spin_held(&vmp->vm_lock));
	while (vmp->vm_nsegfree < need) {
		unsigned got = vmem_pool_take(&vmp->vm_segfree, need - vmp->vm_nsegfree);

		vmp->vm_nsegfree += got;
		if (got == 0 && !vmem_pool_grow()) {
			vmp->vm_kstat.vk_populate_fail++;
			return false;
		}
	}
	return true;
}

/* Take a structure from the arena's reserve (populate made sure there is one). */
struct vmem_seg *vmem_seg_get(vmem_t *vmp)
{
	struct vmem_seg *vsp = vmp->vm_segfree;

	ASSERT(spin_held(&vmp->vm_lock));
	VERIFY(vsp != NULL);
	ASSERT(vsp->vs_type == VMEM_RESERVE);
	vmp->vm_segfree = vsp->vs_knext;
	vmp->vm_nsegfree--;
	vsp->vs_anext = vsp->vs_aprev = vsp->vs_knext = vsp->vs_kprev = NULL;
	vsp->vs_import = 0;
	return vsp;
}

/* Return a structure to the arena's reserve, or to the pool when it is full. */
void vmem_seg_put(vmem_t *vmp, struct vmem_seg *vsp)
{
	ASSERT(spin_held(&vmp->vm_lock));
	vsp->vs_type = VMEM_RESERVE;
	vsp->vs_start = vsp->vs_end = 0;
	vsp->vs_anext = vsp->vs_aprev = vsp->vs_kprev = NULL;
	if (vmp->vm_nsegfree < VMEM_SEGS_RESERVE_MAX) {
		vsp->vs_knext = vmp->vm_segfree;
		vmp->vm_segfree = vsp;
		vmp->vm_nsegfree++;
		return;
	}
	vmem_pool_give(vsp, vsp, 1);
}

/* Give the whole reserve back to the pool (arena destruction). */
void vmem_seg_drain(vmem_t *vmp)
{
	struct vmem_seg *first = vmp->vm_segfree, *last = first;

	if (first == NULL)
		return;
	while (last->vs_knext != NULL)
		last = last->vs_knext;
	vmem_pool_give(first, last, vmp->vm_nsegfree);
	vmp->vm_segfree = NULL;
	vmp->vm_nsegfree = 0;
}

/* ------------------------------------------------------------ hash table */

/* Bucket of an allocated segment starting at addr (Fibonacci hashing). */
static inline size_t vmem_hash_index(const vmem_t *vmp, uintptr_t addr)
{
	uint64_t key = (uint64_t)(addr >> vmp->vm_qshift) * 0x9e3779b97f4a7c15ull;

	return (size_t)(key >> 32) & vmp->vm_hash_mask;
}

void vmem_hash_insert(vmem_t *vmp, struct vmem_seg *vsp)
{
	struct vmem_seg **bucket = &vmp->vm_hash[vmem_hash_index(vmp, vsp->vs_start)];

	ASSERT(vsp->vs_type == VMEM_ALLOC);
	vsp->vs_knext = *bucket;
	vsp->vs_kprev = NULL;
	*bucket = vsp;
}

/* Unlink and return the allocated segment starting at addr, or NULL. */
struct vmem_seg *vmem_hash_remove(vmem_t *vmp, uintptr_t addr)
{
	struct vmem_seg **pp = &vmp->vm_hash[vmem_hash_index(vmp, addr)];

	for (; *pp != NULL; pp = &(*pp)->vs_knext) {
		struct vmem_seg *vsp = *pp;

		if (vsp->vs_start == addr) {
			*pp = vsp->vs_knext;
			vsp->vs_knext = NULL;
			return vsp;
		}
	}
	return NULL;
}

/* The allocated segment starting at addr, or NULL (left in place). */
struct vmem_seg *vmem_hash_find(vmem_t *vmp, uintptr_t addr)
{
	struct vmem_seg *vsp = vmp->vm_hash[vmem_hash_index(vmp, addr)];

	while (vsp != NULL && vsp->vs_start != addr)
		vsp = vsp->vs_knext;
	return vsp;
}

/* Move every chain of the current table into `table` of `size` buckets. */
static void vmem_hash_rehash(vmem_t *vmp, struct vmem_seg **table, size_t size)
{
	struct vmem_seg **old = vmp->vm_hash;
	size_t oldsize = vmp->vm_hash_mask + 1;

	vmp->vm_hash = table;
	vmp->vm_hash_mask = size - 1;
	for (size_t i = 0; i < oldsize; i++) {
		struct vmem_seg *vsp = old[i], *next;

		for (; vsp != NULL; vsp = next) {
			next = vsp->vs_knext;
			vmem_hash_insert(vmp, vsp);
		}
	}
	if (old != vmp->vm_hash0)
		vmem_meta_free(old, oldsize * sizeof(*old));
}

/*
 * Grow the table four-fold when chains average more than VMEM_HASH_LOAD.
 * Without a page source the chains just get longer: still correct.
 */
void vmem_hash_maybe_grow(vmem_t *vmp)
{
	size_t size = vmp->vm_hash_mask + 1, nsize = size * 4;
	struct vmem_seg **table;

	ASSERT(spin_held(&vmp->vm_lock));
	if (vmp->vm_kstat.vk_nalloc_seg <= VMEM_HASH_LOAD * size)
		return;
	table = vmem_meta_alloc(nsize * sizeof(*table));
	if (table == NULL)
		return;
	memset(table, 0, nsize * sizeof(*table));
	vmem_hash_rehash(vmp, table, nsize);
	vmp->vm_kstat.vk_hash_grow++;
	vmp->vm_kstat.vk_hash_size = nsize;
}

/* Free a grown table (arena destruction; the table must be empty). */
void vmem_hash_release(vmem_t *vmp)
{
	if (vmp->vm_hash != vmp->vm_hash0)
		vmem_meta_free(vmp->vm_hash, (vmp->vm_hash_mask + 1) * sizeof(*vmp->vm_hash));
	vmp->vm_hash = vmp->vm_hash0;
	vmp->vm_hash_mask = VMEM_HASH_INITIAL - 1;
}

/* Global pool figures for dumps: structures free, pages carved, boot used. */
void vmem_seg_pool_stats(uint64_t *pool, uint64_t *pages, unsigned *boot_used)
{
	irqflags_t fl = irq_save();

	spin_lock(&vmem_seg_lock);
	*pool = vmem_seg_pool_count;
	*pages = vmem_seg_pages;
	*boot_used = vmem_seg_boot_used;
	spin_unlock(&vmem_seg_lock);
	irq_restore(fl);
}
