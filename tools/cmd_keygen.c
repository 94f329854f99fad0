/* privfl keygen --out DIR [--force]: make an Ed25519 identity. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "privfl/identity.h"

static void
keygen_usage(FILE *f)
{
	fprintf(f, "usage: privfl keygen --out DIR [--force]\n\n"
	           "Writes DIR/identity.key (private, mode 0600) and "
	           "DIR/identity.pub\n"
	           "(public: give it to the aggregator for enrollment, or pin "
	           "the\naggregator's in a client config). Refuses to "
	           "overwrite an existing\nidentity.key without --force.\n");
}

int
pfl_cmd_keygen(int argc, char **argv)
{
	const char *out = NULL;
	bool force = false;
	char path[4096], line[PFL_PUBKEY_LINE_MAX];
	struct pfl_identity *id = NULL;
	pfl_err rv;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strncmp(argv[i], "--out=", 6) == 0) {
			out = argv[i] + 6;
		} else if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else if (strcmp(argv[i], "--help") == 0 ||
		           strcmp(argv[i], "-h") == 0) {
			keygen_usage(stdout);
			return 0;
		} else {
			keygen_usage(stderr);
			return 2;
		}
	}
	if (out == NULL || out[0] == '\0') {
		keygen_usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/identity.key", out);
	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr,
		        "privfl keygen: %s exists; use --force to replace it\n",
		        path);
		return 1;
	}
	if ((rv = pfl_identity_generate(&id)) != PFL_OK ||
	    (rv = pfl_identity_save(id, out)) != PFL_OK) {
		fprintf(stderr, "privfl keygen: %s\n", pfl_strerror(rv));
		pfl_identity_free(id);
		return 1;
	}
	pfl_pubkey_format_line(pfl_identity_public(id), line);
	printf("wrote %s/identity.key and %s/identity.pub\n%s", out, out, line);
	pfl_identity_free(id);
	return 0;
}
