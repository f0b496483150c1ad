/*
 * api.c — the public interface of include/gale.h.
 *
 * The GaleVM struct itself, the value stack, the frames and the handle table
 * are manual memory from stackalloc; everything else lives in the VM's
 * garbage-collected heap. Every entry point that can allocate runs inside a
 * protected region so an "out of memory" (or any error) comes back as a
 * result code: the host is never inside a protected region of its own.
 *
 * The C view of values is the VM's own value stack (as in Lua): the host
 * pushes above whatever is there, a C function above its arguments, and
 * everything below sp is a root. Handles are slots of a table that vm_roots
 * marks, registered with gcAddRoots like every other VM root.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gale.h"
#include "vm/compiler.h"
#include "vm/lexer.h"
#include "vm/native.h"
#include "vm/vm.h"
#include "vm/diag.h"

bool vm_run_function(GaleVM *vm, ObjFunction *fn, Value *result);
const vm_reg *core_table(int which);

#define INITIAL_STACK 1024
#define INITIAL_FRAMES 256

/* ---------------------------------------------------------------- roots */

static void vm_roots(runtime *rt, void *ctx)
{
	GaleVM *vm = ctx;
	for (Value *v = vm->stack; v < vm->sp; v++)
		if (IS_OBJ(*v))
			gcMark(rt, AS_OBJ(*v));
	for (uint32_t i = 0; i < vm->frame_count; i++) {
		gcMark(rt, vm->frames[i].closure);
		gcMark(rt, vm->frames[i].native);
	}
	for (int i = 0; i < vm->temp_count; i++)
		vm_mark_value(vm, vm->temps[i]);
	for (ObjUpvalue *u = vm->open_upvalues; u != NULL; u = u->next)
		gcMark(rt, u);
	for (uint32_t i = 0; i < vm->handle_count; i++)
		vm_mark_value(vm, vm->handles[i]);
	vm_mark_value(vm, vm->thrown);
	vm_mark_value(vm, vm->oom_error);
	gcMark(rt, vm->throw_file);
	gcMark(rt, vm->builtins);
	gcMark(rt, vm->modules);
	gcMark(rt, vm->repl);
	for (int k = 0; k < OBJ_KIND_COUNT; k++)
		gcMark(rt, vm->type_methods[k]);
	gcMark(rt, vm->s_init);
	gcMark(rt, vm->s_toString);
	gcMark(rt, vm->s_iter);
	gcMark(rt, vm->s_next);
	gcMark(rt, vm->s_message);
	gcMark(rt, vm->s_trace);
	gcMark(rt, vm->module_path_str);
	gcMark(rt, vm->last_error);
	gcMark(rt, vm->host_module);
	gcMark(rt, vm->args);
	compiler_mark_roots(vm);
}

static void vm_weak(runtime *rt, void *ctx)
{
	(void)rt;
	str_table_sweep((GaleVM *)ctx);
}

/* ---------------------------------------------------------------- output */

void vm_write(GaleVM *vm, const char *s, size_t n)
{
	if (vm->config.write != NULL)
		vm->config.write(vm, s, n, vm->config.user_data);
	else
		fwrite(s, 1, n, stdout);
}

void vm_write_error(GaleVM *vm, const char *s, size_t n)
{
	if (vm->config.error != NULL) {
		vm->config.error(vm, s, n, vm->config.user_data);
	} else {
		fflush(stdout);
		fwrite(s, 1, n, stderr);
	}
}

/* ---------------------------------------------------------------- protection */

/* Run body(vm, ctx) so that an error or out of memory returns false. */
static bool protect(GaleVM *vm, void (*body)(GaleVM *, void *), void *ctx)
{
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	int temps = vm->temp_count, printing = vm->print_count;
	uint32_t sp = (uint32_t)(vm->sp - vm->stack), frames = vm->frame_count;
	if (setjmp(j.buf) != 0) {
		vm_unwind_printing(vm, printing);
		vm->jmp = j.prev;
		vm->temp_count = temps;
		vm->sp = vm->stack + sp;
		vm->frame_count = frames;
		vm->compiler = NULL;
		return false;
	}
	body(vm, ctx);
	vm->jmp = j.prev;
	return true;
}

static void api_failed(GaleVM *vm);

/* ---------------------------------------------------------------- lifecycle */

void gale_config_init(GaleConfig *config)
{
	memset(config, 0, sizeof *config);
	config->gc_percent = 100;
	config->memory_limit = INT64_MAX;
	config->max_heap = 0;
	config->max_call_depth = 200000;
	config->step_budget = 0;
}

/* Each entry from the host (not a nested call from a C function) starts a
 * fresh budget; 0 means none, which INT64_MAX outlasts in practice. */
static void budget_reset(GaleVM *vm)
{
	uint64_t b = vm->config.step_budget;
	vm->steps_left = (b == 0 || b > (uint64_t)INT64_MAX) ? INT64_MAX : (int64_t)b;
}

/* Once refused, the budget stays far below zero for the rest of the entry:
 * every later step raises again without asking the hook. */
#define BUDGET_SPENT (-((int64_t)1 << 40))

void vm_stop(GaleVM *vm)
{
	if (vm->interrupted) {
		vm->interrupted = 0;
		vm_error(vm, "interrupted");
	}
	/* -1: the budget has just run out (a decrement from 0) */
	if (vm->steps_left == -1 && vm->config.step_hook != NULL &&
	    vm->config.step_hook(vm, vm->config.user_data)) {
		budget_reset(vm);
		vm->steps_left--; /* this step is the first of the new grant */
		return;
	}
	/* stays spent, so a script that catches the error is stopped again at
	 * its next loop or call and cannot keep running */
	vm->steps_left = BUDGET_SPENT;
	vm_error(vm, "execution budget exceeded");
}

uint64_t gale_set_step_budget(GaleVM *vm, uint64_t steps)
{
	uint64_t old = vm->config.step_budget;
	vm->config.step_budget = steps;
	budget_reset(vm);
	return old;
}

