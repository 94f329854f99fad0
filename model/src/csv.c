/* CSV reader with fitted preprocessing (see privfl/csv.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/buf.h"
#include "privfl/csv.h"
#include "privfl/file.h"

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

static void seterr(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
table_fini(struct table *t)
{
	free(t->text);
	free(t->f);
	free(t->line);
	memset(t, 0, sizeof(*t));
}

static char *
trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

static pfl_err
push_field(char ***f, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		char **p = realloc(*f, nc * sizeof(char *));
		if (p == NULL)
			return PFL_ERR_NOMEM;
		*f = p;
		*cap = nc;
	}
	(*f)[(*n)++] = s;
	return PFL_OK;
}

/* Split text into rows of fields; every row must have the header's count. */
static pfl_err
tokenize(const char *name, const char *text, size_t len, struct table *t,
         char *err, size_t errlen)
{
	char *p, *end;
	size_t nf = 0, cap = 0, lcap = 0, lineno = 1, row_fields = 0;
	size_t row_line = 1;
	pfl_err rc = PFL_OK;

	memset(t, 0, sizeof(*t));
	if (len > PFL_CSV_MAX_BYTES)
		return PFL_ERR_TOOBIG;
	t->text = malloc(len + 1);
	if (t->text == NULL)
		return PFL_ERR_NOMEM;
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	p = t->text;
	end = p + len;
	while (p < end) {
		char *start = p, *dst, *val;
		bool eol = false;
		if (row_fields == 0 && (*p == '\n' || *p == '\r')) {
			if (*p == '\n')
				lineno++;
			p++;
			continue; /* blank line */
		}
		if (row_fields == 0)
			row_line = lineno;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == '"') {
			dst = val = ++p;
			for (;;) {
				if (p >= end) {
					seterr(err, errlen,
					       "%s:%zu: unterminated "
					       "quoted field",
					       name, row_line);
					rc = PFL_ERR_FORMAT;
					goto out;
				}
				if (*p == '"' && p + 1 < end && p[1] == '"') {
					*dst++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					if (*p == '\n')
						lineno++;
					*dst++ = *p++;
				}
			}
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
				seterr(err, errlen,
				       "%s:%zu: text after a quoted "
				       "field",
				       name, lineno);
				rc = PFL_ERR_FORMAT;
				goto out;
			}
			*dst = '\0';
		} else {
			p = start;
			while (p < end && *p != ',' && *p != '\n' &&
			       *p != '\r') {
				if (*p == '"' || *p == '\0') {
					seterr(err, errlen,
					       "%s:%zu: stray quote or "
					       "NUL in a field",
					       name, lineno);
					rc = PFL_ERR_FORMAT;
					goto out;
				}
				p++;
			}
			val = start;
			dst = p;
		}
		if (p >= end || *p == '\n' || *p == '\r')
			eol = true;
		if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
			*p++ = '\0';
		if (p < end) {
			if (*p == '\n')
				lineno++;
			*p++ = '\0';
		}
		if (val == start)
			val = trim(val, dst);
		if ((rc = push_field(&t->f, &nf, &cap, val)) != PFL_OK)
			goto out;
		row_fields++;
		if (row_fields > PFL_CSV_MAX_COLUMNS) {
			seterr(err, errlen, "%s:%zu: more than %d columns",
			       name, row_line, PFL_CSV_MAX_COLUMNS);
			rc = PFL_ERR_TOOBIG;
			goto out;
		}
		if (!eol)
			continue;
		if (t->ncols == 0) {
			t->ncols = row_fields;
		} else {
			if (row_fields != t->ncols) {
				seterr(err, errlen,
				       "%s:%zu: expected %zu fields, "
				       "got %zu",
				       name, row_line, t->ncols, row_fields);
				rc = PFL_ERR_FORMAT;
				goto out;
			}
			if (t->nrows == lcap) {
				size_t nc = lcap ? lcap * 2 : 256;
				size_t *nl =
				        realloc(t->line, nc * sizeof(size_t));
				if (nl == NULL) {
					rc = PFL_ERR_NOMEM;
					goto out;
				}
				t->line = nl;
				lcap = nc;
			}
			t->line[t->nrows++] = row_line;
		}
		row_fields = 0;
	}
	if (t->ncols == 0) {
		seterr(err, errlen, "%s:1: no header row", name);
		rc = PFL_ERR_FORMAT;
	}
out:
	if (rc != PFL_OK)
		table_fini(t);
	return rc;
}

static const char *
cell(const struct table *t, size_t row, size_t col)
{
	return t->f[(row + 1) * t->ncols + col];
}

static bool
is_missing(const char *s)
{
	return s[0] == '\0' || strcmp(s, "NA") == 0 || strcmp(s, "?") == 0;
}

static bool
parse_num(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*v);
}

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
		if (is_missing(cell(t, r, c)))
			return true;
	return false;
}

