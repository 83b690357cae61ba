/*
 * spinlock.h - test-and-set spinlocks with owner tracking and contention
 * statistics.
 *
 * A lock is one word taken with amoswap.w.aq and released with a release
 * store, which gcc 12 emits as `fence iorw,ow; amoswap.w zero,zero` (so
 * everything written inside the critical section is visible before the lock
 * reads free).  Every lock carries a name, a rank (mm/lock_order.h: debug
 * builds panic when a hart takes locks out of rank order) and the logical
 * cpu that holds it: taking a lock this hart already holds, or releasing one
 * it does not hold, panics with the lock's name.
 *
 * spin_lock() does not touch interrupts; spin_lock_irqsave() disables them on
 * the local hart first and hands back the old state.  Code that can also be
 * reached from an interrupt handler must use the irqsave form.
 *
 * Statistics (kernel/lockstat.c prints them: the `lockstat` command).  The
 * counters are written only by the hart that has just taken the lock, so
 * they are exact without atomics.  The uncontended path counts one
 * acquisition and nothing else; a failed first attempt goes to an
 * out-of-line contended path that also counts the contention, the spin
 * iterations and the wait, timed with rdtime (ticks of timer_hz(), 10 MHz on
 * QEMU virt) from the failed attempt to the successful one.
 *
 * Registry.  Every lock lockstat can see is on one of two lists:
 *   - static locks: SPINLOCK_INIT plus SPINLOCK_REGISTER(var) puts a pointer
 *     to var in the "spinlocks" linker section;
 *   - locks made by spin_init(): linked through sl_next/sl_prev into
 *     kernel/lockstat.c's list.  A lock in memory that is freed or reused
 *     must leave the list first with spin_destroy(), or the list would hold
 *     a dangling pointer; spin_destroy() panics for a lock that is held or
 *     not registered.
 */
#ifndef ARCH_RISCV_SPINLOCK_H
#define ARCH_RISCV_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/lock_order.h"

/* A contended wait spins SPIN_NAP_AFTER_US, then naps SPIN_NAP_US in wfi, and
 * again (spinlock.c, "Napping waiters"). */
#define SPIN_NAP_AFTER_US	20
#define SPIN_NAP_US		50

typedef struct spinlock {
	volatile uint32_t sl_locked;	/* 0 free, 1 held */
	int32_t sl_owner;		/* cpu id of the holder, -1 when free */
	const char *sl_name;		/* for panic messages and dumps */
	unsigned sl_rank;		/* enum lock_rank: its place in the lock order */
	uint32_t sl_waiters;		/* harts in the contended path now (atomic) */
	/* statistics, written by the holder only */
	uint64_t sl_acquires;		/* times taken (spin_lock and spin_trylock) */
	uint64_t sl_contended;		/* times spin_lock's first attempt failed */
	uint64_t sl_spins;		/* wait-loop iterations over all contended takes */
	uint64_t sl_wait_sum;		/* rdtime ticks spent waiting, summed */
	uint64_t sl_wait_max;		/* longest single wait, rdtime ticks */
	uint64_t sl_naps;		/* naps in wfi during contended waits */
	/* registry (kernel/lockstat.c), under its list lock */
	struct spinlock *sl_next;	/* spin_init locks: next on the list */
	struct spinlock *sl_prev;	/* and previous */
} spinlock_t;

#define SPINLOCK_INIT(name, rank)							\
	{ .sl_locked = 0, .sl_owner = -1, .sl_name = (name), .sl_rank = (rank) }

/* Make a statically initialised lock visible to lockstat (file scope). */
#define SPINLOCK_REGISTER(var)								\
	static spinlock_t *const var##_lockstat						\
	__attribute__((used, section("spinlocks"), aligned(8))) = &(var)

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank);
void spin_destroy(spinlock_t *l);	/* before the lock's memory is freed */
void spin_lock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_held(const spinlock_t *l);
unsigned long spin_lock_irqsave(spinlock_t *l);
void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags);

/* Used by panic() to print without deadlocking on a lock it may hold. */
void spin_force_release(spinlock_t *l);

#endif /* ARCH_RISCV_SPINLOCK_H */
