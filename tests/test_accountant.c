/* Tests of the privacy accountant (privacy/accountant.h). */
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
#include <string.h>

#include <sodium.h>

#include "privfl/accountant.h"
#include "privfl/file.h"

static char *
vector_path(const char *name)
{
	const char *dir = getenv("PFL_SOURCE_DIR");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/tests/vectors/privacy/%s",
	         dir != NULL ? dir : ".", name);
	return path;
}

/* Read a CSV of numbers (with a header line) into rows of ncol doubles. */
static double *
read_csv(const char *name, size_t ncol, size_t *nrows)
{
	uint8_t *data = NULL;
	size_t len = 0, cap = 64, n = 0;
	double *rows = malloc(cap * ncol * sizeof(double));
	char *line, *save = NULL;

	assert_int_equal(pfl_file_read(vector_path(name), 1 << 20, &data, &len),
	                 PFL_OK);
	assert_non_null(rows);
	line = strtok_r((char *)data, "\n", &save); /* header */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *p = line, *end;
		if (n == cap) {
			cap *= 2;
			rows = realloc(rows, cap * ncol * sizeof(double));
			assert_non_null(rows);
		}
		for (size_t c = 0; c < ncol; c++) {
			rows[n * ncol + c] = strtod(p, &end);
			assert_true(end != p);
			p = *end == ',' ? end + 1 : end;
		}
		n++;
	}
	free(data);
	assert_true(n > 0);
	*nrows = n;
	return rows;
}

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

/* RDP at integer and fractional orders against mpmath (integration). */
static void
test_rdp_vectors(void **state)
{
	size_t n;
	double *v = read_csv("rdp_vectors.csv", 4, &n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		double *r = &v[i * 4];
		double got = pfl_rdp_sampled_gaussian(r[0], r[1], r[2]);
		double rel = fabs(got - r[3]) / r[3];
		if (rel > 2e-6 + 2e-11 / r[3] || got < r[3])
			fail_msg("q=%g sigma=%g order=%g: %.17g vs %.17g", r[0],
			         r[1], r[2], got, r[3]);
	}
	free(v);
}

/* Epsilon against independently computed values; never below them. */
static void
test_epsilon_vectors(void **state)
{
	size_t n;
	double *v = read_csv("epsilon_vectors.csv", 6, &n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		double *r = &v[i * 6], order, e;
		e = plan_eps(PFL_ACCT_RDP, r[0], r[1], (uint64_t)r[2], r[3],
		             &order);
		if (fabs(e - r[4]) > 1e-5 * r[4] || e < r[4])
			fail_msg("row %zu: eps %.17g vs %.17g", i, e, r[4]);
		assert_true(order == r[5]);
	}
	free(v);
}

/* A broad grid (q 0.001..1, sigma 0.7..3, steps 1..5000, delta 1e-5 and
 * 1e-8) against mpmath: within 1e-5 relative and never below. */
static void
test_epsilon_grid(void **state)
{
	size_t n;
	double *v = read_csv("epsilon_grid.csv", 6, &n);

	(void)state;
	assert_true(n >= 100);
	for (size_t i = 0; i < n; i++) {
		double *r = &v[i * 6], order, e;
		e = plan_eps(PFL_ACCT_RDP, r[0], r[1], (uint64_t)r[2], r[3],
		             &order);
		if (fabs(e - r[4]) > 1e-5 * r[4] || e < r[4])
			fail_msg("q=%g sigma=%g T=%g delta=%g: eps %.17g vs "
			         "%.17g",
			         r[0], r[1], r[2], r[3], e, r[4]);
		assert_true(order == r[5]);
	}
	free(v);
}

/* TFF DP tutorial: 120 of 3383 clients, z = 1.2, 100 rounds, delta 1e-5. */
static void
test_tff_tutorial(void **state)
{
	double order, e = plan_eps(PFL_ACCT_RDP, 120.0 / 3383.0, 1.2, 100, 1e-5,
	                           &order);

	(void)state;
	assert_true(e > 1.9 && e < 2.0);
	assert_true(order > 1.0 && order < 64.0);
}

