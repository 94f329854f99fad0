#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/client.h"

#define F(field) offsetof(struct pfl_client_config, field)

/* The one table of privfl-client settings. */
const struct pfl_cfg_entry pfl_client_config_table[] = {
        {"server", PFL_CFG_STRING, F(server), "tcp://127.0.0.1:7700", 0, 0,
         NULL, PFL_CFG_URL, "aggregator URL"},
        {"federation_id", PFL_CFG_STRING, F(federation_id), "default", 0, 0,
         NULL, 0, "federation to join"},
        {"identity_dir", PFL_CFG_STRING, F(identity_dir), "", 0, 0, NULL, 0,
         "directory with identity.key (privfl keygen); empty = "
         "ephemeral key (only for open enrollment)"},
        {"server_key", PFL_CFG_STRING, F(server_key), "", 0, 0, NULL, 0,
         "the aggregator's .pub file: replies signed by another key "
         "are refused; required unless tls+tcp:// with tls_ca_file, or "
         "insecure"},
        {"insecure", PFL_CFG_BOOL, F(insecure), "false", 0, 0, NULL, 0,
         "run without server_key or TLS CA: any signer is trusted (tests "
         "only; logged as an error)"},
        /* secagg (issue #11 item 12) */
        {"sa_authority_key", PFL_CFG_STRING, F(sa_authority_key), "", 0, 0,
         NULL, 0,
         "the enrollment authority's .pub file (privfl enroll-authority): "
         "SecAgg neighbours' keys are used only with its certificate; "
         "empty = trust the keys the aggregator relays"},
        {"tls_ca_file", PFL_CFG_STRING, F(tls_ca_file), "", 0, 0, NULL, 0,
         "CA certificate that signed the aggregator's (tls+tcp://)"},
        {"tls_server_name", PFL_CFG_STRING, F(tls_server_name), "", 0, 0, NULL,
         0, "expected server name; empty = host of the URL"},
        {"data", PFL_CFG_STRING, F(data), "fashion-mnist", 0, 0, NULL, 0,
         "local data: fashion-mnist, a directory with the IDX "
         "training files, or a .csv file (with csv_stats)"},
        {"shard", PFL_CFG_INT, F(shard), "0", 0, 1e9, NULL, 0,
         "use only shard i of shards (for demos on shared data)"},
        {"shards", PFL_CFG_INT, F(shards), "1", 1, 1e9, NULL, 0,
         "number of shards the data is cut into"},
        {"eval_data", PFL_CFG_STRING, F(eval_data), "", 0, 0, NULL, 0,
         "held-out data for federated evaluation (same formats as data, "
         "test files of an IDX directory, sharded alike); empty = hold "
         "out eval_fraction of data"},
        {"eval_fraction", PFL_CFG_DOUBLE, F(eval_fraction), "0.1", 0, 0.9, NULL,
         0,
         "share of data held out (never trained on) to evaluate the "
         "global model on, by a fixed hash of each example's index; 0 = "
         "no federated evaluation"},
        {"csv_stats", PFL_CFG_STRING, F(csv_stats), "", 0, 0, NULL, 0,
         "preprocessing statistics of CSV data (privfl data stats); "
         "required with a .csv data file"},
        {"csv_label", PFL_CFG_STRING, F(csv_label), "", 0, 0, NULL, 0,
         "label column of CSV data; empty = the one csv_stats names "
         "(else it must match)"},
        {"max_message_mb", PFL_CFG_INT, F(max_message_mb), "64", 1, 1024, NULL,
         0, "largest message accepted, MiB"},
        {"request_timeout_ms", PFL_CFG_INT, F(request_timeout_ms), "60000", 100,
         3600000, NULL, 0, "deadline of one request/reply"},
        {"backoff_min_ms", PFL_CFG_INT, F(backoff_min_ms), "500", 1, 3600000,
         NULL, 0, "first retry delay after an error"},
        {"backoff_max_ms", PFL_CFG_INT, F(backoff_max_ms), "60000", 1, 86400000,
         NULL, 0,
         "longest retry delay (exponential, "
         "jittered)"},
        {"seed", PFL_CFG_INT, F(seed), "0", 0, 9e15, NULL, 0,
         "local shuffling seed (0 = random)"},
        {"max_rounds", PFL_CFG_INT, F(max_rounds), "0", 0, 1e12, NULL, 0,
         "exit after delivering this many updates; 0 = run until "
         "stopped"},
        {"log_level", PFL_CFG_STRING, F(log_level), "info", 0, 0, NULL, 0,
         "error, warn, info or debug"},
        {"min_dp_mode", PFL_CFG_ENUM, F(min_dp_mode), "none", 0, 0,
         "none|central|distributed|local", 0,
         "weakest DP mode accepted (none < central < distributed < "
         "local)"},
        {"min_noise_multiplier", PFL_CFG_DOUBLE, F(min_noise_multiplier), "0",
         0, 1000, NULL, 0,
         "smallest noise multiplier accepted, noise added on this device "
         "/ clip norm; 0 = any"},
        {"max_clip_norm", PFL_CFG_DOUBLE, F(max_clip_norm), "0", 0, 1e6, NULL,
         0,
         "largest clip norm accepted; 0 = any (else unclipped plans are "
         "refused)"},
        {"require_secure_aggregation", PFL_CFG_ENUM,
         F(require_secure_aggregation), "off", 0, 0, "off|secagg|secagg+", 0,
         "weakest secure aggregation accepted (off < secagg+ < secagg)"},
        {"min_aggregate_clients", PFL_CFG_INT, F(min_aggregate_clients), "1", 1,
         1e6, NULL, 0,
         "fewest clients in any sum the server can see (1 without secure "
         "aggregation, its threshold with it)"},
        {"max_participations", PFL_CFG_INT, F(max_participations), "0", 0, 1e6,
         NULL, 0,
         "take part in at most this many rounds per participation_window "
         "rounds; 0 = unlimited"},
        {"participation_window", PFL_CFG_INT, F(participation_window), "100", 1,
         1e9, NULL, 0, "rounds over which max_participations counts"},
};

