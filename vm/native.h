/*
 * native.h — how built-in modules (stdlib/) write native functions.
 *
 *   static void math_sqrt(GaleVM *vm, int argc, Value *args, Value *ret)
 *   {
 *       double x = native_number(vm, args, 0, "math.sqrt");
 *       *ret = FLOAT_VAL(sqrt(x));
 *   }
 *   static const vm_reg math_funcs[] = {
 *       {"sqrt", math_sqrt, 1, "sqrt(x): square root"},
 *       {NULL, NULL, 0, NULL},
 *   };
 *   ObjModule *m = vm_define_module(vm, "math", math_funcs);
 *   vm_module_set_value(vm, m, "pi", FLOAT_VAL(M_PI));
 *
 * Calling convention: args[0..argc) are the arguments (arity already checked
 * unless the table says -1); for a method of a foreign class args[-1] is the
 * receiver (NATIVE_SELF). Store the result in *ret (it starts as nil).
 * Errors: vm_error(vm, fmt, ...) formats a message and does not return (it
 * unwinds to the nearest try/catch, like Lua's lua_error); the native's C
 * locals are abandoned, so release C resources before raising.
 *
 * Rooting: args are rooted (they sit on the value stack); *ret is not
 * scanned, so set it as the last step. A new object held only in a C local
 * must be pushed with vm_push_root before the next allocation and popped
 * after (LIFO; an error unwinds the temp-root stack by itself). args may
 * move when the native calls back into Gale (vm_call), since the value stack
 * can grow: copy the Values needed into locals first (they stay rooted
 * through the stack). The result of vm_call is not rooted.
 */
#ifndef GALE_NATIVE_H
#define GALE_NATIVE_H

#include "vm/object.h"
#include "vm/vm.h"

#define NATIVE_SELF (args[-1])

/* One entry of a static registration table; the table ends with name NULL.
 * arity -1 is variadic. doc is a one-line "usage: meaning" text for :help. */
typedef struct vm_reg {
	const char *name;
	NativeFn fn;
	int arity;
	const char *doc;
} vm_reg;

/* Type checks: on a mismatch they raise "<fname>: expected a number, got string". */
double native_number(GaleVM *vm, const Value *args, int i, const char *fname);
int64_t native_int(GaleVM *vm, const Value *args, int i, const char *fname);
ObjString *native_string(GaleVM *vm, const Value *args, int i, const char *fname);
ObjList *native_list(GaleVM *vm, const Value *args, int i, const char *fname);
ObjMap *native_map(GaleVM *vm, const Value *args, int i, const char *fname);
/* Any callable (function, closure, native, class, bound method). */
Value native_callable(GaleVM *vm, const Value *args, int i, const char *fname);
/* The foreign payload when args[i] is of class cls, else an error. */
void *native_foreign(GaleVM *vm, const Value *args, int i, const struct vm_foreign_class *cls,
                     const char *fname);
_Noreturn void native_type_error(GaleVM *vm, const char *fname, const char *expected, Value got);

/* Making values (each may collect; root earlier temporaries). */
static inline Value native_str(GaleVM *vm, const char *s, size_t n) { return OBJ_VAL(str_new(vm, s, n)); }
static inline Value native_cstr(GaleVM *vm, const char *s) { return OBJ_VAL(str_cstr(vm, s)); }
/* map[key] = v with a C string key (the key is interned). */
void native_map_set_cstr(GaleVM *vm, ObjMap *m, const char *key, Value v);
/* The memory statistics map of memstats() and runtime.memstats(). */
void vm_memstats_map(GaleVM *vm, Value *ret);

/* A module as a predefined global and importable name, made from a table.
 * The same table feeds gale_each_builtin (:help) and REPL completion. */
ObjModule *vm_define_module(GaleVM *vm, const char *name, const vm_reg *funcs);
void vm_module_set_value(GaleVM *vm, ObjModule *m, const char *name, Value v);
/* A global function of the core (like print). */
void vm_define_global(GaleVM *vm, const char *name, NativeFn fn, int arity, const char *doc);

/* Callbacks into Gale: see vm_call / vm_pcall in vm.h. The C stack depth of
 * native -> Gale re-entry is bounded ("stack overflow" past 200). */

/* Foreign objects: a class of C payloads, with a finalizer run once when the
 * object is collected (or at gale_free), optional trace for Values the payload
 * holds, methods, and an optional call behaviour. */
typedef struct vm_foreign_class {
	const char *name;  /* shown as <name> when printed */
	size_t size;       /* payload bytes */
	void (*finalize)(GaleVM *vm, void *payload);     /* NULL: none */
	void (*trace)(GaleVM *vm, void *payload);        /* call vm_mark_value on held Values */
	const vm_reg *methods;                           /* NULL-terminated, or NULL */
	NativeFn call;                                   /* the object called: args[-1] is it */
} vm_foreign_class;

/* A zeroed foreign object; its payload via FOREIGN_DATA. */
ObjForeign *vm_foreign_new(GaleVM *vm, const vm_foreign_class *cls);
#define FOREIGN_DATA(o) ((void *)(o)->data)

/* os.args list (set by gale_set_args), or an empty list. */
Value vm_script_args(GaleVM *vm);

#endif
