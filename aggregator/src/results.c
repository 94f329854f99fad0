/*
 * What a run leaves behind: rounds.csv, model files, progress lines.
 *
 * rounds.csv after a kill -9 (docs/OPERATIONS.md, section 5): a row cut
 * short is removed at resume, and the rows of released rounds that the
 * checkpoint holds but the file lacks are written again before any new
 * one (the reporter writes a round's row after its checkpoint, so a kill
 * in between loses it otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/file.h"
#include "privfl/layout.h"
#include "privfl/log.h"
#include "privfl/safetensors.h"

#define CSV_HEADER                                                         \
	"round,accuracy,loss,epsilon,delta,selected,survived,bytes_up,"    \
	"bytes_down,seconds,train_loss,clip_norm,noise_multiplier,status," \
	"fed_eval_loss,fed_eval_accuracy,fed_eval_examples,checkins\n"

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

/* The federated evaluation columns (15-17) and checkins (18) of a
 * rounds.csv line. */
static void
fed_eval_reload(const char *line, struct pfl_round_report *r)
{
	unsigned long long n = 0;
	const char *p = line;

	r->fed_eval_loss = r->fed_eval_accuracy = NAN;
	r->fed_eval_examples = 0;
	for (int commas = 0; p != NULL && commas < 14; commas++)
		if ((p = strchr(p, ',')) != NULL)
			p++;
	/* checkins (column 18) is absent from files written before it */
	if (p == NULL || sscanf(p, "%lf,%lf,%llu,%u", &r->fed_eval_loss,
	                        &r->fed_eval_accuracy, &n, &r->checkins) < 3)
		return;
	r->fed_eval_examples = n;
}

/* One row of rounds.csv back into a report; false if it is not one. */
static bool
parse_row(const char *line, struct pfl_round_report *r)
{
	char status[16];
	unsigned long long round, up, down;

	memset(r, 0, sizeof(*r));
	if (sscanf(line,
	           "%llu,%lf,%lf,%lf,%lf,%u,%u,%llu,%llu,%lf,%lf,%lf,"
	           "%lf,%15[^,\n]",
	           &round, &r->accuracy, &r->loss, &r->epsilon, &r->delta,
	           &r->selected, &r->survived, &up, &down, &r->seconds,
	           &r->train_loss, &r->clip_norm, &r->noise_sigma,
	           status) != 14)
		return false;
	fed_eval_reload(line, r);
	r->round = round;
	r->bytes_up = up;
	r->bytes_down = down;
	r->aborted = strcmp(status, "ok") != 0;
	return true;
}

/* ",loss,accuracy,examples,checkins\n" (the evaluation nan and 0 for a
 * round without any). */
static void
fed_eval_columns(FILE *f, const struct pfl_round_report *r)
{
	bool none = r->aborted || r->fed_eval_examples == 0;

	fprintf(f, ",%.6f,%.6f,%llu,%u\n", none ? NAN : r->fed_eval_loss,
	        none ? NAN : r->fed_eval_accuracy,
	        none ? 0ULL : (unsigned long long)r->fed_eval_examples,
	        r->checkins);
}

static void
write_row(FILE *f, const struct pfl_round_report *r)
{
	fprintf(f,
	        "%llu,%.6f,%.6f,%.6f,%.3g,%u,%u,%llu,%llu,%.3f,%.6f,%.6g,%.6g,"
	        "%s",
	        (unsigned long long)r->round, r->accuracy, r->loss, r->epsilon,
	        r->delta, r->selected, r->survived,
	        (unsigned long long)r->bytes_up,
	        (unsigned long long)r->bytes_down, r->seconds, r->train_loss,
	        r->clip_norm, r->noise_sigma, r->aborted ? "aborted" : "ok");
	fed_eval_columns(f, r);
	fflush(f);
}

/* Resuming: the rounds already in rounds.csv go back into the history. */
static void
history_reload(struct pfl_aggregator *a, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct pfl_round_report r;
		if (parse_row(line, &r) && r.round <= a->rounds_done)
			history_add(a, &r);
	}
	fclose(f);
}

/* A kill in the middle of a row: cut the file after its last newline. */
static void
cut_partial_row(const char *path)
{
	char buf[512];
	int fd = open(path, O_RDWR);
	off_t end, from;
	ssize_t n;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
	n = end > 0 ? pread(fd, buf, (size_t)(end - from), from) : 0;
	if (n > 0 && buf[n - 1] != '\n') {
		ssize_t i = n;
		while (i > 0 && buf[i - 1] != '\n')
			i--;
		/* no newline in the last 512 bytes: not a row cut short
		 * (rows are shorter), leave the file alone */
		if (i == 0 && from > 0)
			pfl_log(PFL_LOG_WARN, "%s: does not end with a newline",
			        path);
		else if (ftruncate(fd, from + i) == 0)
			pfl_log(PFL_LOG_WARN,
			        "%s: removed a row cut short by a crash", path);
	}
	close(fd);
}

/* Whether rounds.csv has an "ok" row for round. */
static bool
has_row(const char *path, uint64_t round)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		struct pfl_round_report r;
		found = parse_row(line, &r) && !r.aborted && r.round == round;
	}
	fclose(f);
	return found;
}

/*
 * Resuming: write the rows of released rounds that the checkpoint holds
 * and rounds.csv lacks, in round order. The checkpoint's own round is
 * evaluated again (its model is the one restored); an earlier one, whose
 * model is gone, keeps accuracy and loss nan.
 */
static void
restore_rows(struct pfl_aggregator *a, const char *path)
{
	for (size_t i = 0; i < a->nrecovered; i++) {
		struct pfl_round_report r = a->recovered[i];
		if (r.aborted || r.round == 0 || r.round > a->rounds_done ||
		    has_row(path, r.round))
			continue;
		if (r.round == a->rounds_done && a->have_test)
			pfli_report_evaluate(a, a->global, &r);
		write_row(a->csv, &r);
		pfl_log(PFL_LOG_WARN,
		        "rounds.csv: round %llu's row was lost in a crash; "
		        "written again from the checkpoint%s",
		        (unsigned long long)r.round,
		        r.round == a->rounds_done || !a->have_test
		                ? ""
		                : " (not evaluated: its model is gone)");
	}
	free(a->recovered);
	a->recovered = NULL;
	a->nrecovered = 0;
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
	if (!fresh)
		cut_partial_row(path);
	if ((a->csv = fopen(path, fresh ? "w" : "a")) == NULL) {
		pfl_log(PFL_LOG_ERROR, "cannot open %s: %s", path,
		        strerror(errno));
		return PFL_ERR_IO;
	}
	if (fresh)
		fputs(CSV_HEADER, a->csv);
	fflush(a->csv);
	if (a->rounds_done > 0) {
		restore_rows(a, path);
		history_reload(a, path);
	}
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
	char eta[32], accs[48], eps[32];

	if (a->csv != NULL)
		write_row(a->csv, r);
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
	if (isnan(r->accuracy) && r->fed_eval_examples > 0)
		snprintf(accs, sizeof(accs), "fed acc %.4f loss %.4f",
		         r->fed_eval_accuracy, r->fed_eval_loss);
	else if (isnan(r->accuracy))
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
	if (a->layout != NULL)
		return pfl_layout_save(a->layout, a->global, meta, 4, path);
	return pfl_safetensors_save(&a->spec, a->global, meta, 4, path);
}
