/*
 * privfl — quick-start TLS material for tls+tcp:// (docs/TLS.md).
 *
 * Makes a private CA and a server certificate signed by it, by running the
 * openssl command-line tool (it must be on PATH; Debian package "openssl").
 * For production, use certificates from your own PKI instead; nng's mbedTLS
 * engine accepts any PEM certificate chain with an unencrypted key.
 */
#ifndef PRIVFL_TLS_H
#define PRIVFL_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "privfl/err.h"

/*
 * Create in dir (made 0700 if missing):
 *   ca.pem               CA certificate: give it to clients (tls_ca_file)
 *   ca.key               CA private key (0600): keep offline
 *   server.pem           server certificate (P-256, signed by the CA)
 *   server.key           server private key (0600)
 *   server-cert-key.pem  server.pem + server.key (0600): the aggregator's
 *                        tls_cert_key_file
 * The server certificate names "localhost", 127.0.0.1 and every entry of
 * names[0..nnames) (host names or IPv4/IPv6 addresses).
 * @param days   validity of the server certificate (the CA gets 10 years)
 * @param force  overwrite an existing ca.key; otherwise PFL_ERR_STATE
 * @return PFL_OK; PFL_ERR_STATE (exists); PFL_ERR_INVAL (bad name: only
 *         letters, digits, '.', '-', ':' allowed); PFL_ERR_NOTFOUND (no
 *         openssl); PFL_ERR_IO (openssl failed: see dir/openssl.log)
 * Not thread-safe with respect to dir.
 */
pfl_err pfl_tls_make_certs(const char *dir, const char *const *names,
                           size_t nnames, int days, bool force) PFL_WUR;

#endif
