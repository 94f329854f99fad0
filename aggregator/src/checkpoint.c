/*
 * Checkpoints: the aggregator's whole state after a round, written
 * atomically (temp file, fsync, rename, fsync dir) to
 * OUT/checkpoints/ckpt-<round>.bin, the last keep_checkpoints kept.
 *
 * Layout: "PFLCKPT1", then sections (tag u32 LE, length u64 LE, bytes),
 * then BLAKE2b-256 of everything before it. A file whose hash does not
 * match, or whose sections do not parse, is skipped with a warning and the
 * next older one is tried.
 *
 * SEC_REPORTS (optional: older checkpoints lack it) holds the reports of
 * the released rounds whose rounds.csv row was not written when the
 * checkpoint was: the round's own, and those still with the reporter
 * (ckpt_reports.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg_int.h"
#include "ckpt_reports.h"
#include "privfl/file.h"
#include "privfl/hash.h"
#include "privfl/log.h"

#define MAGIC "PFLCKPT1"

enum {
	SEC_META = 1,
	SEC_MODEL = 2,
	SEC_STRATEGY = 3,
	SEC_ACCOUNTANT = 4,
	SEC_AUDIT = 5,   /* the round's audit line, appended after the write */
	SEC_REPORTS = 6, /* reports whose rounds.csv row may be missing */
	SEC__MAX = 7,
};

struct meta {
	uint64_t rounds_done;
	double epsilon;
	double clip_norm;
	uint64_t num_params;
	double last_round_seconds;
	char model[48];
};

static pfl_err
put_section(struct pfl_buf *b, uint32_t tag, const void *data, size_t len)
{
	uint8_t hdr[12];
	uint64_t l = len;
	pfl_err rv;

	memcpy(hdr, &tag, 4);
	memcpy(hdr + 4, &l, 8);
	if ((rv = pfl_buf_append(b, hdr, sizeof(hdr))) != PFL_OK)
		return rv;
	return pfl_buf_append(b, data, len);
}

/* SEC_REPORTS: the reporter's unwritten reports, then the round's own. */
static pfl_err
put_reports(struct pfl_aggregator *a, struct pfl_buf *b)
{
	struct pfl_buf raw, enc;
	pfl_err rv;

	pfl_buf_init(&raw, 0);
	pfl_buf_init(&enc, 0);
	rv = pfli_report_unwritten(a, &raw);
	if (rv == PFL_OK && a->pending_report.round != 0 &&
	    !a->pending_report.aborted)
		rv = pfl_buf_append(&raw, &a->pending_report,
		                    sizeof(a->pending_report));
	if (rv == PFL_OK)
		rv = pfli_ckpt_reports_encode(
		        (const struct pfl_round_report *)(const void *)raw.data,
		        raw.len / sizeof(struct pfl_round_report), &enc);
	if (rv == PFL_OK)
		rv = put_section(b, SEC_REPORTS, enc.data, enc.len);
	pfl_buf_fini(&raw);
	pfl_buf_fini(&enc);
	return rv;
}

static void
prune(const struct pfl_aggregator *a, const char *dir)
{
	char path[4200];
	uint64_t keep_from;

	if (a->rounds_done <= (uint64_t)a->cfg.keep_checkpoints)
		return;
	keep_from = a->rounds_done - (uint64_t)a->cfg.keep_checkpoints + 1;
	for (uint64_t r = keep_from > 64 ? keep_from - 64 : 1; r < keep_from;
	     r++) {
		snprintf(path, sizeof(path), "%s/ckpt-%08llu.bin", dir,
		         (unsigned long long)r);
		unlink(path);
	}
}

