/* CSV reader with fitted preprocessing (see privfl/csv.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_int.h"
#include "privfl/buf.h"
#include "privfl/file.h"

static bool
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (list != NULL && *list != '\0') {
		const char *c = strchr(list, ',');
		size_t l = c ? (size_t)(c - list) : strlen(list);
		if (l == n && strncmp(list, name, n) == 0)
			return true;
		list = c ? c + 1 : NULL;
	}
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_num_str(const void *a, const void *b)
{
	double x = strtod(*(char *const *)a, NULL);
	double y = strtod(*(char *const *)b, NULL);

	return x < y   ? -1
	       : x > y ? 1
	               : strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static bool
row_has_missing(const struct table *t, size_t r)
{
	for (size_t c = 0; c < t->ncols; c++)
		if (pfli_csv_is_missing(pfli_csv_cell(t, r, c)))
			return true;
	return false;
}

static bool
row_is_used(const struct pfl_csv_prep *p, const struct table *t, size_t r)
{
	if (p->missing == PFL_CSV_MISSING_DROP)
		return !row_has_missing(t, r);
	return !pfli_csv_is_missing(pfli_csv_cell(t, r, (size_t)p->label));
}

static size_t
find_cat(const struct col *c, const char *s)
{
	size_t lo = 0, hi = c->ncats;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int k = strcmp(c->cats[mid], s);
		if (k == 0)
			return mid;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/* Distinct values of column ci among used rows (sorted), and the mode. */
static pfl_err
fit_categories(struct pfl_csv_prep *p, const struct table *t, size_t ci,
               const char *name, char *err, size_t errlen)
{
	struct col *c = &p->cols[ci];
	char **vals = malloc((t->nrows + 1) * sizeof(char *));
	size_t n = 0, best = 0, run = 0, bestrun = 0;
	bool numeric = true;
	double d;

	if (vals == NULL)
		return PFL_ERR_NOMEM;
	for (size_t r = 0; r < t->nrows; r++) {
		const char *s = pfli_csv_cell(t, r, ci);
		if (!row_is_used(p, t, r) || pfli_csv_is_missing(s))
			continue;
		vals[n++] = (char *)(uintptr_t)s;
		numeric = numeric && pfli_csv_parse_num(s, &d);
	}
	qsort(vals, n, sizeof(char *), cmp_str);
	c->cats = malloc((n + 1) * sizeof(char *));
	if (c->cats == NULL) {
		free(vals);
		return PFL_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(vals[i], vals[i - 1]) == 0) {
			run++;
		} else {
			run = 1;
			c->cats[c->ncats++] = vals[i];
		}
		if (run > bestrun) {
			bestrun = run;
			best = c->ncats - 1;
		}
	}
	free(vals);
	if (c->ncats > PFL_CSV_MAX_CATEGORY) {
		pfli_csv_seterr(err, errlen,
		                "%s: column '%s' has more than %d distinct "
		                "values",
		                name, c->name, PFL_CSV_MAX_CATEGORY);
		return PFL_ERR_TOOBIG;
	}
	if (c->kind == COL_LABEL && numeric && c->ncats > 0) {
		const char *mode = c->cats[best];
		qsort(c->cats, c->ncats, sizeof(char *), cmp_num_str);
		for (size_t i = 0; i < c->ncats; i++)
			if (c->cats[i] == mode)
				best = i;
	}
	c->mode = best;
	for (size_t i = 0; i < c->ncats; i++) { /* own the strings */
		char *s = strdup(c->cats[i]);
		if (s == NULL) {
			for (size_t k = 0; k < i; k++)
				free(c->cats[k]);
			c->ncats = 0;
			return PFL_ERR_NOMEM;
		}
		c->cats[i] = s;
	}
	return PFL_OK;
}

static pfl_err
fit_numeric(struct pfl_csv_prep *p, const struct table *t, size_t ci,
            enum pfl_csv_scale scale)
{
	struct col *c = &p->cols[ci];
	double *v = malloc((t->nrows + 1) * sizeof(double));
	size_t n = 0, nall = 0;
	double sum = 0.0, mn = INFINITY, mx = -INFINITY, var = 0.0, mean;

