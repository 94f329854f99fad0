/* privfl-sim: a federation on one machine (see docs/SIMULATOR.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <sodium.h>

#include "privfl/log.h"
#include "privfl/sim.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl-sim [--config FILE] [--SETTING VALUE ...]\n\n"
	           "Runs one aggregator and --clients virtual clients in this "
	           "process\n(threads over inproc://) or, with --processes, "
	           "clients in child\nprocesses over tcp://.\n\n"
	           "example:\n  privfl-sim --dataset fashion-mnist --model mlp "
	           "--clients 100 --per-round 10 \\\n    --rounds 50 "
	           "--local-epochs 1 --batch 32 --lr 0.05 --partition iid "
	           "--seed 1 --out DIR\n\nsimulator settings:\n");
	pfl_cfg_print_help(pfl_sim_config_table, pfl_sim_config_table_len, f);
	fprintf(f, "\nand every aggregator setting (privfl-aggregator "
	           "--help).\n");
}

int
main(int argc, char **argv)
{
	struct pfl_sim_config cfg;
	struct pfl_sim_result res;
	struct rusage ru;
	char err[PFL_CFG_ERRLEN] = "";
	pfl_err rv;

	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--config-markdown")) {
		pfl_cfg_print_markdown(pfl_sim_config_table,
		                       pfl_sim_config_table_len, "privfl-sim",
		                       stdout);
		return 0;
	}
	if (sodium_init() < 0)
		return 1;
	if (pfl_sim_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_sim_config_load_cli(&cfg, argc, argv, err, sizeof(err)) !=
	    PFL_OK)
		goto out_usage;
	if (!pfl_log_set_level_name(cfg.agg.log_level, err, sizeof(err)))
		goto out_usage;
	if (pfl_sim_config_resolve(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_agg_config_check(&cfg.agg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	if (pfl_sim_config_check(&cfg, err, sizeof(err)) != PFL_OK)
		goto out_usage;
	rv = pfl_sim_run(&cfg, &res);
	if (rv != PFL_OK) {
		fprintf(stderr, "privfl-sim: %s\n", pfl_strerror(rv));
		pfl_sim_config_fini(&cfg);
		return 1;
	}
	printf("privfl-sim: %llu rounds in %.1f s: accuracy %.4f, loss %.4f",
	       (unsigned long long)res.rounds, res.seconds, res.accuracy,
	       res.loss);
	if (cfg.agg.dp_mode != 0)
		printf(", epsilon %.3f (delta %.0e)", res.epsilon, res.delta);
	printf(", %llu rounds abandoned; results in %s/rounds.csv and "
	       "%s/model.safetensors\n",
	       (unsigned long long)res.aborted_rounds, cfg.out, cfg.out);
	/* --processes: the clients' memory is their processes' */
	if (!cfg.processes && getrusage(RUSAGE_SELF, &ru) == 0)
		printf("privfl-sim: population %lld, at most %u clients "
		       "resident at once, peak resident memory %.0f MiB\n",
		       (long long)cfg.clients, res.peak_resident,
		       (double)ru.ru_maxrss / 1024.0);
	pfl_sim_config_fini(&cfg);
	return 0;
out_usage:
	fprintf(stderr, "privfl-sim: %s\n(try --help)\n", err);
	pfl_sim_config_fini(&cfg);
	return 2;
}
