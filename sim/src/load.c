/* Data, partitions, identities and faults of the virtual clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "privfl/log.h"
#include "sim_int.h"

pfl_err
pfli_sim_load(const struct pfl_sim_config *c, struct pfli_sim *s)
{
	enum pfl_partition_kind kind;
	double param = 0;
	uint32_t shards;
	pfl_err rv;

	rv = pfl_partition_parse(c->partition, &kind, &param);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR,
		        "partition '%s' is not iid, "
		        "dirichlet:A, shards:K or quantity:A",
		        c->partition);
		return rv;
	}
	rv = pfl_dataset_load_fmnist(
	        strcmp(c->dataset, "fashion-mnist") == 0 ? NULL : c->dataset,
	        true, &s->train);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "dataset %s: %s", c->dataset,
		        pfl_strerror(rv));
		return rv;
	}
	s->n = (uint32_t)c->clients;
	/* More clients than examples: the examples are dealt to shards of
	 * about PFLI_SIM_SHARD_EXAMPLES and client i holds shard i mod
	 * shards, so clients share data (non-IID splits need a few examples
	 * per shard: a Dirichlet split over one example each finds none). */
	shards = s->n <= s->train.n
	                 ? s->n
	                 : (uint32_t)(s->train.n / PFLI_SIM_SHARD_EXAMPLES);
	if (shards == 0)
		shards = 1;
	rv = pfl_partition_make(s->train.y, s->train.n, s->train.classes,
	                        shards, kind, param, (uint64_t)c->agg.seed,
	                        &s->part);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "partition %s over %u clients: %s",
		        c->partition, shards, pfl_strerror(rv));
		return rv;
	}
	if ((rv = pfli_pop_init(&s->pop, c)) != PFL_OK)
		return rv;
	s->cohort_cap = pfli_sim_cohort_cap(c);
	pfl_log(PFL_LOG_INFO,
	        "%u clients (%u data shards), %zu training examples, "
	        "partition %s",
	        s->n, shards, s->train.n, c->partition);
	return PFL_OK;
}

void
pfli_sim_client_data(const struct pfli_sim *s, uint32_t index,
                     struct pfl_client_data *d)
{
	size_t k = index % s->part.clients;

	memset(d, 0, sizeof(*d));
	d->ds = &s->train;
	d->idx = s->part.index + s->part.offset[k];
	d->n = s->part.offset[k + 1] - s->part.offset[k];
}

void
pfli_sim_unload(struct pfli_sim *s)
{
	pfli_pop_fini(&s->pop);
	pfl_partition_fini(&s->part);
	pfl_dataset_fini(&s->train);
	memset(s, 0, sizeof(*s));
}

static const char *const phases[] = {"advertise", "share", "masked", "unmask"};

/* "PHASE:P" -> phase index and P; false when malformed. */
static bool
parse_phase(const char *spec, int *phase, double *p)
{
	const char *colon = strchr(spec, ':');
	char *end;

	if (colon == NULL)
		return false;
	for (int i = 0; i < 4; i++) {
		size_t l = strlen(phases[i]);
		if ((size_t)(colon - spec) == l &&
		    !strncmp(spec, phases[i], l)) {
			*phase = i == 3 ? 4 : i;
			*p = strtod(colon + 1, &end);
			return *end == '\0' && *p >= 0 && *p <= 1;
		}
	}
	return false;
}

static bool
parse_straggler(const char *spec, double *p, double *seconds)
{
	char *end;

	*p = strtod(spec, &end);
	if (*end != ':' || *p < 0 || *p > 1)
		return false;
	*seconds = strtod(end + 1, &end);
	return *end == '\0' && *seconds >= 0 && *seconds <= 3600;
}

pfl_err
pfl_sim_config_check(const struct pfl_sim_config *c, char *err, size_t errlen)
{
	int phase;
	double p, s;

	if (c->dropout_phase && *c->dropout_phase &&
	    !parse_phase(c->dropout_phase, &phase, &p)) {
		snprintf(err, errlen,
		         "dropout_phase: '%s' is not "
		         "advertise|share|masked|unmask:P",
		         c->dropout_phase);
		return PFL_ERR_CONFIG;
	}
	if (c->straggler && *c->straggler &&
	    !parse_straggler(c->straggler, &p, &s)) {
		snprintf(err, errlen, "straggler: '%s' is not P:SECONDS",
		         c->straggler);
		return PFL_ERR_CONFIG;
	}
	if (!c->processes && c->agg.population != 0 &&
	    c->agg.population != c->clients) {
		snprintf(
		        err, errlen,
		        "population (%lld) differs from clients (%lld): in one "
		        "process the simulator draws each cohort from its "
		        "clients, and the accountant charges over them (leave "
		        "population unset)",
		        (long long)c->agg.population, (long long)c->clients);
		return PFL_ERR_CONFIG;
	}
	if (c->clients < c->agg.clients_per_round) {
		snprintf(err, errlen, "clients (%lld) < per_round (%lld)",
		         (long long)c->clients,
		         (long long)c->agg.clients_per_round);
		return PFL_ERR_CONFIG;
	}
	return PFL_OK;
}

void
pfli_sim_faults(const struct pfl_sim_config *c, struct pfl_client_faults *f)
{
	int phase;
	double p, s;

	memset(f, 0, sizeof(*f));
	f->dropout = c->dropout;
	f->dropout_phase = -1;
	if (c->dropout_phase && *c->dropout_phase &&
	    parse_phase(c->dropout_phase, &phase, &p)) {
		f->dropout = p;
		f->dropout_phase = phase;
	}
	if (c->straggler && *c->straggler &&
	    parse_straggler(c->straggler, &p, &s)) {
		f->straggler = p;
		f->straggler_ms = (int64_t)(s * 1000.0);
	}
}
