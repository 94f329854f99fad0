/*
 * PRG mask expansion: known-answer vectors (computed independently with
 * python's cryptography ChaCha20, tests/vectors/secagg/gen_vectors.py),
 * agreement with randombytes_buf_deterministic, add/subtract inverses.
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

#include "privfl/prg.h"

static int
hex2bin(uint8_t *out, size_t n, const char *hex)
{
	size_t bl;

	if (sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bl, NULL) != 0)
		return -1;
	return bl == n ? 0 : -1;
}

static void
le_bytes(const uint32_t *w, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 4; b++)
			out[4 * i + b] = (uint8_t)(w[i] >> (8 * b));
}

static void
test_prg_kat(void **state)
{
	char path[1024], seedhex[80], hashhex[80], lasthex[16], first[128];
	const char *src = getenv("PFL_SOURCE_DIR");
	int lines = 0;
	size_t n;
	FILE *f;

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/tests/vectors/secagg/prg.txt", src);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fscanf(f, "%79s %zu %79s %15s %127s", seedhex, &n, hashhex,
	              lasthex, first) == 5) {
		uint8_t seed[32], want[32], got[32], *bytes;
		uint32_t *w = calloc(n, 4), last;
		char *tok;
		size_t i = 0;

		assert_non_null(w);
		assert_int_equal(hex2bin(seed, 32, seedhex), 0);
		assert_int_equal(hex2bin(want, 32, hashhex), 0);
		pfl_prg_words(w, n, seed);
		bytes = malloc(4 * n);
		assert_non_null(bytes);
		le_bytes(w, n, bytes);
		crypto_generichash(got, 32, bytes, 4 * n, NULL, 0);
		assert_memory_equal(got, want, 32);
		last = (uint32_t)strtoul(lasthex, NULL, 16);
		assert_int_equal(w[n - 1], last);
		for (tok = strtok(first, ","); tok; tok = strtok(NULL, ","))
			assert_int_equal(w[i++], strtoul(tok, NULL, 16));
		free(bytes);
		free(w);
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 18);
}

/* Same stream as libsodium's deterministic randombytes */
static void
test_prg_matches_randombytes_deterministic(void **state)
{
	const size_t n = 100003;
	uint8_t seed[32], *ref = malloc(4 * n), *mine = malloc(4 * n);
	uint32_t *w = malloc(4 * n);

	(void)state;
	assert_non_null(ref);
	assert_non_null(mine);
	assert_non_null(w);
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf_deterministic(ref, 4 * n, seed);
	pfl_prg_words(w, n, seed);
	le_bytes(w, n, mine);
	assert_memory_equal(mine, ref, 4 * n);
	free(ref);
	free(mine);
	free(w);
}

static void
test_prg_add_sub(void **state)
{
	const size_t n = 50001;
	uint32_t *v = malloc(4 * n), *orig = malloc(4 * n), *w = malloc(4 * n);
	uint8_t seed[32];
	size_t diff = 0;

	(void)state;
	assert_non_null(v);
	assert_non_null(orig);
	assert_non_null(w);
	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(v, 4 * n);
	memcpy(orig, v, 4 * n);
	pfl_prg_words(w, n, seed);
	pfl_prg_mask_add(v, n, seed, 1);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i], (uint32_t)(orig[i] + w[i]));
		diff += v[i] != orig[i];
	}
	assert_true(diff > n - 10);
	pfl_prg_mask_add(v, n, seed, -1);
	assert_memory_equal(v, orig, 4 * n);
	pfl_prg_mask_add(v, n, seed, -1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i], (uint32_t)(orig[i] - w[i]));
	/* a prefix of a longer expansion equals the shorter expansion */
	memcpy(v, orig, 4 * n);
	pfl_prg_mask_add(v, 3000, seed, 1);
	for (size_t i = 0; i < 3000; i++)
		assert_int_equal(v[i], (uint32_t)(orig[i] + w[i]));
	assert_memory_equal(v + 3000, orig + 3000, 4 * (n - 3000));
	free(v);
	free(orig);
	free(w);
}

static void
test_prg_seeds_differ(void **state)
{
	uint32_t a[64], b[64];
	uint8_t s1[32] = {0}, s2[32] = {0};

	(void)state;
	s2[31] = 1;
	pfl_prg_words(a, 64, s1);
	pfl_prg_words(b, 64, s2);
	assert_memory_not_equal(a, b, sizeof(a));
	pfl_prg_mask_add(a, 0, s1, 1); /* n = 0 touches nothing */
	pfl_prg_words(b, 64, s1);
	assert_memory_equal(a, b, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_prg_kat),
	        cmocka_unit_test(test_prg_matches_randombytes_deterministic),
	        cmocka_unit_test(test_prg_add_sub),
	        cmocka_unit_test(test_prg_seeds_differ),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
