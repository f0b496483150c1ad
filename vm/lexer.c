/*
 * lexer.c — turns source text into tokens on demand.
 */
#include "vm/lexer.h"

#include <string.h>

const char *const token_names[TOK__COUNT] = {
	"'('", "')'", "'['", "']'", "'{'", "'}'", "','", "'.'", "'...'", "';'", "':'",
	"'+'", "'-'", "'*'", "'/'", "'//'", "'%'", "'**'", "'&'", "'|'", "'^'", "'~'", "'<<'", "'>>'",
	"'='", "'=='", "'!='", "'<'", "'<='", "'>'", "'>='",
	"'+='", "'-='", "'*='", "'/='", "'//='", "'%='",
	"identifier", "integer", "float", "string", "string", "string",
	"'let'", "'fn'", "'return'", "'if'", "'else'", "'while'", "'for'", "'in'",
	"'break'", "'continue'", "'class'", "'self'", "'super'", "'true'", "'false'",
	"'nil'", "'and'", "'or'", "'not'", "'throw'", "'try'", "'catch'", "'import'",
	"'as'", "'is'",
	"end of line", "error", "end of input",
};

void lex_init(Lexer *lx, const char *source, size_t len)
{
	memset(lx, 0, sizeof *lx);
	lx->start = lx->cur = lx->line_start = source;
	lx->end = source + len;
	lx->line = 1;
}

static Token make(Lexer *lx, TokenType t, const char *start, size_t len)
{
	Token tok = {t, start, len, lx->line, (int)(start - lx->line_start) + 1, NULL, false};
	return tok;
}

