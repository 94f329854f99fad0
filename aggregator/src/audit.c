/*
 * The audit log: one JSON line per round, chained by BLAKE2b-256 (see
 * privfl/audit.h for the format and docs/OPERATIONS.md for the fields).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agg_int.h"
#include "privfl/audit.h"
#include "privfl/file.h"
#include "privfl/hash.h"
#include "privfl/log.h"

#define JSON_MAX_DEPTH 64

/* ---- a strict JSON reader (RFC 8259 grammar) ---- */

struct jp {
	const char *s;
	size_t n;
	size_t i;
	int depth;
};

static int jp_value(struct jp *p);

static void
jp_ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	                       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int
jp_peek(const struct jp *p)
{
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int
is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
jp_string(struct jp *p)
{
	if (jp_peek(p) != '"')
		return -1;
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\')
			continue;
		if (p->i >= p->n)
			return -1;
		c = (unsigned char)p->s[p->i++];
		if (c == 'u') {
			for (int k = 0; k < 4; k++, p->i++)
				if (p->i >= p->n || !is_hex(p->s[p->i]))
					return -1;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
			return -1;
		}
	}
	return -1;
}

static int
jp_digits(struct jp *p)
{
	size_t start = p->i;

	while (p->i < p->n && is_digit(p->s[p->i]))
		p->i++;
	return p->i > start ? 0 : -1;
}

static int
jp_number(struct jp *p)
{
	if (jp_peek(p) == '-')
		p->i++;
	if (jp_peek(p) == '0')
		p->i++;
	else if (jp_digits(p) != 0)
		return -1;
	if (jp_peek(p) == '.') {
		p->i++;
		if (jp_digits(p) != 0)
			return -1;
	}
	if (jp_peek(p) == 'e' || jp_peek(p) == 'E') {
		p->i++;
		if (jp_peek(p) == '+' || jp_peek(p) == '-')
			p->i++;
		if (jp_digits(p) != 0)
			return -1;
	}
	return 0;
}

static int
jp_literal(struct jp *p, const char *lit)
{
	size_t l = strlen(lit);

	if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0)
		return -1;
	p->i += l;
	return 0;
}

/* Containers: '[' value, ... ']' or '{' "key": value, ... '}'. */
static int
jp_container(struct jp *p, int open, int close)
{
	if (++p->depth > JSON_MAX_DEPTH)
		return -1;
	p->i++;
	jp_ws(p);
	if (jp_peek(p) == close) {
		p->i++;
		p->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			if (jp_string(p) != 0)
				return -1;
			jp_ws(p);
			if (jp_peek(p) != ':')
				return -1;
			p->i++;
			jp_ws(p);
		}
		if (jp_value(p) != 0)
			return -1;
		jp_ws(p);
		if (jp_peek(p) == close) {
			p->i++;
			p->depth--;
			return 0;
		}
		if (jp_peek(p) != ',')
			return -1;
		p->i++;
		jp_ws(p);
	}
}

static int
jp_value(struct jp *p)
{
	int c = jp_peek(p);

	switch (c) {
	case '{':
		return jp_container(p, '{', '}');
	case '[':
		return jp_container(p, '[', ']');
	case '"':
		return jp_string(p);
	case 't':
		return jp_literal(p, "true");
	case 'f':
		return jp_literal(p, "false");
	case 'n':
		return jp_literal(p, "null");
	default:
		return c == '-' || is_digit(c) ? jp_number(p) : -1;
	}
}

pfl_err
pfl_json_check(const char *s, size_t len)
{
	struct jp p = {s, len, 0, 0};

	if (s == NULL)
		return PFL_ERR_FORMAT;
	jp_ws(&p);
	if (jp_value(&p) != 0)
		return PFL_ERR_FORMAT;
	jp_ws(&p);
	return p.i == p.n ? PFL_OK : PFL_ERR_FORMAT;
}

/* ---- one audit line ---- */

struct line_info {
	uint64_t round;
	const char *prev; /* 64 hex digits, or NULL when absent */
	size_t close;     /* offset of the object's closing '}' */
};

static int
key_is(const struct jp *p, size_t kstart, size_t kend, const char *name)
{
	size_t l = strlen(name);

	return kend - kstart == l + 2 &&
	       memcmp(p->s + kstart + 1, name, l) == 0;
}

