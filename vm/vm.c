/*
 * vm.c — the bytecode interpreter.
 *
 * Frames and the value stack live in stack memory from stackalloc and grow by
 * copying; frames address their slots by index (base) and open upvalues are
 * re-pointed when the stack moves. Gale-to-Gale calls push a frame and stay in
 * the same C loop; only natives that call back into Gale (vm_call) nest a new
 * loop, and that nesting is bounded.
 *
 * Errors unwind with longjmp to the innermost protected run loop (like Lua's
 * luaD_throw): the loop finds the newest try handler that belongs to it, or
 * gives the error to its caller. The instruction pointer of the running frame
 * is saved at every dispatch so a longjmp never loses the place.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/compiler.h"
#include "vm/native.h"
#include "vm/opcodes.h"
#include "vm/vm.h"
#include "vm/diag.h"

#define TRACE_MAX_FRAMES 64

/* ---------------------------------------------------------------- errors */

static int frame_line(const CallFrame *f)
{
	if (f->closure == NULL)
		return 0;
	ObjFunction *fn = f->closure->fn;
	uint8_t *code = FN_CODE(fn);
	uint32_t off = f->ip > code ? (uint32_t)(f->ip - code - 1) : 0;
	if (off >= fn->code_len)
		off = fn->code_len ? fn->code_len - 1 : 0;
	return fn->code_len ? FN_LINES(fn)[off] : 0;
}

static const char *frame_file(const CallFrame *f)
{
	if (f->closure == NULL)
		return "native";
	ObjModule *m = f->closure->fn->module;
	return m && m->path ? m->path->chars : "?";
}

/* Build the trace list, innermost frame first. Allocation failure leaves
 * the trace short rather than failing the throw. */
static ObjList *build_trace(GaleVM *vm)
{
	ObjList *trace = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(trace));
	uint32_t n = vm->frame_count;
	for (uint32_t k = 0; k < n; k++) {
		const CallFrame *f = &vm->frames[n - 1 - k];
		if (k == TRACE_MAX_FRAMES && n > TRACE_MAX_FRAMES + 8) {
			ObjString *s = str_format(vm, "... %u more frames", n - TRACE_MAX_FRAMES - 4);
			list_push(vm, trace, OBJ_VAL(s));
			k = n - 5;
			continue;
		}
		char name[256];
		name[0] = '\0';
		if (f->closure == NULL)
			snprintf(name, sizeof name, "%s", f->native->name->chars);
		else if (f->closure->fn->name != NULL)
			snprintf(name, sizeof name, "%s", f->closure->fn->name->chars);
		else if (FN_CODE(f->closure->fn)[f->closure->fn->code_len - 2] == OP_MODULE)
			snprintf(name, sizeof name, "<script>");
		else
			snprintf(name, sizeof name, "<fn>");
		ObjString *s = f->closure == NULL ? str_format(vm, "%s (native)", name)
		                                  : str_format(vm, "%s (%s:%d)", name, frame_file(f), frame_line(f));
		list_push(vm, trace, OBJ_VAL(s));
	}
	vm_pop_root(vm);
	return trace;
}

/* Where the error is caught: the innermost protected region. */
static _Noreturn void unwind(GaleVM *vm)
{
	longjmp(vm->jmp->buf, 1);
}

_Noreturn void vm_throw(GaleVM *vm, Value v)
{
	vm->thrown = v;
	if (IS_ERROR(v) && AS_ERROR(v)->trace == NULL && !vm->in_throw && vm->frame_count > 0) {
		/* the first throw of an error value records where it happened */
		vm->in_throw = true;
		ErrorJmp j;
		j.prev = vm->jmp;
		vm->jmp = &j;
		int temps = vm->temp_count;
		if (setjmp(j.buf) == 0) {
			vm_push_root(vm, v);
			ObjList *trace = build_trace(vm);
			ObjError *e = AS_ERROR(v);
			e->trace = trace;
			const CallFrame *top = &vm->frames[vm->frame_count - 1];
			for (uint32_t k = vm->frame_count; k > 0; k--)
				if (vm->frames[k - 1].closure != NULL) {
					top = &vm->frames[k - 1];
					break;
				}
			e->line = frame_line(top);
			if (top->closure != NULL)
				e->file = top->closure->fn->module->path;
		}
		vm->temp_count = temps;
		vm->jmp = j.prev;
		vm->in_throw = false;
		vm->thrown = v;
	} else if (!IS_ERROR(v) && vm->frame_count > 0 && !vm->in_throw) {
		/* any other thrown value: remember the place for the report */
		const CallFrame *top = &vm->frames[vm->frame_count - 1];
		vm->throw_line = frame_line(top);
		vm->throw_file = top->closure ? top->closure->fn->module->path : NULL;
	}
	unwind(vm);
}

