#include "privfl/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int pfl_log_level_current = PFL_LOG_INFO;
_Thread_local int pfl_log_thread_max = PFL_LOG_DEBUG;

static pfl_log_sink_fn sink_fn;
static void *sink_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
pfl_log_set_sink(pfl_log_sink_fn fn, void *arg)
{
	sink_fn = fn;
	sink_arg = arg;
}

void
pfl_log_set_level(int level)
{
	if (level < PFL_LOG_ERROR)
		level = PFL_LOG_ERROR;
	if (level > PFL_LOG_DEBUG)
		level = PFL_LOG_DEBUG;
	pfl_log_level_current = level;
}

void
pfl_log_set_thread_max(int level)
{
	if (level < PFL_LOG_ERROR)
		level = PFL_LOG_ERROR;
	if (level > PFL_LOG_DEBUG)
		level = PFL_LOG_DEBUG;
	pfl_log_thread_max = level;
}

int
pfl_log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (name != NULL && strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

bool
pfl_log_set_level_name(const char *name, char *err, size_t errlen)
{
	int lvl = pfl_log_level_parse(name);

	if (lvl < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			         "log_level: '%s' is not error, warn, info or "
			         "debug",
			         name != NULL ? name : "");
		return false;
	}
	pfl_log_set_level(lvl);
	return true;
}

void
pfl_log_emit(int level, const char *fmt, ...)
{
	char line[1024];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level < 0 || level > PFL_LOG_DEBUG)
		level = PFL_LOG_ERROR;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s ", stamp,
	             ts.tv_nsec / 1000000, level_names[level]);
	if (n < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (sink_fn != NULL) {
		sink_fn(sink_arg, level, line);
		return;
	}
	fprintf(stderr, "%s\n", line);
}
