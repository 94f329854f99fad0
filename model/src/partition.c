/* Seeded IID and non-IID partitioners (see privfl/partition.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/partition.h"
#include "privfl/rng.h"

enum { MAX_TRIES = 1000 };

pfl_err
pfl_partition_parse(const char *spec, enum pfl_partition_kind *kind,
                    double *param)
{
	static const struct {
		const char *name;
		enum pfl_partition_kind kind;
	} tab[] = {{"dirichlet:", PFL_PART_DIRICHLET},
	           {"shards:", PFL_PART_SHARDS},
	           {"quantity:", PFL_PART_QUANTITY}};
	char *end;
	double v;

	if (spec == NULL || kind == NULL || param == NULL)
		return PFL_ERR_INVAL;
	if (strcmp(spec, "iid") == 0) {
		*kind = PFL_PART_IID;
		*param = 0.0;
		return PFL_OK;
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t l = strlen(tab[i].name);
		if (strncmp(spec, tab[i].name, l) != 0)
			continue;
		v = strtod(spec + l, &end);
		if (end == spec + l || *end != '\0' || !isfinite(v) ||
		    v <= 0.0 || v > 1e6)
			return PFL_ERR_INVAL;
		if (tab[i].kind == PFL_PART_SHARDS && v != floor(v))
			return PFL_ERR_INVAL;
		*kind = tab[i].kind;
		*param = v;
		return PFL_OK;
	}
	return PFL_ERR_INVAL;
}

void
pfl_partition_fini(struct pfl_partition *p)
{
	if (p == NULL)
		return;
	free(p->offset);
	free(p->index);
	memset(p, 0, sizeof(*p));
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Dir(alpha) over k entries. */
static void
dirichlet(struct pfl_rng *r, double alpha, size_t k, double *p)
{
	double s = 0.0;

	for (size_t i = 0; i < k; i++) {
		p[i] = pfl_rng_gamma(r, alpha);
		s += p[i];
	}
	for (size_t i = 0; i < k; i++)
		p[i] = s > 0.0 ? p[i] / s : 1.0 / (double)k;
}

/* owner[i] = client of sample i (IID equal parts). */
static void
split_iid(struct pfl_rng *r, uint32_t *perm, size_t n, size_t clients,
          uint32_t *owner)
{
	pfl_rng_shuffle_u32(r, perm, n);
	for (size_t i = 0; i < n; i++)
		owner[perm[i]] = (uint32_t)(i * clients / n);
}

static size_t
min_size(size_t n, size_t clients)
{
	size_t m = n / (2 * clients);

	return m < 10 ? m : 10;
}

static pfl_err
split_dirichlet(struct pfl_rng *r, const int32_t *labels, size_t n, int classes,
                size_t clients, double alpha, uint32_t *owner)
{
	size_t *cnt = calloc(clients, sizeof(size_t));
	double *p = malloc(clients * sizeof(double));
	uint32_t *cls = malloc(n * sizeof(uint32_t));
	size_t need = min_size(n, clients), cap = n / clients;
	pfl_err rc = PFL_ERR_AGAIN;

	if (cnt == NULL || p == NULL || cls == NULL) {
		rc = PFL_ERR_NOMEM;
		goto out;
	}
	for (int tries = 0; tries < MAX_TRIES && rc == PFL_ERR_AGAIN; tries++) {
		size_t smallest = SIZE_MAX;
		memset(cnt, 0, clients * sizeof(size_t));
		for (int k = 0; k < classes; k++) {
			size_t m = 0, pos = 0;
			double s = 0.0, acc = 0.0;
			for (size_t i = 0; i < n; i++)
				if (labels[i] == k)
					cls[m++] = (uint32_t)i;
			pfl_rng_shuffle_u32(r, cls, m);
			dirichlet(r, alpha, clients, p);
			for (size_t j = 0; j < clients; j++) {
				if (cnt[j] >= cap)
					p[j] = 0.0;
				s += p[j];
			}
			for (size_t j = 0; j < clients; j++) {
				size_t end;
				acc += s > 0.0 ? p[j] / s
				               : 1.0 / (double)clients;
				end = j + 1 == clients
				              ? m
				              : (size_t)(acc * (double)m);
				if (end > m)
					end = m;
				for (; pos < end; pos++) {
					owner[cls[pos]] = (uint32_t)j;
					cnt[j]++;
				}
			}
		}
		memset(cnt, 0, clients * sizeof(size_t));
		for (size_t i = 0; i < n; i++)
			cnt[owner[i]]++;
		for (size_t j = 0; j < clients; j++)
			if (cnt[j] < smallest)
				smallest = cnt[j];
		if (smallest >= need && smallest > 0)
			rc = PFL_OK;
	}
out:
	free(cnt);
	free(p);
	free(cls);
	return rc;
}

