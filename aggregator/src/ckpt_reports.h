/*
 * The checkpoint's SEC_REPORTS section (ckpt_reports.c): the reports of
 * released rounds whose rounds.csv row was not written yet when the
 * checkpoint was, so that a resume can write them (results.c).
 *
 * Layout: a count (u64), then per report PFLI_CKPT_REPORT_BYTES bytes:
 * 16 fields of 8 bytes in host order (as the rest of the checkpoint):
 * round, accuracy, loss, train_loss, epsilon, delta, selected, survived,
 * bytes_up, bytes_down, seconds, clip_norm, noise_sigma, fed_eval_loss,
 * fed_eval_accuracy, fed_eval_examples. The reports of
 * abandoned rounds are never stored (nothing of them was released).
 */
#ifndef PRIVFL_CKPT_REPORTS_H
#define PRIVFL_CKPT_REPORTS_H

#include <stddef.h>

#include "privfl/aggregator.h"
#include "privfl/buf.h"
#include "privfl/err.h"

#define PFLI_CKPT_REPORT_BYTES (16 * 8)
/* At most this many reports in a section (the reporter lags by a few). */
#define PFLI_CKPT_MAX_REPORTS  4096

/* Append the section's bytes for reps[0..n) (aborted ones skipped). */
pfl_err pfli_ckpt_reports_encode(const struct pfl_round_report *reps, size_t n,
                                 struct pfl_buf *out) PFL_WUR;

/*
 * Decode a section into a new array (*out, *n; free it with free; NULL
 * and 0 when it holds none). On error nothing is allocated.
 * @return PFL_OK; PFL_ERR_FORMAT (length not count x record, count over
 *         PFLI_CKPT_MAX_REPORTS, a count field over 32 bits); NOMEM
 */
pfl_err pfli_ckpt_reports_decode(const uint8_t *sec, size_t len,
                                 struct pfl_round_report **out,
                                 size_t *n) PFL_WUR;

#endif