static int
parse_round(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || (s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
check_member(const struct jp *p, const size_t span[3], struct line_info *li,
             int *seen, const char **why)
{
	const char *v = p->s + span[2];
	size_t vlen = p->i - span[2];

	if (key_is(p, span[0], span[1], "round")) {
		if ((*seen & 1) || parse_round(v, vlen, &li->round) != 0) {
			*why = "\"round\" is repeated or not a positive "
			       "integer";
			return -1;
		}
		*seen |= 1;
	} else if (key_is(p, span[0], span[1], "prev")) {
		if (*seen & 2 || vlen != 66 || v[0] != '"' || v[65] != '"') {
			*why = "\"prev\" is repeated or not 64 hex digits";
			return -1;
		}
		for (size_t k = 1; k < 65; k++)
			if (!is_digit(v[k]) && !(v[k] >= 'a' && v[k] <= 'f')) {
				*why = "\"prev\" is not 64 lower-case hex "
				       "digits";
				return -1;
			}
		li->prev = v + 1;
		*seen |= 2;
	}
	return 0;
}

/* Parse a line: a JSON object with "round" and (optionally) "prev". */
static int
parse_line(const char *s, size_t len, struct line_info *li, const char **why)
{
	struct jp p = {s, len, 0, 1};
	int seen = 0;

	memset(li, 0, sizeof(*li));
	*why = "not a JSON object";
	if (jp_peek(&p) != '{')
		return -1;
	p.i++;
	jp_ws(&p);
	while (jp_peek(&p) != '}') {
		size_t span[3] = {p.i, 0, 0}; /* key start, key end, value */
		if (jp_string(&p) != 0)
			return -1;
		span[1] = p.i;
		jp_ws(&p);
		if (jp_peek(&p) != ':')
			return -1;
		p.i++;
		jp_ws(&p);
		span[2] = p.i;
		if (jp_value(&p) != 0)
			return -1;
		if (check_member(&p, span, li, &seen, why) != 0)
			return -1;
		*why = "not a JSON object";
		jp_ws(&p);
		if (jp_peek(&p) == ',') {
			p.i++;
			jp_ws(&p);
			if (jp_peek(&p) == '}')
				return -1;
		} else if (jp_peek(&p) != '}') {
			return -1;
		}
	}
	li->close = p.i++;
	if (p.i != len) {
		*why = "bytes after the JSON object";
		return -1;
	}
	if (!(seen & 1)) {
		*why = "no \"round\"";
		return -1;
	}
	return 0;
}

/* ---- the verifier: lines fed in pieces ---- */

struct vstate {
	struct pfl_audit_summary sum;
	uint64_t good_bytes;
	struct pfl_buf partial;
	struct pfl_audit_error *err;
	uint64_t bad_line;
};

static int
fail(struct vstate *st, uint64_t line, const char *why)
{
	st->bad_line = line;
	if (st->err != NULL) {
		st->err->line = line;
		snprintf(st->err->why, sizeof(st->err->why), "%s", why);
		st->err->good_bytes = st->good_bytes;
		st->err->torn = 0;
	}
	return -1;
}

static int
check_line(struct vstate *st, const char *s, size_t len)
{
	uint64_t no = st->sum.lines + 1;
	char expect[2 * PFL_HASH_BYTES + 1], msg[96];
	struct line_info li;
	const char *why;

	if (len == 0)
		return fail(st, no, "empty line");
	if (parse_line(s, len, &li, &why) != 0)
		return fail(st, no, why);
	if (li.prev == NULL)
		return fail(st, no, "no \"prev\" (hash of the previous line)");
	pfl_hash_hex(st->sum.last_hash, PFL_HASH_BYTES, expect);
	if (memcmp(li.prev, expect, 2 * PFL_HASH_BYTES) != 0) {
		if (no == 1)
			return fail(st, no,
			            "\"prev\" of the first line is not zeros");
		snprintf(msg, sizeof(msg),
		         "\"prev\" does not match the hash of line %llu",
		         (unsigned long long)(no - 1));
		return fail(st, no, msg);
	}
	if (no > 1 && li.round <= st->sum.max_round)
		st->sum.reruns++;
	if (li.round > st->sum.max_round)
		st->sum.max_round = li.round;
	st->sum.last_round = li.round;
	pfl_hash(s, len, st->sum.last_hash);
	st->sum.lines = no;
	st->good_bytes += len + 1;
	return 0;
}

static int
feed(struct vstate *st, const uint8_t *data, size_t len)
{
	while (len > 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t piece = nl != NULL ? (size_t)(nl - data) : len;

		if (st->partial.len + piece > PFL_AUDIT_MAX_LINE)
			return fail(
			        st, st->sum.lines + 1,
			        "line longer than PFL_AUDIT_MAX_LINE (16 MiB)");
		if (nl == NULL)
			return pfl_buf_append(&st->partial, data, len) == PFL_OK
			               ? 0
			               : fail(st, 0, "out of memory");
		if (st->partial.len == 0) {
			if (check_line(st, (const char *)data, piece) != 0)
				return -1;
		} else {
			if (pfl_buf_append(&st->partial, data, piece) != PFL_OK)
				return fail(st, 0, "out of memory");
			if (check_line(st, (const char *)st->partial.data,
			               st->partial.len) != 0)
				return -1;
			pfl_buf_clear(&st->partial);
		}
		data += piece + 1;
		len -= piece + 1;
	}
	return 0;
}

static int
finish(struct vstate *st)
{
	if (st->partial.len == 0)
		return 0;
	fail(st, st->sum.lines + 1, "last line is incomplete (no newline)");
	if (st->err != NULL)
		st->err->torn = 1;
	return -1;
}

static void
vstate_init(struct vstate *st, struct pfl_audit_error *err)
{
	memset(st, 0, sizeof(*st));
	pfl_buf_init(&st->partial, 0);
	st->err = err;
}

static pfl_err
verify_stream(FILE *f, struct vstate *st)
{
	uint8_t chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (feed(st, chunk, n) != 0)
			return st->bad_line == 0 ? PFL_ERR_NOMEM
			                         : PFL_ERR_FORMAT;
	if (ferror(f))
		return PFL_ERR_IO;
	return finish(st) == 0 ? PFL_OK : PFL_ERR_FORMAT;
}

pfl_err
pfl_audit_verify_mem(const uint8_t *data, size_t len,
                     struct pfl_audit_summary *sum, struct pfl_audit_error *err)
{
	struct vstate st;
	pfl_err rv = PFL_OK;

	vstate_init(&st, err);
	if (len > 0 && feed(&st, data, len) != 0)
		rv = st.bad_line == 0 ? PFL_ERR_NOMEM : PFL_ERR_FORMAT;
	else if (finish(&st) != 0)
		rv = PFL_ERR_FORMAT;
	pfl_buf_fini(&st.partial);
	if (rv == PFL_OK && sum != NULL)
		*sum = st.sum;
	return rv;
}

pfl_err
pfl_audit_verify_file(const char *path, struct pfl_audit_summary *sum,
                      struct pfl_audit_error *err)
{
	struct vstate st;
	FILE *f;
	pfl_err rv;

	if ((f = fopen(path, "rb")) == NULL)
		return errno == ENOENT ? PFL_ERR_NOTFOUND : PFL_ERR_IO;
	vstate_init(&st, err);
	rv = verify_stream(f, &st);
	fclose(f);
	pfl_buf_fini(&st.partial);
	if (rv == PFL_OK && sum != NULL)
		*sum = st.sum;
	return rv;
}

/* ---- the aggregator's side ---- */

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* A torn last line (crash in the middle of a write) is cut off. */
static pfl_err
repair_torn(FILE *f, const char *path, const struct pfl_audit_error *e)
{
	pfl_log(PFL_LOG_WARN,
	        "%s: line %llu is incomplete (interrupted write); removing it",
	        path, (unsigned long long)e->line);
	if (ftruncate(fileno(f), (off_t)e->good_bytes) != 0 ||
	    fsync(fileno(f)) != 0) {
		pfl_log(PFL_LOG_ERROR, "%s: cannot truncate: %s", path,
		        strerror(errno));
		return PFL_ERR_IO;
	}
	return PFL_OK;
}

static pfl_err
audit_check_existing(struct pfl_aggregator *a, FILE *f, const char *path)
{
	struct pfl_audit_error e;
	struct vstate st;
	pfl_err rv;

	memset(&e, 0, sizeof(e));
	vstate_init(&st, &e);
	rewind(f);
	rv = verify_stream(f, &st);
	pfl_buf_fini(&st.partial);
	if (rv == PFL_ERR_FORMAT && e.torn)
		rv = repair_torn(f, path, &e);
	else if (rv == PFL_ERR_FORMAT)
		pfl_log(PFL_LOG_ERROR,
		        "%s: line %llu: %s; the audit chain is broken, "
		        "refusing "
		        "to start (move the file away to begin a new log)",
		        path, (unsigned long long)e.line, e.why);
	if (rv != PFL_OK)
		return rv;
	memcpy(a->audit_prev, st.sum.last_hash, sizeof(a->audit_prev));
	a->audit_last_round = st.sum.last_round;
	if (st.sum.max_round > a->rounds_done + 1)
		pfl_log(PFL_LOG_WARN,
		        "%s records round %llu but the checkpoint has %llu "
		        "rounds: the rounds after it run again, and the "
		        "privacy charges of the lost rounds are only in the "
		        "audit log",
		        path, (unsigned long long)st.sum.max_round,
		        (unsigned long long)a->rounds_done);
	return PFL_OK;
}

pfl_err
pfli_audit_open(struct pfl_aggregator *a)
{
	char path[4200];
	struct stat sb;
	bool existed;
	FILE *f;
	int fd;
	pfl_err rv;

	if (a->audit != NULL)
		return PFL_OK;
	snprintf(path, sizeof(path), "%s/audit.log", a->cfg.out_dir);
	existed = stat(path, &sb) == 0;
	/* it names the clients: owner only, also a log an older version
	 * created 0644 */
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0 && fchmod(fd, 0600) != 0)
		pfl_log(PFL_LOG_WARN, "cannot make %s private (mode 0600): %s",
		        path, strerror(errno));
	if (fd < 0 || (f = fdopen(fd, "a+")) == NULL) {
		pfl_log(PFL_LOG_ERROR, "cannot open %s: %s", path,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return PFL_ERR_IO;
	}
	if (!existed)
		fsync_dir(a->cfg.out_dir);
	memset(a->audit_prev, 0, sizeof(a->audit_prev));
	a->audit_last_round = 0;
	if ((rv = audit_check_existing(a, f, path)) != PFL_OK) {
		fclose(f);
		return rv;
	}
	a->audit = f;
	return PFL_OK;
}

void
pfli_audit_close(struct pfl_aggregator *a)
{
	if (a == NULL || a->audit == NULL)
		return;
	fclose(a->audit);
	a->audit = NULL;
}

static pfl_err
json_str(struct pfl_buf *b, const char *s)
{
	pfl_err rv = pfl_buf_append(b, "\"", 1);

	for (; rv == PFL_OK && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			rv = pfl_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rv = pfl_buf_printf(b, "\\u%04x", c);
		else
			rv = pfl_buf_append(b, s, 1);
	}
	return rv == PFL_OK ? pfl_buf_append(b, "\"", 1) : rv;
}

static pfl_err
json_num(struct pfl_buf *b, const char *key, double v)
{
	if (!isfinite(v))
		return pfl_buf_printf(b, ",\"%s\":null", key);
	return pfl_buf_printf(b, ",\"%s\":%.17g", key, v);
}

static pfl_err
json_keys(struct pfl_buf *b, const char *key, const uint8_t (*pk)[32],
          uint32_t n)
{
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv = pfl_buf_printf(b, ",\"%s\":[", key);

	for (uint32_t i = 0; rv == PFL_OK && i < n; i++) {
		pfl_key_fingerprint(pk[i], fp);
		if (i > 0)
			rv = pfl_buf_append(b, ",", 1);
		if (rv == PFL_OK)
			rv = json_str(b, fp);
	}
	return rv == PFL_OK ? pfl_buf_append(b, "]", 1) : rv;
}

static const char *
dp_name(int mode)
{
	switch (mode) {
	case PFL_DP_CENTRAL:
		return "central";
	case PFL_DP_DISTRIBUTED:
		return "distributed";
	case PFL_DP_LOCAL:
		return "local";
	default:
		return "none";
	}
}

static void
utc_now(char out[64])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static pfl_err
json_privacy(struct pfl_buf *b, const struct pfl_aggregator *a,
             const struct pfl_round_report *rep)
{
	const struct pfl_agg_config *c = &a->cfg;
	double q = a->round.q_charged > 0 ? a->round.q_charged : a->round.q;
	pfl_err rv;

	rv = pfl_buf_printf(b, ",\"privacy\":{\"dp\":\"%s\"",
	                    dp_name(c->dp_mode));
	if (rv == PFL_OK && c->dp_mode != PFL_DP_NONE) {
		rv = json_num(b, "noise_multiplier", rep->noise_sigma);
		if (rv == PFL_OK)
			rv = json_num(b, "clip_norm", rep->clip_norm);
		if (rv == PFL_OK)
			rv = json_num(b, "sample_rate", q);
		if (rv == PFL_OK)
			rv = json_num(b, "delta", c->delta);
	}
	if (rv == PFL_OK)
		rv = pfl_buf_printf(b, ",\"secure_aggregation\":\"%s\"}",
		                    c->secure_aggregation == 0   ? "off"
		                    : c->secure_aggregation == 1 ? "secagg"
		                                                 : "secagg+");
	if (rv == PFL_OK)
		rv = json_num(b, "epsilon", rep->epsilon);
	return rv;
}

pfl_err
pfli_audit_format(struct pfl_aggregator *a, const struct pfl_round_report *rep,
                  const uint8_t (*selected)[32], uint32_t nselected,
                  const uint8_t (*survived)[32], uint32_t nsurvived,
                  struct pfl_buf *line)
{
	char when[64], hex[2 * PFL_HASH_BYTES + 1];
	struct pfl_buf b;
	pfl_err rv;

	utc_now(when);
	pfl_hash_hex(a->model_hash, PFL_HASH_BYTES, hex);
	pfl_buf_init(&b, 0);
	rv = pfl_buf_printf(&b,
	                    "{\"round\":%llu,\"time\":\"%s\",\"status\":\"%s\"",
	                    (unsigned long long)rep->round, when,
	                    rep->aborted ? "aborted" : "ok");
	if (rv == PFL_OK)
		rv = pfl_buf_append(&b, ",\"federation\":", 14);
	if (rv == PFL_OK)
		rv = json_str(&b,
		              a->cfg.federation_id ? a->cfg.federation_id : "");
	if (rv == PFL_OK)
		rv = pfl_buf_printf(&b, ",\"model_blake2b\":\"%s\"", hex);
	if (rv == PFL_OK)
		rv = json_privacy(&b, a, rep);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(&b, ",\"n_selected\":%u,\"n_survived\":%u",
		                    nselected, nsurvived);
	if (rv == PFL_OK)
		rv = json_keys(&b, "selected", selected, nselected);
	if (rv == PFL_OK)
		rv = json_keys(&b, "survived", survived, nsurvived);
	if (rv == PFL_OK)
		rv = pfl_buf_append(&b, "}", 1);
	if (rv == PFL_OK)
		rv = pfl_buf_append(line, b.data, b.len);
	pfl_buf_fini(&b);
	return rv;
}

/* Write all of data at the end of fd; on failure cut the file back. */
static pfl_err
write_all(int fd, const uint8_t *data, size_t len)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return PFL_ERR_IO;
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pfl_log(PFL_LOG_ERROR, "audit log write: %s",
			        strerror(errno));
			(void)ftruncate(fd, sb.st_size);
			return PFL_ERR_IO;
		}
		data += w;
		len -= (size_t)w;
	}
	return fsync(fd) == 0 ? PFL_OK : PFL_ERR_IO;
}

