/* The client's update pipeline: delta, weight, clip, quantize. */
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

#include "../client/src/client_int.h"
#include "privfl/clip.h"
#include "privfl/quant.h"

static struct pfl_csprng *
rng(void)
{
	static const uint8_t seed[32] = {7};
	struct pfl_csprng *r = NULL;

	assert_int_equal(pfl_csprng_new(seed, &r), PFL_OK);
	return r;
}

static void
test_plain_weighted(void **state)
{
	struct pfl_msg_plan p;
	const float g[3] = {1, 1, 1}, l[3] = {4, 5, 1};
	float v[4];
	struct pfl_csprng *r = rng();

	(void)state;
	memset(&p, 0, sizeof(p));
	p.num_params = 3;
	p.vector_len = 4;
	assert_int_equal(pfli_pipeline(&p, g, l, 10, r, v, NULL), PFL_OK);
	/* delta (3,4,0) weighted by 10 examples */
	assert_true(fabsf(v[0] - 30.0f) < 1e-5f);
	assert_true(fabsf(v[1] - 40.0f) < 1e-5f);
	assert_true(v[2] == 0.0f);
	assert_true(v[3] == 10.0f);
	pfl_csprng_free(r);
}

static void
test_clip_and_cap(void **state)
{
	struct pfl_msg_plan p;
	const float g[2] = {0, 0}, l[2] = {3, 4};
	float v[3];
	struct pfl_csprng *r = rng();

	(void)state;
	memset(&p, 0, sizeof(p));
	p.num_params = 2;
	p.vector_len = 3;
	p.clip_norm = 1.0;
	p.weight_cap = 20;
	assert_int_equal(pfli_pipeline(&p, g, l, 10, r, v, NULL), PFL_OK);
	/* clipped to norm 1 (0.6, 0.8), then weight 10/20 */
	assert_true(fabsf(v[0] - 0.3f) < 1e-6f);
	assert_true(fabsf(v[1] - 0.4f) < 1e-6f);
	assert_true(fabsf(v[2] - 0.5f) < 1e-6f);
	/* a wrong vector length is a protocol error */
	p.vector_len = 4;
	assert_int_equal(pfli_pipeline(&p, g, l, 10, r, v, NULL),
	                 PFL_ERR_PROTO);
	pfl_csprng_free(r);
}

static void
test_quantized_and_adaptive(void **state)
{
	struct pfl_msg_plan p;
	const float g[2] = {0, 0}, l[2] = {-0.25f, 0.5f};
	float v[4], back[4];
	uint32_t q[4];
	struct pfl_csprng *r = rng();

	(void)state;
	memset(&p, 0, sizeof(p));
	p.num_params = 2;
	p.vector_len = 4;
	p.clip_norm = 1.0;
	p.dp_mode = 1;
	p.adaptive_clip = true;
	p.quant_scale = 1024;
	assert_int_equal(pfli_pipeline(&p, g, l, 10, r, v, q), PFL_OK);
	assert_true(v[2] == 1.0f); /* uniform weight under DP */
	assert_true(v[3] == 0.5f); /* norm below the clip, centred: 1 - 1/2 */
	pfl_quant_decode(q, 4, 1024, back);
	for (int i = 0; i < 4; i++)
		assert_true(fabsf(back[i] - v[i]) <= 1.0f / 1024 + 1e-7f);
	pfl_csprng_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_weighted),
	        cmocka_unit_test(test_clip_and_cap),
	        cmocka_unit_test(test_quantized_and_adaptive),
	};

	return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
