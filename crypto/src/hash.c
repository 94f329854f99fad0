#include "privfl/hash.h"

#include <string.h>

#include <sodium.h>

void
pfl_hash(const void *data, size_t len, uint8_t out[PFL_HASH_BYTES])
{
	crypto_generichash(out, PFL_HASH_BYTES, data, len, NULL, 0);
}

void
pfl_hash_params(const float *params, size_t n, uint8_t out[PFL_HASH_BYTES])
{
	crypto_generichash_state st;
	uint8_t block[4096];
	size_t i = 0;

	crypto_generichash_init(&st, NULL, 0, PFL_HASH_BYTES);
	while (i < n) {
		size_t m =
		        n - i < sizeof(block) / 4 ? n - i : sizeof(block) / 4;
		for (size_t j = 0; j < m; j++) {
			uint32_t w;
			memcpy(&w, &params[i + j], 4);
			block[4 * j] = (uint8_t)w;
			block[4 * j + 1] = (uint8_t)(w >> 8);
			block[4 * j + 2] = (uint8_t)(w >> 16);
			block[4 * j + 3] = (uint8_t)(w >> 24);
		}
		crypto_generichash_update(&st, block, 4 * m);
		i += m;
	}
	crypto_generichash_final(&st, out, PFL_HASH_BYTES);
}

void
pfl_hash_round_ctx(const char *fed, uint64_t round, const uint8_t seed[32],
                   uint8_t out[PFL_HASH_BYTES])
{
	static const char tag[] = "privfl/round/v1";
	crypto_generichash_state st;
	uint8_t r[9];

	r[0] = 0;
	for (int i = 0; i < 8; i++)
		r[1 + i] = (uint8_t)(round >> (8 * i));
	crypto_generichash_init(&st, NULL, 0, PFL_HASH_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_update(&st, (const uint8_t *)fed, strlen(fed));
	crypto_generichash_update(&st, r, sizeof(r));
	crypto_generichash_update(&st, seed, 32);
	crypto_generichash_final(&st, out, PFL_HASH_BYTES);
}

void
pfl_hash_hex(const uint8_t *h, size_t nbytes, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * nbytes] = '\0';
}
