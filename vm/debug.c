/*
 * debug.c — the opcode tables derived from opcodes.h and the disassembler
 * behind --disasm.
 */
#include <string.h>

#include "vm/opcodes.h"
#include "vm/vm.h"

const char *const op_names[OP__COUNT] = {
#define OP_NAME(name, fmt, effect) #name,
	GALE_OPCODES(OP_NAME)
#undef OP_NAME
};

const uint8_t op_formats[OP__COUNT] = {
#define OP_FMT(name, fmt, effect) FMT_##fmt,
	GALE_OPCODES(OP_FMT)
#undef OP_FMT
};

const int8_t op_effects[OP__COUNT] = {
#define OP_EFFECT(name, fmt, effect) effect,
	GALE_OPCODES(OP_EFFECT)
#undef OP_EFFECT
};

static void const_text(StrBuf *sb, Value v)
{
	if (IS_KIND(v, OBJ_FUNCTION)) {
		ObjFunction *f = AS_FUNCTION(v);
		sb_addf(sb, "<fn %s>", f->name ? f->name->chars : "");
		return;
	}
	sb_value(sb, v, true);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* One instruction at offset; returns the next offset. */
static uint32_t disasm_op(StrBuf *sb, ObjFunction *fn, uint32_t off)
{
	const uint8_t *code = FN_CODE(fn);
	int line = FN_LINES(fn)[off];
	if (off > 0 && FN_LINES(fn)[off - 1] == line)
		sb_addf(sb, "%05u    | ", off);
	else
		sb_addf(sb, "%05u %4d ", off, line);
	uint8_t op = code[off];
	if (op >= OP__COUNT) {
		sb_addf(sb, "?? %u\n", op);
		return off + 1;
	}
	sb_addf(sb, "%-14s", op_names[op]);
	const uint8_t *a = code + off + 1;
	uint32_t next = off + 1;
	switch (op_formats[op]) {
	case FMT_NONE: break;
	case FMT_BYTE:
		sb_addf(sb, " %u", a[0]);
		next += 1;
		break;
	case FMT_SHORT:
		sb_addf(sb, " %u", rd16(a));
		if (op == OP_CONST || op == OP_GET_FIELD || op == OP_SET_FIELD || op == OP_CLASS || op == OP_METHOD ||
		    op == OP_IMPORT || op == OP_GET_SUPER) {
			sb_add(sb, " ; ", 3);
			const_text(sb, FN_CONSTS(fn)[rd16(a)]);
		} else if (op == OP_GET_GLOBAL || op == OP_SET_GLOBAL || op == OP_DEFINE_GLOBAL) {
			ObjModule *m = fn->module;
			if (m != NULL && rd16(a) < m->count)
				sb_addf(sb, " ; %s", AS_CSTRING(((Value *)m->slot_names->data)[rd16(a)]));
		}
		next += 2;
		break;
	case FMT_SLOTS:
		sb_addf(sb, " slot %u, slot %u", a[0], a[1]);
		next += 2;
		break;
	case FMT_IMM:
		sb_addf(sb, " %d", (int16_t)rd16(a));
		next += 2;
		break;
	case FMT_SLOT_IMM:
		sb_addf(sb, " slot %u, %d", a[0], (int16_t)rd16(a + 1));
		next += 3;
		break;
	case FMT_JUMP:
		sb_addf(sb, " -> %05u", off + 3 + rd16(a));
		next += 2;
		break;
	case FMT_LOOP:
		sb_addf(sb, " -> %05u", off + 3 - rd16(a));
		next += 2;
		break;
	case FMT_INVOKE:
		if (op == OP_GET_LOCAL_FIELD)
			sb_addf(sb, " %u (slot %u) ; ", rd16(a), a[2]);
		else
			sb_addf(sb, " %u (%u args) ; ", rd16(a), a[2]);
		const_text(sb, FN_CONSTS(fn)[rd16(a)]);
		next += 3;
		break;
	case FMT_FORITER:
		sb_addf(sb, " slot %u, %u var%s, -> %05u", a[0], a[1], a[1] == 1 ? "" : "s", off + 5 + rd16(a + 2));
		next += 4;
		break;
	case FMT_CLOSURE: {
		ObjFunction *inner = AS_FUNCTION(FN_CONSTS(fn)[rd16(a)]);
		sb_addf(sb, " %u ; ", rd16(a));
		const_text(sb, OBJ_VAL(inner));
		next += 2;
		for (int i = 0; i < inner->upvalue_count; i++) {
			sb_addf(sb, "%s%s %u", i ? ", " : " [", code[next] ? "local" : "upvalue", code[next + 1]);
			next += 2;
		}
		if (inner->upvalue_count)
			sb_addc(sb, ']');
		break;
	}
	}
	sb_addc(sb, '\n');
	return next;
}

static void disasm_fn(StrBuf *sb, ObjFunction *fn, int depth)
{
	if (depth > 100)
		return;
	sb_addf(sb, "== %s (arity %d%s, %d upvalue%s, %u bytes) ==\n",
	        fn->name ? fn->name->chars : (depth == 0 ? "<script>" : "<fn>"), fn->arity,
	        fn->variadic ? "+rest" : "", fn->upvalue_count, fn->upvalue_count == 1 ? "" : "s", fn->code_len);
	for (uint32_t off = 0; off < fn->code_len;)
		off = disasm_op(sb, fn, off);
	for (uint32_t i = 0; i < fn->const_len; i++)
		if (IS_KIND(FN_CONSTS(fn)[i], OBJ_FUNCTION)) {
			sb_addc(sb, '\n');
			disasm_fn(sb, AS_FUNCTION(FN_CONSTS(fn)[i]), depth + 1);
		}
}

void debug_disassemble(GaleVM *vm, ObjFunction *fn, StrBuf *out)
{
	(void)vm;
	disasm_fn(out, fn, 0);
}
