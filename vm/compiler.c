/*
 * compiler.c — a single-pass Pratt parser that emits bytecode directly.
 *
 * Locals live in stack slots of the frame (slot 0 is the callee, or self in
 * methods); captured locals become upvalues that are closed when their scope
 * ends, so each loop iteration gets a fresh variable. Module-level names
 * resolve to module slots at compile time and are bound at run time.
 * The compiler tracks the stack depth of the code it emits so that a call
 * can reserve the whole frame at once (fn->max_slots).
 *
 * Errors do not stop the parse: each is recorded, the parser skips to the
 * next statement and goes on, so all errors are reported at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/compiler.h"
#include "vm/diag.h"
#include "vm/lexer.h"
#include "vm/opcodes.h"

#define MAX_LOCALS 256
#define MAX_UPVALUES 256
#define MAX_NESTING 200 /* nested expressions/blocks before "too deeply nested" */
#define MAX_FN_NESTING 64 /* nested function bodies (each Compiler is ~7 KiB of C stack) */
#define MAX_ERRORS 50

typedef struct Local {
	const char *name;
	size_t len;
	int depth; /* scope depth */
	bool captured;
} Local;

typedef struct Upval {
	uint8_t index;
	bool is_local;
} Upval;

typedef enum FnKind { FN_SCRIPT, FN_FUNCTION, FN_METHOD, FN_INIT } FnKind;

typedef struct Loop {
	struct Loop *enclosing;
	int start;        /* continue target */
	int scope_depth;  /* locals deeper than this belong to the body */
	int try_depth;
	int breaks[256];
	int break_count;
} Loop;

typedef struct ClassInfo {
	struct ClassInfo *enclosing;
	bool has_super;
} ClassInfo;

typedef struct Compiler {
	struct Compiler *enclosing;
	ObjFunction *fn;
	FnKind kind;
	Local locals[MAX_LOCALS];
	int local_count;
	Upval upvalues[MAX_UPVALUES];
	int scope_depth;
	Loop *loop;
	int try_depth;
	int depth, max_depth; /* value stack depth above the locals' base */
	uint32_t last_op;     /* offset + 1 of the last instruction emitted, 0: none */
	uint32_t last_target; /* offset + 1 of the last forward jump target, 0: none */
} Compiler;

typedef struct Parser {
	GaleVM *vm;
	Lexer lx;
	Token cur, prev;
	bool panic;
	int error_count;
	bool ignore_nl; /* inside ( ), [ ] or a map literal */
	bool incomplete;
	bool bail; /* nesting limit hit: no further errors */
	int nesting;
	int fn_nesting;
	const char *file;
	ObjModule *module;
	bool repl;
	StrBuf errors;
	Compiler *c;
	ClassInfo *klass;
} Parser;

typedef enum Prec {
	PREC_NONE,
	PREC_ASSIGN,
	PREC_OR,
	PREC_AND,
	PREC_NOT,
	PREC_COMPARE,
	PREC_BOR,
	PREC_BXOR,
	PREC_BAND,
	PREC_SHIFT,
	PREC_TERM,
	PREC_FACTOR,
	PREC_UNARY,
	PREC_POWER,
	PREC_CALL,
} Prec;

typedef void (*ParseFn)(Parser *p, bool can_assign);
typedef struct Rule {
	ParseFn prefix, infix;
	Prec prec;
} Rule;

static const Rule *rule(TokenType t);
static void expression(Parser *p);
static void statement(Parser *p);
static void declaration(Parser *p);
static void block(Parser *p);
static void parse_prec(Parser *p, Prec prec);

/* ---------------------------------------------------------------- errors */

static void error_at(Parser *p, const Token *t, const char *msg)
{
	if (p->panic || p->bail)
		return;
	p->panic = true;
	if (t->type == TOK_EOF || (t->type == TOK_ERROR && t->unterminated))
		p->incomplete = true;
	if (++p->error_count > MAX_ERRORS)
		return;
	sb_addf(&p->errors, "%s:%d:%d: %s\n", p->file, t->line, t->col, msg);
	/* the source line and a caret under the column (the lexer's column is
	 * counted from the line start; a raw string's token starts after `) */
	const char *ls = t->start - (t->col - 1) - (t->type == TOK_RAW_STRING);
	if (ls >= p->lx.start && ls <= p->lx.end)
		diag_caret(&p->errors, ls, p->lx.end, t->col);
}

static void error(Parser *p, const char *msg) { error_at(p, &p->prev, msg); }
static void error_cur(Parser *p, const char *msg) { error_at(p, &p->cur, msg); }

/* ---------------------------------------------------------------- tokens */

/* A line that ends with one of these continues on the next line. */
static bool continues_line(TokenType t)
{
	switch (t) {
	case TOK_PLUS: case TOK_MINUS: case TOK_STAR: case TOK_SLASH: case TOK_SLASHSLASH:
	case TOK_PERCENT: case TOK_STARSTAR: case TOK_AMP: case TOK_PIPE: case TOK_CARET:
	case TOK_SHL: case TOK_SHR: case TOK_EQ: case TOK_EQEQ: case TOK_NE: case TOK_LT:
	case TOK_LE: case TOK_GT: case TOK_GE: case TOK_PLUS_EQ: case TOK_MINUS_EQ:
	case TOK_STAR_EQ: case TOK_SLASH_EQ: case TOK_SLASHSLASH_EQ: case TOK_PERCENT_EQ:
	case TOK_COMMA: case TOK_DOT: case TOK_LPAREN: case TOK_LBRACKET: case TOK_LBRACE:
	case TOK_AND: case TOK_OR: case TOK_NOT: case TOK_IS: case TOK_COLON: case TOK_TILDE:
		return true;
	default:
		return false;
	}
}

static void advance(Parser *p)
{
	p->prev = p->cur;
	for (;;) {
		p->cur = lex_next(&p->lx);
		if (p->cur.type == TOK_NEWLINE && (p->ignore_nl || continues_line(p->prev.type)))
			continue;
		if (p->cur.type != TOK_ERROR)
			break;
		error_cur(p, p->cur.error);
		if (p->cur.unterminated) {
			p->cur.type = TOK_EOF;
			break;
		}
	}
}

static bool check(Parser *p, TokenType t) { return p->cur.type == t; }

static bool match(Parser *p, TokenType t)
{
	if (!check(p, t))
		return false;
	advance(p);
	return true;
}

static void consume(Parser *p, TokenType t, const char *msg)
{
	if (p->cur.type == t) {
		advance(p);
		return;
	}
	error_cur(p, msg);
}

static void skip_newlines(Parser *p)
{
	while (p->cur.type == TOK_NEWLINE)
		advance(p);
}

/* Switch newline significance; returns the old setting. A newline already
 * read ahead is dropped when newlines become insignificant. */
static bool set_ignore_nl(Parser *p, bool ignore)
{
	bool old = p->ignore_nl;
	p->ignore_nl = ignore;
	if (ignore)
		skip_newlines(p);
	return old;
}

/* The token after the current one (skipping newlines when skip_nl). */
static Token peek_next(Parser *p, bool skip_nl)
{
	Lexer save = p->lx;
	Token t;
	do
		t = lex_next(&p->lx);
	while (skip_nl && t.type == TOK_NEWLINE);
	p->lx = save;
	return t;
}

