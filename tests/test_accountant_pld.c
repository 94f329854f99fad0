/*
 * Tests of the PLD accountant (pfl_pld_epsilon and PFL_ACCT_PLD): against
 * the exact Gaussian curve (q = 1, any number of steps; Balle & Wang
 * 2018), the exact one-step subsampled curve, and RDP; monotone in the
 * steps; self-composition equal to sequential charges. Separate from
 * test_accountant so that CTest can run the two in parallel.
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
#include <stdio.h>
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

/* log Phi(x), the standard normal lower tail, without underflow. */
static double
log_phi(double x)
{
	double r;

	if (x > -20)
		return log(0.5 * erfc(-x / sqrt(2.0)));
	r = 1 / (x * x);
	return -0.5 * x * x - log(-x) - 0.91893853320467274178 +
	       log1p(-r + 3 * r * r - 15 * r * r * r);
}

/*
 * Exact delta(eps) of the Gaussian mechanism, Balle & Wang 2018:
 * Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu), mu = sensitivity /
 * sigma; in log space so that large eps neither overflows nor cancels.
 */
static double
gauss_delta(double eps, double mu)
{
	double a = log_phi(mu / 2 - eps / mu),
	       b = eps + log_phi(-mu / 2 - eps / mu);

	return b >= a ? 0.0 : exp(a) * -expm1(b - a);
}

static double
gauss_eps(double mu, double delta)
{
	double lo = 0, hi = mu * mu / 2 + 50 * mu + 50;

	for (int i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);
		if (gauss_delta(mid, mu) > delta)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/*
 * q = 1: T steps of sigma are one Gaussian with sigma / sqrt(T), exactly
 * (k-fold composition). PLD must be within 0.5% of the closed form and
 * never below it, its error bound must cover the gap, and it must be
 * below RDP.
 */
static void
test_pld_gaussian_exact(void **state)
{
	static const struct {
		double sigma;
		uint64_t t;
		double delta;
	} c[] = {{1.0, 1, 1e-5},      {5.0, 10, 1e-5},    {2.0, 3, 1e-6},
	         {20.0, 100, 1e-5},   {0.5, 1, 1e-7},     {0.5, 1000, 1e-6},
	         {10.0, 1, 1e-7},     {2.0, 10000, 1e-6}, {0.5, 100000, 1e-7},
	         {10.0, 100000, 1e-5}};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		double want = gauss_eps(sqrt((double)c[i].t) / c[i].sigma,
		                        c[i].delta);
		double one = 1.0, got, err;
		assert_int_equal(pfl_pld_epsilon_bound(&one, &c[i].sigma,
		                                       &c[i].t, 1, c[i].delta,
		                                       0, &got, &err),
		                 PFL_OK);
		double rdp = plan_eps(PFL_ACCT_RDP, 1.0, c[i].sigma, c[i].t,
		                      c[i].delta, NULL);
		if (!(got >= want && got <= want * 1.005 &&
		      got - want <= err + 1e-9 * want))
			fail_msg("sigma %g T %llu: pld %.9g (error bound %.3g) "
			         "exact %.9g",
			         c[i].sigma, (unsigned long long)c[i].t, got,
			         err, want);
		assert_true(got < rdp);
	}
}

/* More steps never lower epsilon. */
static void
test_pld_monotone(void **state)
{
	static const double qz[][2] = {{1e-3, 1.0}, {0.05, 2.0}, {1.0, 8.0}};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		double prev = 0, e;
		for (uint64_t t = 1; t <= 65536; t *= 4) {
			assert_int_equal(pfl_pld_epsilon(&qz[i][0], &qz[i][1],
			                                 &t, 1, 1e-6, 0, &e),
			                 PFL_OK);
			if (!(e > prev))
				fail_msg("q %g z %g: eps(T=%llu) = %.9g after "
				         "%.9g",
				         qz[i][0], qz[i][1],
				         (unsigned long long)t, e, prev);
			prev = e;
		}
	}
}

/* k-fold self-composition equals k sequential charges of one step. */
static void
test_pld_self_composition(void **state)
{
	enum { K = 40 };
	double q[K], s[K], e_one, e_seq, e_fix1, e_fix2;
	uint64_t t[K], k = K;

	(void)state;
	for (size_t i = 0; i < K; i++) {
		q[i] = 0.02;
		s[i] = 1.1;
		t[i] = 1;
	}
	assert_int_equal(pfl_pld_epsilon(q, s, &k, 1, 1e-6, 0, &e_one), PFL_OK);
	assert_int_equal(pfl_pld_epsilon(q, s, t, K, 1e-6, 0, &e_seq), PFL_OK);
	if (!(fabs(e_one - e_seq) <= 1e-9 * e_one))
		fail_msg("self-composed %.12g, sequential %.12g", e_one, e_seq);
	assert_int_equal(pfl_pld_epsilon(q, s, &k, 1, 1e-6, 1e-3, &e_fix1),
	                 PFL_OK);
	assert_int_equal(pfl_pld_epsilon(q, s, t, K, 1e-6, 1e-3, &e_fix2),
	                 PFL_OK);
	if (!(fabs(e_fix1 - e_fix2) <= 1e-9 * e_fix1))
		fail_msg("h = 1e-3: self-composed %.12g, sequential %.12g",
		         e_fix1, e_fix2);
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
			if (!(got >= hi - 1e-9 && got <= hi * 1.005))
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

/*
 * Against Google's dp_accounting at a fine grid (1e-5), for the subsampled
 * Gaussian where no closed form exists: never below its optimistic
 * estimate (a lower bound on the true epsilon), and within 1% of its
 * pessimistic one (tests/vectors/privacy/pld_dp_accounting.csv, made by
 * gen_pld_dp_accounting.py beside it).
 */
static void
test_pld_dp_accounting(void **state)
{
	const char *dir = getenv("PFL_SOURCE_DIR");
	char path[4096], line[512];
	size_t rows = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path),
	         "%s/tests/vectors/privacy/pld_dp_accounting.csv",
	         dir != NULL ? dir : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f) != NULL) {
		double q, sigma, delta, lo, up, got, err;
		unsigned long long t;
		uint64_t steps;

		assert_int_equal(sscanf(line, "%lf,%lf,%llu,%lf,%lf,%lf", &q,
		                        &sigma, &t, &delta, &lo, &up),
		                 6);
		steps = (uint64_t)t;
		assert_int_equal(pfl_pld_epsilon_bound(&q, &sigma, &steps, 1,
		                                       delta, 0, &got, &err),
		                 PFL_OK);
		if (!(got >= lo && got <= up * 1.01))
			fail_msg("q %g sigma %g T %llu delta %g: pld %.9g, "
			         "dp_accounting between %.9g and %.9g",
			         q, sigma, t, delta, got, lo, up);
		rows++;
	}
	fclose(f);
	assert_true(rows >= 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pld_gaussian_exact),
	        cmocka_unit_test(test_pld_one_step_exact),
	        cmocka_unit_test(test_pld_monotone),
	        cmocka_unit_test(test_pld_self_composition),
	        cmocka_unit_test(test_pld_vs_rdp),
	        cmocka_unit_test(test_pld_merges_sigmas),
	        cmocka_unit_test(test_pld_accountant),
	        cmocka_unit_test(test_pld_dp_accounting),
	};

	return cmocka_run_group_tests_name("accountant_pld", tests, NULL, NULL);
}
