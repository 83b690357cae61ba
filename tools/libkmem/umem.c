/*
 * umem.c - libkmem: the kernel's allocator as the process's malloc.
 *
 * Bonwick & Adams, "Magazines and Vmem" (USENIX 2001) §5 ported the
 * kernel's slab, magazine and vmem layers to user space as libumem.  This
 * file does the same with our mm/: it is the malloc API over kmalloc, and
 * everything below kmalloc is the kernel's code, compiled over
 * tools/libkmem/mm_env.h (umem_env.c).  docs/libkmem.md is the user's guide.
 *
 * 1. Memory
 * ---------
 * Three ranges of address space are reserved at start-up with
 * mmap(MAP_NORESERVE): nothing is resident until it is touched.
 *   heap     the "physical memory" of the page allocator: one NUMA node,
 *            one NORMAL zone, UMEM_HEAP_DEFAULT bytes (option heap=SIZE),
 *            aligned to the page allocator's section (4 MiB, mm_env.h).
 *            bootmem and page_init run over it exactly as at boot; its page
 *            descriptors are one flat map beside it (mm_env.h MM_PAGE_FLAT,
 *            umem_env.c §7), written only where the heap hands pages out,
 *            and the heap is given to the buddy lists 512 KiB at a time as
 *            it grows (lay_defer); it feeds the per-slot page caches and the
 *            slab arenas of kmem_init.  Every kmalloc class buffer (up to
 *            KMALLOC_MAX_CLASS) lives here.
 *   large    a vmem arena ("umem_large", quantum a page) given to kmem_init
 *            as kmalloc's large arena: bigger requests.  Blocks of at least
 *            UMEM_MADVISE_MIN bytes (large or aligned) go back to their arena
 *            resident and are remembered, until a big allocation takes
 *            part of one again (umem_dirty_reused); once UMEM_DIRTY_MAX
 *            bytes of them are still free, or UMEM_DIRTY_N are remembered,
 *            those ranges that were free at the last such purge too get
 *            madvise(MADV_DONTNEED) (umem_discard, umem_purge_locked).
 *   aligned  a vmem arena ("umem_aligned", quantum UMEM_AQUANTUM) for
 *            alignments above MM_MIN_ALIGN, with vmem_xalloc's alignment;
 *            a hash (address -> size) records each such block.
 * So the range of a pointer says who owns it, in two compares.
 *
 * 2. The hit paths, finding the owner of a pointer, and bad frees
 * ---------------------------------------------------------------
 * malloc and free run kmalloc's own hit paths inline (mm/kmem_impl.h):
 * malloc takes the class cache from kmalloc's size table and pops a round
 * from the thread's loaded magazine (kmem_cache_alloc_hit); free finds the
 * class through the page descriptor and the slab header, checks that the
 * pointer starts a buffer (kmalloc_buf_class), and pushes it on the loaded
 * magazine (kmem_cache_free_hit).  Neither calls into kmalloc.c, and for a
 * thread that owns its slot neither touches the nesting count (mm_env.h,
 * cpu_hit_enter).  Everything else takes the slow functions below, which
 * go through kmalloc, kfree and the slab layer as the kernel does.
 *   A heap pointer that is not the start of a class buffer goes to kfree,
 * which finds its slab through the page descriptor in O(1) (mm/kmalloc.c
 * §3) and panics, naming the pointer, if it does not start a buffer of a
 * kmalloc cache.  A large pointer must be
 * in kmalloc's large hash, an aligned one in ours; any other pointer is
 * foreign and kfree's slow path panics.  A double free into a magazine is
 * invisible to kmalloc's hit path, so free() keeps a tag in the second
 * word of each free heap buffer (chunks are at least 16 bytes): malloc
 * clears it, free checks that it is not already umem_key (a per-process
 * random value) and writes it, after the buffer test, so a bad pointer
 * never writes into a live buffer.  A match is a double free, reported and
 * aborted; a false alarm needs a program to store that random 64-bit word
 * itself.  With debug flags (KMEM_OPTIONS=debug=...) the slab layer's own
 * checks (mm/kmem_debug.c) do this instead and the tag is off.  Every
 * report goes through panic: "libkmem: ..." on stderr, then abort().
 *
 * 3. Start-up
 * -----------
 * The first call of any entry point runs umem_init under umem_init_lock.
 * kmem_init makes no kmalloc class: each is made on its first request
 * (kmalloc_ondemand), since a process uses a handful of the 128 and each
 * costs a magazine line per slot; until then, and before start-up, malloc's
 * hit path finds kmalloc_stub for the class, whose magazines are always
 * empty, and takes its slow path.  Nor does kmem_init make a magazine
 * cache or kmalloc_large: each is made on first use, and every magazine (at
 * most UMEM_MAGSIZE_MAX = 15 rounds) comes from one cache, kmem_magazine_15
 * (mm/kmem.c §4).
 * Nothing in it calls malloc (mmap, getenv, the mm/ init functions), so it
 * works from a program's first constructor.  The fork handlers are
 * registered last, once the allocator is ready, because registering may
 * itself allocate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/bootmem.h"
#include "mm/kmem_impl.h"
#include "mm/page.h"
#include "mm/vmem.h"
#include "umem_impl.h"

#define UMEM_API __attribute__((visibility("default")))

#define UMEM_SECT		(1ull << PAGE_SECT_SHIFT)	/* the page allocator's section */
#define UMEM_HEAP_DEFAULT	(256ull << 20)	/* heap=SIZE overrides; descriptors written as it grows */
#define UMEM_LARGE_VA		(64ull << 30)	/* address space of the large arena (at most) */
#define UMEM_ALIGN_VA		(16ull << 30)	/* and of the aligned arena */
#define UMEM_VA_MIN		(256ull << 20)	/* halved down to this when mmap refuses */
#define UMEM_AQUANTUM		64		/* aligned arena quantum */
#define UMEM_AHASH		65536		/* aligned-record hash buckets (.bss, touched as used) */
#define UMEM_MADVISE_MIN	(128u << 10)	/* frees this big go back to the kernel, in batches */
#define UMEM_DIRTY_MAX		(2u << 20)	/* ... once this many of their bytes are free */
#define UMEM_DIRTY_N		512		/* ... or this many of their ranges */
#define UMEM_REAP_US		100000		/* out of memory: reap at most this often */
#define UMEM_MAGSIZE_MAX	15		/* rounds per magazine (magsize=N overrides; 0: the paper's) */

