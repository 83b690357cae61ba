/*
 * undocumented.c - the negative control of `make mm-env-check`.
 *
 * It includes mm's headers the way an mm source file does and then calls
 * memchr, a libc name that mm/mm_platform.h does not list.  Compiled against
 * tests/host/mm_env_min/mm_env.h it must fail; if it compiled, the check
 * would be unable to see an undocumented name in mm either.
 */
#include "mm/mm_platform.h"
#include "mm/page_impl.h"

/* Where the first NUL of a page's first bytes is, through an undocumented name. */
const void *mm_env_min_undocumented(const struct page *pg)
{
	return memchr(phys_to_virt(pg->pg_pa), 0, 64);
}