static void init_body(GaleVM *vm, void *ctx)
{
	const GaleConfig *config = ctx;
	str_table_init(vm);
	vm->s_init = str_intern_cstr(vm, "init");
	vm->s_toString = str_intern_cstr(vm, "toString");
	vm->s_iter = str_intern_cstr(vm, "iter");
	vm->s_next = str_intern_cstr(vm, "next");
	vm->s_message = str_intern_cstr(vm, "message");
	vm->s_trace = str_intern_cstr(vm, "trace");
	ObjString *name = str_intern_cstr(vm, "builtins");
	vm_push_root(vm, OBJ_VAL(name));
	vm->builtins = module_new(vm, name, name);
	vm_pop_root(vm);
	vm->modules = map_new(vm);
	ObjString *msg = str_cstr(vm, "out of memory");
	vm_push_root(vm, OBJ_VAL(msg));
	vm->oom_error = OBJ_VAL(error_new(vm, msg));
	vm_pop_root(vm);
	if (config->module_path != NULL) {
		vm->module_path_str = str_cstr(vm, config->module_path);
		vm->module_path = vm->module_path_str->chars;
	}
	core_open(vm);
	name = str_intern_cstr(vm, "repl");
	vm_push_root(vm, OBJ_VAL(name));
	ObjString *path = str_cstr(vm, "<repl>");
	vm_push_root(vm, OBJ_VAL(path));
	vm->repl = module_new(vm, name, path);
	vm->temp_count -= 2;
}

GaleVM *gale_new(const GaleConfig *config)
{
	GaleConfig defaults;
	if (config == NULL) {
		gale_config_init(&defaults);
		config = &defaults;
	}
	gcConfig gc;
	gcConfigInit(&gc);
	gc.gcPercent = config->gc_percent;
	gc.memoryLimit = config->memory_limit;
	gc.maxHeap = config->max_heap;
	gc.debug = config->debug;
	runtime *rt = runtimeCreate(&gc);
	if (rt == NULL)
		return NULL;
	GaleVM *vm = stackalloc(rt, sizeof(GaleVM));
	if (vm == NULL) {
		runtimeDestroy(rt);
		return NULL;
	}
	memset(vm, 0, sizeof *vm);
	vm->rt = rt;
	vm->config = *config;
	vm->config.module_path = NULL;
	if (vm->config.max_call_depth <= 0)
		vm->config.max_call_depth = 200000;
	vm->thrown = NIL_VAL;
	vm->oom_error = NIL_VAL;
	budget_reset(vm);
	vm->stack = stackalloc(rt, INITIAL_STACK * sizeof(Value));
	vm->frames = stackalloc(rt, INITIAL_FRAMES * sizeof(CallFrame));
	if (vm->stack == NULL || vm->frames == NULL) {
		runtimeDestroy(rt);
		return NULL;
	}
	vm->stack_cap = INITIAL_STACK;
	vm->stack_end = vm->stack + INITIAL_STACK;
	vm->sp = vm->stack;
	vm->frame_cap = INITIAL_FRAMES;
	vm_set_frame_limit(vm);
	obj_register_kinds(vm);
	if (!gcAddRoots(rt, vm_roots, vm)) {
		runtimeDestroy(rt);
		return NULL;
	}
	gcSetWeakHook(rt, vm_weak, vm);
	if (!protect(vm, init_body, (void *)config)) {
		runtimeDestroy(rt);
		return NULL;
	}
	return vm;
}

void gale_free(GaleVM *vm)
{
	if (vm == NULL)
		return;
	/* the VM struct and stacks are runtime memory: destroying returns them */
	runtimeDestroy(vm->rt);
}

void *gale_user_data(GaleVM *vm) { return vm->config.user_data; }

/* ---------------------------------------------------------------- errors */

static void set_last_error(GaleVM *vm, const char *text, size_t n)
{
	ErrorJmp j;
	j.prev = vm->jmp;
	vm->jmp = &j;
	if (setjmp(j.buf) == 0)
		vm->last_error = str_new(vm, text, n);
	else
		vm->last_error = NULL;
	vm->jmp = j.prev;
}

const char *gale_error_message(GaleVM *vm) { return vm->last_error ? vm->last_error->chars : ""; }

typedef struct ReportCtx {
	const char *fallback_file;
	ObjString *text;  /* first line and trace: gale_error_message */
	ObjString *shown; /* the same with the source excerpt, or NULL */
} ReportCtx;

static void report_body(GaleVM *vm, void *ctx)
{
	ReportCtx *r = ctx;
	Value v = vm->thrown;
	vm_push_root(vm, v);
	StrBuf sb;
	sb_init(vm, &sb);
	const char *file = r->fallback_file;
	int line = 0;
	ObjList *trace = NULL;
	if (IS_ERROR(v)) {
		ObjError *e = AS_ERROR(v);
		if (e->file != NULL)
			file = e->file->chars;
		line = e->line;
		trace = e->trace;
		sb_addf(&sb, "%s:%d: ", file, line);
		sb_add(&sb, e->message->chars, e->message->len);
	} else {
		if (vm->throw_file != NULL)
			file = vm->throw_file->chars;
		line = vm->throw_line;
		sb_addf(&sb, "%s:%d: ", file, line);
		sb_value(&sb, v, false);
	}
	sb_addc(&sb, '\n');
	size_t first_len = sb.len;
	if (trace != NULL)
		for (uint32_t i = 0; i < trace->count; i++) {
			Value t = list_get(trace, i);
			sb_add(&sb, "  at ", 5);
			sb_add(&sb, AS_CSTRING(t), AS_STRING(t)->len);
			sb_addc(&sb, '\n');
		}
	r->text = sb_finish(&sb);
	/* What is written also shows the source line (runtime errors know the
	 * line, not the column) and a "did you mean" for a misspelt name, after
	 * the first line; gale_error_message keeps the message and trace only. */
	vm_push_root(vm, OBJ_VAL(r->text));
	StrBuf ex;
	sb_init(vm, &ex);
	diag_file_line(&ex, file, line);
	if (IS_ERROR(v))
		diag_hint_append(vm, &ex, AS_ERROR(v)->message->chars);
	if (ex.len > 0) {
		StrBuf shown;
		sb_init(vm, &shown);
		sb_add(&shown, r->text->chars, first_len);
		sb_add(&shown, (const char *)ex.buf->data, ex.len);
		sb_add(&shown, r->text->chars + first_len, r->text->len - first_len);
		r->shown = sb_finish(&shown);
	}
	sb_drop(&ex);
	vm_pop_root(vm);
	vm_pop_root(vm);
}

