/*
 * Embedding privfl in an application (docs/EMBEDDING.md).
 *
 * The application owns its data and its training step; privfl does the
 * rest: check-in, model download, clipping, noise, quantization, masking,
 * signing, retries. Here three "devices" of one process each hold 200
 * private 4-feature samples of a two-class problem and train the global
 * logistic-regression model (fc.weight [2,4], fc.bias [2]) with their own
 * SGD code. So that the example runs anywhere, it also starts an
 * aggregator in-process over inproc://; against a real one, open the
 * connection to its tcp:// or tls+tcp:// URL instead and pin its key.
 *
 * Build (installed):  cc embed.c $(pkg-config --cflags --libs privfl)
 * Run:                ./embed [ROUNDS]
 * Exit status 0 when every round completed and the last global model that
 * the devices received classifies their data with accuracy >= 0.8.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <privfl/aggregator.h>
#include <privfl/client.h>
#include <privfl/identity.h>
#include <privfl/transport.h>

#define DEVICES  3
#define SAMPLES  200
#define FEATURES 4
#define CLASSES  2
#define NPARAMS  (CLASSES * FEATURES + CLASSES)

/* The application's own data: never handed to privfl except through
 * data->user, which only the application's train callback reads. */
struct app_data {
	float x[SAMPLES][FEATURES];
	int y[SAMPLES];
	float last_global[NPARAMS]; /* for the final accuracy check */
	int have_global;
};

struct device {
	struct app_data app;
	struct pfl_client_data data;
	struct pfl_identity *id;
	struct pfl_client *client;
	struct pfl_conn *conn;
	pthread_t thread;
	pfl_err rv;
};

static volatile sig_atomic_t stop_clients;

