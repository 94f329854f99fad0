/* Internal to the aggregator module. */
#ifndef PRIVFL_AGG_INT_H
#define PRIVFL_AGG_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "privfl/accountant.h"
#include "privfl/aggregator.h"
#include "privfl/buf.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/keyset.h"
#include "privfl/layout.h"
#include "privfl/model.h"
#include "privfl/msg.h"
#include "privfl/noise.h"
#include "privfl/replay.h"
#include "privfl/secagg.h"
#include "privfl/strategy.h"
#include "privfl/transport.h"

/*
 * The fewest clients secure aggregation runs with: with two, each would
 * learn the other's update from the sum (config check, selection).
 */
#define PFLI_SA_MIN_CLIENTS 3

/* Example count at which a masked update gets full weight (docs). */
#define PFLI_SA_WEIGHT_CAP 10000.0

/* A client the aggregator has heard from (open-addressing table by key). */
struct pfli_client {
	uint8_t pk[32];
	bool used;
	int64_t last_seen_ms;
	uint64_t rolled_round; /* selection epoch whose draw it took part in */
	int32_t member;        /* index into the round's cohort, or -1 */
	double tokens;         /* request rate limit (token bucket) */
	int64_t refill_ms;
	/* health.c: recent failures and the back-off they earned */
	uint32_t failures;        /* rounds failed in a row */
	uint32_t last_why;        /* the last one's withdraw reason (0: none
	                             sent: the client went silent) */
	int64_t backoff_until_ms; /* out of selection until then (0: not) */
	bool backed_off;          /* the state last logged */
	uint64_t released_round;  /* last round released with its update */
	uint64_t told_released;   /* ... as last told to the client */
	/* selection.c: pace steering */
	uint64_t due_epoch; /* the selection it was steered to (0: none) */
	double due_p;       /* the check-in probability it was steered with */
	int64_t due_ms;     /* when it was told to come back */
};

struct pfli_clients {
	struct pfli_client *slots;
	size_t cap;
	size_t count;
};

/* Who may send (clients.c): the allow-list and the revocation list. */
struct pfli_keys {
	struct pfl_keyset *allowed; /* enrolled_keys minus revoked_keys;
	                               NULL = open enrollment */
	struct pfl_keyset *revoked; /* open enrollment: revoked_keys (none
	                               enrolled); NULL when unset */
};

/* Replay state is kept for at most this many client keys at once. */
#define PFLI_REPLAY_MAX_KEYS (1u << 20)

enum pfli_round_state {
	PFLI_R_IDLE,
	PFLI_R_SELECTING,
	PFLI_R_RUNNING,
	PFLI_R_FINALIZING,
};

struct pfli_member {
	uint8_t pk[32];
	bool got_plan;
	bool got_model;
	bool sent_update;
	uint8_t sa_done; /* bit per SecAgg phase submitted */
	bool withdrawn;  /* sent WITHDRAW: its slot is closed */
	double train_loss;
};

struct pfli_round {
	uint64_t number;
	uint64_t epoch; /* selection attempt (unique across retries) */
	enum pfli_round_state state;
	int64_t opened_ms;
	int64_t select_end_ms;
	int64_t deadline_ms;       /* results deadline (training) */
	int64_t running_since_ms;  /* end of selection */
	int64_t last_result_ms;    /* last update / masked input accepted */
	int64_t results_closed_ms; /* when updates / masked inputs closed */
	int64_t phase_deadline_ms; /* current SecAgg phase */
	double q;                  /* inclusion probability of each draw */
	double q_charged;          /* the rate the accountant was charged */
	uint32_t draws;            /* eligible check-ins that took their draw */
	/* DP: sum over the draws of min(1, q / p_i) / q, the draws at rate q
	 * that give the same expected cohort (accounting's re-draw bound) */
	double draw_mass;
	uint32_t expected_draws; /* check-ins expected, when it opened */
	struct pfli_member *members;
	uint32_t n;
	uint32_t cap;
	/* secure aggregation */
	struct pfl_sa_server *sa;
	int sa_mode;  /* the protocol used this round (secagg+ falls back to
	                 secagg for cohorts too small for its guarantees) */
	int sa_phase; /* phase currently open */
	bool sa_closed[PFL_SA_PHASES];
	uint32_t sa_t;
	uint32_t sa_k;
	uint8_t sa_seed[32];
	uint8_t round_ctx[32];
	double quant_scale;
	/* plain aggregation */
	float *acc;
	float *acc_undo; /* vector_len floats, scratch for pfli_accum_add */
	uint32_t received;
	uint32_t withdrawn;    /* members that withdrew (their slots closed) */
	double train_loss_sum; /* plain mode without DP only (see docs) */
	uint32_t train_loss_n;
	/* the plan of this round */
	double clip_norm;
	double client_noise_sigma;
	uint32_t vector_len;
	uint32_t eval_cap;    /* federated evaluation (fedeval.c); 0: none */
	uint32_t eval_off;    /* ... its slots' offset in the vector */
	uint8_t *model_reply; /* cached signed MODEL message */
	uint8_t model_digest[32]; /* its digest, announced in the plans */
	size_t model_reply_len;
	bool aborted;
	uint64_t bytes_up;
	uint64_t bytes_down;
};

