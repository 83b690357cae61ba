/*
 * umem_env.c - the environment under mm/ inside a user process (libkmem).
 *
 * 1. Overview
 * -----------
 * mm/ needs harts, interrupt masking, locks, time and output
 * (mm/mm_platform.h).  A process has threads instead of harts and no
 * interrupts; this file maps one onto the other without calling malloc,
 * because it is part of malloc.
 *
 * 2. Harts are thread slots
 * -------------------------
 * There are MM_MAX_CPUS slots.  A thread's first irq_save() (or cpu_id())
 * takes the lowest free slot from umem_slot_used under umem_slot_lock and
 * keeps it in the thread-local umem_hart: from then on cpu_id() is one
 * thread-local load and irq_save() one thread-local add and a test, so the
 * magazine hit path has no lock and no atomic (docs/libkmem.md says why
 * per-thread slots and not per-CPU ones).  A pthread key whose destructor
 * runs at thread exit gives the slot back; the slot's page caches and
 * magazines stay in it and serve the next thread that takes it, so an
 * exiting thread's cached memory returns to the pool of slots instead of
 * being stranded.
 *   The last slot, UMEM_SHARED_HART, is never owned.  A thread that finds no
 * free slot, and a thread that allocates after its slot went back (other
 * libraries' thread-exit code frees memory after our destructor), run on
 * it in mode UMEM_SHARED: their irq_save() at depth 0 takes
 * umem_shared_lock and irq_restore() back to depth 0 drops it, so the
 * shared slot's per-hart state has one user at a time, as a hart's has.
 *
 * 3. Locks
 * --------
 * spinlock_t is a three-state futex lock (0 free, 1 held, 2 held with
 * waiters; Drepper, "Futexes are tricky"): a thread that cannot have the
 * lock sleeps in the kernel instead of spinning, which matters when more
 * threads than cores contend.  The holder is recorded as a per-thread
 * token (not the slot: threads on the shared slot must differ).  Every
 * spin_init'ed lock is on umem_lock_list (umem_list_lock) so that §4 can
 * take them all.
 *
 * 4. fork
 * -------
 * umem_prefork takes, in this order, the shared slot's lock, the slot
 * lock, the list lock and then every mm lock rank by rank (mm/lock_order.h:
 * a thread holding a lock of rank r only ever waits for higher ranks, and
 * never for two locks of one rank, so taking all of rank 1, then all of
 * rank 2, ... cannot deadlock).  A lock that is busy is waited for with
 * the list lock dropped, then the rank is scanned again.  The parent
 * releases everything; the child re-initialises every lock (only the
 * forking thread exists there) and frees every slot but its own.  Other
 * threads' slots are consistent in the child: their hit paths publish a
 * magazine round before moving the top pointer, and everything shared was
 * locked; buffers a slow path held outside any lock at the fork are lost
 * to the child, never corrupted.
 *
 * 5. Quiet calls
 * --------------
 * The hit paths (kmem_cache_alloc, kfree, ...) call into this file only on
 * a thread's first allocation or on the shared slot.  Were those calls
 * plain C calls, the compiler would save and restore registers around
 * them on every hit (a push and a pop each, in the prologue).  So
 * mm_env.h calls them through UMEM_QUIET_CALL, an inline asm call of a
 * trampoline below that saves every register the x86-64 ABI lets a callee
 * clobber (rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-15) around the C function:
 * to the compiler the call clobbers only memory and flags, so the hit
 * paths stay leaf functions.  The asm first steps over the 128-byte red
 * zone, which a leaf function may be using; the trampoline aligns the
 * stack to 16 bytes before its call.
 *
 * 6. Output
 * ---------
 * printk and panic format into a stack buffer with vsnprintf and write(2)
 * it to stderr; panic then abort()s, as glibc does on heap corruption.
 * snprintf is umem_snprintf (mm_env.h): the patterns mm's start-up uses to
 * name caches and arenas (%s, %d, %u, %lu, %%, no flags or widths) are
 * formatted here, anything else by libc's vsnprintf.  libc's printf engine
 * is 64 KiB of text, resident once touched: a program that never prints
 * should not pay for it because its allocator named a cache.
 *
 * 7. The flat descriptor map
 * --------------------------
 * mm_env.h sets MM_PAGE_FLAT: the page allocator asks mm_flat_map for one
 * array of descriptors covering the whole heap (32 bytes per 4 KiB page,
 * 2 MiB for the default 256 MiB heap) and this file reserves it with
 * mmap(PROT_READ | PROT_WRITE, MAP_NORESERVE).  The kernel fills such a
 * mapping with zeros on first touch, which is the "never written"
 * descriptor mm/page.h relies on, and only pages of it that mm writes
 * become resident: a few for a small program (mm/page_init.c §2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mm/mm_platform.h"
#include "umem_impl.h"

__thread struct umem_tls umem_tls UMEM_TLS = { .ut_hart = -1, .ut_state = UMEM_NEW << UMEM_MODE_SHIFT,
					       .ut_own = UMEM_NOT_OWN };
static __thread char umem_token UMEM_TLS;	/* its address names the thread */

