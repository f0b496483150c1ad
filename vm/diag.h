/*
 * diag.h — the parts of an error report after its first line: the source
 * line with a caret under the place, and "did you mean" suggestions found by
 * edit distance. The first line (file:line:col: message) is the caller's.
 */
#ifndef GALE_DIAG_H
#define GALE_DIAG_H

#include <stddef.h>

#include "vm/object.h"
#include "vm/vm.h"

/* Append "    <source line>\n    <spaces>^\n". line_start is the line's
 * first byte; the line ends at '\n' or end. col is 1-based in bytes; 0 (or
 * -1) underlines the whole line (runtime errors know only the line). Long
 * lines show a window around the caret; control bytes print as '?'. */
void diag_caret(StrBuf *sb, const char *line_start, const char *end, int col);

/* The same for line number line of the file at path, read from disk in
 * small pieces; nothing is appended when the file cannot be read. */
void diag_file_line(StrBuf *sb, const char *path, int line);

/* Levenshtein distance between a and b, or max + 1 once it must exceed max. */
int diag_distance(const char *a, size_t na, const char *b, size_t nb, int max);

/* Keeps the closest of the candidates offered to the wanted name. */
typedef struct DiagSuggest {
	const char *want;
	size_t want_len;
	const char *best; /* NULL: none close enough */
	size_t best_len;
	int best_dist;
} DiagSuggest;

void diag_suggest_init(DiagSuggest *s, const char *want, size_t len);
void diag_suggest_offer(DiagSuggest *s, const char *name, size_t len);

#endif

/* "did you mean": at the place an undefined name is raised, find the
 * closest name in scope (module variables and built-ins when scope is
 * non-NULL, else the fields and methods of recv, a module's members or a
 * built-in type's methods) and remember it for this thread; the report of
 * an uncaught error whose message quotes that name appends the hint. The
 * error message itself stays as the spec writes it. */
void diag_hint_for(GaleVM *vm, ObjModule *scope, Value recv, ObjString *name);
void diag_hint_append(GaleVM *vm, StrBuf *sb, const char *message);
