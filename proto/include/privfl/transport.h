/*
 * privfl — request/reply transport over nng (REQ/REP), client-driven.
 *
 * Clients dial the aggregator (they sit behind NATs and come and go) and
 * send one request at a time; the server answers each request on one of a
 * fixed pool of worker threads. URLs: tcp://host:port, tls+tcp://host:port,
 * ipc:///path, inproc://name (same process, e.g. the simulator).
 *
 * Limits: every socket and listener sets NNG_OPT_RECVMAXSZ to
 * max_msg_bytes; over tcp/tls an oversized message is dropped by nng before
 * it is allocated and the connection is closed; over inproc the server drops
 * it unanswered. A peer that sends garbage gets whatever the serve function
 * answers; a peer that disconnects mid-request costs nothing.
 *
 * No resends: nng's REQ resend timer is disabled, and with it (nng 1.5.2)
 * the resend after a reconnect; a request whose connection drops fails
 * with PFL_ERR_IO and the caller decides whether to retry (with a fresh
 * nonce). So a server never sees one signed request twice from nng itself.
 *
 * nng_fini() is never called here: the process's main() may call it at the
 * very end.
 *
 * Known nng 1.5.2 issue (fixed upstream in 1.6.0): closing a socket while
 * one of its connections is still being set up or torn down (a redial in
 * progress, a failed TLS handshake) leaks that connection, a few KiB. It
 * only matters at shutdown, but LeakSanitizer reports it; tests let such
 * connections settle before closing.
 */
#ifndef PRIVFL_TRANSPORT_H
#define PRIVFL_TRANSPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "privfl/buf.h"
#include "privfl/err.h"

#define PFL_TRANSPORT_DEFAULT_TIMEOUT_MS 30000
#define PFL_TRANSPORT_DEFAULT_WORKERS    4
#define PFL_TRANSPORT_MAX_WORKERS        256
/* pfl_server_close waits at most this long for nng to close the socket */
#define PFL_TRANSPORT_CLOSE_WAIT_MS      3000

struct pfl_transport_opts {
	size_t max_msg_bytes; /* NNG_OPT_RECVMAXSZ; 0 = 64 MiB */
	int timeout_ms;       /* per request (send + receive); <= 0: default */
	const char *tls_ca_file;       /* client, tls+tcp: CA of the server
	                                  certificate (required for tls+tcp) */
	const char *tls_server_name;   /* client: expected name (default: the
	                                  host of the URL) */
	const char *tls_cert_key_file; /* server, tls+tcp: PEM with certificate
	                                  (chain) and unencrypted key */
	int workers;   /* server: requests served concurrently; <= 0: default */
	int max_conns; /* server: connections open at once; beyond it a new
	                  one is closed at once (its client retries later);
	                  <= 0: unlimited */
};

struct pfl_conn;
struct pfl_server;

/* ---- client ---- */

/*
 * One REQ socket dialing url; one request at a time; reconnects by itself
 * (100 ms doubling to 5 s). An unreachable server is not an error: the
 * socket keeps trying in the background and calls time out meanwhile. For
 * tls+tcp the first attempt is made at once, so that a TLS failure
 * (untrusted certificate, name mismatch) is reported here as
 * PFL_ERR_CRYPTO with the reason logged; that attempt may block up to the
 * system's TCP connect timeout when the host drops packets.
 * Not thread-safe: one thread uses a conn at a time; different conns are
 * independent.
 * @param o  NULL = defaults
 * @return PFL_OK, PFL_ERR_INVAL (bad URL), PFL_ERR_CONFIG (tls+tcp without a
 *         CA file, unreadable CA), PFL_ERR_CRYPTO (TLS handshake refused),
 *         PFL_ERR_NOMEM, PFL_ERR_IO
 */
pfl_err pfl_conn_open(const char *url, const struct pfl_transport_opts *o,
                      struct pfl_conn **out) PFL_WUR;

