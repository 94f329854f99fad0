/*
 * privfl — logging.
 *
 * pfl_log(level, fmt, ...) checks the level before evaluating its arguments.
 * The sink and the level are process-wide and must be set before threads
 * start; emitting is thread-safe (one line is written with one call).
 * Never log keys, seeds, masks, noise values, raw updates or weights: log
 * lengths and short fingerprints (pfl_log_fingerprint) instead.
 */
#ifndef PRIVFL_LOG_H
#define PRIVFL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum pfl_log_level {
	PFL_LOG_ERROR = 0,
	PFL_LOG_WARN = 1,
	PFL_LOG_INFO = 2,
	PFL_LOG_DEBUG = 3,
};

typedef void (*pfl_log_sink_fn)(void *arg, int level, const char *line);

extern int pfl_log_level_current;
/* This thread's own ceiling (pfl_log_set_thread_max); DEBUG = none. */
extern _Thread_local int pfl_log_thread_max;

#define pfl_log(lvl, ...)                                 \
	do {                                              \
		if ((lvl) <= pfl_log_level_current &&     \
		    (lvl) <= pfl_log_thread_max)          \
			pfl_log_emit((lvl), __VA_ARGS__); \
	} while (0)

void pfl_log_emit(int level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Install a sink (NULL restores stderr). Call before threads start. */
void pfl_log_set_sink(pfl_log_sink_fn fn, void *arg);
void pfl_log_set_level(int level);
/*
 * Lines above level are dropped on the calling thread only (the process's
 * level still applies): a simulator's worker threads, which step thousands
 * of virtual clients, keep their clients' errors and drop the rest.
 */
void pfl_log_set_thread_max(int level);
/* Parse "error|warn|info|debug"; returns -1 when unknown. */
int pfl_log_level_parse(const char *name);
/*
 * Set the level by name (a program's log_level setting). Returns false,
 * with "log_level: '...' is not error, warn, info or debug" in err, when
 * the name is unknown.
 */
bool pfl_log_set_level_name(const char *name, char *err, size_t errlen);

#endif
