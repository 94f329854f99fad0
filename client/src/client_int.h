/* Internal to the client module. */
#ifndef PRIVFL_CLIENT_INT_H
#define PRIVFL_CLIENT_INT_H

#include "privfl/client.h"
#include "privfl/noise.h"

#include <string.h>

#include "privfl/rng.h"
#include "privfl/secagg.h"

/* The client's protocol state (client.c); its steps are client.c's. */
enum cstate {
	CS_CHECKIN,
	CS_MODEL,
	CS_TRAIN,    /* plain mode: train and send the update */
	CS_SA_START, /* secagg: submit AdvertiseKeys */
	CS_SA_FETCH, /* secagg: fetch phase sa_phase's output, submit next */
	CS_DELAYED,  /* straggler: send the prepared message after a wait */
};

struct pfl_client {
	struct pfl_client_opts o;
	char fed[PFL_FED_ID_MAX + 1];
	uint8_t server_key[32];
	bool pinned;
	uint8_t sa_auth[32]; /* enrollment authority (secagg certificates) */
	uint8_t sa_fed[32];  /* its federation hash */
	bool sa_auth_set;
	const struct pfl_identity *id;
	const struct pfl_client_data *data;
	struct pfl_csprng *rng;
	struct pfl_rng frng;
	enum cstate st;
	int sa_phase;
	uint64_t round;
	uint8_t reply_digest[PFL_MSG_DIGEST_BYTES]; /* of the last reply */
	uint64_t left_round;    /* the round given up last (0: none) */
	int64_t left_until_ms;  /* ... whose plan's deadline is then */
	uint8_t left_model[32]; /* ... and whose plan named this MODEL */
	int64_t deadline_at_ms; /* the current plan's deadline */
	struct pfl_msg_plan plan;
	float *global;
	float *local;
	float *vec;
	uint32_t *qvec;
	size_t cap;
	struct pfl_sa_client *sa;
	bool drop;
	int drop_phase;
	bool straggle;
	int64_t backoff_ms;
	uint64_t rounds_done;     /* updates delivered (ACKed) */
	uint64_t rounds_released; /* ... in rounds the server released */
	uint64_t last_released;   /* the highest "rel" heard */
	uint64_t pending[8];      /* delivered, release not yet confirmed */
	bool heard_server;        /* a reply from the pinned key came */
	uint64_t refused_round;   /* the last round whose plan was refused */
	pfl_err fatal;            /* retrying cannot fix it: stop */
	char why[64];             /* what went wrong in this round, in words */
	uint32_t num_examples;
	double train_loss;
	enum pfl_msg_type delayed_type; /* the prepared message to send */
	int delayed_phase;
	struct pfl_buf delayed_payload;
	struct pfl_buf req;
	struct pfl_buf rep;
	uint64_t *part_rounds; /* rounds taken part in, the last max_... */
	uint32_t part_n;
	uint32_t part_next;
	uint8_t layout[32]; /* o.layout_digest, when layout_set */
	bool layout_set;
};

/* dst = src, cut to cap - 1 bytes; always terminated. */
static inline void
copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * released.c: what the aggregator confirmed. note_released takes the
 * "rel" of a reply, note_delivered records an ACKed update of c->round.
 */
void pfli_note_released(struct pfl_client *c, uint64_t rel);
void pfli_note_delivered(struct pfl_client *c);

/* plan_check.c: a plan's consistency, and the privacy policy (logs). */
bool pfli_plan_is_sane(const struct pfl_client *c,
                       const struct pfl_msg_plan *p);
bool pfli_policy_allows(struct pfl_client *c, const struct pfl_msg *r);

/*
 * The update pipeline: delta = local - global, weight, clip, local noise,
 * quantize (and the distributed noise share) as the plan says. vec gets
 * the float vector (vector_len), qvec the quantized one when the plan has
 * a quant_scale (else untouched). Masking is secure aggregation's step.
 */
pfl_err pfli_pipeline(const struct pfl_msg_plan *plan, const float *global,
                      const float *local, uint32_t num_examples,
                      struct pfl_csprng *rng, float *vec,
                      uint32_t *qvec) PFL_WUR;

/* Weight of an update with n examples under the plan (see docs). */
double pfli_update_weight(const struct pfl_msg_plan *plan, uint32_t n);

/*
 * The example count an update reports: n without DP (weighting), 0 under
 * any DP mode, where the size of the local data set is private.
 */
uint32_t pfli_update_examples(const struct pfl_msg_plan *plan, uint32_t n);

/* Fewest clients in a sum the server can see under the plan. */
uint32_t pfli_plan_aggregate(const struct pfl_msg_plan *plan);

/*
 * The plan's noise multiplier as this device can check it: the noise it
 * adds itself (local; or its share, distributed, in an aggregate of
 * pfli_plan_aggregate clients) over the clip norm. 0 without clipping and
 * for central noise, which no client can check.
 */
double pfli_plan_noise_multiplier(const struct pfl_msg_plan *plan);

/*
 * Whether taking part in round obeys pol's participation limit, given the
 * rounds[0..n) this client took part in (the last max_participations). On
 * false, why names the rule.
 */
bool pfli_participation_allows(const struct pfl_client_policy *pol,
                               const uint64_t *rounds, uint32_t n,
                               uint64_t round, char *why, size_t whylen);

/*
 * Whether the plan's model is the one this client trains: mine is the
 * layout digest of the custom model it trains (pfl_client_opts
 * .layout_digest), NULL for the built-in models. On false, why says which
 * layout the plan has and which the client trains.
 */
bool pfli_layout_allows(const uint8_t *mine, const struct pfl_msg_plan *p,
                        char *why, size_t whylen);

/*
 * local_data.c: the daemon's data (settings data, shard, csv_*, eval_*):
 * ds with the training examples idx[0..n) and the held-out ones
 * eval_idx[0..eval_n) of ds, or of eval_ds when eval_data names a file.
 */
struct pfli_local_data {
	struct pfl_dataset ds;
	struct pfl_dataset eval_ds;
	uint32_t *idx;
	size_t n;
	uint32_t *eval_idx;
	size_t eval_n;
	bool eval_from_file;
};
pfl_err pfli_local_data_load(const struct pfl_client_config *cfg,
                             struct pfli_local_data *l) PFL_WUR;
/* d's views into l (borrowed: valid while l is). */
void pfli_local_data_view(const struct pfli_local_data *l,
                          struct pfl_client_data *d);
void pfli_local_data_fini(struct pfli_local_data *l);
/* Whether example i of a data file is held out at this fraction. */
bool pfli_eval_held_out(uint64_t i, double fraction);

/*
 * eval.c: federated evaluation. Slots past the parameters in an update
 * vector: the weight, the adaptive-clip indicator (plan aclip), then
 * PFL_EVAL_SLOTS evaluation slots (plan eval_cap > 0).
 */
#define PFLI_VEC_EXTRA (2 + PFL_EVAL_SLOTS)
uint32_t pfli_plan_eval_offset(const struct pfl_msg_plan *p);
uint32_t pfli_plan_vector_len(const struct pfl_msg_plan *p);
/* The slots for result r (zeros for none or an impossible one). */
void pfli_eval_slots(const struct pfl_msg_plan *p,
                     const struct pfl_eval_result *r,
                     float slots[PFL_EVAL_SLOTS]);
/* Score c->global with tr->evaluate into c->vec's slots, when asked. */
void pfli_client_evaluate(struct pfl_client *c, const struct pfl_trainer *tr,
                          const struct pfl_task *task);

#endif
