#include "privfl/msg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <sodium.h>

#include "privfl/log.h"
#include "proto_int.h"

/*
 * One table per message type describes its body; the same table drives
 * the encoder, the decoder and the validation of both, so that what one
 * side writes the other side accepts.
 */
enum fkind {
	K_U8,   /* uint8_t, <= max */
	K_U32,  /* uint32_t, <= max (0 = UINT32_MAX) */
	K_U64,  /* uint64_t */
	K_BOOL, /* bool */
	K_F64,  /* double, finite */
	K_STR,  /* char[size], NUL-terminated, no control characters */
	K_ID,   /* char[size], [A-Za-z0-9._:-]{1,size-1} */
	K_BFIX, /* uint8_t[size] as bin of exactly size bytes */
	K_VEC,  /* const uint8_t * at off, size_t at len_off; bin */
};

#define F_REQ    0x1u /* required */
#define F_NONNEG 0x2u /* K_F64: >= 0 */
#define F_MUL4   0x4u /* K_VEC: length a multiple of 4 */
#define F_VECLIM 0x8u /* K_VEC: limited by max_vector_bytes (else payload) */

struct fdesc {
	const char *key;
	enum fkind kind;
	unsigned flags;
	size_t off;
	size_t size;    /* K_STR, K_ID, K_BFIX */
	uint32_t max;   /* K_U8, K_U32 */
	size_t len_off; /* K_VEC */
};

#define OFF(f) offsetof(struct pfl_msg, f)
#define SZ(f)  sizeof(((struct pfl_msg *)0)->f)
#define U8(k, f, m)                             \
	{                                       \
		k, K_U8, F_REQ, OFF(f), 1, m, 0 \
	}
#define U32(k, f)                                \
	{                                        \
		k, K_U32, F_REQ, OFF(f), 4, 0, 0 \
	}
#define F64(k, f, fl)                                   \
	{                                               \
		k, K_F64, F_REQ | (fl), OFF(f), 8, 0, 0 \
	}
#define STR(k, f)                                    \
	{                                            \
		k, K_STR, F_REQ, OFF(f), SZ(f), 0, 0 \
	}
#define BFIX(k, f)                                    \
	{                                             \
		k, K_BFIX, F_REQ, OFF(f), SZ(f), 0, 0 \
	}
#define VEC(k, p, l, f)                           \
	{                                         \
		k, K_VEC, f, OFF(p), 0, 0, OFF(l) \
	}

static const struct fdesc env_fields[] = {
        {"v", K_U32, F_REQ, OFF(version), 4, 0, 0},
        {"t", K_U32, F_REQ, OFF(type), 4, PFL_MSG__COUNT - 1, 0},
        {"fed", K_ID, F_REQ, OFF(fed), SZ(fed), 0, 0},
        {"r", K_U64, F_REQ, OFF(round), 8, 0, 0},
        BFIX("from", sender),
        BFIX("n", nonce),
        {"ts", K_U64, F_REQ, OFF(time_ms), 8, 0, 0},
};
#define N_ENV (sizeof(env_fields) / sizeof(env_fields[0]))

/* A reply's binding to its request (version 2): both or neither. */
static const struct fdesc bind_fields[] = {
        BFIX("re", reply_to),
        BFIX("to", recipient),
};
#define N_BIND (sizeof(bind_fields) / sizeof(bind_fields[0]))

static const struct fdesc checkin_fields[] = {
        U32("caps", u.checkin.capabilities),
        STR("sw", u.checkin.software),
};

