/*
 * Federated evaluation (issue #13 item 3): a real aggregator with no
 * central test set and library clients over tcp:// on 127.0.0.1. Each
 * client scores the model a round starts from on its own held-out
 * examples (of different sizes, so weighting matters); the test records
 * the model each client was given, scores it itself with the model API on
 * the same examples, and checks that rounds.csv, the observer's report,
 * /status and /metrics give the example-weighted mean of those scores,
 * with secure aggregation off and on. A hostile client's impossible
 * evaluation slots are refused (the round goes on without them), and its
 * most extreme possible ones move the figure by its clipped weight only.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/model.h"
#include "privfl/msg.h"
#include "privfl/transport.h"

#include "../aggregator/src/agg_int.h"
#include "../client/src/client_int.h"
#include "agg_fixture.h"

#define NDEV 3
#define MAXR 8

/* Held-out examples of each device: different sizes, so the weighted and
 * the plain mean differ. */
static const size_t eval_sizes[NDEV] = {60, 150, 300};
static const size_t train_size = 200;

struct dev {
	int i;
	const char *url;
	const uint8_t *server_key;
	struct pfl_client *c;
	struct pfl_identity *id;
	struct pfl_client_data data;
	uint32_t *train_idx;
	uint32_t *eval_idx;
	struct pfl_trainer builtin;
	pthread_mutex_t mu;
	float *seen[MAXR + 1]; /* the global model scored in each round */
	size_t np;
	atomic_int stop;
	pfl_err rv;
};

struct fed {
	bool secagg;
	bool hostile; /* the third client speaks the protocol by hand */
	int rounds;
	char url[64];
	char out[96];
	int http_port;
	pthread_mutex_t mu;
	bool have[MAXR + 1];
	struct pfl_round_report rep[MAXR + 1];
	/* the hostile client's replies */
	int bogus_refused;
	int bogus_sent;
	bool extreme_acked;
};

/* ---- devices: the built-in trainer, wrapped to record the model ---- */

static pfl_err
wrap_train(void *arg, const struct pfl_client_data *data,
           const struct pfl_task *task, const float *global, float *local,
           uint32_t *n, double *loss)
{
	struct dev *d = arg;

	return d->builtin.train(d->builtin.arg, data, task, global, local, n,
	                        loss);
}

static pfl_err
wrap_eval(void *arg, const struct pfl_client_data *data,
          const struct pfl_task *task, const float *global,
          struct pfl_eval_result *out)
{
	struct dev *d = arg;
	size_t np = task->plan->num_params;

	if (task->round <= MAXR) {
		pthread_mutex_lock(&d->mu);
		free(d->seen[task->round]);
		d->seen[task->round] = malloc(np * sizeof(float));
		if (d->seen[task->round] != NULL)
			memcpy(d->seen[task->round], global,
			       np * sizeof(float));
		d->np = np;
		pthread_mutex_unlock(&d->mu);
	}
	return d->builtin.evaluate(d->builtin.arg, data, task, global, out);
}

static void *
dev_main(void *arg)
{
	struct dev *d = arg;
	struct pfl_transport_opts to;
	struct pfl_conn *conn = NULL;
	struct pfl_trainer tr = {
	        .train = wrap_train, .arg = d, .evaluate = wrap_eval};

	memset(&to, 0, sizeof(to));
	to.timeout_ms = 20000;
	if ((d->rv = pfl_conn_open(d->url, &to, &conn)) != PFL_OK)
		return NULL;
	while (!atomic_load(&d->stop)) {
		int64_t wait = 0;
		if ((d->rv = pfl_client_step(d->c, conn, &tr, &wait)) != PFL_OK)
			break;
		if (wait > 50)
			wait = 50;
		if (wait > 0)
			sleep_ms(wait);
	}
	pfl_conn_close(conn);
	return NULL;
}

