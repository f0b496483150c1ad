/*
 * gale.h — the public interface of Gale, the only header an embedder or the
 * `gale` program includes.
 *
 * Ownership: strings passed in are copied before the call returns; strings
 * returned point into the VM and stay valid until the next call on that VM
 * unless stated otherwise. A GaleVM is used by one thread at a time; separate
 * VMs are fully independent (each has its own heap and statistics).
 */
#ifndef GALE_H
#define GALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GALE_API __attribute__((visibility("default")))
#else
#define GALE_API
#endif

#define GALE_VERSION_STRING "0.1.0"

typedef struct GaleVM GaleVM;

/* Result of running code; the numbers are the `gale` program's exit statuses. */
typedef enum GaleResult {
	GALE_OK = 0,
	GALE_COMPILE_ERROR = 65, /* syntax or other compile-time error */
	GALE_RUNTIME_ERROR = 70, /* uncaught error while running */
	GALE_INCOMPLETE = 1,     /* gale_eval_repl only: input needs more lines */
} GaleResult;

/* Receives text the VM writes: print() output (write) and error reports
 * (error). text is not NUL-terminated; it is valid only during the call. */
typedef void (*GaleWriteFn)(GaleVM *vm, const char *text, size_t len, void *user);

/* Resolves `import "name"` for names the VM cannot find as a file. Returns
 * source text that the VM copies and then releases with free_source (if
 * non-NULL), or NULL when the host has no such module. */
typedef const char *(*GaleLoadModuleFn)(GaleVM *vm, const char *name, void *user);

typedef struct GaleConfig {
	int64_t gc_percent;     /* GOGC-style percent; default 100; -1 = off */
	int64_t memory_limit;   /* soft limit in bytes; default INT64_MAX (none) */
	int64_t max_heap;       /* hard cap in bytes; 0 (default) = none. Past it an
	                           allocation raises the catchable "out of memory" */
	const char *debug;      /* GALEDEBUG-style switches, e.g. "gctrace=1"; default NULL.
	                           The library never reads the environment itself. */
	int max_call_depth;     /* call depth past which "stack overflow" is raised;
	                           default 200000 */
	GaleWriteFn write;      /* default: standard output */
	GaleWriteFn error;      /* default: standard error */
	const char *module_path; /* extra directories for import, ':'-separated, searched
	                           after the importing file's directory (the program passes
	                           GALEPATH); copied; default NULL */
	GaleLoadModuleFn load_module; /* default NULL */
	void (*free_source)(GaleVM *vm, const char *source, void *user); /* default NULL */
	void *user_data;        /* passed to every callback; default NULL */
} GaleConfig;

/* Fills every field with its default. */
GALE_API void gale_config_init(GaleConfig *config);

/* NULL when memory for the VM cannot be had. config may be NULL (defaults). */
GALE_API GaleVM *gale_new(const GaleConfig *config);
/* Runs pending finalizers and returns all of the VM's memory. */
GALE_API void gale_free(GaleVM *vm);
GALE_API void *gale_user_data(GaleVM *vm);

/* Compile and run source as a module named name (used in messages, e.g. the
 * file name). Errors are reported through the error callback and kept for
 * gale_error_message. */
GALE_API GaleResult gale_eval(GaleVM *vm, const char *source, size_t len, const char *name);
/* Read and run a file; a file that cannot be read is a runtime error. */
GALE_API GaleResult gale_eval_file(GaleVM *vm, const char *path);
/* REPL step: run source in the persistent top-level scope of the REPL module.
 * Returns GALE_INCOMPLETE (and runs nothing) when the input ends inside an
 * open bracket, brace or string. The value of a lone expression statement is
 * written through the write callback (strings quoted), unless nil. */
GALE_API GaleResult gale_eval_repl(GaleVM *vm, const char *source);
/* Print the bytecode of source instead of running it. */
GALE_API GaleResult gale_disassemble(GaleVM *vm, const char *source, size_t len, const char *name);

/* The full text of the last error (first line and trace), or "" if none. */
GALE_API const char *gale_error_message(GaleVM *vm);

/* os.args for scripts. */
GALE_API void gale_set_args(GaleVM *vm, int argc, const char *const *argv);

/* Ask the running evaluation to stop with the error "interrupted" at its next
 * safe point. Async-signal-safe; the VM stays usable. */
GALE_API void gale_interrupt(GaleVM *vm);

/* Names for REPL completion: calls fn for each global name, or, when prefix
 * names a module or other map-like global followed by '.', for each member. */
