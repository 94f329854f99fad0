/* CSV tokenizer: a file into rows of fields (see csv_int.h). */
#include <stdarg.h>
#include <stdio.h>

#include "csv_int.h"
#include "privfl/file.h"

void
pfli_csv_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
pfli_csv_table_fini(struct table *t)
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

pfl_err
pfli_csv_tokenize(const char *name, const char *text, size_t len,
                  struct table *t, char *err, size_t errlen)
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
					pfli_csv_seterr(err, errlen,
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
				pfli_csv_seterr(err, errlen,
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
					pfli_csv_seterr(
					        err, errlen,
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
			pfli_csv_seterr(err, errlen,
			                "%s:%zu: more than %d columns", name,
			                row_line, PFL_CSV_MAX_COLUMNS);
			rc = PFL_ERR_TOOBIG;
			goto out;
		}
		if (!eol)
			continue;
		if (t->ncols == 0) {
			t->ncols = row_fields;
		} else {
			if (row_fields != t->ncols) {
				pfli_csv_seterr(err, errlen,
				                "%s:%zu: expected %zu fields, "
				                "got %zu",
				                name, row_line, t->ncols,
				                row_fields);
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
		pfli_csv_seterr(err, errlen, "%s:1: no header row", name);
		rc = PFL_ERR_FORMAT;
	}
out:
	if (rc != PFL_OK)
		pfli_csv_table_fini(t);
	return rc;
}

pfl_err
pfli_csv_read_text(const char *path, uint8_t **buf, size_t *len, char *err,
                   size_t errlen)
{
	pfl_err rc = pfl_file_read(path, PFL_CSV_MAX_BYTES, buf, len);

	if (rc != PFL_OK)
		pfli_csv_seterr(err, errlen, "%s: %s", path, pfl_strerror(rc));
	return rc;
}