enum { UMEM_UNINIT, UMEM_READY, UMEM_FAILED };

/* An aligned block (umem_aligned arena): address and size asked for. */
struct umem_arec {
	struct umem_arec *ar_next;	/* hash chain */
	uintptr_t ar_addr;		/* the block's start (the hash key) */
	size_t ar_size;			/* bytes allocated (rounded to the quantum) */
};

static int umem_state;			/* UMEM_*, read without the lock */
static pthread_mutex_t umem_init_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t umem_heap_base;	/* §1 ranges */
static uint64_t umem_heap_size = UMEM_HEAP_DEFAULT;	/* heap=SIZE */
static uint64_t umem_heap_len;		/* umem_heap_size once the heap is up, 0 before */
static uintptr_t umem_large_base, umem_align_base;
static uint64_t umem_large_len, umem_align_len;	/* what was reserved (§1) */
static vmem_t *umem_large, *umem_aligned;
static uint64_t umem_key;		/* §2 tag: written into each free heap buffer */
static bool umem_key_on;		/* the tag is kept (no debug flags) */
static bool umem_opt_stats;		/* KMEM_OPTIONS=stats: kmastat and slot counts at exit */
static bool umem_magsize_set;		/* KMEM_OPTIONS=magsize=N given */
static bool umem_opt_magstat;		/* KMEM_OPTIONS=magstat: kmem_magstat at exit */
static bool umem_opt_footprint;	/* KMEM_OPTIONS=footprint (umem_footprint.c) */
/*
 * Lock order (mm/lock_order.h): umem_alock and umem_dlock are never held
 * together, and neither is taken with another lock held.  umem_alock is a
 * leaf.  umem_dlock is held across vmem_xalloc and vmem_xfree of the large
 * and aligned arenas (umem_purge_locked), so its rank, LOCK_RANK_SEGKMEM,
 * is below the arenas' LOCK_RANK_VMEM_ARENA.  Both are taken inside
 * irq_save, so a thread on the shared slot holds the slot's lock before
 * them, the order umem_prefork takes them in (umem_env.c §4).
 */
static spinlock_t umem_alock;		/* umem_ahash */
static struct umem_arec *umem_ahash[UMEM_AHASH];

