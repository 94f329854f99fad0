#include "privfl/transport.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "privfl/log.h"
#include "privfl/msg.h"
#include "transport_close.h"

struct pfl_conn {
	nng_socket sock;
	nng_dialer dialer;
	size_t max_msg;
	int timeout_ms;
	char url[256];
	/* a call waits on aio (done under mu/cv), watching *stop */
	nng_aio *aio;
	nng_mtx *mu;
	nng_cv *cv;
	bool done;
	bool stopped; /* aborted, or *stop seen: every call fails (under mu) */
	volatile sig_atomic_t *stop; /* pfl_conn_set_stop; NULL: none */
};

/* How often a waiting call looks at the stop flag. */
#define CONN_STOP_POLL_MS 20

struct worker {
	struct pfl_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	nng_thread *thr;
	struct pfl_buf reply;
};

struct pfl_server {
	nng_socket sock;
	nng_listener listener;
	pfl_serve_fn fn;
	void *arg;
	size_t max_msg;
	int timeout_ms;
	int nworkers;
	nng_mtx *mu;
	bool closing;
	struct worker *workers;
	int max_conns;
	uint64_t accepted; /* connections let in, ever */
	uint64_t refused;  /* connections closed at once, ever */
	uint64_t removed;  /* connections gone (let in or refused), ever */
};

static pfl_err
err_from_nng(int rv, const char *what, const char *url)
{
	switch (rv) {
	case 0:
		return PFL_OK;
	case NNG_ETIMEDOUT:
		return PFL_ERR_TIMEOUT;
	case NNG_ECLOSED:
		return PFL_ERR_CLOSED;
	case NNG_ENOMEM:
		return PFL_ERR_NOMEM;
	case NNG_EMSGSIZE:
		return PFL_ERR_TOOBIG;
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EINVAL:
		pfl_log(PFL_LOG_ERROR, "%s %s: %s", what, url,
		        nng_strerror(rv));
		return PFL_ERR_INVAL;
	case NNG_ECRYPTO:
	case NNG_EPEERAUTH:
		pfl_log(PFL_LOG_ERROR,
		        "%s %s: TLS handshake failed (%s): the server "
		        "certificate "
		        "is not signed by the configured CA or does not match "
		        "the "
		        "server name",
		        what, url, nng_strerror(rv));
		return PFL_ERR_CRYPTO;
	default:
		pfl_log(PFL_LOG_WARN, "%s %s: %s", what, url, nng_strerror(rv));
		return PFL_ERR_IO;
	}
}

static bool
is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss", 3) == 0;
}

static size_t
opt_max(const struct pfl_transport_opts *o)
{
	return o && o->max_msg_bytes ? o->max_msg_bytes
	                             : (size_t)PFL_WIRE_DEFAULT_MAX_MSG;
}

static int
opt_timeout(const struct pfl_transport_opts *o)
{
	return o && o->timeout_ms > 0 ? o->timeout_ms
	                              : PFL_TRANSPORT_DEFAULT_TIMEOUT_MS;
}

/*
 * The name the server certificate must carry: tls_server_name, or else the
 * host of the URL (an IP literal too: mbedTLS 2.28 matches it against the
 * certificate's DNS names, so certificates name IPs as DNS names as well,
 * docs/TLS.md). Without a name nng's mbedTLS engine checks none, and any
 * certificate of the CA would do for any host.
 */
static pfl_err
tls_expected_name(nng_tls_config *cfg, const char *url,
                  const struct pfl_transport_opts *o)
{
	nng_url *u = NULL;
	int rv;

	if (o->tls_server_name != NULL && o->tls_server_name[0] != '\0')
		return err_from_nng(
		        nng_tls_config_server_name(cfg, o->tls_server_name),
		        "tls server name", url);
	if ((rv = nng_url_parse(&u, url)) != 0)
		return err_from_nng(rv, "dial", url);
	if (u->u_hostname == NULL || u->u_hostname[0] == '\0' ||
	    strcmp(u->u_hostname, "*") == 0) {
		pfl_log(PFL_LOG_ERROR,
		        "%s: no host to check the server certificate against "
		        "(set tls_server_name)",
		        url);
		nng_url_free(u);
		return PFL_ERR_CONFIG;
	}
	rv = nng_tls_config_server_name(cfg, u->u_hostname);
	nng_url_free(u);
	return err_from_nng(rv, "tls server name", url);
}

