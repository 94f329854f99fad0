/*
 * privfl — the client: takes part in a federation from a device.
 *
 * A pfl_client holds one participant's protocol state (identity, current
 * plan, secure-aggregation keys). It owns no socket and no model: each
 * pfl_client_step borrows a connection (struct pfl_conn) and a trainer, so
 * that the daemon (one client, one connection) and the simulator (thousands
 * of clients sharing a few worker threads, connections and models) run the
 * very same code. Local data never leaves the client; only the clipped,
 * noised, quantized and masked update is sent.
 *
 * Embedding: supply a struct pfl_trainer whose train callback runs your
 * own training step (see docs/EMBEDDING.md), or use the built-in trainer
 * (pfl_trainer_model_init) over a struct pfl_dataset.
 *
 * Thread-safety: a pfl_client is used by one thread at a time; different
 * clients may step concurrently. A trainer is used by one thread at a time.
 */
#ifndef PRIVFL_CLIENT_H
#define PRIVFL_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/config.h"
#include "privfl/dataset.h"
#include "privfl/err.h"
#include "privfl/identity.h"
#include "privfl/msg.h"
#include "privfl/transport.h"

/*
 * The client's local data: samples idx[0..n) of ds (idx NULL = all), and
 * the held-out samples eval_idx[0..eval_n) of eval_ds that federated
 * evaluation scores the global model on (eval_n 0: none; they are never
 * trained on). A custom trainer may leave ds NULL and use user.
 */
struct pfl_client_data {
	const struct pfl_dataset *ds;
	const uint32_t *idx;
	size_t n;
	void *user; /* for a custom trainer */
	const struct pfl_dataset *eval_ds;
	const uint32_t *eval_idx;
	size_t eval_n;
};

/* What the aggregator asks for in one round. */
struct pfl_task {
	uint64_t round;
	const struct pfl_msg_plan *plan;
	uint64_t seed; /* local shuffling/augmentation seed */
	/* Optional (NULL: none): where a trainer that fails may say what
	 * happened in words, e.g. "training diverged (loss is NaN at step
	 * 12)"; logged and sent to the aggregator in the WITHDRAW. No data,
	 * no weights. */
	char *why;
	size_t whylen;
};

/*
 * Train from global (num_params floats) on data; write the local model to
 * local (num_params floats), the number of examples used and the mean
 * training loss. Return PFL_OK or an error (the round is then skipped).
 */
typedef pfl_err (*pfl_train_fn)(void *arg, const struct pfl_client_data *data,
                                const struct pfl_task *task,
                                const float *global, float *local,
                                uint32_t *num_examples, double *train_loss);

/*
 * Federated evaluation (docs/CLIENT.md): what the global model scores on
 * this client's held-out data. Examples are counted, the loss is the mean
 * over them, the accuracy the share predicted right, in [0, 1].
 */
struct pfl_eval_result {
	uint32_t num_examples;
	double loss;
	double accuracy;
};

/*
 * Score global (num_params floats, the model the round started from) on
 * the held-out data (data->eval_*, or what your own trainer holds out)
 * into *out. Called before training in a round whose plan asks for
 * evaluation (plan->eval_cap > 0). An error, a non-finite value, an
 * accuracy outside [0, 1] or a negative loss reports no evaluation (zero
 * examples) for this round; training goes on.
 */
typedef pfl_err (*pfl_eval_fn)(void *arg, const struct pfl_client_data *data,
                               const struct pfl_task *task, const float *global,
                               struct pfl_eval_result *out);

/*
 * evaluate may be NULL: this client then reports no evaluation. Initialize
 * the whole struct (= {.train = f, .arg = a}, or memset): a field left
 * unset is called. Fields may be added at the end in later versions.
 */
struct pfl_trainer {
	pfl_train_fn train;
	void *arg;
	pfl_eval_fn evaluate;
};

/*
 * The built-in trainer: privfl's own engine (model/) on pfl_dataset; its
 * evaluate scores data->eval_idx of data->eval_ds.
 */
pfl_err pfl_trainer_model_init(struct pfl_trainer *t) PFL_WUR;
void pfl_trainer_model_fini(struct pfl_trainer *t);

/* Faults injected by the simulator (all zero for a real client). */
struct pfl_client_faults {
	double dropout;       /* P(vanish in a round) */
	int dropout_phase;    /* pfl_sa_phase where it vanishes; -1: before
	                         sending its update */
	double straggler;     /* P(being slow in a round) */
	int64_t straggler_ms; /* how slow */
};

/*
 * What this client agrees to share (docs/CLIENT.md, "Privacy policy").
 * Every plan is checked against it before the model is fetched or any
 * training runs; a plan that breaks a rule is refused with one log line
 * naming the rule, the client stays out of that round, and its update is
 * never computed. All zero: any plan is accepted.
 */
