/*
 * target-live.c - the live-process backend: PTRACE_SEIZE on every thread,
 * memory through process_vm_readv (falling back to /proc/PID/mem), writes
 * through /proc/PID/mem, registers through PTRACE_GETREGS, and the one
 * wait loop that decodes every ptrace stop (see live.h).
 */
#include "config.h"
#include "live.h"
#include "signals.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

#define SEIZE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE | \
		       PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD)

/* How long stop_all waits for a thread before giving up on it. */
#define STOP_TIMEOUT_MS 5000

struct live_priv {
	int memfd;		/* /proc/PID/mem, O_RDWR (or O_RDONLY) */
	bool pvr_ok;		/* process_vm_readv works */
	bool was_stopped;	/* job-control stopped when we attached */
	bool launched;
	bool exited;		/* stopped at its exit, memory intact */
	bool gone;
	bool have_status;
	int status;		/* wait status of the process */
	int exit_msg;		/* the last exit event's status (-1: none yet) */
	bool leader_zombie;	/* the leader died out of turn, still traced */
	/* the exit break (live_set_exit_break): an int3 at the C library's
	 * _exit, so that code can run in the exiting thread first */
	uint64_t exit_bp;
	unsigned char exit_orig;
	bool exit_armed;	/* the int3 is in the program's memory */
	bool exit_busy;		/* its callback runs */
	void (*exit_fn)(void *ctx, struct target *t, struct target_thread *th);
	void *exit_ctx;
	bool leader_waits;	/* the leader is parked in its exit stop until
				 * the others' state tells why it exits */
	uint64_t leader_since;	/* when it was parked (ns) */
	bool maps_stale;
	const struct live_hooks *hooks;
	VEC(pid_t) foreign;	/* kept vfork children (they share our breakpoints) */
	int stopping;		/* inside live_stop_all */
	unsigned long stops;
	struct run_result *res;	/* statistics of the current run, or NULL */
	/* the process held: every thread in a ptrace-stop (live_held_ns) */
	uint64_t held_since;	/* since when (0: not held) */
	uint64_t held_total;	/* ns held before that */
	/* the next live_run's own work (live_set_work) */
	int (*work_fn)(void *ctx, struct target *t, uint64_t deadline_ns);
	void *work_ctx;
};

static struct live_priv *
LP(const struct target *t)
{
	return t->priv;
}

const char *
run_end_name(enum run_end e)
{
	switch (e) {
	case RUN_TIMEOUT: return "timeout";
	case RUN_INTERRUPTED: return "interrupted";
	case RUN_EXITED: return "exited";
	case RUN_GONE: return "gone";
	case RUN_TERMINATE: return "terminated";
	case RUN_HOOK: return "stopped";
	}
	return "?";
}

const char *
wait_status_str(int status, char buf[64])
{
	if (WIFEXITED(status))
		snprintf(buf, 64, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, 64, "killed by %s%s", sigabbrev_np(WTERMSIG(status)) ?
			 "SIG" : "signal ", sigabbrev_np(WTERMSIG(status)) ?
			 sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, 64, "status 0x%x", status);
	return buf;
}

/* ---- /proc helpers ---- */

static char
proc_state(pid_t pid)
{
	char path[64], *s, *p;
	char st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = read_file(path, NULL);
	if (!s)
		return 0;
	p = strrchr(s, ')');
	if (p && p[1] == ' ')
		st = p[2];
	free(s);
	return st;
}

/* A field of /proc/PID/status, as a string (caller frees) or NULL. */
static char *
proc_status_field(pid_t pid, const char *field)
{
	char path[64], *s, *line, *ret = NULL;
	size_t fl = strlen(field);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	s = read_file(path, NULL);
	if (!s)
		return NULL;
	for (line = s; line && *line;) {
		char *eol = strchr(line, '\n');
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			char *v = line + fl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			ret = xstrndup(v, eol ? (size_t)(eol - v) : strlen(v));
			break;
		}
		line = eol ? eol + 1 : NULL;
	}
	free(s);
	return ret;
}

static bool
is_kernel_thread(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long flags = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = read_file(path, NULL);
	if (!s)
		return false;
	p = strrchr(s, ')');
	/* fields after ')': state ppid pgrp session tty tpgid flags */
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags);
	free(s);
	return (flags & 0x00200000) != 0;	/* PF_KTHREAD */
}

static char *
proc_comm(pid_t pid)
{
	char path[64], *s;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	s = read_file(path, NULL);
	if (s) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
	}
	return s;
}

/* Explain why attaching failed, strace's diagnose_attach_eperm in spirit. */
static int
diagnose_attach(pid_t pid, int err)
{
	char *tracer, *uids, *comm;
	long tpid;

	if (err == ESRCH || proc_state(pid) == 0)
		return hd_fail(HD_ENOPROC, "no such process %d", pid);
	if (proc_state(pid) == 'Z' || proc_state(pid) == 'X')
		return hd_fail(HD_ENOPROC, "process %d is a zombie (it has exited; its parent has not reaped it)", pid);
	if (is_kernel_thread(pid))
		return hd_fail(HD_ENOPROC, "process %d is a kernel thread, it has no user-space heap", pid);
	if (pid == getpid())
		return hd_fail(HD_EPERM, "process %d is heapdbg itself", pid);
	tracer = proc_status_field(pid, "TracerPid");
	tpid = tracer ? strtol(tracer, NULL, 10) : 0;
	free(tracer);
	if (tpid > 0) {
		comm = proc_comm((pid_t)tpid);
		hd_fail(HD_EPERM, "cannot attach to process %d: it is already traced by process %ld (%s)",
			pid, tpid, comm ? comm : "?");
		free(comm);
		return -1;
	}
	uids = proc_status_field(pid, "Uid");
	if (uids) {
		unsigned long ruid = 0, euid = 0;
		sscanf(uids, "%lu %lu", &ruid, &euid);
		free(uids);
		if (geteuid() != 0 && (ruid != geteuid() || euid != geteuid()))
			return hd_fail(HD_EPERM, "cannot attach to process %d: it belongs to another user (uid %lu); "
				       "ptrace needs the same user or CAP_SYS_PTRACE", pid, euid);
	}
	{
		char *yama = read_file("/proc/sys/kernel/yama/ptrace_scope", NULL);
		int scope = yama ? atoi(yama) : 0;
		free(yama);
		if (scope == 1 && geteuid() != 0)
			return hd_fail(HD_EPERM, "cannot attach to process %d: Yama ptrace_scope is 1 (only descendants "
				       "may be traced); run as root or set kernel.yama.ptrace_scope=0", pid);
		if (scope == 2)
			return hd_fail(HD_EPERM, "cannot attach to process %d: Yama ptrace_scope is 2 (only "
				       "CAP_SYS_PTRACE may trace)", pid);
		if (scope == 3)
			return hd_fail(HD_EPERM, "cannot attach to process %d: Yama ptrace_scope is 3 (ptrace disabled)", pid);
	}
	if (err == EPERM || err == EACCES)
		return hd_fail(HD_EPERM, "cannot attach to process %d: ptrace not permitted (the process may be "
			       "non-dumpable or setuid, or heapdbg lacks CAP_SYS_PTRACE)", pid);
	return hd_fail_errno(HD_EPERM, err, "cannot attach to process %d", pid);
}

/* ---- memory, registers, maps ---- */

static ssize_t
live_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct live_priv *lp = LP(t);
	size_t done = 0;

	if (lp->gone)
		return hd_fail(HD_EGONE, "process %d has exited", t->pid);
#if HAVE_PROCESS_VM_READV
	if (lp->pvr_ok) {
		while (done < len) {
			struct iovec local = { (char *)buf + done, len - done };
			struct iovec remote = { (void *)(uintptr_t)(addr + done), len - done };
			ssize_t n = process_vm_readv(target_mem_pid(t), &local, 1, &remote, 1, 0);
			if (n > 0) {
				done += n;
				continue;
			}
			if (n == 0)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ESRCH || errno == ENOSYS || errno == EPERM) {
				/* (ESRCH: that thread just went; /proc/PID/mem holds
				 * the address space as long as it exists) */
				lp->pvr_ok = false;	/* fall back to /proc/PID/mem */
				break;
			}
			break;	/* EFAULT: unmapped at addr+done, or not readable */
		}
		if (done > 0 || !lp->pvr_ok) {
			if (done > 0)
				return (ssize_t)done;
		} else {
			/* a page the program made unreadable (PROT_NONE): the
			 * kernel lets the tracer read it through /proc/PID/mem,
			 * as it lets a debugger */
			ssize_t n;
			do
				n = pread(lp->memfd, buf, len, (off_t)addr);
			while (n < 0 && errno == EINTR);
			if (n > 0)
				return n;
			return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
		}
	}
#endif
	while (done < len) {
		ssize_t n = pread(lp->memfd, (char *)buf + done, len - done, (off_t)(addr + done));
		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && done == 0 && !lp->res && live_poll(t) && lp->gone) {
			/* (end of file: the address space is gone) */
			char b[64];
			return hd_fail(HD_EGONE, "process %d is gone (%s)", t->pid,
				       lp->have_status ? wait_status_str(lp->status, b) : "its memory is gone");
		}
		break;
	}
	if (done == 0)
		return hd_fail(HD_EIO, "cannot access memory at 0x%" PRIx64, addr);
	return done;
}

