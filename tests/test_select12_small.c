/*
 * Selection in small federations and with part of the population online
 * (issue #12 item 4), each over a real aggregator and library clients on
 * a Unix socket, every client obeying the retry-after it is given:
 * - three clients, cohort 3, min_clients 3: every selection draws its
 *   cohort (no "sampling again", as many selections as rounds). Note: the
 *   code before pace steering also passes this one with library clients;
 *   the re-draw loop the issue reports came from privfl-client daemons,
 *   which no test here runs yet;
 * - population 100 with 3 online and no DP: rounds run (without DP the
 *   population does not change the draw; the code before waited forever);
 * - DP with pace steering (8 online, 3 expected per selection): the rate
 *   the accountant charges is at least the inclusion rate that happened.
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

static void
test_three_clients_no_resampling(void **state)
{
	static const char *const kv[] = {"clients_per_round",
	                                 "3",
	                                 "min_clients",
	                                 "3",
	                                 "rounds",
	                                 "5",
	                                 NULL};
	struct sel_fed f;

	(void)state;
	sel_fed_start(&f, "sel12three", 3, kv);
	sel_fed_clients(&f);
	sel_fed_join(&f);
	assert_int_equal(f.at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(f.at.a), 5);
	printf("3 clients, 5 rounds: %llu selections, %d 'sampling again'\n",
	       (unsigned long long)f.at.a->sel.epoch,
	       sel_log_count("sampling again"));
	assert_int_equal(sel_log_count("sampling again"), 0);
	assert_int_equal(f.at.a->sel.resamples, 0);
	/* one selection a round: none was drawn again */
	assert_int_equal(f.at.a->sel.epoch, 5);
	sel_fed_free(&f);
}

static void
test_population_above_online_without_dp(void **state)
{
	static const char *const kv[] = {"clients_per_round",
	                                 "3",
	                                 "min_clients",
	                                 "3",
	                                 "population",
	                                 "100",
	                                 "rounds",
	                                 "3",
	                                 NULL};
	struct sel_fed f;

	(void)state;
	sel_fed_start(&f, "sel12pop", 3, kv);
	sel_fed_clients(&f);
	sel_fed_join(&f);
	assert_int_equal(f.at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(f.at.a), 3);
	assert_int_equal(sel_log_count("sampling again"), 0);
	sel_fed_free(&f);
}

/* Cohorts that started (RUNNING), and how many members in all. */
static struct {
	pthread_mutex_t mu;
	uint64_t rounds, members;
	double q, charged; /* the smallest of the rounds */
} seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1.0, 1.0};

static void
count_members(void *arg, enum pfl_agg_event ev, const uint8_t (*members)[32],
              uint32_t n)
{
	(void)arg;
	(void)members;
	if (ev != PFL_AGG_EV_RUNNING)
		return;
	const struct pfli_round *r = &sel_agg->round;
	double mass = r->draw_mass > r->draws ? r->draw_mass : r->draws;
	double charged = pfli_acct_rate(sel_agg, r->q, mass);

	pthread_mutex_lock(&seen.mu);
	seen.rounds++;
	seen.members += n;
	if (r->q < seen.q)
		seen.q = r->q;
	if (charged < seen.charged)
		seen.charged = charged;
	pthread_mutex_unlock(&seen.mu);
}

/*
 * Central DP, population 8, all 8 online, cohort 3: pace steering makes
 * each client eligible for a selection with p = 3/8 and draws an eligible
 * one with q / p = 1, so a client is in a round with probability q = 3/8
 * (more when a selection drawing nobody is drawn again). Count what
 * happened: the members of every cohort that ran, over 8 clients; the
 * charged rate must be at least that (four standard deviations of the
 * count's noise allowed). The rate charged is what accounting.c's
 * pfli_acct_rate gives for the round's draws (the smallest of the rounds).
 */
static void
test_dp_charged_rate_bounds_inclusion(void **state)
{
	static const char *const kv[] = {"dp_mode",
	                                 "central",
	                                 "population",
	                                 "8",
	                                 "clip_norm",
	                                 "1.0",
	                                 "noise_multiplier",
	                                 "1.0",
	                                 "overselect",
	                                 "1.0",
	                                 "clients_per_round",
	                                 "3",
	                                 "min_clients",
	                                 "1",
	                                 "rounds",
	                                 "30",
	                                 NULL};
	struct sel_fed f;
	double rate, sd, charged, q;

	(void)state;
	sel_notify = count_members;
	sel_fed_start(&f, "sel12dp", 8, kv);
	sel_fed_clients(&f);
	sel_fed_join(&f);
	sel_notify = NULL;
	assert_int_equal(f.at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(f.at.a), 30);
	q = seen.q;
	charged = seen.charged;
	rate = (double)seen.members / (8.0 * (double)seen.rounds);
	sd = sqrt(rate * (1 - rate) / (8.0 * (double)seen.rounds));
	printf("DP, 8 online of population 8, cohort 3: %llu cohorts, "
	       "inclusion rate %.3f (sd %.3f); q %.3f, charged %.3f; "
	       "steering p %.3f\n",
	       (unsigned long long)seen.rounds, rate, sd, q, charged,
	       f.at.a->sel.p);
	assert_true(seen.rounds >= 30);
	assert_true(q > 0.37 && q < 0.38); /* 3 / 8 */
	assert_true(f.at.a->sel.p < 1.0);  /* steering was at work */
	assert_true(charged >= q);
	assert_true(rate <= charged + 4 * sd);
	sel_fed_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_three_clients_no_resampling),
	        cmocka_unit_test(test_population_above_online_without_dp),
	        cmocka_unit_test(test_dp_charged_rate_bounds_inclusion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
