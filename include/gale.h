/*
 * gale.h — the public interface of Gale, the only header an embedder or the
 * `gale` program includes. Link with -lgale (pkg-config --libs gale).
 * docs/embedding.md walks through a complete host.
 *
 * The contract, for every call below unless its comment says otherwise:
 *
 * Ownership. Strings passed in are copied (or only read) before the call
 *   returns; the caller keeps its memory. Strings returned point into the VM
 *   and stay valid until the next call on that VM that may run code or
 *   allocate. Values live on the VM's value stack or in handles; C never
 *   frees a Gale value.
 * Units. Memory sizes are bytes; percentages are whole percents (100 = the
 *   heap may grow by 100% over the live heap before a collection).
 * Threads. A GaleVM has no hidden global state: several VMs may live in one
 *   process, each with its own heap, collector and statistics, and each may
 *   be used from any thread as long as only one thread uses it at a time.
 *   Only gale_interrupt may be called from another thread (or a signal
 *   handler) while the VM runs.
 * Errors. Nothing in the library exits or aborts the process on bad input
 *   or lack of memory. Script errors and running out of memory come back as
 *   a GaleResult or false/0/NULL, with the text in gale_error_message; the
 *   VM stays usable afterwards. Inside a GaleCFunction, the gale_arg_*,
 *   gale_return_string and gale_raise calls instead raise a script error
 *   (catchable by try/catch), as their comments say.
 * Out of memory. max_heap (or the OS) can make any allocation fail; the
 *   result is then "out of memory" as described for each call, never a
 *   crash. Fault injection (GaleConfig.debug "failalloc=N") exercises this.
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

/* Everything a VM is configured with. Always start from gale_config_init
 * (later versions may add fields); gale_new copies the struct. The
 * callbacks run on the thread using the VM, with user_data as user. */
typedef struct GaleConfig {
	int64_t gc_percent;     /* GOGC-style percent; default 100; -1 = off */
	int64_t memory_limit;   /* soft limit in bytes (GOMEMLIMIT); default
	                           INT64_MAX (none) */
	int64_t max_heap;       /* hard cap in bytes on heap and stack memory in use;
	                           0 (default) = none. Past it an allocation raises
	                           the catchable "out of memory" (after a full
	                           collection failed to make room) */
	const char *debug;      /* GALEDEBUG-style comma-separated switches, read at
	                           gale_new: gctrace=1, scavtrace=1, gcpacertrace=1,
	                           gcstress=N (collect every N allocations),
	                           failalloc=N (the N-th allocation fails), dlog=1;
	                           default NULL. The library never reads the
	                           environment itself. */
	int max_call_depth;     /* call depth past which "stack overflow" is raised;
	                           default 200000 */
	GaleWriteFn write;      /* default: standard output */
	GaleWriteFn error;      /* default: standard error */
	const char *module_path; /* extra directories for import, ':'-separated, searched
	                           after the importing file's directory (the program passes
	                           GALEPATH); copied; default NULL */
	GaleLoadModuleFn load_module; /* module loader hook; default NULL (files only) */
	void (*free_source)(GaleVM *vm, const char *source, void *user); /* releases
	                           what load_module returned; default NULL */
	void *user_data;        /* passed to every callback; default NULL */
	uint64_t step_budget;   /* execution budget: how many steps one entry from the
	                           host (gale_eval*, gale_call) may run, where a step is
	                           one loop iteration (backward jump) or one call. Past
	                           it the error "execution budget exceeded" is raised;
	                           the budget stays spent until the host's next entry,
	                           so script try/catch cannot keep going. 0 (default) =
	                           unlimited. See gale_set_step_budget. */
	bool (*step_hook)(GaleVM *vm, void *user); /* called each time step_budget
	                           steps have run within one entry: return true to
	                           grant step_budget more, false to stop with
	                           "execution budget exceeded" (a host can check a
	                           clock or a cancel flag here). It runs in the middle
	                           of the script and must not call any gale_* function
	                           on this VM except gale_interrupt. Default NULL
	                           (stop at once). */
} GaleConfig;

/* Fills every field with its default. */
GALE_API void gale_config_init(GaleConfig *config);

/* A new VM with the core built-ins (print, len, ...; see gale_open_libs).
 * config is copied (module_path too) and may be NULL for the defaults.
 * NULL when memory for the VM cannot be had (a max_heap too small for the
 * VM itself, or the OS refusing memory). */
GALE_API GaleVM *gale_new(const GaleConfig *config);
/* Runs pending finalizers and returns all of the VM's memory to the OS,
 * handles and stack included. vm may be NULL. */
GALE_API void gale_free(GaleVM *vm);
/* GaleConfig.user_data. */
GALE_API void *gale_user_data(GaleVM *vm);

/* Compile and run len bytes of source as a module named name (used in
 * messages, e.g. the file name; NULL means "<string>"). Evaluating again
 * under the same name as the previous evaluation continues that module:
 * its top-level variables and functions stay visible, as in a REPL.
 * Errors are written through the error callback and kept for
 * gale_error_message. GALE_COMPILE_ERROR when the source does not compile
 * (or memory runs out while compiling), GALE_RUNTIME_ERROR for an uncaught
 * error (including "out of memory", "interrupted" and "execution budget
 * exceeded"). Starts a fresh execution budget. */
