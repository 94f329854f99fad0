/*
 * privfl — files: bounded reads and atomic writes.
 *
 * pfl_file_write_atomic writes to a temporary file in the same directory,
 * fsyncs it, renames it over the target and fsyncs the directory, so that a
 * crash leaves either the old or the new file, never a mix.
 */
#ifndef PRIVFL_FILE_H
#define PRIVFL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "privfl/err.h"

/*
 * Read a whole file of at most max bytes into a malloc'd buffer (one extra
 * NUL byte is appended, not counted in *len). The caller frees *data.
 * PFL_ERR_TOOBIG when the file is larger than max.
 */
pfl_err pfl_file_read(const char *path, size_t max, uint8_t **data,
                      size_t *len) PFL_WUR;
/* Atomically replace path with data; mode is the new file's permissions. */
pfl_err pfl_file_write_atomic(const char *path, const void *data, size_t len,
                              mode_t mode) PFL_WUR;
/* Same, from several pieces (iov-like), for large files written in parts. */
struct pfl_file_part {
	const void *data;
	size_t len;
};
pfl_err pfl_file_write_atomic_parts(const char *path,
                                    const struct pfl_file_part *parts,
                                    size_t nparts, mode_t mode) PFL_WUR;
/* mkdir -p with mode for the created directories. */
pfl_err pfl_file_mkdirs(const char *path, mode_t mode) PFL_WUR;
/*
 * Make an existing directory of ours owner-only (0700), for directories
 * holding files that name clients; PFL_ERR_IO etc. when chmod fails.
 */
pfl_err pfl_file_make_private_dir(const char *path) PFL_WUR;

#endif
