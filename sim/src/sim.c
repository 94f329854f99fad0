/*
 * The simulator: one in-process aggregator thread and N virtual clients
 * stepped by a pool of worker threads over inproc:// (or tcp:// for
 * --processes, see procs.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/client.h"
#include "privfl/clock.h"
#include "privfl/log.h"
#include "privfl/model.h"
#include "privfl/partition.h"
#include "sim_int.h"

struct agg_thread {
	struct pfl_aggregator *a;
	pthread_t thr;
	pfl_err rv;
	atomic_int done; /* set by the aggregator's thread */
};

static void
observe(void *arg, const struct pfl_round_report *r)
{
	struct pfl_sim_result *res = arg;

	if (r->aborted) {
		res->aborted_rounds++;
		return;
	}
	res->rounds = r->round;
	if (!isnan(r->accuracy)) {
		res->accuracy = r->accuracy;
		res->loss = r->loss;
	}
	res->epsilon = r->epsilon;
	res->delta = r->delta;
}

/*
 * The virtual clients pin their aggregator's key and hold a privacy policy
 * that matches the federation's plan, so that they run the same checks as
 * a device: its DP and secure aggregation modes at least, its clip norm at
 * most (unless adaptive), and in local DP its noise multiplier.
 */
static void
client_policy(const struct pfl_sim_config *c, struct pfl_client_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->min_dp_mode = (uint8_t)c->agg.dp_mode;
	pol->min_sa_mode = (uint8_t)c->agg.secure_aggregation;
	if (c->agg.dp_mode != PFL_DP_NONE && !c->agg.adaptive_clip)
		pol->max_clip_norm = c->agg.clip_norm;
	if (c->agg.dp_mode == PFL_DP_LOCAL)
		pol->min_noise_multiplier = c->agg.noise_multiplier * 0.999;
}

void
pfli_sim_client_opts(const struct pfl_sim_config *c, struct pfli_sim *sim,
                     const uint8_t *server_pk)
{
	struct pfl_client_opts *o = &sim->opts;

	memset(o, 0, sizeof(*o));
	memcpy(sim->server_pk, server_pk, 32);
	o->federation_id = c->agg.federation_id;
	o->server_key = sim->server_pk;
	o->limits.max_msg_bytes = (size_t)c->agg.max_message_mb << 20;
	o->limits.max_vector_bytes = o->limits.max_msg_bytes;
	o->limits.max_payload_bytes = o->limits.max_msg_bytes;
	o->backoff_min_ms = 50;
	o->backoff_max_ms = 2000;
	client_policy(c, &o->policy);
	pfli_sim_faults(c, &o->faults);
}

/* The aggregator's cap on a cohort (round.c's open_round). */
uint32_t
pfli_sim_cohort_cap(const struct pfl_sim_config *c)
{
	double want = (double)c->agg.clients_per_round * c->agg.overselect;
	double cap = want * 3 + 16;

	if (cap > (double)c->clients + 1)
		cap = (double)c->clients + 1;
	return (uint32_t)cap;
}

int64_t
pfli_sim_threads(const struct pfl_sim_config *c)
{
	/* A worker is idle while the aggregator's threads handle its
	 * request (verify, aggregate, sign the reply): with one per core the
	 * cores were busy 1.4 of 2; with four per core, 1.75 of 2, and the
	 * issue's IID run took 6.4-6.9 s instead of 6.9-8.0 s. */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	return c->threads > 0 ? c->threads
	                      : 4 * (int64_t)(cores > 0 ? cores : 1);
}

static void *
agg_main(void *arg)
{
	struct agg_thread *t = arg;

	t->rv = pfl_aggregator_run(t->a);
	t->done = 1;
	return NULL;
}

static pfl_err
run_threads(const struct pfl_sim_config *c, struct pfli_sim *sim,
            struct pfl_aggregator *a)
{
	struct agg_thread at;
	pfl_err rv;

	memset(&at, 0, sizeof(at));
	at.a = a;
	if (pthread_create(&at.thr, NULL, agg_main, &at) != 0)
		return PFL_ERR_NOMEM;
	rv = pfli_sim_workers(c, sim, c->agg.listen, 0, 0, pfli_sim_threads(c),
	                      &at.done, a);
	if (rv != PFL_OK)
		pfl_aggregator_stop(a);
	pthread_join(at.thr, NULL);
	return at.rv != PFL_OK ? at.rv : rv;
}

/* Before anything starts: can this machine hold the simulation? */
static pfl_err
check_machine(const struct pfl_sim_config *c, const struct pfli_sim *sim)
{
	struct pfli_sim_machine m;
	struct pfl_model_spec spec;
	char err[512];
	size_t np = 0;
	pfl_err rv;

	if (pfl_model_spec_parse(c->agg.model, sim->train.c, sim->train.h,
	                         sim->train.w, sim->train.classes,
	                         &spec) == PFL_OK)
		np = pfl_model_spec_num_params(&spec);
	pfli_sim_machine_probe(&m);
	rv = pfli_sim_capacity(c, np, sim->train.n, &m, err, sizeof(err));
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_ERROR, "cannot hold this simulation: %s", err);
	return rv;
}

pfl_err
pfl_sim_run(const struct pfl_sim_config *c, struct pfl_sim_result *res)
{
	struct pfli_sim sim;
	struct pfl_sim_config cfg = *c;
	struct pfl_aggregator *a = NULL;
	char url[128];
	double t0 = pfl_clock_sec();
	pfl_err rv;

	memset(res, 0, sizeof(*res));
	memset(&sim, 0, sizeof(sim));
	cfg.agg.out_dir = c->out;
	if (cfg.agg.population == 0)
		cfg.agg.population = c->clients;
	if ((rv = pfl_sim_config_resolve(&cfg, NULL, 0)) != PFL_OK)
		goto out;
	snprintf(url, sizeof(url), "inproc://privfl-sim-%ld", (long)getpid());
	cfg.agg.listen = url;
	if ((rv = pfli_sim_load(&cfg, &sim)) != PFL_OK ||
	    (rv = check_machine(&cfg, &sim)) != PFL_OK)
		goto out;
	if (c->processes &&
	    (rv = pfli_sim_pick_url(&cfg, url, sizeof(url))) != PFL_OK)
		goto out;
	if ((rv = pfl_aggregator_new(&cfg.agg, &a)) != PFL_OK)
		goto out;
	pfl_aggregator_set_observer(a, observe, res);
	pfli_sim_client_opts(&cfg, &sim, pfl_aggregator_public_key(a));
	rv = c->processes ? pfli_sim_run_processes(&cfg, &sim, a)
	                  : run_threads(&cfg, &sim, a);
out:
	res->seconds = pfl_clock_sec() - t0;
	res->peak_resident = sim.peak_resident;
	pfl_aggregator_free(a);
	pfli_sim_unload(&sim);
	return rv;
}
