/*
 * repl.c — the interactive loop: GNU readline in callback mode, so that the
 * program, not readline, owns SIGINT. At the prompt Ctrl-C discards the line
 * being typed; during an evaluation it asks the VM to stop (gale_interrupt is
 * async-signal-safe) and the REPL goes on with its state.
 *
 * readline hands back malloc'd lines and frees the completion strings it is
 * given; that memory is the program's, never the VM's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"

#define PROMPT "> "
#define PROMPT_MORE "... "
#define HISTORY_MAX 1000

typedef struct repl {
	GaleVM *vm;
	char *pending; /* lines of an incomplete entry, '\n'-joined */
	size_t len, cap;
	char *history;   /* history file, or NULL for none */
	bool done;
	bool interactive; /* standard input is a terminal */
} repl;

/* readline's callbacks carry no context: the one running REPL is here. */
static repl *current;

/* Set by the handler while the VM runs, so Ctrl-C interrupts it. */
static GaleVM *volatile running_vm;
static volatile sig_atomic_t sigint_at_prompt;

static void on_sigint(int sig)
{
	(void)sig;
	GaleVM *vm = running_vm;
	if (vm)
		gale_interrupt(vm);
	else
		sigint_at_prompt = 1;
}

static const char *const keywords[] = {
	"let", "fn", "return", "if", "else", "while", "for", "in", "break", "continue",
	"class", "self", "super", "true", "false", "nil", "and", "or", "not", "throw",
	"try", "catch", "import", "as", "is", NULL,
};

typedef struct command {
	const char *name;
	const char *doc;
	void (*run)(repl *r);
} command;

static void cmd_help(repl *r);
static void cmd_memstats(repl *r);
static void cmd_gc(repl *r);
static void cmd_quit(repl *r);

static const command commands[] = {
	{":help", "list the commands and the built-in functions", cmd_help},
	{":memstats", "memory statistics (Go's runtime.MemStats) as a table", cmd_memstats},
	{":gc", "run a full collection and show what it freed", cmd_gc},
	{":quit", "leave the REPL (Ctrl-D does too)", cmd_quit},
	{NULL, NULL, NULL},
};

/* ---- :help ---- */

typedef struct builtin_row {
	char *module, *name, *doc;
} builtin_row;

typedef struct builtin_list {
	builtin_row *rows;
	size_t n, cap;
	bool failed;
} builtin_list;

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void collect_builtin(const char *module, const char *name, const char *doc, void *ctx)
{
	builtin_list *l = ctx;
	if (l->failed)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		builtin_row *rows = realloc(l->rows, cap * sizeof *rows);
		if (!rows) {
			l->failed = true;
			return;
		}
		l->rows = rows;
		l->cap = cap;
	}
	builtin_row *row = &l->rows[l->n];
	row->module = dup_or_empty(module);
	row->name = dup_or_empty(name);
	row->doc = dup_or_empty(doc);
	if (!row->module || !row->name || !row->doc) {
		free(row->module);
		free(row->name);
		free(row->doc);
		l->failed = true;
		return;
	}
	l->n++;
}

static void cmd_help(repl *r)
{
	printf("Commands:\n");
	for (const command *c = commands; c->name; c++)
		printf("  %-12s %s\n", c->name, c->doc);
	printf("Enter an expression to see its value; an open bracket, brace or string\n"
	       "continues on a '%s' prompt. Tab completes names, Ctrl-C interrupts.\n",
	       PROMPT_MORE);

	builtin_list l = {0};
	gale_each_builtin(r->vm, collect_builtin, &l);
	/* One column for every name, "module.name" included. */
	int width = 8;
	for (size_t i = 0; i < l.n; i++) {
		size_t w = strlen(l.rows[i].name) + (l.rows[i].module[0] ? strlen(l.rows[i].module) + 1 : 0);
		if ((int)w > width)
			width = w > 30 ? 30 : (int)w;
	}
	/* Globals first, then each module in the order the VM listed them. */
	for (size_t i = 0; i < l.n; i++) {
		if (l.rows[i].module[0])
			continue;
		if (i == 0 || l.rows[i - 1].module[0])
			printf("\nBuilt-in functions:\n");
		printf("  %-*s  %s\n", width, l.rows[i].name, l.rows[i].doc);
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *mod = l.rows[i].module;
		if (!mod[0])
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(l.rows[j].module, mod) == 0;
		if (seen)
			continue;
		printf("\nModule %s:\n", mod);
		for (size_t j = i; j < l.n; j++) {
			if (strcmp(l.rows[j].module, mod) != 0)
				continue;
			char full[128];
			snprintf(full, sizeof full, "%s.%s", mod, l.rows[j].name);
			printf("  %-*s  %s\n", width, full, l.rows[j].doc);
		}
	}
	if (l.failed)
		printf("(list cut short: out of memory)\n");
	for (size_t i = 0; i < l.n; i++) {
		free(l.rows[i].module);
		free(l.rows[i].name);
		free(l.rows[i].doc);
	}
	free(l.rows);
}

