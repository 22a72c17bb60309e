/*
 * symbols.h - addresses to names and names to addresses, through elfutils
 * libdwfl, the same code path for a live process and a core file (only the
 * report call differs, as in eu-stack).
 *
 * Debug information is found by build-id under the debug directories
 * (default /usr/lib/debug; --debug-file-directory replaces it), by
 * .gnu_debuglink, and through debuginfod when DEBUGINFOD_URLS is set.
 * Resolved frames are cached by pc.
 */
#ifndef HEAPDBG_SYMBOLS_H
#define HEAPDBG_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "target.h"

struct symbols;
typedef struct Dwfl Dwfl;

/* One source-level frame at a pc.  Strings are owned by the cache. */
struct frame_info {
	uint64_t pc;		/* the pc as given (not adjusted) */
	const char *func;	/* function (or inlined function) name */
	uint64_t off;		/* pc - function start (outermost only) */
	const char *file;	/* source file, its full path (joined with the
				 * compilation directory, "." and ".." taken
				 * out), or NULL */
	const char *file_rel;	/* the same, relative to the module's source
				 * root (symbols_source_root) when under it:
				 * what people read */
	int line;		/* 0 if unknown */
	const char *module;	/* base name of the module, or NULL */
	bool inlined;		/* an inlined call inside the next frame */
	const char *vg_name;	/* the name valgrind gives it in suppressions
				 * (mangled): an inlined call's DW_AT_name; a
				 * function's ELF symbol, valgrind's pick among
				 * those of its address and size ("strdup" for
				 * __strdup, "dlopen@@GLIBC_2.34"); or NULL */
};

struct sym_info {
	uint64_t addr;		/* run-time address; STT_TLS: offset in the module's TLS block */
	uint64_t size;
	int type;		/* STT_* */
	int bind;		/* STB_* */
	const char *module;	/* module path */
	uint64_t module_start;	/* load address of the module */
	uint64_t bias;		/* load bias */
	bool from_debug_file;	/* found in a separate debug file's symtab */
};

struct module_info {
	const char *name;	/* as reported (path) */
	uint64_t start, end;	/* address range */
	uint64_t bias;
	const char *file;	/* main ELF file found, or NULL */
	const char *debug_file;	/* separate debug file found, or NULL */
	const unsigned char *build_id;
	int build_id_len;
	bool has_dwarf;
	bool has_symtab;	/* a full .symtab (not only .dynsym) */
};

/* Report the modules of the target.  debug_dir: NULL for the default
 * search path, else the directory to search instead. NULL on error. */
struct symbols *symbols_open(struct target *t, const char *debug_dir);
void symbols_close(struct symbols *s);
/* Re-report modules after the target changed its mappings (dlopen, exec). */
int symbols_refresh(struct symbols *s);

/* Frames at pc, innermost first (inline chain, then the function).
 * caller: pc is a return address (resolve pc-1).  Returns the count (at
 * least 1; an unknown pc gives one frame with func NULL). */
int symbols_resolve(struct symbols *s, uint64_t pc, bool caller,
		    const struct frame_info **out);

/* The common root of a module's sources: the deepest directory holding
 * every compilation directory and every compilation unit's source file
 * of the module with DWARF at addr ("/work/proj" for a project built in
 * /work/proj/build from /work/proj/src; "" when the paths are relative,
 * as glibc's are), or NULL when there is none below "/" or no DWARF.
 * Computed once per module; the string is owned by s. */
const char *symbols_source_root(struct symbols *s, uint64_t addr);

/* Look up a symbol by name.  module: NULL for any module (search order:
 * the executable, then libraries), else a substring of the module's base
 * name ("libc.so").  Prefers defined FUNC/OBJECT symbols. 0 or -1. */
int symbols_lookup(struct symbols *s, const char *module, const char *name,
		   struct sym_info *out);
/* The symbol containing addr (objects and functions). */
bool symbols_addr_sym(struct symbols *s, uint64_t addr, const char **name,
		      uint64_t *off, const char **module);

/* The same, with the symbol's extent: its start and size (0 when the
 * symbol table does not say), and the module's full path. */
bool symbols_addr_extent(struct symbols *s, uint64_t addr, const char **name, uint64_t *start, uint64_t *size,
			 const char **module);
/* The ELF section of a module holding addr (".bss", ".data"), with its
 * run-time extent. */
bool symbols_addr_section(struct symbols *s, uint64_t addr, const char **name, uint64_t *start, uint64_t *end);
/* The function a static variable at addr is declared in (gcc names its
 * symbol "pool.1"), from the module's DWARF; NULL when it is not a
 * function's or there is no DWARF.  A walk over the module's DIEs. */
const char *symbols_static_scope(struct symbols *s, uint64_t addr);
/* Iterate modules: i from 0 while true. */
bool symbols_module(struct symbols *s, size_t i, struct module_info *out);
/* The module containing addr, or false. */
bool symbols_module_at(struct symbols *s, uint64_t addr, struct module_info *out);

/* A C++ name demangled ("_ZTV3Foo" -> "vtable for Foo"), or the name as
 * given when it is not mangled or no demangler is available (libstdc++'s
 * __cxa_demangle is loaded at run time).  The result is owned by s. */
const char *symbols_demangle(struct symbols *s, const char *name);

/* The underlying Dwfl (for DWARF type lookups and the libdw unwinder). */
Dwfl *symbols_dwfl(struct symbols *s);
struct target *symbols_target(struct symbols *s);

#endif
