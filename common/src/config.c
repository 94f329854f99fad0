#include "privfl/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/file.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool
key_eq(const char *a, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < blen && a[i] != '\0'; i++) {
		char x = a[i] == '-' ? '_' : a[i];
		char y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return i == blen && a[i] == '\0';
}

static const struct pfl_cfg_entry *
find(const struct pfl_cfg_entry *tab, size_t n, const char *key, size_t klen)
{
	for (size_t i = 0; i < n; i++)
		if (key_eq(tab[i].name, key, klen))
			return &tab[i];
	return NULL;
}

static int
choice_index(const char *choices, const char *v)
{
	size_t vlen = strlen(v);
	int idx = 0;
	const char *p = choices;

	while (p != NULL && *p != '\0') {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == vlen && strncmp(p, v, len) == 0)
			return idx;
		idx++;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

static pfl_err
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return PFL_OK;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return PFL_OK;
		}
	}
	return PFL_ERR_CONFIG;
}

static pfl_err
apply(const struct pfl_cfg_entry *e, void *obj, const char *v, char *err,
      size_t errlen)
{
	char *end = NULL;
	char *field = (char *)obj + e->offset;

	errno = 0;
	switch (e->type) {
	case PFL_CFG_INT: {
		long long x = strtoll(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0') {
			set_err(err, errlen, "%s: '%s' is not an integer",
			        e->name, v);
			return PFL_ERR_CONFIG;
		}
		if ((double)x < e->min || (double)x > e->max) {
			set_err(err, errlen,
			        "%s: %lld is outside [%.17g, %.17g]", e->name,
			        x, e->min, e->max);
			return PFL_ERR_CONFIG;
		}
		*(int64_t *)field = (int64_t)x;
		return PFL_OK;
	}
	case PFL_CFG_DOUBLE: {
		double x = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || !isfinite(x)) {
			set_err(err, errlen, "%s: '%s' is not a number",
			        e->name, v);
			return PFL_ERR_CONFIG;
		}
		if (x < e->min || x > e->max) {
			set_err(err, errlen, "%s: %g is outside [%g, %g]",
			        e->name, x, e->min, e->max);
			return PFL_ERR_CONFIG;
		}
		*(double *)field = x;
		return PFL_OK;
	}
	case PFL_CFG_BOOL:
		if (parse_bool(v, (bool *)field) != PFL_OK) {
			set_err(err, errlen, "%s: '%s' is not a boolean",
			        e->name, v);
			return PFL_ERR_CONFIG;
		}
		return PFL_OK;
	case PFL_CFG_STRING: {
		char **sp = (char **)field;
		char *copy = strdup(v);
		if (copy == NULL)
			return PFL_ERR_NOMEM;
		if ((e->flags & PFL_CFG_URL) && *v != '\0' &&
		    !pfl_cfg_url_is_valid(v)) {
			free(copy);
			set_err(err, errlen,
			        "%s: '%s' is not a tcp://, tls+tcp://, ipc:// "
			        "or "
			        "inproc:// URL",
			        e->name, v);
			return PFL_ERR_CONFIG;
		}
		free(*sp);
		*sp = copy;
		return PFL_OK;
	}
	case PFL_CFG_ENUM: {
		int idx = choice_index(e->choices, v);
		if (idx < 0) {
			set_err(err, errlen, "%s: '%s' is not one of %s",
			        e->name, v, e->choices);
			return PFL_ERR_CONFIG;
		}
		*(int *)field = idx;
		return PFL_OK;
	}
	}
	return PFL_ERR_INVAL;
}

pfl_err
pfl_cfg_defaults(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                 char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const char *def = tab[i].def;
		pfl_err rv;

		if (def == NULL) {
			if (tab[i].type == PFL_CFG_STRING)
				*(char **)((char *)obj + tab[i].offset) = NULL;
			continue;
		}
		if ((rv = apply(&tab[i], obj, def, err, errlen)) != PFL_OK)
			return rv;
	}
	return PFL_OK;
}

