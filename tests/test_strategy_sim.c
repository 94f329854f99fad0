/*
 * The server strategies' defaults on a real federation (issue #14 item 11):
 * at the old server_lr of 1 for every strategy, FedAdam and FedYogi ended a
 * 20-round Dirichlet(0.5) MLP run at chance (0.10) with nothing in the log.
 *
 * The federation is the issue's, made small and repeatable: 10 clients
 * over the first 6000 Fashion-MNIST training images, all of them in every
 * round (min_clients = 10, so no random cohort), scored on the first 2000
 * test images. Two groups:
 *
 *   defaults  (argument "defaults") each strategy with its defaults ends within
 * 0.03 of FedAvg or above it, and no run logs a divergence (7 runs of 20
 * rounds: registered in the Release suite only, see strategy14.cmake) diverge
 * (no argument) FedAdam with server_lr 1 is at chance after 2 rounds and the
 *             log says which setting is to blame (every suite)
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/dataset.h"
#include "privfl/log.h"
#include "privfl/sim.h"

#define TRAIN_N 6000
#define TEST_N  2000

static char tmpdir[256];
static char datadir[300];
static int runs;

/* Divergence errors seen by the log sink (any thread). */
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static int diverge_lines;
static char diverge_first[512];

static void
sink(void *arg, int level, const char *line)
{
	(void)arg;
	if (level == PFL_LOG_ERROR &&
	    strstr(line, "global loss rose") != NULL) {
		pthread_mutex_lock(&log_mtx);
		if (diverge_lines++ == 0)
			snprintf(diverge_first, sizeof(diverge_first), "%s",
			         line);
		pthread_mutex_unlock(&log_mtx);
	}
	if (level <= PFL_LOG_WARN)
		fprintf(stderr, "%s\n", line);
}

static void
reset_log(void)
{
	pthread_mutex_lock(&log_mtx);
	diverge_lines = 0;
	diverge_first[0] = '\0';
	pthread_mutex_unlock(&log_mtx);
}

/* How many divergence errors so far; the first goes to line. */
static int
diverged(char *line, size_t len)
{
	int n;

	pthread_mutex_lock(&log_mtx);
	n = diverge_lines;
	snprintf(line, len, "%s", diverge_first);
	pthread_mutex_unlock(&log_mtx);
	return n;
}

static int
put_be32(FILE *f, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
	                (uint8_t)(v >> 8), (uint8_t)v};

	return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

/* The first n samples of ds as IDX files
 * {prefix}-{images-idx3,labels-idx1}-ubyte. */
static int
write_idx(const struct pfl_dataset *ds, size_t n, const char *prefix)
{
	char path[400];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte", datadir,
	         prefix);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	rc |= put_be32(f, 0x803) | put_be32(f, (uint32_t)n) |
	      put_be32(f, (uint32_t)ds->h) | put_be32(f, (uint32_t)ds->w);
	for (size_t i = 0; i < n * ds->dim && rc == 0; i++) {
		/* the loader scaled each byte by 1/255: this undoes it */
		long v = lrintf(ds->x[i] * 255.0f);
		rc = fputc((int)(v < 0 ? 0 : v > 255 ? 255 : v), f) == EOF;
	}
	rc |= fclose(f);
	snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte", datadir,
	         prefix);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	rc |= put_be32(f, 0x801) | put_be32(f, (uint32_t)n);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fputc((int)ds->y[i], f) == EOF;
	rc |= fclose(f);
	return rc;
}

/* A Fashion-MNIST subset in datadir (Fashion-MNIST is a test dependency). */
static int
make_data(void)
{
	struct pfl_dataset tr = {0}, te = {0};
	pfl_err rv;
	int rc = -1;

	rv = pfl_dataset_load_fmnist(NULL, true, &tr);
	if (rv == PFL_OK)
		rv = pfl_dataset_load_fmnist(NULL, false, &te);
	if (rv != PFL_OK) {
		fprintf(stderr, "Fashion-MNIST in %s: %s (make deps)\n",
		        PFL_FMNIST_DIR, pfl_strerror(rv));
		goto out;
	}
	if (mkdir(datadir, 0700) != 0)
		goto out;
	if (tr.n >= TRAIN_N && te.n >= TEST_N &&
	    write_idx(&tr, TRAIN_N, "train") == 0 &&
	    write_idx(&te, TEST_N, "t10k") == 0)
		rc = 0;
out:
	pfl_dataset_fini(&tr);
	pfl_dataset_fini(&te);
	return rc;
}