GALE_API GaleResult gale_eval(GaleVM *vm, const char *source, size_t len, const char *name);
/* Read and run a file, as gale_eval with the path as the name; a file that
 * cannot be read is a runtime error. */
GALE_API GaleResult gale_eval_file(GaleVM *vm, const char *path);
/* REPL step: run source in the persistent top-level scope of the REPL module.
 * Returns GALE_INCOMPLETE (and runs nothing) when the input ends inside an
 * open bracket, brace or string. The value of a lone expression statement is
 * written through the write callback (strings quoted), unless nil. */
GALE_API GaleResult gale_eval_repl(GaleVM *vm, const char *source);
/* Print the bytecode of source instead of running it. */
GALE_API GaleResult gale_disassemble(GaleVM *vm, const char *source, size_t len, const char *name);

/* The full text of the last error of an evaluation or gale_call: first
 * line "file:line: message", then one "  at function (file:line)" line per
 * frame; for other calls that failed, the reason (e.g. "out of memory").
 * "" after a success. Never NULL; valid until the next evaluation. */
GALE_API const char *gale_error_message(GaleVM *vm);

/* os.args for scripts (copied). false when memory runs out: os.args then
 * keeps its previous value. */
GALE_API bool gale_set_args(GaleVM *vm, int argc, const char *const *argv);

/* Ask the running evaluation to stop with the error "interrupted" at its next
 * safe point. Async-signal-safe; the VM stays usable. */
GALE_API void gale_interrupt(GaleVM *vm);

/* Change the execution budget (GaleConfig.step_budget) for the following
 * entries from the host; 0 = unlimited. Returns the previous budget. */
GALE_API uint64_t gale_set_step_budget(GaleVM *vm, uint64_t steps);

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

/* Fill *out (bytes and counts, as Go's runtime.ReadMemStats; LastGC and
 * PauseTotalNs in nanoseconds). Allocates nothing; never fails. */
GALE_API void gale_memstats(GaleVM *vm, GaleMemStats *out);
/* A full collection now (runtime.GC); finalizers of dead objects run. */
GALE_API void gale_gc(GaleVM *vm);
/* A full collection, then every free page back to the OS
 * (debug.FreeOSMemory). */
GALE_API void gale_free_os_memory(GaleVM *vm);
/* Both return the previous value and take effect at once (the pacer is
 * recomputed). A negative percent turns the percent goal off (stored as
 * -1); a negative limit only reads. The memory limit is soft (bytes of all
 * memory the runtime maps): collections grow more frequent near it; only
 * max_heap is a hard cap. */
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

/* Define a global function, visible to every script compiled afterwards.
 * arity is the exact argument count the VM checks before calling, or -1
 * for any count. doc is a one-line "usage: meaning" shown by :help (may be
 * NULL). name and doc are copied. Registering a name again replaces it.
 * Returns false when memory runs out. */
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

/* Only inside a GaleCFunction. The last call wins. gale_return_string
 * raises "out of memory" (a script error) when the copy cannot be made. */
GALE_API void gale_return_nil(GaleVM *vm);
GALE_API void gale_return_bool(GaleVM *vm, bool b);
GALE_API void gale_return_int(GaleVM *vm, int64_t n);
GALE_API void gale_return_float(GaleVM *vm, double d);
/* The bytes are copied. */
GALE_API void gale_return_string(GaleVM *vm, const char *s, size_t len);

/* Only inside a GaleCFunction. Raise a catchable error with a printf-style
 * message (at most 1023 bytes are kept). Does not return: it unwinds to the
 * script's try/catch (like lua_error), so release C resources before
 * calling it. Without memory for the message it raises "out of memory". */
GALE_API
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
void gale_raise(GaleVM *vm, const char *fmt, ...);

/* A table entry for gale_register_table; the table ends with name NULL. */
typedef struct GaleReg {
	const char *name;
	GaleCFunction fn;
	int arity;       /* exact argument count, or -1 for any */
	const char *doc; /* one-line "usage: meaning", or NULL */
} GaleReg;

/* gale_register for each entry in turn. Returns false when memory runs out
 * (the entries before the failing one stay registered). */
GALE_API bool gale_register_table(GaleVM *vm, const GaleReg *regs);

/* Make the native's result a copy of the value at index idx (see below);
 * nil when idx is not valid. */
GALE_API void gale_return_value(GaleVM *vm, int idx);

