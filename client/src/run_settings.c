/* pfl_client_run_settings: a client from settings by name (client_run.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "privfl/client_run.h"
#include "privfl/log.h"

static const char *const unused_keys[] = {
        "data",      "shard",     "shards",       "csv_stats",
        "csv_label", "eval_data", "eval_fraction"};

static bool
is_unused(const char *key)
{
	for (size_t k = 0; k < sizeof(unused_keys) / sizeof(*unused_keys); k++)
		if (strcmp(key, unused_keys[k]) == 0)
			return true;
	return false;
}

static pfl_err
apply_settings(const struct pfl_client_run_opts *o,
               struct pfl_client_config *cfg, char *err, size_t errlen)
{
	pfl_err rv = PFL_OK;

	for (size_t i = 0; rv == PFL_OK && i < o->nsettings; i++) {
		if (is_unused(o->keys[i])) {
			snprintf(
			        err, errlen,
			        "%s: not a setting here (the trainer reads its "
			        "own data)",
			        o->keys[i]);
			return PFL_ERR_CONFIG;
		}
		rv = pfl_client_config_set(cfg, o->keys[i], o->values[i], err,
		                           errlen);
	}
	if (rv == PFL_OK)
		rv = pfl_cfg_validate(pfl_client_config_table,
		                      pfl_client_config_table_len, cfg, err,
		                      errlen);
	if (rv == PFL_OK &&
	    !pfl_log_set_level_name(cfg->log_level, err, errlen))
		rv = PFL_ERR_CONFIG;
	return rv;
}

pfl_err
pfl_client_run_settings(const struct pfl_client_run_opts *o)
{
	struct pfl_client_config *cfg = NULL;
	char err[PFL_CFG_ERRLEN] = "";
	pfl_err rv;

	if (o == NULL || o->trainer == NULL || o->trainer->train == NULL ||
	    (o->nsettings > 0 && (o->keys == NULL || o->values == NULL)))
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((rv = pfl_client_config_new(&cfg)) != PFL_OK)
		return rv;
	rv = apply_settings(o, cfg, err, sizeof(err));
	if (rv != PFL_OK) {
		if (o->err != NULL && o->errlen > 0)
			snprintf(o->err, o->errlen, "%s", err);
		goto out;
	}
	cfg->layout_digest = o->layout_digest;
	rv = pfl_client_run_config(cfg, o->trainer, NULL, o->stop);
out:
	pfl_client_config_free(cfg);
	return rv;
}