/* Ahead of how many selections steered clients are counted. */
#define PFLI_SEL_RING 256

/* How cohorts are chosen (selection.c). */
struct pfli_selection {
	uint64_t epoch;          /* selection attempts so far */
	uint64_t resamples;      /* DP selections that drew too few */
	int64_t idle_since_ms;   /* waiting for clients since (0: not) */
	int64_t idle_logged_ms;  /* last "waiting for clients" line */
	int64_t short_logged_ms; /* last "waiting for more check-ins" */
	/* pace steering */
	double online;            /* clients online, last estimate */
	double p;                 /* check-in probability per attempt */
	int64_t period_ms;        /* between round openings (mean) */
	uint32_t gaps;            /* ... of so many (up to 20) */
	int64_t last_open_ms;     /* when the last round opened */
	uint64_t last_open_round; /* ... its number */
	int64_t skipped_ms;       /* when a DP selection was last skipped */
	uint32_t steered[PFLI_SEL_RING]; /* clients steered to an epoch */
	uint32_t checkins_round;         /* check-ins of clients outside the
	                                    cohort since the last round report */
};

struct pfli_http; /* http.c */

struct pfl_aggregator {
	struct pfl_agg_config cfg;
	pthread_mutex_t mtx;
	/* atomic: set by signal handlers and other threads (lock-free, so
	 * async-signal-safe) */
	atomic_int stop;
	atomic_int reload_keys; /* SIGHUP: re-read the allow-list */
	bool budget_spent; /* stopped because the next round would exceed it */
	struct pfl_identity *id;
	struct pfli_keys keys; /* swapped under mtx on SIGHUP */
	struct pfl_replay *replay;
	struct pfl_server *server;
	struct pfl_wire_limits limits;
	struct pfl_csprng *rng; /* selection draws, retry jitter (any thread) */
	/* DP noise only: accounting.c, on the finishing thread, never shared */
	struct pfl_csprng *dp_rng;
	/* model */
	struct pfl_model_spec spec; /* built-in models */
	struct pfl_layout *layout; /* custom models (custom_model.c), or NULL */
	char model_name[48];
	size_t num_params;
	float *global;
	uint8_t model_hash[32];
	struct pfl_model *eval_model;
	struct pfl_dataset test;
	bool have_test;
	struct pfl_strategy *strategy;
	/* privacy */
	struct pfl_accountant *acct;
	double clip_norm; /* current (adaptive) */
	double epsilon;
	/* P(a client was drawn in none of the attempts aborted after their
	 * selection since the last release); 1 = none aborted */
	double abort_miss;
	pfl_err fatal; /* why the federation stopped on its own (not BUDGET) */
	/* rounds */
	struct pfli_clients clients;
	struct pfli_selection sel;
	struct pfli_round round;
	uint64_t rounds_done;
	double last_round_seconds;
	int64_t est_run_ms; /* how long the last round ran after selection */
	double run_started;
	FILE *csv;
	bool tty; /* stderr is a terminal: progress lines for people */
	pfl_agg_observer_fn observer;
	void *observer_arg;
	pfl_agg_notify_fn notify;
	void *notify_arg;
	pfl_agg_sample_fn sampler; /* cohorts drawn by the embedder */
	void *sampler_arg;
	pthread_cond_t wake; /* the round loop: something worth a tick */
	struct pfli_reporter *reporter; /* report.c */
	struct pfl_round_report last;
	uint64_t total_up;
	uint64_t total_down;
	uint32_t refusals_logged;
	/* operability: read by http.c, written by results.c (under mtx) */
	struct pfl_round_report *history; /* every round reported */
	size_t nhistory;
	size_t caphistory;
	uint64_t checkins; /* check-in requests served */
	uint64_t aborted_rounds;
	struct pfli_http *http; /* http.c's state */
	FILE *audit;            /* audit.c's append-only log */
	uint8_t audit_prev[32]; /* hash of the last audit line */
	uint64_t audit_last_round;
	struct pfl_buf pending_audit; /* this round's line, also checkpointed */
	/* this round's report, checkpointed with the reports whose rounds.csv
	 * row is not written yet (report.c), so that a resume writes them */
	struct pfl_round_report pending_report;
	struct pfl_round_report *recovered; /* those of the checkpoint
	                                       resumed from (results.c) */
	size_t nrecovered;
};