pfl_err
pfl_cfg_set(const struct pfl_cfg_entry *tab, size_t n, void *obj,
            const char *key, const char *value, char *err, size_t errlen)
{
	const struct pfl_cfg_entry *e = find(tab, n, key, strlen(key));

	if (e == NULL) {
		set_err(err, errlen, "unknown setting '%s'", key);
		return PFL_ERR_NOTFOUND;
	}
	if (value == NULL) { /* an option given without a value */
		if (e->type != PFL_CFG_BOOL) {
			set_err(err, errlen, "option '--%s' needs a value",
			        key);
			return PFL_ERR_CONFIG;
		}
		value = "true";
	}
	return apply(e, obj, value, err, errlen);
}

static char *
trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

pfl_err
pfl_cfg_parse_text(const char *name, const char *text, size_t len,
                   pfl_cfg_setter set, void *arg, char *err, size_t errlen)
{
	char *copy = malloc(len + 1);
	char *line, *next;
	pfl_err rv = PFL_OK;
	int lineno = 0;

	if (copy == NULL)
		return PFL_ERR_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line != NULL && rv == PFL_OK; line = next) {
		char *eol = strchr(line, '\n');
		char *eq, *key, *val, *hash;
		char sub[PFL_CFG_ERRLEN];

		next = eol ? eol + 1 : NULL;
		if (eol == NULL)
			eol = line + strlen(line);
		lineno++;
		if (memchr(line, '\0', (size_t)(eol - line)) != NULL ||
		    (next == NULL && (size_t)(eol - copy) < len)) {
			set_err(err, errlen, "%s:%d: NUL byte in file", name,
			        lineno);
			rv = PFL_ERR_CONFIG;
			break;
		}
		if ((hash = memchr(line, '#', (size_t)(eol - line))) != NULL)
			eol = hash;
		key = trim(line, eol);
		if (*key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			set_err(err, errlen, "%s:%d: expected 'key = value'",
			        name, lineno);
			rv = PFL_ERR_CONFIG;
			break;
		}
		val = trim(eq + 1, eq + 1 + strlen(eq + 1));
		key = trim(key, eq);
		sub[0] = '\0';
		rv = set(arg, key, val, sub, sizeof(sub));
		if (rv != PFL_OK) {
			set_err(err, errlen, "%s:%d: %s", name, lineno, sub);
			rv = PFL_ERR_CONFIG;
		}
	}
	free(copy);
	return rv;
}

pfl_err
pfl_cfg_read_file(const char *path, pfl_cfg_setter set, void *arg, char *err,
                  size_t errlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	pfl_err rv;

	rv = pfl_file_read(path, 1u << 20, &data, &len);
	if (rv != PFL_OK) {
		set_err(err, errlen, "%s: cannot read: %s", path,
		        pfl_strerror(rv));
		return PFL_ERR_CONFIG;
	}
	rv = pfl_cfg_parse_text(path, (const char *)data, len, set, arg, err,
	                        errlen);
	free(data);
	return rv;
}

struct table_arg {
	const struct pfl_cfg_entry *tab;
	size_t n;
	void *obj;
};

static pfl_err
table_set(void *arg, const char *key, const char *value, char *err,
          size_t errlen)
{
	const struct table_arg *t = arg;

	return pfl_cfg_set(t->tab, t->n, t->obj, key, value, err, errlen);
}

pfl_err
pfl_cfg_load_buf(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                 const char *name, const char *text, size_t len, char *err,
                 size_t errlen)
{
	struct table_arg t = {tab, n, obj};

	return pfl_cfg_parse_text(name, text, len, table_set, &t, err, errlen);
}

pfl_err
pfl_cfg_load_file(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                  const char *path, char *err, size_t errlen)
{
	struct table_arg t = {tab, n, obj};

	return pfl_cfg_read_file(path, table_set, &t, err, errlen);
}