/* Report the uncaught error in vm->thrown. */
static void report_runtime_error(GaleVM *vm, const char *name)
{
	ReportCtx r = {name, NULL, NULL};
	Value thrown = vm->thrown;
	if (!protect(vm, report_body, &r)) {
		/* formatting failed (out of memory, or toString threw) */
		char buf[256];
		const char *msg = IS_ERROR(thrown) ? AS_ERROR(thrown)->message->chars : "error";
		int n = snprintf(buf, sizeof buf, "%s: %s\n", name, msg);
		vm_write_error(vm, buf, (size_t)n);
		set_last_error(vm, buf, (size_t)n);
		return;
	}
	vm_push_root(vm, OBJ_VAL(r.text));
	ObjString *shown = r.shown != NULL ? r.shown : r.text;
	vm_write_error(vm, shown->chars, shown->len);
	vm->last_error = r.text;
	vm_pop_root(vm);
	vm->thrown = NIL_VAL;
}

/* ---------------------------------------------------------------- eval */

typedef struct CompileCtx {
	ObjModule *module;
	const char *source;
	size_t len;
	const char *name;
	bool repl;
	ObjFunction *fn;
	ObjString *errors;
} CompileCtx;

static void compile_body(GaleVM *vm, void *ctx)
{
	CompileCtx *c = ctx;
	if (c->module == NULL) {
		ObjString *name = str_cstr(vm, c->name);
		vm_push_root(vm, OBJ_VAL(name));
		c->module = module_new(vm, name, name);
		vm_pop_root(vm);
	}
	vm_push_root(vm, OBJ_VAL(c->module));
	c->fn = compile(vm, c->module, c->source, c->len, c->name, c->repl, &c->errors, NULL);
	vm_pop_root(vm);
}

/* Compile; on failure report and return NULL (the function is rooted by the
 * temp stack on success: the caller pops it). */
static ObjFunction *compile_or_report(GaleVM *vm, CompileCtx *c)
{
	if (!protect(vm, compile_body, c)) {
		char buf[512];
		int n = snprintf(buf, sizeof buf, "%s: %s\n", c->name,
		                 IS_ERROR(vm->thrown) ? AS_ERROR(vm->thrown)->message->chars : "compile failed");
		vm_write_error(vm, buf, (size_t)n);
		set_last_error(vm, buf, (size_t)n);
		return NULL;
	}
	if (c->fn == NULL) {
		vm_push_root(vm, OBJ_VAL(c->errors));
		vm_write_error(vm, c->errors->chars, c->errors->len);
		vm->last_error = c->errors;
		vm_pop_root(vm);
		return NULL;
	}
	return c->fn;
}

static GaleResult run_source(GaleVM *vm, ObjModule *module, const char *source, size_t len, const char *name,
                             bool repl)
{
	vm->last_error = NULL;
	if (vm->frame_count == 0) {
		vm->interrupted = 0;
		budget_reset(vm);
	}
	/* evaluating under the name of the last evaluation continues its
	 * module, so a host can define functions and use them later */
	ObjModule *last = vm->host_module;
	if (module == NULL && last != NULL && last->name->len == strlen(name) &&
	    memcmp(last->name->chars, name, last->name->len) == 0)
		module = last;
	CompileCtx c = {module, source, len, name, repl, NULL, NULL};
	ObjFunction *fn = compile_or_report(vm, &c);
	if (c.module != NULL && !repl)
		vm->host_module = c.module;
	if (fn == NULL)
		return GALE_COMPILE_ERROR;
	Value result;
	if (!vm_run_function(vm, fn, &result)) {
		report_runtime_error(vm, name);
		return GALE_RUNTIME_ERROR;
	}
	return GALE_OK;
}

GaleResult gale_eval(GaleVM *vm, const char *source, size_t len, const char *name)
{
	return run_source(vm, NULL, source, len, name ? name : "<string>", false);
}

typedef struct ReadCtx {
	FILE *f;
	ObjBuf *buf;
	size_t len;
} ReadCtx;

/* Read the whole file into a heap buffer left on the temp-root stack. */
static void read_body(GaleVM *vm, void *ctx)
{
	ReadCtx *r = ctx;
	size_t cap = 0;
	int slot = vm->temp_count;
	vm_push_root(vm, NIL_VAL);
	for (;;) {
		if (r->len + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			r->buf = buf_grow(vm, r->buf, r->len, ncap);
			vm->temps[slot] = OBJ_VAL(r->buf);
			cap = ncap;
		}
		size_t got = fread((char *)r->buf->data + r->len, 1, cap - r->len - 1, r->f);
		r->len += got;
		if (got == 0)
			break;
	}
	((char *)r->buf->data)[r->len] = '\0';
}

