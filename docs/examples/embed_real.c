/*
 * Embedding privfl against a real aggregator (docs/EMBEDDING.md, "Against
 * a real aggregator").
 *
 * One device of an application: its key and the aggregator's public key
 * are files on disk (made by `privfl keygen`), the aggregator is a
 * privfl-aggregator process reached over tcp:// (or tls+tcp://), and the
 * application brings its own data, training step and evaluation step.
 * pfl_client_run_config runs the whole client: it loads both keys, pins
 * the aggregator, connects, takes part in rounds until max_rounds were
 * released with this device's update (or SIGINT/SIGTERM), and retries
 * with back-off while the aggregator is away.
 *
 * Build (installed):  cc embed_real.c $(pkg-config --cflags --libs privfl)
 * Run:  ./embed_real URL IDENTITY_DIR SERVER_PUB DEVICE ROUNDS
 *       e.g. ./embed_real tcp://127.0.0.1:7700 dev0 agg/identity.pub 0 3
 * The aggregator: privfl-aggregator --model logreg --input_shape 1x1x4
 * --classes 2 --federation_id embed ... (a 4-feature, 2-class problem).
 * Exit status 0 when max_rounds rounds were released with its update.
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <privfl/client.h>
#include <privfl/log.h>

#define SAMPLES  200 /* trained on */
#define HELD_OUT 50  /* never trained on: federated evaluation */
#define FEATURES 4
#define CLASSES  2
#define NPARAMS  (CLASSES * FEATURES + CLASSES)

/* The application's own data; privfl hands it back as data->user. */
struct app_data {
	float x[SAMPLES + HELD_OUT][FEATURES];
	int y[SAMPLES + HELD_OUT];
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
next_u64(uint64_t *s)
{
	/* splitmix64: the example's own data generator */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
make_data(struct app_data *d, uint64_t seed)
{
	for (int i = 0; i < SAMPLES + HELD_OUT; i++) {
		int y = (int)(next_u64(&seed) & 1);
		for (int j = 0; j < FEATURES; j++)
			d->x[i][j] = (float)((double)(next_u64(&seed) >> 11) /
			                     4503599627370496.0) -
			             1.0f;
		d->x[i][0] += y ? 1.0f : -1.0f;
		d->x[i][1] += y ? 0.5f : -0.5f;
		d->y[i] = y;
	}
}

/* Softmax probabilities of sample x under w (fc.weight, then fc.bias). */
static void
probs(const float *w, const float *x, double *p)
{
	double m, sum = 0;

	for (int k = 0; k < CLASSES; k++) {
		p[k] = w[CLASSES * FEATURES + k];
		for (int j = 0; j < FEATURES; j++)
			p[k] += (double)w[k * FEATURES + j] * x[j];
	}
	m = p[0] > p[1] ? p[0] : p[1];
	for (int k = 0; k < CLASSES; k++)
		sum += (p[k] = exp(p[k] - m));
	for (int k = 0; k < CLASSES; k++)
		p[k] /= sum;
}

/* The training step: full-batch gradient descent, the plan's epochs. */
static pfl_err
app_train(void *arg, const struct pfl_client_data *data,
          const struct pfl_task *task, const float *global, float *local,
          uint32_t *num_examples, double *train_loss)
{
	const struct app_data *d = data->user;
	const struct pfl_msg_plan *p = task->plan;
	double loss = 0;

	(void)arg;
	if (p->num_params != NPARAMS)
		return PFL_ERR_STATE; /* not the model this app trains */
	memcpy(local, global, NPARAMS * sizeof(float));
	for (uint32_t e = 0; e < p->epochs; e++) {
		double g[NPARAMS] = {0};
		loss = 0;
		for (int i = 0; i < SAMPLES; i++) {
			double pr[CLASSES];
			probs(local, d->x[i], pr);
			for (int k = 0; k < CLASSES; k++) {
				double gk = pr[k] - (k == d->y[i]);
				for (int j = 0; j < FEATURES; j++)
					g[k * FEATURES + j] += gk * d->x[i][j];
				g[CLASSES * FEATURES + k] += gk;
			}
			loss -= log(pr[d->y[i]] > 1e-12 ? pr[d->y[i]] : 1e-12);
		}
		for (int q = 0; q < NPARAMS; q++)
			local[q] -= (float)(p->lr * g[q] / SAMPLES);
	}
	*num_examples = SAMPLES;
	*train_loss = loss / SAMPLES;
	return PFL_OK;
}

/*
 * The evaluation step (federated evaluation): score the round's global
 * model on the held-out samples. privfl sends only the cohort's weighted
 * sums onward (masked under secure aggregation).
 */
static pfl_err
app_evaluate(void *arg, const struct pfl_client_data *data,
             const struct pfl_task *task, const float *global,
             struct pfl_eval_result *out)
{
	const struct app_data *d = data->user;
	double loss = 0;
	int right = 0;

	(void)arg;
	if (task->plan->num_params != NPARAMS)
		return PFL_ERR_STATE;
	for (int i = SAMPLES; i < SAMPLES + HELD_OUT; i++) {
		double pr[CLASSES];
		probs(global, d->x[i], pr);
		right += (pr[1] > pr[0]) == (d->y[i] == 1);
		loss -= log(pr[d->y[i]] > 1e-12 ? pr[d->y[i]] : 1e-12);
	}
	out->num_examples = HELD_OUT;
	out->accuracy = (double)right / HELD_OUT;
	out->loss = loss / HELD_OUT;
	return PFL_OK;
}

/* Settings by name, as in privfl-client's config file (CONFIG.md). */
static int
set(struct pfl_client_config *c, const char *name, const char *value)
{
	char err[256];

	if (pfl_client_config_set(c, name, value, err, sizeof(err)) != PFL_OK) {
		fprintf(stderr, "embed_real: %s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct app_data app;
	const struct pfl_trainer tr = {
	        .train = app_train, .arg = NULL, .evaluate = app_evaluate};
	struct pfl_client_config *cfg = NULL;
	pfl_err rv;

	if (argc != 6) {
		fprintf(stderr, "usage: embed_real URL IDENTITY_DIR "
		                "SERVER_PUB DEVICE ROUNDS\n");
		return 2;
	}
	make_data(&app, 1000u + (uint64_t)strtoul(argv[4], NULL, 10));
	if (pfl_client_config_new(&cfg) != PFL_OK ||
	    set(cfg, "server", argv[1]) || set(cfg, "identity_dir", argv[2]) ||
	    set(cfg, "server_key", argv[3]) ||
	    set(cfg, "max_rounds", argv[5]) ||
	    set(cfg, "federation_id", "embed") ||
	    set(cfg, "backoff_min_ms", "50") ||
	    set(cfg, "backoff_max_ms", "1000")) {
		pfl_client_config_free(cfg);
		return 1;
	}
	pfl_log_set_level(PFL_LOG_WARN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* keys from disk, pinning, connection, rounds: all in this call */
	rv = pfl_client_run_config(cfg, &tr, &app, &stop);
	printf("device %s: %s\n", argv[4],
	       rv == PFL_OK ? "done" : pfl_strerror(rv));
	pfl_client_config_free(cfg);
	return rv == PFL_OK ? 0 : 1;
}
