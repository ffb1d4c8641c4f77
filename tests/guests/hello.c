/* Test guest: prints its command line, memory map and the CPUID leaves
 * the helper filters, then powers off with the status given as exit=N
 * (default 0). */
#include "guest.h"

/* The leaves boot.S read in ring 0, where KVM answers CPUID. */
static void print_cpuid(void)
{
	gprintf("cpuid 1: ecx %#x apic %u\n", boot_cpuid[0][2],
		boot_cpuid[0][1] >> 24);
	gprintf("cpuid 80000001: ecx %#x\n", boot_cpuid[1][2]);
	gprintf("cpuid 80000007: edx %#x\n", boot_cpuid[2][3]);
	gprintf("cpuid 40000010: tsc %u kHz\n", boot_cpuid[3][0]);
}

int guest_main(void)
{
	const struct hvm_memmap_table_entry *m =
		(const void *)(uintptr_t)guest_start_info->memmap_paddr;

	gprintf("hello from a colo-kvm guest\n");
	gprintf("cmdline: %s\n", cmdline());
	for (uint32_t i = 0; i < guest_start_info->memmap_entries; i++)
		gprintf("memmap %u: %#lx +%#lx type %u\n", i, m[i].addr,
			m[i].size, m[i].type);
	gprintf("ram top %#lx, tsc %lu kHz\n", ram_top(), tsc_khz());
	print_cpuid();
	return (int)cmdline_u64("exit", 0);
}
