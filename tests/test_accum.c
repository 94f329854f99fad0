/*
 * The aggregator's plain update accumulation (aggregator/src/accum.c)
 * against a scalar reference, bit for bit: odd lengths around the vector
 * width, the 4 KB block and the small-update threshold, message pointers at
 * every byte offset, non-finite values refused wherever they are with the
 * accumulator unchanged, and batches equal to the same updates one by one.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "privfl/rng.h"

#define BIG (((size_t)1 << 20) + 3)

/* Lengths: empty, around a vector (16), a block (1024), the small
 * threshold, and a 1M vector with an odd tail. */
static const size_t lens[] = {0,    1,    15,    16,    17,    1023,
                              1024, 1025, 16384, 16385, 40961, BIG};

static const uint32_t nonfinite[] = {
        0x7fc00000u, /* quiet NaN */
        0xffc00000u, /* negative quiet NaN */
        0x7f800001u, /* signalling NaN */
        0x7f800000u, /* +Inf */
        0xff800000u, /* -Inf */
};

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	assert_non_null(p);
	return p;
}

static void
put_le(uint8_t *p, uint32_t w)
{
	p[0] = (uint8_t)w;
	p[1] = (uint8_t)(w >> 8);
	p[2] = (uint8_t)(w >> 16);
	p[3] = (uint8_t)(w >> 24);
}

static uint32_t
float_bits(float f)
{
	uint32_t w;

	memcpy(&w, &f, 4);
	return w;
}

/*
 * A finite float: mostly ordinary values of either sign, some subnormals,
 * zeros of both signs and extremes (FLT_MAX, the smallest subnormal), so
 * that rounding, signed zeros and overflow to Inf in the sum are covered.
 */
static uint32_t
random_finite(struct pfl_rng *r)
{
	uint64_t x = pfl_rng_u64(r);
	uint32_t sign = (uint32_t)(x >> 63) << 31;

	switch (x % 16) {
	case 0:
		return sign | (uint32_t)(x >> 20 & 0x007fffffu); /* subnormal */
	case 1:
		return sign; /* +-0 */
	case 2:
		return sign | 0x7f7fffffu; /* +-FLT_MAX */
	case 3:
		return sign | 1u;
	default: /* exponent 100..154 (about 2^-27 .. 2^27), any mantissa */
		return sign | (uint32_t)(100 + (x >> 8) % 55) << 23 |
		       (uint32_t)(x >> 32 & 0x007fffffu);
	}
}

/* A little-endian message of n random finite floats at buf + ofs. */
static uint8_t *
make_msg(struct pfl_rng *r, uint8_t *buf, size_t ofs, size_t n)
{
	uint8_t *p = buf + ofs;

	for (size_t i = 0; i < n; i++)
		put_le(p + 4 * i, random_finite(r));
	return p;
}

static void
fill_acc(struct pfl_rng *r, float *acc, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t w = random_finite(r);

		memcpy(&acc[i], &w, 4);
	}
}

/* The scalar reference: acc[i] += the i-th little-endian float of p. */
static void
ref_add(float *acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t w = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		             (uint32_t)p[4 * i + 2] << 16 |
		             (uint32_t)p[4 * i + 3] << 24;
		float f;

		memcpy(&f, &w, 4);
		acc[i] += f;
	}
}

/* Bitwise equality with the index of the first difference on failure. */
static void
assert_same_bits(const float *a, const float *b, size_t n)
{
	if (n == 0 || memcmp(a, b, n * sizeof(float)) == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (float_bits(a[i]) != float_bits(b[i]))
			fail_msg("entry %zu of %zu: %08x != %08x", i, n,
			         (unsigned)float_bits(a[i]),
			         (unsigned)float_bits(b[i]));
	}
}

/* Finite updates: sums equal the reference for every length, byte offset
 * of the message and with or without undo space. */
static void
test_sums_exact(void **state)
{
	struct pfl_rng r;

	(void)state;
	pfl_rng_seed(&r, 1);
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];
		uint8_t *buf = xmalloc(4 * n + 64);
		float *acc = xmalloc(n * sizeof(float));
		float *ref = xmalloc(n * sizeof(float));
		float *undo = xmalloc(n * sizeof(float));
		/* every offset for small lengths, a few for the big ones */
		size_t nofs = n > 20000 ? 3 : 8;

		for (size_t oi = 0; oi < nofs; oi++) {
			size_t ofs = n > 20000 ? oi * 3 + 1 : oi; /* 1 4 7 */
			const uint8_t *p = make_msg(&r, buf, ofs, n);

			for (int with_undo = 0; with_undo < 2; with_undo++) {
				fill_acc(&r, acc, n);
				memcpy(ref, acc, n * sizeof(float));
				ref_add(ref, p, n);
				assert_true(pfli_accum_is_finite(p, n));
				assert_int_equal(
				        pfli_accum_add(acc,
				                       with_undo ? undo : NULL,
				                       p, n),
				        PFL_OK);
				assert_same_bits(acc, ref, n);
				/* a second update on top */
				p = make_msg(&r, buf, ofs, n);
				ref_add(ref, p, n);
				assert_int_equal(
				        pfli_accum_add(acc,
				                       with_undo ? undo : NULL,
				                       p, n),
				        PFL_OK);
				assert_same_bits(acc, ref, n);
			}
		}
		free(buf);
		free(acc);
		free(ref);
		free(undo);
	}
}

/* Any non-finite value anywhere (first, middle, last, and the first and
 * last entry of the last block) is refused and leaves acc unchanged. */
