#include "privfl/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privfl/file.h"
#include "privfl/log.h"

extern char **environ;

#define SAN_MAX 2048

static bool
name_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		      *s == ':'))
			return false;
	return true;
}

static bool
is_ip(const char *s)
{
	bool colon = strchr(s, ':') != NULL;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == ':' ||
		      (colon &&
		       ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))))
			return false;
	return true;
}

/* subjectAltName=DNS:localhost,IP:127.0.0.1,... */
static pfl_err
build_san(char *out, size_t cap, const char *const *names, size_t n)
{
	size_t len = (size_t)snprintf(
	        out, cap,
	        "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1");

	for (size_t i = 0; i < n; i++) {
		int w;
		if (!name_ok(names[i])) {
			pfl_log(PFL_LOG_ERROR, "certs: bad server name '%s'",
			        names[i] ? names[i] : "");
			return PFL_ERR_INVAL;
		}
		/* IPs also as DNS names: mbedTLS 2.28 matches names only */
		w = is_ip(names[i])
		            ? snprintf(out + len, cap - len, ",IP:%s,DNS:%s",
		                       names[i], names[i])
		            : snprintf(out + len, cap - len, ",DNS:%s",
		                       names[i]);
		if (w < 0 || (size_t)w >= cap - len)
			return PFL_ERR_INVAL;
		len += (size_t)w;
	}
	return PFL_OK;
}

/* Run openssl with argv, output appended to logpath. */
static pfl_err
run_openssl(char *const argv[], const char *logpath)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, rc;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return PFL_ERR_NOMEM;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		pfl_log(PFL_LOG_ERROR,
		        "certs: cannot run openssl (%s); install the openssl "
		        "package or see docs/TLS.md for the commands",
		        strerror(rc));
		return PFL_ERR_NOTFOUND;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return PFL_ERR_IO;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			return PFL_ERR_NOTFOUND;
		pfl_log(PFL_LOG_ERROR, "certs: 'openssl %s' failed; see %s",
		        argv[1], logpath);
		return PFL_ERR_IO;
	}
	return PFL_OK;
}

struct paths {
	char log[PATH_MAX], ca_key[PATH_MAX], ca_pem[PATH_MAX];
	char srv_key[PATH_MAX], srv_csr[PATH_MAX], srv_pem[PATH_MAX];
	char bundle[PATH_MAX], serial[PATH_MAX];
};

static pfl_err
make_paths(struct paths *p, const char *dir)
{
	static const char *const names[] = {
	        "openssl.log",         "ca.key",     "ca.pem",
	        "server.key",          "server.csr", "server.pem",
	        "server-cert-key.pem", "ca.srl"};
	char *dst[] = {p->log,     p->ca_key,  p->ca_pem, p->srv_key,
	               p->srv_csr, p->srv_pem, p->bundle, p->serial};

	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++) {
		int n = snprintf(dst[i], PATH_MAX, "%s/%s", dir, names[i]);
		if (n < 0 || n >= PATH_MAX)
			return PFL_ERR_INVAL;
	}
	return PFL_OK;
}

static pfl_err
make_ca(const struct paths *p)
{
	char *argv[] = {"openssl",
	                "req",
	                "-x509",
	                "-newkey",
	                "ec",
	                "-pkeyopt",
	                "ec_paramgen_curve:P-256",
	                "-nodes",
	                "-keyout",
	                (char *)p->ca_key,
	                "-out",
	                (char *)p->ca_pem,
	                "-days",
	                "3650",
	                "-subj",
	                "/CN=privfl quick-start CA",
	                "-addext",
	                "basicConstraints=critical,CA:TRUE",
	                "-addext",
	                "keyUsage=critical,keyCertSign,cRLSign",
	                NULL};

	return run_openssl(argv, p->log);
}

static pfl_err
make_server(const struct paths *p, const char *san, int days)
{
	char d[16];
	char *req[] = {"openssl",
	               "req",
	               "-new",
	               "-newkey",
	               "ec",
	               "-pkeyopt",
	               "ec_paramgen_curve:P-256",
	               "-nodes",
	               "-keyout",
	               (char *)p->srv_key,
	               "-out",
	               (char *)p->srv_csr,
	               "-subj",
	               "/CN=localhost",
	               "-addext",
	               (char *)san,
	               "-addext",
	               "basicConstraints=critical,CA:FALSE",
	               "-addext",
	               "extendedKeyUsage=serverAuth",
	               NULL};
	char *sign[] = {"openssl",
	                "x509",
	                "-req",
	                "-in",
	                (char *)p->srv_csr,
	                "-CA",
	                (char *)p->ca_pem,
	                "-CAkey",
	                (char *)p->ca_key,
	                "-CAcreateserial",
	                "-CAserial",
	                (char *)p->serial,
	                "-out",
	                (char *)p->srv_pem,
	                "-days",
	                d,
	                "-copy_extensions",
	                "copyall",
	                NULL};
	pfl_err rv;

	snprintf(d, sizeof(d), "%d", days);
	if ((rv = run_openssl(req, p->log)) != PFL_OK)
		return rv;
	return run_openssl(sign, p->log);
}

static pfl_err
make_bundle(const struct paths *p)
{
	uint8_t *cert = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	struct pfl_file_part parts[2];
	pfl_err rv;

	if ((rv = pfl_file_read(p->srv_pem, 1u << 20, &cert, &clen)) != PFL_OK)
		return rv;
	if ((rv = pfl_file_read(p->srv_key, 1u << 20, &key, &klen)) == PFL_OK) {
		parts[0] = (struct pfl_file_part){cert, clen};
		parts[1] = (struct pfl_file_part){key, klen};
		rv = pfl_file_write_atomic_parts(p->bundle, parts, 2, 0600);
		memset(key, 0, klen);
	}
	free(cert);
	free(key);
	return rv;
}

/* An empty 0600 file, so that openssl never writes a key readable by others. */
static pfl_err
precreate_private(const char *path)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		pfl_log(PFL_LOG_ERROR, "certs: cannot create %s: %s", path,
		        strerror(errno));
		return PFL_ERR_IO;
	}
	close(fd);
	return PFL_OK;
}

pfl_err
pfl_tls_make_certs(const char *dir, const char *const *names, size_t nnames,
                   int days, bool force)
{
	struct paths p;
	char san[SAN_MAX];
	pfl_err rv;

	if (dir == NULL || days <= 0 || (names == NULL && nnames > 0))
		return PFL_ERR_INVAL;
	if ((rv = make_paths(&p, dir)) != PFL_OK ||
	    (rv = build_san(san, sizeof(san), names, nnames)) != PFL_OK)
		return rv;
	if (!force && access(p.ca_key, F_OK) == 0) {
		pfl_log(PFL_LOG_ERROR, "certs: %s exists (use --force)",
		        p.ca_key);
		return PFL_ERR_STATE;
	}
	if ((rv = pfl_file_mkdirs(dir, 0700)) != PFL_OK)
		return rv;
	unlink(p.log);
	if ((rv = precreate_private(p.ca_key)) != PFL_OK ||
	    (rv = precreate_private(p.srv_key)) != PFL_OK)
		return rv;
	if ((rv = make_ca(&p)) != PFL_OK ||
	    (rv = make_server(&p, san, days)) != PFL_OK ||
	    (rv = make_bundle(&p)) != PFL_OK)
		return rv;
	chmod(p.ca_key, 0600);
	chmod(p.srv_key, 0600);
	chmod(p.ca_pem, 0644);
	chmod(p.srv_pem, 0644);
	unlink(p.srv_csr);
	unlink(p.serial);
	unlink(p.log);
	return PFL_OK;
}