static void
dev_init(struct dev *d, int i, struct fed *f, const struct pfl_dataset *ds,
         const uint8_t *server_key)
{
	struct pfl_client_opts co;
	size_t base = (size_t)i * 1000;

	memset(d, 0, sizeof(*d));
	d->i = i;
	d->url = f->url;
	pthread_mutex_init(&d->mu, NULL);
	d->train_idx = malloc(train_size * sizeof(uint32_t));
	d->eval_idx = malloc(eval_sizes[i] * sizeof(uint32_t));
	assert_non_null(d->train_idx);
	assert_non_null(d->eval_idx);
	for (size_t k = 0; k < train_size; k++)
		d->train_idx[k] = (uint32_t)(base + k);
	for (size_t k = 0; k < eval_sizes[i]; k++)
		d->eval_idx[k] = (uint32_t)(base + train_size + k);
	d->data.ds = ds;
	d->data.idx = d->train_idx;
	d->data.n = train_size;
	d->data.eval_ds = ds;
	d->data.eval_idx = d->eval_idx;
	d->data.eval_n = eval_sizes[i];
	assert_int_equal(pfl_trainer_model_init(&d->builtin), PFL_OK);
	assert_int_equal(pfl_identity_generate(&d->id), PFL_OK);
	memset(&co, 0, sizeof(co));
	co.federation_id = "default";
	co.server_key = server_key;
	pfl_wire_limits_default(&co.limits, 0);
	co.seed = (uint64_t)i + 1;
	co.backoff_min_ms = 20;
	co.backoff_max_ms = 200;
	co.faults.dropout_phase = -1;
	assert_int_equal(pfl_client_new(&co, d->id, &d->data, &d->c), PFL_OK);
}

static void
dev_fini(struct dev *d)
{
	pfl_client_free(d->c);
	pfl_identity_free(d->id);
	pfl_trainer_model_fini(&d->builtin);
	for (int r = 0; r <= MAXR; r++)
		free(d->seen[r]);
	free(d->train_idx);
	free(d->eval_idx);
	pthread_mutex_destroy(&d->mu);
}

/* ---- the hostile client: the protocol by hand ---- */

struct hostile {
	struct fed *f;
	struct pfl_identity *id;
	const uint8_t *server_key;
};

static pfl_err
h_call(struct pfl_conn *conn, const struct pfl_identity *id,
       const struct pfl_msg *m, struct pfl_buf *rep, struct pfl_msg *r)
{
	struct pfl_buf req;
	pfl_err rv;

	pfl_buf_init(&req, 0);
	rv = pfl_msg_encode(m, id, &req);
	pfl_buf_clear(rep);
	if (rv == PFL_OK)
		rv = pfl_conn_call(conn, req.data, req.len, rep);
	pfl_buf_fini(&req);
	if (rv == PFL_OK)
		rv = pfl_msg_decode(rep->data, rep->len, NULL, r);
	if (rv == PFL_OK)
		rv = pfl_msg_verify(r);
	return rv;
}

static pfl_err
h_update(struct pfl_conn *conn, const struct pfl_identity *id, uint64_t round,
         const float *v, uint32_t n, struct pfl_buf *rep, struct pfl_msg *r)
{
	uint8_t *le = malloc((size_t)n * 4);
	struct pfl_msg m;
	pfl_err rv;

	if (le == NULL)
		return PFL_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t w;
		memcpy(&w, &v[i], 4);
		for (int b = 0; b < 4; b++)
			le[4 * i + (uint32_t)b] = (uint8_t)(w >> (8 * b));
	}
	pfl_msg_init(&m, PFL_MSG_UPDATE, "default", round, id);
	m.u.update.num_examples = 1;
	m.u.update.train_loss = -1;
	m.u.update.weight = 1.0;
	m.u.update.data = le;
	m.u.update.data_len = (size_t)n * 4;
	rv = h_call(conn, id, &m, rep, r);
	free(le);
	return rv;
}

/* Impossible slots (w, accuracy * w, scaled loss * w): negative counts,
 * more right than counted, more than the cap, NaN. */
static const float bogus[][3] = {
        {-1.0f, 0.0f, 0.0f},  {0.5f, 0.9f, 0.1f},  {2.0f, 1.0f, 1.0f},
        {0.5f, 0.25f, 0.75f}, {0.5f, -0.1f, 0.1f}, {1e30f, 1e30f, 0.0f},
};

