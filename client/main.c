/* privfl-client: the on-device daemon (see docs/CLIENT.md). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/client.h"
#include "privfl/log.h"
#include "privfl/sig.h"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl-client [--config FILE] [--SETTING VALUE "
	           "...]\n\nTakes part in a federation with local data that "
	           "never leaves this machine.\n\nsettings:\n");
	pfl_cfg_print_help(pfl_client_config_table, pfl_client_config_table_len,
	                   f);
	fprintf(f, "\nexit status: 0 stopped (SIGTERM/SIGINT or max_rounds), "
	           "1 error, 2 usage\n");
}

int
main(int argc, char **argv)
{
	struct pfl_client_config cfg;
	char err[PFL_CFG_ERRLEN] = "";
	pfl_err rv;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--config-markdown")) {
		pfl_cfg_print_markdown(pfl_client_config_table,
		                       pfl_client_config_table_len,
		                       "privfl-client", stdout);
		return 0;
	}
	if (sodium_init() < 0)
		return 1;
	if (pfl_client_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_cfg_load_cli(pfl_client_config_table,
	                     pfl_client_config_table_len, &cfg, argc, argv, err,
	                     sizeof(err)) != PFL_OK ||
	    pfl_cfg_validate(pfl_client_config_table,
	                     pfl_client_config_table_len, &cfg, err,
	                     sizeof(err)) != PFL_OK)
		goto out_usage;
	if (!pfl_log_set_level_name(cfg.log_level, err, sizeof(err)))
		goto out_usage;
	pfl_signal_install(SIGINT, on_signal);
	pfl_signal_install(SIGTERM, on_signal);
	pfl_signal_install(SIGPIPE, NULL);
	/* the loop, the data and the stop watcher are the library's */
	rv = pfl_client_run_config(&cfg, NULL, NULL, &stop_flag);
	pfl_client_config_fini(&cfg);
	return rv == PFL_OK ? 0 : 1;
out_usage:
	fprintf(stderr, "privfl-client: %s\n(try --help)\n", err);
	pfl_client_config_fini(&cfg);
	return 2;
}
