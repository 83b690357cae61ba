/*
 * spinlock.c - spinlocks with owner tracking (see spinlock.h).
 *
 * gcc turns __atomic_exchange_n(..., __ATOMIC_ACQUIRE) on a 32-bit word into
 * amoswap.w.aq, and the release store into fence rw,w + sw (the RVWMO
 * mapping), so the critical section can neither start before the lock is
 * taken nor leak past its release.  The owner field is written only by the
 * holder and read by others just for diagnostics, so it needs no ordering.
 */
#include "arch/riscv/spinlock.h"
#include "arch/riscv/csr.h"
#include "kernel/hart.h"
#include "kernel/printk.h"

void spin_init(spinlock_t *l, const char *name)
{
	l->sl_locked = 0;
	l->sl_owner = -1;
	l->sl_name = name;
	l->sl_acquires = 0;
	l->sl_contended = 0;
}

bool spin_held(const spinlock_t *l)
{
	return l->sl_locked && l->sl_owner == (int32_t)this_cpu();
}

void spin_lock(spinlock_t *l)
{
	if (spin_held(l))
		panic("spin_lock: lock '%s' already held by this hart (cpu %u)",
		      l->sl_name, this_cpu());
	if (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE)) {
		l->sl_contended++;	/* racy count: statistics only */
		do {
			while (__atomic_load_n(&l->sl_locked, __ATOMIC_RELAXED))
				arch_cpu_relax();
		} while (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE));
	}
	l->sl_owner = (int32_t)this_cpu();
	l->sl_acquires++;
}

bool spin_trylock(spinlock_t *l)
{
	if (__atomic_exchange_n(&l->sl_locked, 1, __ATOMIC_ACQUIRE))
		return false;
	l->sl_owner = (int32_t)this_cpu();
	l->sl_acquires++;
	return true;
}

void spin_unlock(spinlock_t *l)
{
	if (!spin_held(l))
		panic("spin_unlock: lock '%s' not held by this hart (cpu %u, owner %d)",
		      l->sl_name, this_cpu(), (int)l->sl_owner);
	l->sl_owner = -1;
	__atomic_store_n(&l->sl_locked, 0, __ATOMIC_RELEASE);
}

unsigned long spin_lock_irqsave(spinlock_t *l)
{
	unsigned long flags = arch_irq_save();

	spin_lock(l);
	return flags;
}

void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags)
{
	spin_unlock(l);
	arch_irq_restore(flags);
}

void spin_force_release(spinlock_t *l)
{
	l->sl_owner = -1;
	__atomic_store_n(&l->sl_locked, 0, __ATOMIC_RELEASE);
}