_Noreturn void vm_error(GaleVM *vm, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* The error may be that the temp-root stack is full ("too many
	 * temporary roots"), and making the error pushes roots too: spill the
	 * top temps onto the value stack (still scanned there) to make room,
	 * and put them back before throwing. */
	enum { SPILL = 8 };
	int spilled = 0;
	if (vm->temp_count > VM_MAX_TEMPS - SPILL) {
		if (vm->stack == NULL || vm->sp + SPILL > vm->stack + vm->stack_cap)
			vm_oom(vm); /* nowhere to root anything: the preallocated error */
		spilled = vm->temp_count - (VM_MAX_TEMPS - SPILL);
		vm->temp_count -= spilled;
		for (int i = 0; i < spilled; i++)
			*vm->sp++ = vm->temps[vm->temp_count + i];
	}
	ObjString *msg = str_cstr(vm, buf);
	vm_push_root(vm, OBJ_VAL(msg));
	ObjError *e = error_new(vm, msg);
	vm_pop_root(vm);
	/* objects never move, so the spilled values go back unchanged */
	vm->sp -= spilled;
	for (int i = 0; i < spilled; i++)
		vm->temps[vm->temp_count++] = vm->sp[i];
	vm_throw(vm, OBJ_VAL(e));
}

_Noreturn void vm_oom(GaleVM *vm)
{
	/* nothing may be allocated now: the error is preallocated, except
	 * while gale_new builds it, which then fails as a whole */
	if (!IS_ERROR(vm->oom_error)) {
		vm->thrown = NIL_VAL;
		if (vm->jmp != NULL)
			unwind(vm);
		abort();
	}
	ObjError *e = AS_ERROR(vm->oom_error);
	e->trace = NULL;
	e->line = 0;
	/* The place is the innermost Gale frame: a native (list.push, repeat)
	 * has no line of its own. */
	for (int i = vm->frame_count - 1; i >= 0; i--) {
		const CallFrame *f = &vm->frames[i];
		if (f->closure != NULL) {
			e->line = frame_line(f);
			e->file = f->closure->fn->module->path;
			break;
		}
	}
	vm->thrown = vm->oom_error;
	if (vm->jmp == NULL) {
		fprintf(stderr, "fatal error: out of memory outside of any protected call\n");
		abort();
	}
	unwind(vm);
}

/* ---------------------------------------------------------------- stack */

void vm_reserve(GaleVM *vm, size_t n)
{
	size_t used = (size_t)(vm->sp - vm->stack);
	if (used + n <= vm->stack_cap)
		return;
	size_t cap = vm->stack_cap;
	while (cap < used + n)
		cap *= 2;
	if (cap > ((size_t)1 << 28))
		vm_error(vm, "stack overflow");
	Value *old = vm->stack;
	Value *s = stackalloc(vm->rt, cap * sizeof(Value));
	if (s == NULL)
		vm_oom(vm);
	memcpy(s, old, used * sizeof(Value));
	for (ObjUpvalue *u = vm->open_upvalues; u != NULL; u = u->next)
		u->location = s + (u->location - old);
	vm->stack = s;
	vm->sp = s + used;
	stackfree(vm->rt, old, vm->stack_cap * sizeof(Value));
	vm->stack_cap = (uint32_t)cap;
	vm->stack_end = s + cap;
}

void vm_set_frame_limit(GaleVM *vm)
{
	uint32_t depth = (uint32_t)vm->config.max_call_depth;
	vm->frame_limit = vm->frame_cap < depth ? vm->frame_cap : depth;
}

static CallFrame *push_frame(GaleVM *vm)
{
	if (vm->frame_count >= (uint32_t)vm->config.max_call_depth)
		vm_error(vm, "stack overflow");
	if (vm->frame_count == vm->frame_cap) {
		uint32_t cap = vm->frame_cap * 2;
		CallFrame *f = stackalloc(vm->rt, cap * sizeof(CallFrame));
		if (f == NULL)
			vm_oom(vm);
		memcpy(f, vm->frames, vm->frame_count * sizeof(CallFrame));
		stackfree(vm->rt, vm->frames, vm->frame_cap * sizeof(CallFrame));
		vm->frames = f;
		vm->frame_cap = cap;
		vm_set_frame_limit(vm);
	}
	return &vm->frames[vm->frame_count++];
}

static ObjUpvalue *capture_upvalue(GaleVM *vm, Value *slot)
{
	ObjUpvalue *prev = NULL, *u = vm->open_upvalues;
	while (u != NULL && u->location > slot) {
		prev = u;
		u = u->next;
	}
	if (u != NULL && u->location == slot)
		return u;
	ptrdiff_t at = slot - vm->stack;
	ObjUpvalue *nu = upvalue_new(vm, slot);
	nu->location = vm->stack + at; /* the allocation never moves the stack, but be exact */
	/* the list may have changed only if the stack moved; recompute the place */
	prev = NULL;
	u = vm->open_upvalues;
	while (u != NULL && u->location > nu->location) {
		prev = u;
		u = u->next;
	}
	nu->next = u;
	if (prev == NULL)
		vm->open_upvalues = nu;
	else
		prev->next = nu;
	return nu;
}

static void close_upvalues(GaleVM *vm, Value *last)
{
	while (vm->open_upvalues != NULL && vm->open_upvalues->location >= last) {
		ObjUpvalue *u = vm->open_upvalues;
		u->closed = *u->location;
		u->location = &u->closed;
		vm->open_upvalues = u->next;
	}
}

/* ---------------------------------------------------------------- calls */

static const char *callable_name(Value v, char *buf, size_t n)
{
	if (IS_CLOSURE(v)) {
		ObjString *s = AS_CLOSURE(v)->fn->name;
		snprintf(buf, n, "%s", s ? s->chars : "<fn>");
	} else if (IS_NATIVE(v)) {
		snprintf(buf, n, "%s", AS_NATIVE(v)->name->chars);
	} else if (IS_CLASS(v)) {
		snprintf(buf, n, "%s", AS_CLASS(v)->name->chars);
	} else {
		snprintf(buf, n, "%s", value_type_name(v));
	}
	return buf;
}

static _Noreturn void arity_error(GaleVM *vm, Value callee, int want, int got, bool at_least)
{
	char name[128];
	callable_name(callee, name, sizeof name);
	vm_error(vm, "%s() takes %s%d argument%s but %d %s given", name, at_least ? "at least " : "", want,
	         want == 1 ? "" : "s", got, got == 1 ? "was" : "were");
}

static void call_native(GaleVM *vm, ObjNative *n, int argc)
{
	if (n->arity >= 0 && argc != n->arity)
		arity_error(vm, OBJ_VAL(n), n->arity, argc, false);
	uint32_t base = (uint32_t)(vm->sp - vm->stack) - (uint32_t)argc - 1;
	/* room in the frame array: push in place, else the general path */
	CallFrame *f = vm->frame_count < vm->frame_limit ? &vm->frames[vm->frame_count++] : push_frame(vm);
	f->closure = NULL;
	f->native = n;
	f->ip = NULL;
	f->base = base;
	Value ret = NIL_VAL;
	n->fn(vm, argc, vm->stack + base + 1, &ret);
	vm->frame_count--;
	vm->stack[base] = ret;
	vm->sp = vm->stack + base + 1;
}

/* Set up a call of the closure at sp[-argc-1]; the run loop continues in it. */
static void call_closure(GaleVM *vm, ObjClosure *c, int argc)
{
	ObjFunction *fn = c->fn;
	if (argc != fn->arity) {
		if (!fn->variadic || argc < fn->arity)
			arity_error(vm, OBJ_VAL(c), fn->arity, argc, fn->variadic);
	}
	if (fn->variadic) {
		int extra = argc - fn->arity;
		ObjList *rest = list_new(vm, (uint32_t)(extra > 0 ? extra : 0));
		Value *first = vm->sp - extra;
		for (int i = 0; i < extra; i++)
			list_set(vm, rest, (uint32_t)i, first[i]);
		rest->count = (uint32_t)extra;
		vm->sp = first;
		*vm->sp++ = OBJ_VAL(rest);
		argc = fn->arity + 1;
	}
	vm_reserve(vm, (size_t)fn->max_slots);
	uint32_t base = (uint32_t)(vm->sp - vm->stack) - (uint32_t)argc - 1;
	CallFrame *f = push_frame(vm);
	f->closure = c;
	f->native = NULL;
	f->ip = FN_CODE(fn);
	f->base = base;
}

/* Call the value at sp[-argc-1]. Returns true when a Gale frame was pushed
 * (the caller's loop must run it); false when the call already completed and
 * its result replaced the callee slot. */
static bool call_value(GaleVM *vm, int argc)
{
	Value callee = vm->sp[-argc - 1];
	if (IS_OBJ(callee)) {
		switch (OBJ_KIND(callee)) {
		case OBJ_CLOSURE:
			call_closure(vm, AS_CLOSURE(callee), argc);
			return true;
		case OBJ_NATIVE:
			call_native(vm, AS_NATIVE(callee), argc);
			return false;
		case OBJ_CLASS: {
			ObjClass *k = AS_CLASS(callee);
			ObjInstance *inst = instance_new(vm, k);
			vm->sp[-argc - 1] = OBJ_VAL(inst);
			if (IS_CLOSURE(k->init)) {
				/* Name the class, which is what the user called. */
				ObjFunction *init = AS_CLOSURE(k->init)->fn;
				if (argc < init->arity || (argc > init->arity && !init->variadic))
					arity_error(vm, callee, init->arity, argc, init->variadic);
				call_closure(vm, AS_CLOSURE(k->init), argc);
				return true;
			}
			if (argc != 0)
				vm_error(vm, "%s() takes 0 arguments but %d %s given (the class has no init)", k->name->chars,
				         argc, argc == 1 ? "was" : "were");
			return false;
		}
		case OBJ_BOUND: {
			ObjBound *b = AS_BOUND(callee);
			vm->sp[-argc - 1] = b->receiver;
			if (IS_CLOSURE(b->method)) {
				call_closure(vm, AS_CLOSURE(b->method), argc);
				return true;
			}
			call_native(vm, AS_NATIVE(b->method), argc);
			return false;
		}
		case OBJ_FOREIGN: {
			ObjForeign *fo = AS_FOREIGN(callee);
			if (fo->cls->call == NULL)
				break;
			uint32_t base = (uint32_t)(vm->sp - vm->stack) - (uint32_t)argc - 1;
			Value ret = NIL_VAL;
			fo->cls->call(vm, argc, vm->stack + base + 1, &ret);
			vm->stack[base] = ret;
			vm->sp = vm->stack + base + 1;
			return false;
		}
		default:
			break;
		}
	}
	const char *type = value_type_name(callee);
	vm_error(vm, "cannot call %s %s value", strchr("aeiou", type[0]) ? "an" : "a", type);
}

static Value find_method(ObjClass *k, ObjString *name)
{
	Value m;
	if (map_get(k->methods, OBJ_VAL(name), &m))
		return m;
	return UNDEF_VAL;
}

static const vm_reg *foreign_method(const vm_foreign_class *cls, ObjString *name)
{
	if (cls == NULL || cls->methods == NULL)
		return NULL;
	for (const vm_reg *r = cls->methods; r->name != NULL; r++)
		if (strcmp(r->name, name->chars) == 0)
			return r;
	return NULL;
}

/* A method of a built-in type or a foreign class, as a native (allocates a
 * native object for foreign methods). */
static Value builtin_method(GaleVM *vm, Value recv, ObjString *name)
{
	if (!IS_OBJ(recv))
		return UNDEF_VAL;
	uint8_t kind = OBJ_KIND(recv);
	if (kind == OBJ_FOREIGN) {
		const vm_reg *r = foreign_method(AS_FOREIGN(recv)->cls, name);
		if (r == NULL)
			return UNDEF_VAL;
		return OBJ_VAL(native_new(vm, r->name, r->fn, r->arity, r->doc));
	}
	ObjMap *methods = vm->type_methods[kind];
	Value m;
	if (methods != NULL && map_get(methods, OBJ_VAL(name), &m))
		return m;
	return UNDEF_VAL;
}

static _Noreturn void no_property(GaleVM *vm, Value recv, ObjString *name)
{
	diag_hint_for(vm, NULL, recv, name);
	if (IS_INSTANCE(recv) || IS_MODULE(recv) || IS_ERROR(recv))
		vm_error(vm, "undefined property '%s'", name->chars);
	vm_error(vm, "%s has no property '%s'", value_type_name(recv), name->chars);
}

static inline __attribute__((always_inline)) Value module_member(GaleVM *vm, ObjModule *m, ObjString *name)
{
	Value *slot = map_find_str(m->names, name);
	if (slot != NULL) {
		Value v = MODULE_VALUES(m)[AS_INT(*slot)];
		if (!IS_UNDEF(v))
			return v;
	}
	(void)vm;
	return UNDEF_VAL;
}

/* recv.name(args) with recv at sp[-argc-1]. */
static bool invoke(GaleVM *vm, ObjString *name, int argc)
{
	Value recv = vm->sp[-argc - 1];
	if (IS_INSTANCE(recv)) {
		ObjInstance *inst = AS_INSTANCE(recv);
		Value f;
		if (map_get(inst->fields, OBJ_VAL(name), &f)) {
			vm->sp[-argc - 1] = f;
			return call_value(vm, argc);
		}
		Value m = find_method(inst->klass, name);
		if (IS_UNDEF(m)) {
			diag_hint_for(vm, NULL, recv, name);
			vm_error(vm, "undefined property '%s'", name->chars);
		}
		call_closure(vm, AS_CLOSURE(m), argc);
		return true;
	}
	if (IS_MODULE(recv)) {
		Value v = module_member(vm, AS_MODULE(recv), name);
		if (IS_UNDEF(v)) {
			diag_hint_for(vm, NULL, recv, name);
			vm_error(vm, "module '%s' has no member '%s'", AS_MODULE(recv)->name->chars, name->chars);
		}
		vm->sp[-argc - 1] = v;
		return call_value(vm, argc);
	}
	if (IS_FOREIGN(recv)) {
		const vm_reg *r = foreign_method(AS_FOREIGN(recv)->cls, name);
		if (r == NULL)
			no_property(vm, recv, name);
		if (r->arity >= 0 && argc != r->arity)
			vm_error(vm, "%s() takes %d argument%s but %d %s given", r->name, r->arity, r->arity == 1 ? "" : "s",
			         argc, argc == 1 ? "was" : "were");
		uint32_t base = (uint32_t)(vm->sp - vm->stack) - (uint32_t)argc - 1;
		Value ret = NIL_VAL;
		r->fn(vm, argc, vm->stack + base + 1, &ret);
		vm->stack[base] = ret;
		vm->sp = vm->stack + base + 1;
		return false;
	}
	Value m = builtin_method(vm, recv, name);
	if (IS_UNDEF(m)) {
		if (IS_ERROR(recv))
			no_property(vm, recv, name);
		diag_hint_for(vm, NULL, recv, name);
		vm_error(vm, "%s has no method '%s'", value_type_name(recv), name->chars);
	}
	/* the receiver stays in the callee slot: natives see it as args[-1] */
	call_native(vm, AS_NATIVE(m), argc);
	return false;
}

Value vm_get_method(GaleVM *vm, Value recv, ObjString *name, bool *found)
{
	*found = false;
	if (IS_INSTANCE(recv)) {
		Value m = find_method(AS_INSTANCE(recv)->klass, name);
		if (!IS_UNDEF(m)) {
			*found = true;
			return m;
		}
		return NIL_VAL;
	}
	Value m = builtin_method(vm, recv, name);
	*found = !IS_UNDEF(m);
	return *found ? m : NIL_VAL;
}

static Value get_property(GaleVM *vm, Value recv, ObjString *name)
{
	if (IS_INSTANCE(recv)) {
		ObjInstance *inst = AS_INSTANCE(recv);
		Value v;
		if (map_get(inst->fields, OBJ_VAL(name), &v))
			return v;
		Value m = find_method(inst->klass, name);
		if (!IS_UNDEF(m))
			return OBJ_VAL(bound_new(vm, recv, m));
		no_property(vm, recv, name);
	}
	if (IS_MODULE(recv)) {
		Value v = module_member(vm, AS_MODULE(recv), name);
		if (IS_UNDEF(v))
			vm_error(vm, "module '%s' has no member '%s'", AS_MODULE(recv)->name->chars, name->chars);
		return v;
	}
	if (IS_ERROR(recv)) {
		ObjError *e = AS_ERROR(recv);
		if (str_equal(name, vm->s_message))
			return OBJ_VAL(e->message);
		if (str_equal(name, vm->s_trace))
			return e->trace ? OBJ_VAL(e->trace) : OBJ_VAL(list_new(vm, 0));
		no_property(vm, recv, name);
	}
	if (IS_CLASS(recv) && strcmp(name->chars, "name") == 0)
		return OBJ_VAL(AS_CLASS(recv)->name);
	Value m = builtin_method(vm, recv, name);
	if (IS_UNDEF(m))
		no_property(vm, recv, name);
	vm_push_root(vm, m);
	Value b = OBJ_VAL(bound_new(vm, recv, m));
	vm_pop_root(vm);
	return b;
}

/* ---------------------------------------------------------------- operators */

static _Noreturn void op_type_error(GaleVM *vm, const char *op, Value a, Value b)
{
	vm_error(vm, "unsupported operand types for %s: %s and %s", op, value_type_name(a), value_type_name(b));
}

static int64_t int_pow(int64_t base, int64_t exp)
{
	uint64_t result = 1, b = (uint64_t)base;
	while (exp > 0) {
		if (exp & 1)
			result *= b;
		b *= b;
		exp >>= 1;
	}
	return (int64_t)result;
}

static int compare_values(GaleVM *vm, Value a, Value b, const char *op)
{
	if (IS_INT(a) && IS_INT(b))
		return AS_INT(a) < AS_INT(b) ? -1 : AS_INT(a) > AS_INT(b);
	if (IS_NUMBER(a) && IS_NUMBER(b)) {
		double x = AS_NUMBER(a), y = AS_NUMBER(b);
		if (x < y)
			return -1;
		if (x > y)
			return 1;
		if (x == y)
			return 0;
		return 2; /* unordered (nan) */
	}
	if (IS_STRING(a) && IS_STRING(b)) {
		ObjString *s = AS_STRING(a), *t = AS_STRING(b);
		size_t n = s->len < t->len ? s->len : t->len;
		int c = memcmp(s->chars, t->chars, n);
		if (c != 0)
			return c < 0 ? -1 : 1;
		return s->len < t->len ? -1 : s->len > t->len;
	}
	vm_error(vm, "cannot compare %s and %s with '%s'", value_type_name(a), value_type_name(b), op);
}

static Value arith(GaleVM *vm, OpCode op, Value a, Value b)
{
	static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>"};
	const char *name = names[op - OP_ADD];
	if (IS_INT(a) && IS_INT(b)) {
		int64_t x = AS_INT(a), y = AS_INT(b);
		switch (op) {
		case OP_ADD: return INT_VAL((int64_t)((uint64_t)x + (uint64_t)y));
		case OP_SUB: return INT_VAL((int64_t)((uint64_t)x - (uint64_t)y));
		case OP_MUL: return INT_VAL((int64_t)((uint64_t)x * (uint64_t)y));
		case OP_DIV: return FLOAT_VAL((double)x / (double)y);
		case OP_IDIV: {
			if (y == 0)
				vm_error(vm, "integer division by zero");
			if (y == -1)
				return INT_VAL((int64_t)(0 - (uint64_t)x));
			int64_t q = x / y;
			if ((x % y != 0) && ((x < 0) != (y < 0)))
				q--;
			return INT_VAL(q);
		}
		case OP_MOD: {
			if (y == 0)
				vm_error(vm, "integer division by zero");
			if (y == -1)
				return INT_VAL(0);
			int64_t r = x % y;
			if (r != 0 && ((r < 0) != (y < 0)))
				r += y;
			return INT_VAL(r);
		}
		case OP_POW:
			if (y >= 0)
				return INT_VAL(int_pow(x, y));
			return FLOAT_VAL(pow((double)x, (double)y));
		case OP_BAND: return INT_VAL(x & y);
		case OP_BOR: return INT_VAL(x | y);
		case OP_BXOR: return INT_VAL(x ^ y);
		case OP_SHL:
			if (y < 0)
				vm_error(vm, "negative shift count");
			return INT_VAL(y >= 64 ? 0 : (int64_t)((uint64_t)x << y));
		case OP_SHR:
			if (y < 0)
				vm_error(vm, "negative shift count");
			return INT_VAL(y >= 64 ? (x < 0 ? -1 : 0) : x >> y);
		default: break;
		}
	}
	if (IS_NUMBER(a) && IS_NUMBER(b) && op <= OP_POW) {
		double x = AS_NUMBER(a), y = AS_NUMBER(b);
		switch (op) {
		case OP_ADD: return FLOAT_VAL(x + y);
		case OP_SUB: return FLOAT_VAL(x - y);
		case OP_MUL: return FLOAT_VAL(x * y);
		case OP_DIV: return FLOAT_VAL(x / y);
		case OP_IDIV: return FLOAT_VAL(floor(x / y));
		case OP_MOD: {
			double r = fmod(x, y);
			if (r != 0 && ((r < 0) != (y < 0)))
				r += y;
			return FLOAT_VAL(r);
		}
		case OP_POW: return FLOAT_VAL(pow(x, y));
		default: break;
		}
	}
	if (op == OP_ADD && IS_STRING(a) && IS_STRING(b)) {
		ObjString *s = AS_STRING(a), *t = AS_STRING(b);
		if (s->len == 0)
			return b;
		if (t->len == 0)
			return a;
		/* built in place (the operands stay on the stack, so s and t live) */
		ObjString *r = str_alloc(vm, s->len + t->len);
		memcpy(r->chars, s->chars, s->len);
		memcpy(r->chars + s->len, t->chars, t->len);
		return OBJ_VAL(str_finish(vm, r));
	}
	if (op == OP_ADD && IS_LIST(a) && IS_LIST(b)) {
		ObjList *x = AS_LIST(a), *y = AS_LIST(b);
		ObjList *r = list_new(vm, x->count + y->count);
		if (x->count)
			memcpy(LIST_SLOTS(r), LIST_SLOTS(x), sizeof(Slot) * x->count);
		if (y->count)
			memcpy(LIST_SLOTS(r) + x->count, LIST_SLOTS(y), sizeof(Slot) * y->count);
		r->count = x->count + y->count;
		return OBJ_VAL(r);
	}
	op_type_error(vm, name, a, b);
}

static Value list_index(GaleVM *vm, ObjList *l, Value idx, uint32_t *at)
{
	if (!IS_INT(idx))
		vm_error(vm, "list index must be an int, not %s", value_type_name(idx));
	int64_t i = AS_INT(idx);
	if (i < 0)
		i += l->count;
	if (i < 0 || i >= (int64_t)l->count)
		vm_error(vm, "index out of range");
	*at = (uint32_t)i;
	return list_get(l, (uint32_t)i);
}

static void check_key(GaleVM *vm, Value k)
{
	if (IS_NIL(k))
		vm_error(vm, "map key cannot be nil");
	if (IS_FLOAT(k) && isnan(AS_FLOAT(k)))
		vm_error(vm, "map key cannot be NaN");
}

static Value get_index(GaleVM *vm, Value obj, Value idx)
{
	if (IS_LIST(obj)) {
		uint32_t at;
		return list_index(vm, AS_LIST(obj), idx, &at);
	}
	if (IS_MAP(obj)) {
		Value v;
		if (map_get(AS_MAP(obj), idx, &v))
			return v;
		return NIL_VAL;
	}
	if (IS_STRING(obj)) {
		ObjString *s = AS_STRING(obj);
		if (!IS_INT(idx))
			vm_error(vm, "string index must be an int, not %s", value_type_name(idx));
		int64_t i = AS_INT(idx);
		if (i < 0)
			i += (int64_t)s->len;
		if (i < 0 || i >= (int64_t)s->len)
			vm_error(vm, "index out of range");
		return OBJ_VAL(str_new(vm, s->chars + i, 1));
	}
	if (IS_RANGE(obj) && IS_INT(idx)) {
		ObjRange *r = AS_RANGE(obj);
		uint64_t n = range_len(r);
		int64_t i = AS_INT(idx);
		/* A negative index counts from the end: i + n in unsigned terms. */
		uint64_t u = i < 0 ? n - (uint64_t)(-(i + 1)) - 1 : (uint64_t)i;
		if ((i < 0 && (uint64_t)(-(i + 1)) >= n) || u >= n)
			vm_error(vm, "index out of range");
		return INT_VAL(range_at(r, u));
	}
	vm_error(vm, "cannot index a %s value", value_type_name(obj));
}

static void set_index(GaleVM *vm, Value obj, Value idx, Value v)
{
	if (IS_LIST(obj)) {
		uint32_t at;
		list_index(vm, AS_LIST(obj), idx, &at);
		list_set(vm, AS_LIST(obj), at, v);
		return;
	}
	if (IS_MAP(obj)) {
		check_key(vm, idx);
		map_set(vm, AS_MAP(obj), idx, v);
		return;
	}
	vm_error(vm, "cannot assign into a %s value by index", value_type_name(obj));
}

static int64_t clamp_bound(GaleVM *vm, Value v, int64_t len, int64_t dflt)
{
	if (IS_NIL(v))
		return dflt;
	if (!IS_INT(v))
		vm_error(vm, "slice bounds must be ints, not %s", value_type_name(v));
	int64_t i = AS_INT(v);
	if (i < 0)
		i += len;
	if (i < 0)
		i = 0;
	if (i > len)
		i = len;
	return i;
}

static Value slice(GaleVM *vm, Value obj, Value lo, Value hi)
{
	if (IS_LIST(obj)) {
		ObjList *l = AS_LIST(obj);
		int64_t a = clamp_bound(vm, lo, l->count, 0), b = clamp_bound(vm, hi, l->count, l->count);
		uint32_t n = b > a ? (uint32_t)(b - a) : 0;
		ObjList *r = list_new(vm, n);
		if (n)
			memcpy(LIST_SLOTS(r), LIST_SLOTS(l) + a, sizeof(Slot) * n);
		r->count = n;
		return OBJ_VAL(r);
	}
	if (IS_STRING(obj)) {
		ObjString *s = AS_STRING(obj);
		int64_t a = clamp_bound(vm, lo, (int64_t)s->len, 0), b = clamp_bound(vm, hi, (int64_t)s->len, (int64_t)s->len);
		return OBJ_VAL(str_new(vm, s->chars + a, b > a ? (size_t)(b - a) : 0));
	}
	vm_error(vm, "cannot slice a %s value", value_type_name(obj));
}

/* ---------------------------------------------------------------- modules */

static bool read_file(GaleVM *vm, const char *path, ObjBuf **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) != 0) {
		fclose(f);
		return false;
	}
	long n = ftell(f);
	if (n < 0) {
		fclose(f);
		return false;
	}
	rewind(f);
	ObjBuf *b = mallocgc(vm->rt, sizeof(ObjBuf) + (size_t)n + 1, OBJ_BUF, false);
	if (b == NULL) {
		fclose(f);
		vm_oom(vm);
	}
	b->obj.kind = OBJ_BUF;
	size_t got = fread(b->data, 1, (size_t)n, f);
	fclose(f);
	((char *)b->data)[got] = '\0';
	*out = b;
	*len = got;
	return true;
}

