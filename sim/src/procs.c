/*
 * --processes: the aggregator runs in this process, the virtual clients
 * in child processes (forked before any network thread exists), all over
 * tcp:// on loopback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privfl/log.h"
#include "privfl/sig.h"
#include "sim_int.h"

pfl_err
pfli_sim_pick_url(const struct pfl_sim_config *c, char *url, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int port = (int)c->port, fd;

	if (port == 0) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return PFL_ERR_IO;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
			close(fd);
			return PFL_ERR_IO;
		}
		port = ntohs(sa.sin_port);
		close(fd);
	}
	snprintf(url, len, "tcp://127.0.0.1:%d", port);
	return PFL_OK;
}

static atomic_int child_done; /* lock-free: set by a signal handler */

static void
on_term(int sig)
{
	(void)sig;
	child_done = 1;
}

struct agg_run {
	struct pfl_aggregator *a;
	pfl_err rv;
};

pfl_err
pfli_sim_run_processes(const struct pfl_sim_config *c, struct pfli_sim *sim,
                       struct pfl_aggregator *a)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t procs = c->threads > 0 ? (uint32_t)c->threads : (uint32_t)ncpu;
	pid_t *pids;
	pfl_err rv;

	if (procs > sim->n)
		procs = sim->n;
	if (procs == 0)
		procs = 1;
	if ((pids = calloc(procs, sizeof(*pids))) == NULL)
		return PFL_ERR_NOMEM;
	fflush(NULL);
	for (uint32_t p = 0; p < procs; p++) {
		uint32_t first = (uint32_t)((uint64_t)sim->n * p / procs);
		uint32_t last = (uint32_t)((uint64_t)sim->n * (p + 1) / procs);
		pid_t pid = fork();
		if (pid < 0) {
			pfl_log(PFL_LOG_ERROR, "fork failed");
			procs = p;
			break;
		}
		if (pid == 0) {
			pfl_signal_install(SIGTERM, on_term);
			rv = pfli_sim_workers(c, sim, c->agg.listen, first,
			                      last - first, 1, &child_done,
			                      NULL);
			_exit(rv == PFL_OK ? 0 : 1);
		}
		pids[p] = pid;
	}
	pfl_log(PFL_LOG_INFO, "%u client processes over %s", procs,
	        c->agg.listen);
	rv = pfl_aggregator_run(a);
	for (uint32_t p = 0; p < procs; p++)
		kill(pids[p], SIGTERM);
	for (uint32_t p = 0; p < procs; p++)
		waitpid(pids[p], NULL, 0);
	free(pids);
	return rv;
}
