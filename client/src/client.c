/*
 * The client's protocol state machine. Each step is one request/reply
 * exchange (plus local work): check in -> plan -> model -> [secure
 * aggregation phases | plain update] -> check in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "privfl/clock.h"
#include "privfl/enroll.h"
#include "privfl/hash.h"
#include "privfl/log.h"
#include "privfl/rng.h"
#include "privfl/secagg.h"

pfl_err
pfl_client_new(const struct pfl_client_opts *o, const struct pfl_identity *id,
               const struct pfl_client_data *data, struct pfl_client **out)
{
	struct pfl_client *c;

	if (o->federation_id == NULL ||
	    strlen(o->federation_id) > PFL_FED_ID_MAX)
		return PFL_ERR_INVAL;
	if (o->server_key == NULL && !o->insecure) {
		pfl_log(PFL_LOG_ERROR, "no server key pinned: any signer "
		                       "could hand this client a plan");
		return PFL_ERR_CONFIG;
	}
	if (o->policy.max_participations > 0 &&
	    o->policy.participation_window == 0)
		return PFL_ERR_CONFIG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PFL_ERR_NOMEM;
	if (o->policy.max_participations > 0 &&
	    (c->part_rounds = calloc(o->policy.max_participations,
	                             sizeof(uint64_t))) == NULL) {
		free(c);
		return PFL_ERR_NOMEM;
	}
	c->o = *o;
	snprintf(c->fed, sizeof(c->fed), "%s", o->federation_id);
	c->o.federation_id = c->fed;
	if (o->server_key != NULL) {
		memcpy(c->server_key, o->server_key, 32);
		c->pinned = true;
	}
	c->o.server_key = NULL;
	if (o->sa_authority_key != NULL) {
		memcpy(c->sa_auth, o->sa_authority_key, 32);
		pfl_enroll_fed_hash(c->fed, c->sa_fed);
		c->sa_auth_set = true;
	}
	c->o.sa_authority_key = NULL;
	if (o->layout_digest != NULL) {
		memcpy(c->layout, o->layout_digest, 32);
		c->layout_set = true;
	}
	c->o.layout_digest = NULL;
	if (c->o.backoff_min_ms <= 0)
		c->o.backoff_min_ms = 100;
	if (c->o.backoff_max_ms < c->o.backoff_min_ms)
		c->o.backoff_max_ms = 60000;
	c->id = id;
	c->data = data;
	pfl_rng_seed(&c->frng, o->seed ^ 0x5eedf00dULL);
	/* both hold plain updates (encoded, or kept for a late send) */
	pfl_buf_init_wipe(&c->req, 0);
	pfl_buf_init(&c->rep, o->limits.max_msg_bytes);
	pfl_buf_init_wipe(&c->delayed_payload, 0);
	c->st = CS_CHECKIN;
	*out = c;
	return PFL_OK;
}

static void
release_round(struct pfl_client *c)
{
	pfl_sa_client_free(c->sa);
	c->sa = NULL;
	c->st = CS_CHECKIN;
	c->drop = c->straggle = false;
	pfl_buf_fini(&c->delayed_payload);
	pfl_buf_fini(&c->req);
	pfl_buf_fini(&c->rep);
	pfl_buf_init(&c->rep, c->o.limits.max_msg_bytes);
	pfl_csprng_free(c->rng);
	c->rng = NULL;
	/* A client holds a model only while it takes part in a round. Its
	 * trained model, delta and quantized vector are wiped. */
	free(c->global);
	pfl_free_wipe(c->local, c->cap * sizeof(float));
	pfl_free_wipe(c->vec, (c->cap + PFLI_VEC_EXTRA) * sizeof(float));
	pfl_free_wipe(c->qvec, (c->cap + PFLI_VEC_EXTRA) * sizeof(uint32_t));
	c->global = c->local = c->vec = NULL;
	c->qvec = NULL;
	c->cap = 0;
}

void
pfl_client_free(struct pfl_client *c)
{
	if (c == NULL)
		return;
	release_round(c);
	pfl_buf_fini(&c->req);
	pfl_buf_fini(&c->rep);
	free(c->part_rounds);
	free(c);
}

