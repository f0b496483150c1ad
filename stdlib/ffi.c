/*
 * ffi.c — the `ffi` module: calling C through libffi (spec section 10).
 *
 * Five foreign classes, each a payload in a collector-owned ObjForeign:
 *   library           a dlopen handle, closed by its finalizer
 *   foreign function  an address and a signature whose cif is prepared once
 *   pointer           an address; "checked" when it points into memory from
 *                     ffi.alloc (then it knows its size and keeps the block
 *                     alive), raw and unchecked when it came from C
 *   struct            a struct layout (gffi_struct)
 *   callback          a libffi closure that runs a Gale function, freed by
 *                     its finalizer
 * The heap never moves objects, so the address of a payload or of an
 * ffi.alloc block can be handed to C and stays valid while it is reachable.
 *
 * Errors never cross C frames: a callback runs its Gale function under
 * vm_pcall, records a failure in the innermost foreign call of its VM on this
 * thread and returns zero to C; the call raises the error once ffi_call has
 * returned.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stdlib/ffi.h"
#include "vm/native.h"

typedef struct gffi_lib {
	void *handle;
	ObjString *name; /* NULL for the running process */
} gffi_lib;

typedef struct gffi_fn {
	gffi_sig sig;
	void (*addr)(void);
	ObjForeign *lib; /* keeps the library loaded; NULL for ffi.fn(pointer) */
	ObjString *name;
} gffi_fn;

typedef struct gffi_ptr {
	uint8_t *addr;
	size_t size;   /* bytes valid from addr, when checked */
	bool checked;
	ObjBuf *owner; /* the ffi.alloc block it points into, kept alive */
} gffi_ptr;

typedef struct gffi_cb {
	gffi_sig sig;
	ffi_closure *closure; /* from ffi_closure_alloc; freed by the finalizer */
	void *code;           /* the address C calls */
	Value fn;
	ObjNative *entry;     /* cb_trampoline, run under vm_pcall */
} gffi_cb;

/* One foreign call in progress: where a callback leaves its error. */
typedef struct gffi_callctx {
	GaleVM *vm;
	uint32_t pending; /* value stack index holding the error */
	bool failed;
	struct gffi_callctx *prev;
} gffi_callctx;

/* Per thread: a callback called on another thread finds no call of its VM
 * and is refused instead of running the VM concurrently. */
static __thread gffi_callctx *gffi_calls;
/* errno as the last foreign call on this thread left it, read before the VM
 * can disturb it (ffi.errno). */
static __thread int gffi_errno;

static const vm_foreign_class lib_class, fn_class, ptr_class, struct_class, cb_class;

static ObjForeign *foreign_of(void *payload)
{
	return (ObjForeign *)((char *)payload - offsetof(ObjForeign, data));
}

static bool is_class(Value v, const vm_foreign_class *cls)
{
	return IS_FOREIGN(v) && AS_FOREIGN(v)->cls == cls;
}

/* The payload of a foreign value, as a void * so the uint64_t payload array
 * is not seen read through another type (strict aliasing). */
static void *payload_of(Value v) { return FOREIGN_DATA(AS_FOREIGN(v)); }
#define PAYLOAD(v) payload_of(v)

/* Where an argument is converted, for messages: "fname: argument 2: ". */
typedef struct conv_ctx {
	const char *fname;
	int arg;   /* 1-based, or 0 when not an argument */
	int field; /* 1-based struct field, or 0 */
} conv_ctx;

static _Noreturn void conv_error(GaleVM *vm, const conv_ctx *c, const char *msg, const char *detail)
{
	char where[48] = "";
	char field[32] = "";
	if (c->arg > 0)
		snprintf(where, sizeof where, " argument %d:", c->arg);
	if (c->field > 0)
		snprintf(field, sizeof field, " field %d:", c->field);
	vm_error(vm, "%s:%s%s %s%s", c->fname, where, field, msg, detail);
}

static _Noreturn void conv_type_error(GaleVM *vm, const conv_ctx *c, const char *expected, Value got)
{
	char msg[96];
	snprintf(msg, sizeof msg, "expected %s, got ", expected);
	conv_error(vm, c, msg, value_type_name(got));
}

/* ---- types from values ---- */

/* A type given as a name or a struct; *dots for "..." when allowed. */
static void value_to_type(GaleVM *vm, const char *fname, Value v, gffi_kind *kind, ffi_type **type,
                          bool *dots)
{
	if (dots != NULL)
		*dots = false;
	if (IS_STRING(v)) {
		ObjString *s = AS_STRING(v);
		if (dots != NULL && s->len == 3 && memcmp(s->chars, "...", 3) == 0) {
			*dots = true;
			return;
		}
		const gffi_typeinfo *ti = gffi_type_lookup(s->chars, s->len);
		if (ti == NULL)
			vm_error(vm, "%s: unknown type '%.40s'", fname, s->chars);
		*kind = ti->kind;
		*type = gffi_kind_type(ti->kind);
		return;
	}
	if (is_class(v, &struct_class)) {
		*kind = GFFI_STRUCT;
		*type = &((gffi_struct *)PAYLOAD(v))->type;
		return;
	}
	vm_error(vm, "%s: expected a type name or ffi.struct, got %s", fname, value_type_name(v));
}

/*
 * A signature from (ret, [args]) or from one text "ret(args)". Structs used
 * by the result must stay reachable until it is copied into its object: they
 * come from args, which are rooted.
 */
