/*
 * ptrace_floor [N] - the floor for the tracer benchmark: what one ptrace
 * stop costs on this machine.  A child executes int3 N times (default
 * 200000); the parent, its tracer, takes each stop and resumes it.
 * Prints
 *   stop_ns=X        waitpid + PTRACE_CONT per stop (the bare round trip)
 *   stop_regs_ns=Y   the same plus PTRACE_GETREGS and PTRACE_SETREGS (what
 *                    any breakpoint tracer needs at each stop)
 *   mt_stop_ns=Z     wall time per stop when 4 threads execute int3 at
 *                    once and one tracer takes and resumes each stop
 *                    (waitpid(-1) + PTRACE_CONT): the floor for a tracer
 *                    of a 4-thread program, where stops of different
 *                    threads overlap
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
run(long n, int regs)
{
	pid_t pid = fork();
	int st;
	double t0, t1;

	if (pid == 0) {
		raise(SIGSTOP);
		for (long i = 0; i < n; i++)
			__asm__ volatile("int3");
		_exit(0);
	}
	waitpid(pid, &st, WUNTRACED);
	ptrace(PTRACE_SEIZE, pid, 0, 0);
	kill(pid, SIGCONT);
	/* the SIGCONT and group-stop bookkeeping first */
	for (;;) {
		waitpid(pid, &st, __WALL);
		if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0)
			break;
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (regs) {
			struct user_regs_struct r;
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			ptrace(PTRACE_SETREGS, pid, 0, &r);
		}
		ptrace(PTRACE_CONT, pid, 0, 0);
		if (i + 1 < n)
			waitpid(pid, &st, __WALL);
	}
	t1 = now();
	ptrace(PTRACE_CONT, pid, 0, 0);
	waitpid(pid, &st, __WALL);
	return (t1 - t0) / n * 1e9;
}

#define MT_THREADS 4

static pthread_barrier_t go;

static void *
mt_worker(void *arg)
{
	long n = *(long *)arg;
	pthread_barrier_wait(&go);
	for (long i = 0; i < n; i++)
		__asm__ volatile("int3");
	return NULL;
}

static double
run_mt(long n)
{
	pid_t pid = fork();
	long per = n / MT_THREADS, traps = 0, want = per * MT_THREADS;
	double t0 = 0, t1 = 0;
	int st;

	if (pid == 0) {
		pthread_t th[MT_THREADS];
		raise(SIGSTOP);
		pthread_barrier_init(&go, NULL, MT_THREADS);
		for (int i = 0; i < MT_THREADS; i++)
			pthread_create(&th[i], NULL, mt_worker, &per);
		for (int i = 0; i < MT_THREADS; i++)
			pthread_join(th[i], NULL);
		_exit(0);
	}
	waitpid(pid, &st, WUNTRACED);
	ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACECLONE);
	kill(pid, SIGCONT);
	for (;;) {
		pid_t tid = waitpid(-1, &st, __WALL);
		int sig = 0;
		if (tid < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (tid == pid)
				break;
			continue;
		}
		if (WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0) {
			if (traps++ == 0)
				t0 = now();
			if (traps == want)
				t1 = now();
		} else if ((st >> 16) == 0 && WSTOPSIG(st) != SIGSTOP && WSTOPSIG(st) != SIGCONT) {
			sig = WSTOPSIG(st);
		}
		ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig);
	}
	return traps > 1 && t1 > t0 ? (t1 - t0) / (traps - 1) * 1e9 : 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double a = run(n, 0), b = run(n, 1), c = run_mt(n);
	printf("stop_ns=%.0f stop_regs_ns=%.0f mt_stop_ns=%.0f\n", a, b, c);
	return 0;
}
