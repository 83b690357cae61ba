/*
 * qprof.c - QEMU 7.2 TCG plugin (plugin API version 1): per-vCPU instruction,
 * atomic and per-function counts, exact counts between kernel markers, a
 * call graph from a shadow call stack, an L1 data cache model and a table of
 * lines written by several harts.
 *
 * Theory of operation
 * ===================
 *
 * 1. Overview and vocabulary
 * --------------------------
 * A *TB* (translation block) is the straight-line run of guest instructions
 * TCG translates as a unit.  At translation time we inspect every instruction
 * of the TB once and build a *TB record* (struct qp_tb): its instruction
 * count, its LR / SC / AMO counts, its *segments* (runs of instructions that
 * belong to one ELF symbol) and its *marks* (instructions that are the entry
 * of a marker function).  One TB-exec callback per TB execution then adds the
 * record to the counters of the executing vCPU, and moves its shadow call
 * stack (section 6).  No per-instruction callback is registered unless the
 * cache model is on (cache=on: a memory callback per instruction, section
 * 7), which keeps the slowdown near the 1.3-1.5x PLATFORM.md measured for a
 * bare TB-exec callback.
 *
 * A *window* is what one vCPU executes between a hit of the begin marker
 * (prof_begin) and the next hit of the end marker (prof_end).  A *region* is
 * a pair of windows opened by the kernel's prof_region(): its entry hits the
 * region marker (prof_region_mark), then it runs a calibration window (the
 * loop with an empty callback) and a measured window (the loop with the real
 * callback), each of K iterations.  tools/profile.py joins regions with the
 * kernel's "prof: region" console lines.
 *
 * 2. Data structures and invariants
 * ---------------------------------
 * - qp_funcs[] interns symbol names; id 0 is "[unknown]", id 1 is
 *   "[overflow]" (table full).  Ids never change.  Code without an ELF
 *   symbol (OpenSBI, assembly lacking .type/.size) is accounted to a name
 *   "[nosym@0xBASE]" per 2 MiB region, so firmware and kernel stay apart.
 * - qp_vcpus[i] belongs to vCPU i (vcpu_index).  Only that vCPU's thread
 *   writes it, so its counters need no atomics; the struct is cache-line
 *   aligned so vCPUs never share a line.
 * - A TB record is immutable after translation and lives until exit (7.2
 *   tells a plugin nothing when a TB is freed; records are small and a
 *   kernel run translates a bounded amount of code).
 * - Invariant: at every TB boundary v_insns is exactly the number of
 *   instructions the vCPU executed (under the precision rules of section 3).
 *
 * - Each TB record also has a *kind*, decided at translation: *idle* if it
 *   holds a wfi (a hart waiting for an interrupt: the kernel's idle and
 *   cross-call waits, and OpenSBI's loop for harts not yet started), *spin*
 *   if its last instruction is a branch or jump back to its own first
 *   instruction (a busy-wait loop such as spin_lock's inner load loop), else
 *   *work*; and whether it is *firmware*: its first instruction has no ELF
 *   symbol.  Each vCPU counts instructions per (firmware, kind) so the
 *   report can separate waiting from work.  A wait loop with a call in it
 *   (xcall_finish polling smp_poll_ipi) is work except for its wfi TB.
 *
 * 3. Precision
 * ------------
 * Counts are added when a TB starts, so they are exact as long as every TB
 * runs to its end.  Interrupts are only taken between TBs, and TBs end at
 * every jump, branch, ecall and CSR write that changes state, so in practice
 * the only overcount comes from a synchronous exception in the middle of a
 * TB (page fault, misaligned or illegal instruction): the instructions after
 * the faulting one are counted although they did not run.  Running QEMU with
 * -singlestep (one instruction per TB) removes even that, at a large cost in
 * speed; docs/profiling.md shows both agree on the marker tests.
 *
 * A mark is placed at instruction index k of a TB when that instruction is
 * the first of a run with the marker's symbol.  A window therefore covers
 * exactly the instructions from the first instruction of prof_begin
 * (included) to the first instruction of prof_end (excluded): prof_begin's
 * body and return, the measured code, and the call into prof_end.  This is
 * exact provided the marker functions are straight-line code that starts a
 * TB only at its entry, which kernel/prof.c guarantees (empty noinline
 * functions aligned to 64 bytes, so they never straddle a page).  A window
 * counts everything its vCPU executes, including interrupt handlers that
 * run inside it; nested windows are not supported (a second begin restarts
 * the window and is reported as "reopened").  LR, SC and AMO are counted
 * when executed, whether or not an SC succeeds.
 *
 * 4. Concurrency
 * --------------
 * Under MTTCG vCPUs run on separate host threads and may translate at the
 * same time, so the symbol table is guarded by qp_func_lock.  Exec callbacks
 * touch only their own vCPU's struct.  The report runs at exit, possibly
 * while other vCPU threads still run (the test device exits from a vCPU
 * thread): windows are published with a release store of the window count,
 * so the report reads only complete entries; counters may be a few TBs
 * stale, never torn (aligned 64-bit stores).
 *
 * 5. Output (stable, one record per line, space separated; see
 *    docs/profiling.md, "Raw record", for every field)
 * ---------------------------------------------------------------------
 *   qprof version 2 vcpus <n> top <N>
 *   vcpu <i> insns <n> lr <n> sc <n> amo <n> tbs <n> work ... fwspin <n>
 *   func <i> <rank> <insns> <symbol>
 *   window <i> <seq> <region|-> <calib|measure|raw> insns <n> lr <n> sc <n>
 *          amo <n> access <n> miss <n>
 *   warn <i> <what> <n>
 *   cache <i> loads <n> load-misses <n> stores <n> store-misses <n> coherence-misses <n>
 *   cg <i> calls <n> rets <n> ... lost <n>
 *   stack <i> <insns> <atomics> <accesses> <misses> <calls> <f1;f2;...;fn>
 *   total insns <n> lr <n> sc <n> amo <n>
 *   functotal <rank> <insns> <symbol>
 *   cacheconf size <n> ways <n> line <n> sets <n> coherence <0|1>
 *   share <0xline> harts <n> writes <n> events <n> overlap <n> writers <f,...|->
 *   sharing lines <n> shown <n> dropped-writes <n> window-ns <n>
 *   qprof end
 *
 * Arguments (-plugin libqprof.so,key=value,...): top=N (functions listed
 * per vCPU, default 15), windows=N (windows kept per vCPU, default 4096),
 * begin=SYM, end=SYM, mark=SYM (marker symbols, defaults prof_begin,
 * prof_end, prof_region_mark), vectors=SYM:SYM (trap entry symbols, default
 * trap_vector), callgraph=on|off (default on), cache=on|off (default off),
 * coherence=on|off (default on), cache_size=BYTES (32768), cache_ways=N (8),
 * cache_line=BYTES (64), fs_window_us=N (1000), fs_top=N (50),
 * fs_lines=N (65536).
 *
 * 6. The call graph
 * -----------------
 * Each TB record also says how its last instruction leaves it (enum
 * qp_end): a call (jal/jalr writing ra, c.jalr), a return (jalr x0, 0(ra),
 * c.jr ra), a direct branch or jump (with its target), another indirect
 * jump, ecall/ebreak, sret/mret, or a fall-through; a TB holding a wfi ends
 * there (QEMU halts after it).  When a vCPU's next TB starts, its address
 * decides the edge from the previous TB (qp_cg_edge): a call pushes a frame
 * expecting the return address; a return pops to the innermost call frame
 * expecting this address; a TB that is neither the fall-through nor the
 * direct target, or follows an ecall, or is a known vector after an
 * indirect edge, is a trap: it pushes a "[trap]" frame and a frame for the
 * handler; sret/mret pops through the innermost "[trap]" frame (none: the
 * stack starts again, as at OpenSBI's mret into the kernel).  Vectors are
 * learned from the traps seen without doubt and from the vectors= symbols.
 * A new frame's function is decided by its first TB (QP_FUNC_PENDING until
 * then); a TB of another symbol on top of a decided frame is a tail call or
 * a fall-through into the next symbol, and replaces the frame's function.
 * Frames point into a per-vCPU call tree (one node per call path, chunked so
 * the report can read it while vCPUs run); each TB's symbol runs are added
 * to the top frame's node.  Invariants: cg_depth <= QP_MAX_DEPTH, frames
 * beyond it are only counted (cg_lost) and charged to QP_NODE_OVERFLOW; a
 * node's parent was made before it.
 *
 * 7. The cache model and the false-sharing table
 * ----------------------------------------------
 * With cache=on every instruction gets a memory callback (udata: its
 * symbol's id).  Each vCPU owns a set-associative cache of line tags with
 * exact LRU (a per-vCPU access clock stamps each way).  With coherence=on a
 * global directory of QP_DIR_SIZE words, indexed by a hash of the line,
 * changes on every store (store count, storing vCPU in the low bits); a way
 * remembers the word it last saw, and a hit on a way whose word changed is
 * a coherence miss.  Directory words are read and written with relaxed
 * atomics: a lost update still changes the word.  Stores also go to the
 * false-sharing table: buckets of QP_SHARE_WAYS 64-byte lines under striped
 * spinlocks; a store to a line whose last store came from another vCPU less
 * than fs_window_us of host time before (vCPUs share no guest clock) is an
 * event, overlapping if it hits a byte that vCPU had written.  A line with
 * events is never evicted; otherwise the oldest quiet line of the bucket
 * makes room, and a full bucket drops the write (counted).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * The subset of QEMU's plugin API (version 1, as in QEMU 7.2) we use,
 * declared here because Debian ships no qemu-plugin.h.
 */
typedef uint64_t qemu_plugin_id_t;

/* Passed to qemu_plugin_install; the layout must match QEMU's. */
typedef struct {
	const char *target_name;	/* "riscv64" */
	struct {
		int min;		/* oldest plugin API QEMU accepts */
		int cur;		/* QEMU's own plugin API version */
	} version;
	bool system_emulation;		/* true for qemu-system-* */
	union {
		struct {
			int smp_vcpus;	/* vCPUs at start */
			int max_vcpus;	/* vCPUs possible */
		} system;
	};
} qemu_info_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