/*
 * Send req[0..len) and wait for the reply, within o->timeout_ms in total.
 * The reply is appended to reply (whose max applies).
 * @return PFL_OK; PFL_ERR_TIMEOUT (no reply in time: server down, request
 *         dropped unanswered, TLS failing); PFL_ERR_CLOSED; PFL_ERR_TOOBIG
 *         (request over max_msg_bytes, or reply over reply->max);
 *         PFL_ERR_IO (connection lost or reset while waiting, e.g. the
 *         server dropped an oversized request; other nng errors; logged);
 *         PFL_ERR_NOMEM
 */
pfl_err pfl_conn_call(struct pfl_conn *c, const uint8_t *req, size_t len,
                      struct pfl_buf *reply) PFL_WUR;

/*
 * Abort, from any thread: a pfl_conn_call blocked in another thread
 * cancels its request and returns PFL_ERR_CLOSED at once (and later ones
 * at once too). For a daemon that must stop promptly while the server is
 * unreachable. Never blocks. The conn must still be freed with
 * pfl_conn_close.
 */
void pfl_conn_abort(struct pfl_conn *c);

/*
 * Watch *stop (NULL: nothing) during every later pfl_conn_call on c: once
 * it is non-zero, a call waiting for the network aborts the conn (as
 * pfl_conn_abort) within about 20 ms and returns PFL_ERR_CLOSED, and so do
 * later calls (the conn stays aborted). For an embedded client stopped by a
 * flag (pfl_client_run): without it, a call to a server that is gone waits for
 * its timeout. The flag is read by the calling thread; it must outlive its use
 * on c.
 */
void pfl_conn_set_stop(struct pfl_conn *c, volatile sig_atomic_t *stop);

/*
 * Close the socket and free the conn; accepts NULL. Waits for nng at most
 * PFL_TRANSPORT_CLOSE_WAIT_MS, as pfl_server_close does.
 */
void pfl_conn_close(struct pfl_conn *c);

/* ---- server ---- */

/*
 * Serve one request: runs on a worker thread, may block briefly and take
 * the caller's locks, and must put the reply in reply (empty on entry, max
 * = max_msg_bytes). req is valid only during the call. An empty reply is
 * sent as an empty message.
 */
typedef void (*pfl_serve_fn)(void *arg, const uint8_t *req, size_t len,
                             struct pfl_buf *reply);

/*
 * Listen on url and serve requests with o->workers threads, each with its
 * own nng context. fn(arg, ...) runs concurrently on several workers.
 * @return PFL_OK, PFL_ERR_INVAL (bad URL), PFL_ERR_CONFIG (tls+tcp without
 *         a certificate, unreadable certificate), PFL_ERR_IO (address in use,
 *         logged), PFL_ERR_NOMEM
 */
pfl_err pfl_server_open(const char *url, const struct pfl_transport_opts *o,
                        pfl_serve_fn fn, void *arg,
                        struct pfl_server **out) PFL_WUR;

/* The port a tcp:// or tls+tcp:// server listens on (useful with port 0). */
int pfl_server_port(const struct pfl_server *s);

/*
 * Stop accepting, abort waiting receives, wait for every worker to finish
 * its current request, close the socket and free. Accepts NULL. Must not be
 * called from fn.
 *
 * Bounded: the socket's close (nng tearing down the connections still in
 * flight) is waited for at most PFL_TRANSPORT_CLOSE_WAIT_MS; beyond that
 * it goes on in a background thread that frees the rest when nng returns
 * (logged), and pfl_server_close returns. fn and arg are no longer used
 * by then. So the time it takes is the longest fn call in progress plus
 * at most PFL_TRANSPORT_CLOSE_WAIT_MS. (nng 1.5.2 can hang a close for
 * good: a connection closed while it resubmits a partial read of a large
 * message never finishes its receive, and its teardown blocks nng's one
 * reaper thread; nng 1.6.0 fixed it for tcp only.)
 */
void pfl_server_close(struct pfl_server *s);

/*
 * Sockets (servers and conns) of this process whose close is still going
 * on in the background (see pfl_server_close); for tests and exit
 * diagnostics.
 */
int pfl_transport_closes_pending(void);

#endif