struct pfl_client_policy {
	/* weakest DP mode accepted, a plan "dp" value ordered by what the
	 * aggregator gets to see: 0 none < 1 central < 2 distributed <
	 * 3 local */
	uint8_t min_dp_mode;
	/* smallest noise multiplier accepted: the noise this device adds,
	 * over the plan's clip norm, in the smallest aggregate the server
	 * can unmask (0 = any; central noise counts as 0: no device can
	 * check it) */
	double min_noise_multiplier;
	/* largest clip norm accepted; 0 = any (a plan without clipping is
	 * refused when set) */
	double max_clip_norm;
	/* weakest secure aggregation accepted (enum pfl_sa_mode), ordered
	 * off < secagg+ < secagg */
	uint8_t min_sa_mode;
	/* fewest clients in any sum the server can unmask: 1 without
	 * secure aggregation, the plan's threshold t with it (0 = any) */
	uint32_t min_aggregate_clients;
	/* at most this many rounds taken part in (plans accepted) within any
	 * participation_window consecutive round numbers; 0 = unlimited */
	uint32_t max_participations;
	uint32_t participation_window;
};

/*
 * Whether plan p obeys policy pol (everything but the participation
 * limit, which needs the client's history). On false, why (if not NULL)
 * gets a short text naming the broken rule, for the log.
 */
bool pfl_client_policy_allows(const struct pfl_client_policy *pol,
                              const struct pfl_msg_plan *p, char *why,
                              size_t whylen);

struct pfl_client_opts {
	const char *federation_id;
	/* pinned aggregator key (copied): replies signed by another key are
	 * refused. NULL is accepted only with insecure */
	const uint8_t *server_key;
	/* accept replies signed by any key when server_key is NULL: only for
	 * a channel that authenticates the server itself (tls+tcp:// with a
	 * CA; privfl-client sets it then) or for tests */
	bool insecure;
	struct pfl_client_policy policy;
	/* enrollment authority key (copied): SecAgg neighbours' keys are used
	 * only with its certificate; NULL = trust the keys the server relays */
	const uint8_t *sa_authority_key;
	struct pfl_wire_limits limits;
	uint64_t seed;          /* local training seed */
	int64_t backoff_min_ms; /* after an error */
	int64_t backoff_max_ms;
	struct pfl_client_faults faults;
	/* the layout digest (privfl/layout.h, copied) of the custom model
	 * this client's trainer trains: plans for another model are refused
	 * (WITHDRAW "model layout differs"). NULL: built-in models only */
	const uint8_t *layout_digest;
};

struct pfl_client;

/*
 * id and data are borrowed and must outlive the client.
 * @return PFL_OK; PFL_ERR_CONFIG (no server_key and not insecure; a
 *         participation limit without a window); PFL_ERR_INVAL; NOMEM
 */
pfl_err pfl_client_new(const struct pfl_client_opts *o,
                       const struct pfl_identity *id,
                       const struct pfl_client_data *data,
                       struct pfl_client **out) PFL_WUR;
void pfl_client_free(struct pfl_client *c);

/*
 * One exchange with the aggregator over conn (plus local training when the
 * plan calls for it). *wait_ms is set to how long to wait before the next
 * step. Errors from the network are handled inside (back-off); the return
 * value is PFL_OK unless the client cannot go on (PFL_ERR_NOMEM, ...).
 */
pfl_err pfl_client_step(struct pfl_client *c, struct pfl_conn *conn,
                        const struct pfl_trainer *tr, int64_t *wait_ms) PFL_WUR;

/*
 * Rounds that the aggregator released with this client's update in them,
 * as the aggregator confirmed (the "rel" of a later reply). A delivered
 * update whose round was then abandoned does not count; max_rounds counts
 * these.
 */
uint64_t pfl_client_rounds_released(const struct pfl_client *c);

/*
 * Step until *stop becomes non-zero (the loop of pfl_client_run_config,
 * over a client and connection of your own). Waits between steps are cut
 * short by *stop within 50 ms, and so is a request waiting for the
 * aggregator (pfl_conn_set_stop; a local training step in progress
 * finishes first). A request cut short that way aborts conn: free it with
 * pfl_conn_close, and open a new one to run again.
 */
pfl_err pfl_client_run(struct pfl_client *c, struct pfl_conn *conn,
                       const struct pfl_trainer *tr,
                       volatile sig_atomic_t *stop) PFL_WUR;

/* Rounds whose result this client delivered. */
uint64_t pfl_client_rounds_done(const struct pfl_client *c);
/* True while the client holds a plan (between selection and result). */
bool pfl_client_is_busy(const struct pfl_client *c);

