/*
 * kmem_slab.c - the slab layer: slabs, their geometry, the per-node slab
 * arenas, and the bulk import/release back end that slab caches give the
 * magazine layer.  The theory statement is at the top of mm/kmem.c (§2 and
 * §3 describe this file); structures are in mm/kmem_impl.h.
 */
#include "mm/kmem_impl.h"
#include "mm/page_impl.h"

_Static_assert(sizeof(struct page) == 32, "pg_owner must not grow the page descriptor");

/* pg_owner of a slab page: the slab's address with this bit set (see §3). */
#define KMEM_OWNER_TAG		((uintptr_t)1)

static vmem_t *kmem_arena[MM_MAX_NODES];	/* "kmem_slab_N": page-backed, node N */
static vmem_t *kmem_arena_dma;			/* "kmem_slab_dma": PAGE_DMA pages */
unsigned kmem_nnodes = 1;			/* nodes with a slab arena */
kmem_cache_t *kmem_slab_cache;			/* external slab headers */
kmem_cache_t *kmem_bufctl_cache;		/* bufctls of large objects */

/* ------------------------------------------------------------ slab arenas */

/* Smallest page order that holds size bytes. */
static unsigned kmem_order(size_t size)
{
	size_t pages = (size + MM_PAGE_SIZE - 1) >> MM_PAGE_SHIFT;

	return pages <= 1 ? 0 : mm_highbit(pages - 1) + 1;
}

/* Import `size` bytes of pages with page flags pflags; 0 on failure. */
static uintptr_t kmem_page_import(unsigned pflags, size_t size)
{
	unsigned order = kmem_order(size);
	paddr_t pa;

	if (order > PAGE_MAX_ORDER)
		return 0;
	pa = page_alloc(order, pflags);
	return pa == PAGE_NOADDR ? 0 : (uintptr_t)phys_to_virt(pa);
}

/* Give back what kmem_page_import returned for the same size. */
static void kmem_page_release(vmem_t *src, uintptr_t addr, size_t size)
{
	int err = page_free(virt_to_phys((void *)addr), kmem_order(size));

	(void)src;
	VERIFY(err == 0);
}

/* Import for kmem_slab_dma: pages inside the DMA window, any node. */
static uintptr_t kmem_import_dma(vmem_t *src, size_t size, int vmflag)
{
	(void)src, (void)vmflag;
	return kmem_page_import(PAGE_DMA, size);
}

/* One import function per node: vmem passes no argument but the source. */
#define KMEM_NODE_IMPORT(n)							\
	static uintptr_t kmem_import_node##n(vmem_t *src, size_t size, int vmflag)	\
	{									\
		(void)src, (void)vmflag;					\
		return kmem_page_import(PAGE_NODE(n) | PAGE_THISNODE, size);	\
	}
KMEM_NODE_IMPORT(0) KMEM_NODE_IMPORT(1) KMEM_NODE_IMPORT(2) KMEM_NODE_IMPORT(3)
KMEM_NODE_IMPORT(4) KMEM_NODE_IMPORT(5) KMEM_NODE_IMPORT(6) KMEM_NODE_IMPORT(7)
KMEM_NODE_IMPORT(8) KMEM_NODE_IMPORT(9) KMEM_NODE_IMPORT(10) KMEM_NODE_IMPORT(11)
KMEM_NODE_IMPORT(12) KMEM_NODE_IMPORT(13) KMEM_NODE_IMPORT(14) KMEM_NODE_IMPORT(15)
static vmem_import_fn *const kmem_arena_import[16] = {
	kmem_import_node0, kmem_import_node1, kmem_import_node2, kmem_import_node3,
	kmem_import_node4, kmem_import_node5, kmem_import_node6, kmem_import_node7,
	kmem_import_node8, kmem_import_node9, kmem_import_node10, kmem_import_node11,
	kmem_import_node12, kmem_import_node13, kmem_import_node14, kmem_import_node15,
};
_Static_assert(MM_MAX_NODES <= 16, "one kmem_import_nodeN per node");

vmem_t *kmem_node_arena(int node) { return kmem_arena[node]; }
vmem_t *kmem_dma_arena(void) { return kmem_arena_dma; }

/* One slab arena per node with memory, and the DMA arena. */
struct kmem_numa_map kmem_numa_map;

/* While the NUMA map is built: a section no zone has touched yet. */
#define KMEM_NUMA_UNSEEN	0xfe

