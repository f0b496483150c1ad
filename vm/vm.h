/*
 * vm.h — the interpreter state (the definition of the opaque GaleVM) and the
 * VM's internal entry points.
 *
 * Rooting discipline (see docs/internals.md): a collection can happen at any
 * allocation. Everything reachable from these is safe: the value stack
 * [stack, sp), the frames, the temp-root stack (vm_push_root/vm_pop_root),
 * vm->thrown, the builtins module, the module cache, open upvalues, the
 * compilers under construction, and C handles. A C local holding an object
 * across an allocation must be on one of those.
 */
#ifndef GALE_VM_H
#define GALE_VM_H

#include <setjmp.h>

#include "gale.h"
#include "gc/gc.h"
#include "vm/object.h"

typedef struct CallFrame {
	ObjClosure *closure; /* NULL for a native frame */
	ObjNative *native;
	uint8_t *ip;
	uint32_t base; /* stack index of slot 0: the callee or receiver */
} CallFrame;

typedef struct TryHandler {
	uint32_t frame_count; /* frames alive when the try began */
	uint32_t stack_top;   /* stack height to restore */
	uint8_t *catch_ip;
} TryHandler;

/* A protected region: vm_throw longjmps to the innermost one. */
typedef struct ErrorJmp {
	jmp_buf buf;
	struct ErrorJmp *prev;
} ErrorJmp;

#define VM_MAX_NATIVE_DEPTH 200
/* Every level of native re-entry (toString inside str inside print, a sort
 * comparator calling sort) holds a few temporaries: room for all of them, so
 * deep re-entry ends in "stack overflow" rather than running out of roots. */
#define VM_MAX_TEMPS (VM_MAX_NATIVE_DEPTH * 8)
#define VM_MAX_HANDLERS 1024
#define VM_MAX_PRINTING 256

struct Compiler;

struct GaleVM {
	runtime *rt;
	GaleConfig config;

	Value *stack; /* stackalloc'd; grows by copying (open upvalues fixed up) */
	Value *sp;
	uint32_t stack_cap;
	Value *stack_end; /* stack + stack_cap */
	CallFrame *frames;
	uint32_t frame_count, frame_cap;
	uint32_t frame_limit; /* the lesser of frame_cap and config.max_call_depth */
	TryHandler handlers[VM_MAX_HANDLERS];
	uint32_t handler_count;
	ObjUpvalue *open_upvalues;

	Value temps[VM_MAX_TEMPS];
	int temp_count;

	/* containers being printed (their OBJF_PRINTING flag is set), so an
	 * error in a toString() can clear the flags it leaves behind */
	Obj *printing[VM_MAX_PRINTING];
	int print_count;

	ErrorJmp *jmp;
	Value thrown;      /* the value being thrown */
	int throw_line;    /* where a non-error value was thrown */
	ObjString *throw_file;
	bool in_throw;     /* building a trace: no nested trace building */
	int native_depth;  /* C recursion through vm_call */
	uint64_t rng[4];   /* math.random's xoshiro256** state, per VM */
	bool rng_seeded;
	volatile int interrupted;
	int64_t steps_left; /* execution budget: loop back-edges and calls left */

	/* weak intern table: slots with the string (NULL empty, TOMBSTONE
	 * deleted) and its hash, so probes compare hashes without a load */
	struct StrSlot *strings;
	uint32_t string_count, string_used, string_cap;

	ObjModule *builtins; /* core functions and stdlib modules */
	ObjMap *modules;     /* import cache: path or name -> module */
	ObjModule *repl;     /* the REPL's persistent module */
	ObjMap *type_methods[OBJ_KIND_COUNT]; /* methods of string, list, map */
	ObjString *s_init, *s_toString, *s_iter, *s_next, *s_message, *s_trace;
	Value oom_error; /* preallocated "out of memory" */

	struct Compiler *compiler; /* innermost compiler, for rooting */

	Value *handles; /* C handles (gale_keep) */
	uint32_t handle_count, handle_cap;

	ObjString *module_path_str; /* copied config.module_path */
	const char *module_path;
	ObjString *last_error; /* the last error report, for gale_error_message */
	ObjModule *host_module; /* module of the last gale_eval, for gale_get_global */
	ObjList *args;
	Value *api_ret; /* result slot of the public C function being run */
};

/* ---- errors ---- */
_Noreturn void vm_throw(GaleVM *vm, Value v);
_Noreturn void vm_error(GaleVM *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void vm_oom(GaleVM *vm);
/* At a safe point with interrupted set or the budget spent: raises
 * "interrupted" or "execution budget exceeded", or returns when the host's
 * step hook grants more steps (api.c). */
void vm_stop(GaleVM *vm);

/* ---- rooting ---- */
static inline void vm_push_root(GaleVM *vm, Value v)
{
	if (vm->temp_count >= VM_MAX_TEMPS)
		vm_error(vm, "stack overflow");
	vm->temps[vm->temp_count++] = v;
}
static inline void vm_pop_root(GaleVM *vm) { vm->temp_count--; }

/* ---- calling ---- */
/* Call callee with argc arguments from argv; the result in *out, which is
 * not rooted: push it before the next allocation. Errors propagate
 * (longjmp) to the caller's protected region. */
void vm_call(GaleVM *vm, Value callee, int argc, const Value *argv, Value *out);
/* Same, but catches: returns false with the error in vm->thrown. */
bool vm_pcall(GaleVM *vm, Value callee, int argc, const Value *argv, Value *out);
/* Ensure room for n more values above sp. */
void vm_reserve(GaleVM *vm, size_t n);
void vm_set_frame_limit(GaleVM *vm);

/* ---- formatting (format.c) ---- */
typedef struct StrBuf {
	GaleVM *vm;
	ObjBuf *buf; /* rooted through the temp stack while building */
	size_t len, cap;
	int root;
} StrBuf;
void sb_init(GaleVM *vm, StrBuf *sb);
void sb_add(StrBuf *sb, const char *s, size_t n);
void sb_addc(StrBuf *sb, char c);
void sb_addf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ObjString *sb_finish(StrBuf *sb); /* a plain (not interned) string; pops the root */
void sb_drop(StrBuf *sb);
/* Append v as str() shows it (quoted when inside a container). */
void sb_value(StrBuf *sb, Value v, bool quoted);
ObjString *value_to_string(GaleVM *vm, Value v);
void format_float(char *buf, size_t n, double d);
const char *value_type_name(Value v);

/* Clear the printing flags set since print_count was base (error unwinding). */
static inline void vm_unwind_printing(GaleVM *vm, int base)
{
	while (vm->print_count > base)
		vm->printing[--vm->print_count]->flags &= (uint8_t)~OBJF_PRINTING;
}

/* ---- output ---- */
void vm_write(GaleVM *vm, const char *s, size_t n);
void vm_write_error(GaleVM *vm, const char *s, size_t n);

/* core built-ins (core.c) */
void core_open(GaleVM *vm);
Value vm_get_method(GaleVM *vm, Value recv, ObjString *name, bool *found);

/* disassembler (debug.c) */
void debug_disassemble(GaleVM *vm, ObjFunction *fn, StrBuf *out);

#endif
