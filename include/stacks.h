/*
 * stacks.h - interned call stacks: each distinct stack (a list of pcs,
 * innermost first) is stored once and named by a small id (0 = no stack).
 * The tracer interns the allocation stack of every traced call here;
 * `top`, `leaks`, snapshots and exports refer to stacks by id.
 */
#ifndef HEAPDBG_STACKS_H
#define HEAPDBG_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stack_table;

struct stack_table *stack_table_new(void);
void stack_table_free(struct stack_table *st);
/* The id of this stack (n pcs), adding it if new.  Never returns 0. */
uint32_t stack_intern(struct stack_table *st, const uint64_t *pcs, int n);
/* The pcs of stack id (NULL and *n = 0 for id 0 or an unknown id). */
const uint64_t *stack_pcs(const struct stack_table *st, uint32_t id, int *n);
/* Number of distinct stacks, and the memory they use (bytes). */
size_t stack_count(const struct stack_table *st);
size_t stack_memory(const struct stack_table *st);

/* Is func (a resolved frame's name, demangled or not) the allocator's
 * own code rather than its caller: a malloc-family entry point in any of
 * glibc's spellings (malloc, __libc_malloc, __GI___libc_malloc,
 * _mid_memalign, ...), C++'s operator new/new[] (mangled _Znwm... too),
 * libstdc++'s std::allocator / allocator_traits ::allocate?
 * Allocation stacks are shown from the first frame that is not, as
 * valgrind, heaptrack and pprof show them. */
bool frame_is_allocator(const char *func);

/* C++ names for people: a name longer than width (0: no limit) has its
 * template arguments elided ("std::map<...>::find(...)"), then its
 * parameters, then is cut with "..."; the full name is for JSON.  Writes
 * into buf (size bytes) and returns it, or returns name when it fits. */
const char *frame_short_name(const char *name, size_t width, char *buf, size_t size);

#endif
