/*
 * The worker pool that steps virtual clients (one connection and one
 * training model per worker), and the slots that hold the clients that
 * exist right now.
 *
 * In one process the aggregator draws every cohort through this pool
 * (on_sample): only the drawn clients get a slot, an identity and a
 * pfl_client, and a client's slot is freed (its secret key wiped) as soon
 * as its round is over for it. Idle clients of the population cost
 * nothing: they have no slot and never check in. A --processes child
 * instead keeps its range of clients resident, checking in as daemons do.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/clock.h"
#include "privfl/log.h"
#include "sim_int.h"

struct slot {
	uint32_t index;  /* in the population */
	uint32_t gen;    /* the draw it belongs to */
	uint32_t ticket; /* its heap entry (stale entries are skipped) */
	bool used;
	bool busy;      /* a worker is stepping it */
	bool nudged;    /* woken while being stepped: step again */
	bool took_part; /* held a plan: its round ends when it lets go */
	struct pfl_identity *id; /* NULL until its first step */
	struct pfl_client *client;
	struct pfl_client_data data;
	uint8_t pk[32];
};

/* A heap entry: when to step which slot. */
struct entry {
	int64_t wake;
	uint32_t slot;
	uint32_t ticket;
};

/* A drawn client's public key and slot, for finding a round's members. */
struct keyidx {
	uint8_t pk[32];
	uint32_t slot;
};

struct pfli_sched {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	const struct pfl_sim_config *c;
	struct pfli_sim *sim;
	bool drawn; /* cohorts drawn here (else: resident clients) */
	struct slot *slots;
	uint32_t nslots;
	uint32_t *free; /* free slot ids (a stack) */
	uint32_t nfree;
	struct entry *heap;
	size_t len;
	struct keyidx *keys; /* the current draw's, sorted by key */
	uint32_t nkeys;
	uint32_t *drawbuf; /* [cohort_cap] indices of a draw */
	uint32_t gen;
	uint64_t epoch;    /* the aggregator's selection attempt drawn */
	uint32_t resident; /* slots holding an identity */
	atomic_int stop;   /* read without mtx by the pool's caller */
	const char *url;
	struct pfl_transport_opts topts;
	pfl_err failure;
};

static int
keyidx_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void
heap_push(struct pfli_sched *s, int64_t wake, uint32_t slot)
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
	s->heap[i].slot = slot;
	s->heap[i].ticket = s->slots[slot].ticket;
}

/* Put v at index i, moving it down below any smaller child. */
static void
sift_down(struct pfli_sched *s, size_t i, struct entry v)
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

static struct entry
heap_pop(struct pfli_sched *s)
{
	struct entry top = s->heap[0], last = s->heap[--s->len];

	if (s->len > 0)
		sift_down(s, 0, last);
	return top;
}

static bool
live(const struct pfli_sched *s, const struct entry *e)
{
	const struct slot *sl = &s->slots[e->slot];

	return sl->used && sl->ticket == e->ticket;
}

/* Drop stale entries, then Floyd's bottom-up construction. */
static void
heap_rebuild(struct pfli_sched *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->len; i++)
		if (live(s, &s->heap[i]))
			s->heap[n++] = s->heap[i];
	s->len = n;
	for (size_t k = s->len / 2; k-- > 0;)
		sift_down(s, k, s->heap[k]);
}

/* Free a slot's client and identity (wiping its secret key). Under mtx. */
static void
retire(struct pfli_sched *s, uint32_t id)
{
	struct slot *sl = &s->slots[id];

	pfl_client_free(sl->client);
	if (sl->id != NULL)
		s->resident--;
	pfl_identity_free(sl->id);
	sl->client = NULL;
	sl->id = NULL;
	sl->used = false;
	sl->ticket++;
	s->free[s->nfree++] = id;
}

/* Give slot id to client index of draw gen (no identity yet). */
static void
occupy(struct pfli_sched *s, uint32_t id, uint32_t index)
{
	struct slot *sl = &s->slots[id];

	sl->index = index;
	sl->gen = s->gen;
	sl->used = true;
	sl->busy = sl->nudged = sl->took_part = false;
	sl->ticket++;
	pfli_sim_client_data(s->sim, index, &sl->data);
}