static bool enter_nesting(Parser *p)
{
	if (++p->nesting > MAX_NESTING) {
		error_cur(p, "too deeply nested");
		p->bail = true;
		/* give up on the rest: unwinding is cheap once every level bails */
		p->cur.type = TOK_EOF;
		p->lx.cur = p->lx.end;
		p->lx.interp_depth = 0;
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- emitting */

static ObjFunction *cur_fn(Parser *p) { return p->c->fn; }

static void emit_byte(Parser *p, uint8_t b)
{
	ObjFunction *f = cur_fn(p);
	if (f->code_len == f->code_cap) {
		uint32_t cap = f->code_cap ? f->code_cap * 2 : 64;
		if (cap > (1u << 24)) {
			error(p, "function too large");
			return;
		}
		f->code = buf_grow(p->vm, f->code, f->code_len, cap);
		f->code_data = (uint8_t *)f->code->data;
		f->lines = buf_grow(p->vm, f->lines, sizeof(int32_t) * f->code_len, sizeof(int32_t) * cap);
		f->code_cap = cap;
	}
	FN_CODE(f)[f->code_len] = b;
	FN_LINES(f)[f->code_len] = p->prev.line;
	f->code_len++;
}

static void adjust(Parser *p, int n)
{
	Compiler *c = p->c;
	c->depth += n;
	if (c->depth > c->max_depth)
		c->max_depth = c->depth;
}

static void emit_op(Parser *p, OpCode op)
{
	p->c->last_op = cur_fn(p)->code_len + 1;
	emit_byte(p, (uint8_t)op);
	adjust(p, op_effects[op]);
}

static void emit_short(Parser *p, uint32_t v)
{
	emit_byte(p, (uint8_t)(v & 0xff));
	emit_byte(p, (uint8_t)(v >> 8));
}

static void emit_op_byte(Parser *p, OpCode op, uint8_t b)
{
	emit_op(p, op);
	emit_byte(p, b);
}

static void emit_op_short(Parser *p, OpCode op, uint32_t v)
{
	emit_op(p, op);
	emit_short(p, v);
}

static int emit_jump(Parser *p, OpCode op)
{
	emit_op(p, op);
	emit_short(p, 0xffff);
	return (int)cur_fn(p)->code_len - 2;
}

static void patch_jump(Parser *p, int at)
{
	ObjFunction *f = cur_fn(p);
	uint32_t off = f->code_len - (uint32_t)at - 2;
	if (off > 0xffff) {
		error(p, "too much code to jump over");
		return;
	}
	FN_CODE(f)[at] = (uint8_t)(off & 0xff);
	FN_CODE(f)[at + 1] = (uint8_t)(off >> 8);
	p->c->last_target = f->code_len + 1;
}

/* Whether the code just emitted ends with a single op of len bytes that no
 * jump lands after: what it pushed may be fused with the next operation. */
static bool ends_with_lone(Parser *p, OpCode op, uint32_t len)
{
	ObjFunction *f = cur_fn(p);
	return p->error_count == 0 && f->code_len >= len && p->c->last_op == f->code_len - len + 1 &&
	       FN_CODE(f)[f->code_len - len] == op && p->c->last_target != f->code_len + 1;
}

static void emit_loop(Parser *p, int start)
{
	/* a lone POP just before (the body's last local) becomes part of the
	 * jump back; a jump landing on it still pops, then loops */
	if (ends_with_lone(p, OP_POP, 1))
		FN_CODE(cur_fn(p))[cur_fn(p)->code_len - 1] = OP_POP_LOOP;
	else
		emit_op(p, OP_LOOP);
	uint32_t off = cur_fn(p)->code_len - (uint32_t)start + 2;
	if (off > 0xffff)
		error(p, "loop body too large");
	emit_short(p, off);
}

static uint32_t add_const(Parser *p, Value v)
{
	ObjFunction *f = cur_fn(p);
	Value *k = f->consts ? FN_CONSTS(f) : NULL;
	/* reuse equal constants in small tables (ints and floats kept apart) */
	if (f->const_len < 512)
		for (uint32_t i = 0; i < f->const_len; i++)
			if (k[i].type == v.type && value_equal(k[i], v) && !(IS_FLOAT(v) && AS_FLOAT(v) == 0))
				return i;
	if (f->const_len >= 0xffff) {
		error(p, "too many constants in one function");
		return 0;
	}
	if (f->const_len == f->const_cap) {
		vm_push_root(p->vm, v);
		uint32_t cap = f->const_cap ? f->const_cap * 2 : 16;
		f->consts = buf_grow(p->vm, f->consts, sizeof(Value) * f->const_len, sizeof(Value) * cap);
		f->const_data = (Value *)f->consts->data;
		f->const_cap = cap;
		vm_pop_root(p->vm);
	}
	FN_CONSTS(f)[f->const_len] = v;
	return f->const_len++;
}

static void emit_const(Parser *p, Value v) { emit_op_short(p, OP_CONST, add_const(p, v)); }

static void emit_binary(Parser *p, OpCode op, uint32_t right);

static ObjString *intern_tok(Parser *p, const Token *t) { return str_intern_new(p->vm, t->start, t->length); }

static uint32_t name_const(Parser *p, const Token *t) { return add_const(p, OBJ_VAL(intern_tok(p, t))); }

/* ---------------------------------------------------------------- scopes */

static void init_compiler(Parser *p, Compiler *c, FnKind kind, const Token *name)
{
	memset(c, 0, sizeof *c);
	c->enclosing = p->c;
	c->kind = kind;
	p->c = c;
	p->vm->compiler = (struct Compiler *)c;
	c->fn = function_new(p->vm, p->module);
	if (name != NULL)
		c->fn->name = intern_tok(p, name);
	Local *l = &c->locals[c->local_count++];
	l->depth = 0;
	if (kind == FN_METHOD || kind == FN_INIT) {
		l->name = "self";
		l->len = 4;
	} else {
		l->name = "";
		l->len = 0;
	}
}

static ObjFunction *end_compiler(Parser *p)
{
	Compiler *c = p->c;
	if (c->kind == FN_INIT)
		emit_op_byte(p, OP_GET_LOCAL, 0);
	else if (c->kind == FN_SCRIPT)
		emit_op(p, OP_MODULE);
	else
		emit_op(p, OP_NIL);
	emit_op(p, OP_RETURN);
	ObjFunction *f = c->fn;
	f->max_slots = c->local_count + c->max_depth + 8;
	p->c = c->enclosing;
	p->vm->compiler = (struct Compiler *)p->c;
	return f;
}

static void begin_scope(Parser *p) { p->c->scope_depth++; }

/* Drop the locals from index `from` up (the newest last): a captured one
 * closes its upvalue, a run of plain ones is one POP or POPN. */
static void emit_local_pops(Parser *p, int from)
{
	Compiler *c = p->c;
	int i = c->local_count - 1;
	while (i >= from) {
		if (c->locals[i].captured) {
			emit_op(p, OP_CLOSE_UPVAL);
			i--;
			continue;
		}
		int n = 0;
		while (i >= from && !c->locals[i].captured && n < 255) {
			n++;
			i--;
		}
		if (n == 1) {
			emit_op(p, OP_POP);
		} else {
			emit_op_byte(p, OP_POPN, (uint8_t)n);
			adjust(p, -n);
		}
	}
}

static void end_scope(Parser *p)
{
	Compiler *c = p->c;
	c->scope_depth--;
	int from = c->local_count;
	while (from > 0 && c->locals[from - 1].depth > c->scope_depth)
		from--;
	emit_local_pops(p, from);
	c->local_count = from;
}

/* Pops for locals deeper than depth, without forgetting them (break/continue). */
static void discard_locals(Parser *p, int depth)
{
	Compiler *c = p->c;
	int save = c->depth;
	int from = c->local_count;
	while (from > 0 && c->locals[from - 1].depth > depth)
		from--;
	emit_local_pops(p, from);
	c->depth = save;
}

static bool tok_eq(const char *a, size_t an, const char *b, size_t bn) { return an == bn && memcmp(a, b, an) == 0; }

/* A local for a value already on the stack (depth accounting moves it from
 * temporaries to locals). */
static int add_local(Parser *p, const char *name, size_t len)
{
	Compiler *c = p->c;
	if (c->local_count == MAX_LOCALS) {
		error(p, "too many local variables in one function");
		return 0;
	}
	Local *l = &c->locals[c->local_count++];
	l->name = name;
	l->len = len;
	l->depth = c->scope_depth;
	l->captured = false;
	c->depth--; /* the value now counts as a local */
	return c->local_count - 1;
}

static int resolve_local(Compiler *c, const char *name, size_t len)
{
	for (int i = c->local_count - 1; i >= 0; i--)
		if (tok_eq(c->locals[i].name, c->locals[i].len, name, len))
			return i;
	return -1;
}

static int add_upvalue(Parser *p, Compiler *c, uint8_t index, bool is_local)
{
	int n = c->fn->upvalue_count;
	for (int i = 0; i < n; i++)
		if (c->upvalues[i].index == index && c->upvalues[i].is_local == is_local)
			return i;
	if (n == MAX_UPVALUES) {
		error(p, "too many captured variables in one function");
		return 0;
	}
	c->upvalues[n].index = index;
	c->upvalues[n].is_local = is_local;
	return c->fn->upvalue_count++;
}

static int resolve_upvalue(Parser *p, Compiler *c, const char *name, size_t len)
{
	if (c->enclosing == NULL)
		return -1;
	int local = resolve_local(c->enclosing, name, len);
	if (local >= 0) {
		c->enclosing->locals[local].captured = true;
		return add_upvalue(p, c, (uint8_t)local, true);
	}
	int up = resolve_upvalue(p, c->enclosing, name, len);
	if (up >= 0)
		return add_upvalue(p, c, (uint8_t)up, false);
	return -1;
}

static int global_slot(Parser *p, const char *name, size_t len)
{
	ObjString *s = str_intern_new(p->vm, name, len);
	vm_push_root(p->vm, OBJ_VAL(s));
	int slot = module_slot(p->vm, p->module, s);
	vm_pop_root(p->vm);
	if (slot > 0xffff) {
		error(p, "too many module variables");
		return 0;
	}
	return slot;
}

typedef enum VarKind { VAR_LOCAL, VAR_UPVAL, VAR_GLOBAL } VarKind;

static VarKind resolve(Parser *p, const char *name, size_t len, int *arg)
{
	int a = resolve_local(p->c, name, len);
	if (a >= 0) {
		*arg = a;
		return VAR_LOCAL;
	}
	a = resolve_upvalue(p, p->c, name, len);
	if (a >= 0) {
		*arg = a;
		return VAR_UPVAL;
	}
	*arg = global_slot(p, name, len);
	return VAR_GLOBAL;
}

static void emit_get(Parser *p, VarKind k, int arg)
{
	if (k == VAR_LOCAL)
		emit_op_byte(p, OP_GET_LOCAL, (uint8_t)arg);
	else if (k == VAR_UPVAL)
		emit_op_byte(p, OP_GET_UPVAL, (uint8_t)arg);
	else
		emit_op_short(p, OP_GET_GLOBAL, (uint32_t)arg);
}

static void emit_set(Parser *p, VarKind k, int arg)
{
	if (k == VAR_LOCAL)
		emit_op_byte(p, OP_SET_LOCAL, (uint8_t)arg);
	else if (k == VAR_UPVAL)
		emit_op_byte(p, OP_SET_UPVAL, (uint8_t)arg);
	else
		emit_op_short(p, OP_SET_GLOBAL, (uint32_t)arg);
}

/* A new variable named by tok whose value is on the stack top: a module
 * variable at the top level of a script, else a local. */
static void define_variable(Parser *p, const char *name, size_t len)
{
	if (p->c->kind == FN_SCRIPT && p->c->scope_depth == 0) {
		emit_op_short(p, OP_DEFINE_GLOBAL, (uint32_t)global_slot(p, name, len));
		return;
	}
	Compiler *c = p->c;
	for (int i = c->local_count - 1; i >= 0 && c->locals[i].depth >= c->scope_depth; i--)
		if (tok_eq(c->locals[i].name, c->locals[i].len, name, len)) {
			error(p, "a variable with this name already exists in this scope");
			break;
		}
	add_local(p, name, len);
}

/* ---------------------------------------------------------------- expressions */

static void number(Parser *p, bool can_assign)
{
	(void)can_assign;
	char buf[128];
	size_t n = 0;
	for (size_t i = 0; i < p->prev.length && n < sizeof buf - 1; i++)
		if (p->prev.start[i] != '_')
			buf[n++] = p->prev.start[i];
	buf[n] = '\0';
	if (p->prev.type == TOK_FLOAT) {
		emit_const(p, FLOAT_VAL(strtod(buf, NULL)));
		return;
	}
	int base = 10;
	const char *digits = buf;
	if (n > 1 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
		base = 16, digits = buf + 2;
	else if (n > 1 && buf[0] == '0' && (buf[1] == 'b' || buf[1] == 'B'))
		base = 2, digits = buf + 2;
	errno = 0;
	unsigned long long v = strtoull(digits, NULL, base);
	if (errno == ERANGE || v > (unsigned long long)INT64_MAX || p->prev.length >= sizeof buf - 1) {
		error(p, "integer literal too large (the largest is 9223372036854775807)");
		v = 0;
	}
	emit_const(p, INT_VAL((int64_t)v));
}

static uint32_t string_index(Parser *p, const Token *t)
{
	if (t->type == TOK_RAW_STRING)
		return add_const(p, OBJ_VAL(str_intern_new(p->vm, t->start, t->length)));
	char small[256];
	char *out = small;
	ObjBuf *b = NULL;
	if (t->length > sizeof small) {
		b = buf_new(p->vm, t->length);
		vm_push_root(p->vm, OBJ_VAL(b));
		out = (char *)b->data;
	}
	size_t n = lex_unescape(t->start, t->length, out);
	/* literals are interned like names: they are often keys or compared */
	ObjString *s = str_intern_new(p->vm, out, n);
	if (b != NULL)
		vm_pop_root(p->vm);
	return add_const(p, OBJ_VAL(s));
}

static void string_const(Parser *p, const Token *t) { emit_op_short(p, OP_CONST, string_index(p, t)); }

static void string(Parser *p, bool can_assign)
{
	(void)can_assign;
	if (p->prev.type != TOK_STRING_PART) {
		string_const(p, &p->prev);
		return;
	}
	/* "a${x}b${y}c": parts and values, then one BUILD_STRING */
	int parts = 0;
	bool old = set_ignore_nl(p, true);
	for (;;) {
		Token part = p->prev;
		if (part.length > 0) {
			string_const(p, &part);
			parts++;
		}
		if (part.type != TOK_STRING_PART)
			break;
		if (parts >= 250) {
			error(p, "too many interpolations in one string");
			break;
		}
		expression(p);
		parts++;
		if (check(p, TOK_STRING) || check(p, TOK_STRING_PART)) {
			/* the closing part ends the string: a newline after it is
			 * significant again, so restore the setting before reading on */
			if (check(p, TOK_STRING))
				p->ignore_nl = old;
			advance(p);
		} else {
			error_cur(p, "expected '}' to end the interpolation");
			break;
		}
	}
	p->ignore_nl = old;
	if (parts == 0) {
		emit_const(p, OBJ_VAL(str_intern_new(p->vm, "", 0)));
	} else {
		emit_op_byte(p, OP_BUILD_STRING, (uint8_t)parts);
		adjust(p, 1 - parts);
	}
}

static void literal(Parser *p, bool can_assign)
{
	(void)can_assign;
	switch (p->prev.type) {
	case TOK_NIL: emit_op(p, OP_NIL); break;
	case TOK_TRUE: emit_op(p, OP_TRUE); break;
	case TOK_FALSE: emit_op(p, OP_FALSE); break;
	default: break;
	}
}

static void grouping(Parser *p, bool can_assign)
{
	(void)can_assign;
	bool old = set_ignore_nl(p, true);
	expression(p);
	p->ignore_nl = old;
	consume(p, TOK_RPAREN, "expected ')' after expression");
}

static OpCode compound_op(TokenType t)
{
	switch (t) {
	case TOK_PLUS_EQ: return OP_ADD;
	case TOK_MINUS_EQ: return OP_SUB;
	case TOK_STAR_EQ: return OP_MUL;
	case TOK_SLASH_EQ: return OP_DIV;
	case TOK_SLASHSLASH_EQ: return OP_IDIV;
	case TOK_PERCENT_EQ: return OP_MOD;
	default: return OP__COUNT;
	}
}

static bool match_compound(Parser *p, OpCode *op)
{
	OpCode o = compound_op(p->cur.type);
	if (o == OP__COUNT)
		return false;
	advance(p);
	*op = o;
	return true;
}

static void named_variable(Parser *p, const char *name, size_t len, bool can_assign)
{
	int arg;
	VarKind k = resolve(p, name, len, &arg);
	OpCode op;
	if (can_assign && match(p, TOK_EQ)) {
		expression(p);
		emit_set(p, k, arg);
	} else if (can_assign && match_compound(p, &op)) {
		emit_get(p, k, arg);
		uint32_t right = cur_fn(p)->code_len;
		expression(p);
		emit_binary(p, op, right);
		/* a plain + - * then the store: one instruction (see opcodes.h) */
		static const uint8_t to_local[OP__COUNT] = {[OP_ADD] = OP_ADD_SL, [OP_SUB] = OP_SUB_SL, [OP_MUL] = OP_MUL_SL};
		static const uint8_t to_global[OP__COUNT] = {[OP_ADD] = OP_ADD_SG, [OP_SUB] = OP_SUB_SG, [OP_MUL] = OP_MUL_SG};
		ObjFunction *f = cur_fn(p);
		uint8_t last = f->code_len > 0 ? FN_CODE(f)[f->code_len - 1] : 0;
		if (k != VAR_UPVAL && p->error_count == 0 && p->c->last_op == f->code_len && to_local[last] != 0) {
			/* the operator's stack effect is counted; the store's is 0 */
			if (k == VAR_LOCAL) {
				FN_CODE(f)[f->code_len - 1] = to_local[last];
				emit_byte(p, (uint8_t)arg);
			} else {
				FN_CODE(f)[f->code_len - 1] = to_global[last];
				emit_short(p, (uint32_t)arg);
			}
		} else {
			emit_set(p, k, arg);
		}
	} else {
		emit_get(p, k, arg);
	}
}

static void variable(Parser *p, bool can_assign) { named_variable(p, p->prev.start, p->prev.length, can_assign); }

static void self_(Parser *p, bool can_assign)
{
	(void)can_assign;
	if (p->klass == NULL) {
		error(p, "'self' used outside of a method");
		emit_op(p, OP_NIL);
		return;
	}
	named_variable(p, "self", 4, false);
}

static uint8_t argument_list(Parser *p)
{
	int argc = 0;
	bool old = set_ignore_nl(p, true);
	if (!check(p, TOK_RPAREN)) {
		do {
			if (check(p, TOK_RPAREN))
				break; /* trailing comma */
			expression(p);
			if (++argc > 255)
				error(p, "too many arguments (at most 255)");
		} while (match(p, TOK_COMMA));
	}
	p->ignore_nl = old;
	consume(p, TOK_RPAREN, "expected ')' after arguments");
	return (uint8_t)(argc > 255 ? 255 : argc);
}

/* After '.', keywords are plain names (lib.fn, x.in). */
static void property_name(Parser *p)
{
	if (p->cur.type >= TOK_LET && p->cur.type <= TOK_IS)
		p->cur.type = TOK_IDENT;
	consume(p, TOK_IDENT, "expected a property name after '.'");
}

static void super_(Parser *p, bool can_assign)
{
	(void)can_assign;
	if (p->klass == NULL)
		error(p, "'super' used outside of a method");
	else if (!p->klass->has_super)
		error(p, "'super' used in a class without a superclass");
	consume(p, TOK_DOT, "expected '.' after 'super'");
	property_name(p);
	Token name = p->prev;
	uint32_t k = name_const(p, &name);
	named_variable(p, "self", 4, false);
	if (match(p, TOK_LPAREN)) {
		uint8_t argc = argument_list(p);
		named_variable(p, "super", 5, false);
		emit_op_short(p, OP_SUPER_INVOKE, k);
		emit_byte(p, argc);
		adjust(p, -(int)argc - 1);
	} else {
		named_variable(p, "super", 5, false);
		emit_op_short(p, OP_GET_SUPER, k);
	}
}

static void unary(Parser *p, bool can_assign)
{
	(void)can_assign;
	TokenType t = p->prev.type;
	parse_prec(p, t == TOK_NOT ? PREC_NOT : PREC_UNARY);
	if (t == TOK_MINUS)
		emit_op(p, OP_NEG);
	else if (t == TOK_TILDE)
		emit_op(p, OP_BNOT);
	else
		emit_op(p, OP_NOT);
}

/* When the right operand compiled to a lone CONST or GET_LOCAL, turn it into
 * the fused form of the operator (see opcodes.h). Nothing can jump into the
 * middle of a single load, so rewriting it in place is safe. */
static bool fuse_right_operand(Parser *p, OpCode op, uint32_t right)
{
	OpCode k, l, imm;
	switch (op) {
	case OP_ADD: k = OP_ADD_K, l = OP_ADD_L, imm = OP_ADD_I; break;
	case OP_SUB: k = OP_SUB_K, l = OP_SUB_L, imm = OP_SUB_I; break;
	case OP_MUL: k = OP_MUL_K, l = OP_MUL_L, imm = OP_MUL_I; break;
	case OP_DIV: k = OP_DIV_K, l = OP__COUNT, imm = OP__COUNT; break;
	case OP_IDIV: k = OP_IDIV_K, l = OP__COUNT, imm = OP_IDIV_I; break;
	case OP_MOD: k = OP_MOD_K, l = OP__COUNT, imm = OP_MOD_I; break;
	case OP_EQ: k = OP_EQ_K, l = OP__COUNT, imm = OP_EQ_I; break;
	case OP_NE: k = OP_NE_K, l = OP__COUNT, imm = OP_NE_I; break;
	case OP_LT: k = OP_LT_K, l = OP_LT_L, imm = OP_LT_I; break;
	case OP_LE: k = OP_LE_K, l = OP_LE_L, imm = OP_LE_I; break;
	case OP_GT: k = OP_GT_K, l = OP_GT_L, imm = OP_GT_I; break;
	case OP_GE: k = OP_GE_K, l = OP_GE_L, imm = OP_GE_I; break;
	default: return false;
	}
	ObjFunction *f = cur_fn(p);
	if (p->error_count > 0 || f->code_len <= right)
		return false;
	uint8_t *code = FN_CODE(f);
	OpCode fused = OP__COUNT;
	if (code[right] == OP_CONST && f->code_len == right + 3) {
		fused = k;
		Value c = FN_CONSTS(f)[code[right + 1] | (code[right + 2] << 8)];
		if (imm != OP__COUNT && IS_INT(c) && AS_INT(c) >= INT16_MIN && AS_INT(c) <= INT16_MAX) {
			/* the constant itself becomes the operand */
			uint16_t bits = (uint16_t)(int16_t)AS_INT(c);
			fused = imm;
			code[right + 1] = (uint8_t)(bits & 0xff);
			code[right + 2] = (uint8_t)(bits >> 8);
		}
	} else if (code[right] == OP_GET_LOCAL && f->code_len == right + 2) {
		fused = l;
	}
	if (fused == OP__COUNT)
		return false;
	code[right] = (uint8_t)fused; /* the operand bytes stay as they are */
	adjust(p, -1);                /* the load's push is gone; the fused op nets 0 */
	return true;
}

/* A binary operator whose right side starts at offset right. */
static void emit_binary(Parser *p, OpCode op, uint32_t right)
{
	if (!fuse_right_operand(p, op, right))
		emit_op(p, op);
}

/* After fuse_right_operand made `local OP local` a GET_LOCAL then an _L
 * form: one instruction with both slots (the left load is lone, so no jump
 * lands between the two). */
static void fuse_local_pair(Parser *p, uint32_t right)
{
	ObjFunction *f = cur_fn(p);
	uint8_t *code = FN_CODE(f);
	if (p->error_count > 0 || right < 2 || code[right - 2] != OP_GET_LOCAL)
		return;
	if (f->code_len == right + 3) {
		/* `local OP small int`: the slot, then the immediate */
		static const uint8_t with_local[OP__COUNT] = {
			[OP_ADD_I] = OP_ADD_LI, [OP_SUB_I] = OP_SUB_LI, [OP_MUL_I] = OP_MUL_LI,
			[OP_EQ_I] = OP_EQ_LI,   [OP_NE_I] = OP_NE_LI,   [OP_LT_I] = OP_LT_LI,
			[OP_LE_I] = OP_LE_LI,   [OP_GT_I] = OP_GT_LI,   [OP_GE_I] = OP_GE_LI,
		};
		uint8_t li = with_local[code[right]];
		if (li == 0)
			return;
		code[right - 2] = li;          /* code[right - 1]: the slot already */
		code[right] = code[right + 1]; /* the immediate */
		code[right + 1] = code[right + 2];
		f->code_len = right + 2;
		p->c->last_op = right - 1;
		return;
	}
	if (f->code_len != right + 2)
		return;
	OpCode pair;
	switch (code[right]) {
	case OP_ADD_L: pair = OP_ADD_LL; break;
	case OP_SUB_L: pair = OP_SUB_LL; break;
	case OP_MUL_L: pair = OP_MUL_LL; break;
	default: return;
	}
	code[right - 2] = (uint8_t)pair; /* code[right - 1]: the left slot already */
	code[right] = code[right + 1];   /* the right slot */
	f->code_len = right + 1;
	p->c->last_op = right - 1; /* offset + 1 of the fused instruction */
}

static void binary(Parser *p, bool can_assign)
{
	(void)can_assign;
	TokenType t = p->prev.type;
	const Rule *r = rule(t);
	uint32_t right = cur_fn(p)->code_len;
	bool left_local = ends_with_lone(p, OP_GET_LOCAL, 2);
	/* ** is right-associative: its right side binds at the same level */
	parse_prec(p, t == TOK_STARSTAR ? PREC_POWER : (Prec)(r->prec + 1));
	static const OpCode ops[TOK__COUNT] = {
		[TOK_PLUS] = OP_ADD, [TOK_MINUS] = OP_SUB, [TOK_STAR] = OP_MUL, [TOK_SLASH] = OP_DIV,
		[TOK_SLASHSLASH] = OP_IDIV, [TOK_PERCENT] = OP_MOD, [TOK_STARSTAR] = OP_POW,
		[TOK_AMP] = OP_BAND, [TOK_PIPE] = OP_BOR, [TOK_CARET] = OP_BXOR, [TOK_SHL] = OP_SHL,
		[TOK_SHR] = OP_SHR, [TOK_EQEQ] = OP_EQ, [TOK_NE] = OP_NE, [TOK_LT] = OP_LT,
		[TOK_LE] = OP_LE, [TOK_GT] = OP_GT, [TOK_GE] = OP_GE, [TOK_IS] = OP_IS,
	};
	emit_binary(p, ops[t], right);
	if (left_local)
		fuse_local_pair(p, right);
}

static void and_(Parser *p, bool can_assign)
{
	(void)can_assign;
	int j = emit_jump(p, OP_AND);
	parse_prec(p, PREC_AND + 1);
	patch_jump(p, j);
}

static void or_(Parser *p, bool can_assign)
{
	(void)can_assign;
	int j = emit_jump(p, OP_OR);
	parse_prec(p, PREC_OR + 1);
	patch_jump(p, j);
}

static void call(Parser *p, bool can_assign)
{
	(void)can_assign;
	uint8_t argc = argument_list(p);
	emit_op_byte(p, OP_CALL, argc);
	adjust(p, -(int)argc);
}

static void dot(Parser *p, bool can_assign)
{
	property_name(p);
	Token name = p->prev;
	uint32_t k = name_const(p, &name);
	OpCode op;
	if (can_assign && match(p, TOK_EQ)) {
		expression(p);
		emit_op_short(p, OP_SET_FIELD, k);
	} else if (can_assign && match_compound(p, &op)) {
		if (ends_with_lone(p, OP_GET_LOCAL, 2)) {
			/* local.name op= e: read the field straight from the local
			 * (the receiver stays below for SET_FIELD) */
			uint8_t slot = FN_CODE(cur_fn(p))[cur_fn(p)->code_len - 1];
			emit_op_short(p, OP_GET_LOCAL_FIELD, k);
			emit_byte(p, slot);
		} else {
			emit_op(p, OP_DUP);
			emit_op_short(p, OP_GET_FIELD, k);
		}
		uint32_t right = cur_fn(p)->code_len;
		expression(p);
		emit_binary(p, op, right);
		emit_op_short(p, OP_SET_FIELD, k);
	} else if (match(p, TOK_LPAREN)) {
		uint8_t argc = argument_list(p);
		emit_op_short(p, OP_INVOKE, k);
		emit_byte(p, argc);
		adjust(p, -(int)argc);
	} else if (ends_with_lone(p, OP_GET_LOCAL, 2)) {
		/* local.name: one instruction (see opcodes.h) */
		ObjFunction *f = cur_fn(p);
		uint8_t slot = FN_CODE(f)[f->code_len - 1];
		f->code_len -= 2;
		adjust(p, -1);
		emit_op_short(p, OP_GET_LOCAL_FIELD, k);
		emit_byte(p, slot);
	} else {
		emit_op_short(p, OP_GET_FIELD, k);
	}
}

static void index_(Parser *p, bool can_assign)
{
	bool obj_local = ends_with_lone(p, OP_GET_LOCAL, 2);
	uint32_t start = cur_fn(p)->code_len;
	bool old = set_ignore_nl(p, true);
	bool slice = false;
	if (check(p, TOK_COLON)) {
		emit_op(p, OP_NIL);
		slice = true;
	} else {
		expression(p);
	}
	if (slice || match(p, TOK_COLON)) {
		if (slice)
			advance(p); /* the ':' */
		if (check(p, TOK_RBRACKET))
			emit_op(p, OP_NIL);
		else
			expression(p);
		p->ignore_nl = old;
		consume(p, TOK_RBRACKET, "expected ']' after slice");
		emit_op(p, OP_SLICE);
		return;
	}
	p->ignore_nl = old;
	consume(p, TOK_RBRACKET, "expected ']' after index");
	OpCode op;
	if (can_assign && match(p, TOK_EQ)) {
		expression(p);
		emit_op(p, OP_SET_INDEX);
	} else if (can_assign && match_compound(p, &op)) {
		emit_op(p, OP_DUP2);
		emit_op(p, OP_GET_INDEX);
		uint32_t right = cur_fn(p)->code_len;
		expression(p);
		emit_binary(p, op, right);
		emit_op(p, OP_SET_INDEX);
	} else if (obj_local && cur_fn(p)->code_len == start + 2 && ends_with_lone(p, OP_GET_LOCAL, 2)) {
		/* local[local]: one instruction with both slots (see opcodes.h) */
		ObjFunction *f = cur_fn(p);
		uint8_t *code = FN_CODE(f);
		code[start - 2] = OP_GET_INDEX_LL; /* code[start - 1]: the object's slot already */
		code[start] = code[start + 1];     /* the index's slot */
		f->code_len = start + 1;
		p->c->last_op = start - 1;
		adjust(p, -1); /* two loads counted, one value left */
	} else {
		emit_op(p, OP_GET_INDEX);
	}
}

static void list_literal(Parser *p, bool can_assign)
{
	(void)can_assign;
	bool old = set_ignore_nl(p, true);
	int pending = 0;
	bool made = false;
	while (!check(p, TOK_RBRACKET) && !check(p, TOK_EOF)) {
		expression(p);
		if (++pending == 64) { /* flush in chunks: the stack use stays bounded */
			emit_op_byte(p, made ? OP_LIST_APPEND : OP_LIST, (uint8_t)pending);
			adjust(p, made ? -pending : 1 - pending);
			made = true;
			pending = 0;
		}
		if (!match(p, TOK_COMMA))
			break;
	}
	p->ignore_nl = old;
	consume(p, TOK_RBRACKET, "expected ']' after list elements");
	if (!made || pending > 0) {
		emit_op_byte(p, made ? OP_LIST_APPEND : OP_LIST, (uint8_t)pending);
		adjust(p, made ? -pending : 1 - pending);
	}
}

static void map_literal(Parser *p, bool can_assign)
{
	(void)can_assign;
	bool old = set_ignore_nl(p, true);
	int pending = 0;
	bool made = false;
	while (!check(p, TOK_RBRACE) && !check(p, TOK_EOF)) {
		if (check(p, TOK_IDENT) && peek_next(p, true).type == TOK_COLON) {
			advance(p);
			emit_const(p, OBJ_VAL(intern_tok(p, &p->prev)));
		} else {
			expression(p);
		}
		consume(p, TOK_COLON, "expected ':' after map key");
		expression(p);
		if (++pending == 32) {
			emit_op_byte(p, made ? OP_MAP_APPEND : OP_MAP, (uint8_t)pending);
			adjust(p, made ? -2 * pending : 1 - 2 * pending);
			made = true;
			pending = 0;
		}
		if (!match(p, TOK_COMMA))
			break;
	}
	p->ignore_nl = old;
	consume(p, TOK_RBRACE, "expected '}' after map entries");
	if (!made || pending > 0) {
		emit_op_byte(p, made ? OP_MAP_APPEND : OP_MAP, (uint8_t)pending);
		adjust(p, made ? -2 * pending : 1 - 2 * pending);
	}
}

static void function_body(Parser *p, FnKind kind, const Token *name);

static void lambda(Parser *p, bool can_assign)
{
	(void)can_assign;
	function_body(p, FN_FUNCTION, NULL);
}

static const Rule rules[TOK__COUNT] = {
	[TOK_LPAREN] = {grouping, call, PREC_CALL},
	[TOK_LBRACKET] = {list_literal, index_, PREC_CALL},
	[TOK_LBRACE] = {map_literal, NULL, PREC_NONE},
	[TOK_DOT] = {NULL, dot, PREC_CALL},
	[TOK_MINUS] = {unary, binary, PREC_TERM},
	[TOK_PLUS] = {NULL, binary, PREC_TERM},
	[TOK_STAR] = {NULL, binary, PREC_FACTOR},
	[TOK_SLASH] = {NULL, binary, PREC_FACTOR},
	[TOK_SLASHSLASH] = {NULL, binary, PREC_FACTOR},
	[TOK_PERCENT] = {NULL, binary, PREC_FACTOR},
	[TOK_STARSTAR] = {NULL, binary, PREC_POWER},
	[TOK_AMP] = {NULL, binary, PREC_BAND},
	[TOK_PIPE] = {NULL, binary, PREC_BOR},
	[TOK_CARET] = {NULL, binary, PREC_BXOR},
	[TOK_SHL] = {NULL, binary, PREC_SHIFT},
	[TOK_SHR] = {NULL, binary, PREC_SHIFT},
	[TOK_TILDE] = {unary, NULL, PREC_NONE},
	[TOK_EQEQ] = {NULL, binary, PREC_COMPARE},
	[TOK_NE] = {NULL, binary, PREC_COMPARE},
	[TOK_LT] = {NULL, binary, PREC_COMPARE},
	[TOK_LE] = {NULL, binary, PREC_COMPARE},
	[TOK_GT] = {NULL, binary, PREC_COMPARE},
	[TOK_GE] = {NULL, binary, PREC_COMPARE},
	[TOK_IS] = {NULL, binary, PREC_COMPARE},
	[TOK_IDENT] = {variable, NULL, PREC_NONE},
	[TOK_INT] = {number, NULL, PREC_NONE},
	[TOK_FLOAT] = {number, NULL, PREC_NONE},
	[TOK_STRING] = {string, NULL, PREC_NONE},
	[TOK_STRING_PART] = {string, NULL, PREC_NONE},
	[TOK_RAW_STRING] = {string, NULL, PREC_NONE},
	[TOK_AND] = {NULL, and_, PREC_AND},
	[TOK_OR] = {NULL, or_, PREC_OR},
	[TOK_NOT] = {unary, NULL, PREC_NONE},
	[TOK_NIL] = {literal, NULL, PREC_NONE},
	[TOK_TRUE] = {literal, NULL, PREC_NONE},
	[TOK_FALSE] = {literal, NULL, PREC_NONE},
	[TOK_SELF] = {self_, NULL, PREC_NONE},
	[TOK_SUPER] = {super_, NULL, PREC_NONE},
	[TOK_FN] = {lambda, NULL, PREC_NONE},
};

static const Rule *rule(TokenType t) { return &rules[t]; }

static void parse_prec(Parser *p, Prec prec)
{
	if (!enter_nesting(p)) {
		p->nesting--;
		return;
	}
	advance(p);
	ParseFn prefix = rule(p->prev.type)->prefix;
	if (prefix == NULL) {
		error(p, p->prev.type == TOK_EOF ? "unexpected end of input" : "expected an expression");
		adjust(p, 1); /* pretend a value was pushed */
		p->nesting--;
		return;
	}
	bool can_assign = prec <= PREC_ASSIGN;
	prefix(p, can_assign);
	while (prec <= rule(p->cur.type)->prec) {
		advance(p);
		rule(p->prev.type)->infix(p, can_assign);
	}
	if (can_assign && (check(p, TOK_EQ) || compound_op(p->cur.type) != OP__COUNT)) {
		error_cur(p, "invalid assignment target");
		advance(p);
	}
	p->nesting--;
}

static void expression(Parser *p) { parse_prec(p, PREC_ASSIGN); }

/* ---------------------------------------------------------------- functions */

static void function_body(Parser *p, FnKind kind, const Token *name)
{
	if (++p->fn_nesting > MAX_FN_NESTING) {
		p->nesting = MAX_NESTING;
		enter_nesting(p);
		p->fn_nesting--;
		return;
	}
	Compiler c;
	init_compiler(p, &c, kind, name);
	begin_scope(p);
	consume(p, TOK_LPAREN, "expected '(' before parameters");
	bool old = set_ignore_nl(p, true);
	if (!check(p, TOK_RPAREN)) {
		do {
			if (check(p, TOK_RPAREN))
				break;
			bool rest = match(p, TOK_ELLIPSIS);
			consume(p, TOK_IDENT, "expected a parameter name");
			if (c.fn->variadic)
				error(p, "the '...' parameter must come last");
			if (rest)
				c.fn->variadic = true;
			else if (++c.fn->arity > 255)
				error(p, "too many parameters (at most 255)");
			adjust(p, 1);
			define_variable(p, p->prev.start, p->prev.length);
		} while (match(p, TOK_COMMA));
	}
	p->ignore_nl = old;
	c.fn->call_arity = c.fn->variadic ? -1 : c.fn->arity;
	consume(p, TOK_RPAREN, "expected ')' after parameters");
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' before the function body");
	block(p);
	ObjFunction *fn = end_compiler(p);
	/* the finished function is a constant of the enclosing one */
	vm_push_root(p->vm, OBJ_VAL(fn));
	uint32_t k = add_const(p, OBJ_VAL(fn));
	vm_pop_root(p->vm);
	emit_op_short(p, OP_CLOSURE, k);
	for (int i = 0; i < fn->upvalue_count; i++) {
		emit_byte(p, c.upvalues[i].is_local ? 1 : 0);
		emit_byte(p, c.upvalues[i].index);
	}
	p->fn_nesting--;
}

/* ---------------------------------------------------------------- statements */

static void end_statement(Parser *p)
{
	if (match(p, TOK_NEWLINE) || match(p, TOK_SEMI))
		return;
	if (check(p, TOK_RBRACE) || check(p, TOK_EOF))
		return;
	error_cur(p, "expected a newline or ';' after the statement");
}

/* Skip to a likely statement start after an error. */
static void synchronize(Parser *p)
{
	p->panic = false;
	while (!check(p, TOK_EOF)) {
		if (p->prev.type == TOK_NEWLINE || p->prev.type == TOK_SEMI)
			return;
		switch (p->cur.type) {
		case TOK_LET: case TOK_FN: case TOK_CLASS: case TOK_IF: case TOK_WHILE:
		case TOK_FOR: case TOK_RETURN: case TOK_IMPORT: case TOK_TRY: case TOK_THROW:
		case TOK_RBRACE:
			return;
		default:
			advance(p);
		}
	}
}

static void block(Parser *p)
{
	bool old = set_ignore_nl(p, false);
	skip_newlines(p);
	while (!check(p, TOK_RBRACE) && !check(p, TOK_EOF)) {
		declaration(p);
		skip_newlines(p);
	}
	p->ignore_nl = old;
	consume(p, TOK_RBRACE, "expected '}' to close the block");
}

static void let_declaration(Parser *p)
{
	consume(p, TOK_IDENT, "expected a variable name after 'let'");
	Token name = p->prev;
	/* like Lua, the initializer sees an outer variable of the same name */
	if (match(p, TOK_EQ)) {
		expression(p);
	} else {
		emit_op(p, OP_NIL);
	}
	define_variable(p, name.start, name.length);
	end_statement(p);
}

static void fn_declaration(Parser *p)
{
	consume(p, TOK_IDENT, "expected a function name after 'fn'");
	Token name = p->prev;
	bool local = !(p->c->kind == FN_SCRIPT && p->c->scope_depth == 0);
	if (local) {
		/* a local function can call itself: declare it before its body */
		emit_op(p, OP_NIL);
		define_variable(p, name.start, name.length);
		int slot = p->c->local_count - 1;
		function_body(p, FN_FUNCTION, &name);
		emit_op_byte(p, OP_SET_LOCAL, (uint8_t)slot);
		emit_op(p, OP_POP);
		return;
	}
	function_body(p, FN_FUNCTION, &name);
	define_variable(p, name.start, name.length);
}

static void class_declaration(Parser *p)
{
	consume(p, TOK_IDENT, "expected a class name after 'class'");
	Token name = p->prev;
	uint32_t k = name_const(p, &name);
	emit_op_short(p, OP_CLASS, k);
	define_variable(p, name.start, name.length);
	ClassInfo info = {p->klass, false};
	p->klass = &info;
	if (match(p, TOK_LT)) {
		consume(p, TOK_IDENT, "expected a superclass name after '<'");
		if (tok_eq(name.start, name.length, p->prev.start, p->prev.length))
			error(p, "a class cannot inherit from itself");
		variable(p, false);
		begin_scope(p);
		add_local(p, "super", 5);
		info.has_super = true;
	}
	named_variable(p, name.start, name.length, false);
	if (info.has_super)
		emit_op(p, OP_INHERIT);
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' before the class body");
	bool old = set_ignore_nl(p, false);
	skip_newlines(p);
	while (!check(p, TOK_RBRACE) && !check(p, TOK_EOF)) {
		/* "fn name() {}" is accepted too; a keyword may name a method */
		if (check(p, TOK_FN) && peek_next(p, false).type != TOK_LPAREN)
			advance(p);
		if (p->cur.type >= TOK_LET && p->cur.type <= TOK_IS && peek_next(p, false).type == TOK_LPAREN)
			p->cur.type = TOK_IDENT;
		consume(p, TOK_IDENT, "expected a method name (class bodies hold only methods)");
		if (p->panic) {
			synchronize(p);
			if (check(p, TOK_RBRACE))
				break;
			if (!check(p, TOK_IDENT))
				advance(p);
			skip_newlines(p);
			continue;
		}
		Token m = p->prev;
		uint32_t mk = name_const(p, &m);
		FnKind kind = tok_eq(m.start, m.length, "init", 4) ? FN_INIT : FN_METHOD;
		function_body(p, kind, &m);
		emit_op_short(p, OP_METHOD, mk);
		skip_newlines(p);
	}
	p->ignore_nl = old;
	consume(p, TOK_RBRACE, "expected '}' after the class body");
	emit_op(p, OP_POP);
	if (info.has_super)
		end_scope(p);
	p->klass = info.enclosing;
}

#define MAX_ELSE_IF 1024

/* if / else if / else, as a loop so long else-if chains use no C stack. */
static void if_statement(Parser *p)
{
	int end_jumps[MAX_ELSE_IF];
	int n_end = 0;
	for (;;) {
		expression(p);
		int else_jump = emit_jump(p, OP_JUMP_IF_FALSE);
		skip_newlines(p);
		consume(p, TOK_LBRACE, "expected '{' after the if condition");
		begin_scope(p);
		block(p);
		end_scope(p);
		/* else may come after newlines */
		if (check(p, TOK_NEWLINE) && peek_next(p, true).type == TOK_ELSE)
			skip_newlines(p);
		if (!match(p, TOK_ELSE)) {
			patch_jump(p, else_jump);
			break;
		}
		if (n_end == MAX_ELSE_IF) {
			error(p, "too many 'else if' branches");
			patch_jump(p, else_jump);
			break;
		}
		end_jumps[n_end++] = emit_jump(p, OP_JUMP);
		patch_jump(p, else_jump);
		if (match(p, TOK_IF))
			continue;
		skip_newlines(p);
		consume(p, TOK_LBRACE, "expected '{' after 'else'");
		begin_scope(p);
		block(p);
		end_scope(p);
		break;
	}
	for (int i = 0; i < n_end; i++)
		patch_jump(p, end_jumps[i]);
}

static void begin_loop(Parser *p, Loop *loop, int start)
{
	loop->enclosing = p->c->loop;
	loop->start = start;
	loop->scope_depth = p->c->scope_depth;
	loop->try_depth = p->c->try_depth;
	loop->break_count = 0;
	p->c->loop = loop;
}

static void end_loop(Parser *p, Loop *loop)
{
	for (int i = 0; i < loop->break_count; i++)
		patch_jump(p, loop->breaks[i]);
	p->c->loop = loop->enclosing;
}

static void while_statement(Parser *p)
{
	int start = (int)cur_fn(p)->code_len;
	expression(p);
	int exit = emit_jump(p, OP_JUMP_IF_FALSE);
	Loop loop;
	begin_loop(p, &loop, start);
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' after the while condition");
	begin_scope(p);
	block(p);
	end_scope(p);
	emit_loop(p, start);
	patch_jump(p, exit);
	end_loop(p, &loop);
}

static void for_statement(Parser *p)
{
	consume(p, TOK_IDENT, "expected a loop variable after 'for'");
	Token a = p->prev, b = {0};
	int nvars = 1;
	if (match(p, TOK_COMMA)) {
		consume(p, TOK_IDENT, "expected a second loop variable after ','");
		b = p->prev;
		nvars = 2;
	}
	consume(p, TOK_IN, "expected 'in' after the loop variables");
	begin_scope(p);
	expression(p);
	emit_op(p, OP_ITER_PREP);
	int seq = add_local(p, "(seq)", 5);
	emit_const(p, INT_VAL(0));
	add_local(p, "(pos)", 5);
	int start = (int)cur_fn(p)->code_len;
	emit_op(p, OP_FOR_ITER);
	emit_byte(p, (uint8_t)seq);
	emit_byte(p, (uint8_t)nvars);
	emit_short(p, 0xffff);
	int exit1 = (int)cur_fn(p)->code_len - 2;
	int exit2 = emit_jump(p, OP_FOR_CHECK);
	Loop loop;
	begin_loop(p, &loop, start);
	begin_scope(p);
	adjust(p, nvars);
	add_local(p, a.start, a.length);
	if (nvars == 2)
		add_local(p, b.start, b.length);
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' after the for header");
	begin_scope(p);
	block(p);
	end_scope(p);
	end_scope(p);
	emit_loop(p, start);
	patch_jump(p, exit1);
	patch_jump(p, exit2);
	end_loop(p, &loop);
	end_scope(p);
}

static void break_continue(Parser *p, bool is_break)
{
	Loop *loop = p->c->loop;
	if (loop == NULL) {
		error(p, is_break ? "'break' outside of a loop" : "'continue' outside of a loop");
		end_statement(p);
		return;
	}
	for (int i = p->c->try_depth; i > loop->try_depth; i--)
		emit_op(p, OP_END_TRY);
	discard_locals(p, loop->scope_depth);
	if (is_break) {
		if (loop->break_count == 256)
			error(p, "too many 'break's in one loop");
		else
			loop->breaks[loop->break_count++] = emit_jump(p, OP_JUMP);
	} else {
		emit_loop(p, loop->start);
	}
	end_statement(p);
}

static bool at_statement_end(Parser *p)
{
	return check(p, TOK_NEWLINE) || check(p, TOK_SEMI) || check(p, TOK_RBRACE) || check(p, TOK_EOF);
}

static void return_statement(Parser *p)
{
	if (p->c->kind == FN_SCRIPT)
		error(p, "'return' outside of a function");
	if (at_statement_end(p)) {
		if (p->c->kind == FN_INIT)
			emit_op_byte(p, OP_GET_LOCAL, 0);
		else
			emit_op(p, OP_NIL);
	} else {
		if (p->c->kind == FN_INIT)
			error(p, "'init' cannot return a value");
		expression(p);
	}
	emit_op(p, OP_RETURN);
	end_statement(p);
}

static void try_statement(Parser *p)
{
	int handler = emit_jump(p, OP_TRY);
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' after 'try'");
	p->c->try_depth++;
	begin_scope(p);
	block(p);
	end_scope(p);
	p->c->try_depth--;
	emit_op(p, OP_END_TRY);
	int over = emit_jump(p, OP_JUMP);
	if (check(p, TOK_NEWLINE) && peek_next(p, true).type == TOK_CATCH)
		skip_newlines(p);
	consume(p, TOK_CATCH, "expected 'catch' after the try block");
	patch_jump(p, handler);
	begin_scope(p);
	adjust(p, 1); /* the thrown value */
	if (match(p, TOK_IDENT))
		add_local(p, p->prev.start, p->prev.length);
	else
		add_local(p, "(error)", 7);
	skip_newlines(p);
	consume(p, TOK_LBRACE, "expected '{' after 'catch'");
	begin_scope(p);
	block(p);
	end_scope(p);
	end_scope(p);
	patch_jump(p, over);
}

static void import_statement(Parser *p)
{
	if (!check(p, TOK_STRING) && !check(p, TOK_RAW_STRING)) {
		error_cur(p, "expected a module name string after 'import'");
		return;
	}
	advance(p);
	Token path = p->prev;
	emit_op_short(p, OP_IMPORT, string_index(p, &path));
	const char *name = path.start;
	size_t len = path.length;
	if (match(p, TOK_AS)) {
		consume(p, TOK_IDENT, "expected a name after 'as'");
		name = p->prev.start;
		len = p->prev.length;
	} else {
		const char *slash = memrchr(path.start, '/', path.length);
		if (slash != NULL) {
			len = path.length - (size_t)(slash + 1 - path.start);
			name = slash + 1;
		}
		if (len > 5 && memcmp(name + len - 5, ".gale", 5) == 0)
			len -= 5;
		bool ok = len > 0;
		for (size_t i = 0; i < len; i++) {
			char ch = name[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9')))
				ok = false;
		}
		if (!ok)
			error(p, "the module name is not an identifier: use 'import \"...\" as name'");
	}
	define_variable(p, name, len);
	end_statement(p);
}

static void expression_statement(Parser *p)
{
	expression(p);
	if (p->repl && p->c->kind == FN_SCRIPT && p->c->scope_depth == 0)
		emit_op(p, OP_ECHO);
	else
		emit_op(p, OP_POP);
	end_statement(p);
}

static void statement(Parser *p)
{
	if (match(p, TOK_IF)) {
		if_statement(p);
	} else if (match(p, TOK_WHILE)) {
		while_statement(p);
	} else if (match(p, TOK_FOR)) {
		for_statement(p);
	} else if (match(p, TOK_RETURN)) {
		return_statement(p);
	} else if (match(p, TOK_BREAK)) {
		break_continue(p, true);
	} else if (match(p, TOK_CONTINUE)) {
		break_continue(p, false);
	} else if (match(p, TOK_THROW)) {
		expression(p);
		emit_op(p, OP_THROW);
		end_statement(p);
	} else if (match(p, TOK_TRY)) {
		try_statement(p);
	} else if (match(p, TOK_IMPORT)) {
		import_statement(p);
	} else if (match(p, TOK_LBRACE)) {
		begin_scope(p);
		block(p);
		end_scope(p);
	} else if (match(p, TOK_SEMI)) {
		/* empty statement */
	} else {
		expression_statement(p);
	}
}

static void declaration(Parser *p)
{
	if (!enter_nesting(p)) {
		p->nesting--;
		return;
	}
	int depth = p->c->depth;
	if (check(p, TOK_FN) && peek_next(p, false).type == TOK_IDENT) {
		advance(p);
		fn_declaration(p);
	} else if (match(p, TOK_LET)) {
		let_declaration(p);
	} else if (match(p, TOK_CLASS)) {
		class_declaration(p);
	} else {
		statement(p);
	}
	if (p->panic) {
		p->c->depth = depth; /* the broken statement's accounting is void */
		synchronize(p);
	}
	p->nesting--;
}

/* ---------------------------------------------------------------- entry */

ObjFunction *compile(GaleVM *vm, ObjModule *module, const char *source, size_t len,
                     const char *file, bool repl, ObjString **errors, bool *incomplete)
{
	Parser p;
	memset(&p, 0, sizeof p);
	p.vm = vm;
	p.file = file;
	p.module = module;
	p.repl = repl;
	lex_init(&p.lx, source, len);
	Compiler *outer = NULL; /* compiling never runs code, so never nests */
	p.c = outer;
	vm_push_root(vm, OBJ_VAL(module));
	sb_init(vm, &p.errors);
	Compiler c;
	init_compiler(&p, &c, FN_SCRIPT, NULL);
	c.fn->name = NULL;
	advance(&p);
	skip_newlines(&p);
	while (!check(&p, TOK_EOF)) {
		declaration(&p);
		skip_newlines(&p);
	}
	ObjFunction *fn = end_compiler(&p);
	vm->compiler = (struct Compiler *)outer;
	if (incomplete != NULL)
		*incomplete = p.incomplete;
	if (p.error_count > 0) {
		if (p.error_count > MAX_ERRORS)
			sb_addf(&p.errors, "%s: too many errors, giving up\n", file);
		*errors = sb_finish(&p.errors);
		vm_pop_root(vm);
		return NULL;
	}
	sb_drop(&p.errors); /* no allocation: fn stays safe until the caller roots it */
	vm_pop_root(vm);
	*errors = NULL;
	return fn;
}

void compiler_mark_roots(GaleVM *vm)
{
	for (Compiler *c = (Compiler *)vm->compiler; c != NULL; c = c->enclosing)
		gcMark(vm->rt, c->fn);
}
