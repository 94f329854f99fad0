/*
 * Fuzz the key file parsers: identity.key contents (pfl_identity_parse)
 * and public key lines (pfl_pubkey_parse_line). A key that parses must
 * sign and verify, and a public key must survive format -> parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_identity *id = NULL;
	uint8_t pk[PFL_SIGN_PK_BYTES], back[PFL_SIGN_PK_BYTES];
	uint8_t sig[PFL_SIG_BYTES];
	char line[PFL_PUBKEY_LINE_MAX];

	if (size > PFL_KEYFILE_MAX)
		return 0;
	if (pfl_identity_parse(data, size, &id) == PFL_OK) {
		if (pfl_identity_sign(id, data, size, sig) != PFL_OK ||
		    pfl_sig_verify(pfl_identity_public(id), data, size, sig) !=
		            PFL_OK)
			abort();
		pfl_identity_free(id);
	}
	if (pfl_pubkey_parse_line((const char *)data, size, pk) == PFL_OK) {
		pfl_pubkey_format_line(pk, line);
		if (pfl_pubkey_parse_line(line, strlen(line), back) != PFL_OK ||
		    memcmp(pk, back, sizeof(pk)) != 0)
			abort();
	}
	return 0;
}
