/*
 * fuzz_compile.c — any bytes as Gale source through the lexer, the compiler
 * and the disassembler. Nothing runs. A crash, a sanitizer report or a hang
 * here is a bug: bad source must end in a compile error, never worse.
 */
#include <stddef.h>
#include <stdint.h>

#include "gale.h"

static void discard(GaleVM *vm, const char *text, size_t len, void *user)
{
	(void)vm, (void)text, (void)len, (void)user;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GaleConfig cfg;
	gale_config_init(&cfg);
	cfg.write = discard;
	cfg.error = discard;
	cfg.max_heap = 64 << 20;
	GaleVM *vm = gale_new(&cfg);
	if (vm == NULL)
		return 0;
	gale_disassemble(vm, (const char *)data, size, "fuzz.gale");
	gale_free(vm);
	return 0;
}