/* A freed big block whose pages are still resident, waiting for a purge (§1). */
struct umem_dirty {
	vmem_t *ud_arena;		/* where it went back */
	uintptr_t ud_lo, ud_hi;		/* its whole pages */
	bool ud_old;			/* was free at the last purge too */
	bool ud_reused;			/* an allocation has taken part of it since */
};
static spinlock_t umem_dlock;		/* the three below */
static struct umem_dirty umem_dirty[UMEM_DIRTY_N];
static unsigned umem_ndirty;		/* entries in use */
static uint64_t umem_dirty_bytes;	/* bytes of those not reused: free and resident */
static uint64_t umem_purges, umem_madvised, umem_madvised_bytes;	/* statistics */
static uint64_t umem_madvise_failed;	/* madvise calls refused (the range stays resident) */
static void umem_dirty_reused(uintptr_t a, size_t size);

/* ------------------------------------------------------------ options */

/* "64m", "2g", "1048576" -> bytes; 0 on a bad number. */
static uint64_t umem_parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	return *end == '\0' ? v : 0;
}

/* stats, footprint or magstat (w): a report at exit, to a copy of stderr. */
static void umem_option_report(const char *w)
{
	if (w[0] == 's')
		umem_opt_stats = true;
	else if (w[0] == 'f')
		umem_opt_footprint = true;
	else
		umem_opt_magstat = true;
	/* keep a copy of stderr: programs close it before exit */
	if (umem_out_fd == 2 && (umem_out_fd = fcntl(2, F_DUPFD_CLOEXEC, 3)) < 0)
		umem_out_fd = 2;
}

/* One KMEM_OPTIONS word; *in_debug: the previous word was debug=... */
static void umem_option(const char *w, bool *in_debug)
{
	unsigned f;

	if (strncmp(w, "debug=", 6) == 0) {
		*in_debug = kmem_debug_parse(w + 6, &f) == 0;
		if (*in_debug)
			kmem_debug |= f;
	} else if (strcmp(w, "nomagazine") == 0) {
		kmem_nomagazine = true;
	} else if (strcmp(w, "stats") == 0 || strcmp(w, "footprint") == 0 ||
		   strcmp(w, "magstat") == 0) {
		umem_option_report(w);
	} else if (strncmp(w, "magsize=", 8) == 0) {
		uint64_t v = umem_parse_size(w + 8);

		if (v > 255 || (v == 0 && strcmp(w + 8, "0") != 0)) {
			printk("libkmem: KMEM_OPTIONS: magsize=%s: want 0 (no limit) to 255\n", w + 8);
		} else {
			kmem_magsize_max = (unsigned)v;
			umem_magsize_set = true;
		}
	} else if (strncmp(w, "heap=", 5) == 0) {
		uint64_t v = umem_parse_size(w + 5);

		if (v < (16u << 20) || v > (1ull << 40))
			printk("libkmem: KMEM_OPTIONS: heap=%s: want a size from 16m to 1024g\n",
			       w + 5);
		else
			umem_heap_size = (v + (4u << 20) - 1) & ~(uint64_t)((4u << 20) - 1);
	} else if (*in_debug && kmem_debug_parse(w, &f) == 0) {
		kmem_debug |= f;	/* debug=redzone,poison: the list goes on */
	} else {
		printk("libkmem: KMEM_OPTIONS: unknown option '%s' (known: debug=FLAG[,FLAG...], "
		       "nomagazine, magsize=N, stats, magstat, footprint, heap=SIZE)\n", w);
	}
}

/*
 * KMEM_OPTIONS before libc has set environ (a program's .preinit_array runs
 * before libc's initialisation): from /proc/self/environ.  NULL if unset.
 */
static const char *umem_getenv_early(void)
{
	static char buf[32768];
	size_t n = 0;
	ssize_t r;
	int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, "KMEM_OPTIONS=", 13) == 0)
			return buf + i + 13;
	return NULL;
}

/* Read KMEM_OPTIONS: words separated by commas, colons or spaces. */
static void umem_options(void)
{
	const char *s = environ != NULL ? getenv("KMEM_OPTIONS") : umem_getenv_early();
	bool in_debug = false;
	char w[128];

	while (s != NULL && *s != '\0') {
		size_t n = strcspn(s, ", :");

		if (n > 0 && n < sizeof(w)) {
			memcpy(w, s, n);
			w[n] = '\0';
			umem_option(w, &in_debug);
		} else if (n > 0) {
			printk("libkmem: KMEM_OPTIONS: option too long\n");
		}
		s += n;
		s += *s != '\0';
	}
}

/* ------------------------------------------------------------ start-up */

/* vmem's page source: its own structures straight from mmap. */
static void *umem_vps_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Give vmem's pages back. */
static void umem_vps_free(void *p, size_t size) { munmap(p, size); }