GaleResult gale_eval_file(GaleVM *vm, const char *path)
{
	char msg[1024];
	ReadCtx r = {fopen(path, "rb"), NULL, 0};
	if (r.f == NULL) {
		int n = snprintf(msg, sizeof msg, "%s: cannot open file: %s\n", path, strerror(errno));
		vm_write_error(vm, msg, (size_t)n);
		set_last_error(vm, msg, (size_t)n);
		return GALE_RUNTIME_ERROR;
	}
	int temps = vm->temp_count;
	bool ok = protect(vm, read_body, &r);
	bool bad = ferror(r.f);
	fclose(r.f);
	if (!ok || bad) {
		vm->temp_count = temps;
		int n = snprintf(msg, sizeof msg, "%s: cannot read file: %s\n", path, ok ? strerror(errno) : "out of memory");
		vm_write_error(vm, msg, (size_t)n);
		set_last_error(vm, msg, (size_t)n);
		return GALE_RUNTIME_ERROR;
	}
	GaleResult res = run_source(vm, NULL, (const char *)r.buf->data, r.len, path, false);
	vm->temp_count = temps;
	return res;
}

/* REPL: an input that ends inside an open bracket, brace or string is
 * incomplete and runs nothing. */
GaleResult gale_eval_repl(GaleVM *vm, const char *source)
{
	size_t len = strlen(source);
	Lexer lx;
	lex_init(&lx, source, len);
	int depth = 0;
	for (;;) {
		Token t = lex_next(&lx);
		if (t.type == TOK_EOF)
			break;
		if (t.type == TOK_ERROR) {
			if (t.unterminated)
				return GALE_INCOMPLETE;
			continue;
		}
		if (t.type == TOK_LPAREN || t.type == TOK_LBRACKET || t.type == TOK_LBRACE)
			depth++;
		else if (t.type == TOK_RPAREN || t.type == TOK_RBRACKET || t.type == TOK_RBRACE)
			depth--;
	}
	if (depth > 0)
		return GALE_INCOMPLETE;
	/* After a script (gale -i script), the session continues in the script's
	 * module, so its variables and functions are at hand, as with python -i. */
	ObjModule *m = vm->host_module != NULL ? vm->host_module : vm->repl;
	return run_source(vm, m, source, len, "<repl>", true);
}

typedef struct DisasmCtx {
	ObjFunction *fn;
	ObjString *text;
} DisasmCtx;

static void disasm_body(GaleVM *vm, void *ctx)
{
	DisasmCtx *d = ctx;
	vm_push_root(vm, OBJ_VAL(d->fn));
	StrBuf sb;
	sb_init(vm, &sb);
	debug_disassemble(vm, d->fn, &sb);
	d->text = sb_finish(&sb);
	vm_pop_root(vm);
}

GaleResult gale_disassemble(GaleVM *vm, const char *source, size_t len, const char *name)
{
	vm->last_error = NULL;
	CompileCtx c = {NULL, source, len, name ? name : "<string>", false, NULL, NULL};
	ObjFunction *fn = compile_or_report(vm, &c);
	if (fn == NULL)
		return GALE_COMPILE_ERROR;
	DisasmCtx d = {fn, NULL};
	if (!protect(vm, disasm_body, &d)) {
		report_runtime_error(vm, c.name);
		return GALE_RUNTIME_ERROR;
	}
	vm_write(vm, d.text->chars, d.text->len);
	return GALE_OK;
}

/* ---------------------------------------------------------------- args, interrupt */

static bool module_lookup(ObjModule *m, const char *name, size_t len, Value *out);

typedef struct ArgsCtx {
	int argc;
	const char *const *argv;
} ArgsCtx;

static void args_body(GaleVM *vm, void *ctx)
{
	ArgsCtx *a = ctx;
	ObjList *l = list_new(vm, 0);
	vm_push_root(vm, OBJ_VAL(l));
	for (int i = 0; i < a->argc; i++) {
		ObjString *s = str_cstr(vm, a->argv[i]);
		list_push(vm, l, OBJ_VAL(s));
	}
	/* a script sees the list through os.args, bound when the os module was
	 * opened: rebind it too, so the call works before or after that */
	Value os, old;
	if (module_lookup(vm->builtins, "os", 2, &os) && IS_MODULE(os) && module_lookup(AS_MODULE(os), "args", 4, &old))
		vm_module_set_value(vm, AS_MODULE(os), "args", OBJ_VAL(l));
	vm->args = l; /* only a complete list replaces the old one */
	vm_pop_root(vm);
}

bool gale_set_args(GaleVM *vm, int argc, const char *const *argv)
{
	ArgsCtx a = {argc, argv};
	if (protect(vm, args_body, &a))
		return true;
	api_failed(vm); /* os.args stays as it was */
	return false;
}

void gale_interrupt(GaleVM *vm) { vm->interrupted = 1; }

/* ---------------------------------------------------------------- completion, help */

static void complete_module(ObjModule *m, const char *prefix, size_t plen, const char *qual, size_t qlen,
                            void (*fn)(const char *, void *), void *ctx)
{
	uint32_t pos = 0;
	Value k, slot;
	char buf[512];
	while (map_next(m->names, &pos, &k, &slot)) {
		if (IS_UNDEF(MODULE_VALUES(m)[AS_INT(slot)]))
			continue;
		ObjString *name = AS_STRING(k);
		if (name->len < plen || memcmp(name->chars, prefix, plen) != 0)
			continue;
		snprintf(buf, sizeof buf, "%.*s%s", (int)qlen, qual, name->chars);
		fn(buf, ctx);
	}
}