	if (v == NULL)
		return PFL_ERR_NOMEM;
	for (size_t r = 0; r < t->nrows; r++) {
		const char *s = pfli_csv_cell(t, r, ci);
		if (!row_is_used(p, t, r))
			continue;
		nall++;
		if (!pfli_csv_is_missing(s) && pfli_csv_parse_num(s, &v[n]))
			sum += v[n++];
	}
	c->fill = 0.0;
	if (n > 0) {
		qsort(v, n, sizeof(double), cmp_double);
		if (p->missing == PFL_CSV_MISSING_MEDIAN)
			c->fill = n % 2 ? v[n / 2]
			                : 0.5 * (v[n / 2 - 1] + v[n / 2]);
		else if (p->missing == PFL_CSV_MISSING_MODE) {
			size_t run = 0, best = 0;
			for (size_t i = 0; i < n; i++) {
				run = i > 0 && v[i] == v[i - 1] ? run + 1 : 1;
				if (run > best) {
					best = run;
					c->fill = v[i];
				}
			}
		} else
			c->fill = sum / (double)n;
	}
	/* scaling statistics over the imputed column */
	for (size_t i = n; i < nall; i++)
		v[i] = c->fill;
	sum = 0.0;
	for (size_t i = 0; i < nall; i++) {
		sum += v[i];
		mn = fmin(mn, v[i]);
		mx = fmax(mx, v[i]);
	}
	mean = nall > 0 ? sum / (double)nall : 0.0;
	for (size_t i = 0; i < nall; i++)
		var += (v[i] - mean) * (v[i] - mean);
	free(v);
	c->shift = 0.0;
	c->mul = 1.0;
	if (nall > 0 && scale == PFL_CSV_SCALE_STANDARD) {
		double sd = sqrt(var / (double)nall);
		c->shift = mean;
		c->mul = sd > 0.0 ? 1.0 / sd : 1.0;
	} else if (nall > 0 && scale == PFL_CSV_SCALE_MINMAX) {
		c->shift = mn;
		c->mul = mx > mn ? 1.0 / (mx - mn) : 1.0;
	}
	return PFL_OK;
}

void
pfl_csv_prep_free(struct pfl_csv_prep *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ncols; i++) {
		free(p->cols[i].name);
		for (size_t k = 0; k < p->cols[i].ncats; k++)
			free(p->cols[i].cats[k]);
		free(p->cols[i].cats);
	}
	free(p->cols);
	free(p);
}

static pfl_err
fit_table(const char *name, const struct table *t, const struct pfl_csv_opts *o,
          struct pfl_csv_prep *p, char *err, size_t errlen)
{
	pfl_err rc;

	p->label = -1;
	for (size_t c = 0; c < t->ncols; c++) {
		p->cols[c].name = strdup(t->f[c]);
		if (p->cols[c].name == NULL)
			return PFL_ERR_NOMEM;
		for (size_t k = 0; k < c; k++)
			if (strcmp(t->f[k], t->f[c]) == 0) {
				pfli_csv_seterr(err, errlen,
				                "%s:1: duplicate column '%s'",
				                name, t->f[c]);
				return PFL_ERR_FORMAT;
			}
		if (strcmp(t->f[c], o->label) == 0)
			p->label = (int)c;
	}
	if (p->label < 0) {
		pfli_csv_seterr(err, errlen, "%s:1: no label column '%s'", name,
		                o->label);
		return PFL_ERR_INVAL;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		if (p->missing == PFL_CSV_MISSING_DROP ||
		    !row_has_missing(t, r))
			continue;
		for (size_t c = 0; c < t->ncols; c++)
			if (pfli_csv_is_missing(pfli_csv_cell(t, r, c)) &&
			    (p->missing == PFL_CSV_MISSING_ERROR ||
			     (int)c == p->label)) {
				pfli_csv_seterr(err, errlen,
				                "%s:%zu: missing value in "
				                "column '%s'",
				                name, t->line[r], t->f[c]);
				return PFL_ERR_FORMAT;
			}
	}
	for (size_t c = 0; c < t->ncols; c++) {
		struct col *col = &p->cols[c];
		bool numeric = !in_list(o->categorical, col->name);
		double d;
		for (size_t r = 0; numeric && r < t->nrows; r++) {
			const char *s = pfli_csv_cell(t, r, c);
			if (row_is_used(p, t, r) && !pfli_csv_is_missing(s))
				numeric = pfli_csv_parse_num(s, &d);
		}
		col->kind = (int)c == p->label ? COL_LABEL
		            : numeric          ? COL_NUM
		                               : COL_CAT;
		col->off = p->dim;
		if (col->kind == COL_NUM) {
			rc = fit_numeric(p, t, c, o->scale);
			p->dim++;
		} else {
			rc = fit_categories(p, t, c, name, err, errlen);
			if (col->kind == COL_CAT)
				p->dim += col->ncats;
		}
		if (rc != PFL_OK)
			return rc;
	}
	if (p->cols[p->label].ncats < 2) {
		pfli_csv_seterr(err, errlen,
		                "%s: label column '%s' has fewer than 2 "
		                "classes",
		                name, o->label);
		return PFL_ERR_FORMAT;
	}
	if (p->dim == 0 || p->dim > PFL_IDX_MAX_DIM) {
		pfli_csv_seterr(err, errlen, "%s: %zu features", name, p->dim);
		return PFL_ERR_FORMAT;
	}
	return PFL_OK;
}