/* Memory callbacks (the cache model). */
typedef uint32_t qemu_plugin_meminfo_t;
enum qemu_plugin_mem_rw {
	QEMU_PLUGIN_MEM_R = 1,
	QEMU_PLUGIN_MEM_W,
	QEMU_PLUGIN_MEM_RW,
};
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
					  uint64_t vaddr, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
				      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
				      void *userdata);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

#define QP_EXPORT __attribute__((visibility("default")))

/* QEMU refuses a plugin that does not export the API version it was built for. */
QP_EXPORT int qemu_plugin_version = 1;
QP_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
				  int argc, char **argv);

/* ------------------------------------------------------------------------
 * Constants and structures.
 */
#define QP_MAX_FUNCS	16384		/* interned symbols; a kernel has ~1-2k */
#define QP_HASH_SIZE	(2 * QP_MAX_FUNCS) /* open addressing, load <= 1/2 */
#define QP_FUNC_UNKNOWN	0		/* instruction without an ELF symbol */
#define QP_FUNC_OVERFLOW 1		/* symbol table full */
#define QP_FUNC_TRAP	2		/* "[trap]": the frame a trap entry pushes */
#define QP_FUNC_CALLED	3		/* "[call]": a callee interrupted before its first TB */
#define QP_FUNC_FIRST	4		/* first id of a real symbol */
#define QP_FUNC_PENDING	UINT32_MAX	/* a frame whose function its next TB decides */
#define QP_MAX_DEPTH	512		/* shadow call stack frames per vCPU */
#define QP_NODE_CHUNK	4096		/* call-tree nodes per allocation */
#define QP_MAX_CHUNKS	256		/* so at most 1 Mi nodes per vCPU */
#define QP_NODE_ROOT	0		/* the call tree's root (no function) */
#define QP_NODE_OVERFLOW 1		/* where counts go when the tree or stack is full */
#define QP_MAX_VECTORS	16		/* trap entry addresses remembered */
#define QP_SHARE_LINE	6		/* false sharing is tracked per 64-byte line */
#define QP_SHARE_WAYS	4		/* lines per bucket of the sharing table */
#define QP_SHARE_LOCKS	1024		/* striped locks over the buckets */
#define QP_HART_WORDS	4		/* harts named in a line's mask: 256 */
#define QP_WRITERS	4		/* writing functions kept per shared line */
#define QP_TB_MARKS	4		/* marks per TB: 1 in practice (entry at index 0) */
#define QP_NOSYM_SHIFT	21		/* unsymbolised code is grouped by 2 MiB region */
#define QP_MAX_NOSYM	64		/* distinct such regions named; then "[unknown]" */

enum qp_atomic { QP_LR, QP_SC, QP_AMO, QP_NATOMIC };
enum qp_mark_kind { QP_MARK_BEGIN, QP_MARK_END, QP_MARK_REGION, QP_NMARKKINDS };
enum qp_role { QP_ROLE_RAW, QP_ROLE_CALIB, QP_ROLE_MEASURE };
enum qp_kind { QP_WORK, QP_IDLE, QP_SPIN, QP_NKINDS };	/* what a TB does, see section 2 */
/* How a TB's last instruction leaves it (section 6). */
enum qp_end {
	QP_END_NONE,		/* falls through (TB cut, CSR write, wfi, ...) */
	QP_END_BRANCH,		/* conditional branch: fall-through or target */
	QP_END_JUMP,		/* jal x0 / c.j: target */
	QP_END_CALL,		/* jal ra: target, pushes a frame */
	QP_END_ICALL,		/* jalr ra / c.jalr: unknown target, pushes a frame */
	QP_END_RET,		/* jalr x0, 0(ra) / c.jr ra: pops a frame */
	QP_END_IJUMP,		/* any other jalr: unknown target */
	QP_END_TRAP,		/* ecall / ebreak: enters a trap */
	QP_END_TRAPRET,		/* sret / mret: leaves a trap */
};
enum qp_frkind { QP_FR_BASE, QP_FR_CALL, QP_FR_TRAP, QP_FR_HANDLER };

#define QP_WFI		0x10500073u	/* the wfi instruction */

static const char *const qp_role_names[] = { "raw", "calib", "measure" };

/* One marker hit position inside a TB. */
struct qp_mark {
	uint16_t mk_kind;			/* enum qp_mark_kind */
	uint16_t mk_index;			/* instructions of the TB before it */
	uint16_t mk_atomics[QP_NATOMIC];	/* atomics of the TB before it */
};

/* A run of instructions of one TB that belong to one symbol. */
struct qp_seg {
	uint32_t sg_func;			/* index into qp_funcs */
	uint16_t sg_insns;			/* instructions in the run */
	uint16_t sg_atomics;			/* LR + SC + AMO in the run */
};

/* Everything the exec callback needs about one translated TB. */
struct qp_tb {
	uint32_t tb_insns;			/* instructions in the TB */
	uint16_t tb_atomics[QP_NATOMIC];	/* LR, SC, AMO in the TB */
	uint16_t tb_nmarks;			/* used entries of tb_marks */
	uint16_t tb_nsegs;			/* entries of tb_segs */
	uint8_t tb_kind;			/* enum qp_kind */
	bool tb_fw;				/* first instruction has no symbol */
	uint8_t tb_end;				/* enum qp_end of the last instruction */
	uint64_t tb_vaddr;			/* first instruction */
	uint64_t tb_next;			/* the address after the last instruction */
	uint64_t tb_target;			/* direct branch, jump or call target */
	struct qp_mark tb_marks[QP_TB_MARKS];	/* marker entries, in index order */
	struct qp_seg tb_segs[];		/* symbol runs, in address order */
};

/* A closed window, as the report prints it. */
struct qp_window {
	uint64_t w_insns;			/* instructions from begin to end */
	uint64_t w_atomics[QP_NATOMIC];		/* LR, SC, AMO in it */
	uint64_t w_access;			/* cache model: line accesses in it */
	uint64_t w_miss;			/* cache model: misses in it */
	int64_t w_region;			/* region ordinal on the vCPU, or -1 */
	int w_role;				/* enum qp_role */
};

/* One node of a vCPU's call tree: a call path, and what ran with it on top. */
struct qp_node {
	uint32_t nd_parent;			/* caller's node (QP_NODE_ROOT at the base) */
	uint32_t nd_func;			/* function id */
	uint64_t nd_insns;			/* instructions executed in this path's top frame */
	uint64_t nd_atomics;			/* LR + SC + AMO among them */
	uint64_t nd_access;			/* cache model: line accesses */
	uint64_t nd_miss;			/* cache model: misses */
	uint64_t nd_calls;			/* times a frame entered this path */
};

/* One frame of the shadow call stack. */
struct qp_frame {
	uint64_t fr_ret;			/* return address a CALL frame expects */
	uint32_t fr_node;			/* call-tree node of the frame */
	uint32_t fr_func;			/* function id, or QP_FUNC_PENDING */
	uint32_t fr_kind;			/* enum qp_frkind */
};

/* A vCPU's call graph: its call tree and shadow stack (own thread only). */
struct qp_cg {
	struct qp_node *cg_chunks[QP_MAX_CHUNKS]; /* nodes, QP_NODE_CHUNK per chunk */
	uint32_t cg_nnodes;			/* nodes in use, published with release */
	uint32_t cg_hash_size;			/* slots of cg_hash, a power of two */
	uint32_t *cg_hash;			/* (parent, func) -> node + 1, 0 = empty */
	uint32_t cg_depth;			/* frames on cg_stack */
	uint32_t cg_lost;			/* frames pushed beyond QP_MAX_DEPTH */
	uint32_t cg_cur;			/* node of the last segment run */
	const struct qp_tb *cg_prev;		/* the TB executed before */
	struct qp_frame cg_stack[QP_MAX_DEPTH];	/* the shadow call stack, [0] outermost */
	/* statistics */
	uint64_t cg_calls, cg_rets, cg_traps, cg_trapret, cg_tails; /* calls, returns, trap
					   entries, sret/mret and tail calls seen */
	uint64_t cg_bad_ret;			/* a return matching no frame */
	uint64_t cg_bad_trapret;		/* sret/mret with no trap frame */
	uint64_t cg_full;			/* node table full */
	uint32_t cg_maxdepth;			/* deepest stack seen */
};

/* A vCPU's L1 data cache model: set-associative, exact LRU. */
struct qp_cache {
	uint64_t *cc_tags;			/* [sets * ways] line number + 1, 0 = invalid */
	uint64_t *cc_used;			/* [sets * ways] cc_clock at last use */
	uint64_t *cc_ver;			/* [sets * ways] directory word seen (coherence) */
	uint64_t cc_coh;			/* misses caused by another hart's write */
	uint64_t cc_clock;			/* accesses so far, the LRU clock */
	uint64_t cc_access[2];			/* [is store] line accesses */
	uint64_t cc_miss[2];			/* [is store] misses */
};

/* One line of the false-sharing table (section 7). */
struct qp_line {
	uint64_t ln_line;			/* line number + 1, 0 = empty slot */
	uint64_t ln_when;			/* host ns of the last write */
	uint64_t ln_bytes;			/* bytes written by ln_last since it took the line */
	uint64_t ln_writes;			/* writes seen while tracked */
	uint64_t ln_events;			/* writes after another hart's within the window */
	uint64_t ln_overlap;			/* of those, writes to a byte the other hart wrote */
	uint64_t ln_harts[QP_HART_WORDS];	/* harts that took part in an event */
	uint32_t ln_last;			/* vCPU of the last write */
	uint32_t ln_writers[QP_WRITERS];	/* functions of event writes, 0 = none */
};

