/*
 * pfl_sa_choose_params_min keeps a memo of its recent answers
 * (crypto/src/secagg_params.c): every answer, first or remembered, must
 * be the search's own, for more distinct settings than the memo holds,
 * errors included, from several threads at once.
 */

/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>

#include "../crypto/src/secagg_int.h"
#include "privfl/secagg.h"

struct setting {
	enum pfl_sa_mode mode;
	uint32_t n;
	double drop, corrupt;
	uint32_t min_sum;
};

static const struct setting settings[] = {
        {PFL_SA_PLUS, 60, 0.1, 0.1, 2},  {PFL_SA_PLUS, 60, 0.2, 0.1, 2},
        {PFL_SA_PLUS, 80, 0.1, 0.05, 2}, {PFL_SA_PLUS, 80, 0.1, 0.05, 10},
        {PFL_SA_FULL, 5, 0.2, 0.1, 2},   {PFL_SA_FULL, 5, 0.0, 0.1, 3},
        {PFL_SA_FULL, 3, 0.5, 0.4, 3},   {PFL_SA_PLUS, 100, 0.05, 0.0, 2},
        {PFL_SA_PLUS, 40, 0.3, 0.1, 2},  {PFL_SA_FULL, 20, 0.3, 0.2, 2},
        {PFL_SA_FULL, 10, 0.0, 0.1, 2},  {PFL_SA_FULL, 10, 0.0, 0.1, 8},
        {PFL_SA_FULL, 10, 0.0, 0.3, 2},  {PFL_SA_FULL, 12, 0.0, 0.1, 2},
        {PFL_SA_PLUS, 2, 0.1, 0.1, 2}, /* too small: an error */
        {PFL_SA_FULL, 9, 0.9, 0.5, 8}, /* no threshold: an error */
};
#define NSET (sizeof(settings) / sizeof(settings[0]))

static struct {
	pfl_err rv;
	uint32_t k, t;
} want[NSET];

static void
check(size_t i)
{
	const struct setting *s = &settings[i];
	uint32_t k = 0, t = 0;
	pfl_err rv = pfl_sa_choose_params_min(s->mode, s->n, s->drop,
	                                      s->corrupt, s->min_sum, &k, &t);

	assert_int_equal(rv, want[i].rv);
	if (rv == PFL_OK) {
		assert_int_equal(k, want[i].k);
		assert_int_equal(t, want[i].t);
	}
}

static int
setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < NSET; i++) {
		const struct setting *s = &settings[i];
		want[i].rv = pfli_sa_choose_params_search(
		        s->mode, s->n, s->drop, s->corrupt, s->min_sum,
		        &want[i].k, &want[i].t);
	}
	/* the list holds answers and errors both, and settings that differ
	 * in one argument only have different answers (so that a memo
	 * forgetting that argument fails here) */
	assert_int_equal(want[0].rv, PFL_OK);
	assert_int_not_equal(want[NSET - 1].rv, PFL_OK);
	assert_true(want[0].k != want[1].k ||
	            want[0].t != want[1].t); /* drop */
	assert_true(want[2].t != want[7].t || want[2].k != want[7].k);
	assert_true(want[10].t != want[11].t); /* min_sum */
	assert_true(want[4].k != want[9].k);   /* n */
	return 0;
}

/* 12 settings through an 8-slot memo, three times over, in two orders */
static void
test_memo_answers_are_the_search(void **state)
{
	(void)state;
	for (int rep = 0; rep < 3; rep++) {
		for (size_t i = 0; i < NSET; i++)
			check(i);
		for (size_t i = NSET; i-- > 0;)
			check(i);
		check(rep % NSET);
		check(rep % NSET);
	}
}

static void *
worker(void *arg)
{
	size_t off = (size_t)(uintptr_t)arg;

	for (int rep = 0; rep < 20; rep++)
		for (size_t i = 0; i < NSET; i++)
			check((i + off) % NSET);
	return NULL;
}

static void
test_memo_threads(void **state)
{
	pthread_t th[4];

	(void)state;
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker,
		                                (void *)(uintptr_t)(i * 3)),
		                 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_memo_answers_are_the_search),
	        cmocka_unit_test(test_memo_threads),
	};

	return cmocka_run_group_tests_name("sa_params", tests, setup, NULL);
}
