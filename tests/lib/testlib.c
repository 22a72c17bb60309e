/*
 * testlib.c - TAP output for the C unit tests.
 */
#include "tap.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int planned = -1, run, failed;

void
tap_plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void
tap_skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	exit(0);
}

static bool
vok(bool cond, const char *fmt, va_list ap)
{
	run++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", run);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

bool
tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

bool
tap_is_u64(uint64_t got, uint64_t want, const char *fmt, ...)
{
	va_list ap;
	bool r;
	va_start(ap, fmt);
	r = vok(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#   got: %" PRIu64 " (0x%" PRIx64 ")\n#  want: %" PRIu64 " (0x%" PRIx64 ")\n",
		       got, got, want, want);
	return r;
}

bool
tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	bool r = (got && want) ? !strcmp(got, want) : got == want;
	va_start(ap, fmt);
	vok(r, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#   got: '%s'\n#  want: '%s'\n", got ? got : "(null)", want ? want : "(null)");
	return r;
}

void
tap_diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void
tap_skip(int n, const char *reason)
{
	for (int i = 0; i < n; i++) {
		run++;
		printf("ok %d # skip %s\n", run, reason);
	}
}

int
tap_done(void)
{
	if (planned < 0)
		printf("1..%d\n", run);
	else if (planned != run)
		printf("# planned %d tests but ran %d\n", planned, run);
	fflush(stdout);
	return failed || (planned >= 0 && planned != run) ? 1 : 0;
}
