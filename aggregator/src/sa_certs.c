/*
 * SecAgg enrollment certificates (issue #11 item 12): the aggregator relays
 * each member's certificate with its advert, so that the member's
 * neighbours can check its identity key against the enrollment authority
 * (docs/SECAGG.md). The aggregator never holds the authority key; it only
 * reads the certificates the operator issued (privfl enroll) from the
 * directory sa_enroll_certs.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/enroll.h"
#include "privfl/identity.h"
#include "privfl/log.h"

struct cert_table {
	uint8_t (*c)[PFL_ENROLL_CERT_BYTES];
	size_t n, cap;
};

static int
cmp_cert(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* every readable *.cert in dir, sorted by the certified key */
static pfl_err
load_table(const char *dir, struct cert_table *t)
{
	uint8_t cert[PFL_ENROLL_CERT_BYTES];
	struct dirent *e;
	char path[4096];
	DIR *d = opendir(dir);

	if (d == NULL)
		return PFL_ERR_IO;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".cert") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (pfl_enroll_cert_load(path, cert) != PFL_OK)
			continue;
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 64;
			void *p = realloc(t->c, cap * sizeof(*t->c));

			if (p == NULL) {
				closedir(d);
				return PFL_ERR_NOMEM;
			}
			t->c = p;
			t->cap = cap;
		}
		memcpy(t->c[t->n++], cert, sizeof(cert));
	}
	closedir(d);
	if (t->n > 0)
		qsort(t->c, t->n, sizeof(*t->c), cmp_cert);
	return PFL_OK;
}

pfl_err
pfli_sa_relay_certs(const struct pfl_aggregator *a, struct pfli_round *r)
{
	const char *dir = a->cfg.sa_enroll_certs;
	uint8_t(*certs)[PFL_ENROLL_CERT_BYTES];
	char fp[PFL_FINGERPRINT_LEN];
	struct cert_table tab = {0};
	pfl_err rv = PFL_OK;

	if (dir == NULL || dir[0] == '\0' || r->sa == NULL)
		return PFL_OK;
	if ((certs = calloc(r->n, sizeof(*certs))) == NULL)
		return PFL_ERR_NOMEM;
	if ((rv = load_table(dir, &tab)) != PFL_OK)
		pfl_log(PFL_LOG_WARN, "sa_enroll_certs %s: %s", dir,
		        pfl_strerror(rv));
	for (uint32_t i = 0; i < r->n && rv == PFL_OK; i++) {
		const uint8_t *c =
		        tab.n ? bsearch(r->members[i].pk, tab.c, tab.n,
		                        sizeof(*tab.c), cmp_cert)
		              : NULL;

		if (c != NULL)
			memcpy(certs[i], c, PFL_ENROLL_CERT_BYTES);
		else
			rv = PFL_ERR_NOTFOUND;
		if (rv != PFL_OK) {
			pfl_key_fingerprint(r->members[i].pk, fp);
			pfl_log(PFL_LOG_WARN,
			        "round %llu: no enrollment certificate for %s "
			        "in %s: its neighbours will refuse it",
			        (unsigned long long)r->number, fp, dir);
		}
	}
	if (rv == PFL_OK)
		rv = pfl_sa_server_set_certs(
		        r->sa, (const uint8_t(*)[PFL_SA_CERT_BYTES])certs);
	free(certs);
	free(tab.c);
	/* without every certificate the round still runs: clients that
	 * require certificates abort it, the others are unaffected */
	return rv == PFL_ERR_NOMEM ? rv : PFL_OK;
}
