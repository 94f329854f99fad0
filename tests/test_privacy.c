/*
 * Tests of privacy/: clipping, adaptive clipping, the CSPRNG, the Gaussian
 * and discrete Gaussian samplers (fixed seeds, KS and chi-square against
 * the exact distributions) and fixed-point quantization.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/accountant.h"
#include "privfl/clip.h"
#include "privfl/dpsgd.h"
#include "privfl/noise.h"
#include "privfl/quant.h"

static const uint8_t seed1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t seed2[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static struct pfl_csprng *
rng(const uint8_t *seed)
{
	struct pfl_csprng *r = NULL;

	assert_int_equal(pfl_csprng_new(seed, &r), PFL_OK);
	assert_non_null(r);
	return r;
}

static void
test_clip_hand(void **state)
{
	float v[2] = {3.0f, 4.0f}, w[3] = {1.0f, 2.0f, 2.0f};
	float bad[3] = {1.0f, NAN, 2.0f};

	(void)state;
	assert_true(fabs(pfl_l2_norm(v, 2) - 5.0) < 1e-12);
	assert_true(fabs(pfl_clip_l2(v, 2, 1.0) - 5.0) < 1e-12);
	assert_true(fabs(v[0] - 0.6f) < 1e-6 && fabs(v[1] - 0.8f) < 1e-6);
	assert_true(pfl_l2_norm(v, 2) <= 1.0);
	assert_true(fabs(pfl_clip_l2(w, 3, 10.0) - 3.0) < 1e-12);
	assert_true(w[0] == 1.0f && w[1] == 2.0f && w[2] == 2.0f);
	assert_true(isnan(pfl_clip_l2(bad, 3, 1.0)));
	assert_true(bad[0] == 0.0f && bad[1] == 0.0f && bad[2] == 0.0f);
	pfl_clip_l2(w, 3, 0.0);
	assert_true(pfl_l2_norm(w, 3) == 0.0);
	assert_true(pfl_l2_norm(NULL, 0) == 0.0);
}

/* After clipping the norm never exceeds the bound, whatever the rounding. */
static void
test_clip_property(void **state)
{
	struct pfl_csprng *r = rng(seed1);
	float *v = malloc(1000 * sizeof(float));

	(void)state;
	assert_non_null(v);
	for (int trial = 0; trial < 300; trial++) {
		size_t n = 1 + pfl_csprng_below(r, 1000);
		double bound = ldexp(1.0 + pfl_csprng_uniform(r),
		                     (int)pfl_csprng_below(r, 40) - 20);
		double before, after;
		for (size_t i = 0; i < n; i++)
			v[i] = (float)(pfl_csprng_normal(r) *
			               ldexp(1.0, (int)pfl_csprng_below(r, 30) -
			                                  15));
		before = pfl_l2_norm(v, n);
		assert_true(fabs(pfl_clip_l2(v, n, bound) - before) <=
		            1e-12 * before);
		after = pfl_l2_norm(v, n);
		assert_true(after <= bound);
		if (before > bound)
			assert_true(after >= bound * (1 - 1e-5));
	}
	free(v);
	pfl_csprng_free(r);
}

static void
test_adaclip(void **state)
{
	struct pfl_adaclip a = {1.0, 0.5, 0.2, 5.0};
	double z;

	(void)state;
	pfl_adaclip_update(&a, 8.0, 10.0); /* 80% below: shrink */
	assert_true(fabs(a.clip - exp(-0.2 * 0.3)) < 1e-15);
	a.clip = 1.0;
	pfl_adaclip_update(&a, 2.0, 10.0); /* 20% below: grow */
	assert_true(fabs(a.clip - exp(0.2 * 0.3)) < 1e-15);
	a.clip = 2.0;
	pfl_adaclip_update(&a, -3.0, 10.0); /* noise made it negative */
	assert_true(fabs(a.clip - 2.0 * exp(0.1)) < 1e-14);
	a.clip = 2.0;
	pfl_adaclip_update(&a, 5.0, 0.0); /* nobody: unchanged */
	pfl_adaclip_update(&a, NAN, 10.0);
	assert_true(a.clip == 2.0);
	/* converges to the target quantile of a fixed norm distribution */
	a.clip = 0.01;
	a.lr = 0.2;
	for (int round = 0; round < 2000; round++) {
		double below = 0;
		for (int k = 1; k <= 100; k++)
			below += (k / 10.0 <= a.clip) ? 1 : 0;
		pfl_adaclip_update(&a, below, 100.0);
	}
	assert_true(a.clip > 4.7 && a.clip < 5.3);
	/* noise split (Andrew et al.): z = 1, sigma_b = 10 */
	assert_int_equal(pfl_adaclip_update_noise(1.0, 10.0, &z), PFL_OK);
	assert_true(fabs(z - 1.0 / sqrt(1.0 - 1.0 / 400.0)) < 1e-12);
	assert_true(z > 1.0);
	z = 42;
	assert_int_equal(pfl_adaclip_update_noise(1.0, 0.5, &z), PFL_ERR_INVAL);
	assert_int_equal(pfl_adaclip_update_noise(0.0, 5.0, &z), PFL_ERR_INVAL);
	assert_int_equal(pfl_adaclip_update_noise(1.0, NAN, &z), PFL_ERR_INVAL);
	assert_true(z == 42);
}

