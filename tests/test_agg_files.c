/*
 * Issue #11, item 16: the files that name clients are the owner's only.
 * A short run of a real aggregator (inproc://, one library client) under
 * umask 022, then the modes: out_dir and out_dir/checkpoints 0700,
 * audit.log and every checkpoint 0600. rounds.csv names no clients (it
 * holds what /status publishes) and keeps the umask's 0644. A second run
 * resumes in a directory an older version left open (0755 checkpoints/,
 * 0644 audit.log) and makes those private.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privfl/aggregator.h"
#include "privfl/client.h"
#include "privfl/dataset.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/transport.h"

#include "agg_fixture.h"

static struct pfl_dataset ds;

static unsigned
mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		fail_msg("stat %s failed", path);
	return (unsigned)(st.st_mode & 07777);
}

static void
expect_mode(const char *dir, const char *name, unsigned mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s%s", dir, *name ? "/" : "", name);
	if (mode_of(path) != mode)
		fail_msg("%s is %04o, expected %04o", path, mode_of(path),
		         mode);
}

/* Run `rounds` rounds (resuming when resume) with one client. */
static void
run(const char *out, const char *url, int rounds, bool resume)
{
	char err[PFL_CFG_ERRLEN], v[16];
	struct pfl_agg_config cfg;
	struct agg_thread at;
	struct client_thread ct;
	struct pfl_identity *id;
	struct pfl_client_data data;
	struct pfl_client_opts co;
	pthread_t ath, cth;

	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", url);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", resume ? "true" : "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	snprintf(v, sizeof(v), "%d", rounds);
	set(&cfg, "rounds", v);
	set(&cfg, "clients_per_round", "1");
	set(&cfg, "min_clients", "1");
	set(&cfg, "population", "1");
	set(&cfg, "checkin_interval_ms", "20");
	assert_int_equal(pfl_agg_config_check(&cfg, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_aggregator_new(&cfg, &at.a), PFL_OK);
	pfl_agg_config_fini(&cfg);

	memset(&co, 0, sizeof(co));
	co.federation_id = "default";
	co.server_key = pfl_aggregator_public_key(at.a);
	pfl_wire_limits_default(&co.limits, 0);
	co.backoff_min_ms = 10;
	co.backoff_max_ms = 100;
	co.faults.dropout_phase = -1;
	co.seed = 1;
	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	memset(&data, 0, sizeof(data));
	data.ds = &ds;
	data.n = 100;
	memset(&ct, 0, sizeof(ct));
	ct.url = url;
	ct.max_wait_ms = 20;
	ct.rounds = UINT64_MAX;
	assert_int_equal(pfl_client_new(&co, id, &data, &ct.c), PFL_OK);
	assert_int_equal(pthread_create(&ath, NULL, agg_main, &at), 0);
	sleep_ms(20);
	assert_int_equal(pthread_create(&cth, NULL, client_main, &ct), 0);
	assert_int_equal(pthread_join(ath, NULL), 0);
	atomic_store(&ct.stop, 1);
	assert_int_equal(pthread_join(cth, NULL), 0);
	assert_int_equal(at.rv, PFL_OK);
	assert_int_equal(pfl_aggregator_rounds_done(at.a), rounds);
	pfl_client_free(ct.c);
	pfl_identity_free(id);
	pfl_aggregator_free(at.a);
}

static void
expect_checkpoints_private(const char *out)
{
	char dir[200];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/checkpoints", out);
	expect_mode(dir, "", 0700);
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		expect_mode(dir, de->d_name, 0600);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

static void
test_files_naming_clients_are_private(void **state)
{
	char out[64], url[64], path[128];
	mode_t old = umask(022);

	(void)state;
	snprintf(out, sizeof(out), "/tmp/pfl-agg-files-%ld", (long)getpid());
	snprintf(url, sizeof(url), "inproc://test-agg-files-%ld",
	         (long)getpid());
	rm_rf(out);
	run(out, url, 2, false);
	expect_mode(out, "", 0700);
	expect_mode(out, "audit.log", 0600);
	expect_checkpoints_private(out);
	expect_mode(out, "rounds.csv", 0644);

	/* What an older version left behind, then a resumed run. */
	assert_int_equal(chmod(out, 0755), 0);
	snprintf(path, sizeof(path), "%s/checkpoints", out);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/audit.log", out);
	assert_int_equal(chmod(path, 0644), 0);
	run(out, url, 3, true);
	expect_mode(out, "audit.log", 0600);
	expect_checkpoints_private(out);
	umask(old);
	rm_rf(out);
}

static int
setup(void **state)
{
	(void)state;
	return pfl_dataset_load_fmnist(NULL, false, &ds) == PFL_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	pfl_dataset_fini(&ds);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_files_naming_clients_are_private),
	};

	pfl_log_set_level(PFL_LOG_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