static void build_sig(GaleVM *vm, const char *fname, gffi_sig *sig, int argc, const Value *args)
{
	char err[GFFI_ERR_MAX];
	if (argc == 1 && IS_STRING(args[0]) && memchr(AS_STRING(args[0])->chars, '(', AS_STRING(args[0])->len)) {
		ObjString *s = AS_STRING(args[0]);
		if (!gffi_sig_parse(sig, s->chars, s->len, err, sizeof err))
			vm_error(vm, "%s: %s", fname, err);
		return;
	}
	if (argc < 1 || argc > 2)
		vm_error(vm, "%s: expected a return type and a list of argument types", fname);
	gffi_sig_init(sig);
	gffi_kind kind;
	ffi_type *type;
	value_to_type(vm, fname, args[0], &kind, &type, NULL);
	if (!gffi_sig_set_ret(sig, kind, type, err, sizeof err))
		vm_error(vm, "%s: %s", fname, err);
	if (argc == 2 && !IS_NIL(args[1])) {
		if (!IS_LIST(args[1]))
			vm_error(vm, "%s: expected a list of argument types, got %s", fname,
			         value_type_name(args[1]));
		ObjList *l = AS_LIST(args[1]);
		for (uint32_t i = 0; i < l->count; i++) {
			bool dots;
			value_to_type(vm, fname, list_get(l, i), &kind, &type, &dots);
			bool ok = dots ? gffi_sig_set_variadic(sig, err, sizeof err)
			               : gffi_sig_add_arg(sig, kind, type, err, sizeof err);
			if (!ok)
				vm_error(vm, "%s: argument type %u: %s", fname, i + 1, err);
		}
	}
	if (!gffi_sig_finish(sig, err, sizeof err))
		vm_error(vm, "%s: %s", fname, err);
}

static void mark_type(GaleVM *vm, gffi_kind kind, ffi_type *type)
{
	if (kind == GFFI_STRUCT && type != NULL)
		vm_mark_obj(vm, foreign_of(gffi_struct_of(type)));
}

static void mark_sig(GaleVM *vm, const gffi_sig *sig)
{
	mark_type(vm, sig->rkind, sig->rtype);
	for (int i = 0; i < sig->nargs; i++)
		mark_type(vm, sig->kinds[i], sig->atypes[i]);
}

/* ---- pointers ---- */

static Value new_pointer(GaleVM *vm, void *addr, size_t size, bool checked, ObjBuf *owner)
{
	if (addr == NULL && !checked)
		return NIL_VAL;
	/* owner is reachable from a rooted object while this allocates */
	ObjForeign *o = vm_foreign_new(vm, &ptr_class);
	gffi_ptr *p = FOREIGN_DATA(o);
	p->addr = addr;
	p->size = size;
	p->checked = checked;
	p->owner = owner;
	return OBJ_VAL(o);
}

/* The address a pointer-like value stands for; false if it has none. */
static bool pointer_address(Value v, void **out)
{
	if (IS_NIL(v)) {
		*out = NULL;
	} else if (is_class(v, &ptr_class)) {
		*out = ((gffi_ptr *)PAYLOAD(v))->addr;
	} else if (is_class(v, &cb_class)) {
		*out = ((gffi_cb *)PAYLOAD(v))->code;
	} else if (is_class(v, &fn_class)) {
		*out = (void *)((gffi_fn *)PAYLOAD(v))->addr;
	} else {
		return false;
	}
	return true;
}

/* ---- conversions ---- */

/* Bump allocator over the rooted scratch block of one call: string copies
 * and struct arguments. */
typedef struct scratch {
	uint8_t *next, *end;
} scratch;

static void *scratch_take(scratch *sc, size_t n)
{
	uint8_t *p = sc->next;
	sc->next += (n + 15) & ~(size_t)15;
	return sc->next <= sc->end ? p : NULL;
}

static void to_c(GaleVM *vm, conv_ctx *c, gffi_kind kind, ffi_type *type, void *dst, Value v,
                 scratch *sc);

/* A struct from a list of its fields, or copied from memory holding one. */
static void struct_to_c(GaleVM *vm, conv_ctx *c, gffi_struct *st, void *dst, Value v)
{
	if (IS_LIST(v)) {
		ObjList *l = AS_LIST(v);
		if (l->count != st->count) {
			char msg[64];
			snprintf(msg, sizeof msg, "expected %u fields, got %u", st->count, l->count);
			conv_error(vm, c, msg, "");
		}
		int outer = c->field;
		for (uint32_t i = 0; i < st->count; i++) {
			c->field = (int)i + 1;
			/* strings in fields are refused (no scratch): nothing would keep
			 * the copy alive once the struct is stored */
			to_c(vm, c, st->kinds[i], st->elements[i], (uint8_t *)dst + st->offsets[i],
			     list_get(l, i), NULL);
		}
		c->field = outer;
		return;
	}
	if (is_class(v, &ptr_class)) {
		gffi_ptr *p = PAYLOAD(v);
		if (p->checked && p->size < st->type.size) {
			char msg[96];
			snprintf(msg, sizeof msg, "memory of %zu bytes is smaller than the struct (%zu)",
			         p->size, st->type.size);
			conv_error(vm, c, msg, "");
		}
		memcpy(dst, p->addr, st->type.size);
		return;
	}
	conv_type_error(vm, c, "a list of fields or a pointer", v);
}

/* Store v at dst as kind. sc is where string copies go during a call; NULL
 * refuses strings (memory the collector owns must not point at them). */