static void *
hostile_main(void *arg)
{
	struct hostile *h = arg;
	struct fed *f = h->f;
	struct pfl_transport_opts to;
	struct pfl_conn *conn = NULL;
	struct pfl_buf rep;
	struct pfl_msg m, r;
	uint32_t n = 0, off;
	uint64_t round = 0;
	float *v = NULL;

	memset(&to, 0, sizeof(to));
	to.timeout_ms = 20000;
	pfl_buf_init(&rep, 0);
	if (pfl_conn_open(f->url, &to, &conn) != PFL_OK)
		goto out;
	for (int i = 0; i < 3000; i++) {
		pfl_msg_init(&m, PFL_MSG_CHECKIN, "default", 0, h->id);
		snprintf(m.u.checkin.software, sizeof(m.u.checkin.software),
		         "hostile");
		if (h_call(conn, h->id, &m, &rep, &r) == PFL_OK &&
		    r.type == PFL_MSG_PLAN)
			break;
		sleep_ms(20);
	}
	if (r.type != PFL_MSG_PLAN || r.u.plan.eval_cap == 0)
		goto out;
	round = r.round;
	n = r.u.plan.vector_len;
	off = r.u.plan.num_params + 1 + (r.u.plan.adaptive_clip ? 1 : 0);
	if (off + PFL_EVAL_SLOTS != n || (v = calloc(n, sizeof(float))) == NULL)
		goto out;
	pfl_msg_init(&m, PFL_MSG_GET_MODEL, "default", round, h->id);
	if (h_call(conn, h->id, &m, &rep, &r) != PFL_OK)
		goto out;
	for (size_t k = 0; k < sizeof(bogus) / sizeof(bogus[0]); k++) {
		memset(v, 0, n * sizeof(float));
		v[off - 1] = 1.0f; /* the aggregation weight */
		memcpy(v + off, bogus[k], sizeof(bogus[k]));
		f->bogus_sent++;
		if (h_update(conn, h->id, round, v, n, &rep, &r) == PFL_OK &&
		    r.type == PFL_MSG_ERROR &&
		    strstr(r.u.error.text, "evaluation") != NULL)
			f->bogus_refused++;
	}
	/* The most it may claim: cap examples, all right, no loss. */
	memset(v, 0, n * sizeof(float));
	v[off - 1] = 1.0f;
	v[off] = 1.0f;
	v[off + 1] = 1.0f;
	f->extreme_acked =
	        h_update(conn, h->id, round, v, n, &rep, &r) == PFL_OK &&
	        r.type == PFL_MSG_ACK;
out:
	free(v);
	pfl_buf_fini(&rep);
	pfl_conn_close(conn);
	return NULL;
}

/* ---- the federation ---- */

static void
observe(void *arg, const struct pfl_round_report *r)
{
	struct fed *f = arg;

	pthread_mutex_lock(&f->mu);
	if (!r->aborted && r->round <= MAXR) {
		f->have[r->round] = true;
		f->rep[r->round] = *r;
	}
	pthread_mutex_unlock(&f->mu);
}

static void
agg_config(struct fed *f, struct pfl_agg_config *cfg)
{
	char err[PFL_CFG_ERRLEN], v[64];

	assert_int_equal(pfl_agg_config_init(cfg, err, sizeof(err)), PFL_OK);
	set(cfg, "listen", f->url);
	set(cfg, "out_dir", f->out);
	set(cfg, "resume", "false");
	set(cfg, "model", "logreg");
	set(cfg, "test_data", "none"); /* no central test set */
	snprintf(v, sizeof(v), "%d", f->rounds);
	set(cfg, "rounds", v);
	set(cfg, "clients_per_round", "3");
	set(cfg, "min_clients", "3");
	set(cfg, "overselect", "1.0");
	set(cfg, "checkin_interval_ms", "50");
	set(cfg, "round_timeout_s", "120");
	set(cfg, "phase_timeout_s", "120");
	set(cfg, "local_epochs", "1");
	set(cfg, "batch", "20");
	set(cfg, "lr", "0.1");
	if (f->secagg) {
		set(cfg, "secure_aggregation", "secagg");
		/* the fixed point's step shrinks with the clip: at 5 the
		 * figures are good to ~1e-4 (CLIENT.md) */
		set(cfg, "clip_norm", "5");
	}
	if (f->hostile)
		set(cfg, "weight_cap", "500"); /* the cap a client weighs */
	snprintf(v, sizeof(v), "http://127.0.0.1:%d", f->http_port);
	set(cfg, "http_listen", v);
	if (pfl_agg_config_check(cfg, err, sizeof(err)) != PFL_OK)
		fail_msg("config: %s", err);
}

