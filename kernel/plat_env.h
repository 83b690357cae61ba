/*
 * plat_env.h (kernel) - what the portable platform code needs from its host.
 *
 * kernel/plat_check.c, plat_fdt.c, platform.c and plat_zones.c read device
 * trees in the kernel, in the host tool build/host/fdtinfo and in the fuzzer.
 * They reach their environment only through <plat_env.h>, picked with -I as
 * mm picks mm_env.h: this file in the kernel, tools/plat_env.h on the host.
 * Every name an environment provides:
 *
 *   Strings   memchr memcmp memcpy memset strlen strcmp vsnprintf
 *   Checks    ASSERT(expr) (invariant, off when !MM_DEBUG), VERIFY(expr)
 *             (always on); both end in a panic naming the expression
 *
 * Nothing else: no locks, no harts, no allocation.
 */
#ifndef KERNEL_PLAT_ENV_H
#define KERNEL_PLAT_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/lib.h"
#include "kernel/printk.h"

#ifndef VERIFY
#define VERIFY(e)	((e) ? (void)0 : panic("VERIFY failed: %s at %s:%d", #e, __FILE__, __LINE__))
#endif
#ifndef ASSERT
#if MM_DEBUG
#define ASSERT(e)	((e) ? (void)0 : panic("ASSERT failed: %s at %s:%d", #e, __FILE__, __LINE__))
#else
#define ASSERT(e)	((void)0)
#endif
#endif

#endif /* KERNEL_PLAT_ENV_H */
