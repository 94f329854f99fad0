#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/aggregator.h"
#include "privfl/secagg.h"
#include "privfl/strategy.h"

#define F(field) offsetof(struct pfl_agg_config, field)
#define BIG      1e15

/* The one table of aggregator settings: file, flags, --help, docs/CONFIG.md. */
const struct pfl_cfg_entry pfl_agg_config_table[] = {
        {"listen", PFL_CFG_STRING, F(listen), "tcp://127.0.0.1:7700", 0, 0,
         NULL, PFL_CFG_URL,
         "URL to serve (tcp://, tls+tcp://, ipc://, inproc://)"},
        {"federation_id", PFL_CFG_STRING, F(federation_id), "default", 0, 0,
         NULL, 0, "federation name; messages for another are refused"},
        {"identity_dir", PFL_CFG_STRING, F(identity_dir), "", 0, 0, NULL, 0,
         "directory with identity.key (privfl keygen); empty = "
         "ephemeral key"},
        {"enrolled_keys", PFL_CFG_STRING, F(enrolled_keys), "", 0, 0, NULL, 0,
         "allow-list: directory of *.pub or file of keys; empty = "
         "any client (open enrollment); reloaded on SIGHUP"},
        {"revoked_keys", PFL_CFG_STRING, F(revoked_keys), "", 0, 0, NULL, 0,
         "keys always refused, also under open enrollment; reloaded "
         "on SIGHUP"},
        /* secagg (issue #11 item 12) */
        {"sa_enroll_certs", PFL_CFG_STRING, F(sa_enroll_certs), "", 0, 0, NULL,
         0,
         "directory of *.cert files (privfl enroll) relayed to SecAgg "
         "neighbours, who check them against the enrollment authority; "
         "empty = none"},
        {"tls_cert_key_file", PFL_CFG_STRING, F(tls_cert_key_file), "", 0, 0,
         NULL, 0, "PEM with certificate and key, for tls+tcp://"},
        {"max_message_mb", PFL_CFG_INT, F(max_message_mb), "64", 1, 1024, NULL,
         0, "largest message accepted, MiB"},
        {"workers", PFL_CFG_INT, F(workers), "4", 1, 256, NULL, 0,
         "requests served concurrently"},
        {"max_connections", PFL_CFG_INT, F(max_connections), "4096", 1, 1000000,
         NULL, 0,
         "connections accepted at once, each a file descriptor: with "
         "64 more it must fit under the descriptor limit (checked at "
         "start); memory is bounded by connections x max_message_mb"},
        {"client_rate", PFL_CFG_DOUBLE, F(client_rate), "50", 0.1, 1e6, NULL, 0,
         "requests per second one client key may make (burst: 4 s "
         "worth); more are refused with retry-after"},
        {"request_timeout_ms", PFL_CFG_INT, F(request_timeout_ms), "30000", 100,
         3600000, NULL, 0, "deadline of one request/reply"},
        {"max_clock_skew_ms", PFL_CFG_INT, F(max_clock_skew_ms), "30000", 0,
         600000, NULL, 0,
         "how far ahead of the aggregator's clock a client's message "
         "time may be (messages may be up to 10 min old)"},
        {"http_listen", PFL_CFG_STRING, F(http_listen), "", 0, 0, NULL, 0,
         "http://host:port for /metrics, /status and the status "
         "page; empty = off"},
        {"model", PFL_CFG_STRING, F(model), "mlp", 0, 0, NULL, 0,
         "architecture: logreg, mlp, mlp:H1,H2, cnn, or custom (the "
         "tensors of init_model, any architecture)"},
        {"input_shape", PFL_CFG_STRING, F(input_shape), "1x28x28", 0, 0, NULL,
         0, "CxHxW of one sample (tabular: 1x1xD)"},
        {"classes", PFL_CFG_INT, F(classes), "10", 2, 100000, NULL, 0,
         "number of classes"},
        {"init_model", PFL_CFG_STRING, F(init_model), "", 0, 0, NULL, 0,
         "safetensors file with the initial weights (model custom: "
         "required, and it defines the model); empty = seeded init"},
        {"seed", PFL_CFG_INT, F(seed), "1", 0, 9e15, NULL, 0,
         "seed of the initial model (selection uses the OS CSPRNG)"},
        {"rounds", PFL_CFG_INT, F(rounds), "50", 1, 10000000, NULL, 0,
         "rounds to run"},
        {"clients_per_round", PFL_CFG_INT, F(clients_per_round), "10", 1,
         1000000, NULL, 0, "target number of results aggregated per round"},
        {"min_clients", PFL_CFG_INT, F(min_clients), "3", 1, 1000000, NULL, 0,
         "fewest results that may be aggregated at the deadline"},
        {"overselect", PFL_CFG_DOUBLE, F(overselect), "1.3", 1.0, 10.0, NULL, 0,
         "clients selected per target result (stragglers)"},
        {"population", PFL_CFG_INT, F(population), "0", 0, 1e12, NULL, 0,
         "number of clients that could be drawn (enrolled): fixes "
         "the DP sampling rate; required with dp_mode central"},
        {"selection_window_ms", PFL_CFG_INT, F(selection_window_ms), "1000", 10,
         3600000, NULL, 0, "how long check-ins are sampled for a round"},
        {"round_timeout_s", PFL_CFG_DOUBLE, F(round_timeout_s), "120", 0.1,
         86400, NULL, 0, "deadline for results after selection"},
        {"phase_timeout_s", PFL_CFG_DOUBLE, F(phase_timeout_s), "30", 0.05,
         86400, NULL, 0, "deadline of each secure-aggregation phase"},
        {"checkin_interval_ms", PFL_CFG_INT, F(checkin_interval_ms), "1000", 5,
         3600000, NULL, 0, "base retry-after given to idle clients"},
        {"local_epochs", PFL_CFG_INT, F(local_epochs), "1", 1, 1000, NULL, 0,
         "local epochs per round"},
        {"batch", PFL_CFG_INT, F(batch), "32", 1, 100000, NULL, 0,
         "local batch size"},
        {"lr", PFL_CFG_DOUBLE, F(lr), "0.05", 0, 100, NULL, 0,
         "client learning rate"},
        {"momentum", PFL_CFG_DOUBLE, F(momentum), "0", 0, 0.999, NULL, 0,
         "client SGD momentum"},
        {"weight_decay", PFL_CFG_DOUBLE, F(weight_decay), "0", 0, 1, NULL, 0,
         "client weight decay"},
        {"prox_mu", PFL_CFG_DOUBLE, F(prox_mu), "0", 0, 100, NULL, 0,
         "FedProx proximal term mu (strategy fedprox: default 0.01)"},
        {"weight_cap", PFL_CFG_DOUBLE, F(weight_cap), "0", 0, 1e9, NULL, 0,
         "weight updates by min(examples, cap)/cap; 0 = by examples "
         "(no DP) or uniform (DP)"},
        {"strategy", PFL_CFG_ENUM, F(strategy), "fedavg", 0, 0,
         "fedavg|fedavgm|fedadam|fedyogi|fedadagrad|fedprox", 0,
         PFL_STRATEGY_DEFAULTS_HELP},
        {"server_lr", PFL_CFG_DOUBLE, F(server_lr), "0", 0, 100, NULL, 0,
         PFL_STRATEGY_LR_HELP},
        {"server_momentum", PFL_CFG_DOUBLE, F(server_momentum), "0.9", 0, 0.999,
         NULL, 0, "FedAvgM server momentum (Hsu et al. 2019)"},
        {"beta1", PFL_CFG_DOUBLE, F(beta1), "0.9", 0, 0.9999, NULL, 0,
         "FedAdam/FedYogi/FedAdagrad first-moment decay (Reddi et al. "
         "2021)"},
        {"beta2", PFL_CFG_DOUBLE, F(beta2), "0.99", 0, 0.99999, NULL, 0,
         "FedAdam/FedYogi second-moment decay (Reddi et al. 2021)"},
        {"tau", PFL_CFG_DOUBLE, F(tau), "0.001", 1e-12, 10, NULL, 0,
         "adaptivity tau (epsilon) of FedAdam/FedYogi/FedAdagrad; 0.001 "
         "as Reddi et al. 2021 recommend"},
        {"secure_aggregation", PFL_CFG_ENUM, F(secure_aggregation), "off", 0, 0,
         "off|secagg|secagg+", 0, "secure aggregation protocol"},
        {"sa_threshold", PFL_CFG_INT, F(sa_threshold), "0", 0, 1000000, NULL, 0,
         "Shamir threshold t; 0 = chosen from the cohort"},
        {"sa_neighbours", PFL_CFG_INT, F(sa_neighbours), "0", 0, 1000000, NULL,
         0, "secagg+ neighbours k; 0 = chosen (Bell et al.)"},
        {"sa_dropout", PFL_CFG_DOUBLE, F(sa_dropout), "0.3", 0, 0.9, NULL, 0,
         "fraction of the cohort that may drop out"},
        {"sa_corrupt", PFL_CFG_DOUBLE, F(sa_corrupt), "0.1", 0, 0.5, NULL, 0,
         "fraction of the cohort that may collude with the server"},
        {"dp_mode", PFL_CFG_ENUM, F(dp_mode), "none", 0, 0,
         "none|central|distributed|local", 0, "who adds the DP noise"},
        {"noise_multiplier", PFL_CFG_DOUBLE, F(noise_multiplier), "1.0", 0,
         1000, NULL, 0, "z: noise stddev = z * clip_norm"},
        {"clip_norm", PFL_CFG_DOUBLE, F(clip_norm), "0", 0, 1e6, NULL, 0,
         "L2 clip of each update (initial value if adaptive); 0 = "
         "off (required > 0 with DP)"},
        {"adaptive_clip", PFL_CFG_BOOL, F(adaptive_clip), "false", 0, 0, NULL,
         0, "adapt clip_norm to a quantile (central DP)"},
        {"clip_target_quantile", PFL_CFG_DOUBLE, F(clip_target_quantile), "0.5",
         0, 1, NULL, 0, "adaptive clipping target quantile"},
        {"clip_lr", PFL_CFG_DOUBLE, F(clip_lr), "0.2", 0, 10, NULL, 0,
         "adaptive clipping learning rate"},
        {"clip_count_stddev", PFL_CFG_DOUBLE, F(clip_count_stddev), "0", 0, 1e6,
         NULL, 0, "noise on the clipped count; 0 = clients_per_round/20"},
        {"epsilon_budget", PFL_CFG_DOUBLE, F(epsilon_budget), "0", 0, 1e6, NULL,
         0, "stop before epsilon would exceed this; 0 = none"},
        {"delta", PFL_CFG_DOUBLE, F(delta), "1e-5", 1e-15, 0.5, NULL, 0,
         "delta of the reported (epsilon, delta)"},
        {"accountant", PFL_CFG_ENUM, F(accountant), "rdp", 0, 0, "rdp|pld", 0,
         "privacy accountant"},
        {"test_data", PFL_CFG_STRING, F(test_data), "fashion-mnist", 0, 0, NULL,
         0,
         "server-side test set: fashion-mnist, a directory with "
         "the IDX files, a .csv file (with csv_stats), or none"},
        {"csv_stats", PFL_CFG_STRING, F(csv_stats), "", 0, 0, NULL, 0,
         "preprocessing statistics of a CSV test_data (privfl data "
         "stats), the file the clients use"},
        {"eval_every", PFL_CFG_INT, F(eval_every), "1", 0, 1000000, NULL, 0,
         "evaluate every N rounds (0 = only at the end)"},
        {"out_dir", PFL_CFG_STRING, F(out_dir), "privfl-out", 0, 0, NULL, 0,
         "rounds.csv, model.safetensors, checkpoints, audit.log"},
        {"keep_checkpoints", PFL_CFG_INT, F(keep_checkpoints), "3", 1, 1000,
         NULL, 0, "checkpoints kept"},
        {"save_every_round", PFL_CFG_BOOL, F(save_every_round), "false", 0, 0,
         NULL, 0, "also write model-<round>.safetensors"},
        {"resume", PFL_CFG_BOOL, F(resume), "true", 0, 0, NULL, 0,
         "resume from the newest valid checkpoint in out_dir"},
        {"log_level", PFL_CFG_STRING, F(log_level), "info", 0, 0, NULL, 0,
         "error, warn, info or debug"},
};

