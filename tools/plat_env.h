/*
 * plat_env.h (host) - the portable platform code's environment on the host:
 * libc strings and stdio, and checks that abort.  Used by build/host/fdtinfo,
 * the host tests and the fuzzer; needs no object file of its own, so fdtinfo
 * links only the platform files and mm/zone_layout.c.  The list of names is
 * in kernel/plat_env.h.
 */
#ifndef HOST_PLAT_ENV_H
#define HOST_PLAT_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print the failed check and abort (the host tests' mm env may define its own). */
#define PLAT_ENV_FAIL(kind, e) \
	(fprintf(stderr, "%s failed: %s at %s:%d\n", kind, #e, __FILE__, __LINE__), abort())
#ifndef VERIFY
#define VERIFY(e)	((e) ? (void)0 : PLAT_ENV_FAIL("VERIFY", e))
#endif
#ifndef ASSERT
#if MM_DEBUG
#define ASSERT(e)	((e) ? (void)0 : PLAT_ENV_FAIL("ASSERT", e))
#else
#define ASSERT(e)	((void)0)
#endif
#endif

#endif /* HOST_PLAT_ENV_H */