static void
test_nonfinite_refused(void **state)
{
	struct pfl_rng r;

	(void)state;
	pfl_rng_seed(&r, 2);
	for (size_t li = 1; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t n = lens[li];
		uint8_t *buf = xmalloc(4 * n + 64);
		float *acc = xmalloc(n * sizeof(float));
		float *keep = xmalloc(n * sizeof(float));
		float *undo = xmalloc(n * sizeof(float));
		size_t pos[5] = {0, n / 2, n - 1, (n - 1) / 1024 * 1024,
		                 n > 1 ? 1 : 0};

		fill_acc(&r, acc, n);
		memcpy(keep, acc, n * sizeof(float));
		for (size_t pi = 0; pi < 5; pi++) {
			size_t ofs = pi % 3 == 0 ? 0 : pi % 3 == 1 ? 1 : 4;
			uint32_t bad = nonfinite[(li + pi) % 5];
			uint8_t *p = make_msg(&r, buf, ofs, n);

			put_le(p + 4 * pos[pi], bad);
			assert_false(pfli_accum_is_finite(p, n));
			for (int with_undo = 0; with_undo < 2; with_undo++) {
				assert_int_equal(
				        pfli_accum_add(acc,
				                       with_undo ? undo : NULL,
				                       p, n),
				        PFL_ERR_PROTO);
				assert_same_bits(acc, keep, n);
			}
		}
		/* every kind of non-finite value, at the middle */
		for (size_t bi = 0; bi < 5; bi++) {
			uint8_t *p = make_msg(&r, buf, 0, n);

			put_le(p + 4 * (n / 2), nonfinite[bi]);
			assert_int_equal(pfli_accum_add(acc, undo, p, n),
			                 PFL_ERR_PROTO);
			assert_same_bits(acc, keep, n);
		}
		free(buf);
		free(acc);
		free(keep);
		free(undo);
	}
}

/* Exponent 0xfe is finite: FLT_MAX and its negative are accepted even
 * when the sum overflows to Inf (only the update's values are checked). */
static void
test_extremes_accepted(void **state)
{
	uint8_t msg[4 * 33];
	float acc[33], ref[33], undo[33];

	(void)state;
	for (size_t i = 0; i < 33; i++) {
		put_le(msg + 4 * i, i % 2 ? 0x7f7fffffu : 0xff7fffffu);
		acc[i] = i % 3 ? 3.0e38f : -1.0f;
	}
	memcpy(ref, acc, sizeof(acc));
	ref_add(ref, msg, 33);
	assert_true(pfli_accum_is_finite(msg, 33));
	assert_int_equal(pfli_accum_add(acc, undo, msg, 33), PFL_OK);
	assert_same_bits(acc, ref, 33);
	assert_true(pfli_accum_is_finite(msg, 0));
	assert_int_equal(pfli_accum_add(acc, undo, msg, 0), PFL_OK);
}

/* A batch gives the bits of the same updates added one by one, refusing
 * the non-finite ones wherever they are in the batch and in the vector. */
static void
test_add_many(void **state)
{
	static const size_t ns[] = {0, 17, 1025, 16385, 40961, BIG};
	static const size_t ks[] = {0, 1, 3, 4, 5, 9};
	struct pfl_rng r;

	(void)state;
	pfl_rng_seed(&r, 3);
	for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
		size_t n = ns[ni];
		uint8_t *bufs[9];
		const uint8_t *msgs[9];
		float *acc = xmalloc(n * sizeof(float));
		float *ref = xmalloc(n * sizeof(float));
		float *undo = xmalloc(n * sizeof(float));

		for (size_t j = 0; j < 9; j++)
			bufs[j] = xmalloc(4 * n + 64);
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
			size_t k = ks[ki];

			/* refused: none, the first, the last, two in the
			 * middle (bad = bit mask of the refused ones) */
			for (int pat = 0; pat < 4; pat++) {
				unsigned bad = pat == 0   ? 0u
				               : pat == 1 ? 1u
				               : pat == 2
				                       ? 1u << (k ? k - 1 : 0)
				                       : 6u;
				bool added[9], want_err = false;

				if (n == 0)
					bad = 0; /* nowhere to put a NaN */
				for (size_t j = 0; j < k; j++) {
					msgs[j] =
					        make_msg(&r, bufs[j], j % 5, n);
					if (bad >> j & 1) {
						put_le(bufs[j] + j % 5 +
						               4 * ((j * 7919) %
						                    n),
						       nonfinite[j % 5]);
						want_err = true;
					}
				}
				for (int with_undo = 0; with_undo < 2;
				     with_undo++) {
					pfl_err rv;

					fill_acc(&r, acc, n);
					memcpy(ref, acc, n * sizeof(float));
					for (size_t j = 0; j < k; j++) {
						if (!(bad >> j & 1))
							ref_add(ref, msgs[j],
							        n);
					}
					memset(added, 0x55, sizeof(added));
					rv = pfli_accum_add_many(
					        acc, with_undo ? undo : NULL,
					        msgs, k, n, added);
					assert_int_equal(
					        rv, want_err ? PFL_ERR_PROTO
					                     : PFL_OK);
					for (size_t j = 0; j < k; j++)
						assert_true(added[j] ==
						            !(bad >> j & 1));
					assert_same_bits(acc, ref, n);
				}
			}
		}
		for (size_t j = 0; j < 9; j++)
			free(bufs[j]);
		free(acc);
		free(ref);
		free(undo);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sums_exact),
	        cmocka_unit_test(test_nonfinite_refused),
	        cmocka_unit_test(test_extremes_accepted),
	        cmocka_unit_test(test_add_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