static void
live_read_many(struct target *t, const uint64_t *addrs, size_t n, size_t each, uint8_t *out, bool *ok)
{
	struct live_priv *lp = LP(t);
	size_t i = 0;

	while (i < n) {
#if HAVE_PROCESS_VM_READV
		if (lp->pvr_ok && !lp->gone) {
			struct iovec local[1024], remote[1024];
			size_t k, batch = MIN(n - i, 1024);
			ssize_t got;
			for (k = 0; k < batch; k++) {
				local[k].iov_base = out + (i + k) * each;
				local[k].iov_len = each;
				remote[k].iov_base = (void *)(uintptr_t)addrs[i + k];
				remote[k].iov_len = each;
			}
			got = process_vm_readv(target_mem_pid(t), local, batch, remote, batch, 0);
			if (got < 0)
				got = 0;
			/* whole pieces read before the first failure */
			for (k = 0; k < batch && (size_t)got >= (k + 1) * each; k++)
				ok[i + k] = true;
			if (k < batch) {
				/* the piece that failed: try it alone, go on after it */
				ok[i + k] = target_read(t, addrs[i + k], out + (i + k) * each, each) == 0;
				k++;
			}
			i += k;
			continue;
		}
#endif
		ok[i] = target_read(t, addrs[i], out + i * each, each) == 0;
		i++;
	}
}

static int
live_write(struct target *t, uint64_t addr, const void *buf, size_t len)
{
	struct live_priv *lp = LP(t);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(lp->memfd, (const char *)buf + done, len - done, (off_t)(addr + done));
		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return hd_fail_errno(HD_EIO, n < 0 ? errno : EIO, "cannot write memory at 0x%" PRIx64, addr + done);
	}
	return 0;
}

static int
live_get_regs(struct target *t, struct target_thread *th)
{
	if (th->state != THREAD_STOPPED)
		return hd_fail(HD_EGENERIC, "thread %d is not stopped", th->tid);
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &th->regs) < 0)
		return hd_fail_errno(errno == ESRCH ? HD_EGONE : HD_EGENERIC, errno,
				     "cannot read registers of thread %d", th->tid);
	return 0;
}

int
live_set_regs(struct target *t, struct target_thread *th, const hd_regs_t *regs)
{
	/* At a traced call usually only rip changes (two or three registers
	 * at most): poking those is much cheaper in the kernel than
	 * PTRACE_SETREGS, which validates and writes all 27. */
	enum { NW = sizeof(hd_regs_t) / sizeof(unsigned long), MAX_POKES = 3 };
	if (th->regs_valid) {
		const unsigned long *a = (const unsigned long *)(const void *)&th->regs;
		const unsigned long *b = (const unsigned long *)(const void *)regs;
		unsigned diff[MAX_POKES];
		unsigned n = 0, i;
		for (i = 0; i < NW && n <= MAX_POKES; i++)
			if (a[i] != b[i]) {
				if (n < MAX_POKES)
					diff[n] = i;
				n++;
			}
		if (n <= MAX_POKES) {
			for (i = 0; i < n; i++)
				if (ptrace(PTRACE_POKEUSER, th->tid, (void *)(diff[i] * sizeof(unsigned long)),
					   (void *)b[diff[i]]) < 0)
					break;
			if (i == n) {
				th->regs = *regs;
				return 0;
			}
			th->regs_valid = false;	/* partly written: SETREGS does it all */
		}
	}
	if (ptrace(PTRACE_SETREGS, th->tid, 0, regs) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "cannot set registers of thread %d", th->tid);
	th->regs = *regs;
	th->regs_valid = true;
	return 0;
}

static int
live_refresh_maps(struct target *t)
{
	char path[64], *text;
	struct mapping *maps;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/maps", target_mem_pid(t));
	text = read_file(path, NULL);
	if (!text)
		return hd_fail_context("reading mappings of process %d", t->pid);
	if (maps_parse(text, &maps, &n) < 0) {
		free(text);
		return -1;
	}
	free(text);
	maps_free(t->maps, t->nmaps);
	t->maps = maps;
	t->nmaps = n;
	LP(t)->maps_stale = false;
	target_invalidate(t);
	return 0;
}

static int
read_auxv(struct target *t)
{
	char path[64];
	size_t len;
	char *data;

	snprintf(path, sizeof(path), "/proc/%d/auxv", target_mem_pid(t));
	data = read_file(path, &len);
	if (!data)
		return -1;
	free(t->auxv);
	t->auxv = (uint64_t *)(void *)data;
	t->nauxv = len / 16;
	/* drop the AT_NULL terminator from the count */
	for (size_t i = 0; i < t->nauxv; i++)
		if (t->auxv[2 * i] == AT_NULL) {
			t->nauxv = i;
			break;
		}
	return 0;
}

static void
read_identity(struct target *t)
{
	char path[64], buf[4096];
	ssize_t n;
	char *cl;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/exe", target_mem_pid(t));
	n = readlink(path, buf, sizeof(buf) - 1);
	free(t->exe);
	t->exe = NULL;
	if (n > 0) {
		buf[n] = 0;
		t->exe = xstrdup(buf);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", t->pid);
	cl = read_file(path, &len);
	free(t->cmdline);
	t->cmdline = NULL;
	if (cl) {
		for (size_t i = 0; i + 1 < len; i++)
			if (!cl[i])
				cl[i] = ' ';
		t->cmdline = cl;
	}
}

static void
refresh_thread_names(struct target *t)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		char path[96], *s;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", t->pid, t->threads[i]->tid);
		s = read_file(path, NULL);
		if (s) {
			char *nl = strchr(s, '\n');
			if (nl)
				*nl = 0;
			snprintf(t->threads[i]->name, sizeof(t->threads[i]->name), "%s", s);
			free(s);
		}
	}
}

/* ---- the event decoder ---- */

enum mode { MODE_RUN, MODE_STOP };

/* Every thread stopped now: the process is held from here. */
static void
held_check(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (lp->held_since)
		return;
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->state == THREAD_RUNNING)
			return;
	lp->held_since = hd_now_ns();
}

/* A thread runs again (or is let go): the hold, if any, ends. */
static void
held_end(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (!lp->held_since)
		return;
	lp->held_total += hd_now_ns() - lp->held_since;
	lp->held_since = 0;
}

void
live_set_work(struct target *t, int (*fn)(void *ctx, struct target *t, uint64_t deadline_ns), void *ctx)
{
	LP(t)->work_fn = fn;
	LP(t)->work_ctx = ctx;
}

uint64_t
live_held_ns(const struct target *t)
{
	const struct live_priv *lp = LP(t);
	return lp->held_total + (lp->held_since ? hd_now_ns() - lp->held_since : 0);
}

static void
mark_stopped(struct target *t, struct target_thread *th)
{
	th->state = THREAD_STOPPED;
	th->regs_valid = false;
	th->interrupt_sent = false;
	LP(t)->stops++;
	held_check(t);
}

static int
resume_raw(struct target *t, struct target_thread *th, int req)
{
	int sig = th->pending_sig;
	th->pending_sig = 0;
	th->regs_valid = false;
	th->listening = false;
	if (ptrace(req, th->tid, 0, (void *)(long)sig) < 0) {
		if (errno == ESRCH) {
			/* died under us (SIGKILL); its exit status will come */
			th->state = THREAD_RUNNING;
			return 0;
		}
		return hd_fail_errno(HD_EGENERIC, errno, "cannot resume thread %d", th->tid);
	}
	th->state = THREAD_RUNNING;
	held_end(t);
	if (req == PTRACE_CONT && sig && LP(t)->res)
		LP(t)->res->signals++;
	return 0;
}

int
live_resume(struct target *t, struct target_thread *th)
{
	if (th->state != THREAD_STOPPED)
		return 0;
	target_invalidate(t);
	LP(t)->maps_stale = true;
	return resume_raw(t, th, PTRACE_CONT);
}

static int live_threads_alive(const struct target *t);
static int open_mem(struct target *t);
static void clean_child(struct target *t, pid_t child);
static bool exit_break_hit(struct target *t, struct target_thread *th, enum mode mode);
static void exit_break_disarm(struct target *t);
static void exit_break_arm(struct target *t);
static bool thread_dead(pid_t tgid, pid_t tid);
static void notice_dead_threads(struct target *t);
static bool others_dying(const struct target *t, const struct target_thread *th);
static void settle_exit(struct target *t);

/* Forget a thread (it exited, or vanished at an exec): the hooks hear of
 * it first, so that no per-thread state is left behind. */
static void
drop_thread(struct target *t, struct target_thread *th)
{
	struct live_priv *lp = LP(t);
	if (lp->hooks && lp->hooks->on_thread_exit)
		lp->hooks->on_thread_exit(lp->hooks->ctx, t, th);
	target_remove_thread(t, th->tid);
}

static void
thread_gone(struct target *t, struct target_thread *th)
{
	struct live_priv *lp = LP(t);
	if (lp->res)
		lp->res->exited_threads++;
	if (th->tid == t->pid) {
		/* the leader is reaped last: the process is gone */
		if (lp->hooks && lp->hooks->on_thread_exit)
			lp->hooks->on_thread_exit(lp->hooks->ctx, t, th);
		th->state = THREAD_EXITED;
	} else {
		drop_thread(t, th);
	}
}

static bool
tid_in_process(pid_t tgid, pid_t tid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d", tgid, tid);
	return access(path, F_OK) == 0;
}

/* A fork/vfork child was auto-attached: wait for its first stop, let the
 * hook clean it, detach it so it runs free (or keep it, see on_fork). */
