/* CSV preprocessing statistics files: pfl_csv_prep_save / _load. */
#include <stdio.h>

#include "csv_int.h"
#include "privfl/buf.h"
#include "privfl/file.h"

static const char *const missing_names[] = {"error", "drop", "mean", "median",
                                            "mode"};
_Static_assert(sizeof(missing_names) / sizeof(missing_names[0]) ==
                       PFL_CSV_MISSING_MODE + 1,
               "missing_names");
static const char *const kind_names[] = {"numeric", "categorical", "label"};

#define STATS_HEADER "column,kind,missing,fill,shift,mul,category\n"

/* s as one CSV field: quoted when it holds a comma, quote or space. */
static pfl_err
put_field(struct pfl_buf *b, const char *s)
{
	pfl_err rc;

	if (strpbrk(s, ",\"\r\n \t") == NULL)
		return pfl_buf_append(b, s, strlen(s));
	rc = pfl_buf_append(b, "\"", 1);
	for (; rc == PFL_OK && *s != '\0'; s++)
		rc = *s == '"' ? pfl_buf_append(b, "\"\"", 2)
		               : pfl_buf_append(b, s, 1);
	return rc == PFL_OK ? pfl_buf_append(b, "\"", 1) : rc;
}

static pfl_err
put_row(struct pfl_buf *b, const struct pfl_csv_prep *p, const struct col *c,
        const char *cat)
{
	pfl_err rc = put_field(b, c->name);

	if (rc == PFL_OK)
		rc = pfl_buf_printf(b, ",%s,%s,", kind_names[c->kind],
		                    missing_names[p->missing]);
	if (rc == PFL_OK && c->kind == COL_NUM)
		rc = pfl_buf_printf(b, "%.17g,%.17g,%.17g,", c->fill, c->shift,
		                    c->mul);
	else if (rc == PFL_OK) {
		if (c->kind == COL_CAT && c->ncats > 0)
			rc = put_field(b, c->cats[c->mode]);
		if (rc == PFL_OK)
			rc = pfl_buf_append(b, ",,,", 3);
	}
	if (rc == PFL_OK && cat != NULL)
		rc = put_field(b, cat);
	return rc == PFL_OK ? pfl_buf_append(b, "\n", 1) : rc;
}

