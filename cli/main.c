/*
 * main.c — the `gale` program: parses the command line and the GALE*
 * environment variables into a GaleConfig, then runs -e code, a script,
 * standard input or the REPL.
 *
 *   gale [options] [script [args...]]
 *
 * The library never reads the environment; this file is the only place that
 * does, so an embedder gets exactly the configuration it asks for.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *progname = "gale";

static const char usage_text[] =
	"usage: gale [options] [script [args...]]\n"
	"\n"
	"Runs script (or standard input when it is not a terminal, or the REPL\n"
	"when it is). Arguments after the script are the script's os.args.\n"
	"\n"
	"Options:\n"
	"  -e CODE              run CODE (may be given more than once; runs before the script)\n"
	"  -i                   start the REPL after running the script or -e code\n"
	"  -                    read the script from standard input\n"
	"  --                   stop reading options; the next argument is the script\n"
	"  -v, --version        print the version and exit\n"
	"  -h, --help           print this help and exit\n"
	"  --gc-percent N       GC goal percent (like GOGC); 'off' or -1 disables it\n"
	"  --memory-limit SIZE  soft memory limit (like GOMEMLIMIT); 'off' for none\n"
	"  --max-heap SIZE      hard heap cap; allocating past it raises 'out of memory'\n"
	"  --disasm             print the bytecode instead of running\n"
	"\n"
	"SIZE is a byte count with an optional unit: B KiB MiB GiB TiB (e.g. 64MiB, 1.5GiB).\n"
	"\n"
	"Environment:\n"
	"  GALEGC         GC percent, or 'off' (overridden by --gc-percent)\n"
	"  GALEMEMLIMIT   soft memory limit, a SIZE or 'off' (overridden by --memory-limit)\n"
	"  GALEDEBUG      comma-separated debug switches: gctrace=1, scavtrace=1,\n"
	"                 gcpacertrace=1, gcstress=N, ...\n"
	"  GALEPATH       ':'-separated directories searched by import\n"
	"  GALE_HISTORY   REPL history file (default ~/.gale_history; empty: none)\n"
	"\n"
	"Exit status: 0 success, 65 compile error, 70 uncaught runtime error,\n"
	"66 script not readable, 2 bad command line or environment.\n";

/* A usage error: one line naming the problem, a hint, and status 2. */
static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", progname);
	return CLI_EXIT_USAGE;
}

void cli_write_out(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm;
	(void)user;
	fwrite(text, 1, len, stdout);
}

void cli_write_err(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm;
	(void)user;
	fflush(stdout);
	fwrite(text, 1, len, stderr);
	fflush(stderr);
}

void cli_format_bytes(char *buf, size_t cap, unsigned long long bytes)
{
	static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024) {
		snprintf(buf, cap, "%llu B", bytes);
		return;
	}
	double v = (double)bytes / 1024.0;
	int u = 0;
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, units[u]);
}

/* A GC percent: an integer >= -1, or "off" (= -1). */
static bool parse_percent(const char *s, int64_t *out)
{
	if (strcmp(s, "off") == 0) {
		*out = -1;
		return true;
	}
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < -1)
		return false;
	*out = v;
	return true;
}

/* A memory size, or "off" for no limit when off_ok. */
static bool parse_limit(const char *s, bool off_ok, int64_t *out)
{
	if (off_ok && strcmp(s, "off") == 0) {
		*out = INT64_MAX;
		return true;
	}
	return gale_parse_size(s, out);
}

/* Reads all of f into a NUL-terminated buffer the caller frees. */
static char *read_stream(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (cap - n < 2) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Opens a script up front so that a missing or unreadable file is one clear
 * line (and EX_NOINPUT), not a runtime error with a trace. */
static bool script_readable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", progname, path, strerror(errno));
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: cannot run '%s': Is a directory\n", progname, path);
		return false;
	}
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", progname, path, strerror(errno));
		return false;
	}
	return true;
}

/* Runs (or, with disasm, disassembles) text already in memory. */
static int run_source(GaleVM *vm, const char *src, size_t len, const char *name, bool disasm)
{
	GaleResult r = disasm ? gale_disassemble(vm, src, len, name)
	                      : gale_eval(vm, src, len, name);
	fflush(stdout);
	return (int)r;
}

static int run_stdin(GaleVM *vm, bool disasm)
{
	size_t len = 0;
	char *src = read_stream(stdin, &len);
	if (!src) {
		fprintf(stderr, "%s: cannot read standard input: %s\n", progname, strerror(errno));
		return CLI_EXIT_NOINPUT;
	}
	int status = run_source(vm, src, len, "<stdin>", disasm);
	free(src);
	return status;
}

static int run_file(GaleVM *vm, const char *path, bool disasm)
{
	if (!script_readable(path))
		return CLI_EXIT_NOINPUT;
	if (!disasm) {
		int status = (int)gale_eval_file(vm, path);
		fflush(stdout);
		return status;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", progname, path, strerror(errno));
		return CLI_EXIT_NOINPUT;
	}
	size_t len = 0;
	char *src = read_stream(f, &len);
	int err = errno;
	fclose(f);
	if (!src) {
		fprintf(stderr, "%s: cannot read '%s': %s\n", progname, path, strerror(err));
		return CLI_EXIT_NOINPUT;
	}
	int status = run_source(vm, src, len, path, true);
	free(src);
	return status;
}

/* Reads GALEGC, GALEMEMLIMIT, GALEDEBUG and GALEPATH into cfg. Returns 0, or
 * the usage status after reporting a malformed value. */
