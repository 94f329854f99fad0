/*
 * privfl — protocol messages (msgpack), see docs/PROTOCOL.md.
 *
 * Every message is one msgpack map (the envelope): protocol version, type,
 * federation id, round, sender key, nonce, time, a type-specific body map,
 * and last an Ed25519 signature by the sender over everything before it.
 * Float vectors travel as one msgpack bin of little-endian float32 (masked
 * SecAgg vectors as little-endian uint32).
 *
 * Decoding is zero-copy: bin fields of a decoded message point into the
 * input buffer, which must outlive the struct pfl_msg. Nothing here keeps
 * state: every function is thread-safe for distinct messages.
 */
#ifndef PRIVFL_MSG_H
#define PRIVFL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/buf.h"
#include "privfl/err.h"
#include "privfl/identity.h"

/* 2: replies carry "re" and "to"; 3: federated evaluation slots ("ev")
 * (docs/PROTOCOL.md, section 8). */
#define PFL_PROTO_VERSION        3
#define PFL_FED_ID_MAX           64
#define PFL_NONCE_BYTES          16
/* Bounds checked before msgpack-c allocates anything (docs/PROTOCOL.md). */
#define PFL_WIRE_MAX_DEPTH       4    /* nesting of maps/arrays */
#define PFL_WIRE_MAX_OBJECTS     1024 /* msgpack objects in one message */
/* Default when a limit is 0: 64 MiB messages. */
#define PFL_WIRE_DEFAULT_MAX_MSG (64u << 20)

enum pfl_msg_type {
	PFL_MSG_CHECKIN = 1, /* c->s: I am available */
	PFL_MSG_PLAN,        /* s->c: a task in round r */
	PFL_MSG_RETRY,       /* s->c: nothing for you now; retry after ms */
	PFL_MSG_GET_MODEL,   /* c->s */
	PFL_MSG_MODEL,       /* s->c: global model of round r */
	PFL_MSG_UPDATE,      /* c->s: plain update (secure aggregation off) */
	PFL_MSG_SA_SUBMIT,   /* c->s: SecAgg phase message (opaque bytes) */
	PFL_MSG_SA_FETCH,    /* c->s: get the server's output of a phase */
	PFL_MSG_SA_DATA,     /* s->c: that output */
	PFL_MSG_ACK,         /* s->c */
	PFL_MSG_ERROR,       /* s->c (or c->s): code + text + retry_after_ms */
	PFL_MSG_WITHDRAW,    /* c->s: cannot take part in round r (why) */
	PFL_MSG__COUNT
};

struct pfl_msg_checkin {
	uint32_t capabilities;
	char software[32];
};

struct pfl_msg_plan {
	char task[16];  /* "train" */
	char model[48]; /* model spec name, e.g. "mlp:200,200" */
	uint32_t num_params;
	uint8_t model_hash[32]; /* digest of this round's MODEL message */
	uint32_t epochs;
	uint32_t batch;
	double lr;
	double momentum;
	double weight_decay;
	double prox_mu;
	double clip_norm;   /* 0 = no clipping */
	double weight_cap;  /* 0 = unweighted */
	uint8_t dp_mode;    /* 0 none, 1 central, 2 distributed, 3 local */
	double noise_sigma; /* stddev of this client's noise */
	double quant_scale; /* 0 = plain float update */
	bool adaptive_clip;
	uint8_t sa_mode; /* 0 off, 1 secagg, 2 secagg+ */
	uint32_t sa_id;
	uint32_t sa_n;
	uint32_t sa_t;
	uint32_t sa_k;
	uint8_t sa_seed[32];
	uint32_t vector_len;  /* elements the client sends */
	uint32_t deadline_ms; /* time left in the round */
	/* "rel" (optional, also in RETRY): the last round that the server
	 * released with this client's update in it (0: none) */
	uint64_t released;
	/* "ld" (optional): digest of a custom model's tensor layout
	 * (privfl/layout.h); all zero for the built-in models, whose layout
	 * the model name fixes */
	uint8_t layout_digest[32];
	/* "ev" (optional): federated evaluation. 0: none; else the update
	 * vector ends with PFL_EVAL_SLOTS slots scoring the global model on
	 * the client's held-out data, weighted by min(examples, eval_cap) /
	 * eval_cap (docs/PROTOCOL.md) */
	uint32_t eval_cap;
};

/*
 * The evaluation slots of an update vector (plan "ev" > 0), each in [0, 1]
 * so that they fit the masked sum's fixed point: w = min(n, ev) / ev for
 * n held-out examples, accuracy * w, and min(loss, PFL_EVAL_LOSS_MAX) /
 * PFL_EVAL_LOSS_MAX * w.
 */
#define PFL_EVAL_SLOTS    3
#define PFL_EVAL_LOSS_MAX 100.0