static void
handle_fork_child(struct target *t, struct target_thread *parent, pid_t child, bool is_vfork)
{
	struct live_priv *lp = LP(t);
	bool keep = false;
	int st, sig;
	pid_t r;

	do
		r = waitpid(child, &st, __WALL);
	while (r < 0 && errno == EINTR);
	if (r != child || !WIFSTOPPED(st))
		return;	/* already gone */
	if (!is_vfork)
		clean_child(t, child);	/* (a vfork child shares the memory: the
					 * break is out while it does) */
	if (lp->hooks && lp->hooks->on_fork)
		keep = lp->hooks->on_fork(lp->hooks->ctx, t, parent, child, is_vfork);
	/* A stop other than the initial one carries a signal to deliver. */
	sig = WSTOPSIG(st);
	if ((st >> 16) == PTRACE_EVENT_STOP || sig == SIGSTOP || sig == SIGTRAP)
		sig = 0;
	if (keep) {
		vec_push(&lp->foreign, child);
		ptrace(PTRACE_CONT, child, 0, (void *)(long)sig);
	} else {
		ptrace(PTRACE_DETACH, child, 0, (void *)(long)sig);
	}
	if (lp->res)
		lp->res->forks++;
}

static bool
forget_foreign(struct live_priv *lp, pid_t pid)
{
	for (size_t i = 0; i < lp->foreign.n; i++)
		if (lp->foreign.v[i] == pid) {
			lp->foreign.v[i] = lp->foreign.v[--lp->foreign.n];
			return true;
		}
	return false;
}

static bool
is_foreign(struct live_priv *lp, pid_t pid)
{
	for (size_t i = 0; i < lp->foreign.n; i++)
		if (lp->foreign.v[i] == pid)
			return true;
	return false;
}

/* A kept vfork child stopped: its traps go to the hook; at its exec it
 * no longer shares our memory and is let go. */
static void
handle_foreign(struct target *t, pid_t pid, int status)
{
	struct live_priv *lp = LP(t);
	int sig = WSTOPSIG(status), event = status >> 16;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		forget_foreign(lp, pid);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (event == PTRACE_EVENT_EXEC) {
		forget_foreign(lp, pid);
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return;
	}
	if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg);
		if (msg)
			handle_fork_child(t, NULL, (pid_t)msg, event == PTRACE_EVENT_VFORK);
		sig = 0;
	} else if (event) {
		sig = 0;
	} else if (sig == SIGTRAP && lp->hooks && lp->hooks->on_foreign_trap) {
		hd_regs_t regs;
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0 &&
		    lp->hooks->on_foreign_trap(lp->hooks->ctx, t, pid, &regs)) {
			ptrace(PTRACE_SETREGS, pid, 0, &regs);
			sig = 0;
		}
	}
	ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
}

/* Let every kept child go (stop it first: detach needs a ptrace-stop). */
static void
release_foreign(struct target *t)
{
	struct live_priv *lp = LP(t);
	while (lp->foreign.n) {
		pid_t pid = lp->foreign.v[--lp->foreign.n];
		int st;
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0 && waitpid(pid, &st, __WALL) == pid && WIFSTOPPED(st))
			ptrace(PTRACE_DETACH, pid, 0, 0);
	}
}

/*
 * Decode one wait status.  In MODE_RUN, threads are put back to running
 * unless the event is one that ends the run; in MODE_STOP every stop
 * leaves the thread stopped.  Returns true when the run must end (the
 * process is exiting or gone).
 */
static bool
handle_status(struct target *t, pid_t tid, int status, enum mode mode)
{
	struct live_priv *lp = LP(t);
	struct target_thread *th = target_find_thread(t, tid);
	int sig, event;

	if (!th && is_foreign(lp, tid)) {
		handle_foreign(t, tid, status);
		return false;
	}
	if (!th) {
		if (WIFSTOPPED(status) && tid_in_process(t->pid, tid)) {
			/* a new thread reporting before its parent's clone event */
			th = target_add_thread(t, tid);
			th->state = THREAD_RUNNING;
			if (lp->res)
				lp->res->new_threads++;
			if (lp->hooks && lp->hooks->on_thread_new)
				lp->hooks->on_thread_new(lp->hooks->ctx, t, th);
		} else if (WIFSTOPPED(status)) {
			/* an auto-attached fork child whose event we have not
			 * seen yet, or a stranger: never keep it */
			bool keep = false;
			clean_child(t, tid);
			if (lp->hooks && lp->hooks->on_fork)
				keep = lp->hooks->on_fork(lp->hooks->ctx, t, NULL, tid, false);
			if (keep) {
				vec_push(&lp->foreign, tid);
				ptrace(PTRACE_CONT, tid, 0, 0);
			} else {
				ptrace(PTRACE_DETACH, tid, 0, 0);
			}
			return false;
		} else {
			return false;
		}
	}

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		bool leader = tid == t->pid;
		debug_msg("thread %d ended (status 0x%x, %s an exit stop)", (int)tid, status,
			  th->at_exit ? "after" : "without");
		if (leader) {
			lp->status = status;
			lp->have_status = true;
		}
		thread_gone(t, th);
		if (leader) {	/* reported once the whole group is gone */
			lp->gone = true;
			lp->exited = false;
			return true;
		}
		/* it died without an exit stop, the last one of a group exit
		 * whose other threads are parked in theirs: the process is at
		 * its exit */
		if (!lp->exited && lp->exit_msg >= 0 && live_threads_alive(t) == 0) {
			for (size_t i = 0; i < t->nthreads; i++)
				if (t->threads[i]->at_exit && t->threads[i]->state == THREAD_STOPPED) {
					lp->exited = true;
					lp->status = lp->exit_msg;
					lp->have_status = true;
					return true;
				}
		}
		return false;
	}
	if (!WIFSTOPPED(status))
		return false;

	sig = WSTOPSIG(status);
	event = status >> 16;
	th->state = THREAD_STOPPED;	/* whatever it is, it is in a ptrace-stop */
	th->regs_valid = false;
	/* Any ptrace-stop consumes a PTRACE_INTERRUPT still pending (the
	 * kernel clears JOBCTL_TRAP_STOP on every trap): one that came as a
	 * breakpoint, a clone event or a signal instead of its own
	 * PTRACE_EVENT_STOP must not count as sent, or the next stop_all
	 * would wait in vain for a thread it never interrupted.  (An
	 * interrupt that reached a thread already stopped stays pending and
	 * makes one more PTRACE_EVENT_STOP later: harmless.) */
	th->interrupt_sent = false;
	lp->stops++;

	switch (event) {
	case PTRACE_EVENT_STOP:
		th->interrupt_sent = false;
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			/* job-control stop: honour it, keep listening for SIGCONT */
			th->group_stop = true;
			if (mode == MODE_RUN) {
				if (ptrace(PTRACE_LISTEN, tid, 0, 0) == 0) {
					th->state = THREAD_RUNNING;
					th->listening = true;
				}
			}
			return false;
		}
		/* our interrupt, a new thread's first stop, or SIGCONT after
		 * LISTEN */
		th->group_stop = false;
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;

	case PTRACE_EVENT_CLONE: {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
		/* The new thread may have reported first (newer tracees are
		 * waited for first): then it is known already, or it has even
		 * run to its end and been reaped -- adding that one back would
		 * leave a thread that never reports (stop_all would wait for
		 * it in vain). */
		if (msg && !target_find_thread(t, (pid_t)msg) && tid_in_process(t->pid, (pid_t)msg)) {
			struct target_thread *nt = target_add_thread(t, (pid_t)msg);
			nt->state = THREAD_RUNNING;	/* its first stop will come */
			if (lp->res)
				lp->res->new_threads++;
			if (lp->hooks && lp->hooks->on_thread_new)
				lp->hooks->on_thread_new(lp->hooks->ctx, t, nt);
		}
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;
	}

	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK: {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
		if (event == PTRACE_EVENT_VFORK)
			exit_break_disarm(t);	/* back at VFORK_DONE */
		if (msg)
			handle_fork_child(t, th, (pid_t)msg, event == PTRACE_EVENT_VFORK);
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;
	}

	case PTRACE_EVENT_VFORK_DONE:
		exit_break_arm(t);
		if (lp->hooks && lp->hooks->on_vfork_done)
			lp->hooks->on_vfork_done(lp->hooks->ctx, t, th);
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;

	case PTRACE_EVENT_EXEC: {
		unsigned long former = 0;
		ptrace(PTRACE_GETEVENTMSG, tid, 0, &former);
		/* every other thread is gone; the exec'ing thread now has the
		 * leader's tid */
		for (size_t i = t->nthreads; i-- > 0;) {
			struct target_thread *o = t->threads[i];
			if (o->tid != tid)
				drop_thread(t, o);
		}
		/* the exit break went with the old image */
		lp->exit_bp = 0;
		lp->exit_armed = false;
		/* a new address space: /proc/PID/mem opened before the exec
		 * still reads and writes the old one */
		if (lp->memfd >= 0) {
			close(lp->memfd);
			lp->memfd = -1;
		}
		if (open_mem(t) < 0)
			error_msg("%s", hd_errmsg());
		read_identity(t);
		read_auxv(t);
		live_refresh_maps(t);
		refresh_thread_names(t);
		/* the loader maps the program's libraries after this: read the
		 * mappings again at the next stop */
		lp->maps_stale = true;
		if (lp->res)
			lp->res->execs++;
		if (lp->hooks && lp->hooks->on_exec)
			lp->hooks->on_exec(lp->hooks->ctx, t);
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;
	}

	case PTRACE_EVENT_EXIT: {
		unsigned long msg = 0;
		ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
		th->at_exit = true;
		lp->exit_msg = (int)msg;
		debug_msg("thread %d: exit stop (status 0x%lx)", (int)tid, msg);
		if (live_threads_alive(t) == 0) {
			/* the last thread: the process is exiting; keep it here
			 * with its memory intact */
			lp->exited = true;
			lp->status = (int)msg;
			lp->have_status = true;
			return true;
		}
		/* The whole group exiting: park this one in its exit stop.
		 * A thread killed by the group exit can die without an exit
		 * stop of its own, and if every thread that does stop were let
		 * go, none would be left to hold the process at its exit. */
		if (mode == MODE_RUN && others_dying(t, th))
			return false;
		/* The leader waits a little: its exit while others run is
		 * most often main returning (exit_group), and the others can
		 * look alive then (one in its exit stop not yet reported has
		 * taken SIGKILL off its pending set and is not PF_EXITING
		 * yet).  Let go at once, its registers, stack and tcache
		 * would be missing at the exit.  settle_leader() lets it go
		 * once nothing more is pending and the others still live
		 * (pthread_exit in main). */
		if (mode == MODE_RUN && tid == t->pid) {
			lp->leader_waits = true;
			lp->leader_since = hd_now_ns();
			return false;
		}
		/* one thread among others (pthread_exit): let it go */
		if (mode == MODE_RUN) {
			resume_raw(t, th, PTRACE_CONT);
			th->state = THREAD_EXITED;
		}
		return false;
	}

	case 0:
		break;
	default:
		/* an event we did not ask for: resume */
		if (mode == MODE_RUN)
			resume_raw(t, th, PTRACE_CONT);
		return false;
	}

	/* a signal-delivery-stop (or an int3 / single-step SIGTRAP) */
	if (sig == (SIGTRAP | 0x80))
		sig = SIGTRAP;	/* syscall stop; we never ask for them */
	if (sig == SIGTRAP && lp->exit_armed && !lp->exit_busy && exit_break_hit(t, th, mode))
		return lp->gone;
	if (sig == SIGTRAP && lp->hooks && lp->hooks->on_trap) {
		enum trap_action a = lp->hooks->on_trap(lp->hooks->ctx, t, th);
		/* the hook may have waited for threads (a stop-all step) and
		 * seen this one die: it may be gone from the list */
		th = target_find_thread(t, tid);
		if (!th || lp->gone)
			return lp->gone;
		switch (a) {
		case TRAP_RESUME:
			if (mode == MODE_RUN)
				resume_raw(t, th, PTRACE_CONT);
			return false;
		case TRAP_HOLD:
			return false;
		case TRAP_NOT_MINE:
			break;
		}
	}
	th->pending_sig = sig;
	if (mode == MODE_RUN)
		resume_raw(t, th, PTRACE_CONT);
	return false;
}

