/*
 * privfl — run a client from the daemon's settings by name, with the
 * caller's trainer: the entry point of the Python package (python/privfl,
 * docs/PYTHON.md) and of embedders that keep their data and training in
 * their own code. Everything else (pinning, identity, policy, clipping,
 * noise, quantization, secure aggregation, signing, network, back-off)
 * is the client library's, as in privfl-client.
 */
#ifndef PRIVFL_CLIENT_RUN_H
#define PRIVFL_CLIENT_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/client.h"

struct pfl_client_run_opts {
	/* settings of the client config table (docs/CONFIG.md, privfl-client)
	 * as strings: keys[i] = values[i]; "data", "shard", "shards",
	 * "csv_stats", "csv_label", "eval_data" and "eval_fraction" do not
	 * apply (the trainer has the data) and are refused */
	const char *const *keys;
	const char *const *values;
	size_t nsettings;
	const struct pfl_trainer *trainer; /* required */
	/* the layout digest of the custom model the trainer trains
	 * (privfl/layout.h), or NULL for the built-in models */
	const uint8_t *layout_digest;
	/* set non-zero (from any thread, or the trainer) to stop; may be
	 * NULL */
	volatile sig_atomic_t *stop;
	char *err; /* a settings error in words (may be NULL) */
	size_t errlen;
};

/*
 * Apply the settings, then pfl_client_run_config with the trainer and the
 * layout digest: run until max_rounds rounds were released with this
 * client's update, or *stop. Blocks the calling thread; the trainer runs
 * on it.
 * @return PFL_OK (stopped or max_rounds reached); PFL_ERR_CONFIG (a bad
 *         setting, see err; the server not pinned); errors loading the
 *         identity or keys, reaching the server, or a fatal client error
 *         (e.g. the server's key is not the pinned one)
 */
pfl_err pfl_client_run_settings(const struct pfl_client_run_opts *o) PFL_WUR;

#endif
