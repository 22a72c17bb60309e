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

#endif
