/*
 * The simulator's population (issue #12 item 1): clients exist as indices
 * until they are drawn; identities are derived from the run's secret and
 * the index; cohorts are drawn with the sampling the accountant charges;
 * a population far beyond what per-client memory mappings allowed runs;
 * the cohort's identities are gone after the run; what a machine cannot
 * hold is refused at start with the number it could hold.
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/accountant.h"
#include "privfl/log.h"
#include "privfl/sim.h"
#include "sim_int.h"

static void
config(struct pfl_sim_config *c, const char *const *kv)
{
	char err[PFL_CFG_ERRLEN] = "";

	assert_int_equal(pfl_sim_config_init(c, err, sizeof(err)), PFL_OK);
	for (int i = 0; kv && kv[i]; i += 2)
		if (pfl_sim_config_set(c, kv[i], kv[i + 1], err, sizeof(err)) !=
		    PFL_OK)
			fail_msg("%s", err);
	assert_int_equal(pfl_sim_config_resolve(c, err, sizeof(err)), PFL_OK);
}

/* Identities are a function of (seed, index): stable and distinct. */
static void
test_identity_derivation(void **state)
{
	static const char *const seed1[] = {"seed", "1", "clients", "1000000",
	                                    NULL};
	static const char *const seed2[] = {"seed", "2", "clients", "1000000",
	                                    NULL};
	static const uint32_t idx[] = {0, 1, 2, 65535, 65536, 999999};
	struct pfl_sim_config c1, c2;
	struct pfli_pop a, b, d;
	uint8_t pk[6][32], again[32], other[32];
	struct pfl_identity *id = NULL;

	(void)state;
	config(&c1, seed1);
	config(&c2, seed2);
	assert_int_equal(pfli_pop_init(&a, &c1), PFL_OK);
	assert_int_equal(pfli_pop_init(&b, &c1), PFL_OK);
	assert_int_equal(pfli_pop_init(&d, &c2), PFL_OK);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pfli_pop_public_key(&a, idx[i], pk[i]),
		                 PFL_OK);
		assert_int_equal(pfli_pop_public_key(&b, idx[i], again),
		                 PFL_OK);
		assert_memory_equal(pk[i], again, 32);
		assert_int_equal(pfli_pop_public_key(&d, idx[i], other),
		                 PFL_OK);
		assert_memory_not_equal(pk[i], other, 32);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(pk[i], pk[j], 32);
	}
	/* the identity a client signs with is the one the cohort lists */
	assert_int_equal(pfli_pop_identity(&a, 999999, &id), PFL_OK);
	assert_memory_equal(pfl_identity_public(id), pk[5], 32);
	pfl_identity_free(id);
	pfli_pop_fini(&a);
	pfli_pop_fini(&b);
	pfli_pop_fini(&d);
	pfl_sim_config_fini(&c1);
	pfl_sim_config_fini(&c2);
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* Fixed-size draws: exactly the size, distinct, in range, every index
 * reachable; Poisson draws: increasing, about q x n of them. */
static void
test_draws(void **state)
{
	static const char *const kv[] = {"clients", "1000000", NULL};
	static const char *const small[] = {"clients", "100", NULL};
	struct pfl_sim_config c, cs;
	struct pfli_pop p, ps;
	uint32_t *out = calloc(3000, sizeof(*out)), k, hits[100] = {0};

	(void)state;
	assert_non_null(out);
	config(&c, kv);
	config(&cs, small);
	assert_int_equal(pfli_pop_init(&p, &c), PFL_OK);
	assert_int_equal(pfli_pop_init(&ps, &cs), PFL_OK);
	for (int r = 0; r < 5; r++) {
		k = pfli_pop_draw(&p, 0, 1000, out, 3000);
		assert_int_equal(k, 1000);
		qsort(out, k, sizeof(*out), cmp_u32);
		for (uint32_t i = 0; i < k; i++) {
			assert_true(out[i] < 1000000);
			if (i > 0)
				assert_true(out[i] > out[i - 1]);
		}
	}
	/* a cap below the size is honoured */
	assert_int_equal(pfli_pop_draw(&p, 0, 1000, out, 10), 10);
	/* 400 draws of 10 of 100: each index expected 40 times */
	for (int r = 0; r < 400; r++) {
		k = pfli_pop_draw(&ps, 0, 10, out, 3000);
		assert_int_equal(k, 10);
		for (uint32_t i = 0; i < k; i++)
			hits[out[i]]++;
	}
	for (int i = 0; i < 100; i++)
		assert_in_range(hits[i], 10, 80);
	/* size above the population: all of it */
	assert_int_equal(pfli_pop_draw(&ps, 0, 500, out, 3000), 100);
	/* Poisson q = 0.001 over 1e6: mean 1000, sd 31.6 */
	for (int r = 0; r < 5; r++) {
		k = pfli_pop_draw(&p, 0.001, 0, out, 3000);
		assert_in_range(k, 800, 1200);
		for (uint32_t i = 1; i < k; i++)
			assert_true(out[i] > out[i - 1]);
		assert_true(out[k - 1] < 1000000);
	}
	assert_int_equal(pfli_pop_draw(&ps, 1.0, 0, out, 3000), 100);
	assert_int_equal(pfli_pop_draw(&ps, 0.0, 0, out, 3000), 0);
	pfli_pop_fini(&p);
	pfli_pop_fini(&ps);
	pfl_sim_config_fini(&c);
	pfl_sim_config_fini(&cs);
	free(out);
}

