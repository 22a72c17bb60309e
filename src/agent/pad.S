/*
 * pad.S - the agent's common jump pad (see hdagent.h).
 *
 * Entered by jmp from an entry point's stub with every register as the
 * caller left it, except %eax (the entry point's index: no allocator is
 * variadic, so %al carries nothing) and %r11 (its relocated body; scratch
 * in the ABI).  %rsp points at the caller's return address.
 *
 * While sampling, two fast paths decide before any register is saved:
 * a free of a block not in the sample set, and a malloc, valloc or
 * pvalloc (one argument: %rsi, %rdx, %rcx and %r10 are scratch for them,
 * as for free) that does not reach its thread's next sample, jump
 * straight to the body.  Anything else (a found block, a spill, a thread
 * whose slot is not the first it probes, an unseeded or passing thread,
 * a sample) takes the full path, which decides the same way in C
 * (agent.c: sset_take, sample_hit).
 */
#include "hdagent-off.h"
#define FN_FREE 0x100		/* HDA_FN_FREE */
#define FN_NOT_SIMPLE 0x7700	/* HDA_FN_FREE | HDA_FN_OUTPTR | HDA_FN_OLD | HDA_FN_SIZE_MASK */
#define SLOT_PASS 1		/* HDA_SLOT_PASS */
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
	movq	hda_priv+HDA_PRIV_SHM_OFF(%rip), %r10
	cmpq	$0, HDA_SHM_SAMPLE_RATE_OFF(%r10)
	je	.Lfull			/* not sampling */
	testl	$FN_FREE, %eax
	jz	.Lalloc
	/* free(p): p in its bucket, or the bucket spilled?  Else run it. */
	testq	%rdi, %rdi
	jz	.Lpass
	movq	%rdi, %rdx
	shrq	$4, %rdx
	imulq	.Lgolden(%rip), %rdx
	shrq	$32, %rdx
	movl	HDA_SHM_NSSET_OFF(%r10), %ecx
	decl	%ecx
	andq	%rcx, %rdx
	shlq	$6, %rdx
	movl	HDA_SHM_SSET_OFF_OFF(%r10), %ecx
	addq	%rcx, %rdx
	addq	%r10, %rdx		/* the bucket */
	cmpq	%rdi, 0(%rdx)
	je	.Lfull
	cmpq	%rdi, 8(%rdx)
	je	.Lfull
	cmpq	%rdi, 16(%rdx)
	je	.Lfull
	cmpq	%rdi, 24(%rdx)
	je	.Lfull
	cmpq	%rdi, 32(%rdx)
	je	.Lfull
	cmpq	%rdi, 40(%rdx)
	je	.Lfull
	cmpq	%rdi, 48(%rdx)
	je	.Lfull
	cmpq	$0, 56(%rdx)		/* spill */
	jne	.Lfull
.Lpass:
	jmp	*%r11			/* not sampled: the call as made */
.Lalloc:
	testl	$FN_NOT_SIMPLE, %eax
	jnz	.Lfull
	/* malloc(n): this thread's countdown, in the slot it probes first */
	movq	%rax, %rsi		/* keep the function */
	movq	%fs:0, %rax
	testq	%rax, %rax
	jz	.Lfull_rsi
	movq	%rax, %rdx
	imulq	.Lgolden(%rip), %rax
	shrq	$40, %rax
	movl	HDA_SHM_NSLOTS_OFF(%r10), %ecx
	decl	%ecx
	andq	%rcx, %rax
	shlq	$HDA_SLOT_SHIFT, %rax
	movl	HDA_SHM_SLOTS_OFF_OFF(%r10), %ecx
	addq	%rcx, %rax
	addq	%r10, %rax		/* the slot */
	cmpq	%rdx, 0(%rax)		/* its key: our thread pointer? */
	jne	.Lfull_rsi
	testl	$SLOT_PASS, HDA_SLOT_FLAGS_OFF(%rax)
	jnz	.Lfull_rsi
	cmpq	$0, HDA_SLOT_RNG_OFF(%rax)
	je	.Lfull_rsi
	movq	HDA_SLOT_SAMPLE_LEFT_OFF(%rax), %rcx
	testq	%rcx, %rcx
	jle	.Lfull_rsi
	cmpq	%rdi, %rcx
	jbe	.Lfull_rsi		/* left <= n: a sample */
	subq	%rdi, %rcx
	movq	%rcx, HDA_SLOT_SAMPLE_LEFT_OFF(%rax)
	jmp	*%r11
.Lfull_rsi:
	movq	%rsi, %rax
.Lfull:
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
	.p2align 3
.Lgolden:
	.quad	0x9e3779b97f4a7c15

	.section .note.GNU-stack, "", @progbits
