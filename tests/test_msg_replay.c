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

/*
 * Past PFL_REPLAY_PER_KEY pairs of one key, the key's forgotten pairs stay
 * refused through its own low-water mark.
 */
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
		assert_true(pfl_replay_count(r) <= PFL_REPLAY_PER_KEY);
	}
	assert_int_equal(pfl_replay_count(r), PFL_REPLAY_PER_KEY);
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

static void
key_of(uint8_t k[32], uint32_t i)
{
	memset(k, 0, 32);
	memcpy(k, &i, sizeof(i));
	k[31] = 0x5a;
}

/*
 * Issue #11 item 9, with the aggregator's parameters (2^20 keys, 10
 * minutes): one enrolled key floods 2^20 + 1 messages timed as far ahead
 * as allowed. The other keys' next messages are accepted at once, and
 * their earlier messages are still refused as replays. (Before the fix, a
 * full ring raised a global low-water mark over everybody's clock.)
 */
static void
test_flooding_key_keeps_others(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t flood[32], k[32], n[16];
	const uint64_t now = 1700000000000ull;
	const uint32_t honest = 8;
	(void)state;

	assert_int_equal(pfl_replay_new(1u << 20, 10 * 60 * 1000, &r), PFL_OK);
	for (uint32_t i = 0; i < honest; i++) {
		key_of(k, i);
		nonce_of(n, 1);
		assert_int_equal(pfl_replay_check(r, k, n, now - 1000, now),
		                 PFL_OK);
	}
	key_of(flood, 0xffffff);
	for (uint32_t i = 0; i <= (1u << 20); i++) {
		pfl_err rv;
		nonce_of(n, i);
		/* the flooder may lock itself out, nobody else */
		rv = pfl_replay_check(r, flood, n, now + 29000, now + 1);
		assert_true(rv == PFL_OK || rv == PFL_ERR_AUTH);
	}
	for (uint32_t i = 0; i < honest; i++) {
		key_of(k, i);
		nonce_of(n, 1);
		assert_int_equal(pfl_replay_check(r, k, n, now - 1000, now + 2),
		                 PFL_ERR_AUTH);
		nonce_of(n, 2);
		assert_int_equal(pfl_replay_check(r, k, n, now + 2, now + 2),
		                 PFL_OK);
	}
	assert_true(pfl_replay_count(r) <= 2 * honest + PFL_REPLAY_PER_KEY);
	pfl_replay_free(r);
}

/*
 * Issue #11 item 9: with the aggregator's parameters, a sender's clock may
 * lead by 30 s at most (it was the whole 10-minute window), so nobody can
 * pin state far into the future.
 */
static void
test_future_skew(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t a[32] = {3}, n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	assert_int_equal(pfl_replay_new(1u << 20, 10 * 60 * 1000, &r), PFL_OK);
	nonce_of(n, 1);
	assert_int_equal(pfl_replay_check(r, a, n, now + 5 * 60000, now),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now + 30001, now),
	                 PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now + 30000, now), PFL_OK);
	nonce_of(n, 2);
	assert_int_equal(pfl_replay_check(r, a, n, now - 10 * 60000, now),
	                 PFL_OK);
	pfl_replay_free(r);
	/* explicit skew */
	assert_int_equal(pfl_replay_new_skew(4, 60000, 0, &r), PFL_OK);
	assert_int_equal(pfl_replay_check(r, a, n, now + 1, now), PFL_ERR_AUTH);
	assert_int_equal(pfl_replay_check(r, a, n, now, now), PFL_OK);
	pfl_replay_free(r);
	assert_int_equal(pfl_replay_new_skew(4, 1000, 1001, &r), PFL_ERR_INVAL);
	assert_int_equal(pfl_replay_new_skew(4, 1000, -1, &r), PFL_ERR_INVAL);
}

/*
 * max_keys bounds the keys with live state: a further key is refused
 * (PFL_ERR_AGAIN) without touching anybody's state, and admitted once
 * some key's state has left the window.
 */
static void
test_max_keys(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t k[32], n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	assert_int_equal(pfl_replay_new(4, 1000, &r), PFL_OK);
	nonce_of(n, 1);
	for (uint32_t i = 0; i < 4; i++) {
		key_of(k, i);
		assert_int_equal(pfl_replay_check(r, k, n, now + i * 100, now),
		                 PFL_OK);
	}
	key_of(k, 4);
	assert_int_equal(pfl_replay_check(r, k, n, now, now), PFL_ERR_AGAIN);
	assert_int_equal(pfl_replay_check(r, k, n, now, now + 999),
	                 PFL_ERR_AGAIN);
	assert_int_equal(pfl_replay_count(r), 4);
	for (uint32_t i = 0; i < 4; i++) { /* all still remembered */
		key_of(k, i);
		assert_int_equal(
		        pfl_replay_check(r, k, n, now + i * 100, now + 999),
		        PFL_ERR_AUTH);
	}
	/* key 0's state has expired: key 4 takes its place */
	key_of(k, 4);
	assert_int_equal(pfl_replay_check(r, k, n, now + 1001, now + 1001),
	                 PFL_OK);
	assert_int_equal(pfl_replay_keys(r), 4);
	/* many keys coming and going: state stays bounded */
	for (uint32_t i = 0; i < 100000; i++) {
		key_of(k, 1000 + i);
		assert_int_equal(pfl_replay_check(r, k, n,
		                                  now + 10000 + i * 300,
		                                  now + 10000 + i * 300),
		                 PFL_OK);
		assert_true(pfl_replay_keys(r) <= 4);
	}
	pfl_replay_free(r);
}

/*
 * Two callers read the clock a millisecond apart and the later reading
 * reaches the lock first, dropping an expired key: the earlier reading
 * must not see that key's message as fresh again.
 */
static void
test_clock_readings_race(void **state)
{
	struct pfl_replay *r = NULL;
	uint8_t x[32], y[32], n[16];
	const uint64_t now = 1700000000000ull;
	(void)state;

	key_of(x, 1);
	key_of(y, 2);
	nonce_of(n, 1);
	assert_int_equal(pfl_replay_new(1, 1000, &r), PFL_OK);
	assert_int_equal(pfl_replay_check(r, x, n, now, now), PFL_OK);
	/* x expired at now + 1001: y takes its place */
	assert_int_equal(pfl_replay_check(r, y, n, now + 1001, now + 1001),
	                 PFL_OK);
	/* a replay of x checked with a reading 1 ms older */
	assert_int_equal(pfl_replay_check(r, x, n, now, now + 1000),
	                 PFL_ERR_AUTH);
	/* a clock set back by more than a second is believed */
	nonce_of(n, 2);
	assert_int_equal(pfl_replay_check(r, y, n, now - 5000, now - 5000),
	                 PFL_OK);
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
	uint8_t a[32], n[16];
	const uint64_t now = 1700000000000ull;

	for (uint32_t i = 0; i < 2000; i++) {
		key_of(a, i % 1000);
		nonce_of(n, i);
		if (pfl_replay_check(w->r, a, n, now, now) == PFL_OK)
			w->accepted++;
	}
	return NULL;
}

/*
 * Four threads submit the same 2000 messages of 1000 keys (two each, fewer
 * than PFL_REPLAY_PER_KEY): each is accepted once.
 */
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
	        cmocka_unit_test(test_flooding_key_keeps_others),
	        cmocka_unit_test(test_future_skew),
	        cmocka_unit_test(test_max_keys),
	        cmocka_unit_test(test_clock_readings_race),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
