/*
 * Secure aggregation's threshold for small cohorts (issue #12, security
 * fix). When no (k, t) tolerates sa_dropout for the cohort drawn, the
 * aggregator used to fall back to SecAgg with t = n/2 + 1 (lifted to
 * min_clients only), ignoring the colluders: with c = ceil(sa_corrupt n)
 * colluding clients and 2t <= n + c, the server can show two groups of
 * honest members contradicting survivor lists and, with the colluders'
 * shares, collect t shares of both secrets of one client: its update is
 * unmasked. The fallback must keep 2t > n + c (or refuse the round).
 *
 * Also: colluders are counted alike by the accounting (distributed DP's
 * honest shares) and by SecAgg's parameter choice: ceil(sa_corrupt n).
 */
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

#include "../aggregator/src/agg_int.h"
#include "agg_fixture.h"
#include "select12_fed.h"

/* Colluders among n at fraction g, counted here on our own: the smallest
 * integer c with c >= g n (g n computed exactly for g = p / 100). */
static uint32_t
own_colluders(int pct, uint32_t n)
{
	return (uint32_t)((pct * (long)n + 99) / 100);
}

static void
cfg_for(struct pfl_agg_config *cfg, const char *mode, int corrupt_pct,
        int dropout_pct, int min_clients)
{
	char err[PFL_CFG_ERRLEN], v[32];

	assert_int_equal(pfl_agg_config_init(cfg, err, sizeof(err)), PFL_OK);
	set(cfg, "secure_aggregation", mode);
	snprintf(v, sizeof(v), "%.2f", corrupt_pct / 100.0);
	set(cfg, "sa_corrupt", v);
	snprintf(v, sizeof(v), "%.2f", dropout_pct / 100.0);
	set(cfg, "sa_dropout", v);
	snprintf(v, sizeof(v), "%d", min_clients);
	set(cfg, "min_clients", v);
}

/*
 * Every cohort size 3..60 a small federation may draw, both protocols,
 * colluder fractions 0.1 .. 0.5, dropout allowances 0.3 and 0.5,
 * min_clients 3..5: whenever the configured parameters cannot be met (the
 * fallback), the threshold chosen is safe against the colluders, or the
 * round is refused. The old fallback picked t = n/2 + 1: for n = 5 with
 * the default settings that is t = 3, and 2 * 3 = 6 = 5 + 1.
 */
static void
test_fallback_threshold_is_safe(void **state)
{
	static const int corrupt[] = {10, 20, 25, 34, 50};
	static const int dropout[] = {30, 50};
	static const char *const modes[] = {"secagg", "secagg+"};
	int fallbacks = 0, unsafe_old = 0, refused = 0;

	(void)state;
	pfl_log_set_level(PFL_LOG_ERROR);
	for (size_t mi = 0; mi < 2; mi++)
		for (size_t ci = 0; ci < 5; ci++)
			for (size_t di = 0; di < 2; di++)
				for (int m = 3; m <= 5; m++)
					for (uint32_t n = (uint32_t)m; n <= 60;
					     n++) {
						struct pfl_agg_config cfg;
						uint32_t k = 0, t = 0, k0, t0;
						uint32_t c = own_colluders(
						        corrupt[ci], n);
						int mode = 0;
						pfl_err rv0, rv1, rv;

						cfg_for(&cfg, modes[mi],
						        corrupt[ci],
						        dropout[di], m);
						rv0 = pfl_sa_choose_params_min(
						        (enum pfl_sa_mode)cfg
						                .secure_aggregation,
						        n, cfg.sa_dropout,
						        cfg.sa_corrupt,
						        (uint32_t)m, &k0, &t0);
						rv1 = pfl_sa_choose_params_min(
						        PFL_SA_FULL, n,
						        cfg.sa_dropout,
						        cfg.sa_corrupt,
						        (uint32_t)m, &k0, &t0);
						rv = pfli_round_sa_params(
						        &cfg, 1, n, &mode, &k,
						        &t);
						pfl_agg_config_fini(&cfg);
						if (rv0 == PFL_OK ||
						    rv1 == PFL_OK)
							continue;
						fallbacks++;
						/* what the old code chose */
						t0 = n / 2 + 1;
						if (t0 < (uint32_t)m)
							t0 = (uint32_t)m;
						if (2 * t0 <= n + c)
							unsafe_old++;
						if (rv != PFL_OK) {
							assert_int_equal(
							        rv,
							        PFL_ERR_CONFIG);
							refused++;
							continue;
						}
						assert_int_equal(mode,
						                 PFL_SA_FULL);
						assert_int_equal(k, n - 1);
						assert_true(t <= n);
						if (!(2 * t > n + c))
							fail_msg(
							        "n %u, corrupt "
							        "%d%%, c %u: t "
							        "%u "
							        "unsafe",
							        n, corrupt[ci],
							        c, t);
					}
	pfl_log_set_level(PFL_LOG_INFO);
	printf("fallback reached %d times; the old threshold was unsafe in "
	       "%d of them; %d refused\n",
	       fallbacks, unsafe_old, refused);
	assert_true(fallbacks > 0);
	assert_true(unsafe_old > 0);
}

