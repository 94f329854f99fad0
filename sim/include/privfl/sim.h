/*
 * privfl — the simulator: one real aggregator and many real clients on one
 * machine, over nng inproc:// (threads) or tcp:// (processes).
 *
 * Virtual clients are pfl_client objects stepped by a small pool of worker
 * threads (one connection and one training model per worker). In one
 * process the population exists only as indices: each round the
 * aggregator draws its cohort from all of them (pfl_aggregator_set_sampler)
 * and only the drawn clients get an identity (derived from the run's seed
 * and their index) and a pfl_client, freed when their round is over; so
 * memory and time per round follow the cohort, not the population
 * (docs/SIMULATOR.md). With --processes every client is resident in a
 * child process and checks in as a daemon does.
 */
#ifndef PRIVFL_SIM_H
#define PRIVFL_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "privfl/aggregator.h"
#include "privfl/config.h"
#include "privfl/err.h"

struct pfl_sim_config {
	struct pfl_agg_config agg; /* the federation (aggregator settings) */
	char *dataset;
	int64_t clients;
	char *partition;
	double dropout;
	char *dropout_phase;
	char *straggler;
	int64_t threads;
	bool processes;
	int64_t port;
	char *out;
};

extern const struct pfl_cfg_entry pfl_sim_config_table[];
extern const size_t pfl_sim_config_table_len;

pfl_err pfl_sim_config_init(struct pfl_sim_config *c, char *err,
                            size_t errlen) PFL_WUR;
/* Set a simulator key, else an aggregator key (with '-' as '_'). */
pfl_err pfl_sim_config_set(struct pfl_sim_config *c, const char *key,
                           const char *value, char *err, size_t errlen) PFL_WUR;
/* The command line: an optional "--config FILE" first, then "--key value"
 * overrides (pfl_cfg_load_cli over both tables). */
pfl_err pfl_sim_config_load_cli(struct pfl_sim_config *c, int argc, char **argv,
                                char *err, size_t errlen) PFL_WUR;
/*
 * Fill in the settings left at 0 = automatic (overselect,
 * checkin_interval_ms), which depend on the others; call after the last
 * set and before the checks. err may be NULL. PFL_ERR_CONFIG if overselect
 * is below 1.
 */
pfl_err pfl_sim_config_resolve(struct pfl_sim_config *c, char *err,
                               size_t errlen) PFL_WUR;
/* Check the simulator's own options (faults, client counts). */
pfl_err pfl_sim_config_check(const struct pfl_sim_config *c, char *err,
                             size_t errlen) PFL_WUR;
void pfl_sim_config_fini(struct pfl_sim_config *c);

struct pfl_sim_result {
	uint64_t rounds;
	double accuracy;
	double loss;
	double epsilon;
	double delta;
	double seconds;
	uint64_t aborted_rounds;
	/* most clients that held an identity (secret key) at once: with
	 * cohorts drawn in one process, the clients at work, never the
	 * population */
	uint32_t peak_resident;
};

/*
 * Run the whole simulation; results also go to out/rounds.csv.
 * PFL_ERR_CONFIG (logged with the number it could hold and why) when the
 * machine cannot hold the population, the cohort or the model, before
 * anything starts.
 */
pfl_err pfl_sim_run(const struct pfl_sim_config *c,
                    struct pfl_sim_result *res) PFL_WUR;

#endif
