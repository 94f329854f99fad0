/*
 * Fuzz the audit log verifier (aggregator/src/audit.c): the chain checker
 * over arbitrary bytes, and the strict JSON checker on the same bytes.
 * Properties: never crashes; a valid log stays valid when verified in one
 * piece as a file would be; an error names a line within the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_audit_summary sum;
	struct pfl_audit_error e;
	size_t nl = 0;
	pfl_err rv;

	for (size_t i = 0; i < size; i++)
		nl += data[i] == '\n';
	memset(&e, 0, sizeof(e));
	rv = pfl_audit_verify_mem(data, size, &sum, &e);
	if (rv == PFL_OK && sum.lines != nl)
		abort();
	if (rv == PFL_ERR_FORMAT &&
	    (e.line == 0 || e.line > nl + 1 || e.good_bytes > size))
		abort();
	if (pfl_json_check((const char *)data, size) == PFL_OK && size == 0)
		abort();
	return 0;
}
