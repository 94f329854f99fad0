/*
 * A program that never calls sodium_init() itself: every public identity
 * function that needs libsodium must initialize it (privfl/identity.h).
 * Each case runs in a child process, so that one case's initialization
 * cannot hide another's missing one.
 */
/* cmocka needs these first, in this order */
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
#include <sys/wait.h>
#include <unistd.h>

#include "privfl/file.h"
#include "privfl/identity.h"

static char tmpdir[256];

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_noinit.XXXXXX");
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

/* Run fn in a child process; it must exit 0 (not abort). */
static void
in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int
load_only(void)
{
	char dir[300], path[320];
	/* the key of seed 0^32, written without libsodium */
	static const char key[] =
	        "pfl-ed25519-secret "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	struct pfl_identity *id = NULL;

	snprintf(dir, sizeof(dir), "%s/load", tmpdir);
	snprintf(path, sizeof(path), "%s/identity.key", dir);
	if (pfl_file_mkdirs(dir, 0700) != PFL_OK ||
	    pfl_file_write_atomic(path, key, strlen(key), 0600) != PFL_OK ||
	    chmod(path, 0600) != 0)
		return 3;
	if (pfl_identity_load(dir, &id) != PFL_OK)
		return 1;
	pfl_identity_free(id);
	return 0;
}

static int
keygen_only(void)
{
	char dir[300];
	struct pfl_identity *id = NULL, *back = NULL;
	int rv = 0;

	snprintf(dir, sizeof(dir), "%s/keygen", tmpdir);
	if (pfl_identity_generate(&id) != PFL_OK ||
	    pfl_identity_save(id, dir) != PFL_OK ||
	    pfl_identity_load(dir, &back) != PFL_OK ||
	    !pfl_pubkey_equal(pfl_identity_public(id),
	                      pfl_identity_public(back)))
		rv = 1;
	pfl_identity_free(back);
	pfl_identity_free(id);
	return rv;
}

static void
test_load_without_sodium_init(void **state)
{
	(void)state;
	in_child(load_only);
}

static void
test_keygen_without_sodium_init(void **state)
{
	(void)state;
	in_child(keygen_only);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_load_without_sodium_init),
	        cmocka_unit_test(test_keygen_without_sodium_init),
	};

	return cmocka_run_group_tests_name("identity_noinit", tests,
	                                   group_setup, group_teardown);
}
