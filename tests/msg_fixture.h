/*
 * Shared by the message-codec tests: two deterministic identities, made
 * once per test group (cmocka group setup/teardown).
 */
#ifndef PRIVFL_TEST_MSG_FIXTURE_H
#define PRIVFL_TEST_MSG_FIXTURE_H

#include <sodium.h>

#include "privfl/identity.h"

static struct pfl_identity *id_a, *id_b;

static int
group_setup(void **state)
{
	uint8_t seed[32] = {0};
	(void)state;
	if (sodium_init() < 0)
		return -1;
	seed[0] = 'a';
	if (pfl_identity_from_seed(seed, &id_a) != PFL_OK)
		return -1;
	seed[0] = 'b';
	return pfl_identity_from_seed(seed, &id_b) == PFL_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	pfl_identity_free(id_a);
	pfl_identity_free(id_b);
	return 0;
}

#endif
