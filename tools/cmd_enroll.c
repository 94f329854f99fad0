/*
 * privfl enroll-authority --out DIR [--force]: make the enrollment
 * authority key (keep it with the operator, not on the aggregator).
 * privfl enroll --authority DIR --client-key PUB --federation ID --out CERT
 *               [--days N] [--not-before UNIX]: certify a client's key.
 * privfl enroll-verify --authority PUB --federation ID CERT: check one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "privfl/enroll.h"
#include "privfl/identity.h"

static const char *
opt(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
		return argv[++*i];
	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	return NULL;
}

/* a .pub file, or DIR/identity.pub */
static pfl_err
load_pub(const char *arg, uint8_t pk[32])
{
	char path[4096];
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(path, sizeof(path), "%s/identity.pub", arg);
	else
		snprintf(path, sizeof(path), "%s", arg);
	return pfl_pubkey_load(path, pk);
}

int
pfl_cmd_enroll_authority(int argc, char **argv)
{
	static const char use[] =
	        "usage: privfl enroll-authority --out DIR [--force]\n\n"
	        "Makes the enrollment authority key: DIR/identity.key "
	        "(0600) and\nDIR/identity.pub. Keep DIR with the operator; "
	        "give identity.pub to\nthe clients (sa_authority_key). "
	        "Refuses to overwrite without --force.\n";
	const char *out = NULL, *v;
	char path[4096], fp[PFL_FINGERPRINT_LEN];
	struct pfl_identity *id = NULL;
	int force = 0;
	pfl_err rv;

	for (int i = 1; i < argc; i++) {
		if ((v = opt(argc, argv, &i, "--out")) != NULL) {
			out = v;
		} else if (strcmp(argv[i], "--force") == 0) {
			force = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			fputs(use, stdout);
			return 0;
		} else {
			fputs(use, stderr);
			return 2;
		}
	}
	if (out == NULL || out[0] == '\0') {
		fputs(use, stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/identity.key", out);
	if (!force && access(path, F_OK) == 0) {
		fprintf(stderr, "privfl enroll-authority: %s exists\n", path);
		return 1;
	}
	if ((rv = pfl_identity_generate(&id)) != PFL_OK ||
	    (rv = pfl_identity_save(id, out)) != PFL_OK) {
		fprintf(stderr, "privfl enroll-authority: %s\n",
		        pfl_strerror(rv));
		pfl_identity_free(id);
		return 1;
	}
	pfl_key_fingerprint(pfl_identity_public(id), fp);
	printf("enrollment authority %s in %s\n", fp, out);
	pfl_identity_free(id);
	return 0;
}

struct enroll_args {
	const char *authority, *client, *fed, *out;
	long days;
	long long not_before;
};

static int
enroll_parse(int argc, char **argv, struct enroll_args *a)
{
	const char *v;

	a->days = 365;
	a->not_before = (long long)time(NULL);
	for (int i = 1; i < argc; i++) {
		if ((v = opt(argc, argv, &i, "--authority")) != NULL)
			a->authority = v;
		else if ((v = opt(argc, argv, &i, "--client-key")) != NULL)
			a->client = v;
		else if ((v = opt(argc, argv, &i, "--federation")) != NULL)
			a->fed = v;
		else if ((v = opt(argc, argv, &i, "--out")) != NULL)
			a->out = v;
		else if ((v = opt(argc, argv, &i, "--days")) != NULL)
			a->days = strtol(v, NULL, 10);
		else if ((v = opt(argc, argv, &i, "--not-before")) != NULL)
			a->not_before = strtoll(v, NULL, 10);
		else
			return -1;
	}
	if (!a->authority || !a->client || !a->fed || !a->out || a->days < 1 ||
	    a->days > 36500 || a->not_before < 0)
		return -1;
	return 0;
}

int
pfl_cmd_enroll(int argc, char **argv)
{
	static const char use[] =
	        "usage: privfl enroll --authority DIR --client-key PUB "
	        "--federation ID\n"
	        "                     --out CERT [--days N] "
	        "[--not-before UNIX]\n\n"
	        "Certifies a client's identity key (PUB: a .pub file or a "
	        "directory\nwith identity.pub) for federation ID, valid N "
	        "days (365) from\n--not-before (now). The aggregator relays "
	        "the certificate to the\nclient's SecAgg neighbours, who "
	        "check it against the authority key.\n";
	struct enroll_args a = {0};
	struct pfl_identity *auth = NULL;
	uint8_t pk[32], cert[PFL_ENROLL_CERT_BYTES];
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		fputs(use, stdout);
		return 0;
	}
	if (enroll_parse(argc, argv, &a) != 0) {
		fputs(use, stderr);
		return 2;
	}
	if ((rv = pfl_identity_load(a.authority, &auth)) != PFL_OK ||
	    (rv = load_pub(a.client, pk)) != PFL_OK ||
	    (rv = pfl_enroll_cert_issue(auth, a.fed, pk, (uint64_t)a.not_before,
	                                (uint64_t)a.not_before +
	                                        (uint64_t)a.days * 86400,
	                                cert)) != PFL_OK ||
	    (rv = pfl_enroll_cert_save(a.out, cert)) != PFL_OK) {
		fprintf(stderr, "privfl enroll: %s\n", pfl_strerror(rv));
		pfl_identity_free(auth);
		return 1;
	}
	pfl_identity_free(auth);
	pfl_key_fingerprint(pk, fp);
	printf("enrolled %s in %s: %s\n", fp, a.fed, a.out);
	return 0;
}

int
pfl_cmd_enroll_verify(int argc, char **argv)
{
	static const char use[] = "usage: privfl enroll-verify --authority PUB "
	                          "--federation ID CERT\n";
	const char *auth = NULL, *fed = NULL, *path = NULL, *v;
	uint8_t apk[32], fh[32], pk[32], cert[PFL_ENROLL_CERT_BYTES];
	char fp[PFL_FINGERPRINT_LEN];
	pfl_err rv;

	for (int i = 1; i < argc; i++) {
		if ((v = opt(argc, argv, &i, "--authority")) != NULL)
			auth = v;
		else if ((v = opt(argc, argv, &i, "--federation")) != NULL)
			fed = v;
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			break;
	}
	if (auth == NULL || fed == NULL || path == NULL) {
		fputs(use, stderr);
		return 2;
	}
	pfl_enroll_fed_hash(fed, fh);
	if ((rv = load_pub(auth, apk)) != PFL_OK ||
	    (rv = pfl_enroll_cert_load(path, cert)) != PFL_OK ||
	    (rv = pfl_enroll_cert_verify(apk, fh, cert, (uint64_t)time(NULL),
	                                 pk)) != PFL_OK) {
		fprintf(stderr, "privfl enroll-verify: %s: %s\n", path,
		        pfl_strerror(rv));
		return 1;
	}
	pfl_key_fingerprint(pk, fp);
	printf("%s: valid certificate for %s\n", path, fp);
	return 0;
}