/* The client of a slot, made at its first step (outside mtx). */
static pfl_err
materialize(struct pfli_sched *s, struct slot *sl)
{
	struct pfl_client_opts o = s->sim->opts;
	pfl_err rv;

	o.seed = (uint64_t)s->c->agg.seed * 7919u + sl->index + 1;
	if (sl->id == NULL) {
		rv = pfli_pop_identity(&s->sim->pop, sl->index, &sl->id);
		if (rv != PFL_OK)
			return rv;
		pthread_mutex_lock(&s->mtx);
		if (++s->resident > s->sim->peak_resident)
			s->sim->peak_resident = s->resident;
		pthread_mutex_unlock(&s->mtx);
	}
	return pfl_client_new(&o, sl->id, &sl->data, &sl->client);
}

/*
 * The aggregator opens a round (its thread, its lock held): the clients of
 * the last draw that are not at work go, and a new cohort is drawn from
 * the population. Only public keys are derived here; a member's secret key
 * exists from its first step until its round is over.
 */
static uint32_t
on_sample(void *arg, uint64_t epoch, double q, uint32_t size,
          uint8_t (*keys)[32], uint32_t cap)
{
	struct pfli_sched *s = arg;
	int64_t wake = pfl_clock_ms() + s->c->agg.checkin_interval_ms;
	uint32_t k, n = 0, before;

	pthread_mutex_lock(&s->mtx);
	if (epoch != s->epoch) { /* a new cohort; else a top-up of this one */
		s->epoch = epoch;
		s->gen++;
		s->nkeys = 0;
		for (uint32_t i = 0; i < s->nslots; i++)
			if (s->slots[i].used && !s->slots[i].busy)
				retire(s, i);
		heap_rebuild(s);
	}
	before = s->nkeys;
	if (cap > s->nfree)
		cap = s->nfree;
	if (cap > s->sim->cohort_cap - s->nkeys)
		cap = s->sim->cohort_cap - s->nkeys;
	k = pfli_pop_draw(&s->sim->pop, q, size, s->drawbuf, cap);
	for (uint32_t i = 0; i < k; i++) {
		uint32_t id = s->free[s->nfree - 1];
		struct keyidx *kx = &s->keys[s->nkeys];
		if (pfli_pop_public_key(&s->sim->pop, s->drawbuf[i], kx->pk) !=
		            PFL_OK ||
		    bsearch(kx->pk, s->keys, before, sizeof(*s->keys),
		            keyidx_cmp) != NULL)
			continue; /* drawn in this cohort already */
		s->nfree--;
		occupy(s, id, s->drawbuf[i]);
		memcpy(s->slots[id].pk, kx->pk, 32);
		memcpy(keys[n++], kx->pk, 32);
		kx->slot = id;
		s->nkeys++;
		heap_push(s, wake, id);
	}
	qsort(s->keys, s->nkeys, sizeof(*s->keys), keyidx_cmp);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	pfl_log(PFL_LOG_DEBUG,
	        "selection %llu: drew %u clients (q %.6f, size %u)",
	        (unsigned long long)epoch, n, q, size);
	return n;
}

/*
 * The cohort is final: drawn clients that are not in it (backed off after
 * failed rounds, or a withdrawal) go. The members were just nudged.
 */
static void
drop_outsiders(struct pfli_sched *s)
{
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->used && sl->gen == s->gen && !sl->nudged && !sl->busy &&
		    !sl->took_part)
			retire(s, i);
	}
}

/*
 * The aggregator says members could act now (their plans or secure-
 * aggregation outputs are ready): wake them instead of letting them sleep
 * out their retry-after. A client in the middle of a step is stepped again
 * at once after it. With drawn cohorts "everyone" (a selection opening)
 * concerns nobody: the members were drawn already.
 */
