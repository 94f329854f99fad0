/*
 * Load generator for one privfl-aggregator (issue #12, item 3): N library
 * clients, each with its own identity and its own TCP connection (an nng
 * REQ socket), kept checking in by a few threads until SIGINT/SIGTERM.
 * A client that is selected trains (logreg, the built-in trainer, on 32
 * Fashion-MNIST images of its own) and delivers its update like any
 * privfl-client. Prints, on exit:
 *   conns clients=N connected=C checkins=K idle check-in latency
 *         p50/p99/max (ms), updates delivered, rounds released seen
 * bench/conns.sh starts the aggregator, runs this, and reads the
 * aggregator's own figures (peak memory, descriptors, rounds.csv).
 *
 *   bench_conns URL SERVER_KEY_FILE N [THREADS]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/transport.h"

#define EXAMPLES   32
#define MAX_SAMPLE (1u << 20)

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct bclient {
	struct pfl_client *c;
	struct pfl_conn *conn;
	struct pfl_identity *id;
	struct pfl_client_data data;
	int64_t next_us;
};

struct worker {
	struct bclient *cl;
	size_t first, n; /* clients [first, first + n) */
	struct pfl_trainer tr;
	uint32_t *lat_us; /* idle check-in latencies, a reservoir */
	size_t nlat, seen;
	uint64_t checkins, delivered;
	uint64_t seed;
	pfl_err rv;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!stop) {
		int64_t t = now_us(), soonest = t + 100000;

		for (size_t i = w->first; i < w->first + w->n && !stop; i++) {
			struct bclient *b = &w->cl[i];
			int64_t wait = 0, t0, dt;
			bool idle;
			uint64_t done;

			if (b->next_us > t) {
				if (b->next_us < soonest)
					soonest = b->next_us;
				continue;
			}
			idle = !pfl_client_is_busy(b->c);
			done = pfl_client_rounds_done(b->c);
			t0 = now_us();
			if ((w->rv = pfl_client_step(b->c, b->conn, &w->tr,
			                             &wait)) != PFL_OK)
				return NULL;
			dt = now_us() - t0;
			w->checkins += idle;
			w->delivered += pfl_client_rounds_done(b->c) - done;
			/* an idle check-in answered "not now" */
			if (idle && !pfl_client_is_busy(b->c)) {
				size_t slot = w->seen++;
				if (slot >= MAX_SAMPLE) { /* reservoir sample */
					w->seed =
					        w->seed * 6364136223846793005u +
					        1442695040888963407u;
					slot = (size_t)((w->seed >> 33) %
					                w->seen);
				}
				if (slot < MAX_SAMPLE) {
					w->lat_us[slot] = (uint32_t)dt;
					if (w->nlat < MAX_SAMPLE)
						w->nlat++;
				}
			}
			b->next_us = now_us() + (wait > 0 ? wait : 0) * 1000;
			t = now_us();
		}
		if (soonest > now_us()) {
			int64_t us = soonest - now_us();
			struct timespec ts = {(time_t)(us / 1000000),
			                      (long)(us % 1000000) * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
die(const char *what, pfl_err rc)
{
	fprintf(stderr, "bench_conns: %s: %s\n", what, pfl_strerror(rc));
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *url, *keyfile;
	size_t n, nthreads = 8, all = 0;
	uint8_t server_pk[32];
	struct pfl_dataset ds;
	struct bclient *cl;
	struct worker *w;
	pthread_t *th;
	struct rlimit rl;
	struct sigaction sa;
	uint32_t *lat;
	uint64_t checkins = 0, delivered = 0;
	int64_t t0;
	pfl_err rc;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_conns URL SERVER_KEY_FILE N "
		                "[THREADS]\n");
		return 2;
	}
	url = argv[1];
	keyfile = argv[2];
	n = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		nthreads = strtoul(argv[4], NULL, 10);
	if (n < 1 || n > 100000 || nthreads < 1 || nthreads > 256)
		die("N in [1, 100000], THREADS in [1, 256]", PFL_ERR_INVAL);
	if ((rc = pfl_pubkey_load(keyfile, server_pk)) != PFL_OK)
		die(keyfile, rc);
	/* one descriptor per connection, and a margin */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 256) {
		rl.rlim_cur = rl.rlim_max < n + 256 ? rl.rlim_max : n + 256;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < n + 64)
			die("RLIMIT_NOFILE too low for N connections",
			    PFL_ERR_CONFIG);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((rc = pfl_dataset_load_fmnist(NULL, true, &ds)) != PFL_OK)
		die("Fashion-MNIST", rc);
	cl = calloc(n, sizeof(*cl));
	w = calloc(nthreads, sizeof(*w));
	th = calloc(nthreads, sizeof(*th));
	if (cl == NULL || w == NULL || th == NULL)
		die("clients", PFL_ERR_NOMEM);
	t0 = now_us();
	for (size_t i = 0; i < n; i++) {
		struct pfl_client_opts co;
		struct pfl_transport_opts to;
		uint32_t *idx = malloc(EXAMPLES * sizeof(uint32_t));

		if (idx == NULL)
			die("clients", PFL_ERR_NOMEM);
		for (uint32_t j = 0; j < EXAMPLES; j++)
			idx[j] = (uint32_t)((i * EXAMPLES + j) % ds.n);
		cl[i].data.ds = &ds;
		cl[i].data.idx = idx;
		cl[i].data.n = EXAMPLES;
		memset(&co, 0, sizeof(co));
		co.federation_id = "default";
		co.server_key = server_pk;
		pfl_wire_limits_default(&co.limits, 0);
		co.backoff_min_ms = 100;
		co.backoff_max_ms = 5000;
		co.faults.dropout_phase = -1;
		co.seed = (uint64_t)i + 1;
		memset(&to, 0, sizeof(to));
		to.timeout_ms = 60000;
		if ((rc = pfl_identity_generate(&cl[i].id)) != PFL_OK ||
		    (rc = pfl_client_new(&co, cl[i].id, &cl[i].data,
		                         &cl[i].c)) != PFL_OK ||
		    (rc = pfl_conn_open(url, &to, &cl[i].conn)) != PFL_OK) {
			fprintf(stderr, "bench_conns: client %zu of %zu\n", i,
			        n);
			die("client", rc);
		}
		/* spread the first check-ins over a second */
		cl[i].next_us = t0 + (int64_t)(i * 1000000 / n);
	}
	fprintf(stderr, "bench_conns: %zu clients open in %.1f s\n", n,
	        (double)(now_us() - t0) * 1e-6);
	for (size_t k = 0; k < nthreads; k++) {
		w[k].cl = cl;
		w[k].first = n * k / nthreads;
		w[k].n = n * (k + 1) / nthreads - w[k].first;
		w[k].seed = k + 1;
		if ((w[k].lat_us = malloc(MAX_SAMPLE * sizeof(uint32_t))) ==
		            NULL ||
		    (rc = pfl_trainer_model_init(&w[k].tr)) != PFL_OK)
			die("worker", PFL_ERR_NOMEM);
		if (pthread_create(&th[k], NULL, worker_main, &w[k]) != 0)
			die("thread", PFL_ERR_NOMEM);
	}
	for (size_t k = 0; k < nthreads; k++)
		pthread_join(th[k], NULL);
	for (size_t k = 0; k < nthreads; k++)
		all += w[k].nlat;
	if ((lat = malloc((all + 1) * sizeof(uint32_t))) == NULL)
		die("latencies", PFL_ERR_NOMEM);
	all = 0;
	for (size_t k = 0; k < nthreads; k++) {
		memcpy(lat + all, w[k].lat_us, w[k].nlat * sizeof(uint32_t));
		all += w[k].nlat;
		checkins += w[k].checkins;
		delivered += w[k].delivered;
		if (w[k].rv != PFL_OK)
			fprintf(stderr, "bench_conns: worker %zu: %s\n", k,
			        pfl_strerror(w[k].rv));
	}
	qsort(lat, all, sizeof(uint32_t), cmp_u32);
	printf("conns clients=%zu threads=%zu checkins=%llu "
	       "updates_delivered=%llu seconds=%.1f\n",
	       n, nthreads, (unsigned long long)checkins,
	       (unsigned long long)delivered, (double)(now_us() - t0) * 1e-6);
	if (all > 0)
		printf("conns checkin_latency_ms p50=%.2f p99=%.2f max=%.2f "
		       "(idle check-ins answered, %zu sampled)\n",
		       lat[all / 2] * 1e-3, lat[all * 99 / 100] * 1e-3,
		       lat[all - 1] * 1e-3, all);
	for (size_t k = 0; k < nthreads; k++) {
		pfl_trainer_model_fini(&w[k].tr);
		free(w[k].lat_us);
	}
	for (size_t i = 0; i < n; i++) {
		pfl_conn_close(cl[i].conn);
		pfl_client_free(cl[i].c);
		pfl_identity_free(cl[i].id);
		free((void *)cl[i].data.idx);
	}
	pfl_dataset_fini(&ds);
	free(lat);
	free(cl);
	free(w);
	free(th);
	return 0;
}