/* ---- the value stack ----
 *
 * Like Lua's, values pass between C and the VM through a stack of slots.
 * Indices >= 0 count from the bottom of the current frame, negative ones
 * from the top (-1 is the top). Inside a GaleCFunction the frame starts at
 * the first argument, so index i is argument i (as for gale_arg_*) and
 * values pushed there are dropped when the function returns. From the host
 * (outside any evaluation) the frame is the whole stack; values left on it
 * stay there, and stay alive, until popped.
 *
 * Every value on the stack is a root: it survives collections. Pointers
 * returned by gale_to_string stay valid while the value stays on the stack
 * (or in a handle).
 *
 * Out of memory: calls that may allocate return false (or GALE_RUNTIME_ERROR)
 * and leave the stack as it was; gale_error_message then says "out of
 * memory". An invalid index or a value of the wrong type also gives false;
 * none of these calls raise or abort. */

/* Number of values in the current frame. */
GALE_API int gale_get_top(GaleVM *vm);
/* Remove n values from the top (all of the frame when n is larger). */
GALE_API void gale_pop(GaleVM *vm, int n);

/* GALE_TNIL for an invalid index. */
GALE_API GaleType gale_type(GaleVM *vm, int idx);
/* The name type() gives ("int", "list", "MyClass", ...); "none" when idx is
 * not valid. Static or VM-owned: valid while the value is. */
GALE_API const char *gale_type_name(GaleVM *vm, int idx);

/* Truthiness (false for nil, false and an invalid index). */
GALE_API bool gale_to_bool(GaleVM *vm, int idx);
/* false (and *out untouched) unless the value is an int. */
GALE_API bool gale_to_int(GaleVM *vm, int idx, int64_t *out);
/* Accepts ints and floats. */
GALE_API bool gale_to_float(GaleVM *vm, int idx, double *out);
/* The bytes (NUL-terminated) of a string value, or NULL for other values;
 * len may be NULL. No conversion. */
GALE_API const char *gale_to_string(GaleVM *vm, int idx, size_t *len);

GALE_API bool gale_push_nil(GaleVM *vm);
GALE_API bool gale_push_bool(GaleVM *vm, bool b);
GALE_API bool gale_push_int(GaleVM *vm, int64_t n);
GALE_API bool gale_push_float(GaleVM *vm, double d);
/* The bytes are copied; s may hold NULs. */
GALE_API bool gale_push_string(GaleVM *vm, const char *s, size_t len);
/* Push a copy of the value at idx. */
GALE_API bool gale_push_value(GaleVM *vm, int idx);

/* Push a new empty list / map. */
GALE_API bool gale_new_list(GaleVM *vm);
GALE_API bool gale_new_map(GaleVM *vm);
/* Length of the list or map at idx, -1 for other values. */
GALE_API int64_t gale_len(GaleVM *vm, int idx);
/* Pop the top value and append it to the list at idx. */
GALE_API bool gale_list_push(GaleVM *vm, int idx);
/* Push item i (0-based; negative counts from the end) of the list at idx;
 * false (nothing pushed) when out of range. */
GALE_API bool gale_list_get(GaleVM *vm, int idx, int64_t i);
/* Pop a value and, below it, a key, and set map[key] = value. false for a
 * key a map cannot hold (nil, NaN); both are popped in every case. */
GALE_API bool gale_map_set(GaleVM *vm, int idx);
/* Pop a key and push map[key]; false (nothing pushed) when absent. */
GALE_API bool gale_map_get(GaleVM *vm, int idx);
/* Iterate the map at idx in insertion order: start with *pos = 0; each call
 * pushes a key and its value and returns true, or returns false at the end
 * (pushing nothing). The map must not change during the walk. */
GALE_API bool gale_map_next(GaleVM *vm, int idx, uint32_t *pos);

/* Push the global name: the variable of the module last run by gale_eval or
 * gale_eval_file, else of the REPL, else a built-in (gale_register,
 * gale_set_global, the standard library). false (nothing pushed) if none. */
GALE_API bool gale_get_global(GaleVM *vm, const char *name);
/* Pop the top value into the built-in global name, visible to every script
 * compiled afterwards (like a registered function). */
GALE_API bool gale_set_global(GaleVM *vm, const char *name);

/* Call the value at -(argc+1) with the argc values above it as arguments.
 * They are popped and replaced by one value: the result (GALE_OK), or the
 * thrown value (GALE_RUNTIME_ERROR; its report, with trace, is then
 * gale_error_message, and is not written to the error callback). Script
 * errors never escape: a GaleCFunction that wants to pass one on calls
 * gale_raise. From the host, starts a fresh execution budget. */
GALE_API GaleResult gale_call(GaleVM *vm, int argc);

/* ---- handles ----
 *
 * A handle keeps one value alive across collections, outside the stack,
 * until released: the VM owns the storage and roots it. 0 is never a valid
 * handle. gale_free releases all of them. */
typedef uint32_t GaleHandle;

/* Keep the value at idx; 0 when idx is invalid or memory runs out. */
GALE_API GaleHandle gale_keep(GaleVM *vm, int idx);
/* Push the kept value; false for a released or invalid handle. */
GALE_API bool gale_push_handle(GaleVM *vm, GaleHandle h);
/* Let the value go; releasing 0 or an unknown handle does nothing. */
GALE_API void gale_release(GaleVM *vm, GaleHandle h);

#ifdef __cplusplus
}
#endif
#endif