static void to_c(GaleVM *vm, conv_ctx *c, gffi_kind kind, ffi_type *type, void *dst, Value v,
                 scratch *sc)
{
	switch (kind) {
	case GFFI_INT8: case GFFI_UINT8: case GFFI_INT16: case GFFI_UINT16:
	case GFFI_INT32: case GFFI_UINT32: case GFFI_INT64: case GFFI_UINT64:
		if (!IS_INT(v))
			conv_type_error(vm, c, "int", v);
		if (!gffi_int_fits(kind, AS_INT(v))) {
			char msg[64];
			snprintf(msg, sizeof msg, "%lld does not fit in ", (long long)AS_INT(v));
			conv_error(vm, c, msg, gffi_kind_name(kind));
		}
		gffi_store_int(kind, dst, AS_INT(v));
		return;
	case GFFI_FLOAT:
	case GFFI_DOUBLE:
		if (!IS_NUMBER(v))
			conv_type_error(vm, c, "a number", v);
		gffi_store_float(kind, dst, AS_NUMBER(v));
		return;
	case GFFI_POINTER:
	case GFFI_STRING: {
		void *addr;
		if (IS_STRING(v)) {
			ObjString *s = AS_STRING(v);
			char *copy = sc != NULL ? scratch_take(sc, s->len + 1) : NULL;
			if (copy == NULL)
				conv_error(vm, c, "a string cannot be stored in memory; ",
				           "copy it into ffi.alloc memory and store that pointer");
			memcpy(copy, s->chars, s->len);
			copy[s->len] = '\0';
			addr = copy;
		} else if (!pointer_address(v, &addr)) {
			conv_type_error(vm, c, kind == GFFI_STRING ? "string" : "a pointer", v);
		}
		memcpy(dst, &addr, sizeof addr);
		return;
	}
	case GFFI_STRUCT:
		struct_to_c(vm, c, gffi_struct_of(type), dst, v);
		return;
	default:
		conv_error(vm, c, "cannot convert to ", gffi_kind_name(kind));
	}
}

/* The Gale value of a C value of kind at src. May allocate. */
static Value from_c(GaleVM *vm, gffi_kind kind, ffi_type *type, const void *src)
{
	switch (kind) {
	case GFFI_INT8: case GFFI_UINT8: case GFFI_INT16: case GFFI_UINT16:
	case GFFI_INT32: case GFFI_UINT32: case GFFI_INT64: case GFFI_UINT64:
		return INT_VAL(gffi_load_int(kind, src));
	case GFFI_FLOAT:
	case GFFI_DOUBLE:
		return FLOAT_VAL(gffi_load_float(kind, src));
	case GFFI_POINTER: {
		void *p;
		memcpy(&p, src, sizeof p);
		return new_pointer(vm, p, 0, false, NULL);
	}
	case GFFI_STRING: {
		const char *s;
		memcpy(&s, src, sizeof s);
		return s == NULL ? NIL_VAL : native_cstr(vm, s);
	}
	case GFFI_STRUCT: {
		gffi_struct *st = gffi_struct_of(type);
		ObjList *l = list_new(vm, st->count);
		vm_push_root(vm, OBJ_VAL(l));
		for (uint32_t i = 0; i < st->count; i++) {
			Value f = from_c(vm, st->kinds[i], st->elements[i], (const uint8_t *)src + st->offsets[i]);
			vm_push_root(vm, f);
			list_push(vm, l, f);
			vm_pop_root(vm);
		}
		vm_pop_root(vm);
		return OBJ_VAL(l);
	}
	default:
		return NIL_VAL;
	}
}

/* The C type a value takes past "...": int -> int64_t, float -> double,
 * string -> char *, foreign -> pointer, nil -> NULL. */
static void promote(GaleVM *vm, conv_ctx *c, Value v, gffi_kind *kind)
{
	void *unused;
	if (IS_INT(v))
		*kind = GFFI_INT64;
	else if (IS_FLOAT(v))
		*kind = GFFI_DOUBLE;
	else if (IS_STRING(v))
		*kind = GFFI_STRING;
	else if (pointer_address(v, &unused))
		*kind = GFFI_POINTER;
	else
		conv_error(vm, c, "cannot pass through '...' a value of type ", value_type_name(v));
}

/* ---- calling C ---- */

typedef union gffi_slot {
	int64_t i;
	double d;
	void *p;
	ffi_arg a;
	uint8_t b[16];
} gffi_slot;

/* Scratch bytes an argument needs beyond its slot. */
static size_t scratch_need(gffi_kind kind, ffi_type *type, Value v)
{
	if ((kind == GFFI_STRING || kind == GFFI_POINTER) && IS_STRING(v))
		return (AS_STRING(v)->len + 1 + 15) & ~(size_t)15;
	if (kind == GFFI_STRUCT)
		return (type->size + 15) & ~(size_t)15;
	return 0;
}

/*
 * Call addr with signature sig on args[0..argc); the result goes to *ret.
 * Two rooted slots go on the value stack above the arguments: the scratch
 * block and a callback's pending error. They cost no temp roots, so callbacks
 * can nest as deep as the VM's call depth allows. The stack may move when
 * it grows (here or in a callback), so only indices into it are kept across
 * those points, and args is not read once C runs.
 */