static const struct vmem_page_source umem_vps = { umem_vps_alloc, umem_vps_free };

/* Reserve size bytes of address space aligned to align; 0 if refused. */
static uintptr_t umem_reserve(uint64_t size, uint64_t align)
{
	uint8_t *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return 0;
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + size), (uintptr_t)p + align - a);
	return a;
}

/* Reserve up to want bytes, halving down to UMEM_VA_MIN (ulimit -v, valgrind); 0 if none. */
static uintptr_t umem_reserve_most(uint64_t want, uint64_t *got)
{
	uintptr_t a = 0;

	for (*got = want; *got >= UMEM_VA_MIN && a == 0; *got /= 2)
		a = umem_reserve(*got, MM_PAGE_SIZE);
	*got *= 2;	/* the loop halved once more after the success */
	return a;
}

/* The heap: bootmem over it, then the page allocator, as at boot (§1). */
static int umem_heap_init(void)
{
	struct page_zone_desc zd = { 0 };
	struct page_layout pl = { 0 };

	umem_heap_base = umem_reserve(umem_heap_size, UMEM_SECT);
	if (umem_heap_base == 0)
		return -1;
	bootmem_reset();
	if (bootmem_add(umem_heap_base, umem_heap_size, 0) != 0)
		return -1;
	zd.pzd_node = 0;
	zd.pzd_type = PAGE_ZONE_NORMAL;
	zd.pzd_base = umem_heap_base;
	zd.pzd_end = umem_heap_base + umem_heap_size;
	pl.lay_nzones = 1;
	pl.lay_zones = &zd;
	pl.lay_nnodes = 1;
	pl.lay_dma32_limit = umem_heap_base;	/* no DMA zones: all of it is NORMAL */
	/* Give the buddy lists one grow step (512 KiB, one page of the flat
	 * descriptor map) now, the rest as the heap needs it (mm/page_init.c
	 * §2): a process that uses little of the heap touches a page or two of
	 * the map's 2 MiB for 256 MiB. */
	pl.lay_defer = PAGE_GROW_BYTES;
	if (page_init(&pl) != 0)
		return -1;
	umem_heap_len = umem_heap_size;
	return 0;
}

/* The large and aligned arenas over their address ranges. */
static int umem_arenas_init(void)
{
	umem_large_base = umem_reserve_most(UMEM_LARGE_VA, &umem_large_len);
	umem_align_base = umem_reserve_most(UMEM_ALIGN_VA, &umem_align_len);
	if (umem_large_base == 0 || umem_align_base == 0)
		return -1;
	vmem_page_source_set(&umem_vps);
	umem_large = vmem_create("umem_large", umem_large_base, umem_large_len, MM_PAGE_SIZE,
				 NULL, NULL, NULL, 0, VM_NOSLEEP);
	umem_aligned = vmem_create("umem_aligned", umem_align_base, umem_align_len, UMEM_AQUANTUM,
				   NULL, NULL, NULL, 0, VM_NOSLEEP);
	spin_init(&umem_alock, "umem_aligned_hash", LOCK_RANK_SEGKMEM);
	spin_init(&umem_dlock, "umem_dirty", LOCK_RANK_SEGKMEM);
	return umem_large != NULL && umem_aligned != NULL ? 0 : -1;
}

/* The double-free tag: random per process (AT_RANDOM mixed, never used raw). */
static void umem_key_init(void)
{
	const uint64_t *r = (const uint64_t *)getauxval(AT_RANDOM);
	uint64_t z = (r != NULL ? r[0] * 3 + r[1] : 0) ^ mm_time_us() ^ (uintptr_t)&umem_key;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;	/* splitmix64's finaliser */
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	umem_key = (z ^ (z >> 31)) | 1;
	umem_key_on = kmem_debug == 0;
}

/* Bring everything up once; 0 when the allocator can be used. */
static __attribute__((noinline, cold)) int umem_init(void)
{
	pthread_mutex_lock(&umem_init_lock);
	if (umem_state == UMEM_UNINIT) {
		int env = umem_env_init();	/* first: the locks printk and the options use */

		umem_options();
		umem_key_init();
		kmalloc_ondemand = true;	/* a process uses a few classes (§3) */
		if (!umem_magsize_set)
			kmem_magsize_max = UMEM_MAGSIZE_MAX;
		if (env != 0 || umem_heap_init() != 0 || umem_arenas_init() != 0 ||
		    kmem_init(umem_large) != 0) {
			printk("libkmem: cannot start the allocator (heap %llu MiB)\n",
			       (unsigned long long)(umem_heap_size >> 20));
			__atomic_store_n(&umem_state, UMEM_FAILED, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&umem_state, UMEM_READY, __ATOMIC_RELEASE);
			pthread_atfork(umem_prefork, umem_postfork_parent, umem_postfork_child);
		}
	}
	pthread_mutex_unlock(&umem_init_lock);
	return umem_state == UMEM_READY ? 0 : -1;
}

