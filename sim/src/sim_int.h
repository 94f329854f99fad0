/* Internal to the simulator. */
#ifndef PRIVFL_SIM_INT_H
#define PRIVFL_SIM_INT_H

#include <stdatomic.h>

#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/partition.h"
#include "privfl/sim.h"

struct pfli_sim {
	struct pfl_dataset train;
	struct pfl_partition part;
	uint32_t n;
	struct pfl_identity **ids;
	struct pfl_client_data *data;
	struct pfl_client **clients;
};

/* Load the training data, partition it, allocate the client arrays. */
pfl_err pfli_sim_load(const struct pfl_sim_config *c, struct pfli_sim *s);
void pfli_sim_unload(struct pfli_sim *s);
/* The faults of every client (parsed from --dropout etc.). */
void pfli_sim_faults(const struct pfl_sim_config *c,
                     struct pfl_client_faults *f);
/* Deterministic identity seed of client i. */
void pfli_sim_client_seed(const struct pfl_sim_config *c, uint32_t i,
                          uint8_t seed[32]);
pfl_err pfli_sim_make_clients(const struct pfl_sim_config *c,
                              struct pfli_sim *sim, const uint8_t *server_pk);
/*
 * Step clients [first, first+count) until *done (worker pool). With a
 * (same process), the aggregator's notifications wake waiting clients.
 */
pfl_err pfli_sim_workers(const struct pfl_sim_config *c, struct pfli_sim *sim,
                         const char *url, uint32_t first, uint32_t count,
                         int64_t nthreads, atomic_int *done,
                         struct pfl_aggregator *a);
/* --processes: a free loopback tcp:// URL for the aggregator. */
pfl_err pfli_sim_pick_url(const struct pfl_sim_config *c, char *url,
                          size_t len);
/* --processes: clients in child processes over tcp://, aggregator here. */
pfl_err pfli_sim_run_processes(const struct pfl_sim_config *c,
                               struct pfli_sim *s, struct pfl_aggregator *a);

#endif
