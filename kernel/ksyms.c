/*
 * ksyms.c - the kernel's own symbol table, for backtraces and the profiler.
 *
 * tools/ksyms.py turns `nm -n kernel.elf` into the .ksyms section: a count,
 * a sorted array of text addresses, an array of name offsets and the names.
 * The Makefile links twice; .ksyms lies after all text (kernel.ld), so the
 * addresses in the table are the final ones.
 */
#include <stdint.h>

#include "kernel/lib.h"
#include "kernel/panic.h"

extern const uint64_t ksyms_count;
extern const uint64_t ksyms_addrs[];
extern const uint32_t ksyms_name_offs[];
extern const char ksyms_names[];
extern char __text_start[], __text_end[];

const char *ksym_lookup(uintptr_t addr, uintptr_t *offset)
{
	uint64_t lo = 0, hi = ksyms_count;

	*offset = addr;
	if (addr < (uintptr_t)__text_start || addr >= (uintptr_t)__text_end || hi == 0)
		return NULL;
	while (hi - lo > 1) {			/* last symbol with address <= addr */
		uint64_t mid = (lo + hi) / 2;

		if (ksyms_addrs[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ksyms_addrs[lo] > addr)
		return NULL;
	*offset = addr - ksyms_addrs[lo];
	return &ksyms_names[ksyms_name_offs[lo]];
}

uintptr_t ksym_address(const char *name)
{
	for (uint64_t i = 0; i < ksyms_count; i++)
		if (strcmp(&ksyms_names[ksyms_name_offs[i]], name) == 0)
			return ksyms_addrs[i];
	return 0;
}
