/* The PVH ELF loader on malformed images: each is refused with a reason,
 * and guest RAM is untouched unless the whole image is valid. */
#include "config.h"
#include <elf.h>
#include <string.h>
#include "boot.h"
#include "dh-unit.h"
#include "guest_abi.h"
#include "vm.h"

struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	struct {
		Elf64_Nhdr nh;
		char name[4];
		uint32_t entry;
	} note;
	uint8_t code[64];
};

/* A minimal valid PVH image: one PT_LOAD at 1 MiB, one PT_NOTE. */
static void build(struct img *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_type = ET_EXEC;
	m->eh.e_machine = EM_X86_64;
	m->eh.e_phoff = offsetof(struct img, ph);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 2;
	m->ph[0].p_type = PT_LOAD;
	m->ph[0].p_offset = offsetof(struct img, code);
	m->ph[0].p_paddr = GUEST_IMAGE_MIN;
	m->ph[0].p_filesz = sizeof(m->code);
	m->ph[0].p_memsz = 8192;
	m->ph[1].p_type = PT_NOTE;
	m->ph[1].p_offset = offsetof(struct img, note);
	m->ph[1].p_filesz = sizeof(m->note);
	m->note.nh.n_namesz = 4;
	m->note.nh.n_descsz = 4;
	m->note.nh.n_type = XEN_ELFNOTE_PHYS32_ENTRY;
	memcpy(m->note.name, "Xen", 4);
	m->note.entry = GUEST_IMAGE_MIN + 16;
	memset(m->code, 0x90, sizeof(m->code));
}

static int parse(struct vm *vm, const void *buf, size_t len, char *err,
		size_t errlen)
{
	struct boot_image bi;

	err[0] = '\0';
	return boot_parse_elf(vm, buf, len, &bi, err, errlen);
}

static void test_malformed(void)
{
	struct vm *vm = dh_vm_new(0);
	struct img m;
	char err[256];
	uint8_t *ram;
	static const struct {
		const char *what, *msg;
	} want[] = {
		{ "empty", "not an ELF file" },
		{ "class", "ELF64" },
		{ "machine", "ELF64" },
		{ "type", "is not an executable" },
		{ "phnum", "bad program header table" },
		{ "phoff", "bad program header table" },
		{ "offset", "outside the file" },
		{ "filesz", "outside the file" },
		{ "ram", "does not fit in guest RAM" },
		{ "low", "does not fit in guest RAM" },
		{ "note", "bad note" },
		{ "nonote", "no XEN_ELFNOTE_PHYS32_ENTRY" },
		{ "entry", "is not inside a loaded segment" },
		{ "noload", "no loadable segment" },
	};

	if (!vm)
		return;
	ram = mem_ptr(&vm->mem, GUEST_IMAGE_MIN, 64);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *w = want[i].what;
		size_t len = sizeof(m);

		build(&m);
		memset(ram, 0xab, 64);
		if (!strcmp(w, "empty"))
			len = 3;
		else if (!strcmp(w, "class"))
			m.eh.e_ident[EI_CLASS] = ELFCLASS32;
		else if (!strcmp(w, "machine"))
			m.eh.e_machine = EM_386;
		else if (!strcmp(w, "type"))
			m.eh.e_type = ET_DYN;
		else if (!strcmp(w, "phnum"))
			m.eh.e_phnum = 1000;
		else if (!strcmp(w, "phoff"))
			m.eh.e_phoff = ~0ull - 8;
		else if (!strcmp(w, "offset"))
			m.ph[0].p_offset = ~0ull - 100;
		else if (!strcmp(w, "filesz"))
			m.ph[0].p_filesz = 1u << 20;
		else if (!strcmp(w, "ram"))
			m.ph[0].p_memsz = ~0ull - GUEST_IMAGE_MIN + 2;
		else if (!strcmp(w, "low"))
			m.ph[0].p_paddr = 0x1000;
		else if (!strcmp(w, "note"))
			m.note.nh.n_namesz = 0xfffffff0u;
		else if (!strcmp(w, "nonote"))
			m.ph[1].p_type = PT_NULL;
		else if (!strcmp(w, "entry"))
			m.note.entry = 0x50000;
		else if (!strcmp(w, "noload"))
			m.ph[0].p_type = PT_NULL;
		CU_ASSERT_TRUE(parse(vm, &m, len, err, sizeof(err)) < 0);
		if (!strstr(err, want[i].msg))
			fprintf(stderr, "%s: got '%s'\n", w, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want[i].msg));
		/* Refused images write nothing. */
		CU_ASSERT_EQUAL(ram[0], 0xab);
		CU_ASSERT_EQUAL(ram[63], 0xab);
	}
	dh_vm_free(vm);
}

static void test_valid(void)
{
	struct vm *vm = dh_vm_new(0);
	struct boot_image bi;
	struct img m;
	char err[256];
	uint8_t *ram;

	if (!vm)
		return;
	build(&m);
	ram = mem_ptr(&vm->mem, GUEST_IMAGE_MIN, 8192);
	memset(ram, 0xab, 8192);
	CU_ASSERT_EQUAL(boot_parse_elf(vm, (const uint8_t *)&m, sizeof(m), &bi,
				       err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(bi.entry, GUEST_IMAGE_MIN + 16);
	CU_ASSERT_EQUAL(ram[0], 0x90);
	CU_ASSERT_EQUAL(ram[63], 0x90);
	CU_ASSERT_EQUAL(ram[64], 0);	/* bss is zeroed */
	CU_ASSERT_EQUAL(ram[8191], 0);
	dh_vm_free(vm);
}

void dh_suite_elf(void)
{
	static const struct unit_case cases[] = {
		{ "malformed", test_malformed },
		{ "valid", test_valid },
		{ NULL, NULL },
	};

	unit_add_suite("elf", cases);
}
