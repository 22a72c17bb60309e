/*
 * shell.c - the interactive shell and the script reader.
 *
 * The interactive shell uses readline's callback interface and waits with
 * poll() on both the terminal and heapdbg's signal pipe, so Ctrl-C at the
 * prompt clears the line and SIGTERM/SIGHUP end the session cleanly
 * instead of being lost inside readline.
 */
#include "config.h"
#include "shell.h"
#include "cmd.h"
#include "signals.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "(heapdbg) "

/* gdb's query(): the question on the terminal, a line read from it (the
 * terminal is in its normal mode while a command runs: readline is off
 * it), y or n; Ctrl-C answers no, the end of input on_eof. */
bool
shell_query(struct session *s, const char *question, bool on_eof)
{
	FILE *out = isatty(STDOUT_FILENO) && !s->json ? stdout : stderr;

	for (;;) {
		char line[64];
		size_t n = 0;
		bool eof = false, full = false;

		fputs(question, out);
		fflush(out);
		for (;;) {
			struct pollfd pfd[2] = { { STDIN_FILENO, POLLIN, 0 }, { sig_fd(), POLLIN, 0 } };
			char c;
			ssize_t r;
			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				return false;
			if (sig_terminating())
				return false;
			if (sig_interrupted()) {
				sig_clear_interrupt();
				sig_drain();
				fputs("^C\n", out);
				return false;
			}
			if (pfd[1].revents & POLLIN)
				sig_drain();
			if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(STDIN_FILENO, &c, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = true;
				break;
			}
			if (c == '\n')
				break;
			if (n < sizeof(line) - 1)
				line[n++] = c;
			else
				full = true;
		}
		line[n] = 0;
		if (eof) {
			fprintf(out, "EOF [answered %c; input not from terminal]\n", on_eof ? 'Y' : 'N');
			return on_eof;
		}
		{
			char *w = line;
			while (*w == ' ' || *w == '\t')
				w++;
			for (char *e = w + strlen(w); e > w && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
				*--e = 0;
			if (!full && (!strcasecmp(w, "y") || !strcasecmp(w, "yes")))
				return true;
			if (!full && (!strcasecmp(w, "n") || !strcasecmp(w, "no")))
				return false;
		}
		fputs("Please answer y or n.\n", out);
	}
}

static bool
should_stop(struct session *s)
{
	return s->quit || sig_terminating() || sig_batch_interrupted();
}

void
shell_run_script(struct session *s, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (!should_stop(s)) {
		errno = 0;
		n = getline(&line, &cap, f);
		if (n < 0) {
			if (errno == EINTR && !sig_terminating()) {
				clearerr(f);
				continue;
			}
			break;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = 0;
		cmd_run_line(s, line);
	}
	free(line);
}

/* Run a line typed at the terminal; an empty one runs the last command
 * again if it may be repeated (gdb's habit), "# comments" do nothing. */
static char *repeat_line;

static void
repeat_or_run(struct session *s, const char *line)
{
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		if (repeat_line)
			cmd_run_line(s, repeat_line);
		return;
	}
	free(repeat_line);
	repeat_line = cmd_repeatable(line) ? xstrdup(line) : NULL;
	cmd_run_line(s, line);
}

#if HAVE_READLINE

static struct session *shell_session;
static bool shell_done;
static char *history_path;

static void
shell_line(char *line)
{
	if (!line) {
		/* Ctrl-D: quit, as gdb (which may ask, and be told no) */
		rl_callback_handler_remove();
		printf("quit\n");
		cmd_run_line(shell_session, "quit");
		if (shell_session->quit || should_stop(shell_session))
			shell_done = true;
		else
			rl_callback_handler_install(PROMPT, shell_line);
		return;
	}
	if (*line) {
		HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
		if (!last || strcmp(last->line, line))
			add_history(line);
	}
	/* the command may print a lot; take readline off the terminal */
	rl_callback_handler_remove();
	repeat_or_run(shell_session, line);
	free(line);
	if (!should_stop(shell_session))
		rl_callback_handler_install(PROMPT, shell_line);
}

static int complete_start;

static char *
shell_generator(const char *text, int state)
{
	return cmd_complete(shell_session, rl_line_buffer, (size_t)complete_start, text, state);
}

static char **
shell_complete(const char *text, int start, int end)
{
	rl_attempted_completion_over = 1;
	complete_start = start;
	if (cmd_complete_files(rl_line_buffer, (size_t)start)) {
		rl_filename_completion_desired = 1;
		return rl_completion_matches(text, rl_filename_completion_function);
	}
	return rl_completion_matches(text, shell_generator);
}

void
shell_run_interactive(struct session *s)
{
	const char *home = getenv("HOME");

	shell_session = s;
	shell_done = false;
	rl_readline_name = "heapdbg";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 1;
	rl_attempted_completion_function = shell_complete;
	if (home) {
		history_path = xasprintf("%s/.heapdbg_history", home);
		using_history();
		stifle_history(1000);
		read_history(history_path);
	}
	rl_callback_handler_install(PROMPT, shell_line);
	while (!shell_done && !should_stop(s)) {
		struct pollfd pfd[2] = { { STDIN_FILENO, POLLIN, 0 }, { sig_fd(), POLLIN, 0 } };
		int r = poll(pfd, 2, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (sig_interrupted()) {
			/* Ctrl-C at the prompt: drop the line, new prompt */
			sig_clear_interrupt();
			sig_drain();
			rl_free_line_state();
			rl_callback_sigcleanup();
			rl_replace_line("", 0);
			printf("^C\n");
			rl_on_new_line();
			rl_redisplay();
			continue;
		}
		if (pfd[1].revents & POLLIN)
			sig_drain();
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			rl_callback_read_char();
	}
	rl_callback_handler_remove();
	free(repeat_line);
	repeat_line = NULL;
	if (history_path) {
		write_history(history_path);
		free(history_path);
		history_path = NULL;
	}
}

#else /* !HAVE_READLINE */

void
shell_run_interactive(struct session *s)
{
	char *line = NULL;
	size_t cap = 0;

	while (!should_stop(s)) {
		struct pollfd pfd[2] = { { STDIN_FILENO, POLLIN, 0 }, { sig_fd(), POLLIN, 0 } };
		ssize_t n;
		fputs(PROMPT, stdout);
		fflush(stdout);
		for (;;) {
			int r = poll(pfd, 2, -1);
			if (should_stop(s))
				goto out;
			if (sig_interrupted()) {
				sig_clear_interrupt();
				sig_drain();
				printf("^C\n" PROMPT);
				fflush(stdout);
				continue;
			}
			if (r > 0 && (pfd[1].revents & POLLIN))
				sig_drain();
			if (r > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
				break;
		}
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			printf("quit\n");
			cmd_run_line(s, "quit");
			clearerr(stdin);
			continue;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = 0;
		repeat_or_run(s, line);
	}
out:
	free(line);
	free(repeat_line);
	repeat_line = NULL;
}

#endif