static void
on_notify(void *arg, enum pfl_agg_event ev, const uint8_t (*members)[32],
          uint32_t n)
{
	struct pfli_sched *s = arg;
	int64_t now = pfl_clock_ms();

	if (members == NULL && s->drawn)
		return;
	pthread_mutex_lock(&s->mtx);
	if (members == NULL) {
		for (uint32_t i = 0; i < s->nslots; i++)
			s->slots[i].nudged = s->slots[i].used;
	} else {
		for (uint32_t i = 0; i < n; i++) {
			const struct keyidx *k =
			        bsearch(members[i], s->keys, s->nkeys,
			                sizeof(*s->keys), keyidx_cmp);
			if (k != NULL && s->slots[k->slot].used)
				s->slots[k->slot].nudged = true;
		}
	}
	if (ev == PFL_AGG_EV_RUNNING && s->drawn)
		drop_outsiders(s);
	for (size_t i = 0; i < s->len; i++) {
		struct slot *sl = &s->slots[s->heap[i].slot];
		if (live(s, &s->heap[i]) && sl->nudged &&
		    s->heap[i].wake > now) {
			s->heap[i].wake = now;
			sl->nudged = false;
		}
	}
	heap_rebuild(s);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

static void
fail(struct pfli_sched *s, pfl_err rv)
{
	pthread_mutex_lock(&s->mtx);
	s->failure = rv;
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
}

/* Wait under mtx until the heap's top is due (at most 50 ms). */
static void
wait_due(struct pfli_sched *s, int64_t now)
{
	struct timespec ts;
	int64_t until = s->len ? s->heap[0].wake : now + 50;

	if (until > now + 50)
		until = now + 50;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(until - now) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&s->cv, &s->mtx, &ts);
}

/*
 * After a step (under mtx): a drawn client whose round is over for it
 * (it held a plan and let go, or its draw is past) leaves; any other
 * comes back after wait, at once while it is mid-round, so that the
 * clients that hold a model finish before others fetch theirs.
 */
static void
after_step(struct pfli_sched *s, uint32_t id, bool busy, int64_t wait)
{
	struct slot *sl = &s->slots[id];

	sl->busy = false;
	if (busy)
		sl->took_part = true;
	if (s->drawn && !busy && (sl->took_part || sl->gen != s->gen)) {
		retire(s, id);
		return;
	}
	if (sl->nudged) {
		sl->nudged = false;
		wait = 0;
	}
	heap_push(s, busy && wait == 0 ? 0 : pfl_clock_ms() + wait, id);
}

static void *
worker_main(void *arg)
{
	struct pfli_sched *s = arg;
	struct pfl_conn *conn = NULL;
	struct pfl_trainer tr = {0};
	pfl_err rv;

	/* Thousands of virtual clients share these threads: their
	 * warnings (a round abandoned, a phase aborted: one line per
	 * client) would bury the aggregator's progress. Their errors stay;
	 * at log_level debug everything does. */
	if (pfl_log_level_current < PFL_LOG_DEBUG)
		pfl_log_set_thread_max(PFL_LOG_ERROR);
	if ((rv = pfl_trainer_model_init(&tr)) != PFL_OK) {
		fail(s, rv);
		goto out;
	}
	pthread_mutex_lock(&s->mtx);
	while (!s->stop) {
		struct entry e;
		struct slot *sl;
		int64_t now = pfl_clock_ms(), wait = 0;
		bool busy;
		if (s->len == 0 || s->heap[0].wake > now) {
			wait_due(s, now);
			continue;
		}
		e = heap_pop(s);
		if (!live(s, &e))
			continue;
		sl = &s->slots[e.slot];
		if (s->drawn && sl->gen != s->gen &&
		    (sl->client == NULL || !pfl_client_is_busy(sl->client))) {
			retire(s, e.slot);
			continue;
		}
		sl->busy = true;
		sl->nudged = false;
		pthread_mutex_unlock(&s->mtx);
		/* Dialled at the first client: with drawn cohorts that comes
		 * after the aggregator listens (it draws from its round loop),
		 * and nng's global set-up is not raced. */
		rv = conn == NULL ? pfl_conn_open(s->url, &s->topts, &conn)
		                  : PFL_OK;
		if (rv != PFL_OK) {
			pthread_mutex_lock(&s->mtx);
			sl->busy = false;
			s->failure = rv;
			s->stop = 1;
			break;
		}
		rv = sl->client == NULL ? materialize(s, sl) : PFL_OK;
		if (rv == PFL_OK)
			rv = pfl_client_step(sl->client, conn, &tr, &wait);
		busy = sl->client != NULL && pfl_client_is_busy(sl->client);
		pthread_mutex_lock(&s->mtx);
		if (rv == PFL_ERR_NOMEM && sl->client == NULL) {
			sl->busy = false;
			s->failure = rv;
			s->stop = 1;
			break;
		}
		if (rv != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "client %u: %s", sl->index,
			        pfl_strerror(rv));
			wait = 1000;
		}
		after_step(s, e.slot, busy, wait);
		pthread_cond_signal(&s->cv);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
out:
	pfl_trainer_model_fini(&tr);
	pfl_conn_close(conn);
	return NULL;
}