/*
 * Operability (http.c, audit.c). The HTTP server serves /metrics
 * (Prometheus text), /status (JSON) and / (a self-refreshing page with
 * plots) on cfg.http_listen; its handlers take a->mtx to read state.
 */
/* Relay the members' enrollment certificates (sa_certs.c). */
pfl_err pfli_sa_relay_certs(const struct pfl_aggregator *a,
                            struct pfli_round *r);

pfl_err pfli_http_open(struct pfl_aggregator *a);
void pfli_http_close(struct pfl_aggregator *a);
/* Open OUT/audit.log, verify its chain, remember the last hash/round. */
pfl_err pfli_audit_open(struct pfl_aggregator *a);
void pfli_audit_close(struct pfl_aggregator *a);
/* The JSON object (no newline, no chain fields) describing a round. */
pfl_err pfli_audit_format(struct pfl_aggregator *a,
                          const struct pfl_round_report *rep,
                          const uint8_t (*selected)[32], uint32_t nselected,
                          const uint8_t (*survived)[32], uint32_t nsurvived,
                          struct pfl_buf *line);
/* Append one line: adds "prev" (hash of the previous line), writes, fsyncs. */
pfl_err pfli_audit_append(struct pfl_aggregator *a, const char *json,
                          size_t len);

/* clients.c */
pfl_err pfli_clients_init(struct pfli_clients *t, size_t cap);
void pfli_clients_fini(struct pfli_clients *t);
struct pfli_client *pfli_clients_get(struct pfli_clients *t,
                                     const uint8_t pk[32], bool create);
size_t pfli_clients_available(const struct pfli_clients *t, int64_t since_ms);
/*
 * Load enrolled_keys and revoked_keys of cfg. The revocation list applies
 * whether or not there is an allow-list. On error *out is untouched (the
 * cause is logged).
 */
pfl_err pfli_keys_load(const struct pfl_agg_config *cfg,
                       struct pfli_keys *out) PFL_WUR;
void pfli_keys_fini(struct pfli_keys *k);
/* Whether pk may send; when not, *revoked tells whether it was revoked. */
bool pfli_keys_admit(const struct pfli_keys *k, const uint8_t pk[32],
                     bool *revoked);

/*
 * health.c: each client's recent failures (a withdrawal, or a round it
 * was selected for and sent nothing in) and the growing back-off that
 * keeps a client that keeps failing out of selection. All under a->mtx.
 */
/* Whether cl is backed off now (its check-ins are not drawn). */
bool pfli_health_is_backed_off(struct pfl_aggregator *a, struct pfli_client *cl,
                               int64_t now);
/* cl failed a round (why: a pfl_withdraw_reason, 0 = went silent). */
void pfli_health_fail(struct pfl_aggregator *a, struct pfli_client *cl,
                      uint32_t why, int64_t now);
/*
 * The round ends (released or not): members that sent nothing and did not
 * withdraw failed; when released, those in surv succeeded (their
 * released_round is the round's number).
 */
void pfli_health_round_end(struct pfl_aggregator *a, bool released,
                           const uint8_t (*surv)[32], uint32_t nsurv,
                           int64_t now);
/* Clients seen since since_ms that are not backed off. */
size_t pfli_health_available(struct pfl_aggregator *a, int64_t since_ms,
                             int64_t now);
/*
 * After the last round: wait (at most a grace period, or until a->stop)
 * until every client whose update is in that round has been told so, so
 * that clients counting released rounds (max_rounds) can stop. Takes
 * a->mtx.
 */
void pfli_health_linger(struct pfl_aggregator *a);
/* The /status "backoff" array (a JSON array, no trailing comma). */
pfl_err pfli_health_json(struct pfl_aggregator *a, int64_t now,
                         struct pfl_buf *out);

