/*
 * "The client decides what it shares" (issue #11, items 6 and 7), as
 * attacks on a real pfl_client over inproc://:
 *
 * - a rogue aggregator that holds the key the client pinned offers weaker
 *   plans (no DP, no secure aggregation, no clipping, too little noise,
 *   too small an aggregate, too many rounds): the client never trains and
 *   sends nothing, not even a model request;
 * - a client with no pinned key is refused at creation;
 * - signed replies captured from earlier exchanges are replayed as the
 *   answer to a later request of the same client, or of another client:
 *   the client refuses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "privfl/client.h"
#include "privfl/msg.h"
#include "privfl/secagg.h"
#include "privfl/transport.h"

#define FED "policy-test"
#define NP  4

/* The rogue (or replaying) aggregator. */
struct rogue {
	struct pfl_identity *id;
	struct pfl_msg_plan plan; /* offered to every check-in */
	uint64_t round;
	struct pfl_buf model; /* the round's MODEL message */
	int get_models;       /* requests seen, by type */
	int updates;
	int sa_submits;
	/* replay: answer every request with these bytes instead */
	const uint8_t *canned;
	size_t canned_len;
	/* capture: a copy of the last reply of this type */
	enum pfl_msg_type capture_type;
	struct pfl_buf captured;
};

struct harness {
	struct rogue rg;
	struct pfl_server *srv;
	struct pfl_conn *conn;
	struct pfl_identity *cid; /* client A */
	struct pfl_identity *cid_b;
	char url[64];
	int trained;
};

static void
rogue_model(struct rogue *rg)
{
	static const float w[NP] = {0.5f, -0.25f, 0.125f, 1.0f};
	struct pfl_msg m;

	pfl_buf_fini(&rg->model);
	pfl_buf_init(&rg->model, 0);
	pfl_msg_init(&m, PFL_MSG_MODEL, FED, rg->round, rg->id);
	snprintf(m.u.model.model, sizeof(m.u.model.model), "logreg");
	m.u.model.num_params = NP;
	m.u.model.params = (const uint8_t *)w; /* little-endian host */
	m.u.model.params_len = sizeof(w);
	assert_int_equal(pfl_msg_encode_digest(&m, rg->id, &rg->model,
	                                       rg->plan.model_hash),
	                 PFL_OK);
}

/* An honest-looking plain plan: no DP, no secure aggregation. */
static void
weak_plan(struct pfl_msg_plan *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->task, sizeof(p->task), "train");
	snprintf(p->model, sizeof(p->model), "logreg");
	p->num_params = NP;
	p->epochs = 1;
	p->batch = 8;
	p->lr = 0.1;
	p->vector_len = NP + 1;
	p->deadline_ms = 60000;
}

static void
serve(void *arg, const uint8_t *req, size_t len, struct pfl_buf *reply)
{
	struct rogue *rg = arg;
	struct pfl_msg q, m;

	if (rg->canned != NULL) {
		assert_int_equal(
		        pfl_buf_append(reply, rg->canned, rg->canned_len),
		        PFL_OK);
		return;
	}
	if (pfl_msg_decode(req, len, NULL, &q) != PFL_OK ||
	    pfl_msg_verify(&q) != PFL_OK)
		return;
	switch (q.type) {
	case PFL_MSG_CHECKIN:
		pfl_msg_init(&m, PFL_MSG_PLAN, FED, rg->round, rg->id);
		m.u.plan = rg->plan;
		break;
	case PFL_MSG_GET_MODEL:
		rg->get_models++;
		assert_int_equal(
		        pfl_buf_append(reply, rg->model.data, rg->model.len),
		        PFL_OK);
		return;
	case PFL_MSG_UPDATE:
	case PFL_MSG_SA_SUBMIT:
		if (q.type == PFL_MSG_UPDATE)
			rg->updates++;
		else
			rg->sa_submits++;
		pfl_msg_init(&m, PFL_MSG_ACK, FED, rg->round, rg->id);
		break;
	default:
		return;
	}
	/* The rogue answers in the current protocol: bound to the request. */
	pfl_msg_bind_reply(&m, &q);
	assert_int_equal(pfl_msg_encode(&m, rg->id, reply), PFL_OK);
	if (m.type == rg->capture_type) {
		pfl_buf_clear(&rg->captured);
		assert_int_equal(
		        pfl_buf_append(&rg->captured, reply->data, reply->len),
		        PFL_OK);
	}
}