/* Run the compiled top-level function of a module: pushes its frame. */
static ObjModule *import_module(GaleVM *vm, ObjModule *from, ObjString *spec, bool *pushed);

/* ---------------------------------------------------------------- the loop */

static bool run(GaleVM *vm, uint32_t base_frames);
static bool execute(GaleVM *vm, uint32_t base_frames, uint32_t handler_base);

/* Public: see vm.h. */
void vm_call(GaleVM *vm, Value callee, int argc, const Value *argv, Value *out)
{
	if (vm->native_depth >= VM_MAX_NATIVE_DEPTH)
		vm_error(vm, "stack overflow");
	ptrdiff_t argv_at = -1;
	if (argv >= vm->stack && argv < vm->stack + vm->stack_cap)
		argv_at = argv - vm->stack;
	vm_reserve(vm, (size_t)argc + 1);
	if (argv_at >= 0)
		argv = vm->stack + argv_at;
	uint32_t at = (uint32_t)(vm->sp - vm->stack);
	*vm->sp++ = callee;
	for (int i = 0; i < argc; i++)
		*vm->sp++ = argv[i];
	uint32_t frames = vm->frame_count;
	if (call_value(vm, argc)) {
		vm->native_depth++;
		bool ok = run(vm, frames);
		vm->native_depth--;
		if (!ok)
			unwind(vm);
	}
	*out = vm->stack[at];
	vm->sp = vm->stack + at;
}

