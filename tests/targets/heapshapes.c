/*
 * heapshapes - main-arena heaps whose shape the kernel's mappings do not
 * tell: a forked worker that grew its brk heap after fork() (its [heap]
 * is two mappings), a heap with an mprotect()ed page in the middle of an
 * in-use block, a program that calls sbrk() itself between mallocs (glibc
 * then closes the old top with a double fencepost and goes on after the
 * foreign memory), and a brk heap that cannot grow (a mapping right after
 * the break: glibc carries on in mmap()ed memory, non-contiguous).
 *
 * Usage: heapshapes MODE [nothreads], MODE one of fork, mprotect, sbrk,
 * nobrk.  Output (stdout has a static buffer: printing never allocates):
 *   held ADDR REQ          every pointer the program still holds
 *   maps N                 fork: how many mappings [heap] is made of
 *   mallinfo2 arena=.. ordblks=.. ...
 *   ready PID              the process to examine (fork: the child)
 * and on SIGUSR1 the mallinfo2 line again.  The fork child dies with its
 * parent (PR_SET_PDEATHSIG).
 */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXHELD 20000

static void *held[MAXHELD];
static size_t held_req[MAXHELD];
static int nheld;
static char outbuf[1 << 16];
static volatile sig_atomic_t want_report;

static void *
take(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	memset(p, 0x5a, n < 256 ? n : 256);
	if (nheld < MAXHELD) {
		held[nheld] = p;
		held_req[nheld] = n;
		nheld++;
	}
	return p;
}

/* Drop every other held block from index `from` on (frees into the
 * tcache, fastbins and bins). */
static void
thin(int from)
{
	int n = from;
	for (int i = from; i < nheld; i++) {
		if ((i - from) % 2)
			free(held[i]);
		else {
			held[n] = held[i];
			held_req[n] = held_req[i];
			n++;
		}
	}
	nheld = n;
}

/* Assorted sizes, some freed: every free-list state. */
static void
churn(int count, int salt)
{
	int from = nheld;
	for (int i = 0; i < count; i++)
		take(16 + (size_t)((i * 53 + salt) % 1500));
	thin(from);
}

static int
heap_mappings(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[heap]"))
			n++;
	fclose(f);
	return n;
}

static void
on_usr1(int sig)
{
	(void)sig;
	want_report = 1;
}

static void
print_mallinfo(void)
{
	struct mallinfo2 mi = mallinfo2();
	printf("mallinfo2 arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu fsmblks=%zu "
	       "uordblks=%zu fordblks=%zu keepcost=%zu\n", mi.arena, mi.ordblks, mi.smblks,
	       mi.hblks, mi.hblkhd, mi.fsmblks, mi.uordblks, mi.fordblks, mi.keepcost);
	fflush(stdout);
}

static void
report_and_park(void)
{
	for (int i = 0; i < nheld; i++)
		printf("held %p %zu\n", held[i], held_req[i]);
	print_mallinfo();
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		pause();
		if (want_report) {
			want_report = 0;
			print_mallinfo();
		}
	}
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fork";

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	signal(SIGUSR1, on_usr1);
	churn(300, 1);

	if (!strcmp(mode, "fork")) {
		pid_t pid;
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			/* the parent waits for its worker */
			int st;
			waitpid(pid, &st, 0);
			return 0;
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* the worker: grow the brk heap well past what fork() copied,
		 * with blocks that straddle the old end */
		churn(3000, 7);
		for (int i = 0; i < 40; i++)
			take(24000 + (size_t)i * 100);
		churn(500, 3);
		printf("maps %d\n", heap_mappings());
	} else if (!strcmp(mode, "mprotect")) {
		/* a 256 KiB block (below the mmap threshold raised here) in
		 * the brk heap, chunks after it, one page inside it made
		 * PROT_NONE */
		char *big, *page;
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
		big = take(256 << 10);
		churn(400, 5);
		page = (char *)(((uintptr_t)big + 0x10000) & ~(uintptr_t)0xfff);
		if (mprotect(page, 4096, PROT_NONE) != 0)
			return 1;
		printf("protected %p\n", (void *)page);
	} else if (!strcmp(mode, "sbrk")) {
		/* take brk memory behind malloc's back, twice, each time
		 * making malloc grow its heap afterwards */
		for (int k = 0; k < 2; k++) {
			char *mine = sbrk(3 * 4096 + 40 * k + 8);
			if (mine == (void *)-1)
				return 1;
			memset(mine, 0x21, 3 * 4096);	/* not a chunk */
			for (int i = 0; i < 12; i++)
				take(20000);
			churn(200, 11 + k);
		}
	} else if (!strcmp(mode, "nobrk")) {
		/* a mapping right after the break: brk cannot grow, glibc
		 * goes on in mmap()ed memory (a non-contiguous main arena) */
		uintptr_t end = ((uintptr_t)sbrk(0) + 0xfff) & ~(uintptr_t)0xfff;
		void *wall = mmap((void *)end, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				  -1, 0);
		if (wall == MAP_FAILED)
			return 1;
		for (int i = 0; i < 30; i++)
			take(20000);
		churn(300, 13);
	} else {
		fprintf(stderr, "heapshapes: unknown mode %s\n", mode);
		return 64;
	}
	report_and_park();
}