static Token error_at(Lexer *lx, const char *at, const char *msg, bool unterminated)
{
	Token tok = make(lx, TOK_ERROR, at, 0);
	tok.error = msg;
	tok.unterminated = unterminated;
	return tok;
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static const struct {
	const char *word;
	TokenType type;
} keywords[] = {
	{"let", TOK_LET}, {"fn", TOK_FN}, {"return", TOK_RETURN}, {"if", TOK_IF},
	{"else", TOK_ELSE}, {"while", TOK_WHILE}, {"for", TOK_FOR}, {"in", TOK_IN},
	{"break", TOK_BREAK}, {"continue", TOK_CONTINUE}, {"class", TOK_CLASS},
	{"self", TOK_SELF}, {"super", TOK_SUPER}, {"true", TOK_TRUE}, {"false", TOK_FALSE},
	{"nil", TOK_NIL}, {"and", TOK_AND}, {"or", TOK_OR}, {"not", TOK_NOT},
	{"throw", TOK_THROW}, {"try", TOK_TRY}, {"catch", TOK_CATCH}, {"import", TOK_IMPORT},
	{"as", TOK_AS}, {"is", TOK_IS},
};

/* Scan string contents from lx->cur (just past the opening quote or the
 * closing brace of an interpolation) up to the closing quote or "${". */
static Token string_rest(Lexer *lx)
{
	const char *s = lx->cur;
	while (lx->cur < lx->end) {
		char c = *lx->cur;
		if (c == '"') {
			Token t = make(lx, TOK_STRING, s, (size_t)(lx->cur - s));
			lx->cur++;
			return t;
		}
		if (c == '\n')
			return error_at(lx, lx->cur, "unterminated string", false);
		if (c == '$' && lx->cur + 1 < lx->end && lx->cur[1] == '{') {
			if (lx->interp_depth >= LEX_MAX_INTERP)
				return error_at(lx, lx->cur, "interpolation nested too deeply", false);
			Token t = make(lx, TOK_STRING_PART, s, (size_t)(lx->cur - s));
			lx->cur += 2;
			lx->interp_braces[lx->interp_depth++] = 0;
			return t;
		}
		if (c == '\\') {
			lx->cur++;
			if (lx->cur >= lx->end)
				break;
			char e = *lx->cur;
			switch (e) {
			case 'n': case 't': case 'r': case '\\': case '"': case '0': case '$':
				lx->cur++;
				break;
			case 'x':
				if (lx->cur + 2 >= lx->end || !is_hex(lx->cur[1]) || !is_hex(lx->cur[2]))
					return error_at(lx, lx->cur - 1, "invalid \\x escape (need two hex digits)", false);
				lx->cur += 3;
				break;
			case 'u': {
				const char *p = lx->cur + 1;
				if (p >= lx->end || *p != '{')
					return error_at(lx, lx->cur - 1, "invalid \\u escape (expected \\u{HHHH})", false);
				p++;
				int n = 0;
				uint32_t cp = 0;
				while (p < lx->end && is_hex(*p) && n < 7) {
					cp = cp * 16 + (uint32_t)(is_digit(*p) ? *p - '0' : (*p | 32) - 'a' + 10);
					p++, n++;
				}
				if (n == 0 || n > 6 || p >= lx->end || *p != '}' || cp > 0x10FFFF)
					return error_at(lx, lx->cur - 1, "invalid \\u escape (expected \\u{HHHH})", false);
				lx->cur = p + 1;
				break;
			}
			default:
				return error_at(lx, lx->cur - 1, "invalid escape sequence", false);
			}
			continue;
		}
		lx->cur++;
	}
	return error_at(lx, s, "unterminated string", true);
}

static Token number(Lexer *lx, const char *s)
{
	bool is_float = false;
	if (*s == '0' && lx->cur < lx->end && (*lx->cur == 'x' || *lx->cur == 'X' || *lx->cur == 'b' || *lx->cur == 'B')) {
		bool hex = (*lx->cur | 32) == 'x';
		lx->cur++;
		const char *digits = lx->cur;
		while (lx->cur < lx->end && (hex ? is_hex(*lx->cur) : (*lx->cur == '0' || *lx->cur == '1') || *lx->cur == '_'))
			lx->cur++;
		if (lx->cur == digits || (lx->cur < lx->end && (is_alpha(*lx->cur) || is_digit(*lx->cur))))
			return error_at(lx, s, hex ? "malformed hexadecimal literal" : "malformed binary literal", false);
		return make(lx, TOK_INT, s, (size_t)(lx->cur - s));
	}
	while (lx->cur < lx->end && (is_digit(*lx->cur) || *lx->cur == '_'))
		lx->cur++;
	if (lx->cur + 1 < lx->end && *lx->cur == '.' && is_digit(lx->cur[1])) {
		is_float = true;
		lx->cur++;
		while (lx->cur < lx->end && (is_digit(*lx->cur) || *lx->cur == '_'))
			lx->cur++;
	}
	if (lx->cur < lx->end && (*lx->cur == 'e' || *lx->cur == 'E')) {
		const char *p = lx->cur + 1;
		if (p < lx->end && (*p == '+' || *p == '-'))
			p++;
		if (p < lx->end && is_digit(*p)) {
			is_float = true;
			while (p < lx->end && is_digit(*p))
				p++;
			lx->cur = p;
		} else {
			return error_at(lx, s, "malformed number (exponent without digits)", false);
		}
	}
	if (lx->cur < lx->end && is_alpha(*lx->cur))
		return error_at(lx, s, "malformed number", false);
	if (lx->cur[-1] == '_')
		return error_at(lx, s, "malformed number (trailing '_')", false);
	return make(lx, is_float ? TOK_FLOAT : TOK_INT, s, (size_t)(lx->cur - s));
}

/* The two-character form when '=' follows, else the one-character form. */
static Token pick(Lexer *lx, const char *s, TokenType with_eq, TokenType plain)
{
	if (lx->cur < lx->end && *lx->cur == '=') {
		lx->cur++;
		return make(lx, with_eq, s, (size_t)(lx->cur - s));
	}
	return make(lx, plain, s, (size_t)(lx->cur - s));
}

Token lex_next(Lexer *lx)
{
	bool newline = false;
	const char *nl_at = NULL;
	int nl_line = 0, nl_col = 0;
	/* skip blanks and comments, remembering whether a newline was crossed */
	for (;;) {
		if (lx->cur >= lx->end)
			break;
		char c = *lx->cur;
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->cur++;
		} else if (c == '\n') {
			if (!newline) {
				newline = true;
				nl_at = lx->cur;
				nl_line = lx->line;
				nl_col = (int)(lx->cur - lx->line_start) + 1;
			}
			lx->cur++;
			lx->line++;
			lx->line_start = lx->cur;
		} else if (c == '#') {
			while (lx->cur < lx->end && *lx->cur != '\n')
				lx->cur++;
		} else {
			break;
		}
	}
	if (newline) {
		Token t = {TOK_NEWLINE, nl_at, 1, nl_line, nl_col, NULL, false};
		return t;
	}
	if (lx->cur >= lx->end) {
		if (lx->interp_depth > 0) {
			lx->interp_depth = 0;
			return error_at(lx, lx->cur, "unterminated string interpolation", true);
		}
		return make(lx, TOK_EOF, lx->cur, 0);
	}
	const char *s = lx->cur;
	char c = *lx->cur++;
	if (is_alpha(c)) {
		while (lx->cur < lx->end && (is_alpha(*lx->cur) || is_digit(*lx->cur)))
			lx->cur++;
		size_t n = (size_t)(lx->cur - s);
		for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
			if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, s, n) == 0)
				return make(lx, keywords[i].type, s, n);
		return make(lx, TOK_IDENT, s, n);
	}
	if (is_digit(c))
		return number(lx, s);