bool vm_pcall(GaleVM *vm, Value callee, int argc, const Value *argv, Value *out)
{
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	uint32_t sp = (uint32_t)(vm->sp - vm->stack);
	uint32_t frames = vm->frame_count, handlers = vm->handler_count;
	int temps = vm->temp_count, depth = vm->native_depth, printing = vm->print_count;
	if (setjmp(j.buf) != 0) {
		vm_unwind_printing(vm, printing);
		vm->jmp = j.prev;
		close_upvalues(vm, vm->stack + sp);
		vm->sp = vm->stack + sp;
		vm->frame_count = frames;
		vm->handler_count = handlers;
		vm->temp_count = temps;
		vm->native_depth = depth;
		vm->compiler = NULL;
		return false;
	}
	vm_call(vm, callee, argc, argv, out);
	vm->jmp = j.prev;
	return true;
}

/* Inside the loop the instruction pointer and the stack top live in the
 * locals ip and sp; frame->ip and vm->sp are only brought up to date by SAVE.
 * An instruction declared with CASE saves on entry, so whatever it calls (an
 * allocation that may collect, a native, an error that prints a trace) sees
 * the stack top and the line as the instruction began. An instruction
 * declared with FAST skips that: its fast path touches only the stack and
 * plain data, and every path that may allocate, raise or call saves first.
 * An instruction that pushes before it allocates saves again. After anything
 * that may run other code (and so move the stack), the locals are reloaded
 * with the frame (REFRESH_FRAME). */
#define SAVE() (frame->ip = ip, vm->sp = sp)
#define VM_SYNC() SAVE()
#ifdef GALE_SWITCH_DISPATCH
#define DISPATCH() goto dispatch
#define CASE(name)   \
	case OP_##name: \
		SAVE();
#define FAST(name) case OP_##name:
#else
#define DISPATCH()                    \
	do {                          \
		op = *ip++;           \
		goto *labels[op];     \
	} while (0)
#define CASE(name) \
	L_##name:  \
		SAVE();
#define FAST(name) L_##name:
#endif
/* Raise from a FAST instruction. */
#define RAISE(...)                             \
	do {                                   \
		SAVE();                        \
		vm_error(vm, __VA_ARGS__);     \
	} while (0)

#define READ_BYTE() (*ip++)
#define READ_SHORT() (ip += 2, (uint16_t)(ip[-2] | (ip[-1] << 8)))
#define SLOTS slots /* vm->stack + frame->base, kept in a local like sp */
#define PUSH(v) (*sp++ = (v))
#define POP() (*--sp)
#define PEEK(n) (sp[-1 - (n)])
/* The frame, its constants and its module's variables, cached in locals.
 * Reloaded after anything that may run other code: the frame array can
 * move and the module's slot array can grow (module_set). */
#define REFRESH_FRAME()                                              \
	do {                                                         \
		frame = &vm->frames[vm->frame_count - 1];           \
		consts = FN_CONSTS(frame->closure->fn);              \
		globals = MODULE_VALUES(frame->closure->fn->module); \
		sp = vm->sp;                                         \
		slots = vm->stack + frame->base;                     \
	} while (0)
#define LOAD_FRAME()                \
	do {                        \
		REFRESH_FRAME();    \
		ip = frame->ip;     \
	} while (0)

/* The common call: a closure with exactly its arity, with room already in
 * the frame array and the stack (sp is the caller's top, the callee and its
 * arguments below it). Pushes the frame and returns it; NULL sends the
 * caller to the general path (which raises or grows). The new frame's ip is
 * left for the run loop to save. */
static inline CallFrame *fast_call(GaleVM *vm, ObjClosure *c, int argc, Value *sp)
{
	ObjFunction *fn = c->fn;
	if (fn->call_arity != argc || vm->frame_count >= vm->frame_limit || sp + fn->max_slots > vm->stack_end)
		return NULL;
	CallFrame *f = &vm->frames[vm->frame_count++];
	f->closure = c;
	f->native = NULL;
	f->ip = fn->code_data;
	f->base = (uint32_t)(sp - vm->stack) - (uint32_t)argc - 1;
	return f;
}

/* Execute from the top frame until the frame count drops to base_frames.
 * Errors longjmp out of here to run(). */
static bool execute(GaleVM *vm, uint32_t base_frames, uint32_t handler_base)
{
#ifndef GALE_SWITCH_DISPATCH
	static void *const labels[OP__COUNT] = {
#define OP_LABEL(name, fmt, effect) &&L_##name,
		GALE_OPCODES(OP_LABEL)
#undef OP_LABEL
	};
#endif
	CallFrame *frame;
	uint8_t *ip;
	Value *consts;
	Value *globals;
	Value *sp;
	Value *slots;
	uint8_t op;

	LOAD_FRAME();
#ifdef GALE_SWITCH_DISPATCH
dispatch:
	op = *ip++;
	switch ((OpCode)op) {
#else
	DISPATCH();
#endif

/* Number arithmetic on values in place: both tags in one word, one test for
 * the common pairs, the result computed before it is stored (dst may be an
 * operand). The last argument runs for anything but two numbers. */
#define TAGS(a, b) (((unsigned)(a) << 4) | (unsigned)(b))
#define NUM_ARITH(dst, pa, pb, OPR, ...)                                                        \
	do {                                                                                    \
		unsigned tt_ = TAGS((pa)->type, (pb)->type);                                    \
		if (tt_ == TAGS(VAL_INT, VAL_INT)) {                                            \
			int64_t r_ = (int64_t)((uint64_t)(pa)->as.i OPR(uint64_t)(pb)->as.i);   \
			*(dst) = INT_VAL(r_);                                                   \
		} else if (tt_ == TAGS(VAL_FLOAT, VAL_FLOAT)) {                                 \
			double r_ = (pa)->as.f OPR(pb)->as.f;                                   \
			*(dst) = FLOAT_VAL(r_);                                                 \
		} else if (tt_ == TAGS(VAL_INT, VAL_FLOAT)) {                                   \
			double r_ = (double)(pa)->as.i OPR(pb)->as.f;                           \
			*(dst) = FLOAT_VAL(r_);                                                 \
		} else if (tt_ == TAGS(VAL_FLOAT, VAL_INT)) {                                   \
			double r_ = (pa)->as.f OPR(double)(pb)->as.i;                           \
			*(dst) = FLOAT_VAL(r_);                                                 \
		} else {                                                                        \
			__VA_ARGS__;                                                            \
		}                                                                               \
	} while (0)
/* An ordering of two values in place: ints and floats directly, the rest
 * through compare_values (mixed numbers, strings; it raises for others). */
#define NUM_COMPARE(r, pa, pb, OPSTR, CMP)                                         \
	do {                                                                       \
		unsigned tt_ = TAGS((pa)->type, (pb)->type);                       \
		if (tt_ == TAGS(VAL_INT, VAL_INT)) {                               \
			r = (pa)->as.i CMP(pb)->as.i;                              \
		} else if (tt_ == TAGS(VAL_FLOAT, VAL_FLOAT)) {                    \
			r = (pa)->as.f CMP(pb)->as.f;                              \
		} else {                                                           \
			SAVE();                                                    \
			int c_ = compare_values(vm, *(pa), *(pb), OPSTR);          \
			r = c_ != 2 && c_ CMP 0;                                   \
		}                                                                  \
	} while (0)
	FAST(CONST) { PUSH(consts[READ_SHORT()]); DISPATCH(); }
	FAST(NIL) { PUSH(NIL_VAL); DISPATCH(); }
	FAST(TRUE) { PUSH(BOOL_VAL(true)); DISPATCH(); }
	FAST(FALSE) { PUSH(BOOL_VAL(false)); DISPATCH(); }
	FAST(POP) { sp--; DISPATCH(); }
	FAST(POPN) {
		sp -= READ_BYTE();
		DISPATCH();
	}
	FAST(DUP) { Value v = PEEK(0); PUSH(v); DISPATCH(); }
	FAST(DUP2) {
		Value a = PEEK(1), b = PEEK(0);
		PUSH(a);
		PUSH(b);
		DISPATCH();
	}
	FAST(GET_LOCAL) { PUSH(SLOTS[READ_BYTE()]); DISPATCH(); }
/* An assignment statement stores and then pops: a store followed by POP
 * does both in one dispatch (the POP stays, for jumps that land on it). */
#define SKIP_POP()                         \
	do {                               \
		if (*ip == OP_POP) {       \
			ip++;              \
			sp--;              \
		}                          \
	} while (0)
	FAST(SET_LOCAL) {
		SLOTS[READ_BYTE()] = PEEK(0);
		SKIP_POP();
		DISPATCH();
	}
	FAST(GET_UPVAL) { PUSH(*frame->closure->upvalues[READ_BYTE()]->location); DISPATCH(); }
	FAST(SET_UPVAL) { *frame->closure->upvalues[READ_BYTE()]->location = PEEK(0); DISPATCH(); }
	FAST(GET_GLOBAL) {
		uint16_t slot = READ_SHORT();
		Value v = globals[slot];
		if (IS_UNDEF(v)) {
			SAVE();
			ObjModule *m = frame->closure->fn->module;
			Value name = ((Value *)m->slot_names->data)[slot];
			v = module_member(vm, vm->builtins, AS_STRING(name));
			if (IS_UNDEF(v)) {
				diag_hint_for(vm, m, NIL_VAL, AS_STRING(name));
				vm_error(vm, "undefined variable '%s'", AS_CSTRING(name));
			}
		}
		PUSH(v);
		DISPATCH();
	}
/* Store the top into the module variable named by the u16 operand; it must
 * have been defined (assignment never creates one). */
#define STORE_GLOBAL()                                                                              \
	do {                                                                                        \
		uint16_t slot_ = READ_SHORT();                                                      \
		if (IS_UNDEF(globals[slot_])) {                                                     \
			ObjModule *m_ = frame->closure->fn->module;                                 \
			RAISE("undefined variable '%s'", AS_CSTRING(((Value *)m_->slot_names->data)[slot_])); \
		}                                                                                   \
		globals[slot_] = PEEK(0);                                                           \
	} while (0)
	FAST(SET_GLOBAL) {
		STORE_GLOBAL();
		SKIP_POP();
		DISPATCH();
	}
	FAST(DEFINE_GLOBAL) {
		uint16_t slot = READ_SHORT();
		globals[slot] = PEEK(0);
		sp--;
		DISPATCH();
	}
	FAST(GET_FIELD) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		Value recv = PEEK(0);
		if (IS_INSTANCE(recv)) {
			Value *v = map_find_str(AS_INSTANCE(recv)->fields, name);
			if (v != NULL) {
				sp[-1] = *v;
				DISPATCH();
			}
		}
		sp[-1] = (SAVE(), get_property(vm, recv, name));
		DISPATCH();
	}
	FAST(SET_FIELD) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		Value recv = PEEK(1), v = PEEK(0);
		if (IS_INSTANCE(recv)) {
			Value *slot = map_find_str(AS_INSTANCE(recv)->fields, name);
			if (slot != NULL) {
				*slot = v;
			} else {
				SAVE();
				map_set(vm, AS_INSTANCE(recv)->fields, OBJ_VAL(name), v);
			}
		} else if (IS_MODULE(recv)) {
			SAVE();
			module_set(vm, AS_MODULE(recv), name, v);
			REFRESH_FRAME(); /* it may have grown this frame's module */
		} else {
			RAISE("cannot set property '%s' on a %s value", name->chars, value_type_name(recv));
		}
		sp -= 2;
		PUSH(v);
		SKIP_POP();
		DISPATCH();
	}