static int config_from_env(GaleConfig *cfg)
{
	const char *v;
	if ((v = getenv("GALEGC")) && *v) {
		if (!parse_percent(v, &cfg->gc_percent))
			return usage_error("malformed GALEGC '%s' (want an integer percent or 'off')", v);
	}
	if ((v = getenv("GALEMEMLIMIT")) && *v) {
		if (!parse_limit(v, true, &cfg->memory_limit))
			return usage_error("malformed GALEMEMLIMIT '%s' (want a size such as 512MiB, or 'off')", v);
	}
	if ((v = getenv("GALEDEBUG")) && *v)
		cfg->debug = v;
	if ((v = getenv("GALEPATH")) && *v)
		cfg->module_path = v;
	return 0;
}

/* The value of an option given as "--name VALUE" or "--name=VALUE". Advances
 * *i past a separate value. NULL (after reporting) when it is missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	if (arg[n] == '=')
		return arg + n + 1;
	if (*i + 1 >= argc) {
		usage_error("option '%s' needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

/* Whether arg is the long option name, alone or as "name=value". */
static bool is_option(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

int main(int argc, char **argv)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = cli_write_out;
	cfg.error = cli_write_err;

	int status = config_from_env(&cfg);
	if (status)
		return status;

	/* -e code is kept as indices into argv, run in order. */
	int *exprs = calloc((size_t)argc, sizeof *exprs);
	if (!exprs) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return GALE_RUNTIME_ERROR;
	}
	int nexpr = 0;
	bool interactive = false, disasm = false, script_stdin = false;
	const char *script = NULL;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-") == 0) {
			script_stdin = true;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			free(exprs);
			return 0;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			printf("gale %s\n", GALE_VERSION_STRING);
			free(exprs);
			return 0;
		}
		if (strcmp(a, "-i") == 0) {
			interactive = true;
		} else if (strcmp(a, "--disasm") == 0) {
			disasm = true;
		} else if (strncmp(a, "-e", 2) == 0) {
			/* "-e CODE" or "-eCODE" */
			if (a[2] != '\0') {
				argv[i] = (char *)a + 2;
			} else if (++i >= argc) {
				free(exprs);
				return usage_error("option '%s' needs a value", "-e");
			}
			exprs[nexpr++] = i;
		} else if (is_option(a, "--gc-percent")) {
			const char *v = option_value(argc, argv, &i, "--gc-percent");
			if (!v) {
				free(exprs);
				return CLI_EXIT_USAGE;
			}
			if (!parse_percent(v, &cfg.gc_percent)) {
				free(exprs);
				return usage_error("malformed --gc-percent '%s' (want an integer >= -1 or 'off')", v);
			}
		} else if (is_option(a, "--memory-limit")) {
			const char *v = option_value(argc, argv, &i, "--memory-limit");
			if (!v) {
				free(exprs);
				return CLI_EXIT_USAGE;
			}
			if (!parse_limit(v, true, &cfg.memory_limit)) {
				free(exprs);
				return usage_error("malformed size '%s' for --memory-limit (e.g. 512MiB, 1.5GiB, 4096)", v);
			}
		} else if (is_option(a, "--max-heap")) {
			const char *v = option_value(argc, argv, &i, "--max-heap");
			if (!v) {
				free(exprs);
				return CLI_EXIT_USAGE;
			}
			if (!parse_limit(v, false, &cfg.max_heap) || cfg.max_heap < 0) {
				free(exprs);
				return usage_error("malformed size '%s' for --max-heap (e.g. 64MiB, 1GiB)", v);
			}
		} else {
			free(exprs);
			return usage_error("unknown option '%s'", a);
		}
	}
	if (i < argc && !script_stdin)
		script = argv[i];
	/* Everything after the script (or "-") is the script's arguments. */
	int nargs = i < argc ? argc - i - 1 : 0;
	const char *const *args = (const char *const *)argv + (i < argc ? i + 1 : argc);

	GaleVM *vm = gale_new(&cfg);
	if (!vm) {
		if (cfg.max_heap > 0)
			fprintf(stderr, "%s: cannot create the VM: out of memory (--max-heap too small?)\n",
			        progname);
		else
			fprintf(stderr, "%s: cannot create the VM: out of memory\n", progname);
		free(exprs);
		return GALE_RUNTIME_ERROR;
	}
	/* Arguments first: os.args is bound when the os module opens. */
	gale_set_args(vm, nargs, args);
	gale_open_libs(vm);

	status = 0;
	for (int k = 0; k < nexpr && status == 0; k++) {
		const char *code = argv[exprs[k]];
		status = run_source(vm, code, strlen(code), "-e", disasm);
	}
	free(exprs);

	bool ran_something = nexpr > 0;
	if (status == 0) {
		if (script) {
			status = run_file(vm, script, disasm);
			ran_something = true;
		} else if (script_stdin) {
			status = run_stdin(vm, disasm);
			ran_something = true;
		} else if (!ran_something && !interactive && (disasm || !isatty(STDIN_FILENO))) {
			status = run_stdin(vm, disasm);
			ran_something = true;
		}
	}

	/* The REPL: asked for with -i, or nothing to run and a terminal. */
	if (!disasm && (interactive || !ran_something)) {
		int rs = repl_run(vm);
		if (!ran_something)
			status = rs;
	}

	fflush(stdout);
	gale_free(vm);
	return status;
}