void gale_complete(GaleVM *vm, const char *prefix, void (*fn)(const char *candidate, void *ctx), void *ctx)
{
	const char *dot = strrchr(prefix, '.');
	if (dot == NULL) {
		size_t plen = strlen(prefix);
		complete_module(vm->repl, prefix, plen, "", 0, fn, ctx);
		complete_module(vm->builtins, prefix, plen, "", 0, fn, ctx);
		return;
	}
	/* member completion: find the named global without allocating */
	size_t nlen = (size_t)(dot - prefix);
	const char *start = prefix;
	for (const char *p = dot; p > prefix; p--)
		if (p[-1] == ' ' || p[-1] == '(' || p[-1] == '[' || p[-1] == ',') {
			start = p;
			break;
		}
	nlen = (size_t)(dot - start);
	Value target = UNDEF_VAL;
	ObjModule *mods[2] = {vm->repl, vm->builtins};
	for (int i = 0; i < 2 && IS_UNDEF(target); i++) {
		uint32_t pos = 0;
		Value k, slot;
		while (map_next(mods[i]->names, &pos, &k, &slot)) {
			ObjString *s = AS_STRING(k);
			if (s->len == nlen && memcmp(s->chars, start, nlen) == 0) {
				target = MODULE_VALUES(mods[i])[AS_INT(slot)];
				break;
			}
		}
	}
	const char *rest = dot + 1;
	size_t rlen = strlen(rest);
	size_t qlen = (size_t)(rest - prefix);
	if (IS_MODULE(target)) {
		complete_module(AS_MODULE(target), rest, rlen, prefix, qlen, fn, ctx);
	} else if (IS_OBJ(target)) {
		char buf[512];
		ObjMap *maps[2] = {NULL, NULL};
		if (IS_INSTANCE(target)) {
			maps[0] = AS_INSTANCE(target)->fields;
			maps[1] = AS_INSTANCE(target)->klass->methods;
		} else {
			maps[0] = vm->type_methods[OBJ_KIND(target)];
		}
		for (int i = 0; i < 2; i++) {
			if (maps[i] == NULL)
				continue;
			uint32_t pos = 0;
			Value k;
			while (map_next(maps[i], &pos, &k, NULL)) {
				if (!IS_STRING(k))
					continue;
				ObjString *s = AS_STRING(k);
				if (s->len < rlen || memcmp(s->chars, rest, rlen) != 0)
					continue;
				snprintf(buf, sizeof buf, "%.*s%s", (int)qlen, prefix, s->chars);
				fn(buf, ctx);
			}
		}
	}
}

void gale_each_builtin(GaleVM *vm, void (*fn)(const char *module, const char *name, const char *doc, void *ctx),
                       void *ctx)
{
	ObjModule *b = vm->builtins;
	/* global functions first, then each module's table */
	for (uint32_t i = 0; i < b->count; i++) {
		Value v = MODULE_VALUES(b)[i];
		if (IS_NATIVE(v))
			fn(NULL, AS_NATIVE(v)->name->chars, AS_NATIVE(v)->doc ? AS_NATIVE(v)->doc : "", ctx);
	}
	for (uint32_t i = 0; i < b->count; i++) {
		Value v = MODULE_VALUES(b)[i];
		if (!IS_MODULE(v) || AS_MODULE(v)->natives == NULL)
			continue;
		for (const vm_reg *r = AS_MODULE(v)->natives; r->name != NULL; r++)
			fn(AS_MODULE(v)->name->chars, r->name, r->doc ? r->doc : "", ctx);
	}
}

/* ---------------------------------------------------------------- memory */

void gale_memstats(GaleVM *vm, GaleMemStats *out)
{
	MemStats m;
	readMemStats(vm->rt, &m);
	memset(out, 0, sizeof *out);
#define C(f) out->f = m.f;
	C(Alloc) C(TotalAlloc) C(Sys) C(Mallocs) C(Frees) C(HeapAlloc) C(HeapSys) C(HeapIdle) C(HeapInuse)
	C(HeapReleased) C(HeapObjects) C(StackInuse) C(StackSys) C(MSpanInuse) C(MSpanSys) C(MCacheInuse)
	C(MCacheSys) C(BuckHashSys) C(GCSys) C(OtherSys) C(NextGC) C(LastGC) C(PauseTotalNs) C(NumGC)
	C(NumForcedGC)
#undef C
	out->MappedReady = vm->rt->gcController.mappedReady;
	out->MemoryLimit = vm->rt->gcController.memoryLimit;
	out->GCPercent = vm->rt->gcController.gcPercent;
}

/* Finalizers run during these and may raise; the region catches that. */
static void gc_body(GaleVM *vm, void *ctx)
{
	(void)ctx;
	GC(vm->rt);
}

static void free_os_body(GaleVM *vm, void *ctx)
{
	(void)ctx;
	freeOSMemory(vm->rt);
}

void gale_gc(GaleVM *vm)
{
	if (!protect(vm, gc_body, NULL))
		vm->thrown = NIL_VAL;
}

void gale_free_os_memory(GaleVM *vm)
{
	if (!protect(vm, free_os_body, NULL))
		vm->thrown = NIL_VAL;
}
int64_t gale_set_gc_percent(GaleVM *vm, int64_t percent) { return setGCPercent(vm->rt, percent < 0 ? -1 : percent); }
int64_t gale_set_memory_limit(GaleVM *vm, int64_t limit) { return setMemoryLimit(vm->rt, limit); }

bool gale_parse_size(const char *text, int64_t *out)
{
	if (text == NULL)
		return false;
	while (*text == ' ')
		text++;
	if (!((*text >= '0' && *text <= '9') || *text == '.'))
		return false;
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || errno == ERANGE || !(v >= 0))
		return false;
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
		{"TiB", 1099511627776.0},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double bytes = v * units[i].mult;
			if (bytes >= 9223372036854775807.0)
				return false;
			if (units[i].mult == 1 && v != floor(v))
				return false;
			*out = (int64_t)bytes;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- C functions */

static void api_trampoline(GaleVM *vm, int argc, Value *args, Value *ret)
{
	(void)args;
	ObjNative *n = vm->frames[vm->frame_count - 1].native;
	Value *saved = vm->api_ret;
	vm->api_ret = ret;
	((GaleCFunction)n->cfn)(vm, argc);
	vm->api_ret = saved;
}

typedef struct RegisterCtx {
	const char *name, *doc;
	GaleCFunction fn;
	int arity;
} RegisterCtx;

static void register_body(GaleVM *vm, void *ctx)
{
	RegisterCtx *r = ctx;
	ObjNative *n = native_new(vm, r->name, api_trampoline, r->arity, NULL);
	vm_push_root(vm, OBJ_VAL(n));
	n->cfn = (void *)r->fn;
	if (r->doc != NULL) {
		n->doc_str = str_cstr(vm, r->doc);
		n->doc = n->doc_str->chars;
	}
	module_set(vm, vm->builtins, n->name, OBJ_VAL(n));
	vm_pop_root(vm);
}