/* The item of list l at int index i (negative counts from the end), or
 * raise. */
#define LIST_ITEM(l, i, out)                                  \
	do {                                                  \
		int64_t at_ = (i);                            \
		if (at_ < 0)                                  \
			at_ += (l)->count;                    \
		if (at_ < 0 || at_ >= (int64_t)(l)->count)    \
			RAISE("index out of range");          \
		out = list_get(l, (uint32_t)at_);             \
	} while (0)
	FAST(GET_INDEX) {
		Value obj = PEEK(1), idx = PEEK(0);
		Value v;
		if (IS_LIST(obj) && IS_INT(idx)) {
			LIST_ITEM(AS_LIST(obj), AS_INT(idx), v);
		} else if (IS_MAP(obj) && IS_INT(idx) && slot_int_fits(AS_INT(idx))) {
			Value *slot = map_find_int(AS_MAP(obj), AS_INT(idx));
			v = slot != NULL ? *slot : NIL_VAL;
		} else {
			v = (SAVE(), get_index(vm, obj, idx));
		}
		sp--;
		sp[-1] = v;
		DISPATCH();
	}
	FAST(SET_INDEX) {
		Value obj = PEEK(2), idx = PEEK(1), v = PEEK(0);
		Slot packed; /* a wide int takes the slow path, which may allocate its box */
		if (IS_LIST(obj) && IS_INT(idx) && AS_INT(idx) >= 0 && AS_INT(idx) < (int64_t)AS_LIST(obj)->count &&
		    slot_pack(v, &packed))
			LIST_SLOTS(AS_LIST(obj))[AS_INT(idx)] = packed;
		else if (!(IS_MAP(obj) && IS_INT(idx) && slot_int_fits(AS_INT(idx)) &&
		           map_set_int(vm, AS_MAP(obj), AS_INT(idx), v)))
			(SAVE(), set_index(vm, obj, idx, v));
		sp -= 3;
		PUSH(v);
		SKIP_POP();
		DISPATCH();
	}
	CASE(SLICE) {
		Value r = slice(vm, PEEK(2), PEEK(1), PEEK(0));
		sp -= 2;
		sp[-1] = r;
		DISPATCH();
	}
	CASE(GET_SUPER) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		ObjClass *super = AS_CLASS(POP());
		Value m = find_method(super, name);
		if (IS_UNDEF(m))
			vm_error(vm, "undefined property '%s'", name->chars);
		sp[-1] = OBJ_VAL(bound_new(vm, PEEK(0), m));
		DISPATCH();
	}
/* A comparison followed by JUMP_IF_FALSE (every if/while condition) takes
 * the jump itself: one dispatch and no bool pushed. The JUMP_IF_FALSE stays
 * in the code, so a jump that lands on it still works. */
#define BRANCH_OR_PUSH(r)                                                  \
	do {                                                               \
		if (*ip == OP_JUMP_IF_FALSE) {                             \
			sp -= 2;                                           \
			uint16_t off_ = (uint16_t)(ip[1] | (ip[2] << 8));  \
			ip += 3;                                           \
			if (!(r))                                          \
				ip += off_;                                \
			DISPATCH();                                        \
		}                                                          \
		sp--;                                                      \
		sp[-1] = BOOL_VAL(r);                                      \
		DISPATCH();                                                \
	} while (0)
	FAST(EQ) {
		bool r = value_equal(PEEK(1), PEEK(0));
		BRANCH_OR_PUSH(r);
	}
	FAST(NE) {
		bool r = !value_equal(PEEK(1), PEEK(0));
		BRANCH_OR_PUSH(r);
	}
#define COMPARE(NAME, OPSTR, CMP)                                                     \
	FAST(NAME) {                                                                  \
		bool r;                                                               \
		NUM_COMPARE(r, sp - 2, sp - 1, OPSTR, CMP);                           \
		BRANCH_OR_PUSH(r);                                                    \
	}
	COMPARE(LT, "<", <)
	COMPARE(LE, "<=", <=)
	COMPARE(GT, ">", >)
	COMPARE(GE, ">=", >=)
#undef COMPARE
#undef BRANCH_OR_PUSH
	CASE(IS) {
		Value k = POP(), v = PEEK(0);
		if (!IS_CLASS(k))
			vm_error(vm, "the right side of 'is' must be a class, not %s", value_type_name(k));
		bool r = false;
		if (IS_INSTANCE(v))
			for (ObjClass *c = AS_INSTANCE(v)->klass; c != NULL; c = c->super)
				if (c == AS_CLASS(k)) {
					r = true;
					break;
				}
		sp[-1] = BOOL_VAL(r);
		DISPATCH();
	}
	FAST(ADD) {
		NUM_ARITH(sp - 2, sp - 2, sp - 1, +, sp[-2] = (SAVE(), arith(vm, OP_ADD, sp[-2], sp[-1])));
		sp--;
		DISPATCH();
	}

	FAST(SUB) {
		NUM_ARITH(sp - 2, sp - 2, sp - 1, -, sp[-2] = (SAVE(), arith(vm, OP_SUB, sp[-2], sp[-1])));
		sp--;
		DISPATCH();
	}

	FAST(MUL) {
		NUM_ARITH(sp - 2, sp - 2, sp - 1, *, sp[-2] = (SAVE(), arith(vm, OP_MUL, sp[-2], sp[-1])));
		sp--;
		DISPATCH();
	}

/* The end of `x += e` (opcodes.h): the operator, then the store into a
 * local or a module variable, in one dispatch. */
