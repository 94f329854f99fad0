/*
 * What one round costs a device (issue #15): peak resident memory and CPU
 * time outside local training of one client in a SecAgg+ round, against
 * the round's own floors measured in the same process.
 *
 * One real privfl-aggregator (the library, over ipc://) and k other
 * library clients run in the parent process; the measured client runs in
 * a child process forked before any thread exists, so that its memory and
 * CPU figures are its own. The child is what privfl-client runs: the
 * library's pfl_client_step with the built-in trainer, over the same
 * transport; only its data (a few hundred Fashion-MNIST images copied out
 * of the training set) is smaller than a device would hold.
 *
 *   memory   VmHWM during the measured round (after clear_refs resets it)
 *            minus VmRSS right before the round: what the round adds to
 *            the process (its fixed cost, printed too: libraries, data,
 *            model, connection). Target: at most 3x the model's bytes.
 *   cpu      process CPU time (all threads, getrusage) over the measured
 *            round minus the CPU time of local training (timed around the
 *            trainer's call), against the floor: k+1 mask expansions
 *            (ChaCha20 keystream of dim words, as crypto/src/prg.c makes
 *            them), 2k X25519 key agreements, and one pass over the
 *            update to clip and quantize it (its L2 norm, then scale and
 *            round each entry). Target: at most 1.2x the floor.
 *
 *   bench_client [--smoke] [--neighbours K] [--model SPEC]
 * Defaults: K = 72, model mlp:1000,200 (987,210 parameters, 3.9 MB), the
 * round measured is the second (the first pays one-time allocations).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/model.h"
#include "privfl/transport.h"

#define EXAMPLES 256 /* per client */
#define MEASURED 2   /* the round measured (the first pays one-time costs) */

static char url[96];

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_client: %s: %s\n", what,
	        rc < 0 ? strerror(errno) : pfl_strerror((pfl_err)rc));
	exit(1);
}

static double
now_cpu(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
proc_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* A field of /proc/self/status, in bytes (-1 when absent). */
static long long
status_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = atoll(line + kl + 1) * 1024;
			break;
		}
	fclose(f);
	return v;
}

