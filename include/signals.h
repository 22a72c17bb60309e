/*
 * signals.h - how heapdbg notices SIGINT, SIGTERM, SIGHUP and SIGCHLD.
 *
 * The handlers only set flags and write a byte to a self-pipe, so any wait
 * (the live event loop polls the pipe while the target runs) wakes up at
 * once and no signal is lost between a flag check and a blocking call.
 * SIGPIPE is ignored: a write to a closed stdout fails with EPIPE and the
 * front end turns that into a clean shutdown (restore target, exit).
 */
#ifndef HEAPDBG_SIGNALS_H
#define HEAPDBG_SIGNALS_H

#include <poll.h>
#include <stdbool.h>

/* Install the handlers (idempotent).  Returns 0 or -1. */
int sig_setup(void);
/* The read end of the self-pipe (readable when any signal arrived). */
int sig_fd(void);
/* poll(2) with SIGCHLD let through (it is blocked everywhere else):
 * every wait for the target's events goes through here. */
int sig_poll(struct pollfd *fds, nfds_t n, int timeout_ms);
/* In a child about to exec: unblock SIGCHLD again (the mask is
 * inherited across exec). */
void sig_child_mask(void);
/* Drain the pipe (call after waking up). */
void sig_drain(void);
/* Ctrl-C seen since the last sig_clear_interrupt(). */
bool sig_interrupted(void);
void sig_clear_interrupt(void);
/* Ctrl-C, SIGTERM or SIGHUP seen: long work (a walk, a leak check) stops
 * early so heapdbg can answer the interrupt or restore the target. */
bool sig_stop_work(void);
/* Batch mode: a SIGINT interrupts the command that runs, as always, and
 * also ends the run: sig_batch_interrupted() stays true (it is not
 * cleared by sig_clear_interrupt), so no further command runs and the
 * front end restores the target and dies by SIGINT, as gdb -batch ends. */
void sig_set_batch(bool on);
bool sig_batch_interrupted(void);
/* SIGTERM or SIGHUP seen: heapdbg must clean up and exit; returns the
 * signal number or 0. */
int sig_terminating(void);

#endif
