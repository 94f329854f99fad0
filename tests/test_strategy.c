/* Server strategies against hand-computed steps, and checkpoint state. */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <string.h>

#include "privfl/strategy.h"

#define CLOSE(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

static struct pfl_strategy *
make(enum pfl_strategy_kind k, size_t n)
{
	struct pfl_strategy_params p = {k, 0.5, 0.9, 0.9, 0.99, 0.01};
	struct pfl_strategy *s = NULL;

	assert_int_equal(pfl_strategy_new(&p, n, &s), PFL_OK);
	return s;
}

static void
test_fedavg(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDAVG, 2);
	float w[2] = {1.0f, -2.0f};
	const float d[2] = {0.2f, 0.4f};

	(void)state;
	pfl_strategy_apply(s, w, d);
	CLOSE(w[0], 1.1);
	CLOSE(w[1], -1.8);
	pfl_strategy_free(s);
}

static void
test_fedavgm(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDAVGM, 1);
	float w[1] = {0};
	const float d[1] = {1.0f};

	(void)state;
	pfl_strategy_apply(s, w, d); /* m = 1, w = 0.5 */
	CLOSE(w[0], 0.5);
	pfl_strategy_apply(s, w, d); /* m = 0.9 + 1 = 1.9, w = 0.5 + 0.95 */
	CLOSE(w[0], 1.45);
	pfl_strategy_free(s);
}

static void
test_fedadam(void **state)
{
	struct pfl_strategy *s = make(PFL_STRAT_FEDADAM, 1);
	float w[1] = {0};
	const float d[1] = {0.1f};
	/* m = 0.1*0.1 = 0.01; v = 0.99*1e-4 + 0.01*0.01 = 1.99e-4 */
	double m = 0.01, v = 0.99 * 1e-4 + 0.01 * 0.01;

	(void)state;
	pfl_strategy_apply(s, w, d);
	CLOSE(w[0], 0.5 * m / (sqrt(v) + 0.01));
	pfl_strategy_free(s);
}

static void
test_fedyogi_and_adagrad(void **state)
{
	struct pfl_strategy *y = make(PFL_STRAT_FEDYOGI, 1);
	struct pfl_strategy *g = make(PFL_STRAT_FEDADAGRAD, 1);
	float wy[1] = {0}, wg[1] = {0};
	const float d[1] = {0.1f};
	/* yogi: v0 = 1e-4 < g^2 = 0.01: v = v0 + 0.01*0.01 = 2e-4 */
	double vy = 1e-4 + 0.01 * 0.01;
	/* adagrad: v = v0 + g^2 = 0.0101 */
	double vg = 1e-4 + 0.01;

	(void)state;
	pfl_strategy_apply(y, wy, d);
	pfl_strategy_apply(g, wg, d);
	CLOSE(wy[0], 0.5 * 0.01 / (sqrt(vy) + 0.01));
	CLOSE(wg[0], 0.5 * 0.01 / (sqrt(vg) + 0.01));
	pfl_strategy_free(y);
	pfl_strategy_free(g);
}

static void
test_save_load(void **state)
{
	struct pfl_strategy *a = make(PFL_STRAT_FEDADAM, 3);
	struct pfl_strategy *b = make(PFL_STRAT_FEDADAM, 3);
	struct pfl_strategy *c = make(PFL_STRAT_FEDADAM, 4);
	float wa[3] = {0}, wb[3] = {0};
	const float d[3] = {0.1f, -0.2f, 0.3f};
	struct pfl_buf buf;

	(void)state;
	pfl_buf_init(&buf, 0);
	pfl_strategy_apply(a, wa, d);
	assert_int_equal(pfl_strategy_save(a, &buf), PFL_OK);
	assert_int_equal(pfl_strategy_load(b, buf.data, buf.len), PFL_OK);
	assert_int_not_equal(pfl_strategy_load(c, buf.data, buf.len), PFL_OK);
	assert_int_not_equal(pfl_strategy_load(b, buf.data, buf.len - 1),
	                     PFL_OK);
	memcpy(wb, wa, sizeof(wa));
	pfl_strategy_apply(a, wa, d);
	pfl_strategy_apply(b, wb, d);
	assert_memory_equal(wa, wb, sizeof(wa));
	pfl_buf_fini(&buf);
	pfl_strategy_free(a);
	pfl_strategy_free(b);
	pfl_strategy_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fedavg),
	        cmocka_unit_test(test_fedavgm),
	        cmocka_unit_test(test_fedadam),
	        cmocka_unit_test(test_fedyogi_and_adagrad),
	        cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