/* §5: trampoline NAME calls FN with every caller-saved register preserved. */
#define UMEM_QUIET_TRAMPOLINE(name, fn)						\
	__asm__(".text\n\t.globl " #name "\n\t.hidden " #name "\n\t.type " #name ",@function\n" \
		#name ":\n\t"							\
		"push %rbp\n\tmov %rsp, %rbp\n\t"					\
		"push %rax\n\tpush %rcx\n\tpush %rdx\n\tpush %rsi\n\tpush %rdi\n\t" \
		"push %r8\n\tpush %r9\n\tpush %r10\n\tpush %r11\n\t"		\
		"and $-16, %rsp\n\tsub $256, %rsp\n\t"				\
		"movdqa %xmm0, 0(%rsp)\n\tmovdqa %xmm1, 16(%rsp)\n\t"		\
		"movdqa %xmm2, 32(%rsp)\n\tmovdqa %xmm3, 48(%rsp)\n\t"		\
		"movdqa %xmm4, 64(%rsp)\n\tmovdqa %xmm5, 80(%rsp)\n\t"		\
		"movdqa %xmm6, 96(%rsp)\n\tmovdqa %xmm7, 112(%rsp)\n\t"		\
		"movdqa %xmm8, 128(%rsp)\n\tmovdqa %xmm9, 144(%rsp)\n\t"		\
		"movdqa %xmm10, 160(%rsp)\n\tmovdqa %xmm11, 176(%rsp)\n\t"		\
		"movdqa %xmm12, 192(%rsp)\n\tmovdqa %xmm13, 208(%rsp)\n\t"		\
		"movdqa %xmm14, 224(%rsp)\n\tmovdqa %xmm15, 240(%rsp)\n\t"		\
		"call " #fn "\n\t"							\
		"movdqa 0(%rsp), %xmm0\n\tmovdqa 16(%rsp), %xmm1\n\t"		\
		"movdqa 32(%rsp), %xmm2\n\tmovdqa 48(%rsp), %xmm3\n\t"		\
		"movdqa 64(%rsp), %xmm4\n\tmovdqa 80(%rsp), %xmm5\n\t"		\
		"movdqa 96(%rsp), %xmm6\n\tmovdqa 112(%rsp), %xmm7\n\t"		\
		"movdqa 128(%rsp), %xmm8\n\tmovdqa 144(%rsp), %xmm9\n\t"		\
		"movdqa 160(%rsp), %xmm10\n\tmovdqa 176(%rsp), %xmm11\n\t"		\
		"movdqa 192(%rsp), %xmm12\n\tmovdqa 208(%rsp), %xmm13\n\t"		\
		"movdqa 224(%rsp), %xmm14\n\tmovdqa 240(%rsp), %xmm15\n\t"		\
		"lea -72(%rbp), %rsp\n\t"						\
		"pop %r11\n\tpop %r10\n\tpop %r9\n\tpop %r8\n\t"			\
		"pop %rdi\n\tpop %rsi\n\tpop %rdx\n\tpop %rcx\n\tpop %rax\n\t"	\
		"pop %rbp\n\tret\n\t.size " #name ", .-" #name "\n\t.previous")

UMEM_QUIET_TRAMPOLINE(umem_irq_enter_quiet, umem_irq_enter_slow);
UMEM_QUIET_TRAMPOLINE(umem_irq_leave_quiet, umem_irq_leave_shared);
UMEM_QUIET_TRAMPOLINE(umem_attach_quiet, umem_attach);

static spinlock_t umem_shared_lock;		/* the shared slot (§2) */
static spinlock_t umem_slot_lock;		/* umem_slot_used */
static uint64_t umem_slot_used;			/* bit s: slot s owned */
static spinlock_t umem_list_lock;		/* umem_lock_list */
static spinlock_t *umem_lock_list;		/* every mm lock (§3) */
static pthread_key_t umem_exit_key;
static bool umem_exit_key_ok;
static uint64_t umem_nowner, umem_nshared;	/* attachments to own / the shared slot */

/* ------------------------------------------------------------------ futex lock */

/* Sleep while *w == v. */
static void umem_futex_wait(int *w, int v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

/* Wake one sleeper on w. */
static void umem_futex_wake(int *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Take the lock word (no bookkeeping). */
static inline void umem_word_lock(spinlock_t *l)
{
	int c = 0;

	if (__atomic_compare_exchange_n(&l->sl_word, &c, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	for (int i = 0; i < 100; i++) {		/* a short spin: holders are brief */
		__builtin_ia32_pause();
		c = 0;
		if (__atomic_load_n(&l->sl_word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->sl_word, &c, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
	}
	while (__atomic_exchange_n(&l->sl_word, 2, __ATOMIC_ACQUIRE) != 0)
		umem_futex_wait(&l->sl_word, 2);
}

/* Release the lock word, waking a sleeper if there may be one. */
static inline void umem_word_unlock(spinlock_t *l)
{
	if (__atomic_exchange_n(&l->sl_word, 0, __ATOMIC_RELEASE) == 2)
		umem_futex_wake(&l->sl_word);
}

/* A lock that is not on the fork list (the environment's own). */
static void umem_lock_plain_init(spinlock_t *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	l->sl_name = name;
}

void spin_init(spinlock_t *l, const char *name, enum lock_rank rank)
{
	spinlock_t *p;

	if (rank == 0 || rank >= LOCK_RANK_COUNT)
		panic("spin_init: lock '%s' has rank %u, outside 1..%u (mm/lock_order.h)",
		      name, (unsigned)rank, LOCK_RANK_COUNT - 1);
	umem_word_lock(&umem_list_lock);
	for (p = umem_lock_list; p != NULL && p != l; p = p->sl_next)
		;
	l->sl_word = 0;
	l->sl_owner = NULL;
	l->sl_name = name;
	l->sl_rank = rank;
	if (p == NULL) {		/* not listed yet (re-initialisation keeps its place) */
		l->sl_next = umem_lock_list;
		umem_lock_list = l;
	}
	umem_word_unlock(&umem_list_lock);
}

void spin_destroy(spinlock_t *l)
{
	spinlock_t **pp;

	if (l->sl_owner != NULL)
		panic("spin_destroy: lock '%s' is held", l->sl_name);
	umem_word_lock(&umem_list_lock);
	for (pp = &umem_lock_list; *pp != NULL; pp = &(*pp)->sl_next)
		if (*pp == l) {
			*pp = l->sl_next;
			break;
		}
	umem_word_unlock(&umem_list_lock);
}

void spin_lock(spinlock_t *l)
{
	if (__builtin_expect(l->sl_owner == &umem_token, 0))
		panic("spin_lock: lock '%s' already held by this thread", l->sl_name);
	umem_word_lock(l);
	l->sl_owner = &umem_token;
}

bool spin_trylock(spinlock_t *l)
{
	int c = 0;

	if (!__atomic_compare_exchange_n(&l->sl_word, &c, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	l->sl_owner = &umem_token;
	return true;
}

void spin_unlock(spinlock_t *l)
{
	if (__builtin_expect(l->sl_owner != &umem_token, 0))
		panic("spin_unlock: lock '%s' not held by this thread", l->sl_name);
	l->sl_owner = NULL;
	umem_word_unlock(l);
}

bool spin_held(const spinlock_t *l) { return l->sl_owner == &umem_token; }

/* ------------------------------------------------------------------ harts */

/* pthread key destructor: the exiting thread gives its slot back (§2). */
static void umem_thread_exit(void *arg)
{
	(void)arg;
	if (umem_mode == UMEM_OWNER) {
		umem_word_lock(&umem_slot_lock);
		umem_slot_used &= ~(1ull << umem_hart);
		umem_word_unlock(&umem_slot_lock);
	}
	umem_set_mode(UMEM_SHARED);
	umem_hart = UMEM_SHARED_HART;
}

int umem_attach(void)
{
	uint64_t freebits;
	int s = -1;

	umem_word_lock(&umem_slot_lock);
	freebits = ~umem_slot_used & ((1ull << UMEM_SHARED_HART) - 1);
	if (freebits != 0 && umem_exit_key_ok) {
		s = __builtin_ctzll(freebits);
		umem_slot_used |= 1ull << s;
	}
	if (s < 0)
		umem_nshared++;
	else
		umem_nowner++;
	umem_word_unlock(&umem_slot_lock);
	if (s < 0) {
		umem_hart = UMEM_SHARED_HART;
		umem_set_mode(UMEM_SHARED);
		return UMEM_SHARED_HART;
	}
	umem_hart = s;
	umem_set_mode(UMEM_OWNER);
	pthread_setspecific(umem_exit_key, (void *)1);	/* arms umem_thread_exit */
	return s;
}

void umem_irq_enter_slow(void)
{
	if (umem_mode == UMEM_NEW)
		umem_attach();
	if (umem_mode == UMEM_SHARED)
		umem_word_lock(&umem_shared_lock);
}

void umem_irq_leave_shared(void)
{
	if (umem_mode == UMEM_SHARED)
		umem_word_unlock(&umem_shared_lock);
}

void cpu_call_all(void (*fn)(void *), void *arg)
{
	int saved = umem_hart, state = umem_tls.ut_state, own = umem_tls.ut_own;

	/* quiet system: no slot lock needed; each slot's state with interrupts "off" */
	umem_tls.ut_own = UMEM_NOT_OWN;	/* no hit path on the caller's own slot meanwhile */
	for (unsigned c = 0; c < MM_MAX_CPUS; c++) {
		umem_hart = (int)c;
		umem_tls.ut_state = UMEM_OWNER << UMEM_MODE_SHIFT | ((state & UMEM_DEPTH_MASK) + 1);
		fn(arg);
	}
	umem_hart = saved;
	umem_tls.ut_state = state;
	umem_tls.ut_own = own;
}

void umem_slot_stats(uint64_t *owner, uint64_t *shared, unsigned *inuse)
{
	umem_word_lock(&umem_slot_lock);
	*owner = umem_nowner;
	*shared = umem_nshared;
	*inuse = (unsigned)__builtin_popcountll(umem_slot_used);
	umem_word_unlock(&umem_slot_lock);
}

/* Environment locks, the exit key; before anything else runs. */
int umem_env_init(void)
{
	umem_lock_plain_init(&umem_shared_lock, "umem_shared_hart");
	umem_lock_plain_init(&umem_slot_lock, "umem_slots");
	umem_lock_plain_init(&umem_list_lock, "umem_locks");
	umem_exit_key_ok = pthread_key_create(&umem_exit_key, umem_thread_exit) == 0;
	return 0;
}

/* -------------------------------------------------------------------- fork */

/* Take every mm lock of rank r not yet taken; the list lock is held on entry and exit. */
static void umem_lock_rank(unsigned r)
{
	spinlock_t *l;

again:
	for (l = umem_lock_list; l != NULL; l = l->sl_next) {
		if (l->sl_rank != r || l->sl_owner == &umem_token)
			continue;
		if (!spin_trylock(l)) {
			umem_word_unlock(&umem_list_lock);
			sched_yield();
			umem_word_lock(&umem_list_lock);
			goto again;
		}
	}
}

void umem_prefork(void)
{
	umem_word_lock(&umem_shared_lock);
	umem_word_lock(&umem_slot_lock);
	umem_word_lock(&umem_list_lock);
	for (unsigned r = 1; r < LOCK_RANK_COUNT; r++)
		umem_lock_rank(r);
}

void umem_postfork_parent(void)
{
	for (spinlock_t *l = umem_lock_list; l != NULL; l = l->sl_next)
		if (l->sl_owner == &umem_token)
			spin_unlock(l);
	umem_word_unlock(&umem_list_lock);
	umem_word_unlock(&umem_slot_lock);
	umem_word_unlock(&umem_shared_lock);
}

void umem_postfork_child(void)
{
	for (spinlock_t *l = umem_lock_list; l != NULL; l = l->sl_next) {
		l->sl_word = 0;
		l->sl_owner = NULL;
	}
	umem_slot_used = umem_mode == UMEM_OWNER ? 1ull << umem_hart : 0;
	umem_list_lock.sl_word = 0;
	umem_slot_lock.sl_word = 0;
	umem_shared_lock.sl_word = 0;
}

/* ------------------------------------------------------------ time, output */

uint64_t mm_time_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
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

int umem_out_fd = 2;

/* Write all of buf to umem_out_fd (stderr, or its copy: umem_impl.h). */
static void umem_write(const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(umem_out_fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* Can umem_fmt format fmt: only %s, %d, %u, %lu and %%? */
static bool umem_fmt_simple(const char *fmt)
{
	for (const char *p = strchr(fmt, '%'); p != NULL; p = strchr(p, '%')) {
		p++;
		if (*p == 'l')
			p++;
		if (!(*p == 'u' || (p[-1] == '%' && (*p == 's' || *p == 'd' || *p == '%'))))
			return false;
		p++;
	}
	return true;
}

/* Append c at *len (counted even when it does not fit, as snprintf does). */
static void umem_fmt_put(char *buf, size_t size, size_t *len, char c)
{
	if (*len + 1 < size)
		buf[*len] = c;
	(*len)++;
}

/* Append v in decimal, after a minus sign when neg. */
static void umem_fmt_num(char *buf, size_t size, size_t *len, uint64_t v, bool neg)
{
	char d[20];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (neg)
		umem_fmt_put(buf, size, len, '-');
	while (n > 0)
		umem_fmt_put(buf, size, len, d[--n]);
}

/* vsnprintf for formats umem_fmt_simple accepts. */
static int umem_fmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t len = 0;

	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			umem_fmt_put(buf, size, &len, *p);
			continue;
		}
		p++;
		if (*p == '%') {
			umem_fmt_put(buf, size, &len, '%');
		} else if (*p == 's') {
			const char *s = va_arg(ap, const char *);

			for (s = s != NULL ? s : "(null)"; *s != '\0'; s++)
				umem_fmt_put(buf, size, &len, *s);
		} else if (*p == 'd') {
			int v = va_arg(ap, int);

			umem_fmt_num(buf, size, &len, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
		} else if (*p == 'u') {
			umem_fmt_num(buf, size, &len, va_arg(ap, unsigned), false);
		} else {	/* "lu" */
			p++;
			umem_fmt_num(buf, size, &len, va_arg(ap, unsigned long), false);
		}
	}
	if (size > 0)
		buf[len < size ? len : size - 1] = '\0';
	return (int)len;
}

int umem_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = umem_fmt_simple(fmt) ? umem_fmt(buf, size, fmt, ap) : vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* vprintk into a stack buffer, then one write. */
static void umem_vprint(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n = strlen(prefix);
	int m;

	memcpy(buf, prefix, n);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m > 0)
		n += (size_t)m < sizeof(buf) - n - 1 ? (size_t)m : sizeof(buf) - n - 2;
	umem_write(buf, n);
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	umem_vprint("", fmt, ap);
	va_end(ap);
}

int umem_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	umem_vprint("", fmt, ap);
	va_end(ap);
	return 0;
}

__thread const char *umem_ctx_fn UMEM_TLS;
__thread const void *umem_ctx_ptr UMEM_TLS;

void umem_panic(const char *fmt, ...)
{
	char ctx[96];
	va_list ap;

	if (umem_ctx_fn != NULL)
		snprintf(ctx, sizeof(ctx), "libkmem: in %s(%p): ", umem_ctx_fn, umem_ctx_ptr);
	else
		snprintf(ctx, sizeof(ctx), "libkmem: ");
	va_start(ap, fmt);
	umem_vprint(ctx, fmt, ap);
	va_end(ap);
	umem_write("\n", 1);
	abort();
}