static int
count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, ch;

	if (f == NULL)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static char outdir[256];

static void
run(const char *const *kv, struct pfl_sim_result *res)
{
	struct pfl_sim_config c;
	char err[PFL_CFG_ERRLEN] = "";
	static const char *const base[] = {"model",
	                                   "logreg",
	                                   "batch",
	                                   "32",
	                                   "lr",
	                                   "0.05",
	                                   "seed",
	                                   "1",
	                                   "eval_every",
	                                   "0",
	                                   "round_timeout_s",
	                                   "300",
	                                   NULL};

	assert_int_equal(pfl_sim_config_init(&c, err, sizeof(err)), PFL_OK);
	for (int i = 0; base[i]; i += 2)
		assert_int_equal(pfl_sim_config_set(&c, base[i], base[i + 1],
		                                    err, sizeof(err)),
		                 PFL_OK);
	for (int i = 0; kv[i]; i += 2)
		if (pfl_sim_config_set(&c, kv[i], kv[i + 1], err,
		                       sizeof(err)) != PFL_OK)
			fail_msg("%s", err);
	assert_int_equal(
	        pfl_sim_config_set(&c, "out", outdir, err, sizeof(err)),
	        PFL_OK);
	assert_int_equal(pfl_sim_config_resolve(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_agg_config_check(&c.agg, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_sim_config_check(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_sim_run(&c, res), PFL_OK);
	pfl_sim_config_fini(&c);
}

/*
 * 200,000 clients: one sodium_malloc identity each used to need 800,000
 * memory mappings (vm.max_map_count is 65530), and the run died with "out
 * of memory" at start. Only a cohort's clients exist now.
 */
static void
test_large_population_runs(void **state)
{
	static const char *const kv[] = {"clients", "200000", "per_round", "20",
	                                 "rounds",  "2",      NULL};
	struct pfl_sim_result r;

	(void)state;
	run(kv, &r);
	assert_int_equal(r.rounds, 2);
	assert_true(r.accuracy > 0.1);
	assert_true(r.peak_resident >= 1);
	assert_true(r.peak_resident <= 20 + 256);
}

/*
 * The cohort's identities (secret keys in sodium_malloc memory, 4 memory
 * mappings each, wiped by sodium_free) are gone after the run: 2 rounds of
 * 400 drawn clients would leave 3,200 mappings behind if any draw's
 * clients were kept, 1,600 if only the last one's were.
 */
static void
test_cohort_secrets_released(void **state)
{
	static const char *const kv[] = {
	        "clients", "100000", "per_round", "400", "rounds", "2", NULL};
	struct pfl_sim_result r;
	int before, after;

	(void)state;
	before = count_maps();
	assert_true(before > 0);
	run(kv, &r);
	after = count_maps();
	assert_int_equal(r.rounds, 2);
	assert_true(r.peak_resident <= 400 + 256);
	if (after > before + 600)
		fail_msg("%d memory mappings before the run, %d after", before,
		         after);
}

/*
 * Central DP: the simulator draws each client of the 100,000 with q =
 * 50 / 100,000, and the aggregator charges exactly that rate (its re-draw
 * correction is below 1e-9 with 50 expected against min_clients 2): the
 * run's epsilon is the accountant's for two steps at q. Had the round
 * counted only the drawn clients as its draws, or the cohort as the
 * population, the charge would be 1.
 */
static void
test_central_dp_charges_population_rate(void **state)
{
	static const char *const kv[] = {"clients",
	                                 "100000",
	                                 "per_round",
	                                 "50",
	                                 "rounds",
	                                 "2",
	                                 "dp",
	                                 "central",
	                                 "clip_norm",
	                                 "1.0",
	                                 "noise_multiplier",
	                                 "1.0",
	                                 "delta",
	                                 "1e-5",
	                                 "min_clients",
	                                 "2",
	                                 NULL};
	struct pfl_sim_result r;
	struct pfl_accountant *acct = NULL;
	double want = 0;

	(void)state;
	run(kv, &r);
	assert_int_equal(r.rounds, 2);
	assert_int_equal(pfl_accountant_new(PFL_ACCT_RDP, &acct), PFL_OK);
	assert_int_equal(pfl_accountant_charge(acct, 50.0 / 100000.0, 1.0, 2),
	                 PFL_OK);
	assert_int_equal(pfl_accountant_epsilon(acct, 1e-5, &want, NULL),
	                 PFL_OK);
	pfl_accountant_free(acct);
	assert_true(want > 0);
	if (!(r.epsilon > want * (1 - 1e-6) && r.epsilon < want * (1 + 1e-6)))
		fail_msg("epsilon %.9g, the accountant's for q = 5e-4: %.9g",
		         r.epsilon, want);
}

/* What the machine cannot hold is refused with what it could hold. */
static void
test_capacity(void **state)
{
	static const char *const ok[] = {"clients", "1000000", "per_round",
	                                 "10000",   "model",   "mlp",
	                                 NULL};
	static const char *const sa[] = {"clients", "1000000", "per_round",
	                                 "1000000", "secagg",  "secagg",
	                                 NULL};
	static const char *const pop[] = {"clients", "1000000000", "per_round",
	                                  "1000",    "rounds",     "1000000",
	                                  NULL};
	static const char *const procs[] = {
	        "clients", "100000", "processes", "true", "threads", "2", NULL};
	struct pfli_sim_machine m = {(uint64_t)8 << 30, 65530};
	struct pfl_sim_config c;
	char err[512];

	(void)state;
	config(&c, ok);
	assert_int_equal(
	        pfli_sim_capacity(&c, 199210, 60000, &m, err, sizeof(err)),
	        PFL_OK);
	pfl_sim_config_fini(&c);

	config(&c, sa);
	err[0] = '\0';
	assert_int_equal(
	        pfli_sim_capacity(&c, 7850, 60000, &m, err, sizeof(err)),
	        PFL_ERR_CONFIG);
	assert_non_null(strstr(err, "vm.max_map_count is 65530"));
	assert_non_null(strstr(err, "at most 15882 clients per round"));
	pfl_sim_config_fini(&c);

	config(&c, pop);
	err[0] = '\0';
	assert_int_equal(
	        pfli_sim_capacity(&c, 7850, 60000, &m, err, sizeof(err)),
	        PFL_ERR_CONFIG);
	assert_non_null(strstr(err, "a population of 1000000000"));
	assert_non_null(strstr(err, "at most 1"));
	pfl_sim_config_fini(&c);

	/* --processes keeps every client resident: 50,000 per child */
	config(&c, procs);
	err[0] = '\0';
	assert_int_equal(
	        pfli_sim_capacity(&c, 7850, 60000, &m, err, sizeof(err)),
	        PFL_ERR_CONFIG);
	assert_non_null(strstr(err, "at most 15882 clients per process"));
	pfl_sim_config_fini(&c);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	pfl_log_set_level(PFL_LOG_WARN);
	snprintf(outdir, sizeof(outdir), "/tmp/privfl-test-pop12-%ld",
	         (long)getpid());
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_identity_derivation),
	        cmocka_unit_test(test_draws),
	        cmocka_unit_test(test_capacity),
	        cmocka_unit_test(test_large_population_runs),
	        cmocka_unit_test(test_cohort_secrets_released),
	        cmocka_unit_test(test_central_dp_charges_population_rate),
	};

	return cmocka_run_group_tests_name("pop12", tests, setup, NULL);
}
