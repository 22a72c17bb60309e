/*
 * sigalloc [SIGNALS] - signal handlers that allocate while their thread is
 * inside the fast tracer's collector.  Two workers make malloc+free pairs
 * without end; main sends them SIGUSR1 (SIGNALS in all, default 20000).
 * The handler looks where its thread was interrupted: inside glibc it
 * only counts (glibc's malloc is not async-signal-safe: the arena may be
 * locked), anywhere else -- the program, or code that belongs to no
 * loaded object, i.e. heapdbg's code page -- it makes a malloc+free pair
 * of its own.  It waits for malloc to be patched first, and prints
 *   calls malloc=N free=N
 *   signals handled=N allocated=N in_libc=N in_code_page=N
 *   malloc-intact=1
 * then exits 0.
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

struct range {
	uintptr_t lo, hi;
	int libc;
};
static struct range ranges[128];
static int nranges;
static atomic_ulong n_malloc, n_free, handled, allocated, in_libc, in_code_page;
static atomic_int stop;
static unsigned char malloc_orig[16];

static int
phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	int libc = info->dlpi_name && strstr(info->dlpi_name, "libc.so") != NULL;
	for (int i = 0; i < info->dlpi_phnum && nranges < 128; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		ranges[nranges].lo = info->dlpi_addr + ph->p_vaddr;
		ranges[nranges].hi = ranges[nranges].lo + ph->p_memsz;
		ranges[nranges].libc = libc;
		nranges++;
	}
	return 0;
}

static void
on_usr1(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t pc = (uintptr_t)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP];
	int where = -1;	/* -1: no loaded object's code */
	for (int i = 0; i < nranges; i++)
		if (pc >= ranges[i].lo && pc < ranges[i].hi)
			where = ranges[i].libc;
	handled++;
	if (where == 1) {
		in_libc++;
		return;
	}
	if (where == -1)
		in_code_page++;
	{
		void *p = malloc(24);
		n_malloc++;
		free(p);
		n_free++;
		allocated++;
	}
}

static void *
worker(void *arg)
{
	unsigned long m = 0;
	while (!atomic_load(&stop)) {
		void *p = malloc(16 + (m & 127));
		m++;
		free(p);
	}
	n_malloc += m;
	n_free += m;
	return NULL;
}

int
main(int argc, char **argv)
{
	long nsig = argc > 1 ? atol(argv[1]) : 20000;
	pthread_t th[2];
	struct sigaction sa;

	memcpy(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig));
	dl_iterate_phdr(phdr_cb, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	while (*(volatile unsigned char *)(uintptr_t)&malloc == malloc_orig[0])
		usleep(2000);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (long i = 0; i < nsig; i++) {
		pthread_kill(th[i & 1], SIGUSR1);
		if ((i & 15) == 0)
			usleep(100);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("calls malloc=%lu free=%lu\n", (unsigned long)n_malloc, (unsigned long)n_free);
	printf("signals handled=%lu allocated=%lu in_libc=%lu in_code_page=%lu\n", (unsigned long)handled,
	       (unsigned long)allocated, (unsigned long)in_libc, (unsigned long)in_code_page);
	printf("malloc-intact=%d\n", !memcmp(malloc_orig, (const void *)(uintptr_t)&malloc, sizeof(malloc_orig)));
	return 0;
}
