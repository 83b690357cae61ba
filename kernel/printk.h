/*
 * printk.h - formatted output to the console, and panic.
 *
 * printk() serialises whole lines across harts with a lock (so SMP output
 * does not interleave mid-line).  Formats: %d %i %u %x %X %o %c %s %p and the
 * l, ll, z, h length modifiers, with width, '0', '-' and precision for %s.
 */
#ifndef KERNEL_PRINTK_H
#define KERNEL_PRINTK_H

#include <stdarg.h>
#include <stddef.h>

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif /* KERNEL_PRINTK_H */
