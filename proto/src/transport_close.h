/*
 * Closing an nng socket within a bound (transport_close.c), for
 * pfl_server_close and pfl_conn_close.
 *
 * nng 1.5.2 tears every connection down on one reaper thread, and
 * nng_close waits for it. One connection closed while a partial read of a
 * large message was being resubmitted never finishes its receive (fixed
 * for tcp only in nng 1.6.0, #1636; the same code is in ipc), and from then
 * on the reaper, and every later nng_close of the process, waits forever.
 */
#ifndef PRIVFL_TRANSPORT_CLOSE_H
#define PRIVFL_TRANSPORT_CLOSE_H

#include <stdbool.h>

#include <nng/nng.h>

/*
 * nng_close(sock), waited for at most PFL_TRANSPORT_CLOSE_WAIT_MS. Returns
 * true when it returned in time: the caller frees what the socket's
 * callbacks used. Otherwise the close goes on in a detached thread, which
 * calls fin(arg) once nng_close returns (to free those), and false is
 * returned; what is logged then names `what`.
 */
bool pfli_close_bounded(nng_socket sock, void (*fin)(void *), void *arg,
                        const char *what);

#endif