/* Is the allocator up (starting it on the first call)? */
static inline bool umem_up(void)
{
	return __builtin_expect(__atomic_load_n(&umem_state, __ATOMIC_ACQUIRE) == UMEM_READY, 1) ||
	       umem_init() == 0;
}

/* Start at load time too, so that options are read even if nothing allocates. */
static __attribute__((constructor)) void umem_load(void)
{
	(void)umem_up();
}

/*
 * KMEM_OPTIONS=stats: the kmastat table and the slot counts on stderr at
 * exit; magstat: every cache's magazines, per slot, and depot (long:
 * about 35 lines a cache); footprint: resident memory by region
 * (umem_footprint.c).
 */
static __attribute__((destructor)) void umem_exit(void)
{
	const uintptr_t ranges[3][2] = {
		{ umem_heap_base, umem_heap_base + umem_heap_len },
		{ umem_large_base, umem_large_base + umem_large_len },
		{ umem_align_base, umem_align_base + umem_align_len },
	};
	uint64_t owner, shared;
	unsigned inuse;

	if (umem_opt_footprint && umem_state == UMEM_READY)
		umem_footprint(ranges);
	if (umem_opt_magstat && umem_state == UMEM_READY)
		kmem_magstat(umem_printf);	/* magazine sizes, depots, contention, resizes */
	if (!umem_opt_stats || umem_state != UMEM_READY)
		return;
	kmem_kmastat(umem_printf);
	umem_slot_stats(&owner, &shared, &inuse);
	printk("libkmem: threads: %llu took a slot, %llu ran on the shared slot; "
	       "%u of %u slots owned at exit\n", (unsigned long long)owner,
	       (unsigned long long)shared, inuse, UMEM_SHARED_HART);
	printk("libkmem: big frees: %llu purges, %llu ranges (%llu KiB) given back with madvise, "
	       "%llu KiB free and resident, %llu madvise calls refused\n",
	       (unsigned long long)umem_purges, (unsigned long long)umem_madvised,
	       (unsigned long long)(umem_madvised_bytes >> 10),
	       (unsigned long long)(umem_dirty_bytes >> 10),
	       (unsigned long long)umem_madvise_failed);
}

/* ------------------------------------------------------------ aligned blocks */

/* Bucket of an aligned block's address. */
static inline unsigned umem_abucket(uintptr_t a)
{
	return (unsigned)((a >> 6) ^ (a >> 22)) & (UMEM_AHASH - 1);
}

/* Is a in [base, base + size)? */
static inline bool umem_in(uintptr_t a, uintptr_t base, uint64_t size)
{
	return a - base < size;
}

/* Free an aligned block's record: kmalloc'ed, or from the arena when the heap was full. */
static void umem_arec_free(struct umem_arec *ar)
{
	if (umem_in((uintptr_t)ar, umem_align_base, umem_align_len))
		vmem_free(umem_aligned, (uintptr_t)ar, UMEM_AQUANTUM);
	else
		kfree(ar);
}

/* An aligned block from the aligned arena, recorded; NULL when out of memory. */
static void *umem_aligned_alloc(size_t align, size_t n)
{
	size_t size = n == 0 ? UMEM_AQUANTUM : (n + UMEM_AQUANTUM - 1) & ~(size_t)(UMEM_AQUANTUM - 1);
	struct umem_arec *ar;
	uintptr_t a;
	irqflags_t f;

	if (n > umem_align_len || align > umem_align_len / 2)
		return NULL;
	ar = kmalloc(sizeof(*ar), KM_NOSLEEP);
	if (ar == NULL)		/* the heap is full: the record goes in the arena too */
		ar = (void *)vmem_alloc(umem_aligned, UMEM_AQUANTUM, VM_NOSLEEP);
	if (ar == NULL)
		return NULL;
	a = vmem_xalloc(umem_aligned, size, align < UMEM_AQUANTUM ? UMEM_AQUANTUM : align, 0, 0,
			0, 0, VM_NOSLEEP);
	if (a == 0) {
		umem_arec_free(ar);
		return NULL;
	}
	umem_dirty_reused(a, size);
	ar->ar_addr = a;
	ar->ar_size = size;
	f = irq_save();
	spin_lock(&umem_alock);
	ar->ar_next = umem_ahash[umem_abucket(a)];
	umem_ahash[umem_abucket(a)] = ar;
	spin_unlock(&umem_alock);
	irq_restore(f);
	return (void *)a;
}