bool gale_register(GaleVM *vm, const char *name, GaleCFunction fn, int arity, const char *doc)
{
	RegisterCtx r = {name, doc, fn, arity < 0 ? -1 : arity};
	if (protect(vm, register_body, &r))
		return true;
	api_failed(vm);
	return false;
}

/* Arguments of the running C function sit just above its callee slot. */
static Value api_arg(GaleVM *vm, int i)
{
	const CallFrame *f = &vm->frames[vm->frame_count - 1];
	uint32_t at = f->base + 1 + (uint32_t)i;
	if (i < 0 || vm->stack + at >= vm->sp)
		return NIL_VAL;
	return vm->stack[at];
}

static const char *api_name(GaleVM *vm)
{
	const CallFrame *f = &vm->frames[vm->frame_count - 1];
	return f->native ? f->native->name->chars : "?";
}

/* The public type of a value. */
static GaleType type_of(Value v)
{
	switch (v.type) {
	case VAL_NIL: return GALE_TNIL;
	case VAL_BOOL: return GALE_TBOOL;
	case VAL_INT: return GALE_TINT;
	case VAL_FLOAT: return GALE_TFLOAT;
	default: break;
	}
	if (IS_STRING(v))
		return GALE_TSTRING;
	if (IS_LIST(v))
		return GALE_TLIST;
	if (IS_MAP(v))
		return GALE_TMAP;
	if (IS_CLOSURE(v) || IS_NATIVE(v) || IS_KIND(v, OBJ_BOUND))
		return GALE_TFUNCTION;
	return GALE_TOTHER;
}

GaleType gale_arg_type(GaleVM *vm, int i)
{
	return type_of(api_arg(vm, i));
}

bool gale_arg_bool(GaleVM *vm, int i) { return !value_falsy(api_arg(vm, i)); }

int64_t gale_arg_int(GaleVM *vm, int i)
{
	Value v = api_arg(vm, i);
	return native_int(vm, &v, 0, api_name(vm));
}

double gale_arg_float(GaleVM *vm, int i)
{
	Value v = api_arg(vm, i);
	return native_number(vm, &v, 0, api_name(vm));
}

const char *gale_arg_string(GaleVM *vm, int i, size_t *len)
{
	Value v = api_arg(vm, i);
	ObjString *s = native_string(vm, &v, 0, api_name(vm));
	if (len != NULL)
		*len = s->len;
	return s->chars;
}

/* The result slot is a C local of the caller, which the collector does not
 * see; the callee's stack slot, which the call overwrites with the result
 * anyway, also holds it, so the function may go on allocating after
 * choosing its result. */
static void api_set_ret(GaleVM *vm, Value v)
{
	*vm->api_ret = v;
	vm->stack[vm->frames[vm->frame_count - 1].base] = v;
}

void gale_return_nil(GaleVM *vm) { api_set_ret(vm, NIL_VAL); }
void gale_return_bool(GaleVM *vm, bool b) { api_set_ret(vm, BOOL_VAL(b)); }
void gale_return_int(GaleVM *vm, int64_t n) { api_set_ret(vm, INT_VAL(n)); }
void gale_return_float(GaleVM *vm, double d) { api_set_ret(vm, FLOAT_VAL(d)); }
void gale_return_string(GaleVM *vm, const char *s, size_t len) { api_set_ret(vm, OBJ_VAL(str_new(vm, s, len))); }

void gale_raise(GaleVM *vm, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	vm_error(vm, "%s", buf);
}

bool gale_register_table(GaleVM *vm, const GaleReg *regs)
{
	for (; regs->name != NULL; regs++)
		if (!gale_register(vm, regs->name, regs->fn, regs->arity, regs->doc))
			return false;
	return true;
}

/* ---------------------------------------------------------------- the value stack */

/* Bottom of the current API frame: a C function's first argument, or the
 * empty top of a script frame, or the whole stack from the host. */
static uint32_t api_base(GaleVM *vm)
{
	if (vm->frame_count == 0)
		return 0;
	const CallFrame *f = &vm->frames[vm->frame_count - 1];
	if (f->closure == NULL)
		return f->base + 1;
	return (uint32_t)(vm->sp - vm->stack);
}

static Value *api_slot(GaleVM *vm, int idx)
{
	int64_t base = api_base(vm), top = vm->sp - vm->stack;
	int64_t at = idx >= 0 ? base + idx : top + idx;
	if (at < base || at >= top)
		return NULL;
	return &vm->stack[at];
}

/* A failed protected call leaves its error in vm->thrown; the message is
 * already a heap string (for out of memory, the preallocated one), so
 * recording it allocates nothing. */
static void api_failed(GaleVM *vm)
{
	if (IS_ERROR(vm->thrown))
		vm->last_error = AS_ERROR(vm->thrown)->message;
	vm->thrown = NIL_VAL;
}

static void reserve_body(GaleVM *vm, void *ctx) { vm_reserve(vm, *(size_t *)ctx); }

/* Room for n more values; growing the stack may run out of memory. */
static bool api_reserve(GaleVM *vm, size_t n)
{
	if ((size_t)(vm->sp - vm->stack) + n <= vm->stack_cap)
		return true;
	if (protect(vm, reserve_body, &n))
		return true;
	api_failed(vm);
	return false;
}

static bool api_push(GaleVM *vm, Value v)
{
	/* v may be an unrooted object: growing the stack allocates only manual
	 * memory (stackalloc), which never collects */
	if (!api_reserve(vm, 1))
		return false;
	*vm->sp++ = v;
	return true;
}

int gale_get_top(GaleVM *vm) { return (int)((vm->sp - vm->stack) - (ptrdiff_t)api_base(vm)); }

void gale_pop(GaleVM *vm, int n)
{
	int top = gale_get_top(vm);
	if (n > top)
		n = top;
	if (n > 0)
		vm->sp -= n;
}


