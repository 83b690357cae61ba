/*
 * host_env.c - the host implementation of the mm/ platform interface
 * (tests/host/mm_env.h): pthread spinlocks with owners, thread-local hart ids,
 * and a panic that can be caught by tests (host_panic_expect()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <time.h>

#include "mm_env.h"
#include "host_env.h"

__thread int host_cpu = -1;
__thread int host_irq_depth;
/* Locks this thread holds, for the lock-order check (mm/lock_order.h). */
static __thread struct lock_held_set host_locks;

static unsigned host_ncpus = 1;
static int host_nodes[MM_MAX_CPUS];

/* A test that expects a panic arms this jump buffer (see host_env.h). */
__thread jmp_buf *host_panic_jmp;
__thread char host_panic_msg[512];

void host_cpu_register(unsigned cpu, int node)
{
	if (cpu >= MM_MAX_CPUS) {
		fprintf(stderr, "host_cpu_register: cpu %u >= MM_MAX_CPUS\n", cpu);
		abort();
	}
	host_cpu = (int)cpu;
	host_nodes[cpu] = node;
}

void host_cpus_online(unsigned ncpus) { host_ncpus = ncpus; }
void host_cpu_set_node(unsigned cpu, int node) { host_nodes[cpu] = node; }

unsigned cpu_id(void)
{
	if (host_cpu < 0) {
		/* An unregistered thread is hart 0: keeps single-threaded tests short. */
		host_cpu = 0;
	}
	return (unsigned)host_cpu;
}

unsigned cpu_count(void) { return host_ncpus; }
int cpu_node(unsigned cpu) { return cpu < MM_MAX_CPUS ? host_nodes[cpu] : 0; }

void cpu_call_all(void (*fn)(void *), void *arg)
{
	int saved = host_cpu;

	for (unsigned c = 0; c < host_ncpus; c++) {
		host_cpu = (int)c;
		irqflags_t f = irq_save();
		fn(arg);
		irq_restore(f);
	}
	host_cpu = saved;
}

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank)
{
	if (rank == 0 || rank >= LOCK_RANK_COUNT)
		panic("spin_init: lock '%s' has rank %u, outside 1..%u (mm/lock_order.h)",
		      name, (unsigned)rank, LOCK_RANK_COUNT - 1);
	if (spin_held(l))			/* re-initialised after a caught panic */
		lock_held_forget(&host_locks, l->sl_rank);
	pthread_spin_init(&l->sl_lock, PTHREAD_PROCESS_PRIVATE);
	l->sl_name = name;
	l->sl_rank = rank;
	l->sl_owner = -1;
}

void spin_destroy(spinlock_t *l)
{
	if (__atomic_load_n(&l->sl_owner, __ATOMIC_RELAXED) != -1)
		panic("spin_destroy: %s is held by hart %d", l->sl_name, l->sl_owner);
	pthread_spin_destroy(&l->sl_lock);
}

/* Record l in this thread's held set; too deep a nesting is a bug. */
static void host_note_held(const spinlock_t *l)
{
	if (!lock_held_add(&host_locks, l->sl_name, l->sl_rank))
		panic("spin_lock: 256 locks of rank %u held (taking %s)", l->sl_rank, l->sl_name);
}

void spin_lock(spinlock_t *l)
{
	if (spin_held(l))
		panic("spin_lock: %s already held by this hart %d", l->sl_name, l->sl_owner);
	if (LOCK_DEBUG && !lock_order_ok(&host_locks, l->sl_rank)) {
		unsigned r = lock_order_conflict(&host_locks, l->sl_rank);

		panic("spin_lock: lock order violation: taking %s (rank %u) while holding %s "
		      "(rank %u); see mm/lock_order.h", l->sl_name, l->sl_rank,
		      host_locks.lhs_name[r], r);
	}
	pthread_spin_lock(&l->sl_lock);
	__atomic_store_n(&l->sl_owner, (int)cpu_id(), __ATOMIC_RELAXED);
	host_note_held(l);
}

bool spin_trylock(spinlock_t *l)
{
	if (pthread_spin_trylock(&l->sl_lock) != 0)
		return false;
	__atomic_store_n(&l->sl_owner, (int)cpu_id(), __ATOMIC_RELAXED);
	host_note_held(l);
	return true;
}

void spin_unlock(spinlock_t *l)
{
	if (!spin_held(l))
		panic("spin_unlock: %s not held by hart %u", l->sl_name, cpu_id());
	lock_held_remove(&host_locks, l->sl_rank);
	__atomic_store_n(&l->sl_owner, -1, __ATOMIC_RELAXED);
	pthread_spin_unlock(&l->sl_lock);
}

bool spin_held(const spinlock_t *l)
{
	return __atomic_load_n(&l->sl_owner, __ATOMIC_RELAXED) == (int)cpu_id();
}

static __thread char host_cap_text[HOST_CAPTURE_MAX];	/* see host_env.h */
static __thread size_t host_cap_len;			/* characters in it */
static __thread int host_cap_truncated;			/* something did not fit */

void host_capture_reset(void)
{
	host_cap_len = 0;
	host_cap_text[0] = 0;
	host_cap_truncated = 0;
}

int host_capture(const char *fmt, ...)
{
	size_t room = sizeof(host_cap_text) - host_cap_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(host_cap_text + host_cap_len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return n;
	if ((size_t)n >= room) {
		host_cap_truncated = 1;
		host_cap_len = sizeof(host_cap_text) - 1;
	} else {
		host_cap_len += (size_t)n;
	}
	return n;
}

char *host_captured(void) { return host_cap_text; }
int host_capture_truncated(void) { return host_cap_truncated; }

void host_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(host_panic_msg, sizeof(host_panic_msg), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(host_panic_msg + n, sizeof(host_panic_msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (host_panic_jmp) {
		jmp_buf *jb = host_panic_jmp;

		host_panic_jmp = NULL;
		longjmp(*jb, 1);
	}
	fprintf(stderr, "panic: %s\n", host_panic_msg);
	abort();
}

void *mm_flat_map(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void mm_flat_unmap(void *map, uint64_t bytes)
{
	munmap(map, bytes);
}

uint64_t mm_time_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