/* Per-vCPU counters: written only by the vCPU's own thread. */
struct qp_vcpu {
	/* totals */
	uint64_t v_insns;			/* instructions executed */
	uint64_t v_atomics[QP_NATOMIC];		/* LR, SC, AMO executed */
	uint64_t v_tbs;				/* TB executions */
	uint64_t v_kind[2][QP_NKINDS];		/* [firmware?][enum qp_kind] instructions */
	uint64_t *v_func_insns;			/* [QP_MAX_FUNCS] per-symbol instructions */
	struct qp_cg *v_cg;			/* call graph, NULL if callgraph=off */
	struct qp_cache v_cache;		/* L1 data cache model (cache=on) */
	uint64_t v_now;				/* host ns at the current TB (cache=on) */

	/* the open window */
	bool v_open;				/* a begin was seen, no end yet */
	uint64_t v_open_insns;			/* v_insns at the begin mark */
	uint64_t v_open_atomics[QP_NATOMIC];	/* v_atomics at the begin mark */
	uint64_t v_open_access, v_open_miss;	/* cache model totals at the begin mark */

	/* regions: the next two windows after a region mark belong to it */
	int64_t v_nregions;			/* region marks seen */
	int v_region_left;			/* windows still owed to the last region */

	/* closed windows */
	struct qp_window *v_windows;		/* [qp_max_windows] */
	uint64_t v_nwindows;			/* published with a release store */
	uint64_t v_lost_windows;		/* closed after v_windows filled up */

	/* misuse seen */
	uint64_t v_reopened;			/* begin while a window was open */
	uint64_t v_unmatched_end;		/* end with no open window */
} __attribute__((aligned(64)));

/* Plugin-wide state, set at install. */
static struct qp_vcpu *qp_vcpus;		/* [qp_nvcpus] */
static unsigned qp_nvcpus;			/* max_vcpus from QEMU */
static unsigned qp_top = 15;			/* functions listed per vCPU */
static uint64_t qp_max_windows = 4096;		/* windows kept per vCPU */
static const char *qp_mark_syms[QP_NMARKKINDS] = {
	"prof_begin", "prof_end", "prof_region_mark",
};
static uint64_t qp_mark_entry[QP_NMARKKINDS];	/* entry vaddr of each marker, 0 = not seen */
static uint64_t qp_bad_vcpu;			/* exec with vcpu_index out of range */
static bool qp_cg_on = true;			/* callgraph=on|off */
static bool qp_cache_on;			/* cache=on|off */
static uint64_t qp_cache_size = 32768;		/* cache_size=BYTES */
static unsigned qp_cache_ways = 8;		/* cache_ways=N */
static unsigned qp_cache_line = 64;		/* cache_line=BYTES */
static unsigned qp_line_shift;			/* log2(qp_cache_line) */
static uint64_t qp_cache_sets;			/* size / (ways * line), a power of two */
static uint64_t qp_fs_window = 1000000;	/* fs_window_us=N, kept in ns */
static unsigned qp_fs_top = 50;			/* fs_top=N: shared lines reported */
static uint64_t qp_vectors[QP_MAX_VECTORS];	/* trap entry addresses seen, 0 = free */
static const char *qp_vector_syms = "trap_vector"; /* vectors=SYM:SYM..., trap entries */

/* The false-sharing table; buckets of QP_SHARE_WAYS slots, striped locks. */
static struct qp_line *qp_lines;		/* [qp_nbuckets * QP_SHARE_WAYS] */
static uint64_t qp_nbuckets = 1 << 16;		/* fs_lines=N / QP_SHARE_WAYS */
static pthread_spinlock_t qp_line_locks[QP_SHARE_LOCKS];
static uint64_t qp_share_dropped;		/* writes to lines with no room */

/* The coherence directory (section 7): one word per hashed line, changed by every store. */
#define QP_DIR_SIZE	(1u << 20)
#define QP_DIR_HART_BITS 12			/* low bits: the vCPU of the last store */
static uint64_t *qp_dir;			/* [QP_DIR_SIZE], NULL if coherence=off */
static bool qp_coh_on = true;			/* coherence=on|off */

/* Symbol interning; protected by qp_func_lock. */
static pthread_mutex_t qp_func_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *qp_funcs[QP_MAX_FUNCS];	/* id -> name (QEMU-owned strings) */
static uint32_t qp_func_hash[QP_HASH_SIZE];	/* name hash -> id + 1, 0 = empty */
static uint32_t qp_nfuncs;			/* ids in use */
static uint64_t qp_nosym_base[QP_MAX_NOSYM];	/* region base of each "[nosym ...]" name */
static char *qp_nosym_name[QP_MAX_NOSYM];	/* "[nosym@0xBASE]", allocated once */
static unsigned qp_nnosym;			/* entries in use */

/* ------------------------------------------------------------------------
 * Translation time.
 */

/* FNV-1a hash of a symbol name. */
static uint32_t qp_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Return the id of symbol name (NULL = unknown), interning it if new. */
static uint32_t qp_func_id(const char *name)
{
	uint32_t slot, id;

	if (name == NULL || name[0] == '\0')
		return QP_FUNC_UNKNOWN;
	pthread_mutex_lock(&qp_func_lock);
	slot = qp_hash(name) % QP_HASH_SIZE;
	for (;;) {
		id = qp_func_hash[slot];
		if (id == 0 || strcmp(qp_funcs[id - 1], name) == 0)
			break;
		slot = (slot + 1) % QP_HASH_SIZE;
	}
	if (id != 0) {
		id--;
	} else if (qp_nfuncs < QP_MAX_FUNCS) {
		id = qp_nfuncs;
		qp_funcs[id] = name;
		qp_func_hash[slot] = id + 1;
		__atomic_store_n(&qp_nfuncs, id + 1, __ATOMIC_RELEASE);	/* for the report */
	} else {
		id = QP_FUNC_OVERFLOW;
	}
	pthread_mutex_unlock(&qp_func_lock);
	return id;
}

/*
 * The name to account an instruction without an ELF symbol to:
 * "[nosym@0xBASE]" for its 2 MiB region (on QEMU virt, 0x80000000 is
 * OpenSBI and 0x80200000 the kernel's assembly without .type/.size).
 */
static const char *qp_nosym(uint64_t vaddr)
{
	uint64_t base = vaddr >> QP_NOSYM_SHIFT << QP_NOSYM_SHIFT;
	const char *name = "[unknown]";
	unsigned i;

	pthread_mutex_lock(&qp_func_lock);
	for (i = 0; i < qp_nnosym && qp_nosym_base[i] != base; i++)
		;
	if (i == qp_nnosym && i < QP_MAX_NOSYM &&
	    asprintf(&qp_nosym_name[i], "[nosym@0x%" PRIx64 "]", base) > 0) {
		qp_nosym_base[i] = base;
		qp_nnosym++;
	}
	if (i < qp_nnosym)
		name = qp_nosym_name[i];
	pthread_mutex_unlock(&qp_func_lock);
	return name;
}

/* Classify one instruction: enum qp_atomic, or QP_NATOMIC if not atomic. */
static int qp_atomic_kind(const struct qemu_plugin_insn *insn)
{
	uint32_t word = 0;
	unsigned funct5;

	if (qemu_plugin_insn_size(insn) != 4)
		return QP_NATOMIC;	/* RVC has no atomics */
	memcpy(&word, qemu_plugin_insn_data(insn), 4);	/* RISC-V and x86 are little-endian */
	if ((word & 0x7f) != 0x2f)
		return QP_NATOMIC;
	funct5 = word >> 27;
	if (funct5 == 2)
		return QP_LR;
	if (funct5 == 3)
		return QP_SC;
	return QP_AMO;
}

/* Which marker, if any, symbol name is. */
static int qp_mark_kind(const char *name)
{
	int k;

	for (k = 0; k < QP_NMARKKINDS; k++)
		if (name != NULL && strcmp(name, qp_mark_syms[k]) == 0)
			return k;
	return -1;
}

/*
 * Is insn, which starts a run of marker kind's symbol, the marker's entry?
 * The first such instruction ever translated is: a function is entered
 * through its entry before any later part of it can be translated.  Later
 * run starts elsewhere in the function (a TB cut at a page boundary, or
 * -singlestep) are not entries.
 */
