/*
 * stress_impl.h - structures shared by the stress files (theory statement in
 * kernel/stress.c):
 *   stress.c         the run: set-up, start line, ticks, watchdog, failure, end
 *   stress_kinds.c   the kinds: caches, arena, stress_op_* wrappers, patterns
 *   stress_mix.c     the per-hart loop: steps, remote frees, polling, pressure
 *   stress_mbox.c    the per-hart mailboxes for frees on another hart
 *   stress_verify.c  the before/after snapshots, the verification, the report
 */
#ifndef KERNEL_STRESS_IMPL_H
#define KERNEL_STRESS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/hart.h"
#include "mm/kmem.h"
#include "mm/page.h"
#include "mm/vmem.h"

/* The kinds of allocation in the mix (stress_kind_names[] prints them). */
enum stress_kind {
	SK_CACHE,		/* an object from one of the run's own caches */
	SK_KMALLOC,		/* kmalloc 8 B .. 1 MiB */
	SK_PAGE,		/* page_alloc, orders 0..10, zone and node flags */
	SK_VMEM,		/* vmem_alloc / vmem_xalloc on the run's own arena */
	SK_HEAP,		/* vmem_xalloc on the kernel heap (kmem_heap) */
	SK_DMA,			/* dma_alloc_coherent from a DMA pool */
	SK_NKINDS
};
extern const char *const stress_kind_names[SK_NKINDS];

#define STRESS_NCACHES		12	/* the run's own object caches */
#define STRESS_SLOTS		256	/* objects one hart holds at most in the mix */
#define STRESS_SLOTS_ALL	2048	/* ... and all harts together (at least 16 each) */
#define STRESS_MBOX_CAP		64	/* entries per mailbox (a power of two) */
#define STRESS_KMALLOC_MAX	(1u << 20)	/* largest kmalloc of the mix */
#define STRESS_FILL_FULL	4096	/* objects up to this are filled whole */
#define STRESS_PRESSURE_HARTS	8	/* harts that run pressure rounds, at most */
#define STRESS_PRESSURE_ANY_MAX	(8ULL << 30)	/* above: pressure on DMA32/DMA only */

/* so_flags */
#define SOF_XALLOC	0x01	/* vmem: from vmem_xalloc (free with vmem_xfree) */

/* One allocation held by the mix (a slot, or a mailbox entry). */
struct stress_obj {
	void *so_ptr;		/* CPU address of the memory */
	size_t so_size;		/* bytes asked for (pages: 4096 << order) */
	uint64_t so_seq;	/* the owner's sequence number, in the pattern */
	uint64_t so_aux;	/* page: physical address; dma: bus address */
	uint16_t so_owner;	/* the hart that allocated it, in the pattern */
	uint8_t so_kind;	/* enum stress_kind */
	uint8_t so_sub;		/* cache index or page order */
	uint8_t so_flags;	/* SOF_* */
};

/* A bounded MPSC queue (Vyukov's): any hart puts, only the owner takes. */
struct stress_mcell {
	uint64_t mc_seq;		/* position it may be written at / read at - 1 */
	struct stress_obj mc_obj;	/* the entry */
};
struct stress_mbox {
	uint64_t mb_put __attribute__((aligned(64)));	/* next position to claim (CAS) */
	uint64_t mb_take __attribute__((aligned(64)));	/* next position to read (owner) */
	struct stress_mcell mb_cell[STRESS_MBOX_CAP];	/* the ring, indexed by position mod cap */
};

/* One hart's workload; written only by that hart (hart 0 reads the counters). */
struct stress_hart {
	/* identity and mix: set before the start */
	unsigned sh_cpu;		/* this hart */
	int sh_node;			/* its NUMA node */
	uint64_t sh_rng;		/* xorshift state, from the seed */
	unsigned sh_weight[SK_NKINDS];	/* the hart's mix: relative weights per kind */
	uint64_t sh_budget;		/* bytes it may hold outside pressure rounds */
	unsigned sh_slots;		/* objects it may hold (STRESS_SLOTS_ALL / harts) */

	/* counters: plain stores by the owner, plain loads by hart 0 */
	volatile uint64_t sh_ops;	/* allocations + frees */
	volatile uint64_t sh_fails;	/* allocations that failed (handled) */
	uint64_t sh_kind_ops[SK_NKINDS];	/* operations per kind */
	uint64_t sh_remote_sent;	/* frees handed to another hart's mailbox */
	uint64_t sh_remote_node;	/* ... of which to a hart on another node */
	uint64_t sh_remote_done;	/* frees done for other harts */
	uint64_t sh_mbox_full;		/* a full mailbox: freed here instead */
	uint64_t sh_pressure_rounds;	/* pressure rounds run */
	uint64_t sh_pressure_allocs;	/* allocations held by them */
	uint64_t sh_bad_constraint;	/* vmem results that broke their constraints */
	uint64_t sh_seq;		/* sequence numbers handed out */

	/* held objects */
	unsigned sh_nheld;		/* slots in use */
	uint64_t sh_held_bytes;		/* bytes they hold */
	struct stress_obj *sh_slot;	/* STRESS_SLOTS slots */
	void *sh_plist;			/* pressure list (linked through the objects) */

	/* polling */
	unsigned sh_pressure_seen;	/* last pressure epoch this hart ran */
	uint64_t sh_next_reap_us;	/* next kmem_reap_local / kmem_reap */
	bool sh_corrupted;		/* stress_corrupt: done */
	volatile int sh_phase;		/* 0 running, 1 freed all it held, 2 finished */
	const char *volatile sh_where;	/* what it is doing (kind, "free", ...): for hangs */
	struct stress_mbox *sh_mbox;	/* frees other harts send to this one */
} __attribute__((aligned(64)));

