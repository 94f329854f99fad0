/*
 * Tests of the PLD accountant (pfl_pld_epsilon and PFL_ACCT_PLD): against
 * the exact Gaussian curve (q = 1, any number of steps), the exact
 * one-step subsampled curve, and RDP. Separate from test_accountant so
 * that CTest can run the two in parallel.
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

#include "privfl/accountant.h"

static double
plan_eps(enum pfl_acct_method m, double q, double s, uint64_t t, double d,
         double *order)
{
	struct pfl_accountant *a;
	double e;

	assert_int_equal(pfl_accountant_new(m, &a), PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, q, s, t), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, d, &e, order), PFL_OK);
	pfl_accountant_free(a);
	return e;
}

/* Exact delta(eps) of the Gaussian mechanism with mu = 1/sigma_total. */
static double
gauss_delta(double eps, double mu)
{
	return 0.5 * erfc((eps / mu - mu / 2) / sqrt(2.0)) -
	       exp(eps) * 0.5 * erfc((eps / mu + mu / 2) / sqrt(2.0));
}

static double
gauss_eps(double mu, double delta)
{
	double lo = 0, hi = 100;

	for (int i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);
		if (gauss_delta(mid, mu) > delta)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* q = 1: T steps of sigma is one Gaussian with sigma / sqrt(T), exactly. */
static void
test_pld_gaussian_exact(void **state)
{
	static const struct {
		double sigma;
		uint64_t t;
		double delta;
	} c[] = {{1.0, 1, 1e-5},
	         {5.0, 10, 1e-5},
	         {2.0, 3, 1e-6},
	         {20.0, 100, 1e-5},
	         {0.8, 1, 1e-3}};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double want = gauss_eps(sqrt((double)c[i].t) / c[i].sigma,
		                        c[i].delta);
		double one = 1.0, got;
		assert_int_equal(pfl_pld_epsilon(&one, &c[i].sigma, &c[i].t, 1,
		                                 c[i].delta, 0, &got),
		                 PFL_OK);
		double rdp = plan_eps(PFL_ACCT_RDP, 1.0, c[i].sigma, c[i].t,
		                      c[i].delta, NULL);
		/* an upper bound, within the rounding of T losses by h
		 * (h <= max(1e-6, 0.02 / T) by default) */
		if (!(got >= want && got <= want + 0.02 + 1e-3))
			fail_msg("sigma %g T %llu: pld %.9g exact %.9g",
			         c[i].sigma, (unsigned long long)c[i].t, got,
			         want);
		assert_true(got < rdp);
	}
}

/* One subsampled step: PLD against the exact closed form. */
static double
sub_delta(double eps, double q, double s)
{
	/* remove adjacency: loss > eps iff x > x_eps */
	double x = s * s * log((exp(eps) - (1 - q)) / q) + 0.5, a, b;
	double dr = (1 - q) * 0.5 * erfc(x / s / sqrt(2.0)) +
	            q * 0.5 * erfc((x - 1) / s / sqrt(2.0)) -
	            exp(eps) * 0.5 * erfc(x / s / sqrt(2.0));
	double da = 0;

	/* add adjacency: loss > eps iff x < x_a, x ~ N(0, s^2) */
	if (exp(-eps) > 1 - q) {
		double xa = s * s * log((exp(-eps) - (1 - q)) / q) + 0.5;
		a = 0.5 * erfc(-xa / s / sqrt(2.0));
		b = (1 - q) * 0.5 * erfc(-xa / s / sqrt(2.0)) +
		    q * 0.5 * erfc(-(xa - 1) / s / sqrt(2.0));
		da = a - exp(eps) * b;
	}
	return fmax(dr, da);
}

static void
test_pld_one_step_exact(void **state)
{
	static const double qs[] = {0.01, 0.1, 0.5};
	static const double ss[] = {0.7, 1.0, 2.0};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 3; j++) {
			double lo = 0, hi = 50, got;
			const uint64_t one = 1;
			for (int k = 0; k < 200; k++) {
				double mid = 0.5 * (lo + hi);
				if (sub_delta(mid, qs[i], ss[j]) > 1e-5)
					lo = mid;
				else
					hi = mid;
			}
			assert_int_equal(pfl_pld_epsilon(&qs[i], &ss[j], &one,
			                                 1, 1e-5, 0, &got),
			                 PFL_OK);
			if (!(got >= hi - 1e-9 && got <= hi + 2e-4))
				fail_msg("q %g s %g: pld %.9g exact %.9g",
				         qs[i], ss[j], got, hi);
		}
	}
}