#define ARITH_STORE(NAME, BASE, OPR, ...)                                                      \
	FAST(NAME) {                                                                           \
		NUM_ARITH(sp - 2, sp - 2, sp - 1, OPR, sp[-2] = (SAVE(), arith(vm, OP_##BASE, sp[-2], sp[-1]))); \
		sp--;                                                                          \
		__VA_ARGS__;                                                                   \
		SKIP_POP();                                                                    \
		DISPATCH();                                                                    \
	}
	ARITH_STORE(ADD_SL, ADD, +, SLOTS[READ_BYTE()] = sp[-1])
	ARITH_STORE(SUB_SL, SUB, -, SLOTS[READ_BYTE()] = sp[-1])
	ARITH_STORE(MUL_SL, MUL, *, SLOTS[READ_BYTE()] = sp[-1])
	ARITH_STORE(ADD_SG, ADD, +, STORE_GLOBAL())
	ARITH_STORE(SUB_SG, SUB, -, STORE_GLOBAL())
	ARITH_STORE(MUL_SG, MUL, *, STORE_GLOBAL())
#undef ARITH_STORE
#undef STORE_GLOBAL
	FAST(DIV) {
		Value b = PEEK(0), a = PEEK(1);
		if (IS_NUMBER(a) && IS_NUMBER(b))
			sp[-2] = FLOAT_VAL(AS_NUMBER(a) / AS_NUMBER(b));
		else
			sp[-2] = (SAVE(), arith(vm, OP_DIV, a, b));
		sp--;
		DISPATCH();
	}
#define INT_BINARY(NAME, EXPR)                                        \
	FAST(NAME) {                                                  \
		Value b = PEEK(0), a = PEEK(1);                       \
		if (IS_INT(a) && IS_INT(b)) {                         \
			int64_t x = AS_INT(a), y = AS_INT(b);         \
			sp[-2] = INT_VAL(EXPR);                       \
		} else {                                              \
			sp[-2] = (SAVE(), arith(vm, OP_##NAME, a, b));          \
		}                                                     \
		sp--;                                                 \
		DISPATCH();                                           \
	}
	INT_BINARY(BAND, x & y)
	INT_BINARY(BOR, x | y)
	INT_BINARY(BXOR, x ^ y)
#undef INT_BINARY
	FAST(MOD) {
		Value b = PEEK(0), a = PEEK(1);
		if (IS_INT(a) && IS_INT(b) && AS_INT(b) > 0) {
			/* the common case: a positive divisor, the result takes its sign */
			int64_t r = AS_INT(a) % AS_INT(b);
			sp[-2] = INT_VAL(r < 0 ? r + AS_INT(b) : r);
		} else {
			sp[-2] = (SAVE(), arith(vm, OP_MOD, a, b));
		}
		sp--;
		DISPATCH();
	}
	FAST(IDIV) {
		Value b = PEEK(0), a = PEEK(1);
		if (IS_INT(a) && IS_INT(b) && AS_INT(b) > 0) {
			/* a positive divisor: truncation rounds negatives the wrong way by one */
			int64_t x = AS_INT(a), y = AS_INT(b), q = x / y;
			sp[-2] = INT_VAL(q - (x % y != 0 && x < 0));
		} else if (IS_FLOAT(a) && IS_FLOAT(b)) {
			sp[-2] = FLOAT_VAL(floor(AS_FLOAT(a) / AS_FLOAT(b)));
		} else {
			sp[-2] = (SAVE(), arith(vm, OP_IDIV, a, b));
		}
		sp--;
		DISPATCH();
	}
	FAST(POW)
	FAST(SHL)
	FAST(SHR) {
		Value b = PEEK(0), a = PEEK(1);
		sp[-2] = (SAVE(), arith(vm, (OpCode)op, a, b));
		sp--;
		DISPATCH();
	}
	FAST(NEG) {
		Value v = PEEK(0);
		if (IS_INT(v))
			sp[-1] = INT_VAL((int64_t)(0 - (uint64_t)AS_INT(v)));
		else if (IS_FLOAT(v))
			sp[-1] = FLOAT_VAL(-AS_FLOAT(v));
		else
			RAISE("bad operand type for unary -: %s", value_type_name(v));
		DISPATCH();
	}
	FAST(BNOT) {
		Value v = PEEK(0);
		if (!IS_INT(v))
			RAISE("bad operand type for ~: %s", value_type_name(v));
		sp[-1] = INT_VAL(~AS_INT(v));
		DISPATCH();
	}
	FAST(NOT) { sp[-1] = BOOL_VAL(value_falsy(PEEK(0))); DISPATCH(); }
	FAST(JUMP) {
		uint16_t off = READ_SHORT();
		ip += off;
		DISPATCH();
	}
	FAST(JUMP_IF_FALSE) {
		uint16_t off = READ_SHORT();
		if (value_falsy(POP()))
			ip += off;
		DISPATCH();
	}
	FAST(AND) {
		uint16_t off = READ_SHORT();
		if (value_falsy(PEEK(0)))
			ip += off;
		else
			sp--;
		DISPATCH();
	}
	FAST(OR) {
		uint16_t off = READ_SHORT();
		if (!value_falsy(PEEK(0)))
			ip += off;
		else
			sp--;
		DISPATCH();
	}
/* Backward jumps and calls are the safe points where an interrupt or a
 * spent step budget stops the script (vm_stop raises, or returns when the
 * host grants more steps). */
#define SAFE_POINT()                                                 \
	do {                                                         \
		if (vm->interrupted || --vm->steps_left < 0) {       \
			SAVE();                                      \
			vm_stop(vm);                                 \
		}                                                    \
	} while (0)
	FAST(LOOP) {
		uint16_t off = READ_SHORT();
		ip -= off;
		SAFE_POINT();
		DISPATCH();
	}
	FAST(POP_LOOP) {
		uint16_t off = READ_SHORT();
		sp--;
		ip -= off;
		SAFE_POINT();
		DISPATCH();
	}
	FAST(CALL) {
		int argc = READ_BYTE();
		frame->ip = ip; /* the return address */
		SAFE_POINT();
		Value callee = sp[-argc - 1];
		CallFrame *f;
		if (IS_CLOSURE(callee) && (f = fast_call(vm, AS_CLOSURE(callee), argc, sp)) != NULL) {
			/* the new frame is known: set the cached locals from it
			 * directly (nothing ran, the stack has not moved) */
			ObjFunction *fn = AS_CLOSURE(callee)->fn;
			frame = f;
			ip = fn->code_data;
			consts = fn->const_data;
			globals = fn->module->value_data;
			slots = sp - argc - 1;
			DISPATCH();
		}
		vm->sp = sp;
		call_value(vm, argc);
		/* even a completed native call may have grown (moved) the frames */
		LOAD_FRAME();
		DISPATCH();
	}
	FAST(INVOKE) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		int argc = READ_BYTE();
		SAVE(); /* the return address, and the top for what is called */
		SAFE_POINT();
		Value recv = sp[-argc - 1];
		if (IS_INSTANCE(recv)) {
			/* a method (not shadowed by a field) called directly */
			ObjInstance *inst = AS_INSTANCE(recv);
			Value *m;
			if (map_find_str(inst->fields, name) == NULL && (m = map_find_str(inst->klass->methods, name)) != NULL &&
			    fast_call(vm, AS_CLOSURE(*m), argc, sp) != NULL) {
				LOAD_FRAME();
				DISPATCH();
			}
		} else if (IS_MODULE(recv)) {
			/* module.fn(args) (math.sqrt): the member called in place, as invoke() would */
			Value v = module_member(vm, AS_MODULE(recv), name);
			if (IS_NATIVE(v)) {
				sp[-argc - 1] = v;
				call_native(vm, AS_NATIVE(v), argc);
				LOAD_FRAME();
				DISPATCH();
			}
		} else if (IS_OBJ(recv) && OBJ_KIND(recv) != OBJ_FOREIGN &&
		           vm->type_methods[OBJ_KIND(recv)] != NULL) {
			/* a method of a built-in type: what invoke() finds, without its detours */
			Value *m = map_find_str(vm->type_methods[OBJ_KIND(recv)], name);
			if (m != NULL && IS_NATIVE(*m)) {
				call_native(vm, AS_NATIVE(*m), argc);
				LOAD_FRAME();
				DISPATCH();
			}
		}
		invoke(vm, name, argc);
		LOAD_FRAME();
		DISPATCH();
	}
	CASE(SUPER_INVOKE) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		int argc = READ_BYTE();
		frame->ip = ip;
		ObjClass *super = AS_CLASS(POP());
		VM_SYNC();
		Value m = find_method(super, name);
		if (IS_UNDEF(m))
			vm_error(vm, "undefined property '%s'", name->chars);
		call_closure(vm, AS_CLOSURE(m), argc);
		LOAD_FRAME();
		DISPATCH();
	}
	CASE(CLOSURE) {
		ObjFunction *fn = AS_FUNCTION(consts[READ_SHORT()]);
		ObjClosure *c = closure_new(vm, fn);
		PUSH(OBJ_VAL(c));
		VM_SYNC();
		for (int i = 0; i < c->count; i++) {
			uint8_t is_local = READ_BYTE();
			uint8_t index = READ_BYTE();
			if (is_local)
				c->upvalues[i] = capture_upvalue(vm, SLOTS + index);
			else
				c->upvalues[i] = frame->closure->upvalues[index];
		}
		DISPATCH();
	}
	CASE(CLOSE_UPVAL) {
		close_upvalues(vm, sp - 1);
		sp--;
		DISPATCH();
	}
	FAST(RETURN) {
		Value result = sp[-1];
		ObjClosure *callee = frame->closure;
		if (vm->open_upvalues != NULL)
			close_upvalues(vm, SLOTS);
		uint32_t fc = --vm->frame_count;
		while (vm->handler_count > handler_base && vm->handlers[vm->handler_count - 1].frame_count > fc)
			vm->handler_count--;
		SLOTS[0] = result;
		sp = SLOTS + 1;
		if (fc == base_frames) {
			vm->sp = sp;
			return true;
		}
		/* back in the caller's frame: a recursive return keeps the
		 * function's constants and module variables (the locals are
		 * current for the module: anything that moves them reloads) */
		frame--; /* the frames have not moved since frame was loaded */
		ip = frame->ip;
		slots = vm->stack + frame->base;
		if (frame->closure != callee) {
			ObjFunction *caller = frame->closure->fn;
			consts = FN_CONSTS(caller);
			globals = MODULE_VALUES(caller->module);
		}
		DISPATCH();
	}
	CASE(LIST) {
		int n = READ_BYTE();
		ObjList *l = list_new(vm, (uint32_t)n);
		for (int i = 0; i < n; i++)
			list_set(vm, l, (uint32_t)i, sp[i - n]);
		l->count = (uint32_t)n;
		sp -= n;
		PUSH(OBJ_VAL(l));
		DISPATCH();
	}
	CASE(LIST_APPEND) {
		int n = READ_BYTE();
		ObjList *l = AS_LIST(sp[-n - 1]);
		for (int i = 0; i < n; i++)
			list_push(vm, l, sp[-n + i]);
		sp -= n;
		DISPATCH();
	}
	CASE(MAP) {
		int n = READ_BYTE();
		ObjMap *m = map_new(vm);
		PUSH(OBJ_VAL(m));
		VM_SYNC();
		Value *kv = sp - 1 - 2 * n;
		for (int i = 0; i < n; i++) {
			check_key(vm, kv[2 * i]);
			map_set(vm, m, kv[2 * i], kv[2 * i + 1]);
		}
		sp = kv;
		PUSH(OBJ_VAL(m));
		DISPATCH();
	}
	CASE(MAP_APPEND) {
		int n = READ_BYTE();
		Value *kv = sp - 2 * n;
		ObjMap *m = AS_MAP(kv[-1]);
		for (int i = 0; i < n; i++) {
			check_key(vm, kv[2 * i]);
			map_set(vm, m, kv[2 * i], kv[2 * i + 1]);
		}
		sp = kv;
		DISPATCH();
	}
	CASE(BUILD_STRING) {
		int n = READ_BYTE();
		StrBuf sb;
		sb_init(vm, &sb);
		for (int i = 0; i < n; i++)
			sb_value(&sb, sp[-n + i], false);
		ObjString *s = sb_finish(&sb);
		REFRESH_FRAME(); /* toString() may have moved the frames and stack */
		sp -= n;
		PUSH(OBJ_VAL(s));
		DISPATCH();
	}
	CASE(CLASS) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		PUSH(OBJ_VAL(class_new(vm, name)));
		DISPATCH();
	}
	CASE(INHERIT) {
		Value super = PEEK(1);
		ObjClass *k = AS_CLASS(PEEK(0));
		if (!IS_CLASS(super))
			vm_error(vm, "a class can only inherit from a class, not %s", value_type_name(super));
		ObjClass *s = AS_CLASS(super);
		uint32_t pos = 0;
		Value key, val;
		while (map_next(s->methods, &pos, &key, &val))
			map_set(vm, k->methods, key, val);
		k->super = s;
		k->init = s->init;
		DISPATCH();
	}
	CASE(METHOD) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		ObjClass *k = AS_CLASS(PEEK(1));
		map_set(vm, k->methods, OBJ_VAL(name), PEEK(0));
		if (name == vm->s_init)
			k->init = PEEK(0);
		sp--;
		DISPATCH();
	}
	CASE(IMPORT) {
		ObjString *spec = AS_STRING(consts[READ_SHORT()]);
		bool pushed = false;
		frame->ip = ip;
		ObjModule *m = import_module(vm, frame->closure->fn->module, spec, &pushed);
		if (pushed) {
			LOAD_FRAME();
		} else {
			PUSH(OBJ_VAL(m));
		}
		DISPATCH();
	}
	CASE(TRY) {
		uint16_t off = READ_SHORT();
		if (vm->handler_count == VM_MAX_HANDLERS)
			vm_error(vm, "too many nested try blocks");
		TryHandler *h = &vm->handlers[vm->handler_count++];
		h->frame_count = vm->frame_count;
		h->stack_top = (uint32_t)(sp - vm->stack);
		h->catch_ip = ip + off;
		DISPATCH();
	}
	FAST(END_TRY) {
		vm->handler_count--;
		DISPATCH();
	}
	CASE(THROW) {
		Value v = PEEK(0);
		vm_throw(vm, v);
	}
	CASE(ITER_PREP) {
		Value v = PEEK(0);
		if (IS_INSTANCE(v)) {
			Value m = find_method(AS_INSTANCE(v)->klass, vm->s_iter);
			if (IS_UNDEF(m))
				vm_error(vm, "cannot iterate over a %s instance (it has no iter() method)",
				         AS_INSTANCE(v)->klass->name->chars);
			frame->ip = ip;
			call_closure(vm, AS_CLOSURE(m), 0);
			LOAD_FRAME();
			DISPATCH();
		}
		if (!IS_LIST(v) && !IS_MAP(v) && !IS_STRING(v) && !IS_RANGE(v))
			vm_error(vm, "cannot iterate over a %s value", value_type_name(v));
		DISPATCH();
	}
	FAST(FOR_ITER) {
		uint8_t slot = READ_BYTE();
		uint8_t nvars = READ_BYTE();
		uint16_t off = READ_SHORT();
		Value *s = SLOTS + slot;
		Value seq = s[0];
		int64_t pos = AS_INT(s[1]);
		if (IS_RANGE(seq)) {
			ObjRange *r = AS_RANGE(seq);
			int64_t v;
			if (r->step == 1) {
				/* pos counts up from 0 and the loop ends as start + pos
				 * reaches end, so the sum never passes end: no overflow */
				v = (int64_t)((uint64_t)r->start + (uint64_t)pos);
				if (v >= r->end) {
					ip += off;
					DISPATCH();
				}
			} else if (__builtin_mul_overflow(pos, r->step, &v) || __builtin_add_overflow(v, r->start, &v)) {
				/* pos * step left the int64 range: only the exact count
				 * can tell whether the range goes on (rare, near the ends). */
				if ((uint64_t)pos >= range_len(r)) {
					ip += off;
					DISPATCH();
				}
				v = range_at(r, (uint64_t)pos);
			} else if (r->step > 0 ? v >= r->end : v <= r->end) {
				ip += off;
				DISPATCH();
			}
			s[1] = INT_VAL(pos + 1);
			if (nvars == 2)
				PUSH(INT_VAL(pos));
			PUSH(INT_VAL(v));
			ip += 3;
			DISPATCH();
		}
		if (IS_LIST(seq)) {
			ObjList *l = AS_LIST(seq);
			if (pos >= (int64_t)l->count) {
				ip += off;
				DISPATCH();
			}
			s[1] = INT_VAL(pos + 1);
			if (nvars == 2)
				PUSH(INT_VAL(pos));
			PUSH(list_get(l, (uint32_t)pos));
			ip += 3;
			DISPATCH();
		}
		if (IS_MAP(seq)) {
			uint32_t p = (uint32_t)pos;
			Value k, v;
			if (!map_next(AS_MAP(seq), &p, &k, &v)) {
				ip += off;
				DISPATCH();
			}
			s[1] = INT_VAL(p);
			PUSH(k);
			if (nvars == 2)
				PUSH(v);
			ip += 3;
			DISPATCH();
		}
		SAVE(); /* the rest may allocate, call or raise */
		if (IS_STRING(seq)) {
			ObjString *str = AS_STRING(seq);
			if (pos >= (int64_t)str->len) {
				ip += off;
				DISPATCH();
			}
			s[1] = INT_VAL(pos + 1);
			if (nvars == 2)
				PUSH(INT_VAL(pos));
			VM_SYNC();
			ObjString *ch = str_new(vm, str->chars + pos, 1);
			PUSH(OBJ_VAL(ch));
			ip += 3;
			DISPATCH();
		}
		if (IS_INSTANCE(seq)) {
			if (nvars == 2)
				vm_error(vm, "two loop variables need a list, string, range or map");
			Value m;
			bool found;
			m = vm_get_method(vm, seq, vm->s_next, &found);
			if (!found) {
				Value f;
				if (!map_get(AS_INSTANCE(seq)->fields, OBJ_VAL(vm->s_next), &f))
					vm_error(vm, "the iterator (a %s instance) has no next() method",
					         AS_INSTANCE(seq)->klass->name->chars);
				PUSH(f);
				VM_SYNC();
				call_value(vm, 0);
				LOAD_FRAME();
				DISPATCH();
			}
			PUSH(seq);
			VM_SYNC();
			call_closure(vm, AS_CLOSURE(m), 0);
			LOAD_FRAME();
			DISPATCH();
		}
		vm_error(vm, "cannot iterate over a %s value", value_type_name(seq));
	}
	FAST(FOR_CHECK) {
		uint16_t off = READ_SHORT();
		if (IS_NIL(PEEK(0))) {
			sp--;
			ip += off;
		}
		DISPATCH();
	}
	CASE(ECHO) {
		Value v = PEEK(0);
		if (!IS_NIL(v)) {
			StrBuf sb;
			sb_init(vm, &sb);
			sb_value(&sb, v, true);
			sb_addc(&sb, '\n');
			vm_write(vm, (const char *)sb.buf->data, sb.len);
			sb_drop(&sb);
			REFRESH_FRAME();
		}
		sp--;
		DISPATCH();
	}
	CASE(MODULE) {
		PUSH(OBJ_VAL(frame->closure->fn->module));
		DISPATCH();
	}
/* Fused operators (opcodes.h): the left operand is on the stack, the right
 * one is a constant or a local, and the result replaces the left operand. */
#define K_OPERAND (consts[READ_SHORT()])
#define L_OPERAND (SLOTS[READ_BYTE()])
#define FUSED_ARITH(NAME, BASE, OPERAND, OPR)                                                 \
	FAST(NAME) {                                                                          \
		const Value *b = &OPERAND;                                                    \
		NUM_ARITH(sp - 1, sp - 1, b, OPR, sp[-1] = (SAVE(), arith(vm, OP_##BASE, sp[-1], *b))); \
		DISPATCH();                                                                   \
	}
	FUSED_ARITH(ADD_K, ADD, K_OPERAND, +)
	FUSED_ARITH(SUB_K, SUB, K_OPERAND, -)
	FUSED_ARITH(MUL_K, MUL, K_OPERAND, *)
	FUSED_ARITH(ADD_L, ADD, L_OPERAND, +)
	FUSED_ARITH(SUB_L, SUB, L_OPERAND, -)
	FUSED_ARITH(MUL_L, MUL, L_OPERAND, *)
#undef FUSED_ARITH
	FAST(DIV_K) {
		Value b = K_OPERAND, a = PEEK(0);
		if (IS_NUMBER(a) && IS_NUMBER(b))
			sp[-1] = FLOAT_VAL(AS_NUMBER(a) / AS_NUMBER(b));
		else
			sp[-1] = (SAVE(), arith(vm, OP_DIV, a, b));
		DISPATCH();
	}
	FAST(IDIV_K) {
		Value b = K_OPERAND, a = PEEK(0);
		if (IS_INT(a) && IS_INT(b) && AS_INT(b) > 0) {
			int64_t x = AS_INT(a), y = AS_INT(b), q = x / y;
			sp[-1] = INT_VAL(q - (x % y != 0 && x < 0));
		} else {
			sp[-1] = (SAVE(), arith(vm, OP_IDIV, a, b));
		}
		DISPATCH();
	}
	FAST(MOD_K) {
		Value b = K_OPERAND, a = PEEK(0);
		if (IS_INT(a) && IS_INT(b) && AS_INT(b) > 0) {
			int64_t r = AS_INT(a) % AS_INT(b);
			sp[-1] = INT_VAL(r < 0 ? r + AS_INT(b) : r);
		} else {
			sp[-1] = (SAVE(), arith(vm, OP_MOD, a, b));
		}
		DISPATCH();
	}
/* As BRANCH_OR_PUSH above, for an instruction that consumed one operand. */
#define FUSED_BRANCH_OR_PUSH(r)                                            \
	do {                                                               \
		if (*ip == OP_JUMP_IF_FALSE) {                             \
			sp--;                                              \
			uint16_t off_ = (uint16_t)(ip[1] | (ip[2] << 8));  \
			ip += 3;                                           \
			if (!(r))                                          \
				ip += off_;                                \
			DISPATCH();                                        \
		}                                                          \
		sp[-1] = BOOL_VAL(r);                                      \
		DISPATCH();                                                \
	} while (0)
	FAST(EQ_K) {
		bool r = value_equal(PEEK(0), K_OPERAND);
		FUSED_BRANCH_OR_PUSH(r);
	}
	FAST(NE_K) {
		bool r = !value_equal(PEEK(0), K_OPERAND);
		FUSED_BRANCH_OR_PUSH(r);
	}
#define FUSED_COMPARE(NAME, OPSTR, OPERAND, CMP)                                      \
	FAST(NAME) {                                                                  \
		const Value *b = &OPERAND;                                            \
		bool r;                                                               \
		NUM_COMPARE(r, sp - 1, b, OPSTR, CMP);                                \
		FUSED_BRANCH_OR_PUSH(r);                                              \
	}
	FUSED_COMPARE(LT_K, "<", K_OPERAND, <)
	FUSED_COMPARE(LE_K, "<=", K_OPERAND, <=)
	FUSED_COMPARE(GT_K, ">", K_OPERAND, >)
	FUSED_COMPARE(GE_K, ">=", K_OPERAND, >=)
	FUSED_COMPARE(LT_L, "<", L_OPERAND, <)
	FUSED_COMPARE(LE_L, "<=", L_OPERAND, <=)
	FUSED_COMPARE(GT_L, ">", L_OPERAND, >)
	FUSED_COMPARE(GE_L, ">=", L_OPERAND, >=)
#undef FUSED_COMPARE
#undef FUSED_BRANCH_OR_PUSH
#undef K_OPERAND
#undef L_OPERAND
/* Both operands locals (ADD_LL ...): u8 left slot, u8 right slot. */
#define LOCAL_PAIR_ARITH(NAME, BASE, OPR)                                                     \
	FAST(NAME) {                                                                          \
		const Value *a = &SLOTS[ip[0]], *b = &SLOTS[ip[1]];                           \
		ip += 2;                                                                      \
		sp++;                                                                         \
		NUM_ARITH(sp - 1, a, b, OPR, {                                                \
			Value x = *a, y = *b;                                                 \
			sp[-1] = x;                                                           \
			SAVE();                                                               \
			sp[-1] = arith(vm, OP_##BASE, x, y);                                  \
		});                                                                           \
		DISPATCH();                                                                   \
	}
	LOCAL_PAIR_ARITH(ADD_LL, ADD, +)
	LOCAL_PAIR_ARITH(SUB_LL, SUB, -)
	LOCAL_PAIR_ARITH(MUL_LL, MUL, *)
#undef LOCAL_PAIR_ARITH
/* Small int immediates (opcodes.h): the _I forms replace the operand on the
 * stack, the _LI forms read a local and push. An int result only rewrites
 * the payload: the tag is INT already. */
#define IMM16(at) ((int64_t)(int16_t)(uint16_t)((at)[0] | ((at)[1] << 8)))
#define IMM_ARITH(NAME, BASE, OPR)                                                             \
	FAST(NAME) {                                                                           \
		int64_t k = IMM16(ip);                                                         \
		ip += 2;                                                                       \
		Value a = PEEK(0);                                                             \
		if (IS_INT(a))                                                                 \
			sp[-1] = INT_VAL((int64_t)((uint64_t)AS_INT(a) OPR(uint64_t) k));       \
		else if (IS_FLOAT(a))                                                          \
			sp[-1] = FLOAT_VAL(AS_FLOAT(a) OPR(double) k);                         \
		else                                                                           \
			sp[-1] = (SAVE(), arith(vm, OP_##BASE, a, INT_VAL(k)));                \
		DISPATCH();                                                                    \
	}
	IMM_ARITH(ADD_I, ADD, +)
	IMM_ARITH(SUB_I, SUB, -)
	IMM_ARITH(MUL_I, MUL, *)
#undef IMM_ARITH
	FAST(IDIV_I) {
		int64_t k = IMM16(ip);
		ip += 2;
		Value a = PEEK(0);
		if (IS_INT(a) && k > 0) {
			int64_t x = AS_INT(a), q;
			if ((k & (k - 1)) == 0) {
				/* a power of two: the arithmetic shift floors, as // does */
				q = x >> __builtin_ctzll((uint64_t)k);
			} else {
				q = x / k;
				q -= x % k != 0 && x < 0;
			}
			sp[-1] = INT_VAL(q);
		} else {
			sp[-1] = (SAVE(), arith(vm, OP_IDIV, a, INT_VAL(k)));
		}
		DISPATCH();
	}
	FAST(MOD_I) {
		int64_t k = IMM16(ip);
		ip += 2;
		Value a = PEEK(0);
		if (IS_INT(a) && k > 0) {
			int64_t r;
			if ((k & (k - 1)) == 0) {
				r = (int64_t)((uint64_t)AS_INT(a) & (uint64_t)(k - 1)); /* floored, never negative */
			} else {
				r = AS_INT(a) % k;
				r = r < 0 ? r + k : r;
			}
			sp[-1] = INT_VAL(r);
		} else {
			sp[-1] = (SAVE(), arith(vm, OP_MOD, a, INT_VAL(k)));
		}
		DISPATCH();
	}
	FAST(GET_INDEX_LL) {
		Value obj = SLOTS[ip[0]], idx = SLOTS[ip[1]];
		ip += 2;
		if (IS_LIST(obj) && IS_INT(idx)) {
			Value v;
			LIST_ITEM(AS_LIST(obj), AS_INT(idx), v);
			PUSH(v);
		} else {
			PUSH(obj);
			PUSH(idx);
			SAVE();
			Value v = get_index(vm, obj, idx);
			sp--;
			sp[-1] = v;
		}
		DISPATCH();
	}
#define LOCAL_IMM_ARITH(NAME, BASE, OPR)                                                       \
	FAST(NAME) {                                                                           \
		Value a = SLOTS[ip[0]];                                                        \
		int64_t k = IMM16(ip + 1);                                                     \
		ip += 3;                                                                       \
		if (IS_INT(a)) {                                                               \
			PUSH(INT_VAL((int64_t)((uint64_t)AS_INT(a) OPR(uint64_t) k)));         \
		} else if (IS_FLOAT(a)) {                                                      \
			PUSH(FLOAT_VAL(AS_FLOAT(a) OPR(double) k));                            \
		} else {                                                                       \
			PUSH(a);                                                               \
			VM_SYNC();                                                             \
			sp[-1] = arith(vm, OP_##BASE, a, INT_VAL(k));                          \
		}                                                                              \
		DISPATCH();                                                                    \
	}
	LOCAL_IMM_ARITH(ADD_LI, ADD, +)
	LOCAL_IMM_ARITH(SUB_LI, SUB, -)
	LOCAL_IMM_ARITH(MUL_LI, MUL, *)
#undef LOCAL_IMM_ARITH
/* A comparison with a small int: ints and floats directly (the immediate is
 * exact as a double), anything else through compare_values, which raises. */
#define IMM_COMPARE(r, a, k, OPSTR, CMP)                                                    \
	do {                                                                                \
		if (IS_INT(a)) {                                                            \
			r = AS_INT(a) CMP(k);                                               \
		} else if (IS_FLOAT(a)) {                                                   \
			r = AS_FLOAT(a) CMP(double)(k);                                     \
		} else {                                                                    \
			SAVE();                                                             \
			int c_ = compare_values(vm, a, INT_VAL(k), OPSTR);                  \
			r = c_ != 2 && c_ CMP 0;                                            \
		}                                                                           \
	} while (0)
#define IMM_EQUAL(r, a, k, CMP) (r = (IS_INT(a) ? AS_INT(a) == (k) : value_equal(a, INT_VAL(k))) CMP true)
/* The result of an _I comparison replaces its operand; an _LI one pushes.
 * Either way a JUMP_IF_FALSE right after is taken here (see BRANCH_OR_PUSH). */
#define IMM_BRANCH_OR_PUSH(r, pushes)                                      \
	do {                                                               \
		if (*ip == OP_JUMP_IF_FALSE) {                             \
			sp -= 1 - (pushes);                                \
			uint16_t off_ = (uint16_t)(ip[1] | (ip[2] << 8));  \
			ip += 3;                                           \
			if (!(r))                                          \
				ip += off_;                                \
			DISPATCH();                                        \
		}                                                          \
		sp += (pushes);                                            \
		sp[-1] = BOOL_VAL(r);                                      \
		DISPATCH();                                                \
	} while (0)
/* A test against a small int, both forms: the last argument computes r
 * from a and k. */
#define IMM_TEST_OP(NAME, ...)                                        \
	FAST(NAME##_I) {                                              \
		int64_t k = IMM16(ip);                                \
		ip += 2;                                              \
		Value a = PEEK(0);                                    \
		bool r;                                               \
		__VA_ARGS__;                                          \
		IMM_BRANCH_OR_PUSH(r, 0);                             \
	}                                                             \
	FAST(NAME##_LI) {                                             \
		Value a = SLOTS[ip[0]];                               \
		int64_t k = IMM16(ip + 1);                            \
		ip += 3;                                              \
		bool r;                                               \
		__VA_ARGS__;                                          \
		IMM_BRANCH_OR_PUSH(r, 1);                             \
	}
	IMM_TEST_OP(LT, IMM_COMPARE(r, a, k, "<", <))
	IMM_TEST_OP(LE, IMM_COMPARE(r, a, k, "<=", <=))
	IMM_TEST_OP(GT, IMM_COMPARE(r, a, k, ">", >))
	IMM_TEST_OP(GE, IMM_COMPARE(r, a, k, ">=", >=))
	IMM_TEST_OP(EQ, IMM_EQUAL(r, a, k, ==))
	IMM_TEST_OP(NE, IMM_EQUAL(r, a, k, !=))
#undef IMM_TEST_OP
#undef IMM_BRANCH_OR_PUSH
#undef IMM_EQUAL
#undef IMM_COMPARE
#undef IMM16
	FAST(GET_LOCAL_FIELD) {
		ObjString *name = AS_STRING(consts[READ_SHORT()]);
		Value recv = SLOTS[READ_BYTE()];
		if (IS_INSTANCE(recv)) {
			Value *v = map_find_str(AS_INSTANCE(recv)->fields, name);
			if (v != NULL) {
				PUSH(*v);
				DISPATCH();
			}
		}
		PUSH(recv);
		VM_SYNC();
		sp[-1] = (SAVE(), get_property(vm, recv, name));
		DISPATCH();
	}
#ifdef GALE_SWITCH_DISPATCH
	default:
		break;
	}
	RAISE("bad instruction %d", op);
#endif
}

#undef PUSH
#undef POP
#undef PEEK
#define PUSH(v) (*vm->sp++ = (v))

/* A protected run loop: an error is caught by the newest try handler that
 * belongs to this loop, else handed back (false, error in vm->thrown) with
 * the loop's frames popped. */
static bool run(GaleVM *vm, uint32_t base_frames)
{
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	uint32_t handler_base = vm->handler_count;
	int temp_base = vm->temp_count;
	int depth_base = vm->native_depth;
	int print_base = vm->print_count;
	for (;;) {
		if (setjmp(j.buf) == 0) {
			bool ok = execute(vm, base_frames, handler_base);
			vm->jmp = j.prev;
			return ok;
		}
		vm->temp_count = temp_base;
		vm->native_depth = depth_base;
		vm_unwind_printing(vm, print_base);
		vm->compiler = NULL;
		if (vm->handler_count <= handler_base)
			break;
		TryHandler h = vm->handlers[--vm->handler_count];
		vm->frame_count = h.frame_count;
		close_upvalues(vm, vm->stack + h.stack_top);
		vm->sp = vm->stack + h.stack_top;
		*vm->sp++ = vm->thrown;
		vm->frames[vm->frame_count - 1].ip = h.catch_ip;
	}
	vm->handler_count = handler_base;
	uint32_t bottom = vm->frames[base_frames].base;
	close_upvalues(vm, vm->stack + bottom);
	vm->frame_count = base_frames;
	vm->sp = vm->stack + bottom + 1;
	vm->jmp = j.prev;
	return false;
}

/* ---------------------------------------------------------------- imports */

static bool file_exists(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	fclose(f);
	return true;
}

static bool find_module_file(GaleVM *vm, ObjModule *from, const char *spec, char *out, size_t n)
{
	size_t sl = strlen(spec);
	const char *ext = sl > 5 && strcmp(spec + sl - 5, ".gale") == 0 ? "" : ".gale";
	/* relative to the importing file */
	const char *dir = ".";
	size_t dlen = 1;
	if (from != NULL && from->path != NULL) {
		const char *slash = strrchr(from->path->chars, '/');
		if (slash != NULL) {
			dir = from->path->chars;
			dlen = (size_t)(slash - dir);
		}
	}
	if (spec[0] == '/')
		snprintf(out, n, "%s%s", spec, ext);
	else
		snprintf(out, n, "%.*s/%s%s", (int)dlen, dir, spec, ext);
	if (file_exists(out))
		return true;
	if (spec[0] == '/')
		return false;
	const char *p = vm->module_path;
	while (p != NULL && *p != '\0') {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (len > 0) {
			snprintf(out, n, "%.*s/%s%s", (int)len, p, spec, ext);
			if (file_exists(out))
				return true;
		}
		p = colon ? colon + 1 : NULL;
	}
	return false;
}

static ObjModule *import_module(GaleVM *vm, ObjModule *from, ObjString *spec, bool *pushed)
{
	*pushed = false;
	Value v;
	/* built-in modules by name */
	v = module_member(vm, vm->builtins, spec);
	if (IS_MODULE(v))
		return AS_MODULE(v);
	char path[4096];
	const char *source = NULL;
	size_t len = 0;
	ObjBuf *buf = NULL;
	ObjString *key;
	bool from_host = false;
	if (find_module_file(vm, from, spec->chars, path, sizeof path)) {
		char real[4096];
		const char *canon = realpath(path, real) ? real : path;
		key = str_cstr(vm, canon);
		if (map_get(vm->modules, OBJ_VAL(key), &v))
			return AS_MODULE(v);
		vm_push_root(vm, OBJ_VAL(key));
		if (!read_file(vm, path, &buf, &len))
			vm_error(vm, "cannot read module '%s' (%s)", spec->chars, path);
		vm_pop_root(vm);
		source = (const char *)buf->data;
	} else {
		if (map_get(vm->modules, OBJ_VAL(spec), &v))
			return AS_MODULE(v);
		if (vm->config.load_module != NULL)
			source = vm->config.load_module(vm, spec->chars, vm->config.user_data);
		if (source == NULL)
			vm_error(vm, "cannot find module '%s'", spec->chars);
		from_host = true;
		len = strlen(source);
		buf = buf_new(vm, len + 1);
		memcpy(buf->data, source, len + 1);
		if (vm->config.free_source != NULL)
			vm->config.free_source(vm, source, vm->config.user_data);
		source = (const char *)buf->data;
		key = spec;
		snprintf(path, sizeof path, "%s", spec->chars);
	}
	vm_push_root(vm, OBJ_VAL(buf));
	vm_push_root(vm, OBJ_VAL(key));
	/* the module's name is the last part of the path, without .gale */
	const char *base = strrchr(spec->chars, '/');
	base = base ? base + 1 : spec->chars;
	size_t bl = strlen(base);
	if (bl > 5 && strcmp(base + bl - 5, ".gale") == 0)
		bl -= 5;
	ObjString *name = str_new(vm, base, bl);
	vm_push_root(vm, OBJ_VAL(name));
	ObjString *file = from_host ? spec : str_cstr(vm, path);
	vm_push_root(vm, OBJ_VAL(file));
	ObjModule *m = module_new(vm, name, file);
	vm_push_root(vm, OBJ_VAL(m));
	ObjString *errors = NULL;
	ObjFunction *fn = compile(vm, m, source, len, file->chars, false, &errors, NULL);
	if (fn == NULL) {
		/* strip the final newline: the message is one error value */
		size_t el = errors->len;
		while (el > 0 && errors->chars[el - 1] == '\n')
			el--;
		vm_error(vm, "%.*s", (int)(el > 900 ? 900 : el), errors->chars);
	}
	vm_push_root(vm, OBJ_VAL(fn));
	map_set(vm, vm->modules, OBJ_VAL(key), OBJ_VAL(m));
	ObjClosure *c = closure_new(vm, fn);
	vm->temp_count -= 6;
	PUSH(OBJ_VAL(c));
	call_closure(vm, c, 0);
	*pushed = true;
	return m;
}

/* ---------------------------------------------------------------- entry */

/* Run a compiled top-level function; false on an uncaught error (in thrown). */
bool vm_run_function(GaleVM *vm, ObjFunction *fn, Value *result);
static void make_closure(GaleVM *vm, void *ctx)
{
	ObjFunction **fn = ctx;
	Value c = OBJ_VAL(closure_new(vm, *fn));
	vm_push_root(vm, c);
}

bool vm_run_function(GaleVM *vm, ObjFunction *fn, Value *result)
{
	vm_push_root(vm, OBJ_VAL(fn));
	int temps = vm->temp_count - 1;
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	if (setjmp(j.buf) != 0) {
		vm->jmp = j.prev;
		vm->temp_count = temps;
		return false;
	}
	make_closure(vm, &fn);
	vm->jmp = j.prev;
	Value c = vm->temps[vm->temp_count - 1];
	bool ok = vm_pcall(vm, c, 0, NULL, result);
	vm->temp_count = temps;
	return ok;
}