static const struct fdesc plan_fields[] = {
        STR("task", u.plan.task),
        STR("model", u.plan.model),
        U32("np", u.plan.num_params),
        BFIX("mh", u.plan.model_hash),
        U32("ep", u.plan.epochs),
        U32("bs", u.plan.batch),
        F64("lr", u.plan.lr, F_NONNEG),
        F64("mom", u.plan.momentum, F_NONNEG),
        F64("wd", u.plan.weight_decay, F_NONNEG),
        F64("mu", u.plan.prox_mu, F_NONNEG),
        F64("clip", u.plan.clip_norm, F_NONNEG),
        F64("wcap", u.plan.weight_cap, F_NONNEG),
        U8("dp", u.plan.dp_mode, 3),
        F64("sigma", u.plan.noise_sigma, F_NONNEG),
        F64("qs", u.plan.quant_scale, F_NONNEG),
        {"aclip", K_BOOL, F_REQ, OFF(u.plan.adaptive_clip), 1, 0, 0},
        U8("sa", u.plan.sa_mode, 2),
        U32("said", u.plan.sa_id),
        U32("san", u.plan.sa_n),
        U32("sat", u.plan.sa_t),
        U32("sak", u.plan.sa_k),
        BFIX("saseed", u.plan.sa_seed),
        U32("vlen", u.plan.vector_len),
        U32("dl", u.plan.deadline_ms),
        {"rel", K_U64, 0, OFF(u.plan.released), 8, 0, 0},
        {"ld", K_BFIX, 0, OFF(u.plan.layout_digest), 32, 0, 0},
        {"ev", K_U32, 0, OFF(u.plan.eval_cap), 4, 0, 0},
};

static const struct fdesc retry_fields[] = {
        U32("after", u.retry.retry_after_ms),
        STR("why", u.retry.reason),
        {"rel", K_U64, 0, OFF(u.retry.released), 8, 0, 0},
};

static const struct fdesc get_model_fields[] = {
        U32("off", u.get_model.offset),
        U32("cnt", u.get_model.count),
};

static const struct fdesc model_fields[] = {
        STR("model", u.model.model),
        U32("np", u.model.num_params),
        U32("off", u.model.offset),
        VEC("p", u.model.params, u.model.params_len, F_REQ | F_MUL4 | F_VECLIM),
};

static const struct fdesc update_fields[] = {
        U32("ne", u.update.num_examples),
        F64("loss", u.update.train_loss, 0),
        F64("w", u.update.weight, F_NONNEG),
        VEC("d", u.update.data, u.update.data_len, F_REQ | F_MUL4 | F_VECLIM),
};

static const struct fdesc sa_fields[] = {
        U8("ph", u.sa.phase, 255),
        VEC("p", u.sa.payload, u.sa.payload_len, F_REQ),
};

static const struct fdesc sa_fetch_fields[] = {
        U8("ph", u.sa.phase, 255),
        VEC("p", u.sa.payload, u.sa.payload_len, 0),
};

static const struct fdesc ack_fields[] = {
        U32("code", u.ack.code),
};

static const struct fdesc error_fields[] = {
        U32("code", u.error.code),
        STR("text", u.error.text),
        U32("after", u.error.retry_after_ms),
};

static const struct fdesc withdraw_fields[] = {
        U32("why", u.withdraw.why),
        STR("text", u.withdraw.text),
};

struct body {
	const char *name;
	const struct fdesc *f;
	size_t n;
};

#define BODY(name, t)                             \
	{                                         \
		name, t, sizeof(t) / sizeof(t[0]) \
	}

static const struct body bodies[PFL_MSG__COUNT] = {
        [PFL_MSG_CHECKIN] = BODY("checkin", checkin_fields),
        [PFL_MSG_PLAN] = BODY("plan", plan_fields),
        [PFL_MSG_RETRY] = BODY("retry", retry_fields),
        [PFL_MSG_GET_MODEL] = BODY("get_model", get_model_fields),
        [PFL_MSG_MODEL] = BODY("model", model_fields),
        [PFL_MSG_UPDATE] = BODY("update", update_fields),
        [PFL_MSG_SA_SUBMIT] = BODY("sa_submit", sa_fields),
        [PFL_MSG_SA_FETCH] = BODY("sa_fetch", sa_fetch_fields),
        [PFL_MSG_SA_DATA] = BODY("sa_data", sa_fields),
        [PFL_MSG_ACK] = BODY("ack", ack_fields),
        [PFL_MSG_ERROR] = BODY("error", error_fields),
        [PFL_MSG_WITHDRAW] = BODY("withdraw", withdraw_fields),
};