/* One federation: the base settings, then kv; returns the final accuracy. */
static double
federate(const char *const *kv, const char *rounds)
{
	static const char *const base[] = {"model",
	                                   "mlp",
	                                   "clients",
	                                   "10",
	                                   "per_round",
	                                   "10",
	                                   "min_clients",
	                                   "10",
	                                   "partition",
	                                   "dirichlet:0.5",
	                                   "seed",
	                                   "1",
	                                   "local_epochs",
	                                   "1",
	                                   "batch",
	                                   "32",
	                                   "lr",
	                                   "0.05",
	                                   "eval_every",
	                                   "1",
	                                   NULL};
	struct pfl_sim_config c;
	struct pfl_sim_result res;
	char err[PFL_CFG_ERRLEN] = "", out[300];

	assert_int_equal(pfl_sim_config_init(&c, err, sizeof(err)), PFL_OK);
	for (int i = 0; base[i]; i += 2)
		assert_int_equal(pfl_sim_config_set(&c, base[i], base[i + 1],
		                                    err, sizeof(err)),
		                 PFL_OK);
	for (int i = 0; kv[i]; i += 2)
		if (pfl_sim_config_set(&c, kv[i], kv[i + 1], err,
		                       sizeof(err)) != PFL_OK)
			fail_msg("%s", err);
	snprintf(out, sizeof(out), "%s/run%d", tmpdir, ++runs);
	assert_int_equal(pfl_sim_config_set(&c, "out", out, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(
	        pfl_sim_config_set(&c, "rounds", rounds, err, sizeof(err)),
	        PFL_OK);
	assert_int_equal(
	        pfl_sim_config_set(&c, "dataset", datadir, err, sizeof(err)),
	        PFL_OK);
	assert_int_equal(
	        pfl_sim_config_set(&c, "test_data", datadir, err, sizeof(err)),
	        PFL_OK);
	assert_int_equal(pfl_sim_config_resolve(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_agg_config_check(&c.agg, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_sim_config_check(&c, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_sim_run(&c, &res), PFL_OK);
	assert_int_equal(res.rounds, (uint64_t)atoi(rounds));
	pfl_sim_config_fini(&c);
	return res.accuracy;
}

static void
test_defaults_keep_up_with_fedavg(void **state)
{
	static const char *const names[] = {"fedavg",  "fedavgm", "fedprox",
	                                    "fedadam", "fedyogi", "fedadagrad"};
	char line[512];
	double acc[6];

	(void)state;
	for (int i = 0; i < 6; i++) {
		const char *kv[] = {"strategy", names[i], NULL};
		reset_log();
		acc[i] = federate(kv, "20");
		fprintf(stderr, "%-10s defaults: accuracy %.4f\n", names[i],
		        acc[i]);
		if (i == 0)
			assert_true(acc[0] > 0.5); /* FedAvg itself learns */
		else if (acc[i] < acc[0] - 0.03)
			fail_msg("%s with its defaults: accuracy %.4f, FedAvg "
			         "%.4f",
			         names[i], acc[i], acc[0]);
		if (diverged(line, sizeof(line)) > 0)
			fail_msg("%s with its defaults diverged: %s", names[i],
			         line);
	}
}

static void
test_too_large_server_lr_is_named(void **state)
{
	static const char *const kv[] = {"strategy", "fedadam", "server_lr",
	                                 "1", NULL};
	char line[512];
	double acc;

	(void)state;
	reset_log();
	acc = federate(kv, "2");
	assert_true(acc < 0.2); /* chance is 0.1 */
	assert_true(diverged(line, sizeof(line)) >= 1);
	if (strstr(line, "round 1: global loss rose from 2.303 (a uniform "
	                 "guess) to ") == NULL ||
	    strstr(line, ": server_lr 1 is likely too large for fedadam (its "
	                 "default is 0.01)") == NULL)
		fail_msg("unexpected divergence line: %s", line);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	pfl_log_set_level(PFL_LOG_WARN);
	pfl_log_set_sink(sink, NULL);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/privfl-test-strategy-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(datadir, sizeof(datadir), "%s/data", tmpdir);
	return make_data();
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	pfl_log_set_sink(NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest defaults[] = {
	        cmocka_unit_test(test_defaults_keep_up_with_fedavg),
	};
	const struct CMUnitTest diverge[] = {
	        cmocka_unit_test(test_too_large_server_lr_is_named),
	};

	if (argc == 2 && strcmp(argv[1], "defaults") == 0)
		return cmocka_run_group_tests_name("strategy_defaults",
		                                   defaults, setup, teardown);
	return cmocka_run_group_tests_name("strategy_diverge", diverge, setup,
	                                   teardown);
}