/* Threads that are neither gone nor parked in their exit stop: when none
 * is left, the process as a whole is exiting. */
static int
live_threads_alive(const struct target *t)
{
	int n = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct target_thread *th = t->threads[i];
		if (th->state != THREAD_EXITED && !th->at_exit)
			n++;
	}
	return n;
}

static int
wait_one(pid_t *tid, int *status, int flags)
{
	pid_t r;
	for (;;) {
		r = waitpid(-1, status, __WALL | flags);
		if (r < 0 && errno == EINTR) {
			if (flags & WNOHANG)
				continue;
			return -2;	/* interrupted: caller decides */
		}
		break;
	}
	if (r < 0)
		return -1;
	*tid = r;
	return r == 0 ? 0 : 1;
}

static int stop_all(struct target *t);

int
live_stop_all(struct target *t)
{
	struct live_priv *lp = LP(t);
	int rc;
	lp->stopping++;
	rc = stop_all(t);
	lp->stopping--;
	if (rc == 0)
		held_check(t);
	return rc;
}

bool
live_stopping(const struct target *t)
{
	return t->kind == TARGET_LIVE && LP(t)->stopping > 0;
}

static int
stop_all(struct target *t)
{
	struct live_priv *lp = LP(t);
	uint64_t start = hd_now_ns();
	bool pending;

	if (lp->gone)
		return 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		if (th->state == THREAD_RUNNING && !th->interrupt_sent) {
			if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0)
				th->interrupt_sent = true;
			else if (errno == ESRCH)
				th->interrupt_sent = true;	/* its exit will come */
		}
	}
	for (;;) {
		pid_t tid;
		int st, r;

		pending = false;
		for (size_t i = 0; i < t->nthreads; i++)
			if (t->threads[i]->state == THREAD_RUNNING)
				pending = true;
		if (!pending || lp->gone)
			break;
		r = wait_one(&tid, &st, WNOHANG);
		if (r == 1) {
			handle_status(t, tid, st, MODE_STOP);
			/* threads created meanwhile must be interrupted too */
			for (size_t i = 0; i < t->nthreads; i++) {
				struct target_thread *th = t->threads[i];
				if (th->state == THREAD_RUNNING && !th->interrupt_sent &&
				    ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0)
					th->interrupt_sent = true;
			}
			continue;
		}
		if (r < 0) {
			if (errno == ECHILD) {
				lp->gone = true;
				break;
			}
			return hd_fail_errno(HD_EGENERIC, errno, "waitpid");
		}
		notice_dead_threads(t);
		if ((hd_now_ns() - start) / 1000000 > STOP_TIMEOUT_MS) {
			for (size_t i = 0; i < t->nthreads; i++)
				if (t->threads[i]->state == THREAD_RUNNING)
					return hd_fail(HD_EGENERIC, "thread %d did not stop within %d ms",
						       t->threads[i]->tid, STOP_TIMEOUT_MS);
		}
		{
			struct pollfd pfd = { sig_fd(), POLLIN, 0 };
			sig_poll(&pfd, pfd.fd >= 0 ? 1 : 0, 20);
			sig_drain();
		}
	}
	/* exited threads parked in their exit stop: resumed-to-exit ones are
	 * already THREAD_EXITED; drop them from the list */
	for (size_t i = t->nthreads; i-- > 0;)
		if (t->threads[i]->state == THREAD_EXITED && t->threads[i]->tid != t->pid)
			drop_thread(t, t->threads[i]);
	if (!lp->gone && lp->maps_stale)
		live_refresh_maps(t);
	target_invalidate(t);
	return 0;
}

/* Is some thread parked in its exit stop (a group exit under way)? */
static bool
exit_parked(const struct target *t)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->at_exit && t->threads[i]->state == THREAD_STOPPED)
			return true;
	return false;
}

static int
resume_all(struct target *t)
{
	struct live_priv *lp = LP(t);
	target_invalidate(t);
	lp->maps_stale = true;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		if (th->state != THREAD_STOPPED)
			continue;
		if (th->at_exit)
			th->state = THREAD_EXITED;	/* about to finish exiting */
		if (resume_raw(t, th, PTRACE_CONT) < 0)
			return -1;
		if (th->at_exit)
			th->state = THREAD_EXITED;
	}
	return 0;
}

/* The leader parked in its exit stop while other threads seemed alive:
 * keep it when they turn out to be dying (a group exit), let it go when
 * they still live once nothing is pending (pthread_exit in main).
 * Returns true while it still waits. */
static bool
settle_leader(struct target *t)
{
	struct live_priv *lp = LP(t);
	struct target_thread *th;

	if (!lp->leader_waits)
		return false;
	th = target_find_thread(t, t->pid);
	if (!th || !th->at_exit || th->state != THREAD_STOPPED || lp->exited || lp->gone) {
		lp->leader_waits = false;
		return false;
	}
	if (others_dying(t, th)) {
		lp->leader_waits = false;	/* parked, as every thread of a group exit */
		return false;
	}
	if (hd_now_ns() - lp->leader_since < 20 * 1000000ULL)
		return true;
	lp->leader_waits = false;
	resume_raw(t, th, PTRACE_CONT);
	th->state = THREAD_EXITED;
	return false;
}