pfl_err
pfl_cfg_parse_args_with(int argc, char **argv, int first, pfl_cfg_setter set,
                        void *arg, char *err, size_t errlen)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		char key[128];
		size_t klen;
		pfl_err rv;

		if (strncmp(a, "--", 2) != 0) {
			set_err(err, errlen, "unexpected argument '%s'", a);
			return PFL_ERR_CONFIG;
		}
		eq = strchr(a + 2, '=');
		klen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (klen == 0 || klen >= sizeof(key)) {
			set_err(err, errlen, "unknown option '%s'", a);
			return PFL_ERR_CONFIG;
		}
		memcpy(key, a + 2, klen);
		key[klen] = '\0';
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
			val = argv[++i];
		rv = set(arg, key, val, err, errlen);
		if (rv == PFL_ERR_NOTFOUND) {
			set_err(err, errlen, "unknown option '--%s'", key);
			return PFL_ERR_CONFIG;
		}
		if (rv != PFL_OK)
			return rv;
	}
	return PFL_OK;
}

pfl_err
pfl_cfg_parse_args(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                   int argc, char **argv, int first, char *err, size_t errlen)
{
	struct table_arg t = {tab, n, obj};

	return pfl_cfg_parse_args_with(argc, argv, first, table_set, &t, err,
	                               errlen);
}

pfl_err
pfl_cfg_load_cli_with(int argc, char **argv, pfl_cfg_setter set, void *arg,
                      char *err, size_t errlen)
{
	int first = 1;
	pfl_err rv;

	if (argc > 1 && strcmp(argv[1], "--config") == 0) {
		if (argc < 3) {
			set_err(err, errlen, "--config needs a file");
			return PFL_ERR_CONFIG;
		}
		if ((rv = pfl_cfg_read_file(argv[2], set, arg, err, errlen)) !=
		    PFL_OK)
			return rv;
		first = 3;
	}
	return pfl_cfg_parse_args_with(argc, argv, first, set, arg, err,
	                               errlen);
}

pfl_err
pfl_cfg_load_cli(const struct pfl_cfg_entry *tab, size_t n, void *obj, int argc,
                 char **argv, char *err, size_t errlen)
{
	struct table_arg t = {tab, n, obj};

	return pfl_cfg_load_cli_with(argc, argv, table_set, &t, err, errlen);
}

bool
pfl_cfg_url_is_valid(const char *url)
{
	static const char *const schemes[] = {
	        "tcp://",  "tls+tcp://", "ipc://",      "inproc://",
	        "tcp4://", "tcp6://",    "tls+tcp4://", "tls+tcp6://"};

	if (url == NULL)
		return false;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t l = strlen(schemes[i]);
		if (strncmp(url, schemes[i], l) == 0 && url[l] != '\0')
			return true;
	}
	return false;
}

pfl_err
pfl_cfg_validate(const struct pfl_cfg_entry *tab, size_t n, const void *obj,
                 char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const struct pfl_cfg_entry *e = &tab[i];
		const char *s;

		if (e->type != PFL_CFG_STRING)
			continue;
		s = *(char *const *)((const char *)obj + e->offset);
		if ((e->flags & PFL_CFG_REQUIRED) &&
		    (s == NULL || *s == '\0')) {
			set_err(err, errlen, "%s: required setting is missing",
			        e->name);
			return PFL_ERR_CONFIG;
		}
		if ((e->flags & PFL_CFG_URL) && s != NULL && *s != '\0' &&
		    !pfl_cfg_url_is_valid(s)) {
			set_err(err, errlen, "%s: '%s' is not a supported URL",
			        e->name, s);
			return PFL_ERR_CONFIG;
		}
	}
	return PFL_OK;
}