/* The default settings, cohort 5: the case a small federation meets. */
static void
test_default_five(void **state)
{
	struct pfl_agg_config cfg;
	uint32_t k = 0, t = 0;
	int mode = 0;

	(void)state;
	cfg_for(&cfg, "secagg", 10, 30, 3);
	assert_int_equal(pfli_round_sa_params(&cfg, 1, 5, &mode, &k, &t),
	                 PFL_OK);
	pfl_agg_config_fini(&cfg);
	/* c = ceil(0.5) = 1: 2t > 6 */
	assert_int_equal(t, 4);
	assert_int_equal(k, 4);
}

/*
 * Colluders: accounting.c and SecAgg's parameter choice count ceil(g n),
 * for every n up to 500 and g in steps of 0.01; a fraction of a client
 * is a whole one. SecAgg's threshold for n = 5, g = 0.1 counts the one
 * colluder (floor would count none and choose t = 3).
 */
static void
test_colluders_agree(void **state)
{
	struct pfl_agg_config cfg;
	struct pfl_sa_params p;
	double fail = 0, priv = 0;
	uint32_t k = 0, t = 0;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	for (int pct = 0; pct <= 50; pct++) {
		char v[16];
		snprintf(v, sizeof(v), "%.2f", pct / 100.0);
		set(&cfg, "sa_corrupt", v);
		for (uint32_t n = 1; n <= 500; n++) {
			uint32_t want = own_colluders(pct, n);
			assert_int_equal(pfli_acct_colluders(&cfg, n), want);
			assert_int_equal(pfl_sa_colluders(cfg.sa_corrupt, n),
			                 want);
		}
	}
	pfl_agg_config_fini(&cfg);
	assert_int_equal(
	        pfl_sa_choose_params_min(PFL_SA_FULL, 5, 0.0, 0.1, 2, &k, &t),
	        PFL_OK);
	assert_int_equal(t, 4); /* max(floor(6 / 2) + 1, 2 + 1) */
	memset(&p, 0, sizeof(p));
	p.mode = PFL_SA_FULL;
	p.n = 5;
	p.k = 4;
	p.t = 3;
	p.dim = 1;
	assert_int_equal(pfl_sa_params_bounds(&p, 0.0, 0.1, 2, &fail, &priv),
	                 PFL_OK);
	assert_true(priv == 0); /* 2 * 3 = 5 + 1: not private */
}

/*
 * End to end: five clients over a Unix socket, SecAgg, the default
 * sa_dropout 0.3 and sa_corrupt 0.1, min_clients 3. No threshold
 * tolerates ceil(1.5) = 2 dropouts of 5 with one colluder, so the round
 * runs the fallback (as it does for 3 or 4 members drawn); the threshold
 * it announces must be safe (for 5: 4, one dropout tolerated), and the
 * rounds are released.
 */
static void
test_fallback_in_a_federation(void **state)
{
	static const char *const kv[] = {"secure_aggregation",
	                                 "secagg",
	                                 "clients_per_round",
	                                 "5",
	                                 "min_clients",
	                                 "3",
	                                 "overselect",
	                                 "1.0",
	                                 "population",
	                                 "5",
	                                 "rounds",
	                                 "2",
	                                 NULL};
	struct sel_fed f;
	const char *p;
	unsigned n = 0, t = 0, drops = 0;
	int seen = 0;

	(void)state;
	sel_fed_start(&f, "sel12sa", 5, kv);
	sel_fed_clients(&f);
	sel_fed_join(&f);
	assert_int_equal(f.at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(f.at.a), 2);
	for (p = sel_logged;
	     (p = strstr(p, "secure aggregation over ")) != NULL; p++) {
		assert_int_equal(sscanf(p,
		                        "secure aggregation over %u clients "
		                        "with threshold %u tolerates %u",
		                        &n, &t, &drops),
		                 3);
		printf("fallback in a federation: n %u, t %u, tolerates %u\n",
		       n, t, drops);
		assert_true(n >= 3 && n <= 5);
		assert_true(t <= n);
		assert_true(2 * t > n + own_colluders(10, n));
		seen++;
	}
	if (seen == 0)
		fail_msg("the fallback was not reached:\n%s", sel_logged);
	sel_fed_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fallback_threshold_is_safe),
	        cmocka_unit_test(test_default_five),
	        cmocka_unit_test(test_colluders_agree),
	        cmocka_unit_test(test_fallback_in_a_federation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
