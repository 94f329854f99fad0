/*
 * CSV preprocessing statistics files (privfl/csv.h): a saved and loaded
 * prep encodes exactly like the fitted one; malformed statistics and data
 * give errors that name the file, line and column.
 */
/* cmocka needs these first, in this order */
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
#include <unistd.h>

#include "privfl/csv.h"
#include "privfl/file.h"

static char tmpdir[256];

static const char train[] = "a,color,\"b c\",y\n"
                            "1.5,red,2,p\n"
                            "2,\"bl,ue\",NA,n\n"
                            "3,red,4,p\n"
                            ",green,5,n\n"
                            "0.1,red,7,q\n";

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_csv_stats.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void
write_text(const char *name, const char *text)
{
	char p[300];

	path_of(p, sizeof(p), name);
	assert_int_equal(pfl_file_write_atomic(p, text, strlen(text), 0644),
	                 PFL_OK);
}

static void
test_roundtrip_bit_identical(void **state)
{
	struct pfl_csv_opts o = {.label = "y",
	                         .missing = PFL_CSV_MISSING_MEDIAN,
	                         .scale = PFL_CSV_SCALE_STANDARD};
	struct pfl_csv_prep *fit = NULL, *back = NULL;
	struct pfl_dataset a, b;
	char p[300], err[PFL_CSV_ERRLEN] = "";

	(void)state;
	path_of(p, sizeof(p), "stats.csv");
	assert_int_equal(pfl_csv_fit_buf("t.csv", train, strlen(train), &o,
	                                 &fit, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_csv_prep_save(fit, p), PFL_OK);
	assert_int_equal(pfl_csv_prep_load(p, &back, err, sizeof(err)), PFL_OK);
	assert_int_equal(pfl_csv_prep_dim(back), pfl_csv_prep_dim(fit));
	assert_int_equal(pfl_csv_prep_classes(back), 3);
	assert_string_equal(pfl_csv_prep_label(back), "y");
	assert_int_equal(pfl_csv_apply_buf(fit, "t.csv", train, strlen(train),
	                                   &a, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_csv_apply_buf(back, "t.csv", train, strlen(train),
	                                   &b, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(a.n, 5);
	assert_int_equal(b.n, a.n);
	assert_int_equal(b.dim, a.dim);
	assert_memory_equal(a.x, b.x, a.n * a.dim * sizeof(float));
	assert_memory_equal(a.y, b.y, a.n * sizeof(int32_t));
	pfl_dataset_fini(&a);
	pfl_dataset_fini(&b);
	pfl_csv_prep_free(fit);
	pfl_csv_prep_free(back);
}

static void
expect_load_error(const char *text, const char *msg)
{
	struct pfl_csv_prep *p = NULL;
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rc = pfl_csv_prep_load_buf("s.csv", text, strlen(text), &p, err,
	                                   sizeof(err));

	assert_int_not_equal(rc, PFL_OK);
	assert_null(p);
	if (strstr(err, msg) == NULL)
		fail_msg("'%s' does not say '%s'", err, msg);
}

static void
test_bad_stats(void **state)
{
	(void)state;
	expect_load_error("a,b,y\n1,2,p\n", "s.csv:1: not a privfl CSV");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "a,numbr,mean,0,0,1,\n",
	                  "s.csv:2: kind must be");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "a,numeric,mean,x,0,1,\n",
	                  "s.csv:2: column 'a': fill, shift and mul");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "a,numeric,mean,0,0,1,\n"
	                  "y,label,mean,,,,p\n",
	                  "no label column with 2 or more classes");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "c,categorical,mean,b,,,b\n"
	                  "c,categorical,mean,b,,,a\n",
	                  "s.csv:3: column 'c': categories must be distinct "
	                  "and sorted");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "a,numeric,mean,0,0,1,\n"
	                  "y,label,drop,,,,p\n",
	                  "s.csv:3: missing differs");
	expect_load_error("column,kind,missing,fill,shift,mul,category\n"
	                  "a,numeric,mean,0,0,1\n",
	                  "s.csv:2: expected 7 fields, got 6");
}

/* Load data through the statistics, expecting an error saying msg. */
static void
expect_data_error(const char *label, const char *data, const char *msg)
{
	struct pfl_dataset ds;
	char sp[300], dp[300], err[PFL_CSV_ERRLEN] = "";
	pfl_err rc;

	path_of(sp, sizeof(sp), "stats.csv");
	write_text("data.csv", data);
	path_of(dp, sizeof(dp), "data.csv");
	memset(&ds, 0, sizeof(ds));
	rc = pfl_csv_load_prepared(sp, label, dp, &ds, err, sizeof(err));
	assert_int_not_equal(rc, PFL_OK);
	assert_null(ds.x);
	if (strstr(err, msg) == NULL)
		fail_msg("'%s' does not say '%s'", err, msg);
}

static void
test_bad_data(void **state)
{
	struct pfl_csv_opts o = {.label = "y",
	                         .missing = PFL_CSV_MISSING_MEAN,
	                         .scale = PFL_CSV_SCALE_MINMAX};
	struct pfl_csv_prep *fit = NULL;
	struct pfl_dataset ds;
	char sp[300], dp[300], err[PFL_CSV_ERRLEN] = "";

	(void)state;
	path_of(sp, sizeof(sp), "stats.csv");
	assert_int_equal(pfl_csv_fit_buf("t.csv", train, strlen(train), &o,
	                                 &fit, err, sizeof(err)),
	                 PFL_OK);
	assert_int_equal(pfl_csv_prep_save(fit, sp), PFL_OK);
	pfl_csv_prep_free(fit);
	/* good data, by label and without */
	write_text("data.csv", "a,color,b c,y\n1,red,2,q\n,blue,,p\n");
	path_of(dp, sizeof(dp), "data.csv");
	assert_int_equal(
	        pfl_csv_load_prepared(sp, "y", dp, &ds, err, sizeof(err)),
	        PFL_OK);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.classes, 3);
	assert_int_equal(ds.y[0], 2);
	pfl_dataset_fini(&ds);
	expect_data_error("species", "a,color,b c,y\n1,red,2,q\n",
	                  "stats.csv: the label column is 'y', not 'species'");
	expect_data_error("", "a,color,b c,y\n1,red,2,q\n3,red,4\n",
	                  "data.csv:3: expected 4 fields, got 3");
	expect_data_error("y", "a,color,b c,y\n1,red,2,q\n1,red,abc,p\n",
	                  "data.csv:3: column 'b c': 'abc' is not a number");
	expect_data_error("y", "a,color,b c,species\n1,red,2,q\n",
	                  "data.csv:1: column 4 is 'species', expected 'y'");
	expect_data_error("y", "a,color,b c,y\n1,red,2,maybe\n",
	                  "data.csv:2: unknown label 'maybe'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_bit_identical),
	        cmocka_unit_test(test_bad_stats),
	        cmocka_unit_test(test_bad_data),
	};

	return cmocka_run_group_tests_name("csv_stats", tests, group_setup,
	                                   group_teardown);
}