/* ---- :memstats and :gc ---- */

static void row_bytes(const char *name, uint64_t v, const char *doc)
{
	char buf[32];
	cli_format_bytes(buf, sizeof buf, (unsigned long long)v);
	printf("  %-14s %12s  %s\n", name, buf, doc);
}

static void row_count(const char *name, uint64_t v, const char *doc)
{
	printf("  %-14s %12llu  %s\n", name, (unsigned long long)v, doc);
}

static void cmd_memstats(repl *r)
{
	GaleMemStats m;
	gale_memstats(r->vm, &m);
	printf("total\n");
	row_bytes("Sys", m.Sys, "obtained from the OS (all classes below)");
	row_bytes("MappedReady", m.MappedReady, "mapped and ready to use (Sys - HeapReleased)");
	row_bytes("TotalAlloc", m.TotalAlloc, "allocated for heap objects, ever");
	row_count("Mallocs", m.Mallocs, "heap objects allocated, ever");
	row_count("Frees", m.Frees, "heap objects freed, ever");
	printf("heap\n");
	row_bytes("HeapAlloc", m.HeapAlloc, "in live and not yet swept objects (= Alloc)");
	row_bytes("HeapInuse", m.HeapInuse, "in spans holding objects");
	row_bytes("HeapIdle", m.HeapIdle, "in idle spans (free + released)");
	row_bytes("HeapReleased", m.HeapReleased, "returned to the OS");
	row_bytes("HeapSys", m.HeapSys, "reserved for the heap (HeapInuse + HeapIdle)");
	row_count("HeapObjects", m.HeapObjects, "objects allocated and not freed");
	printf("stacks\n");
	row_bytes("StackInuse", m.StackInuse, "in stack spans (the VM's value stack and frames)");
	row_bytes("StackSys", m.StackSys, "obtained for stacks");
	printf("metadata\n");
	row_bytes("MSpanInuse", m.MSpanInuse, "in mspan structures");
	row_bytes("MSpanSys", m.MSpanSys, "obtained for mspan structures");
	row_bytes("MCacheInuse", m.MCacheInuse, "in mcache structures");
	row_bytes("MCacheSys", m.MCacheSys, "obtained for mcache structures");
	row_bytes("GCSys", m.GCSys, "collector metadata (mark bits, work buffers)");
	printf("other\n");
	row_bytes("BuckHashSys", m.BuckHashSys, "profiling bucket tables");
	row_bytes("OtherSys", m.OtherSys, "other runtime allocations");
	printf("gc\n");
	row_bytes("NextGC", m.NextGC, "heap goal: the next collection starts near here");
	if (m.MemoryLimit == INT64_MAX)
		printf("  %-14s %12s  %s\n", "MemoryLimit", "none", "soft memory limit");
	else
		row_bytes("MemoryLimit", (uint64_t)m.MemoryLimit, "soft memory limit");
	if (m.GCPercent < 0)
		printf("  %-14s %12s  %s\n", "GCPercent", "off", "GOGC-style goal percent");
	else
		row_count("GCPercent", (uint64_t)m.GCPercent, "GOGC-style goal percent");
	row_count("NumGC", m.NumGC, "completed collections");
	row_count("NumForcedGC", m.NumForcedGC, "collections asked for (gc(), :gc)");
	printf("  %-14s %9.3f ms  %s\n", "PauseTotalNs", (double)m.PauseTotalNs / 1e6,
	       "total stop-the-world pause");
}

