/*
 * lockstat.h - the registry of named spinlocks and their contention report.
 *
 * spin_init() registers a lock and spin_destroy() removes it; locks defined
 * with SPINLOCK_INIT join through SPINLOCK_REGISTER (arch/riscv/spinlock.h).
 * lockstat_dump() prints one line per registered lock, most contended first,
 * through a printk-like function, so the console command and the tests read
 * the same text.
 */
#ifndef KERNEL_LOCKSTAT_H
#define KERNEL_LOCKSTAT_H

#include <stdbool.h>

#include "arch/riscv/spinlock.h"

void lockstat_register(spinlock_t *l);		/* from spin_init */
void lockstat_unregister(spinlock_t *l);	/* from spin_destroy */
bool lockstat_registered(const spinlock_t *l);

/* Print the table; returns the number of locks printed, -1 if busy. */
int lockstat_dump(int (*out)(const char *fmt, ...));
/* The same, only the `top` most contended rows (the stress report's top 20). */
int lockstat_dump_top(int (*out)(const char *fmt, ...), unsigned top);
/* Zero every registered lock's counters; returns how many locks. */
unsigned lockstat_reset(void);
/* Zero one lock's counters (the caller knows nobody is taking it). */
void lockstat_reset_one(spinlock_t *l);

#endif /* KERNEL_LOCKSTAT_H */