/* Note that zone span [base, end) of `node` touches its sections. */
static void kmem_numa_map_mark(paddr_t base, paddr_t end, int node)
{
	uint64_t s0 = (base - kmem_numa_map.knm_base) >> KMEM_NUMA_SHIFT;
	uint64_t s1 = (end - 1 - kmem_numa_map.knm_base) >> KMEM_NUMA_SHIFT;
	uint8_t n = node < 0 ? 0 : node >= KMEM_NUMA_UNSEEN ? KMEM_NUMA_MIXED : (uint8_t)node;

	for (uint64_t s = s0; s <= s1 && s < KMEM_NUMA_SECTS; s++) {
		uint8_t *np = &kmem_numa_map.knm_node[s];

		*np = *np == KMEM_NUMA_UNSEEN || *np == n ? n : KMEM_NUMA_MIXED;
	}
}

/*
 * Build kmem_numa_map (kmem.h) from the page allocator's zones: a section
 * gets a node when the spans of that node's zones alone touch it.  A zone's
 * span may include holes, so a section can come out mixed although its
 * memory has one node: such frees just take the slow path.  With one node
 * no free reads the map (hc_numa is false in every cache): it is left as
 * it is, and its 4 KiB of .bss untouched.
 */
static void kmem_numa_map_build(void)
{
	paddr_t lo = (paddr_t)-1;

	if (kmem_nnodes == 1)
		return;
	for (unsigned z = 0; z < page_state.pgs_nzones; z++)
		if (page_state.pgs_zone[z].z_base < lo)
			lo = page_state.pgs_zone[z].z_base;
	kmem_numa_map.knm_base = lo == (paddr_t)-1 ? 0 :
		(uintptr_t)(lo & ~(((paddr_t)1 << KMEM_NUMA_SHIFT) - 1));
	memset(kmem_numa_map.knm_node, KMEM_NUMA_UNSEEN, sizeof(kmem_numa_map.knm_node));
	for (unsigned z = 0; z < page_state.pgs_nzones; z++) {
		struct page_zone *zp = &page_state.pgs_zone[z];

		if (zp->z_end > zp->z_base)
			kmem_numa_map_mark(zp->z_base, zp->z_end, zp->z_node);
	}
	for (unsigned s = 0; s < KMEM_NUMA_SECTS; s++)
		if (kmem_numa_map.knm_node[s] == KMEM_NUMA_UNSEEN)
			kmem_numa_map.knm_node[s] = KMEM_NUMA_MIXED;
}

int kmem_arenas_init(void)
{
	char name[VMEM_NAMELEN];

	kmem_nnodes = page_state.pgs_nnodes == 0 ? 1 : page_state.pgs_nnodes;
	kmem_numa_map_build();
	for (unsigned n = 0; n < kmem_nnodes; n++) {
		snprintf(name, sizeof(name), "kmem_slab_%u", n);
		kmem_arena[n] = vmem_create(name, 0, 0, MM_PAGE_SIZE, kmem_arena_import[n],
					    kmem_page_release, NULL, 0, VM_NOSLEEP);
		if (kmem_arena[n] == NULL)
			return -1;
	}
	kmem_arena_dma = vmem_create("kmem_slab_dma", 0, 0, MM_PAGE_SIZE, kmem_import_dma,
				     kmem_page_release, NULL, 0, VM_NOSLEEP);
	return kmem_arena_dma == NULL ? -1 : 0;
}

void kmem_arenas_fini(void)
{
	for (unsigned n = 0; n < MM_MAX_NODES; n++)
		if (kmem_arena[n] != NULL) {
			vmem_destroy(kmem_arena[n]);
			kmem_arena[n] = NULL;
		}
	if (kmem_arena_dma != NULL)
		vmem_destroy(kmem_arena_dma);
	kmem_arena_dma = NULL;
}

/* ---------------------------------------------------------------- geometry */

/* Buffers and waste of one candidate slab size; false if none fits. */
static bool kmem_slab_fit(kmem_cache_t *cp, size_t slabsize, bool small, unsigned *nchunks)
{
	size_t avail = slabsize - (small ? sizeof(struct kmem_slab) : 0);
	size_t n = avail / cp->cache_chunksize, waste;

	if (n == 0 || n > UINT32_MAX)
		return false;
	waste = slabsize - n * cp->cache_chunksize;
	*nchunks = (unsigned)n;
	return waste * KMEM_WASTE_FRAC <= slabsize;
}

/*
 * Choose chunk size, slab size and layout (theory §2): the smallest slab of
 * 2^k pages (or arena quanta) wasting at most 1/8.  0, or -1 if none does.
 */
