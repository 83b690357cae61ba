/*
 * cmdline.h - the kernel command line (/chosen/bootargs), DESIGN.md §4.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#define CMDLINE_MAX	512

struct cmdline {
	bool cl_ktest;			/* `ktest` or `ktest=...` given */
	char cl_ktest_suites[128];	/* suite list after `ktest=`, "" for all */
	char cl_kmem_debug[64];		/* flags after `kmem_debug=` (applied by mm_kmem_init) */
	bool cl_kmem_nomagazine;	/* `kmem_nomagazine`: object caches without magazines */
	bool cl_kmem_reap_set;		/* `kmem_reap_interval=MS` given ... */
	unsigned cl_kmem_reap_ms;	/* ... its value: 0 turns periodic reaping off */
	uint64_t cl_page_defer_mib;	/* `page_defer=MIB`: descriptors written at boot
					   per zone, the rest on demand; 0 (default): all */
	bool cl_smp_via_start;		/* test hook `smp_via_start`: start secondaries
					   at _start, as OpenSBI's hart_start race does */
	bool cl_stress;			/* `stress=SECONDS` given ... */
	unsigned cl_stress_seconds;	/* ... its value (1..86400) */
	bool cl_stress_seed_set;	/* `stress_seed=N` given ... */
	uint64_t cl_stress_seed;	/* ... its value (else the run draws one) */
	unsigned cl_fail_every;		/* `fail_every=N`: failure injection, 0 off */
	unsigned cl_stress_remote;	/* `stress_remote=PERCENT` of frees on another
					   hart (default STRESS_REMOTE_DEFAULT) */
	char cl_stress_kinds[64];	/* `stress_kinds=a,b`: only these kinds ("" all) */
	bool cl_stress_leak;		/* self-test hook `stress_leak=1`: leak on purpose */
	bool cl_stress_corrupt;		/* self-test hook `stress_corrupt=1`: corrupt on purpose */
	bool cl_stress_hang;		/* self-test hook `stress_hang=1`: one hart stops on purpose */
	unsigned cl_unknown;		/* words reported and ignored */
};

#define STRESS_REMOTE_DEFAULT	25	/* percent of stress frees sent to another hart */

extern struct cmdline cmdline;

/* Parse `args` into `cl`, reporting unknown words; returns the unknown count. */
unsigned cmdline_parse(const char *args, struct cmdline *cl);

#endif /* KERNEL_CMDLINE_H */
