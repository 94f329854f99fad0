/*
 * PRG mask expansion: ChaCha20-IETF keystream added into a uint32 vector in
 * cache-sized blocks (see privfl/prg.h).
 */
#include "privfl/prg.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

/* 8 KiB of keystream per block: 128 ChaCha20 blocks, fits L1 with v. */
#define PRG_BLOCK_BYTES   8192u
#define PRG_BLOCK_WORDS   (PRG_BLOCK_BYTES / 4u)
#define PRG_CHACHA_BLOCKS (PRG_BLOCK_BYTES / 64u)

_Static_assert(PRG_BLOCK_BYTES % 64u == 0, "whole ChaCha20 blocks");

static const uint8_t prg_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {
        'L', 'i', 'b', 's', 'o', 'd', 'i', 'u', 'm', 'D', 'R', 'G'};
static const uint8_t prg_zero[PRG_BLOCK_BYTES];

static inline uint32_t
load_le32(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return w;
#else
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
#endif
}

/* One block of keystream starting at ChaCha20 block number ic. */
static void
prg_block(uint8_t *ks, size_t bytes, uint32_t ic, const uint8_t seed[32])
{
	/* xor of zeros = the keystream, with an explicit block counter */
	crypto_stream_chacha20_ietf_xor_ic(ks, prg_zero, bytes, prg_nonce, ic,
	                                   seed);
}

void
pfl_prg_mask_add(uint32_t *v, size_t n, const uint8_t seed[32], int sign)
{
	pfl_prg_mask_add_at(v, n, 0, seed, sign);
}

void
pfl_prg_mask_add_at(uint32_t *v, size_t n, uint64_t first_word,
                    const uint8_t seed[32], int sign)
{
	uint8_t ks[PRG_BLOCK_BYTES] __attribute__((aligned(64)));
	uint32_t ic = (uint32_t)(first_word / 16);
	size_t off = 0, m, i;

	assert(first_word % 16 == 0);
	assert(first_word <= PFL_PRG_MAX_WORDS &&
	       (uint64_t)n <= PFL_PRG_MAX_WORDS - first_word);
	while (off < n) {
		m = n - off < PRG_BLOCK_WORDS ? n - off : PRG_BLOCK_WORDS;
		prg_block(ks, (m * 4 + 63) & ~(size_t)63, ic, seed);
		if (sign < 0) {
			for (i = 0; i < m; i++)
				v[off + i] -= load_le32(ks + 4 * i);
		} else {
			for (i = 0; i < m; i++)
				v[off + i] += load_le32(ks + 4 * i);
		}
		off += m;
		ic += PRG_CHACHA_BLOCKS;
	}
	sodium_memzero(ks, sizeof(ks));
}

void
pfl_prg_words(uint32_t *out, size_t n, const uint8_t seed[32])
{
	memset(out, 0, n * sizeof(*out));
	pfl_prg_mask_add(out, n, seed, 1);
}
