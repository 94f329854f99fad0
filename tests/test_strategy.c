/* Server strategies against hand-computed steps, and checkpoint state. */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <string.h>

#include "privfl/aggregator.h"
#include "privfl/strategy.h"

#define CLOSE(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

static struct pfl_strategy *
make(enum pfl_strategy_kind k, size_t n)
{
	struct pfl_strategy_params p = {k, 0.5, 0.9, 0.9, 0.99, 0.01};
	struct pfl_strategy *s = NULL;

	assert_int_equal(pfl_strategy_new(&p, n, &s), PFL_OK);
	return s;
}

static void
test_fedavg(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDAVG, 2);
	float w[2] = {1.0f, -2.0f};
	const float d[2] = {0.2f, 0.4f};

	(void)state;
	pfl_strategy_apply(s, w, d);
	CLOSE(w[0], 1.1);
	CLOSE(w[1], -1.8);
	pfl_strategy_free(s);
}

static void
test_fedavgm(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDAVGM, 1);
	float w[1] = {0};
	const float d[1] = {1.0f};

	(void)state;
	pfl_strategy_apply(s, w, d); /* m = 1, w = 0.5 */
	CLOSE(w[0], 0.5);
	pfl_strategy_apply(s, w, d); /* m = 0.9 + 1 = 1.9, w = 0.5 + 0.95 */
	CLOSE(w[0], 1.45);
	pfl_strategy_free(s);
}

static void
test_fedadam(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDADAM, 1);
	float w[1] = {0};
	const float d[1] = {0.1f};
	/* m = 0.1*0.1 = 0.01; v = 0.99*1e-4 + 0.01*0.01 = 1.99e-4 */
	double m = 0.01, v = 0.99 * 1e-4 + 0.01 * 0.01;

	(void)state;
	pfl_strategy_apply(s, w, d);
	CLOSE(w[0], 0.5 * m / (sqrt(v) + 0.01));
	pfl_strategy_free(s);
}

static void
test_fedyogi_and_adagrad(void **state)
{
	struct pfl_strategy *y = make(PFL_STRAT_FEDYOGI, 1);
	struct pfl_strategy *g = make(PFL_STRAT_FEDADAGRAD, 1);
	float wy[1] = {0}, wg[1] = {0};
	const float d[1] = {0.1f};
	/* yogi: v0 = 1e-4 < g^2 = 0.01: v = v0 + 0.01*0.01 = 2e-4 */
	double vy = 1e-4 + 0.01 * 0.01;
	/* adagrad: v = v0 + g^2 = 0.0101 */
	double vg = 1e-4 + 0.01;

	(void)state;
	pfl_strategy_apply(y, wy, d);
	pfl_strategy_apply(g, wg, d);
	CLOSE(wy[0], 0.5 * 0.01 / (sqrt(vy) + 0.01));
	CLOSE(wg[0], 0.5 * 0.01 / (sqrt(vg) + 0.01));
	pfl_strategy_free(y);
	pfl_strategy_free(g);
}

static void
test_save_load(void **state)
{
	struct pfl_strategy *a = make(PFL_STRAT_FEDADAM, 3);
	struct pfl_strategy *b = make(PFL_STRAT_FEDADAM, 3);
	struct pfl_strategy *c = make(PFL_STRAT_FEDADAM, 4);
	float wa[3] = {0}, wb[3] = {0};
	const float d[3] = {0.1f, -0.2f, 0.3f};
	struct pfl_buf buf;

	(void)state;
	pfl_buf_init(&buf, 0);
	pfl_strategy_apply(a, wa, d);
	assert_int_equal(pfl_strategy_save(a, &buf), PFL_OK);
	assert_int_equal(pfl_strategy_load(b, buf.data, buf.len), PFL_OK);
	assert_int_not_equal(pfl_strategy_load(c, buf.data, buf.len), PFL_OK);
	assert_int_not_equal(pfl_strategy_load(b, buf.data, buf.len - 1),
	                     PFL_OK);
	memcpy(wb, wa, sizeof(wa));
	pfl_strategy_apply(a, wa, d);
	pfl_strategy_apply(b, wb, d);
	assert_memory_equal(wa, wb, sizeof(wa));
	pfl_buf_fini(&buf);
	pfl_strategy_free(a);
	pfl_strategy_free(b);
	pfl_strategy_free(c);
}

static struct pfl_strategy *
make_default(enum pfl_strategy_kind k, double lr)
{
	struct pfl_strategy_params p;
	struct pfl_strategy *s = NULL;

	pfl_strategy_defaults(k, &p);
	p.lr = lr;
	assert_int_equal(pfl_strategy_new(&p, 4, &s), PFL_OK);
	return s;
}