int kmem_slab_geometry(kmem_cache_t *cp)
{
	size_t unit = cp->cache_source != NULL ? vmem_quantum(cp->cache_source) : MM_PAGE_SIZE;
	size_t chunk = cp->cache_bufsize;

	if (unit < MM_PAGE_SIZE && cp->cache_source != NULL)
		unit = MM_PAGE_SIZE;
	/* A constructed object keeps its state: the free link goes after it. */
	cp->cache_link = 0;
	if (kmem_debugging(cp)) {	/* redzone slack, then the buftag with the link */
		cp->cache_buftag = (chunk + KMEM_ALIGN - 1) & ~(size_t)(KMEM_ALIGN - 1);
		cp->cache_link = cp->cache_buftag + __builtin_offsetof(struct kmem_buftag, tag_link);
		chunk = cp->cache_buftag + sizeof(struct kmem_buftag);
	} else if (cp->cache_ctor != NULL) {
		cp->cache_link = (chunk + KMEM_ALIGN - 1) & ~(size_t)(KMEM_ALIGN - 1);
		chunk = cp->cache_link + sizeof(void *);
	}
	chunk = (chunk + cp->cache_align - 1) & ~(cp->cache_align - 1);
	cp->cache_chunksize = chunk;
	for (unsigned k = 0; k <= KMEM_SLAB_MAX_ORDER; k++) {
		size_t slabsize = unit << k;
		bool small = cp->cache_pagemode && chunk * KMEM_SMALL_FRAC <= slabsize;

		if (kmem_slab_fit(cp, slabsize, small, &cp->cache_chunks)) {
			cp->cache_slabsize = slabsize;
			cp->cache_small = small;
			cp->cache_maxcolour = slabsize - (small ? sizeof(struct kmem_slab) : 0) -
					      (size_t)cp->cache_chunks * chunk;
			cp->cache_maxcolour &= ~(cp->cache_align - 1);
			return 0;
		}
	}
	return -1;
}

/* --------------------------------------------------------------- node setup */

void kmem_cnode_init(kmem_cache_t *cp, struct kmem_cnode *cn, int node, vmem_t *arena)
{
	memset(cn, 0, sizeof(*cn));
	cn->kn_node = node;
	cn->kn_arena = arena;
	/* Named after the cache (lockstat, lock-order panics); the rank tells depot from slab. */
	spin_init(&cn->kn_depot_lock, cp->cache_name, LOCK_RANK_KMEM_DEPOT);
	spin_init(&cn->kn_slab_lock, cp->cache_name, LOCK_RANK_KMEM_SLAB);
	cn->kn_hash = cn->kn_hash0;
	cn->kn_hash_mask = KMEM_HASH_INITIAL - 1;
}

/* Free a grown hash table (the node must be empty of bufctls). */
void kmem_cnode_fini(kmem_cache_t *cp, struct kmem_cnode *cn)
{
	(void)cp;
	spin_destroy(&cn->kn_depot_lock);	/* off the kernel's lock list: cn is freed next */
	spin_destroy(&cn->kn_slab_lock);
	if (cn->kn_hash != cn->kn_hash0)
		vmem_free(kmem_arena[0], (uintptr_t)cn->kn_hash,
			  (cn->kn_hash_mask + 1) * sizeof(struct kmem_bufctl *));
	cn->kn_hash = cn->kn_hash0;
}

/* ---------------------------------------------------------------- slab lists */

/* Push sp on the list at *head. */
static void kmem_list_push(struct kmem_slab **head, struct kmem_slab *sp)
{
	sp->slab_prev = NULL;
	sp->slab_next = *head;
	if (*head != NULL)
		(*head)->slab_prev = sp;
	*head = sp;
}

/* Unlink sp from the list at *head. */
static void kmem_list_unlink(struct kmem_slab **head, struct kmem_slab *sp)
{
	if (sp->slab_prev != NULL)
		sp->slab_prev->slab_next = sp->slab_next;
	else
		*head = sp->slab_next;
	if (sp->slab_next != NULL)
		sp->slab_next->slab_prev = sp->slab_prev;
}

/* The list a slab belongs on, from its reference count. */
static int kmem_slab_class(const struct kmem_slab *sp)
{
	if (sp->slab_refcnt == 0)
		return KMEM_SL_FREE;
	if (sp->slab_refcnt == sp->slab_chunks)
		return KMEM_SL_FULL;
	return (int)(((uint64_t)sp->slab_refcnt * KMEM_FULLNESS) / sp->slab_chunks);
}

