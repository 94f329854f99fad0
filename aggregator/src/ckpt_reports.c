/* The checkpoint's SEC_REPORTS section (ckpt_reports.h). */
#include "ckpt_reports.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
put_u64(uint8_t **p, uint64_t v)
{
	memcpy(*p, &v, 8);
	*p += 8;
}

static void
put_f64(uint8_t **p, double v)
{
	memcpy(*p, &v, 8);
	*p += 8;
}

static uint64_t
get_u64(const uint8_t **p)
{
	uint64_t v;

	memcpy(&v, *p, 8);
	*p += 8;
	return v;
}

static double
get_f64(const uint8_t **p)
{
	double v;

	memcpy(&v, *p, 8);
	*p += 8;
	return v;
}

static void
encode_one(const struct pfl_round_report *r,
           uint8_t out[PFLI_CKPT_REPORT_BYTES])
{
	uint8_t *p = out;

	put_u64(&p, r->round);
	put_f64(&p, r->accuracy);
	put_f64(&p, r->loss);
	put_f64(&p, r->train_loss);
	put_f64(&p, r->epsilon);
	put_f64(&p, r->delta);
	put_u64(&p, r->selected);
	put_u64(&p, r->survived);
	put_u64(&p, r->bytes_up);
	put_u64(&p, r->bytes_down);
	put_f64(&p, r->seconds);
	put_f64(&p, r->clip_norm);
	put_f64(&p, r->noise_sigma);
	put_f64(&p, r->fed_eval_loss);
	put_f64(&p, r->fed_eval_accuracy);
	put_u64(&p, r->fed_eval_examples);
}

/* false if a 32-bit count does not fit */
static bool
decode_one(const uint8_t in[PFLI_CKPT_REPORT_BYTES], struct pfl_round_report *r)
{
	const uint8_t *p = in;
	uint64_t sel, surv;

	memset(r, 0, sizeof(*r));
	r->round = get_u64(&p);
	r->accuracy = get_f64(&p);
	r->loss = get_f64(&p);
	r->train_loss = get_f64(&p);
	r->epsilon = get_f64(&p);
	r->delta = get_f64(&p);
	sel = get_u64(&p);
	surv = get_u64(&p);
	r->bytes_up = get_u64(&p);
	r->bytes_down = get_u64(&p);
	r->seconds = get_f64(&p);
	r->clip_norm = get_f64(&p);
	r->noise_sigma = get_f64(&p);
	r->fed_eval_loss = get_f64(&p);
	r->fed_eval_accuracy = get_f64(&p);
	r->fed_eval_examples = get_u64(&p);
	if (sel > UINT32_MAX || surv > UINT32_MAX)
		return false;
	r->selected = (uint32_t)sel;
	r->survived = (uint32_t)surv;
	return true;
}

pfl_err
pfli_ckpt_reports_encode(const struct pfl_round_report *reps, size_t n,
                         struct pfl_buf *out)
{
	uint8_t rec[PFLI_CKPT_REPORT_BYTES];
	uint64_t count = 0;
	size_t at = out->len;
	pfl_err rv;

	for (size_t i = 0; i < n; i++)
		count += !reps[i].aborted;
	if (count > PFLI_CKPT_MAX_REPORTS)
		count = PFLI_CKPT_MAX_REPORTS; /* the newest are dropped */
	if ((rv = pfl_buf_append(out, &count, 8)) != PFL_OK)
		return rv;
	for (size_t i = 0, k = 0; i < n && k < count; i++) {
		if (reps[i].aborted)
			continue;
		encode_one(&reps[i], rec);
		if ((rv = pfl_buf_append(out, rec, sizeof(rec))) != PFL_OK) {
			out->len = at;
			return rv;
		}
		k++;
	}
	return PFL_OK;
}

pfl_err
pfli_ckpt_reports_decode(const uint8_t *sec, size_t len,
                         struct pfl_round_report **out, size_t *n)
{
	struct pfl_round_report *r;
	uint64_t count;

	*out = NULL;
	*n = 0;
	if (len < 8)
		return PFL_ERR_FORMAT;
	memcpy(&count, sec, 8);
	if (count > PFLI_CKPT_MAX_REPORTS ||
	    len - 8 != count * PFLI_CKPT_REPORT_BYTES)
		return PFL_ERR_FORMAT;
	if (count == 0)
		return PFL_OK;
	if ((r = calloc((size_t)count, sizeof(*r))) == NULL)
		return PFL_ERR_NOMEM;
	for (uint64_t i = 0; i < count; i++)
		if (!decode_one(sec + 8 + i * PFLI_CKPT_REPORT_BYTES, &r[i])) {
			free(r);
			return PFL_ERR_FORMAT;
		}
	*out = r;
	*n = (size_t)count;
	return PFL_OK;
}
