/*
 * The request handler: decode -> authenticate -> apply, one request at a
 * time per worker thread. Decoding and signature checks run outside the
 * aggregator lock; state changes run under it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accum.h"
#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/log.h"

struct ctx {
	struct pfl_aggregator *a;
	const struct pfl_msg *req;
	struct pfl_buf *reply;
	int64_t now;
	bool decoded; /* req holds the decoded request: bind replies to it */
	struct pfli_client *cl; /* the sender, once admitted (else NULL) */
};

/*
 * Every reply but the round's pre-signed MODEL (which the plan names by
 * its digest) carries the request's nonce and sender under its signature,
 * so that it answers that request only (docs/PROTOCOL.md, section 5).
 */
static void
send_msg(struct ctx *c, struct pfl_msg *m)
{
	pfl_err rv;

	if (c->decoded)
		pfl_msg_bind_reply(m, c->req);
	rv = pfl_msg_encode(m, c->a->id, c->reply);

	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "encoding a %s reply failed: %s",
		        pfl_msg_type_name(m->type), pfl_strerror(rv));
}

/* The round's number; callers may or may not hold a->mtx (recursive). */
static uint64_t
round_number(struct pfl_aggregator *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->mtx);
	n = a->round.number;
	pthread_mutex_unlock(&a->mtx);
	return n;
}

static void
reply_error(struct ctx *c, pfl_err code, const char *text, uint32_t retry)
{
	struct pfl_msg m;

	pfl_msg_init(&m, PFL_MSG_ERROR, c->a->cfg.federation_id,
	             round_number(c->a), c->a->id);
	m.u.error.code = (uint32_t)code;
	snprintf(m.u.error.text, sizeof(m.u.error.text), "%s", text);
	m.u.error.retry_after_ms = retry;
	send_msg(c, &m);
}

static void
reply_retry(struct ctx *c, uint32_t ms, const char *reason)
{
	struct pfl_msg m;

	pfl_msg_init(&m, PFL_MSG_RETRY, c->a->cfg.federation_id,
	             round_number(c->a), c->a->id);
	m.u.retry.retry_after_ms = ms;
	snprintf(m.u.retry.reason, sizeof(m.u.retry.reason), "%s", reason);
	if (c->cl != NULL) {
		m.u.retry.released = c->cl->released_round;
		c->cl->told_released = c->cl->released_round;
	}
	send_msg(c, &m);
}

static void
reply_ack(struct ctx *c)
{
	struct pfl_msg m;

	pfl_msg_init(&m, PFL_MSG_ACK, c->a->cfg.federation_id,
	             c->a->round.number, c->a->id);
	m.u.ack.code = 0;
	send_msg(c, &m);
}

static void
fill_plan(struct pfl_aggregator *a, uint32_t idx, struct pfl_msg_plan *p,
          int64_t now)
{
	const struct pfli_round *r = &a->round;
	const struct pfl_agg_config *cfg = &a->cfg;
	int64_t left = r->deadline_ms - now;

	memset(p, 0, sizeof(*p));
	snprintf(p->task, sizeof(p->task), "train");
	snprintf(p->model, sizeof(p->model), "%s", a->model_name);
	p->num_params = (uint32_t)a->num_params;
	memcpy(p->model_hash, r->model_digest, 32);
	if (a->layout != NULL)
		memcpy(p->layout_digest, a->layout->digest, 32);
	p->epochs = (uint32_t)cfg->local_epochs;
	p->batch = (uint32_t)cfg->batch;
	p->lr = cfg->lr;
	p->momentum = cfg->momentum;
	p->weight_decay = cfg->weight_decay;
	p->prox_mu = cfg->prox_mu;
	if (cfg->strategy == PFL_STRAT_FEDPROX && p->prox_mu == 0)
		p->prox_mu = 0.01;
	p->clip_norm = r->clip_norm;
	p->weight_cap = cfg->weight_cap;
	/* Masked sums need bounded inputs: weights become min(n, cap)/cap. */
	if (r->sa != NULL && cfg->dp_mode == PFL_DP_NONE && p->weight_cap == 0)
		p->weight_cap = PFLI_SA_WEIGHT_CAP;
	p->dp_mode = (uint8_t)cfg->dp_mode;
	p->noise_sigma = r->client_noise_sigma;
	p->quant_scale = r->quant_scale;
	p->adaptive_clip = cfg->adaptive_clip;
	p->sa_mode = (uint8_t)(r->sa != NULL ? r->sa_mode : 0);
	if (r->sa != NULL) {
		p->sa_id = idx + 1;
		p->sa_n = r->n;
		p->sa_t = r->sa_t;
		p->sa_k = r->sa_k;
		memcpy(p->sa_seed, r->sa_seed, 32);
	}
	p->vector_len = r->vector_len;
	p->eval_cap = r->eval_cap;
	p->deadline_ms = left > 0 ? (uint32_t)left : 0;
}

