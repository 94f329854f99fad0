/*
 * privfl — the aggregator: runs a federation.
 *
 * One pfl_aggregator serves the client-driven protocol of docs/PROTOCOL.md
 * on one URL, selects a cohort each round by Poisson sampling of the
 * clients that check in, drives secure aggregation, applies the server
 * strategy, charges the privacy accountant and writes the results
 * (rounds.csv, model files, checkpoints) to out_dir.
 *
 * Thread-safety: pfl_aggregator_run blocks the calling thread until the
 * federation ends or pfl_aggregator_stop is called (from any thread or a
 * signal handler: it only sets a flag). Everything else: one thread.
 */
#ifndef PRIVFL_AGGREGATOR_H
#define PRIVFL_AGGREGATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/config.h"
#include "privfl/err.h"

enum pfl_strategy_kind {
	PFL_STRAT_FEDAVG,
	PFL_STRAT_FEDAVGM,
	PFL_STRAT_FEDADAM,
	PFL_STRAT_FEDYOGI,
	PFL_STRAT_FEDADAGRAD,
	PFL_STRAT_FEDPROX,
};

enum pfl_dp_mode {
	PFL_DP_NONE,
	PFL_DP_CENTRAL,
	PFL_DP_DISTRIBUTED,
	PFL_DP_LOCAL,
};

/* Every setting; the table pfl_agg_config_table describes each. */
struct pfl_agg_config {
	/* network and identity */
	char *listen;
	char *federation_id;
	char *identity_dir;
	char *enrolled_keys;
	char *revoked_keys;
	char *sa_enroll_certs; /* SecAgg enrollment certificates (dir) */
	char *tls_cert_key_file;
	int64_t max_message_mb;
	int64_t workers;
	int64_t max_connections;
	int64_t request_timeout_ms;
	int64_t max_clock_skew_ms;
	double client_rate;
	char *http_listen;
	/* model */
	char *model;
	char *input_shape;
	int64_t classes;
	char *init_model;
	int64_t seed;
	/* rounds */
	int64_t rounds;
	int64_t clients_per_round;
	int64_t min_clients;
	double overselect;
	int64_t population;
	int64_t selection_window_ms;
	double round_timeout_s;
	double phase_timeout_s;
	int64_t checkin_interval_ms;
	/* local training plan */
	int64_t local_epochs;
	int64_t batch;
	double lr;
	double momentum;
	double weight_decay;
	double prox_mu;
	double weight_cap;
	/* server strategy */
	int strategy;
	double server_lr;
	double server_momentum;
	double beta1;
	double beta2;
	double tau;
	/* secure aggregation */
	int secure_aggregation;
	int64_t sa_threshold;
	int64_t sa_neighbours;
	double sa_dropout;
	double sa_corrupt;
	/* differential privacy */
	int dp_mode;
	double noise_multiplier;
	double clip_norm;
	bool adaptive_clip;
	double clip_target_quantile;
	double clip_lr;
	double clip_count_stddev;
	double epsilon_budget;
	double delta;
	int accountant;
	/* evaluation and output */
	char *test_data;
	char *csv_stats; /* statistics of a CSV test_data */
	int64_t eval_every;
	char *out_dir;
	int64_t keep_checkpoints;
	bool save_every_round;
	bool resume;
	char *log_level;
};

extern const struct pfl_cfg_entry pfl_agg_config_table[];
extern const size_t pfl_agg_config_table_len;

/* Defaults for every setting. */
pfl_err pfl_agg_config_init(struct pfl_agg_config *cfg, char *err,
                            size_t errlen) PFL_WUR;
/* Cross-field checks (e.g. distributed DP needs secure aggregation). */
pfl_err pfl_agg_config_check(const struct pfl_agg_config *cfg, char *err,
                             size_t errlen) PFL_WUR;
void pfl_agg_config_fini(struct pfl_agg_config *cfg);

/* One completed round, as written to rounds.csv (and passed to observers). */
struct pfl_round_report {
	uint64_t round;
	double accuracy; /* NaN when not evaluated this round */
	double loss;
	double train_loss;
	double epsilon; /* cumulative; 0 when dp_mode = none */
	double delta;
	uint32_t selected;
	uint32_t survived;
	uint64_t bytes_up;
	uint64_t bytes_down;
	double seconds;
	double clip_norm;
	double noise_sigma; /* realized noise multiplier of the round */
	bool aborted;       /* round abandoned; nothing released */
	/* federated evaluation of the model the round started from, on the
	 * survivors' held-out data, weighted by examples (0 examples: none;
	 * loss and accuracy are then NaN) */
	double fed_eval_loss;
	double fed_eval_accuracy;
	uint64_t fed_eval_examples;
	uint32_t checkins; /* check-ins served since the last report */
};

