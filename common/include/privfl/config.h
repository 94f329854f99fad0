/*
 * privfl — table-driven configuration.
 *
 * A program describes every setting once in a table of pfl_cfg_entry (name,
 * type, offset into its settings struct, default, bounds, help). The file
 * parser ("key = value" lines, '#' comments), the command-line parser
 * ("--key value" or "--key=value", '-' and '_' interchangeable), --help and
 * docs/CONFIG.md are all generated from that table. Errors name the file,
 * line and key in the caller's err buffer.
 *
 * Not thread-safe on one settings object; settings are filled once at start
 * and then only read.
 */
#ifndef PRIVFL_CONFIG_H
#define PRIVFL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "privfl/err.h"

enum pfl_cfg_type {
	PFL_CFG_INT,    /* int64_t field, bounds min..max */
	PFL_CFG_DOUBLE, /* double field, bounds min..max */
	PFL_CFG_BOOL,   /* bool field: true/false/yes/no/on/off/1/0 */
	PFL_CFG_STRING, /* char * field (malloc'd, freed by pfl_cfg_free) */
	PFL_CFG_ENUM,   /* int field: index into choices "a|b|c" */
};

#define PFL_CFG_URL \
	0x1u /* string must be a tcp://, tls+tcp://, ipc://, inproc:// URL */
#define PFL_CFG_REQUIRED 0x2u /* must be set (no default) */

struct pfl_cfg_entry {
	const char *name;
	enum pfl_cfg_type type;
	size_t offset;
	const char *def; /* default, as text; NULL = empty/unset */
	double min;
	double max;
	const char *choices; /* PFL_CFG_ENUM: "a|b|c" */
	unsigned flags;
	const char *help;
};

#define PFL_CFG_ERRLEN 256

/*
 * Where parsed "key = value" pairs go: PFL_OK, PFL_ERR_NOTFOUND for an
 * unknown key, or another error, with a message in err. value is NULL for
 * a command-line option given without one (pfl_cfg_set: true for a
 * boolean, an error otherwise). Programs whose settings span several
 * tables (the simulator) supply their own.
 */
typedef pfl_err (*pfl_cfg_setter)(void *arg, const char *key, const char *value,
                                  char *err, size_t errlen);
/* Parse text in file syntax (name is used in messages: "name:line: ..."). */
pfl_err pfl_cfg_parse_text(const char *name, const char *text, size_t len,
                           pfl_cfg_setter set, void *arg, char *err,
                           size_t errlen) PFL_WUR;
/* Read a file of at most 1 MiB and parse it with pfl_cfg_parse_text. */
pfl_err pfl_cfg_read_file(const char *path, pfl_cfg_setter set, void *arg,
                          char *err, size_t errlen) PFL_WUR;

/* Fill obj with every default. */
pfl_err pfl_cfg_defaults(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                         char *err, size_t errlen) PFL_WUR;
/* Set one key from text; PFL_ERR_NOTFOUND for an unknown key. */
pfl_err pfl_cfg_set(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                    const char *key, const char *value, char *err,
                    size_t errlen) PFL_WUR;
/* Apply a "key = value" file. */
pfl_err pfl_cfg_load_file(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                          const char *path, char *err, size_t errlen) PFL_WUR;
/* Apply a buffer in file syntax; name is used in messages. */
pfl_err pfl_cfg_load_buf(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                         const char *name, const char *text, size_t len,
                         char *err, size_t errlen) PFL_WUR;
/*
 * Apply "--key value" / "--key=value" arguments from argv[first..argc). A
 * boolean given without a value (last, or followed by another option)
 * means true. Unknown options are an error.
 */
pfl_err pfl_cfg_parse_args(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                           int argc, char **argv, int first, char *err,
                           size_t errlen) PFL_WUR;
/*
 * A program's command line: an optional "--config FILE" as the first
 * argument, then "--key value" overrides (pfl_cfg_parse_args from there).
 */
pfl_err pfl_cfg_load_cli(const struct pfl_cfg_entry *tab, size_t n, void *obj,
                         int argc, char **argv, char *err,
                         size_t errlen) PFL_WUR;
/* The same two through a setter (settings spread over several tables). */
pfl_err pfl_cfg_parse_args_with(int argc, char **argv, int first,
                                pfl_cfg_setter set, void *arg, char *err,
                                size_t errlen) PFL_WUR;
pfl_err pfl_cfg_load_cli_with(int argc, char **argv, pfl_cfg_setter set,
                              void *arg, char *err, size_t errlen) PFL_WUR;
/* Check PFL_CFG_REQUIRED entries and URL flags. */
pfl_err pfl_cfg_validate(const struct pfl_cfg_entry *tab, size_t n,
                         const void *obj, char *err, size_t errlen) PFL_WUR;
/*
 * One line a setting: name, help, then "(type, min .. max; default D)"
 * (bounds for numbers only; "none" for an empty default), as in the
 * Markdown table that docs/CONFIG.md and the man pages are made from.
 */
void pfl_cfg_print_help(const struct pfl_cfg_entry *tab, size_t n, FILE *f);
void pfl_cfg_print_markdown(const struct pfl_cfg_entry *tab, size_t n,
                            const char *title, FILE *f);
/* Write current values in file syntax (strings that hold paths only). */
void pfl_cfg_print_values(const struct pfl_cfg_entry *tab, size_t n,
                          const void *obj, FILE *f);
/* Free every string the table owns in obj. Accepts NULL. */
void pfl_cfg_free(const struct pfl_cfg_entry *tab, size_t n, void *obj);
/* True when url has one of the supported nng schemes. */
bool pfl_cfg_url_is_valid(const char *url);

#endif