static const char *const withdraw_names[PFL_WITHDRAW__COUNT] = {
        [PFL_WITHDRAW_TRAINING] = "training failed",
        [PFL_WITHDRAW_POLICY] = "policy refused the plan",
        [PFL_WITHDRAW_NOMEM] = "out of memory",
        [PFL_WITHDRAW_SERVER_KEY] = "wrong server key",
        [PFL_WITHDRAW_OTHER] = "local failure",
        [PFL_WITHDRAW_MODEL] = "model layout differs",
};

const char *
pfl_withdraw_reason_name(uint32_t why)
{
	if (why == 0 || why >= PFL_WITHDRAW__COUNT)
		return "unknown reason";
	return withdraw_names[why];
}

_Static_assert(sizeof(((struct pfl_msg *)0)->type) == 4, "enum is 4 bytes");

const char *
pfl_msg_type_name(enum pfl_msg_type t)
{
	if ((int)t <= 0 || t >= PFL_MSG__COUNT)
		return "unknown";
	return bodies[t].name;
}

void
pfl_wire_limits_default(struct pfl_wire_limits *lim, size_t max_msg_bytes)
{
	if (max_msg_bytes == 0)
		max_msg_bytes = PFL_WIRE_DEFAULT_MAX_MSG;
	lim->max_msg_bytes = max_msg_bytes;
	lim->max_vector_bytes = max_msg_bytes;
	lim->max_payload_bytes = max_msg_bytes;
}

static void
limits_resolve(const struct pfl_wire_limits *in, struct pfl_wire_limits *out)
{
	pfl_wire_limits_default(out, in ? in->max_msg_bytes : 0);
	if (in != NULL && in->max_vector_bytes != 0)
		out->max_vector_bytes = in->max_vector_bytes;
	if (in != NULL && in->max_payload_bytes != 0)
		out->max_payload_bytes = in->max_payload_bytes;
}

void
pfl_msg_init(struct pfl_msg *m, enum pfl_msg_type type, const char *fed,
             uint64_t round, const struct pfl_identity *signer)
{
	struct timespec ts;

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->version = PFL_PROTO_VERSION;
	if (fed != NULL) {
		size_t n = strnlen(fed, sizeof(m->fed) - 1);
		memcpy(m->fed, fed, n);
	}
	m->round = round;
	if (signer != NULL)
		memcpy(m->sender, pfl_identity_public(signer),
		       sizeof(m->sender));
	if (sodium_init() >= 0)
		randombytes_buf(m->nonce, sizeof(m->nonce));
	clock_gettime(CLOCK_REALTIME, &ts);
	m->time_ms =
	        (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
pfl_msg_tbs(const uint8_t *signed_ptr, size_t signed_len,
            uint8_t tbs[PFL_MSG_TBS_BYTES])
{
	static const char domain[14] = "privfl-msg-v1"; /* incl. the NUL */

	memcpy(tbs, domain, sizeof(domain));
	crypto_generichash(tbs + sizeof(domain), 64, signed_ptr, signed_len,
	                   NULL, 0);
}

/* ---- field validation shared by encoder and decoder ---- */

static bool
text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool
id_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return false;
	}
	return true;
}

static bool
f64_ok(const struct fdesc *f, double v)
{
	return isfinite(v) && (!(f->flags & F_NONNEG) || v >= 0.0);
}

static uint64_t
int_max(const struct fdesc *f)
{
	switch (f->kind) {
	case K_U8:
		return f->max;
	case K_U32:
		return f->max ? f->max : UINT32_MAX;
	default:
		return UINT64_MAX;
	}
}

/* ---- encoder ---- */

struct sink {
	struct pfl_buf *out;
	pfl_err err;
};

static int
sink_write(void *data, const char *buf, size_t len)
{
	struct sink *s = data;
	pfl_err rv = pfl_buf_append(s->out, buf, len);

	if (rv != PFL_OK) {
		s->err = rv;
		return -1;
	}
	return 0;
}