static int64_t
jitter(struct pfl_client *c, int64_t ms)
{
	return ms + (int64_t)(pfl_rng_uniform(&c->frng) * (double)ms * 0.2);
}

static int64_t
backoff(struct pfl_client *c)
{
	int64_t b = c->backoff_ms ? c->backoff_ms * 2 : c->o.backoff_min_ms;

	if (b > c->o.backoff_max_ms)
		b = c->o.backoff_max_ms;
	c->backoff_ms = b;
	return b / 2 + (int64_t)(pfl_rng_uniform(&c->frng) * (double)b);
}

/*
 * Tell the aggregator at once that we cannot take part in this round, so
 * that it closes our slot instead of waiting for its deadline. Best
 * effort: the reply is not needed (the deadline is the fallback).
 */
static void
withdraw(struct pfl_client *c, struct pfl_conn *conn, uint64_t round,
         enum pfl_withdraw_reason why, const char *text)
{
	struct pfl_msg m;

	pfl_msg_init(&m, PFL_MSG_WITHDRAW, c->fed, round, c->id);
	m.u.withdraw.why = (uint32_t)why;
	copy_text(m.u.withdraw.text, sizeof(m.u.withdraw.text), text);
	pfl_buf_clear(&c->req);
	pfl_buf_clear(&c->rep);
	if (pfl_msg_encode(&m, c->id, &c->req) != PFL_OK ||
	    pfl_conn_call(conn, c->req.data, c->req.len, &c->rep) != PFL_OK)
		pfl_log(PFL_LOG_DEBUG, "round %llu: withdrawal not delivered",
		        (unsigned long long)round);
}

/*
 * A well-signed reply by another key than the pinned one. On the first
 * reply this is a configuration error (server_key names another
 * aggregator) that no retry fixes: say which keys, withdraw, stop. After
 * replies from the pinned key it is somebody else on the network: refuse.
 */
static pfl_err
wrong_key(struct pfl_client *c, struct pfl_conn *conn, const struct pfl_msg *r)
{
	char got[PFL_FINGERPRINT_LEN], want[PFL_FINGERPRINT_LEN];
	uint64_t round = r->round;

	pfl_key_fingerprint(r->sender, got);
	pfl_key_fingerprint(c->server_key, want);
	if (c->heard_server) {
		pfl_log(PFL_LOG_WARN,
		        "reply signed by %s, not by the pinned aggregator key "
		        "%s: refused",
		        got, want);
		return PFL_ERR_CRYPTO;
	}
	pfl_log(PFL_LOG_ERROR,
	        "the aggregator signs with key %s, but server_key pins %s: "
	        "wrong server_key (or another aggregator at this address); "
	        "stopping",
	        got, want);
	withdraw(c, conn, round, PFL_WITHDRAW_SERVER_KEY, "wrong server key");
	c->fatal = PFL_ERR_AUTH;
	return PFL_ERR_AUTH;
}

/*
 * Send m, receive and authenticate the reply into *r (which points into
 * c->rep): signed by the pinned key, and bound to m (its nonce and our
 * key), so that an old reply, or one meant for another client, is refused.
 * The one exception is MODEL, signed once per round for every member: the
 * caller accepts only the MODEL whose digest the (bound) plan names.
 * Network failures return the error; the caller backs off.
 */
static pfl_err
call(struct pfl_client *c, struct pfl_conn *conn, const struct pfl_msg *m,
     struct pfl_msg *r)
{
	pfl_err rv;