static void
sched_free(struct pfli_sched *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; s->slots != NULL && i < s->nslots; i++)
		if (s->slots[i].used)
			retire(s, i);
	free(s->slots);
	free(s->free);
	free(s->heap);
	free(s->keys);
	free(s->drawbuf);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

static pfl_err
sched_new(const struct pfl_sim_config *c, struct pfli_sim *sim, const char *url,
          uint32_t nslots, bool drawn, struct pfli_sched **out)
{
	struct pfli_sched *s = calloc(1, sizeof(*s));
	uint32_t cap = drawn ? sim->cohort_cap : 1;

	if (s == NULL)
		return PFL_ERR_NOMEM;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->c = c;
	s->sim = sim;
	s->drawn = drawn;
	s->url = url;
	s->nslots = nslots;
	s->topts.max_msg_bytes = (size_t)c->agg.max_message_mb << 20;
	s->topts.timeout_ms = (int)c->agg.request_timeout_ms;
	s->slots = calloc(nslots ? nslots : 1, sizeof(*s->slots));
	s->free = calloc(nslots ? nslots : 1, sizeof(*s->free));
	s->heap = calloc(nslots ? nslots : 1, sizeof(*s->heap));
	s->keys = calloc(cap, sizeof(*s->keys));
	s->drawbuf = calloc(cap, sizeof(*s->drawbuf));
	if (!s->slots || !s->free || !s->heap || !s->keys || !s->drawbuf) {
		sched_free(s);
		return PFL_ERR_NOMEM;
	}
	for (uint32_t i = nslots; i-- > 0;)
		s->free[s->nfree++] = i;
	*out = s;
	return PFL_OK;
}

pfl_err
pfli_sim_workers(const struct pfl_sim_config *c, struct pfli_sim *sim,
                 const char *url, uint32_t first, uint32_t count,
                 int64_t nthreads, atomic_int *done, struct pfl_aggregator *a)
{
	struct pfli_sched *s = NULL;
	pthread_t *thr = NULL;
	int64_t started = 0;
	/* a drawn cohort, and the last one's clients still at work */
	uint32_t nslots =
	        a != NULL ? sim->cohort_cap + (uint32_t)nthreads + 1 : count;
	pfl_err rv;

	if ((rv = sched_new(c, sim, url, nslots, a != NULL, &s)) != PFL_OK)
		return rv;
	if ((thr = calloc((size_t)nthreads, sizeof(*thr))) == NULL) {
		sched_free(s);
		return PFL_ERR_NOMEM;
	}
	for (uint32_t i = 0; a == NULL && i < count; i++) {
		uint32_t id = s->free[--s->nfree];
		occupy(s, id, first + i);
		heap_push(s, pfl_clock_ms() + (int64_t)(i % 50), id);
	}
	if (a != NULL) {
		pfl_aggregator_set_notify(a, on_notify, s);
		if ((rv = pfl_aggregator_set_sampler(a, on_sample, s)) !=
		    PFL_OK)
			goto out;
	}
	for (; started < nthreads; started++)
		if (pthread_create(&thr[started], NULL, worker_main, s) != 0)
			break;
	while (!*done && !s->stop)
		pfl_sleep_ms(10);
out:
	if (a != NULL) {
		/* no callback runs after these return (they take its lock) */
		pfl_aggregator_set_notify(a, NULL, NULL);
		if (pfl_aggregator_set_sampler(a, NULL, NULL) != PFL_OK)
			pfl_log(PFL_LOG_ERROR, "cannot unset the sampler");
	}
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	for (int64_t i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	if (rv == PFL_OK)
		rv = s->failure;
	free(thr);
	sched_free(s);
	return rv;
}
