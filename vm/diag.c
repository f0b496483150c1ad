/*
 * diag.c — source excerpts with a caret, and "did you mean" suggestions.
 */
#include "vm/diag.h"

#include <stdio.h>
#include <string.h>

#define DIAG_WIDTH 100 /* bytes of a long line shown around the caret */
#define DIAG_NAME_MAX 64 /* longer names get no suggestion */

/* Printable bytes as they are, tabs kept (so the caret line lines up),
 * other control bytes as '?' so a report never carries raw NULs or escapes. */
static void add_clean(StrBuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		sb_addc(sb, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
	}
}

void diag_caret(StrBuf *sb, const char *line_start, const char *end, int col)
{
	if (line_start == NULL || line_start > end)
		return;
	const char *eol = memchr(line_start, '\n', (size_t)(end - line_start));
	if (eol == NULL)
		eol = end;
	if (eol > line_start && eol[-1] == '\r')
		eol--;
	size_t len = (size_t)(eol - line_start);
	size_t at = col > 0 ? (size_t)col - 1 : 0;
	if (at > len)
		at = len; /* past the end: at end of line or input */
	/* window [from, to) of at most DIAG_WIDTH bytes holding the caret */
	size_t from = 0, to = len;
	if (len > DIAG_WIDTH) {
		from = at > DIAG_WIDTH / 2 ? at - DIAG_WIDTH / 2 : 0;
		to = from + DIAG_WIDTH < len ? from + DIAG_WIDTH : len;
	}
	size_t lead = 0; /* first non-blank of the window, for a whole-line mark */
	while (from + lead < to && (line_start[from + lead] == ' ' || line_start[from + lead] == '\t'))
		lead++;
	if (col <= 0 && from + lead == to)
		return; /* a blank line says nothing */
	sb_add(sb, "    ", 4);
	if (from > 0)
		sb_add(sb, "...", 3);
	add_clean(sb, line_start + from, to - from);
	if (to < len)
		sb_add(sb, "...", 3);
	sb_add(sb, "\n    ", 5);
	if (from > 0)
		sb_add(sb, "   ", 3);
	if (col <= 0) {
		for (size_t i = 0; i < lead; i++)
			sb_addc(sb, line_start[from + i] == '\t' ? '\t' : ' ');
		for (size_t i = from + lead; i < to; i++)
			sb_addc(sb, '^');
	} else {
		/* copy tabs from the source so the caret lands under the place */
		for (size_t i = from; i < at; i++)
			sb_addc(sb, line_start[i] == '\t' ? '\t' : ' ');
		sb_addc(sb, '^');
	}
	sb_addc(sb, '\n');
}

void diag_file_line(StrBuf *sb, const char *path, int line)
{
	if (path == NULL || line <= 0)
		return;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return;
	/* skip line - 1 newlines, then keep the first bytes of the line */
	char chunk[4096];
	int cur = 1;
	size_t n;
	char text[DIAG_WIDTH + 1];
	size_t have = 0;
	bool found = false, done = false;
	while (!done && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (cur == line) {
				found = true;
				if (chunk[i] == '\n') {
					done = true;
					break;
				}
				if (have < DIAG_WIDTH)
					text[have++] = chunk[i];
			} else if (chunk[i] == '\n') {
				cur++;
			}
		}
	}
	fclose(f);
	if (found)
		diag_caret(sb, text, text + have, 0);
}

int diag_distance(const char *a, size_t na, const char *b, size_t nb, int max)
{
	if (na > DIAG_NAME_MAX || nb > DIAG_NAME_MAX)
		return max + 1;
	if ((na > nb ? na - nb : nb - na) > (size_t)max)
		return max + 1;
	/* two rows of the classic table; a row whose minimum exceeds max
	 * means the distance does too */
	int prev[DIAG_NAME_MAX + 1], cur[DIAG_NAME_MAX + 1];
	for (size_t j = 0; j <= nb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = (int)i;
		int row_min = cur[0];
		for (size_t j = 1; j <= nb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			int d = sub < del ? sub : del;
			cur[j] = d < ins ? d : ins;
			if (cur[j] < row_min)
				row_min = cur[j];
		}
		if (row_min > max)
			return max + 1;
		memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
	}
	return prev[nb];
}