static char *
http_get(int port, const char *path)
{
	struct sockaddr_in sa;
	char req[256], *buf;
	size_t len = 0, cap = 1 << 18;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	         path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    (buf = malloc(cap + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* A port nobody listens on now (the kernel's choice; other tests run
 * beside this one). */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* The expected figures of a round, scored here with the model API. */
static void
expected(struct dev *devs, int ndev, const struct pfl_dataset *ds,
         uint64_t round, double extra_n, double extra_right, double *n,
         double *acc, double *loss)
{
	struct pfl_model_spec spec;
	struct pfl_model *m = NULL;
	double sn = extra_n, sa = extra_right, sl = 0;

	memset(&spec, 0, sizeof(spec));
	assert_int_equal(pfl_model_spec_parse("logreg", ds->c, ds->h, ds->w,
	                                      ds->classes, &spec),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&spec, &m), PFL_OK);
	for (int i = 0; i < ndev; i++) {
		double a = 0, l = 0;
		assert_non_null(devs[i].seen[round]);
		assert_int_equal(devs[i].np, pfl_model_num_params(m));
		memcpy(pfl_model_params(m), devs[i].seen[round],
		       devs[i].np * sizeof(float));
		assert_int_equal(pfl_model_evaluate(m, ds, devs[i].eval_idx,
		                                    eval_sizes[i], &a, &l),
		                 PFL_OK);
		sn += (double)eval_sizes[i];
		sa += (double)eval_sizes[i] * a;
		sl += (double)eval_sizes[i] * (l < 100 ? l : 100);
	}
	pfl_model_free(m);
	*n = sn;
	*acc = sa / sn;
	*loss = sl / sn;
}

/* Row `round` of rounds.csv: its last three columns. */
static bool
csv_row(const char *out, uint64_t round, double *loss, double *acc,
        unsigned long long *n)
{
	char path[160], line[1024];
	bool found = false;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/rounds.csv", out);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strstr(line, ",status,fed_eval_loss,fed_eval_accuracy,"
	                 "fed_eval_examples") == NULL) {
		fclose(fp);
		return false;
	}
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		unsigned long long r;
		const char *p = line;
		if (sscanf(line, "%llu,", &r) != 1 || r != round ||
		    strstr(line, ",ok,") == NULL)
			continue;
		p = strstr(line, ",ok,") + 4;
		found = sscanf(p, "%lf,%lf,%llu", loss, acc, n) == 3;
	}
	fclose(fp);
	return found;
}

