/*
 * privfl — enrollment certificates. The enrollment authority (an Ed25519
 * key held by the operator, not by the aggregator) signs each client's
 * identity key when the client is enrolled. A SecAgg client uses a
 * neighbour's advertised keys only with a certificate for the neighbour's
 * identity key that verifies against the authority key (docs/SECAGG.md), so
 * a server cannot stand in for a neighbour with a key of its own.
 *
 * Certificate (PFL_ENROLL_CERT_BYTES = 144):
 *   client_pk (32) || fed_hash (32) || not_before (u64 LE) ||
 *   not_after (u64 LE) || sig (64)
 * sig = Ed25519 by the authority over
 *   "privfl-enroll-v1" (16) || fed_hash || client_pk || not_before ||
 *   not_after
 * fed_hash = BLAKE2b-256 personalised "privfl-enr-fed" of the federation
 * id. Times are Unix seconds.
 *
 * File: one line "pfl-enroll-v1 BASE64(certificate)".
 *
 * Thread-safety: all functions are pure or act on caller-owned buffers.
 */
#ifndef PRIVFL_ENROLL_H
#define PRIVFL_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

struct pfl_identity;

#define PFL_ENROLL_CERT_BYTES 144
#define PFL_ENROLL_FILE_MAX   512

/* The federation hash certificates are bound to. */
void pfl_enroll_fed_hash(const char *fed, uint8_t out[32]);

/*
 * Issue a certificate for client_pk.
 * @return PFL_OK; PFL_ERR_INVAL (NULL, not_after < not_before); PFL_ERR_CRYPTO
 */
pfl_err pfl_enroll_cert_issue(const struct pfl_identity *authority,
                              const char *fed, const uint8_t client_pk[32],
                              uint64_t not_before, uint64_t not_after,
                              uint8_t cert[PFL_ENROLL_CERT_BYTES]) PFL_WUR;

/*
 * Verify a certificate: the authority's signature, the federation, and
 * not_before <= now <= not_after.
 * @param[out] client_pk  the certified key, written on success only (may be
 *                        NULL)
 * @return PFL_OK; PFL_ERR_CRYPTO (bad signature, other federation, outside
 *         its validity); PFL_ERR_INVAL (NULL)
 */
pfl_err pfl_enroll_cert_verify(const uint8_t authority_pk[32],
                               const uint8_t fed_hash[32],
                               const uint8_t cert[PFL_ENROLL_CERT_BYTES],
                               uint64_t now, uint8_t client_pk[32]) PFL_WUR;

/* Write cert to path (0644, replaced atomically). @return PFL_OK, PFL_ERR_IO */
pfl_err pfl_enroll_cert_save(const char *path,
                             const uint8_t cert[PFL_ENROLL_CERT_BYTES]) PFL_WUR;

/*
 * Read a certificate file (no signature check: see pfl_enroll_cert_verify).
 * @return PFL_OK, PFL_ERR_NOTFOUND, PFL_ERR_FORMAT, PFL_ERR_TOOBIG, PFL_ERR_IO
 */
pfl_err pfl_enroll_cert_load(const char *path,
                             uint8_t cert[PFL_ENROLL_CERT_BYTES]) PFL_WUR;

/* Parse the text of a certificate file. @return PFL_OK or PFL_ERR_FORMAT */
pfl_err pfl_enroll_cert_parse(const char *text, size_t len,
                              uint8_t cert[PFL_ENROLL_CERT_BYTES]) PFL_WUR;

#endif