/* The application's training step: counts calls, moves the weights. */
static pfl_err
train(void *arg, const struct pfl_client_data *data,
      const struct pfl_task *task, const float *global, float *local,
      uint32_t *num_examples, double *train_loss)
{
	struct harness *h = arg;

	(void)data;
	h->trained++;
	for (uint32_t i = 0; i < task->plan->num_params; i++)
		local[i] = global[i] + 0.01f;
	*num_examples = 10;
	*train_loss = 0.5;
	return PFL_OK;
}

static int
setup(void **state)
{
	static int seq;
	struct harness *h = calloc(1, sizeof(*h));
	struct pfl_transport_opts to;

	if (h == NULL || sodium_init() < 0)
		return -1;
	assert_int_equal(pfl_identity_generate(&h->rg.id), PFL_OK);
	assert_int_equal(pfl_identity_generate(&h->cid), PFL_OK);
	assert_int_equal(pfl_identity_generate(&h->cid_b), PFL_OK);
	h->rg.round = 1;
	weak_plan(&h->rg.plan);
	pfl_buf_init(&h->rg.model, 0);
	pfl_buf_init(&h->rg.captured, 0);
	rogue_model(&h->rg);
	snprintf(h->url, sizeof(h->url), "inproc://policy-%ld-%d",
	         (long)getpid(), seq++);
	memset(&to, 0, sizeof(to));
	to.timeout_ms = 5000;
	to.workers = 1;
	assert_int_equal(pfl_server_open(h->url, &to, serve, &h->rg, &h->srv),
	                 PFL_OK);
	assert_int_equal(pfl_conn_open(h->url, &to, &h->conn), PFL_OK);
	*state = h;
	return 0;
}

static int
teardown(void **state)
{
	struct harness *h = *state;

	pfl_conn_close(h->conn);
	pfl_server_close(h->srv);
	pfl_buf_fini(&h->rg.model);
	pfl_buf_fini(&h->rg.captured);
	pfl_identity_free(h->rg.id);
	pfl_identity_free(h->cid);
	pfl_identity_free(h->cid_b);
	free(h);
	return 0;
}

/* A client of identity id that pins the rogue's (valid) key. */
static struct pfl_client *
new_client(struct harness *h, const struct pfl_identity *id,
           const struct pfl_client_policy *pol)
{
	static const struct pfl_client_data data = {.ds = NULL};
	struct pfl_client_opts o;
	struct pfl_client *c = NULL;

	memset(&o, 0, sizeof(o));
	o.federation_id = FED;
	o.server_key = pfl_identity_public(h->rg.id);
	if (pol != NULL)
		o.policy = *pol;
	pfl_wire_limits_default(&o.limits, 0);
	o.seed = 1;
	o.faults.dropout_phase = -1;
	assert_int_equal(pfl_client_new(&o, id, &data, &c), PFL_OK);
	return c;
}

/* Step the client n times, ignoring the waits it asks for. */
static void
steps(struct harness *h, struct pfl_client *c, int n)
{
	struct pfl_trainer tr = {.train = train, .arg = h};

	for (int i = 0; i < n; i++) {
		int64_t wait;
		assert_int_equal(pfl_client_step(c, h->conn, &tr, &wait),
		                 PFL_OK);
	}
}

/* The harness itself: a plan the policy allows is carried out. */
static void
test_allowed_plan_runs(void **state)
{
	struct harness *h = *state;
	struct pfl_client_policy pol;
	struct pfl_client *c;

	memset(&pol, 0, sizeof(pol));
	pol.min_dp_mode = 3;
	pol.min_noise_multiplier = 1.0;
	pol.max_clip_norm = 2.0;
	h->rg.plan.dp_mode = 3;
	h->rg.plan.clip_norm = 1.0;
	h->rg.plan.noise_sigma = 1.5;
	rogue_model(&h->rg);
	c = new_client(h, h->cid, &pol);
	steps(h, c, 3); /* checkin, model, train + update */
	assert_int_equal(h->trained, 1);
	assert_int_equal(h->rg.updates, 1);
	assert_int_equal(pfl_client_rounds_done(c), 1);
	pfl_client_free(c);
}

struct weak_case {
	const char *name;
	struct pfl_client_policy pol;
	uint8_t dp, sa;
	double clip, sigma, qs;
	uint32_t sa_t;
};