typedef void (*pfl_agg_observer_fn)(void *arg,
                                    const struct pfl_round_report *r);

/* A change of round state that clients waiting on a retry-after could act
 * on at once (see pfl_aggregator_set_notify). */
enum pfl_agg_event {
	PFL_AGG_EV_SELECTING, /* a round is drawing its cohort: everyone */
	PFL_AGG_EV_RUNNING,   /* the cohort's plans are ready: members */
	PFL_AGG_EV_PHASE,     /* a secure-aggregation phase closed: members */
};

/*
 * Called from the aggregator's thread with its lock held: the callback
 * must be quick and must not call back into the aggregator. `members`
 * lists the public keys concerned (n of them; NULL and 0 for everyone).
 */
typedef void (*pfl_agg_notify_fn)(void *arg, enum pfl_agg_event ev,
                                  const uint8_t (*members)[32], uint32_t n);

struct pfl_aggregator;

/*
 * File descriptors the aggregator keeps for itself beyond max_connections
 * (one a connection): standard streams, audit log, rounds.csv, a checkpoint
 * or model being written and its directory, the allow-list being reloaded,
 * the HTTP status server and its clients, nng's pollers.
 */
#define PFL_AGG_FD_RESERVE 64

/*
 * Create an aggregator from a checked config (copied). Loads the identity,
 * the allow-list and the test data, and resumes from the newest valid
 * checkpoint in out_dir when resume is set.
 *
 * Unless listen is inproc://, max_connections + PFL_AGG_FD_RESERVE file
 * descriptors must fit under RLIMIT_NOFILE: the soft limit is raised
 * towards the hard one as needed, and PFL_ERR_CONFIG (with an error
 * logged naming both numbers) when they still do not fit.
 */
pfl_err pfl_aggregator_new(const struct pfl_agg_config *cfg,
                           struct pfl_aggregator **out) PFL_WUR;
/* Called after each round (from the aggregator's thread). */
void pfl_aggregator_set_observer(struct pfl_aggregator *a,
                                 pfl_agg_observer_fn fn, void *arg);
/*
 * Tell an in-process embedder (the simulator) when waiting clients could
 * come back early: a server cannot reach clients behind NATs, but one
 * running them in the same process can wake them instead of letting them
 * sleep out their retry-after. Set before pfl_aggregator_run.
 */
void pfl_aggregator_set_notify(struct pfl_aggregator *a, pfl_agg_notify_fn fn,
                               void *arg);
/*
 * Draws a round's cohort from the population, for an embedder that models
 * a population larger than it can run (the simulator: only drawn clients
 * exist and check in). Called from the aggregator's thread with its lock
 * held when a round opens. The sampling must be the one the accountant
 * assumes (docs/PRIVACY.md): with size > 0 (dp_mode none) a uniform sample
 * of exactly `size` of the cfg.population clients; with size == 0 a
 * Poisson sample, each client drawn independently with probability q.
 * Writes the drawn clients' public keys to keys (at most cap) and returns
 * how many. They become the cohort at once; no other check-in joins it;
 * the round is charged q over cfg.population. Clients backed off after
 * failed rounds are left out, and a fixed-size cohort is topped up by
 * further calls with the same epoch (the selection attempt), which add to
 * its cohort; a new epoch starts a new cohort.
 */
typedef uint32_t (*pfl_agg_sample_fn)(void *arg, uint64_t epoch, double q,
                                      uint32_t size, uint8_t (*keys)[32],
                                      uint32_t cap);
/*
 * Let fn draw every cohort (see pfl_agg_sample_fn); cfg.population must
 * be set (PFL_ERR_CONFIG otherwise). Set before pfl_aggregator_run. The
 * embedder's clients end with their round, so the aggregator does not
 * wait after the last round to tell them it was released.
 */
pfl_err pfl_aggregator_set_sampler(struct pfl_aggregator *a,
                                   pfl_agg_sample_fn fn, void *arg) PFL_WUR;
/*
 * Serve until all rounds are done, the budget is spent, or stop. The
 * listener stays open (answering "retry") until pfl_aggregator_free.
 */
pfl_err pfl_aggregator_run(struct pfl_aggregator *a) PFL_WUR;
/* Async-signal-safe: re-read enrolled_keys/revoked_keys (SIGHUP). */
void pfl_aggregator_reload_keys(struct pfl_aggregator *a);
/* Async-signal-safe request to stop; run returns PFL_ERR_CLOSED soon. */
void pfl_aggregator_stop(struct pfl_aggregator *a);
/* The aggregator's public key (clients pin it). */
const uint8_t *pfl_aggregator_public_key(const struct pfl_aggregator *a);
/* Rounds completed so far. */
uint64_t pfl_aggregator_rounds_done(const struct pfl_aggregator *a);
void pfl_aggregator_free(struct pfl_aggregator *a);

#endif
