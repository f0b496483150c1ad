/*
 * lexer.h — tokens of Gale source. The lexer is a small value type: copying
 * the struct saves a position, which is how the parser looks ahead.
 * Newlines are tokens (consecutive ones collapse); the parser decides where
 * they end statements. String interpolation "a${x}b" lexes as
 * STRING_PART("a") <tokens of x> STRING("b").
 */
#ifndef GALE_LEXER_H
#define GALE_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum TokenType {
	TOK_LPAREN, TOK_RPAREN, TOK_LBRACKET, TOK_RBRACKET, TOK_LBRACE, TOK_RBRACE,
	TOK_COMMA, TOK_DOT, TOK_ELLIPSIS, TOK_SEMI, TOK_COLON,
	TOK_PLUS, TOK_MINUS, TOK_STAR, TOK_SLASH, TOK_SLASHSLASH, TOK_PERCENT, TOK_STARSTAR,
	TOK_AMP, TOK_PIPE, TOK_CARET, TOK_TILDE, TOK_SHL, TOK_SHR,
	TOK_EQ, TOK_EQEQ, TOK_NE, TOK_LT, TOK_LE, TOK_GT, TOK_GE,
	TOK_PLUS_EQ, TOK_MINUS_EQ, TOK_STAR_EQ, TOK_SLASH_EQ, TOK_SLASHSLASH_EQ, TOK_PERCENT_EQ,
	TOK_IDENT, TOK_INT, TOK_FLOAT, TOK_STRING, TOK_STRING_PART, TOK_RAW_STRING,
	/* keywords */
	TOK_LET, TOK_FN, TOK_RETURN, TOK_IF, TOK_ELSE, TOK_WHILE, TOK_FOR, TOK_IN,
	TOK_BREAK, TOK_CONTINUE, TOK_CLASS, TOK_SELF, TOK_SUPER, TOK_TRUE, TOK_FALSE,
	TOK_NIL, TOK_AND, TOK_OR, TOK_NOT, TOK_THROW, TOK_TRY, TOK_CATCH, TOK_IMPORT,
	TOK_AS, TOK_IS,
	TOK_NEWLINE, TOK_ERROR, TOK_EOF,
	TOK__COUNT
} TokenType;

typedef struct Token {
	TokenType type;
	const char *start; /* for strings: the contents without quotes */
	size_t length;
	int line, col;
	const char *error; /* TOK_ERROR: the message (static) */
	bool unterminated; /* TOK_ERROR at end of input (REPL: needs more lines) */
} Token;

#define LEX_MAX_INTERP 32

typedef struct Lexer {
	const char *start, *cur, *end, *line_start;
	int line;
	int interp_depth;                  /* open ${ } levels */
	int interp_braces[LEX_MAX_INTERP]; /* plain { depth inside each level */
} Lexer;

void lex_init(Lexer *lx, const char *source, size_t len);
Token lex_next(Lexer *lx);
/* Decode the escapes of a (validated) string token into out (at least
 * length bytes); returns the decoded length. */
size_t lex_unescape(const char *s, size_t n, char *out);
extern const char *const token_names[TOK__COUNT];

#endif