const size_t pfl_agg_config_table_len =
        sizeof(pfl_agg_config_table) / sizeof(pfl_agg_config_table[0]);

pfl_err
pfl_agg_config_init(struct pfl_agg_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	return pfl_cfg_defaults(pfl_agg_config_table, pfl_agg_config_table_len,
	                        cfg, err, errlen);
}

void
pfl_agg_config_fini(struct pfl_agg_config *cfg)
{
	pfl_cfg_free(pfl_agg_config_table, pfl_agg_config_table_len, cfg);
}

/*
 * A SecAgg+ cohort too large for the complete graph (PFL_SA_MAX_N_FULL)
 * needs a sparse graph with sa_dropout's and sa_corrupt's guarantees;
 * without one every round would be refused. Said at start, with the
 * largest sa_dropout (in steps of 0.05) that has one. The searches are
 * remembered (pfl_sa_choose_params_min), so the first round pays nothing.
 */
static pfl_err
check_sa_plus(const struct pfl_agg_config *c, char *err, size_t errlen)
{
	double want = ceil((double)c->clients_per_round * c->overselect);
	uint32_t n, k = 0, t = 0, min = (uint32_t)c->min_clients;
	double d;

	if (c->secure_aggregation != PFL_SA_PLUS || c->sa_neighbours != 0 ||
	    c->sa_threshold != 0 || want <= PFL_SA_MAX_N_FULL ||
	    want > PFL_SA_MAX_N_PLUS)
		return PFL_OK;
	n = (uint32_t)want;
	if (pfl_sa_choose_params_min(PFL_SA_PLUS, n, c->sa_dropout,
	                             c->sa_corrupt, min, &k,
	                             &t) != PFL_ERR_CONFIG)
		return PFL_OK; /* found, or a failure the round will report */
	/* whole hundredths, so that the value proposed is the value tried */
	for (long h = lround(c->sa_dropout * 100) - 5;; h -= 5) {
		d = (double)h / 100;
		if (h <= 0 ||
		    pfl_sa_choose_params_min(PFL_SA_PLUS, n, d, c->sa_corrupt,
		                             min, &k, &t) == PFL_OK)
			break;
	}
	if (d > 0.01)
		snprintf(
		        err, errlen,
		        "secure_aggregation secagg+ with cohorts of %u "
		        "(clients_per_round x overselect): no graph of at most "
		        "%u neighbours tolerates sa_dropout %g with sa_corrupt "
		        "%g; sa_dropout %.2f does (k = %u, t = %u)",
		        n, PFL_SA_MAX_K, c->sa_dropout, c->sa_corrupt, d, k, t);
	else
		snprintf(
		        err, errlen,
		        "secure_aggregation secagg+ with cohorts of %u "
		        "(clients_per_round x overselect): no graph of at most "
		        "%u neighbours tolerates sa_corrupt %g; lower it",
		        n, PFL_SA_MAX_K, c->sa_corrupt);
	return PFL_ERR_CONFIG;
}