static void
on_checkin(struct ctx *c, struct pfli_client *cl)
{
	struct pfl_aggregator *a = c->a;
	struct pfli_round *r = &a->round;
	struct pfli_member *mb;
	struct pfl_msg m;
	uint32_t ms = 0;
	const char *why = NULL;

	if (!pfli_sel_checkin(a, cl, c->now, &ms, &why)) { /* selection.c */
		reply_retry(c, ms, why);
		return;
	}
	mb = &r->members[cl->member];
	if (mb->withdrawn) {
		reply_retry(c, pfli_sel_retry(a, cl, c->now),
		            "withdrawn from this round");
		return;
	}
	if (mb->sent_update || (mb->sa_done & (1u << PFL_SA_MASKED))) {
		reply_retry(c, pfli_sel_retry(a, cl, c->now),
		            "result received; waiting for the next round");
		return;
	}
	if (r->sa != NULL && (r->sa_phase != PFL_SA_ADVERTISE ||
	                      (mb->sa_done & (1u << PFL_SA_ADVERTISE)))) {
		/* A member asking again for the plan has lost its
		 * secure-aggregation state (or never advertised in time): it
		 * cannot take part any more. */
		reply_retry(c, pfli_sel_retry(a, cl, c->now),
		            "round in progress");
		return;
	}
	mb->got_plan = true;
	pfl_msg_init(&m, PFL_MSG_PLAN, a->cfg.federation_id, r->number, a->id);
	fill_plan(a, (uint32_t)cl->member, &m.u.plan, c->now);
	m.u.plan.released = cl->released_round;
	cl->told_released = cl->released_round;
	send_msg(c, &m);
}

/* The member record of the sender in the current running round, or NULL. */
static struct pfli_member *
member_of(struct ctx *c, struct pfli_client *cl, uint32_t *idx)
{
	struct pfli_round *r = &c->a->round;

	if (r->state != PFLI_R_RUNNING || c->req->round != r->number ||
	    cl->rolled_round != r->epoch || cl->member < 0) {
		reply_error(c, PFL_ERR_STATE,
		            "not a member of the running round",
		            pfli_sel_retry(c->a, cl, c->now));
		return NULL;
	}
	if (r->members[cl->member].withdrawn) {
		reply_error(c, PFL_ERR_STATE, "withdrawn from this round",
		            pfli_sel_retry(c->a, cl, c->now));
		return NULL;
	}
	*idx = (uint32_t)cl->member;
	return &r->members[cl->member];
}

static void
on_get_model(struct ctx *c, struct pfli_client *cl)
{
	struct pfli_round *r = &c->a->round;
	struct pfli_member *mb;
	uint32_t idx;
	pfl_err rv;

	if ((mb = member_of(c, cl, &idx)) == NULL)
		return;
	if (r->model_reply == NULL) {
		reply_error(c, PFL_ERR_STATE, "model not ready", 100);
		return;
	}
	mb->got_model = true;
	rv = pfl_buf_append(c->reply, r->model_reply, r->model_reply_len);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "model reply: %s", pfl_strerror(rv));
	r->bytes_down += r->model_reply_len;
}

