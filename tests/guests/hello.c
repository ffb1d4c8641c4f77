/* Test guest: prints its command line and memory map, then powers off
 * with the status given as exit=N (default 0). */
#include "guest.h"

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
	return (int)cmdline_u64("exit", 0);
}
