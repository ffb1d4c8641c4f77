/* The PVH ELF loader.  The ELF comes from the user; every offset and size
 * in it is checked against the file and against guest RAM before use. */
#include "config.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "boot.h"
#include "guest_abi.h"

#define ELF_MAX_PHDRS 64

static bool in_file(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Finds the PVH entry in one PT_NOTE segment. */
static int find_pvh_note(const uint8_t *p, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;

	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, p + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + ((nh.n_namesz + 3ull) & ~3ull);
		next = desc_off + ((nh.n_descsz + 3ull) & ~3ull);
		if (next > size || next <= off)
			return -EINVAL;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(p + name_off, "Xen", 4) == 0) {
			uint32_t e32;

			if (nh.n_descsz == 4) {
				memcpy(&e32, p + desc_off, 4);
				*entry = e32;
			} else if (nh.n_descsz == 8) {
				memcpy(entry, p + desc_off, 8);
			} else {
				return -EINVAL;
			}
			return 0;
		}
		off = next;
	}
	return -ENOENT;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *err,
		size_t errlen)
{
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file");
		return -ENOEXEC;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "not a little-endian x86-64 ELF64 image");
		return -ENOEXEC;
	}
	if (eh->e_type != ET_EXEC) {
		snprintf(err, errlen, "ELF type %u is not an executable",
			 eh->e_type);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS ||
	    !in_file(len, eh->e_phoff, (uint64_t)eh->e_phnum *
		     sizeof(Elf64_Phdr))) {
		snprintf(err, errlen, "malformed ELF: bad program header table");
		return -ENOEXEC;
	}
	return 0;
}

static int check_load(const Elf64_Phdr *ph, size_t len, uint64_t ram,
		char *err, size_t errlen)
{
	if (!in_file(len, ph->p_offset, ph->p_filesz) ||
	    ph->p_filesz > ph->p_memsz) {
		snprintf(err, errlen, "malformed ELF: segment at %#llx lies "
			 "outside the file", (unsigned long long)ph->p_paddr);
		return -ENOEXEC;
	}
	if (ph->p_paddr < GUEST_IMAGE_MIN || ph->p_paddr >= ram ||
	    ph->p_memsz > ram - ph->p_paddr) {
		snprintf(err, errlen, "segment [%#llx, +%#llx) does not fit in "
			 "guest RAM [%#x, %#llx)",
			 (unsigned long long)ph->p_paddr,
			 (unsigned long long)ph->p_memsz, GUEST_IMAGE_MIN,
			 (unsigned long long)ram);
		return -EFBIG;
	}
	return 0;
}

int boot_parse_elf(struct vm *vm, const uint8_t *buf, size_t len,
		struct boot_image *img, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	bool have_entry = false, entry_loaded = false;
	int rc;

	memset(img, 0, sizeof(*img));
	img->low = UINT64_MAX;
	if (len >= sizeof(eh))
		memcpy(&eh, buf, sizeof(eh));
	rc = check_header(&eh, len, err, errlen);
	if (rc < 0)
		return rc;
	memcpy(ph, buf + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
	/* Validate everything before touching guest RAM. */
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			rc = check_load(&ph[i], len, vm->mem.size, err, errlen);
			if (rc < 0)
				return rc;
			if (ph[i].p_paddr < img->low)
				img->low = ph[i].p_paddr;
			if (ph[i].p_paddr + ph[i].p_memsz > img->high)
				img->high = ph[i].p_paddr + ph[i].p_memsz;
		} else if (ph[i].p_type == PT_NOTE && !have_entry) {
			if (!in_file(len, ph[i].p_offset, ph[i].p_filesz)) {
				snprintf(err, errlen, "malformed ELF: note "
					 "segment outside the file");
				return -ENOEXEC;
			}
			rc = find_pvh_note(buf + ph[i].p_offset,
					   ph[i].p_filesz, &img->entry);
			if (rc == -EINVAL) {
				snprintf(err, errlen, "malformed ELF: bad note");
				return -ENOEXEC;
			}
			have_entry = rc == 0;
		}
	}
	if (img->high == 0) {
		snprintf(err, errlen, "ELF has no loadable segment");
		return -ENOEXEC;
	}
	if (!have_entry) {
		snprintf(err, errlen, "not a PVH kernel: no "
			 "XEN_ELFNOTE_PHYS32_ENTRY note");
		return -ENOEXEC;
	}
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && img->entry >= ph[i].p_paddr &&
		    img->entry - ph[i].p_paddr < ph[i].p_filesz)
			entry_loaded = true;
	if (!entry_loaded || img->entry > UINT32_MAX) {
		snprintf(err, errlen, "PVH entry %#llx is not inside a loaded "
			 "segment below 4 GiB", (unsigned long long)img->entry);
		return -ENOEXEC;
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		mem_write(&vm->mem, ph[i].p_paddr, buf + ph[i].p_offset,
			  ph[i].p_filesz);
		memset(mem_ptr(&vm->mem, ph[i].p_paddr + ph[i].p_filesz,
			       ph[i].p_memsz - ph[i].p_filesz), 0,
		       ph[i].p_memsz - ph[i].p_filesz);
	}
	return 0;
}

