/*
 * lockstat.c - the registry of named spinlocks and the `lockstat` command.
 *
 * 1. What is measured.  Each spinlock counts its own acquisitions, the
 *    acquisitions whose first attempt failed (contended), the iterations of
 *    the wait loop and the time waited, in rdtime ticks: the sum and the
 *    longest single wait (arch/riscv/spinlock.c; only the contended path
 *    reads the clock).  This file finds the locks and prints the counters.
 * 2. Finding the locks without allocating.  Static locks (SPINLOCK_INIT)
 *    are listed by SPINLOCK_REGISTER in the "spinlocks" linker section.
 *    Locks made by spin_init() -- each zone's, each vmem arena's, a test's --
 *    are linked into one list through their own sl_next/sl_prev fields, so a
 *    lock needs no memory but its own.  spin_init() on a lock that is
 *    already listed (re-initialisation) leaves it listed once: registration
 *    walks the list first, which costs O(locks) at init time only.
 * 3. Freed locks.  The list would dangle if a lock's memory were freed while
 *    listed, so whoever frees a lock calls spin_destroy() first (vmem frees
 *    an arena structure only through vmem_struct_free, which does);
 *    spin_destroy() of a lock that is not listed, or is held, panics.  Each
 *    walk checks that the next lock points back at the current one, so a
 *    lock freed and overwritten while listed is reported (naming the lock
 *    before it) instead of followed into whatever reused its memory.
 *    The list lock is a bare word taken with interrupts off, below every
 *    ranked lock: spin_init and spin_destroy may be called holding anything,
 *    and nothing else is taken under it.
 * 4. The report.  lockstat_dump() copies the counters of every listed lock
 *    into a static table under the list lock (so no lock can be destroyed
 *    while it is read), sorts it by contended acquisitions, most first, then
 *    prints it through the caller's printk-like function.  The table holds
 *    LOCKSTAT_ROWS_MAX locks; more are counted and reported as not shown.
 *    One dump runs at a time; a second caller gets -1 ("busy").  Counters
 *    are read without taking the locks, so a row may be one acquisition
 *    behind its lock.
 * 5. Reset.  `lockstat -r` zeroes every listed lock's counters with plain
 *    stores, without taking the locks: an acquisition racing with the reset
 *    may survive it.  Reset on a quiet system (tests do) to get exact counts.
 */
#include "kernel/lockstat.h"
#include "arch/riscv/csr.h"
#include "kernel/console.h"
#include "kernel/lib.h"
#include "kernel/printk.h"
#include "kernel/timer.h"

#define LOCKSTAT_ROWS_MAX	2048	/* locks one dump can show (128 KiB of rows; virt-numa8 has 1355) */

extern spinlock_t *const __spinlocks_start[], *const __spinlocks_end[];

static volatile uint32_t lockstat_list_word;	/* the list lock: 0 free, 1 held */
static spinlock_t *lockstat_head;		/* spin_init locks, newest first */

/* One lock's counters as one dump saw them. */
struct lockstat_row {
	const spinlock_t *lsr_lock;	/* its address (identity only) */
	const char *lsr_name;
	unsigned lsr_rank;
	uint64_t lsr_acquires;
	uint64_t lsr_contended;
	uint64_t lsr_spins;
	uint64_t lsr_wait_sum;
	uint64_t lsr_wait_max;
};
static struct lockstat_row lockstat_rows[LOCKSTAT_ROWS_MAX];
static uint32_t lockstat_busy;		/* a dump is using lockstat_rows */

/* Take the list lock with interrupts off; returns the old interrupt state. */
static unsigned long lockstat_list_lock(void)
{
	unsigned long flags = arch_irq_save();

	while (__atomic_exchange_n(&lockstat_list_word, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&lockstat_list_word, __ATOMIC_RELAXED))
			arch_cpu_relax();
	return flags;
}

/* Release the list lock and restore interrupts. */
static void lockstat_list_unlock(unsigned long flags)
{
	__atomic_store_n(&lockstat_list_word, 0, __ATOMIC_RELEASE);
	arch_irq_restore(flags);
}

