/* The table-driven config: files, flags, bounds, and cross-field checks. */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/secagg.h"

static void
load(struct pfl_agg_config *c, const char *text, pfl_err want, char *err)
{
	pfl_err rv = pfl_cfg_load_buf(pfl_agg_config_table,
	                              pfl_agg_config_table_len, c, "test.conf",
	                              text, strlen(text), err, PFL_CFG_ERRLEN);
	assert_int_equal(rv, want);
}

static void
test_defaults_and_file(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(c.rounds, 50);
	assert_string_equal(c.listen, "tcp://127.0.0.1:7700");
	load(&c,
	     "# a comment\n rounds = 7 \nstrategy=fedadam\n\n"
	     "listen = ipc:///tmp/x.sock # trailing\nadaptive_clip = yes\n",
	     PFL_OK, err);
	assert_int_equal(c.rounds, 7);
	assert_int_equal(c.strategy, PFL_STRAT_FEDADAM);
	assert_string_equal(c.listen, "ipc:///tmp/x.sock");
	assert_true(c.adaptive_clip);
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)), PFL_OK);
	pfl_agg_config_fini(&c);
}

static void
test_file_errors_name_the_line(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	load(&c, "rounds = 5\nrounds = -1\n", PFL_ERR_CONFIG, err);
	assert_non_null(strstr(err, "test.conf:2"));
	load(&c, "nonsense\n", PFL_ERR_CONFIG, err);
	assert_non_null(strstr(err, "test.conf:1"));
	load(&c, "no_such_key = 1\n", PFL_ERR_CONFIG, err);
	assert_non_null(strstr(err, "no_such_key"));
	load(&c, "lr = abc\n", PFL_ERR_CONFIG, err);
	load(&c, "lr = nan\n", PFL_ERR_CONFIG, err);
	load(&c, "strategy = sgd\n", PFL_ERR_CONFIG, err);
	load(&c, "listen = http://x\n", PFL_ERR_CONFIG, err);
	load(&c, "resume = maybe\n", PFL_ERR_CONFIG, err);
	load(&c, "rounds = 99999999999999999999999\n", PFL_ERR_CONFIG, err);
	/* the value before the failing line stays applied, nothing else */
	assert_int_equal(c.rounds, 5);
	pfl_agg_config_fini(&c);
}

static void
test_args(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN];
	char *argv[] = {"prog",     "--rounds",    "3",   "--dp-mode=central",
	                "--resume", "--clip-norm", "0.5", "--population",
	                "100"};
	char *bad[] = {"prog", "--rounds"};
	char *unknown[] = {"prog", "--bogus", "1"};

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_cfg_parse_args(pfl_agg_config_table,
	                                    pfl_agg_config_table_len, &c, 9,
	                                    argv, 1, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(c.rounds, 3);
	assert_int_equal(c.dp_mode, PFL_DP_CENTRAL);
	assert_true(c.resume);
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_cfg_parse_args(pfl_agg_config_table,
	                                    pfl_agg_config_table_len, &c, 2,
	                                    bad, 1, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	assert_int_equal(pfl_cfg_parse_args(pfl_agg_config_table,
	                                    pfl_agg_config_table_len, &c, 3,
	                                    unknown, 1, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	pfl_agg_config_fini(&c);
}

static void
test_cross_checks(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	c.dp_mode = PFL_DP_CENTRAL; /* no clip norm */
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	assert_non_null(strstr(err, "clip_norm"));
	c.clip_norm = 1.0;
	c.dp_mode = PFL_DP_DISTRIBUTED; /* needs secure aggregation */
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	c.secure_aggregation = 2;
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)), PFL_OK);
	c.min_clients = c.clients_per_round + 1;
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	pfl_agg_config_fini(&c);
}

/*
 * SecAgg+ cohorts beyond the complete graph's limit with the default
 * sa_dropout 0.3 and sa_corrupt 0.1 have no graph of at most
 * PFL_SA_MAX_K neighbours: said at start with a sa_dropout that works
 * (before, every round was refused once clients had checked in).
 */
static void
test_sa_plus_cohort_checked(void **state)
{
	struct pfl_agg_config c;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	c.secure_aggregation = PFL_SA_PLUS;
	c.clients_per_round = 3000;
	c.overselect = 1.0;
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "cohorts of 3000"));
	assert_non_null(strstr(err, "sa_dropout 0.3 with sa_corrupt 0.1"));
	assert_non_null(strstr(err, "sa_dropout 0.25 does (k = "));
	c.sa_dropout = 0.25; /* what the message proposes */
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)), PFL_OK);
	c.sa_dropout = 0.3;
	c.clients_per_round = 1000; /* the complete graph remains */
	assert_int_equal(pfl_agg_config_check(&c, err, sizeof(err)), PFL_OK);
	pfl_agg_config_fini(&c);
}

static void
test_client_table(void **state)
{
	struct pfl_client_config c;
	char err[PFL_CFG_ERRLEN];

	(void)state;
	assert_int_equal(pfl_client_config_init(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_cfg_set(pfl_client_config_table,
	                             pfl_client_config_table_len, &c, "server",
	                             "tls+tcp://agg.example:7700", err,
	                             sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_cfg_set(pfl_client_config_table,
	                             pfl_client_config_table_len, &c, "server",
	                             "udp://x", err, sizeof(err)),
	                 PFL_ERR_CONFIG);
	assert_string_equal(c.server, "tls+tcp://agg.example:7700");
	pfl_client_config_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_and_file),
	        cmocka_unit_test(test_file_errors_name_the_line),
	        cmocka_unit_test(test_args),
	        cmocka_unit_test(test_cross_checks),
	        cmocka_unit_test(test_sa_plus_cohort_checked),
	        cmocka_unit_test(test_client_table),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
