/* privfl — keys, enrollment, the privacy accountant, model tools. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "commands.h"

typedef int (*cmd_fn)(int, char **);

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: privfl COMMAND [options]\n\n"
	        "commands:\n"
	        "  model train|eval|info   train, evaluate or inspect a model\n"
	        "  data stats              CSV preprocessing statistics for a "
	        "federation\n"
	        "  accountant              privacy accountant: epsilon for a "
	        "plan, or the plan for an epsilon\n"
	        "  keygen --out DIR        make an Ed25519 identity\n"
	        "  fingerprint FILE.pub    print a public key's fingerprint\n"
	        "  certs --out DIR         make a quick-start TLS CA and "
	        "server "
	        "certificate\n"
	        "  audit verify FILE       check an aggregator audit log\n"
	        "  enroll-authority --out DIR   make the enrollment "
	        "authority key\n"
	        "  enroll --authority DIR --client-key PUB --federation ID "
	        "--out CERT\n"
	        "                          certify a client's key for SecAgg\n"
	        "  enroll-verify --authority PUB --federation ID CERT\n\n"
	        "Run 'privfl COMMAND --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		cmd_fn fn;
	} * cmd, table[] = {
	                 {"model", pfl_cmd_model},
	                 {"data", pfl_cmd_data},
	                 {"accountant", pfl_cmd_accountant},
	                 {"keygen", pfl_cmd_keygen},
	                 {"fingerprint", pfl_cmd_fingerprint},
	                 {"certs", pfl_cmd_certs},
	                 {"audit", pfl_cmd_audit},
	                 {"enroll-authority", pfl_cmd_enroll_authority},
	                 {"enroll", pfl_cmd_enroll},
	                 {"enroll-verify", pfl_cmd_enroll_verify},
	         };

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "privfl: libsodium failed to initialize\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		cmd = &table[i];
		if (strcmp(argv[1], cmd->name) != 0)
			continue;
		if (cmd->fn == NULL) {
			fprintf(stderr, "privfl: '%s' is not built in\n",
			        cmd->name);
			return 1;
		}
		return cmd->fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "privfl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
