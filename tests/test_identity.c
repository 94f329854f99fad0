/* Identity keys: sign/verify, key files, permissions, malformed files. */
/* cmocka needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/file.h"
#include "privfl/identity.h"

static char tmpdir[256];

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_identity.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
sub(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(pfl_file_write_atomic(path, text, strlen(text), mode),
	                 PFL_OK);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_sign_verify(void **state)
{
	struct pfl_identity *id = NULL, *other = NULL;
	uint8_t sig[PFL_SIG_BYTES], msg[100];
	(void)state;

	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	assert_int_equal(pfl_identity_generate(&other), PFL_OK);
	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(pfl_identity_sign(id, msg, sizeof(msg), sig), PFL_OK);
	assert_int_equal(
	        pfl_sig_verify(pfl_identity_public(id), msg, sizeof(msg), sig),
	        PFL_OK);
	/* wrong key */
	assert_int_equal(pfl_sig_verify(pfl_identity_public(other), msg,
	                                sizeof(msg), sig),
	                 PFL_ERR_CRYPTO);
	/* every flipped bit of message and signature is rejected */
	for (size_t i = 0; i < sizeof(msg) * 8; i += 7) {
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(pfl_sig_verify(pfl_identity_public(id), msg,
		                                sizeof(msg), sig),
		                 PFL_ERR_CRYPTO);
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t i = 0; i < PFL_SIG_BYTES * 8; i++) {
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(pfl_sig_verify(pfl_identity_public(id), msg,
		                                sizeof(msg), sig),
		                 PFL_ERR_CRYPTO);
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* empty message */
	assert_int_equal(pfl_identity_sign(id, NULL, 0, sig), PFL_OK);
	assert_int_equal(pfl_sig_verify(pfl_identity_public(id), NULL, 0, sig),
	                 PFL_OK);
	assert_int_equal(pfl_identity_sign(NULL, msg, 1, sig), PFL_ERR_INVAL);
	assert_int_equal(pfl_identity_sign(id, NULL, 1, sig), PFL_ERR_INVAL);
	pfl_identity_free(id);
	pfl_identity_free(other);
	pfl_identity_free(NULL);
}

/* RFC 8032 section 7.1, TEST 2: a known-answer check of the Ed25519 used. */
static void
test_rfc8032_vector(void **state)
{
	static const char *seed_hex = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f"
	                              "35aba624da8cf6ed4fb8a6fb";
	static const char *pk_hex = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2e"
	                            "c4968cc0cd55f12af4660c";
	static const char *sig_hex = "92a009a9f0d4cab8720e820b5f642540a2b27b541"
	                             "6503f8fb3762223ebdb69da"
	                             "085ac1e43e15996e458f3613d0f11d8c387b2eaeb"
	                             "4302aeeb00d291612bb0c00";
	uint8_t seed[32], pk[32], sig[64], got[64], msg[1] = {0x72};
	struct pfl_identity *id = NULL;
	(void)state;

	assert_int_equal(
	        sodium_hex2bin(seed, 32, seed_hex, 64, NULL, NULL, NULL), 0);
	assert_int_equal(sodium_hex2bin(pk, 32, pk_hex, 64, NULL, NULL, NULL),
	                 0);
	assert_int_equal(
	        sodium_hex2bin(sig, 64, sig_hex, 128, NULL, NULL, NULL), 0);
	assert_int_equal(pfl_identity_from_seed(seed, &id), PFL_OK);
	assert_memory_equal(pfl_identity_public(id), pk, 32);
	assert_int_equal(pfl_identity_sign(id, msg, 1, got), PFL_OK);
	assert_memory_equal(got, sig, 64);
	assert_int_equal(pfl_sig_verify(pk, msg, 1, sig), PFL_OK);
	pfl_identity_free(id);
}

static void
test_from_seed_deterministic(void **state)
{
	uint8_t seed[32] = {1, 2, 3};
	struct pfl_identity *a = NULL, *b = NULL;
	(void)state;

	assert_int_equal(pfl_identity_from_seed(seed, &a), PFL_OK);
	assert_int_equal(pfl_identity_from_seed(seed, &b), PFL_OK);
	assert_memory_equal(pfl_identity_public(a), pfl_identity_public(b), 32);
	seed[0] ^= 1;
	pfl_identity_free(b);
	assert_int_equal(pfl_identity_from_seed(seed, &b), PFL_OK);
	assert_memory_not_equal(pfl_identity_public(a), pfl_identity_public(b),
	                        32);
	pfl_identity_free(a);
	pfl_identity_free(b);
}

