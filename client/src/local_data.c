/*
 * The daemon's local data: the training examples and the held-out ones
 * that federated evaluation scores the global model on (docs/CLIENT.md,
 * "Federated evaluation").
 */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "privfl/csv.h"
#include "privfl/log.h"

static bool
is_csv(const char *path)
{
	size_t len = strlen(path);

	return len > 4 && strcmp(path + len - 4, ".csv") == 0;
}

/* CSV data, encoded with the federation's statistics (csv_stats). */
static pfl_err
load_csv(const struct pfl_client_config *cfg, const char *path,
         struct pfl_dataset *ds)
{
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rv;

	if (cfg->csv_stats[0] == '\0') {
		pfl_log(PFL_LOG_ERROR,
		        "data %s: CSV data needs csv_stats, the federation's "
		        "preprocessing statistics (privfl data stats), so that "
		        "every device encodes its rows alike",
		        path);
		return PFL_ERR_CONFIG;
	}
	rv = pfl_csv_load_prepared(cfg->csv_stats, cfg->csv_label, path, ds,
	                           err, sizeof(err));
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "data: %s",
		        err[0] ? err : pfl_strerror(rv));
	return rv;
}

/* A .csv file, "fashion-mnist" or an IDX directory (train or test files). */
static pfl_err
load_file(const struct pfl_client_config *cfg, const char *d, bool train,
          struct pfl_dataset *ds)
{
	pfl_err rv;

	if (is_csv(d))
		return load_csv(cfg, d, ds);
	rv = pfl_dataset_load_fmnist(strcmp(d, "fashion-mnist") == 0 ? NULL : d,
	                             train, ds);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "%s %s: %s",
		        train ? "data" : "eval_data", d, pfl_strerror(rv));
	return rv;
}

/*
 * Whether example i of the data file is held out for evaluation: a keyed
 * hash of its index (splitmix64 with a fixed key) below eval_fraction. It
 * depends on nothing but i, so the same examples stay held out across
 * restarts and whatever the shard: none is ever trained on.
 */
bool
pfli_eval_held_out(uint64_t i, double fraction)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL * 0x5eed;

	if (fraction <= 0)
		return false;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53 < fraction;
}

/* Shard cfg->shard of ds into *idx; held-out examples (split) apart. */
static pfl_err
shard(const struct pfl_client_config *cfg, const struct pfl_dataset *ds,
      double split, uint32_t **idx, size_t *n, uint32_t **eidx, size_t *en)
{
	size_t cap = ds->n / (size_t)cfg->shards + 1;

	if ((*idx = malloc(cap * sizeof(uint32_t))) == NULL)
		return PFL_ERR_NOMEM;
	if (split > 0 && (*eidx = malloc(cap * sizeof(uint32_t))) == NULL)
		return PFL_ERR_NOMEM;
	*n = 0;
	for (size_t i = (size_t)cfg->shard; i < ds->n;
	     i += (size_t)cfg->shards) {
		if (pfli_eval_held_out(i, split))
			(*eidx)[(*en)++] = (uint32_t)i;
		else
			(*idx)[(*n)++] = (uint32_t)i;
	}
	return PFL_OK;
}

static pfl_err
load_eval_file(const struct pfl_client_config *cfg, struct pfli_local_data *l)
{
	size_t unused = 0;
	uint32_t *none = NULL;
	pfl_err rv;

	if ((rv = load_file(cfg, cfg->eval_data, false, &l->eval_ds)) != PFL_OK)
		return rv;
	if (l->eval_ds.dim != l->ds.dim || l->eval_ds.classes > l->ds.classes) {
		pfl_log(PFL_LOG_ERROR,
		        "eval_data %s: %zu features and %d classes, but data "
		        "has %zu and %d",
		        cfg->eval_data, l->eval_ds.dim, l->eval_ds.classes,
		        l->ds.dim, l->ds.classes);
		return PFL_ERR_CONFIG;
	}
	l->eval_ds.classes = l->ds.classes;
	rv = shard(cfg, &l->eval_ds, 0, &l->eval_idx, &l->eval_n, &none,
	           &unused);
	l->eval_from_file = true;
	return rv;
}

pfl_err
pfli_local_data_load(const struct pfl_client_config *cfg,
                     struct pfli_local_data *l)
{
	bool file = cfg->eval_data[0] != '\0';
	pfl_err rv;

	memset(l, 0, sizeof(*l));
	if (cfg->shard >= cfg->shards) {
		pfl_log(PFL_LOG_ERROR, "shard must be below shards");
		return PFL_ERR_CONFIG;
	}
	if ((rv = load_file(cfg, cfg->data, true, &l->ds)) != PFL_OK)
		return rv;
	rv = shard(cfg, &l->ds, file ? 0 : cfg->eval_fraction, &l->idx, &l->n,
	           &l->eval_idx, &l->eval_n);
	if (rv == PFL_OK && file)
		rv = load_eval_file(cfg, l);
	if (rv != PFL_OK)
		return rv;
	if (l->n == 0) {
		pfl_log(PFL_LOG_ERROR,
		        "data %s: no training examples in shard %lld of %lld",
		        cfg->data, (long long)cfg->shard,
		        (long long)cfg->shards);
		return PFL_ERR_CONFIG;
	}
	pfl_log(PFL_LOG_INFO,
	        "local data: %zu examples (shard %lld of %lld): %zu to train "
	        "on, %zu held out for evaluation%s",
	        l->n + (file ? 0 : l->eval_n), (long long)cfg->shard,
	        (long long)cfg->shards, l->n, l->eval_n,
	        file ? " (eval_data)" : "");
	return PFL_OK;
}

void
pfli_local_data_view(const struct pfli_local_data *l, struct pfl_client_data *d)
{
	memset(d, 0, sizeof(*d));
	d->ds = &l->ds;
	d->idx = l->idx;
	d->n = l->n;
	d->eval_ds = l->eval_from_file ? &l->eval_ds : &l->ds;
	d->eval_idx = l->eval_idx;
	d->eval_n = l->eval_n;
}

void
pfli_local_data_fini(struct pfli_local_data *l)
{
	pfl_dataset_fini(&l->ds);
	pfl_dataset_fini(&l->eval_ds);
	free(l->idx);
	free(l->eval_idx);
	memset(l, 0, sizeof(*l));
}
