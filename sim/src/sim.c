/*
 * The simulator: one in-process aggregator thread and N virtual clients
 * stepped by a pool of worker threads over inproc:// (or tcp:// for
 * --processes, see procs.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/client.h"
#include "privfl/clock.h"
#include "privfl/log.h"
#include "privfl/partition.h"
#include "sim_int.h"

/* A min-heap of (wake time, client) shared by the workers. */
struct slot {
	int64_t wake;
	uint32_t client;
};

struct sched {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct slot *heap;
	size_t len;
	uint32_t first; /* clients [first, first + count) are stepped here */
	uint32_t count;
	uint8_t *nudged; /* [count]: woken while being stepped: step again */
	struct keyidx *keys; /* [count], sorted by public key */
	atomic_int stop;     /* read without mtx by the pool's caller */
	struct pfl_client **clients;
	const char *url;
	struct pfl_transport_opts topts;
	pfl_err failure;
};

/* A client's public key and index, for finding the members of a round. */
struct keyidx {
	uint8_t pk[32];
	uint32_t client;
};

static int
keyidx_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void
heap_push(struct sched *s, int64_t wake, uint32_t client)
{
	size_t i = s->len++;

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p].wake <= wake)
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i].wake = wake;
	s->heap[i].client = client;
}

/* Put v at index i, moving it down below any smaller child. */
static void
sift_down(struct sched *s, size_t i, struct slot v)
{
	for (;;) {
		size_t l = 2 * i + 1, m = l;
		if (l >= s->len)
			break;
		if (l + 1 < s->len && s->heap[l + 1].wake < s->heap[l].wake)
			m = l + 1;
		if (s->heap[m].wake >= v.wake)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	s->heap[i] = v;
}

static struct slot
heap_pop(struct sched *s)
{
	struct slot top = s->heap[0], last = s->heap[--s->len];

	if (s->len > 0)
		sift_down(s, 0, last);
	return top;
}

/* Floyd's bottom-up construction, after wake times were lowered. */
static void
heap_rebuild(struct sched *s)
{
	for (size_t k = s->len / 2; k-- > 0;)
		sift_down(s, k, s->heap[k]);
}

/*
 * The aggregator says waiting clients could act now (a round is drawing,
 * or the members' plans or secure-aggregation outputs are ready): wake
 * them instead of letting them sleep out their retry-after. Clients in
 * the middle of a step are marked and stepped again at once after it.
 */
static void
on_notify(void *arg, enum pfl_agg_event ev, const uint8_t (*members)[32],
          uint32_t n)
{
	struct sched *s = arg;
	int64_t now = pfl_clock_ms();

	(void)ev;
	pthread_mutex_lock(&s->mtx);
	if (members == NULL) {
		memset(s->nudged, 1, s->count);
	} else {
		for (uint32_t i = 0; i < n; i++) {
			const struct keyidx *k =
			        bsearch(members[i], s->keys, s->count,
			                sizeof(*s->keys), keyidx_cmp);
			if (k != NULL)
				s->nudged[k->client - s->first] = 1;
		}
	}
	for (size_t i = 0; i < s->len; i++) {
		uint32_t j = s->heap[i].client - s->first;
		if (s->nudged[j] && s->heap[i].wake > now) {
			s->heap[i].wake = now;
			s->nudged[j] = 0;
		}
	}
	heap_rebuild(s);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

struct worker {
	struct sched *s;
	pthread_t thr;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct sched *s = w->s;
	struct pfl_conn *conn = NULL;
	struct pfl_trainer tr = {0};
	pfl_err rv;

	if ((rv = pfl_conn_open(s->url, &s->topts, &conn)) != PFL_OK ||
	    (rv = pfl_trainer_model_init(&tr)) != PFL_OK) {
		pthread_mutex_lock(&s->mtx);
		s->failure = rv;
		s->stop = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mtx);
		goto out;
	}
	pthread_mutex_lock(&s->mtx);
	while (!s->stop) {
		struct slot sl;
		int64_t now = pfl_clock_ms(), wait = 0;
		if (s->len == 0 || s->heap[0].wake > now) {
			struct timespec ts;
			int64_t until = s->len ? s->heap[0].wake : now + 50;
			if (until > now + 50)
				until = now + 50;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(until - now) * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
			continue;
		}
		sl = heap_pop(s);
		s->nudged[sl.client - s->first] = 0;
		pthread_mutex_unlock(&s->mtx);
		rv = pfl_client_step(s->clients[sl.client], conn, &tr, &wait);
		pthread_mutex_lock(&s->mtx);
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "client %u: %s", sl.client,
			        pfl_strerror(rv));
			wait = 1000;
		}
		if (s->nudged[sl.client - s->first]) {
			s->nudged[sl.client - s->first] = 0;
			wait = 0;
		}
		heap_push(s, pfl_clock_ms() + wait, sl.client);
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mtx);
out:
	pfl_trainer_model_fini(&tr);
	pfl_conn_close(conn);
	return NULL;
}