/* The head pointer of list `cls` of node cn. */
static struct kmem_slab **kmem_list_head(struct kmem_cnode *cn, int cls)
{
	if (cls == KMEM_SL_FREE)
		return &cn->kn_freeslabs;
	if (cls == KMEM_SL_FULL)
		return &cn->kn_fullslabs;
	return &cn->kn_partial[cls];
}

/* Move sp to the list its reference count asks for; kn_slab_lock held. */
static void kmem_slab_relist(struct kmem_cnode *cn, struct kmem_slab *sp)
{
	int cls = kmem_slab_class(sp);

	if (cls == sp->slab_list)
		return;
	kmem_list_unlink(kmem_list_head(cn, sp->slab_list), sp);
	if (sp->slab_list >= 0 && cn->kn_partial[sp->slab_list] == NULL)
		cn->kn_partial_map &= ~(1u << sp->slab_list);
	kmem_list_push(kmem_list_head(cn, cls), sp);
	if (cls >= 0)
		cn->kn_partial_map |= 1u << cls;
	sp->slab_list = (int16_t)cls;
}

/* ---------------------------------------------------------------- bufctl hash */

/* Hash bucket of a buffer address. */
static size_t kmem_hash_index(const struct kmem_cnode *cn, uintptr_t addr)
{
	return ((addr >> 3) ^ (addr >> 11) ^ (addr >> 19)) & cn->kn_hash_mask;
}

/* Enter an allocated bufctl in its node's hash. */
static void kmem_hash_insert(struct kmem_cnode *cn, struct kmem_bufctl *bcp)
{
	struct kmem_bufctl **b = &cn->kn_hash[kmem_hash_index(cn, bcp->bc_addr)];

	bcp->bc_next = *b;
	*b = bcp;
	cn->kn_hash_count++;
}

/* Remove and return the allocated bufctl of addr, or NULL. */
static struct kmem_bufctl *kmem_hash_remove(struct kmem_cnode *cn, uintptr_t addr)
{
	struct kmem_bufctl **pp = &cn->kn_hash[kmem_hash_index(cn, addr)], *bcp;

	for (; (bcp = *pp) != NULL; pp = &bcp->bc_next)
		if (bcp->bc_addr == addr) {
			*pp = bcp->bc_next;
			cn->kn_hash_count--;
			return bcp;
		}
	return NULL;
}

/* Grow the hash x4 when its load passes KMEM_HASH_LOAD (no lock held on entry). */
static void kmem_hash_grow(struct kmem_cnode *cn)
{
	size_t nb = (cn->kn_hash_mask + 1) * 4, ob;
	struct kmem_bufctl **nh, **oh, *bcp;
	irqflags_t fl;

	nh = (void *)vmem_alloc(kmem_arena[0], nb * sizeof(*nh), VM_NOSLEEP);
	if (nh == NULL)
		return;				/* longer chains, still correct */
	memset(nh, 0, nb * sizeof(*nh));
	fl = kmem_lock(&cn->kn_slab_lock);
	if (cn->kn_hash_count <= (cn->kn_hash_mask + 1) * KMEM_HASH_LOAD || nb <= cn->kn_hash_mask + 1) {
		kmem_unlock(&cn->kn_slab_lock, fl);
		vmem_free(kmem_arena[0], (uintptr_t)nh, nb * sizeof(*nh));
		return;
	}
	oh = cn->kn_hash;
	ob = cn->kn_hash_mask + 1;
	cn->kn_hash = nh;
	cn->kn_hash_mask = nb - 1;
	cn->kn_hash_count = 0;
	for (size_t i = 0; i < ob; i++)
		while ((bcp = oh[i]) != NULL) {
			oh[i] = bcp->bc_next;
			kmem_hash_insert(cn, bcp);
		}
	kmem_unlock(&cn->kn_slab_lock, fl);
	if (oh != cn->kn_hash0)
		vmem_free(kmem_arena[0], (uintptr_t)oh, ob * sizeof(*oh));
}

void kmem_hash_shrink(struct kmem_cnode *cn)
{
	struct kmem_bufctl **oh = NULL;
	size_t ob = 0;
	irqflags_t fl = kmem_lock(&cn->kn_slab_lock);

	/* kn_hash0 is empty once grown: kmem_hash_grow moved every chain out of it. */
	if (cn->kn_hash != cn->kn_hash0 && cn->kn_hash_count == 0) {
		oh = cn->kn_hash;
		ob = cn->kn_hash_mask + 1;
		cn->kn_hash = cn->kn_hash0;
		cn->kn_hash_mask = KMEM_HASH_INITIAL - 1;
	}
	kmem_unlock(&cn->kn_slab_lock, fl);
	if (oh != NULL)
		vmem_free(kmem_arena[0], (uintptr_t)oh, ob * sizeof(*oh));
}