static void
on_update(struct ctx *c, struct pfli_client *cl)
{
	struct pfli_round *r = &c->a->round;
	const struct pfl_msg_update *u = &c->req->u.update;
	struct pfli_member *mb;
	uint32_t idx;

	if ((mb = member_of(c, cl, &idx)) == NULL)
		return;
	if (r->sa != NULL) {
		reply_error(
		        c, PFL_ERR_STATE,
		        "plain updates are refused: secure aggregation is on",
		        0);
		return;
	}
	if (mb->sent_update) {
		reply_ack(c);
		return;
	}
	/* before the add: a refused update leaves no trace */
	if (u->data_len == (size_t)r->vector_len * 4 &&
	    !pfli_fedeval_update_ok(r, u->data, u->data_len)) {
		reply_error(c, PFL_ERR_PROTO,
		            "update refused: impossible evaluation slots", 0);
		return;
	}
	/* Checked and added in one pass; a refused update leaves no trace. */
	if (u->data_len != (size_t)r->vector_len * 4 ||
	    pfli_accum_add(r->acc, r->acc_undo, u->data, r->vector_len) !=
	            PFL_OK) {
		reply_error(c, PFL_ERR_PROTO,
		            "update has the wrong length or "
		            "non-finite values",
		            0);
		return;
	}
	mb->sent_update = true;
	mb->train_loss = u->train_loss;
	if (isfinite(u->train_loss) && u->train_loss >= 0) {
		r->train_loss_sum += u->train_loss;
		r->train_loss_n++;
	}
	r->received++;
	r->last_result_ms = c->now;
	r->bytes_up += c->req->u.update.data_len;
	if (r->received >= pfli_round_target(c->a) || r->received >= r->n)
		pfli_round_wake(c->a);
	reply_ack(c);
}

static void
on_sa_submit(struct ctx *c, struct pfli_client *cl)
{
	struct pfli_round *r = &c->a->round;
	const struct pfl_msg_sa *s = &c->req->u.sa;
	struct pfli_member *mb;
	uint32_t idx;
	pfl_err rv;

	if ((mb = member_of(c, cl, &idx)) == NULL)
		return;
	if (r->sa == NULL || s->phase >= PFL_SA_PHASES) {
		reply_error(c, PFL_ERR_STATE, "secure aggregation is off", 0);
		return;
	}
	if (s->phase != r->sa_phase || r->sa_closed[s->phase]) {
		reply_error(c, PFL_ERR_STATE, "that phase is not open", 0);
		return;
	}
	if (mb->sa_done & (1u << s->phase)) {
		reply_ack(c);
		return;
	}
	rv = pfl_sa_server_recv(r->sa, (enum pfl_sa_phase)s->phase, idx + 1,
	                        s->payload, s->payload_len);
	if (rv != PFL_OK) {
		char fp[PFL_FINGERPRINT_LEN];
		pfl_key_fingerprint(cl->pk, fp);
		pfl_log(PFL_LOG_WARN,
		        "round %llu: secagg phase %d message from %s refused: "
		        "%s",
		        (unsigned long long)r->number, s->phase, fp,
		        pfl_strerror(rv));
		reply_error(c, rv, "secure aggregation message refused", 0);
		return;
	}
	mb->sa_done |= (uint8_t)(1u << s->phase);
	if (s->phase == PFL_SA_MASKED) {
		r->received++;
		r->last_result_ms = c->now;
	}
	r->bytes_up += s->payload_len;
	if (pfl_sa_server_count(r->sa, (enum pfl_sa_phase)s->phase) >=
	    pfli_round_expected(r, s->phase))
		pfli_round_wake(c->a);
	reply_ack(c);
}