struct agg_thread {
	struct pfl_aggregator *a;
	pthread_t thr;
	pfl_err rv;
	atomic_int done; /* set by the aggregator's thread */
};

static void
observe(void *arg, const struct pfl_round_report *r)
{
	struct pfl_sim_result *res = arg;

	if (r->aborted) {
		res->aborted_rounds++;
		return;
	}
	res->rounds = r->round;
	if (!isnan(r->accuracy)) {
		res->accuracy = r->accuracy;
		res->loss = r->loss;
	}
	res->epsilon = r->epsilon;
	res->delta = r->delta;
}

/*
 * The virtual clients pin their aggregator's key and hold a privacy policy
 * that matches the federation's plan, so that they run the same checks as
 * a device: its DP and secure aggregation modes at least, its clip norm at
 * most (unless adaptive), and in local DP its noise multiplier.
 */
static void
client_policy(const struct pfl_sim_config *c, struct pfl_client_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->min_dp_mode = (uint8_t)c->agg.dp_mode;
	pol->min_sa_mode = (uint8_t)c->agg.secure_aggregation;
	if (c->agg.dp_mode != PFL_DP_NONE && !c->agg.adaptive_clip)
		pol->max_clip_norm = c->agg.clip_norm;
	if (c->agg.dp_mode == PFL_DP_LOCAL)
		pol->min_noise_multiplier = c->agg.noise_multiplier * 0.999;
}

pfl_err
pfli_sim_make_clients(const struct pfl_sim_config *c, struct pfli_sim *sim,
                      const uint8_t *server_pk)
{
	struct pfl_client_opts o;
	pfl_err rv;

	memset(&o, 0, sizeof(o));
	o.federation_id = c->agg.federation_id;
	o.server_key = server_pk;
	o.limits.max_msg_bytes = (size_t)c->agg.max_message_mb << 20;
	o.limits.max_vector_bytes = o.limits.max_msg_bytes;
	o.limits.max_payload_bytes = o.limits.max_msg_bytes;
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 2000;
	client_policy(c, &o.policy);
	for (uint32_t i = 0; i < sim->n; i++) {
		uint8_t seed[32];
		pfli_sim_faults(c, &o.faults);
		o.seed = (uint64_t)c->agg.seed * 7919u + i + 1;
		pfli_sim_client_seed(c, i, seed);
		rv = pfl_identity_from_seed(seed, &sim->ids[i]);
		sodium_memzero(seed, sizeof(seed));
		if (rv != PFL_OK)
			return rv;
		sim->data[i].ds = &sim->train;
		sim->data[i].idx = sim->part.index + sim->part.offset[i];
		sim->data[i].n = sim->part.offset[i + 1] - sim->part.offset[i];
		rv = pfl_client_new(&o, sim->ids[i], &sim->data[i],
		                    &sim->clients[i]);
		if (rv != PFL_OK)
			return rv;
	}
	return PFL_OK;
}

/*
 * Step clients [first, first+count) on nthreads workers over url until
 * *done becomes non-zero (set by another thread or a signal handler).
 */