pfl_err
pfli_checkpoint_write(struct pfl_aggregator *a)
{
	char dir[4096], path[4200];
	struct pfl_buf b, sub;
	struct meta m;
	uint8_t h[PFL_HASH_BYTES];
	pfl_err rv;

	memset(&m, 0, sizeof(m));
	m.rounds_done = a->rounds_done;
	m.epsilon = a->epsilon;
	m.clip_norm = a->clip_norm;
	m.num_params = a->num_params;
	m.last_round_seconds = a->last_round_seconds;
	snprintf(m.model, sizeof(m.model), "%s", a->model_name);
	snprintf(dir, sizeof(dir), "%s/checkpoints", a->cfg.out_dir);
	if ((rv = pfl_file_mkdirs(dir, 0700)) != PFL_OK ||
	    (rv = pfl_file_make_private_dir(dir)) != PFL_OK)
		return rv;
	pfl_buf_init(&b, 0);
	pfl_buf_init(&sub, 0);
	rv = pfl_buf_append(&b, MAGIC, 8);
	if (rv == PFL_OK)
		rv = put_section(&b, SEC_META, &m, sizeof(m));
	if (rv == PFL_OK)
		rv = put_section(&b, SEC_MODEL, a->global,
		                 a->num_params * sizeof(float));
	if (rv == PFL_OK)
		rv = pfl_strategy_save(a->strategy, &sub);
	if (rv == PFL_OK)
		rv = put_section(&b, SEC_STRATEGY, sub.data, sub.len);
	pfl_buf_clear(&sub);
	if (rv == PFL_OK)
		rv = pfl_accountant_save(a->acct, &sub);
	if (rv == PFL_OK)
		rv = put_section(&b, SEC_ACCOUNTANT, sub.data, sub.len);
	if (rv == PFL_OK)
		rv = put_section(&b, SEC_AUDIT, a->pending_audit.data,
		                 a->pending_audit.len);
	if (rv == PFL_OK)
		rv = put_reports(a, &b);
	if (rv == PFL_OK) {
		pfl_hash(b.data, b.len, h);
		rv = pfl_buf_append(&b, h, sizeof(h));
	}
	snprintf(path, sizeof(path), "%s/ckpt-%08llu.bin", dir,
	         (unsigned long long)a->rounds_done);
	if (rv == PFL_OK)
		rv = pfl_file_write_atomic(path, b.data, b.len, 0600);
	pfl_buf_fini(&b);
	pfl_buf_fini(&sub);
	if (rv == PFL_OK)
		prune(a, dir);
	return rv;
}

