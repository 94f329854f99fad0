/* privfl fingerprint FILE.pub|DIR...: print public key fingerprints. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "privfl/identity.h"

int
pfl_cmd_fingerprint(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
		        "usage: privfl fingerprint FILE.pub|DIR...\n\n"
		        "Prints the fingerprint of each public key (for a "
		        "directory, of DIR/identity.pub).\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++) {
		char path[4096], fp[PFL_FINGERPRINT_LEN];
		uint8_t pk[PFL_SIGN_PK_BYTES];
		struct stat st;
		pfl_err rv;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			snprintf(path, sizeof(path), "%s/identity.pub",
			         argv[i]);
		else
			snprintf(path, sizeof(path), "%s", argv[i]);
		if ((rv = pfl_pubkey_load(path, pk)) != PFL_OK) {
			fprintf(stderr, "privfl fingerprint: %s: %s\n", path,
			        pfl_strerror(rv));
			status = 1;
			continue;
		}
		pfl_key_fingerprint(pk, fp);
		printf("%s  %s\n", fp, path);
	}
	return status;
}
