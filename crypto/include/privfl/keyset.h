/*
 * privfl — the aggregator's allow-list of enrolled client keys.
 *
 * Sources (both for the allow-list and the revocation list):
 *   - a directory: every "*.pub" file in it (not recursive) holds one
 *     public key in identity.pub format; other files are ignored;
 *   - a file: one public key line per key ("pfl-ed25519 BASE64 [comment]"),
 *     blank lines and '#' comments allowed.
 * Any malformed key makes the whole load fail (and names the file and line
 * in the log), so that a typo never silently un-enrolls or un-revokes.
 *
 * A keyset is immutable once loaded: lookups are thread-safe. To reload,
 * load a new one and swap pointers under the caller's lock.
 */
#ifndef PRIVFL_KEYSET_H
#define PRIVFL_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"
#include "privfl/identity.h"

/* Largest allow-list file accepted. */
#define PFL_KEYSET_FILE_MAX (16u << 20)

struct pfl_keyset;

/*
 * Load the allow-list from path and the revocation list from revoked_path
 * (NULL or "" = none).
 * @param[out] out  free with pfl_keyset_free
 * @return PFL_OK; PFL_ERR_NOTFOUND (path missing); PFL_ERR_FORMAT (a bad
 *         key, logged with file and line); PFL_ERR_TOOBIG; PFL_ERR_IO;
 *         PFL_ERR_NOMEM; PFL_ERR_INVAL (NULL path)
 */
pfl_err pfl_keyset_load(const char *path, const char *revoked_path,
                        struct pfl_keyset **out) PFL_WUR;

/*
 * Build a keyset from arrays of keys (simulator, tests). Either array may
 * be NULL when its count is 0.
 */
pfl_err pfl_keyset_from_keys(const uint8_t (*keys)[PFL_SIGN_PK_BYTES], size_t n,
                             const uint8_t (*revoked)[PFL_SIGN_PK_BYTES],
                             size_t nrev, struct pfl_keyset **out) PFL_WUR;

/* True when pk is in the allow-list and not revoked. */
bool pfl_keyset_is_enrolled(const struct pfl_keyset *ks,
                            const uint8_t pk[PFL_SIGN_PK_BYTES]);

/* True when pk is on the revocation list. */
bool pfl_keyset_is_revoked(const struct pfl_keyset *ks,
                           const uint8_t pk[PFL_SIGN_PK_BYTES]);

/* Number of enrolled keys (allowed and not revoked; duplicates once). */
size_t pfl_keyset_count(const struct pfl_keyset *ks);

/* Accepts NULL. */
void pfl_keyset_free(struct pfl_keyset *ks);

#endif