GaleType gale_type(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	return v ? type_of(*v) : GALE_TNIL;
}

const char *gale_type_name(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	return v ? value_type_name(*v) : "none";
}

bool gale_to_bool(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	return v != NULL && !value_falsy(*v);
}

bool gale_to_int(GaleVM *vm, int idx, int64_t *out)
{
	Value *v = api_slot(vm, idx);
	if (v == NULL || !IS_INT(*v))
		return false;
	*out = AS_INT(*v);
	return true;
}

bool gale_to_float(GaleVM *vm, int idx, double *out)
{
	Value *v = api_slot(vm, idx);
	if (v == NULL)
		return false;
	if (IS_INT(*v))
		*out = (double)AS_INT(*v);
	else if (IS_FLOAT(*v))
		*out = AS_FLOAT(*v);
	else
		return false;
	return true;
}

const char *gale_to_string(GaleVM *vm, int idx, size_t *len)
{
	Value *v = api_slot(vm, idx);
	if (v == NULL || !IS_STRING(*v))
		return NULL;
	if (len != NULL)
		*len = AS_STRING(*v)->len;
	return AS_CSTRING(*v);
}

bool gale_push_nil(GaleVM *vm) { return api_push(vm, NIL_VAL); }
bool gale_push_bool(GaleVM *vm, bool b) { return api_push(vm, BOOL_VAL(b)); }
bool gale_push_int(GaleVM *vm, int64_t n) { return api_push(vm, INT_VAL(n)); }
bool gale_push_float(GaleVM *vm, double d) { return api_push(vm, FLOAT_VAL(d)); }

bool gale_push_value(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	if (v == NULL)
		return false;
	Value copy = *v; /* the slot moves if the stack grows */
	return api_push(vm, copy);
}

/* An allocating push: the body leaves its new object in the slot reserved
 * for it, so it is rooted as soon as it exists. */
typedef struct PushCtx {
	const char *s;
	size_t len;
	int what; /* 0 string, 1 list, 2 map */
} PushCtx;

static void push_body(GaleVM *vm, void *ctx)
{
	PushCtx *p = ctx;
	Value v;
	if (p->what == 0)
		v = OBJ_VAL(str_new(vm, p->s, p->len));
	else if (p->what == 1)
		v = OBJ_VAL(list_new(vm, 0));
	else
		v = OBJ_VAL(map_new(vm));
	*vm->sp++ = v;
}

static bool api_push_new(GaleVM *vm, PushCtx *p)
{
	if (!api_reserve(vm, 1))
		return false;
	if (protect(vm, push_body, p))
		return true;
	api_failed(vm);
	return false;
}

bool gale_push_string(GaleVM *vm, const char *s, size_t len)
{
	PushCtx p = {s, len, 0};
	return api_push_new(vm, &p);
}

bool gale_new_list(GaleVM *vm)
{
	PushCtx p = {NULL, 0, 1};
	return api_push_new(vm, &p);
}

bool gale_new_map(GaleVM *vm)
{
	PushCtx p = {NULL, 0, 2};
	return api_push_new(vm, &p);
}

int64_t gale_len(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	if (v != NULL && IS_LIST(*v))
		return AS_LIST(*v)->count;
	if (v != NULL && IS_MAP(*v))
		return AS_MAP(*v)->count;
	return -1;
}

typedef struct ContainerCtx {
	Value target, key, value;
	bool ok;
} ContainerCtx;

static void list_push_body(GaleVM *vm, void *ctx)
{
	ContainerCtx *c = ctx;
	list_push(vm, AS_LIST(c->target), c->value);
}

bool gale_list_push(GaleVM *vm, int idx)
{
	Value *l = api_slot(vm, idx);
	if (l == NULL || !IS_LIST(*l) || gale_get_top(vm) < 1)
		return false;
	/* both stay on the stack (rooted) until the append is done */
	ContainerCtx c = {*l, NIL_VAL, vm->sp[-1], false};
	bool ok = protect(vm, list_push_body, &c);
	if (!ok)
		api_failed(vm);
	vm->sp--;
	return ok;
}

bool gale_list_get(GaleVM *vm, int idx, int64_t i)
{
	Value *l = api_slot(vm, idx);
	if (l == NULL || !IS_LIST(*l))
		return false;
	ObjList *list = AS_LIST(*l);
	if (i < 0)
		i += list->count;
	if (i < 0 || i >= (int64_t)list->count)
		return false;
	return api_push(vm, list_get(list, (uint32_t)i));
}

static bool valid_key(Value k) { return !IS_NIL(k) && !(IS_FLOAT(k) && isnan(AS_FLOAT(k))) && !IS_UNDEF(k); }

static void map_set_body(GaleVM *vm, void *ctx)
{
	ContainerCtx *c = ctx;
	map_set(vm, AS_MAP(c->target), c->key, c->value);
}

bool gale_map_set(GaleVM *vm, int idx)
{
	Value *m = api_slot(vm, idx);
	if (gale_get_top(vm) < 2)
		return false;
	bool ok = false;
	if (m != NULL && IS_MAP(*m) && valid_key(vm->sp[-2])) {
		ContainerCtx c = {*m, vm->sp[-2], vm->sp[-1], false};
		ok = protect(vm, map_set_body, &c);
		if (!ok)
			api_failed(vm);
	}
	vm->sp -= 2;
	return ok;
}

bool gale_map_get(GaleVM *vm, int idx)
{
	Value *m = api_slot(vm, idx);
	if (gale_get_top(vm) < 1)
		return false;
	Value out;
	bool found = m != NULL && IS_MAP(*m) && valid_key(vm->sp[-1]) && map_get(AS_MAP(*m), vm->sp[-1], &out);
	vm->sp--;
	return found && api_push(vm, out);
}