/* Closed forms for orders 2 and 3, and q = 1 (the plain Gaussian). */
static void
test_closed_forms(void **state)
{
	static const double qs[] = {0.001, 0.01, 0.1, 0.5, 0.9};
	static const double ss[] = {0.6, 1.0, 2.5, 10.0};

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		for (size_t j = 0; j < 4; j++) {
			double q = qs[i], s = ss[j], p = 1 - q;
			/* A - 1 written without cancellation */
			double r2 = log1p(q * q * expm1(1 / (s * s)));
			double r3 = log1p(3 * q * q * p * expm1(1 / (s * s)) +
			                  q * q * q * expm1(3 / (s * s))) /
			            2;
			double g2 = pfl_rdp_sampled_gaussian(q, s, 2.0);
			double g3 = pfl_rdp_sampled_gaussian(q, s, 3.0);
			assert_true(fabs(g2 - r2) <= 2e-6 * r2 + 2e-12 &&
			            g2 >= r2);
			assert_true(fabs(g3 - r3) <= 2e-6 * r3 + 2e-12 &&
			            g3 >= r3);
			assert_true(fabs(pfl_rdp_sampled_gaussian(1.0, s, 7.5) -
			                 7.5 / (2 * s * s)) < 1e-12);
		}
	}
	assert_true(pfl_rdp_sampled_gaussian(0.0, 1.0, 4.0) == 0.0);
	assert_true(isinf(pfl_rdp_sampled_gaussian(0.1, 0.0, 4.0)));
	assert_true(isinf(pfl_rdp_sampled_gaussian(1.5, 1.0, 4.0)));
	assert_true(isinf(pfl_rdp_sampled_gaussian(0.1, 1.0, 1.0)));
}

/* q = 1: the accountant equals the Gaussian mechanism's RDP curve. */
static void
test_q1_plain_gaussian(void **state)
{
	const double *ord = pfl_rdp_orders();
	double rdp[PFL_RDP_N_ORDERS], e_ref, o_ref, e, o;

	(void)state;
	for (size_t i = 0; i < PFL_RDP_N_ORDERS; i++)
		rdp[i] = 20 * ord[i] / (2 * 4.0 * 4.0);
	assert_int_equal(pfl_rdp_to_epsilon(ord, rdp, PFL_RDP_N_ORDERS, 1e-5,
	                                    &e_ref, &o_ref),
	                 PFL_OK);
	e = plan_eps(PFL_ACCT_RDP, 1.0, 4.0, 20, 1e-5, &o);
	assert_true(fabs(e - e_ref) < 1e-12);
	assert_true(o == o_ref);
	/* one Gaussian step with sigma 4 at delta 1e-5: between the classic
	 * bound sqrt(2 ln(1.25/delta))/sigma and a loose RDP bound */
	e = plan_eps(PFL_ACCT_RDP, 1.0, 4.0, 1, 1e-5, NULL);
	assert_true(e < sqrt(2 * log(1.25 / 1e-5)) / 4.0);
	assert_true(e > 0.5);
}

static void
test_monotone(void **state)
{
	double prev;

	(void)state;
	prev = 0;
	for (uint64_t t = 1; t <= 4096; t *= 4) {
		double e = plan_eps(PFL_ACCT_RDP, 0.02, 1.0, t, 1e-5, NULL);
		assert_true(e > prev);
		prev = e;
	}
	prev = 0;
	for (double q = 0.001; q <= 1.0; q *= 2.5) {
		double e = plan_eps(PFL_ACCT_RDP, q, 1.0, 100, 1e-5, NULL);
		assert_true(e > prev);
		prev = e;
	}
	prev = INFINITY;
	for (double s = 0.5; s <= 20.0; s *= 1.5) {
		double e = plan_eps(PFL_ACCT_RDP, 0.05, s, 100, 1e-5, NULL);
		assert_true(e < prev);
		prev = e;
	}
	prev = INFINITY;
	for (double d = 1e-10; d < 0.5; d *= 10) {
		double e = plan_eps(PFL_ACCT_RDP, 0.05, 1.0, 100, d, NULL);
		assert_true(e < prev);
		prev = e;
	}
	/* fractional and integer orders join continuously */
	for (double a = 2.0; a < 10.0; a += 1.0) {
		double lo = pfl_rdp_sampled_gaussian(0.03, 0.9, a - 0.5);
		double mid = pfl_rdp_sampled_gaussian(0.03, 0.9, a);
		double hi = pfl_rdp_sampled_gaussian(0.03, 0.9, a + 0.5);
		assert_true(lo < mid && mid < hi);
	}
}

