/*
 * privfl — the aggregator's audit log (OUT/audit.log).
 *
 * One JSON object per line, one line per round. Each line's last member is
 * "prev": the lower-case hex BLAKE2b-256 of the previous line's exact bytes
 * (without its '\n'); the first line's "prev" is 64 zeros. Modifying,
 * removing, inserting or reordering lines breaks the chain. Rounds normally
 * increase by one per line; a round number that does not exceed an earlier
 * one means the aggregator re-ran rounds after falling back to an older
 * checkpoint (the chain is still intact; pfl_audit_summary counts these).
 *
 * Thread-safety: the functions are pure (no shared state) and may be called
 * from any thread.
 */
#ifndef PRIVFL_AUDIT_H
#define PRIVFL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

/* Longest line a verifier accepts (a round with ~500k fingerprints). */
#define PFL_AUDIT_MAX_LINE (16u << 20)

/* What a valid log holds. */
struct pfl_audit_summary {
	uint64_t lines;      /* rounds recorded */
	uint64_t last_round; /* round of the last line (0: empty log) */
	uint64_t max_round;  /* highest round recorded */
	uint64_t reruns; /* lines whose round does not exceed an earlier one */
	uint8_t last_hash[32]; /* hash of the last line (zeros: empty log) */
};

/* Why a log is not valid. */
struct pfl_audit_error {
	uint64_t line;       /* 1-based number of the first bad line */
	char why[160];       /* e.g. "prev does not match the hash of line 2" */
	int torn;            /* the only fault: the last line has no '\n' */
	uint64_t good_bytes; /* length of the valid prefix of the file */
};

/*
 * Verify the audit log at path.
 * @param[out] sum  written on success.
 * @param[out] err  optional; on PFL_ERR_FORMAT, the first bad line and why.
 * @return PFL_OK; PFL_ERR_FORMAT for a broken chain, a line that is not a
 *         JSON object with a positive integer "round" and a hex "prev" as
 *         its last member, an empty or over-long line, or a last line
 *         without '\n'; PFL_ERR_NOTFOUND / PFL_ERR_IO when the file cannot
 *         be read; PFL_ERR_NOMEM.
 */
pfl_err pfl_audit_verify_file(const char *path, struct pfl_audit_summary *sum,
                              struct pfl_audit_error *err) PFL_WUR;

/* The same over a buffer of len bytes (borrowed for the call). */
pfl_err pfl_audit_verify_mem(const uint8_t *data, size_t len,
                             struct pfl_audit_summary *sum,
                             struct pfl_audit_error *err) PFL_WUR;

/*
 * Check that s[0..len) is exactly one JSON value (RFC 8259, no trailing
 * bytes, nesting at most 64 deep). Returns PFL_OK or PFL_ERR_FORMAT.
 */
pfl_err pfl_json_check(const char *s, size_t len) PFL_WUR;

#endif