int
live_run(struct target *t, double seconds, const struct live_hooks *hooks, struct run_result *res)
{
	struct live_priv *lp = LP(t);
	uint64_t start = hd_now_ns();
	uint64_t deadline = seconds > 0 ? start + (uint64_t)(seconds * 1e9) : 0;
	uint64_t next_poll = 0, next_work = 0;
	int (*work)(void *ctx, struct target *t, uint64_t deadline_ns) = lp->work_fn;
	void *work_ctx = lp->work_ctx;
	int rc = 0;

	lp->work_fn = NULL;	/* for this run only */
	lp->work_ctx = NULL;
	memset(res, 0, sizeof(*res));
	if (lp->gone)
		return hd_fail(HD_EGONE, "the process has exited");
	if (lp->exited) {
		/* continuing from the exit stop lets it finish */
		if (live_finish(t) < 0)
			return -1;
		res->end = RUN_GONE;
		res->have_status = lp->have_status;
		res->wait_status = lp->status;
		return 0;
	}
	if (hooks)
		lp->hooks = hooks;
	lp->res = res;
	sig_setup();
	sig_clear_interrupt();
	sig_drain();
	if (resume_all(t) < 0) {
		rc = -1;
		goto stop;
	}
	for (;;) {
		pid_t tid;
		int st, r;

		/* a hook that waited for threads (a stop-all step) may have
		 * seen the process end: the last threads are in their exit
		 * stops and nothing more will come */
		if (lp->gone || lp->exited) {
			res->end = lp->gone ? RUN_GONE : RUN_EXITED;
			break;
		}
		if (sig_terminating()) {
			res->end = RUN_TERMINATE;
			break;
		}
		if (sig_interrupted()) {
			sig_clear_interrupt();
			res->end = RUN_INTERRUPTED;
			break;
		}
		if (deadline && hd_now_ns() >= deadline) {
			res->end = RUN_TIMEOUT;
			break;
		}
		if (lp->hooks && lp->hooks->want_stop && lp->hooks->want_stop(lp->hooks->ctx, t)) {
			res->end = RUN_HOOK;
			break;
		}
		if (lp->hooks && lp->hooks->on_poll) {
			uint64_t now = hd_now_ns();
			if (now >= next_poll) {
				int ms = lp->hooks->on_poll(lp->hooks->ctx, t);
				if (ms <= 0)
					ms = lp->hooks->poll_ms > 0 ? lp->hooks->poll_ms : 10;
				next_poll = now + (uint64_t)ms * 1000000;
			}
		}
		if (work) {
			uint64_t now = hd_now_ns();
			if (now >= next_work) {
				int ms = work(work_ctx, t, deadline);
				if (ms < 0)
					work = NULL;
				if (ms == -2) {
					res->end = RUN_HOOK;
					break;
				}
				next_work = hd_now_ns() + (uint64_t)(ms > 0 ? ms : 0) * 1000000;
			}
		}
		r = wait_one(&tid, &st, WNOHANG);
		if (r == 1) {
			if (handle_status(t, tid, st, MODE_RUN)) {
				res->end = lp->gone ? RUN_GONE : RUN_EXITED;
				break;
			}
			continue;
		}
		if (r < 0) {
			if (errno == ECHILD) {
				lp->gone = true;
				res->end = RUN_GONE;
				break;
			}
			rc = hd_fail_errno(HD_EGENERIC, errno, "waitpid");
			break;
		}
		{
			struct pollfd pfd = { sig_fd(), POLLIN, 0 };
			int timeout = -1;
			bool parked = exit_parked(t);
			/* A group exit with threads parked in their exit stops:
			 * a thread killed without an exit stop of its own (a
			 * leader above all, a zombie without a status until the
			 * others are reaped) reports nothing more.  Look for
			 * such deaths rather than wait for a report that will
			 * not come. */
			if (parked) {
				notice_dead_threads(t);
				if (lp->gone || lp->exited)
					continue;
			}
			if (settle_leader(t) && (timeout < 0 || timeout > 2))
				timeout = 2;
			if (deadline) {
				uint64_t now = hd_now_ns();
				int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000) + 1;
				timeout = timeout < 0 ? left : MIN(timeout, left);
			}
			if (lp->hooks && lp->hooks->want_stop && (timeout < 0 || timeout > 100))
				timeout = 100;
			if (lp->hooks && lp->hooks->on_poll) {
				uint64_t now = hd_now_ns();
				int until = now >= next_poll ? 0 : (int)((next_poll - now + 999999) / 1000000);
				if (timeout < 0 || timeout > until)
					timeout = until;
			}
			if (work) {
				uint64_t now = hd_now_ns();
				int until = now >= next_work ? 0 : (int)((next_work - now + 999999) / 1000000);
				if (timeout < 0 || timeout > until)
					timeout = until;
			}
			if (parked && (timeout < 0 || timeout > 20))
				timeout = 20;
			sig_poll(&pfd, 1, timeout);
			sig_drain();
		}
	}
stop:
	if (!lp->gone) {
		if (live_stop_all(t) < 0 && rc == 0)
			rc = -1;
	}
	if (lp->gone && res->end != RUN_GONE)
		res->end = RUN_GONE;
	res->seconds = (hd_now_ns() - start) / 1e9;
	res->have_status = lp->have_status;
	res->wait_status = lp->status;
	lp->res = NULL;
	return rc;
}

/* Has the thread run into its end (zombie or dead)?  A group leader's
 * exit is reported only once every other thread has been reaped. */
/* A thread's state letter and kernel flags from /proc (false: no such
 * thread any more). */
static bool
task_stat(pid_t tgid, pid_t tid, char *state, unsigned long *flags)
{
	char path[96], *s, *p;
	bool ok = false;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)tgid, (int)tid);
	s = read_file(path, NULL);
	p = s ? strrchr(s, ')') : NULL;
	if (p && p[1] == ' ' && p[2]) {
		/* ") S ppid pgrp session tty_nr tpgid flags" */
		*state = p[2];
		*flags = 0;
		sscanf(p + 3, "%*d %*d %*d %*d %*d %lu", flags);
		ok = true;
	}
	free(s);
	return ok;
}

static bool
thread_dead(pid_t tgid, pid_t tid)
{
	char state;
	unsigned long flags;
	return !task_stat(tgid, tid, &state, &flags) || state == 'Z' || state == 'X';
}

/* Is the thread on its way out: dead, exiting (PF_EXITING), or with a
 * SIGKILL pending (what exit_group sends every other thread)? */
static bool
thread_dying(const struct target *t, pid_t tid)
{
	char state;
	unsigned long flags;
	if (!task_stat(t->pid, tid, &state, &flags) || state == 'Z' || state == 'X' || (flags & 0x4 /* PF_EXITING */))
		return true;
	return live_signal_pending(t, tid, SIGKILL);
}

/* Every thread still alive (by our list) is dying besides th: the whole
 * group is exiting (exit_group, a fatal signal). */
static bool
others_dying(const struct target *t, const struct target_thread *th)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct target_thread *o = t->threads[i];
		if (o == th || o->at_exit || o->state == THREAD_EXITED)
			continue;
		if (!thread_dying(t, o->tid))
			return false;
	}
	return true;
}

/* Threads we believe running that are dead (zombies): a thread killed
 * can skip its exit stop, and a dead leader has no status to report
 * until every other thread is reaped -- which may never happen while
 * they are held in their exit stops.  A dead thread's status is taken
 * when there is one; a dead leader is marked exited. */
static void
notice_dead_threads(struct target *t)
{
	struct live_priv *lp = LP(t);
	for (size_t i = 0; i < t->nthreads && !lp->gone; i++) {
		struct target_thread *th = t->threads[i];
		pid_t tid = th->tid;
		int st;
		if (th->state != THREAD_RUNNING || !thread_dead(t->pid, tid))
			continue;
		if (waitpid(tid, &st, __WALL | WNOHANG) == tid) {
			handle_status(t, tid, st, MODE_STOP);
			i = (size_t)-1;	/* the list may have changed: again */
			continue;
		}
		if (tid == t->pid) {
			debug_msg("thread %d is dead, its status held back", (int)tid);
			th->state = THREAD_EXITED;
			lp->leader_zombie = true;
		}
	}
	settle_exit(t);
}

/* Every thread is in its exit stop or dead, though no exit event found
 * the process exiting (a leader died first, out of turn): it is at its
 * exit, and the exit events tell how it ended. */
static void
settle_exit(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (lp->gone || lp->exited || lp->exit_msg < 0 || live_threads_alive(t) > 0)
		return;
	lp->exited = true;
	lp->status = lp->exit_msg;
	lp->have_status = true;
}

/*
 * Wait for the next wait status of one thread that was resumed (a single
 * step, a signal drained) while every other thread stays stopped.  What
 * the others report meanwhile (their deaths: a SIGKILL from outside) is
 * decoded with them kept stopped.  Never blocks on a thread that cannot
 * report any more: a leader that ran into its exit stays a zombie, without
 * a status, until every other thread is reaped -- and they are held in
 * their exit stops.  0 with *status, or -1 with HD_EGONE.
 */
static int
wait_thread(struct target *t, pid_t tid, int *status)
{
	struct live_priv *lp = LP(t);

	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, __WALL | WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (errno == ECHILD)
				lp->gone = true;
			return hd_fail_errno(HD_EGONE, errno, "waiting for thread %d", (int)tid);
		}
		if (r == tid) {
			*status = st;
			return 0;
		}
		if (r > 0) {
			handle_status(t, r, st, MODE_STOP);
			if (lp->gone || !target_find_thread(t, tid))
				return hd_fail(HD_EGONE, "thread %d is gone", (int)tid);
			continue;
		}
		if (thread_dead(t->pid, tid)) {
			struct target_thread *th;
			r = waitpid(tid, &st, __WALL | WNOHANG);
			if (r == tid) {
				*status = st;
				return 0;
			}
			/* a leader in its exit, waiting for the others */
			debug_msg("thread %d ran into its exit while heapdbg waited for it", (int)tid);
			th = target_find_thread(t, tid);
			if (th)
				th->state = THREAD_EXITED;
			if (tid == t->pid)
				lp->leader_zombie = true;
			settle_exit(t);
			return hd_fail(HD_EGONE, "thread %d exited", (int)tid);
		}
		{
			struct pollfd pfd = { sig_fd(), POLLIN, 0 };
			sig_poll(&pfd, pfd.fd >= 0 ? 1 : 0, 20);
			sig_drain();
		}
	}
}

bool
live_poll(struct target *t)
{
	struct live_priv *lp = LP(t);
	uint64_t start = hd_now_ns();
	bool dying = false;

	if (lp->gone)
		return true;
	for (;;) {
		pid_t tid;
		int st, r = wait_one(&tid, &st, WNOHANG);
		if (r == 1) {
			if (target_find_thread(t, tid) &&
			    (WIFEXITED(st) || WIFSIGNALED(st) || (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_EXIT)))
				dying = true;
			handle_status(t, tid, st, MODE_STOP);
			continue;
		}
		if (r < 0) {
			if (errno == ECHILD)
				lp->gone = true;
			break;
		}
		/* nothing more queued; once one thread reported its death
		 * the others follow: wait for them */
		if (dying)
			notice_dead_threads(t);
		if (!dying || lp->gone || lp->exited || live_threads_alive(t) == 0)
			break;
		if ((hd_now_ns() - start) / 1000000 > STOP_TIMEOUT_MS)
			break;
		{
			struct pollfd pfd = { sig_fd(), POLLIN, 0 };
			sig_poll(&pfd, pfd.fd >= 0 ? 1 : 0, 20);
			sig_drain();
		}
	}
	settle_exit(t);
	if (lp->gone || lp->exited)
		target_invalidate(t);
	return lp->gone || lp->exited;
}