/* The record of aligned block p (unlinked when remove); panics naming fn if none. */
static struct umem_arec *umem_aligned_find(const void *p, bool remove, const char *fn)
{
	struct umem_arec **pp = &umem_ahash[umem_abucket((uintptr_t)p)], *ar;
	irqflags_t f = irq_save();

	spin_lock(&umem_alock);
	for (; (ar = *pp) != NULL; pp = &ar->ar_next)
		if (ar->ar_addr == (uintptr_t)p) {
			if (remove)
				*pp = ar->ar_next;
			break;
		}
	spin_unlock(&umem_alock);
	irq_restore(f);
	if (ar == NULL)
		panic("%s(%p): not an allocated block of the aligned arena (double free, or a "
		      "pointer malloc did not return)", fn, p);
	return ar;
}

/*
 * Purge (umem_dlock held): every pending range that is still wholly free in
 * its arena is taken from the arena for a moment (so no allocation can get
 * it meanwhile), and freed again.  A range free at two purges in a row is
 * handed back to the kernel with madvise before that; one free for the
 * first time is kept pending, marked old; one that an allocation reused
 * since is dropped: its owner's data stays, and it costs no page faults.
 */
static void umem_purge_locked(void)
{
	unsigned keep = 0;
	uint64_t kept = 0;

	for (unsigned i = 0; i < umem_ndirty; i++) {
		struct umem_dirty ud = umem_dirty[i];
		size_t len = ud.ud_hi - ud.ud_lo;

		if (ud.ud_reused ||
		    vmem_xalloc(ud.ud_arena, len, 0, 0, 0, ud.ud_lo, ud.ud_hi, VM_NOSLEEP) != ud.ud_lo)
			continue;	/* (partly) in use again: vmem gave nothing else */
		if (ud.ud_old) {
			if (madvise((void *)ud.ud_lo, len, MADV_DONTNEED) == 0) {
				umem_madvised++;
				umem_madvised_bytes += len;
			} else {
				umem_madvise_failed++;	/* stays resident; still free in the arena */
			}
		} else {
			ud.ud_old = true;
			umem_dirty[keep++] = ud;
			kept += len;
		}
		vmem_xfree(ud.ud_arena, ud.ud_lo, len);
	}
	umem_ndirty = keep;
	umem_dirty_bytes = kept;
	umem_purges++;
}

/*
 * [a, a + size) has just been allocated from a big arena: a pending range
 * it overlaps is in use again (the purge will drop it), so its bytes no
 * longer count as free and resident.  Without this, every big block freed
 * and taken again counted until the next purge, and purges came so often
 * that ranges free for a moment were handed back and faulted in again.
 */
static void umem_dirty_reused(uintptr_t a, size_t size)
{
	irqflags_t f;

	/* any big allocation may split a remembered range, not only one of its size */
	if (__atomic_load_n(&umem_ndirty, __ATOMIC_RELAXED) == 0)
		return;
	f = irq_save();
	spin_lock(&umem_dlock);
	for (unsigned i = 0; i < umem_ndirty; i++) {
		struct umem_dirty *ud = &umem_dirty[i];

		if (!ud->ud_reused && ud->ud_lo < a + size && a < ud->ud_hi) {
			ud->ud_reused = true;
			umem_dirty_bytes -= ud->ud_hi - ud->ud_lo;
		}
	}
	spin_unlock(&umem_dlock);
	irq_restore(f);
}

/*
 * [a, a + size) has just gone back to arena: when it is big, remember its
 * whole pages, and purge once UMEM_DIRTY_MAX bytes of remembered ranges are
 * free (not reused since) or when its UMEM_DIRTY_N places are full
 * (jemalloc's dirty pages, with two purges instead of a decay time): a
 * madvise per free would make the next allocation fault every page in again.
 */