static void
run(struct fed *f, int ndev_lib)
{
	static int runs;
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct pfl_dataset ds;
	struct dev devs[NDEV];
	struct hostile h;
	pthread_t ath, dth[NDEV], hth;
	int checked = 0;

	runs++;
	pthread_mutex_init(&f->mu, NULL);
	snprintf(f->url, sizeof(f->url), "tcp://127.0.0.1:%d", free_port());
	f->http_port = free_port();
	snprintf(f->out, sizeof(f->out), "/tmp/pfl-eval13-%ld-%d",
	         (long)getpid(), runs);
	agg_config(f, &cfg);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	pfl_aggregator_set_observer(at.a, observe, f);
	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &ds), PFL_OK);
	for (int i = 0; i < ndev_lib; i++)
		dev_init(&devs[i], i, f, &ds, pfl_aggregator_public_key(at.a));
	assert_int_equal(pthread_create(&ath, NULL, agg_main, &at), 0);
	for (int i = 0; i < ndev_lib; i++)
		assert_int_equal(
		        pthread_create(&dth[i], NULL, dev_main, &devs[i]), 0);
	if (f->hostile) {
		h.f = f;
		h.server_key = pfl_aggregator_public_key(at.a);
		assert_int_equal(pfl_identity_generate(&h.id), PFL_OK);
		assert_int_equal(pthread_create(&hth, NULL, hostile_main, &h),
		                 0);
	}
	assert_int_equal(pthread_join(ath, NULL), 0);
	for (int i = 0; i < ndev_lib; i++)
		atomic_store(&devs[i].stop, 1);
	for (int i = 0; i < ndev_lib; i++)
		assert_int_equal(pthread_join(dth[i], NULL), 0);
	if (f->hostile) {
		assert_int_equal(pthread_join(hth, NULL), 0);
		pfl_identity_free(h.id);
	}
	assert_int_equal(at.rv, PFL_OK);

	/* Every released round: the weighted mean of what each client's
	 * model scores on its held-out examples. */
	for (int r = 1; r <= f->rounds; r++) {
		double n, acc, loss, cl, ca;
		unsigned long long cn;
		const struct pfl_round_report *rep = &f->rep[r];
		double extra = f->hostile ? 500 : 0; /* its clipped weight */
		assert_true(f->have[r]);
		assert_int_equal(rep->survived, 3);
		expected(devs, ndev_lib, &ds, (uint64_t)r, extra, extra, &n,
		         &acc, &loss);
		print_message(
		        "round %d: federated accuracy %.6f loss %.6f "
		        "over %llu examples; scored here %.6f %.6f %.0f\n",
		        r, rep->fed_eval_accuracy, rep->fed_eval_loss,
		        (unsigned long long)rep->fed_eval_examples, acc, loss,
		        n);
		assert_true(isnan(rep->accuracy)); /* no central test set */
		assert_int_equal(rep->fed_eval_examples, (uint64_t)n);
		assert_true(fabs(rep->fed_eval_accuracy - acc) < 1e-4);
		assert_true(fabs(rep->fed_eval_loss - loss) < 1e-3);
		assert_true(csv_row(f->out, (uint64_t)r, &cl, &ca, &cn));
		assert_int_equal(cn, rep->fed_eval_examples);
		assert_true(fabs(ca - rep->fed_eval_accuracy) < 1e-5);
		assert_true(fabs(cl - rep->fed_eval_loss) < 1e-5);
		checked++;
	}
	assert_int_equal(checked, f->rounds);
	{
		/* /metrics and /status carry the last round's figures */
		char *m = http_get(f->http_port, "/metrics");
		char *s = http_get(f->http_port, "/status");
		const char *p;
		double v = -1;
		assert_non_null(m);
		assert_non_null(s);
		p = strstr(m, "\nprivfl_fed_eval_accuracy ");
		assert_non_null(p);
		assert_int_equal(
		        sscanf(p, "\nprivfl_fed_eval_accuracy %lf", &v), 1);
		assert_true(fabs(v - f->rep[f->rounds].fed_eval_accuracy) <
		            1e-6);
		assert_non_null(strstr(s, "\"fed_eval_accuracy\":"));
		assert_non_null(strstr(s, "\"fed_eval_examples\":"));
		free(m);
		free(s);
	}
	pfl_aggregator_free(at.a);
	for (int i = 0; i < ndev_lib; i++)
		dev_fini(&devs[i]);
	pfl_dataset_fini(&ds);
	pthread_mutex_destroy(&f->mu);
	rm_rf(f->out);
}

static void
test_fedeval_plain(void **state)
{
	struct fed f;
	(void)state;

	memset(&f, 0, sizeof(f));
	f.rounds = 3;
	run(&f, NDEV);
}

static void
test_fedeval_secagg(void **state)
{
	struct fed f;
	(void)state;

	memset(&f, 0, sizeof(f));
	f.secagg = true;
	f.rounds = 2;
	run(&f, NDEV);
}

static void
test_fedeval_hostile(void **state)
{
	struct fed f;
	(void)state;

	memset(&f, 0, sizeof(f));
	f.hostile = true;
	f.rounds = 1;
	run(&f, NDEV - 1);
	/* every impossible report refused with a reason; the extreme one
	 * taken at its clipped weight (checked in run) */
	assert_int_equal(f.bogus_sent, (int)(sizeof(bogus) / sizeof(bogus[0])));
	assert_int_equal(f.bogus_refused, f.bogus_sent);
	assert_true(f.extreme_acked);
}

/* Masked sums cannot be checked one input at a time: impossible sums are
 * not reported, possible ones give the weighted means. */
