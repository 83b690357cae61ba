/*
 * uart.h - the ns16550a console UART named by /chosen/stdout-path.
 */
#ifndef DRIVERS_UART_H
#define DRIVERS_UART_H

#include <stdbool.h>
#include <stdint.h>

bool uart_init(void);		/* find it in the FDT; false if there is none */
bool uart_present(void);
void uart_putc(char c);
int uart_getc(void);		/* a byte, or -1 when none is waiting */
uint64_t uart_base(void);

#endif /* DRIVERS_UART_H */