static void cmd_gc(repl *r)
{
	GaleMemStats before, after;
	gale_memstats(r->vm, &before);
	gale_gc(r->vm);
	gale_memstats(r->vm, &after);
	uint64_t freed = before.HeapAlloc > after.HeapAlloc ? before.HeapAlloc - after.HeapAlloc : 0;
	uint64_t objs = after.Frees - before.Frees;
	char f[32], b[32], a[32], g[32];
	cli_format_bytes(f, sizeof f, freed);
	cli_format_bytes(b, sizeof b, before.HeapAlloc);
	cli_format_bytes(a, sizeof a, after.HeapAlloc);
	cli_format_bytes(g, sizeof g, after.NextGC);
	printf("freed %s in %llu objects (heap %s -> %s); next goal %s; collections so far: %u\n",
	       f, (unsigned long long)objs, b, a, g, after.NumGC);
}

static void cmd_quit(repl *r)
{
	r->done = true;
}

/* ---- completion ---- */

typedef struct candidates {
	const char *text; /* what is being completed */
	size_t dot;       /* length of "module." in text, 0 if none */
	char **items;
	size_t n, cap;
	size_t next; /* generator position */
} candidates;

static candidates cands;
static int complete_start; /* where the word being completed begins */

static void add_candidate(candidates *c, const char *full)
{
	if (strncmp(full, c->text, strlen(c->text)) != 0)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->items[i], full) == 0)
			return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		char **items = realloc(c->items, cap * sizeof *items);
		if (!items)
			return;
		c->items = items;
		c->cap = cap;
	}
	char *s = strdup(full);
	if (s)
		c->items[c->n++] = s;
}

/* The VM may give a member as "sqrt" or "math.sqrt"; both become the
 * full text the user is typing. */
static void on_candidate(const char *candidate, void *ctx)
{
	candidates *c = ctx;
	if (!candidate || !c->dot || strncmp(candidate, c->text, c->dot) == 0) {
		if (candidate)
			add_candidate(c, candidate);
		return;
	}
	size_t n = c->dot + strlen(candidate) + 1;
	char *full = malloc(n);
	if (!full)
		return;
	memcpy(full, c->text, c->dot);
	strcpy(full + c->dot, candidate);
	add_candidate(c, full);
	free(full);
}

static void clear_candidates(candidates *c)
{
	for (size_t i = c->next; i < c->n; i++)
		free(c->items[i]);
	c->n = c->next = 0;
}

/* readline's generator: state 0 gathers, later calls hand out one each. */
static char *generate(const char *text, int state)
{
	candidates *c = &cands;
	if (state == 0) {
		clear_candidates(c);
		c->text = text;
		const char *dot = strrchr(text, '.');
		c->dot = dot ? (size_t)(dot - text) + 1 : 0;
		if (text[0] == ':' && complete_start == 0) {
			for (const command *cmd = commands; cmd->name; cmd++)
				add_candidate(c, cmd->name);
		} else if (!c->dot) {
			for (const char *const *k = keywords; *k; k++)
				add_candidate(c, *k);
		}
		if (text[0] != ':')
			gale_complete(current->vm, text, on_candidate, c);
	}
	if (c->next < c->n)
		return c->items[c->next++]; /* readline frees it */
	clear_candidates(c);
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	complete_start = start;
	rl_attempted_completion_over = 1; /* never fall back to file names */
	rl_completion_append_character = '\0'; /* "math.sqrt(" needs no space */
	return rl_completion_matches(text, generate);
}

/* ---- history ---- */

static char *history_path(void)
{
	const char *env = getenv("GALE_HISTORY");
	if (env)
		return *env ? strdup(env) : NULL;
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	size_t n = strlen(home) + sizeof "/.gale_history";
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/.gale_history", home);
	return p;
}

static void remember(repl *r, const char *line)
{
	const char *s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return;
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
	if (last && strcmp(last->line, line) == 0)
		return;
	add_history(line);
	/* Saved at once, so a REPL that ends abruptly keeps its lines. */
	if (r->history)
		write_history(r->history);
}