static const char *
type_name(const struct pfl_cfg_entry *e)
{
	switch (e->type) {
	case PFL_CFG_INT:
		return "int";
	case PFL_CFG_DOUBLE:
		return "number";
	case PFL_CFG_BOOL:
		return "bool";
	case PFL_CFG_STRING:
		return (e->flags & PFL_CFG_URL) ? "url" : "string";
	case PFL_CFG_ENUM:
		return e->choices;
	}
	return "?";
}

void
pfl_cfg_print_help(const struct pfl_cfg_entry *tab, size_t n, FILE *f)
{
	for (size_t i = 0; i < n; i++) {
		const struct pfl_cfg_entry *e = &tab[i];
		char range[64] = "";
		if (e->type == PFL_CFG_INT || e->type == PFL_CFG_DOUBLE)
			snprintf(range, sizeof(range), ", %g .. %g", e->min,
			         e->max);
		fprintf(f, "  --%-26s %s (%s%s; default %s)%s\n", e->name,
		        e->help, type_name(e), range,
		        e->def && *e->def ? e->def : "none",
		        (e->flags & PFL_CFG_REQUIRED) ? " (required)" : "");
	}
}

/* A Markdown table cell: '|' would end the cell. */
static void
md_cell(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void
pfl_cfg_print_markdown(const struct pfl_cfg_entry *tab, size_t n,
                       const char *title, FILE *f)
{
	fprintf(f, "## %s\n\n", title);
	fprintf(f, "| setting | type | default | range | description |\n");
	fprintf(f, "|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct pfl_cfg_entry *e = &tab[i];
		char range[64] = "";
		if (e->type == PFL_CFG_INT || e->type == PFL_CFG_DOUBLE)
			snprintf(range, sizeof(range), "%g .. %g", e->min,
			         e->max);
		fprintf(f, "| `%s` | ", e->name);
		md_cell(f, type_name(e));
		fputs(" | ", f);
		md_cell(f, e->def && *e->def ? e->def : "(none)");
		fprintf(f, " | %s | ", range);
		md_cell(f, e->help);
		fprintf(f, "%s |\n",
		        (e->flags & PFL_CFG_REQUIRED) ? " (required)" : "");
	}
	fprintf(f, "\n");
}

void
pfl_cfg_print_values(const struct pfl_cfg_entry *tab, size_t n, const void *obj,
                     FILE *f)
{
	for (size_t i = 0; i < n; i++) {
		const struct pfl_cfg_entry *e = &tab[i];
		const char *field = (const char *)obj + e->offset;
		switch (e->type) {
		case PFL_CFG_INT:
			fprintf(f, "%s = %lld\n", e->name,
			        (long long)*(const int64_t *)field);
			break;
		case PFL_CFG_DOUBLE:
			fprintf(f, "%s = %.17g\n", e->name,
			        *(const double *)field);
			break;
		case PFL_CFG_BOOL:
			fprintf(f, "%s = %s\n", e->name,
			        *(const bool *)field ? "true" : "false");
			break;
		case PFL_CFG_STRING: {
			const char *s = *(char *const *)field;
			fprintf(f, "%s = %s\n", e->name, s ? s : "");
			break;
		}
		case PFL_CFG_ENUM: {
			int idx = *(const int *)field;
			const char *p = e->choices;
			for (int k = 0; k < idx && p; k++) {
				p = strchr(p, '|');
				if (p)
					p++;
			}
			if (p) {
				const char *bar = strchr(p, '|');
				int len = bar ? (int)(bar - p) : (int)strlen(p);
				fprintf(f, "%s = %.*s\n", e->name, len, p);
			}
			break;
		}
		}
	}
}

void
pfl_cfg_free(const struct pfl_cfg_entry *tab, size_t n, void *obj)
{
	if (obj == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type == PFL_CFG_STRING) {
			char **sp = (char **)((char *)obj + tab[i].offset);
			free(*sp);
			*sp = NULL;
		}
	}
}
