/* What a run leaves behind: rounds.csv, model files, progress lines. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/file.h"
#include "privfl/log.h"
#include "privfl/safetensors.h"

#define CSV_HEADER                                                         \
	"round,accuracy,loss,epsilon,delta,selected,survived,bytes_up,"    \
	"bytes_down,seconds,train_loss,clip_norm,noise_multiplier,status," \
	"checkins\n"

static void
history_add(struct pfl_aggregator *a, const struct pfl_round_report *r)
{
	if (a->nhistory == a->caphistory) {
		size_t cap = a->caphistory ? a->caphistory * 2 : 64;
		struct pfl_round_report *h =
		        realloc(a->history, cap * sizeof(*h));
		if (h == NULL)
			return;
		a->history = h;
		a->caphistory = cap;
	}
	a->history[a->nhistory++] = *r;
}

/* Resuming: the rounds already in rounds.csv go back into the history. */
static void
history_reload(struct pfl_aggregator *a, const char *path)
{
	char line[512], status[16];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct pfl_round_report r;
		unsigned long long round, up, down;
		memset(&r, 0, sizeof(r));
		if (sscanf(line,
		           "%llu,%lf,%lf,%lf,%lf,%u,%u,%llu,%llu,%lf,%lf,%lf,"
		           "%lf,%15[^,\n],%u",
		           &round, &r.accuracy, &r.loss, &r.epsilon, &r.delta,
		           &r.selected, &r.survived, &up, &down, &r.seconds,
		           &r.train_loss, &r.clip_norm, &r.noise_sigma, status,
		           &r.checkins) < 14 ||
		    round > a->rounds_done)
			continue;
		r.round = round;
		r.bytes_up = up;
		r.bytes_down = down;
		r.aborted = strcmp(status, "ok") != 0;
		history_add(a, &r);
	}
	fclose(f);
}

static void
warn_if_shared(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0 && (st.st_mode & 0077) != 0)
		pfl_log(PFL_LOG_WARN,
		        "out_dir %s is mode %04o: other users can list it "
		        "(the files that name clients are 0600); chmod 700 "
		        "it to hide them",
		        dir, (unsigned)(st.st_mode & 07777));
}

pfl_err
pfli_results_open(struct pfl_aggregator *a)
{
	char path[4096];
	bool fresh;
	pfl_err rv;

	/* audit.log and checkpoints/ name clients: 0700 when created here;
	 * an existing directory open to others is reported, not changed */
	if ((rv = pfl_file_mkdirs(a->cfg.out_dir, 0700)) != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "cannot create %s: %s", a->cfg.out_dir,
		        pfl_strerror(rv));
		return rv;
	}
	warn_if_shared(a->cfg.out_dir);
	snprintf(path, sizeof(path), "%s/rounds.csv", a->cfg.out_dir);
	fresh = a->rounds_done == 0 || access(path, F_OK) != 0;
	if ((a->csv = fopen(path, fresh ? "w" : "a")) == NULL) {
		pfl_log(PFL_LOG_ERROR, "cannot open %s: %s", path,
		        strerror(errno));
		return PFL_ERR_IO;
	}
	if (fresh)
		fputs(CSV_HEADER, a->csv);
	else
		history_reload(a, path);
	/* A person watching: a progress bar; a log file: timestamped lines. */
	a->tty = isatty(STDERR_FILENO) == 1;
	fflush(a->csv);
	return PFL_OK;
}

static void
fmt_duration(double s, char *out, size_t len)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(out, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
	else if (t >= 60)
		snprintf(out, len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(out, len, "%lds", t);
}

void
pfli_results_round(struct pfl_aggregator *a, const struct pfl_round_report *r)
{
	/* rounds released by now (this runs on the reporter's thread) */
	uint64_t done = r->aborted && r->round > 0 ? r->round - 1 : r->round;
	double elapsed = pfl_clock_sec() - a->run_started;
	double per = done > 0 ? elapsed / (double)done : 0;
	double left = done < (uint64_t)a->cfg.rounds
	                      ? (double)((uint64_t)a->cfg.rounds - done) * per
	                      : 0;
	char eta[32], accs[32], eps[32];

	if (a->csv != NULL) {
		fprintf(a->csv,
		        "%llu,%.6f,%.6f,%.6f,%.3g,%u,%u,%llu,%llu,%.3f,%.6f,%."
		        "6g,"
		        "%.6g,%s,%u\n",
		        (unsigned long long)r->round, r->accuracy, r->loss,
		        r->epsilon, r->delta, r->selected, r->survived,
		        (unsigned long long)r->bytes_up,
		        (unsigned long long)r->bytes_down, r->seconds,
		        r->train_loss, r->clip_norm, r->noise_sigma,
		        r->aborted ? "aborted" : "ok", r->checkins);
		fflush(a->csv);
	}
	pthread_mutex_lock(&a->mtx);
	a->last = *r;
	if (r->aborted)
		a->aborted_rounds++;
	history_add(a, r);
	pthread_mutex_unlock(&a->mtx);
	if (a->observer != NULL)
		a->observer(a->observer_arg, r);
	if (r->aborted)
		return;
	fmt_duration(left, eta, sizeof(eta));
	if (isnan(r->accuracy))
		snprintf(accs, sizeof(accs), "acc -");
	else
		snprintf(accs, sizeof(accs), "acc %.4f loss %.4f", r->accuracy,
		         r->loss);
	if (a->cfg.dp_mode != PFL_DP_NONE)
		snprintf(eps, sizeof(eps), " eps %.3f", r->epsilon);
	else
		eps[0] = '\0';
	if (a->tty && pfl_log_level_current >= PFL_LOG_INFO) {
		char bar[21];
		size_t fill =
		        (size_t)(20.0 * (double)done / (double)a->cfg.rounds);
		for (size_t i = 0; i < 20; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[20] = '\0';
		fprintf(stderr,
		        "round %llu/%lld [%s] %s%s  clients %u/%u  %.2f s/round"
		        "  ETA %s\n",
		        (unsigned long long)r->round, (long long)a->cfg.rounds,
		        bar, accs, eps, r->survived, r->selected, r->seconds,
		        eta);
		return;
	}
	pfl_log(PFL_LOG_INFO,
	        "round %llu/%lld  %s%s  clients %u/%u  %.2fs  ETA %s",
	        (unsigned long long)r->round, (long long)a->cfg.rounds, accs,
	        eps, r->survived, r->selected, r->seconds, eta);
}

pfl_err
pfli_results_save_model(struct pfl_aggregator *a, const char *name)
{
	char path[4096], round[32], eps[64];
	struct pfl_st_meta meta[4] = {
	        {"format", "privfl"},
	        {"model", a->model_name},
	        {"round", round},
	        {"epsilon", eps},
	};

	snprintf(path, sizeof(path), "%s/%s", a->cfg.out_dir, name);
	snprintf(round, sizeof(round), "%llu",
	         (unsigned long long)a->rounds_done);
	snprintf(eps, sizeof(eps), "%.6f (delta %.3g)", a->epsilon,
	         a->cfg.dp_mode != PFL_DP_NONE ? a->cfg.delta : 0);
	return pfl_safetensors_save(&a->spec, a->global, meta, 4, path);
}
