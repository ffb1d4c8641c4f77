/* The 8250 UART.  Guests mostly poll LSR; the interrupt is modelled too
 * (level on GSI 4) for guests that enable it. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "guest_abi.h"
#include "serial.h"
#include "../vm.h"

#define UART_RBR 0	/* read, DLAB=0 */
#define UART_THR 0	/* write, DLAB=0 */
#define UART_IER 1
#define UART_IIR 2	/* read */
#define UART_FCR 2	/* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LCR_DLAB	0x80
#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xc0
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_DCD_DSR_CTS	0xb0

static void update_irq_locked(struct serial *s)
{
	int level = ((s->ier & IER_RDI) && s->rx_len) ||
		    ((s->ier & IER_THRI) && s->thre_pending);

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, SERIAL_IRQ, level);
	}
}

static uint8_t read_reg(struct serial *s, uint64_t off)
{
	uint8_t v = 0;

	switch (off) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
			s->rx_len--;
		}
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = (s->fcr & 1) ? IIR_FIFO : 0;
		if ((s->ier & IER_RDI) && s->rx_len)
			return v | IIR_RDI;
		if ((s->ier & IER_THRI) && s->thre_pending) {
			s->thre_pending = 0;	/* reading IIR clears it */
			return v | IIR_THRI;
		}
		return v | IIR_NO_INT;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case UART_MSR:
		return MSR_DCD_DSR_CTS;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	switch (off) {
	case UART_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		if (s->out)
			s->out(s->out_opaque, &v, 1);
		s->thre_pending = 1;
		return;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		s->ier = v & 0x0f;
		if (s->ier & IER_THRI)
			s->thre_pending = 1;
		return;
	case UART_FCR:
		s->fcr = v;
		if (v & 0x02) {		/* clear the receive FIFO */
			s->rx_len = 0;
			s->rx_head = 0;
		}
		return;
	case UART_LCR:
		s->lcr = v;
		return;
	case UART_MCR:
		s->mcr = v & 0x1f;
		return;
	case UART_SCR:
		s->scr = v;
		return;
	}
}

static void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++) {
		if (is_write)
			write_reg(s, off + i, data[i]);
		else
			data[i] = read_reg(s, off + i);
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
}

int serial_init(struct serial *s, struct vm *vm, serial_out_fn out,
		void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->out = out;
	s->out_opaque = opaque;
	s->lcr = 0x03;
	return io_bus_add(&vm->pio, SERIAL_PORT_BASE, 8, serial_io, s);
}

void serial_fini(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	while (taken < n && s->rx_len < SERIAL_RX_SIZE) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_SIZE] = buf[taken++];
		s->rx_len++;
	}
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (taken)
		vm_kick(s->vm);
	return taken;
}

void serial_save(struct serial *s, struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = s->fcr;
	st->rx_len = (uint32_t)s->rx_len;
	for (size_t i = 0; i < s->rx_len; i++)
		st->rx[i] = s->rx[(s->rx_head + i) % SERIAL_RX_SIZE];
	pthread_mutex_unlock(&s->lock);
}

int serial_load(struct serial *s, const struct serial_state *st)
{
	if (st->rx_len > SERIAL_RX_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier & 0x0f;
	s->lcr = st->lcr;
	s->mcr = st->mcr & 0x1f;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->rx_head = 0;
	s->rx_len = st->rx_len;
	memcpy(s->rx, st->rx, st->rx_len);
	s->irq_level = -1;	/* force the line to match */
	update_irq_locked(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
