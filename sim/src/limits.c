/*
 * Whether this machine can hold a simulation, checked before anything
 * starts (docs/SIMULATOR.md, "What a population costs"). What grows:
 *
 * - with the population: only the aggregator's record of each client it
 *   has heard from (its table slot, replay state), and it hears only from
 *   the drawn: at most min(population, rounds x cohort) of them;
 * - with the cohort: a slot and a public key for each drawn client, and
 *   for each client at work an identity (secret key in sodium_malloc
 *   memory: PFLI_MAPS_PER_ID memory mappings) and its model buffers. At
 *   work at once: the worker threads' clients, or the whole cohort when it
 *   must hold on through the round (secure aggregation, stragglers,
 *   dropouts at a phase);
 * - with --processes: every client is resident in a child, as daemons are.
 *
 * The byte counts are estimates from the structures' sizes, rounded up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "privfl/log.h"
#include "sim_int.h"

/* Measured: sodium_malloc makes 4 mappings (guard pages, header, data). */
#define PFLI_MAPS_PER_ID     4
/* Mappings of the process itself: libraries, thread stacks, arenas. */
#define PFLI_MAPS_BASE       2000
/* The aggregator's table slot (2 per client heard from) and replay
 * state, per client heard from. */
#define PFLI_BYTES_PER_HEARD 640
/* A drawn client not yet at work: slot, key, cohort member record. */
#define PFLI_BYTES_PER_DRAWN 512
/* An identity (4 pages) and a pfl_client without its model buffers. */
#define PFLI_BYTES_PER_ID    (24 * 1024)

#define MIB (1024.0 * 1024.0)

