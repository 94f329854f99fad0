/*
 * The aggregator's HTTP server on a real aggregator object (no clients):
 * what /metrics and /status report for a known state, the query string,
 * error statuses, a second server on a busy address, and closing while
 * client threads keep requesting (run under ASan for use-after-free).
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <sodium.h>

#include "../aggregator/src/agg_int.h"
#include "privfl/audit.h"
#include "privfl/clock.h"
#include "privfl/config.h"

static char outdir[64];

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

static struct pfl_aggregator *
new_agg(int port)
{
	struct pfl_agg_config c;
	struct pfl_aggregator *a;
	char err[PFL_CFG_ERRLEN], url[64];
	static const char *const kv[] = {"listen",
	                                 "inproc://test-http",
	                                 "model",
	                                 "logreg",
	                                 "test_data",
	                                 "none",
	                                 "resume",
	                                 "false",
	                                 "rounds",
	                                 "7",
	                                 "dp_mode",
	                                 "central",
	                                 "noise_multiplier",
	                                 "1.1",
	                                 "clip_norm",
	                                 "1",
	                                 "federation_id",
	                                 "fed<\"x\">",
	                                 NULL};

	assert_int_equal(pfl_agg_config_init(&c, err, sizeof(err)), PFL_OK);
	for (int i = 0; kv[i] != NULL; i += 2)
		assert_int_equal(pfl_cfg_set(pfl_agg_config_table,
		                             pfl_agg_config_table_len, &c,
		                             kv[i], kv[i + 1], err,
		                             sizeof(err)),
		                 PFL_OK);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	assert_int_equal(pfl_cfg_set(pfl_agg_config_table,
	                             pfl_agg_config_table_len, &c,
	                             "http_listen", url, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_cfg_set(pfl_agg_config_table,
	                             pfl_agg_config_table_len, &c, "out_dir",
	                             outdir, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_aggregator_new(&c, &a), PFL_OK);
	pfl_agg_config_fini(&c);
	return a;
}

/* One HTTP/1.0 GET; returns the whole response (malloc'd) or NULL. */
static char *
http_get(int port, const char *path)
{
	struct sockaddr_in sa;
	char req[256], *buf;
	size_t len = 0, cap = 1 << 16;
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

static const char *
body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

static void
add_round(struct pfl_aggregator *a, uint64_t r, double acc)
{
	struct pfl_round_report rep;

	memset(&rep, 0, sizeof(rep));
	rep.round = r;
	rep.accuracy = acc;
	rep.loss = isnan(acc) ? NAN : 1.0 - acc;
	rep.train_loss = NAN;
	rep.epsilon = 0.25 * (double)r;
	rep.selected = 4;
	rep.survived = 3;
	rep.seconds = 1.5;
	pthread_mutex_lock(&a->mtx);
	a->rounds_done = r;
	a->epsilon = rep.epsilon;
	pthread_mutex_unlock(&a->mtx);
	pfli_results_round(a, &rep);
}

static double
metric(const char *text, const char *name)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(text, pat);
	assert_non_null(p);
	return strtod(p + strlen(pat), NULL);
}

