/* Replay window: duplicates, clock window, bounded memory, threads. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <string.h>

#include "privfl/replay.h"

static void
nonce_of(uint8_t n[16], uint32_t i)
{
	memset(n, 0, 16);
	memcpy(n, &i, sizeof(i));
}

static void
test_duplicates(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t a[32] = {1}, b[32] = {2}, n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	assert_int_equal(pfl_replay_new(100, 60000, &r), PFL_OK);
	nonce_of(n, 1);
	assert_int_equal(pfl_replay_check(r, a, n, now, now), PFL_OK);
	assert_int_equal(pfl_replay_check(r, a, n, now, now), PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now + 5, now + 9),
	                 PFL_ERR_AUTH);
	/* same nonce from another sender is a different message */
	assert_int_equal(pfl_replay_check(r, b, n, now, now), PFL_OK);
	nonce_of(n, 2);
	assert_int_equal(pfl_replay_check(r, a, n, now, now), PFL_OK);
	assert_int_equal(pfl_replay_count(r), 3);
	pfl_replay_free(r);
	pfl_replay_free(NULL);
}

static void
test_window(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t a[32] = {1}, n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	assert_int_equal(pfl_replay_new(100, 1000, &r), PFL_OK);
	nonce_of(n, 1);
	assert_int_equal(pfl_replay_check(r, a, n, now - 1001, now),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now + 1001, now),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now - 1000, now), PFL_OK);
	nonce_of(n, 2);
	assert_int_equal(pfl_replay_check(r, a, n, now + 1000, now), PFL_OK);
	assert_int_equal(pfl_replay_check(r, a, n, 0, now), PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_new(0, 1000, &r), PFL_ERR_INVAL);
	assert_int_equal(pfl_replay_new(10, 0, &r), PFL_ERR_INVAL);
	pfl_replay_free(r);
}

/* Past capacity, forgotten pairs stay refused through the low-water mark. */
static void
test_capacity(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t a[32] = {1}, n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	assert_int_equal(pfl_replay_new(8, 60000, &r), PFL_OK);
	for (uint32_t i = 0; i < 100; i++) {
		nonce_of(n, i);
		assert_int_equal(pfl_replay_check(r, a, n, now + i, now),
		                 PFL_OK);
		assert_true(pfl_replay_count(r) <= 8);
	}
	assert_int_equal(pfl_replay_count(r), 8);
	for (uint32_t i = 0; i < 100; i++) {
		nonce_of(n, i);
		assert_int_equal(pfl_replay_check(r, a, n, now + i, now),
		                 PFL_ERR_AUTH);
	}
	/* newer than anything forgotten: accepted */
	nonce_of(n, 1000);
	assert_int_equal(pfl_replay_check(r, a, n, now + 100, now), PFL_OK);
	pfl_replay_free(r);
}

struct worker {
	struct pfl_replay *r;
	int accepted;
};

static void *
hammer(void *arg)
{
	struct worker *w = arg;
	uint8_t a[32] = {7}, n[16];
	const uint64_t now = 1700000000000ull;

	for (uint32_t i = 0; i < 2000; i++) {
		nonce_of(n, i);
		if (pfl_replay_check(w->r, a, n, now, now) == PFL_OK)
			w->accepted++;
	}
	return NULL;
}

/* Four threads submit the same 2000 messages: each is accepted once. */
static void
test_threads(void **state)
{
	struct pfl_replay *r = NULL;
	struct worker w[4];
	pthread_t t[4];
	int total = 0;
	(void)state;

	assert_int_equal(pfl_replay_new(10000, 60000, &r), PFL_OK);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){r, 0};
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += w[i].accepted;
	}
	assert_int_equal(total, 2000);
	pfl_replay_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_duplicates),
	        cmocka_unit_test(test_window),
	        cmocka_unit_test(test_capacity),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
