/*
 * testdev.h - QEMU's sifive,test0 device: the way to end QEMU with a status.
 */
#ifndef DRIVERS_TESTDEV_H
#define DRIVERS_TESTDEV_H

#include <stdbool.h>

bool testdev_init(void);
/* Exit QEMU with `status` (0..255); returns only if there is no device. */
void testdev_exit(int status);

#endif /* DRIVERS_TESTDEV_H */