static void
test_fedeval_sums(void **state)
{
	struct pfl_round_report rep;
	static const double bad[][3] = {
	        {-0.5, 0, 0}, {1.0, 1.5, 0},   {1.0, 0.5, 1.5},
	        {3.0, 1, 1},  {NAN, 0.5, 0.5}, {1.0, -0.2, 0},
	};
	const double good[3] = {1.5, 1.2, 0.3};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&rep, 0, sizeof(rep));
		assert_false(
		        pfli_fedeval_from_sums(bad[i], 100, 2, 1e-6, &rep));
		assert_int_equal(rep.fed_eval_examples, 0);
	}
	memset(&rep, 0, sizeof(rep));
	assert_true(pfli_fedeval_from_sums(good, 100, 2, 1e-6, &rep));
	assert_int_equal(rep.fed_eval_examples, 150);
	assert_true(fabs(rep.fed_eval_accuracy - 0.8) < 1e-12);
	assert_true(fabs(rep.fed_eval_loss - 0.2 * PFL_EVAL_LOSS_MAX) < 1e-9);
	/* nobody had held-out data: no figure, no error */
	memset(&rep, 0, sizeof(rep));
	assert_true(pfli_fedeval_from_sums((const double[3]){0, 0, 0}, 100, 2,
	                                   1e-6, &rep));
	assert_int_equal(rep.fed_eval_examples, 0);
	assert_true(isnan(rep.fed_eval_accuracy));
}

/* The client's slots: an impossible result reports nothing; a count over
 * the cap weighs the cap; the held-out split is fixed and near its
 * fraction; settings by name refuse unknown names and bad values. */
static void
test_client_side(void **state)
{
	struct pfl_msg_plan p;
	struct pfl_eval_result r;
	struct pfl_client_config *cfg = NULL;
	float s[PFL_EVAL_SLOTS];
	size_t held = 0;
	char err[PFL_CFG_ERRLEN];
	const struct pfl_eval_result bad[] = {
	        {10, NAN, 0.5},  {10, 1.0, 1.5},      {10, -1.0, 0.5},
	        {10, 1.0, -0.1}, {10, INFINITY, 0.5},
	};
	(void)state;

	memset(&p, 0, sizeof(p));
	p.num_params = 10;
	p.eval_cap = 100;
	assert_int_equal(pfli_plan_vector_len(&p), 10 + 1 + PFL_EVAL_SLOTS);
	p.adaptive_clip = true;
	assert_int_equal(pfli_plan_eval_offset(&p), 12);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pfli_eval_slots(&p, &bad[i], s);
		assert_true(s[0] == 0 && s[1] == 0 && s[2] == 0);
	}
	r = (struct pfl_eval_result){50, 2.0, 0.75};
	pfli_eval_slots(&p, &r, s);
	assert_true(fabsf(s[0] - 0.5f) < 1e-7f);
	assert_true(fabsf(s[1] - 0.375f) < 1e-7f);
	assert_true(fabsf(s[2] - (float)(2.0 / PFL_EVAL_LOSS_MAX * 0.5)) <
	            1e-7f);
	r = (struct pfl_eval_result){1000000, 1e9, 1.0};
	pfli_eval_slots(&p, &r, s);
	assert_true(s[0] == 1.0f && s[1] == 1.0f && s[2] == 1.0f);
	p.eval_cap = 0;
	assert_int_equal(pfli_plan_vector_len(&p), 12);

	for (uint64_t i = 0; i < 100000; i++) {
		bool h = pfli_eval_held_out(i, 0.1);
		assert_true(h == pfli_eval_held_out(i, 0.1));
		assert_false(pfli_eval_held_out(i, 0));
		held += h;
	}
	assert_in_range(held, 9500, 10500);

	assert_int_equal(pfl_client_config_new(&cfg), PFL_OK);
	assert_int_equal(pfl_client_config_set(cfg, "eval_fraction", "0.25",
	                                       err, sizeof(err)),
	                 PFL_OK);
	assert_true(cfg->eval_fraction == 0.25);
	assert_int_equal(
	        pfl_client_config_set(cfg, "server", "tcp://h:1", NULL, 0),
	        PFL_OK);
	assert_string_equal(cfg->server, "tcp://h:1");
	assert_int_equal(
	        pfl_client_config_set(cfg, "no_such", "1", err, sizeof(err)),
	        PFL_ERR_NOTFOUND);
	assert_int_not_equal(pfl_client_config_set(cfg, "eval_fraction", "2",
	                                           err, sizeof(err)),
	                     PFL_OK);
	pfl_client_config_free(cfg);
	pfl_client_config_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fedeval_sums),
	        cmocka_unit_test(test_client_side),
	        cmocka_unit_test(test_fedeval_plain),
	        cmocka_unit_test(test_fedeval_secagg),
	        cmocka_unit_test(test_fedeval_hostile),
	};

	return cmocka_run_group_tests_name("eval13_fedeval", tests, NULL, NULL);
}
