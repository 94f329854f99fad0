/*
 * Shamir secret sharing over the ristretto255 scalar field (privfl/shamir.h).
 */
#include "privfl/shamir.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SC   32 /* crypto_core_ristretto255_SCALARBYTES */
#define HALF 16

_Static_assert(crypto_core_ristretto255_SCALARBYTES == SC, "scalar size");
_Static_assert(crypto_core_ristretto255_NONREDUCEDSCALARBYTES == 64, "wide");

static void
sc_from_u64(uint8_t s[SC], uint64_t v)
{
	memset(s, 0, SC);
	for (int i = 0; i < 8; i++)
		s[i] = (uint8_t)(v >> (8 * i));
}

/* l = 2^252 + 27742317777372353535851937790883648493, little-endian */
static const uint8_t group_order[SC] = {
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
        0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
        0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/* 1 when s is a canonical (reduced) scalar: s < l, in constant time */
static int
sc_is_canonical(const uint8_t s[SC])
{
	return sodium_compare(s, group_order, SC) < 0;
}

static pfl_err
check_xs(const uint32_t *xs, size_t m)
{
	if (xs == NULL || m == 0 || m > PFL_SHAMIR_MAX_SHARES)
		return PFL_ERR_INVAL;
	for (size_t i = 0; i < m; i++) {
		if (xs[i] == 0)
			return PFL_ERR_INVAL;
	}
	/* O(m^2) is fine next to the O(m^2) field work of the callers */
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			if (xs[i] == xs[j])
				return PFL_ERR_INVAL;
	return PFL_OK;
}

/* coefficients 1..t-1 of both halves: coef[(h * (t - 1) + j - 1)] */
static void
make_coefs(uint8_t (*coef)[SC], size_t count, const uint8_t *seed)
{
	uint8_t wide[64];
	uint8_t nonce[8] = {0};
	size_t i;

	if (seed == NULL) {
		for (i = 0; i < count; i++)
			crypto_core_ristretto255_scalar_random(coef[i]);
		return;
	}
	for (i = 0; i < count; i++) {
		/* wide = ChaCha20(seed, nonce = i) ; reduce to a scalar */
		for (int b = 0; b < 8; b++)
			nonce[b] = (uint8_t)((uint64_t)i >> (8 * b));
		crypto_stream_chacha20(wide, sizeof(wide), nonce, seed);
		crypto_core_ristretto255_scalar_reduce(coef[i], wide);
	}
	sodium_memzero(wide, sizeof(wide));
}

pfl_err
pfl_shamir_split(const uint8_t secret[32], uint32_t t, const uint32_t *xs,
                 size_t nx, const uint8_t *coef_seed, uint8_t (*shares)[64])
{
	uint8_t(*coef)[SC] = NULL;
	uint8_t a0[2][SC], x[SC], y[SC];
	size_t ncoef, i;
	pfl_err err;

	if (secret == NULL || shares == NULL || t == 0 || t > nx)
		return PFL_ERR_INVAL;
	if ((err = check_xs(xs, nx)) != PFL_OK)
		return err;
	ncoef = 2 * ((size_t)t - 1);
	if (ncoef > 0) {
		coef = sodium_allocarray(ncoef, SC);
		if (coef == NULL)
			return PFL_ERR_NOMEM;
		make_coefs(coef, ncoef, coef_seed);
	}
	memset(a0, 0, sizeof(a0));
	memcpy(a0[0], secret, HALF);
	memcpy(a0[1], secret + HALF, HALF);
	for (i = 0; i < nx; i++) {
		sc_from_u64(x, xs[i]);
		for (int h = 0; h < 2; h++) {
			uint8_t(*c)[SC] = coef ? coef + h * (t - 1) : NULL;

			/* Horner: y = (((c_{t-1}) x + c_{t-2}) x + ...) x + a0
			 */
			memset(y, 0, SC);
			for (size_t j = (size_t)t - 1; j >= 1; j--) {
				crypto_core_ristretto255_scalar_add(y, y,
				                                    c[j - 1]);
				crypto_core_ristretto255_scalar_mul(y, y, x);
			}
			crypto_core_ristretto255_scalar_add(y, y, a0[h]);
			memcpy(shares[i] + h * SC, y, SC);
		}
	}
	sodium_memzero(a0, sizeof(a0));
	sodium_memzero(y, sizeof(y));
	sodium_free(coef);
	return PFL_OK;
}

/* den = x_i * prod_{j != i} (x_j - x_i), as a field element */
static void
lagrange_den(const uint32_t *xs, size_t m, size_t i, uint8_t den[SC])
{
	uint8_t f[SC];
	uint64_t acc = xs[i];
	int neg = 0, n_in_acc = 1;

	sc_from_u64(den, 1);
	for (size_t j = 0; j < m; j++) {
		uint64_t d;

		if (j == i)
			continue;
		if (xs[j] > xs[i]) {
			d = (uint64_t)xs[j] - xs[i];
		} else {
			d = (uint64_t)xs[i] - xs[j];
			neg ^= 1;
		}
		if (n_in_acc == 2) { /* two factors < 2^32 fill 64 bits */
			sc_from_u64(f, acc);
			crypto_core_ristretto255_scalar_mul(den, den, f);
			acc = 1;
			n_in_acc = 0;
		}
		acc *= d;
		n_in_acc++;
	}
	sc_from_u64(f, acc);
	crypto_core_ristretto255_scalar_mul(den, den, f);
	if (neg)
		crypto_core_ristretto255_scalar_negate(den, den);
}

pfl_err
pfl_shamir_lagrange(const uint32_t *xs, size_t m, uint8_t (*coef)[32])
{
	uint8_t(*den)[SC] = NULL;
	uint8_t(*pre)[SC] = NULL;
	uint8_t prod[SC], inv[SC], x[SC], tmp[SC];
	size_t i;
	pfl_err err;

	if (coef == NULL)
		return PFL_ERR_INVAL;
	if ((err = check_xs(xs, m)) != PFL_OK)
		return err;
	den = calloc(m, SC);
	pre = calloc(m, SC);
	if (den == NULL || pre == NULL) {
		err = PFL_ERR_NOMEM;
		goto out_free;
	}
	/* prod = prod_j x_j; pre[i] = den_0 ... den_i (batch inversion) */
	sc_from_u64(prod, 1);
	for (i = 0; i < m; i++) {
		sc_from_u64(x, xs[i]);
		crypto_core_ristretto255_scalar_mul(prod, prod, x);
		lagrange_den(xs, m, i, den[i]);
		if (i == 0)
			memcpy(pre[0], den[0], SC);
		else
			crypto_core_ristretto255_scalar_mul(pre[i], pre[i - 1],
			                                    den[i]);
	}
	/* all den_i are non-zero: distinct non-zero x < 2^32 < l */
	if (crypto_core_ristretto255_scalar_invert(inv, pre[m - 1]) != 0) {
		err = PFL_ERR_CRYPTO;
		goto out_free;
	}
	for (i = m; i-- > 0;) {
		/* inv = 1 / (den_0 ... den_i) */
		if (i > 0)
			crypto_core_ristretto255_scalar_mul(tmp, inv,
			                                    pre[i - 1]);
		else
			memcpy(tmp, inv, SC);
		/* tmp = 1 / den_i */
		crypto_core_ristretto255_scalar_mul(inv, inv, den[i]);
		crypto_core_ristretto255_scalar_mul(coef[i], tmp, prod);
	}
	err = PFL_OK;
out_free:
	free(den);
	free(pre);
	return err;
}

pfl_err
pfl_shamir_combine(const uint8_t (*coef)[32], const uint8_t (*shares)[64],
                   size_t m, uint8_t secret[32])
{
	/* sum the products unreduced in 512 bits (each < l < 2^253, at most
	 * PFL_SHAMIR_MAX_SHARES < 2^17 of them) and reduce once */
	uint8_t wide[2][64], prod[64], acc[SC], out[32];
	pfl_err err = PFL_ERR_CRYPTO;
	size_t i;
	int h;

	if (coef == NULL || shares == NULL || secret == NULL || m == 0 ||
	    m > PFL_SHAMIR_MAX_SHARES)
		return PFL_ERR_INVAL;
	memset(wide, 0, sizeof(wide));
	memset(prod, 0, sizeof(prod));
	for (i = 0; i < m; i++) {
		for (h = 0; h < 2; h++) {
			if (!sc_is_canonical(shares[i] + h * SC))
				goto out;
			crypto_core_ristretto255_scalar_mul(
			        prod, shares[i] + h * SC, coef[i]);
			sodium_add(wide[h], prod, sizeof(prod));
		}
	}
	for (h = 0; h < 2; h++) {
		crypto_core_ristretto255_scalar_reduce(acc, wide[h]);
		if (!sodium_is_zero(acc + HALF, SC - HALF))
			goto out;
		memcpy(out + h * HALF, acc, HALF);
	}
	memcpy(secret, out, 32);
	err = PFL_OK;
out:
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(prod, sizeof(prod));
	sodium_memzero(acc, sizeof(acc));
	sodium_memzero(out, sizeof(out));
	return err;
}

pfl_err
pfl_shamir_reconstruct(const uint32_t *xs, const uint8_t (*shares)[64],
                       size_t m, uint8_t secret[32])
{
	uint8_t(*coef)[SC];
	pfl_err err;

	if (m == 0 || m > PFL_SHAMIR_MAX_SHARES)
		return PFL_ERR_INVAL;
	if ((coef = calloc(m, SC)) == NULL)
		return PFL_ERR_NOMEM;
	err = pfl_shamir_lagrange(xs, m, coef);
	if (err == PFL_OK)
		err = pfl_shamir_combine((const uint8_t(*)[SC])coef, shares, m,
		                         secret);
	free(coef);
	return err;
}
