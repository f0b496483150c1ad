/* The lexer: token kinds, positions, newlines, interpolation, errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "vm/lexer.h"

static int lex_all(const char *src, Token *out, int max)
{
	Lexer lx;
	lex_init(&lx, src, strlen(src));
	int n = 0;
	for (;;) {
		Token t = lex_next(&lx);
		if (n < max)
			out[n] = t;
		n++;
		if (t.type == TOK_EOF || n > 1000)
			break;
	}
	return n;
}

Test(lexer, operators_and_keywords)
{
	Token t[32];
	int n = lex_all("let x = a // b ** 2 != c and not d", t, 32);
	TokenType want[] = {TOK_LET, TOK_IDENT, TOK_EQ, TOK_IDENT, TOK_SLASHSLASH, TOK_IDENT, TOK_STARSTAR,
	                    TOK_INT, TOK_NE, TOK_IDENT, TOK_AND, TOK_NOT, TOK_IDENT, TOK_EOF};
	cr_assert_eq(n, (int)(sizeof want / sizeof want[0]));
	for (int i = 0; i < n; i++)
		cr_assert_eq(t[i].type, want[i], "token %d: %s", i, token_names[t[i].type]);
}

Test(lexer, compound_assignment_tokens)
{
	Token t[16];
	lex_all("a += 1 //= 2 %= 3", t, 16);
	cr_assert_eq(t[1].type, TOK_PLUS_EQ);
	cr_assert_eq(t[3].type, TOK_SLASHSLASH_EQ);
	cr_assert_eq(t[5].type, TOK_PERCENT_EQ);
}

Test(lexer, comments_and_collapsed_newlines)
{
	Token t[16];
	int n = lex_all("a # comment\n\n\n  b", t, 16);
	cr_assert_eq(n, 4);
	cr_assert_eq(t[0].type, TOK_IDENT);
	cr_assert_eq(t[1].type, TOK_NEWLINE);
	cr_assert_eq(t[2].type, TOK_IDENT);
	cr_assert_eq(t[2].line, 4);
	cr_assert_eq(t[2].col, 3);
}

Test(lexer, numbers)
{
	Token t[16];
	lex_all("0xff 0b101 1_000 1.5 1e9 2.5e-3 .5", t, 16);
	cr_assert_eq(t[0].type, TOK_INT);
	cr_assert_eq(t[1].type, TOK_INT);
	cr_assert_eq(t[2].type, TOK_INT);
	cr_assert_eq(t[3].type, TOK_FLOAT);
	cr_assert_eq(t[4].type, TOK_FLOAT);
	cr_assert_eq(t[5].type, TOK_FLOAT);
	cr_assert_eq(t[6].type, TOK_DOT, ".5 is not a float");
	cr_assert_eq(t[7].type, TOK_INT);
}

Test(lexer, malformed_numbers)
{
	Token t[4];
	lex_all("0x", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	lex_all("1e", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	lex_all("12abc", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
}

Test(lexer, interpolation_nests)
{
	Token t[32];
	int n = lex_all("\"a${x + \"b${y}\"}c\"", t, 32);
	TokenType want[] = {TOK_STRING_PART, TOK_IDENT, TOK_PLUS, TOK_STRING_PART, TOK_IDENT, TOK_STRING,
	                    TOK_STRING, TOK_EOF};
	cr_assert_eq(n, 8);
	for (int i = 0; i < n; i++)
		cr_assert_eq(t[i].type, want[i], "token %d", i);
	cr_assert_eq(t[0].length, 1);
	cr_assert_eq(t[6].length, 1);
	cr_assert(memcmp(t[6].start, "c", 1) == 0);
}

Test(lexer, braces_inside_interpolation)
{
	Token t[16];
	int n = lex_all("\"${ {\"k\": 1}[\"k\"] }\"", t, 16);
	cr_assert_eq(t[0].type, TOK_STRING_PART);
	cr_assert_eq(t[1].type, TOK_LBRACE);
	cr_assert_eq(t[n - 2].type, TOK_STRING);
}

Test(lexer, string_errors)
{
	Token t[4];
	lex_all("\"abc", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	cr_assert(t[0].unterminated);
	lex_all("\"ab\ncd\"", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	cr_assert_not(t[0].unterminated, "a raw newline in a string is an error, not incomplete input");
	lex_all("\"\\q\"", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	lex_all("\"\\u{110000}\"", t, 4);
	cr_assert_eq(t[0].type, TOK_ERROR);
	lex_all("`raw", t, 4);
	cr_assert(t[0].unterminated);
}

Test(lexer, raw_string_spans_lines)
{
	Token t[4];
	lex_all("`a\nb ${x} \\n`", t, 4);
	cr_assert_eq(t[0].type, TOK_RAW_STRING);
	cr_assert_eq(t[0].length, 11);
	cr_assert_eq(t[1].type, TOK_EOF);
	cr_assert_eq(t[1].line, 2);
}

Test(lexer, unescape)
{
	char out[64];
	const char *s = "a\\n\\t\\x41\\u{e9}\\$\\\\\\\"\\0";
	size_t n = lex_unescape(s, strlen(s), out);
	const char want[] = "a\n\tA\xc3\xa9$\\\"\0";
	cr_assert_eq(n, sizeof want - 1);
	cr_assert(memcmp(out, want, n) == 0);
}