/* Parse and apply one checkpoint image; nothing is changed on error. */
static pfl_err
apply(struct pfl_aggregator *a, const uint8_t *buf, size_t len)
{
	const uint8_t *sec[SEC__MAX] = {0};
	size_t seclen[SEC__MAX] = {0};
	uint8_t h[PFL_HASH_BYTES];
	struct pfl_accountant *acct = NULL;
	struct pfl_round_report *reps = NULL;
	size_t nreps = 0;
	struct meta m;
	size_t off = 8;
	pfl_err rv;

	if (len < 8 + PFL_HASH_BYTES || memcmp(buf, MAGIC, 8) != 0)
		return PFL_ERR_FORMAT;
	len -= PFL_HASH_BYTES;
	pfl_hash(buf, len, h);
	if (memcmp(h, buf + len, PFL_HASH_BYTES) != 0)
		return PFL_ERR_FORMAT;
	while (off < len) {
		uint32_t tag;
		uint64_t l;
		if (len - off < 12)
			return PFL_ERR_FORMAT;
		memcpy(&tag, buf + off, 4);
		memcpy(&l, buf + off + 4, 8);
		off += 12;
		if (l > len - off)
			return PFL_ERR_FORMAT;
		if (tag >= 1 && tag < SEC__MAX) {
			sec[tag] = buf + off;
			seclen[tag] = (size_t)l;
		}
		off += (size_t)l;
	}
	if (sec[SEC_META] == NULL || seclen[SEC_META] != sizeof(m) ||
	    sec[SEC_MODEL] == NULL || sec[SEC_STRATEGY] == NULL ||
	    sec[SEC_ACCOUNTANT] == NULL)
		return PFL_ERR_FORMAT;
	memcpy(&m, sec[SEC_META], sizeof(m));
	m.model[sizeof(m.model) - 1] = '\0';
	if (m.num_params != a->num_params ||
	    seclen[SEC_MODEL] != a->num_params * sizeof(float) ||
	    strcmp(m.model, a->model_name) != 0)
		return PFL_ERR_FORMAT;
	if (sec[SEC_REPORTS] != NULL &&
	    (rv = pfli_ckpt_reports_decode(sec[SEC_REPORTS],
	                                   seclen[SEC_REPORTS], &reps,
	                                   &nreps)) != PFL_OK)
		return rv;
	rv = pfl_accountant_load(sec[SEC_ACCOUNTANT], seclen[SEC_ACCOUNTANT],
	                         &acct);
	if (rv != PFL_OK) {
		free(reps);
		return PFL_ERR_FORMAT;
	}
	rv = pfl_strategy_load(a->strategy, sec[SEC_STRATEGY],
	                       seclen[SEC_STRATEGY]);
	if (rv != PFL_OK) {
		pfl_accountant_free(acct);
		free(reps);
		return PFL_ERR_FORMAT;
	}
	pfl_buf_clear(&a->pending_audit);
	if (sec[SEC_AUDIT] != NULL && seclen[SEC_AUDIT] > 0 &&
	    pfl_buf_append(&a->pending_audit, sec[SEC_AUDIT],
	                   seclen[SEC_AUDIT]) != PFL_OK) {
		pfl_accountant_free(acct);
		free(reps);
		return PFL_ERR_NOMEM;
	}
	free(a->recovered);
	a->recovered = reps;
	a->nrecovered = nreps;
	memcpy(a->global, sec[SEC_MODEL], a->num_params * sizeof(float));
	pfl_accountant_free(a->acct);
	a->acct = acct;
	a->rounds_done = m.rounds_done;
	a->epsilon = m.epsilon;
	a->clip_norm = m.clip_norm;
	a->last_round_seconds = m.last_round_seconds;
	return PFL_OK;
}

static int
cmp_desc(const void *x, const void *y)
{
	unsigned long long a = *(const unsigned long long *)x;
	unsigned long long b = *(const unsigned long long *)y;

	return a < b ? 1 : a > b ? -1 : 0;
}

pfl_err
pfli_checkpoint_restore(struct pfl_aggregator *a)
{
	char dir[4096], path[4400];
	unsigned long long rounds[256];
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/checkpoints", a->cfg.out_dir);
	if ((d = opendir(dir)) == NULL)
		return PFL_ERR_NOTFOUND;
	while ((de = readdir(d)) != NULL && n < 256) {
		unsigned long long r;
		char tail[8];
		if (strstr(de->d_name, ".tmp.") != NULL) {
			/* a write cut short by a crash: never renamed, unused
			 */
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
			continue;
		}
		if (sscanf(de->d_name, "ckpt-%llu.%3s", &r, tail) == 2 &&
		    strcmp(tail, "bin") == 0 && strlen(de->d_name) == 17)
			rounds[n++] = r;
	}
	closedir(d);
	qsort(rounds, n, sizeof(rounds[0]), cmp_desc);
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		pfl_err rv;

		snprintf(path, sizeof(path), "%s/ckpt-%08llu.bin", dir,
		         rounds[i]);
		rv = pfl_file_read(path, (size_t)1 << 34, &buf, &len);
		if (rv == PFL_OK)
			rv = apply(a, buf, len);
		free(buf);
		if (rv == PFL_OK) {
			pfl_log(PFL_LOG_INFO,
			        "resumed from %s: %llu rounds done, epsilon "
			        "%.4f",
			        path, (unsigned long long)a->rounds_done,
			        a->epsilon);
			return PFL_OK;
		}
		pfl_log(PFL_LOG_WARN,
		        "checkpoint %s is unusable (%s); trying "
		        "an older one",
		        path, pfl_strerror(rv));
	}
	return PFL_ERR_NOTFOUND;
}