/* The policy every case starts from: local DP, z >= 1, clip <= 2. */
#define STRICT                          \
	{                               \
		3, 1.0, 2.0, 0, 0, 0, 0 \
	}

static const struct weak_case weak_cases[] = {
        {"no DP at all", STRICT, 0, 0, 1.0, 0, 0, 0},
        {"central instead of local DP", STRICT, 1, 0, 1.0, 0, 0, 0},
        {"too little noise", STRICT, 3, 0, 1.0, 0.5, 0, 0},
        {"no clipping", STRICT, 3, 0, 0, 1.5, 0, 0},
        {"clip too large", STRICT, 3, 0, 5.0, 5.0, 0, 0},
        {"secure aggregation off",
         {0, 0, 0, PFL_SA_PLUS, 0, 0, 0},
         0,
         0,
         1.0,
         0,
         0,
         0},
        {"secagg+ when secagg is required",
         {0, 0, 0, PFL_SA_FULL, 0, 0, 0},
         0,
         PFL_SA_PLUS,
         1.0,
         0,
         1000,
         2},
        {"aggregate of one", {0, 0, 0, 0, 10, 0, 0}, 0, 0, 1.0, 0, 0, 0},
        {"aggregate below the minimum",
         {0, 0, 0, PFL_SA_PLUS, 10, 0, 0},
         0,
         PFL_SA_PLUS,
         1.0,
         0,
         1000,
         3},
        {"distributed noise too thin for the threshold",
         {2, 1.0, 0, PFL_SA_PLUS, 0, 0, 0},
         2,
         PFL_SA_PLUS,
         1.0,
         300,
         1000,
         4},
};

/*
 * Item 6: a rogue aggregator with the pinned key offers weakened plans;
 * the client trains nothing and sends nothing (no model request either).
 */
static void
test_weak_plans_refused(void **state)
{
	struct harness *h = *state;

	for (size_t i = 0; i < sizeof(weak_cases) / sizeof(weak_cases[0]);
	     i++) {
		const struct weak_case *w = &weak_cases[i];
		struct pfl_msg_plan *p = &h->rg.plan;
		struct pfl_client *c;

		print_message("weak plan: %s\n", w->name);
		weak_plan(p);
		h->rg.round = 10 + i;
		p->dp_mode = w->dp;
		p->sa_mode = w->sa;
		p->clip_norm = w->clip;
		p->noise_sigma = w->sigma;
		p->quant_scale = w->qs;
		if (w->sa != 0) {
			p->sa_id = 1;
			p->sa_n = 5;
			p->sa_t = w->sa_t;
			p->sa_k = 4;
		}
		rogue_model(&h->rg);
		h->trained = h->rg.get_models = h->rg.updates = 0;
		h->rg.sa_submits = 0;
		c = new_client(h, h->cid, &w->pol);
		steps(h, c, 6);
		assert_int_equal(h->trained, 0);
		assert_int_equal(h->rg.get_models, 0);
		assert_int_equal(h->rg.updates, 0);
		assert_int_equal(h->rg.sa_submits, 0);
		assert_false(pfl_client_is_busy(c));
		pfl_client_free(c);
	}
}

/* At most 1 round in any 3: rounds 1..6 offered, 1 and 4 taken. */
static void
test_participation_limit(void **state)
{
	struct harness *h = *state;
	struct pfl_client_policy pol;
	struct pfl_client *c;

	memset(&pol, 0, sizeof(pol));
	pol.max_participations = 1;
	pol.participation_window = 3;
	c = new_client(h, h->cid, &pol);
	for (uint64_t r = 1; r <= 6; r++) {
		h->rg.round = r;
		rogue_model(&h->rg);
		steps(h, c, 3);
		assert_false(pfl_client_is_busy(c));
	}
	assert_int_equal(h->rg.updates, 2);
	assert_int_equal(h->trained, 2);
	/* a server that rewinds its round numbers gains nothing */
	h->rg.round = 2;
	rogue_model(&h->rg);
	steps(h, c, 3);
	assert_int_equal(h->rg.updates, 2);
	/* ...nor one that jumps to the end of the numbers and wraps */
	h->rg.round = UINT64_MAX;
	rogue_model(&h->rg);
	steps(h, c, 3);
	assert_int_equal(h->rg.updates, 3);
	h->rg.round = 7;
	rogue_model(&h->rg);
	steps(h, c, 3);
	assert_int_equal(h->rg.updates, 3);
	pfl_client_free(c);
}