void diag_suggest_init(DiagSuggest *s, const char *want, size_t len)
{
	s->want = want;
	s->want_len = len;
	s->best = NULL;
	s->best_len = 0;
	/* short names tolerate one edit, longer ones a third of their length */
	s->best_dist = (len <= 4 ? 1 : len <= 8 ? 2 : 3) + 1;
}

void diag_suggest_offer(DiagSuggest *s, const char *name, size_t len)
{
	if (len == s->want_len && memcmp(name, s->want, len) == 0)
		return; /* the name itself is no suggestion */
	if (len == 0 || name[0] == '<')
		return; /* hidden names (<script>, ...) */
	int d = diag_distance(s->want, s->want_len, name, len, s->best_dist - 1);
	if ((size_t)d >= s->want_len)
		return; /* "x" is not a misspelling of "y" */
	/* ties go to the first offered; equal-distance later names lose */
	if (d < s->best_dist) {
		s->best = name;
		s->best_len = len;
		s->best_dist = d;
	}
}

/* The last suggestion made on this thread (a VM runs on one thread at a
 * time; threads running VMs each keep their own). */
static _Thread_local struct {
	const GaleVM *vm;
	char want[DIAG_NAME_MAX + 3]; /* 'name', quoted as messages quote it */
	char best[DIAG_NAME_MAX + 1];
} last_hint;

static void offer_map_keys(DiagSuggest *s, ObjMap *m)
{
	if (m == NULL)
		return;
	MapEntry *e = MAP_ENTRIES(m);
	for (uint32_t i = 0; i < m->used; i++) {
		Value k = slot_value(e[i].key);
		if (IS_STRING(k))
			diag_suggest_offer(s, AS_CSTRING(k), AS_STRING(k)->len);
	}
}

/* Bound module variables only: an unbound slot is a name merely mentioned. */
static void offer_module(DiagSuggest *s, ObjModule *m)
{
	if (m == NULL || m->slot_names == NULL)
		return;
	Value *names = (Value *)m->slot_names->data;
	Value *values = MODULE_VALUES(m);
	for (uint32_t i = 0; i < m->count; i++)
		if (!IS_UNDEF(values[i]) && IS_STRING(names[i]))
			diag_suggest_offer(s, AS_CSTRING(names[i]), AS_STRING(names[i])->len);
}

void diag_hint_for(GaleVM *vm, ObjModule *scope, Value recv, ObjString *name)
{
	last_hint.vm = NULL;
	if (name == NULL || name->len > DIAG_NAME_MAX)
		return;
	DiagSuggest s;
	diag_suggest_init(&s, name->chars, name->len);
	if (scope != NULL) {
		offer_module(&s, scope);
		offer_module(&s, vm->builtins);
	} else if (IS_INSTANCE(recv)) {
		offer_map_keys(&s, AS_INSTANCE(recv)->fields);
		offer_map_keys(&s, AS_INSTANCE(recv)->klass->methods);
	} else if (IS_MODULE(recv)) {
		offer_module(&s, AS_MODULE(recv));
	} else if (IS_OBJ(recv) && OBJ_KIND(recv) < OBJ_KIND_COUNT) {
		offer_map_keys(&s, vm->type_methods[OBJ_KIND(recv)]);
	}
	if (s.best == NULL)
		return;
	last_hint.vm = vm;
	snprintf(last_hint.want, sizeof last_hint.want, "'%s'", name->chars);
	snprintf(last_hint.best, sizeof last_hint.best, "%.*s", (int)s.best_len, s.best);
}

void diag_hint_append(GaleVM *vm, StrBuf *sb, const char *message)
{
	if (last_hint.vm != vm || message == NULL || strstr(message, last_hint.want) == NULL)
		return;
	sb_addf(sb, "    did you mean '%s'?\n", last_hint.best);
	last_hint.vm = NULL;
}