static void do_call(GaleVM *vm, const gffi_sig *sig, void (*addr)(void), const char *fname, int argc,
                    Value *args, Value *ret)
{
	if (!sig->variadic && argc != sig->nargs)
		vm_error(vm, "%s() takes %d argument%s but %d %s given", fname, sig->nargs,
		         sig->nargs == 1 ? "" : "s", argc, argc == 1 ? "was" : "were");
	if (sig->variadic && argc < sig->nargs)
		vm_error(vm, "%s() takes at least %d argument%s but %d %s given", fname, sig->nargs,
		         sig->nargs == 1 ? "" : "s", argc, argc == 1 ? "was" : "were");
	if (argc > GFFI_MAX_ARGS)
		vm_error(vm, "%s: at most %d arguments, got %d", fname, GFFI_MAX_ARGS, argc);

	bool args_on_stack = args >= vm->stack && args < vm->stack + vm->stack_cap;
	ptrdiff_t args_at = args - vm->stack;
	vm_reserve(vm, 2);
	if (args_on_stack)
		args = vm->stack + args_at;
	uint32_t slots_at = (uint32_t)(vm->sp - vm->stack);
	*vm->sp++ = NIL_VAL; /* slots_at: the scratch block */
	*vm->sp++ = NIL_VAL; /* slots_at + 1: a callback's error */

	conv_ctx c = {fname, 0, 0};
	gffi_kind kinds[GFFI_MAX_ARGS];
	ffi_type *types[GFFI_MAX_ARGS];
	for (int i = 0; i < argc; i++) {
		if (i < sig->nargs) {
			kinds[i] = sig->kinds[i];
			types[i] = sig->atypes[i];
		} else {
			c.arg = i + 1;
			promote(vm, &c, args[i], &kinds[i]);
			types[i] = gffi_kind_type(kinds[i]);
		}
	}

	ffi_cif local;
	ffi_type *all[GFFI_MAX_ARGS];
	ffi_cif *cif = (ffi_cif *)&sig->cif;
	if (sig->variadic) {
		char err[GFFI_ERR_MAX];
		if (!gffi_sig_prepare_var(sig, &local, all, types + sig->nargs,
		                          (unsigned)(argc - sig->nargs), err, sizeof err))
			vm_error(vm, "%s: %s", fname, err);
		cif = &local;
	}

	/* one block for string copies, struct arguments and a struct result;
	 * the heap does not move it while C holds its addresses */
	size_t need = 0;
	for (int i = 0; i < argc; i++)
		need += scratch_need(kinds[i], types[i], args[i]);
	bool big_ret = sig->rkind == GFFI_STRUCT;
	if (big_ret)
		need += (gffi_ret_size(sig->rkind, sig->rtype) + 16 + 15) & ~(size_t)15;
	scratch sc = {NULL, NULL};
	if (need > 0) {
		ObjBuf *b = buf_new(vm, need);
		vm->stack[slots_at] = OBJ_VAL(b);
		sc.next = (uint8_t *)b->data;
		sc.end = sc.next + need;
	}

	gffi_slot slots[GFFI_MAX_ARGS];
	void *avalues[GFFI_MAX_ARGS];
	for (int i = 0; i < argc; i++) {
		c.arg = i + 1;
		void *dst = kinds[i] == GFFI_STRUCT ? scratch_take(&sc, types[i]->size) : &slots[i];
		to_c(vm, &c, kinds[i], types[i], dst, args[i], &sc);
		avalues[i] = dst;
	}
	gffi_slot rslot = {.i = 0};
	void *rvalue = big_ret ? scratch_take(&sc, gffi_ret_size(sig->rkind, sig->rtype) + 16) : &rslot;

	gffi_callctx ctx = {vm, slots_at + 1, false, gffi_calls};
	uintptr_t stack0 = (uintptr_t)vm->stack;
	uintptr_t ret_off = (uintptr_t)ret - stack0;
	bool ret_on_stack = (uintptr_t)ret >= stack0 && ret_off < (uintptr_t)vm->stack_cap * sizeof(Value);

	gffi_calls = &ctx;
	errno = 0;
	ffi_call(cif, addr, rvalue, argc > 0 ? avalues : NULL);
	gffi_errno = errno;
	gffi_calls = ctx.prev;

	if (ret_on_stack)
		ret = (Value *)((uintptr_t)vm->stack + ret_off);
	if (ctx.failed)
		vm_throw(vm, vm->stack[ctx.pending]); /* unwinding resets sp */
	Value result;
	if (gffi_kind_is_int(sig->rkind))
		result = INT_VAL(gffi_load_ret_int(sig->rkind, rvalue));
	else if (sig->rkind == GFFI_VOID)
		result = NIL_VAL;
	else
		result = from_c(vm, sig->rkind, sig->rtype, rvalue);
	*ret = result;
	vm->sp = vm->stack + slots_at;
}

/* ---- callbacks ---- */

/* What cb_trampoline needs, passed to it as an address in an int. */
typedef struct gffi_cbframe {
	gffi_cb *cb;
	void *ret;
	void **cargs;
} gffi_cbframe;

/* Runs under vm_pcall: converts the C arguments, calls the Gale function and
 * stores its result for C. Any error raised here is caught by the pcall. */
static void cb_trampoline(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret; /* nil: the real result goes to C */
	gffi_cbframe *fr = (gffi_cbframe *)(uintptr_t)AS_INT(args[1]);
	gffi_cb *cb = fr->cb;
	const gffi_sig *sig = &cb->sig;
	/* the converted arguments wait on the value stack, where they are
	 * rooted; args and ret are not used past this point */
	vm_reserve(vm, (size_t)sig->nargs);
	uint32_t base = (uint32_t)(vm->sp - vm->stack);
	for (int i = 0; i < sig->nargs; i++) {
		Value v = from_c(vm, sig->kinds[i], sig->atypes[i], fr->cargs[i]);
		*vm->sp++ = v;
	}
	Value out = NIL_VAL;
	vm_call(vm, cb->fn, sig->nargs, vm->stack + base, &out);
	vm->sp = vm->stack + base;
	/* storing the result allocates nothing: out needs no root */
	conv_ctx c = {"callback result", 0, 0};
	if (gffi_kind_is_int(sig->rkind)) {
		if (!IS_INT(out))
			conv_type_error(vm, &c, "int", out);
		if (!gffi_int_fits(sig->rkind, AS_INT(out))) {
			char msg[64];
			snprintf(msg, sizeof msg, "%lld does not fit in ", (long long)AS_INT(out));
			conv_error(vm, &c, msg, gffi_kind_name(sig->rkind));
		}
		gffi_store_ret_int(sig->rkind, fr->ret, AS_INT(out));
	} else if (sig->rkind != GFFI_VOID) {
		to_c(vm, &c, sig->rkind, sig->rtype, fr->ret, out, NULL);
	}
}

static gffi_callctx *find_call(GaleVM *vm)
{
	for (gffi_callctx *c = gffi_calls; c != NULL; c = c->prev)
		if (c->vm == vm)
			return c;
	return NULL;
}