static uint64_t
next_u64(uint64_t *s)
{
	/* splitmix64: the example's own data generator */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static float
uniform(uint64_t *s)
{
	return (float)((double)(next_u64(s) >> 11) / 9007199254740992.0);
}

static void
make_data(struct app_data *d, uint64_t seed)
{
	for (int i = 0; i < SAMPLES; i++) {
		int y = (int)(next_u64(&seed) & 1);
		for (int j = 0; j < FEATURES; j++)
			d->x[i][j] = 2.0f * uniform(&seed) - 1.0f;
		d->x[i][0] += y ? 1.0f : -1.0f;
		d->x[i][1] += y ? 0.5f : -0.5f;
		d->y[i] = y;
	}
}

/* Softmax regression logits for sample x under params w (state_dict order:
 * fc.weight [CLASSES][FEATURES], then fc.bias [CLASSES]). */
static void
logits(const float *w, const float *x, double *z)
{
	for (int k = 0; k < CLASSES; k++) {
		z[k] = w[CLASSES * FEATURES + k];
		for (int j = 0; j < FEATURES; j++)
			z[k] += (double)w[k * FEATURES + j] * x[j];
	}
}

/*
 * The application's training step, called by privfl when this device is
 * selected: start from global, run the plan's epochs of minibatch SGD on
 * the private data, write the result to local.
 */
static pfl_err
app_train(void *arg, const struct pfl_client_data *data,
          const struct pfl_task *task, const float *global, float *local,
          uint32_t *num_examples, double *train_loss)
{
	struct app_data *d = data->user;
	const struct pfl_msg_plan *p = task->plan;
	uint32_t batch = p->batch > 0 ? p->batch : 32;
	double loss = 0;
	size_t seen = 0;

	(void)arg;
	if (p->num_params != NPARAMS)
		return PFL_ERR_STATE; /* not the model this app trains */
	memcpy(d->last_global, global, sizeof(d->last_global));
	d->have_global = 1;
	memcpy(local, global, NPARAMS * sizeof(float));
	for (uint32_t e = 0; e < p->epochs; e++) {
		for (int start = 0; start < SAMPLES; start += (int)batch) {
			float g[NPARAMS] = {0};
			int end = start + (int)batch < SAMPLES
			                  ? start + (int)batch
			                  : SAMPLES;
			for (int i = start; i < end; i++) {
				double z[CLASSES], m, sum = 0;
				logits(local, d->x[i], z);
				m = z[0] > z[1] ? z[0] : z[1];
				for (int k = 0; k < CLASSES; k++)
					sum += (z[k] = exp(z[k] - m));
				for (int k = 0; k < CLASSES; k++) {
					double pk = z[k] / sum;
					double gk = pk - (k == d->y[i]);
					for (int j = 0; j < FEATURES; j++)
						g[k * FEATURES + j] +=
						        (float)(gk *
						                d->x[i][j]);
					g[CLASSES * FEATURES + k] += (float)gk;
					if (k == d->y[i])
						loss -= log(pk > 1e-12 ? pk
						                       : 1e-12);
				}
				seen++;
			}
			for (int q = 0; q < NPARAMS; q++)
				local[q] -=
				        (float)(p->lr * g[q] / (end - start));
		}
	}
	*num_examples = SAMPLES;
	*train_loss = seen > 0 ? loss / (double)seen : 0;
	return PFL_OK;
}

static void *
device_main(void *arg)
{
	struct device *dev = arg;
	const struct pfl_trainer tr = {.train = app_train, .arg = NULL};

	dev->rv = pfl_client_run(dev->client, dev->conn, &tr, &stop_clients);
	return NULL;
}

static void *
aggregator_main(void *arg)
{
	return (void *)(intptr_t)pfl_aggregator_run(arg);
}

static int
set(struct pfl_agg_config *c, const char *k, const char *v)
{
	char err[PFL_CFG_ERRLEN];

	if (pfl_cfg_set(pfl_agg_config_table, pfl_agg_config_table_len, c, k, v,
	                err, sizeof(err)) != PFL_OK) {
		fprintf(stderr, "embed: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct device dev[DEVICES];
	const char *rounds = argc > 1 ? argv[1] : "5";
	char err[PFL_CFG_ERRLEN], out_dir[] = "/tmp/privfl-embed-XXXXXX";
	const char *url = "inproc://privfl-embed";
	struct pfl_agg_config cfg;
	struct pfl_aggregator *agg;
	struct pfl_client_opts o;
	pthread_t agg_thread;
	void *agg_rv;
	size_t correct = 0, total = 0;
	int status = 0;

	/* 1. The aggregator (normally another machine: privfl-aggregator). */
	if (mkdtemp(out_dir) == NULL)
		return 1;
	if (pfl_agg_config_init(&cfg, err, sizeof(err)) != PFL_OK ||
	    set(&cfg, "listen", url) || set(&cfg, "federation_id", "embed") ||
	    set(&cfg, "model", "logreg") || set(&cfg, "input_shape", "1x1x4") ||
	    set(&cfg, "classes", "2") || set(&cfg, "test_data", "none") ||
	    set(&cfg, "rounds", rounds) ||
	    set(&cfg, "clients_per_round", "3") ||
	    set(&cfg, "min_clients", "3") ||
	    set(&cfg, "selection_window_ms", "300") ||
	    set(&cfg, "checkin_interval_ms", "100") || set(&cfg, "lr", "0.5") ||
	    set(&cfg, "local_epochs", "2") || set(&cfg, "out_dir", out_dir) ||
	    pfl_agg_config_check(&cfg, err, sizeof(err)) != PFL_OK ||
	    pfl_aggregator_new(&cfg, &agg) != PFL_OK) {
		fprintf(stderr, "embed: aggregator setup failed %s\n", err);
		return 1;
	}
	pfl_agg_config_fini(&cfg);
	if (pthread_create(&agg_thread, NULL, aggregator_main, agg) != 0)
		return 1;

	/* 2. The devices: identity, private data, client, connection. */
	memset(&o, 0, sizeof(o));
	o.federation_id = "embed";
	o.server_key = pfl_aggregator_public_key(agg); /* pin the server */
	pfl_wire_limits_default(&o.limits, 0);
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 1000;
	o.faults.dropout_phase = -1; /* no injected faults */
	for (int i = 0; i < DEVICES; i++) {
		struct device *d = &dev[i];
		make_data(&d->app, 1000u + (uint64_t)i);
		d->data.user = &d->app; /* only app_train reads it */
		d->data.n = SAMPLES;
		o.seed = (uint64_t)i + 1;
		if (pfl_identity_generate(&d->id) != PFL_OK ||
		    pfl_client_new(&o, d->id, &d->data, &d->client) != PFL_OK ||
		    pfl_conn_open(url, NULL, &d->conn) != PFL_OK ||
		    pthread_create(&d->thread, NULL, device_main, d) != 0) {
			fprintf(stderr, "embed: device %d setup failed\n", i);
			return 1;
		}
	}

	/* 3. Wait for the federation to finish, then stop the devices. */
	pthread_join(agg_thread, &agg_rv);
	stop_clients = 1;
	for (int i = 0; i < DEVICES; i++) {
		pthread_join(dev[i].thread, NULL);
		printf("device %d: %llu rounds delivered\n", i,
		       (unsigned long long)pfl_client_rounds_done(
		               dev[i].client));
		if (dev[i].rv != PFL_OK || !dev[i].app.have_global)
			status = 1;
		/* accuracy of the last global model this device received */
		for (int s = 0; s < SAMPLES && dev[i].app.have_global; s++) {
			double z[CLASSES];
			logits(dev[i].app.last_global, dev[i].app.x[s], z);
			correct += (z[1] > z[0]) == (dev[i].app.y[s] == 1);
			total++;
		}
		pfl_client_free(dev[i].client);
		pfl_conn_close(dev[i].conn);
		pfl_identity_free(dev[i].id);
	}
	printf("aggregator: %llu rounds (%s); results in %s\n",
	       (unsigned long long)pfl_aggregator_rounds_done(agg),
	       pfl_strerror((pfl_err)(intptr_t)agg_rv), out_dir);
	if ((pfl_err)(intptr_t)agg_rv != PFL_OK ||
	    pfl_aggregator_rounds_done(agg) != strtoull(rounds, NULL, 10))
		status = 1;
	printf("accuracy of the last global model received: %.3f\n",
	       total > 0 ? (double)correct / (double)total : 0.0);
	if (total == 0 || (double)correct < 0.8 * (double)total)
		status = 1;
	pfl_aggregator_free(agg);
	return status;
}