/* Reset VmHWM to the current RSS (Linux 4.0+: clear_refs 5). */
static int
reset_hwm(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* n images of the training set, from offset off, in a dataset of its own
 * (the full set is freed, as a device would never hold it). */
static void
small_data(size_t off, size_t n, struct pfl_dataset *out)
{
	struct pfl_dataset all;
	pfl_err rc;

	if ((rc = pfl_dataset_load_fmnist(NULL, true, &all)) != PFL_OK)
		die("Fashion-MNIST (dataset-fashion-mnist)", rc);
	*out = all;
	out->n = n;
	out->x = malloc(n * all.dim * sizeof(float));
	out->y = malloc(n * sizeof(int32_t));
	if (out->x == NULL || out->y == NULL)
		die("data", PFL_ERR_NOMEM);
	memcpy(out->x, all.x + off * all.dim, n * all.dim * sizeof(float));
	memcpy(out->y, all.y + off, n * sizeof(int32_t));
	pfl_dataset_fini(&all);
}

static void
client_opts(struct pfl_client_opts *co, const uint8_t *server_pk, int seed)
{
	memset(co, 0, sizeof(*co));
	co->federation_id = "default";
	co->server_key = server_pk;
	pfl_wire_limits_default(&co->limits, 0);
	co->backoff_min_ms = 20;
	co->backoff_max_ms = 200;
	co->faults.dropout_phase = -1;
	co->seed = (uint64_t)seed;
}

/* ---- the measured client (child process) ---- */

struct timed_trainer {
	struct pfl_trainer real;
	double train_cpu; /* thread CPU seconds inside train */
};

static pfl_err
timed_train(void *arg, const struct pfl_client_data *data,
            const struct pfl_task *task, const float *global, float *local,
            uint32_t *num_examples, double *train_loss)
{
	struct timed_trainer *t = arg;
	double t0 = now_cpu(CLOCK_THREAD_CPUTIME_ID);
	pfl_err rc = t->real.train(t->real.arg, data, task, global, local,
	                           num_examples, train_loss);

	t->train_cpu += now_cpu(CLOCK_THREAD_CPUTIME_ID) - t0;
	return rc;
}

/* The floor of one client's round outside training, CPU seconds. */
static double
client_floor(size_t dim, uint32_t k, double *ks_s, double *kx_s, double *q_s)
{
	uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
	uint8_t sk[crypto_scalarmult_SCALARBYTES], pk[crypto_scalarmult_BYTES];
	uint8_t shared[crypto_scalarmult_BYTES];
	uint8_t *zero = calloc(dim, 4), *ks = malloc(dim * 4);
	float *v = malloc(dim * sizeof(float));
	uint32_t *q = malloc(dim * 4);
	double t0, best_ks = 1e9, best_kx = 1e9, best_q = 1e9;
	volatile uint32_t sink = 0;

	if (zero == NULL || ks == NULL || v == NULL || q == NULL)
		die("floor", PFL_ERR_NOMEM);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(sk, sizeof(sk));
	crypto_scalarmult_base(pk, sk);
	for (size_t i = 0; i < dim; i++)
		v[i] = (float)(i % 997) * 1e-3f - 0.5f;
	for (int rep = 0; rep < 3; rep++) {
		t0 = now_cpu(CLOCK_PROCESS_CPUTIME_ID);
		for (uint32_t j = 0; j <= k; j++) {
			crypto_stream_chacha20_ietf_xor_ic(ks, zero, dim * 4,
			                                   nonce, 0, key);
			sink ^= ks[j % (dim * 4)];
		}
		if (now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0 < best_ks)
			best_ks = now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0;
		t0 = now_cpu(CLOCK_PROCESS_CPUTIME_ID);
		for (uint32_t j = 0; j < 2 * k; j++) {
			if (crypto_scalarmult(shared, sk, pk) != 0)
				die("x25519", PFL_ERR_CRYPTO);
			sink ^= shared[0];
		}
		if (now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0 < best_kx)
			best_kx = now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0;
		t0 = now_cpu(CLOCK_PROCESS_CPUTIME_ID);
		{
			double ss = 0.0, scale;
			for (size_t i = 0; i < dim; i++)
				ss += (double)v[i] * v[i];
			scale = 1.0 / (1.0 + sqrt(ss)) * 65536.0;
			for (size_t i = 0; i < dim; i++)
				q[i] = (uint32_t)(int32_t)lrint(v[i] * scale);
			sink ^= q[dim / 2];
		}
		if (now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0 < best_q)
			best_q = now_cpu(CLOCK_PROCESS_CPUTIME_ID) - t0;
	}
	(void)sink;
	free(zero);
	free(ks);
	free(v);
	free(q);
	*ks_s = best_ks;
	*kx_s = best_kx;
	*q_s = best_q;
	return best_ks + best_kx + best_q;
}

static int
measured_client(int rfd, uint32_t k, const char *model)
{
	uint8_t server_pk[32];
	struct pfl_dataset ds;
	struct pfl_client_data data;
	struct pfl_client_opts co;
	struct pfl_identity *id;
	struct pfl_client *c;
	struct pfl_conn *conn = NULL;
	struct pfl_transport_opts to;
	struct timed_trainer tt;
	struct pfl_trainer tr;
	struct pfl_model_spec spec;
	double cpu0 = 0, train0 = 0, cpu = 0, train = 0, ks, kx, qs, floor;
	long long fixed = 0, hwm = 0, hwm1 = 0, rss_start, rss_ready;
	size_t dim = 0;
	uint64_t done = 0;
	pfl_err rc;

	if (read(rfd, server_pk, sizeof(server_pk)) != sizeof(server_pk))
		die("pipe", -1);
	close(rfd);
	if (sodium_init() < 0)
		die("sodium_init", PFL_ERR_CRYPTO);
	rss_start = status_kb("VmRSS");
	small_data(0, EXAMPLES, &ds);
	memset(&data, 0, sizeof(data));
	data.ds = &ds;
	data.n = ds.n;
	client_opts(&co, server_pk, 1);
	if ((rc = pfl_identity_generate(&id)) != PFL_OK ||
	    (rc = pfl_client_new(&co, id, &data, &c)) != PFL_OK)
		die("client", rc);
	memset(&to, 0, sizeof(to));
	to.timeout_ms = 60000;
	if ((rc = pfl_conn_open(url, &to, &conn)) != PFL_OK)
		die("connect", rc);
	memset(&tt, 0, sizeof(tt));
	if ((rc = pfl_trainer_model_init(&tt.real)) != PFL_OK)
		die("trainer", rc);
	tr.train = timed_train;
	tr.arg = &tt;
	rss_ready = status_kb("VmRSS");
	/* A round ends when the client is idle again after delivering its
	 * update (SecAgg: after its UNMASK message). The peak of each round
	 * is read against the process ready to take part (rss_ready). */
	if (reset_hwm() != 0)
		die("clear_refs", -1);
	while (done < MEASURED) {
		int64_t wait = 0;

		if ((rc = pfl_client_step(c, conn, &tr, &wait)) != PFL_OK)
			die("step", rc);
		if (pfl_client_rounds_done(c) != done &&
		    !pfl_client_is_busy(c)) {
			done = pfl_client_rounds_done(c);
			if (done ==
			    MEASURED - 1) { /* the measured one begins */
				hwm1 = status_kb("VmHWM");
				fixed = status_kb("VmRSS");
				if (reset_hwm() != 0)
					die("clear_refs", -1);
				cpu0 = proc_cpu();
				train0 = tt.train_cpu;
			} else if (done == MEASURED) {
				cpu = proc_cpu() - cpu0;
				train = tt.train_cpu - train0;
				hwm = status_kb("VmHWM");
			}
		}
		if (wait > 50)
			wait = 50;
		if (wait > 0) {
			struct timespec ts = {0, (long)wait * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if ((rc = pfl_model_spec_parse(model, 1, 28, 28, 10, &spec)) != PFL_OK)
		die("model", rc);
	dim = pfl_model_spec_num_params(&spec);
	pfl_trainer_model_fini(&tt.real);
	pfl_conn_close(conn);
	pfl_client_free(c);
	pfl_identity_free(id);
	pfl_dataset_fini(&ds);
	floor = client_floor(dim, k, &ks, &kx, &qs);
	printf("client fixed_cost_MB=%.1f (resident when ready to take part:"
	       " libraries, %d images, connection; %.1f MB at start)\n",
	       (double)rss_ready / 1048576.0, EXAMPLES,
	       (double)rss_start / 1048576.0);
	printf("client between_rounds_MB=%.1f (resident after round %d)\n",
	       (double)fixed / 1048576.0, MEASURED - 1);
	for (int r = MEASURED - 1; r <= MEASURED; r++) {
		long long peak = r == MEASURED - 1 ? hwm1 : hwm;
		printf("client memory "
		       "workload=secagg_plus_round%d,k=%u,dim=%zu "
		       "baseline=model_bytes baseline_workload="
		       "secagg_plus_round%d,k=%u,dim=%zu round_peak_MB=%.1f "
		       "model_MB=%.1f ratio_to_model=%.2f target=3 %s (peak "
		       "over the ready process)\n",
		       r, k, dim, r, k, dim,
		       (double)(peak - rss_ready) / 1048576.0,
		       (double)dim * 4 / 1048576.0,
		       (double)(peak - rss_ready) / ((double)dim * 4),
		       (double)(peak - rss_ready) <= 3.0 * (double)dim * 4
		               ? "ok"
		               : "MISS");
	}
	printf("client floor keystream_s=%.4f x25519_s=%.4f "
	       "clip_quantize_s=%.4f"
	       " (k+1 = %u expansions of %zu words, 2k = %u key agreements)\n",
	       ks, kx, qs, k + 1, dim, 2 * k);
	printf("client cpu workload=secagg_plus_round,k=%u,dim=%zu "
	       "baseline=client_floor baseline_workload=secagg_plus_round,"
	       "k=%u,dim=%zu round_cpu_s=%.3f training_cpu_s=%.3f "
	       "outside_training_s=%.3f floor_s=%.3f ratio=%.2f target=1.2 "
	       "%s\n",
	       k, dim, k, dim, cpu, train, cpu - train, floor,
	       (cpu - train) / floor,
	       (cpu - train) <= 1.2 * floor ? "ok" : "MISS");
	return 0;
}

/* ---- the federation around it (parent process) ---- */

struct peer {
	struct pfl_client *c;
	atomic_int *stop;
	pfl_err rv;
};

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	struct pfl_transport_opts to;
	struct pfl_trainer tr;
	struct pfl_conn *conn = NULL;

	memset(&to, 0, sizeof(to));
	to.timeout_ms = 60000;
	if ((p->rv = pfl_conn_open(url, &to, &conn)) != PFL_OK)
		return NULL;
	if ((p->rv = pfl_trainer_model_init(&tr)) != PFL_OK) {
		pfl_conn_close(conn);
		return NULL;
	}
	while (!atomic_load(p->stop)) {
		int64_t wait = 0;
		if ((p->rv = pfl_client_step(p->c, conn, &tr, &wait)) != PFL_OK)
			break;
		if (wait > 50)
			wait = 50;
		if (wait > 0) {
			struct timespec ts = {0, (long)wait * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	pfl_trainer_model_fini(&tr);
	pfl_conn_close(conn);
	return NULL;
}

static void *
agg_main(void *arg)
{
	pfl_err *rv = (pfl_err *)((void **)arg)[1];

	*rv = pfl_aggregator_run(((void **)arg)[0]);
	return NULL;
}

static void
set(struct pfl_agg_config *c, const char *k, const char *v)
{
	char err[PFL_CFG_ERRLEN];

	if (pfl_cfg_set(pfl_agg_config_table, pfl_agg_config_table_len, c, k, v,
	                err, sizeof(err)) != PFL_OK) {
		fprintf(stderr, "bench_client: %s=%s: %s\n", k, v, err);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	uint32_t k = 72;
	const char *model = "mlp:1000,200";
	char out[96], cmd[128], v[32], err[PFL_CFG_ERRLEN];
	int fds[2], status;
	pid_t child;
	struct pfl_agg_config cfg;
	struct pfl_aggregator *a;
	struct pfl_dataset ds;
	struct peer *peers;
	struct pfl_identity **ids;
	struct pfl_client_data *data;
	pthread_t ath, *th;
	atomic_int stop = 0;
	pfl_err arv = PFL_OK, rc;
	void *aargs[2];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0) {
			k = 4;
			model = "mlp:64,32";
		} else if (strcmp(argv[i], "--neighbours") == 0 &&
		           i + 1 < argc) {
			k = (uint32_t)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
			model = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_client [--smoke] "
			                "[--neighbours K] [--model SPEC]\n");
			return 2;
		}
	}
	if (k < 2 || k > 200)
		die("--neighbours must be in [2, 200]", PFL_ERR_INVAL);
	snprintf(url, sizeof(url), "ipc:///tmp/pfl-bench-client-%ld.ipc",
	         (long)getpid());
	if (pipe(fds) != 0)
		die("pipe", -1);
	fflush(stdout);
	if ((child = fork()) < 0)
		die("fork", -1);
	if (child == 0) {
		close(fds[1]);
		exit(measured_client(fds[0], k, model));
	}
	close(fds[0]);

	/* k + 1 clients in all (the measured one included), every one a
	 * neighbour of every other: the measured client has k neighbours */
	snprintf(out, sizeof(out), "/tmp/pfl-bench-client-%ld", (long)getpid());
	if (pfl_agg_config_init(&cfg, err, sizeof(err)) != PFL_OK)
		die(err, PFL_ERR_INVAL);
	set(&cfg, "listen", url);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", model);
	set(&cfg, "test_data", "none");
	/* one round more than the client takes part in: stopped when the
	 * measured client is done */
	snprintf(v, sizeof(v), "%d", MEASURED + 1);
	set(&cfg, "rounds", v);
	snprintf(v, sizeof(v), "%u", k + 1);
	set(&cfg, "clients_per_round", v);
	set(&cfg, "min_clients", v);
	set(&cfg, "overselect", "1.0");
	set(&cfg, "secure_aggregation", "secagg+");
	snprintf(v, sizeof(v), "%u", k);
	set(&cfg, "sa_neighbours", v);
	set(&cfg, "sa_dropout", "0.05");
	set(&cfg, "local_epochs", "1");
	set(&cfg, "batch", "32");
	set(&cfg, "checkin_interval_ms", "50");
	set(&cfg, "log_level", "warn");
	set(&cfg, "round_timeout_s", "600");
	set(&cfg, "phase_timeout_s", "600");
	if (pfl_agg_config_check(&cfg, err, sizeof(err)) != PFL_OK)
		die(err, PFL_ERR_INVAL);
	if ((rc = pfl_aggregator_new(&cfg, &a)) != PFL_OK)
		die("aggregator", rc);
	pfl_agg_config_fini(&cfg);
	if (write(fds[1], pfl_aggregator_public_key(a), 32) != 32)
		die("pipe", -1);
	close(fds[1]);
	aargs[0] = a;
	aargs[1] = &arv;
	if (pthread_create(&ath, NULL, agg_main, aargs) != 0)
		die("thread", -1);
	small_data(EXAMPLES, (size_t)k * EXAMPLES, &ds);
	peers = calloc(k, sizeof(*peers));
	ids = calloc(k, sizeof(*ids));
	data = calloc(k, sizeof(*data));
	th = calloc(k, sizeof(*th));
	if (peers == NULL || ids == NULL || data == NULL || th == NULL)
		die("peers", PFL_ERR_NOMEM);
	for (uint32_t i = 0; i < k; i++) {
		struct pfl_client_opts co;
		uint32_t *idx = malloc(EXAMPLES * sizeof(uint32_t));

		if (idx == NULL)
			die("peers", PFL_ERR_NOMEM);
		for (uint32_t j = 0; j < EXAMPLES; j++)
			idx[j] = i * EXAMPLES + j;
		data[i].ds = &ds;
		data[i].idx = idx;
		data[i].n = EXAMPLES;
		client_opts(&co, pfl_aggregator_public_key(a), (int)i + 2);
		if ((rc = pfl_identity_generate(&ids[i])) != PFL_OK ||
		    (rc = pfl_client_new(&co, ids[i], &data[i], &peers[i].c)) !=
		            PFL_OK)
			die("peer", rc);
		peers[i].stop = &stop;
		if (pthread_create(&th[i], NULL, peer_main, &peers[i]) != 0)
			die("thread", -1);
	}
	if (waitpid(child, &status, 0) != child)
		die("waitpid", -1);
	pfl_aggregator_stop(a);
	pthread_join(ath, NULL);
	atomic_store(&stop, 1);
	for (uint32_t i = 0; i < k; i++) {
		pthread_join(th[i], NULL);
		pfl_client_free(peers[i].c);
		pfl_identity_free(ids[i]);
		free((void *)data[i].idx);
	}
	pfl_aggregator_free(a);
	pfl_dataset_fini(&ds);
	free(peers);
	free(ids);
	free(data);
	free(th);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_client: could not remove %s\n", out);
	if (arv != PFL_OK)
		fprintf(stderr, "bench_client: aggregator: %s\n",
		        pfl_strerror(arv));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