/* What C calls. Never longjmps: every error is caught and recorded. */
static void cb_entry(ffi_cif *cif, void *ret, void **cargs, void *user)
{
	(void)cif;
	gffi_cb *cb = user;
	ObjForeign *self = foreign_of(cb);
	GaleVM *vm = self->vm;
	size_t rsize = gffi_ret_size(cb->sig.rkind, cb->sig.rtype);
	memset(ret, 0, rsize);
	gffi_callctx *ctx = find_call(vm);
	/* outside any foreign call of this VM on this thread the VM is not
	 * ours to run; after a failure the error is already waiting */
	if (ctx == NULL || ctx->failed)
		return;
	gffi_cbframe fr = {cb, ret, cargs};
	Value argv[2] = {OBJ_VAL(self), INT_VAL((int64_t)(uintptr_t)&fr)};
	Value out;
	if (!vm_pcall(vm, OBJ_VAL(cb->entry), 2, argv, &out)) {
		memset(ret, 0, rsize);
		vm->stack[ctx->pending] = vm->thrown;
		ctx->failed = true;
	}
}

static void cb_finalize(GaleVM *vm, void *payload)
{
	(void)vm;
	gffi_cb *cb = payload;
	if (cb->closure != NULL)
		ffi_closure_free(cb->closure);
	cb->closure = NULL;
}

static void cb_trace(GaleVM *vm, void *payload)
{
	gffi_cb *cb = payload;
	vm_mark_value(vm, cb->fn);
	vm_mark_obj(vm, cb->entry);
	mark_sig(vm, &cb->sig);
}

/* Calling a callback from Gale goes through C like any foreign call. */
static void cb_call(GaleVM *vm, int argc, Value *args, Value *ret)
{
	gffi_cb *cb = PAYLOAD(NATIVE_SELF);
	do_call(vm, &cb->sig, (void (*)(void))cb->code, "callback", argc, args, ret);
}

static void cb_address(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)(uintptr_t)((gffi_cb *)PAYLOAD(NATIVE_SELF))->code);
}

static const vm_reg cb_methods[] = {
	{"address", cb_address, 0, "address(): the C address of the callback's code, as an int"},
	{NULL, NULL, 0, NULL},
};

static void ffi_callback(GaleVM *vm, int argc, Value *args, Value *ret)
{
	const char *fname = "ffi.callback";
	if (argc < 2 || argc > 3)
		vm_error(vm, "%s: expected (fn, ret, [args]) or (fn, \"ret(args)\"), got %d arguments",
		         fname, argc);
	native_callable(vm, args, 0, fname);
	gffi_sig sig;
	build_sig(vm, fname, &sig, argc - 1, args + 1);
	if (sig.variadic)
		vm_error(vm, "%s: a callback cannot be variadic", fname);
	if (sig.rkind == GFFI_STRING)
		vm_error(vm, "%s: a callback cannot return string (nothing would keep it alive); "
		         "return a pointer", fname);

	ObjForeign *o = vm_foreign_new(vm, &cb_class);
	vm_push_root(vm, OBJ_VAL(o));
	gffi_cb *cb = FOREIGN_DATA(o);
	cb->fn = args[0];
	cb->sig = sig;
	char err[GFFI_ERR_MAX];
	if (!gffi_sig_finish(&cb->sig, err, sizeof err)) /* cif points into the payload now */
		vm_error(vm, "%s: %s", fname, err);
	cb->entry = native_new(vm, "callback", cb_trampoline, 2, NULL);
	/* the finalizer frees the closure even if preparing it fails below */
	cb->closure = ffi_closure_alloc(sizeof(ffi_closure), &cb->code);
	if (cb->closure == NULL)
		vm_error(vm, "%s: cannot allocate a closure", fname);
	if (ffi_prep_closure_loc(cb->closure, &cb->sig.cif, cb_entry, cb, cb->code) != FFI_OK)
		vm_error(vm, "%s: libffi cannot prepare the closure", fname);
	vm_pop_root(vm);
	*ret = OBJ_VAL(o);
}

/* ---- foreign functions ---- */

static void fn_trace(GaleVM *vm, void *payload)
{
	gffi_fn *f = payload;
	vm_mark_obj(vm, f->lib);
	vm_mark_obj(vm, f->name);
	mark_sig(vm, &f->sig);
}

static void fn_call(GaleVM *vm, int argc, Value *args, Value *ret)
{
	gffi_fn *f = PAYLOAD(NATIVE_SELF);
	do_call(vm, &f->sig, f->addr, f->name->chars, argc, args, ret);
}

static void fn_address(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)(uintptr_t)((gffi_fn *)PAYLOAD(NATIVE_SELF))->addr);
}

static const vm_reg fn_methods[] = {
	{"address", fn_address, 0, "address(): the function's C address, as an int"},
	{NULL, NULL, 0, NULL},
};

/* A foreign function object for addr; lib may be NULL. */
static Value make_fn(GaleVM *vm, const char *fname, void *addr, ObjForeign *lib, ObjString *name,
                     int argc, const Value *sigargs)
{
	gffi_sig sig;
	build_sig(vm, fname, &sig, argc, sigargs);
	ObjForeign *o = vm_foreign_new(vm, &fn_class);
	gffi_fn *f = FOREIGN_DATA(o);
	f->sig = sig;
	char err[GFFI_ERR_MAX];
	if (!gffi_sig_finish(&f->sig, err, sizeof err)) /* re-point the cif at its new home */
		vm_error(vm, "%s: %s", fname, err);
	f->addr = (void (*)(void))addr;
	f->lib = lib;
	f->name = name;
	return OBJ_VAL(o);
}

/* ---- libraries ---- */

static void lib_finalize(GaleVM *vm, void *payload)
{
	(void)vm;
	gffi_lib *l = payload;
	if (l->handle != NULL)
		dlclose(l->handle);
	l->handle = NULL;
}