static void umem_discard(vmem_t *arena, uintptr_t a, size_t size)
{
	uintptr_t lo = (a + MM_PAGE_SIZE - 1) & ~(uintptr_t)(MM_PAGE_SIZE - 1);
	uintptr_t hi = (a + size) & ~(uintptr_t)(MM_PAGE_SIZE - 1);
	irqflags_t f;

	if (size < UMEM_MADVISE_MIN || hi <= lo)
		return;
	f = irq_save();		/* the shared slot's lock first, as fork takes them (umem_env.c §4) */
	spin_lock(&umem_dlock);
	/* at most twice: a purge keeps only ranges it marks old, and the next drops them all */
	while (umem_ndirty == UMEM_DIRTY_N)
		umem_purge_locked();
	umem_dirty[umem_ndirty++] = (struct umem_dirty){ arena, lo, hi, false, false };
	umem_dirty_bytes += hi - lo;
	if (umem_dirty_bytes >= UMEM_DIRTY_MAX)
		umem_purge_locked();
	spin_unlock(&umem_dlock);
	irq_restore(f);
}

/* free() of a pointer outside the heap: aligned, large, or foreign (panics). */
static __attribute__((noinline)) void umem_free_other(void *p)
{
	uintptr_t a = (uintptr_t)p;

	umem_ctx_fn = "free";
	umem_ctx_ptr = p;
	if (umem_in(a, umem_align_base, umem_align_len)) {
		struct umem_arec *ar = umem_aligned_find(p, true, "free");
		uintptr_t addr = ar->ar_addr;
		size_t size = ar->ar_size;

		vmem_xfree(umem_aligned, addr, size);
		umem_arec_free(ar);
		umem_discard(umem_aligned, addr, size);
	} else if (umem_in(a, umem_large_base, umem_large_len)) {
		size_t size = ksize(p);		/* ksize panics if p is not allocated */

		kfree(p);
		umem_discard(umem_large, a, size);
	} else {
		kfree(p);			/* a foreign pointer panics here */
	}
	umem_ctx_fn = NULL;
}

/* Report a double free found by the tag (§2). */
static __attribute__((noinline, noreturn)) void umem_double_free(void *p)
{
	panic("free(%p): double free (the buffer is already free; tag 0x%llx at %p)", p,
	      (unsigned long long)umem_key, (void *)((uint64_t *)p + 1));
}

/*
 * kmalloc failed: reap once and retry; then, for a class size (the heap is
 * full), the aligned arena, which lives outside the heap; then ENOMEM.
 */
static __attribute__((noinline)) void *umem_nomem(size_t n)
{
	static uint64_t last_reap;	/* mm_time_us() of the last reap */
	static bool warned;
	uint64_t now = mm_time_us();
	void *p = NULL;

	/* a reap walks every cache: at most one per UMEM_REAP_US while the heap stays full */
	if (now - __atomic_load_n(&last_reap, __ATOMIC_RELAXED) >= UMEM_REAP_US) {
		__atomic_store_n(&last_reap, now, __ATOMIC_RELAXED);
		kmem_reap();
		kmem_reap_local();
		p = kmalloc(n, KM_NOSLEEP);
	}
	if (p == NULL && n <= KMALLOC_MAX_CLASS) {
		if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			printk("libkmem: the heap (%llu MiB) is full: small blocks now come from the "
			       "aligned arena, slower (KMEM_OPTIONS=heap=SIZE)\n",
			       (unsigned long long)(umem_heap_len >> 20));
		p = umem_aligned_alloc(MM_MIN_ALIGN, n);
	}
	if (p == NULL)
		errno = ENOMEM;
	return p;
}

/* ------------------------------------------------------------ the API */

/*
 * malloc's body off the hit path: start-up, sizes above the classes, a
 * class not made yet, an empty magazine, a thread without its own slot,
 * debugging (calloc calls this, not malloc: gcc would fold malloc + memset
 * into calloc).
 */
static __attribute__((noinline)) void *umem_alloc(size_t n)
{
	void *p;

	if (!umem_up()) {
		errno = ENOMEM;
		return NULL;
	}
	p = kmalloc(n, KM_NOSLEEP);	/* no reap inside: umem_nomem decides */
	if (__builtin_expect(p == NULL, 0) && (p = umem_nomem(n)) == NULL)
		return NULL;
	if (n > KMALLOC_MAX_CLASS)
		umem_dirty_reused((uintptr_t)p, n);
	if (umem_key_on)
		((uint64_t *)p)[1] = 0;
	return p;
}

/*
 * The hit path (§2): the class cache straight from kmalloc's size table
 * and a round from this thread's loaded magazine (mm/kmem.h), the tag
 * cleared.  A hit implies a cache with magazines, hence no debugging,
 * hence the tag is on.  Before start-up, and until a class is made, its
 * entry is kmalloc_stub, whose magazines are always empty.
 */
