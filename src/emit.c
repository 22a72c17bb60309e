/*
 * emit.c - text and JSON Lines output from one set of calls (see emit.h).
 */
#include "config.h"
#include "emit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
/* A JSON object bigger than this is written out as it grows. */
#define STREAM_THRESHOLD (4u << 20)

struct emitter {
	FILE *out;
	enum em_mode mode;
	bool active;
	bool streamed;		/* part of the current object already written */
	bool failed;		/* a write to out failed */
	char *cmd;
	struct sbuf buf;
	int depth;
	char kind[MAX_DEPTH];	/* '{' or '[' */
	bool first[MAX_DEPTH];	/* no member yet at this level */
};

struct emitter *
em_new(FILE *out, enum em_mode mode)
{
	struct emitter *em = xcalloc(1, sizeof(*em));
	em->out = out;
	em->mode = mode;
	sb_init(&em->buf);
	return em;
}

void
em_free(struct emitter *em)
{
	if (!em)
		return;
	sb_free(&em->buf);
	free(em->cmd);
	free(em);
}

enum em_mode
em_mode(const struct emitter *em)
{
	return em->mode;
}

bool
em_active(const struct emitter *em)
{
	return em->active;
}

void
json_escape(struct sbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sb_reserve(sb, n + 2);
	sb_putc(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': sb_puts(sb, "\\\""); break;
		case '\\': sb_puts(sb, "\\\\"); break;
		case '\n': sb_puts(sb, "\\n"); break;
		case '\r': sb_puts(sb, "\\r"); break;
		case '\t': sb_puts(sb, "\\t"); break;
		case '\b': sb_puts(sb, "\\b"); break;
		case '\f': sb_puts(sb, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
				sb_puts(sb, u);
			} else if (c >= 0x80) {
				/* pass valid UTF-8 through, escape stray bytes */
				size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
				bool ok = len && i + len <= n;
				for (size_t k = 1; ok && k < len; k++)
					ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
				if (ok) {
					sb_putn(sb, s + i, len);
					i += len - 1;
				} else {
					char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
					sb_puts(sb, u);
				}
			} else {
				sb_putc(sb, (char)c);
			}
		}
	}
	sb_putc(sb, '"');
}

static void
flush_buf(struct emitter *em)
{
	if (em->buf.len) {
		if (fwrite(em->buf.s, 1, em->buf.len, em->out) != em->buf.len)
			em->failed = true;
		sb_reset(&em->buf);
	}
}

static void
maybe_stream(struct emitter *em)
{
	if (em->buf.len >= STREAM_THRESHOLD) {
		flush_buf(em);
		em->streamed = true;
	}
}

/* Write the separator and key for a new member at the current level. */
static void
member(struct emitter *em, const char *key)
{
	if (em->depth > 0) {
		if (!em->first[em->depth - 1])
			sb_putc(&em->buf, ',');
		em->first[em->depth - 1] = false;
	}
	if (key && em->depth > 0 && em->kind[em->depth - 1] == '{') {
		json_escape(&em->buf, key, strlen(key));
		sb_putc(&em->buf, ':');
	}
}

static void
push(struct emitter *em, char kind)
{
	sb_putc(&em->buf, kind);
	if (em->depth < MAX_DEPTH) {
		em->kind[em->depth] = kind;
		em->first[em->depth] = true;
	}
	em->depth++;
}

static void
pop(struct emitter *em)
{
	if (em->depth <= 1)
		return;	/* the command object is closed by em_end */
	em->depth--;
	sb_putc(&em->buf, em->kind[em->depth] == '{' ? '}' : ']');
	maybe_stream(em);
}

void
em_begin(struct emitter *em, const char *cmd)
{
	if (em->active)
		em_end(em);
	em->active = true;
	em->streamed = false;
	free(em->cmd);
	em->cmd = xstrdup(cmd);
	em->depth = 0;
	sb_reset(&em->buf);
	if (em->mode == EM_JSON) {
		push(em, '{');
		em_str(em, "cmd", cmd);
	}
}

int
em_end(struct emitter *em)
{
	if (!em->active)
		return em->failed ? -1 : 0;
	em->active = false;
	if (em->mode == EM_JSON) {
		while (em->depth > 1)
			pop(em);
		sb_puts(&em->buf, "}\n");
		em->depth = 0;
		flush_buf(em);
	}
	if (fflush(em->out) != 0 || ferror(em->out))
		em->failed = true;
	return em->failed ? -1 : 0;
}

void
em_flush(struct emitter *em)
{
	if (em->mode == EM_TEXT && fflush(em->out) != 0)
		em->failed = true;
}

int
em_next(struct emitter *em)
{
	char *cmd;
	int rc;

	if (!em->active || em->mode != EM_JSON) {
		/* text: what was printed goes out now */
		if (fflush(em->out) != 0)
			em->failed = true;
		return em->failed ? -1 : 0;
	}
	cmd = xstrdup(em->cmd);
	rc = em_end(em);
	em_begin(em, cmd);
	free(cmd);
	return rc;
}