static int
pack_key(msgpack_packer *pk, const char *key)
{
	return msgpack_pack_str_with_body(pk, key, strlen(key));
}

static pfl_err
pack_field(msgpack_packer *pk, const struct pfl_msg *m, const struct fdesc *f)
{
	const uint8_t *base = (const uint8_t *)m;
	const void *p = base + f->off;
	uint64_t u = 0;
	int r;

	switch (f->kind) {
	case K_U8:
		u = *(const uint8_t *)p;
		break;
	case K_U32:
		u = *(const uint32_t *)p;
		break;
	case K_U64:
		u = *(const uint64_t *)p;
		break;
	default:
		break;
	}
	if ((f->kind == K_U8 || f->kind == K_U32) && u > int_max(f))
		return PFL_ERR_INVAL;
	if (pack_key(pk, f->key) != 0)
		return PFL_ERR_NOMEM;
	switch (f->kind) {
	case K_U8:
	case K_U32:
	case K_U64:
		r = msgpack_pack_uint64(pk, u);
		break;
	case K_BOOL:
		r = *(const bool *)p ? msgpack_pack_true(pk)
		                     : msgpack_pack_false(pk);
		break;
	case K_F64: {
		double d;
		memcpy(&d, p, sizeof(d));
		if (!f64_ok(f, d))
			return PFL_ERR_INVAL;
		r = msgpack_pack_double(pk, d);
		break;
	}
	case K_STR:
	case K_ID: {
		size_t n = strnlen(p, f->size);
		if (n == f->size || (f->kind == K_STR && !text_ok(p, n)) ||
		    (f->kind == K_ID && !id_ok(p, n)))
			return PFL_ERR_INVAL;
		r = msgpack_pack_str_with_body(pk, p, n);
		break;
	}
	case K_BFIX:
		r = msgpack_pack_bin_with_body(pk, p, f->size);
		break;
	case K_VEC: {
		const uint8_t *v;
		size_t n;
		memcpy(&v, p, sizeof(v));
		memcpy(&n, base + f->len_off, sizeof(n));
		if ((v == NULL && n > 0) || n > UINT32_MAX ||
		    ((f->flags & F_MUL4) && n % 4 != 0))
			return PFL_ERR_INVAL;
		r = msgpack_pack_bin_with_body(pk, v ? (const void *)v : "", n);
		break;
	}
	default:
		return PFL_ERR_INVAL;
	}
	return r == 0 ? PFL_OK : PFL_ERR_NOMEM;
}

static size_t
body_hint(const struct pfl_msg *m)
{
	switch (m->type) {
	case PFL_MSG_MODEL:
		return m->u.model.params_len;
	case PFL_MSG_UPDATE:
		return m->u.update.data_len;
	case PFL_MSG_SA_SUBMIT:
	case PFL_MSG_SA_FETCH:
	case PFL_MSG_SA_DATA:
		return m->u.sa.payload_len;
	default:
		return 0;
	}
}

static pfl_err
pack_all(msgpack_packer *pk, const struct pfl_msg *m)
{
	const struct body *b = &bodies[m->type];
	pfl_err rv;

	if (msgpack_pack_map(pk, N_ENV + 2 + (m->bound ? N_BIND : 0)) != 0)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < N_ENV; i++)
		if ((rv = pack_field(pk, m, &env_fields[i])) != PFL_OK)
			return rv;
	for (size_t i = 0; m->bound && i < N_BIND; i++)
		if ((rv = pack_field(pk, m, &bind_fields[i])) != PFL_OK)
			return rv;
	if (pack_key(pk, "b") != 0 || msgpack_pack_map(pk, b->n) != 0)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < b->n; i++)
		if ((rv = pack_field(pk, m, &b->f[i])) != PFL_OK)
			return rv;
	return PFL_OK;
}

pfl_err
pfl_msg_encode(const struct pfl_msg *m, const struct pfl_identity *signer,
               struct pfl_buf *out)
{
	return pfl_msg_encode_digest(m, signer, out, NULL);
}