static inline void *umem_alloc_hit(size_t n)
{
	void *p;

	if (__builtin_expect(n - 1 < KMALLOC_MAX_CLASS, 1) &&
	    __builtin_expect((p = kmem_cache_alloc_hit(kmalloc_hit_cache(n))) != NULL, 1)) {
		((uint64_t *)p)[1] = 0;
		return p;
	}
	return umem_alloc(n);
}

UMEM_API void *malloc(size_t n) { return umem_alloc_hit(n); }

/* free() of everything but the start of a class buffer without debugging. */
static __attribute__((noinline)) void umem_free_slow(void *p)
{
	if (p == NULL)
		return;
	if (umem_in((uintptr_t)p, umem_heap_base, umem_heap_len))
		kfree(p);	/* a debug cache's buffer; anything else panics there */
	else
		umem_free_other(p);
}

/*
 * The hit path (§2): kfree's own class lookup (page descriptor, slab
 * header, exact-division test: mm/kmem_impl.h; a pointer outside the heap
 * has no descriptor, so it needs no range test first), the double-free tag, and
 * a push on this thread's loaded magazine.  A class found implies no
 * debugging, hence the tag is on; the buffer start is checked before the
 * tag is read or written, so a bad pointer never writes into a live buffer.
 */
UMEM_API void free(void *p)
{
	const struct kmalloc_class *kc;
	uint64_t *w = p;
	unsigned home;

	if (__builtin_expect((kc = kmalloc_buf_class(p, &home)) != NULL, 1)) {
		if (__builtin_expect(w[1] == umem_key, 0))
			umem_double_free(p);
		w[1] = umem_key;
		if (__builtin_expect(!kmem_cache_free_hit(kc->kc_cache, p, home), 0))
			kmem_cache_free_slow(kc->kc_cache, p);
		return;
	}
	umem_free_slow(p);
}

UMEM_API void *calloc(size_t n, size_t m)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = umem_alloc_hit(total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

UMEM_API size_t malloc_usable_size(void *p)
{
	if (p == NULL)
		return 0;
	if (umem_in((uintptr_t)p, umem_align_base, umem_align_len))
		return umem_aligned_find(p, false, "malloc_usable_size")->ar_size;
	return ksize(p);	/* panics, naming p, for a pointer malloc did not return */
}

UMEM_API void *realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	umem_ctx_fn = "realloc";
	umem_ctx_ptr = p;
	old = malloc_usable_size(p);
	umem_ctx_fn = NULL;
	if (n <= old && n >= old / 2 && !umem_in((uintptr_t)p, umem_align_base, umem_align_len))
		return p;
	q = malloc(n);
	if (q == NULL)
		return NULL;	/* p is left as it was */
	memcpy(q, p, n < old ? n : old);
	free(p);
	return q;
}

UMEM_API void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

/* Any alignment (a power of two): malloc's own up to MM_MIN_ALIGN, else the aligned arena. */
static void *umem_memalign(size_t align, size_t n)
{
	void *p;

	if (align <= MM_MIN_ALIGN)
		return malloc(n);
	if (!umem_up()) {
		errno = ENOMEM;
		return NULL;
	}
	p = umem_aligned_alloc(align, n);
	if (p == NULL)
		errno = ENOMEM;
	return p;
}

/* Is a a power of two? */
static inline bool umem_pow2(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

UMEM_API int posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	if (!umem_pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	p = umem_memalign(align, n);
	if (p == NULL)
		return ENOMEM;
	*pp = p;
	return 0;
}

UMEM_API void *aligned_alloc(size_t align, size_t n)
{
	if (!umem_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return umem_memalign(align, n);
}

UMEM_API void *memalign(size_t align, size_t n)
{
	if (align > ((size_t)1 << 62)) {
		errno = EINVAL;
		return NULL;
	}
	while (!umem_pow2(align))	/* glibc: round up to a power of two */
		align = align == 0 ? 1 : (align | (align - 1)) + 1;
	return umem_memalign(align, n);
}

UMEM_API void *valloc(size_t n) { return umem_memalign(MM_PAGE_SIZE, n); }

UMEM_API void *pvalloc(size_t n)
{
	size_t r;

	if (__builtin_add_overflow(n, MM_PAGE_SIZE - 1, &r)) {
		errno = ENOMEM;
		return NULL;
	}
	r &= ~(size_t)(MM_PAGE_SIZE - 1);
	return umem_memalign(MM_PAGE_SIZE, r == 0 ? MM_PAGE_SIZE : r);
}