int
em_error(struct emitter *em, const char *msg)
{
	error_msg("%s", msg);
	if (em->mode == EM_JSON) {
		if (!em->active)
			em_begin(em, em->cmd ? em->cmd : "?");
		if (!em->streamed) {
			char *cmd = xstrdup(em->cmd);
			em->depth = 0;
			sb_reset(&em->buf);
			push(em, '{');
			em_str(em, "cmd", cmd);
			free(cmd);
		} else {
			while (em->depth > 1)
				pop(em);
		}
		em_str(em, "error", msg);
	} else if (em->active) {
		fflush(em->out);
	}
	return em_end(em);
}

void
em_obj_open(struct emitter *em, const char *key)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	push(em, '{');
}

void
em_obj_close(struct emitter *em)
{
	if (em->mode == EM_JSON)
		pop(em);
}

void
em_list_open(struct emitter *em, const char *key)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	push(em, '[');
}

void
em_list_close(struct emitter *em)
{
	if (em->mode == EM_JSON)
		pop(em);
}

void
em_item_open(struct emitter *em)
{
	em_obj_open(em, NULL);
}

void
em_item_close(struct emitter *em)
{
	em_obj_close(em);
}

void
em_strn(struct emitter *em, const char *key, const char *val, size_t n)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	if (val)
		json_escape(&em->buf, val, n);
	else
		sb_puts(&em->buf, "null");
}

void
em_str(struct emitter *em, const char *key, const char *val)
{
	em_strn(em, key, val, val ? strlen(val) : 0);
}

void
em_int(struct emitter *em, const char *key, int64_t val)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	sb_printf(&em->buf, "%" PRId64, val);
}

void
em_uint(struct emitter *em, const char *key, uint64_t val)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	sb_printf(&em->buf, "%" PRIu64, val);
}

void
em_addr(struct emitter *em, const char *key, uint64_t val)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	sb_printf(&em->buf, "\"0x%" PRIx64 "\"", val);
}

void
em_bool(struct emitter *em, const char *key, bool val)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	sb_puts(&em->buf, val ? "true" : "false");
}

void
em_double(struct emitter *em, const char *key, double val)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	if (val != val || val > 1e300 || val < -1e300)
		sb_puts(&em->buf, "null");
	else
		sb_printf(&em->buf, "%.6g", val);
}

void
em_null(struct emitter *em, const char *key)
{
	if (em->mode != EM_JSON)
		return;
	member(em, key);
	sb_puts(&em->buf, "null");
}

/* Text goes out with its lines and tabs; any other control byte (one
 * that came from the target in a path, a name, a string) is shown as
 * \xNN, so that nothing printed can drive the terminal. */
static void
text_out(struct emitter *em, const char *s, size_t n)
{
	if (em->mode != EM_TEXT)
		return;
	while (n) {
		size_t run = 0;
		while (run < n && ((unsigned char)s[run] >= 0x20 || s[run] == '\n' || s[run] == '\t') &&
		       (unsigned char)s[run] != 0x7f)
			run++;
		if (run && fwrite(s, 1, run, em->out) != run)
			em->failed = true;
		s += run;
		n -= run;
		if (n) {
			if (fprintf(em->out, "\\x%02x", (unsigned char)*s) < 0)
				em->failed = true;
			s++;
			n--;
		}
	}
}

void
em_text(struct emitter *em, const char *fmt, ...)
{
	va_list ap;
	char small[512], *buf = small;
	int n;

	if (em->mode != EM_TEXT)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		em->failed = true;
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		buf = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	text_out(em, buf, (size_t)n);
	if (buf != small)
		free(buf);
}

/*
 * em_fmt: walk the format.  Literal runs go to text.  A {key:spec} field
 * consumes one argument and renders both ways; a bare %spec outside braces
 * is a text-only field ("%%" is a literal percent sign).
 */
