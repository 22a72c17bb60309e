/*
 * tap.h - a tiny TAP producer for heapdbg's C unit tests (run by prove).
 */
#ifndef HEAPDBG_TAP_H
#define HEAPDBG_TAP_H

#include <stdbool.h>
#include <stdint.h>

void tap_plan(int n);
void tap_skip_all(const char *reason);
/* Returns cond. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool tap_is_u64(uint64_t got, uint64_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool tap_is_str(const char *got, const char *want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(int n, const char *reason);
/* Prints the plan if none was given; returns the exit status. */
int tap_done(void);

#define ok tap_ok
#define is_u64 tap_is_u64
#define is_str tap_is_str
#define diag tap_diag

#endif
