/*
 * mm_env.h (libkmem) - the mm/ platform interface for a user-space malloc.
 *
 * libkmem (docs/libkmem.md) runs the kernel's page allocator, vmem, slab,
 * magazine and kmalloc files unchanged inside any Linux x86-64 process.
 * This header gives mm/ the names mm/mm_platform.h lists:
 *
 *   harts      a *hart* is a slot of per-hart state (page caches, one
 *              magazine line per cache).  A thread takes a free slot the
 *              first time it enters the allocator and keeps it until it
 *              exits (umem_env.c §2); cpu_id() is then a thread-local load.
 *              Threads that find every slot taken share the last slot,
 *              UMEM_SHARED_HART, which a lock protects.
 *   interrupts irq_save() marks "inside a per-hart section".  For a thread
 *              that owns its slot that is a depth count and nothing else:
 *              no lock and no atomic on the magazine hit path.  A thread on
 *              the shared slot takes the slot's lock at depth 0 -> 1.
 *   locks      a small futex lock (umem_env.c §3); every lock is on a list
 *              so that the fork handlers can take them all in rank order.
 *   output     printk/panic write to stderr with write(2), never stdio.
 *
 * Nothing here calls malloc: the allocator is the process's malloc.
 */
#ifndef UMEM_MM_ENV_H
#define UMEM_MM_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mm/lock_order.h"

#define MM_MAX_CPUS	32	/* thread slots; the last is the shared one (each costs a
				   line per cache: 32 keeps start-up memory small) */
#define MM_MAX_NODES	1	/* one node: cpu_node() is 0; the free hit path drops its node test */
#define MM_CACHE_LINE	64
#define MM_FAST_CLZ	1	/* x86-64: lzcnt/bsr and tzcnt/bsf */
#define MM_MIN_ALIGN	16	/* malloc's alignment on x86-64 (max_align_t) */
#define MM_PAGE_SECT_SHIFT 22	/* 4 MiB page sections, the largest buddy block: the
				   heap grows into its descriptors 4 MiB at a time */
#define MM_PAGE_FLAT	1	/* one flat descriptor map (umem_env.c §7): free()
				   finds a descriptor with one bound test */

#define UMEM_SHARED_HART (MM_MAX_CPUS - 1)

#define UMEM_TLS __attribute__((tls_model("initial-exec")))

typedef uint64_t paddr_t;
typedef unsigned long irqflags_t;

typedef struct spinlock {
	int sl_word;			/* 0 free, 1 held, 2 held with waiters */
	unsigned sl_rank;		/* enum lock_rank (mm/lock_order.h) */
	const void *sl_owner;		/* holder's thread token, NULL when free */
	const char *sl_name;		/* for messages */
	struct spinlock *sl_next;	/* every live lock (fork handlers) */
} spinlock_t;

/* Per-thread state: see umem_env.c §2. */
enum umem_mode {
	UMEM_OWNER,	/* the thread owns slot umem_hart */
	UMEM_NEW,	/* not attached yet */
	UMEM_SHARED,	/* on UMEM_SHARED_HART: every slot taken, or the thread is exiting */
};
/*
 * The per-thread words the hit paths read, in one thread-local struct:
 * under -fPIC each thread-local variable costs its own GOT load, one
 * struct costs one for all.  ut_state packs the mode (enum umem_mode,
 * above UMEM_MODE_SHIFT) and the nesting of irq_save() (below): it is 0
 * exactly for an owner outside any per-hart section, so irq_save's hit
 * path is one load, one store and one test.  ut_own is the slot times
 * MM_CACHE_LINE while the thread owns it and UMEM_NOT_OWN otherwise
 * (umem_set_mode keeps it so; cpu_call_all clears it while it runs as
 * other slots): cpu_hit_enter's one test.  Scaled (MM_CPU_HIT_UNIT),
 * because a hit path indexes an array of per-hart cache lines with it:
 * the byte offset needs no shift there.
 */
#define UMEM_MODE_SHIFT	24
#define UMEM_DEPTH_MASK	((1 << UMEM_MODE_SHIFT) - 1)
struct umem_tls {
	int ut_hart;			/* slot, -1 before attaching */
	int ut_state;			/* mode << UMEM_MODE_SHIFT | depth */
	int ut_own;			/* ut_hart * MM_CACHE_LINE in mode UMEM_OWNER,
					   else UMEM_NOT_OWN */
};
#define UMEM_NOT_OWN	(-MM_CACHE_LINE)	/* ut_own of a thread without its slot */
extern __thread struct umem_tls umem_tls UMEM_TLS;
#define umem_hart	(umem_tls.ut_hart)
#define umem_mode	(umem_tls.ut_state >> UMEM_MODE_SHIFT)
#define umem_depth	(umem_tls.ut_state & UMEM_DEPTH_MASK)