static void
fmt_field(struct emitter *em, const char *key, const char *spec_in, size_t spec_len, va_list *ap)
{
	char spec[32], len[3] = "", tmp[512], f[48], conv;
	size_t sl, i;

	if (spec_len && *spec_in == '%') {
		spec_in++;
		spec_len--;
	}
	sl = MIN(spec_len, sizeof(spec) - 4);
	memcpy(spec, spec_in, sl);
	spec[sl] = 0;
	if (sl == 0)
		return;
	conv = spec[sl - 1];
	for (i = sl - 1; i > 0 && strchr("hlzjt", spec[i - 1]); i--)
		;
	memcpy(len, spec + i, MIN(sl - 1 - i, 2));
	len[MIN(sl - 1 - i, 2)] = 0;
	/* flags, width and precision: spec[0..i) */
	switch (conv) {
	case 'd': case 'i': {
		long long v;
		if (!strcmp(len, "l")) v = va_arg(*ap, long);
		else if (!strcmp(len, "ll")) v = va_arg(*ap, long long);
		else if (!strcmp(len, "z") || !strcmp(len, "t")) v = va_arg(*ap, ssize_t);
		else if (!strcmp(len, "j")) v = va_arg(*ap, intmax_t);
		else v = va_arg(*ap, int);
		if (em->mode == EM_TEXT) {
			snprintf(f, sizeof(f), "%%%.*slld", (int)i, spec);
			snprintf(tmp, sizeof(tmp), f, v);
			text_out(em, tmp, strlen(tmp));
		} else if (key && key[0]) {
			em_int(em, key, v);
		}
		break;
	}
	case 'u': case 'x': case 'X': case 'o': {
		unsigned long long v;
		if (!strcmp(len, "l")) v = va_arg(*ap, unsigned long);
		else if (!strcmp(len, "ll")) v = va_arg(*ap, unsigned long long);
		else if (!strcmp(len, "z") || !strcmp(len, "t")) v = va_arg(*ap, size_t);
		else if (!strcmp(len, "j")) v = va_arg(*ap, uintmax_t);
		else v = va_arg(*ap, unsigned);
		if (em->mode == EM_TEXT) {
			snprintf(f, sizeof(f), "%%%.*sll%c", (int)i, spec, conv);
			snprintf(tmp, sizeof(tmp), f, v);
			text_out(em, tmp, strlen(tmp));
		} else if (key && key[0]) {
			em_uint(em, key, v);
		}
		break;
	}
	case 'A': {
		uint64_t v = va_arg(*ap, uint64_t);
		if (em->mode == EM_TEXT) {
			char a[24];
			snprintf(a, sizeof(a), "0x%" PRIx64, v);
			snprintf(f, sizeof(f), "%%%.*ss", (int)i, spec);
			snprintf(tmp, sizeof(tmp), f, a);
			text_out(em, tmp, strlen(tmp));
		} else if (key && key[0]) {
			em_addr(em, key, v);
		}
		break;
	}
	case 's': {
		const char *v = va_arg(*ap, const char *);
		if (em->mode == EM_TEXT) {
			/* a keyed value may come from the target: never
			 * let its control bytes reach the terminal */
			char *vis = key && v ? str_visible(v) : NULL;
			if (vis)
				v = vis;
			if (!v)
				v = "";
			if (strlen(v) < 400) {
				snprintf(f, sizeof(f), "%%%.*ss", (int)i, spec);
				snprintf(tmp, sizeof(tmp), f, v);
				text_out(em, tmp, strlen(tmp));
			} else {
				text_out(em, v, strlen(v));
			}
			free(vis);
		} else if (key && key[0]) {
			em_str(em, key, v);
		}
		break;
	}
	case 'c': {
		char c = (char)va_arg(*ap, int);
		if (em->mode == EM_TEXT)
			text_out(em, &c, 1);
		else if (key && key[0])
			em_strn(em, key, &c, 1);
		break;
	}
	case 'f': case 'g': case 'e': {
		double v = va_arg(*ap, double);
		if (em->mode == EM_TEXT) {
			snprintf(f, sizeof(f), "%%%s", spec);
			snprintf(tmp, sizeof(tmp), f, v);
			text_out(em, tmp, strlen(tmp));
		} else if (key && key[0]) {
			em_double(em, key, v);
		}
		break;
	}
	default:
		text_out(em, "{?}", 3);
		break;
	}
}

/* Length of a printf conversion spec starting at p (after the '%'). */
static size_t
conv_len(const char *p)
{
	size_t n = strspn(p, "-+ #0123456789.*hlzjt");
	return p[n] ? n + 1 : n;
}

void
em_fmt(struct emitter *em, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt;

	va_start(ap, fmt);
	while (*p) {
		size_t lit = strcspn(p, "{%");
		text_out(em, p, lit);
		p += lit;
		if (!*p)
			break;
		if (*p == '%') {
			size_t n;
			if (p[1] == '%') {
				text_out(em, "%", 1);
				p += 2;
				continue;
			}
			n = conv_len(p + 1);
			fmt_field(em, NULL, p + 1, n, &ap);
			p += 1 + n;
			continue;
		}
		/* {key:spec} */
		{
			const char *colon = strchr(p, ':'), *close = colon ? strchr(colon, '}') : NULL;
			char key[128];
			size_t kl;
			if (!colon || !close) {
				text_out(em, p, strlen(p));
				break;
			}
			kl = MIN((size_t)(colon - p - 1), sizeof(key) - 1);
			memcpy(key, p + 1, kl);
			key[kl] = 0;
			fmt_field(em, key, colon + 1, close - colon - 1, &ap);
			p = close + 1;
		}
	}
	va_end(ap);
	if (em->mode == EM_JSON)
		maybe_stream(em);
}
