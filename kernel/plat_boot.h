/*
 * plat_boot.h - the kernel's own use of the platform map (kernel/plat_boot.c):
 * parse the blob dt_init() validated, make it safe to hand to bootmem, add
 * the ranges the kernel occupies, warn about what a device tree promises
 * and the machine cannot keep.
 */
#ifndef KERNEL_PLAT_BOOT_H
#define KERNEL_PLAT_BOOT_H

#include <stdint.h>

#include "kernel/platform.h"

extern struct plat_map boot_plat_map;	/* the map the kernel booted with */

/* Fill boot_plat_map from the blob at fdt_pa; panics with the reason when unusable. */
void plat_boot(uintptr_t fdt_pa);

#endif /* KERNEL_PLAT_BOOT_H */