/* Set the calling thread's mode (its slot already set), keeping its depth. */
static inline void umem_set_mode(int mode)
{
	umem_tls.ut_state = mode << UMEM_MODE_SHIFT | umem_depth;
	umem_tls.ut_own = mode == UMEM_OWNER ? umem_tls.ut_hart * MM_CACHE_LINE : UMEM_NOT_OWN;
}

void umem_irq_enter_slow(void);		/* attach, or lock the shared slot */
void umem_irq_leave_shared(void);	/* unlock the shared slot */
int umem_attach(void);			/* give the thread a slot; returns it */

/*
 * Call the trampoline umem_X_quiet of one of the three above as if it
 * clobbered no register (umem_env.c §5): the hit paths that inline
 * irq_save, irq_restore and cpu_id then need no register saves.  The
 * call steps over the caller's 128-byte red zone.
 */
#define UMEM_QUIET_CALL(tramp)								\
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\tcall " #tramp "\n\tlea 128(%%rsp), %%rsp" \
			 ::: "memory", "cc")

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank);
void spin_destroy(spinlock_t *l);
void spin_lock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_held(const spinlock_t *l);

static inline irqflags_t irq_save(void)
{
	int st = umem_tls.ut_state;

	umem_tls.ut_state = st + 1;
	if (__builtin_expect(st != 0, 0) && (st & UMEM_DEPTH_MASK) == 0) {
		/* depth 0, not an owner: umem_irq_enter_slow() attaches or locks */
		UMEM_QUIET_CALL(umem_irq_enter_quiet);
		st = umem_tls.ut_state - 1;	/* the mode it left, depth 0 */
	}
	return (irqflags_t)st;
}

static inline void irq_restore(irqflags_t f)
{
	umem_tls.ut_state = (int)f;
	if (__builtin_expect(f != 0, 0) && (f & UMEM_DEPTH_MASK) == 0)
		UMEM_QUIET_CALL(umem_irq_leave_quiet);	/* umem_irq_leave_shared() */
}

static inline bool irqs_disabled(void) { return umem_depth > 0; }

/*
 * The hit-path bracket (mm/mm_platform.h): a thread that owns its slot
 * (ut_own >= 0) runs a hit path with no bookkeeping at all, since the
 * path calls nothing and nothing else can enter the slot meanwhile (no
 * interrupts; a signal handler that calls malloc is undefined behaviour,
 * and was not guarded against by the depth count either).  Inside a
 * per-hart section that holds too, as it does for a kernel hart with
 * interrupts off.  Every other thread (not attached yet, on the shared
 * slot, running cpu_call_all's function as another slot) gets -1 and the
 * slow path, whose irq_save does the work.
 */
#define MM_HAVE_CPU_HIT	1
#define MM_CPU_HIT_UNIT	MM_CACHE_LINE	/* cpu_hit_enter returns slot * MM_CACHE_LINE */
static inline int cpu_hit_enter(irqflags_t *f)
{
	(void)f;
	return umem_tls.ut_own;
}

static inline void cpu_hit_exit(irqflags_t f) { (void)f; }

static inline unsigned cpu_id(void)
{
	int h = umem_hart;

	if (__builtin_expect(h < 0, 0)) {
		UMEM_QUIET_CALL(umem_attach_quiet);	/* umem_attach() */
		h = umem_hart;
	}
	return (unsigned)h;
}

static inline unsigned cpu_count(void) { return MM_MAX_CPUS; }
static inline int cpu_node(unsigned cpu) { (void)cpu; return 0; }
void cpu_call_all(void (*fn)(void *), void *arg);

/* "Physical" memory is the heap region: identity. */
static inline void *phys_to_virt(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t virt_to_phys(const void *va) { return (paddr_t)(uintptr_t)va; }

uint64_t mm_time_us(void);

/* The flat descriptor map: address space from mmap(MAP_NORESERVE), zero until written. */
void *mm_flat_map(uint64_t bytes);
void mm_flat_unmap(void *map, uint64_t bytes);

/*
 * mm names its caches and arenas with snprintf at start-up; libkmem formats
 * those simple patterns itself, so that a program that never prints does
 * not fault libc's printf engine in (umem_env.c §6).
 */
int umem_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define snprintf umem_snprintf

void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void umem_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define panic(...) umem_panic(__VA_ARGS__)

#define VERIFY(e) ((e) ? (void)0 : panic("VERIFY failed: %s (%s:%d)", #e, __FILE__, __LINE__))
#if MM_DEBUG
#define ASSERT(e) VERIFY(e)
#else
#define ASSERT(e) ((void)0)
#endif

#endif /* UMEM_MM_ENV_H */