	pfl_buf_clear(&c->req);
	pfl_buf_clear(&c->rep);
	if ((rv = pfl_msg_encode(m, c->id, &c->req)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot encode a %s message: %s",
		        pfl_msg_type_name(m->type), pfl_strerror(rv));
		return rv;
	}
	if ((rv = pfl_conn_call(conn, c->req.data, c->req.len, &c->rep)) !=
	    PFL_OK)
		return rv;
	if ((rv = pfl_msg_decode(c->rep.data, c->rep.len, &c->o.limits, r)) !=
	    PFL_OK) {
		pfl_log(PFL_LOG_WARN, "malformed reply from the aggregator: %s",
		        pfl_strerror(rv));
		return rv;
	}
	if ((rv = pfl_msg_verify_digest(r, c->reply_digest)) != PFL_OK) {
		pfl_log(PFL_LOG_WARN, "reply with a bad signature refused");
		return PFL_ERR_CRYPTO;
	}
	if (c->pinned && memcmp(r->sender, c->server_key, 32) != 0)
		return wrong_key(c, conn, r);
	if (strcmp(r->fed, c->fed) != 0)
		return PFL_ERR_AUTH;
	if (!pfl_msg_is_reply_to(r, m) &&
	    (r->type != PFL_MSG_MODEL || r->bound)) {
		pfl_log(PFL_LOG_WARN,
		        "%s reply refused: it does not answer "
		        "this request",
		        pfl_msg_type_name(r->type));
		return PFL_ERR_AUTH;
	}
	c->heard_server = true;
	c->backoff_ms = 0;
	return PFL_OK;
}

static pfl_err
ensure_buffers(struct pfl_client *c, size_t np)
{
	if (np <= c->cap)
		return PFL_OK;
	free(c->global);
	pfl_free_wipe(c->local, c->cap * sizeof(float));
	pfl_free_wipe(c->vec, (c->cap + PFLI_VEC_EXTRA) * sizeof(float));
	pfl_free_wipe(c->qvec, (c->cap + PFLI_VEC_EXTRA) * sizeof(uint32_t));
	c->global = malloc(np * sizeof(float));
	c->local = malloc(np * sizeof(float));
	c->vec = calloc(np + PFLI_VEC_EXTRA, sizeof(float));
	c->qvec = calloc(np + PFLI_VEC_EXTRA, sizeof(uint32_t));
	if (!c->global || !c->local || !c->vec || !c->qvec) {
		c->cap = 0;
		return PFL_ERR_NOMEM;
	}
	c->cap = np;
	return PFL_OK;
}

static void
roll_faults(struct pfl_client *c)
{
	const struct pfl_client_faults *f = &c->o.faults;

	c->drop = f->dropout > 0 && pfl_rng_uniform(&c->frng) < f->dropout;
	c->drop_phase = f->dropout_phase;
	c->straggle =
	        f->straggler > 0 && pfl_rng_uniform(&c->frng) < f->straggler;
}

/* Stay out of the plan's round until its deadline (see do_checkin). */
static void
stay_out(struct pfl_client *c, const struct pfl_msg *r, int64_t *wait)
{
	c->left_round = r->round;
	c->left_until_ms = pfl_clock_ms() + (int64_t)r->u.plan.deadline_ms;
	memcpy(c->left_model, r->u.plan.model_hash, 32);
	*wait = backoff(c);
}

/* The plan's model is the one this client trains (layout_check.c). */
static bool
model_allows(struct pfl_client *c, const struct pfl_msg *r)
{
	char why[160];

	if (pfli_layout_allows(c->layout_set ? c->layout : NULL, &r->u.plan,
	                       why, sizeof(why)))
		return true;
	pfl_log(r->round == c->refused_round ? PFL_LOG_DEBUG : PFL_LOG_WARN,
	        "round %llu: plan refused: %s", (unsigned long long)r->round,
	        why);
	c->refused_round = r->round;
	copy_text(c->why, sizeof(c->why), why);
	return false;
}