/* True if l is a SPINLOCK_REGISTER lock. */
static bool lockstat_is_static(const spinlock_t *l)
{
	for (spinlock_t *const *p = __spinlocks_start; p < __spinlocks_end; p++)
		if (*p == l)
			return true;
	return false;
}

/*
 * True if l is on the spin_init list (list lock held).  Checks the links on
 * the way: a listed lock whose memory was freed or reused without
 * spin_destroy breaks them; the walk then stops and *broken names the last
 * good lock, for the caller to report once the list lock is released.
 */
static bool lockstat_on_list(const spinlock_t *l, const spinlock_t **broken)
{
	*broken = NULL;
	for (const spinlock_t *s = lockstat_head; s != NULL; s = s->sl_next) {
		if (s == l)
			return true;
		if (s->sl_next != NULL && s->sl_next->sl_prev != s) {
			*broken = s;
			return false;
		}
	}
	return false;
}

/* Panic if a walk found the list broken (called without the list lock). */
static void lockstat_check_broken(const spinlock_t *s)
{
	if (s != NULL)
		panic("lockstat: lock list broken after '%s' (%p): a lock was freed or "
		      "reused without spin_destroy", s->sl_name ? s->sl_name : "?", (const void *)s);
}

bool lockstat_registered(const spinlock_t *l)
{
	const spinlock_t *broken;
	unsigned long flags;
	bool found;

	if (lockstat_is_static(l))
		return true;
	flags = lockstat_list_lock();
	found = lockstat_on_list(l, &broken);
	lockstat_list_unlock(flags);
	lockstat_check_broken(broken);
	return found;
}

void lockstat_register(spinlock_t *l)
{
	const spinlock_t *broken;
	unsigned long flags;

	if (lockstat_is_static(l))
		return;
	flags = lockstat_list_lock();
	if (!lockstat_on_list(l, &broken) && broken == NULL) {
		l->sl_prev = NULL;
		l->sl_next = lockstat_head;
		if (lockstat_head != NULL)
			lockstat_head->sl_prev = l;
		lockstat_head = l;
	}
	lockstat_list_unlock(flags);
	lockstat_check_broken(broken);
}

void lockstat_unregister(spinlock_t *l)
{
	const spinlock_t *broken;
	unsigned long flags = lockstat_list_lock();
	bool listed = lockstat_on_list(l, &broken);

	if (listed) {
		if (l->sl_prev != NULL)
			l->sl_prev->sl_next = l->sl_next;
		else
			lockstat_head = l->sl_next;
		if (l->sl_next != NULL)
			l->sl_next->sl_prev = l->sl_prev;
		l->sl_next = l->sl_prev = NULL;
	}
	lockstat_list_unlock(flags);
	lockstat_check_broken(broken);
	if (!listed)
		panic("spin_destroy: lock '%s' (%p) is not registered: destroyed twice, "
		      "never spin_init'ed, or static", l->sl_name ? l->sl_name : "?", (void *)l);
}

void lockstat_reset_one(spinlock_t *l)
{
	l->sl_acquires = 0;
	l->sl_contended = 0;
	l->sl_spins = 0;
	l->sl_wait_sum = 0;
	l->sl_wait_max = 0;
}

unsigned lockstat_reset(void)
{
	unsigned long flags = lockstat_list_lock();
	unsigned n = 0;

	for (spinlock_t *const *p = __spinlocks_start; p < __spinlocks_end; p++, n++)
		lockstat_reset_one(*p);
	for (spinlock_t *s = lockstat_head; s != NULL; s = s->sl_next, n++)
		lockstat_reset_one(s);
	lockstat_list_unlock(flags);
	return n;
}

/* Copy l's counters into row i if there is room; returns i + 1. */
static unsigned lockstat_snap_one(unsigned i, const spinlock_t *l)
{
	struct lockstat_row *r = &lockstat_rows[i];

	if (i >= LOCKSTAT_ROWS_MAX)
		return i + 1;
	r->lsr_lock = l;
	r->lsr_name = l->sl_name ? l->sl_name : "(unnamed)";
	r->lsr_rank = l->sl_rank;
	r->lsr_acquires = l->sl_acquires;
	r->lsr_contended = l->sl_contended;
	r->lsr_spins = l->sl_spins;
	r->lsr_wait_sum = l->sl_wait_sum;
	r->lsr_wait_max = l->sl_wait_max;
	return i + 1;
}