/* ---- evaluation ---- */

static bool append_pending(repl *r, const char *line)
{
	size_t n = strlen(line);
	size_t need = r->len + n + 2;
	if (need > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < need)
			cap *= 2;
		char *p = realloc(r->pending, cap);
		if (!p)
			return false;
		r->pending = p;
		r->cap = cap;
	}
	if (r->len)
		r->pending[r->len++] = '\n';
	memcpy(r->pending + r->len, line, n + 1);
	r->len += n;
	return true;
}

static bool run_command(repl *r, const char *line)
{
	char word[32];
	size_t n = 0;
	while (line[n] && line[n] != ' ' && line[n] != '\t' && n < sizeof word - 1) {
		word[n] = line[n];
		n++;
	}
	word[n] = '\0';
	for (const command *c = commands; c->name; c++) {
		/* A unique prefix is enough: ":q", ":mem". */
		if (strncmp(c->name, word, n) == 0 && n > 1) {
			c->run(r);
			fflush(stdout);
			return true;
		}
	}
	return false;
}

/* Handles one line; returns the prompt for the next. */
static const char *handle_line(repl *r, const char *line)
{
	if (r->len == 0) {
		const char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return PROMPT;
		if (*s == ':') {
			if (!run_command(r, s))
				printf("unknown command '%s' (try :help)\n", s);
			return PROMPT;
		}
	}
	if (!append_pending(r, line)) {
		fprintf(stderr, "input too long: out of memory\n");
		r->len = 0;
		return PROMPT;
	}
	running_vm = r->vm;
	GaleResult res = gale_eval_repl(r->vm, r->pending);
	running_vm = NULL;
	fflush(stdout);
	if (res == GALE_INCOMPLETE)
		return PROMPT_MORE;
	r->len = 0;
	return PROMPT;
}

static void on_line(char *line)
{
	repl *r = current;
	if (!line) {
		/* Ctrl-D (end of input) */
		if (r->interactive)
			putchar('\n');
		r->done = true;
		rl_callback_handler_remove();
		return;
	}
	remember(r, line);
	const char *prompt = handle_line(r, line);
	free(line);
	if (r->done) {
		rl_callback_handler_remove();
		return;
	}
	rl_set_prompt(prompt);
}

/* Ctrl-C at the prompt: drop the typed line and any unfinished entry. */
static void cancel_input(repl *r)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_callback_handler_remove();
	fputs("\n", stdout);
	fflush(stdout);
	r->len = 0;
	rl_callback_handler_install(PROMPT, on_line);
}

int repl_run(GaleVM *vm)
{
	repl r = {.vm = vm, .interactive = isatty(STDIN_FILENO)};
	current = &r;
	r.history = history_path();

	rl_readline_name = "gale";
	rl_catch_signals = 0; /* SIGINT is ours (see on_sigint) */
	rl_attempted_completion_function = complete;
	/* '.' and ':' stay inside a word so "math.sq" and ":me" complete. */
	rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,[]+-*/%!~^)}";
	using_history();
	stifle_history(HISTORY_MAX);
	if (r.history)
		read_history(r.history);

	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: select must wake up */
	sigaction(SIGINT, &sa, &old);

	if (r.interactive) {
		printf("Gale %s  (:help for help, Ctrl-D to quit)\n", GALE_VERSION_STRING);
		fflush(stdout);
	}
	rl_callback_handler_install(PROMPT, on_line);
	int in = fileno(rl_instream ? rl_instream : stdin);
	while (!r.done) {
		/* A Ctrl-C that came while readline was busy is handled here. */
		if (sigint_at_prompt) {
			sigint_at_prompt = 0;
			cancel_input(&r);
		}
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(in, &fds);
		int n = select(in + 1, &fds, NULL, NULL, NULL);
		if (n < 0) {
			if (errno != EINTR)
				break;
			continue;
		}
		rl_callback_read_char();
	}
	if (!r.done)
		rl_callback_handler_remove(); /* select failed */

	sigaction(SIGINT, &old, NULL);
	clear_candidates(&cands);
	free(cands.items);
	free(r.pending);
	free(r.history);
	current = NULL;
	fflush(stdout);
	return 0;
}