static void lib_trace(GaleVM *vm, void *payload)
{
	vm_mark_obj(vm, ((gffi_lib *)payload)->name);
}

static const char *lib_name(gffi_lib *l) { return l->name != NULL ? l->name->chars : "the running process"; }

static void *lib_symbol(GaleVM *vm, gffi_lib *l, ObjString *name, const char *fname)
{
	if (memchr(name->chars, '\0', name->len) != NULL)
		vm_error(vm, "%s: a symbol name cannot contain NUL bytes", fname);
	dlerror();
	void *p = dlsym(l->handle, name->chars);
	if (p == NULL && dlerror() != NULL)
		vm_error(vm, "%s: symbol '%.80s' not found in %.200s", fname, name->chars, lib_name(l));
	return p;
}

static void lib_fn(GaleVM *vm, int argc, Value *args, Value *ret)
{
	const char *fname = "library.fn";
	if (argc < 2 || argc > 3)
		vm_error(vm, "%s: expected (name, ret, [args]) or (name, \"ret(args)\"), got %d arguments",
		         fname, argc);
	ObjString *name = native_string(vm, args, 0, fname);
	gffi_lib *l = PAYLOAD(NATIVE_SELF);
	void *addr = lib_symbol(vm, l, name, fname);
	if (addr == NULL)
		vm_error(vm, "%s: symbol '%.80s' has address NULL", fname, name->chars);
	*ret = make_fn(vm, fname, addr, AS_FOREIGN(NATIVE_SELF), name, argc - 1, args + 1);
}

static void lib_sym(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *name = native_string(vm, args, 0, "library.sym");
	void *addr = lib_symbol(vm, PAYLOAD(NATIVE_SELF), name, "library.sym");
	*ret = new_pointer(vm, addr, 0, false, NULL);
}

static const vm_reg lib_methods[] = {
	{"fn", lib_fn, -1, "fn(name, ret, [args]) or fn(name, \"ret(args)\"): a callable C function"},
	{"sym", lib_sym, 1, "sym(name): the address of a symbol, as a raw pointer"},
	{NULL, NULL, 0, NULL},
};

static void ffi_open(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	ObjString *path = NULL;
	if (!IS_NIL(args[0])) {
		path = native_string(vm, args, 0, "ffi.open");
		if (memchr(path->chars, '\0', path->len) != NULL)
			vm_error(vm, "ffi.open: a path cannot contain NUL bytes");
	}
	/* the object first, so a handle never exists without its finalizer */
	ObjForeign *o = vm_foreign_new(vm, &lib_class);
	gffi_lib *l = FOREIGN_DATA(o);
	l->name = path;
	l->handle = dlopen(path != NULL ? path->chars : NULL, RTLD_NOW | RTLD_LOCAL);
	if (l->handle == NULL) {
		const char *why = dlerror();
		vm_error(vm, "ffi.open: %.400s", why != NULL ? why : "cannot open library");
	}
	*ret = OBJ_VAL(o);
}

static void ffi_fn(GaleVM *vm, int argc, Value *args, Value *ret)
{
	const char *fname = "ffi.fn";
	if (argc < 2 || argc > 3)
		vm_error(vm, "%s: expected (pointer, ret, [args]) or (pointer, \"ret(args)\")", fname);
	void *addr;
	if (!pointer_address(args[0], &addr) || addr == NULL)
		vm_error(vm, "%s: expected a non-NULL pointer, got %s", fname, value_type_name(args[0]));
	ObjString *name = str_intern_cstr(vm, "foreign function");
	vm_push_root(vm, OBJ_VAL(name));
	*ret = make_fn(vm, fname, addr, NULL, name, argc - 1, args + 1);
	vm_pop_root(vm);
}

/* ---- memory ---- */

static void ptr_trace(GaleVM *vm, void *payload)
{
	vm_mark_obj(vm, ((gffi_ptr *)payload)->owner);
}

/* The address of size bytes at offset from p, bounds-checked when p is. */
static uint8_t *ptr_at(GaleVM *vm, gffi_ptr *p, Value off, gffi_kind kind, ffi_type *type,
                       const char *fname)
{
	if (!IS_INT(off))
		vm_error(vm, "%s: expected an int offset, got %s", fname, value_type_name(off));
	int64_t o = AS_INT(off);
	size_t size = gffi_sizeof(kind, type);
	if (p->checked && (o < 0 || (uint64_t)o > p->size || size > p->size - (uint64_t)o))
		vm_error(vm, "%s: %s (%zu bytes) at offset %lld is outside the %zu-byte memory", fname,
		         gffi_kind_name(kind), size, (long long)o, p->size);
	return p->addr + o;
}

static void ptr_read(GaleVM *vm, int argc, Value *args, Value *ret)
{
	const char *fname = "pointer.read";
	if (argc < 1 || argc > 2)
		vm_error(vm, "%s: expected (type, offset), got %d arguments", fname, argc);
	gffi_kind kind;
	ffi_type *type;
	value_to_type(vm, fname, args[0], &kind, &type, NULL);
	if (kind == GFFI_VOID)
		vm_error(vm, "%s: cannot read void", fname);
	uint8_t *at = ptr_at(vm, PAYLOAD(NATIVE_SELF), argc > 1 ? args[1] : INT_VAL(0), kind, type, fname);
	*ret = from_c(vm, kind, type, at);
}