bool gale_map_next(GaleVM *vm, int idx, uint32_t *pos)
{
	Value *m = api_slot(vm, idx);
	Value k, v;
	if (m == NULL || !IS_MAP(*m) || !map_next(AS_MAP(*m), pos, &k, &v))
		return false;
	if (!api_reserve(vm, 2))
		return false;
	*vm->sp++ = k;
	*vm->sp++ = v;
	return true;
}

/* ---------------------------------------------------------------- globals */

/* The bound value of name in module m, without allocating: names are
 * interned, but looking one up by C string must not create it. */
static bool module_lookup(ObjModule *m, const char *name, size_t len, Value *out)
{
	if (m == NULL)
		return false;
	uint32_t pos = 0;
	Value k, slot;
	while (map_next(m->names, &pos, &k, &slot)) {
		ObjString *s = AS_STRING(k);
		if (s->len == len && memcmp(s->chars, name, len) == 0) {
			Value v = MODULE_VALUES(m)[AS_INT(slot)];
			if (IS_UNDEF(v))
				return false;
			*out = v;
			return true;
		}
	}
	return false;
}

bool gale_get_global(GaleVM *vm, const char *name)
{
	size_t len = strlen(name);
	Value v;
	ObjModule *mods[3] = {vm->host_module, vm->repl, vm->builtins};
	for (int i = 0; i < 3; i++)
		if (module_lookup(mods[i], name, len, &v))
			return api_push(vm, v);
	return false;
}

typedef struct GlobalCtx {
	const char *name;
	Value value;
} GlobalCtx;

static void set_global_body(GaleVM *vm, void *ctx)
{
	GlobalCtx *g = ctx;
	ObjString *name = str_intern_cstr(vm, g->name);
	vm_push_root(vm, OBJ_VAL(name));
	module_set(vm, vm->builtins, name, g->value);
	vm_pop_root(vm);
}

bool gale_set_global(GaleVM *vm, const char *name)
{
	if (gale_get_top(vm) < 1)
		return false;
	GlobalCtx g = {name, vm->sp[-1]}; /* rooted on the stack meanwhile */
	bool ok = protect(vm, set_global_body, &g);
	if (!ok)
		api_failed(vm);
	vm->sp--;
	return ok;
}

/* ---------------------------------------------------------------- calls */

/* The report of an error caught by gale_call, kept for gale_error_message. */
static void record_call_error(GaleVM *vm)
{
	ReportCtx r = {"<call>", NULL, NULL};
	Value thrown = vm->thrown;
	if (protect(vm, report_body, &r))
		vm->last_error = r.text;
	else if (IS_ERROR(thrown))
		vm->last_error = AS_ERROR(thrown)->message;
	else
		vm->last_error = NULL;
	vm->thrown = thrown;
}

GaleResult gale_call(GaleVM *vm, int argc)
{
	if (argc < 0 || gale_get_top(vm) < argc + 1) {
		set_last_error(vm, "gale_call: fewer values on the stack than the call needs", 56);
		return GALE_RUNTIME_ERROR;
	}
	uint32_t at = (uint32_t)(vm->sp - vm->stack) - (uint32_t)argc - 1;
	vm->last_error = NULL;
	if (vm->frame_count == 0) {
		vm->interrupted = 0;
		budget_reset(vm);
	}
	Value out;
	/* the callee and arguments stay on the stack (rooted) during the call */
	bool ok = vm_pcall(vm, vm->stack[at], argc, vm->stack + at + 1, &out);
	if (!ok) {
		record_call_error(vm);
		out = vm->thrown;
		vm->thrown = NIL_VAL;
	}
	vm->stack[at] = out;
	vm->sp = vm->stack + at + 1;
	return ok ? GALE_OK : GALE_RUNTIME_ERROR;
}

void gale_return_value(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	api_set_ret(vm, v ? *v : NIL_VAL);
}

/* ---------------------------------------------------------------- handles */

/* vm->handles[0] heads the free list; a free slot is UNDEF whose integer
 * payload is the next free index (0 ends the list). Slots in use hold the
 * kept value and are marked by vm_roots, so a handle is its slot index. */
static bool handles_grow(GaleVM *vm)
{
	uint32_t cap = vm->handle_cap ? vm->handle_cap * 2 : 64;
	Value *h = stackalloc(vm->rt, cap * sizeof(Value));
	if (h == NULL)
		return false;
	if (vm->handles != NULL) {
		memcpy(h, vm->handles, vm->handle_count * sizeof(Value));
		stackfree(vm->rt, vm->handles, vm->handle_cap * sizeof(Value));
	} else {
		h[0] = UNDEF_VAL;
		vm->handle_count = 1;
	}
	vm->handles = h;
	vm->handle_cap = cap;
	return true;
}

GaleHandle gale_keep(GaleVM *vm, int idx)
{
	Value *v = api_slot(vm, idx);
	if (v == NULL)
		return 0;
	Value keep = *v;
	uint32_t h = vm->handles ? (uint32_t)vm->handles[0].as.i : 0;
	if (h != 0) {
		vm->handles[0].as.i = vm->handles[h].as.i;
	} else {
		if ((vm->handles == NULL || vm->handle_count == vm->handle_cap) && !handles_grow(vm)) {
			vm->last_error = AS_ERROR(vm->oom_error)->message;
			return 0;
		}
		h = vm->handle_count++;
	}
	vm->handles[h] = keep;
	return h;
}

/* A slot in use: inside the table and not on the free list. */
static bool handle_live(GaleVM *vm, GaleHandle h)
{
	return h != 0 && h < vm->handle_count && !IS_UNDEF(vm->handles[h]);
}

bool gale_push_handle(GaleVM *vm, GaleHandle h)
{
	if (!handle_live(vm, h))
		return false;
	return api_push(vm, vm->handles[h]);
}

void gale_release(GaleVM *vm, GaleHandle h)
{
	if (!handle_live(vm, h))
		return;
	vm->handles[h] = UNDEF_VAL;
	vm->handles[h].as.i = vm->handles[0].as.i;
	vm->handles[0].as.i = h;
}
