/* The guest ABI between colo-dom-helper and colo-kvm guests (DESIGN §8):
 * PVH boot structures and the paravirtual I/O ports.  Shared by the VMM
 * and the freestanding guests, so it uses only fixed-width types. */
#ifndef COLO_GUEST_ABI_H
#define COLO_GUEST_ABI_H

#include <stdint.h>

/* Paravirtual ports. */
#define PV_IDLE_PORT		0x0c50	/* out32: block up to N us for work */
#define PV_POWEROFF_PORT	0x0c51	/* out8/32: power off with a status */
#define PV_PANIC_PORT		0x0505	/* QEMU pvpanic: bit 0 = panicked */
#define PV_PANIC_PANICKED	0x1

/* The 8250 UART. */
#define SERIAL_PORT_BASE	0x3f8
#define SERIAL_IRQ		4

/* virtio-mmio windows. */
#define VIRTIO_MMIO_BASE	0xd0000000u
#define VIRTIO_MMIO_SIZE	0x200u
#define VIRTIO_MMIO_FIRST_GSI	5

/* Xen's PVH boot structures. */
#define XEN_HVM_START_MAGIC	0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_MEMMAP_TYPE_RAM	1
#define HVM_MEMMAP_TYPE_RESERVED 2

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;	/* 1: memmap fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Where the VMM puts hvm_start_info, the memory map and the command line:
 * one page below 640 KiB that guests must leave alone. */
#define PVH_INFO_ADDR		0x6000u
#define PVH_MEMMAP_ADDR		0x6040u
#define PVH_CMDLINE_ADDR	0x6400u
#define PVH_CMDLINE_MAX		3072u
/* Guest images load at and above this address. */
#define GUEST_IMAGE_MIN		0x100000u

#endif
