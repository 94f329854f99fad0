/*
 * The audit log: lines written by the aggregator's own append path form a
 * chain that pfl_audit_verify_* accepts; a modified, removed, inserted or
 * reordered line is detected; a torn last line is repaired on open; a
 * broken chain makes the aggregator refuse to start.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../aggregator/src/agg_int.h"
#include "privfl/audit.h"
#include "privfl/hash.h"

struct fx {
	char dir[64];
	char path[128];
	struct pfl_aggregator a; /* only the fields audit.c uses */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pfl-audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
	f->a.cfg.out_dir = f->dir;
	f->a.cfg.federation_id = "fed \"one\"\n\\";
	f->a.cfg.dp_mode = PFL_DP_CENTRAL;
	f->a.cfg.delta = 1e-5;
	f->a.round.q = 0.25;
	pthread_mutex_init(&f->a.mtx, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pfli_audit_close(&f->a);
	unlink(f->path);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->a.mtx);
	free(f);
	return 0;
}

/* Append rounds first..last through format + append, as finish.c does. */
static void
write_rounds(struct fx *f, uint64_t first, uint64_t last)
{
	uint8_t keys[3][32];
	struct pfl_round_report rep;
	struct pfl_buf line;

	assert_int_equal(pfli_audit_open(&f->a), PFL_OK);
	for (uint64_t r = first; r <= last; r++) {
		memset(&rep, 0, sizeof(rep));
		rep.round = r;
		rep.epsilon = 0.1 * (double)r;
		rep.noise_sigma = 1.1;
		rep.clip_norm = 1.0;
		rep.accuracy = NAN;
		for (int k = 0; k < 3; k++)
			memset(keys[k], (int)(r * 3 + (uint64_t)k), 32);
		memset(f->a.model_hash, (int)r, 32);
		pfl_buf_init(&line, 0);
		assert_int_equal(
		        pfli_audit_format(&f->a, &rep,
		                          (const uint8_t(*)[32])keys, 3,
		                          (const uint8_t(*)[32])keys, 2, &line),
		        PFL_OK);
		assert_int_equal(
		        pfl_json_check((const char *)line.data, line.len),
		        PFL_OK);
		assert_int_equal(pfli_audit_append(&f->a,
		                                   (const char *)line.data,
		                                   line.len),
		                 PFL_OK);
		assert_int_equal(f->a.audit_last_round, r);
		pfl_buf_fini(&line);
	}
	pfli_audit_close(&f->a);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
spit(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* Split into at most 16 lines (pointers into buf, '\n' kept). */
static size_t
lines_of(char *buf, char *line[16], size_t len[16])
{
	size_t n = 0;
	char *p = buf;

	while (*p != '\0' && n < 16) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		line[n] = p;
		len[n++] = (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	return n;
}

static pfl_err
verify_lines(char *const line[], const size_t len[], const int *order, size_t n,
             struct pfl_audit_error *e)
{
	char buf[16384];
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		memcpy(buf + off, line[order[i]], len[order[i]]);
		off += len[order[i]];
	}
	memset(e, 0, sizeof(*e));
	return pfl_audit_verify_mem((const uint8_t *)buf, off, NULL, e);
}

static void
test_valid_chain(void **state)
{
	struct fx *f = *state;
	struct pfl_audit_summary sum;
	uint8_t h[32];
	size_t len;
	char *buf;

	write_rounds(f, 1, 5);
	assert_int_equal(pfl_audit_verify_file(f->path, &sum, NULL), PFL_OK);
	assert_int_equal(sum.lines, 5);
	assert_int_equal(sum.last_round, 5);
	assert_int_equal(sum.reruns, 0);
	buf = slurp(f->path, &len);
	/* the head is the hash of the last line without its newline */
	{
		char *last = buf + len - 2;
		while (last > buf && last[-1] != '\n')
			last--;
		pfl_hash(last, (size_t)(buf + len - 1 - last), h);
		assert_memory_equal(h, sum.last_hash, 32);
	}
	/* the first line chains to zeros, and the fields are there */
	assert_non_null(strstr(buf, "\"prev\":\"000000000000"));
	assert_non_null(
	        strstr(buf, "\"federation\":\"fed \\\"one\\\"\\u000a\\\\\""));
	assert_non_null(strstr(buf, "\"dp\":\"central\""));
	assert_non_null(strstr(buf, "\"sample_rate\":0.25"));
	assert_non_null(strstr(buf, "\"model_blake2b\":\"0505050505"));
	/* reopening continues the chain */
	write_rounds(f, 6, 7);
	assert_int_equal(pfl_audit_verify_file(f->path, &sum, NULL), PFL_OK);
	assert_int_equal(sum.lines, 7);
	assert_int_equal(sum.last_round, 7);
	free(buf);
}

static void
test_modified_line(void **state)
{
	struct fx *f = *state;
	static const int order[] = {0, 1, 2, 3, 4};
	struct pfl_audit_error e;
	char *line[16], *buf, *p;
	size_t len[16], n, total;

	write_rounds(f, 1, 5);
	buf = slurp(f->path, &total);
	n = lines_of(buf, line, len);
	assert_int_equal(n, 5);
	assert_int_equal(verify_lines(line, len, order, n, &e), PFL_OK);
	/* change epsilon of round 2: "epsilon":0.2 -> "epsilon":0.1 */
	p = strstr(line[1], "\"epsilon\":0.2");
	assert_non_null(p);
	p[12] = '1';
	assert_int_equal(verify_lines(line, len, order, n, &e), PFL_ERR_FORMAT);
	assert_int_equal(e.line, 3);
	assert_non_null(strstr(e.why, "hash of line 2"));
	/* a modified line that is no longer JSON is caught at that line */
	p[12] = '2';
	p[0] = '\'';
	assert_int_equal(verify_lines(line, len, order, n, &e), PFL_ERR_FORMAT);
	assert_int_equal(e.line, 2);
	p[0] = '"';
	assert_int_equal(verify_lines(line, len, order, n, &e), PFL_OK);
	free(buf);
}

static void
test_removed_and_reordered(void **state)
{
	struct fx *f = *state;
	static const int removed_mid[] = {0, 1, 3, 4};
	static const int removed_first[] = {1, 2, 3, 4};
	static const int swapped[] = {0, 2, 1, 3, 4};
	static const int duplicated[] = {0, 1, 1, 2, 3, 4};
	struct pfl_audit_error e;
	char *line[16], *buf;
	size_t len[16], total;

	write_rounds(f, 1, 5);
	buf = slurp(f->path, &total);
	assert_int_equal(lines_of(buf, line, len), 5);
	assert_int_equal(verify_lines(line, len, removed_mid, 4, &e),
	                 PFL_ERR_FORMAT);
	assert_int_equal(e.line, 3);
	assert_int_equal(verify_lines(line, len, removed_first, 4, &e),
	                 PFL_ERR_FORMAT);
	assert_int_equal(e.line, 1);
	assert_int_equal(verify_lines(line, len, swapped, 5, &e),
	                 PFL_ERR_FORMAT);
	assert_int_equal(e.line, 2);
	assert_int_equal(verify_lines(line, len, duplicated, 6, &e),
	                 PFL_ERR_FORMAT);
	assert_int_equal(e.line, 3);
	free(buf);
}

/* Without an anchor, only the head hash reveals a cut-off tail. */
static void
test_truncated_tail_changes_head(void **state)
{
	struct fx *f = *state;
	struct pfl_audit_summary full, cut;
	char *line[16], *buf;
	size_t len[16], total;

	write_rounds(f, 1, 4);
	buf = slurp(f->path, &total);
	assert_int_equal(lines_of(buf, line, len), 4);
	assert_int_equal(
	        pfl_audit_verify_mem((const uint8_t *)buf, total, &full, NULL),
	        PFL_OK);
	assert_int_equal(pfl_audit_verify_mem((const uint8_t *)buf,
	                                      total - len[3], &cut, NULL),
	                 PFL_OK);
	assert_int_equal(cut.lines, 3);
	assert_memory_not_equal(full.last_hash, cut.last_hash, 32);
	free(buf);
}

static void
test_torn_line_repaired_on_open(void **state)
{
	struct fx *f = *state;
	struct pfl_audit_summary sum;
	struct pfl_audit_error e;
	char *buf;
	size_t total;

	write_rounds(f, 1, 3);
	buf = slurp(f->path, &total);
	/* a crash in the middle of writing line 4 */
	{
		FILE *fp = fopen(f->path, "ab");
		assert_non_null(fp);
		fputs("{\"round\":4,\"ti", fp);
		fclose(fp);
	}
	memset(&e, 0, sizeof(e));
	assert_int_equal(pfl_audit_verify_file(f->path, &sum, &e),
	                 PFL_ERR_FORMAT);
	assert_int_equal(e.line, 4);
	assert_true(e.torn);
	assert_int_equal(pfli_audit_open(&f->a), PFL_OK);
	assert_int_equal(f->a.audit_last_round, 3);
	pfli_audit_close(&f->a);
	write_rounds(f, 4, 4);
	assert_int_equal(pfl_audit_verify_file(f->path, &sum, NULL), PFL_OK);
	assert_int_equal(sum.lines, 4);
	free(buf);
}

static void
test_broken_chain_refuses_open(void **state)
{
	struct fx *f = *state;
	char *buf, *p;
	size_t total;

	write_rounds(f, 1, 3);
	buf = slurp(f->path, &total);
	p = strstr(buf, "\"round\":2");
	assert_non_null(p);
	p[8] = '9';
	spit(f->path, buf, total);
	assert_int_equal(pfli_audit_open(&f->a), PFL_ERR_FORMAT);
	assert_null(f->a.audit);
	free(buf);
}

static void
test_append_refuses_bad_lines(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	        "",
	        "{}",
	        "[1]",
	        "{\"round\":0}",
	        "{\"round\":-1}",
	        "{\"round\":1",
	        "{\"round\":1,\"prev\":\"00\"}",
	        "{\"round\":1}\n{\"round\":2}",
	        "{\"round\":01}",
	        "{\"round\":1,}",
	        "{\"round\":1} x",
	};
	struct pfl_audit_summary sum;

	assert_int_equal(pfli_audit_open(&f->a), PFL_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		        pfli_audit_append(&f->a, bad[i], strlen(bad[i])),
		        PFL_ERR_INVAL);
	assert_int_equal(pfli_audit_append(&f->a, "{\"round\":1}", 11), PFL_OK);
	assert_int_equal(pfli_audit_append(&f->a, "{ \"round\" : 2 }", 15),
	                 PFL_OK);
	pfli_audit_close(&f->a);
	assert_int_equal(pfli_audit_append(&f->a, "{\"round\":3}", 11),
	                 PFL_ERR_STATE);
	assert_int_equal(pfl_audit_verify_file(f->path, &sum, NULL), PFL_OK);
	assert_int_equal(sum.lines, 2);
	assert_int_equal(sum.last_round, 2);
}

static void
test_json_check(void **state)
{
	static const char *const good[] = {
	        "{}",
	        "[]",
	        "0",
	        "-0.5e+3",
	        "\"a\\u00e9\\n\"",
	        "{\"a\":[1,2,{\"b\":null}],\"c\":true}",
	        " [ false ] "};
	static const char *const bad[] = {
	        "",          "{",   "[1,]",    "01", "1.",     "\"\\x\"", "\"a",
	        "{\"a\" 1}", "nul", "[1] [2]", "+1", "\"\t\"", "{1:2}"};
	char deep[200];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(pfl_json_check(good[i], strlen(good[i])),
		                 PFL_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pfl_json_check(bad[i], strlen(bad[i])),
		                 PFL_ERR_FORMAT);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(pfl_json_check(deep, 200), PFL_ERR_FORMAT);
	assert_int_equal(pfl_json_check(deep + 40, 120), PFL_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_valid_chain, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_modified_line, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_removed_and_reordered,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_truncated_tail_changes_head, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_torn_line_repaired_on_open,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_broken_chain_refuses_open,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_append_refuses_bad_lines,
	                                        setup, teardown),
	        cmocka_unit_test(test_json_check),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