/* Build the client TLS configuration for dialer d. */
static pfl_err
dialer_tls(nng_dialer d, const char *url, const struct pfl_transport_opts *o)
{
	nng_tls_config *cfg = NULL;
	pfl_err e;
	int rv;

	if (o == NULL || o->tls_ca_file == NULL || o->tls_ca_file[0] == '\0') {
		pfl_log(PFL_LOG_ERROR, "%s: tls+tcp needs a CA file", url);
		return PFL_ERR_CONFIG;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return err_from_nng(rv, "tls config", url);
	if ((e = tls_expected_name(cfg, url, o)) != PFL_OK) {
		nng_tls_config_free(cfg);
		return e;
	}
	rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0 &&
	    (rv = nng_tls_config_ca_file(cfg, o->tls_ca_file)) != 0) {
		pfl_log(PFL_LOG_ERROR, "%s: cannot load CA file %s: %s", url,
		        o->tls_ca_file, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return PFL_ERR_CONFIG;
	}
	if (rv == 0)
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the dialer holds its own reference */
	return err_from_nng(rv, "tls config", url);
}

static pfl_err
listener_tls(nng_listener l, const char *url,
             const struct pfl_transport_opts *o)
{
	nng_tls_config *cfg = NULL;
	int rv;

	if (o == NULL || o->tls_cert_key_file == NULL ||
	    o->tls_cert_key_file[0] == '\0') {
		pfl_log(PFL_LOG_ERROR, "%s: tls+tcp needs a certificate file",
		        url);
		return PFL_ERR_CONFIG;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0)
		return err_from_nng(rv, "tls config", url);
	if ((rv = nng_tls_config_cert_key_file(cfg, o->tls_cert_key_file,
	                                       NULL)) != 0) {
		pfl_log(PFL_LOG_ERROR,
		        "%s: cannot load certificate and key from %s: %s", url,
		        o->tls_cert_key_file, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return PFL_ERR_CONFIG;
	}
	rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	return err_from_nng(rv, "tls config", url);
}

static pfl_err
conn_dial(struct pfl_conn *c, const char *url,
          const struct pfl_transport_opts *o)
{
	int rv;
	pfl_err e;

	if ((rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0)
		return err_from_nng(rv, "dial", url);
	nng_dialer_set_size(c->dialer, NNG_OPT_RECVMAXSZ, c->max_msg);
	nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMINT, 100);
	nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMAXT, 5000);
	if (is_tls(url) && (e = dialer_tls(c->dialer, url, o)) != PFL_OK)
		return e;
	if (!is_tls(url)) {
		rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK);
		return err_from_nng(rv, "dial", url);
	}
	/* TLS: a first, synchronous attempt reports handshake failures. */
	rv = nng_dialer_start(c->dialer, 0);
	if (rv == 0)
		return PFL_OK;
	if (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || rv == NNG_EADDRINVAL ||
	    rv == NNG_EINVAL || rv == NNG_ENOTSUP)
		return err_from_nng(rv, "dial", url);
	pfl_log(PFL_LOG_INFO, "dial %s: %s; retrying in the background", url,
	        nng_strerror(rv));
	rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK);
	return err_from_nng(rv, "dial", url);
}

static void
conn_aio_done(void *arg)
{
	struct pfl_conn *c = arg;

	nng_mtx_lock(c->mu);
	c->done = true;
	nng_cv_wake(c->cv);
	nng_mtx_unlock(c->mu);
}

static void
conn_free(void *arg)
{
	struct pfl_conn *c = arg;

	if (c->aio != NULL)
		nng_aio_free(c->aio); /* idle: the socket is closed */
	if (c->cv != NULL)
		nng_cv_free(c->cv);
	if (c->mu != NULL)
		nng_mtx_free(c->mu);
	free(c);
}