pfl_err
pfl_csv_fit_buf(const char *name, const char *text, size_t len,
                const struct pfl_csv_opts *o, struct pfl_csv_prep **out,
                char *err, size_t errlen)
{
	struct pfl_csv_prep *p;
	struct table t;
	pfl_err rc;

	if (name == NULL || text == NULL || o == NULL || o->label == NULL ||
	    out == NULL || (unsigned)o->missing > PFL_CSV_MISSING_MODE ||
	    (unsigned)o->scale > PFL_CSV_SCALE_MINMAX)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_tokenize(name, text, len, &t, err, errlen)) !=
	    PFL_OK)
		return rc;
	p = calloc(1, sizeof(*p));
	if (p == NULL ||
	    (p->cols = calloc(t.ncols, sizeof(struct col))) == NULL) {
		free(p);
		pfli_csv_table_fini(&t);
		return PFL_ERR_NOMEM;
	}
	p->ncols = t.ncols;
	p->missing = o->missing;
	rc = fit_table(name, &t, o, p, err, errlen);
	pfli_csv_table_fini(&t);
	if (rc != PFL_OK) {
		pfl_csv_prep_free(p);
		return rc;
	}
	*out = p;
	return PFL_OK;
}

/* Encode data row r of t into x (dim floats) and its label into *y. */
static pfl_err
encode_row(const struct pfl_csv_prep *p, const char *name,
           const struct table *t, size_t r, float *x, int32_t *y, char *err,
           size_t errlen)
{
	for (size_t c = 0; c < p->ncols; c++) {
		const struct col *col = &p->cols[c];
		const char *s = pfli_csv_cell(t, r, c);
		bool miss = pfli_csv_is_missing(s);
		size_t k;
		double v;
		if (miss && (col->kind == COL_LABEL ||
		             p->missing == PFL_CSV_MISSING_ERROR)) {
			pfli_csv_seterr(err, errlen,
			                "%s:%zu: missing value in column "
			                "'%s'",
			                name, t->line[r], col->name);
			return PFL_ERR_FORMAT;
		}
		switch (col->kind) {
		case COL_NUM:
			if (miss)
				v = col->fill;
			else if (!pfli_csv_parse_num(s, &v)) {
				pfli_csv_seterr(err, errlen,
				                "%s:%zu: column '%s': '%.40s' "
				                "is not a number",
				                name, t->line[r], col->name, s);
				return PFL_ERR_FORMAT;
			}
			x[col->off] = (float)((v - col->shift) * col->mul);
			break;
		case COL_CAT:
			memset(x + col->off, 0, col->ncats * sizeof(float));
			k = miss ? col->mode : find_cat(col, s);
			if (k < col->ncats)
				x[col->off + k] = 1.0f;
			break;
		case COL_LABEL:
			for (k = 0; k < col->ncats; k++)
				if (strcmp(col->cats[k], s) == 0)
					break;
			if (k == col->ncats) {
				pfli_csv_seterr(err, errlen,
				                "%s:%zu: unknown label "
				                "'%.40s'",
				                name, t->line[r], s);
				return PFL_ERR_FORMAT;
			}
			*y = (int32_t)k;
			break;
		}
	}
	return PFL_OK;
}

