/*
 * Fuzz the decoder of the checkpoint's SEC_REPORTS section
 * (aggregator/src/ckpt_reports.c), which a resume reads to write the
 * rounds.csv rows a kill -9 lost. Properties: never crashes; an accepted
 * section has exactly count records, and encoding what was decoded gives
 * the input back byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_round_report *r = NULL;
	struct pfl_buf b;
	size_t n = 0;
	pfl_err rv;

	rv = pfli_ckpt_reports_decode(data, size, &r, &n);
	if (rv != PFL_OK) {
		if (r != NULL || n != 0)
			abort();
		return 0;
	}
	if (size != 8 + n * PFLI_CKPT_REPORT_BYTES || (n == 0) != (r == NULL))
		abort();
	pfl_buf_init(&b, 0);
	if (pfli_ckpt_reports_encode(r, n, &b) != PFL_OK || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	pfl_buf_fini(&b);
	free(r);
	return 0;
}