static void ptr_write(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	(void)ret;
	const char *fname = "pointer.write";
	gffi_kind kind;
	ffi_type *type;
	value_to_type(vm, fname, args[0], &kind, &type, NULL);
	if (kind == GFFI_VOID)
		vm_error(vm, "%s: cannot write void", fname);
	uint8_t *at = ptr_at(vm, PAYLOAD(NATIVE_SELF), args[1], kind, type, fname);
	/* convert into a staging copy so a bad field leaves memory untouched */
	size_t n = gffi_sizeof(kind, type);
	uint8_t small[64];
	uint8_t *stage = small;
	if (n > sizeof small) {
		ObjBuf *b = buf_new(vm, n);
		vm_push_root(vm, OBJ_VAL(b));
		stage = (uint8_t *)b->data;
	}
	memcpy(stage, at, n);
	conv_ctx c = {fname, 0, 0};
	to_c(vm, &c, kind, type, stage, args[2], NULL);
	memcpy(at, stage, n);
	if (stage != small)
		vm_pop_root(vm);
}

static void ptr_offset(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	gffi_ptr *p = PAYLOAD(NATIVE_SELF);
	int64_t n = native_int(vm, args, 0, "pointer.offset");
	if (p->checked) {
		if (n < 0 || (uint64_t)n > p->size)
			vm_error(vm, "pointer.offset: %lld is outside the %zu-byte memory", (long long)n, p->size);
		*ret = new_pointer(vm, p->addr + n, p->size - (size_t)n, true, p->owner);
	} else {
		*ret = new_pointer(vm, (void *)((uintptr_t)p->addr + (uintptr_t)n), 0, false, p->owner);
	}
}

static void ptr_address(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)(uintptr_t)((gffi_ptr *)PAYLOAD(NATIVE_SELF))->addr);
}

static void ptr_size(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	gffi_ptr *p = PAYLOAD(NATIVE_SELF);
	*ret = p->checked ? INT_VAL((int64_t)p->size) : NIL_VAL;
}

/* A C string (or len bytes) at a pointer; shared by ffi.string. */
static Value pointer_string(GaleVM *vm, Value pv, int argc, const Value *lenarg, const char *fname)
{
	if (IS_NIL(pv))
		vm_error(vm, "%s: NULL pointer", fname);
	if (!is_class(pv, &ptr_class))
		vm_error(vm, "%s: expected a pointer, got %s", fname, value_type_name(pv));
	gffi_ptr *p = PAYLOAD(pv);
	size_t n;
	if (argc > 0 && !IS_NIL(lenarg[0])) {
		if (!IS_INT(lenarg[0]))
			vm_error(vm, "%s: expected an int length, got %s", fname, value_type_name(lenarg[0]));
		if (AS_INT(lenarg[0]) < 0)
			vm_error(vm, "%s: negative length %lld", fname, (long long)AS_INT(lenarg[0]));
		if (p->checked && (uint64_t)AS_INT(lenarg[0]) > p->size)
			vm_error(vm, "%s: %lld bytes are more than the %zu-byte memory", fname,
			         (long long)AS_INT(lenarg[0]), p->size);
		n = (size_t)AS_INT(lenarg[0]);
	} else {
		/* within ffi.alloc memory the terminator is searched only there */
		n = p->checked ? strnlen((const char *)p->addr, p->size) : strlen((const char *)p->addr);
	}
	return native_str(vm, (const char *)p->addr, n);
}

static void ptr_string(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc > 1)
		vm_error(vm, "pointer.string: expected (len?), got %d arguments", argc);
	*ret = pointer_string(vm, NATIVE_SELF, argc, args, "pointer.string");
}

static const vm_reg ptr_methods[] = {
	{"read", ptr_read, -1, "read(type, offset): the value of a C type at a byte offset"},
	{"write", ptr_write, 3, "write(type, offset, value): store a value as a C type"},
	{"offset", ptr_offset, 1, "offset(n): a pointer n bytes further"},
	{"address", ptr_address, 0, "address(): the address as an int"},
	{"size", ptr_size, 0, "size(): bytes of ffi.alloc memory from here, nil when raw"},
	{"string", ptr_string, -1, "string(len?): the C string here (or len bytes)"},
	{NULL, NULL, 0, NULL},
};

/* Most bytes one ffi.alloc may ask for (the heap's own cap applies too). */
#define GFFI_MAX_ALLOC ((int64_t)1 << 40)

static Value alloc_memory(GaleVM *vm, size_t n)
{
	ObjBuf *b = buf_new(vm, n > 0 ? n : 1);
	vm_push_root(vm, OBJ_VAL(b));
	memset(b->data, 0, n); /* zeroed is part of ffi.alloc's contract */
	Value p = new_pointer(vm, b->data, n, true, b);
	vm_pop_root(vm);
	return p;
}

static void ffi_alloc(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	int64_t n = native_int(vm, args, 0, "ffi.alloc");
	if (n < 0 || n > GFFI_MAX_ALLOC)
		vm_error(vm, "ffi.alloc: cannot allocate %lld bytes", (long long)n);
	*ret = alloc_memory(vm, (size_t)n);
}

static void ffi_string(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc < 1 || argc > 2)
		vm_error(vm, "ffi.string: expected (pointer, len?), got %d arguments", argc);
	*ret = pointer_string(vm, args[0], argc - 1, args + 1, "ffi.string");
}

static void ffi_cast(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	void *addr;
	if (IS_INT(args[0])) {
		*ret = new_pointer(vm, (void *)(uintptr_t)AS_INT(args[0]), 0, false, NULL);
		return;
	}
	if (!pointer_address(args[0], &addr))
		vm_error(vm, "ffi.cast: expected an int or a pointer, got %s", value_type_name(args[0]));
	ObjBuf *owner = is_class(args[0], &ptr_class) ? ((gffi_ptr *)PAYLOAD(args[0]))->owner : NULL;
	*ret = new_pointer(vm, addr, 0, false, owner);
}

static void ffi_errno(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	(void)args;
	*ret = INT_VAL(gffi_errno);
}

static void type_of_arg(GaleVM *vm, const char *fname, Value v, gffi_kind *kind, ffi_type **type)
{
	value_to_type(vm, fname, v, kind, type, NULL);
	if (*kind == GFFI_VOID)
		vm_error(vm, "%s: void has no size", fname);
}

