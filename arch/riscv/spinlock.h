/*
 * spinlock.h - ticket-free test-and-set spinlocks with owner tracking.
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
 */
#ifndef ARCH_RISCV_SPINLOCK_H
#define ARCH_RISCV_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/lock_order.h"

typedef struct spinlock {
	volatile uint32_t sl_locked;	/* 0 free, 1 held */
	int32_t sl_owner;		/* cpu id of the holder, -1 when free */
	const char *sl_name;		/* for panic messages and dumps */
	unsigned sl_rank;		/* enum lock_rank: its place in the lock order */
	uint64_t sl_acquires;		/* statistics: times taken */
	uint64_t sl_contended;		/* times the first attempt failed */
} spinlock_t;

#define SPINLOCK_INIT(name, rank) { 0, -1, name, rank, 0, 0 }

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank);
void spin_lock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_held(const spinlock_t *l);
unsigned long spin_lock_irqsave(spinlock_t *l);
void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags);

/* Used by panic() to print without deadlocking on a lock it may hold. */
void spin_force_release(spinlock_t *l);

#endif /* ARCH_RISCV_SPINLOCK_H */