struct pfl_msg_retry {
	uint32_t retry_after_ms;
	char reason[64];
	uint64_t released; /* "rel" (optional): see pfl_msg_plan.released */
};

/*
 * Why a client leaves a round it was selected for (WITHDRAW "why"). The
 * aggregator closes its slot at once instead of waiting for the deadline.
 */
enum pfl_withdraw_reason {
	PFL_WITHDRAW_TRAINING = 1,   /* local training failed */
	PFL_WITHDRAW_POLICY = 2,     /* the plan breaks the client's policy */
	PFL_WITHDRAW_NOMEM = 3,      /* out of memory */
	PFL_WITHDRAW_SERVER_KEY = 4, /* replies signed by an unpinned key */
	PFL_WITHDRAW_OTHER = 5,      /* any other local failure */
	PFL_WITHDRAW_MODEL = 6,      /* the plan's model layout is not the
	                                one this client trains */
	PFL_WITHDRAW__COUNT
};

/* A short name for a reason ("training failed", ...); never NULL. */
const char *pfl_withdraw_reason_name(uint32_t why);

struct pfl_msg_withdraw {
	uint32_t why;  /* enum pfl_withdraw_reason (receivers accept any) */
	char text[64]; /* detail, safe to log (no data, no numbers of it) */
};

struct pfl_msg_get_model {
	uint32_t offset;
	uint32_t count; /* 0 = all */
};

struct pfl_msg_model {
	char model[48];
	uint32_t num_params;
	uint32_t offset;       /* index of the first parameter in params */
	const uint8_t *params; /* float32 LE; decode: points into the input */
	size_t params_len;     /* bytes, a multiple of 4 */
};

struct pfl_msg_update {
	uint32_t num_examples;
	double train_loss;
	double weight;
	const uint8_t *data; /* float32 LE; decode: points into the input */
	size_t data_len;     /* bytes, a multiple of 4 */
};

/* SA_SUBMIT, SA_FETCH (payload usually empty), SA_DATA */
struct pfl_msg_sa {
	uint8_t phase;
	const uint8_t *payload; /* decode: points into the input; may be NULL */
	size_t payload_len;
};

struct pfl_msg_ack {
	uint32_t code;
};

struct pfl_msg_error {
	uint32_t code; /* a pfl_err value (receivers accept any) */
	char text[128];
	uint32_t retry_after_ms;
};

struct pfl_msg {
	enum pfl_msg_type type;
	uint32_t version;
	char fed[PFL_FED_ID_MAX + 1]; /* federation id: [A-Za-z0-9._:-]{1,64} */
	uint64_t round;
	uint8_t sender[PFL_SIGN_PK_BYTES]; /* sender's Ed25519 key (key id) */
	uint8_t nonce[PFL_NONCE_BYTES];    /* fresh random per message */
	uint64_t time_ms;                  /* sender's wall clock, Unix ms */
	/* A reply's binding (pfl_msg_bind_reply): both keys or neither. */
	bool bound;                           /* "re" and "to" present */
	uint8_t reply_to[PFL_NONCE_BYTES];    /* "re": the request's nonce */
	uint8_t recipient[PFL_SIGN_PK_BYTES]; /* "to": the request's sender */
	union {
		struct pfl_msg_checkin checkin;
		struct pfl_msg_plan plan;
		struct pfl_msg_retry retry;
		struct pfl_msg_get_model get_model;
		struct pfl_msg_model model;
		struct pfl_msg_update update;
		struct pfl_msg_sa sa;
		struct pfl_msg_ack ack;
		struct pfl_msg_error error;
		struct pfl_msg_withdraw withdraw;
	} u;
	/* filled by decode: */
	const uint8_t *signed_ptr; /* the signed bytes, inside the input */
	size_t signed_len;
	uint8_t sig[PFL_SIG_BYTES];
};

/*
 * Size limits applied by pfl_msg_decode. A zero field means "derived from
 * max_msg_bytes" (which itself defaults to PFL_WIRE_DEFAULT_MAX_MSG).
 */
struct pfl_wire_limits {
	size_t max_msg_bytes;     /* whole message */
	size_t max_vector_bytes;  /* MODEL params, UPDATE data */
	size_t max_payload_bytes; /* SA payloads (masked vectors travel here) */
};

/* Limits where everything may use up to max_msg_bytes (0 = default). */
void pfl_wire_limits_default(struct pfl_wire_limits *lim, size_t max_msg_bytes);

/*
 * Zero m and fill the envelope: version, type, fed (copied; an over-long
 * id is left truncated and then refused by pfl_msg_encode), round, sender =
 * the signer's public key (zero when signer is NULL), a fresh random nonce
 * and the current wall-clock time in ms. Never fails.
 */
