/*
 * PVH entry and CPL0 stub shared by every colo-kvm guest.  The VMM enters
 * pvh_start32 in flat 32-bit protected mode with paging off and %ebx
 * pointing at hvm_start_info.  This stub maps the low 4 GiB (RAM and the
 * virtio-mmio windows) with user-accessible 2 MiB pages, enters long
 * mode, loads a GDT, a TSS with a full zeroed I/O bitmap and an IDT, and
 * iretq's to guest_user_entry at CPL3 with IOPL=3 and interrupts off.
 * Ring 0 is emulated instruction by instruction on this KVM, so it does as
 * little as possible.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
/* Accessed (and for leaves, dirty) are set up front, so the page walker
 * never writes the tables: their pages stay clean in the dirty log. */
#define PTE_PRESENT_RW_USER	0x27
#define PDE_LARGE		0xc0
#define MSR_EFER		0xc0000080
#define EFER_LME		0x100
#define CR0_PE_MP_PG		0x80000003
#define CR4_PAE_OSFXSR_XMM	0x620
#define SEL_KCODE		0x08
#define SEL_KDATA		0x10
#define SEL_UCODE		0x1b
#define SEL_UDATA		0x23
#define SEL_TSS			0x28
#define TSS_LIMIT		0x2068	/* 104-byte TSS + 8 KiB I/O bitmap */
#define RFLAGS_USER		0x3002	/* IOPL=3, IF=0 */
#define IRQ_VECTOR_BASE		0x30	/* see guest.h */
#define IRQ_VECTORS		3
#define LAPIC_EOI		0xfee000b0

/* CPUID_SAVE leaf, slot: eax, ebx, ecx, edx of the leaf into boot_cpuid. */
	.macro CPUID_SAVE leaf, slot
	movl $\leaf, %eax
	xorl %ecx, %ecx
	cpuid
	movl %eax, boot_cpuid + \slot * 16
	movl %ebx, boot_cpuid + \slot * 16 + 4
	movl %ecx, boot_cpuid + \slot * 16 + 8
	movl %edx, boot_cpuid + \slot * 16 + 12
	.endm

	.pushsection .note.Xen, "a", @note
	.balign 4
	.long 4				/* name size: "Xen\0" */
	.long 4				/* descriptor size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32
	.popsection

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cld
	movl %ebx, guest_start_info
	movl $boot_stack_top, %esp

	/* Four page directories of 2 MiB pages: identity map 0..4 GiB. */
	movl $boot_pd, %edi
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_PRESENT_RW_USER | PDE_LARGE), %eax
	movl %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b
	movl $boot_pdpt, %edi
	movl $(boot_pd + PTE_PRESENT_RW_USER), 0(%edi)
	movl $(boot_pd + 0x1000 + PTE_PRESENT_RW_USER), 8(%edi)
	movl $(boot_pd + 0x2000 + PTE_PRESENT_RW_USER), 16(%edi)
	movl $(boot_pd + 0x3000 + PTE_PRESENT_RW_USER), 24(%edi)
	movl $(boot_pdpt + PTE_PRESENT_RW_USER), boot_pml4

	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE_OSFXSR_XMM, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~0x4, %eax		/* clear EM: SSE is used at CPL3 */
	orl $CR0_PE_MP_PG, %eax
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $SEL_KCODE, $start64

	.code64
start64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $boot_stack_top, %rsp

	/* TSS descriptor: base is only known at link time in pieces. */
	movq $boot_tss, %rax
	movw %ax, gdt + SEL_TSS + 2
	shrq $16, %rax
	movb %al, gdt + SEL_TSS + 4
	movb %ah, gdt + SEL_TSS + 7
	shrq $16, %rax
	movl %eax, gdt + SEL_TSS + 8
	movq $boot_stack_top, %rax
	movq %rax, boot_tss + 4		/* rsp0: exceptions and interrupts at CPL3 */
	movw $104, boot_tss + 102	/* I/O bitmap right after the TSS */
	movb $0xff, boot_tss + 104 + 8192	/* the bitmap's end marker */
	movw $SEL_TSS, %ax
	ltr %ax

	/* IDT: vectors 0..31 point at the exception stubs. */
	movq $idt, %rdi
	movq $exc_stubs, %rsi
	movl $32, %edx
	call set_gates
	/* Vectors 0x30..0x32: the interrupt stubs, for guests that take
	 * interrupts (the demo guest polls and never enables them). */
	movq $(idt + IRQ_VECTOR_BASE * 16), %rdi
	movq $irq_stubs, %rsi
	movl $IRQ_VECTORS, %edx
	call set_gates
	lidt idt_ptr

	/* CPUID as the guest kernel sees it, kept for the C code: in ring 3
	 * a PVM host runs CPUID natively, so only ring 0 shows the table
	 * the helper gave KVM. */
	CPUID_SAVE 1, 0
	CPUID_SAVE 0x80000001, 1
	CPUID_SAVE 0x80000007, 2
	CPUID_SAVE 0x40000010, 3

	/* As if called: the SysV ABI wants rsp + 8 16-byte aligned at a
	 * function's entry, or aligned SSE spills fault. */
	pushq $SEL_UDATA
	pushq $(user_stack_top - 8)
	pushq guest_user_rflags(%rip)
	pushq $SEL_UCODE
	pushq $guest_user_entry
	iretq

