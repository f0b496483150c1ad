/*
 * cli.h — shared between the parts of the `gale` program: the command line
 * (main.c) and the interactive loop (repl.c). Only include/gale.h below it.
 */
#ifndef GALE_CLI_H
#define GALE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "gale.h"

/* Exit status for a script file that cannot be opened (sysexits' EX_NOINPUT,
 * beside the EX_DATAERR 65 and EX_SOFTWARE 70 that GaleResult uses). */
#define CLI_EXIT_NOINPUT 66
/* Exit status for a malformed command line or environment variable. */
#define CLI_EXIT_USAGE 2

/* Runs the interactive loop on vm until :quit or end of input. Returns the
 * process exit status. */
int repl_run(GaleVM *vm);

/* The output callbacks the program installs: print() output to standard
 * output; error reports to standard error after flushing standard output so
 * the two streams interleave in the order they were produced. */
void cli_write_out(GaleVM *vm, const char *text, size_t len, void *user);
void cli_write_err(GaleVM *vm, const char *text, size_t len, void *user);

/* Formats a byte count as "512 B", "12.5 KiB", "3.2 MiB" or "1.1 GiB". */
void cli_format_bytes(char *buf, size_t cap, unsigned long long bytes);

#endif