pfl_err
pfli_sim_workers(const struct pfl_sim_config *c, struct pfli_sim *sim,
                 const char *url, uint32_t first, uint32_t count,
                 int64_t nthreads, atomic_int *done, struct pfl_aggregator *a)
{
	struct sched s;
	struct worker *w = NULL;
	int64_t started = 0;
	pfl_err rv = PFL_OK;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mtx, NULL);
	pthread_cond_init(&s.cv, NULL);
	s.clients = sim->clients;
	s.url = url;
	s.first = first;
	s.count = count;
	s.topts.max_msg_bytes = (size_t)c->agg.max_message_mb << 20;
	s.topts.timeout_ms = (int)c->agg.request_timeout_ms;
	if ((s.heap = calloc(count, sizeof(*s.heap))) == NULL ||
	    (s.nudged = calloc(count ? count : 1, 1)) == NULL ||
	    (s.keys = calloc(count ? count : 1, sizeof(*s.keys))) == NULL ||
	    (w = calloc((size_t)nthreads, sizeof(*w))) == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		memcpy(s.keys[i].pk, pfl_identity_public(sim->ids[first + i]),
		       32);
		s.keys[i].client = first + i;
	}
	qsort(s.keys, count, sizeof(*s.keys), keyidx_cmp);
	if (a != NULL)
		pfl_aggregator_set_notify(a, on_notify, &s);
	for (uint32_t i = 0; i < count; i++)
		heap_push(&s, pfl_clock_ms() + (int64_t)(i % 50), first + i);
	for (; started < nthreads; started++) {
		w[started].s = &s;
		if (pthread_create(&w[started].thr, NULL, worker_main,
		                   &w[started]) != 0)
			break;
	}
	while (!*done && !s.stop)
		pfl_sleep_ms(10);
	if (a != NULL)
		pfl_aggregator_set_notify(a, NULL, NULL);
	pthread_mutex_lock(&s.mtx);
	s.stop = 1;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mtx);
	for (int64_t i = 0; i < started; i++)
		pthread_join(w[i].thr, NULL);
	rv = s.failure;
out:
	free(w);
	free(s.keys);
	free(s.nudged);
	free(s.heap);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mtx);
	return rv;
}

static void *
agg_main(void *arg)
{
	struct agg_thread *t = arg;

	t->rv = pfl_aggregator_run(t->a);
	t->done = 1;
	return NULL;
}

static pfl_err
run_threads(const struct pfl_sim_config *c, struct pfli_sim *sim,
            struct pfl_aggregator *a)
{
	struct agg_thread at;
	/* A worker is idle while the aggregator's threads handle its
	 * request (verify, aggregate, sign the reply): with one per core the
	 * cores were busy 1.4 of 2; with four per core, 1.75 of 2, and the
	 * issue's IID run took 6.4-6.9 s instead of 6.9-8.0 s. */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t nthreads = c->threads > 0
	                           ? c->threads
	                           : 4 * (int64_t)(cores > 0 ? cores : 1);
	pfl_err rv;

	memset(&at, 0, sizeof(at));
	at.a = a;
	if (pthread_create(&at.thr, NULL, agg_main, &at) != 0)
		return PFL_ERR_NOMEM;
	pfl_sleep_ms(20); /* let the aggregator listen before clients dial */
	rv = pfli_sim_workers(c, sim, c->agg.listen, 0, sim->n, nthreads,
	                      &at.done, a);
	if (rv != PFL_OK)
		pfl_aggregator_stop(a);
	pthread_join(at.thr, NULL);
	return at.rv != PFL_OK ? at.rv : rv;
}

pfl_err
pfl_sim_run(const struct pfl_sim_config *c, struct pfl_sim_result *res)
{
	struct pfli_sim sim;
	struct pfl_sim_config cfg = *c;
	struct pfl_aggregator *a = NULL;
	char url[128];
	double t0 = pfl_clock_sec();
	pfl_err rv;

	memset(res, 0, sizeof(*res));
	memset(&sim, 0, sizeof(sim));
	cfg.agg.out_dir = c->out;
	if (cfg.agg.population == 0)
		cfg.agg.population = c->clients;
	if ((rv = pfl_sim_config_resolve(&cfg, NULL, 0)) != PFL_OK)
		goto out;
	snprintf(url, sizeof(url), "inproc://privfl-sim-%ld", (long)getpid());
	cfg.agg.listen = url;
	if ((rv = pfli_sim_load(&cfg, &sim)) != PFL_OK)
		goto out;
	if (c->processes &&
	    (rv = pfli_sim_pick_url(&cfg, url, sizeof(url))) != PFL_OK)
		goto out;
	if ((rv = pfl_aggregator_new(&cfg.agg, &a)) != PFL_OK)
		goto out;
	pfl_aggregator_set_observer(a, observe, res);
	rv = pfli_sim_make_clients(&cfg, &sim, pfl_aggregator_public_key(a));
	if (rv != PFL_OK)
		goto out;
	rv = c->processes ? pfli_sim_run_processes(&cfg, &sim, a)
	                  : run_threads(&cfg, &sim, a);
out:
	res->seconds = pfl_clock_sec() - t0;
	pfl_aggregator_free(a);
	pfli_sim_unload(&sim);
	return rv;
}
