/*
 * nomemfd - a program whose seccomp filter refuses memfd_create (EPERM),
 * so heapdbg's fast tracer cannot set up its shared ring in it and
 * trace start falls back to breakpoints on every entry point.  Prints
 * "ready PID", waits until malloc's first byte changes (tracing is on),
 * makes N malloc+free pairs and keeps K blocks of 100 bytes, prints
 * "kept K blocks" and exits 0.
 *
 * Usage: nomemfd N K
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *volatile sink;

static int
refuse_memfd(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000, k = argc > 2 ? atol(argv[2]) : 10;
	unsigned char orig = *(volatile unsigned char *)(uintptr_t)&malloc;
	void **kept = calloc((size_t)k, sizeof(void *));

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (refuse_memfd() < 0) {
		perror("nomemfd: seccomp");
		return 2;
	}
	if (syscall(SYS_memfd_create, "x", 0) >= 0 || errno != EPERM) {
		fprintf(stderr, "nomemfd: the filter does not refuse memfd_create\n");
		return 2;
	}
	printf("ready %d\n", (int)getpid());
	while (*(volatile unsigned char *)(uintptr_t)&malloc == orig)
		usleep(2000);
	for (long i = 0; i < n; i++) {
		void *p = malloc(16 + (size_t)(i % 64));
		sink = p;
		free(p);
	}
	for (long i = 0; i < k; i++)
		kept[i] = malloc(100);
	sink = kept;
	printf("kept %ld blocks\n", k);
	return 0;
}