void pfl_msg_init(struct pfl_msg *m, enum pfl_msg_type type, const char *fed,
                  uint64_t round, const struct pfl_identity *signer);

/*
 * Encode m and sign it with signer; appends to out (out->len grows; on
 * failure out->len is restored). m->sender must be the signer's public key.
 * @return PFL_OK; PFL_ERR_INVAL (bad type, fed id, sender, unterminated
 *         string, NULL vector with a length, vector not a multiple of 4);
 *         PFL_ERR_TOOBIG (out->max reached); PFL_ERR_NOMEM; PFL_ERR_CRYPTO
 */
pfl_err pfl_msg_encode(const struct pfl_msg *m,
                       const struct pfl_identity *signer,
                       struct pfl_buf *out) PFL_WUR;

/* Bytes of a message digest (pfl_msg_encode_digest, pfl_msg_verify_digest). */
#define PFL_MSG_DIGEST_BYTES 32

/*
 * pfl_msg_encode, and on success the digest a receiver's
 * pfl_msg_verify_digest will compute (the encoder hashes the message to
 * sign it anyway, so this costs nothing more). digest may be NULL.
 */
pfl_err pfl_msg_encode_digest(const struct pfl_msg *m,
                              const struct pfl_identity *signer,
                              struct pfl_buf *out,
                              uint8_t digest[PFL_MSG_DIGEST_BYTES]) PFL_WUR;

/*
 * Parse and validate one message of exactly len bytes. First a pre-pass
 * over the raw bytes (depth <= PFL_WIRE_MAX_DEPTH, at most
 * PFL_WIRE_MAX_OBJECTS objects, no declared length beyond the remaining
 * bytes, no trailing bytes), then every field: types, integer ranges, enum
 * ranges, string lengths (NUL and control characters refused), vector
 * sizes against lim. Unknown keys are ignored; missing required keys,
 * duplicate keys, a signature that is not the last entry, a version other
 * than PFL_PROTO_VERSION, or "re" without "to" (or the reverse) are errors.
 * Does NOT check the signature (pfl_msg_verify does).
 * @param lim  NULL = pfl_wire_limits_default(0)
 * @param[out] m  written only on success; its pointers point into buf
 * @return PFL_OK, PFL_ERR_PROTO (malformed), PFL_ERR_TOOBIG (over a limit),
 *         PFL_ERR_NOMEM, PFL_ERR_INVAL (NULL arguments)
 */
pfl_err pfl_msg_decode(const uint8_t *buf, size_t len,
                       const struct pfl_wire_limits *lim,
                       struct pfl_msg *m) PFL_WUR;

/*
 * Check the signature of a decoded message against m->sender.
 * @return PFL_OK, PFL_ERR_CRYPTO (bad signature), PFL_ERR_INVAL (not a
 *         decoded message)
 */
pfl_err pfl_msg_verify(const struct pfl_msg *m) PFL_WUR;

/*
 * pfl_msg_verify, and on success the message's digest: the first 32 bytes
 * of the BLAKE2b-512 hash its signature covers (docs/PROTOCOL.md). It
 * names the message exactly, at no extra cost: a plan announces the
 * round's MODEL message by this digest.
 * @param[out] digest  written only on success
 */
pfl_err pfl_msg_verify_digest(const struct pfl_msg *m,
                              uint8_t digest[PFL_MSG_DIGEST_BYTES]) PFL_WUR;

/*
 * Bind reply to the request it answers: copies req's nonce into
 * reply->reply_to and req's sender into reply->recipient, and sets
 * reply->bound, so that the encoded reply carries "re" and "to" under its
 * signature. A receiver (pfl_msg_is_reply_to) then refuses the reply as the
 * answer to any other request, of its own or of another client. Call after
 * pfl_msg_init and before pfl_msg_encode. Never fails.
 */
void pfl_msg_bind_reply(struct pfl_msg *reply, const struct pfl_msg *req);

/*
 * Whether the decoded reply is bound to the request req: it carries "re"
 * equal to req's nonce and "to" equal to req's sender. The reply's
 * signature must be checked separately (pfl_msg_verify).
 */
bool pfl_msg_is_reply_to(const struct pfl_msg *reply,
                         const struct pfl_msg *req);

/* "checkin", "plan", ...; "unknown" for other values. */
const char *pfl_msg_type_name(enum pfl_msg_type t);

/*
 * The bytes that are signed: "privfl-msg-v1" || NUL || BLAKE2b-512 of the
 * envelope bytes before the "sig" entry (docs/PROTOCOL.md). Exposed for
 * tests and other implementations.
 */
#define PFL_MSG_TBS_BYTES (14 + 64)
void pfl_msg_tbs(const uint8_t *signed_ptr, size_t signed_len,
                 uint8_t tbs[PFL_MSG_TBS_BYTES]);

#endif