/* No pinned key, no client: unless the embedder says insecure. */
static void
test_unpinned_refused(void **state)
{
	struct harness *h = *state;
	struct pfl_client_data data = {.ds = NULL};
	struct pfl_client_opts o;
	struct pfl_client *c = NULL;

	memset(&o, 0, sizeof(o));
	o.federation_id = FED;
	assert_int_equal(pfl_client_new(&o, h->cid, &data, &c), PFL_ERR_CONFIG);
	assert_null(c);
	o.insecure = true;
	assert_int_equal(pfl_client_new(&o, h->cid, &data, &c), PFL_OK);
	pfl_client_free(c);
}

/*
 * Item 7: a PLAN signed for client A's check-in, replayed as the answer
 * to A's next check-in (another nonce) or to B's, is refused: the client
 * takes no plan, fetches no model, trains nothing.
 */
static void
test_replayed_plan_refused(void **state)
{
	struct harness *h = *state;
	struct pfl_client *a, *b;

	h->rg.capture_type = PFL_MSG_PLAN;
	a = new_client(h, h->cid, NULL);
	steps(h, a, 1);
	assert_true(pfl_client_is_busy(a)); /* the fresh plan was taken */
	assert_true(h->rg.captured.len > 0);
	pfl_client_free(a);

	h->rg.canned = h->rg.captured.data;
	h->rg.canned_len = h->rg.captured.len;
	a = new_client(h, h->cid, NULL); /* A again, a later request */
	b = new_client(h, h->cid_b, NULL);
	for (int i = 0; i < 3; i++) { /* each check-in gets the old plan */
		steps(h, a, 1);
		steps(h, b, 1);
		assert_false(pfl_client_is_busy(a));
		assert_false(pfl_client_is_busy(b));
	}
	h->rg.canned = NULL;
	assert_int_equal(h->trained, 0);
	pfl_client_free(a);
	pfl_client_free(b);
}

/*
 * An ACK captured for A's update, replayed for A's update of the next
 * round, does not count as delivered: the update is sent again.
 */
static void
test_replayed_ack_refused(void **state)
{
	struct harness *h = *state;
	struct pfl_client *a;

	h->rg.capture_type = PFL_MSG_ACK;
	a = new_client(h, h->cid, NULL);
	steps(h, a, 3);
	assert_int_equal(pfl_client_rounds_done(a), 1);
	h->rg.capture_type = 0;

	h->rg.round = 2;
	rogue_model(&h->rg);
	steps(h, a, 2); /* checkin, model: fresh */
	h->rg.canned = h->rg.captured.data;
	h->rg.canned_len = h->rg.captured.len;
	steps(h, a, 2); /* the update, answered with the old ACK */
	h->rg.canned = NULL;
	assert_int_equal(pfl_client_rounds_done(a), 1);
	assert_true(pfl_client_is_busy(a)); /* it will send again */
	steps(h, a, 1);
	assert_int_equal(pfl_client_rounds_done(a), 2);
	pfl_client_free(a);
}

/*
 * MODEL is signed once per round for every member, so it is the one reply
 * not bound to its request: another MODEL of the very same round (signed
 * before a restart, say) is refused by the bound plan's digest.
 */
static void
test_replayed_model_refused(void **state)
{
	struct harness *h = *state;
	struct pfl_buf old;
	struct pfl_client *a;

	h->rg.round = 2;
	rogue_model(&h->rg);
	pfl_buf_init(&old, 0);
	assert_int_equal(
	        pfl_buf_append(&old, h->rg.model.data, h->rg.model.len),
	        PFL_OK);
	h->rg.round = 2;
	rogue_model(&h->rg);
	a = new_client(h, h->cid, NULL);
	steps(h, a, 1);
	assert_true(pfl_client_is_busy(a));
	h->rg.canned = old.data;
	h->rg.canned_len = old.len;
	steps(h, a, 1);
	h->rg.canned = NULL;
	assert_false(pfl_client_is_busy(a)); /* gave the round up */
	assert_int_equal(h->trained, 0);
	pfl_client_free(a);
	pfl_buf_fini(&old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_allowed_plan_runs, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_weak_plans_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_participation_limit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unpinned_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_replayed_plan_refused,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_replayed_ack_refused,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_replayed_model_refused,
	                                        setup, teardown),
	};
	return cmocka_run_group_tests_name("client_policy", tests, NULL, NULL);
}
