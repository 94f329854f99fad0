/*
 * Shamir sharing over the ristretto255 scalar field: known-answer vectors
 * (computed with Python integers, tests/vectors/secagg/gen_vectors.py),
 * reconstruction from every t-subset, failure below threshold, argument
 * checks.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/shamir.h"

typedef uint8_t share_t[PFL_SHAMIR_SHARE_BYTES];

static int
hex2bin(uint8_t *out, size_t n, const char *hex, size_t hexlen)
{
	size_t bl;

	if (sodium_hex2bin(out, n, hex, hexlen, NULL, &bl, NULL) != 0)
		return -1;
	return bl == n ? 0 : -1;
}

static void
test_shamir_kat(void **state)
{
	static char line[65536];
	char path[1024];
	const char *src = getenv("PFL_SOURCE_DIR");
	int cases = 0;
	FILE *f;

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/tests/vectors/secagg/shamir.txt", src);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		uint8_t secret[32], seed[32], got[32];
		uint32_t xs[64], t;
		share_t want[64], shares[64];
		char *sec = strtok(line, " "), *sd = strtok(NULL, " ");
		char *ts = strtok(NULL, " "), *xl = strtok(NULL, " ");
		char *sl = strtok(NULL, " \n"), *tok;
		size_t nx = 0, ns = 0;

		assert_non_null(sl);
		assert_int_equal(hex2bin(secret, 32, sec, strlen(sec)), 0);
		assert_int_equal(hex2bin(seed, 32, sd, strlen(sd)), 0);
		t = (uint32_t)strtoul(ts, NULL, 10);
		for (tok = strtok(xl, ","); tok; tok = strtok(NULL, ","))
			xs[nx++] = (uint32_t)strtoul(tok, NULL, 10);
		for (char *p = sl; *p; ns++) {
			assert_int_equal(hex2bin(want[ns], 64, p, 128), 0);
			p += 128;
			if (*p == ',')
				p++;
		}
		assert_int_equal(nx, ns);
		assert_int_equal(
		        pfl_shamir_split(secret, t, xs, nx, seed, shares),
		        PFL_OK);
		assert_memory_equal(shares, want, nx * sizeof(share_t));
		/* the last t shares reconstruct */
		assert_int_equal(
		        pfl_shamir_reconstruct(xs + nx - t,
		                               (const share_t *)want + nx - t,
		                               t, got),
		        PFL_OK);
		assert_memory_equal(got, secret, 32);
		cases++;
	}
	fclose(f);
	assert_int_equal(cases, 5);
}

/* every t-subset of 6 shares reconstructs; every (t-1)-subset fails */
static void
test_shamir_all_subsets(void **state)
{
	uint32_t xs[6] = {3, 17, 1, 99, 4000000000u, 8}, sx[6];
	share_t shares[6], sub[6];
	uint8_t secret[32], got[32];

	(void)state;
	randombytes_buf(secret, sizeof(secret));
	for (uint32_t t = 1; t <= 6; t++) {
		assert_int_equal(
		        pfl_shamir_split(secret, t, xs, 6, NULL, shares),
		        PFL_OK);
		for (unsigned mask = 1; mask < 64; mask++) {
			size_t m = 0;

			for (int i = 0; i < 6; i++) {
				if (mask & (1u << i)) {
					sx[m] = xs[i];
					memcpy(sub[m++], shares[i], 64);
				}
			}
			memset(got, 0, 32);
			pfl_err e = pfl_shamir_reconstruct(
			        sx, (const share_t *)sub, m, got);
			if (m >= t) {
				assert_int_equal(e, PFL_OK);
				assert_memory_equal(got, secret, 32);
			} else {
				/* below threshold: refused (2^-124 chance of a
				 * fitting wrong value, never the secret) */
				assert_int_equal(e, PFL_ERR_CRYPTO);
				assert_memory_not_equal(got, secret, 32);
			}
		}
	}
}