static void
test_fingerprint(void **state)
{
	uint8_t pk[32] = {0}, pk2[32] = {0};
	char fp[PFL_FINGERPRINT_LEN], fp2[PFL_FINGERPRINT_LEN];
	(void)state;

	pk2[31] = 1;
	pfl_key_fingerprint(pk, fp);
	pfl_key_fingerprint(pk2, fp2);
	assert_int_equal(strlen(fp), PFL_FINGERPRINT_LEN - 1);
	assert_int_equal(strncmp(fp, "pfl1:", 5), 0);
	for (size_t i = 5; i < strlen(fp); i++)
		assert_non_null(
		        strchr("abcdefghijklmnopqrstuvwxyz234567", fp[i]));
	assert_string_not_equal(fp, fp2);
}

static void
test_save_load(void **state)
{
	char dir[300], path[340];
	struct pfl_identity *id = NULL, *back = NULL;
	uint8_t pk[32], sig[64];
	struct stat st;
	(void)state;

	sub(dir, sizeof(dir), "saveload/nested");
	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	assert_int_equal(pfl_identity_save(id, dir), PFL_OK);
	snprintf(path, sizeof(path), "%s/identity.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pfl_identity_load(dir, &back), PFL_OK);
	assert_memory_equal(pfl_identity_public(id), pfl_identity_public(back),
	                    32);
	assert_int_equal(pfl_identity_sign(back, (const uint8_t *)"x", 1, sig),
	                 PFL_OK);
	assert_int_equal(pfl_sig_verify(pfl_identity_public(id),
	                                (const uint8_t *)"x", 1, sig),
	                 PFL_OK);
	snprintf(path, sizeof(path), "%s/identity.pub", dir);
	assert_int_equal(pfl_pubkey_load(path, pk), PFL_OK);
	assert_memory_equal(pk, pfl_identity_public(id), 32);

	/* group-readable: refused; owner-only again: accepted */
	snprintf(path, sizeof(path), "%s/identity.key", dir);
	pfl_identity_free(back);
	back = NULL;
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(pfl_identity_load(dir, &back), PFL_ERR_CONFIG);
	assert_null(back);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(pfl_identity_load(dir, &back), PFL_ERR_CONFIG);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(pfl_identity_load(dir, &back), PFL_ERR_CONFIG);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(pfl_identity_load(dir, &back), PFL_OK);
	pfl_identity_free(back);
	pfl_identity_free(id);

	sub(dir, sizeof(dir), "does-not-exist");
	back = NULL;
	assert_int_equal(pfl_identity_load(dir, &back), PFL_ERR_NOTFOUND);
	assert_null(back);
}

static void
test_pub_mismatch(void **state)
{
	char dir[300], path[340];
	struct pfl_identity *a = NULL, *b = NULL, *back = NULL;
	(void)state;

	sub(dir, sizeof(dir), "mismatch");
	assert_int_equal(pfl_identity_generate(&a), PFL_OK);
	assert_int_equal(pfl_identity_generate(&b), PFL_OK);
	assert_int_equal(pfl_identity_save(a, dir), PFL_OK);
	snprintf(path, sizeof(path), "%s/identity.pub", dir);
	{
		char line[PFL_PUBKEY_LINE_MAX];
		pfl_pubkey_format_line(pfl_identity_public(b), line);
		write_file(path, line, 0644);
	}
	assert_int_equal(pfl_identity_load(dir, &back), PFL_ERR_FORMAT);
	assert_null(back);
	pfl_identity_free(a);
	pfl_identity_free(b);
}

static void
test_bad_key_files(void **state)
{
	static const char *bad[] = {
	        "",
	        "\n\n# only a comment\n",
	        "pfl-ed25519-secret\n",
	        "pfl-ed25519-secret AAAA\n", /* too short */
	        /* 33 bytes */
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
	        /* 31 bytes */
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
	        /* non-canonical trailing bits */
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
	        /* bad character */
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAA*AAAAAAAAAAAAAAA=\n",
	        /* wrong tag */
	        "pfl-ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	        /* trailing junk after the key */
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= x\n",
	        /* hex instead of base64 */
	        "pfl-ed25519-secret 000102030405060708090a0b0c0d0e0f"
	        "101112131415161718191a1b1c1d1e1f\n",
	};
	static const char good[] =
	        "# comment\n\r\npfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n";
	char dir[300], path[340];
	struct pfl_identity *id = NULL;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = NULL;
		assert_int_equal(pfl_identity_parse((const uint8_t *)bad[i],
		                                    strlen(bad[i]), &id),
		                 PFL_ERR_FORMAT);
		assert_null(id);
	}
	/* a NUL inside the file */
	assert_int_equal(
	        pfl_identity_parse((const uint8_t *)good, sizeof(good), &id),
	        PFL_ERR_FORMAT);
	assert_int_equal(
	        pfl_identity_parse((const uint8_t *)good, strlen(good), &id),
	        PFL_OK);
	pfl_identity_free(id);

	/* through the loader, and an oversized file */
	sub(dir, sizeof(dir), "badfile");
	assert_int_equal(pfl_file_mkdirs(dir, 0700), PFL_OK);
	snprintf(path, sizeof(path), "%s/identity.key", dir);
	write_file(path, bad[4], 0600);
	id = NULL;
	assert_int_equal(pfl_identity_load(dir, &id), PFL_ERR_FORMAT);
	assert_null(id);
	{
		char *big = malloc(PFL_KEYFILE_MAX + 10);
		assert_non_null(big);
		memset(big, '#', PFL_KEYFILE_MAX + 9);
		big[PFL_KEYFILE_MAX + 9] = '\0';
		write_file(path, big, 0600);
		free(big);
	}
	assert_int_equal(pfl_identity_load(dir, &id), PFL_ERR_TOOBIG);
	/* a symlink to a key is refused (O_NOFOLLOW) */
	write_file(path, good + 12, 0600);
	assert_int_equal(pfl_identity_load(dir, &id), PFL_OK);
	pfl_identity_free(id);
	id = NULL;
	{
		char link[360];
		snprintf(link, sizeof(link), "%s/linked", tmpdir);
		assert_int_equal(mkdir(link, 0700), 0);
		snprintf(link, sizeof(link), "%s/linked/identity.key", tmpdir);
		assert_int_equal(symlink(path, link), 0);
		snprintf(link, sizeof(link), "%s/linked", tmpdir);
		assert_int_equal(pfl_identity_load(link, &id), PFL_ERR_CONFIG);
	}
}

