/*
 * pad.S - the agent's common jump pad (see hdagent.h).
 *
 * Entered by jmp from an entry point's stub with every register as the
 * caller left it, except %eax (the entry point's index: no allocator is
 * variadic, so %al carries nothing) and %r11 (its relocated body; scratch
 * in the ABI).  %rsp points at the caller's return address.
 */
#define F_RDI 0
#define F_RSI 8
#define F_RDX 16
#define F_RCX 24
#define F_R8 32
#define F_R9 40
#define F_RBX 48
#define F_RBP 56
#define F_R12 64
#define F_R13 72
#define F_R14 80
#define F_R15 88
#define F_RSP 96
#define F_FUNC 104
#define F_BODY 112
#define F_RET 120
#define FRAME 160	/* HDA_FRAME_SIZE rounded up to 16 */

	.section .text.hda_pad, "ax", @progbits
	.globl hda_pad
	.hidden hda_pad
	.type hda_pad, @function
hda_pad:
	movq	%rsp, %r10		/* the entry's stack pointer */
	leaq	-128(%rsp), %rsp	/* below the caller's red zone */
	andq	$-16, %rsp
	subq	$FRAME, %rsp
	movq	%rdi, F_RDI(%rsp)
	movq	%rsi, F_RSI(%rsp)
	movq	%rdx, F_RDX(%rsp)
	movq	%rcx, F_RCX(%rsp)
	movq	%r8, F_R8(%rsp)
	movq	%r9, F_R9(%rsp)
	movq	%rbx, F_RBX(%rsp)
	movq	%rbp, F_RBP(%rsp)
	movq	%r12, F_R12(%rsp)
	movq	%r13, F_R13(%rsp)
	movq	%r14, F_R14(%rsp)
	movq	%r15, F_R15(%rsp)
	movq	%r10, F_RSP(%rsp)
	movq	%rax, F_FUNC(%rsp)
	movq	%r11, F_BODY(%rsp)
	movq	%rsp, %rdi
	call	hda_enter		/* %rsp is 16-aligned here */
	testl	%eax, %eax
	jz	1f
	movq	F_RDI(%rsp), %rdi
	movq	F_RSI(%rsp), %rsi
	movq	F_RDX(%rsp), %rdx
	movq	F_RCX(%rsp), %rcx
	movq	F_R8(%rsp), %r8
	movq	F_R9(%rsp), %r9
	call	*F_BODY(%rsp)		/* the function runs; it returns here */
	movq	%rax, F_RET(%rsp)
	movq	%rsp, %rdi
	call	hda_exit
	movq	F_RET(%rsp), %rax
	movq	F_RSP(%rsp), %rsp	/* the caller's return address on top */
	ret
1:	/* not recorded: run the function as if called directly */
	movq	F_RDI(%rsp), %rdi
	movq	F_RSI(%rsp), %rsi
	movq	F_RDX(%rsp), %rdx
	movq	F_RCX(%rsp), %rcx
	movq	F_R8(%rsp), %r8
	movq	F_R9(%rsp), %r9
	movq	F_BODY(%rsp), %r11
	movq	F_RSP(%rsp), %rsp
	jmp	*%r11
	.size hda_pad, .-hda_pad

	.section .note.GNU-stack, "", @progbits