/* The daemon's settings (privfl-client), described by the table below. */
struct pfl_client_config {
	char *server;
	char *federation_id;
	char *identity_dir;
	char *server_key;
	bool insecure;
	char *sa_authority_key;
	char *tls_ca_file;
	char *tls_server_name;
	char *data;
	int64_t shard;
	int64_t shards;
	char *eval_data;      /* held-out data file; "" = eval_fraction */
	double eval_fraction; /* of data held out for evaluation */
	char *csv_stats;
	char *csv_label;
	int64_t max_message_mb;
	int64_t request_timeout_ms;
	int64_t backoff_min_ms;
	int64_t backoff_max_ms;
	int64_t seed;
	int64_t max_rounds;
	char *log_level;
	/* privacy policy (struct pfl_client_policy) */
	int min_dp_mode; /* index of none|central|distributed|local */
	double min_noise_multiplier;
	double max_clip_norm;
	int require_secure_aggregation; /* index of off|secagg|secagg+ */
	int64_t min_aggregate_clients;
	int64_t max_participations;
	int64_t participation_window;
	/* not a setting: the layout digest of the custom model a trainer of
	 * your own trains (pfl_client_opts.layout_digest; borrowed), NULL for
	 * the built-in models; see privfl/client_run.h */
	const uint8_t *layout_digest;
};

/* The policy the settings describe. */
void pfl_client_config_policy(const struct pfl_client_config *c,
                              struct pfl_client_policy *pol);

extern const struct pfl_cfg_entry pfl_client_config_table[];
extern const size_t pfl_client_config_table_len;
pfl_err pfl_client_config_init(struct pfl_client_config *c, char *err,
                               size_t errlen) PFL_WUR;
void pfl_client_config_fini(struct pfl_client_config *c);

/*
 * For bindings that do not mirror struct pfl_client_config (Python's
 * ctypes): a config with every default, owned by the caller
 * (pfl_client_config_free, which accepts NULL); settings by their names in
 * pfl_client_config_table, values as text as in a config file ("64",
 * "true", "secagg+"). err (optional) gets a message naming the setting.
 * @return PFL_OK; PFL_ERR_NOTFOUND (no such setting); PFL_ERR_CONFIG
 *         (a value out of range or of the wrong type); PFL_ERR_NOMEM
 */
pfl_err pfl_client_config_new(struct pfl_client_config **out) PFL_WUR;
void pfl_client_config_free(struct pfl_client_config *c);
pfl_err pfl_client_config_set(struct pfl_client_config *c, const char *name,
                              const char *value, char *err,
                              size_t errlen) PFL_WUR;

/*
 * The client daemon in one call: what privfl-client runs after parsing its
 * settings, and what the Python package and other embedders call. It
 *  - checks that the aggregator is pinned (server_key, or tls+tcp:// with
 *    tls_ca_file, or insecure) and loads the keys and the identity;
 *  - with tr NULL: loads the local data (data, shard/shards, csv_*) and
 *    holds out the evaluation examples (eval_data or eval_fraction, see
 *    docs/CLIENT.md), and trains with the built-in trainer; with a trainer
 *    of your own, no data is loaded: tr's callbacks get a
 *    pfl_client_data whose ds is NULL and whose user is `user`;
 *  - connects and steps (pfl_client_step) until *stop becomes non-zero,
 *    max_rounds rounds were released with this client's update (as the
 *    aggregator confirms, see pfl_client_rounds_released), or an error
 *    retrying cannot fix (a wrong server key).
 * A thread of its own watches *stop and aborts a request in flight, so
 * that the call returns within about 100 ms of *stop being set even while
 * the aggregator does not answer. stop may be NULL (run to max_rounds, or
 * for ever). cfg, tr and user are borrowed for the call; the caller's
 * signal handlers are left alone. Logs through pfl_log (set the level
 * first, e.g. pfl_log_set_level_name(cfg->log_level, ...)).
 * @return PFL_OK (stopped, or max_rounds reached); PFL_ERR_CONFIG (not
 *         pinned, shard >= shards, CSV without csv_stats, ...);
 *         PFL_ERR_AUTH (the aggregator signs with another key than
 *         server_key); a load error (PFL_ERR_NOTFOUND, PFL_ERR_IO,
 *         PFL_ERR_PROTO ...) for keys, identity or data; PFL_ERR_NOMEM
 */
pfl_err pfl_client_run_config(const struct pfl_client_config *cfg,
                              const struct pfl_trainer *tr, void *user,
                              volatile sig_atomic_t *stop) PFL_WUR;

#endif
