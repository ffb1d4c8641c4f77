/* PVH boot: loads an ELF kernel with a XEN_ELFNOTE_PHYS32_ENTRY note into
 * guest RAM, writes hvm_start_info, the memory map and the command line,
 * and puts the boot vCPU at the 32-bit entry point. */
#ifndef DH_BOOT_H
#define DH_BOOT_H

#include <stddef.h>
#include <stdint.h>
#include "vm.h"

#define BOOT_KERNEL_MAX		(256u << 20)

struct boot_image {
	uint64_t entry;		/* the PVH 32-bit entry */
	uint64_t low, high;	/* guest-physical extent of the image */
};

/* Validates and loads path.  Every malformation is an error naming the
 * file and what is wrong; nothing is written to RAM unless all is valid. */
int boot_load_elf(struct vm *vm, const char *path, struct boot_image *img,
		char *err, size_t errlen);
/* The same, from a buffer (the loader proper, also used by tests). */
int boot_parse_elf(struct vm *vm, const uint8_t *buf, size_t len,
		struct boot_image *img, char *err, size_t errlen);

/* Puts vCPU v in the PVH entry state at rip (rbx as given). */
int boot_flat32(struct vcpu *v, uint64_t rip, uint64_t rbx);

/* Writes the PVH structures and sets the BSP's registers. */
int boot_setup_pvh(struct vm *vm, const struct boot_image *img,
		const char *cmdline, char *err, size_t errlen);

#endif
