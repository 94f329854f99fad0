/*
 * Fuzz the config file parser (common/src/config.c) with a table that has
 * one setting of every type, then validate, print and free.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "privfl/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct settings {
	int64_t rounds;
	double lr;
	bool secure;
	char *url;
	char *name;
	int mode;
};

static const struct pfl_cfg_entry table[] = {
        {"rounds", PFL_CFG_INT, offsetof(struct settings, rounds), "10", 1, 1e6,
         NULL, 0, "rounds"},
        {"lr", PFL_CFG_DOUBLE, offsetof(struct settings, lr), "0.1", 0, 10,
         NULL, 0, "learning rate"},
        {"secure", PFL_CFG_BOOL, offsetof(struct settings, secure), "true", 0,
         0, NULL, 0, "secure aggregation"},
        {"listen-url", PFL_CFG_STRING, offsetof(struct settings, url),
         "tcp://127.0.0.1:7070", 0, 0, NULL, PFL_CFG_URL | PFL_CFG_REQUIRED,
         "where to listen"},
        {"name", PFL_CFG_STRING, offsetof(struct settings, name), NULL, 0, 0,
         NULL, 0, "a name"},
        {"mode", PFL_CFG_ENUM, offsetof(struct settings, mode), "none", 0, 0,
         "none|central|distributed|local", 0, "dp mode"},
};
#define N (sizeof(table) / sizeof(table[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct settings s = {0};
	char err[PFL_CFG_ERRLEN];

	if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
		return 0;
	if (pfl_cfg_defaults(table, N, &s, err, sizeof(err)) != PFL_OK)
		abort();
	if (pfl_cfg_load_buf(table, N, &s, "fuzz", (const char *)data, size,
	                     err, sizeof(err)) == PFL_OK) {
		if (s.rounds < 1 || s.rounds > 1000000 || s.lr < 0 ||
		    s.lr > 10 || s.mode < 0 || s.mode > 3)
			abort();
		if (pfl_cfg_validate(table, N, &s, err, sizeof(err)) == PFL_OK)
			pfl_cfg_print_values(table, N, &s, sink);
	}
	pfl_cfg_free(table, N, &s);
	return 0;
}