pfl_err
pfl_msg_encode_digest(const struct pfl_msg *m,
                      const struct pfl_identity *signer, struct pfl_buf *out,
                      uint8_t digest[PFL_MSG_DIGEST_BYTES])
{
	struct sink s = {out, PFL_OK};
	msgpack_packer pk;
	uint8_t tbs[PFL_MSG_TBS_BYTES], sig[PFL_SIG_BYTES];
	size_t start;
	pfl_err rv;

	if (m == NULL || signer == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((int)m->type <= 0 || m->type >= PFL_MSG__COUNT)
		return PFL_ERR_INVAL;
	if (!pfl_pubkey_equal(m->sender, pfl_identity_public(signer)))
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	start = out->len;
	if ((rv = pfl_buf_reserve(out, body_hint(m) + 1024)) != PFL_OK)
		return rv;
	msgpack_packer_init(&pk, &s, sink_write);
	if ((rv = pack_all(&pk, m)) != PFL_OK)
		goto fail;
	pfl_msg_tbs(out->data + start, out->len - start, tbs);
	if ((rv = pfl_identity_sign(signer, tbs, sizeof(tbs), sig)) != PFL_OK)
		goto fail;
	if (pack_key(&pk, "sig") != 0 ||
	    msgpack_pack_bin_with_body(&pk, sig, sizeof(sig)) != 0) {
		rv = PFL_ERR_NOMEM;
		goto fail;
	}
	if (digest != NULL)
		memcpy(digest, tbs + 14, PFL_MSG_DIGEST_BYTES);
	return PFL_OK;
fail:
	if (s.err != PFL_OK)
		rv = s.err;
	out->len = start;
	return rv;
}

/* ---- decoder ---- */

static bool
key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);
	return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static pfl_err
get_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
		return PFL_ERR_PROTO;
	*out = o->via.u64;
	return PFL_OK;
}

static pfl_err
get_vec(const struct fdesc *f, const msgpack_object *o,
        const struct pfl_wire_limits *lim, uint8_t *base)
{
	size_t n, max;
	const uint8_t *p;

	if (o->type != MSGPACK_OBJECT_BIN)
		return PFL_ERR_PROTO;
	n = o->via.bin.size;
	max = (f->flags & F_VECLIM) ? lim->max_vector_bytes
	                            : lim->max_payload_bytes;
	if (n > max)
		return PFL_ERR_TOOBIG;
	if ((f->flags & F_MUL4) && n % 4 != 0)
		return PFL_ERR_PROTO;
	p = n ? (const uint8_t *)o->via.bin.ptr : NULL;
	memcpy(base + f->off, &p, sizeof(p));
	memcpy(base + f->len_off, &n, sizeof(n));
	return PFL_OK;
}

static pfl_err
get_field(const struct fdesc *f, const msgpack_object *o,
          const struct pfl_wire_limits *lim, struct pfl_msg *m)
{
	uint8_t *base = (uint8_t *)m;
	uint64_t u;
	pfl_err rv;

	switch (f->kind) {
	case K_U8:
	case K_U32:
	case K_U64:
		if ((rv = get_uint(o, int_max(f), &u)) != PFL_OK)
			return rv;
		if (f->kind == K_U8)
			base[f->off] = (uint8_t)u;
		else if (f->kind == K_U32)
			*(uint32_t *)(base + f->off) = (uint32_t)u;
		else
			*(uint64_t *)(base + f->off) = u;
		return PFL_OK;
	case K_BOOL:
		if (o->type != MSGPACK_OBJECT_BOOLEAN)
			return PFL_ERR_PROTO;
		*(bool *)(base + f->off) = o->via.boolean;
		return PFL_OK;
	case K_F64:
		if ((o->type != MSGPACK_OBJECT_FLOAT64 &&
		     o->type != MSGPACK_OBJECT_FLOAT32) ||
		    !f64_ok(f, o->via.f64))
			return PFL_ERR_PROTO;
		memcpy(base + f->off, &o->via.f64, sizeof(double));
		return PFL_OK;
	case K_STR:
	case K_ID:
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size >= f->size ||
		    (f->kind == K_STR &&
		     !text_ok(o->via.str.ptr, o->via.str.size)) ||
		    (f->kind == K_ID &&
		     !id_ok(o->via.str.ptr, o->via.str.size)))
			return PFL_ERR_PROTO;
		memcpy(base + f->off, o->via.str.ptr, o->via.str.size);
		base[f->off + o->via.str.size] = '\0';
		return PFL_OK;
	case K_BFIX:
		if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != f->size)
			return PFL_ERR_PROTO;
		memcpy(base + f->off, o->via.bin.ptr, f->size);
		return PFL_OK;
	case K_VEC:
		return get_vec(f, o, lim, base);
	}
	return PFL_ERR_PROTO;
}