pfl_err
pfl_csv_apply_buf(const struct pfl_csv_prep *p, const char *name,
                  const char *text, size_t len, struct pfl_dataset *out,
                  char *err, size_t errlen)
{
	struct pfl_dataset ds;
	struct table t;
	pfl_err rc;

	if (p == NULL || name == NULL || text == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_tokenize(name, text, len, &t, err, errlen)) !=
	    PFL_OK)
		return rc;
	memset(&ds, 0, sizeof(ds));
	rc = PFL_ERR_FORMAT;
	if (t.ncols != p->ncols) {
		pfli_csv_seterr(err, errlen,
		                "%s:1: %zu columns, the training file has "
		                "%zu",
		                name, t.ncols, p->ncols);
		goto out;
	}
	for (size_t c = 0; c < t.ncols; c++)
		if (strcmp(t.f[c], p->cols[c].name) != 0) {
			pfli_csv_seterr(err, errlen,
			                "%s:1: column %zu is '%s', expected "
			                "'%s'",
			                name, c + 1, t.f[c], p->cols[c].name);
			goto out;
		}
	rc = PFL_ERR_NOMEM;
	ds.dim = p->dim;
	ds.c = ds.h = 1;
	ds.w = (int)p->dim;
	ds.classes = (int)p->cols[p->label].ncats;
	ds.x = malloc((t.nrows + 1) * p->dim * sizeof(float));
	ds.y = malloc((t.nrows + 1) * sizeof(int32_t));
	if (ds.x == NULL || ds.y == NULL)
		goto out;
	rc = PFL_OK;
	for (size_t r = 0; r < t.nrows && rc == PFL_OK; r++) {
		if (p->missing == PFL_CSV_MISSING_DROP &&
		    row_has_missing(&t, r))
			continue;
		rc = encode_row(p, name, &t, r, ds.x + ds.n * p->dim,
		                ds.y + ds.n, err, errlen);
		ds.n++;
	}
	if (rc == PFL_OK && ds.n == 0) {
		pfli_csv_seterr(err, errlen, "%s: no usable rows", name);
		rc = PFL_ERR_FORMAT;
	}
out:
	pfli_csv_table_fini(&t);
	if (rc != PFL_OK) {
		pfl_dataset_fini(&ds);
		return rc;
	}
	*out = ds;
	return PFL_OK;
}

pfl_err
pfl_csv_fit(const char *path, const struct pfl_csv_opts *o,
            struct pfl_csv_prep **out, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	pfl_err rc;

	if (path == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_read_text(path, &buf, &len, err, errlen)) != PFL_OK)
		return rc;
	rc = pfl_csv_fit_buf(path, (const char *)buf, len, o, out, err, errlen);
	free(buf);
	return rc;
}

pfl_err
pfl_csv_apply(const struct pfl_csv_prep *p, const char *path,
              struct pfl_dataset *out, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	pfl_err rc;

	if (path == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfli_csv_read_text(path, &buf, &len, err, errlen)) != PFL_OK)
		return rc;
	rc = pfl_csv_apply_buf(p, path, (const char *)buf, len, out, err,
	                       errlen);
	free(buf);
	return rc;
}

pfl_err
pfl_csv_load(const char *train_path, const char *test_path,
             const struct pfl_csv_opts *o, struct pfl_dataset *train,
             struct pfl_dataset *test, char *err, size_t errlen)
{
	struct pfl_csv_prep *p = NULL;
	struct pfl_dataset a, b;
	pfl_err rc;

	if (train == NULL || test == NULL)
		return PFL_ERR_INVAL;
	if ((rc = pfl_csv_fit(train_path, o, &p, err, errlen)) != PFL_OK)
		return rc;
	rc = pfl_csv_apply(p, train_path, &a, err, errlen);
	if (rc == PFL_OK) {
		rc = pfl_csv_apply(p, test_path, &b, err, errlen);
		if (rc != PFL_OK)
			pfl_dataset_fini(&a);
	}
	pfl_csv_prep_free(p);
	if (rc != PFL_OK)
		return rc;
	*train = a;
	*test = b;
	return PFL_OK;
}

size_t
pfl_csv_prep_dim(const struct pfl_csv_prep *p)
{
	return p->dim;
}

int
pfl_csv_prep_classes(const struct pfl_csv_prep *p)
{
	return (int)p->cols[p->label].ncats;
}
