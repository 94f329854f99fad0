/*
 * privfl — tabular data from CSV files.
 *
 * The first row names the columns; one of them is the label. Every other
 * column is numeric when all its non-missing training values are finite
 * numbers, and categorical otherwise (or when listed in opts.categorical).
 * Preprocessing is fitted on the training file only and then applied,
 * unchanged, to the training and test files:
 *   missing values ("", "NA", "?"): error, drop the row, or impute
 *     (numeric: mean, median or mode; categorical: always the mode);
 *   numeric columns: standardized ((x - mean) / std, population std) or
 *     min-max scaled to [0,1] (a constant column maps to 0), or left as is;
 *   categorical columns: one-hot, categories sorted; a category not seen in
 *     training encodes as all zeros.
 * Labels are the distinct training values, sorted (numerically when all are
 * numbers); an unknown label in a later file is an error. Fields may be
 * double-quoted ("" escapes a quote). Features are laid out column by
 * column in file order; the dataset shape is (1, 1, dim).
 *
 * Errors name the file and line ("data.csv:17: ...") in the caller's err
 * buffer. Thread-safety: a fitted pfl_csv_prep is read-only after fitting
 * and may be shared.
 */
#ifndef PRIVFL_CSV_H
#define PRIVFL_CSV_H

#include <stddef.h>

#include "privfl/dataset.h"
#include "privfl/err.h"

enum pfl_csv_missing {
	PFL_CSV_MISSING_ERROR,
	PFL_CSV_MISSING_DROP,
	PFL_CSV_MISSING_MEAN,
	PFL_CSV_MISSING_MEDIAN,
	PFL_CSV_MISSING_MODE,
};

enum pfl_csv_scale {
	PFL_CSV_SCALE_NONE,
	PFL_CSV_SCALE_STANDARD,
	PFL_CSV_SCALE_MINMAX,
};

struct pfl_csv_opts {
	const char *label; /* label column name (required) */
	enum pfl_csv_missing missing;
	enum pfl_csv_scale scale;
	const char *categorical; /* comma-separated names, or NULL */
};

#define PFL_CSV_ERRLEN       256
#define PFL_CSV_MAX_COLUMNS  4096
#define PFL_CSV_MAX_CATEGORY 4096 /* distinct values of one column */
#define PFL_CSV_MAX_BYTES    ((size_t)1 << 30)

struct pfl_csv_prep;

/*
 * Fit preprocessing on the CSV text[0..len) (name is used in messages).
 * Returns PFL_OK, PFL_ERR_FORMAT (malformed file: err says where),
 * PFL_ERR_INVAL (bad options, e.g. no such label column), PFL_ERR_TOOBIG
 * or PFL_ERR_NOMEM. On success the caller frees *out with
 * pfl_csv_prep_free. err may be NULL.
 */
pfl_err pfl_csv_fit_buf(const char *name, const char *text, size_t len,
                        const struct pfl_csv_opts *opts,
                        struct pfl_csv_prep **out, char *err,
                        size_t errlen) PFL_WUR;
/*
 * Apply fitted preprocessing to CSV text (same header as the training
 * file) giving a dataset owned by the caller (pfl_dataset_fini). Return
 * codes as pfl_csv_fit_buf; *out is written only on success.
 */
pfl_err pfl_csv_apply_buf(const struct pfl_csv_prep *prep, const char *name,
                          const char *text, size_t len, struct pfl_dataset *out,
                          char *err, size_t errlen) PFL_WUR;
/* The same on files (PFL_ERR_NOTFOUND / PFL_ERR_IO when unreadable). */
pfl_err pfl_csv_fit(const char *path, const struct pfl_csv_opts *opts,
                    struct pfl_csv_prep **out, char *err,
                    size_t errlen) PFL_WUR;
pfl_err pfl_csv_apply(const struct pfl_csv_prep *prep, const char *path,
                      struct pfl_dataset *out, char *err,
                      size_t errlen) PFL_WUR;
/*
 * Fit on train_path, then load both files. On failure neither dataset is
 * written.
 */
pfl_err pfl_csv_load(const char *train_path, const char *test_path,
                     const struct pfl_csv_opts *opts, struct pfl_dataset *train,
                     struct pfl_dataset *test, char *err,
                     size_t errlen) PFL_WUR;
/*
 * Preprocessing statistics files. Every device of a federation must encode
 * its CSV rows identically (same columns, categories, classes, imputation
 * and scaling), so the statistics are fitted once, on a reference sample
 * (`privfl data stats`), saved, and given to every client and to the
 * aggregator's test set. (Computing them under secure aggregation, as a
 * federated statistics round, is not built yet.)
 *
 * The file is itself a CSV, header "column,kind,missing,fill,shift,mul,
 * category", one row per numeric column and one per category of a
 * categorical or label column, in the data's column order:
 *   kind     numeric, categorical or label;
 *   missing  the missing-value rule (the same on every row);
 *   fill     the value that replaces a missing cell (numeric: a number;
 *            categorical: one of its categories);
 *   shift, mul  numeric scaling x' = (x - shift) * mul;
 *   category one category (categorical: sorted, strcmp order; label: in
 *            class-index order).
 * Numbers are written with 17 significant digits, so a saved and loaded
 * prep encodes bit-identically to the fitted one.
 *
 * pfl_csv_prep_save writes p to path atomically: PFL_OK, PFL_ERR_INVAL,
 * PFL_ERR_NOMEM, PFL_ERR_IO.
 */
pfl_err pfl_csv_prep_save(const struct pfl_csv_prep *p,
                          const char *path) PFL_WUR;
/*
 * Read a statistics file (text[0..len), name for messages). Returns
 * PFL_OK, PFL_ERR_FORMAT (err names file and line), PFL_ERR_TOOBIG,
 * PFL_ERR_NOMEM; from a path also PFL_ERR_NOTFOUND / PFL_ERR_IO. On
 * success the caller frees *out with pfl_csv_prep_free.
 */
pfl_err pfl_csv_prep_load_buf(const char *name, const char *text, size_t len,
                              struct pfl_csv_prep **out, char *err,
                              size_t errlen) PFL_WUR;
pfl_err pfl_csv_prep_load(const char *path, struct pfl_csv_prep **out,
                          char *err, size_t errlen) PFL_WUR;
/*
 * Load data_path with the statistics of stats_path. label, when not NULL
 * or empty, must be the statistics' label column (else PFL_ERR_INVAL).
 * Errors as pfl_csv_prep_load and pfl_csv_apply, with err naming the file,
 * line and column; *out is written only on success.
 */
pfl_err pfl_csv_load_prepared(const char *stats_path, const char *label,
                              const char *data_path, struct pfl_dataset *out,
                              char *err, size_t errlen) PFL_WUR;
/* The label column's name (borrowed from p). */
const char *pfl_csv_prep_label(const struct pfl_csv_prep *p);
/* Features per sample and number of classes of a fitted prep. */
size_t pfl_csv_prep_dim(const struct pfl_csv_prep *prep);
int pfl_csv_prep_classes(const struct pfl_csv_prep *prep);
/* Free a prep; accepts NULL. */
void pfl_csv_prep_free(struct pfl_csv_prep *prep);

#endif