/*
 * Match one key/value against a table. Returns PFL_OK also for unknown
 * keys (ignored); a repeated key is an error.
 */
static pfl_err
match_field(const struct fdesc *tab, size_t n, const msgpack_object_kv *kv,
            const struct pfl_wire_limits *lim, struct pfl_msg *m,
            uint64_t *seen)
{
	for (size_t i = 0; i < n; i++) {
		if (!key_is(&kv->key, tab[i].key))
			continue;
		if (*seen & (1ull << i))
			return PFL_ERR_PROTO;
		*seen |= 1ull << i;
		return get_field(&tab[i], &kv->val, lim, m);
	}
	return PFL_OK;
}

static pfl_err
check_required(const struct fdesc *tab, size_t n, uint64_t seen)
{
	for (size_t i = 0; i < n; i++)
		if ((tab[i].flags & F_REQ) && !(seen & (1ull << i)))
			return PFL_ERR_PROTO;
	return PFL_OK;
}

static pfl_err
decode_body(const msgpack_object *o, const struct pfl_wire_limits *lim,
            struct pfl_msg *m)
{
	const struct body *b = &bodies[m->type];
	uint64_t seen = 0;
	pfl_err rv;

	if (o->type != MSGPACK_OBJECT_MAP)
		return PFL_ERR_PROTO;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			return PFL_ERR_PROTO;
		rv = match_field(b->f, b->n, kv, lim, m, &seen);
		if (rv != PFL_OK)
			return rv;
	}
	return check_required(b->f, b->n, seen);
}

/* Cross-field rules that a table cannot express. */
static pfl_err
validate_semantics(const struct pfl_msg *m)
{
	const struct pfl_msg_plan *p = &m->u.plan;
	const struct pfl_msg_model *mo = &m->u.model;

	if (m->version != PFL_PROTO_VERSION)
		return PFL_ERR_PROTO;
	switch (m->type) {
	case PFL_MSG_PLAN:
		if (p->sa_t > p->sa_n || p->sa_k > p->sa_n)
			return PFL_ERR_PROTO;
		return PFL_OK;
	case PFL_MSG_MODEL:
		if (mo->offset > mo->num_params ||
		    mo->params_len / 4 > mo->num_params - mo->offset)
			return PFL_ERR_PROTO;
		return PFL_OK;
	default:
		return PFL_OK;
	}
}

/* Walk the envelope; the body is decoded once the type is known. */
static pfl_err
decode_envelope(const msgpack_object *root, const struct pfl_wire_limits *lim,
                struct pfl_msg *m, const msgpack_object **body)
{
	uint64_t seen = 0, bseen = 0;
	uint32_t n = root->via.map.size;
	pfl_err rv;

