/*
 * Internal to model/: the CSV reader's shared types and helpers. csv.c
 * fits and applies preprocessing, csv_table.c tokenizes files,
 * csv_stats.c reads and writes statistics files (privfl data stats).
 */
#ifndef PFL_MODEL_CSV_INT_H
#define PFL_MODEL_CSV_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/csv.h"

enum col_kind { COL_NUM, COL_CAT, COL_LABEL };

struct col {
	char *name;
	enum col_kind kind;
	double fill;       /* numeric imputation value */
	double shift, mul; /* x' = (x - shift) * mul */
	char **cats;       /* sorted categories (COL_CAT, COL_LABEL) */
	size_t ncats;
	size_t mode; /* category index used for imputation */
	size_t off;  /* first feature index */
};

struct pfl_csv_prep {
	size_t ncols, dim;
	int label;
	enum pfl_csv_missing missing;
	struct col *cols;
};

/* A tokenized file: fields are NUL-terminated strings inside text. */
struct table {
	char *text;
	size_t ncols, nrows; /* data rows (header excluded) */
	char **f;            /* (nrows + 1) * ncols fields, header first */
	size_t *line;        /* line of each data row */
};

void pfli_csv_seterr(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void pfli_csv_table_fini(struct table *t);
/* Split text into rows of fields; every row must have the header's count. */
pfl_err pfli_csv_tokenize(const char *name, const char *text, size_t len,
                          struct table *t, char *err, size_t errlen);
/* Read a whole file (at most PFL_CSV_MAX_BYTES), naming it in err. */
pfl_err pfli_csv_read_text(const char *path, uint8_t **buf, size_t *len,
                           char *err, size_t errlen);

static inline const char *
pfli_csv_cell(const struct table *t, size_t row, size_t col)
{
	return t->f[(row + 1) * t->ncols + col];
}

static inline bool
pfli_csv_is_missing(const char *s)
{
	return s[0] == '\0' || strcmp(s, "NA") == 0 || strcmp(s, "?") == 0;
}

static inline bool
pfli_csv_parse_num(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*v);
}

#endif