/*
 * Wait for the operation started on c->aio and return its result. When
 * the conn is aborted or *c->stop becomes non-zero, cancel the operation
 * (it then ends at once). Cancelling, not closing the socket: nng_close
 * may wait on connections being torn down (transport_close.h), and a
 * cancelled receive is safe here because the send has completed (nng
 * 1.5.2's #1702 needs a receive started before its send ended).
 */
static int
conn_wait(struct pfl_conn *c)
{
	bool cancelled = false;

	nng_mtx_lock(c->mu);
	while (!c->done) {
		if (!cancelled && c->stop != NULL && *c->stop)
			c->stopped = true;
		if (!cancelled && c->stopped) {
			cancelled = true;
			nng_mtx_unlock(c->mu);
			nng_aio_cancel(c->aio);
			nng_mtx_lock(c->mu);
			continue;
		}
		if (c->stop != NULL && !cancelled)
			(void)nng_cv_until(c->cv,
			                   nng_clock() + CONN_STOP_POLL_MS);
		else
			nng_cv_wait(c->cv);
	}
	c->done = false;
	nng_mtx_unlock(c->mu);
	return nng_aio_result(c->aio);
}

static bool
conn_stopped(struct pfl_conn *c)
{
	bool stopped;

	nng_mtx_lock(c->mu);
	if (c->stop != NULL && *c->stop)
		c->stopped = true;
	stopped = c->stopped;
	nng_mtx_unlock(c->mu);
	return stopped;
}

void
pfl_conn_set_stop(struct pfl_conn *c, volatile sig_atomic_t *stop)
{
	if (c != NULL)
		c->stop = stop;
}

pfl_err
pfl_conn_open(const char *url, const struct pfl_transport_opts *o,
              struct pfl_conn **out)
{
	struct pfl_conn *c;
	pfl_err e;
	int rv;

	if (url == NULL || out == NULL || strlen(url) >= sizeof(c->url))
		return PFL_ERR_INVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PFL_ERR_NOMEM;
	strcpy(c->url, url);
	c->max_msg = opt_max(o);
	c->timeout_ms = opt_timeout(o);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c);
		return err_from_nng(rv, "open", url);
	}
	if ((rv = nng_mtx_alloc(&c->mu)) != 0 ||
	    (rv = nng_cv_alloc(&c->cv, c->mu)) != 0 ||
	    (rv = nng_aio_alloc(&c->aio, conn_aio_done, c)) != 0) {
		nng_close(c->sock);
		conn_free(c);
		return err_from_nng(rv, "open", url);
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->max_msg);
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	if ((e = conn_dial(c, url, o)) != PFL_OK) {
		pfl_conn_close(c);
		return e;
	}
	*out = c;
	return PFL_OK;
}

void
pfl_conn_abort(struct pfl_conn *c)
{
	if (c == NULL)
		return;
	nng_mtx_lock(c->mu);
	c->stopped = true;
	nng_cv_wake(c->cv); /* a waiting call cancels its operation */
	nng_mtx_unlock(c->mu);
}

void
pfl_conn_close(struct pfl_conn *c)
{
	if (c == NULL)
		return;
	if (pfli_close_bounded(c->sock, conn_free, c, c->url))
		conn_free(c);
}

pfl_err
pfl_conn_call(struct pfl_conn *c, const uint8_t *req, size_t len,
              struct pfl_buf *reply)
{
	nng_msg *msg = NULL;
	nng_time deadline;
	nng_duration left;
	pfl_err e;
	int rv;