static bool qp_is_entry(int kind, const struct qemu_plugin_insn *insn)
{
	uint64_t vaddr = qemu_plugin_insn_vaddr(insn), seen = 0;

	if (__atomic_compare_exchange_n(&qp_mark_entry[kind], &seen, vaddr, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return true;
	return seen == vaddr;
}

/* Record a mark at instruction index i of the TB being built. */
static void qp_add_mark(struct qp_tb *rec, int kind, size_t i)
{
	struct qp_mark *mk;
	int a;

	if (rec->tb_nmarks == QP_TB_MARKS)
		return;		/* cannot happen with straight-line markers */
	mk = &rec->tb_marks[rec->tb_nmarks++];
	mk->mk_kind = (uint16_t)kind;
	mk->mk_index = (uint16_t)i;
	for (a = 0; a < QP_NATOMIC; a++)
		mk->mk_atomics[a] = rec->tb_atomics[a];
}

/* Extend the segment list with instruction i of symbol name. */
static void qp_add_to_seg(struct qp_tb *rec, const char *name, const char *prev, size_t i)
{
	if (i > 0 && (name == prev || (name && prev && strcmp(name, prev) == 0))) {
		rec->tb_segs[rec->tb_nsegs - 1].sg_insns++;
		return;
	}
	rec->tb_segs[rec->tb_nsegs].sg_func = qp_func_id(name);
	rec->tb_segs[rec->tb_nsegs].sg_insns = 1;
	rec->tb_nsegs++;
}

/* Sign-extend the low `bits` bits of v. */
static int64_t qp_sext(uint64_t v, unsigned bits)
{
	return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* Offset of a conditional branch or direct jump (B, JAL, C.BEQZ/BNEZ, C.J); false if not one. */
static bool qp_branch_offset(const struct qemu_plugin_insn *insn, int64_t *off)
{
	size_t size = qemu_plugin_insn_size(insn);
	uint32_t w = 0;

	memcpy(&w, qemu_plugin_insn_data(insn), size == 4 ? 4 : 2);
	if (size == 4 && (w & 0x7f) == 0x63)
		*off = qp_sext((w >> 31 & 1) << 12 | (w >> 7 & 1) << 11 | (w >> 25 & 0x3f) << 5 |
			       (w >> 8 & 0xf) << 1, 13);
	else if (size == 4 && (w & 0x7f) == 0x6f)
		*off = qp_sext((w >> 31 & 1) << 20 | (w >> 12 & 0xff) << 12 | (w >> 20 & 1) << 11 |
			       (w >> 21 & 0x3ff) << 1, 21);
	else if (size == 2 && (w & 3) == 1 && (w >> 13 & 7) >= 6)
		*off = qp_sext((w >> 12 & 1) << 8 | (w >> 5 & 3) << 6 | (w >> 2 & 1) << 5 |
			       (w >> 10 & 3) << 3 | (w >> 3 & 3) << 1, 9);
	else if (size == 2 && (w & 3) == 1 && (w >> 13 & 7) == 5)
		*off = qp_sext((w >> 12 & 1) << 11 | (w >> 8 & 1) << 10 | (w >> 9 & 3) << 8 |
			       (w >> 6 & 1) << 7 | (w >> 7 & 1) << 6 | (w >> 2 & 1) << 5 |
			       (w >> 11 & 1) << 4 | (w >> 3 & 7) << 1, 12);
	else
		return false;
	return true;
}

/* The TB's kind: idle if it holds a wfi, spin if it ends branching to its own start. */
static int qp_tb_kind(struct qemu_plugin_tb *tb, size_t n)
{
	struct qemu_plugin_insn *last = qemu_plugin_tb_get_insn(tb, n - 1);
	int64_t off;
	size_t i;

	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint32_t w = 0;

		if (qemu_plugin_insn_size(insn) != 4)
			continue;
		memcpy(&w, qemu_plugin_insn_data(insn), 4);
		if (w == QP_WFI)
			return QP_IDLE;
	}
	if (qp_branch_offset(last, &off) &&
	    qemu_plugin_insn_vaddr(last) + (uint64_t)off == qemu_plugin_tb_vaddr(tb))
		return QP_SPIN;
	return QP_WORK;
}

/* Does register r hold a return address by convention (ra)? */
static bool qp_is_link(unsigned r)
{
	return r == 1;
}

/* How the TB ends (enum qp_end), given its last instruction; sets *target when direct. */
static int qp_end_kind(const struct qemu_plugin_insn *insn, uint64_t *target)
{
	size_t size = qemu_plugin_insn_size(insn);
	uint64_t pc = qemu_plugin_insn_vaddr(insn);
	uint32_t w = 0;
	int64_t off;

	memcpy(&w, qemu_plugin_insn_data(insn), size == 4 ? 4 : 2);
	if (qp_branch_offset(insn, &off))
		*target = pc + (uint64_t)off;
	if (size == 4) {
		unsigned op = w & 0x7f, rd = w >> 7 & 31, rs1 = w >> 15 & 31;

		if (w == 0x00000073 || w == 0x00100073)		/* ecall, ebreak */
			return QP_END_TRAP;
		if (w == 0x10200073 || w == 0x30200073)		/* sret, mret */
			return QP_END_TRAPRET;
		if (op == 0x6f)
			return qp_is_link(rd) ? QP_END_CALL : QP_END_JUMP;
		if (op == 0x67 && qp_is_link(rd))
			return QP_END_ICALL;
		if (op == 0x67)
			return rd == 0 && qp_is_link(rs1) && (w >> 20) == 0 ? QP_END_RET : QP_END_IJUMP;
		return op == 0x63 ? QP_END_BRANCH : QP_END_NONE;
	}
	if (w == 0x9002)					/* c.ebreak */
		return QP_END_TRAP;
	if ((w & 3) == 2 && (w >> 13 & 7) == 4 && (w >> 2 & 31) == 0 && (w >> 7 & 31) != 0) {
		if (w >> 12 & 1)				/* c.jalr: writes ra */
			return QP_END_ICALL;
		return qp_is_link(w >> 7 & 31) ? QP_END_RET : QP_END_IJUMP;	/* c.jr */
	}
	if ((w & 3) == 1 && (w >> 13 & 7) == 5)			/* c.j (RV64 has no c.jal) */
		return QP_END_JUMP;
	if ((w & 3) == 1 && (w >> 13 & 7) >= 6)			/* c.beqz, c.bnez */
		return QP_END_BRANCH;
	return QP_END_NONE;
}

/*
 * A wfi always leaves the TB (QEMU halts the vCPU after it), so a TB holding
 * one ends there for the call graph: it falls through to the next instruction
 * when the hart wakes, or traps.
 */
static void qp_wfi_end(struct qemu_plugin_tb *tb, size_t n, struct qp_tb *rec)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint32_t w = 0;

		if (qemu_plugin_insn_size(insn) != 4)
			continue;
		memcpy(&w, qemu_plugin_insn_data(insn), 4);
		if (w == QP_WFI) {
			rec->tb_end = QP_END_NONE;
			rec->tb_next = qemu_plugin_insn_vaddr(insn) + 4;
			return;
		}
	}
}

static void qp_learn_vector(uint64_t pc);

/* Index of name among the trap entry symbols of the vectors= option, or -1. */
static int qp_vector_sym(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	const char *p = qp_vector_syms;
	int k;

	for (k = 0; n && p && *p && k < QP_MAX_VECTORS; k++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return k;
		p = end ? end + 1 : NULL;
	}
	return -1;
}

/*
 * Note a TB starting at vaddr in trap entry symbol k: the first address ever
 * translated in it is its entry (every trap lands there before any later
 * part of it can run), so that address is a vector.
 */
static void qp_vector_tb(int k, uint64_t vaddr)
{
	static uint64_t first[QP_MAX_VECTORS];
	uint64_t seen = 0;

	if (__atomic_compare_exchange_n(&first[k], &seen, vaddr, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		qp_learn_vector(vaddr);
}

static void qp_exec(unsigned int vcpu_index, void *udata);
static void qp_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
		   void *udata);

/* Fill in rec's address, its way out (end kind, fall-through, target) and note trap vectors. */
static void qp_tb_edges(struct qemu_plugin_tb *tb, size_t n, struct qp_tb *rec)
{
	struct qemu_plugin_insn *last;
	int k;

	rec->tb_vaddr = qemu_plugin_tb_vaddr(tb);
	rec->tb_next = rec->tb_vaddr;
	if (n == 0)
		return;
	k = qp_vector_sym(qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0)));
	if (k >= 0)
		qp_vector_tb(k, rec->tb_vaddr);
	last = qemu_plugin_tb_get_insn(tb, n - 1);
	rec->tb_next = qemu_plugin_insn_vaddr(last) + qemu_plugin_insn_size(last);
	rec->tb_end = (uint8_t)qp_end_kind(last, &rec->tb_target);
	qp_wfi_end(tb, n, rec);
}

/* Translation callback: build the TB record and hook its execution. */
static void qp_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;
	const char *name, *prev = NULL;
	struct qp_tb *rec;
	int kind, a;

	(void)id;
	rec = calloc(1, sizeof(*rec) + n * sizeof(rec->tb_segs[0]));
	if (rec == NULL)
		abort();
	rec->tb_insns = (uint32_t)n;
	rec->tb_kind = n ? (uint8_t)qp_tb_kind(tb, n) : QP_WORK;
	qp_tb_edges(tb, n, rec);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		name = qemu_plugin_insn_symbol(insn);
		kind = qp_mark_kind(name);
		if (name == NULL || name[0] == '\0') {
			rec->tb_fw |= i == 0;
			name = qp_nosym(qemu_plugin_insn_vaddr(insn));
		}
		qp_add_to_seg(rec, name, prev, i);
		if (kind >= 0 && rec->tb_segs[rec->tb_nsegs - 1].sg_insns == 1 &&
		    qp_is_entry(kind, insn))
			qp_add_mark(rec, kind, i);
		a = qp_atomic_kind(insn);
		if (a != QP_NATOMIC) {
			rec->tb_atomics[a]++;
			rec->tb_segs[rec->tb_nsegs - 1].sg_atomics++;
		}
		if (qp_cache_on)	/* udata: the function doing the access */
			qemu_plugin_register_vcpu_mem_cb(insn, qp_mem, QEMU_PLUGIN_CB_NO_REGS,
				QEMU_PLUGIN_MEM_RW,
				(void *)(uintptr_t)rec->tb_segs[rec->tb_nsegs - 1].sg_func);
		prev = name;
	}
	qemu_plugin_register_vcpu_tb_exec_cb(tb, qp_exec, QEMU_PLUGIN_CB_NO_REGS, rec);
}

/* ------------------------------------------------------------------------
 * The call graph (section 6): runs on the executing vCPU's thread.
 */

/* Node i of cg's call tree. */
static inline struct qp_node *qp_node(struct qp_cg *cg, uint32_t i)
{
	return &cg->cg_chunks[i / QP_NODE_CHUNK][i % QP_NODE_CHUNK];
}

