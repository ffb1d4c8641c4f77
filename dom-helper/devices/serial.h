/* An 8250/16550 UART at 0x3f8, IRQ 4.  Output goes to a callback (the
 * console); input is queued by serial_input(). */
#ifndef DH_SERIAL_H
#define DH_SERIAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

typedef void (*serial_out_fn)(void *opaque, const uint8_t *buf, size_t n);

#define SERIAL_RX_SIZE 1024

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t rx[SERIAL_RX_SIZE];
	size_t rx_head, rx_len;
	int thre_pending;
	int irq_level;
	serial_out_fn out;
	void *out_opaque;
};

int serial_init(struct serial *s, struct vm *vm, serial_out_fn out,
		void *opaque);
void serial_fini(struct serial *s);
/* Queues input for the guest; bytes beyond the FIFO are dropped. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t n);

/* State for save/restore: registers and queued input. */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, pad;
	uint32_t rx_len;
	uint8_t rx[SERIAL_RX_SIZE];
};
void serial_save(struct serial *s, struct serial_state *st);
int serial_load(struct serial *s, const struct serial_state *st);

#endif
