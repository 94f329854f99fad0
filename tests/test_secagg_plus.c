/*
 * SecAgg+ at cohort scale: n = 1000 on the random graph chosen by
 * pfl_sa_choose_params (mean degree k = 66, t = 47), 5% of the clients dropping
 * at random phases; the unmasked sum equals the plain sum of the survivors bit
 * for bit. Small vectors keep it fast (labelled slow anyway).
 */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "test_secagg_harness.c"

#include "privfl/rng.h"

static void
test_plus_n1000(void **state)
{
	struct pfl_sa_params p;
	struct pfl_rng r;
	struct sah h;
	uint32_t *sum, *want, ids[1000], wids[1000], m, wm, dropped = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.mode = PFL_SA_PLUS;
	p.n = 1000;
	p.dim = 100;
	assert_int_equal(
	        pfl_sa_choose_params(p.mode, p.n, 0.05, 0.05, &p.k, &p.t),
	        PFL_OK);
	assert_int_equal(p.k, 66);
	randombytes_buf(p.round_ctx, 32);
	randombytes_buf(p.graph_seed, 32);
	assert_int_equal(sah_init(&h, &p, 1, 77), PFL_OK);
	pfl_rng_seed(&r, 1000);
	for (uint32_t i = 0; i < p.n; i++) {
		if (pfl_rng_below(&r, 20) == 0) {
			h.drop_at[i] = (int)pfl_rng_below(&r, PFL_SA_PHASES);
			dropped++;
		}
	}
	assert_true(dropped > 20);
	sum = malloc(p.dim * 4);
	want = malloc(p.dim * 4);
	assert_non_null(sum);
	assert_non_null(want);
	assert_int_equal(sah_run(&h), PFL_OK);
	assert_int_equal(pfl_sa_server_result(h.server, sum, ids, &m), PFL_OK);
	sah_expected(&h, want, wids, &wm);
	assert_int_equal(m, wm);
	assert_memory_equal(ids, wids, (size_t)m * 4);
	assert_memory_equal(sum, want, p.dim * 4);
	for (uint32_t i = 0; i < p.n; i++)
		if (h.drop_at[i] == PFL_SA_PHASES)
			assert_int_equal(h.status[i], PFL_OK);
	free(sum);
	free(want);
	sah_fini(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plus_n1000),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
