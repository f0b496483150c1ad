/*
 * api.c — the public interface of include/gale.h.
 *
 * The GaleVM struct itself, the value stack and the frames are manual memory
 * from stackalloc; everything else lives in the VM's garbage-collected heap.
 * Every entry point that can allocate runs inside a protected region so an
 * "out of memory" (or any error) comes back as a result code.
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

/* ---------------------------------------------------------------- lifecycle */

void gale_config_init(GaleConfig *config)
{
	memset(config, 0, sizeof *config);
	config->gc_percent = 100;
	config->memory_limit = INT64_MAX;
	config->max_heap = 0;
	config->max_call_depth = 200000;
}

static void init_body(GaleVM *vm, void *ctx)
{
	const GaleConfig *config = ctx;
	str_table_init(vm);
	vm->s_init = str_cstr(vm, "init");
	vm->s_toString = str_cstr(vm, "toString");
	vm->s_iter = str_cstr(vm, "iter");
	vm->s_next = str_cstr(vm, "next");
	vm->s_message = str_cstr(vm, "message");
	vm->s_trace = str_cstr(vm, "trace");
	ObjString *name = str_cstr(vm, "builtins");
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
	name = str_cstr(vm, "repl");
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
	vm->stack = stackalloc(rt, INITIAL_STACK * sizeof(Value));
	vm->frames = stackalloc(rt, INITIAL_FRAMES * sizeof(CallFrame));
	if (vm->stack == NULL || vm->frames == NULL) {
		runtimeDestroy(rt);
		return NULL;
	}
	vm->stack_cap = INITIAL_STACK;
	vm->sp = vm->stack;
	vm->frame_cap = INITIAL_FRAMES;
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
	ObjString *text;
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
	if (trace != NULL)
		for (uint32_t i = 0; i < trace->count; i++) {
			Value t = LIST_ITEMS(trace)[i];
			sb_add(&sb, "  at ", 5);
			sb_add(&sb, AS_CSTRING(t), AS_STRING(t)->len);
			sb_addc(&sb, '\n');
		}
	r->text = sb_finish(&sb);
	vm_pop_root(vm);
}

/* Report the uncaught error in vm->thrown. */
static void report_runtime_error(GaleVM *vm, const char *name)
{
	ReportCtx r = {name, NULL};
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
	vm_write_error(vm, r.text->chars, r.text->len);
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
	vm->interrupted = 0;
	CompileCtx c = {module, source, len, name, repl, NULL, NULL};
	ObjFunction *fn = compile_or_report(vm, &c);
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
	return run_source(vm, vm->repl, source, len, "<repl>", true);
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

typedef struct ArgsCtx {
	int argc;
	const char *const *argv;
} ArgsCtx;

static void args_body(GaleVM *vm, void *ctx)
{
	ArgsCtx *a = ctx;
	ObjList *l = list_new(vm, 0);
	vm->args = l;
	for (int i = 0; i < a->argc; i++) {
		ObjString *s = str_cstr(vm, a->argv[i]);
		list_push(vm, l, OBJ_VAL(s));
	}
}

void gale_set_args(GaleVM *vm, int argc, const char *const *argv)
{
	ArgsCtx a = {argc, argv};
	protect(vm, args_body, &a);
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

void gale_gc(GaleVM *vm) { GC(vm->rt); }
void gale_free_os_memory(GaleVM *vm) { freeOSMemory(vm->rt); }
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
	return protect(vm, register_body, &r);
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

GaleType gale_arg_type(GaleVM *vm, int i)
{
	Value v = api_arg(vm, i);
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

void gale_return_nil(GaleVM *vm) { *vm->api_ret = NIL_VAL; }
void gale_return_bool(GaleVM *vm, bool b) { *vm->api_ret = BOOL_VAL(b); }
void gale_return_int(GaleVM *vm, int64_t n) { *vm->api_ret = INT_VAL(n); }
void gale_return_float(GaleVM *vm, double d) { *vm->api_ret = FLOAT_VAL(d); }
void gale_return_string(GaleVM *vm, const char *s, size_t len) { *vm->api_ret = OBJ_VAL(str_new(vm, s, len)); }

void gale_raise(GaleVM *vm, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	vm_error(vm, "%s", buf);
}
