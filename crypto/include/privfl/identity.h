/*
 * privfl — long-term identities (Ed25519).
 *
 * Every participant (aggregator, client) has one Ed25519 key pair. The
 * public key is its key id on the wire and in the allow-list; the secret key
 * signs every protocol message and the SecAgg key advertisements.
 *
 * Files (all text, one line, see docs/PROTOCOL.md "Key files"):
 *   DIR/identity.key  "pfl-ed25519-secret <base64 of the 32-byte seed>\n",
 *                     mode 0600; a key file readable or writable by group or
 *                     other is refused.
 *   DIR/identity.pub  "pfl-ed25519 <base64 of the 32-byte public key>
 *                     <fingerprint>\n", mode 0644. Allow-list files hold the
 *                     same lines (one key per line, '#' comments).
 *
 * The secret key lives in sodium_malloc memory, kept PROT_NONE while no
 * signature is being made, and is wiped on free.
 *
 * Thread-safety: an identity is immutable after creation. pfl_identity_sign
 * and pfl_identity_public may be called from any number of threads on the
 * same identity at once; pfl_identity_free must not race with them.
 * pfl_sig_verify, pfl_key_fingerprint and the parsers are pure.
 * sodium_init() must have been called (it is called by every function here
 * that needs it, and is idempotent).
 */
#ifndef PRIVFL_IDENTITY_H
#define PRIVFL_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

#define PFL_SIGN_PK_BYTES   32
#define PFL_SIGN_SEED_BYTES 32
#define PFL_SIG_BYTES       64
/* "pfl1:" + 18 base32 characters (90 bits of BLAKE2b-256 of the key) + NUL */
#define PFL_FINGERPRINT_LEN 24
/* Largest key file accepted (a key line plus comments). */
#define PFL_KEYFILE_MAX     4096

struct pfl_identity;

/*
 * Make a fresh random identity.
 * @param[out] out  the new identity; free with pfl_identity_free
 * @return PFL_OK, PFL_ERR_NOMEM, PFL_ERR_CRYPTO (libsodium unusable)
 */
pfl_err pfl_identity_generate(struct pfl_identity **out) PFL_WUR;

/*
 * Derive an identity deterministically from a 32-byte seed (simulator,
 * tests). The seed is not kept; the caller wipes its copy.
 * @return PFL_OK, PFL_ERR_INVAL (NULL argument), PFL_ERR_NOMEM
 */
pfl_err pfl_identity_from_seed(const uint8_t seed[PFL_SIGN_SEED_BYTES],
                               struct pfl_identity **out) PFL_WUR;

/*
 * Load DIR/identity.key. Refuses a file that is not a regular file, is
 * readable or writable by group/other, or is larger than PFL_KEYFILE_MAX.
 * @return PFL_OK; PFL_ERR_NOTFOUND (no file); PFL_ERR_CONFIG (permissions,
 *         not a regular file; the reason is logged); PFL_ERR_FORMAT (bad
 *         encoding, wrong length, the .pub beside it does not match);
 *         PFL_ERR_TOOBIG; PFL_ERR_IO; PFL_ERR_NOMEM
 */
pfl_err pfl_identity_load(const char *dir, struct pfl_identity **out) PFL_WUR;

/*
 * Write DIR/identity.key (0600, atomic) and DIR/identity.pub (0644,
 * atomic); DIR is created (0700) when missing. Overwrites existing files.
 * @return PFL_OK, PFL_ERR_INVAL, PFL_ERR_IO, PFL_ERR_NOMEM
 */
pfl_err pfl_identity_save(const struct pfl_identity *id,
                          const char *dir) PFL_WUR;

/* Wipe and free; accepts NULL. */
void pfl_identity_free(struct pfl_identity *id);

/* The 32-byte public key; valid as long as id. Never NULL for a valid id. */
const uint8_t *pfl_identity_public(const struct pfl_identity *id);

/*
 * Ed25519 signature of msg[0..len) (pure Ed25519, not prehashed).
 * @param[out] sig  written on success only
 * @return PFL_OK, PFL_ERR_INVAL (NULL id/sig, or NULL msg with len > 0),
 *         PFL_ERR_CRYPTO
 */
pfl_err pfl_identity_sign(const struct pfl_identity *id, const uint8_t *msg,
                          size_t len, uint8_t sig[PFL_SIG_BYTES]) PFL_WUR;

/*
 * Check an Ed25519 signature (libsodium's strict verification: canonical
 * encodings, small-order keys refused).
 * @return PFL_OK when valid, PFL_ERR_CRYPTO otherwise, PFL_ERR_INVAL on NULL
 */
pfl_err pfl_sig_verify(const uint8_t pk[PFL_SIGN_PK_BYTES], const uint8_t *msg,
                       size_t len, const uint8_t sig[PFL_SIG_BYTES]) PFL_WUR;

/*
 * Short printable fingerprint of a public key, e.g. "pfl1:3kq8...": "pfl1:"
 * and 18 characters of lowercase RFC 4648 base32 of
 * BLAKE2b-256("privfl key fingerprint v1" personalisation, pk). Safe to log.
 * out is always NUL-terminated.
 */
void pfl_key_fingerprint(const uint8_t pk[PFL_SIGN_PK_BYTES],
                         char out[PFL_FINGERPRINT_LEN]);

/*
 * Load a public key file (identity.pub format: the first non-comment line).
 * @return PFL_OK, PFL_ERR_NOTFOUND, PFL_ERR_FORMAT, PFL_ERR_TOOBIG, PFL_ERR_IO
 */
pfl_err pfl_pubkey_load(const char *path,
                        uint8_t pk[PFL_SIGN_PK_BYTES]) PFL_WUR;

/*
 * Parse one public key line "pfl-ed25519 BASE64 [anything]" (the line may
 * end in "\n" or "\r\n"; no other control characters). Rejects keys that are
 * not valid Ed25519 points or have small order.
 * @return PFL_OK or PFL_ERR_FORMAT
 */
pfl_err pfl_pubkey_parse_line(const char *line, size_t len,
                              uint8_t pk[PFL_SIGN_PK_BYTES]) PFL_WUR;

/*
 * Format pk as a public key line (with fingerprint and "\n").
 * @param[out] out  at least PFL_PUBKEY_LINE_MAX bytes, NUL-terminated
 */
#define PFL_PUBKEY_LINE_MAX 96
void pfl_pubkey_format_line(const uint8_t pk[PFL_SIGN_PK_BYTES],
                            char out[PFL_PUBKEY_LINE_MAX]);

/*
 * Parse the contents of an identity.key file (text as read from disk,
 * without permission checks: that is pfl_identity_load's job). Used by the
 * loader and the key file fuzzer.
 * @return PFL_OK, PFL_ERR_FORMAT, PFL_ERR_NOMEM
 */
pfl_err pfl_identity_parse(const uint8_t *text, size_t len,
                           struct pfl_identity **out) PFL_WUR;

/* True when a and b are the same public key (constant time). */
bool pfl_pubkey_equal(const uint8_t a[PFL_SIGN_PK_BYTES],
                      const uint8_t b[PFL_SIGN_PK_BYTES]);

#endif