pfl_err
pfl_agg_config_check(const struct pfl_agg_config *c, char *err, size_t errlen)
{
	pfl_err rv;

	rv = pfl_cfg_validate(pfl_agg_config_table, pfl_agg_config_table_len, c,
	                      err, errlen);
	if (rv != PFL_OK)
		return rv;
#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return PFL_ERR_CONFIG;              \
	} while (0)
	if (c->listen == NULL || *c->listen == '\0')
		FAIL("listen: required");
	if (c->min_clients > c->clients_per_round)
		FAIL("min_clients (%lld) exceeds clients_per_round (%lld)",
		     (long long)c->min_clients,
		     (long long)c->clients_per_round);
	if (c->dp_mode != PFL_DP_NONE && c->clip_norm <= 0)
		FAIL("dp_mode %s needs clip_norm > 0",
		     c->dp_mode == PFL_DP_CENTRAL       ? "central"
		     : c->dp_mode == PFL_DP_DISTRIBUTED ? "distributed"
		                                        : "local");
	if (c->dp_mode == PFL_DP_DISTRIBUTED && c->secure_aggregation == 0)
		FAIL("dp_mode distributed needs secure_aggregation secagg or "
		     "secagg+");
	if (c->dp_mode != PFL_DP_NONE && c->noise_multiplier <= 0)
		FAIL("dp_mode needs noise_multiplier > 0");
	if (c->dp_mode != PFL_DP_NONE && c->weight_cap > 0)
		FAIL("weight_cap must be 0 with DP (updates are weighted "
		     "uniformly so that one client's influence is bounded)");
	if (c->adaptive_clip && c->dp_mode != PFL_DP_CENTRAL &&
	    c->dp_mode != PFL_DP_NONE)
		FAIL("adaptive_clip is supported with dp_mode central or none");
	if (c->secure_aggregation != 0 && c->min_clients < PFLI_SA_MIN_CLIENTS)
		FAIL("secure aggregation needs min_clients >= 3 (with two, "
		     "each would learn the other's update from the sum)");
	if ((rv = pfli_privacy_check_config(c, err, errlen)) != PFL_OK)
		return rv;
	if ((rv = check_sa_plus(c, err, errlen)) != PFL_OK)
		return rv;
	if (strncmp(c->listen, "tls+", 4) == 0 &&
	    (c->tls_cert_key_file == NULL || *c->tls_cert_key_file == '\0'))
		FAIL("listen %s needs tls_cert_key_file", c->listen);
#undef FAIL
	return PFL_OK;
}