/* Snapshot every registered lock; returns how many there are (maybe > rows). */
static unsigned lockstat_snapshot(void)
{
	unsigned long flags = lockstat_list_lock();
	unsigned n = 0;

	for (spinlock_t *const *p = __spinlocks_start; p < __spinlocks_end; p++)
		n = lockstat_snap_one(n, *p);
	for (const spinlock_t *s = lockstat_head; s != NULL; s = s->sl_next)
		n = lockstat_snap_one(n, s);
	lockstat_list_unlock(flags);
	return n;
}

/* Does row a go before row b: more contended, then more acquired, first. */
static bool lockstat_before(const struct lockstat_row *a, const struct lockstat_row *b)
{
	if (a->lsr_contended != b->lsr_contended)
		return a->lsr_contended > b->lsr_contended;
	return a->lsr_acquires > b->lsr_acquires;
}

/* Insertion sort of the first n rows (n is small and the dump is rare). */
static void lockstat_sort(unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct lockstat_row r = lockstat_rows[i];
		unsigned j = i;

		for (; j > 0 && lockstat_before(&r, &lockstat_rows[j - 1]); j--)
			lockstat_rows[j] = lockstat_rows[j - 1];
		lockstat_rows[j] = r;
	}
}

int lockstat_dump(int (*out)(const char *fmt, ...))
{
	return lockstat_dump_top(out, LOCKSTAT_ROWS_MAX);
}

int lockstat_dump_top(int (*out)(const char *fmt, ...), unsigned top)
{
	unsigned n, rows, shown;

	if (__atomic_exchange_n(&lockstat_busy, 1, __ATOMIC_ACQUIRE))
		return -1;
	n = lockstat_snapshot();
	rows = n < LOCKSTAT_ROWS_MAX ? n : LOCKSTAT_ROWS_MAX;
	lockstat_sort(rows);
	shown = rows < top ? rows : top;
	out("lockstat: %u locks, most contended first; waits in rdtime ticks (%llu Hz)\n",
	    n, (unsigned long long)timer_hz());
	out("%12s %10s %12s %12s %14s %4s %-18s %s\n", "acquires", "contended", "spins",
	    "wait-max", "wait-total", "rank", "lock", "name");
	for (unsigned i = 0; i < shown; i++) {
		const struct lockstat_row *r = &lockstat_rows[i];

		out("%12llu %10llu %12llu %12llu %14llu %4u 0x%016lx %s\n",
		    (unsigned long long)r->lsr_acquires, (unsigned long long)r->lsr_contended,
		    (unsigned long long)r->lsr_spins, (unsigned long long)r->lsr_wait_max,
		    (unsigned long long)r->lsr_wait_sum, r->lsr_rank, (unsigned long)r->lsr_lock,
		    r->lsr_name);
	}
	if (n > rows)
		out("lockstat: %u more locks not shown (table holds %u)\n", n - rows,
		    LOCKSTAT_ROWS_MAX);
	else if (n > shown)
		out("lockstat: %u less contended locks not shown (top %u)\n", n - shown, top);
	__atomic_store_n(&lockstat_busy, 0, __ATOMIC_RELEASE);
	return (int)shown;
}

#define LOCKSTAT_USAGE	"lockstat [-r]  (-r: zero every lock's counters)"

/* `lockstat`: per-lock contention, most contended first; `lockstat -r` resets. */
static int lockstat_cmd(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "-r") == 0) {
		printk("lockstat: counters of %u locks reset\n", lockstat_reset());
		return 0;
	}
	if (argc != 1) {
		printk("usage: %s\n", LOCKSTAT_USAGE);
		return CONSOLE_USAGE;
	}
	if (lockstat_dump(printk) < 0) {
		printk("lockstat: another hart is printing the table; try again\n");
		return 1;
	}
	return 0;
}
CONSOLE_CMD(lockstat_cmd_reg, "lockstat", "lockstat [-r]: spinlock contention per lock (-r: reset)",
	    lockstat_cmd);