static void
test_csprng_streams(void **state)
{
	struct pfl_csprng *a = rng(seed1), *b = rng(seed1), *c = rng(seed2);
	struct pfl_csprng *o1 = rng(NULL), *o2 = rng(NULL);
	int same_c = 0, same_o = 0;
	uint64_t counts[16] = {0};
	double chi = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = pfl_csprng_u64(a);
		assert_true(x == pfl_csprng_u64(b));
		same_c += x == pfl_csprng_u64(c);
		same_o += pfl_csprng_u64(o1) == pfl_csprng_u64(o2);
	}
	assert_int_equal(same_c, 0);
	assert_int_equal(same_o, 0);
	/* below(): in range, and uniform (chi-square, 15 df, p = 0.001) */
	for (int i = 0; i < 32000; i++) {
		uint64_t x = pfl_csprng_below(a, 16);
		assert_true(x < 16);
		counts[x]++;
	}
	for (int k = 0; k < 16; k++)
		chi += (counts[k] - 2000.0) * (counts[k] - 2000.0) / 2000.0;
	assert_true(chi < 37.7);
	for (int i = 0; i < 1000; i++) {
		double u = pfl_csprng_uniform(a);
		assert_true(u >= 0.0 && u < 1.0);
	}
	assert_true(pfl_csprng_below(a, 0) == 0);
	assert_true(pfl_csprng_below(a, 1) == 0);
	pfl_csprng_free(a);
	pfl_csprng_free(b);
	pfl_csprng_free(c);
	pfl_csprng_free(o1);
	pfl_csprng_free(o2);
	pfl_csprng_free(NULL);
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* Gaussian noise: mean, variance and Kolmogorov-Smirnov against N(0,s^2). */
static void
test_gaussian(void **state)
{
	enum { N = 20000 };
	struct pfl_csprng *r = rng(seed2);
	float *v = calloc(N, sizeof(float));
	double *d = malloc(N * sizeof(double)), mean = 0, var = 0, ks = 0;
	const double sigma = 3.0;

	(void)state;
	assert_non_null(v);
	assert_non_null(d);
	pfl_noise_gaussian_add(r, v, N, sigma);
	for (int i = 0; i < N; i++) {
		d[i] = v[i];
		mean += d[i] / N;
	}
	for (int i = 0; i < N; i++)
		var += (d[i] - mean) * (d[i] - mean) / (N - 1);
	assert_true(fabs(mean) < 4 * sigma / sqrt(N));
	assert_true(fabs(var / (sigma * sigma) - 1) < 4 * sqrt(2.0 / N));
	qsort(d, N, sizeof(double), cmp_double);
	for (int i = 0; i < N; i++) {
		double cdf = 0.5 * erfc(-d[i] / (sigma * sqrt(2.0)));
		double lo = cdf - (double)i / N, hi = (i + 1.0) / N - cdf;
		ks = fmax(ks, fmax(lo, hi));
	}
	assert_true(ks < 1.63 / sqrt(N)); /* p = 0.01 */
	/* sigma 0 or NaN adds nothing */
	memset(v, 0, N * sizeof(float));
	pfl_noise_gaussian_add(r, v, N, 0.0);
	pfl_noise_gaussian_add(r, v, N, NAN);
	for (int i = 0; i < N; i++)
		assert_true(v[i] == 0.0f);
	free(v);
	free(d);
	pfl_csprng_free(r);
}

/* Chi-square quantile (p = 1e-3) by Wilson-Hilferty. */
static double
chi2_crit(double df)
{
	double z = 3.09, c = 1 - 2 / (9 * df) + z * sqrt(2 / (9 * df));

	return df * c * c * c;
}

/*
 * The discrete Gaussian against its exact pmf: chi-square over bins
 * (tails merged until each expects >= 5), mean, variance, tail mass.
 */
