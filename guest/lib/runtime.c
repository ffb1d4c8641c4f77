/* Guest runtime: entry at CPL3, serial, PV ports, exception dumps. */
#include "guest.h"

#define LSR_THRE	0x20
#define LSR_DR		0x01

extern char __image_end[];

void serial_putc(char c)
{
	/* The VMM's UART is always ready; the poll is for real 8250s. */
	while (!(inb(SERIAL_PORT_BASE + 5) & LSR_THRE))
		cpu_relax();
	outb(SERIAL_PORT_BASE, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

int serial_getc(void)
{
	if (!(inb(SERIAL_PORT_BASE + 5) & LSR_DR))
		return -1;
	return inb(SERIAL_PORT_BASE);
}

int gprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	serial_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

void pv_idle(uint32_t timeout_us)
{
	outl(PV_IDLE_PORT, timeout_us);
}

void poweroff(int status)
{
	for (;;)
		outl(PV_POWEROFF_PORT, (uint32_t)status);
}

void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	gvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	gprintf("GUEST-PANIC: %s\n", buf);
	for (;;)
		outb(PV_PANIC_PORT, PV_PANIC_PANICKED);
}

static uint64_t tsc_khz_cache;

uint64_t tsc_khz(void)
{
	if (!tsc_khz_cache)
		tsc_khz_cache = cmdline_u64("tsc_khz", 1000000);
	return tsc_khz_cache;
}

uint64_t now_us(void)
{
	return rdtsc() * 1000 / tsc_khz();
}

uint64_t ram_top(void)
{
	const struct hvm_memmap_table_entry *m;
	uint64_t top = 0;

	if (guest_start_info->version < 1)
		return 0;
	m = (const void *)(uintptr_t)guest_start_info->memmap_paddr;
	for (uint32_t i = 0; i < guest_start_info->memmap_entries; i++)
		if (m[i].type == HVM_MEMMAP_TYPE_RAM &&
		    m[i].addr + m[i].size > top)
			top = m[i].addr + m[i].size;
	return top;
}

uintptr_t heap_start(void)
{
	return ((uintptr_t)__image_end + 4095) & ~(uintptr_t)4095;
}

/* Entered from the boot stub by iretq, at CPL3. */
void __attribute__((noreturn, used)) guest_user_entry(void);
void guest_user_entry(void)
{
	if (guest_start_info->magic != XEN_HVM_START_MAGIC)
		panic("bad hvm_start_info magic %x", guest_start_info->magic);
	poweroff(guest_main());
}

struct exc_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

/* Runs at CPL0 (slowly: emulated) and never returns. */
void __attribute__((noreturn, used)) guest_exception(struct exc_frame *f);
void guest_exception(struct exc_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	gprintf("GUEST-EXCEPTION vector %lu error %#lx\n"
		"rip %016lx cs %04lx rflags %016lx rsp %016lx ss %04lx\n"
		"rax %016lx rbx %016lx rcx %016lx rdx %016lx\n"
		"rsi %016lx rdi %016lx rbp %016lx cr2 %016lx\n"
		"r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n"
		"r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n",
		f->vector, f->error, f->rip, f->cs, f->rflags, f->rsp, f->ss,
		f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, cr2,
		f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15);
	for (;;)
		outb(PV_PANIC_PORT, PV_PANIC_PANICKED);
}
