/*
 * privfl — the one error enum.
 *
 * Every function that can fail returns a pfl_err; PFL_OK is 0. Results come
 * back through out-parameters, written only on success. Other libraries'
 * codes (errno, nng, msgpack) are translated at the boundary and never leak
 * through this enum. Thread-safe: pfl_strerror returns a string literal.
 */
#ifndef PRIVFL_ERR_H
#define PRIVFL_ERR_H

#define PFL_WUR __attribute__((warn_unused_result))

typedef enum pfl_err {
	PFL_OK = 0,
	PFL_ERR_NOMEM,    /* allocation failed */
	PFL_ERR_INVAL,    /* invalid argument */
	PFL_ERR_PROTO,    /* malformed or unexpected message */
	PFL_ERR_CRYPTO,   /* signature, MAC or key agreement failed */
	PFL_ERR_TIMEOUT,  /* deadline passed */
	PFL_ERR_CLOSED,   /* object or connection closed */
	PFL_ERR_STATE,    /* operation not valid in the current state */
	PFL_ERR_TOOBIG,   /* size or count over a limit */
	PFL_ERR_IO,       /* file or socket I/O failed */
	PFL_ERR_CONFIG,   /* bad configuration */
	PFL_ERR_AUTH,     /* peer not enrolled, revoked, or replay */
	PFL_ERR_BUDGET,   /* privacy budget would be exceeded */
	PFL_ERR_AGAIN,    /* not ready yet: try again later */
	PFL_ERR_NOTFOUND, /* no such file, key or entry */
	PFL_ERR_FORMAT,   /* malformed file or data */
	PFL_ERR_ABORTED,  /* round or operation aborted */
	PFL_ERR__COUNT
} pfl_err;

/* A short, static description of err; never NULL, also for unknown values. */
const char *pfl_strerror(int err);

#endif
