#include <stddef.h>
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
         "are refused; empty = any key"},
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
         "training files, or a .csv file"},
        {"shard", PFL_CFG_INT, F(shard), "0", 0, 1e9, NULL, 0,
         "use only shard i of shards (for demos on shared data)"},
        {"shards", PFL_CFG_INT, F(shards), "1", 1, 1e9, NULL, 0,
         "number of shards the data is cut into"},
        {"csv_label", PFL_CFG_STRING, F(csv_label), "label", 0, 0, NULL, 0,
         "label column of a CSV file"},
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
