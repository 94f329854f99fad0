/*
 * privfl — signal handlers that stay installed. (Under strict C11 with
 * _POSIX_C_SOURCE, glibc's signal() has System V semantics: the handler is
 * reset after the first delivery, so a second SIGHUP would kill a daemon.)
 */
#ifndef PRIVFL_SIG_H
#define PRIVFL_SIG_H

/* Install fn for sig with sigaction; fn NULL = ignore. 0 on success. */
int pfl_signal_install(int sig, void (*fn)(int));

#endif
