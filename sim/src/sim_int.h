/* Internal to the simulator. */
#ifndef PRIVFL_SIM_INT_H
#define PRIVFL_SIM_INT_H

#include <stdatomic.h>

#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/noise.h"
#include "privfl/partition.h"
#include "privfl/sim.h"

#define PFLI_POP_SECRET_BYTES   32
/* Examples a data shard holds when there are more clients than examples. */
#define PFLI_SIM_SHARD_EXAMPLES 10

/*
 * population.c: clients 0 .. n-1 as indices. The run's secret (from
 * --seed) keys each client's identity seed; rng draws the cohorts.
 */
struct pfli_pop {
	uint32_t n;
	uint8_t *secret;        /* sodium_malloc, PFLI_POP_SECRET_BYTES */
	struct pfl_csprng *rng; /* cohort draws (aggregator's thread only) */
	uint32_t *set;          /* scratch of the fixed-size draw */
	size_t setcap;
};

pfl_err pfli_pop_init(struct pfli_pop *p, const struct pfl_sim_config *c);
void pfli_pop_fini(struct pfli_pop *p);
/* Client index's Ed25519 seed: BLAKE2b keyed with the run's secret. The
 * caller wipes it. */
void pfli_pop_seed(const struct pfli_pop *p, uint32_t index, uint8_t seed[32]);
/* Client index's public key (the secret key is derived and wiped). */
pfl_err pfli_pop_public_key(const struct pfli_pop *p, uint32_t index,
                            uint8_t pk[32]);
/* Client index's identity (secret key in sodium_malloc memory). */
pfl_err pfli_pop_identity(const struct pfli_pop *p, uint32_t index,
                          struct pfl_identity **out);
/*
 * Draw a cohort into out (at most cap indices, distinct): size > 0, a
 * uniform sample of exactly min(size, n); size == 0, a Poisson sample with
 * rate q. O(drawn), never O(n). Returns how many were drawn.
 */
uint32_t pfli_pop_draw(struct pfli_pop *p, double q, uint32_t size,
                       uint32_t *out, uint32_t cap);

struct pfli_sched;

struct pfli_sim {
	struct pfl_dataset train;
	/* over min(clients, examples) shards: client i holds shard
	 * i mod part.clients */
	struct pfl_partition part;
	struct pfli_pop pop;
	uint32_t n;
	struct pfl_client_opts opts; /* every client's, but its seed */
	uint8_t server_pk[32];
	uint32_t cohort_cap;      /* most clients a round can draw */
	uint32_t peak_resident;   /* most clients with an identity at once */
	struct pfli_sched *sched; /* the one drawing cohorts (threads) */
};

/* Load the training data, partition it, set up the population. */
pfl_err pfli_sim_load(const struct pfl_sim_config *c, struct pfli_sim *s);
void pfli_sim_unload(struct pfli_sim *s);
/* The data of client index (a shard of the partition; no allocation). */
void pfli_sim_client_data(const struct pfli_sim *s, uint32_t index,
                          struct pfl_client_data *d);
/* The faults of every client (parsed from --dropout etc.). */
void pfli_sim_faults(const struct pfl_sim_config *c,
                     struct pfl_client_faults *f);
/* The options every virtual client runs with (pins server_pk). */
void pfli_sim_client_opts(const struct pfl_sim_config *c, struct pfli_sim *sim,
                          const uint8_t *server_pk);
/* The most clients one round can draw (the aggregator's cohort cap). */
uint32_t pfli_sim_cohort_cap(const struct pfl_sim_config *c);
/* Worker threads of the one-process simulator. */
int64_t pfli_sim_threads(const struct pfl_sim_config *c);

/*
 * limits.c: whether the machine can hold this simulation (memory, memory
 * mappings); on PFL_ERR_CONFIG, err says what it could hold and why.
 */
struct pfli_sim_machine {
	uint64_t avail_bytes; /* MemAvailable, cgroup and rlimits */
	uint64_t max_maps;    /* vm.max_map_count */
};
void pfli_sim_machine_probe(struct pfli_sim_machine *m);
pfl_err pfli_sim_capacity(const struct pfl_sim_config *c, size_t num_params,
                          size_t examples, const struct pfli_sim_machine *m,
                          char *err, size_t errlen);

/*
 * Step clients until *done (worker pool, sched.c). Without a, clients
 * [first, first+count) are resident (--processes children); with a, the
 * aggregator draws every cohort through this pool (pfl_agg_sample_fn)
 * and only the cohort's clients exist, and its notifications wake them.
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
