/* privfl certs --out DIR: quick-start TLS CA and server certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "privfl/tls.h"

#define MAX_NAMES 32

static void
certs_usage(FILE *f)
{
	fprintf(f,
	        "usage: privfl certs --out DIR [--name HOST]... [--days N] "
	        "[--force]\n\n"
	        "Makes a private CA and a server certificate for tls+tcp:// "
	        "with the\nopenssl tool (docs/TLS.md). The certificate names "
	        "localhost, 127.0.0.1\nand every --name. Aggregator: "
	        "tls_cert_key_file = DIR/server-cert-key.pem;\nclients: "
	        "tls_ca_file = DIR/ca.pem. Keep DIR/ca.key offline.\n");
}

int
pfl_cmd_certs(int argc, char **argv)
{
	const char *out = NULL, *names[MAX_NAMES];
	size_t n = 0;
	int days = 825;
	bool force = false;
	pfl_err rv;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "--out") == 0 && has) {
			out = argv[++i];
		} else if (strcmp(a, "--name") == 0 && has && n < MAX_NAMES) {
			names[n++] = argv[++i];
		} else if (strcmp(a, "--days") == 0 && has) {
			days = atoi(argv[++i]);
		} else if (strcmp(a, "--force") == 0) {
			force = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			certs_usage(stdout);
			return 0;
		} else {
			certs_usage(stderr);
			return 2;
		}
	}
	if (out == NULL || days <= 0 || days > 36500) {
		certs_usage(stderr);
		return 2;
	}
	if ((rv = pfl_tls_make_certs(out, names, n, days, force)) != PFL_OK) {
		fprintf(stderr, "privfl certs: %s\n", pfl_strerror(rv));
		return 1;
	}
	printf("wrote %s/ca.pem (clients: tls_ca_file)\n"
	       "      %s/server-cert-key.pem (aggregator: "
	       "tls_cert_key_file)\n"
	       "      %s/ca.key (keep offline), %s/server.pem, "
	       "%s/server.key\n",
	       out, out, out, out, out);
	return 0;
}
