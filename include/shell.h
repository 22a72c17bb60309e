/*
 * shell.h - reading commands: the interactive shell (GNU readline, with
 * history and completion from the command table) and scripts (-x FILE,
 * or stdin when it is not a terminal).
 */
#ifndef HEAPDBG_SHELL_H
#define HEAPDBG_SHELL_H

#include <stdio.h>

#include "session.h"

/* Run commands from f until EOF, quit, or a terminating signal. */
void shell_run_script(struct session *s, FILE *f);
/* Interactive loop on the terminal until quit, EOF (Ctrl-D) or a
 * terminating signal. */
void shell_run_interactive(struct session *s);

/* Ask a yes/no question on the terminal (session.query when stdin is a
 * terminal): true for y or yes, false for n, no or Ctrl-C, on_eof at the
 * end of input; other answers ask again. */
bool shell_query(struct session *s, const char *question, bool on_eof);

#endif