/* PLD is below RDP and close to it; monotone like RDP. */
static void
test_pld_vs_rdp(void **state)
{
	static const double grid[][4] = {
	        {120.0 / 3383, 1.2, 100, 1e-5}, {0.01, 1.1, 1000, 1e-5},
	        {0.05, 2.0, 200, 1e-5},         {0.1, 1.0, 50, 1e-5},
	        {0.02, 0.9, 500, 1e-5},         {0.3, 3.0, 100, 1e-5},
	        {0.001, 0.8, 10000, 1e-6}};
	double prev = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(grid) / sizeof(grid[0]); i++) {
		const double *g = grid[i];
		uint64_t t = (uint64_t)g[2];
		double p;
		assert_int_equal(
		        pfl_pld_epsilon(&g[0], &g[1], &t, 1, g[3], 0, &p),
		        PFL_OK);
		double r = plan_eps(PFL_ACCT_RDP, g[0], g[1], (uint64_t)g[2],
		                    g[3], NULL);
		if (!(p <= r && p >= 0.5 * r))
			fail_msg("row %zu: pld %.6g rdp %.6g", i, p, r);
	}
	for (uint64_t t = 1; t <= 1000; t *= 10) {
		double e = plan_eps(PFL_ACCT_PLD, 0.03, 1.0, t, 1e-5, NULL);
		assert_true(e > prev);
		prev = e;
	}
}

/*
 * Distributed rounds charge a slightly different sigma each round; the PLD
 * accountant merges them after rounding sigma down (conservative): never
 * below the exact composition, and close to it.
 */
static void
test_pld_merges_sigmas(void **state)
{
	enum { R = 8 };
	struct pfl_accountant *a;
	double q[R], s[R], e_acct, e_raw;
	uint64_t t[R];

	(void)state;
	assert_int_equal(pfl_accountant_new(PFL_ACCT_PLD, &a), PFL_OK);
	for (int i = 0; i < R; i++) {
		q[i] = 0.05;
		s[i] = 1.0 + 0.00037 * i;
		t[i] = 5;
		assert_int_equal(pfl_accountant_charge(a, q[i], s[i], t[i]),
		                 PFL_OK);
	}
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e_acct, NULL),
	                 PFL_OK);
	assert_int_equal(pfl_pld_epsilon(q, s, t, R, 1e-5, 0, &e_raw), PFL_OK);
	assert_true(e_acct >= e_raw - 1e-12);
	assert_true(e_acct <= e_raw * 1.01);
	pfl_accountant_free(a);
}

/* The accountant object in PLD mode: composition of different charges. */
static void
test_pld_accountant(void **state)
{
	struct pfl_accountant *a, *b;
	struct pfl_buf buf;
	double e1, e2, e_if, o;

	(void)state;
	assert_int_equal(pfl_accountant_new(PFL_ACCT_PLD, &a), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e1, &o), PFL_OK);
	assert_true(e1 == 0.0);
	assert_int_equal(pfl_accountant_charge(a, 0.03, 1.1, 40), PFL_OK);
	assert_int_equal(
	        pfl_accountant_epsilon_if(a, 0.03, 0.9, 10, 1e-5, &e_if),
	        PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, 0.03, 0.9, 10), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e1, &o), PFL_OK);
	assert_true(isnan(o));
	assert_true(fabs(e1 - e_if) < 1e-12);
	/* between the all-1.1 and the all-0.9 plans */
	assert_true(e1 > plan_eps(PFL_ACCT_PLD, 0.03, 1.1, 50, 1e-5, NULL));
	assert_true(e1 < plan_eps(PFL_ACCT_PLD, 0.03, 0.9, 50, 1e-5, NULL));
	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_accountant_save(a, &buf), PFL_OK);
	assert_int_equal(pfl_accountant_load(buf.data, buf.len, &b), PFL_OK);
	assert_int_equal(pfl_accountant_method(b), PFL_ACCT_PLD);
	assert_int_equal(pfl_accountant_epsilon(b, 1e-5, &e2, NULL), PFL_OK);
	assert_true(e1 == e2);
	pfl_buf_fini(&buf);
	pfl_accountant_free(a);
	pfl_accountant_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pld_gaussian_exact),
	        cmocka_unit_test(test_pld_one_step_exact),
	        cmocka_unit_test(test_pld_vs_rdp),
	        cmocka_unit_test(test_pld_merges_sigmas),
	        cmocka_unit_test(test_pld_accountant),
	};

	return cmocka_run_group_tests_name("accountant_pld", tests, NULL, NULL);
}
