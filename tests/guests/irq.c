/* Test guest: takes interrupts through the in-kernel irqchip instead of
 * polling, so that their delivery and their save/restore are tested.
 *
 *   - the local APIC timer, periodic at hz= (default 100), on vector 0x30;
 *   - the UART's receive interrupt, IRQ 4 through the IOAPIC (level), on
 *     vector 0x31: its stub takes the byte;
 *   - virtio-blk's used-buffer interrupt, its GSI through the IOAPIC
 *     (edge), on vector 0x32.
 *
 * It prints "IRQ-READY blk N" once set up, then every report_ms= (default
 * 200) "TICKS t UART u BLK b".  A byte received prints "UART-BYTE c" ('b'
 * also posts a block read and prints "BLK-IRQ ok" once its interrupt has
 * come, 'q' powers off).  Interrupts are on from the start at CPL3
 * (guest_user_rflags); none comes before the APIC and IOAPIC are set. */
#include "virtio.h"

#define LAPIC		0xfee00000u
#define LAPIC_SVR	0x0f0
#define LAPIC_TPR	0x080
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV	0x3e0
#define LVT_PERIODIC	(1u << 17)
#define IOAPIC		0xfec00000u
#define IOAPIC_LEVEL	(1u << 15)
/* 1 GHz: what CPUID 0x40000010 ebx reports (1000000, in kHz). */
#define APIC_BUS_HZ	1000000000ull
#define UART_IER	0x3f9
#define PIC_MASTER_IMR	0x21
#define PIC_SLAVE_IMR	0xa1

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(LAPIC + reg) = v;
}

/* Routes IOAPIC pin to vector on the boot CPU, unmasked. */
static void ioapic_route(uint32_t pin, uint32_t vector, uint32_t flags)
{
	volatile uint32_t *sel = (volatile uint32_t *)(uintptr_t)IOAPIC;
	volatile uint32_t *win = (volatile uint32_t *)(uintptr_t)(IOAPIC + 0x10);

	*sel = 0x11 + 2 * pin;
	*win = 0;			/* destination: APIC id 0 */
	*sel = 0x10 + 2 * pin;
	*win = vector | flags;
}

static void start_timer(uint64_t hz)
{
	lapic_write(LAPIC_SVR, 0x100 | 0xff);	/* enabled, spurious 0xff */
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_TIMER_DIV, 0xb);	/* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | IRQ_VECTOR_BASE);
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)(APIC_BUS_HZ / hz));
}

const uint64_t guest_user_rflags = 0x3202;	/* IOPL=3, IF=1 */

static struct vdev blk;
static int have_blk;

/* One read of sector 0 with interrupts asked for, answered by vector 0x32.
 * The buffer is reclaimed afterwards only to keep the ring tidy. */
static void blk_read_by_irq(void)
{
	static struct blk_req req = { 0, 0, 0 };
	static uint8_t buf[512];
	static volatile uint8_t status;
	struct gbuf out[1] = { { &req, sizeof(req) } };
	struct gbuf in[2] = { { buf, sizeof(buf) }, { (void *)&status, 1 } };
	struct gvq *q = &blk.q[0];
	uint64_t before = irq_counts[2], deadline = now_us() + 5000000;

	status = 0xff;
	gvq_add(q, out, 1, in, 2, &req);
	gvq_kick(q);
	while (irq_counts[2] == before && now_us() < deadline)
		pv_idle(1000);
	while (gvq_get(q, NULL))
		;
	gprintf("BLK-IRQ %s status %u\n", irq_counts[2] != before ? "ok" :
		"none", status);
}

static int take_byte(uint8_t *last)
{
	uint8_t c = irq_uart_byte;

	if (c == *last)
		return 0;
	*last = c;
	gprintf("UART-BYTE %c\n", c);
	if (c == 'b' && have_blk)
		blk_read_by_irq();
	return c == 'q';
}

int guest_main(void)
{
	uint64_t hz = cmdline_u64("hz", 100);
	uint64_t report_us = cmdline_u64("report_ms", 200) * 1000;
	uint64_t next = now_us() + report_us;
	uint8_t last = 0;

	/* The 8259s would deliver device IRQs too, through LINT0, at a
	 * vector of their reset state: mask them all before any device may
	 * interrupt, as any IOAPIC guest does. */
	outb(PIC_MASTER_IMR, 0xff);
	outb(PIC_SLAVE_IMR, 0xff);
	if (hz == 0 || hz > APIC_BUS_HZ) {
		gprintf("IRQ-FAIL hz=%lu is out of range\n", (unsigned long)hz);
		return 1;
	}
	if (vdev_find(&blk, 2, 0) == 0 && vdev_init(&blk, 0, 1) == 0) {
		have_blk = 1;
		blk.q[0].avail[0] = 0;	/* interrupts wanted */
		ioapic_route(blk.gsi, IRQ_VECTOR_BASE + 2, 0);
	}
	ioapic_route(4, IRQ_VECTOR_BASE + 1, IOAPIC_LEVEL);
	outb(UART_IER, 1);		/* received data available */
	start_timer(hz);
	gprintf("IRQ-READY blk %d\n", have_blk);
	for (;;) {
		/* The stub stores each byte; a repeat of the same byte in a
		 * row is seen once, which is all the tests need. */
		if (take_byte(&last))
			return 0;
		if (now_us() >= next) {
			gprintf("TICKS %lu UART %lu BLK %lu\n",
				(unsigned long)irq_counts[0],
				(unsigned long)irq_counts[1],
				(unsigned long)irq_counts[2]);
			next += report_us;
		}
		pv_idle(1000);
	}
}