/* Charging in pieces composes; epsilon_if predicts without charging. */
static void
test_compose_and_if(void **state)
{
	struct pfl_accountant *a;
	double e_if, e, e_before, e_all;

	(void)state;
	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &a), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e, NULL), PFL_OK);
	assert_true(e == 0.0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(pfl_accountant_charge(a, 0.03, 1.1, 1),
		                 PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, 0.05, 1.5, 10), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e_before, NULL),
	                 PFL_OK);
	assert_int_equal(
	        pfl_accountant_epsilon_if(a, 0.03, 0.9, 5, 1e-5, &e_if),
	        PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e, NULL), PFL_OK);
	assert_true(e == e_before);
	assert_true(e_if > e_before);
	assert_int_equal(pfl_accountant_charge(a, 0.03, 0.9, 5), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &e, NULL), PFL_OK);
	assert_true(fabs(e - e_if) < 1e-12);
	assert_int_equal(pfl_accountant_steps(a), 65);
	pfl_accountant_free(a);
	e_all = plan_eps(PFL_ACCT_RDP, 0.03, 1.1, 50, 1e-5, NULL);
	assert_true(e_all < e_before);
}

/*
 * The budget stop: rounds run while the next one fits, the first that
 * would exceed the budget is refused and nothing is charged for it; fewer
 * survivors (smaller realized noise) exhaust the budget sooner.
 */
static int
rounds_within(double budget, double sigma_realized)
{
	struct pfl_accountant *a;
	double e = -1, before;
	int rounds = 0;
	pfl_err err;

	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &a), PFL_OK);
	for (;;) {
		err = pfl_accountant_check_budget(a, 0.05, sigma_realized, 1,
		                                  1e-5, budget, &e);
		if (err == PFL_ERR_BUDGET)
			break;
		assert_int_equal(err, PFL_OK);
		assert_true(e <= budget);
		assert_int_equal(
		        pfl_accountant_charge(a, 0.05, sigma_realized, 1),
		        PFL_OK);
		rounds++;
	}
	assert_true(e > budget);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-5, &before, NULL),
	                 PFL_OK);
	assert_true(before <= budget);
	assert_int_equal(pfl_accountant_steps(a), (uint64_t)rounds);
	pfl_accountant_free(a);
	return rounds;
}

static void
test_budget_stop(void **state)
{
	double e = 7;
	struct pfl_accountant *a;
	int planned = rounds_within(3.0, 1.0);
	int fewer = rounds_within(3.0, 1.0 * sqrt(0.7)); /* 70% survived */

	(void)state;
	assert_true(planned > 10);
	assert_true(fewer < planned);
	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &a), PFL_OK);
	assert_int_equal(
	        pfl_accountant_check_budget(a, 0.05, 1.0, 1, 1e-5, 0.0, &e),
	        PFL_ERR_INVAL);
	assert_true(e == 7);
	pfl_accountant_free(a);
}

static void
test_invalid(void **state)
{
	struct pfl_accountant *a;
	double e = 42.0;
	const double ord[2] = {2.0, 0.5}, rdp[2] = {1.0, 1.0};

	(void)state;
	assert_int_equal(pfl_accountant_new((enum pfl_acct_method)7, &a),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &a), PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, -0.1, 1.0, 1), PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_charge(a, 1.1, 1.0, 1), PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_charge(a, NAN, 1.0, 1), PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_charge(a, 0.1, 0.0, 1), PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_charge(a, 0.1, INFINITY, 1),
	                 PFL_ERR_INVAL);
	assert_int_equal(
	        pfl_accountant_charge(a, 0.1, 1.0, PFL_ACCT_MAX_STEPS + 1),
	        PFL_ERR_TOOBIG);
	assert_int_equal(pfl_accountant_epsilon(a, 0.0, &e, NULL),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_epsilon(a, 1.0, &e, NULL),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_accountant_epsilon_if(a, 0.1, -1, 1, 1e-5, &e),
	                 PFL_ERR_INVAL);
	assert_true(e == 42.0);
	assert_int_equal(pfl_accountant_steps(a), 0);
	assert_int_equal(pfl_rdp_to_epsilon(ord, rdp, 2, 1e-5, &e, NULL),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_rdp_to_epsilon(ord, rdp, 0, 1e-5, &e, NULL),
	                 PFL_ERR_INVAL);
	assert_true(e == 42.0);
	pfl_accountant_free(a);
	pfl_accountant_free(NULL);
}