/* ------------------------------------------------------------ slab lifecycle */

/* Slab memory from the node's arena (or the cache's own source). */
static uintptr_t kmem_slab_mem(kmem_cache_t *cp, struct kmem_cnode *cn, int kmflag)
{
	int vmflag = (kmflag & KM_NOSLEEP) ? VM_NOSLEEP : VM_SLEEP;
	size_t align = cp->cache_align > MM_PAGE_SIZE ? cp->cache_align : 0;

	if (cp->cache_source != NULL)
		return vmem_alloc(cp->cache_source, cp->cache_slabsize, vmflag);
	return vmem_xalloc(cn->kn_arena, cp->cache_slabsize, align, 0, 0, 0, 0, vmflag);
}

/* Give back what kmem_slab_mem returned. */
static void kmem_slab_mem_free(kmem_cache_t *cp, struct kmem_cnode *cn, uintptr_t base)
{
	if (cp->cache_source != NULL)
		vmem_free(cp->cache_source, base, cp->cache_slabsize);
	else
		vmem_xfree(cn->kn_arena, base, cp->cache_slabsize);
}

/* Point every page of the slab at sp (or at nothing, sp NULL). */
static void kmem_slab_set_owner(kmem_cache_t *cp, uintptr_t base, struct kmem_slab *sp)
{
	uintptr_t owner = sp == NULL ? 0 : ((uintptr_t)sp | KMEM_OWNER_TAG);

	for (size_t off = 0; off < cp->cache_slabsize; off += MM_PAGE_SIZE) {
		struct page *pg = page_lookup(virt_to_phys((void *)(base + off)));

		VERIFY(pg != NULL);
		pg->pg_owner = owner;
	}
}

/* Destroy buffers [0, n) of a new slab (constructor failed on buffer n). */
static void kmem_slab_unconstruct(kmem_cache_t *cp, struct kmem_slab *sp, unsigned n)
{
	for (unsigned i = 0; i < n && cp->cache_dtor != NULL; i++)
		cp->cache_dtor((void *)(sp->slab_first + i * cp->cache_chunksize), cp->cache_private);
}

/* Construct every buffer; false (all undone) if a constructor fails. */
static bool kmem_slab_construct(kmem_cache_t *cp, struct kmem_slab *sp, int kmflag)
{
	if (kmem_debugging(cp))
		kmem_debug_slab_init(cp, sp);	/* tags and patterns first */
	if (cp->cache_ctor == NULL || !kmem_slab_constructs(cp))
		return true;
	for (unsigned i = 0; i < sp->slab_chunks; i++)
		if (cp->cache_ctor((void *)(sp->slab_first + i * cp->cache_chunksize),
				   cp->cache_private, kmflag) != 0) {
			kmem_slab_unconstruct(cp, sp, i);
			kmem_stat_add(&cp->cache_ctor_fail, 1);
			return false;
		}
	return true;
}

/* Thread the free list of a new slab: through the buffers, or bufctls. */
static bool kmem_slab_thread(kmem_cache_t *cp, struct kmem_slab *sp, int kmflag)
{
	sp->slab_head = NULL;
	for (unsigned i = sp->slab_chunks; i-- > 0;) {
		uintptr_t buf = sp->slab_first + i * cp->cache_chunksize;

		if (cp->cache_small) {
			*(void **)(buf + cp->cache_link) = sp->slab_head;
			sp->slab_head = (void *)buf;
		} else {
			struct kmem_bufctl *bcp = kmem_cache_alloc(kmem_bufctl_cache, kmflag);

			if (bcp == NULL)
				return false;
			bcp->bc_addr = buf;
			bcp->bc_slab = sp;
			bcp->bc_next = sp->slab_head;
			sp->slab_head = bcp;
		}
	}
	return true;
}

/* Give the bufctls of a slab's free list back. */
static void kmem_slab_unthread(kmem_cache_t *cp, struct kmem_slab *sp)
{
	struct kmem_bufctl *bcp;

	if (cp->cache_small)
		return;
	while ((bcp = sp->slab_head) != NULL) {
		sp->slab_head = bcp->bc_next;
		kmem_cache_free(kmem_bufctl_cache, bcp);
	}
}

