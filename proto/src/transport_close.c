/*
 * Bounded nng_close (transport_close.h): the close runs on a thread of its
 * own; the caller waits for it at most PFL_TRANSPORT_CLOSE_WAIT_MS.
 */
#include "transport_close.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <nng/supplemental/util/platform.h>

#include "privfl/log.h"
#include "privfl/transport.h"

/*
 * Closes that outlived the wait and go on in the background
 * (pfl_transport_closes_pending). Process-wide, like nng's own state, and
 * only a count.
 */
static atomic_int closes_pending;

struct closer {
	nng_socket sock;
	void (*fin)(void *);
	void *arg;
	const char *what;
	nng_mtx *mu;
	nng_cv *cv;
	bool closed;    /* nng_close returned */
	bool abandoned; /* the waiter gave up: the thread calls fin */
};

int
pfl_transport_closes_pending(void)
{
	return atomic_load(&closes_pending);
}

static void
closer_free(struct closer *k)
{
	nng_cv_free(k->cv);
	nng_mtx_free(k->mu);
	free(k);
}

static void *
closer_main(void *arg)
{
	struct closer *k = arg;
	bool abandoned;

	(void)nng_close(k->sock);
	nng_mtx_lock(k->mu);
	k->closed = true;
	abandoned = k->abandoned;
	nng_cv_wake(k->cv);
	nng_mtx_unlock(k->mu);
	if (!abandoned)
		return NULL; /* the waiter frees k */
	pfl_log(PFL_LOG_INFO, "%s: the socket closed in the background at last",
	        k->what);
	k->fin(k->arg);
	closer_free(k);
	atomic_fetch_sub(&closes_pending, 1);
	return NULL;
}

bool
pfli_close_bounded(nng_socket sock, void (*fin)(void *), void *arg,
                   const char *what)
{
	struct closer *k = calloc(1, sizeof(*k));
	nng_time until;
	pthread_t thr;
	bool closed;

	if (k == NULL || nng_mtx_alloc(&k->mu) != 0 ||
	    nng_cv_alloc(&k->cv, k->mu) != 0) {
		if (k != NULL && k->mu != NULL)
			nng_mtx_free(k->mu);
		free(k);
		(void)nng_close(sock); /* no memory: unbounded, as before */
		return true;
	}
	k->sock = sock;
	k->fin = fin;
	k->arg = arg;
	k->what = what;
	if (pthread_create(&thr, NULL, closer_main, k) != 0) {
		closer_free(k);
		(void)nng_close(sock);
		return true;
	}
	until = nng_clock() + PFL_TRANSPORT_CLOSE_WAIT_MS;
	nng_mtx_lock(k->mu);
	while (!k->closed && nng_clock() < until)
		(void)nng_cv_until(k->cv, until);
	closed = k->closed;
	if (!closed) {
		k->abandoned = true;
		atomic_fetch_add(&closes_pending, 1);
	}
	nng_mtx_unlock(k->mu);
	if (closed) {
		pthread_join(thr, NULL);
		closer_free(k);
		return true;
	}
	pthread_detach(thr);
	pfl_log(PFL_LOG_WARN,
	        "%s: closing the socket took more than %d ms (nng is still "
	        "tearing a connection down); left to finish in the background",
	        what, PFL_TRANSPORT_CLOSE_WAIT_MS);
	return false;
}
