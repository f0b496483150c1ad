/*
 * opcodes.h — every instruction, written once:
 *   OP(name, operand format, stack effect)
 * Formats: NONE; BYTE (u8); SHORT (u16: a constant, a slot or a module
 * slot); SLOTS (u8 left slot, u8 right slot); JUMP (u16 forward offset);
 * LOOP (u16 backward offset); INVOKE (u16 name constant, u8 argc); FORITER
 * (u8 slot, u8 variable count, u16 forward offset); CLOSURE (u16 function
 * constant, then per upvalue u8 is_local,
 * u8 index). Operands are little-endian. A stack effect of VAR means the
 * compiler accounts for it by hand. The enum, the name table, the operand
 * decoder of the disassembler and the dispatch table are all derived from
 * this list.
 *
 * The _K and _L forms are a binary operator fused with the load of its right
 * operand: a constant (u16 index) or a local slot (u8). The compiler emits
 * them when the right side is a lone constant or local, which saves a
 * dispatch and a push in `n - 1`, `i < n`, `x * x`. GET_LOCAL_FIELD is
 * GET_LOCAL then GET_FIELD (`b.x`, `self.n`): u16 name constant, u8 slot,
 * in the INVOKE layout. POP_LOOP is a POP followed by LOOP (the end of a
 * loop body whose last local goes out of scope), in the LOOP layout.
 * ADD_LL, SUB_LL and MUL_LL take both operands from locals (`i + j`): u8
 * left slot, u8 right slot (the SLOTS format, two bytes like SHORT).
 *
 * The _I forms are the _K forms for a small int constant, carried in the
 * instruction as a signed 16-bit immediate (IMM): no constant load and one
 * type test fewer in `n - 1`, `i % 2 == 0`, `d < 4`. The _LI forms take
 * their left operand from a local as well (u8 slot, then the immediate:
 * SLOT_IMM) and push the result: `n - 1` or `n < 2` is one instruction.
 * GET_INDEX_LL is `local[local]` (`v[j]`): u8 object slot, u8 index slot.
 * POPN drops u8 values at once: the locals of a block going out of scope.
 * ADD_SL, SUB_SL, MUL_SL are the operator then SET_LOCAL (u8 slot), and the
 * _SG forms the operator then SET_GLOBAL (u16 slot): the end of `x += e`.
 */
#include <stdint.h>