/* serve.c */
void pfli_serve(void *arg, const uint8_t *req, size_t len,
                struct pfl_buf *reply);

/*
 * presample.c: with a sampler (pfl_aggregator_set_sampler), the cohort of
 * the round being opened comes from it: members, draws = population, and
 * the cohort closed to check-ins. Under a->mtx.
 */
pfl_err pfli_presample(struct pfl_aggregator *a, int64_t now) PFL_WUR;

/* round.c */
void pfli_round_tick(struct pfl_aggregator *a, int64_t now);
void pfli_round_reset(struct pfli_round *r);
uint32_t pfli_round_expected(const struct pfli_round *r, int phase);
uint32_t pfli_round_target(const struct pfl_aggregator *a);
/* Secure aggregation's protocol and (k, t) for a cohort of n, refusing
 * (PFL_ERR_CONFIG, logged) when no t is safe against sa_corrupt. */
pfl_err pfli_round_sa_params(const struct pfl_agg_config *cfg, uint64_t round,
                             uint32_t n, int *mode, uint32_t *k, uint32_t *t);
/* Under a->mtx: wake the round loop (a result or draw may end a phase). */
void pfli_round_wake(struct pfl_aggregator *a);

/*
 * selection.c: how a cohort is chosen (pace steering, eligibility, the
 * draw, opening and closing a selection). All under a->mtx.
 */
/* The cohort drawn, ceil(clients_per_round x overselect) (fixed without
 * DP; with DP its expectation), and whether it is complete. */
uint32_t pfli_cohort_size(const struct pfl_aggregator *a);
bool pfli_cohort_full(const struct pfl_aggregator *a);
/* The fewest a round runs with: min_clients, and PFLI_SA_MIN_CLIENTS
 * with secure aggregation. */
uint32_t pfli_sel_min_cohort(const struct pfl_aggregator *a);
/* Round thread, state IDLE: open a selection when a cohort is likely. */
void pfli_sel_idle(struct pfl_aggregator *a, int64_t now);
/* Round thread, state SELECTING: true when the cohort may start; false
 * to keep waiting (or, with DP, after resetting for a new draw). */
bool pfli_sel_close(struct pfl_aggregator *a, int64_t now);
/* A check-in: true when cl is a member of the running round (the caller
 * sends its plan); else *retry_ms and *why for the RETRY reply. */
bool pfli_sel_checkin(struct pfl_aggregator *a, struct pfli_client *cl,
                      int64_t now, uint32_t *retry_ms, const char **why);
/* When a client with nothing to do now should come back (pace steering;
 * cl NULL: about when the next selection opens). */
uint32_t pfli_sel_retry(struct pfl_aggregator *a, struct pfli_client *cl,
                        int64_t now);
/* How soon a member waiting for its plan or a phase asks again. */
uint32_t pfli_sel_poll_ms(struct pfl_aggregator *a);
/* Check-ins since the last call (the round report's column). */
uint32_t pfli_sel_round_checkins(struct pfl_aggregator *a);

/* finish.c */
pfl_err pfli_round_finish(struct pfl_aggregator *a);

/*
 * fedeval.c: federated evaluation (docs/CLIENT.md, "Federated evaluation").
 * plan: whether the round asks for it (not under DP: its figures would be a
 * release outside epsilon) and the slots it adds to r->vector_len. update_ok: a
 * plain update's slots are possible (each in range); refused otherwise. report:
 * the weighted figures of the round's summed slots into rep.
 */
void pfli_fedeval_plan(const struct pfl_aggregator *a, struct pfli_round *r);
bool pfli_fedeval_update_ok(const struct pfli_round *r, const uint8_t *data,
                            size_t len);
void pfli_fedeval_report(const struct pfli_round *r, const float *sum,
                         uint32_t survivors, struct pfl_round_report *rep);
/* From the three sums (w, accuracy * w, scaled loss * w), tol the
 * quantization slack: false (rep untouched) when they are impossible. */
bool pfli_fedeval_from_sums(const double s[3], uint32_t cap, uint32_t survivors,
                            double tol, struct pfl_round_report *rep);

/*
 * accounting.c: every privacy decision of a round (docs/PRIVACY.md). All
 * run on the aggregator's round thread.
 */