/* An unset server_lr (0) takes the strategy's paper default; a set one wins. */
static void
test_defaults_per_strategy(void **state)
{
	static const struct {
		enum pfl_strategy_kind k;
		double lr;
	} want[] = {
	        {PFL_STRAT_FEDAVG, 1.0},   {PFL_STRAT_FEDAVGM, 1.0},
	        {PFL_STRAT_FEDPROX, 1.0},  {PFL_STRAT_FEDADAM, 0.01},
	        {PFL_STRAT_FEDYOGI, 0.01}, {PFL_STRAT_FEDADAGRAD, 0.1},
	};
	struct pfl_strategy_params p;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct pfl_strategy *s = make_default(want[i].k, 0);
		struct pfl_strategy *t = make_default(want[i].k, 0.5);
		pfl_strategy_defaults(want[i].k, &p);
		assert_int_equal(p.kind, want[i].k);
		CLOSE(p.lr, want[i].lr);
		CLOSE(pfl_strategy_settings(s)->lr, want[i].lr);
		CLOSE(pfl_strategy_settings(t)->lr, 0.5);
		pfl_strategy_free(s);
		pfl_strategy_free(t);
	}
	pfl_strategy_defaults(PFL_STRAT_FEDADAM, &p);
	CLOSE(p.beta1, 0.9);
	CLOSE(p.beta2, 0.99);
	CLOSE(p.tau, 1e-3);
	pfl_strategy_defaults(PFL_STRAT_FEDAVGM, &p);
	CLOSE(p.momentum, 0.9);
}

/* The config tables leave server_lr unset, so the strategy decides. */
static void
test_config_leaves_server_lr_to_the_strategy(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN] = "";

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	assert_true(c.server_lr == 0);
	CLOSE(c.beta1, 0.9);
	CLOSE(c.beta2, 0.99);
	CLOSE(c.tau, 1e-3);
	CLOSE(c.server_momentum, 0.9);
	assert_int_equal(pfl_cfg_set(pfl_agg_config_table,
	                             pfl_agg_config_table_len, &c, "server_lr",
	                             "0.3", err, sizeof(err)),
	                 PFL_OK);
	CLOSE(c.server_lr, 0.3);
	pfl_agg_config_fini(&c);
}

/* One FedAdam step at the default moves each weight by at most about 0.01
 * (less for deltas near tau), whatever their size. */
static void
test_fedadam_default_step_is_small(void **state)
{
	struct pfl_strategy *s = make_default(PFL_STRAT_FEDADAM, 0);
	float w[4] = {0};
	const float d[4] = {0.5f, -0.5f, 0.05f, -0.05f};

	(void)state;
	pfl_strategy_apply(s, w, d);
	for (int i = 0; i < 4; i++)
		assert_true(fabsf(w[i]) < 0.0105f && fabsf(w[i]) > 0.005f);
	pfl_strategy_free(s);
}

static void
test_divergence_rule(void **state)
{
	(void)state;
	assert_true(pfl_strategy_is_diverging(2.303, 3668));
	assert_true(pfl_strategy_is_diverging(0.5, 50.5));
	assert_false(pfl_strategy_is_diverging(0.5, 49.5));
	assert_false(pfl_strategy_is_diverging(2.303, 2.0));
	assert_true(pfl_strategy_is_diverging(0.5, NAN));
	assert_true(pfl_strategy_is_diverging(0.5, INFINITY));
	/* already diverged: said once, not every round after */
	assert_false(pfl_strategy_is_diverging(NAN, NAN));
	assert_false(pfl_strategy_is_diverging(INFINITY, 1e9));
}

static void
test_divergence_hint_names_the_setting(void **state)
{
	struct pfl_strategy *big = make_default(PFL_STRAT_FEDADAM, 1.0);
	struct pfl_strategy *def = make_default(PFL_STRAT_FEDYOGI, 0);
	struct pfl_strategy_params p;
	struct pfl_strategy *mom = NULL;
	char buf[192];

	(void)state;
	pfl_strategy_divergence_hint(big, 0.05, buf, sizeof(buf));
	assert_string_equal(buf, "server_lr 1 is likely too large for fedadam "
	                         "(its default is 0.01)");
	pfl_strategy_divergence_hint(def, 5, buf, sizeof(buf));
	assert_string_equal(buf, "the clients' lr 5 is likely too large (or "
	                         "fedyogi's server_lr 0.01)");
	pfl_strategy_defaults(PFL_STRAT_FEDAVGM, &p);
	p.momentum = 0.99;
	assert_int_equal(pfl_strategy_new(&p, 4, &mom), PFL_OK);
	pfl_strategy_divergence_hint(mom, 0.05, buf, sizeof(buf));
	assert_string_equal(buf, "server_momentum 0.99 is likely too large for "
	                         "fedavgm (its default is 0.9)");
	pfl_strategy_divergence_hint(big, 0.05, buf, 12); /* truncated */
	assert_int_equal(strlen(buf), 11);
	pfl_strategy_free(big);
	pfl_strategy_free(def);
	pfl_strategy_free(mom);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fedavg),
	        cmocka_unit_test(test_fedavgm),
	        cmocka_unit_test(test_fedadam),
	        cmocka_unit_test(test_fedyogi_and_adagrad),
	        cmocka_unit_test(test_save_load),
	        cmocka_unit_test(test_defaults_per_strategy),
	        cmocka_unit_test(test_config_leaves_server_lr_to_the_strategy),
	        cmocka_unit_test(test_fedadam_default_step_is_small),
	        cmocka_unit_test(test_divergence_rule),
	        cmocka_unit_test(test_divergence_hint_names_the_setting),
	};

	return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