static pfl_err
accept_plan(struct pfl_client *c, struct pfl_conn *conn,
            const struct pfl_msg *r, int64_t *wait)
{
	const struct pfl_msg_plan *p = &r->u.plan;
	pfl_err rv;

	if (!pfli_plan_is_sane(c, p)) {
		pfl_log(PFL_LOG_WARN, "round %llu: plan refused (inconsistent)",
		        (unsigned long long)r->round);
		*wait = backoff(c);
		return PFL_OK;
	}
	if (!model_allows(c, r)) {
		withdraw(c, conn, r->round, PFL_WITHDRAW_MODEL, c->why);
		stay_out(c, r, wait);
		return PFL_OK;
	}
	if (!pfli_policy_allows(c, r)) {
		withdraw(c, conn, r->round, PFL_WITHDRAW_POLICY, c->why);
		stay_out(c, r, wait);
		return PFL_OK;
	}
	if ((rv = ensure_buffers(c, p->num_params)) != PFL_OK) {
		pfl_log(PFL_LOG_WARN, "round %llu: no memory for %u parameters",
		        (unsigned long long)r->round, p->num_params);
		withdraw(c, conn, r->round, PFL_WITHDRAW_NOMEM,
		         "no memory for the model");
		stay_out(c, r, wait);
		return PFL_OK;
	}
	if (c->rng == NULL && (rv = pfl_csprng_new(NULL, &c->rng)) != PFL_OK)
		return rv;
	c->plan = *p;
	c->round = r->round;
	c->deadline_at_ms = pfl_clock_ms() + (int64_t)p->deadline_ms;
	roll_faults(c);
	if (p->sa_mode != 0) {
		struct pfl_sa_params sp;
		memset(&sp, 0, sizeof(sp));
		sp.mode = (enum pfl_sa_mode)p->sa_mode;
		sp.n = p->sa_n;
		sp.t = p->sa_t;
		sp.k = p->sa_k;
		sp.dim = p->vector_len;
		pfl_hash_round_ctx(c->fed, r->round, p->sa_seed, sp.round_ctx);
		memcpy(sp.graph_seed, p->sa_seed, 32);
		rv = pfl_sa_client_new(&sp, p->sa_id, c->id, NULL, &c->sa);
		if (rv == PFL_OK && c->sa_auth_set)
			rv = pfl_sa_client_set_authority(
			        c->sa, c->sa_auth, c->sa_fed,
			        (uint64_t)pfl_clock_wall());
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_WARN, "round %llu: secagg setup: %s",
			        (unsigned long long)r->round, pfl_strerror(rv));
			release_round(c);
			*wait = backoff(c);
			return PFL_OK;
		}
	}
	c->st = CS_MODEL;
	*wait = 0;
	return PFL_OK;
}

static pfl_err
do_checkin(struct pfl_client *c, struct pfl_conn *conn, int64_t *wait)
{
	struct pfl_msg m, r;
	pfl_err rv;

	pfl_msg_init(&m, PFL_MSG_CHECKIN, c->fed, 0, c->id);
	m.u.checkin.capabilities = 1;
	snprintf(m.u.checkin.software, sizeof(m.u.checkin.software),
	         "privfl/0.1");
	if ((rv = call(c, conn, &m, &r)) != PFL_OK) {
		*wait = backoff(c);
		return rv == PFL_ERR_NOMEM ? rv : PFL_OK;
	}
	if (r.type == PFL_MSG_PLAN)
		pfli_note_released(c, r.u.plan.released);
	else if (r.type == PFL_MSG_RETRY)
		pfli_note_released(c, r.u.retry.released);
	switch (r.type) {
	case PFL_MSG_PLAN:
		if (r.round == c->left_round &&
		    memcmp(r.u.plan.model_hash, c->left_model, 32) == 0 &&
		    pfl_clock_ms() < c->left_until_ms) {
			/* We left this round (dropped out, refused its model,
			 * failed a phase): stay out until its deadline rather
			 * than rejoin at once, perhaps to fail again. A re-run
			 * of the round after it was abandoned is joined. */
			*wait = jitter(c, c->left_until_ms - pfl_clock_ms());
			return PFL_OK;
		}
		return accept_plan(c, conn, &r, wait);
	case PFL_MSG_RETRY:
		*wait = jitter(c, r.u.retry.retry_after_ms);
		return PFL_OK;
	case PFL_MSG_ERROR:
		pfl_log(PFL_LOG_WARN, "check-in refused: %s", r.u.error.text);
		*wait = r.u.error.retry_after_ms ? r.u.error.retry_after_ms
		                                 : backoff(c);
		return PFL_OK;
	default:
		*wait = backoff(c);
		return PFL_OK;
	}
}