static void
check_dgauss(struct pfl_csprng *r, double s2, int n)
{
	double sv = pfl_dgauss_variance(s2);
	long K = (long)ceil(12 * sqrt(sv)) + 2;
	double *p = calloc(2 * K + 1, sizeof(double)), z = 0;
	long *cnt = calloc(2 * K + 1, sizeof(long));
	double var_exact = 0, mean = 0, m2 = 0, chi = 0, tail_p = 0;
	long tail_n = 0, bins = 0;

	assert_non_null(p);
	assert_non_null(cnt);
	assert_true(sv >= s2 && sv <= s2 * (1 + 1e-9) + 1e-9);
	for (long k = -K; k <= K; k++)
		z += p[k + K] = exp(-(double)k * k / (2 * sv));
	for (long k = -K; k <= K; k++) {
		p[k + K] /= z;
		var_exact += p[k + K] * (double)k * k;
		if (labs(k) > 2 * sqrt(sv))
			tail_p += p[k + K];
	}
	for (int i = 0; i < n; i++) {
		int64_t x;
		assert_int_equal(pfl_dgauss_sample(r, s2, &x), PFL_OK);
		assert_true(x >= -K && x <= K);
		cnt[x + K]++;
		mean += (double)x / n;
		m2 += (double)x * x / n;
		tail_n += fabs((double)x) > 2 * sqrt(sv);
	}
	/* chi-square with adjacent bins merged to >= 5 expected counts */
	for (long k = -K; k <= K;) {
		double e = 0, o = 0;
		while (k <= K && e < 5) {
			e += p[k + K] * n;
			o += cnt[k + K];
			k++;
		}
		chi += (o - e) * (o - e) / (e > 0 ? e : 1);
		bins++;
	}
	assert_true(bins >= 2);
	assert_true(chi < chi2_crit(bins - 1));
	assert_true(fabs(mean) < 5 * sqrt(var_exact / n));
	assert_true(fabs(m2 / var_exact - 1) < 5 * sqrt(2.0 / n) + 0.01);
	assert_true(fabs(tail_n - tail_p * n) < 5 * sqrt(tail_p * n) + 5);
	free(p);
	free(cnt);
}

static void
test_dgauss(void **state)
{
	static const double s2s[] = {0.3, 1.0, 2.5, 9.7, 100.0, 12345.6};
	struct pfl_csprng *r = rng(seed1);

	(void)state;
	for (size_t i = 0; i < sizeof(s2s) / sizeof(s2s[0]); i++)
		check_dgauss(r, s2s[i], 20000);
	pfl_csprng_free(r);
}

static void
test_dgauss_add(void **state)
{
	enum { N = 4000 };
	struct pfl_csprng *r = rng(seed2);
	uint32_t v[N];
	int64_t x;
	double m2 = 0;

	(void)state;
	for (int i = 0; i < N; i++)
		v[i] = (i & 1) ? 0xFFFFFFFFu : 5u; /* -1 and 5 */
	assert_int_equal(pfl_noise_dgauss_add(r, v, N, 1e6), PFL_OK);
	for (int i = 0; i < N; i++) {
		int32_t s = (int32_t)(v[i] - ((i & 1) ? 0xFFFFFFFFu : 5u));
		m2 += (double)s * s / N;
	}
	assert_true(fabs(m2 / 1e6 - 1) < 5 * sqrt(2.0 / N));
	/* bad parameters change nothing */
	v[0] = 7;
	assert_int_equal(pfl_noise_dgauss_add(r, v, 1, 0.0), PFL_ERR_INVAL);
	assert_int_equal(pfl_noise_dgauss_add(r, v, 1, NAN), PFL_ERR_INVAL);
	assert_int_equal(pfl_noise_dgauss_add(r, v, 1, 1e20), PFL_ERR_INVAL);
	assert_int_equal(v[0], 7);
	assert_int_equal(pfl_dgauss_sample(r, -1.0, &x), PFL_ERR_INVAL);
	assert_true(isnan(pfl_dgauss_variance(0.0)));
	/* largest supported variance still samples */
	assert_int_equal(pfl_dgauss_sample(r, 0x1.0p48, &x), PFL_OK);
	assert_true(llabs(x) < (1ll << 30));
	pfl_csprng_free(r);
}

