#include "privfl/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "privfl/log.h"

static pfl_err
err_from_errno(int e)
{
	switch (e) {
	case ENOENT:
		return PFL_ERR_NOTFOUND;
	case ENOMEM:
		return PFL_ERR_NOMEM;
	case EACCES:
	case EPERM:
		return PFL_ERR_AUTH;
	default:
		return PFL_ERR_IO;
	}
}

/*
 * open(2), waiting out a brief shortage of descriptors (EMFILE, ENFILE) for
 * up to about 2.5 s: a burst of connections that the transport is about to
 * refuse holds descriptors for a moment, and a checkpoint must not fail for
 * it (docs/OPERATIONS.md).
 */
static int
open_retry(const char *path, int flags, mode_t mode)
{
	long wait_ms = 5;
	int fd;

	while ((fd = open(path, flags, mode)) < 0 &&
	       (errno == EMFILE || errno == ENFILE) && wait_ms <= 1280) {
		struct timespec ts = {0, wait_ms * 1000000L};
		if (wait_ms == 5)
			pfl_log(PFL_LOG_WARN,
			        "%s: out of file descriptors, retrying", path);
		nanosleep(&ts, NULL);
		wait_ms *= 2;
	}
	return fd;
}

pfl_err
pfl_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	pfl_err rv = PFL_OK;
	int fd;

	if ((fd = open_retry(path, O_RDONLY | O_CLOEXEC, 0)) < 0)
		return err_from_errno(errno);
	if (fstat(fd, &st) != 0) {
		rv = err_from_errno(errno);
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rv = PFL_ERR_FORMAT;
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rv = PFL_ERR_TOOBIG;
		goto out_close;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rv = r < 0 ? err_from_errno(errno) : PFL_ERR_IO;
			goto out_free;
		}
		got += (size_t)r;
	}
	buf[got] = 0;
	*data = buf;
	*len = got;
	buf = NULL;
out_free:
	free(buf);
out_close:
	close(fd);
	return rv;
}

static pfl_err
write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_from_errno(errno);
		p += w;
		len -= (size_t)w;
	}
	return PFL_OK;
}

static pfl_err
fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t l = (size_t)(slash - path);
		if (l >= sizeof(dir))
			return PFL_ERR_TOOBIG;
		memcpy(dir, path, l);
		dir[l] = '\0';
	}
	if ((fd = open_retry(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)) < 0)
		return err_from_errno(errno);
	if (fsync(fd) != 0 && errno != EINVAL) {
		close(fd);
		return PFL_ERR_IO;
	}
	close(fd);
	return PFL_OK;
}

pfl_err
pfl_file_write_atomic_parts(const char *path, const struct pfl_file_part *parts,
                            size_t nparts, mode_t mode)
{
	char tmp[PATH_MAX];
	pfl_err rv = PFL_OK;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return PFL_ERR_TOOBIG;
	/* A leftover temp file (crash) must not lend us its permissions. */
	unlink(tmp);
	fd = open_retry(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return err_from_errno(errno);
	if (fchmod(fd, mode) != 0) {
		close(fd);
		unlink(tmp);
		return err_from_errno(errno);
	}
	for (size_t i = 0; i < nparts && rv == PFL_OK; i++)
		rv = write_all(fd, parts[i].data, parts[i].len);
	if (rv == PFL_OK && fsync(fd) != 0)
		rv = PFL_ERR_IO;
	if (close(fd) != 0 && rv == PFL_OK)
		rv = PFL_ERR_IO;
	if (rv == PFL_OK && rename(tmp, path) != 0)
		rv = err_from_errno(errno);
	if (rv != PFL_OK) {
		unlink(tmp);
		pfl_log(PFL_LOG_WARN, "atomic write of %s failed: %s", path,
		        pfl_strerror(rv));
		return rv;
	}
	return fsync_dir_of(path);
}

pfl_err
pfl_file_write_atomic(const char *path, const void *data, size_t len,
                      mode_t mode)
{
	struct pfl_file_part part = {data, len};

	return pfl_file_write_atomic_parts(path, &part, 1, mode);
}

pfl_err
pfl_file_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return PFL_ERR_INVAL;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return err_from_errno(errno);
		if (i < len)
			buf[i] = '/';
	}
	return PFL_OK;
}

pfl_err
pfl_file_make_private_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return err_from_errno(errno);
	if (!S_ISDIR(st.st_mode))
		return PFL_ERR_FORMAT;
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0) {
		pfl_err rv = err_from_errno(errno);
		pfl_log(PFL_LOG_WARN, "cannot make %s private (mode 0700)",
		        path);
		return rv;
	}
	return PFL_OK;
}
