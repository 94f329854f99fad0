#include "privfl/keyset.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "privfl/file.h"
#include "privfl/log.h"

typedef uint8_t pubkey_row[PFL_SIGN_PK_BYTES];

struct keylist {
	pubkey_row *k;
	size_t n;
	size_t cap;
};

struct pfl_keyset {
	struct keylist allowed; /* sorted, unique */
	struct keylist revoked; /* sorted, unique */
	size_t enrolled;
};

static pfl_err
list_add(struct keylist *l, const uint8_t pk[PFL_SIGN_PK_BYTES])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		pubkey_row *k;
		if (cap > SIZE_MAX / sizeof(pubkey_row))
			return PFL_ERR_NOMEM;
		if ((k = realloc(l->k, cap * sizeof(pubkey_row))) == NULL)
			return PFL_ERR_NOMEM;
		l->k = k;
		l->cap = cap;
	}
	memcpy(l->k[l->n++], pk, PFL_SIGN_PK_BYTES);
	return PFL_OK;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PFL_SIGN_PK_BYTES);
}

static void
list_sort_unique(struct keylist *l)
{
	size_t w = 0;

	if (l->n == 0)
		return;
	qsort(l->k, l->n, sizeof(pubkey_row), key_cmp);
	for (size_t i = 1; i < l->n; i++)
		if (memcmp(l->k[i], l->k[w], PFL_SIGN_PK_BYTES) != 0)
			memcpy(l->k[++w], l->k[i], PFL_SIGN_PK_BYTES);
	l->n = w + 1;
}

static bool
list_has(const struct keylist *l, const uint8_t pk[PFL_SIGN_PK_BYTES])
{
	return l->n > 0 &&
	       bsearch(pk, l->k, l->n, sizeof(pubkey_row), key_cmp) != NULL;
}

/* Parse a text of key lines into l. */
static pfl_err
parse_lines(const char *path, const char *text, size_t len, struct keylist *l)
{
	size_t lineno = 0;
	const char *p = text, *end = text + len;
	pfl_err rv;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		size_t i = 0;
		uint8_t pk[PFL_SIGN_PK_BYTES];

		lineno++;
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i < n && p[i] != '#') {
			if (pfl_pubkey_parse_line(p + i, n - i, pk) != PFL_OK) {
				pfl_log(PFL_LOG_ERROR,
				        "%s:%zu: not a privfl public key line",
				        path, lineno);
				return PFL_ERR_FORMAT;
			}
			if ((rv = list_add(l, pk)) != PFL_OK)
				return rv;
		}
		p = nl ? nl + 1 : end;
	}
	return PFL_OK;
}

static pfl_err
load_file(const char *path, struct keylist *l)
{
	uint8_t *data = NULL;
	size_t len = 0;
	pfl_err rv;

	rv = pfl_file_read(path, PFL_KEYSET_FILE_MAX, &data, &len);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "%s: cannot read key list: %s", path,
		        pfl_strerror(rv));
		return rv;
	}
	if (memchr(data, '\0', len) != NULL) {
		pfl_log(PFL_LOG_ERROR, "%s: binary data in key list", path);
		rv = PFL_ERR_FORMAT;
	} else {
		rv = parse_lines(path, (const char *)data, len, l);
	}
	free(data);
	return rv;
}

static bool
ends_with_pub(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".pub") == 0;
}

static pfl_err
load_dir(const char *path, struct keylist *l)
{
	DIR *d;
	struct dirent *de;
	pfl_err rv = PFL_OK;

	if ((d = opendir(path)) == NULL)
		return PFL_ERR_IO;
	while (rv == PFL_OK && (de = readdir(d)) != NULL) {
		char sub[PATH_MAX];
		uint8_t pk[PFL_SIGN_PK_BYTES];
		int n;

		if (de->d_name[0] == '.' || !ends_with_pub(de->d_name))
			continue;
		n = snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(sub)) {
			rv = PFL_ERR_TOOBIG;
			break;
		}
		if ((rv = pfl_pubkey_load(sub, pk)) != PFL_OK) {
			pfl_log(PFL_LOG_ERROR, "%s: bad public key file: %s",
			        sub, pfl_strerror(rv));
			break;
		}
		rv = list_add(l, pk);
	}
	closedir(d);
	return rv;
}

static pfl_err
load_any(const char *path, struct keylist *l)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		pfl_log(PFL_LOG_ERROR, "%s: no such key list", path);
		return PFL_ERR_NOTFOUND;
	}
	return S_ISDIR(st.st_mode) ? load_dir(path, l) : load_file(path, l);
}

static void
keyset_finish(struct pfl_keyset *ks)
{
	list_sort_unique(&ks->allowed);
	list_sort_unique(&ks->revoked);
	ks->enrolled = 0;
	for (size_t i = 0; i < ks->allowed.n; i++)
		if (!list_has(&ks->revoked, ks->allowed.k[i]))
			ks->enrolled++;
}

pfl_err
pfl_keyset_load(const char *path, const char *revoked_path,
                struct pfl_keyset **out)
{
	struct pfl_keyset *ks;
	pfl_err rv;

	if (path == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return PFL_ERR_NOMEM;
	rv = load_any(path, &ks->allowed);
	if (rv == PFL_OK && revoked_path != NULL && revoked_path[0] != '\0')
		rv = load_any(revoked_path, &ks->revoked);
	if (rv != PFL_OK) {
		pfl_keyset_free(ks);
		return rv;
	}
	keyset_finish(ks);
	pfl_log(PFL_LOG_INFO, "%s: %zu keys enrolled, %zu revoked", path,
	        ks->enrolled, ks->revoked.n);
	*out = ks;
	return PFL_OK;
}

pfl_err
pfl_keyset_from_keys(const uint8_t (*keys)[PFL_SIGN_PK_BYTES], size_t n,
                     const uint8_t (*revoked)[PFL_SIGN_PK_BYTES], size_t nrev,
                     struct pfl_keyset **out)
{
	struct pfl_keyset *ks;
	pfl_err rv = PFL_OK;

	if (out == NULL || (keys == NULL && n > 0) ||
	    (revoked == NULL && nrev > 0))
		return PFL_ERR_INVAL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < n && rv == PFL_OK; i++)
		rv = list_add(&ks->allowed, keys[i]);
	for (size_t i = 0; i < nrev && rv == PFL_OK; i++)
		rv = list_add(&ks->revoked, revoked[i]);
	if (rv != PFL_OK) {
		pfl_keyset_free(ks);
		return rv;
	}
	keyset_finish(ks);
	*out = ks;
	return PFL_OK;
}

bool
pfl_keyset_is_revoked(const struct pfl_keyset *ks,
                      const uint8_t pk[PFL_SIGN_PK_BYTES])
{
	return ks != NULL && pk != NULL && list_has(&ks->revoked, pk);
}

bool
pfl_keyset_is_enrolled(const struct pfl_keyset *ks,
                       const uint8_t pk[PFL_SIGN_PK_BYTES])
{
	return ks != NULL && pk != NULL && list_has(&ks->allowed, pk) &&
	       !list_has(&ks->revoked, pk);
}

size_t
pfl_keyset_count(const struct pfl_keyset *ks)
{
	return ks == NULL ? 0 : ks->enrolled;
}

void
pfl_keyset_free(struct pfl_keyset *ks)
{
	if (ks == NULL)
		return;
	free(ks->allowed.k);
	free(ks->revoked.k);
	free(ks);
}
