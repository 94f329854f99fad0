/* privfl audit verify FILE [--head HEX]: check an aggregator audit log. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "privfl/audit.h"
#include "privfl/hash.h"

static int
usage(FILE *f)
{
	fprintf(f,
	        "usage: privfl audit verify FILE [--head HEX]\n\n"
	        "Checks the hash chain of an aggregator audit.log: every line\n"
	        "is a JSON object whose \"prev\" is the BLAKE2b-256 of the "
	        "line\n"
	        "before it. Prints 'ok: N rounds, last round R, head HEX' or\n"
	        "the first bad line and why.\n\n"
	        "  --head HEX   also require the last line to hash to HEX "
	        "(the\n"
	        "               audit head published on /status or recorded\n"
	        "               earlier): detects removed or edited last "
	        "lines\n\n"
	        "exit status: 0 valid, 1 invalid or unreadable, 2 usage\n");
	return f == stdout ? 0 : 2;
}

static int
verify(const char *path, const char *head)
{
	struct pfl_audit_summary sum;
	struct pfl_audit_error e;
	char hex[2 * PFL_HASH_BYTES + 1];
	pfl_err rv;

	memset(&e, 0, sizeof(e));
	rv = pfl_audit_verify_file(path, &sum, &e);
	if (rv == PFL_ERR_FORMAT) {
		printf("%s: line %llu: %s\n", path, (unsigned long long)e.line,
		       e.why);
		return 1;
	}
	if (rv != PFL_OK) {
		fprintf(stderr, "privfl audit: %s: %s\n", path,
		        pfl_strerror(rv));
		return 1;
	}
	pfl_hash_hex(sum.last_hash, PFL_HASH_BYTES, hex);
	if (head != NULL && strcmp(head, hex) != 0) {
		printf("%s: line %llu: the last line does not hash to the "
		       "expected head (lines removed or edited at the end)\n",
		       path, (unsigned long long)sum.lines);
		return 1;
	}
	printf("ok: %llu rounds, last round %llu, head %s\n",
	       (unsigned long long)sum.lines,
	       (unsigned long long)sum.last_round, hex);
	if (sum.reruns > 0)
		printf("note: %llu line(s) repeat an earlier round number "
		       "(rounds re-run after a fall-back to an older "
		       "checkpoint)\n",
		       (unsigned long long)sum.reruns);
	return 0;
}

int
pfl_cmd_audit(int argc, char **argv)
{
	const char *path = NULL, *head = NULL;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc < 3 || strcmp(argv[1], "verify") != 0)
		return usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--head") == 0 && i + 1 < argc)
			head = argv[++i];
		else if (strcmp(argv[i], "--help") == 0)
			return usage(stdout);
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			return usage(stderr);
	}
	if (path == NULL)
		return usage(stderr);
	return verify(path, head);
}