struct pfli_charge {
	double q;       /* sampling rate charged */
	double z;       /* noise multiplier charged (noise / sensitivity) */
	double below;   /* adaptive clip: noised count of unclipped updates */
	double count_n; /* ... out of this many */
};
/* The privacy rules a configuration must meet (pfl_agg_config_check). */
pfl_err pfli_privacy_check_config(const struct pfl_agg_config *c, char *err,
                                  size_t errlen);
/* Adaptive clipping: the update's noise multiplier z_delta and the count's
 * stddev, such that both releases together cost one Gaussian of z. */
pfl_err pfli_acct_clip_noise(const struct pfl_agg_config *c, double *z_delta,
                             double *count_stddev);
/* The probability with which each check-in is drawn. */
double pfli_acct_draw_rate(const struct pfl_agg_config *c, size_t available);
/*
 * The sampling rate charged for a round drawn with probability q over
 * `draws` check-ins: corrected for re-draws of too small cohorts and for
 * attempts aborted after selection since the last release; 1 in the
 * modes whose adversary sees the cohort (distributed, local).
 */
double pfli_acct_rate(const struct pfl_aggregator *a, double q, double draws);
/* A round aborted after its cohort was drawn (its draws stay charged). */
void pfli_acct_aborted(struct pfl_aggregator *a);
/* Budget check before a round opens: PFL_ERR_BUDGET to stop. */
pfl_err pfli_acct_check_open(const struct pfl_aggregator *a, size_t available);
/* Clients of a cohort of n that may collude with the server (sa_corrupt). */
uint32_t pfli_acct_colluders(const struct pfl_agg_config *c, uint32_t n);
/* The round's clip, client noise and quantization scale. */
pfl_err pfli_acct_plan(struct pfl_aggregator *a);
/* Central noise into sum (a->dp_rng), and what the round would charge. */
pfl_err pfli_acct_privatize(struct pfl_aggregator *a, float *sum,
                            uint32_t survivors, struct pfli_charge *ch);
/* Budget check at release, with what would be charged (under a->mtx). */
pfl_err pfli_acct_check_release(struct pfl_aggregator *a,
                                const struct pfli_charge *ch);
/* Charge the accountant and update a->epsilon (under a->mtx). */
pfl_err pfli_acct_charge(struct pfl_aggregator *a,
                         const struct pfli_charge *ch);

/* results.c */
/* custom_model.c: model = custom, federating init_model's tensors. */
bool pfli_model_is_custom(const struct pfl_agg_config *cfg);
/* Load the layout and initial weights into a->layout, a->global,
 * a->num_params and a->model_name ("custom:<digest>"). */
pfl_err pfli_custom_setup(struct pfl_aggregator *a);
void pfli_custom_free(struct pfl_aggregator *a);

/* Open rounds.csv; when resuming, first write the rows of released rounds
 * that the checkpoint holds and the file lacks (a->recovered), then reload
 * the /status history from it. */
pfl_err pfli_results_open(struct pfl_aggregator *a);
void pfli_results_round(struct pfl_aggregator *a,
                        const struct pfl_round_report *r);
pfl_err pfli_results_save_model(struct pfl_aggregator *a, const char *name);
/*
 * report.c: rounds.csv rows, progress lines and evaluations on a thread of
 * their own, in the order queued. pfli_report_round copies params (the
 * released model, to evaluate; NULL = none) and may block while two
 * evaluations are pending; never holds a->mtx while waiting, so it may be
 * called under it when params is NULL. drain waits for every queued
 * report (call without a->mtx); stop drains, ends the thread, frees.
 */
pfl_err pfli_report_start(struct pfl_aggregator *a);
void pfli_report_round(struct pfl_aggregator *a,
                       const struct pfl_round_report *rep, const float *params);
void pfli_report_drain(struct pfl_aggregator *a);
void pfli_report_stop(struct pfl_aggregator *a);
/*
 * Append (as struct pfl_round_report records) the reports of released
 * rounds that are queued or being written, whose rounds.csv row is
 * therefore not written yet. Any thread; takes the reporter's lock only.
 */
pfl_err pfli_report_unwritten(struct pfl_aggregator *a, struct pfl_buf *out);
/* Score params on the test set into rep's accuracy and loss (the caller
 * owns a->eval_model: the reporter thread, or nobody else yet). */
void pfli_report_evaluate(struct pfl_aggregator *a, const float *params,
                          struct pfl_round_report *rep);

/* checkpoint.c */
pfl_err pfli_checkpoint_write(struct pfl_aggregator *a);
pfl_err pfli_checkpoint_restore(struct pfl_aggregator *a);

#endif