bool
live_signal_pending(const struct target *t, pid_t tid, int sig)
{
	char path[96];
	char *v;
	unsigned long long mask = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)t->pid, (int)tid);
	v = read_file(path, NULL);
	if (v) {
		char *p = strstr(v, "\nSigPnd:");
		if (p)
			mask = strtoull(p + 8, NULL, 16);
		free(v);
	}
	return (mask >> (sig - 1)) & 1;
}

int
live_drain_signal(struct target *t, struct target_thread *th, int sig)
{
	for (int tries = 0; tries < 4 && live_signal_pending(t, th->tid, sig); tries++) {
		int st;
		/* resumed, it reports the pending signal before running any
		 * instruction (no PTRACE_INTERRUPT here: a job-control trap is
		 * always reported before signals, and would hide it) */
		pid_t tid = th->tid;
		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return hd_fail_errno(errno == ESRCH ? HD_EGONE : HD_EGENERIC, errno, "thread %d", tid);
		th->state = THREAD_RUNNING;
		if (wait_thread(t, tid, &st) < 0)
			return -1;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			handle_status(t, tid, st, MODE_STOP);
			return hd_fail(HD_EGONE, "thread %d is gone", tid);
		}
		th->state = THREAD_STOPPED;
		th->regs_valid = false;
		if (WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) == sig)
			continue;	/* the signal: dropped */
		if (!WIFSTOPPED(st) || (st >> 16) != PTRACE_EVENT_STOP) {
			/* anything else: the normal decoding, kept stopped */
			handle_status(t, th->tid, st, MODE_STOP);
		}
	}
	return 0;
}

int
live_step(struct target *t, struct target_thread *th)
{
	struct live_priv *lp = LP(t);
	int sig = th->pending_sig;

	th->pending_sig = 0;
	target_invalidate(t);
	if (ptrace(PTRACE_SINGLESTEP, th->tid, 0, (void *)(long)sig) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "cannot single-step thread %d", th->tid);
	th->state = THREAD_RUNNING;
	th->regs_valid = false;
	for (int again = 0;; again++) {
		int st;
		pid_t tid = th->tid;
		if (wait_thread(t, tid, &st) < 0)
			return hd_fail_context("single-stepping thread %d", tid);
		th = target_find_thread(t, tid);
		if (!th)
			return hd_fail(HD_EGONE, "thread %d is gone", tid);
		if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0) {
			mark_stopped(t, th);
			return 0;
		}
		/* something else happened first (exit, a signal): decode it
		 * keeping the thread stopped */
		if (handle_status(t, tid, st, MODE_STOP) || lp->gone || !(th = target_find_thread(t, tid)) ||
		    th->state == THREAD_EXITED || th->at_exit)
			return hd_fail(HD_EGONE, "thread %d exited during a single step", tid);
		if (th->state == THREAD_STOPPED && th->pending_sig)
			return 0;	/* a signal arrived instead; caller redelivers */
		if (th->state == THREAD_STOPPED) {
			/* an event stop came before the step (an interrupt
			 * still pending from an earlier stop_all, a group
			 * stop): the thread has not moved; step it again, or
			 * wait for a status it will never send */
			if (again >= 16)
				return hd_fail(HD_EGENERIC, "thread %d does not single-step", tid);
			th->regs_valid = false;
			if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0)
				return hd_fail_errno(errno == ESRCH ? HD_EGONE : HD_EGENERIC, errno,
						     "cannot single-step thread %d", tid);
			th->state = THREAD_RUNNING;
		}
	}
}

/* ---- attach ---- */

static const struct target_ops live_ops;
static int live_task_count(pid_t pid);

static struct target *
live_new(pid_t pid)
{
	struct target *t = xmalloc(sizeof(*t));
	struct live_priv *lp = xcalloc(1, sizeof(*lp));
	target_init(t, &live_ops, TARGET_LIVE);
	t->pid = pid;
	t->priv = lp;
	lp->memfd = -1;
	lp->pvr_ok = HAVE_PROCESS_VM_READV;
	lp->maps_stale = true;
	lp->exit_msg = -1;
	return t;
}

static int
open_mem(struct target *t)
{
	char path[64];
	struct live_priv *lp = LP(t);
	snprintf(path, sizeof(path), "/proc/%d/mem", target_mem_pid(t));
	lp->memfd = open(path, O_RDWR | O_CLOEXEC);
	if (lp->memfd < 0)
		lp->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (lp->memfd < 0)
		return hd_fail_errno(HD_EPERM, errno, "cannot open %s", path);
	return 0;
}

static bool
leader_is_zombie(pid_t pid)
{
	char path[64], *s, *p;
	bool z = false;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	s = read_file(path, NULL);
	p = s ? strrchr(s, ')') : NULL;
	if (p && p[1] == ' ')
		z = p[2] == 'Z';
	free(s);
	return z;
}

static int
seize_thread(struct target *t, pid_t tid, bool interrupt)
{
	struct target_thread *th;
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)SEIZE_OPTIONS) < 0)
		return -errno;
	th = target_add_thread(t, tid);
	th->state = THREAD_RUNNING;
	if (interrupt && ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0)
		th->interrupt_sent = true;
	return 0;
}

/* Tasks of pid that are not zombies. */
static int
live_task_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		char sp[96], *s, *p;
		if (tid <= 0)
			continue;
		snprintf(sp, sizeof(sp), "/proc/%d/task/%d/stat", pid, tid);
		s = read_file(sp, NULL);
		p = s ? strrchr(s, ')') : NULL;
		if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X')
			n++;
		free(s);
	}
	closedir(d);
	return n;
}

/* Seize every thread listed in /proc/PID/task, repeating until no new one
 * appears (threads created meanwhile by unseized threads).  A leader that
 * has exited while others run is skipped: it cannot be traced. */
static int
seize_all(struct target *t, bool interrupt)
{
	char path[64];
	bool added;
	int first_err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	do {
		DIR *d = opendir(path);
		struct dirent *de;
		added = false;
		if (!d)
			return t->nthreads ? 0 : -ESRCH;
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);
			int r;
			if (tid <= 0 || target_find_thread(t, tid))
				continue;
			r = seize_thread(t, tid, interrupt);
			if (r == 0)
				added = true;
			else if (tid == t->pid && !first_err && !(r == -EPERM && live_task_count(t->pid) > 0 &&
								    leader_is_zombie(t->pid)))
				first_err = r;
		}
		closedir(d);
		if (first_err)
			return first_err;
	} while (added);
	return 0;
}

static struct target *attach(pid_t pid, bool stop);

struct target *
live_attach(pid_t pid)
{
	return attach(pid, true);
}

struct target *
live_attach_running(pid_t pid)
{
	return attach(pid, false);
}

static struct target *
attach(pid_t pid, bool stop)
{
	struct target *t;
	struct live_priv *lp;
	char st;
	int r;

	if (pid <= 0)
		return hd_fail(HD_ENOPROC, "no such process %d", pid), NULL;
	st = proc_state(pid);
	if (st == 0)
		return hd_fail(HD_ENOPROC, "no such process %d", pid), NULL;
	if (st == 'Z' && live_task_count(pid) > 0)
		st = 'S';	/* only the leader has exited (pthread_exit in main) */
	if (st == 'Z' || st == 'X' || is_kernel_thread(pid) || pid == getpid()) {
		diagnose_attach(pid, EPERM);
		return NULL;
	}
	{
		/* attach to the process, not a thread of it */
		char *tgid = proc_status_field(pid, "Tgid");
		long tg = tgid ? strtol(tgid, NULL, 10) : pid;
		free(tgid);
		if (tg != pid) {
			hd_fail(HD_ENOPROC, "%d is a thread of process %ld; attach to the process", pid, tg);
			return NULL;
		}
	}
	t = live_new(pid);
	lp = LP(t);
	lp->was_stopped = (st == 'T');
	r = seize_all(t, stop);
	if (r < 0) {
		diagnose_attach(pid, -r);
		goto undo;
	}
	if (open_mem(t) < 0) {
		diagnose_attach(pid, EPERM);
		goto undo;
	}
	if (stop && live_stop_all(t) < 0) {
		hd_fail_context("attaching to process %d", pid);
		goto undo;
	}
	if (!stop && live_refresh_maps(t) < 0) {
		diagnose_attach(pid, EPERM);
		goto undo;
	}
	if (!stop)
		lp->maps_stale = true;	/* read again at the first stop */
	if (lp->gone) {
		hd_fail(HD_ENOPROC, "process %d exited while heapdbg attached", pid);
		target_close(t);
		return NULL;
	}
	read_identity(t);
	if (read_auxv(t) < 0 || !t->nmaps) {
		diagnose_attach(pid, EPERM);
		goto undo;
	}
	refresh_thread_names(t);
	/* main thread first */
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i]->tid == pid && i) {
			struct target_thread *tmp = t->threads[0];
			t->threads[0] = t->threads[i];
			t->threads[i] = tmp;
		}
	return t;
undo:
	/* let go of the threads we did seize, keeping the diagnosis */
	{
		char *msg = xstrdup(hd_errmsg());
		enum hd_err code = hd_errcode();
		live_detach(t);
		target_close(t);
		hd_fail(code, "%s", msg);
		free(msg);
	}
	return NULL;
}

/* ---- the exit break ---- */

static void
exit_break_arm(struct target *t)
{
	struct live_priv *lp = LP(t);
	unsigned char trap = 0xcc;
	if (lp->exit_bp && !lp->exit_armed && !lp->gone && target_write(t, lp->exit_bp, &trap, 1) == 0)
		lp->exit_armed = true;
}

