/* privfl-aggregator: runs a federation (see docs/AGGREGATOR.md). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "privfl/aggregator.h"
#include "privfl/log.h"
#include "privfl/sig.h"

static struct pfl_aggregator *running;

static void
on_signal(int sig)
{
	(void)sig;
	if (running != NULL)
		pfl_aggregator_stop(running);
}

static void
on_hup(int sig)
{
	(void)sig;
	if (running != NULL)
		pfl_aggregator_reload_keys(running);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl-aggregator [--config FILE] [--SETTING VALUE "
	           "...]\n\n"
	           "Runs a federation. Settings come from the config file, "
	           "then the command line.\n\nsettings:\n");
	pfl_cfg_print_help(pfl_agg_config_table, pfl_agg_config_table_len, f);
	fprintf(f, "\nsignals: SIGTERM/SIGINT stop (after saving the model), "
	           "SIGHUP re-reads enrolled_keys and revoked_keys\n"
	           "exit status: 0 all rounds done or the privacy budget "
	           "reached, 1 error, 2 usage, 3 stopped by a signal\n");
}

int
main(int argc, char **argv)
{
	struct pfl_agg_config cfg;
	struct pfl_aggregator *a = NULL;
	char err[PFL_CFG_ERRLEN] = "";
	int code = 1;
	pfl_err rv;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--config-markdown")) {
		pfl_cfg_print_markdown(pfl_agg_config_table,
		                       pfl_agg_config_table_len,
		                       "privfl-aggregator", stdout);
		return 0;
	}
	if (sodium_init() < 0)
		return 1;
	if (pfl_agg_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_cfg_load_cli(pfl_agg_config_table, pfl_agg_config_table_len,
	                     &cfg, argc, argv, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_agg_config_check(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (!pfl_log_set_level_name(cfg.log_level, err, sizeof(err)))
		goto out_usage;
	if ((rv = pfl_aggregator_new(&cfg, &a)) != PFL_OK) {
		fprintf(stderr, "privfl-aggregator: %s\n", pfl_strerror(rv));
		goto out;
	}
	running = a;
	pfl_signal_install(SIGINT, on_signal);
	pfl_signal_install(SIGTERM, on_signal);
	pfl_signal_install(SIGPIPE, NULL);
	pfl_signal_install(SIGHUP, on_hup);
	rv = pfl_aggregator_run(a);
	running = NULL;
	code = rv == PFL_OK ? 0 : rv == PFL_ERR_CLOSED ? 3 : 1;
	if (rv != PFL_OK && rv != PFL_ERR_CLOSED)
		fprintf(stderr, "privfl-aggregator: %s\n", pfl_strerror(rv));
out:
	pfl_aggregator_free(a);
	pfl_agg_config_fini(&cfg);
	return code;
out_usage:
	fprintf(stderr, "privfl-aggregator: %s\n(try --help)\n", err);
	pfl_agg_config_fini(&cfg);
	return 2;
}
