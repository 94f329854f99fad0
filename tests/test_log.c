/*
 * pfl_log_set_thread_max: a thread's ceiling drops its own lines above it
 * and no other thread's (the simulator quiets its virtual clients'
 * warnings this way and keeps their errors).
 */

/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <string.h>

#include "privfl/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[4096];

static void
sink(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	pthread_mutex_lock(&mu);
	strncat(seen, line, sizeof(seen) - strlen(seen) - 2);
	strcat(seen, "\n");
	pthread_mutex_unlock(&mu);
}

static void *
quiet_thread(void *arg)
{
	(void)arg;
	pfl_log_set_thread_max(PFL_LOG_ERROR);
	pfl_log(PFL_LOG_WARN, "quiet warn");
	pfl_log(PFL_LOG_INFO, "quiet info");
	pfl_log(PFL_LOG_ERROR, "quiet error");
	return NULL;
}

static void
test_thread_max(void **state)
{
	pthread_t t;

	(void)state;
	seen[0] = '\0';
	pfl_log_set_sink(sink, NULL);
	pfl_log_set_level(PFL_LOG_INFO);
	assert_int_equal(pthread_create(&t, NULL, quiet_thread, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pfl_log(PFL_LOG_WARN, "main warn");
	pfl_log(PFL_LOG_DEBUG, "main debug"); /* above the process level */
	pfl_log_set_sink(NULL, NULL);
	assert_non_null(strstr(seen, "quiet error"));
	assert_null(strstr(seen, "quiet warn"));
	assert_null(strstr(seen, "quiet info"));
	assert_non_null(strstr(seen, "main warn"));
	assert_null(strstr(seen, "main debug"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_thread_max),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
