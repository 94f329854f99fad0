/* privfl-aggregator: runs a federation (see docs/AGGREGATOR.md). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "privfl/aggregator.h"
#include "privfl/clock.h"
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

/* What this run released, for the summary line (observer, see below). */
struct summary {
	uint64_t released; /* rounds released in this run */
	uint64_t aborted;
	double accuracy; /* last evaluated; NaN when none */
	double loss;
	double epsilon;
	double delta;
};

static void
observe(void *arg, const struct pfl_round_report *r)
{
	struct summary *s = arg;

	if (r->aborted) {
		s->aborted++;
		return;
	}
	s->released++;
	if (!isnan(r->accuracy)) {
		s->accuracy = r->accuracy;
		s->loss = r->loss;
	}
	s->epsilon = r->epsilon;
	s->delta = r->delta;
}

/*
 * One line on stdout when the run ends, as privfl-sim prints: why it
 * stopped, rounds released and abandoned, the last accuracy, epsilon at
 * delta, and where the results are. pfl_aggregator_run drains the
 * reporter (the observer's thread) before it returns.
 */
static void
print_summary(struct pfl_aggregator *a, const struct pfl_agg_config *cfg,
              const struct summary *s, pfl_err rv, double seconds)
{
	uint64_t done = pfl_aggregator_rounds_done(a);

	printf("privfl-aggregator: %s: %llu rounds released",
	       rv == PFL_ERR_CLOSED           ? "stopped by a signal"
	       : done < (uint64_t)cfg->rounds ? "stopped at the privacy budget"
	                                      : "all rounds done",
	       (unsigned long long)done);
	if (s->released != done)
		printf(" (%llu in this run)", (unsigned long long)s->released);
	printf(", %llu abandoned, in %.1f s", (unsigned long long)s->aborted,
	       seconds);
	if (!isnan(s->accuracy))
		printf(": accuracy %.4f, loss %.4f", s->accuracy, s->loss);
	if (cfg->dp_mode != PFL_DP_NONE && s->released > 0)
		printf(", epsilon %.3f (delta %.0e)", s->epsilon, s->delta);
	printf("; results in %s/rounds.csv and %s/model.safetensors\n",
	       cfg->out_dir, cfg->out_dir);
	fflush(stdout);
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
	struct summary sum = {.accuracy = NAN};
	double t0;
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
	pfl_aggregator_set_observer(a, observe, &sum);
	t0 = pfl_clock_sec();
	rv = pfl_aggregator_run(a);
	running = NULL;
	code = rv == PFL_OK ? 0 : rv == PFL_ERR_CLOSED ? 3 : 1;
	if (rv != PFL_OK && rv != PFL_ERR_CLOSED)
		fprintf(stderr, "privfl-aggregator: %s\n", pfl_strerror(rv));
	else
		print_summary(a, &cfg, &sum, rv, pfl_clock_sec() - t0);
out:
	pfl_aggregator_free(a);
	pfl_agg_config_fini(&cfg);
	return code;
out_usage:
	fprintf(stderr, "privfl-aggregator: %s\n(try --help)\n", err);
	pfl_agg_config_fini(&cfg);
	return 2;
}
