/* ChaCha20 keystream generator for DP noise. */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "privacy_int.h"
#include "privfl/noise.h"

#define CSPRNG_BUF 512

struct pfl_csprng {
	uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint32_t block; /* next 64-byte block counter */
	size_t pos;     /* bytes of buf consumed */
	uint8_t buf[CSPRNG_BUF];
};

_Static_assert(CSPRNG_BUF % 64 == 0, "buffer holds whole blocks");

pfl_err
pfl_csprng_new(const uint8_t *seed, struct pfl_csprng **out)
{
	struct pfl_csprng *r;

	if (out == NULL)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((r = sodium_malloc(sizeof(*r))) == NULL)
		return PFL_ERR_NOMEM;
	if (seed != NULL)
		memcpy(r->key, seed, sizeof(r->key));
	else
		randombytes_buf(r->key, sizeof(r->key));
	memset(r->nonce, 0, sizeof(r->nonce));
	memcpy(r->nonce, "pfl-dpns", 8); /* then a 4-byte counter */
	r->block = 0;
	r->pos = CSPRNG_BUF;
	*out = r;
	return PFL_OK;
}

void
pfl_csprng_free(struct pfl_csprng *r)
{
	sodium_free(r); /* wipes; NULL is a no-op */
}

static void
refill(struct pfl_csprng *r)
{
	uint32_t nblocks = CSPRNG_BUF / 64;

	if (r->block > UINT32_MAX - nblocks) {
		/* 256 GiB under this nonce: move to the next one */
		sodium_increment(r->nonce + 8, 4);
		r->block = 0;
	}
	memset(r->buf, 0, sizeof(r->buf));
	crypto_stream_chacha20_ietf_xor_ic(r->buf, r->buf, sizeof(r->buf),
	                                   r->nonce, r->block, r->key);
	r->block += nblocks;
	r->pos = 0;
}

uint64_t
pfl_csprng_u64(struct pfl_csprng *r)
{
	uint64_t v = 0;

	if (r->pos + 8 > CSPRNG_BUF)
		refill(r);
	/* consumed bytes stay in guarded memory until the next refill or
	 * pfl_csprng_free overwrites them */
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | r->buf[r->pos + (size_t)i];
	r->pos += 8;
	return v;
}

uint64_t
pfl_csprng_below(struct pfl_csprng *r, uint64_t n)
{
	uint64_t x, lim;

	if (n == 0)
		return 0;
	lim = UINT64_MAX - UINT64_MAX % n; /* accept x < lim */
	do
		x = pfl_csprng_u64(r);
	while (x >= lim);
	return x % n;
}

double
pfl_csprng_uniform(struct pfl_csprng *r)
{
	return (double)(pfl_csprng_u64(r) >> 11) * 0x1.0p-53;
}

double
pfl_csprng_normal(struct pfl_csprng *r)
{
	double u1 = 1.0 - pfl_csprng_uniform(r); /* (0, 1] */
	double u2 = pfl_csprng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * PFL_PI * u2);
}

void
pfl_noise_gaussian_add(struct pfl_csprng *r, float *v, size_t n, double sigma)
{
	if (!(sigma > 0.0) || isinf(sigma))
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = (float)((double)v[i] + sigma * pfl_csprng_normal(r));
}