static void
test_shamir_corrupt_share(void **state)
{
	uint32_t xs[5] = {1, 2, 3, 4, 5};
	share_t shares[5];
	uint8_t secret[32], got[32];

	(void)state;
	randombytes_buf(secret, sizeof(secret));
	assert_int_equal(pfl_shamir_split(secret, 3, xs, 5, NULL, shares),
	                 PFL_OK);
	/* a share replaced by a random field element (a small structured
	 * change can keep the result below 2^128: not an integrity check) */
	crypto_core_ristretto255_scalar_random(shares[1]);
	assert_int_equal(
	        pfl_shamir_reconstruct(xs, (const share_t *)shares, 3, got),
	        PFL_ERR_CRYPTO);
	/* non-canonical scalar (>= l) refused */
	memset(shares[1], 0xff, 32);
	assert_int_equal(
	        pfl_shamir_reconstruct(xs, (const share_t *)shares, 3, got),
	        PFL_ERR_CRYPTO);
	/* the untouched shares still work */
	assert_int_equal(pfl_shamir_reconstruct(
	                         xs + 2, (const share_t *)shares + 2, 3, got),
	                 PFL_OK);
	assert_memory_equal(got, secret, 32);
}

static void
test_shamir_bad_args(void **state)
{
	uint32_t xs[3] = {1, 2, 3}, bad0[3] = {1, 0, 3}, dup[3] = {1, 2, 1};
	share_t shares[3];
	uint8_t secret[32] = {1}, coef[3][32];

	(void)state;
	assert_int_equal(pfl_shamir_split(secret, 0, xs, 3, NULL, shares),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_shamir_split(secret, 4, xs, 3, NULL, shares),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_shamir_split(secret, 2, bad0, 3, NULL, shares),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_shamir_split(secret, 2, dup, 3, NULL, shares),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_shamir_lagrange(dup, 3, coef), PFL_ERR_INVAL);
	assert_int_equal(pfl_shamir_lagrange(xs, 0, coef), PFL_ERR_INVAL);
}

/* SecAgg scale: 1000 holders, threshold 501, ids spread over 1..10000 */
static void
test_shamir_large(void **state)
{
	const size_t n = 1000, t = 501;
	uint32_t *xs = malloc(n * 4);
	share_t *shares = malloc(n * sizeof(share_t));
	uint8_t(*coef)[32] = malloc(t * 32);
	uint8_t secret[32], secret2[32], got[32];

	(void)state;
	assert_non_null(xs);
	assert_non_null(shares);
	assert_non_null(coef);
	for (size_t i = 0; i < n; i++)
		xs[i] = (uint32_t)(10 * i + 7);
	randombytes_buf(secret, 32);
	randombytes_buf(secret2, 32);
	assert_int_equal(pfl_shamir_split(secret, t, xs, n, NULL, shares),
	                 PFL_OK);
	/* coefficients once, for the last t holders */
	assert_int_equal(pfl_shamir_lagrange(xs + n - t, t, coef), PFL_OK);
	assert_int_equal(pfl_shamir_combine((const uint8_t(*)[32])coef,
	                                    (const share_t *)shares + n - t, t,
	                                    got),
	                 PFL_OK);
	assert_memory_equal(got, secret, 32);
	/* reuse them for another secret over the same x set */
	assert_int_equal(pfl_shamir_split(secret2, t, xs, n, NULL, shares),
	                 PFL_OK);
	assert_int_equal(pfl_shamir_combine((const uint8_t(*)[32])coef,
	                                    (const share_t *)shares + n - t, t,
	                                    got),
	                 PFL_OK);
	assert_memory_equal(got, secret2, 32);
	assert_int_equal(
	        pfl_shamir_reconstruct(xs, (const share_t *)shares, t - 1, got),
	        PFL_ERR_CRYPTO);
	free(xs);
	free(shares);
	free(coef);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_shamir_kat),
	        cmocka_unit_test(test_shamir_all_subsets),
	        cmocka_unit_test(test_shamir_corrupt_share),
	        cmocka_unit_test(test_shamir_bad_args),
	        cmocka_unit_test(test_shamir_large),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