/* The aggregator refused a step: this round is over for us. */
static void
give_up(struct pfl_client *c, const struct pfl_msg *r, int64_t *wait)
{
	if (r != NULL && r->type == PFL_MSG_ERROR)
		pfl_log(PFL_LOG_DEBUG, "round %llu: %s",
		        (unsigned long long)c->round, r->u.error.text);
	c->left_round = c->round;
	c->left_until_ms = c->deadline_at_ms;
	/* The MODEL message is signed afresh (new nonce) each time a round
	 * starts, so its digest tells a re-run of an abandoned round, which
	 * we join, from the very round we left. */
	memcpy(c->left_model, c->plan.model_hash, 32);
	release_round(c);
	*wait = jitter(c, 20);
}

/*
 * The model of the plan: the plan names the round's MODEL message by its
 * digest (the hash its signature covers, computed by call()), so one
 * comparison checks that this is the very message the plan announced.
 */
static pfl_err
read_model(struct pfl_client *c, const struct pfl_msg_model *m)
{
	size_t np = c->plan.num_params;

	if (memcmp(c->reply_digest, c->plan.model_hash, PFL_MSG_DIGEST_BYTES) !=
	    0)
		return PFL_ERR_CRYPTO;
	if (m->num_params != np || m->offset != 0 || m->params_len != np * 4)
		return PFL_ERR_PROTO;
	for (size_t i = 0; i < np; i++) {
		const uint8_t *b = m->params + 4 * i;
		uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		             (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(&c->global[i], &w, 4);
	}
	return PFL_OK;
}

static pfl_err
do_model(struct pfl_client *c, struct pfl_conn *conn, int64_t *wait)
{
	struct pfl_msg m, r;
	pfl_err rv;

	pfl_msg_init(&m, PFL_MSG_GET_MODEL, c->fed, c->round, c->id);
	if ((rv = call(c, conn, &m, &r)) != PFL_OK) {
		*wait = backoff(c);
		return rv == PFL_ERR_NOMEM ? rv : PFL_OK;
	}
	if (r.type != PFL_MSG_MODEL || r.round != c->round) {
		give_up(c, &r, wait);
		return PFL_OK;
	}
	if ((rv = read_model(c, &r.u.model)) != PFL_OK) {
		pfl_log(PFL_LOG_WARN, "round %llu: model refused: %s",
		        (unsigned long long)c->round, pfl_strerror(rv));
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	c->st = c->plan.sa_mode != 0 ? CS_SA_START : CS_TRAIN;
	*wait = 0;
	return PFL_OK;
}

/* Train locally and run the update pipeline into c->vec / c->qvec. */
static pfl_err
train_update(struct pfl_client *c, const struct pfl_trainer *tr)
{
	struct pfl_task task = {c->round, &c->plan,
	                        c->o.seed * 1000003ULL + c->round, c->why,
	                        sizeof(c->why)};
	pfl_err rv;

	c->why[0] = '\0';
	pfli_client_evaluate(c, tr, &task);
	rv = tr->train(tr->arg, c->data, &task, c->global, c->local,
	               &c->num_examples, &c->train_loss);
	if (rv != PFL_OK) {
		if (c->why[0] == '\0' ||
		    strnlen(c->why, sizeof(c->why)) == sizeof(c->why))
			copy_text(c->why, sizeof(c->why), pfl_strerror(rv));
		pfl_log(PFL_LOG_WARN, "round %llu: local training failed: %s",
		        (unsigned long long)c->round, c->why);
		return rv;
	}
	return pfli_pipeline(&c->plan, c->global, c->local, c->num_examples,
	                     c->rng, c->vec, c->qvec);
}

/* Send m and expect an ACK; the round ends on refusal. */
static pfl_err
send_expect_ack(struct pfl_client *c, struct pfl_conn *conn,
                const struct pfl_msg *m, int64_t *wait, bool *acked)
{
	struct pfl_msg r;
	pfl_err rv;

	*acked = false;
	if ((rv = call(c, conn, m, &r)) != PFL_OK) {
		*wait = backoff(c);
		return rv == PFL_ERR_NOMEM ? rv : PFL_OK;
	}
	if (r.type != PFL_MSG_ACK) {
		give_up(c, &r, wait);
		return PFL_OK;
	}
	*acked = true;
	*wait = 0;
	return PFL_OK;
}

static void
le_floats(const float *v, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t w;
		memcpy(&w, &v[i], 4);
		out[4 * i] = (uint8_t)w;
		out[4 * i + 1] = (uint8_t)(w >> 8);
		out[4 * i + 2] = (uint8_t)(w >> 16);
		out[4 * i + 3] = (uint8_t)(w >> 24);
	}
}

/* Prepare the plain update (payload: the float vector, little-endian). */
static pfl_err
prepare_update(struct pfl_client *c)
{
	size_t n = c->plan.vector_len;
	pfl_err rv;

	pfl_buf_clear(&c->delayed_payload);
	if ((rv = pfl_buf_reserve(&c->delayed_payload, n * 4)) != PFL_OK)
		return rv;
	le_floats(c->vec, n, c->delayed_payload.data);
	c->delayed_payload.len = n * 4;
	c->delayed_type = PFL_MSG_UPDATE;
	c->delayed_phase = -1;
	return PFL_OK;
}

static void
prepare_sa(struct pfl_client *c, int phase)
{
	c->delayed_type = PFL_MSG_SA_SUBMIT;
	c->delayed_phase = phase;
}

/* The prepared message, with a fresh nonce and time for every (re)send. */
static void
build_prepared(struct pfl_client *c, struct pfl_msg *m)
{
	pfl_msg_init(m, c->delayed_type, c->fed, c->round, c->id);
	if (c->delayed_type == PFL_MSG_UPDATE) {
		m->u.update.num_examples =
		        pfli_update_examples(&c->plan, c->num_examples);
		/* Only without DP: a loss is a statistic of the local data
		 * (-1: not reported). */
		m->u.update.train_loss =
		        c->plan.dp_mode == 0 && isfinite(c->train_loss)
		                ? c->train_loss
		                : -1.0;
		m->u.update.weight = c->vec[c->plan.num_params];
		m->u.update.data = c->delayed_payload.data;
		m->u.update.data_len = c->delayed_payload.len;
		return;
	}
	m->u.sa.phase = (uint8_t)c->delayed_phase;
	m->u.sa.payload = c->delayed_payload.data;
	m->u.sa.payload_len = c->delayed_payload.len;
}

/* Send the prepared message; on ACK move on. */
static pfl_err
send_prepared(struct pfl_client *c, struct pfl_conn *conn, int64_t *wait)
{
	int phase = c->delayed_phase;
	struct pfl_msg m;
	bool acked;
	pfl_err rv;

	build_prepared(c, &m);
	rv = send_expect_ack(c, conn, &m, wait, &acked);
	if (rv != PFL_OK || !acked) {
		if (rv == PFL_OK && c->st == CS_CHECKIN)
			return PFL_OK; /* refused: round over */
		c->st = CS_DELAYED;    /* network: send again after back-off */
		return rv;
	}
	if (phase < 0 || phase == PFL_SA_MASKED) {
		c->rounds_done++;
		pfli_note_delivered(c);
	}
	if (phase < 0 || phase == PFL_SA_UNMASK) {
		release_round(c);
		*wait = jitter(c, 20);
		return PFL_OK;
	}
	c->st = CS_SA_FETCH;
	c->sa_phase = phase;
	return PFL_OK;
}

static pfl_err
do_train(struct pfl_client *c, struct pfl_conn *conn,
         const struct pfl_trainer *tr, int64_t *wait)
{
	pfl_err rv;

	if (c->drop) {
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	if ((rv = train_update(c, tr)) != PFL_OK ||
	    (rv = prepare_update(c)) != PFL_OK) {
		withdraw(c, conn, c->round,
		         rv == PFL_ERR_NOMEM ? PFL_WITHDRAW_NOMEM
		                             : PFL_WITHDRAW_TRAINING,
		         c->why[0] ? c->why : pfl_strerror(rv));
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	if (c->straggle) {
		c->st = CS_DELAYED;
		*wait = c->o.faults.straggler_ms;
		return PFL_OK;
	}
	return send_prepared(c, conn, wait);
}

/* Compute this client's message for `phase` from the server's input. */
static pfl_err
sa_compute(struct pfl_client *c, const struct pfl_trainer *tr, int phase,
           const uint8_t *in, size_t inlen)
{
	pfl_err rv;

	if (phase == PFL_SA_MASKED) {
		if ((rv = train_update(c, tr)) != PFL_OK)
			return rv;
		pfl_sa_client_set_input(c->sa, c->qvec);
	}
	pfl_buf_clear(&c->delayed_payload);
	rv = pfl_sa_client_step(c->sa, (enum pfl_sa_phase)phase, in, inlen,
	                        &c->delayed_payload);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_WARN, "round %llu: secagg phase %d: %s",
		        (unsigned long long)c->round, phase, pfl_strerror(rv));
	return rv;
}

static bool
drops_at(const struct pfl_client *c, int phase)
{
	int at = c->drop_phase < 0 ? PFL_SA_MASKED : c->drop_phase;

	return c->drop && at == phase;
}

static pfl_err
do_sa_start(struct pfl_client *c, struct pfl_conn *conn, int64_t *wait)
{
	if (drops_at(c, PFL_SA_ADVERTISE) ||
	    sa_compute(c, NULL, PFL_SA_ADVERTISE, NULL, 0) != PFL_OK) {
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	prepare_sa(c, PFL_SA_ADVERTISE);
	return send_prepared(c, conn, wait);
}

static pfl_err
do_sa_fetch(struct pfl_client *c, struct pfl_conn *conn,
            const struct pfl_trainer *tr, int64_t *wait)
{
	int next = c->sa_phase + 1;
	struct pfl_msg m, r;
	pfl_err rv;

	if (drops_at(c, next)) {
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	pfl_msg_init(&m, PFL_MSG_SA_FETCH, c->fed, c->round, c->id);
	m.u.sa.phase = (uint8_t)c->sa_phase;
	if ((rv = call(c, conn, &m, &r)) != PFL_OK) {
		*wait = backoff(c);
		return rv == PFL_ERR_NOMEM ? rv : PFL_OK;
	}
	if (r.type == PFL_MSG_RETRY) {
		*wait = r.u.retry.retry_after_ms;
		return PFL_OK;
	}
	if (r.type != PFL_MSG_SA_DATA || r.round != c->round ||
	    r.u.sa.phase != c->sa_phase) {
		give_up(c, &r, wait);
		return PFL_OK;
	}
	c->why[0] = '\0';
	if ((rv = sa_compute(c, tr, next, r.u.sa.payload,
	                     r.u.sa.payload_len)) != PFL_OK) {
		withdraw(c, conn, c->round,
		         rv == PFL_ERR_NOMEM ? PFL_WITHDRAW_NOMEM
		         : next == PFL_SA_MASKED && c->why[0]
		                 ? PFL_WITHDRAW_TRAINING
		                 : PFL_WITHDRAW_OTHER,
		         c->why[0] ? c->why : pfl_strerror(rv));
		give_up(c, NULL, wait);
		return PFL_OK;
	}
	prepare_sa(c, next);
	if (next == PFL_SA_MASKED && c->straggle) {
		c->st = CS_DELAYED;
		*wait = c->o.faults.straggler_ms;
		return PFL_OK;
	}
	return send_prepared(c, conn, wait);
}

static pfl_err
step(struct pfl_client *c, struct pfl_conn *conn, const struct pfl_trainer *tr,
     int64_t *wait_ms)
{
	switch (c->st) {
	case CS_CHECKIN:
		return do_checkin(c, conn, wait_ms);
	case CS_MODEL:
		return do_model(c, conn, wait_ms);
	case CS_TRAIN:
		return do_train(c, conn, tr, wait_ms);
	case CS_SA_START:
		return do_sa_start(c, conn, wait_ms);
	case CS_SA_FETCH:
		return do_sa_fetch(c, conn, tr, wait_ms);
	case CS_DELAYED:
		return send_prepared(c, conn, wait_ms);
	}
	return PFL_ERR_STATE;
}

pfl_err
pfl_client_step(struct pfl_client *c, struct pfl_conn *conn,
                const struct pfl_trainer *tr, int64_t *wait_ms)
{
	pfl_err rv;

	*wait_ms = 0;
	if (c->fatal != PFL_OK)
		return c->fatal;
	rv = step(c, conn, tr, wait_ms);
	return c->fatal != PFL_OK ? c->fatal : rv;
}
