/*
 * abortmsg.h - why glibc aborted a process, read from a core (or a live
 * process held at its exit): the message malloc_printerr() printed, and
 * the chunk it was about.
 *
 * glibc keeps the text of a fatal message in __abort_msg (a pointer to
 * { unsigned int size; char msg[]; }, mmap()ed by __libc_message before
 * it calls abort(), so that it is in core dumps).  The chunk is not: it is
 * found on the aborting thread's stack, where malloc_printerr's callers
 * kept it (the pointer being freed, spilled by the callee-saved register
 * pushes of the functions on the way to abort()), keeping the value
 * that fits what the message says (a chunk in a tcache for "double free
 * detected in tcache 2", the fastbin's head for "(fasttop)", a chunk
 * whose next chunk says it is free for "(!prev)", ...), or from the
 * heap walk's own findings for messages about damaged lists.
 */
#ifndef HEAPDBG_ABORTMSG_H
#define HEAPDBG_ABORTMSG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "heap.h"
#include "symbols.h"
#include "target.h"

struct glibc_abort {
	char message[256];	/* glibc's text, without the trailing newline */
	uint64_t msg_at;	/* where it is (the abort_msg_s buffer) */
	pid_t tid;		/* the aborting thread, if known (0) */
	uint64_t chunk;		/* the chunk it was about, 0 if not found */
	const char *how;	/* how the chunk was found: "stack", "finding", NULL */
	uint64_t stack_at;	/* "stack": where the pointer was */
};

/* Did glibc's malloc abort the process (a core of it, or a live process
 * held at its exit, dying of SIGABRT, whose __abort_msg is one of
 * malloc_printerr's messages)?  Returns true and fills *out; false when
 * it did not, or that cannot be told. */
bool glibc_abort_examine(struct target *t, struct symbols *s, const struct heap *h, struct glibc_abort *out);

#endif