static void
exit_break_disarm(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (lp->exit_armed && !lp->gone && target_write(t, lp->exit_bp, &lp->exit_orig, 1) == 0)
		lp->exit_armed = false;
}

/* A fork child (stopped, attached) has a copy of our memory: the exit
 * break must not stay in it. */
static void
clean_child(struct target *t, pid_t child)
{
	struct live_priv *lp = LP(t);
	uint64_t a;
	long w;

	if (!lp->exit_armed)
		return;
	a = lp->exit_bp & ~7ULL;
	errno = 0;
	w = ptrace(PTRACE_PEEKDATA, child, (void *)(uintptr_t)a, 0);
	if (errno)
		return;
	((unsigned char *)&w)[lp->exit_bp - a] = lp->exit_orig;
	if (ptrace(PTRACE_POKEDATA, child, (void *)(uintptr_t)a, (void *)w) < 0)
		debug_msg("cannot take the exit break out of child %d: %s", (int)child, strerror(errno));
}

int
live_set_exit_break(struct target *t, uint64_t addr,
		    void (*fn)(void *ctx, struct target *t, struct target_thread *th), void *ctx)
{
	struct live_priv *lp = LP(t);

	exit_break_disarm(t);
	lp->exit_bp = 0;
	if (!addr)
		return 0;
	if (target_read(t, addr, &lp->exit_orig, 1) < 0)
		return -1;
	lp->exit_bp = addr;
	lp->exit_fn = fn;
	lp->exit_ctx = ctx;
	exit_break_arm(t);
	return lp->exit_armed ? 0 : hd_fail(HD_EGENERIC, "cannot write the exit break at 0x%" PRIx64, addr);
}

/* A SIGTRAP of th: the exit break?  Then every other thread is stopped,
 * the callback runs with th at the break, the break goes and the threads
 * run on (th into _exit).  In a stop-all, th is only put back before the
 * int3, to hit it again when resumed.  True when it was the break. */
static bool
exit_break_hit(struct target *t, struct target_thread *th, enum mode mode)
{
	struct live_priv *lp = LP(t);
	hd_regs_t regs, saved;

	if (ptrace(PTRACE_GETREGS, th->tid, 0, &regs) < 0 || regs.rip != lp->exit_bp + 1)
		return false;
	regs.rip = lp->exit_bp;
	if (live_set_regs(t, th, &regs) < 0)
		return true;
	if (mode != MODE_RUN)
		return true;
	saved = regs;
	lp->exit_busy = true;
	if (live_stop_all(t) == 0 && !lp->gone && th->state == THREAD_STOPPED && lp->exit_fn)
		lp->exit_fn(lp->exit_ctx, t, th);
	lp->exit_busy = false;
	if (lp->gone || !target_find_thread(t, th->tid))
		return true;
	exit_break_disarm(t);
	lp->exit_bp = 0;
	live_set_regs(t, th, &saved);
	/* the others first: the exiting thread goes on into exit_group,
	 * whose SIGKILL must find them running; one still in a ptrace-stop
	 * then can die without an exit stop (its registers, stack and
	 * tcache lost to the leak check at the exit) */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *o = t->threads[i];
		if (o != th && o->state == THREAD_STOPPED && !o->at_exit)
			resume_raw(t, o, PTRACE_CONT);
	}
	resume_all(t);
	return true;
}

int
live_call(struct target *t, struct target_thread *th, uint64_t fn, double timeout, uint64_t *ret)
{
	struct live_priv *lp = LP(t);
	hd_regs_t regs, saved;
	uint64_t deadline = hd_now_ns() + (uint64_t)(timeout * 1e9), back;
	int rc = 0;

	if (!lp->exit_busy || th->state != THREAD_STOPPED)
		return hd_fail(HD_EUSAGE, "live_call: only from the exit break's callback");
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &saved) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "cannot read registers of thread %d", th->tid);
	/* a call as the ABI has it: 16-byte aligned before the call, below
	 * the red zone; it returns to the break, an int3 still */
	regs = saved;
	back = lp->exit_bp;
	regs.rsp = ((saved.rsp - 128 - 256) & ~15ULL) - 8;
	regs.rip = fn;
	regs.rax = 0;
	if (target_write(t, regs.rsp, &back, 8) < 0 || ptrace(PTRACE_SETREGS, th->tid, 0, &regs) < 0) {
		rc = hd_fail(HD_EGENERIC, "cannot set up a call in thread %d", th->tid);
		goto out;
	}
	th->regs_valid = false;
	if (resume_raw(t, th, PTRACE_CONT) < 0) {
		rc = -1;
		goto out;
	}
	for (;;) {
		pid_t tid;
		int st, r = wait_one(&tid, &st, WNOHANG);
		if (r == 1) {
			hd_regs_t now;
			if (tid == th->tid && WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) == SIGTRAP &&
			    ptrace(PTRACE_GETREGS, tid, 0, &now) == 0 && now.rip == back + 1) {
				th->state = THREAD_STOPPED;
				if (ret)
					*ret = now.rax;
				break;
			}
			/* the tracer's breakpoints in the call, or another
			 * thread's event (kept stopped) */
			if (handle_status(t, tid, st, tid == th->tid ? MODE_RUN : MODE_STOP) || lp->gone ||
			    !target_find_thread(t, th->tid) || th->state == THREAD_EXITED || th->at_exit) {
				rc = hd_fail(HD_EGONE, "thread %d ended in a call", th->tid);
				goto out;
			}
			continue;
		}
		if (r < 0 && errno != EINTR) {
			rc = hd_fail_errno(HD_EGENERIC, errno, "waitpid");
			goto out;
		}
		if (hd_now_ns() > deadline || sig_terminating()) {
			/* blocked (a lock another, stopped thread holds): take
			 * the thread back where it was */
			int st2;
			if (th->state == THREAD_RUNNING && ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) == 0)
				wait_thread(t, th->tid, &st2);
			th->state = THREAD_STOPPED;
			rc = hd_fail(HD_EGENERIC, "a call in thread %d did not return within %.0f s", th->tid, timeout);
			goto out;
		}
		{
			struct pollfd pfd = { sig_fd(), POLLIN, 0 };
			sig_poll(&pfd, pfd.fd >= 0 ? 1 : 0, 5);
			sig_drain();
		}
	}
out:
	if (!lp->gone && target_find_thread(t, th->tid) && th->state == THREAD_STOPPED) {
		ptrace(PTRACE_SETREGS, th->tid, 0, &saved);
		th->regs_valid = false;
	}
	return rc;
}

/* ---- launch ---- */

/* The run-time address of a symbol of the dynamic loader mapped at base
 * (its file's .dynsym, read from disk), 0 if not found. */
static uint64_t
loader_symbol(const struct target *t, uint64_t base, const char *name)
{
	const struct mapping *m = target_find_mapping(t, base);
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	uint64_t found = 0;
	int fd;

	if (!m || !m->path || m->path[0] != '/')
		return 0;
	fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 ||
	    eh.e_shnum > 4096)
		goto out;
	sh = xreallocarray(NULL, eh.e_shnum, sizeof(*sh));
	if (pread(fd, sh, eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) != (ssize_t)(eh.e_shnum * sizeof(*sh)))
		goto out;
	for (unsigned i = 0; i < eh.e_shnum && !found; i++) {
		Elf64_Sym sym;
		const Elf64_Shdr *st;
		size_t nl = strlen(name);
		char buf[64];
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh.e_shnum || sh[i].sh_entsize != sizeof(sym))
			continue;
		st = &sh[sh[i].sh_link];
		for (uint64_t k = 1; k < sh[i].sh_size / sizeof(sym) && k < 100000; k++) {
			if (pread(fd, &sym, sizeof(sym), (off_t)(sh[i].sh_offset + k * sizeof(sym))) != (ssize_t)sizeof(sym))
				break;
			if (!sym.st_value || sym.st_name >= st->sh_size || nl + 1 > sizeof(buf))
				continue;
			if (pread(fd, buf, nl + 1, (off_t)(st->sh_offset + sym.st_name)) != (ssize_t)(nl + 1))
				continue;
			if (!memcmp(buf, name, nl + 1)) {
				found = base + sym.st_value;
				break;
			}
		}
	}
out:
	free(sh);
	close(fd);
	return found;
}

