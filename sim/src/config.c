#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/sim.h"
#include "privfl/strategy.h"

#define F(field) offsetof(struct pfl_sim_config, field)
#define A(field) offsetof(struct pfl_sim_config, agg.field)

/*
 * Simulator settings. Some are short names for aggregator settings (the
 * contract of docs/SIMULATOR.md: --per-round, --secagg, --dp, --out);
 * every other aggregator setting is accepted too.
 */
const struct pfl_cfg_entry pfl_sim_config_table[] = {
        {"dataset", PFL_CFG_STRING, F(dataset), "fashion-mnist", 0, 0, NULL, 0,
         "fashion-mnist, or a directory with the four IDX files"},
        {"clients", PFL_CFG_INT, F(clients), "100", 1, 1000000000, NULL, 0,
         "virtual clients (the population; only a round's cohort is "
         "resident)"},
        {"partition", PFL_CFG_STRING, F(partition), "iid", 0, 0, NULL, 0,
         "iid, dirichlet:ALPHA, shards:K, quantity:ALPHA"},
        {"dropout", PFL_CFG_DOUBLE, F(dropout), "0", 0, 1, NULL, 0,
         "P(a selected client vanishes before sending its update)"},
        {"dropout_phase", PFL_CFG_STRING, F(dropout_phase), "", 0, 0, NULL, 0,
         "advertise|share|masked|unmask:P: drop a fraction P at "
         "that secure-aggregation phase"},
        {"straggler", PFL_CFG_STRING, F(straggler), "", 0, 0, NULL, 0,
         "P:SECONDS: a selected client is SECONDS late with "
         "probability P"},
        {"threads", PFL_CFG_INT, F(threads), "0", 0, 256, NULL, 0,
         "worker threads stepping clients; 0 = 4 per core (a worker "
         "waits while the aggregator handles its request)"},
        {"processes", PFL_CFG_BOOL, F(processes), "false", 0, 0, NULL, 0,
         "run clients as separate processes over tcp://"},
        {"port", PFL_CFG_INT, F(port), "0", 0, 65535, NULL, 0,
         "tcp port with --processes (0 = pick one)"},
        {"out", PFL_CFG_STRING, F(out), "privfl-sim-out", 0, 0, NULL, 0,
         "output directory (rounds.csv, model.safetensors)"},
        {"per_round", PFL_CFG_INT, A(clients_per_round), "10", 1, 1000000, NULL,
         0, "target results per round"},
        {"overselect", PFL_CFG_DOUBLE, A(overselect), "0", 0, 10, NULL, 0,
         "clients selected per target result; 0 = 1.3 when --dropout, "
         "--dropout_phase or --straggler inject faults, else 1.0 (every "
         "simulated client is reliable: over-selecting would only "
         "discard finished work)"},
        {"checkin_interval_ms", PFL_CFG_INT, A(checkin_interval_ms), "0", 0,
         600000, NULL, 0,
         "base retry-after given to idle clients; 0 = 1000 in one "
         "process (the simulator wakes its waiting clients when a round "
         "needs them) or 40 with --processes"},
        {"secagg", PFL_CFG_ENUM, A(secure_aggregation), "off", 0, 0,
         "off|secagg|secagg+", 0, "secure aggregation"},
        {"dp", PFL_CFG_ENUM, A(dp_mode), "none", 0, 0,
         "none|central|distributed|local", 0, "DP mode"},
        /* the aggregator's rows, here so that --help shows the
         * strategies' defaults */
        {"strategy", PFL_CFG_ENUM, A(strategy), "fedavg", 0, 0,
         "fedavg|fedavgm|fedadam|fedyogi|fedadagrad|fedprox", 0,
         PFL_STRATEGY_DEFAULTS_HELP},
        {"server_lr", PFL_CFG_DOUBLE, A(server_lr), "0", 0, 100, NULL, 0,
         PFL_STRATEGY_LR_HELP},
};

const size_t pfl_sim_config_table_len =
        sizeof(pfl_sim_config_table) / sizeof(pfl_sim_config_table[0]);

pfl_err
pfl_sim_config_init(struct pfl_sim_config *c, char *err, size_t errlen)
{
	pfl_err rv;

	memset(c, 0, sizeof(*c));
	if ((rv = pfl_agg_config_init(&c->agg, err, errlen)) != PFL_OK)
		return rv;
	rv = pfl_cfg_defaults(pfl_sim_config_table, pfl_sim_config_table_len, c,
	                      err, errlen);
	if (rv != PFL_OK)
		return rv;
	/* A simulation is local and fast: tighter pacing than a real one. */
	c->agg.selection_window_ms = 5000;
	c->agg.round_timeout_s = 60;
	c->agg.phase_timeout_s = 20;
	c->agg.resume = false;
	return PFL_OK;
}

pfl_err
pfl_sim_config_resolve(struct pfl_sim_config *c, char *err, size_t errlen)
{
	bool faults = c->dropout > 0 ||
	              (c->dropout_phase != NULL && *c->dropout_phase) ||
	              (c->straggler != NULL && *c->straggler);

	if (c->agg.overselect == 0)
		c->agg.overselect = faults ? 1.3 : 1.0;
	if (c->agg.overselect < 1.0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			         "overselect: %g is below 1 (0 = automatic)",
			         c->agg.overselect);
		return PFL_ERR_CONFIG;
	}
	if (c->agg.checkin_interval_ms == 0)
		c->agg.checkin_interval_ms = c->processes ? 40 : 1000;
	/* every simulated client can be drawn: the population is known */
	if (c->agg.population == 0)
		c->agg.population = c->clients;
	return PFL_OK;
}

void
pfl_sim_config_fini(struct pfl_sim_config *c)
{
	pfl_cfg_free(pfl_sim_config_table, pfl_sim_config_table_len, c);
	pfl_agg_config_fini(&c->agg);
}

pfl_err
pfl_sim_config_set(struct pfl_sim_config *c, const char *key, const char *value,
                   char *err, size_t errlen)
{
	pfl_err rv = pfl_cfg_set(pfl_sim_config_table, pfl_sim_config_table_len,
	                         c, key, value, err, errlen);

	if (rv != PFL_ERR_NOTFOUND)
		return rv;
	return pfl_cfg_set(pfl_agg_config_table, pfl_agg_config_table_len,
	                   &c->agg, key, value, err, errlen);
}

static pfl_err
sim_set(void *arg, const char *key, const char *value, char *err, size_t errlen)
{
	return pfl_sim_config_set(arg, key, value, err, errlen);
}

pfl_err
pfl_sim_config_load_cli(struct pfl_sim_config *c, int argc, char **argv,
                        char *err, size_t errlen)
{
	return pfl_cfg_load_cli_with(argc, argv, sim_set, c, err, errlen);
}