#define GALE_OPCODES(OP)                        \
	OP(CONST, SHORT, 1)                     \
	OP(NIL, NONE, 1)                        \
	OP(TRUE, NONE, 1)                       \
	OP(FALSE, NONE, 1)                      \
	OP(POP, NONE, -1)                       \
	OP(DUP, NONE, 1)                        \
	OP(DUP2, NONE, 2)                       \
	OP(GET_LOCAL, BYTE, 1)                  \
	OP(SET_LOCAL, BYTE, 0)                  \
	OP(GET_UPVAL, BYTE, 1)                  \
	OP(SET_UPVAL, BYTE, 0)                  \
	OP(GET_GLOBAL, SHORT, 1)                \
	OP(SET_GLOBAL, SHORT, 0)                \
	OP(DEFINE_GLOBAL, SHORT, -1)            \
	OP(GET_FIELD, SHORT, 0)                 \
	OP(SET_FIELD, SHORT, -1)                \
	OP(GET_INDEX, NONE, -1)                 \
	OP(SET_INDEX, NONE, -2)                 \
	OP(SLICE, NONE, -2)                     \
	OP(GET_SUPER, SHORT, -1)                \
	OP(EQ, NONE, -1)                        \
	OP(NE, NONE, -1)                        \
	OP(LT, NONE, -1)                        \
	OP(LE, NONE, -1)                        \
	OP(GT, NONE, -1)                        \
	OP(GE, NONE, -1)                        \
	OP(IS, NONE, -1)                        \
	OP(ADD, NONE, -1)                       \
	OP(SUB, NONE, -1)                       \
	OP(MUL, NONE, -1)                       \
	OP(DIV, NONE, -1)                       \
	OP(IDIV, NONE, -1)                      \
	OP(MOD, NONE, -1)                       \
	OP(POW, NONE, -1)                       \
	OP(BAND, NONE, -1)                      \
	OP(BOR, NONE, -1)                       \
	OP(BXOR, NONE, -1)                      \
	OP(SHL, NONE, -1)                       \
	OP(SHR, NONE, -1)                       \
	OP(NEG, NONE, 0)                        \
	OP(BNOT, NONE, 0)                       \
	OP(NOT, NONE, 0)                        \
	OP(JUMP, JUMP, 0)                       \
	OP(JUMP_IF_FALSE, JUMP, -1)             \
	OP(AND, JUMP, -1)                        \
	OP(OR, JUMP, -1)                        \
	OP(LOOP, LOOP, 0)                       \
	OP(CALL, BYTE, VAR)                     \
	OP(INVOKE, INVOKE, VAR)                 \
	OP(SUPER_INVOKE, INVOKE, VAR)           \
	OP(CLOSURE, CLOSURE, 1)                 \
	OP(CLOSE_UPVAL, NONE, -1)               \
	OP(RETURN, NONE, -1)                    \
	OP(LIST, BYTE, VAR)                     \
	OP(LIST_APPEND, BYTE, VAR)              \
	OP(MAP, BYTE, VAR)                      \
	OP(MAP_APPEND, BYTE, VAR)               \
	OP(BUILD_STRING, BYTE, VAR)             \
	OP(CLASS, SHORT, 1)                     \
	OP(INHERIT, NONE, 0)                    \
	OP(METHOD, SHORT, -1)                   \
	OP(IMPORT, SHORT, 1)                    \
	OP(TRY, JUMP, 0)                        \
	OP(END_TRY, NONE, 0)                    \
	OP(THROW, NONE, -1)                     \
	OP(ITER_PREP, NONE, 0)                  \
	OP(FOR_ITER, FORITER, VAR)              \
	OP(FOR_CHECK, JUMP, 0)                  \
	OP(ECHO, NONE, -1)                      \
	OP(MODULE, NONE, 1)                     \
	OP(ADD_K, SHORT, 0)                     \
	OP(SUB_K, SHORT, 0)                     \
	OP(MUL_K, SHORT, 0)                     \
	OP(EQ_K, SHORT, 0)                      \
	OP(NE_K, SHORT, 0)                      \
	OP(LT_K, SHORT, 0)                      \
	OP(LE_K, SHORT, 0)                      \
	OP(GT_K, SHORT, 0)                      \
	OP(GE_K, SHORT, 0)                      \
	OP(ADD_L, BYTE, 0)                      \
	OP(SUB_L, BYTE, 0)                      \
	OP(MUL_L, BYTE, 0)                      \
	OP(LT_L, BYTE, 0)                       \
	OP(LE_L, BYTE, 0)                       \
	OP(GT_L, BYTE, 0)                       \
	OP(GE_L, BYTE, 0)                       \
	OP(GET_LOCAL_FIELD, INVOKE, 1)          \
	OP(DIV_K, SHORT, 0)                     \
	OP(IDIV_K, SHORT, 0)                    \
	OP(MOD_K, SHORT, 0)                     \
	OP(POP_LOOP, LOOP, -1)                  \
	OP(ADD_LL, SLOTS, 1)                    \
	OP(SUB_LL, SLOTS, 1)                    \
	OP(MUL_LL, SLOTS, 1)                    \
	OP(ADD_I, IMM, 0)                       \
	OP(SUB_I, IMM, 0)                       \
	OP(MUL_I, IMM, 0)                       \
	OP(EQ_I, IMM, 0)                        \
	OP(NE_I, IMM, 0)                        \
	OP(LT_I, IMM, 0)                        \
	OP(LE_I, IMM, 0)                        \
	OP(GT_I, IMM, 0)                        \
	OP(GE_I, IMM, 0)                        \
	OP(ADD_LI, SLOT_IMM, 1)                 \
	OP(SUB_LI, SLOT_IMM, 1)                 \
	OP(MUL_LI, SLOT_IMM, 1)                 \
	OP(EQ_LI, SLOT_IMM, 1)                  \
	OP(NE_LI, SLOT_IMM, 1)                  \
	OP(LT_LI, SLOT_IMM, 1)                  \
	OP(LE_LI, SLOT_IMM, 1)                  \
	OP(GT_LI, SLOT_IMM, 1)                  \
	OP(GE_LI, SLOT_IMM, 1)                  \
	OP(IDIV_I, IMM, 0)                      \
	OP(MOD_I, IMM, 0)                       \
	OP(GET_INDEX_LL, SLOTS, 1)              \
	OP(POPN, BYTE, VAR)                     \
	OP(ADD_SL, BYTE, -1)                    \
	OP(SUB_SL, BYTE, -1)                    \
	OP(MUL_SL, BYTE, -1)                    \
	OP(ADD_SG, SHORT, -1)                   \
	OP(SUB_SG, SHORT, -1)                   \
	OP(MUL_SG, SHORT, -1)

typedef enum OpCode {
#define OP_ENUM(name, fmt, effect) OP_##name,
	GALE_OPCODES(OP_ENUM)
#undef OP_ENUM
	OP__COUNT
} OpCode;

typedef enum OpFormat {
	FMT_NONE,
	FMT_BYTE,
	FMT_SHORT,
	FMT_SLOTS,
	FMT_JUMP,
	FMT_LOOP,
	FMT_INVOKE,
	FMT_FORITER,
	FMT_CLOSURE,
	FMT_IMM,
	FMT_SLOT_IMM,
} OpFormat;

#define VAR 0 /* stack effect handled by the compiler */

extern const char *const op_names[OP__COUNT];
extern const uint8_t op_formats[OP__COUNT];
extern const int8_t op_effects[OP__COUNT];