/* The run (one at a time). */
struct stress_run {
	/* configuration: set before the start */
	uint64_t sr_seed;		/* the seed (printed; replays the mix) */
	unsigned sr_seconds;		/* length of the mixed phase */
	unsigned sr_nharts;		/* harts taking part (all online) */
	unsigned sr_nnodes;		/* NUMA nodes */
	unsigned sr_fail_every;		/* failure injection rate, 0 off */
	unsigned sr_remote;		/* percent of frees sent to another hart */
	bool sr_leak, sr_corrupt;	/* self-test hooks */
	bool sr_hang_test;		/* ... and stress_hang=1 */
	unsigned sr_kinds;		/* kinds in the mix: bit per enum stress_kind */
	bool sr_dma;			/* DMA pools exist: the dma kind runs */
	bool sr_dma_zone;		/* a DMA zone exists: PAGE_DMA / KM_DMA requests */
	uint64_t sr_mem_bytes;		/* memory the zones manage */
	unsigned sr_hang_s;		/* seconds without progress that count as a hang */
	kmem_cache_t *sr_cache[STRESS_NCACHES];	/* the run's caches */
	vmem_t *sr_arena;		/* the run's own arena */
	void *sr_arena_mem;		/* the heap memory it manages */
	size_t sr_arena_size;		/* its size */
	vmem_t *sr_heap;		/* the kernel heap arena (kmem_heap) */
	struct stress_hart *sr_hart[MAX_CPUS];	/* per hart (kmalloc'd) */

	/* shared state (atomics) */
	unsigned sr_arrived;		/* harts at the start line */
	volatile int sr_go;		/* the mixed phase runs */
	volatile int sr_stop;		/* stop allocating, give everything back */
	volatile unsigned sr_pressure;	/* pressure epoch (hart 0 bumps it) */
	unsigned sr_freed;		/* harts that have freed what they held */
	unsigned sr_done;		/* harts that have emptied their mailbox too */
	volatile int sr_failed;		/* a failure was found: everyone parks */
	unsigned sr_parked;		/* harts parked after a failure */
	char sr_reason[160];		/* the first failure, for the last line */

	/* hart 0 only */
	uint64_t sr_t0_us;		/* the start */
	uint64_t sr_stop_us;		/* the stop */
	uint64_t sr_last_tick_us;	/* the previous `stress: t=` line */
	unsigned sr_ticks;		/* seconds ticked so far */
	uint64_t sr_last_ops[MAX_CPUS];	/* ops at the previous tick */
	uint64_t sr_last_fails;		/* fails at the previous tick */
	uint64_t sr_idle_us[MAX_CPUS];	/* time without progress per hart */
	uint64_t sr_idle_ops[MAX_CPUS];	/* ... and the others' progress meanwhile */
	uint64_t sr_last_progress;	/* stress_progress() at the previous tick */
	uint64_t sr_stall_us;		/* time in which no hart made progress */
	uint64_t sr_ops;		/* all harts' ops, summed at the end */
	uint64_t sr_injected[3];	/* failures injected per layer (FAIL_NSITES) */
};

extern struct stress_run stress_run;

/* stress.c */
void stress_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void stress_poll_hart0(struct stress_hart *sh);
void stress_park_if_failed(void);

/* A word of the pattern: owner hart, sequence number, word index (stress.c §3). */
#define STRESS_PAT(owner, seq, i)	((0x5ULL << 60) | ((uint64_t)((owner) & 0xff) << 52) | \
					 (((seq) & 0xfffffffffULL) << 16) | ((i) & 0xffff))

/* stress_kinds.c */
uint64_t stress_rand(struct stress_hart *sh);
/* A random number below n (n > 0). */
static inline uint64_t stress_below(struct stress_hart *sh, uint64_t n)
{
	return stress_rand(sh) % n;
}
unsigned stress_pressure_stride(void);
bool stress_heavy(const struct stress_hart *sh);
bool stress_alloc(struct stress_hart *sh, enum stress_kind k, struct stress_obj *o);
void stress_obj_release(struct stress_hart *sh, const struct stress_obj *o);
void stress_page_constraints(paddr_t pa, unsigned order, unsigned flags);
void *stress_op_kmalloc(size_t size, int kmflag, int node);
void stress_op_kmalloc_free(void *p);
paddr_t stress_op_page_alloc(unsigned order, unsigned flags);
int stress_op_page_free(paddr_t pa, unsigned order);
bool stress_caches_create(void);
void stress_caches_destroy(void);
bool stress_arena_create(void);
void stress_arena_destroy(void);

/* stress_mix.c */
void stress_hart_setup(struct stress_hart *sh, unsigned cpu);
void stress_hart_run(struct stress_hart *sh);
void stress_leak_one(struct stress_hart *sh);
void stress_hang_one(struct stress_hart *sh);
#define STRESS_WAIT_NAP_US	1000	/* a waiting hart's nap (its host thread sleeps) */

/* stress_mbox.c */
void stress_mbox_init(struct stress_mbox *mb);
bool stress_mbox_put(struct stress_mbox *mb, const struct stress_obj *o);
unsigned stress_mbox_drain(struct stress_hart *sh);

/* stress_verify.c */
void stress_snapshot_before(void);
bool stress_verify(void);
void stress_report_levels(void);
void stress_report_pressure(void);
void stress_drain_everything(void);

#endif /* KERNEL_STRESS_IMPL_H */