static pfl_err
split_shards(struct pfl_rng *r, const int32_t *labels, size_t n, size_t clients,
             size_t per, uint32_t *owner)
{
	size_t nshards = clients * per, sz, k = 0;
	uint32_t *sorted = malloc(n * sizeof(uint32_t));
	uint32_t *shard = malloc(nshards * sizeof(uint32_t));
	pfl_err rc = PFL_OK;

	if (sorted == NULL || shard == NULL) {
		rc = PFL_ERR_NOMEM;
		goto out;
	}
	if (nshards > n) {
		rc = PFL_ERR_INVAL;
		goto out;
	}
	sz = n / nshards;
	/* counting sort by label keeps index order within a class */
	for (int32_t c = 0; k < n; c++)
		for (size_t i = 0; i < n; i++)
			if (labels[i] == c)
				sorted[k++] = (uint32_t)i;
	for (size_t s = 0; s < nshards; s++)
		shard[s] = (uint32_t)s;
	pfl_rng_shuffle_u32(r, shard, nshards);
	for (size_t s = 0; s < nshards; s++) {
		uint32_t client = (uint32_t)(s / per);
		for (size_t i = 0; i < sz; i++)
			owner[sorted[shard[s] * sz + i]] = client;
	}
	for (size_t i = nshards * sz; i < n; i++)
		owner[sorted[i]] = (uint32_t)(i % clients);
out:
	free(sorted);
	free(shard);
	return rc;
}

static pfl_err
split_quantity(struct pfl_rng *r, uint32_t *perm, size_t n, size_t clients,
               double beta, uint32_t *owner)
{
	double *p = malloc(clients * sizeof(double));
	size_t need = min_size(n, clients);
	pfl_err rc = PFL_ERR_AGAIN;

	if (p == NULL)
		return PFL_ERR_NOMEM;
	pfl_rng_shuffle_u32(r, perm, n);
	for (int tries = 0; tries < MAX_TRIES && rc == PFL_ERR_AGAIN; tries++) {
		size_t pos = 0, smallest = SIZE_MAX;
		double acc = 0.0;
		dirichlet(r, beta, clients, p);
		for (size_t j = 0; j < clients; j++) {
			size_t end;
			acc += p[j];
			end = j + 1 == clients ? n : (size_t)(acc * (double)n);
			if (end > n)
				end = n;
			if (end < pos)
				end = pos;
			if (end - pos < smallest)
				smallest = end - pos;
			for (; pos < end; pos++)
				owner[perm[pos]] = (uint32_t)j;
		}
		if (smallest >= need && smallest > 0)
			rc = PFL_OK;
	}
	free(p);
	return rc;
}

pfl_err
pfl_partition_make(const int32_t *labels, size_t n, int classes, size_t clients,
                   enum pfl_partition_kind kind, double param, uint64_t seed,
                   struct pfl_partition *out)
{
	struct pfl_partition p = {0};
	struct pfl_rng r;
	uint32_t *owner = NULL, *perm = NULL;
	size_t *fill = NULL;
	pfl_err rc = PFL_ERR_NOMEM;

	if (labels == NULL || out == NULL || clients == 0 || n < clients ||
	    n > UINT32_MAX || classes < 1 ||
	    (kind != PFL_PART_IID && !(param > 0.0 && isfinite(param))))
		return PFL_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= classes)
			return PFL_ERR_INVAL;
	owner = malloc(n * sizeof(uint32_t));
	perm = malloc(n * sizeof(uint32_t));
	p.offset = calloc(clients + 1, sizeof(size_t));
	p.index = malloc(n * sizeof(uint32_t));
	fill = calloc(clients, sizeof(size_t));
	if (owner == NULL || perm == NULL || p.offset == NULL ||
	    p.index == NULL || fill == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	pfl_rng_seed(&r, seed);
	switch (kind) {
	case PFL_PART_IID:
		split_iid(&r, perm, n, clients, owner);
		rc = PFL_OK;
		break;
	case PFL_PART_DIRICHLET:
		rc = split_dirichlet(&r, labels, n, classes, clients, param,
		                     owner);
		break;
	case PFL_PART_SHARDS:
		rc = param > 1e6 ? PFL_ERR_INVAL
		                 : split_shards(&r, labels, n, clients,
		                                (size_t)param, owner);
		break;
	case PFL_PART_QUANTITY:
		rc = split_quantity(&r, perm, n, clients, param, owner);
		break;
	default:
		rc = PFL_ERR_INVAL;
	}
	if (rc != PFL_OK)
		goto out;
	p.clients = clients;
	for (size_t i = 0; i < n; i++)
		p.offset[owner[i] + 1]++;
	for (size_t j = 0; j < clients; j++)
		p.offset[j + 1] += p.offset[j];
	for (size_t i = 0; i < n; i++)
		p.index[p.offset[owner[i]] + fill[owner[i]]++] = (uint32_t)i;
	for (size_t j = 0; j < clients; j++)
		qsort(p.index + p.offset[j], p.offset[j + 1] - p.offset[j],
		      sizeof(uint32_t), cmp_u32);
	*out = p;
	p.offset = NULL;
	p.index = NULL;
out:
	free(owner);
	free(perm);
	free(fill);
	pfl_partition_fini(&p);
	return rc;
}