const size_t pfl_client_config_table_len =
        sizeof(pfl_client_config_table) / sizeof(pfl_client_config_table[0]);

pfl_err
pfl_client_config_init(struct pfl_client_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return pfl_cfg_defaults(pfl_client_config_table,
	                        pfl_client_config_table_len, c, err, errlen);
}

void
pfl_client_config_fini(struct pfl_client_config *c)
{
	pfl_cfg_free(pfl_client_config_table, pfl_client_config_table_len, c);
}

void
pfl_client_config_policy(const struct pfl_client_config *c,
                         struct pfl_client_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->min_dp_mode = (uint8_t)c->min_dp_mode;
	pol->min_noise_multiplier = c->min_noise_multiplier;
	pol->max_clip_norm = c->max_clip_norm;
	pol->min_sa_mode = (uint8_t)c->require_secure_aggregation;
	pol->min_aggregate_clients = (uint32_t)c->min_aggregate_clients;
	pol->max_participations = (uint32_t)c->max_participations;
	pol->participation_window = (uint32_t)c->participation_window;
}

pfl_err
pfl_client_config_new(struct pfl_client_config **out)
{
	struct pfl_client_config *c = malloc(sizeof(*c));
	pfl_err rv;

	if (c == NULL)
		return PFL_ERR_NOMEM;
	if ((rv = pfl_client_config_init(c, NULL, 0)) != PFL_OK) {
		pfl_client_config_fini(c);
		free(c);
		return rv;
	}
	*out = c;
	return PFL_OK;
}

void
pfl_client_config_free(struct pfl_client_config *c)
{
	if (c == NULL)
		return;
	pfl_client_config_fini(c);
	free(c);
}

pfl_err
pfl_client_config_set(struct pfl_client_config *c, const char *name,
                      const char *value, char *err, size_t errlen)
{
	char buf[PFL_CFG_ERRLEN];

	if (c == NULL || name == NULL || value == NULL)
		return PFL_ERR_INVAL;
	return pfl_cfg_set(pfl_client_config_table, pfl_client_config_table_len,
	                   c, name, value, err ? err : buf,
	                   err ? errlen : sizeof(buf));
}