static void
test_quant_scale(void **state)
{
	double s;

	(void)state;
	assert_int_equal(pfl_quant_choose_scale(1.0, 100, 0.0, &s), PFL_OK);
	assert_true(s == 0x1.0p24);
	for (uint32_t n = 1; n < 100000; n = n * 3 + 1) {
		for (double b = 0.01; b < 1000; b *= 7.3) {
			double noise = b * sqrt((double)n);
			double worst, worst2;
			assert_int_equal(
			        pfl_quant_choose_scale(b, n, noise, &s),
			        PFL_OK);
			assert_true(s == ldexp(1.0, ilogb(s)));
			worst = n * (b * s + 1) + PFL_QUANT_TAIL * noise * s;
			worst2 = n * (b * 2 * s + 1) +
			         PFL_QUANT_TAIL * noise * 2 * s;
			assert_true(worst < 2147483647.0);
			assert_true(noise * s <= 0x1.0p24);
			assert_true(worst2 + 1 > 2147483647.0 ||
			            noise * 2 * s > 0x1.0p24 || s == 0x1.0p40);
		}
	}
	/* two clients with noise: capped by the noise, not by the range */
	assert_int_equal(pfl_quant_choose_scale(1.0, 2, 1.0, &s), PFL_OK);
	assert_true(s == 0x1.0p24);
	assert_int_equal(pfl_quant_choose_scale(0.0, 10, 0, &s), PFL_ERR_INVAL);
	assert_int_equal(pfl_quant_choose_scale(1.0, 0, 0, &s), PFL_ERR_INVAL);
	assert_int_equal(pfl_quant_choose_scale(1.0, 10, -1, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_quant_choose_scale(1.0, 4000000000u, 0, &s),
	                 PFL_ERR_TOOBIG);
}

static void
test_quant_roundtrip(void **state)
{
	enum { N = 2000 };
	struct pfl_csprng *r = rng(seed1);
	float x[N], y[N];
	uint32_t q[N];
	const double scale = 0x1.0p10;
	double sum = 0;
	float odd[3] = {NAN, 1e30f, -1e30f};

	(void)state;
	for (int i = 0; i < N; i++)
		x[i] = (float)(pfl_csprng_normal(r) * 3);
	pfl_quant_encode(r, x, N, scale, q);
	pfl_quant_decode(q, N, scale, y);
	for (int i = 0; i < N; i++)
		assert_true(fabs((double)y[i] - x[i]) <= 1.0 / scale + 1e-6);
	/* stochastic rounding is unbiased: 0.3 of a step, many times */
	x[0] = (float)(0.3 / scale);
	for (int i = 0; i < 20000; i++) {
		pfl_quant_encode(r, x, 1, scale, q);
		sum += (int32_t)q[0];
	}
	assert_true(fabs(sum / 20000 - 0.3) < 5 * sqrt(0.21 / 20000));
	pfl_quant_encode(r, odd, 3, scale, q);
	assert_true(q[0] == 0 && (int32_t)q[1] == INT32_MAX &&
	            (int32_t)q[2] == -INT32_MAX);
	pfl_csprng_free(r);
}

/*
 * No wrap: n clients at the worst case (every coordinate at +bound or
 * -bound), their share of discrete Gaussian noise added, summed mod 2^32,
 * decode to the true sum within rounding and noise.
 */
static void
test_quant_no_wrap(void **state)
{
	enum { D = 64, NC = 50 };
	struct pfl_csprng *r = rng(seed2);
	const double bound = 2.0, z = 1.0;
	double noise = z * bound * 8; /* total stddev in update units */
	double scale;
	float x[D], out[D];
	uint32_t enc[D], sum[D] = {0};

	(void)state;
	assert_int_equal(pfl_quant_choose_scale(bound, NC, noise, &scale),
	                 PFL_OK);
	for (int c = 0; c < NC; c++) {
		for (int i = 0; i < D; i++)
			x[i] = (float)((i & 1) ? bound : -bound);
		pfl_quant_encode(r, x, D, scale, enc);
		assert_int_equal(pfl_noise_dgauss_add(r, enc, D,
		                                      noise * noise * scale *
		                                              scale / NC),
		                 PFL_OK);
		for (int i = 0; i < D; i++)
			sum[i] += enc[i];
	}
	pfl_quant_decode(sum, D, scale, out);
	for (int i = 0; i < D; i++) {
		double want = NC * ((i & 1) ? bound : -bound);
		assert_true(fabs(out[i] - want) < 6 * noise + NC / scale);
		assert_true((out[i] > 0) == (want > 0));
	}
	pfl_csprng_free(r);
}

/*
 * The distributed pipeline end to end: M clients planned, K survive; each
 * clips, quantizes and adds its discrete Gaussian share for z with
 * min_survivors = M; the decoded sum carries noise of stddev
 * z S sqrt(K / M), and pfl_ddg_effective_sigma charges exactly that
 * (up to the rounding slack in the sensitivity).
 */
static void
test_distributed_pipeline(void **state)
{
	enum { D = 3000, M = 10, K = 7 };
	struct pfl_csprng *r = rng(seed1);
	const double S = 1.5, z = 1.0;
	float *x = malloc(D * sizeof(float)), *out = malloc(D * sizeof(float));
	uint32_t *enc = malloc(D * sizeof(uint32_t));
	uint32_t *sum = calloc(D, sizeof(uint32_t));
	double scale, s2, m2 = 0, l2, z_eff, want;

	(void)state;
	assert_non_null(x);
	assert_non_null(out);
	assert_non_null(enc);
	assert_non_null(sum);
	/* total noise if all M survive; the bound covers K <= M too */
	assert_int_equal(pfl_quant_choose_scale(S, M, z * S, &scale), PFL_OK);
	s2 = (z * S * scale) * (z * S * scale) / M;
	for (int c = 0; c < K; c++) {
		for (int i = 0; i < D; i++)
			x[i] = 0.0f; /* updates cancel out of the noise check */
		x[c] = 10.0f;        /* one big coordinate, clipped to S */
		pfl_clip_l2(x, D, S);
		pfl_quant_encode(r, x, D, scale, enc);
		assert_int_equal(pfl_noise_dgauss_add(r, enc, D, s2), PFL_OK);
		for (int i = 0; i < D; i++)
			sum[i] += enc[i];
	}
	pfl_quant_decode(sum, D, scale, out);
	for (int i = K; i < D; i++)
		m2 += (double)out[i] * out[i] / (D - K);
	want = z * S * sqrt((double)K / M);
	assert_true(fabs(sqrt(m2) / want - 1) < 0.05);
	for (int c = 0; c < K; c++)
		assert_true(fabs(out[c] - S) < 6 * want);
	/* what the aggregator charges: sensitivity S*scale + sqrt(D) */
	l2 = S * scale + sqrt((double)D);
	assert_int_equal(
	        pfl_ddg_effective_sigma(s2, K, D, l2, sqrt(D) * l2, &z_eff),
	        PFL_OK);
	assert_true(z_eff <= want / S);
	assert_true(z_eff > 0.99 * want / S);
	free(x);
	free(out);
	free(enc);
	free(sum);
	pfl_csprng_free(r);
}

/* DP-SGD: per-example clipping by hand, and the noise's stddev. */
static void
test_dpsgd(void **state)
{
	enum { N = 4000 };
	struct pfl_csprng *r = rng(seed1);
	float g[3 * 2] = {3, 4, 0.3f, 0.4f, 0, -10};
	float out[2], *many = calloc(N, sizeof(float)), *o = malloc(N * 4);
	double m2 = 0;

	(void)state;
	assert_non_null(many);
	assert_non_null(o);
	assert_int_equal(pfl_dpsgd_aggregate(r, g, 3, 2, 1.0, 0.0, out),
	                 PFL_OK);
	/* (0.6, 0.8) + (0.3, 0.4) + (0, -1), over 3 */
	assert_true(fabs(out[0] - 0.9 / 3) < 1e-6);
	assert_true(fabs(out[1] - 0.2 / 3) < 1e-6);
	/* one zero gradient, C = 2, z = 1.5: noise stddev z C = 3 */
	assert_int_equal(pfl_dpsgd_aggregate(r, many, 1, N, 2.0, 1.5, o),
	                 PFL_OK);
	for (int i = 0; i < N; i++)
		m2 += (double)o[i] * o[i] / N;
	assert_true(fabs(sqrt(m2) / 3.0 - 1) < 0.05);
	assert_int_equal(pfl_dpsgd_aggregate(r, g, 0, 2, 1.0, 1.0, out),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_dpsgd_aggregate(r, g, 3, 2, 0.0, 1.0, out),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_dpsgd_aggregate(r, g, 3, 2, 1.0, NAN, out),
	                 PFL_ERR_INVAL);
	free(many);
	free(o);
	pfl_csprng_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_clip_hand),
	        cmocka_unit_test(test_clip_property),
	        cmocka_unit_test(test_adaclip),
	        cmocka_unit_test(test_csprng_streams),
	        cmocka_unit_test(test_gaussian),
	        cmocka_unit_test(test_dgauss),
	        cmocka_unit_test(test_dgauss_add),
	        cmocka_unit_test(test_quant_scale),
	        cmocka_unit_test(test_quant_roundtrip),
	        cmocka_unit_test(test_quant_no_wrap),
	        cmocka_unit_test(test_distributed_pipeline),
	        cmocka_unit_test(test_dpsgd),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("privacy", tests, NULL, NULL);
}
