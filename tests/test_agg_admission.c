/*
 * The aggregator's request admission (issue #11, items 9 and 10), driven
 * through the real entry point pfli_serve with real signed messages, on an
 * aggregator that is not serving a round (every admitted check-in is
 * answered with RETRY "no round open"):
 *   - a flood of check-ins signed by fresh, unenrolled keys never reaches
 *     the replay state, and the honest clients are served right after it;
 *   - a message time far ahead of the aggregator's clock is refused;
 *   - the revocation list holds under open enrollment too.
 * The full-scale flood (a million pairs, one enrolled key) is driven
 * through the replay structure itself in test_msg_replay.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg_fixture.h"
#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/identity.h"
#include "privfl/log.h"
#include "privfl/msg.h"

#define FED      "admission-fed"
#define HONEST   3
#define STRANGER 3000

static char tmp[64];

static void
write_pub(const char *dir, const char *name, const struct pfl_identity *id)
{
	char path[160], line[PFL_PUBKEY_LINE_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	pfl_pubkey_format_line(pfl_identity_public(id), line);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(line, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* An aggregator on tmp/out; enrolled / revoked: directories or "". */
static struct pfl_aggregator *
new_aggregator(const char *enrolled, const char *revoked)
{
	struct pfl_agg_config cfg;
	struct pfl_aggregator *a = NULL;
	char err[PFL_CFG_ERRLEN], out[96];

	snprintf(out, sizeof(out), "%s/out", tmp);
	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "listen", "inproc://test-admission");
	set(&cfg, "federation_id", FED);
	set(&cfg, "enrolled_keys", enrolled);
	set(&cfg, "revoked_keys", revoked);
	set(&cfg, "out_dir", out);
	set(&cfg, "resume", "false");
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	assert_int_equal(pfl_aggregator_new(&cfg, &a), PFL_OK);
	pfl_agg_config_fini(&cfg);
	return a;
}

/* A check-in from id, its time shifted by skew_ms from now. */
static void
checkin(const struct pfl_identity *id, int64_t skew_ms, struct pfl_buf *out)
{
	struct pfl_msg m;

	pfl_msg_init(&m, PFL_MSG_CHECKIN, FED, 0, id);
	m.time_ms = (uint64_t)((int64_t)m.time_ms + skew_ms);
	snprintf(m.u.checkin.software, sizeof(m.u.checkin.software), "test");
	pfl_buf_init(out, 0);
	assert_int_equal(pfl_msg_encode(&m, id, out), PFL_OK);
}

/* Serve req; the reply's type, and its error code in *code (ERROR). */
static enum pfl_msg_type
serve(struct pfl_aggregator *a, const struct pfl_buf *req, uint32_t *code)
{
	struct pfl_buf reply;
	struct pfl_msg m;
	enum pfl_msg_type t;

	pfl_buf_init(&reply, 1u << 20);
	pfli_serve(a, req->data, req->len, &reply);
	assert_int_equal(pfl_msg_decode(reply.data, reply.len, NULL, &m),
	                 PFL_OK);
	assert_int_equal(pfl_msg_verify(&m), PFL_OK);
	t = m.type;
	*code = t == PFL_MSG_ERROR ? m.u.error.code : 0;
	pfl_buf_fini(&reply);
	return t;
}

/* id's fresh check-in is admitted (answered RETRY: no round open). */
static void
assert_served(struct pfl_aggregator *a, const struct pfl_identity *id)
{
	struct pfl_buf b;
	uint32_t code;

	checkin(id, 0, &b);
	assert_int_equal(serve(a, &b, &code), PFL_MSG_RETRY);
	pfl_buf_fini(&b);
}

static void
assert_refused(struct pfl_aggregator *a, const struct pfl_buf *b, uint32_t want)
{
	uint32_t code;

	assert_int_equal(serve(a, b, &code), PFL_MSG_ERROR);
	assert_int_equal(code, want);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/pfl-admission-XXXXXX");
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	rm_rf(tmp);
	return 0;
}

/*
 * Item 9: strangers flood check-ins signed by fresh keys. None of them
 * touches the replay state, and the honest clients are served at once.
 * (Before the fix every one was remembered, and a million of them raised
 * a global low-water mark that refused everybody for 10 minutes.)
 */
static void
test_stranger_flood(void **state)
{
	struct pfl_identity *h[HONEST];
	struct pfl_aggregator *a;
	char enrolled[96], name[16];
	(void)state;

	snprintf(enrolled, sizeof(enrolled), "%s/enrolled", tmp);
	assert_int_equal(mkdir(enrolled, 0700), 0);
	for (int i = 0; i < HONEST; i++) {
		assert_int_equal(pfl_identity_generate(&h[i]), PFL_OK);
		snprintf(name, sizeof(name), "h%d", i);
		write_pub(enrolled, name, h[i]);
	}
	a = new_aggregator(enrolled, "");
	for (int i = 0; i < STRANGER; i++) {
		struct pfl_identity *s = NULL;
		struct pfl_buf b;
		assert_int_equal(pfl_identity_generate(&s), PFL_OK);
		checkin(s, 29000, &b); /* as far ahead as allowed */
		assert_refused(a, &b, PFL_ERR_AUTH);
		pfl_buf_fini(&b);
		pfl_identity_free(s);
	}
	assert_int_equal(pfl_replay_count(a->replay), 0);
	for (int i = 0; i < HONEST; i++)
		assert_served(a, h[i]);
	assert_int_equal(pfl_replay_count(a->replay), HONEST);
	pfl_aggregator_free(a);
	for (int i = 0; i < HONEST; i++)
		pfl_identity_free(h[i]);
}

