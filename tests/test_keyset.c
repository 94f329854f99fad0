/* Allow-list: directory and file formats, revocation, malformed input. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "privfl/file.h"
#include "privfl/identity.h"
#include "privfl/keyset.h"

enum { NKEYS = 5 };
static char tmpdir[256];
static struct pfl_identity *ids[NKEYS];

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < NKEYS; i++)
		if (pfl_identity_generate(&ids[i]) != PFL_OK)
			return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_keyset.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	char cmd[300];
	(void)state;
	for (int i = 0; i < NKEYS; i++)
		pfl_identity_free(ids[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const uint8_t *
pk(int i)
{
	return pfl_identity_public(ids[i]);
}

static void
write_text(const char *path, const char *text)
{
	assert_int_equal(pfl_file_write_atomic(path, text, strlen(text), 0644),
	                 PFL_OK);
}

/* A key list file with keys [from, to), a comment and blank lines. */
static void
write_list(const char *path, int from, int to, const char *extra)
{
	char text[4096] = "# enrolled devices\n\n";
	for (int i = from; i < to; i++) {
		char line[PFL_PUBKEY_LINE_MAX];
		pfl_pubkey_format_line(pk(i), line);
		strcat(text, i % 2 ? "  " : "");
		strcat(text, line);
	}
	if (extra != NULL)
		strcat(text, extra);
	write_text(path, text);
}

static void
test_file_and_revocation(void **state)
{
	char list[300], rev[300];
	struct pfl_keyset *ks = NULL;
	(void)state;

	snprintf(list, sizeof(list), "%s/clients.txt", tmpdir);
	snprintf(rev, sizeof(rev), "%s/revoked.txt", tmpdir);
	write_list(list, 0, 4, NULL);
	write_list(rev, 1, 2, NULL);
	assert_int_equal(pfl_keyset_load(list, NULL, &ks), PFL_OK);
	assert_int_equal(pfl_keyset_count(ks), 4);
	for (int i = 0; i < 4; i++)
		assert_true(pfl_keyset_is_enrolled(ks, pk(i)));
	assert_false(pfl_keyset_is_enrolled(ks, pk(4)));
	pfl_keyset_free(ks);

	ks = NULL;
	assert_int_equal(pfl_keyset_load(list, rev, &ks), PFL_OK);
	assert_int_equal(pfl_keyset_count(ks), 3);
	assert_true(pfl_keyset_is_enrolled(ks, pk(0)));
	assert_false(pfl_keyset_is_enrolled(ks, pk(1)));
	assert_true(pfl_keyset_is_revoked(ks, pk(1)));
	assert_false(pfl_keyset_is_revoked(ks, pk(0)));
	assert_false(pfl_keyset_is_enrolled(ks, pk(4)));
	pfl_keyset_free(ks);
	pfl_keyset_free(NULL);
	assert_false(pfl_keyset_is_enrolled(NULL, pk(0)));
}

static void
test_directory(void **state)
{
	char dir[300], path[340];
	struct pfl_keyset *ks = NULL;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/enrolled", tmpdir);
	assert_int_equal(pfl_file_mkdirs(dir, 0700), PFL_OK);
	for (int i = 0; i < 3; i++) {
		char line[PFL_PUBKEY_LINE_MAX];
		snprintf(path, sizeof(path), "%s/dev%d.pub", dir, i);
		pfl_pubkey_format_line(pk(i), line);
		write_text(path, line);
	}
	/* duplicates count once; other files are ignored */
	snprintf(path, sizeof(path), "%s/dev0-copy.pub", dir);
	{
		char line[PFL_PUBKEY_LINE_MAX];
		pfl_pubkey_format_line(pk(0), line);
		write_text(path, line);
	}
	snprintf(path, sizeof(path), "%s/README", dir);
	write_text(path, "not a key\n");
	assert_int_equal(pfl_keyset_load(dir, NULL, &ks), PFL_OK);
	assert_int_equal(pfl_keyset_count(ks), 3);
	assert_true(pfl_keyset_is_enrolled(ks, pk(2)));
	assert_false(pfl_keyset_is_enrolled(ks, pk(3)));
	pfl_keyset_free(ks);

	/* a bad .pub file fails the whole load */
	snprintf(path, sizeof(path), "%s/broken.pub", dir);
	write_text(path, "pfl-ed25519 AAAA\n");
	ks = NULL;
	assert_int_equal(pfl_keyset_load(dir, NULL, &ks), PFL_ERR_FORMAT);
	assert_null(ks);
}

static void
test_malformed(void **state)
{
	char list[300];
	struct pfl_keyset *ks = NULL;
	(void)state;

	snprintf(list, sizeof(list), "%s/bad.txt", tmpdir);
	write_list(list, 0, 2, "pfl-ed25519 notbase64!\n");
	assert_int_equal(pfl_keyset_load(list, NULL, &ks), PFL_ERR_FORMAT);
	write_list(list, 0, 2, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n");
	assert_int_equal(pfl_keyset_load(list, NULL, &ks), PFL_ERR_FORMAT);
	write_text(
	        list,
	        "pfl-ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
	assert_int_equal(pfl_keyset_load(list, NULL, &ks), PFL_ERR_FORMAT);
	assert_null(ks);
	/* a revocation list that is bad must not silently un-revoke */
	write_list(list, 0, 2, NULL);
	{
		char rev[300];
		snprintf(rev, sizeof(rev), "%s/badrev.txt", tmpdir);
		write_text(rev, "garbage\n");
		assert_int_equal(pfl_keyset_load(list, rev, &ks),
		                 PFL_ERR_FORMAT);
	}
	assert_int_equal(pfl_keyset_load("/nonexistent/x", NULL, &ks),
	                 PFL_ERR_NOTFOUND);
	assert_null(ks);
	/* an empty list is valid and enrolls nobody */
	write_text(list, "# nobody yet\n");
	assert_int_equal(pfl_keyset_load(list, NULL, &ks), PFL_OK);
	assert_int_equal(pfl_keyset_count(ks), 0);
	assert_false(pfl_keyset_is_enrolled(ks, pk(0)));
	pfl_keyset_free(ks);
}

static void
test_from_keys(void **state)
{
	uint8_t keys[NKEYS][32], rev[1][32];
	struct pfl_keyset *ks = NULL;
	(void)state;

	for (int i = 0; i < NKEYS; i++)
		memcpy(keys[i], pk(i), 32);
	memcpy(rev[0], pk(2), 32);
	assert_int_equal(pfl_keyset_from_keys((const uint8_t(*)[32])keys, NKEYS,
	                                      (const uint8_t(*)[32])rev, 1,
	                                      &ks),
	                 PFL_OK);
	assert_int_equal(pfl_keyset_count(ks), NKEYS - 1);
	assert_false(pfl_keyset_is_enrolled(ks, pk(2)));
	assert_true(pfl_keyset_is_enrolled(ks, pk(4)));
	pfl_keyset_free(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_file_and_revocation),
	        cmocka_unit_test(test_directory),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_from_keys),
	};
	return cmocka_run_group_tests_name("keyset", tests, group_setup,
	                                   group_teardown);
}
