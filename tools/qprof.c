/*
 * qprof.c - QEMU 7.2 TCG plugin (plugin API version 1): per-vCPU instruction,
 * atomic and per-function counts, and exact counts between kernel markers.
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
 * record to the counters of the executing vCPU.  No per-instruction callback
 * is ever registered, which keeps the slowdown near the 1.3-1.5x PLATFORM.md
 * measured for a bare TB-exec callback.
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
 *    docs/profiling.md)
 * ---------------------------------------------------------------------
 *   qprof version 1 vcpus <n> top <N>
 *   vcpu <i> insns <n> lr <n> sc <n> amo <n> tbs <n>
 *   func <i> <rank> <insns> <symbol>
 *   window <i> <seq> <region|-> <calib|measure|raw> insns <n> lr <n> sc <n> amo <n>
 *   warn <i> <what> <n>
 *   total insns <n> lr <n> sc <n> amo <n>
 *   functotal <rank> <insns> <symbol>
 *   qprof end
 *
 * Arguments (-plugin libqprof.so,key=value,...): top=N (functions listed
 * per vCPU, default 15), windows=N (windows kept per vCPU, default 4096),
 * begin=SYM, end=SYM, mark=SYM (marker symbols, defaults prof_begin,
 * prof_end, prof_region_mark).
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
#define QP_TB_MARKS	4		/* marks per TB: 1 in practice (entry at index 0) */
#define QP_NOSYM_SHIFT	21		/* unsymbolised code is grouped by 2 MiB region */
#define QP_MAX_NOSYM	64		/* distinct such regions named; then "[unknown]" */

enum qp_atomic { QP_LR, QP_SC, QP_AMO, QP_NATOMIC };
enum qp_mark_kind { QP_MARK_BEGIN, QP_MARK_END, QP_MARK_REGION, QP_NMARKKINDS };
enum qp_role { QP_ROLE_RAW, QP_ROLE_CALIB, QP_ROLE_MEASURE };
enum qp_kind { QP_WORK, QP_IDLE, QP_SPIN, QP_NKINDS };	/* what a TB does, see section 2 */

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
	uint32_t sg_insns;			/* instructions in the run */
};

/* Everything the exec callback needs about one translated TB. */
struct qp_tb {
	uint32_t tb_insns;			/* instructions in the TB */
	uint16_t tb_atomics[QP_NATOMIC];	/* LR, SC, AMO in the TB */
	uint16_t tb_nmarks;			/* used entries of tb_marks */
	uint16_t tb_nsegs;			/* entries of tb_segs */
	uint8_t tb_kind;			/* enum qp_kind */
	bool tb_fw;				/* first instruction has no symbol */
	struct qp_mark tb_marks[QP_TB_MARKS];	/* marker entries, in index order */
	struct qp_seg tb_segs[];		/* symbol runs, in address order */
};

/* A closed window, as the report prints it. */
struct qp_window {
	uint64_t w_insns;			/* instructions from begin to end */
	uint64_t w_atomics[QP_NATOMIC];		/* LR, SC, AMO in it */
	int64_t w_region;			/* region ordinal on the vCPU, or -1 */
	int w_role;				/* enum qp_role */
};

/* Per-vCPU counters: written only by the vCPU's own thread. */
struct qp_vcpu {
	/* totals */
	uint64_t v_insns;			/* instructions executed */
	uint64_t v_atomics[QP_NATOMIC];		/* LR, SC, AMO executed */
	uint64_t v_tbs;				/* TB executions */
	uint64_t v_kind[2][QP_NKINDS];		/* [firmware?][enum qp_kind] instructions */
	uint64_t *v_func_insns;			/* [QP_MAX_FUNCS] per-symbol instructions */

	/* the open window */
	bool v_open;				/* a begin was seen, no end yet */
	uint64_t v_open_insns;			/* v_insns at the begin mark */
	uint64_t v_open_atomics[QP_NATOMIC];	/* v_atomics at the begin mark */

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

static void qp_exec(unsigned int vcpu_index, void *udata);

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
		if (a != QP_NATOMIC)
			rec->tb_atomics[a]++;
		prev = name;
	}
	qemu_plugin_register_vcpu_tb_exec_cb(tb, qp_exec, QEMU_PLUGIN_CB_NO_REGS, rec);
}

/* ------------------------------------------------------------------------
 * Execution time: runs on the executing vCPU's thread.
 */

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
			  PRIu64 " amo %" PRIu64 "\n", i, w, region, qp_role_names[wp->w_role],
			  wp->w_insns, wp->w_atomics[QP_LR], wp->w_atomics[QP_SC],
			  wp->w_atomics[QP_AMO]);
	}
	if (v->v_reopened)
		qp_printf("warn %u reopened %" PRIu64 "\n", i, v->v_reopened);
	if (v->v_unmatched_end)
		qp_printf("warn %u unmatched-end %" PRIu64 "\n", i, v->v_unmatched_end);
	if (v->v_lost_windows)
		qp_printf("warn %u lost-windows %" PRIu64 "\n", i, v->v_lost_windows);
	if (v->v_open)
		qp_printf("warn %u open-at-exit 1\n", i);
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
	qp_printf("qprof version 1 vcpus %u top %u\n", qp_nvcpus, qp_top);
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
	qp_printf("qprof end\n");
}

/* ------------------------------------------------------------------------
 * Installation.
 */

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
	if (!*val)
		return -1;
	if (klen == 5 && strncmp(arg, "begin", 5) == 0)
		qp_mark_syms[QP_MARK_BEGIN] = val;
	else if (klen == 3 && strncmp(arg, "end", 3) == 0)
		qp_mark_syms[QP_MARK_END] = val;
	else if (klen == 4 && strncmp(arg, "mark", 4) == 0)
		qp_mark_syms[QP_MARK_REGION] = val;
	else
		return -1;
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
	}
	qp_nvcpus = n;
	return 0;
}

QP_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
				  int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (qp_parse_arg(argv[i]) != 0) {
			fprintf(stderr, "qprof: bad argument '%s' (top=N windows=N begin=SYM "
				"end=SYM mark=SYM)\n", argv[i]);
			return -1;
		}
	}
	if (!info->system_emulation) {
		fprintf(stderr, "qprof: needs system emulation\n");
		return -1;
	}
	qp_funcs[QP_FUNC_UNKNOWN] = "[unknown]";
	qp_funcs[QP_FUNC_OVERFLOW] = "[overflow]";
	qp_nfuncs = 2;
	if (qp_alloc_vcpus((unsigned)info->system.max_vcpus) != 0) {
		fprintf(stderr, "qprof: out of memory\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, qp_trans);
	qemu_plugin_register_atexit_cb(id, qp_report, NULL);
	return 0;
}
