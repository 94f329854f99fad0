/*
 * Issue #11, item 16: buffers that may hold a plaintext update are zeroed
 * before their memory goes back to malloc. The test binary is linked with
 * -Wl,--wrap=free, so every free() made by our libraries passes through
 * __wrap_free below, which copies the block it was asked to watch just
 * before it is freed.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/buf.h"

void __real_free(void *p);
void __wrap_free(void *p);

static const void *watch;
static size_t watch_len;
static uint8_t seen[4096];
static int seen_count;

void
__wrap_free(void *p)
{
	if (p != NULL && p == watch) {
		memcpy(seen, p, watch_len);
		seen_count++;
	}
	__real_free(p);
}

static void
watch_block(const void *p, size_t len)
{
	assert_true(len <= sizeof(seen));
	watch = p;
	watch_len = len;
	seen_count = 0;
	memset(seen, 0x5a, sizeof(seen));
}

static bool
seen_zero(size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (seen[i] != 0)
			return false;
	return true;
}

static void
test_free_wipe(void **state)
{
	uint8_t *p = malloc(300);

	(void)state;
	assert_non_null(p);
	memset(p, 0xa5, 300);
	watch_block(p, 300);
	pfl_free_wipe(p, 300);
	assert_int_equal(seen_count, 1);
	assert_true(seen_zero(300));
	pfl_free_wipe(NULL, 10);
}

/* The control: a plain buffer is not wiped, and the hook sees that. */
static void
test_plain_buf_is_not_wiped(void **state)
{
	struct pfl_buf b;
	uint8_t x[200];

	(void)state;
	memset(x, 0xa5, sizeof(x));
	pfl_buf_init(&b, 0);
	assert_int_equal(pfl_buf_append(&b, x, sizeof(x)), PFL_OK);
	watch_block(b.data, sizeof(x));
	pfl_buf_fini(&b);
	assert_int_equal(seen_count, 1);
	assert_memory_equal(seen, x, sizeof(x));
}

static void
test_wipe_buf_fini(void **state)
{
	struct pfl_buf b;
	uint8_t x[1000];

	(void)state;
	memset(x, 0xa5, sizeof(x));
	pfl_buf_init_wipe(&b, 0);
	assert_int_equal(pfl_buf_append(&b, x, sizeof(x)), PFL_OK);
	watch_block(b.data, b.cap);
	pfl_buf_fini(&b);
	assert_int_equal(seen_count, 1);
	assert_true(seen_zero(sizeof(x)));
	/* fini keeps the buffer a wiping one for its next use */
	assert_int_equal(pfl_buf_append(&b, x, 10), PFL_OK);
	watch_block(b.data, 10);
	pfl_buf_fini(&b);
	assert_true(seen_zero(10));
}

/* Growing moves the bytes: the old block is wiped, the data kept. */
static void
test_wipe_buf_grow(void **state)
{
	struct pfl_buf b;
	uint8_t x[3000];

	(void)state;
	for (size_t i = 0; i < sizeof(x); i++)
		x[i] = (uint8_t)(i * 7 + 1);
	pfl_buf_init_wipe(&b, 0);
	assert_int_equal(pfl_buf_append(&b, x, 200), PFL_OK);
	watch_block(b.data, 200);
	assert_int_equal(pfl_buf_append(&b, x + 200, sizeof(x) - 200), PFL_OK);
	assert_int_equal(seen_count, 1);
	assert_true(seen_zero(200));
	assert_int_equal(b.len, sizeof(x));
	assert_memory_equal(b.data, x, sizeof(x));
	pfl_buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_free_wipe),
	        cmocka_unit_test(test_plain_buf_is_not_wiped),
	        cmocka_unit_test(test_wipe_buf_fini),
	        cmocka_unit_test(test_wipe_buf_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