/*
 * Item 9: an enrolled key floods (ten times the nonces a key keeps, timed
 * as far ahead as allowed). Another enrolled key's earlier message is still
 * refused as a replay, and its new one is served at once.
 */
static void
test_enrolled_flood(void **state)
{
	struct pfl_identity *h = NULL, *f = NULL;
	struct pfl_aggregator *a;
	struct pfl_buf early;
	char enrolled[96];
	(void)state;

	snprintf(enrolled, sizeof(enrolled), "%s/enrolled", tmp);
	assert_int_equal(mkdir(enrolled, 0700), 0);
	assert_int_equal(pfl_identity_generate(&h), PFL_OK);
	assert_int_equal(pfl_identity_generate(&f), PFL_OK);
	write_pub(enrolled, "h", h);
	write_pub(enrolled, "f", f);
	a = new_aggregator(enrolled, "");
	checkin(h, -1000, &early);
	assert_int_equal(serve(a, &early, &(uint32_t){0}), PFL_MSG_RETRY);
	for (int i = 0; i < 10 * PFL_REPLAY_PER_KEY; i++) {
		struct pfl_buf b;
		uint32_t code;
		checkin(f, 29000, &b);
		(void)serve(a, &b, &code); /* served, rate limited or refused */
		pfl_buf_fini(&b);
	}
	assert_refused(a, &early, PFL_ERR_AUTH);
	assert_served(a, h);
	pfl_buf_fini(&early);
	pfl_aggregator_free(a);
	pfl_identity_free(h);
	pfl_identity_free(f);
}

/*
 * Item 9: a message time far ahead of the aggregator's clock is refused
 * (max_clock_skew_ms, 30 s by default; it was 10 minutes), and a replay
 * of an accepted message still is.
 */
static void
test_future_skew(void **state)
{
	struct pfl_identity *h = NULL;
	struct pfl_aggregator *a;
	struct pfl_buf b;
	char enrolled[96];
	(void)state;

	snprintf(enrolled, sizeof(enrolled), "%s/enrolled", tmp);
	assert_int_equal(mkdir(enrolled, 0700), 0);
	assert_int_equal(pfl_identity_generate(&h), PFL_OK);
	write_pub(enrolled, "h", h);
	a = new_aggregator(enrolled, "");
	checkin(h, 5 * 60 * 1000, &b);
	assert_refused(a, &b, PFL_ERR_AUTH);
	pfl_buf_fini(&b);
	checkin(h, 60 * 1000, &b);
	assert_refused(a, &b, PFL_ERR_AUTH);
	pfl_buf_fini(&b);
	checkin(h, 20 * 1000, &b);
	assert_int_equal(serve(a, &b, &(uint32_t){0}), PFL_MSG_RETRY);
	assert_refused(a, &b, PFL_ERR_AUTH); /* the same bytes again */
	pfl_buf_fini(&b);
	checkin(h, -9 * 60 * 1000, &b); /* old, but inside the window */
	assert_int_equal(serve(a, &b, &(uint32_t){0}), PFL_MSG_RETRY);
	pfl_buf_fini(&b);
	pfl_aggregator_free(a);
	pfl_identity_free(h);
}

/*
 * Item 10: without an allow-list (open enrollment), a key on the
 * revocation list is refused; other keys are served.
 */
static void
test_revoked_under_open_enrollment(void **state)
{
	struct pfl_identity *bad = NULL, *other = NULL;
	struct pfl_aggregator *a;
	struct pfl_buf b;
	char revoked[96];
	(void)state;

	snprintf(revoked, sizeof(revoked), "%s/revoked", tmp);
	assert_int_equal(mkdir(revoked, 0700), 0);
	assert_int_equal(pfl_identity_generate(&bad), PFL_OK);
	assert_int_equal(pfl_identity_generate(&other), PFL_OK);
	write_pub(revoked, "bad", bad);
	a = new_aggregator("", revoked);
	checkin(bad, 0, &b);
	assert_refused(a, &b, PFL_ERR_AUTH);
	pfl_buf_fini(&b);
	assert_served(a, other);
	/* and a refused key leaves no replay state behind */
	assert_int_equal(pfl_replay_count(a->replay), 1);
	pfl_aggregator_free(a);
	pfl_identity_free(bad);
	pfl_identity_free(other);
}

/* Item 10: a malformed revocation list fails the start, as with an
 * allow-list, rather than silently revoking nobody. */
static void
test_bad_revocation_list_refused(void **state)
{
	struct pfl_agg_config cfg;
	struct pfl_aggregator *a = NULL;
	char err[PFL_CFG_ERRLEN], path[96], out[96];
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/revoked.txt", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs("pfl-ed25519 not-base64\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(pfl_agg_config_init(&cfg, err, sizeof(err)), PFL_OK);
	set(&cfg, "federation_id", FED);
	set(&cfg, "revoked_keys", path);
	set(&cfg, "out_dir", out);
	set(&cfg, "model", "logreg");
	set(&cfg, "test_data", "none");
	assert_int_not_equal(pfl_aggregator_new(&cfg, &a), PFL_OK);
	assert_null(a);
	pfl_agg_config_fini(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_stranger_flood, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_enrolled_flood, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_future_skew, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_revoked_under_open_enrollment, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_bad_revocation_list_refused, setup, teardown),
	};
	pfl_log_set_level(PFL_LOG_ERROR);
	return cmocka_run_group_tests_name("agg_admission", tests, NULL, NULL);
}