pfl_err
pfl_csv_prep_save(const struct pfl_csv_prep *p, const char *path)
{
	struct pfl_buf b;
	pfl_err rc;

	if (p == NULL || path == NULL)
		return PFL_ERR_INVAL;
	pfl_buf_init(&b, 0);
	rc = pfl_buf_append(&b, STATS_HEADER, strlen(STATS_HEADER));
	for (size_t i = 0; rc == PFL_OK && i < p->ncols; i++) {
		const struct col *c = &p->cols[i];
		if (c->kind == COL_NUM || c->ncats == 0)
			rc = put_row(&b, p, c, NULL);
		for (size_t k = 0;
		     rc == PFL_OK && c->kind != COL_NUM && k < c->ncats; k++)
			rc = put_row(&b, p, c, c->cats[k]);
	}
	if (rc == PFL_OK)
		rc = pfl_file_write_atomic(path, b.data, b.len, 0644);
	pfl_buf_fini(&b);
	return rc;
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

enum { ST_COLUMN, ST_KIND, ST_MISSING, ST_FILL, ST_SHIFT, ST_MUL, ST_CAT };

/* Append category s to c (the strings are copied). */
static pfl_err
add_category(struct col *c, const char *s)
{
	char **nc;

	if (c->ncats >= PFL_CSV_MAX_CATEGORY)
		return PFL_ERR_TOOBIG;
	if ((nc = realloc(c->cats, (c->ncats + 1) * sizeof(char *))) == NULL)
		return PFL_ERR_NOMEM;
	c->cats = nc;
	if ((c->cats[c->ncats] = strdup(s)) == NULL)
		return PFL_ERR_NOMEM;
	c->ncats++;
	return PFL_OK;
}

/* Start a new column from stats row r, or fail naming the line. */
static pfl_err
stats_new_col(struct pfl_csv_prep *p, const struct table *t, size_t r,
              const char *name, char *err, size_t errlen)
{
	struct col *c;
	int kind = name_index(kind_names, 3, pfli_csv_cell(t, r, ST_KIND));
	int miss =
	        name_index(missing_names, 5, pfli_csv_cell(t, r, ST_MISSING));

	for (size_t i = 0; i < p->ncols; i++)
		if (strcmp(p->cols[i].name, pfli_csv_cell(t, r, ST_COLUMN)) ==
		    0) {
			pfli_csv_seterr(err, errlen,
			                "%s:%zu: column '%.64s' appears twice",
			                name, t->line[r],
			                pfli_csv_cell(t, r, ST_COLUMN));
			return PFL_ERR_FORMAT;
		}
	if (kind < 0 || miss < 0) {
		pfli_csv_seterr(
		        err, errlen,
		        "%s:%zu: kind must be numeric, categorical or label, "
		        "missing one of error, drop, mean, median, mode",
		        name, t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (p->ncols > 0 && (enum pfl_csv_missing)miss != p->missing) {
		pfli_csv_seterr(err, errlen,
		                "%s:%zu: missing differs from line 2", name,
		                t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (kind == COL_LABEL && p->label >= 0) {
		pfli_csv_seterr(err, errlen, "%s:%zu: a second label column",
		                name, t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (p->ncols >= PFL_CSV_MAX_COLUMNS)
		return PFL_ERR_TOOBIG;
	c = &p->cols[p->ncols];
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(pfli_csv_cell(t, r, ST_COLUMN))) == NULL)
		return PFL_ERR_NOMEM;
	p->ncols++;
	c->kind = (enum col_kind)kind;
	p->missing = (enum pfl_csv_missing)miss;
	if (kind == COL_LABEL)
		p->label = (int)(p->ncols - 1);
	if (kind == COL_NUM &&
	    (!pfli_csv_parse_num(pfli_csv_cell(t, r, ST_FILL), &c->fill) ||
	     !pfli_csv_parse_num(pfli_csv_cell(t, r, ST_SHIFT), &c->shift) ||
	     !pfli_csv_parse_num(pfli_csv_cell(t, r, ST_MUL), &c->mul))) {
		pfli_csv_seterr(
		        err, errlen,
		        "%s:%zu: column '%.64s': fill, shift and mul must be "
		        "numbers",
		        name, t->line[r], c->name);
		return PFL_ERR_FORMAT;
	}
	return PFL_OK;
}

/* Add stats row r's category to column c (sorted, for categorical). */
static pfl_err
stats_add_cat(struct col *c, const struct table *t, size_t r, const char *name,
              char *err, size_t errlen)
{
	const char *s = pfli_csv_cell(t, r, ST_CAT);
	pfl_err rc;

	if (c->kind == COL_NUM || pfli_csv_is_missing(s)) {
		if (c->kind == COL_NUM && s[0] == '\0')
			return PFL_OK;
		if (c->kind != COL_NUM && s[0] == '\0' && c->ncats == 0)
			return PFL_OK;
		pfli_csv_seterr(err, errlen,
		                "%s:%zu: column '%.64s': bad category", name,
		                t->line[r], c->name);
		return PFL_ERR_FORMAT;
	}
	for (size_t k = c->kind == COL_CAT && c->ncats > 0 ? c->ncats - 1 : 0;
	     k < c->ncats; k++)
		if (strcmp(c->cats[k], s) == 0 ||
		    (c->kind == COL_CAT && strcmp(c->cats[k], s) > 0)) {
			pfli_csv_seterr(
			        err, errlen,
			        "%s:%zu: column '%.64s': categories must be "
			        "distinct%s",
			        name, t->line[r], c->name,
			        c->kind == COL_CAT ? " and sorted" : "");
			return PFL_ERR_FORMAT;
		}
	if ((rc = add_category(c, s)) != PFL_OK)
		return rc;
	if (c->kind == COL_CAT && strcmp(pfli_csv_cell(t, r, ST_FILL), s) == 0)
		c->mode = c->ncats - 1;
	return PFL_OK;
}

/* Offsets, dimension and the checks a fitted prep passes. */
static pfl_err
stats_finish(struct pfl_csv_prep *p, const char *name, char *err, size_t errlen)
{
	if (p->label < 0 || p->cols[p->label].ncats < 2) {
		pfli_csv_seterr(err, errlen,
		                "%s: no label column with 2 or more classes",
		                name);
		return PFL_ERR_FORMAT;
	}
	p->dim = 0;
	for (size_t i = 0; i < p->ncols; i++) {
		p->cols[i].off = p->dim;
		if (p->cols[i].kind == COL_NUM)
			p->dim++;
		else if (p->cols[i].kind == COL_CAT)
			p->dim += p->cols[i].ncats;
	}
	if (p->dim == 0 || p->dim > PFL_IDX_MAX_DIM) {
		pfli_csv_seterr(err, errlen, "%s: %zu features", name, p->dim);
		return PFL_ERR_FORMAT;
	}
	return PFL_OK;
}

pfl_err
pfl_csv_prep_load_buf(const char *name, const char *text, size_t len,
                      struct pfl_csv_prep **out, char *err, size_t errlen)
{
	struct pfl_csv_prep *p = NULL;
	struct table t;
	pfl_err rc;

	if (name == NULL || text == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_tokenize(name, text, len, &t, err, errlen)) !=
	    PFL_OK)
		return rc;
	rc = PFL_ERR_FORMAT;
	if (t.ncols != ST_CAT + 1 || len < strlen(STATS_HEADER) ||
	    memcmp(text, STATS_HEADER, strlen(STATS_HEADER) - 1) != 0) {
		pfli_csv_seterr(err, errlen,
		                "%s:1: not a privfl CSV statistics file "
		                "(privfl data stats)",
		                name);
		goto out;
	}
	rc = PFL_ERR_NOMEM;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->cols = calloc(t.nrows + 1, sizeof(struct col))) == NULL)
		goto out;
	p->label = -1;
	rc = PFL_OK;
	for (size_t r = 0; rc == PFL_OK && r < t.nrows; r++) {
		if (p->ncols == 0 ||
		    strcmp(p->cols[p->ncols - 1].name,
		           pfli_csv_cell(&t, r, ST_COLUMN)) != 0)
			rc = stats_new_col(p, &t, r, name, err, errlen);
		if (rc == PFL_OK)
			rc = stats_add_cat(&p->cols[p->ncols - 1], &t, r, name,
			                   err, errlen);
	}
	if (rc == PFL_OK)
		rc = stats_finish(p, name, err, errlen);
out:
	pfli_csv_table_fini(&t);
	if (rc != PFL_OK) {
		if (rc == PFL_ERR_TOOBIG)
			pfli_csv_seterr(err, errlen,
			                "%s: too many columns or categories",
			                name);
		pfl_csv_prep_free(p);
		return rc;
	}
	*out = p;
	return PFL_OK;
}

pfl_err
pfl_csv_prep_load(const char *path, struct pfl_csv_prep **out, char *err,
                  size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	pfl_err rc;

	if (path == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_read_text(path, &buf, &len, err, errlen)) != PFL_OK)
		return rc;
	rc = pfl_csv_prep_load_buf(path, (const char *)buf, len, out, err,
	                           errlen);
	free(buf);
	return rc;
}

const char *
pfl_csv_prep_label(const struct pfl_csv_prep *p)
{
	return p->cols[p->label].name;
}

pfl_err
pfl_csv_load_prepared(const char *stats_path, const char *label,
                      const char *data_path, struct pfl_dataset *out, char *err,
                      size_t errlen)
{
	struct pfl_csv_prep *p = NULL;
	pfl_err rc;

	if (stats_path == NULL || data_path == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfl_csv_prep_load(stats_path, &p, err, errlen)) != PFL_OK)
		return rc;
	if (label != NULL && *label != '\0' &&
	    strcmp(label, pfl_csv_prep_label(p)) != 0) {
		pfli_csv_seterr(err, errlen,
		                "%s: the label column is '%.64s', not '%.64s'",
		                stats_path, pfl_csv_prep_label(p), label);
		rc = PFL_ERR_INVAL;
	} else {
		rc = pfl_csv_apply(p, data_path, out, err, errlen);
	}
	pfl_csv_prep_free(p);
	return rc;
}
