/*
 * cmdline.h - the kernel command line (/chosen/bootargs), DESIGN.md §4.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>

#define CMDLINE_MAX	512

struct cmdline {
	bool cl_ktest;			/* `ktest` or `ktest=...` given */
	char cl_ktest_suites[128];	/* suite list after `ktest=`, "" for all */
	char cl_kmem_debug[64];		/* flags after `kmem_debug=` (applied by mm_kmem_init) */
	bool cl_kmem_nomagazine;	/* `kmem_nomagazine`: object caches without magazines */
	bool cl_kmem_reap_set;		/* `kmem_reap_interval=MS` given ... */
	unsigned cl_kmem_reap_ms;	/* ... its value: 0 turns periodic reaping off */
	bool cl_smp_via_start;		/* test hook `smp_via_start`: start secondaries
					   at _start, as OpenSBI's hart_start race does */
	unsigned cl_unknown;		/* words reported and ignored */
};

extern struct cmdline cmdline;

/* Parse `args` into `cl`, reporting unknown words; returns the unknown count. */
unsigned cmdline_parse(const char *args, struct cmdline *cl);

#endif /* KERNEL_CMDLINE_H */
