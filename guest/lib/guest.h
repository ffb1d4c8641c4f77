/* The freestanding runtime of colo-kvm guests: port I/O, serial output,
 * a small printf, strings, the PVH command line and the PV ports.  All of
 * it runs at CPL3 with IOPL=3. */
#ifndef COLO_GUEST_H
#define COLO_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "guest_abi.h"

extern struct hvm_start_info *guest_start_info;
/* CPUID leaves 1, 0x80000001, 0x80000007 and 0x40000010 (eax..edx) as
 * ring 0 saw them at boot; see boot.S. */
extern uint32_t boot_cpuid[4][4];
/* Interrupt vectors IRQ_VECTOR_BASE + 0..2 are counted here by the boot
 * code's stubs, which also end each interrupt at the local APIC.  The
 * stub of vector IRQ_VECTOR_BASE + 1 reads the UART's received byte into
 * irq_uart_byte. */
#define IRQ_VECTOR_BASE	0x30
extern volatile uint64_t irq_counts[3];
extern volatile uint8_t irq_uart_byte;
/* The RFLAGS the CPL3 code starts with (IOPL=3, IF=0 unless a guest
 * defines its own, strong, copy). */
extern const uint64_t guest_user_rflags;

/* Provided by each guest; its return value is the poweroff status. */
int guest_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#define barrier() __asm__ volatile("" ::: "memory")
#define mb() __asm__ volatile("mfence" ::: "memory")

/* Serial console. */
void serial_putc(char c);
void serial_write(const char *s, size_t n);
int serial_getc(void);			/* -1 when nothing is waiting */
int gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gsnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* PV ports. */
void pv_idle(uint32_t timeout_us);
void __attribute__((noreturn)) poweroff(int status);
void __attribute__((noreturn)) panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Command line: "key=value key2 ...".  cmdline_get copies the value of
 * the first occurrence of key into buf; returns its length or -1. */
const char *cmdline(void);
int cmdline_get(const char *key, char *buf, size_t size);
/* The n-th (0-based) value of a key that may repeat, such as
 * virtio_mmio.device. */
int cmdline_get_nth(const char *key, int n, char *buf, size_t size);
uint64_t cmdline_u64(const char *key, uint64_t def);

/* Time, from tsc_khz= on the command line. */
uint64_t tsc_khz(void);
uint64_t now_us(void);

/* Memory the guest may use: the RAM above its image, from the memmap. */
uint64_t ram_top(void);
uintptr_t heap_start(void);

/* Strings (gcc may emit calls to the first four). */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
uint64_t parse_u64(const char *s, const char **end);

/* CRC-32C, as the stream and the kv log use it. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
