/*
 * shortentry.S - libshortentry.so, an LD_PRELOAD allocator whose entry
 * points cannot take the fast tracer's 5-byte jump: malloc's first bytes
 * hold a branch target (+3, the target of a jump further down), free is a
 * 2-byte function (a short jmp to code after it).  Both forward to glibc
 * through realloc, which is not interposed: malloc(n) = realloc(NULL, n),
 * free(p) = realloc(p, 0) (glibc 2.36 frees p).  heapdbg must trace them
 * with breakpoints and say why in trace status.
 */
	.text
	.globl malloc
	.type malloc, @function
malloc:
	test	%rdi, %rdi		/* 3 bytes */
1:	movq	%rdi, %rsi		/* +3: a branch target */
	xorl	%edi, %edi
	jmp	realloc@PLT
	jmp	1b			/* never taken: a branch into the first bytes */
	.size malloc, .-malloc

	.globl free
	.type free, @function
free:
	jmp	free_impl		/* 2 bytes: shorter than the jump */
	.size free, .-free

	.type free_impl, @function
free_impl:
	testq	%rdi, %rdi
	jz	2f
	xorl	%esi, %esi
	jmp	realloc@PLT
2:	ret
	.size free_impl, .-free_impl

	.section .note.GNU-stack, "", @progbits