/* set_gates: %edx interrupt gates (present, DPL0) from %rdi on, to the
 * handlers listed at %rsi. */
set_gates:
	xorl %ecx, %ecx
2:	movq (%rsi,%rcx,8), %rax
	movw %ax, 0(%rdi)
	movw $SEL_KCODE, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shrq $16, %rax
	movw %ax, 6(%rdi)
	shrq $16, %rax
	movl %eax, 8(%rdi)
	movl $0, 12(%rdi)
	addq $16, %rdi
	incl %ecx
	cmpl %edx, %ecx
	jb 2b
	ret

/* Interrupts: count each vector in irq_counts and signal the end of
 * interrupt to the local APIC.  Vector 0x31 also takes the byte the UART
 * holds, which lowers its level-triggered line; like any 8250 driver it
 * checks that there is one, since this KVM may deliver the line again
 * after it fell. */
	.macro IRQ n
irq_\n:
	pushq %rax
	.if \n == 1
	pushq %rdx
	movw $0x3fd, %dx		/* LSR */
	inb %dx, %al
	testb $1, %al			/* data ready */
	jz 7f
	movw $0x3f8, %dx		/* RBR */
	inb %dx, %al
	movb %al, irq_uart_byte(%rip)
7:	popq %rdx
	.endif
	lock incq irq_counts + \n * 8(%rip)
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	popq %rax
	iretq
	.endm
	IRQ 0; IRQ 1; IRQ 2

/* Exceptions: push a uniform frame and let C print it. */
	.macro EXC vec, has_err
exc_\vec:
	.if \has_err == 0
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
	.endm
	EXC 0,0; EXC 1,0; EXC 2,0; EXC 3,0; EXC 4,0; EXC 5,0; EXC 6,0; EXC 7,0
	EXC 8,1; EXC 9,0; EXC 10,1; EXC 11,1; EXC 12,1; EXC 13,1; EXC 14,1
	EXC 15,0; EXC 16,0; EXC 17,1; EXC 18,0; EXC 19,0; EXC 20,0; EXC 21,1
	EXC 22,0; EXC 23,0; EXC 24,0; EXC 25,0; EXC 26,0; EXC 27,0; EXC 28,0
	EXC 29,1; EXC 30,1; EXC 31,0
exc_common:
	pushq %rax; pushq %rbx; pushq %rcx; pushq %rdx
	pushq %rsi; pushq %rdi; pushq %rbp; pushq %r8
	pushq %r9; pushq %r10; pushq %r11; pushq %r12
	pushq %r13; pushq %r14; pushq %r15
	movq %rsp, %rdi
	call guest_exception		/* never returns */
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.balign 8
exc_stubs:
	.irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_\v
	.endr
irq_stubs:
	.quad irq_0, irq_1, irq_2

	.section .data
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00affa000000ffff	/* 0x18 user code, 64-bit, DPL3 */
	.quad 0x00cff2000000ffff	/* 0x20 user data, DPL3 */
	.word TSS_LIMIT & 0xffff	/* 0x28 TSS, 16 bytes */
	.word 0
	.byte 0, 0x89, (TSS_LIMIT >> 16) & 0xf, 0
	.quad 0
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
idt_ptr:
	.word 256 * 16 - 1
	.quad idt
	.globl guest_start_info
guest_start_info:
	.quad 0
/* The RFLAGS CPL3 starts with.  A guest that takes interrupts defines its
 * own with IF set: CPL3 cannot sti on this KVM, which runs it with IOPL 0
 * whatever RFLAGS says. */
	.weak guest_user_rflags
guest_user_rflags:
	.quad RFLAGS_USER

	.section .bss
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
idt:		.skip 256 * 16
	.globl boot_cpuid
boot_cpuid:	.skip 4 * 16
	.globl irq_counts, irq_uart_byte
irq_counts:	.skip IRQ_VECTORS * 8
irq_uart_byte:	.skip 8
	.balign 16
boot_tss:	.skip 104 + 8192 + 16	/* TSS, zeroed I/O bitmap, 0xff end */
	.balign 16
		.skip 16384
boot_stack_top:
	.balign 16
		.skip 65536
	.globl user_stack_top
user_stack_top:
	.section .note.GNU-stack, "", @progbits