static bool
row_is_used(const struct pfl_csv_prep *p, const struct table *t, size_t r)
{
	if (p->missing == PFL_CSV_MISSING_DROP)
		return !row_has_missing(t, r);
	return !is_missing(cell(t, r, (size_t)p->label));
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
		const char *s = cell(t, r, ci);
		if (!row_is_used(p, t, r) || is_missing(s))
			continue;
		vals[n++] = (char *)(uintptr_t)s;
		numeric = numeric && parse_num(s, &d);
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
		seterr(err, errlen,
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
		const char *s = cell(t, r, ci);
		if (!row_is_used(p, t, r))
			continue;
		nall++;
		if (!is_missing(s) && parse_num(s, &v[n]))
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
				seterr(err, errlen,
				       "%s:1: duplicate column '%s'", name,
				       t->f[c]);
				return PFL_ERR_FORMAT;
			}
		if (strcmp(t->f[c], o->label) == 0)
			p->label = (int)c;
	}
	if (p->label < 0) {
		seterr(err, errlen, "%s:1: no label column '%s'", name,
		       o->label);
		return PFL_ERR_INVAL;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		if (p->missing == PFL_CSV_MISSING_DROP ||
		    !row_has_missing(t, r))
			continue;
		for (size_t c = 0; c < t->ncols; c++)
			if (is_missing(cell(t, r, c)) &&
			    (p->missing == PFL_CSV_MISSING_ERROR ||
			     (int)c == p->label)) {
				seterr(err, errlen,
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
			const char *s = cell(t, r, c);
			if (row_is_used(p, t, r) && !is_missing(s))
				numeric = parse_num(s, &d);
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
		seterr(err, errlen,
		       "%s: label column '%s' has fewer than 2 "
		       "classes",
		       name, o->label);
		return PFL_ERR_FORMAT;
	}
	if (p->dim == 0 || p->dim > PFL_IDX_MAX_DIM) {
		seterr(err, errlen, "%s: %zu features", name, p->dim);
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
	if ((rc = tokenize(name, text, len, &t, err, errlen)) != PFL_OK)
		return rc;
	p = calloc(1, sizeof(*p));
	if (p == NULL ||
	    (p->cols = calloc(t.ncols, sizeof(struct col))) == NULL) {
		free(p);
		table_fini(&t);
		return PFL_ERR_NOMEM;
	}
	p->ncols = t.ncols;
	p->missing = o->missing;
	rc = fit_table(name, &t, o, p, err, errlen);
	table_fini(&t);
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
		const char *s = cell(t, r, c);
		bool miss = is_missing(s);
		size_t k;
		double v;
		if (miss && (col->kind == COL_LABEL ||
		             p->missing == PFL_CSV_MISSING_ERROR)) {
			seterr(err, errlen,
			       "%s:%zu: missing value in column "
			       "'%s'",
			       name, t->line[r], col->name);
			return PFL_ERR_FORMAT;
		}
		switch (col->kind) {
		case COL_NUM:
			if (miss)
				v = col->fill;
			else if (!parse_num(s, &v)) {
				seterr(err, errlen,
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
				seterr(err, errlen,
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
	if ((rc = tokenize(name, text, len, &t, err, errlen)) != PFL_OK)
		return rc;
	memset(&ds, 0, sizeof(ds));
	rc = PFL_ERR_FORMAT;
	if (t.ncols != p->ncols) {
		seterr(err, errlen,
		       "%s:1: %zu columns, the training file has "
		       "%zu",
		       name, t.ncols, p->ncols);
		goto out;
	}
	for (size_t c = 0; c < t.ncols; c++)
		if (strcmp(t.f[c], p->cols[c].name) != 0) {
			seterr(err, errlen,
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
		seterr(err, errlen, "%s: no usable rows", name);
		rc = PFL_ERR_FORMAT;
	}
out:
	table_fini(&t);
	if (rc != PFL_OK) {
		pfl_dataset_fini(&ds);
		return rc;
	}
	*out = ds;
	return PFL_OK;
}

static pfl_err
read_text(const char *path, uint8_t **buf, size_t *len, char *err,
          size_t errlen)
{
	pfl_err rc = pfl_file_read(path, PFL_CSV_MAX_BYTES, buf, len);

	if (rc != PFL_OK)
		seterr(err, errlen, "%s: %s", path, pfl_strerror(rc));
	return rc;
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
	if ((rc = read_text(path, &buf, &len, err, errlen)) != PFL_OK)
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
	if ((rc = read_text(path, &buf, &len, err, errlen)) != PFL_OK)
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

/* ---- preprocessing statistics files (pfl_csv_prep_save / _load) ---- */

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
	int kind = name_index(kind_names, 3, cell(t, r, ST_KIND));
	int miss = name_index(missing_names, 5, cell(t, r, ST_MISSING));

	for (size_t i = 0; i < p->ncols; i++)
		if (strcmp(p->cols[i].name, cell(t, r, ST_COLUMN)) == 0) {
			seterr(err, errlen,
			       "%s:%zu: column '%.64s' appears twice", name,
			       t->line[r], cell(t, r, ST_COLUMN));
			return PFL_ERR_FORMAT;
		}
	if (kind < 0 || miss < 0) {
		seterr(err, errlen,
		       "%s:%zu: kind must be numeric, categorical or label, "
		       "missing one of error, drop, mean, median, mode",
		       name, t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (p->ncols > 0 && (enum pfl_csv_missing)miss != p->missing) {
		seterr(err, errlen, "%s:%zu: missing differs from line 2", name,
		       t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (kind == COL_LABEL && p->label >= 0) {
		seterr(err, errlen, "%s:%zu: a second label column", name,
		       t->line[r]);
		return PFL_ERR_FORMAT;
	}
	if (p->ncols >= PFL_CSV_MAX_COLUMNS)
		return PFL_ERR_TOOBIG;
	c = &p->cols[p->ncols];
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(cell(t, r, ST_COLUMN))) == NULL)
		return PFL_ERR_NOMEM;
	p->ncols++;
	c->kind = (enum col_kind)kind;
	p->missing = (enum pfl_csv_missing)miss;
	if (kind == COL_LABEL)
		p->label = (int)(p->ncols - 1);
	if (kind == COL_NUM && (!parse_num(cell(t, r, ST_FILL), &c->fill) ||
	                        !parse_num(cell(t, r, ST_SHIFT), &c->shift) ||
	                        !parse_num(cell(t, r, ST_MUL), &c->mul))) {
		seterr(err, errlen,
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
	const char *s = cell(t, r, ST_CAT);
	pfl_err rc;

	if (c->kind == COL_NUM || is_missing(s)) {
		if (c->kind == COL_NUM && s[0] == '\0')
			return PFL_OK;
		if (c->kind != COL_NUM && s[0] == '\0' && c->ncats == 0)
			return PFL_OK;
		seterr(err, errlen, "%s:%zu: column '%.64s': bad category",
		       name, t->line[r], c->name);
		return PFL_ERR_FORMAT;
	}
	for (size_t k = c->kind == COL_CAT && c->ncats > 0 ? c->ncats - 1 : 0;
	     k < c->ncats; k++)
		if (strcmp(c->cats[k], s) == 0 ||
		    (c->kind == COL_CAT && strcmp(c->cats[k], s) > 0)) {
			seterr(err, errlen,
			       "%s:%zu: column '%.64s': categories must be "
			       "distinct%s",
			       name, t->line[r], c->name,
			       c->kind == COL_CAT ? " and sorted" : "");
			return PFL_ERR_FORMAT;
		}
	if ((rc = add_category(c, s)) != PFL_OK)
		return rc;
	if (c->kind == COL_CAT && strcmp(cell(t, r, ST_FILL), s) == 0)
		c->mode = c->ncats - 1;
	return PFL_OK;
}

/* Offsets, dimension and the checks a fitted prep passes. */
static pfl_err
stats_finish(struct pfl_csv_prep *p, const char *name, char *err, size_t errlen)
{
	if (p->label < 0 || p->cols[p->label].ncats < 2) {
		seterr(err, errlen,
		       "%s: no label column with 2 or more classes", name);
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
		seterr(err, errlen, "%s: %zu features", name, p->dim);
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
	if ((rc = tokenize(name, text, len, &t, err, errlen)) != PFL_OK)
		return rc;
	rc = PFL_ERR_FORMAT;
	if (t.ncols != ST_CAT + 1 || len < strlen(STATS_HEADER) ||
	    memcmp(text, STATS_HEADER, strlen(STATS_HEADER) - 1) != 0) {
		seterr(err, errlen,
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
		if (p->ncols == 0 || strcmp(p->cols[p->ncols - 1].name,
		                            cell(&t, r, ST_COLUMN)) != 0)
			rc = stats_new_col(p, &t, r, name, err, errlen);
		if (rc == PFL_OK)
			rc = stats_add_cat(&p->cols[p->ncols - 1], &t, r, name,
			                   err, errlen);
	}
	if (rc == PFL_OK)
		rc = stats_finish(p, name, err, errlen);
out:
	table_fini(&t);
	if (rc != PFL_OK) {
		if (rc == PFL_ERR_TOOBIG)
			seterr(err, errlen,
			       "%s: too many columns or categories", name);
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
	if ((rc = read_text(path, &buf, &len, err, errlen)) != PFL_OK)
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
		seterr(err, errlen,
		       "%s: the label column is '%.64s', not '%.64s'",
		       stats_path, pfl_csv_prep_label(p), label);
		rc = PFL_ERR_INVAL;
	} else {
		rc = pfl_csv_apply(p, data_path, out, err, errlen);
	}
	pfl_csv_prep_free(p);
	return rc;
}