/* The slab header: at the end of a small slab, else from kmem_slab_cache. */
static struct kmem_slab *kmem_slab_header(kmem_cache_t *cp, uintptr_t base, int kmflag)
{
	if (cp->cache_small)
		return (struct kmem_slab *)(base + cp->cache_slabsize - sizeof(struct kmem_slab));
	return kmem_cache_alloc(kmem_slab_cache, kmflag);
}

/* Next colour offset: one alignment step further, wrapping past the leftover. */
static size_t kmem_next_colour(kmem_cache_t *cp)
{
	size_t c = __atomic_fetch_add(&cp->cache_colour, cp->cache_align, __ATOMIC_RELAXED);

	return cp->cache_maxcolour == 0 ? 0 : c % (cp->cache_maxcolour + cp->cache_align);
}

/* Undo a slab's creation at any stage: bufctls, header, memory. */
static void kmem_slab_discard(kmem_cache_t *cp, struct kmem_cnode *cn, struct kmem_slab *sp,
			      uintptr_t base)
{
	if (sp != NULL) {
		kmem_slab_unthread(cp, sp);
		if (!cp->cache_small)
			kmem_cache_free(kmem_slab_cache, sp);
	}
	if (cp->cache_pagemode)
		kmem_slab_set_owner(cp, base, NULL);
	kmem_slab_mem_free(cp, cn, base);
}

/*
 * The buffer count kfree's hit path may accept in a class slab: all of
 * them, or the first 65535 (buffers beyond go through kfree_slow).
 */
static uint16_t kmem_slab_kchunks(const kmem_cache_t *cp)
{
	return cp->cache_chunks < UINT16_MAX ? (uint16_t)cp->cache_chunks : UINT16_MAX;
}

/*
 * Create a slab on node cn (no lock held): memory, header, free list,
 * constructed buffers.  NULL, with nothing lost, if any step fails.
 */
static struct kmem_slab *kmem_slab_create(kmem_cache_t *cp, struct kmem_cnode *cn, int kmflag)
{
	uintptr_t base = kmem_slab_mem(cp, cn, kmflag);
	struct kmem_slab *sp;

	if (base == 0)
		return NULL;
	sp = kmem_slab_header(cp, base, kmflag);
	if (sp == NULL) {
		kmem_slab_discard(cp, cn, NULL, base);
		return NULL;
	}
	memset(sp, 0, sizeof(*sp));
	sp->slab_cache = cp;
	sp->slab_base = base;
	sp->slab_first = base + kmem_next_colour(cp);
	sp->slab_chunks = cp->cache_chunks;
	/* kfree's hit path reads the class and the buffer count here (kmalloc.c §3) */
	sp->slab_kclass = cp->cache_kclass;
	sp->slab_kchunks = cp->cache_kclass != 0 ? kmem_slab_kchunks(cp) : 0;
	/* Its home: the node of its memory, or 0 in a cache with one home (DMA, foreign). */
	sp->slab_node = (int16_t)(cp->cache_nnodes > 1 ? page_node_of(virt_to_phys((void *)base)) : 0);
	/* The free fast path's map agrees with the slab, or sends frees to the slow path. */
	ASSERT(cp->cache_nnodes == 1 || kmem_numa_node((void *)base) == KMEM_NUMA_MIXED ||
	       kmem_numa_node((void *)base) == (unsigned)sp->slab_node);
	sp->slab_list = KMEM_SL_FREE;
	if (cp->cache_pagemode)
		kmem_slab_set_owner(cp, base, sp);
	if (!kmem_slab_thread(cp, sp, kmflag) || !kmem_slab_construct(cp, sp, kmflag)) {
		kmem_slab_discard(cp, cn, sp, base);
		return NULL;
	}
	return sp;
}

/* Destroy a free slab taken off its lists (no lock held). */
static void kmem_slab_destroy(kmem_cache_t *cp, struct kmem_cnode *cn, struct kmem_slab *sp)
{
	ASSERT(sp->slab_refcnt == 0);
	if (cp->cache_dtor != NULL && kmem_slab_constructs(cp)) {
		if (cp->cache_small)
			kmem_slab_unconstruct(cp, sp, sp->slab_chunks);
		else
			for (struct kmem_bufctl *b = sp->slab_head; b != NULL; b = b->bc_next)
				cp->cache_dtor((void *)b->bc_addr, cp->cache_private);
	}
	kmem_slab_discard(cp, cn, sp, sp->slab_base);
}

/* ------------------------------------------------------ taking and giving */

