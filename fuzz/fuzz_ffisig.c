/*
 * fuzz_ffisig.c — any bytes as an FFI type signature ("int(string, ...)").
 * The parser must either accept and prepare a call interface or fail with
 * a message; the message must be NUL-terminated inside its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stdlib/ffi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gffi_sig sig;
	char err[128];
	memset(err, 'x', sizeof err);
	if (!gffi_sig_parse(&sig, (const char *)data, size, err, sizeof err)) {
		if (memchr(err, '\0', sizeof err) == NULL)
			abort(); /* the message overran its buffer unterminated */
		return 0;
	}
	/* an accepted signature respects the table's limits */
	if (sig.nargs > GFFI_MAX_ARGS || sig.rkind >= GFFI_KIND_COUNT)
		abort();
	for (unsigned i = 0; i < sig.nargs; i++)
		if (sig.kinds[i] >= GFFI_KIND_COUNT || sig.kinds[i] == GFFI_VOID)
			abort();
	return 0;
}