struct target *
live_launch(char *const argv[], int out_fd, int err_fd)
{
	int errpipe[2], st, err = 0;
	pid_t pid, r;
	struct target *t;
	struct target_thread *th;
	uint64_t entry = 0, ldbase = 0, r_debug = 0;
	unsigned char orig, trap = 0xcc;

	if (!argv || !argv[0])
		return hd_fail(HD_EUSAGE, "--args needs a program"), NULL;
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return hd_fail_errno(HD_EGENERIC, errno, "pipe"), NULL;
	pid = fork();
	if (pid < 0) {
		close(errpipe[0]);
		close(errpipe[1]);
		return hd_fail_errno(HD_EGENERIC, errno, "fork"), NULL;
	}
	if (pid == 0) {
		setpgid(0, 0);	/* Ctrl-C at the terminal is for heapdbg */
		/* the program's own output (gdb's inferior-tty) */
		if ((out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) ||
		    (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)) {
			err = errno;
			(void)!write(errpipe[1], &err, sizeof(err));
			_exit(127);
		}
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sig_child_mask();
		raise(SIGSTOP);	/* wait for the tracer to seize us */
		execvp(argv[0], argv);
		err = errno;
		(void)!write(errpipe[1], &err, sizeof(err));
		_exit(127);
	}
	close(errpipe[1]);
	do
		r = waitpid(pid, &st, WUNTRACED);
	while (r < 0 && errno == EINTR);
	if (r != pid || !WIFSTOPPED(st)) {
		close(errpipe[0]);
		return hd_fail(HD_EGENERIC, "cannot start %s", argv[0]), NULL;
	}
	t = live_new(pid);
	LP(t)->launched = true;
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)SEIZE_OPTIONS) < 0) {
		hd_fail_errno(HD_EPERM, errno, "cannot trace %s", argv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(errpipe[0]);
		target_close(t);
		return NULL;
	}
	th = target_add_thread(t, pid);
	th->state = THREAD_RUNNING;
	kill(pid, SIGCONT);
	/* run to the exec event */
	for (;;) {
		do
			r = waitpid(pid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r != pid || WIFEXITED(st) || WIFSIGNALED(st)) {
			ssize_t n = read(errpipe[0], &err, sizeof(err));
			close(errpipe[0]);
			if (n == sizeof(err))
				hd_fail_errno(err == ENOENT ? HD_ENOENT : HD_EGENERIC, err, "cannot execute %s", argv[0]);
			else
				hd_fail(HD_EGENERIC, "%s exited before it started", argv[0]);
			LP(t)->gone = true;
			target_close(t);
			return NULL;
		}
		if ((st >> 16) == PTRACE_EVENT_EXEC)
			break;
		/* the initial SIGSTOP group-stop, SIGCONT: keep it going */
		{
			int sig = WSTOPSIG(st);
			if ((st >> 16) != 0 || sig == SIGSTOP || sig == SIGCONT)
				sig = 0;
			ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
		}
	}
	close(errpipe[0]);
	th->state = THREAD_STOPPED;
	if (open_mem(t) < 0 || read_auxv(t) < 0 || live_refresh_maps(t) < 0)
		goto fail;
	read_identity(t);
	if (!target_auxv(t, AT_ENTRY, &entry) || !entry) {
		hd_fail(HD_EGENERIC, "%s: no entry point in its auxiliary vector", argv[0]);
		goto fail;
	}
	/* Where to stop: where the dynamic loader tells a debugger that
	 * every library is loaded and relocated (r_debug's r_brk,
	 * _dl_debug_state, with r_state RT_CONSISTENT), before it runs any
	 * initialiser; so the program's first allocation (libstdc++'s
	 * emergency pool, a constructor's) comes after `trace start`.  A
	 * static program has no loader: its entry point. */
	if (target_auxv(t, AT_BASE, &ldbase) && ldbase) {
		uint64_t brk = loader_symbol(t, ldbase, "_dl_debug_state");
		r_debug = loader_symbol(t, ldbase, "_r_debug");
		if (brk && r_debug)
			entry = brk;
		else
			r_debug = 0;
	}
	if (target_read(t, entry, &orig, 1) < 0 || target_write(t, entry, &trap, 1) < 0)
		goto fail;
	for (;;) {
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(long)th->pending_sig) < 0) {
			hd_fail_errno(HD_EGENERIC, errno, "cannot run %s", argv[0]);
			goto fail;
		}
		th->pending_sig = 0;
		do
			r = waitpid(pid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r != pid || WIFEXITED(st) || WIFSIGNALED(st)) {
			char b[64];
			hd_fail(HD_EGENERIC, "%s %s before reaching its entry point", argv[0],
				r == pid ? wait_status_str(st, b) : "vanished");
			LP(t)->gone = true;
			target_close(t);
			return NULL;
		}
		if (WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) == SIGTRAP) {
			hd_regs_t regs;
			th->state = THREAD_STOPPED;
			if (ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0 && regs.rip == entry + 1) {
				uint32_t state = 0;
				regs.rip = entry;
				if (target_write(t, entry, &orig, 1) < 0 || live_set_regs(t, th, &regs) < 0)
					goto fail;
				/* struct r_debug: r_version, r_map, r_brk, r_state */
				if (!r_debug || target_read_uncached(t, r_debug + 24, &state, 4) != 4 || state == 0)
					break;	/* RT_CONSISTENT (or no way to tell) */
				/* RT_ADD: libraries are being loaded; step over the
				 * breakpoint and wait for the next report */
				if (live_step(t, th) < 0 || target_write(t, entry, &trap, 1) < 0)
					goto fail;
				continue;
			}
		}
		if (WIFSTOPPED(st) && (st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP)
			th->pending_sig = WSTOPSIG(st);
		if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_CLONE) {
			unsigned long msg = 0;
			ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg);
			/* a constructor started a thread; it will be seized
			 * automatically and reported to live_stop_all */
			if (msg)
				target_add_thread(t, (pid_t)msg)->state = THREAD_RUNNING;
		}
	}
	th->state = THREAD_STOPPED;
	if (live_stop_all(t) < 0)
		goto fail;
	held_check(t);
	live_refresh_maps(t);
	refresh_thread_names(t);
	return t;
fail:
	hd_fail_context("starting %s", argv[0]);
	kill(pid, SIGKILL);
	LP(t)->gone = true;
	while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR)
		;
	target_close(t);
	return NULL;
}

/* ---- detach, kill, finish ---- */

int
live_finish(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (lp->gone)
		return 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		if (th->state == THREAD_STOPPED) {
			th->pending_sig = 0;
			resume_raw(t, th, PTRACE_CONT);
		}
	}
	lp->exited = false;
	for (;;) {
		pid_t tid;
		int st, r = wait_one(&tid, &st, 0);
		if (r == -2)
			continue;
		if (r < 0) {
			lp->gone = true;
			break;
		}
		if (handle_status(t, tid, st, MODE_RUN) && lp->gone)
			break;
	}
	return 0;
}

int
live_detach(struct target *t)
{
	struct live_priv *lp = LP(t);
	int rc = 0;

	if (lp->gone)
		return 0;
	release_foreign(t);
	if (lp->exited && lp->launched)
		return live_finish(t);
	if (live_stop_all(t) < 0)
		rc = -1;
	exit_break_disarm(t);	/* never left in a program let go */
	lp->exit_bp = 0;
	held_end(t);
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		pid_t tid = th->tid;
		int sig = th->pending_sig;
		if (th->state == THREAD_EXITED)
			continue;
		th->state = THREAD_EXITED;
		if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) == 0 || errno == ESRCH)
			continue;
		/* not in a ptrace-stop: interrupt and retry once */
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
			int st;
			if (wait_thread(t, tid, &st) == 0 && WIFSTOPPED(st))
				ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig);
			i = (size_t)-1;	/* the list may have changed: again */
		} else {
			rc = hd_fail_errno(HD_EGENERIC, errno, "cannot detach from thread %d", tid);
		}
	}
	/* a leader that died out of turn (see wait_thread) is a zombie still
	 * traced by us: its status comes once the others are gone; take it,
	 * or its parent could not reap it while heapdbg lives */
	if (lp->leader_zombie) {
		uint64_t start = hd_now_ns();
		int st;
		pid_t r;
		while ((r = waitpid(t->pid, &st, __WALL | WNOHANG)) == 0 &&
		       (hd_now_ns() - start) / 1000000 < STOP_TIMEOUT_MS)
			usleep(2000);
		if (r == t->pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
			lp->status = st;
			lp->have_status = true;
		}
	}
	/* a job that was stopped when we came stays stopped */
	if (lp->was_stopped && !lp->exited) {
		char st = proc_state(t->pid);
		if (st && st != 'T' && st != 't')
			kill(t->pid, SIGSTOP);
	}
	lp->gone = true;	/* no longer ours */
	if (lp->launched) {
		/* our child: reap it later if it finishes while we live */
		lp->launched = false;
	}
	return rc;
}

int
live_kill(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (lp->gone)
		return 0;
	held_end(t);
	kill(t->pid, SIGKILL);
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = t->threads[i];
		if (th->state == THREAD_STOPPED) {
			th->pending_sig = 0;
			resume_raw(t, th, PTRACE_CONT);
		}
	}
	lp->exited = false;
	for (;;) {
		pid_t tid;
		int st, r = wait_one(&tid, &st, 0);
		if (r == -2)
			continue;
		if (r < 0)
			break;
		if (WIFSTOPPED(st)) {
			ptrace(PTRACE_CONT, tid, 0, 0);
			continue;
		}
		if (tid == t->pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
			lp->status = st;
			lp->have_status = true;
			break;
		}
	}
	lp->gone = true;
	return 0;
}

bool
live_at_exit(const struct target *t)
{
	return t->kind == TARGET_LIVE && LP(t)->exited && !LP(t)->gone;
}

bool
live_gone(const struct target *t)
{
	return t->kind == TARGET_LIVE && LP(t)->gone;
}

bool
live_exit_status(const struct target *t, int *status)
{
	if (t->kind != TARGET_LIVE || !LP(t)->have_status)
		return false;
	*status = LP(t)->status;
	return true;
}

bool
live_launched(const struct target *t)
{
	return t->kind == TARGET_LIVE && LP(t)->launched;
}

void
live_set_hooks(struct target *t, const struct live_hooks *hooks)
{
	LP(t)->hooks = hooks;
}

unsigned long
live_stop_count(const struct target *t)
{
	return LP(t)->stops;
}

static void
live_destroy(struct target *t)
{
	struct live_priv *lp = LP(t);
	if (!lp)
		return;
	if (!lp->gone)
		live_detach(t);
	if (lp->memfd >= 0)
		close(lp->memfd);
	vec_free(&lp->foreign);
	free(lp);
	t->priv = NULL;
}

static const struct target_ops live_ops = {
	.name = "live",
	.read = live_read,
	.read_many = live_read_many,
	.write = live_write,
	.get_regs = live_get_regs,
	.refresh_maps = live_refresh_maps,
	.destroy = live_destroy,
};