static void
on_sa_fetch(struct ctx *c, struct pfli_client *cl)
{
	struct pfli_round *r = &c->a->round;
	const struct pfl_msg_sa *s = &c->req->u.sa;
	struct pfl_buf out;
	struct pfl_msg m;
	struct pfli_member *mb;
	uint32_t idx;
	pfl_err rv;

	if ((mb = member_of(c, cl, &idx)) == NULL)
		return;
	if (r->sa == NULL || s->phase >= PFL_SA_PHASES) {
		reply_error(c, PFL_ERR_STATE, "secure aggregation is off", 0);
		return;
	}
	if (!r->sa_closed[s->phase]) {
		reply_retry(c, pfli_sel_poll_ms(c->a), "phase still open");
		return;
	}
	pfl_buf_init(&out, 0);
	rv = pfl_sa_server_output(r->sa, (enum pfl_sa_phase)s->phase, idx + 1,
	                          &out);
	if (rv != PFL_OK) {
		reply_error(c, rv, "no output for this client", 0);
		pfl_buf_fini(&out);
		return;
	}
	pfl_msg_init(&m, PFL_MSG_SA_DATA, c->a->cfg.federation_id, r->number,
	             c->a->id);
	m.u.sa.phase = s->phase;
	m.u.sa.payload = out.data;
	m.u.sa.payload_len = out.len;
	send_msg(c, &m);
	r->bytes_down += out.len;
	pfl_buf_fini(&out);
}

/*
 * A member withdrawing while its cohort is still being drawn leaves it:
 * the last member takes its place (the cohort is not numbered yet).
 */
static void
leave_cohort(struct pfl_aggregator *a, struct pfli_client *cl)
{
	struct pfli_round *r = &a->round;
	uint32_t i = (uint32_t)cl->member, last = r->n - 1;

	if (i != last) {
		struct pfli_client *moved = pfli_clients_get(
		        &a->clients, r->members[last].pk, false);
		r->members[i] = r->members[last];
		if (moved != NULL)
			moved->member = (int32_t)i;
	}
	r->n--;
	cl->member = -1;
}

/*
 * WITHDRAW: the sender cannot take part (its training failed, its policy
 * refused the plan, ...). Its slot closes now, not at the deadline: in a
 * running round it no longer counts towards the results (with secure
 * aggregation: a dropout at the phase it reached, pfli_round_expected);
 * the failure counts towards its back-off either way.
 */
static void
on_withdraw(struct ctx *c, struct pfli_client *cl)
{
	struct pfl_aggregator *a = c->a;
	struct pfli_round *r = &a->round;
	const struct pfl_msg_withdraw *w = &c->req->u.withdraw;
	bool mine = c->req->round == r->number &&
	            cl->rolled_round == r->epoch && cl->member >= 0;
	char fp[PFL_FINGERPRINT_LEN];

	pfl_key_fingerprint(cl->pk, fp);
	pfl_log(PFL_LOG_INFO, "round %llu: client %s withdrew: %s (%s)",
	        (unsigned long long)c->req->round, fp,
	        pfl_withdraw_reason_name(w->why), w->text);
	if (mine && r->state == PFLI_R_SELECTING) {
		leave_cohort(a, cl);
	} else if (mine && r->state == PFLI_R_RUNNING) {
		struct pfli_member *mb = &r->members[cl->member];
		if (mb->withdrawn || mb->sent_update) {
			reply_ack(c);
			return;
		}
		mb->withdrawn = true;
		r->withdrawn++;
		pfli_round_wake(a);
	}
	pfli_health_fail(a, cl, w->why, c->now);
	reply_ack(c);
}

/* Token bucket per client key: client_rate per second, 4 s of burst. */
static bool
take_token(struct pfl_aggregator *a, struct pfli_client *cl, int64_t now)
{
	double rate = a->cfg.client_rate, burst = rate * 4;

	if (cl->refill_ms == 0) {
		cl->tokens = burst;
	} else {
		cl->tokens += rate * (double)(now - cl->refill_ms) / 1000.0;
		if (cl->tokens > burst)
			cl->tokens = burst;
	}
	cl->refill_ms = now;
	if (cl->tokens < 1.0)
		return false;
	cl->tokens -= 1.0;
	return true;
}