/* Hash of a (parent, func) key. */
static inline uint32_t qp_node_hash(uint32_t parent, uint32_t func)
{
	return (uint32_t)((((uint64_t)parent << 32 | func) * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Enter node id into cg's hash table (the slot is known to exist). */
static void qp_node_hash_put(struct qp_cg *cg, uint32_t id)
{
	const struct qp_node *nd = qp_node(cg, id);
	uint32_t mask = cg->cg_hash_size - 1, slot = qp_node_hash(nd->nd_parent, nd->nd_func) & mask;

	while (cg->cg_hash[slot] != 0)
		slot = (slot + 1) & mask;
	cg->cg_hash[slot] = id + 1;
}

/* Double cg's hash table, keeping its load at most one half. */
static void qp_node_hash_grow(struct qp_cg *cg)
{
	uint32_t id;

	free(cg->cg_hash);
	cg->cg_hash_size *= 2;
	cg->cg_hash = calloc(cg->cg_hash_size, sizeof(*cg->cg_hash));
	if (cg->cg_hash == NULL)
		abort();
	for (id = QP_NODE_OVERFLOW + 1; id < cg->cg_nnodes; id++)
		qp_node_hash_put(cg, id);
}

/* Append node (parent, func); returns its index, or QP_NODE_OVERFLOW when full. */
static uint32_t qp_node_new(struct qp_cg *cg, uint32_t parent, uint32_t func)
{
	uint32_t id = cg->cg_nnodes, c = id / QP_NODE_CHUNK;
	struct qp_node *nd;

	if (c >= QP_MAX_CHUNKS) {
		cg->cg_full++;
		return QP_NODE_OVERFLOW;
	}
	if (cg->cg_chunks[c] == NULL) {
		struct qp_node *chunk = calloc(QP_NODE_CHUNK, sizeof(*chunk));

		if (chunk == NULL)
			abort();
		__atomic_store_n(&cg->cg_chunks[c], chunk, __ATOMIC_RELEASE);
	}
	nd = qp_node(cg, id);
	nd->nd_parent = parent;
	nd->nd_func = func;
	__atomic_store_n(&cg->cg_nnodes, id + 1, __ATOMIC_RELEASE);	/* for the report */
	return id;
}

/* The child of node parent for function func, made on first use. */
static uint32_t qp_child(struct qp_cg *cg, uint32_t parent, uint32_t func)
{
	uint32_t mask = cg->cg_hash_size - 1, slot = qp_node_hash(parent, func) & mask, id;

	while ((id = cg->cg_hash[slot]) != 0) {
		const struct qp_node *nd = qp_node(cg, id - 1);

		if (nd->nd_parent == parent && nd->nd_func == func)
			return id - 1;
		slot = (slot + 1) & mask;
	}
	id = qp_node_new(cg, parent, func);
	if (id == QP_NODE_OVERFLOW)
		return id;
	cg->cg_hash[slot] = id + 1;
	if (2 * cg->cg_nnodes > cg->cg_hash_size)
		qp_node_hash_grow(cg);
	return id;
}

/* The node of the frame below stack index d (the root for the base frame). */
static inline uint32_t qp_parent_node(const struct qp_cg *cg, uint32_t d)
{
	return d > 0 ? cg->cg_stack[d - 1].fr_node : QP_NODE_ROOT;
}

/* Give the frame at stack index d function func (a call, a resolution or a tail call). */
static void qp_frame_set(struct qp_cg *cg, uint32_t d, uint32_t func)
{
	cg->cg_stack[d].fr_func = func;
	cg->cg_stack[d].fr_node = qp_child(cg, qp_parent_node(cg, d), func);
	qp_node(cg, cg->cg_stack[d].fr_node)->nd_calls++;
}

/* Push a frame whose function the next TB decides (a frame below still pending becomes "[call]"). */
static void qp_push(struct qp_cg *cg, uint32_t kind, uint64_t ret)
{
	struct qp_frame *fr;

	if (cg->cg_lost || cg->cg_depth == QP_MAX_DEPTH) {
		cg->cg_lost++;
		return;
	}
	if (cg->cg_depth > 0 && cg->cg_stack[cg->cg_depth - 1].fr_func == QP_FUNC_PENDING)
		qp_frame_set(cg, cg->cg_depth - 1, QP_FUNC_CALLED);
	fr = &cg->cg_stack[cg->cg_depth++];
	fr->fr_kind = kind;
	fr->fr_ret = ret;
	fr->fr_func = QP_FUNC_PENDING;
	fr->fr_node = QP_NODE_OVERFLOW;
	if (cg->cg_depth > cg->cg_maxdepth)
		cg->cg_maxdepth = cg->cg_depth;
}

/* A return to pc (trapped: an interrupt came before pc ran): pop to the frame expecting it. */
static void qp_return(struct qp_cg *cg, uint64_t pc, bool trapped)
{
	uint32_t d;

	cg->cg_rets++;
	if (cg->cg_lost) {
		cg->cg_lost--;
		return;
	}
	for (d = cg->cg_depth; d > 0 && cg->cg_stack[d - 1].fr_kind == QP_FR_CALL; d--) {
		if (trapped || cg->cg_stack[d - 1].fr_ret == pc) {
			cg->cg_depth = d - 1;
			return;
		}
	}
	cg->cg_bad_ret++;
}

/* Trap entry: a "[trap]" frame, and above it a frame for the handler. */
static void qp_trap_enter(struct qp_cg *cg)
{
	cg->cg_traps++;
	qp_push(cg, QP_FR_TRAP, 0);
	if (cg->cg_lost == 0)
		qp_frame_set(cg, cg->cg_depth - 1, QP_FUNC_TRAP);
	qp_push(cg, QP_FR_HANDLER, 0);
}

/*
 * sret / mret: pop the innermost trap frame and everything above it.  One
 * with no trap frame enters a new context (OpenSBI's mret into the kernel at
 * boot and hart start): the stack starts again from empty.
 */
static void qp_trap_return(struct qp_cg *cg)
{
	uint32_t d;

	if (cg->cg_lost) {
		cg->cg_lost = 0;	/* the lost frames were above the trap, or it is lost */
		cg->cg_bad_trapret++;
		return;
	}
	for (d = cg->cg_depth; d > 0; d--) {
		if (cg->cg_stack[d - 1].fr_kind == QP_FR_TRAP) {
			cg->cg_depth = d - 1;
			cg->cg_trapret++;
			return;
		}
	}
	cg->cg_depth = 0;
	cg->cg_bad_trapret++;
}

/* Is pc a trap entry address seen before? */
static bool qp_is_vector(uint64_t pc)
{
	unsigned i;

	for (i = 0; i < QP_MAX_VECTORS; i++) {
		uint64_t v = __atomic_load_n(&qp_vectors[i], __ATOMIC_RELAXED);

		if (v == pc)
			return true;
		if (v == 0)
			return false;
	}
	return false;
}

/* Remember pc as a trap entry address. */
static void qp_learn_vector(uint64_t pc)
{
	unsigned i;

	for (i = 0; i < QP_MAX_VECTORS; i++) {
		uint64_t v = 0;

		if (__atomic_compare_exchange_n(&qp_vectors[i], &v, pc, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED) || v == pc)
			return;
	}
}

/* Did control reach pc from TB prev through a trap (interrupt or exception)? */
static bool qp_is_trap(const struct qp_tb *prev, uint64_t pc)
{
	switch (prev->tb_end) {
	case QP_END_TRAP:
		return true;
	case QP_END_NONE:
		return pc != prev->tb_next;
	case QP_END_BRANCH:
		return pc != prev->tb_next && pc != prev->tb_target;
	case QP_END_JUMP:
	case QP_END_CALL:
		return pc != prev->tb_target;
	default:		/* indirect: only a known trap entry tells */
		return qp_is_vector(pc);
	}
}

/* Move the shadow stack across the edge from the previous TB to rec. */
static void qp_cg_edge(struct qp_cg *cg, const struct qp_tb *rec)
{
	const struct qp_tb *prev = cg->cg_prev;
	bool trap;

	cg->cg_prev = rec;
	if (prev == NULL)
		return;
	trap = qp_is_trap(prev, rec->tb_vaddr);
	switch (prev->tb_end) {
	case QP_END_CALL:
	case QP_END_ICALL:
		cg->cg_calls++;
		qp_push(cg, QP_FR_CALL, prev->tb_next);
		break;
	case QP_END_RET:
		qp_return(cg, rec->tb_vaddr, trap);
		break;
	case QP_END_TRAPRET:
		qp_trap_return(cg);
		break;
	}
	if (trap && (prev->tb_end <= QP_END_CALL || prev->tb_end == QP_END_TRAP))
		qp_learn_vector(rec->tb_vaddr);
	if (trap)
		qp_trap_enter(cg);
}

/* The node to charge code of func to: resolves a pending frame, follows a tail call. */
static uint32_t qp_cg_node(struct qp_cg *cg, uint32_t func)
{
	struct qp_frame *fr;

	if (cg->cg_lost)
		return QP_NODE_OVERFLOW;
	if (cg->cg_depth == 0)
		qp_push(cg, QP_FR_BASE, 0);
	fr = &cg->cg_stack[cg->cg_depth - 1];
	if (fr->fr_func == func)
		return fr->fr_node;
	if (fr->fr_func != QP_FUNC_PENDING && fr->fr_func != QP_FUNC_CALLED)
		cg->cg_tails++;		/* tail call, or fall-through into another symbol */
	qp_frame_set(cg, cg->cg_depth - 1, func);
	return fr->fr_node;
}

/* Charge one execution of rec to the call tree. */
static void qp_cg_exec(struct qp_cg *cg, const struct qp_tb *rec)
{
	unsigned i;

	qp_cg_edge(cg, rec);
	for (i = 0; i < rec->tb_nsegs; i++) {
		const struct qp_seg *sg = &rec->tb_segs[i];
		struct qp_node *nd;

		cg->cg_cur = qp_cg_node(cg, sg->sg_func);
		nd = qp_node(cg, cg->cg_cur);
		nd->nd_insns += sg->sg_insns;
		nd->nd_atomics += sg->sg_atomics;
	}
}

/* ------------------------------------------------------------------------
 * The cache model and the false-sharing table (section 7).
 */

/* The directory word of line (0 when coherence is off). */
static inline uint64_t *qp_dir_word(uint64_t line)
{
	return &qp_dir[(line * 0x9e3779b97f4a7c15ull >> 24) & (QP_DIR_SIZE - 1)];
}

/*
 * Access line in vcpu's cache cc (a store if store); returns 0 on a hit, 1 on a
 * miss (the LRU way is then replaced), 2 on a coherence miss: the line was
 * present but another vCPU stored to it since this one last touched it.
 */
static int qp_cache_access(struct qp_cache *cc, unsigned vcpu, uint64_t line, bool store)
{
	uint64_t base = (line & (qp_cache_sets - 1)) * qp_cache_ways, tag = line + 1;
	uint64_t *tags = &cc->cc_tags[base], *used = &cc->cc_used[base], *ver = &cc->cc_ver[base];
	uint64_t *dir = qp_dir ? qp_dir_word(line) : NULL, old = 0, now;
	unsigned w, victim = 0;
	int result = 1;

	cc->cc_clock++;
	if (dir != NULL)
		old = __atomic_load_n(dir, __ATOMIC_RELAXED);
	now = old;
	if (dir != NULL && store) {	/* a new word: count + 1, this vCPU in the low bits */
		now = ((old >> QP_DIR_HART_BITS) + 1) << QP_DIR_HART_BITS | vcpu;
		__atomic_store_n(dir, now, __ATOMIC_RELAXED);
	}
	for (w = 0; w < qp_cache_ways && tags[w] != tag; w++)
		if (used[w] < used[victim])
			victim = w;
	if (w < qp_cache_ways) {	/* present: valid unless another vCPU stored since */
		result = ver[w] != old ? 2 : 0;
		victim = w;
	}
	tags[victim] = tag;
	used[victim] = cc->cc_clock;
	ver[victim] = now;
	return result;
}

/* The slot for line in bucket b (locked): its own, an empty one, or the oldest quiet one. */
static struct qp_line *qp_share_slot(uint64_t b, uint64_t line)
{
	struct qp_line *ln = &qp_lines[b * QP_SHARE_WAYS], *best = NULL;
	unsigned i;

	for (i = 0; i < QP_SHARE_WAYS; i++)
		if (ln[i].ln_line == line + 1)
			return &ln[i];
	for (i = 0; i < QP_SHARE_WAYS; i++) {
		if (ln[i].ln_line == 0 || (ln[i].ln_events == 0 &&
					   (best == NULL || ln[i].ln_when < best->ln_when)))
			best = &ln[i];
		if (ln[i].ln_line == 0)
			break;
	}
	if (best != NULL) {
		memset(best, 0, sizeof(*best));
		best->ln_line = line + 1;
		best->ln_last = UINT32_MAX;
	}
	return best;
}

/* Note writer func in ln's list if it is new and there is room. */
static void qp_share_writer(struct qp_line *ln, uint32_t func)
{
	unsigned i;

	for (i = 0; i < QP_WRITERS; i++) {
		if (ln->ln_writers[i] == func)
			return;
		if (ln->ln_writers[i] == 0) {
			ln->ln_writers[i] = func;
			return;
		}
	}
}

/* Record a store by vcpu to bytes mask of 64-byte line at host time now. */
static void qp_share_write(unsigned vcpu, uint64_t line, uint64_t mask, uint32_t func,
			   uint64_t now)
{
	uint64_t b = (line * 0x9e3779b97f4a7c15ull >> 20) & (qp_nbuckets - 1);
	pthread_spinlock_t *lk = &qp_line_locks[b % QP_SHARE_LOCKS];
	struct qp_line *ln;

	pthread_spin_lock(lk);
	ln = qp_share_slot(b, line);
	if (ln == NULL) {
		pthread_spin_unlock(lk);
		__atomic_add_fetch(&qp_share_dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	ln->ln_writes++;
	if (ln->ln_last != vcpu && ln->ln_last != UINT32_MAX && now - ln->ln_when <= qp_fs_window) {
		ln->ln_events++;
		ln->ln_overlap += (ln->ln_bytes & mask) != 0;
		if (vcpu < 64 * QP_HART_WORDS)
			ln->ln_harts[vcpu / 64] |= 1ull << (vcpu % 64);
		if (ln->ln_last < 64 * QP_HART_WORDS)
			ln->ln_harts[ln->ln_last / 64] |= 1ull << (ln->ln_last % 64);
		qp_share_writer(ln, func);
	}
	ln->ln_bytes = ln->ln_last == vcpu ? ln->ln_bytes | mask : mask;
	ln->ln_last = vcpu;
	ln->ln_when = now;
	pthread_spin_unlock(lk);
}

/* The bytes [a, a + size) cover of the 64-byte line containing a (clipped to it). */
static uint64_t qp_byte_mask(uint64_t a, uint64_t end)
{
	unsigned lo = a & 63, n = end - a > 64 - lo ? 64 - lo : (unsigned)(end - a);

	return n >= 64 ? ~0ull : ((1ull << n) - 1) << lo;
}

/* Memory callback (cache=on): the cache model, the call tree's counts, false sharing. */
static void qp_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
		   void *udata)
{
	bool store = qemu_plugin_mem_is_store(info);
	uint64_t end = vaddr + (1ull << qemu_plugin_mem_size_shift(info)), line, a;
	struct qp_vcpu *v;

	if (vcpu_index >= qp_nvcpus)
		return;
	v = &qp_vcpus[vcpu_index];
	for (line = vaddr >> qp_line_shift; line <= (end - 1) >> qp_line_shift; line++) {
		int r = qp_cache_access(&v->v_cache, vcpu_index, line, store);
		bool miss = r != 0;

		v->v_cache.cc_access[store]++;
		v->v_cache.cc_miss[store] += miss;
		v->v_cache.cc_coh += r == 2;
		if (v->v_cg != NULL) {
			struct qp_node *nd = qp_node(v->v_cg, v->v_cg->cg_cur);

			nd->nd_access++;
			nd->nd_miss += miss;
		}
	}
	for (a = vaddr; store && a < end; a = (a | 63) + 1)
		qp_share_write(vcpu_index, a >> QP_SHARE_LINE, qp_byte_mask(a, end),
			       (uint32_t)(uintptr_t)udata, v->v_now);
}

/* ------------------------------------------------------------------------
 * Execution time: runs on the executing vCPU's thread.
 */

/* v's cache model total: accesses (which 0) or misses (which 1). */
static uint64_t qp_cache_total(const struct qp_vcpu *v, int which)
{
	const uint64_t *c = which ? v->v_cache.cc_miss : v->v_cache.cc_access;

	return c[0] + c[1];
}

/* Close the open window of v at the given totals. */
static void qp_close_window(struct qp_vcpu *v, uint64_t insns, const uint64_t *atomics)
{
	struct qp_window *w;
	int a;

	v->v_open = false;
	if (v->v_nwindows == qp_max_windows) {
		v->v_lost_windows++;
		return;
	}
	w = &v->v_windows[v->v_nwindows];
	w->w_insns = insns - v->v_open_insns;
	w->w_access = qp_cache_total(v, 0) - v->v_open_access;
	w->w_miss = qp_cache_total(v, 1) - v->v_open_miss;
	for (a = 0; a < QP_NATOMIC; a++)
		w->w_atomics[a] = atomics[a] - v->v_open_atomics[a];
	w->w_region = -1;
	w->w_role = QP_ROLE_RAW;
	if (v->v_region_left > 0) {
		w->w_region = v->v_nregions - 1;
		w->w_role = v->v_region_left == 2 ? QP_ROLE_CALIB : QP_ROLE_MEASURE;
		v->v_region_left--;
	}
	__atomic_store_n(&v->v_nwindows, v->v_nwindows + 1, __ATOMIC_RELEASE);
}

/* Act on one marker hit; the totals are those at the marked instruction. */
static void qp_mark_hit(struct qp_vcpu *v, const struct qp_mark *mk)
{
	uint64_t at[QP_NATOMIC];
	uint64_t insns = v->v_insns + mk->mk_index;
	int a;

	for (a = 0; a < QP_NATOMIC; a++)
		at[a] = v->v_atomics[a] + mk->mk_atomics[a];
	switch (mk->mk_kind) {
	case QP_MARK_BEGIN:
		if (v->v_open)
			v->v_reopened++;
		v->v_open = true;
		v->v_open_insns = insns;
		v->v_open_access = qp_cache_total(v, 0);
		v->v_open_miss = qp_cache_total(v, 1);
		memcpy(v->v_open_atomics, at, sizeof(at));
		break;
	case QP_MARK_END:
		if (v->v_open)
			qp_close_window(v, insns, at);
		else
			v->v_unmatched_end++;
		break;
	case QP_MARK_REGION:
		v->v_nregions++;
		v->v_region_left = 2;
		break;
	}
}

/* TB-exec callback: add one execution of the TB to the vCPU's counters. */
static void qp_exec(unsigned int vcpu_index, void *udata)
{
	const struct qp_tb *rec = udata;
	struct qp_vcpu *v;
	unsigned i;

	if (vcpu_index >= qp_nvcpus) {
		__atomic_add_fetch(&qp_bad_vcpu, 1, __ATOMIC_RELAXED);
		return;
	}
	v = &qp_vcpus[vcpu_index];
	for (i = 0; i < rec->tb_nmarks; i++)
		qp_mark_hit(v, &rec->tb_marks[i]);
	v->v_insns += rec->tb_insns;
	v->v_atomics[QP_LR] += rec->tb_atomics[QP_LR];
	v->v_atomics[QP_SC] += rec->tb_atomics[QP_SC];
	v->v_atomics[QP_AMO] += rec->tb_atomics[QP_AMO];
	v->v_tbs++;
	v->v_kind[rec->tb_fw][rec->tb_kind] += rec->tb_insns;
	for (i = 0; i < rec->tb_nsegs; i++)
		v->v_func_insns[rec->tb_segs[i].sg_func] += rec->tb_segs[i].sg_insns;
	if (v->v_cg != NULL)
		qp_cg_exec(v->v_cg, rec);
	if (qp_cache_on) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v->v_now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
}

/* ------------------------------------------------------------------------
 * The report, at exit.
 */

/* printf into QEMU's plugin log (-d plugin -D FILE). */
static void qp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void qp_printf(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	qemu_plugin_outs(line);
}

/* Per-symbol counts being ranked, and the qsort order: most first, then name. */
struct qp_rank {
	uint64_t rk_insns;			/* instructions in the symbol */
	uint32_t rk_func;			/* its id */
};

static int qp_rank_cmp(const void *pa, const void *pb)
{
	const struct qp_rank *a = pa, *b = pb;

	if (a->rk_insns != b->rk_insns)
		return a->rk_insns < b->rk_insns ? 1 : -1;
	return strcmp(qp_funcs[a->rk_func], qp_funcs[b->rk_func]);
}

/* Print the top symbols of counts[] (nfuncs entries) as "<tag> <rank> <n> <name>". */
static void qp_print_top(const char *tag, const uint64_t *counts, uint32_t nfuncs)
{
	struct qp_rank *rk = calloc(nfuncs ? nfuncs : 1, sizeof(*rk));
	uint32_t f, n = 0;

	if (rk == NULL)
		return;
	for (f = 0; f < nfuncs; f++)
		if (counts[f] != 0)
			rk[n++] = (struct qp_rank){ counts[f], f };
	qsort(rk, n, sizeof(*rk), qp_rank_cmp);
	for (f = 0; f < n && f < qp_top; f++)
		qp_printf("%s %u %" PRIu64 " %s\n", tag, f + 1, rk[f].rk_insns, qp_funcs[rk[f].rk_func]);
	free(rk);
}

/* Append name to the growing string *buf (length *len, capacity *cap); false if out of memory. */
static bool qp_strcat(char **buf, size_t *len, size_t *cap, const char *name)
{
	size_t n = strlen(name);

	if (*len + n + 2 > *cap) {
		char *nb = realloc(*buf, (*len + n + 2) * 2);

		if (nb == NULL)
			return false;
		*buf = nb;
		*cap = (*len + n + 2) * 2;
	}
	memcpy(*buf + *len, name, n + 1);
	*len += n;
	return true;
}

/* Print node id's path from the base, "f1;f2;...;fn", after the given prefix. */
static void qp_print_path(struct qp_cg *cg, uint32_t id, const char *prefix)
{
	uint32_t path[QP_MAX_DEPTH * 2], n = 0;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	bool ok;

	for (; id != QP_NODE_ROOT && n < QP_MAX_DEPTH * 2; id = qp_node(cg, id)->nd_parent)
		path[n++] = qp_node(cg, id)->nd_func;
	ok = qp_strcat(&buf, &len, &cap, prefix);
	while (ok && n-- > 0) {
		ok = qp_strcat(&buf, &len, &cap, qp_funcs[path[n]]);
		if (ok && n > 0)
			ok = qp_strcat(&buf, &len, &cap, ";");
	}
	if (ok && qp_strcat(&buf, &len, &cap, "\n"))
		qemu_plugin_outs(buf);
	free(buf);
}

/* Print vCPU i's call graph: its statistics, then one "stack" line per node with counts. */
static void qp_report_cg(unsigned i, struct qp_cg *cg)
{
	uint32_t n = __atomic_load_n(&cg->cg_nnodes, __ATOMIC_ACQUIRE), id;
	char prefix[160];

	qp_printf("cg %u calls %" PRIu64 " rets %" PRIu64 " traps %" PRIu64 " trapret %" PRIu64
		  " tails %" PRIu64 " badret %" PRIu64 " badtrapret %" PRIu64 " full %" PRIu64
		  " maxdepth %u nodes %u depth %u lost %u\n", i, cg->cg_calls, cg->cg_rets,
		  cg->cg_traps, cg->cg_trapret, cg->cg_tails, cg->cg_bad_ret, cg->cg_bad_trapret,
		  cg->cg_full, cg->cg_maxdepth, n, cg->cg_depth, cg->cg_lost);
	for (id = QP_NODE_OVERFLOW; id < n; id++) {
		const struct qp_node *nd = qp_node(cg, id);

		if (nd->nd_insns == 0 && nd->nd_access == 0)
			continue;
		snprintf(prefix, sizeof(prefix), "stack %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
			 PRIu64 " %" PRIu64 " ", i, nd->nd_insns, nd->nd_atomics, nd->nd_access,
			 nd->nd_miss, nd->nd_calls);
		qp_print_path(cg, id, prefix);
	}
}

/* qsort order of shared lines: most events first, then address. */
static int qp_line_cmp(const void *pa, const void *pb)
{
	const struct qp_line *a = *(const struct qp_line *const *)pa;
	const struct qp_line *b = *(const struct qp_line *const *)pb;

	if (a->ln_events != b->ln_events)
		return a->ln_events < b->ln_events ? 1 : -1;
	return a->ln_line < b->ln_line ? -1 : a->ln_line > b->ln_line;
}

/* Print one shared line: "share 0xADDR harts N writes N events N overlap N writers f,f". */
static void qp_print_line(const struct qp_line *ln)
{
	char writers[400] = "";
	unsigned h = 0, k;
	size_t len = 0;

	for (k = 0; k < QP_HART_WORDS; k++)
		h += (unsigned)__builtin_popcountll(ln->ln_harts[k]);
	for (k = 0; k < QP_WRITERS && ln->ln_writers[k] != 0; k++)
		len += (size_t)snprintf(writers + len, len < sizeof(writers) ? sizeof(writers) - len : 0,
					"%s%s", k ? "," : "", qp_funcs[ln->ln_writers[k]]);
	qp_printf("share 0x%" PRIx64 " harts %u writes %" PRIu64 " events %" PRIu64 " overlap %"
		  PRIu64 " writers %s\n", (ln->ln_line - 1) << QP_SHARE_LINE, h, ln->ln_writes,
		  ln->ln_events, ln->ln_overlap, writers[0] ? writers : "-");
}

/* Print the lines written by more than one hart within the window, most events first. */
static void qp_report_share(void)
{
	uint64_t nslots = qp_nbuckets * QP_SHARE_WAYS, i, n = 0, shared = 0;
	const struct qp_line **rows = calloc(nslots, sizeof(*rows));

	if (rows == NULL)
		return;
	for (i = 0; i < QP_SHARE_LOCKS; i++)	/* vCPUs may still run: take every lock */
		pthread_spin_lock(&qp_line_locks[i]);
	for (i = 0; i < nslots; i++)
		if (qp_lines[i].ln_events != 0)
			rows[n++] = &qp_lines[i];
	shared = n;
	qsort(rows, n, sizeof(*rows), qp_line_cmp);
	for (i = 0; i < n && i < qp_fs_top; i++)
		qp_print_line(rows[i]);
	qp_printf("sharing lines %" PRIu64 " shown %" PRIu64 " dropped-writes %" PRIu64
		  " window-ns %" PRIu64 "\n", shared, shared < qp_fs_top ? shared : qp_fs_top,
		  __atomic_load_n(&qp_share_dropped, __ATOMIC_RELAXED), qp_fs_window);
	for (i = 0; i < QP_SHARE_LOCKS; i++)
		pthread_spin_unlock(&qp_line_locks[i]);
	free(rows);
}

/* Print one vCPU: totals, top symbols, windows, warnings. */
static void qp_report_vcpu(unsigned i, uint32_t nfuncs)
{
	const struct qp_vcpu *v = &qp_vcpus[i];
	uint64_t nw = __atomic_load_n(&v->v_nwindows, __ATOMIC_ACQUIRE), w;
	char tag[32];

	qp_printf("vcpu %u insns %" PRIu64 " lr %" PRIu64 " sc %" PRIu64 " amo %" PRIu64
		  " tbs %" PRIu64 " work %" PRIu64 " idle %" PRIu64 " spin %" PRIu64
		  " fwwork %" PRIu64 " fwidle %" PRIu64 " fwspin %" PRIu64 "\n", i, v->v_insns,
		  v->v_atomics[QP_LR], v->v_atomics[QP_SC], v->v_atomics[QP_AMO], v->v_tbs,
		  v->v_kind[0][QP_WORK], v->v_kind[0][QP_IDLE], v->v_kind[0][QP_SPIN],
		  v->v_kind[1][QP_WORK], v->v_kind[1][QP_IDLE], v->v_kind[1][QP_SPIN]);
	snprintf(tag, sizeof(tag), "func %u", i);
	qp_print_top(tag, v->v_func_insns, nfuncs);
	for (w = 0; w < nw; w++) {
		const struct qp_window *wp = &v->v_windows[w];
		char region[24] = "-";

		if (wp->w_region >= 0)
			snprintf(region, sizeof(region), "%" PRId64, wp->w_region);
		qp_printf("window %u %" PRIu64 " %s %s insns %" PRIu64 " lr %" PRIu64 " sc %"
			  PRIu64 " amo %" PRIu64 " access %" PRIu64 " miss %" PRIu64 "\n", i, w,
			  region, qp_role_names[wp->w_role], wp->w_insns, wp->w_atomics[QP_LR],
			  wp->w_atomics[QP_SC], wp->w_atomics[QP_AMO], wp->w_access, wp->w_miss);
	}
	if (v->v_reopened)
		qp_printf("warn %u reopened %" PRIu64 "\n", i, v->v_reopened);
	if (v->v_unmatched_end)
		qp_printf("warn %u unmatched-end %" PRIu64 "\n", i, v->v_unmatched_end);
	if (v->v_lost_windows)
		qp_printf("warn %u lost-windows %" PRIu64 "\n", i, v->v_lost_windows);
	if (v->v_open)
		qp_printf("warn %u open-at-exit 1\n", i);
	if (qp_cache_on)
		qp_printf("cache %u loads %" PRIu64 " load-misses %" PRIu64 " stores %" PRIu64
			  " store-misses %" PRIu64 " coherence-misses %" PRIu64 "\n", i,
			  v->v_cache.cc_access[0], v->v_cache.cc_miss[0], v->v_cache.cc_access[1],
			  v->v_cache.cc_miss[1], v->v_cache.cc_coh);
	if (v->v_cg != NULL)
		qp_report_cg(i, v->v_cg);
}

/* atexit callback: print the whole report. */
static void qp_report(qemu_plugin_id_t id, void *udata)
{
	uint32_t nfuncs = __atomic_load_n(&qp_nfuncs, __ATOMIC_ACQUIRE), f;
	uint64_t tot[1 + QP_NATOMIC] = { 0 }, *ftot;
	unsigned i;
	int a;

	(void)id;
	(void)udata;
	qp_printf("qprof version 2 vcpus %u top %u\n", qp_nvcpus, qp_top);
	ftot = calloc(QP_MAX_FUNCS, sizeof(*ftot));
	for (i = 0; i < qp_nvcpus; i++) {
		qp_report_vcpu(i, nfuncs);
		tot[0] += qp_vcpus[i].v_insns;
		for (a = 0; a < QP_NATOMIC; a++)
			tot[1 + a] += qp_vcpus[i].v_atomics[a];
		for (f = 0; ftot && f < nfuncs; f++)
			ftot[f] += qp_vcpus[i].v_func_insns[f];
	}
	if (qp_bad_vcpu)
		qp_printf("warn - bad-vcpu-index %" PRIu64 "\n", qp_bad_vcpu);
	qp_printf("total insns %" PRIu64 " lr %" PRIu64 " sc %" PRIu64 " amo %" PRIu64 "\n",
		  tot[0], tot[1], tot[2], tot[3]);
	if (ftot)
		qp_print_top("functotal", ftot, nfuncs);
	free(ftot);
	if (qp_cache_on) {
		qp_printf("cacheconf size %" PRIu64 " ways %u line %u sets %" PRIu64
			  " coherence %u\n", qp_cache_size, qp_cache_ways, qp_cache_line,
			  qp_cache_sets, qp_dir != NULL);
		qp_report_share();
	}
	qp_printf("qprof end\n");
}

/* ------------------------------------------------------------------------
 * Installation.
 */

/* Parse "on" or "off" into *flag; 0, or -1 if it is neither. */
static int qp_parse_onoff(const char *val, bool *flag)
{
	if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
		return -1;
	*flag = strcmp(val, "on") == 0;
	return 0;
}

/* Parse a positive number into *out; 0, or -1 if it is not one. */
static int qp_parse_num(const char *val, uint64_t *out)
{
	char *end;

	*out = strtoull(val, &end, 0);
	return *val && !*end && *out > 0 ? 0 : -1;
}

/* cache_size=BYTES, cache_ways=N, cache_line=BYTES (key is what follows "cache_"). */
static int qp_parse_cache_arg(const char *key, size_t klen, const char *val)
{
	uint64_t n;

	if (qp_parse_num(val, &n) != 0)
		return -1;
	if (klen == 4 && strncmp(key, "size", 4) == 0)
		qp_cache_size = n;
	else if (klen == 4 && strncmp(key, "ways", 4) == 0 && n <= 1024)
		qp_cache_ways = (unsigned)n;
	else if (klen == 4 && strncmp(key, "line", 4) == 0 && n <= 4096 && (n & (n - 1)) == 0)
		qp_cache_line = (unsigned)n;
	else
		return -1;
	return 0;
}

/* fs_window_us=N, fs_top=N, fs_lines=N (key is what follows "fs_"). */
static int qp_parse_fs_arg(const char *key, size_t klen, const char *val)
{
	uint64_t n;

	if (qp_parse_num(val, &n) != 0)
		return -1;
	if (klen == 9 && strncmp(key, "window_us", 9) == 0)
		qp_fs_window = n * 1000;
	else if (klen == 3 && strncmp(key, "top", 3) == 0)
		qp_fs_top = (unsigned)n;
	else if (klen == 5 && strncmp(key, "lines", 5) == 0 && (n & (n - 1)) == 0 &&
		 n >= QP_SHARE_WAYS)
		qp_nbuckets = n / QP_SHARE_WAYS;
	else
		return -1;
	return 0;
}

/* Apply one key=value argument; returns 0, or -1 if it is not understood. */
static int qp_parse_arg(const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *val = eq ? eq + 1 : "";
	size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
	char *end;

	if (klen == 3 && strncmp(arg, "top", 3) == 0) {
		qp_top = (unsigned)strtoul(val, &end, 0);
		return *val && !*end ? 0 : -1;
	}
	if (klen == 7 && strncmp(arg, "windows", 7) == 0) {
		qp_max_windows = strtoull(val, &end, 0);
		return *val && !*end ? 0 : -1;
	}
	if (klen == 9 && strncmp(arg, "callgraph", 9) == 0)
		return qp_parse_onoff(val, &qp_cg_on);
	if (klen == 5 && strncmp(arg, "cache", 5) == 0)
		return qp_parse_onoff(val, &qp_cache_on);
	if (klen == 9 && strncmp(arg, "coherence", 9) == 0)
		return qp_parse_onoff(val, &qp_coh_on);
	if (klen > 6 && strncmp(arg, "cache_", 6) == 0)
		return qp_parse_cache_arg(arg + 6, klen - 6, val);
	if (klen > 3 && strncmp(arg, "fs_", 3) == 0)
		return qp_parse_fs_arg(arg + 3, klen - 3, val);
	if (!*val)
		return -1;
	if (klen == 7 && strncmp(arg, "vectors", 7) == 0)
		qp_vector_syms = val;
	else if (klen == 5 && strncmp(arg, "begin", 5) == 0)
		qp_mark_syms[QP_MARK_BEGIN] = val;
	else if (klen == 3 && strncmp(arg, "end", 3) == 0)
		qp_mark_syms[QP_MARK_END] = val;
	else if (klen == 4 && strncmp(arg, "mark", 4) == 0)
		qp_mark_syms[QP_MARK_REGION] = val;
	else
		return -1;
	return 0;
}

/* Complain about argument arg, listing the arguments understood; returns -1. */
static int qp_usage(const char *arg)
{
	fprintf(stderr, "qprof: bad argument '%s' (top=N windows=N begin=SYM end=SYM mark=SYM "
		"vectors=SYM:SYM callgraph=on|off cache=on|off coherence=on|off cache_size=BYTES "
		"cache_ways=N cache_line=BYTES fs_window_us=N fs_top=N fs_lines=N)\n", arg);
	return -1;
}

/* Give v a call graph: the root and overflow nodes and an empty hash table. */
static int qp_alloc_cg(struct qp_vcpu *v)
{
	struct qp_cg *cg = calloc(1, sizeof(*cg));

	if (cg == NULL)
		return -1;
	cg->cg_hash_size = 4096;
	cg->cg_hash = calloc(cg->cg_hash_size, sizeof(*cg->cg_hash));
	if (cg->cg_hash == NULL)
		return -1;
	qp_node_new(cg, 0, QP_FUNC_UNKNOWN);		/* QP_NODE_ROOT */
	qp_node_new(cg, QP_NODE_ROOT, QP_FUNC_OVERFLOW);	/* QP_NODE_OVERFLOW */
	v->v_cg = cg;
	return 0;
}

/* Give cc empty tag and LRU arrays for the configured geometry. */
static int qp_alloc_cache(struct qp_cache *cc)
{
	cc->cc_tags = calloc(qp_cache_sets * qp_cache_ways, sizeof(uint64_t));
	cc->cc_used = calloc(qp_cache_sets * qp_cache_ways, sizeof(uint64_t));
	cc->cc_ver = calloc(qp_cache_sets * qp_cache_ways, sizeof(uint64_t));
	return cc->cc_tags && cc->cc_used && cc->cc_ver ? 0 : -1;
}

/* Check the cache geometry and size the false-sharing table; 0, or -1 with a message. */
static int qp_setup_cache(void)
{
	unsigned i;

	qp_line_shift = (unsigned)__builtin_ctz(qp_cache_line);
	qp_cache_sets = qp_cache_size / ((uint64_t)qp_cache_ways * qp_cache_line);
	if (qp_cache_sets == 0 || (qp_cache_sets & (qp_cache_sets - 1)) != 0 ||
	    qp_cache_sets * qp_cache_ways * qp_cache_line != qp_cache_size) {
		fprintf(stderr, "qprof: cache_size %" PRIu64 " / (cache_ways %u x cache_line %u) "
			"must be a power of two\n", qp_cache_size, qp_cache_ways, qp_cache_line);
		return -1;
	}
	qp_lines = calloc(qp_nbuckets * QP_SHARE_WAYS, sizeof(*qp_lines));
	if (qp_lines == NULL)
		return -1;
	if (qp_coh_on && (qp_dir = calloc(QP_DIR_SIZE, sizeof(*qp_dir))) == NULL)
		return -1;
	for (i = 0; i < QP_SHARE_LOCKS; i++)
		pthread_spin_init(&qp_line_locks[i], PTHREAD_PROCESS_PRIVATE);
	return 0;
}

/* Allocate the per-vCPU state for n vCPUs. */
static int qp_alloc_vcpus(unsigned n)
{
	unsigned i;

	qp_vcpus = aligned_alloc(64, n * sizeof(*qp_vcpus));
	if (qp_vcpus == NULL)
		return -1;
	memset(qp_vcpus, 0, n * sizeof(*qp_vcpus));
	for (i = 0; i < n; i++) {
		qp_vcpus[i].v_func_insns = calloc(QP_MAX_FUNCS, sizeof(uint64_t));
		qp_vcpus[i].v_windows = calloc(qp_max_windows ? qp_max_windows : 1,
					       sizeof(struct qp_window));
		if (qp_vcpus[i].v_func_insns == NULL || qp_vcpus[i].v_windows == NULL)
			return -1;
		if ((qp_cg_on && qp_alloc_cg(&qp_vcpus[i]) != 0) ||
		    (qp_cache_on && qp_alloc_cache(&qp_vcpus[i].v_cache) != 0))
			return -1;
	}
	qp_nvcpus = n;
	return 0;
}

QP_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
				  int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (qp_parse_arg(argv[i]) != 0)
			return qp_usage(argv[i]);
	if (!info->system_emulation) {
		fprintf(stderr, "qprof: needs system emulation\n");
		return -1;
	}
	qp_funcs[QP_FUNC_UNKNOWN] = "[unknown]";
	qp_funcs[QP_FUNC_OVERFLOW] = "[overflow]";
	qp_funcs[QP_FUNC_TRAP] = "[trap]";
	qp_funcs[QP_FUNC_CALLED] = "[call]";
	qp_nfuncs = QP_FUNC_FIRST;
	if (qp_cache_on && qp_setup_cache() != 0)
		return -1;
	if (qp_alloc_vcpus((unsigned)info->system.max_vcpus) != 0) {
		fprintf(stderr, "qprof: out of memory\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, qp_trans);
	qemu_plugin_register_atexit_cb(id, qp_report, NULL);
	return 0;
}
