/*
 * printk.c - formatted output.
 *
 * One formatter (fmt_emit) writes through a sink: a buffer for vsnprintf, the
 * console for vprintk.  printk holds printk_lock (interrupts off) for the
 * whole call so lines from different harts never interleave; panic() breaks
 * the lock if its own hart died holding it (spin_force_release).
 * Before drivers/uart.c finds the UART, output goes to the SBI legacy console.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/riscv/sbi.h"
#include "arch/riscv/spinlock.h"
#include "drivers/uart.h"
#include "kernel/lib.h"
#include "kernel/printk.h"

spinlock_t printk_lock = SPINLOCK_INIT("printk", LOCK_RANK_PRINTK);
SPINLOCK_REGISTER(printk_lock);	/* lockstat sees it */

struct sink {
	void (*s_put)(struct sink *s, char c);	/* emit one character */
	char *s_buf;				/* buffer sinks: destination */
	size_t s_size;				/* buffer capacity (incl. NUL) */
	size_t s_len;				/* characters produced so far */
};

struct spec {
	int sp_width;		/* minimum field width */
	int sp_prec;		/* precision for %s, -1 if none */
	bool sp_zero;		/* pad with '0' */
	bool sp_left;		/* left-justify */
	int sp_lng;		/* 0 int, 1 long, 2 long long, -1 short, -2 char */
};

/* Console output: UART when present, else the SBI legacy console. */
void console_putc(char c)
{
	if (c == '\n')
		console_putc('\r');
	if (uart_present())
		uart_putc(c);
	else
		sbi_console_putchar(c);
}

static void sink_console(struct sink *s, char c)
{
	console_putc(c);
	s->s_len++;
}

static void sink_buffer(struct sink *s, char c)
{
	if (s->s_len + 1 < s->s_size)
		s->s_buf[s->s_len] = c;
	s->s_len++;
}

/* Emit `n` copies of c. */
static void emit_pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		s->s_put(s, c);
}

/* Emit a string with width and precision. */
static void emit_str(struct sink *s, const char *str, const struct spec *sp)
{
	int len;

	if (!str)
		str = "(null)";
	len = (int)strnlen(str, sp->sp_prec >= 0 ? (size_t)sp->sp_prec : (size_t)-1);
	if (!sp->sp_left)
		emit_pad(s, ' ', sp->sp_width - len);
	for (int i = 0; i < len; i++)
		s->s_put(s, str[i]);
	if (sp->sp_left)
		emit_pad(s, ' ', sp->sp_width - len);
}

/* Emit an unsigned number in `base`, with sign and padding. */
static void emit_num(struct sink *s, unsigned long long v, unsigned base, bool neg,
		     bool upper, const struct spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + (neg ? 1 : 0);
	if (!sp->sp_left && !sp->sp_zero)
		emit_pad(s, ' ', sp->sp_width - len);
	if (neg)
		s->s_put(s, '-');
	if (!sp->sp_left && sp->sp_zero)
		emit_pad(s, '0', sp->sp_width - len);
	while (n)
		s->s_put(s, tmp[--n]);
	if (sp->sp_left)
		emit_pad(s, ' ', sp->sp_width - len);
}

/* Parse flags, width, precision and length; returns the conversion char. */
static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){ .sp_prec = -1 };
	for (;; f++) {
		if (*f == '0')
			sp->sp_zero = true;
		else if (*f == '-')
			sp->sp_left = true;
		else
			break;
	}
	if (*f == '*') {
		sp->sp_width = va_arg(*ap, int);
		f++;
	}
	for (; *f >= '0' && *f <= '9'; f++)
		sp->sp_width = sp->sp_width * 10 + (*f - '0');
	if (*f == '.') {
		f++;
		sp->sp_prec = 0;
		if (*f == '*') {
			sp->sp_prec = va_arg(*ap, int);
			f++;
		}
		for (; *f >= '0' && *f <= '9'; f++)
			sp->sp_prec = sp->sp_prec * 10 + (*f - '0');
	}
	for (; *f == 'l' || *f == 'z' || *f == 'h'; f++) {
		if (*f == 'h')
			sp->sp_lng--;
		else
			sp->sp_lng++;
	}
	return f;
}

/* Fetch a signed argument of the spec's length. */
static long long arg_signed(const struct spec *sp, va_list *ap)
{
	if (sp->sp_lng >= 2)
		return va_arg(*ap, long long);
	if (sp->sp_lng == 1)
		return va_arg(*ap, long);
	if (sp->sp_lng == -1)
		return (short)va_arg(*ap, int);
	if (sp->sp_lng <= -2)
		return (signed char)va_arg(*ap, int);
	return va_arg(*ap, int);
}

/* Fetch an unsigned argument of the spec's length. */
static unsigned long long arg_unsigned(const struct spec *sp, va_list *ap)
{
	if (sp->sp_lng >= 2)
		return va_arg(*ap, unsigned long long);
	if (sp->sp_lng == 1)
		return va_arg(*ap, unsigned long);
	if (sp->sp_lng == -1)
		return (unsigned short)va_arg(*ap, unsigned);
	if (sp->sp_lng <= -2)
		return (unsigned char)va_arg(*ap, unsigned);
	return va_arg(*ap, unsigned);
}

/* Emit one conversion. */
static void emit_conv(struct sink *s, char c, struct spec *sp, va_list *ap)
{
	long long v;

	switch (c) {
	case 'd': case 'i':
		v = arg_signed(sp, ap);
		emit_num(s, v < 0 ? -(unsigned long long)v : (unsigned long long)v, 10,
			 v < 0, false, sp);
		break;
	case 'u': emit_num(s, arg_unsigned(sp, ap), 10, false, false, sp); break;
	case 'x': emit_num(s, arg_unsigned(sp, ap), 16, false, false, sp); break;
	case 'X': emit_num(s, arg_unsigned(sp, ap), 16, false, true, sp); break;
	case 'o': emit_num(s, arg_unsigned(sp, ap), 8, false, false, sp); break;
	case 'p':
		s->s_put(s, '0');
		s->s_put(s, 'x');
		emit_num(s, (uintptr_t)va_arg(*ap, void *), 16, false, false, sp);
		break;
	case 'c': s->s_put(s, (char)va_arg(*ap, int)); break;
	case 's': emit_str(s, va_arg(*ap, const char *), sp); break;
	case '%': s->s_put(s, '%'); break;
	default:
		s->s_put(s, '%');
		s->s_put(s, c);
		break;
	}
}

static void fmt_emit(struct sink *s, const char *fmt, va_list ap)
{
	struct spec sp;
	va_list aq;

	va_copy(aq, ap);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			s->s_put(s, *f);
			continue;
		}
		f = parse_spec(f + 1, &sp, &aq);
		if (!*f)
			break;
		emit_conv(s, *f, &sp, &aq);
	}
	va_end(aq);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { sink_buffer, buf, size, 0 };

	fmt_emit(&s, fmt, ap);
	if (size)
		buf[s.s_len < size ? s.s_len : size - 1] = 0;
	return (int)s.s_len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vprintk(const char *fmt, va_list ap)
{
	struct sink s = { sink_console, NULL, 0, 0 };
	unsigned long flags = spin_lock_irqsave(&printk_lock);

	fmt_emit(&s, fmt, ap);
	spin_unlock_irqrestore(&printk_lock, flags);
	return (int)s.s_len;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}