GALE_API void gale_complete(GaleVM *vm, const char *prefix,
                            void (*fn)(const char *candidate, void *ctx), void *ctx);

/* Built-in functions with their one-line docs, for :help. */
GALE_API void gale_each_builtin(GaleVM *vm,
                                void (*fn)(const char *module, const char *name,
                                           const char *doc, void *ctx), void *ctx);

/* ---- memory ---- */

/* Go's runtime.MemStats fields, plus MappedReady, MemoryLimit and GCPercent. */
typedef struct GaleMemStats {
	uint64_t Alloc, TotalAlloc, Sys, Mallocs, Frees;
	uint64_t HeapAlloc, HeapSys, HeapIdle, HeapInuse, HeapReleased, HeapObjects;
	uint64_t StackInuse, StackSys, MSpanInuse, MSpanSys, MCacheInuse, MCacheSys;
	uint64_t BuckHashSys, GCSys, OtherSys, NextGC, LastGC, PauseTotalNs;
	uint32_t NumGC, NumForcedGC;
	uint64_t MappedReady;
	int64_t MemoryLimit, GCPercent;
} GaleMemStats;

GALE_API void gale_memstats(GaleVM *vm, GaleMemStats *out);
GALE_API void gale_gc(GaleVM *vm);
GALE_API void gale_free_os_memory(GaleVM *vm);
/* Return the previous value; a negative limit only reads. */
GALE_API int64_t gale_set_gc_percent(GaleVM *vm, int64_t percent);
GALE_API int64_t gale_set_memory_limit(GaleVM *vm, int64_t limit);

/* Parse a size such as "64MiB", "1.5GiB", "4096" or "100B" (units B KiB MiB
 * GiB TiB). Returns false on a malformed size. */
GALE_API bool gale_parse_size(const char *text, int64_t *out);

/* ---- standard library (implemented in stdlib/) ---- */

/* Opens the modules math, os, io, runtime and ffi as predefined globals and
 * importable modules, like Lua's luaL_openlibs. gale_new opens only the core
 * built-ins (print, len, memstats, ...). */
GALE_API void gale_open_libs(GaleVM *vm);

/* ---- values and C functions ---- */

/* The type of an argument, as type() names it. */
typedef enum GaleType {
	GALE_TNIL,
	GALE_TBOOL,
	GALE_TINT,
	GALE_TFLOAT,
	GALE_TSTRING,
	GALE_TLIST,
	GALE_TMAP,
	GALE_TFUNCTION,
	GALE_TOTHER, /* range, class, instance, module, error, foreign */
} GaleType;

/* A C function callable from scripts. Arguments 0..argc-1 are read with
 * gale_arg_*; the result is set with one gale_return_* call (nil if none);
 * gale_raise reports an error. Only valid while the function runs. */
typedef void (*GaleCFunction)(GaleVM *vm, int argc);

/* Define a global function. arity is the exact argument count the VM checks
 * before calling, or -1 for any count. doc is a one-line "usage: meaning"
 * shown by :help (may be NULL). name and doc are copied. Returns false when
 * memory runs out. */
GALE_API bool gale_register(GaleVM *vm, const char *name, GaleCFunction fn, int arity,
                            const char *doc);

GALE_API GaleType gale_arg_type(GaleVM *vm, int i);
/* Truthiness: false only for nil and false. */
GALE_API bool gale_arg_bool(GaleVM *vm, int i);
/* These raise "<function>: expected ..., got <type>" on a type mismatch and
 * then do not return. gale_arg_float accepts ints too. The string stays
 * valid while the function runs; len (may be NULL) receives its length. */
GALE_API int64_t gale_arg_int(GaleVM *vm, int i);
GALE_API double gale_arg_float(GaleVM *vm, int i);
GALE_API const char *gale_arg_string(GaleVM *vm, int i, size_t *len);

GALE_API void gale_return_nil(GaleVM *vm);
GALE_API void gale_return_bool(GaleVM *vm, bool b);
GALE_API void gale_return_int(GaleVM *vm, int64_t n);
GALE_API void gale_return_float(GaleVM *vm, double d);
/* The bytes are copied. */
GALE_API void gale_return_string(GaleVM *vm, const char *s, size_t len);

/* Raise a catchable error with a printf-style message. Does not return: it
 * unwinds to the script's try/catch (like lua_error), so release C resources
 * before calling it. */
GALE_API
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
void gale_raise(GaleVM *vm, const char *fmt, ...);

#ifdef __cplusplus
}
#endif
#endif