#define NEXT_IS(ch) (lx->cur < lx->end && *lx->cur == (ch) && (lx->cur++, true))
	switch (c) {
	case '(': return make(lx, TOK_LPAREN, s, 1);
	case ')': return make(lx, TOK_RPAREN, s, 1);
	case '[': return make(lx, TOK_LBRACKET, s, 1);
	case ']': return make(lx, TOK_RBRACKET, s, 1);
	case '{':
		if (lx->interp_depth > 0)
			lx->interp_braces[lx->interp_depth - 1]++;
		return make(lx, TOK_LBRACE, s, 1);
	case '}':
		if (lx->interp_depth > 0) {
			if (lx->interp_braces[lx->interp_depth - 1] == 0) {
				lx->interp_depth--;
				return string_rest(lx);
			}
			lx->interp_braces[lx->interp_depth - 1]--;
		}
		return make(lx, TOK_RBRACE, s, 1);
	case ',': return make(lx, TOK_COMMA, s, 1);
	case ';': return make(lx, TOK_SEMI, s, 1);
	case ':': return make(lx, TOK_COLON, s, 1);
	case '.':
		if (lx->cur + 1 < lx->end && lx->cur[0] == '.' && lx->cur[1] == '.') {
			lx->cur += 2;
			return make(lx, TOK_ELLIPSIS, s, 3);
		}
		return make(lx, TOK_DOT, s, 1);
	case '+': return pick(lx, s, TOK_PLUS_EQ, TOK_PLUS);
	case '-': return pick(lx, s, TOK_MINUS_EQ, TOK_MINUS);
	case '*':
		if (NEXT_IS('*'))
			return make(lx, TOK_STARSTAR, s, 2);
		return pick(lx, s, TOK_STAR_EQ, TOK_STAR);
	case '/':
		if (NEXT_IS('/'))
			return pick(lx, s, TOK_SLASHSLASH_EQ, TOK_SLASHSLASH);
		return pick(lx, s, TOK_SLASH_EQ, TOK_SLASH);
	case '%': return pick(lx, s, TOK_PERCENT_EQ, TOK_PERCENT);
	case '&': return make(lx, TOK_AMP, s, 1);
	case '|': return make(lx, TOK_PIPE, s, 1);
	case '^': return make(lx, TOK_CARET, s, 1);
	case '~': return make(lx, TOK_TILDE, s, 1);
	case '=': return pick(lx, s, TOK_EQEQ, TOK_EQ);
	case '!':
		if (NEXT_IS('='))
			return make(lx, TOK_NE, s, 2);
		return error_at(lx, s, "unexpected character '!' (use 'not')", false);
	case '<':
		if (NEXT_IS('<'))
			return make(lx, TOK_SHL, s, 2);
		return pick(lx, s, TOK_LE, TOK_LT);
	case '>':
		if (NEXT_IS('>'))
			return make(lx, TOK_SHR, s, 2);
		return pick(lx, s, TOK_GE, TOK_GT);
	case '"':
		return string_rest(lx);
	case '`': {
		const char *body = lx->cur;
		int line = lx->line;
		const char *ls = lx->line_start;
		while (lx->cur < lx->end && *lx->cur != '`') {
			if (*lx->cur == '\n') {
				lx->line++;
				lx->line_start = lx->cur + 1;
			}
			lx->cur++;
		}
		if (lx->cur >= lx->end)
			return error_at(lx, s, "unterminated raw string", true);
		Token t = {TOK_RAW_STRING, body, (size_t)(lx->cur - body), line, (int)(s - ls) + 1, NULL, false};
		lx->cur++;
		return t;
	}
	}
#undef NEXT_IS
	return error_at(lx, s, "unexpected character", false);
}

static int hexval(char c) { return is_digit(c) ? c - '0' : (c | 32) - 'a' + 10; }

size_t lex_unescape(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		char e = s[++i];
		switch (e) {
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case '0': out[o++] = '\0'; break;
		case 'x':
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
			break;
		case 'u': {
			uint32_t cp = 0;
			i += 2; /* past u{ */
			while (s[i] != '}')
				cp = cp * 16 + (uint32_t)hexval(s[i++]);
			/* UTF-8 encode; never longer than the escape itself */
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xC0 | (cp >> 6));
				out[o++] = (char)(0x80 | (cp & 0x3F));
			} else if (cp < 0x10000) {
				out[o++] = (char)(0xE0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[o++] = (char)(0x80 | (cp & 0x3F));
			} else {
				out[o++] = (char)(0xF0 | (cp >> 18));
				out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[o++] = (char)(0x80 | (cp & 0x3F));
			}
			break;
		}
		default: out[o++] = e; break; /* \\ \" \$ */
		}
	}
	return o;
}
