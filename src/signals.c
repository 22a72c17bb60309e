/*
 * signals.c - self-pipe signal handling (see signals.h).
 */
#include "config.h"
#include "signals.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int pipefd[2] = { -1, -1 };
static sigset_t wait_mask;	/* the mask while waiting: SIGCHLD open */
static volatile sig_atomic_t got_int, got_term;
static volatile sig_atomic_t batch_mode, got_batch_int;	/* SIGINT in batch mode: the run ends */
static volatile sig_atomic_t pipe_dirty;	/* a byte may wait in the pipe */

static void
handler(int sig)
{
	int e = errno;
	if (sig == SIGINT) {
		got_int = 1;
		if (batch_mode)
			got_batch_int = 1;
	}
	else if (sig == SIGTERM || sig == SIGHUP)
		got_term = sig;
	/* SIGCHLD is open only inside sig_poll's ppoll, in this thread
	 * (other threads block it): its delivery ends that ppoll by itself.
	 * The others may reach any thread: the pipe wakes whoever polls. */
	if (sig != SIGCHLD && pipefd[1] >= 0) {
		char c = (char)sig;
		pipe_dirty = 1;
		(void)!write(pipefd[1], &c, 1);
	}
	errno = e;
}

int
sig_setup(void)
{
	struct sigaction sa;

	if (pipefd[0] >= 0)
		return 0;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* SIGCHLD keeps sa_flags 0 too: ptrace stops must wake the loop.  It
	 * stays blocked except inside sig_poll, so a stop that comes while
	 * heapdbg is busy costs no signal delivery (at a traced allocation
	 * that is most of them): it is found by the next waitpid */
	sigaction(SIGCHLD, &sa, NULL);
	{
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		pthread_sigmask(SIG_BLOCK, &chld, &wait_mask);
		sigdelset(&wait_mask, SIGCHLD);
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
sig_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tp = &ts;
	}
	return ppoll(fds, n, tp, pipefd[0] >= 0 ? &wait_mask : NULL);
}

void
sig_child_mask(void)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
}

int
sig_fd(void)
{
	return pipefd[0];
}

void
sig_drain(void)
{
	char buf[64];
	if (pipefd[0] < 0 || !pipe_dirty)
		return;	/* (the common case at a traced stop: no syscall) */
	pipe_dirty = 0;
	while (read(pipefd[0], buf, sizeof(buf)) > 0)
		;
}

bool
sig_interrupted(void)
{
	return got_int != 0;
}

void
sig_clear_interrupt(void)
{
	got_int = 0;
}

int
sig_terminating(void)
{
	return got_term;
}

void
sig_set_batch(bool on)
{
	batch_mode = on;
}

bool
sig_batch_interrupted(void)
{
	return got_batch_int != 0;
}

bool
sig_stop_work(void)
{
	return got_int != 0 || got_term != 0;
}