/* Take up to n buffers from node cn's slabs, fullest first; kn_slab_lock held. */
static unsigned kmem_node_take(kmem_cache_t *cp, struct kmem_cnode *cn, void **bufs, unsigned n)
{
	unsigned got = 0;

	while (got < n) {
		struct kmem_slab *sp;

		if (cn->kn_partial_map != 0)
			sp = cn->kn_partial[mm_highbit(cn->kn_partial_map)];
		else if ((sp = cn->kn_freeslabs) == NULL)
			break;
		while (got < n && sp->slab_head != NULL) {
			if (cp->cache_small) {
				bufs[got] = sp->slab_head;
				sp->slab_head = *(void **)((uintptr_t)sp->slab_head + cp->cache_link);
			} else {
				struct kmem_bufctl *bcp = sp->slab_head;

				sp->slab_head = bcp->bc_next;
				kmem_hash_insert(cn, bcp);
				bufs[got] = (void *)bcp->bc_addr;
			}
			sp->slab_refcnt++;
			got++;
		}
		kmem_slab_relist(cn, sp);
	}
	cn->kn_buf_free -= got;
	cn->kn_slab_alloc += got;
	return got;
}

/* File a new slab on node cn; kn_slab_lock held. */
static void kmem_node_add_slab(struct kmem_cnode *cn, struct kmem_slab *sp)
{
	kmem_list_push(&cn->kn_freeslabs, sp);
	sp->slab_list = KMEM_SL_FREE;
	cn->kn_slabs++;
	cn->kn_buf_total += sp->slab_chunks;
	cn->kn_buf_free += sp->slab_chunks;
	cn->kn_slab_create++;
}

/* Up to n buffers from node cn, making a slab if it has none; returns how many. */
static unsigned kmem_node_import(kmem_cache_t *cp, struct kmem_cnode *cn, void **bufs,
				 unsigned n, int kmflag)
{
	struct kmem_slab *sp;
	unsigned got;
	irqflags_t fl;
	bool grow;

	fl = kmem_lock(&cn->kn_slab_lock);
	got = kmem_node_take(cp, cn, bufs, n);
	kmem_unlock(&cn->kn_slab_lock, fl);
	if (got != 0)
		return got;
	sp = kmem_slab_create(cp, cn, kmflag);
	if (sp == NULL)
		return 0;
	/* Slabs are filed on their home node (an arena of node N gives node N's pages). */
	if ((unsigned)sp->slab_node < cp->cache_nnodes)
		cn = cp->cache_node[sp->slab_node];
	fl = kmem_lock(&cn->kn_slab_lock);
	kmem_node_add_slab(cn, sp);
	got = kmem_node_take(cp, cn, bufs, n);
	grow = !cp->cache_small && cn->kn_hash_count > (cn->kn_hash_mask + 1) * KMEM_HASH_LOAD;
	kmem_unlock(&cn->kn_slab_lock, fl);
	if (grow)
		kmem_hash_grow(cn);
	return got;
}

/*
 * The slab caches' import: buffers from the preferred node (the caller's
 * when node < 0), then from the other nodes in order.
 */
unsigned kmem_slab_import(void *arg, void **bufs, unsigned n, int kmflag, int node)
{
	kmem_cache_t *cp = arg;
	unsigned got;
	irqflags_t f;

	if (!(kmflag & KM_PANIC) && fail_inject(FAIL_SLAB))
		return 0;		/* injected (mm/fail.c): the caller's failure path */
	if (node < 0 || (unsigned)node >= cp->cache_nnodes)
		node = cp->cache_nnodes > 1 ? cpu_node(cpu_id()) : 0;
	if ((unsigned)node >= cp->cache_nnodes)
		node = 0;
	got = kmem_node_import(cp, cp->cache_node[node], bufs, n, kmflag);
	for (unsigned i = 0; got == 0 && i < cp->cache_nnodes; i++)
		if ((int)i != node)
			got = kmem_node_import(cp, cp->cache_node[i], bufs, n, kmflag);
	f = irq_save();
	kmem_hart[cpu_id()].kh_slab += got;
	irq_restore(f);
	return got;
}

/*
 * The slab of buf, or NULL when buf is no buffer of cp's slabs (checked
 * against the page owner word, or the hash for foreign arenas; see §3).
 * For large objects *bcpp receives the bufctl, removed from the hash:
 * call with the node's kn_slab_lock held.
 */
struct kmem_slab *kmem_slab_of(kmem_cache_t *cp, const void *buf, struct kmem_bufctl **bcpp)
{
	struct kmem_slab *sp = NULL;
	uintptr_t a = (uintptr_t)buf;