static void
test_metrics_and_status(void **state)
{
	int port = free_port();
	struct pfl_aggregator *a = new_agg(port);
	char *r;
	const char *b;

	(void)state;
	assert_int_equal(pfli_results_open(a), PFL_OK);
	assert_int_equal(pfli_http_open(a), PFL_OK);
	a->total_up = 1234;
	a->checkins = 17;
	add_round(a, 1, 0.5);
	add_round(a, 2, NAN);
	add_round(a, 3, 0.75);
	add_round(a, 4, NAN);

	r = http_get(port, "/metrics");
	assert_non_null(r);
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	b = body_of(r) - 1; /* keep the \n before the first line */
	assert_true(metric(b, "privfl_rounds_completed_total") == 4);
	assert_true(metric(b, "privfl_rounds_configured") == 7);
	assert_true(metric(b, "privfl_checkins_total") == 17);
	assert_true(metric(b, "privfl_received_bytes_total") == 1234);
	assert_true(metric(b, "privfl_epsilon") == 1.0);
	/* accuracy is the last evaluated one (round 3), not round 4's NaN */
	assert_true(metric(b, "privfl_accuracy") == 0.75);
	assert_true(fabs(metric(b, "privfl_loss") - 0.25) < 1e-12);
	assert_true(metric(b, "privfl_last_round_survived_clients") == 3);
	assert_non_null(strstr(b, "# TYPE privfl_epsilon gauge\n"));
	assert_non_null(strstr(b, "privfl_round_state{state=\"idle\"} 1\n"));
	free(r);

	r = http_get(port, "/status");
	assert_non_null(r);
	assert_non_null(strstr(r, "application/json"));
	b = body_of(r);
	assert_int_equal(pfl_json_check(b, strlen(b)), PFL_OK);
	assert_non_null(strstr(b, "\"federation\":\"fed\\u003c\\\"x\\\">\""));
	assert_non_null(strstr(b, "\"dp_mode\":\"central\""));
	assert_non_null(strstr(b, "\"rounds_done\":4"));
	assert_non_null(strstr(b, "{\"round\":2,\"accuracy\":null,"));
	assert_non_null(strstr(b, "{\"round\":4,"));
	free(r);

	r = http_get(port, "/status?since=3");
	assert_non_null(r);
	b = body_of(r);
	assert_int_equal(pfl_json_check(b, strlen(b)), PFL_OK);
	assert_null(strstr(b, "{\"round\":3,"));
	assert_non_null(strstr(b, "\"history\":[{\"round\":4,"));
	free(r);

	r = http_get(port, "/");
	assert_non_null(r);
	assert_non_null(strstr(r, "text/html"));
	assert_non_null(strstr(r, "id=\"plot-epsilon\""));
	assert_non_null(strstr(r, "</html>"));
	free(r);

	r = http_get(port, "/missing");
	assert_non_null(r);
	assert_non_null(strstr(r, " 404 "));
	free(r);
	pfl_aggregator_free(a);
}

static void
test_busy_address_and_close_twice(void **state)
{
	int port = free_port();
	struct pfl_aggregator *a = new_agg(port), *b = new_agg(port);
	char *r;

	(void)state;
	assert_int_equal(pfli_http_open(a), PFL_OK);
	/* a second server on the same address: refused, nothing leaks */
	assert_int_not_equal(pfli_http_open(b), PFL_OK);
	assert_null(b->http);
	pfli_http_close(a);
	pfli_http_close(a);
	r = http_get(port, "/status");
	assert_true(r == NULL || r[0] == '\0');
	free(r);
	pfl_aggregator_free(a);
	pfl_aggregator_free(b);
}

struct hammer {
	int port;
	atomic_int stop;
	int ok;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	static const char *const paths[] = {"/status", "/metrics", "/"};

	for (int i = 0; !h->stop; i++) {
		char *r = http_get(h->port, paths[i % 3]);
		if (r != NULL && strstr(r, " 200 ") != NULL)
			__atomic_add_fetch(&h->ok, 1, __ATOMIC_RELAXED);
		free(r);
	}
	return NULL;
}

/* Freeing the aggregator while requests are in flight must be clean. */
static void
test_close_under_load(void **state)
{
	struct hammer h = {free_port(), 0, 0};
	pthread_t t[4];

	(void)state;
	for (int round = 0; round < 3; round++) {
		struct pfl_aggregator *a = new_agg(h.port);
		h.stop = 0;
		assert_int_equal(pfli_http_open(a), PFL_OK);
		for (int i = 0; i < 4; i++)
			assert_int_equal(
			        pthread_create(&t[i], NULL, hammer_main, &h),
			        0);
		for (int k = 0; k < 7; k++) {
			add_round(a, (uint64_t)k + 1, 0.5);
			pfl_sleep_ms(30);
		}
		pfl_aggregator_free(a);
		h.stop = 1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
	assert_true(h.ok > 10);
}

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(outdir, sizeof(outdir), "/tmp/pfl-http.XXXXXX");
	return mkdtemp(outdir) != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	/* nng frees a released HTTP server on its reaper thread: drain it so
	 * that LeakSanitizer does not report the last one at exit. */
	nng_fini();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_metrics_and_status),
	        cmocka_unit_test(test_busy_address_and_close_twice),
	        cmocka_unit_test(test_close_under_load),
	};

	return cmocka_run_group_tests_name("http", tests, group_setup,
	                                   group_teardown);
}