int boot_load_elf(struct vm *vm, const char *path, struct boot_image *img,
		char *err, size_t errlen)
{
	char why[256] = "";
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "kernel %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "kernel %s: not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > BOOT_KERNEL_MAX ||
	    (uint64_t)st.st_size > vm->mem.size) {
		snprintf(err, errlen, "kernel %s: %lld bytes is larger than "
			 "%s", path, (long long)st.st_size,
			 (uint64_t)st.st_size > vm->mem.size ? "guest RAM" :
			 "the 256 MiB limit");
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(err, errlen, "kernel %s: short read", path);
		rc = -EIO;
		goto out;
	}
	rc = boot_parse_elf(vm, buf, (size_t)n, img, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "kernel %s: %s", path, why);
out:
	free(buf);
	close(fd);
	return rc;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

/* PVH entry state: flat 32-bit protected mode, paging off, a busy 32-bit
 * TSS, rip at entry and rbx holding the start-info address. */
int boot_flat32(struct vcpu *v, uint64_t rip, uint64_t rbx)
{
	struct kvm_sregs sr;
	struct kvm_regs regs = { 0 };

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg(&sr.cs, 0x10, 0xb);
	seg(&sr.ds, 0x18, 0x3);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.limit = 0x67;
	sr.tr.type = 0xb;
	sr.tr.present = 1;
	sr.cr0 = 0x11;		/* PE | ET */
	sr.cr3 = 0;
	sr.cr4 = 0;
	sr.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	regs.rip = rip;
	regs.rbx = rbx;
	regs.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}


int boot_setup_pvh(struct vm *vm, const struct boot_image *img,
		const char *cmdline, char *err, size_t errlen)
{
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = PVH_CMDLINE_ADDR,
		.memmap_paddr = PVH_MEMMAP_ADDR,
		.memmap_entries = 3,
	};
	struct hvm_memmap_table_entry mm[3] = {
		{ 0, 0x9fc00, HVM_MEMMAP_TYPE_RAM, 0 },
		{ 0x9fc00, GUEST_IMAGE_MIN - 0x9fc00, HVM_MEMMAP_TYPE_RESERVED, 0 },
		{ GUEST_IMAGE_MIN, vm->mem.size - GUEST_IMAGE_MIN,
		  HVM_MEMMAP_TYPE_RAM, 0 },
	};
	struct vcpu *bsp = &vm->vcpus[0];
	size_t clen = strlen(cmdline);

	if (clen >= PVH_CMDLINE_MAX) {
		snprintf(err, errlen, "command line is %zu bytes; the limit is "
			 "%u", clen, PVH_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	if (vm->mem.size <= GUEST_IMAGE_MIN || img->low < GUEST_IMAGE_MIN) {
		snprintf(err, errlen, "guest RAM too small for a PVH guest");
		return -EINVAL;
	}
	if (mem_write(&vm->mem, PVH_INFO_ADDR, &si, sizeof(si)) < 0 ||
	    mem_write(&vm->mem, PVH_MEMMAP_ADDR, mm, sizeof(mm)) < 0 ||
	    mem_write(&vm->mem, PVH_CMDLINE_ADDR, cmdline, clen + 1) < 0)
		return -EFAULT;
	return boot_flat32(bsp, img->entry, PVH_INFO_ADDR);
}
