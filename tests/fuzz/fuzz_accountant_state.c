/*
 * Fuzz pfl_accountant_load (checkpointed accountant state). Each input is
 * tried as is, and again with its trailing BLAKE2b checksum recomputed so
 * that the fuzzer also reaches the field validation behind the checksum.
 * Whatever loads must save back to the same bytes and give an epsilon.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/accountant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(const uint8_t *data, size_t size)
{
	struct pfl_accountant *a = NULL;
	struct pfl_buf out;
	double eps, order;

	if (pfl_accountant_load(data, size, &a) != PFL_OK) {
		if (a != NULL)
			abort(); /* out-param written on failure */
		return;
	}
	pfl_buf_init(&out, 0);
	if (pfl_accountant_save(a, &out) != PFL_OK)
		abort();
	/* charges are merged on load, so only compare when none were */
	if (out.len == size && memcmp(out.data, data, size) != 0)
		abort();
	/* PLD cost grows with hostile step counts; RDP is bounded */
	if (pfl_accountant_method(a) == PFL_ACCT_RDP &&
	    (pfl_accountant_epsilon(a, 1e-5, &eps, &order) != PFL_OK ||
	     !(eps >= 0.0)))
		abort();
	pfl_buf_fini(&out);
	pfl_accountant_free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > (1u << 16))
		return 0;
	if (sodium_init() < 0)
		abort();
	exercise(data, size);
	if (size < 16)
		return 0;
	if ((copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data, size);
	crypto_generichash(copy + size - 16, 16, copy, size - 16, NULL, 0);
	exercise(copy, size);
	free(copy);
	return 0;
}