	if (cp->cache_pagemode) {
		struct page *pg = page_lookup(virt_to_phys(buf));

		if (pg == NULL || !(pg->pg_owner & KMEM_OWNER_TAG))
			return NULL;
		sp = (struct kmem_slab *)(pg->pg_owner & ~KMEM_OWNER_TAG);
		if (sp->slab_cache != cp || a < sp->slab_first ||
		    a >= sp->slab_first + (uintptr_t)sp->slab_chunks * cp->cache_chunksize ||
		    (a - sp->slab_first) % cp->cache_chunksize != 0)
			return NULL;
	}
	if (bcpp != NULL) {
		struct kmem_cnode *cn = cp->cache_node[sp != NULL ? sp->slab_node : 0];
		struct kmem_bufctl *bcp = kmem_hash_remove(cn, a);

		if (bcp == NULL || (sp != NULL && bcp->bc_slab != sp))
			return NULL;
		*bcpp = bcp;
		sp = bcp->bc_slab;
	}
	return sp;
}

/* Home node of a page-backed buffer, -1 when it is in no slab. */
int kmem_buf_node(const void *buf)
{
	struct page *pg = page_lookup_inline(virt_to_phys(buf));

	if (pg == NULL || !(pg->pg_owner & KMEM_OWNER_TAG))
		return -1;
	return ((struct kmem_slab *)(pg->pg_owner & ~KMEM_OWNER_TAG))->slab_node;
}

/* Node part that holds buf's slab (without locking: the page owner word). */
static struct kmem_cnode *kmem_buf_cnode(kmem_cache_t *cp, const void *buf)
{
	int node = cp->cache_pagemode ? kmem_buf_node(buf) : 0;

	if (node < 0 || (unsigned)node >= cp->cache_nnodes)
		panic("kmem_cache_free(%s, %p): not a buffer of this cache", cp->cache_name, buf);
	return cp->cache_node[node];
}

/* Put one buffer back in its slab; kn_slab_lock of its node held. */
static void kmem_node_put(kmem_cache_t *cp, struct kmem_cnode *cn, void *buf, irqflags_t fl)
{
	struct kmem_bufctl *bcp = NULL;
	struct kmem_slab *sp = kmem_slab_of(cp, buf, cp->cache_small ? NULL : &bcp);

	if (sp == NULL || sp->slab_refcnt == 0) {
		kmem_unlock(&cn->kn_slab_lock, fl);
		panic("kmem_cache_free(%s, %p): not an allocated buffer of this cache",
		      cp->cache_name, buf);
	}
	if (cp->cache_small) {
		*(void **)((uintptr_t)buf + cp->cache_link) = sp->slab_head;
		sp->slab_head = buf;
	} else {
		bcp->bc_next = sp->slab_head;
		sp->slab_head = bcp;
	}
	sp->slab_refcnt--;
	kmem_slab_relist(cn, sp);
	cn->kn_buf_free++;
	cn->kn_slab_free++;
}

/* The slab caches' release: each buffer back to its slab, one lock per run of a node. */
void kmem_slab_release(void *arg, void **bufs, unsigned n)
{
	kmem_cache_t *cp = arg;
	struct kmem_cnode *held = NULL;
	irqflags_t fl = 0;

	for (unsigned i = 0; i < n; i++) {
		struct kmem_cnode *cn = kmem_buf_cnode(cp, bufs[i]);

		if (cn != held) {
			if (held != NULL)
				kmem_unlock(&held->kn_slab_lock, fl);
			fl = kmem_lock(&cn->kn_slab_lock);
			held = cn;
		}
		kmem_node_put(cp, cn, bufs[i], fl);
	}
	if (held != NULL)
		kmem_unlock(&held->kn_slab_lock, fl);
}

/* Free every completely free slab of the cache (reaping, theory §5). */
void kmem_slab_reap(kmem_cache_t *cp)
{
	for (unsigned n = 0; n < cp->cache_nnodes; n++) {
		struct kmem_cnode *cn = cp->cache_node[n];
		struct kmem_slab *list, *sp;
		irqflags_t fl = kmem_lock(&cn->kn_slab_lock);

		list = cn->kn_freeslabs;
		cn->kn_freeslabs = NULL;
		for (sp = list; sp != NULL; sp = sp->slab_next) {
			cn->kn_slabs--;
			cn->kn_buf_total -= sp->slab_chunks;
			cn->kn_buf_free -= sp->slab_chunks;
			cn->kn_slab_destroy++;
		}
		kmem_unlock(&cn->kn_slab_lock, fl);
		while ((sp = list) != NULL) {
			list = sp->slab_next;
			kmem_slab_destroy(cp, cn, sp);
		}
	}
}