pfl_err
pfli_audit_append(struct pfl_aggregator *a, const char *json, size_t len)
{
	char hex[2 * PFL_HASH_BYTES + 1];
	struct line_info li;
	struct pfl_buf b;
	const char *why;
	bool bad;
	pfl_err rv;

	if (a->audit == NULL)
		return PFL_ERR_STATE;
	why = "missing, or more than one line";
	bad = json == NULL || memchr(json, '\n', len) != NULL ||
	      parse_line(json, len, &li, &why) != 0;
	if (!bad && li.prev != NULL) {
		why = "it already has \"prev\"";
		bad = true;
	}
	if (bad) {
		pfl_log(PFL_LOG_ERROR, "audit line refused: %s", why);
		return PFL_ERR_INVAL;
	}
	pfl_hash_hex(a->audit_prev, PFL_HASH_BYTES, hex);
	pfl_buf_init(&b, 0);
	rv = pfl_buf_append(&b, json, li.close);
	if (rv == PFL_OK)
		rv = pfl_buf_printf(&b, "%s\"prev\":\"%s\"}\n",
		                    li.close > 1 ? "," : "", hex);
	if (rv == PFL_OK)
		rv = write_all(fileno(a->audit), b.data, b.len);
	if (rv == PFL_OK) {
		uint8_t h[PFL_HASH_BYTES];
		pfl_hash(b.data, b.len - 1, h);
		pthread_mutex_lock(&a->mtx); /* the HTTP handlers read these */
		memcpy(a->audit_prev, h, sizeof(h));
		a->audit_last_round = li.round;
		pthread_mutex_unlock(&a->mtx);
	}
	pfl_buf_fini(&b);
	return rv;
}