	*body = NULL;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object_kv *kv = &root->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			return PFL_ERR_PROTO;
		if (key_is(&kv->key, "sig")) {
			if (i != n - 1 || kv->val.type != MSGPACK_OBJECT_BIN ||
			    kv->val.via.bin.size != PFL_SIG_BYTES)
				return PFL_ERR_PROTO;
			memcpy(m->sig, kv->val.via.bin.ptr, PFL_SIG_BYTES);
			seen |= 1ull << 62;
		} else if (key_is(&kv->key, "b")) {
			if (*body != NULL)
				return PFL_ERR_PROTO;
			*body = &kv->val;
		} else {
			rv = match_field(env_fields, N_ENV, kv, lim, m, &seen);
			if (rv == PFL_OK)
				rv = match_field(bind_fields, N_BIND, kv, lim,
				                 m, &bseen);
			if (rv != PFL_OK)
				return rv;
		}
	}
	if (!(seen & (1ull << 62)) || *body == NULL)
		return PFL_ERR_PROTO;
	if (bseen != 0 && check_required(bind_fields, N_BIND, bseen) != PFL_OK)
		return PFL_ERR_PROTO;
	m->bound = bseen != 0;
	if ((rv = check_required(env_fields, N_ENV, seen)) != PFL_OK)
		return rv;
	if ((int)m->type <= 0 || m->version != PFL_PROTO_VERSION)
		return PFL_ERR_PROTO;
	return PFL_OK;
}

pfl_err
pfl_msg_decode(const uint8_t *buf, size_t len,
               const struct pfl_wire_limits *limits, struct pfl_msg *out)
{
	struct pfl_wire_limits lim;
	msgpack_unpacked up;
	const msgpack_object *body;
	struct pfl_msg *m = NULL;
	size_t off = 0, sig_off = 0;
	pfl_err rv;

	if (buf == NULL || out == NULL)
		return PFL_ERR_INVAL;
	limits_resolve(limits, &lim);
	if (len > lim.max_msg_bytes)
		return PFL_ERR_TOOBIG;
	rv = pfli_mp_prevalidate(buf, len, PFL_WIRE_MAX_DEPTH,
	                         PFL_WIRE_MAX_OBJECTS, &sig_off);
	if (rv != PFL_OK)
		return rv;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return PFL_ERR_NOMEM;
	msgpack_unpacked_init(&up);
	switch (msgpack_unpack_next(&up, (const char *)buf, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rv = PFL_ERR_NOMEM;
		goto out;
	default:
		rv = PFL_ERR_PROTO;
		goto out;
	}
	if (off != len || up.data.type != MSGPACK_OBJECT_MAP) {
		rv = PFL_ERR_PROTO;
		goto out;
	}
	if ((rv = decode_envelope(&up.data, &lim, m, &body)) != PFL_OK)
		goto out;
	if ((rv = decode_body(body, &lim, m)) != PFL_OK)
		goto out;
	if ((rv = validate_semantics(m)) != PFL_OK)
		goto out;
	m->signed_ptr = buf;
	m->signed_len = sig_off;
	*out = *m;
out:
	msgpack_unpacked_destroy(&up);
	free(m);
	return rv;
}

void
pfl_msg_bind_reply(struct pfl_msg *reply, const struct pfl_msg *req)
{
	memcpy(reply->reply_to, req->nonce, sizeof(reply->reply_to));
	memcpy(reply->recipient, req->sender, sizeof(reply->recipient));
	reply->bound = true;
}

bool
pfl_msg_is_reply_to(const struct pfl_msg *reply, const struct pfl_msg *req)
{
	return reply->bound &&
	       sodium_memcmp(reply->reply_to, req->nonce,
	                     sizeof(reply->reply_to)) == 0 &&
	       sodium_memcmp(reply->recipient, req->sender,
	                     sizeof(reply->recipient)) == 0;
}

pfl_err
pfl_msg_verify_digest(const struct pfl_msg *m,
                      uint8_t digest[PFL_MSG_DIGEST_BYTES])
{
	uint8_t tbs[PFL_MSG_TBS_BYTES];
	pfl_err rv;

	if (m == NULL || m->signed_ptr == NULL || m->signed_len == 0)
		return PFL_ERR_INVAL;
	pfl_msg_tbs(m->signed_ptr, m->signed_len, tbs);
	rv = pfl_sig_verify(m->sender, tbs, sizeof(tbs), m->sig);
	if (rv == PFL_OK && digest != NULL)
		memcpy(digest, tbs + 14, PFL_MSG_DIGEST_BYTES);
	return rv;
}

pfl_err
pfl_msg_verify(const struct pfl_msg *m)
{
	return pfl_msg_verify_digest(m, NULL);
}
