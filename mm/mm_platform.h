/*
 * mm_platform.h - the only door between mm/ and the machine it runs on.
 *
 * mm/ is portable C.  It knows nothing about RISC-V, QEMU or threads; everything
 * it needs from its host comes through the names below, which an environment
 * header "mm_env.h" supplies.  Three environments run mm:
 *
 *   kernel/mm_env.h      the kernel: spinlocks from arch/riscv, harts via tp,
 *                        interrupt masking with sstatus.SIE, printk/panic.
 *   tests/host/mm_env.h  the host: pthread-backed spinlocks, one "hart" per
 *                        registered thread, printf/abort.
 *   tools/libkmem/mm_env.h  a process's malloc (docs/libkmem.md): futex locks,
 *                        a "hart" per thread slot, write(2)/abort.
 *
 * and a fourth only compiles it (tests/host/mm_env_min/mm_env.h, see below).
 *
 * The build picks one with -I (like libfdt_env.h for libfdt).  Every name an
 * environment must provide:
 *
 *   Types      spinlock_t, irqflags_t, paddr_t (physical address, uint64_t)
 *   Locks      spin_init(l, name, rank), spin_lock(l), spin_unlock(l),
 *              spin_held(l) (held *by the calling hart*), spin_trylock(l),
 *              spin_destroy(l) (before the lock's memory is freed: the
 *              kernel keeps every spin_init lock on a list for lockstat);
 *              ranks are enum lock_rank from mm/lock_order.h, and a debug
 *              environment panics on an acquisition out of rank order
 *   Interrupts irqflags_t irq_save(void), void irq_restore(irqflags_t)
 *              (local hart only; the per-hart fast paths run between them),
 *              bool irqs_disabled(void) (interrupts off on the calling hart)
 *   Harts      unsigned cpu_id(void)       dense id of the caller, 0..MM_MAX_CPUS-1
 *              unsigned cpu_count(void)    harts online
 *              int cpu_node(unsigned cpu)  NUMA node of a hart
 *              void cpu_call_all(void (*fn)(void *), void *arg)
 *                         run fn(arg) on every online hart (each on itself,
 *                         interrupts off) and return when all have finished
 *              MM_CPU_PTR(), MM_CPU_PTR_SET(cpu, p)   optional: a per-hart
 *                         void * slot for mm, reached faster than an array
 *                         indexed by cpu_id(); without it mm uses the array
 *   Hit paths  optional (MM_HAVE_CPU_HIT): int cpu_hit_enter(irqflags_t *f)
 *              and void cpu_hit_exit(irqflags_t f) bracket a per-hart hit
 *              path that calls nothing and touches only the caller's
 *              per-hart data.  cpu_hit_enter returns the caller's cpu_id()
 *              times MM_CPU_HIT_UNIT, or a negative value when this hart
 *              cannot run a hit path now; the caller then takes its slow
 *              path, which uses irq_save.  MM_CPU_HIT_UNIT is 1 unless the
 *              environment sets MM_CACHE_LINE: then the value is the byte
 *              offset of the hart's line in an array of per-hart lines, and
 *              the hit path indexes that array without a shift.  Without
 *              them (below) they are irq_save + cpu_id and irq_restore,
 *              never negative.
 *              libkmem's thread slot needs no masking, so there the pair is
 *              one thread-local load and a test.
 *   Memory     void *phys_to_virt(paddr_t), paddr_t virt_to_phys(const void *)
 *   Time       uint64_t mm_time_us(void)   microseconds since boot (any
 *                         monotonic origin); kmem's audit records use it
 *   Output     printk(fmt, ...)            printf-like, %d %u %x %lx %llx %p %s %c %zu
 *              panic(fmt, ...)             never returns
 *              snprintf(buf, n, fmt, ...)  the same formats into a buffer (dumps,
 *                                          check messages)
 *   Checks     ASSERT(expr)                invariant, compiled out when !MM_DEBUG
 *              VERIFY(expr)                always on; panics naming expr, file, line
 *   Limits     MM_MAX_CPUS, MM_MAX_NODES, MM_CACHE_LINE;
 *              MM_MIN_ALIGN optional: the least alignment of every object
 *              cache buffer (default 8, a pointer; user-space malloc sets 16);
 *              MM_PAGE_SECT_SHIFT optional: log2 of the page allocator's
 *              section (default 27, 128 MiB; at least 22, mm/page.h)
 *   Memory map MM_PAGE_FLAT optional: defined when the environment can give
 *              the page allocator one virtually contiguous array of page
 *              descriptors for all of memory (Linux's vmemmap), zero-filled
 *              and costing nothing where never written (mm/page.h); it then
 *              provides
 *              void *mm_flat_map(uint64_t bytes)      NULL when refused
 *              void mm_flat_unmap(void *map, uint64_t bytes)
 *   Bits       MM_FAST_CLZ: 1 when __builtin_clzll/ctzll are single
 *              instructions; 0 makes mm_highbit/mm_lowbit below use a short
 *              inline search instead of libgcc's out-of-line helpers
 *   Strings    memset, memcpy, memmove, memcmp, strlen, strcmp: the usual
 *              names, libc on the host, kernel/lib on the kernel
 *
 * Atomics are the compiler's __atomic builtins, which are portable; the
 * types come from <stdbool.h>, <stddef.h> and <stdint.h>, and the lock ranks
 * from mm/lock_order.h.  Nothing else: `make mm-env-check` compiles every
 * mm source file against tests/host/mm_env_min/mm_env.h, which declares
 * exactly the names above (MM_CPU_PTR both present and absent), with no
 * libc headers, so a name mm uses but this list omits fails that check.
 */
#ifndef MM_PLATFORM_H
#define MM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_env.h"

#ifndef MM_HAVE_CPU_HIT
/* The default hit-path bracket: interrupts off, and the hart's id. */
static inline int cpu_hit_enter(irqflags_t *f)
{
	int cpu;

	*f = irq_save();
	cpu = (int)cpu_id();
	if (cpu < 0)		/* never (ids are below MM_MAX_CPUS): no test on the hit path */
		__builtin_unreachable();
	return cpu;
}

static inline void cpu_hit_exit(irqflags_t f) { irq_restore(f); }
#endif
#ifndef MM_CPU_HIT_UNIT
#define MM_CPU_HIT_UNIT	1	/* cpu_hit_enter returns cpu_id() */
#endif

#define MM_PAGE_SHIFT	12
#define MM_PAGE_SIZE	((uint64_t)1 << MM_PAGE_SHIFT)

/* Pad a per-hart structure so two harts never share a cache line. */
#define MM_CACHE_ALIGNED __attribute__((aligned(MM_CACHE_LINE)))

/* floor(log2(x)) for x > 0: the index of the highest set bit. */
static inline unsigned mm_highbit(uint64_t x)
{
#if MM_FAST_CLZ
	return 63u - (unsigned)__builtin_clzll(x);
#else
	unsigned n = 0;

	for (unsigned s = 32; s != 0; s >>= 1)	/* unrolled by the compiler */
		if (x >> s) {
			x >>= s;
			n += s;
		}
	return n;
#endif
}

/* Index of the lowest set bit of x > 0. */
static inline unsigned mm_lowbit(uint64_t x)
{
#if MM_FAST_CLZ
	return (unsigned)__builtin_ctzll(x);
#else
	return mm_highbit(x & -x);
#endif
}

#endif /* MM_PLATFORM_H */
