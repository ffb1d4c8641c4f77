/* Test guest: dirties a known set of pages on command, for the dirty-log
 * tests.  It prints
 *   DIRTY-READY stack LO HI set BASE COUNT STRIDE
 * (page frame numbers), then for each 'd' read from the serial port it
 * writes one byte to each page of the set and prints "DIRTIED n"; 'q'
 * powers off.  Between commands it writes nothing but its own stack. */
#include "guest.h"

extern char user_stack_top[];

int guest_main(void)
{
	uint64_t base = cmdline_u64("dirty_base", 0x800000) / 4096;
	uint64_t count = cmdline_u64("dirty_count", 100);
	uint64_t stride = cmdline_u64("dirty_stride", 3);
	uint64_t top = ((uintptr_t)user_stack_top - 1) / 4096 + 1;
	uint64_t rounds = 0;

	if ((base + count * stride) * 4096 > ram_top())
		panic("the dirty set does not fit in RAM");
	gprintf("DIRTY-READY stack %lu %lu set %lu %lu %lu\n", top - 16, top - 1,
		base, count, stride);
	for (;;) {
		int c = serial_getc();

		if (c < 0) {
			pv_idle(100000);
			continue;
		}
		if (c == 'q')
			return 0;
		if (c != 'd')
			continue;
		rounds++;
		for (uint64_t i = 0; i < count; i++) {
			volatile uint8_t *p =
				(uint8_t *)(uintptr_t)((base + i * stride) * 4096);

			*p = (uint8_t)(rounds + i);
		}
		gprintf("DIRTIED %lu\n", rounds);
	}
}