static void
test_pubkey_parse(void **state)
{
	struct pfl_identity *id = NULL;
	char line[PFL_PUBKEY_LINE_MAX];
	uint8_t pk[32];
	/* small-order point (identity element) */
	static const char small[] =
	        "pfl-ed25519 AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	(void)state;

	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	pfl_pubkey_format_line(pfl_identity_public(id), line);
	assert_int_equal(pfl_pubkey_parse_line(line, strlen(line), pk), PFL_OK);
	assert_memory_equal(pk, pfl_identity_public(id), 32);
	assert_true(pfl_pubkey_equal(pk, pfl_identity_public(id)));
	/* without the fingerprint comment */
	line[11 + 1 + 44] = '\0';
	assert_int_equal(pfl_pubkey_parse_line(line, strlen(line), pk), PFL_OK);
	/* truncated key */
	line[11 + 1 + 40] = '\0';
	assert_int_equal(pfl_pubkey_parse_line(line, strlen(line), pk),
	                 PFL_ERR_FORMAT);
	assert_int_equal(pfl_pubkey_parse_line(small, strlen(small), pk),
	                 PFL_ERR_FORMAT);
	assert_int_equal(pfl_pubkey_parse_line("", 0, pk), PFL_ERR_FORMAT);
	pfl_identity_free(id);
}

struct signer {
	struct pfl_identity *id;
	int ok;
};

static void *
sign_many(void *arg)
{
	struct signer *s = arg;
	uint8_t msg[8], sig[PFL_SIG_BYTES];

	for (uint32_t i = 0; i < 300; i++) {
		memcpy(msg, &i, sizeof(i));
		memcpy(msg + 4, &s, sizeof(i));
		if (pfl_identity_sign(s->id, msg, sizeof(msg), sig) == PFL_OK &&
		    pfl_sig_verify(pfl_identity_public(s->id), msg, sizeof(msg),
		                   sig) == PFL_OK)
			s->ok++;
	}
	return NULL;
}

/* Several threads sign with one identity at once (shared key window). */
static void
test_concurrent_signing(void **state)
{
	struct pfl_identity *id = NULL;
	struct signer s[4];
	pthread_t t[4];
	(void)state;

	assert_int_equal(pfl_identity_generate(&id), PFL_OK);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct signer){id, 0};
		assert_int_equal(pthread_create(&t[i], NULL, sign_many, &s[i]),
		                 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].ok, 300);
	}
	pfl_identity_free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sign_verify),
	        cmocka_unit_test(test_rfc8032_vector),
	        cmocka_unit_test(test_from_seed_deterministic),
	        cmocka_unit_test(test_fingerprint),
	        cmocka_unit_test(test_save_load),
	        cmocka_unit_test(test_pub_mismatch),
	        cmocka_unit_test(test_bad_key_files),
	        cmocka_unit_test(test_pubkey_parse),
	        cmocka_unit_test(test_concurrent_signing),
	};
	return cmocka_run_group_tests_name("identity", tests, group_setup,
	                                   group_teardown);
}