static bool
authorized(struct pfl_aggregator *a, const struct pfl_msg *m)
{
	char fp[PFL_FINGERPRINT_LEN];
	bool revoked;
	uint32_t n;

	if (pfli_keys_admit(&a->keys, m->sender, &revoked))
		return true;
	pfl_key_fingerprint(m->sender, fp);
	n = __atomic_fetch_add(&a->refusals_logged, 1, __ATOMIC_RELAXED);
	if (n < 100 || n % 1000 == 0)
		pfl_log(PFL_LOG_WARN, "refused %s: key %s", fp,
		        revoked ? "is revoked" : "is not enrolled");
	return false;
}

/*
 * Under a->mtx, after authorized(): the freshness check. Only admitted
 * keys reach the replay state, so strangers cannot fill it (issue #11).
 */
static bool
fresh(struct ctx *c)
{
	pfl_err rv = pfl_replay_check(c->a->replay, c->req->sender,
	                              c->req->nonce, c->req->time_ms,
	                              (uint64_t)(pfl_clock_wall() * 1000.0));

	if (rv == PFL_OK)
		return true;
	if (rv == PFL_ERR_AUTH)
		reply_error(c, PFL_ERR_AUTH, "replayed or stale message", 0);
	else
		reply_error(c, PFL_ERR_AGAIN, "server busy", 1000);
	return false;
}

void
pfli_serve(void *arg, const uint8_t *req, size_t len, struct pfl_buf *reply)
{
	struct pfl_aggregator *a = arg;
	struct pfl_msg m;
	struct ctx c = {a, &m, reply, pfl_clock_ms(), false, NULL};
	struct pfli_client *cl;
	pfl_err rv;

	if ((rv = pfl_msg_decode(req, len, &a->limits, &m)) != PFL_OK) {
		pfl_log(PFL_LOG_DEBUG, "malformed request (%zu bytes): %s", len,
		        pfl_strerror(rv));
		reply_error(&c, rv, "malformed message", 0);
		return;
	}
	c.decoded = true;
	if (pfl_msg_verify(&m) != PFL_OK) {
		reply_error(&c, PFL_ERR_CRYPTO, "bad signature", 0);
		return;
	}
	if (strcmp(m.fed, a->cfg.federation_id) != 0) {
		reply_error(&c, PFL_ERR_AUTH, "wrong federation", 0);
		return;
	}
	pthread_mutex_lock(&a->mtx);
	if (!authorized(a, &m)) { /* under the lock: SIGHUP swaps the list */
		pthread_mutex_unlock(&a->mtx);
		reply_error(&c, PFL_ERR_AUTH, "client key not enrolled", 0);
		return;
	}
	if (!fresh(&c)) {
		pthread_mutex_unlock(&a->mtx);
		return;
	}
	if ((cl = pfli_clients_get(&a->clients, m.sender, true)) == NULL) {
		pthread_mutex_unlock(&a->mtx);
		reply_error(&c, PFL_ERR_NOMEM, "server busy", 1000);
		return;
	}
	cl->last_seen_ms = c.now;
	c.cl = cl;
	if (!take_token(a, cl, c.now)) {
		pthread_mutex_unlock(&a->mtx);
		reply_error(&c, PFL_ERR_AGAIN, "rate limited", 1000);
		return;
	}
	switch (m.type) {
	case PFL_MSG_CHECKIN:
		a->checkins++;
		on_checkin(&c, cl);
		break;
	case PFL_MSG_GET_MODEL:
		on_get_model(&c, cl);
		break;
	case PFL_MSG_UPDATE:
		on_update(&c, cl);
		break;
	case PFL_MSG_SA_SUBMIT:
		on_sa_submit(&c, cl);
		break;
	case PFL_MSG_SA_FETCH:
		on_sa_fetch(&c, cl);
		break;
	case PFL_MSG_WITHDRAW:
		on_withdraw(&c, cl);
		break;
	default:
		reply_error(&c, PFL_ERR_PROTO, "unexpected message type", 0);
		break;
	}
	a->total_up += len;
	a->total_down += reply->len;
	pthread_mutex_unlock(&a->mtx);
}