/* Read one unsigned number after "key" in a file (0 when absent). */
static uint64_t
read_num(const char *path, const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t kl = strlen(key);
		if (strncmp(line, key, kl) == 0) {
			v = strtoull(line + kl, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static uint64_t
min_nonzero(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

void
pfli_sim_machine_probe(struct pfli_sim_machine *m)
{
	struct rlimit rl;
	uint64_t avail = read_num("/proc/meminfo", "MemAvailable:") * 1024;
	uint64_t cg = read_num("/sys/fs/cgroup/memory.max", "");
	uint64_t used = read_num("/sys/fs/cgroup/memory.current", "");

	/* "max" reads as 0: no cgroup limit */
	if (cg > used)
		avail = min_nonzero(avail, cg - used);
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		uint64_t vm = read_num("/proc/self/status", "VmSize:") * 1024;
		avail = min_nonzero(avail,
		                    rl.rlim_cur > vm ? rl.rlim_cur - vm : 1);
	}
	m->avail_bytes = avail;
	m->max_maps = read_num("/proc/sys/vm/max_map_count", "");
}

/* --processes: child processes (procs.c: --threads, default one a core). */
static uint64_t
procs(const struct pfl_sim_config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (c->threads > 0)
		return (uint64_t)c->threads;
	return cores > 0 ? (uint64_t)cores : 1;
}

/* Clients that keep their identity and model through the whole round. */
static bool
holds_all_round(const struct pfl_sim_config *c)
{
	return c->agg.secure_aggregation != 0 ||
	       (c->straggler != NULL && *c->straggler) ||
	       (c->dropout_phase != NULL && *c->dropout_phase);
}

/* The largest cohort a round draws: exactly ceil(per_round x overselect)
 * without DP, up to the aggregator's cap with Poisson draws. */
static uint64_t
cohort_max(const struct pfl_sim_config *c)
{
	double want = (double)c->agg.clients_per_round * c->agg.overselect;
	uint64_t m = (uint64_t)want;

	if ((double)m < want)
		m++;
	if (m > (uint64_t)c->clients)
		m = (uint64_t)c->clients;
	return c->agg.dp_mode == PFL_DP_NONE ? m : pfli_sim_cohort_cap(c);
}

struct need {
	double pop;    /* bytes that grow with the population */
	double cohort; /* bytes that grow with the cohort */
	double fixed;  /* the aggregator's and workers' model copies */
	uint64_t ids;  /* identities at once */
	uint64_t maps;
};

static void
estimate(const struct pfl_sim_config *c, size_t num_params, struct need *n)
{
	double model = (double)num_params * 4.0;
	uint64_t cohort = cohort_max(c);
	uint64_t threads =
	        c->processes ? procs(c) : (uint64_t)pfli_sim_threads(c);
	double heard = (double)c->clients;

	if ((double)c->agg.rounds * (double)cohort < heard)
		heard = (double)c->agg.rounds * (double)cohort;
	if (c->processes) {
		n->ids = (uint64_t)c->clients;
		heard = (double)c->clients;
	} else {
		n->ids = holds_all_round(c) ? cohort : threads;
		if (n->ids > cohort)
			n->ids = cohort;
	}
	n->pop = heard * PFLI_BYTES_PER_HEARD;
	/* a client at work holds 4 model-sized vectors and a reply */
	n->cohort = (double)cohort * PFLI_BYTES_PER_DRAWN +
	            (double)n->ids * (PFLI_BYTES_PER_ID + 5.0 * model);
	if (c->processes)
		n->cohort = (double)c->clients * PFLI_BYTES_PER_ID +
		            (double)threads * 5.0 * model;
	n->fixed = model * 10.0 + (double)threads * model * 6.0;
	n->maps = PFLI_MAPS_BASE + n->ids * PFLI_MAPS_PER_ID;
	if (c->processes && threads > 0)
		n->maps = PFLI_MAPS_BASE +
		          (n->ids + threads - 1) / threads * PFLI_MAPS_PER_ID;
}

static pfl_err
too_many_maps(const struct pfl_sim_config *c, const struct need *n,
              uint64_t max_maps, char *err, size_t errlen)
{
	uint64_t fit = max_maps > PFLI_MAPS_BASE
	                       ? (max_maps - PFLI_MAPS_BASE) / PFLI_MAPS_PER_ID
	                       : 0;

	if (c->processes)
		snprintf(err, errlen,
		         "%lld clients in %lld processes keep %llu identities "
		         "each, %d memory mappings apiece (sodium_malloc): "
		         "vm.max_map_count is %llu; at most %llu clients per "
		         "process",
		         (long long)c->clients, (long long)procs(c),
		         (unsigned long long)((n->maps - PFLI_MAPS_BASE) /
		                              PFLI_MAPS_PER_ID),
		         PFLI_MAPS_PER_ID, (unsigned long long)max_maps,
		         (unsigned long long)fit);
	else
		snprintf(err, errlen,
		         "a cohort of %llu keeps %llu secret keys in "
		         "sodium_malloc memory at once (%d memory mappings "
		         "each): vm.max_map_count is %llu; at most %llu "
		         "clients per round",
		         (unsigned long long)cohort_max(c),
		         (unsigned long long)n->ids, PFLI_MAPS_PER_ID,
		         (unsigned long long)max_maps, (unsigned long long)fit);
	return PFL_ERR_CONFIG;
}

pfl_err
pfli_sim_capacity(const struct pfl_sim_config *c, size_t num_params,
                  size_t examples, const struct pfli_sim_machine *m, char *err,
                  size_t errlen)
{
	struct need n;
	double avail = (double)m->avail_bytes, left;

	(void)examples;
	estimate(c, num_params, &n);
	if (m->max_maps > 0 && n.maps > m->max_maps)
		return too_many_maps(c, &n, m->max_maps, err, errlen);
	if (m->avail_bytes == 0 || n.pop + n.cohort + n.fixed <= avail)
		return PFL_OK;
	left = avail - n.fixed;
	if (c->processes || n.cohort >= left) {
		double per = n.cohort / (double)cohort_max(c);
		snprintf(err, errlen,
		         "%s of %lld needs about %.0f MiB (model of %zu "
		         "parameters), %.0f MiB are available: at most %.0f "
		         "clients %s",
		         c->processes ? "--processes with a population"
		                      : "a cohort",
		         c->processes ? (long long)c->clients
		                      : (long long)cohort_max(c),
		         (n.cohort + n.fixed) / MIB, num_params, avail / MIB,
		         left > 0 ? left / (c->processes
		                                    ? n.cohort /
		                                              (double)c->clients
		                                    : per)
		                  : 0.0,
		         c->processes ? "in all" : "per round");
		return PFL_ERR_CONFIG;
	}
	snprintf(err, errlen,
	         "a population of %lld: the aggregator keeps about %d bytes "
	         "for each client it hears from, up to min(population, "
	         "rounds x cohort) = %.0f of them, %.0f MiB; with the cohort "
	         "that is more than the %.0f MiB available: at most %.0f "
	         "clients (or fewer rounds)",
	         (long long)c->clients, PFLI_BYTES_PER_HEARD,
	         n.pop / PFLI_BYTES_PER_HEARD, n.pop / MIB, avail / MIB,
	         (left - n.cohort) / PFLI_BYTES_PER_HEARD);
	return PFL_ERR_CONFIG;
}