	if (c == NULL || (req == NULL && len > 0) || reply == NULL)
		return PFL_ERR_INVAL;
	if (len > c->max_msg)
		return PFL_ERR_TOOBIG;
	if (conn_stopped(c))
		return PFL_ERR_CLOSED;
	if ((rv = nng_msg_alloc(&msg, len)) != 0)
		return err_from_nng(rv, "call", c->url);
	if (len > 0)
		memcpy(nng_msg_body(msg), req, len);
	deadline = nng_clock() + (nng_time)c->timeout_ms;
	nng_aio_set_msg(c->aio, msg);
	nng_aio_set_timeout(c->aio, c->timeout_ms);
	nng_send_aio(c->sock, c->aio);
	if ((rv = conn_wait(c)) != 0) {
		nng_msg_free(msg); /* not sent: still ours */
		return conn_stopped(c) ? PFL_ERR_CLOSED
		                       : err_from_nng(rv, "send to", c->url);
	}
	left = (nng_duration)(deadline > nng_clock() ? deadline - nng_clock()
	                                             : 1);
	nng_aio_set_timeout(c->aio, left);
	nng_recv_aio(c->sock, c->aio);
	if ((rv = conn_wait(c)) == 0)
		msg = nng_aio_get_msg(c->aio);
	if (rv != 0) {
		if (conn_stopped(c))
			return PFL_ERR_CLOSED;
		e = err_from_nng(rv, "receive from", c->url);
		if (e == PFL_ERR_TIMEOUT)
			pfl_log(PFL_LOG_DEBUG, "%s: no reply within %d ms",
			        c->url, c->timeout_ms);
		return e;
	}
	e = pfl_buf_append(reply, nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	return e;
}

/* ---- server ---- */

static bool
server_closing(struct pfl_server *s)
{
	bool c;

	nng_mtx_lock(s->mu);
	c = s->closing;
	nng_mtx_unlock(s->mu);
	return c;
}

static void
worker_reply(struct worker *w)
{
	struct pfl_server *s = w->srv;
	nng_msg *msg = NULL;

	if (nng_msg_alloc(&msg, w->reply.len) != 0) {
		pfl_log(PFL_LOG_WARN, "server: no memory for a %zu-byte reply",
		        w->reply.len);
		return;
	}
	if (w->reply.len > 0)
		memcpy(nng_msg_body(msg), w->reply.data, w->reply.len);
	nng_aio_set_msg(w->aio, msg);
	nng_aio_set_timeout(w->aio, s->timeout_ms);
	nng_ctx_send(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	if (nng_aio_result(w->aio) != 0)
		nng_msg_free(msg); /* not sent: still ours */
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pfl_server *s = w->srv;

	while (!server_closing(s)) {
		nng_msg *msg;
		int rv;

		nng_aio_set_timeout(w->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				break;
			continue;
		}
		msg = nng_aio_get_msg(w->aio);
		if (nng_msg_len(msg) > s->max_msg) {
			pfl_log(PFL_LOG_WARN,
			        "server: dropped a %zu-byte request (limit "
			        "%zu)",
			        nng_msg_len(msg), s->max_msg);
			nng_msg_free(msg);
			continue;
		}
		pfl_buf_clear(&w->reply);
		s->fn(s->arg, nng_msg_body(msg), nng_msg_len(msg), &w->reply);
		/* a plain update arrives in clear: wipe it before nng frees */
		sodium_memzero(nng_msg_body(msg), nng_msg_len(msg));
		nng_msg_free(msg);
		worker_reply(w);
	}
}

/*
 * Connection cap. nng reports REM_POST also for the connections refused in
 * ADD_PRE, so the open count is accepted - removed + refused: exact once
 * the refused ones are reaped, and never below the truth before that.
 */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct pfl_server *s = arg;
	bool refuse = false;
	uint64_t refused = 0;

	nng_mtx_lock(s->mu);
	if (ev == NNG_PIPE_EV_REM_POST) {
		s->removed++;
	} else if (s->accepted + s->refused - s->removed >=
	           (uint64_t)s->max_conns) {
		refuse = true;
		refused = ++s->refused;
	} else {
		s->accepted++;
	}
	nng_mtx_unlock(s->mu);
	if (refuse) {
		nng_pipe_close(p);
		if (refused == 1 || refused % 1000 == 0)
			pfl_log(PFL_LOG_WARN,
			        "server: %d connections open, refused a new "
			        "one "
			        "(%llu refused so far)",
			        s->max_conns, (unsigned long long)refused);
	}
}

static pfl_err
server_listen(struct pfl_server *s, const char *url,
              const struct pfl_transport_opts *o)
{
	pfl_err e;
	int rv;

	if ((rv = nng_listener_create(&s->listener, s->sock, url)) != 0)
		return err_from_nng(rv, "listen", url);
	nng_listener_set_size(s->listener, NNG_OPT_RECVMAXSZ, s->max_msg);
	if (is_tls(url) && (e = listener_tls(s->listener, url, o)) != PFL_OK)
		return e;
	if ((rv = nng_listener_start(s->listener, 0)) != 0) {
		pfl_log(PFL_LOG_ERROR, "listen %s: %s", url, nng_strerror(rv));
		return rv == NNG_EADDRINVAL || rv == NNG_EINVAL ? PFL_ERR_INVAL
		                                                : PFL_ERR_IO;
	}
	return PFL_OK;
}

static pfl_err
server_start_workers(struct pfl_server *s)
{
	int rv;

	for (int i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->srv = s;
		pfl_buf_init(&w->reply, s->max_msg);
		if ((rv = nng_ctx_open(&w->ctx, s->sock)) != 0 ||
		    (rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0)
			return err_from_nng(rv, "server", "worker");
	}
	for (int i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		if ((rv = nng_thread_create(&w->thr, worker_main, w)) != 0)
			return err_from_nng(rv, "server", "thread");
	}
	return PFL_OK;
}

pfl_err
pfl_server_open(const char *url, const struct pfl_transport_opts *o,
                pfl_serve_fn fn, void *arg, struct pfl_server **out)
{
	struct pfl_server *s;
	pfl_err e;
	int rv;

	if (url == NULL || fn == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PFL_ERR_NOMEM;
	s->fn = fn;
	s->arg = arg;
	s->max_msg = opt_max(o);
	s->timeout_ms = opt_timeout(o);
	s->nworkers = o && o->workers > 0 ? o->workers
	                                  : PFL_TRANSPORT_DEFAULT_WORKERS;
	if (s->nworkers > PFL_TRANSPORT_MAX_WORKERS)
		s->nworkers = PFL_TRANSPORT_MAX_WORKERS;
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (s->workers == NULL || nng_mtx_alloc(&s->mu) != 0) {
		free(s->workers);
		free(s);
		return PFL_ERR_NOMEM;
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		nng_mtx_free(s->mu);
		free(s->workers);
		free(s);
		return err_from_nng(rv, "listen", url);
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->max_msg);
	s->max_conns = o && o->max_conns > 0 ? o->max_conns : 0;
	if (s->max_conns > 0 &&
	    ((rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_event,
	                           s)) != 0 ||
	     (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_event,
	                           s)) != 0)) {
		pfl_server_close(s);
		return err_from_nng(rv, "listen", url);
	}
	if ((e = server_listen(s, url, o)) != PFL_OK ||
	    (e = server_start_workers(s)) != PFL_OK) {
		pfl_server_close(s);
		return e;
	}
	*out = s;
	return PFL_OK;
}

int
pfl_server_port(const struct pfl_server *s)
{
	int port = 0;

	if (s == NULL ||
	    nng_listener_get_int(s->listener, NNG_OPT_TCP_BOUND_PORT, &port) !=
	            0)
		return -1;
	return port;
}

/* The rest of the server, once nng is done with it (pipe callbacks use
 * s->mu and the counters until then). */
static void
server_free(void *arg)
{
	struct pfl_server *s = arg;

	for (int i = 0; i < s->nworkers; i++)
		pfl_buf_fini(&s->workers[i].reply);
	nng_mtx_free(s->mu);
	free(s->workers);
	free(s);
}

void
pfl_server_close(struct pfl_server *s)
{
	if (s == NULL)
		return;
	nng_mtx_lock(s->mu);
	s->closing = true;
	nng_mtx_unlock(s->mu);
	/*
	 * Stop the aios first: nng marks a stopped aio so that every later
	 * operation on it fails at once, so each worker finishes its current
	 * request and exits. Only then close the socket: closing it while a
	 * worker is inside nng_ctx_send crashes nng 1.5.2. The aios, stopped
	 * and idle, are freed before the socket closes, so that nothing of
	 * ours is in nng's hands while it tears the connections down.
	 */
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].aio != NULL)
			nng_aio_stop(s->workers[i].aio);
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].thr != NULL)
			nng_thread_destroy(s->workers[i].thr);
	for (int i = 0; i < s->nworkers; i++) {
		nng_aio_free(s->workers[i].aio);
		s->workers[i].aio = NULL;
	}
	if (pfli_close_bounded(s->sock, server_free, s, "server"))
		server_free(s);
}