static void
test_save_load(void **state)
{
	struct pfl_accountant *a, *b;
	struct pfl_buf buf;
	double e1, e2, o1, o2;

	(void)state;
	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &a), PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, 0.03, 1.1, 7), PFL_OK);
	assert_int_equal(pfl_accountant_charge(a, 0.04, 0.9, 3), PFL_OK);
	pfl_buf_init(&buf, 0);
	assert_int_equal(pfl_accountant_save(a, &buf), PFL_OK);
	assert_int_equal(pfl_accountant_load(buf.data, buf.len, &b), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(a, 1e-6, &e1, &o1), PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(b, 1e-6, &e2, &o2), PFL_OK);
	assert_true(e1 == e2 && o1 == o2);
	assert_int_equal(pfl_accountant_steps(b), 10);
	assert_int_equal(pfl_accountant_method(b), PFL_ACCT_RDP);
	pfl_accountant_free(b);
	/* every single-bit flip and every truncation is rejected */
	for (size_t i = 0; i < buf.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b = NULL;
			buf.data[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(
			        pfl_accountant_load(buf.data, buf.len, &b),
			        PFL_ERR_FORMAT);
			assert_null(b);
			buf.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t l = 0; l < buf.len; l++)
		assert_int_equal(pfl_accountant_load(buf.data, l, &b),
		                 PFL_ERR_FORMAT);
	pfl_buf_fini(&buf);
	pfl_accountant_free(a);
}

/* A well-formed checkpoint with out-of-range values is still refused. */
static void
test_load_rejects_bad_values(void **state)
{
	static const double bad_q[] = {-0.5, 2.0, 0.0, 0.1, 0.1};
	static const double bad_s[] = {1.0, 1.0, 1.0, 0.0, NAN};
	struct pfl_accountant *b = NULL;

	(void)state;
	for (size_t k = 0; k < 5; k++) {
		uint8_t rec[20 + 24 + 16];
		uint64_t u;
		memcpy(rec, "PFLACCT\0\1\0\0\0\0\0\0\0\1\0\0\0", 20);
		memcpy(&u, &bad_q[k], 8); /* little-endian host assumed */
		memcpy(rec + 20, &u, 8);
		memcpy(&u, &bad_s[k], 8);
		memcpy(rec + 28, &u, 8);
		u = 5;
		memcpy(rec + 36, &u, 8);
		crypto_generichash(rec + 44, 16, rec, 44, NULL, 0);
		assert_int_equal(pfl_accountant_load(rec, sizeof(rec), &b),
		                 PFL_ERR_FORMAT);
		assert_null(b);
	}
}

/* Fewer survivors than planned: less realized noise, more epsilon. */
static void
test_ddg_survivors(void **state)
{
	double z_plan, z_real, e_plan, e_real, z1;

	(void)state;
	/* per-client variance so that 100 clients give z = 1 (l2 = 1000) */
	assert_int_equal(pfl_ddg_effective_sigma(1000.0 * 1000.0 / 100, 100,
	                                         10000, 1000.0, 1000.0 * 100,
	                                         &z_plan),
	                 PFL_OK);
	assert_true(fabs(z_plan - 1.0) < 1e-6 && z_plan <= 1.0);
	assert_int_equal(pfl_ddg_effective_sigma(1000.0 * 1000.0 / 100, 70,
	                                         10000, 1000.0, 1000.0 * 100,
	                                         &z_real),
	                 PFL_OK);
	assert_true(fabs(z_real - sqrt(0.7)) < 1e-6);
	e_plan = plan_eps(PFL_ACCT_RDP, 0.03, z_plan, 100, 1e-5, NULL);
	e_real = plan_eps(PFL_ACCT_RDP, 0.03, z_real, 100, 1e-5, NULL);
	assert_true(e_real > e_plan);
	/* small per-client noise: the tau term makes z_eff strictly smaller
	 * than the continuous sqrt(n) s / l2 */
	assert_int_equal(pfl_ddg_effective_sigma(0.3, 50, 1000, 2.0, 40.0, &z1),
	                 PFL_OK);
	assert_true(z1 < sqrt(50 * 0.3) / 2.0);
	assert_int_equal(pfl_ddg_effective_sigma(0.1, 50, 10, 1, 1, &z1),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_ddg_effective_sigma(1, 0, 10, 1, 1, &z1),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_ddg_effective_sigma(1, 5, 10, 2, 1, &z1),
	                 PFL_ERR_INVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rdp_vectors),
	        cmocka_unit_test(test_epsilon_vectors),
	        cmocka_unit_test(test_epsilon_grid),
	        cmocka_unit_test(test_tff_tutorial),
	        cmocka_unit_test(test_closed_forms),
	        cmocka_unit_test(test_q1_plain_gaussian),
	        cmocka_unit_test(test_monotone),
	        cmocka_unit_test(test_compose_and_if),
	        cmocka_unit_test(test_budget_stop),
	        cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_save_load),
	        cmocka_unit_test(test_load_rejects_bad_values),
	        cmocka_unit_test(test_ddg_survivors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("accountant", tests, NULL, NULL);
}