static void ffi_sizeof(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	gffi_kind kind;
	ffi_type *type;
	type_of_arg(vm, "ffi.sizeof", args[0], &kind, &type);
	*ret = INT_VAL((int64_t)gffi_sizeof(kind, type));
}

static void ffi_alignof(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	gffi_kind kind;
	ffi_type *type;
	type_of_arg(vm, "ffi.alignof", args[0], &kind, &type);
	*ret = INT_VAL((int64_t)gffi_alignof(kind, type));
}

/* ---- structs ---- */

static void struct_trace(GaleVM *vm, void *payload)
{
	gffi_struct *s = payload;
	for (uint32_t i = 0; i < s->count; i++)
		mark_type(vm, s->kinds[i], s->elements[i]);
}

static void ffi_struct(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	const char *fname = "ffi.struct";
	ObjList *l = native_list(vm, args, 0, fname);
	/* the nested structs named in the list stay reachable through args */
	ObjForeign *o = vm_foreign_new(vm, &struct_class);
	gffi_struct *s = FOREIGN_DATA(o);
	gffi_struct_init(s);
	char err[GFFI_ERR_MAX];
	for (uint32_t i = 0; i < l->count; i++) {
		gffi_kind kind;
		ffi_type *type;
		value_to_type(vm, fname, list_get(l, i), &kind, &type, NULL);
		if (!gffi_struct_add(s, kind, type, err, sizeof err))
			vm_error(vm, "%s: field %u: %s", fname, i + 1, err);
	}
	if (!gffi_struct_finish(s, err, sizeof err))
		vm_error(vm, "%s: %s", fname, err);
	*ret = OBJ_VAL(o);
}

static void struct_size(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)((gffi_struct *)PAYLOAD(NATIVE_SELF))->type.size);
}

static void struct_align(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)((gffi_struct *)PAYLOAD(NATIVE_SELF))->type.alignment);
}

static void struct_count(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)vm;
	(void)argc;
	*ret = INT_VAL((int64_t)((gffi_struct *)PAYLOAD(NATIVE_SELF))->count);
}

static void struct_offset(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)argc;
	gffi_struct *s = PAYLOAD(NATIVE_SELF);
	int64_t i = native_int(vm, args, 0, "struct.offset");
	if (i < 0 || i >= (int64_t)s->count)
		vm_error(vm, "struct.offset: field %lld does not exist (the struct has %u)", (long long)i,
		         s->count);
	*ret = INT_VAL((int64_t)s->offsets[i]);
}

static void struct_new(GaleVM *vm, int argc, Value *args, Value *ret)
{
	if (argc > 1)
		vm_error(vm, "struct.new: expected (fields?), got %d arguments", argc);
	gffi_struct *s = PAYLOAD(NATIVE_SELF);
	Value mem = alloc_memory(vm, s->type.size);
	vm_push_root(vm, mem);
	if (argc == 1 && !IS_NIL(args[0])) {
		conv_ctx c = {"struct.new", 0, 0};
		to_c(vm, &c, GFFI_STRUCT, &s->type, ((gffi_ptr *)PAYLOAD(mem))->addr, args[0], NULL);
	}
	vm_pop_root(vm);
	*ret = mem;
}

static const vm_reg struct_methods[] = {
	{"size", struct_size, 0, "size(): the struct's size in bytes, padding included"},
	{"align", struct_align, 0, "align(): the struct's alignment"},
	{"count", struct_count, 0, "count(): the number of fields"},
	{"offset", struct_offset, 1, "offset(i): the byte offset of field i (from 0)"},
	{"new", struct_new, -1, "new(fields?): zeroed ffi.alloc memory for one struct, filled from a list"},
	{NULL, NULL, 0, NULL},
};

/* ---- the module ---- */

static const vm_foreign_class lib_class = {"library", sizeof(gffi_lib), lib_finalize, lib_trace,
                                           lib_methods, NULL};
static const vm_foreign_class fn_class = {"foreign function", sizeof(gffi_fn), NULL, fn_trace,
                                          fn_methods, fn_call};
static const vm_foreign_class ptr_class = {"pointer", sizeof(gffi_ptr), NULL, ptr_trace,
                                           ptr_methods, NULL};
static const vm_foreign_class struct_class = {"struct", sizeof(gffi_struct), NULL, struct_trace,
                                              struct_methods, NULL};
static const vm_foreign_class cb_class = {"callback", sizeof(gffi_cb), cb_finalize, cb_trace,
                                          cb_methods, cb_call};

static const vm_reg ffi_funcs[] = {
	{"open", ffi_open, 1, "open(path): load a shared library (nil: the running process)"},
	{"alloc", ffi_alloc, 1, "alloc(n): n zeroed bytes owned by the collector"},
	{"string", ffi_string, -1, "string(ptr, len?): copy a C string (or len bytes) into a string"},
	{"struct", ffi_struct, 1, "struct([types]): a C struct layout with size() and offset(i)"},
	{"callback", ffi_callback, -1, "callback(fn, ret, [args]): a C function pointer that calls fn"},
	{"fn", ffi_fn, -1, "fn(ptr, ret, [args]): call a C function by its address"},
	{"cast", ffi_cast, 1, "cast(x): a raw, unchecked pointer from an int or pointer-like value"},
	{"sizeof", ffi_sizeof, 1, "sizeof(type): the size of a C type or struct in bytes"},
	{"alignof", ffi_alignof, 1, "alignof(type): the alignment of a C type or struct"},
	{"errno", ffi_errno, 0, "errno(): C's errno right after the last foreign call returned"},
	{NULL, NULL, 0, NULL},
};

void ffi_open_module(GaleVM *vm)
{
	vm_define_module(vm, "ffi", ffi_funcs);
}
