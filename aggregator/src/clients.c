/* The table of clients heard from, keyed by public key; the key lists. */
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/log.h"

pfl_err
pfli_clients_init(struct pfli_clients *t, size_t cap)
{
	size_t c = 64;

	while (c < cap * 2)
		c *= 2;
	if ((t->slots = calloc(c, sizeof(*t->slots))) == NULL)
		return PFL_ERR_NOMEM;
	t->cap = c;
	t->count = 0;
	return PFL_OK;
}

void
pfli_clients_fini(struct pfli_clients *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->count = 0;
}

static size_t
slot_of(const uint8_t pk[32], size_t cap)
{
	uint64_t h;

	memcpy(&h, pk, 8);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

static pfl_err
grow(struct pfli_clients *t)
{
	struct pfli_client *old = t->slots;
	size_t oldcap = t->cap;

	if ((t->slots = calloc(oldcap * 2, sizeof(*t->slots))) == NULL) {
		t->slots = old;
		return PFL_ERR_NOMEM;
	}
	t->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;
		if (!old[i].used)
			continue;
		j = slot_of(old[i].pk, t->cap);
		while (t->slots[j].used)
			j = (j + 1) & (t->cap - 1);
		t->slots[j] = old[i];
	}
	free(old);
	return PFL_OK;
}

struct pfli_client *
pfli_clients_get(struct pfli_clients *t, const uint8_t pk[32], bool create)
{
	size_t j = slot_of(pk, t->cap);

	while (t->slots[j].used) {
		if (memcmp(t->slots[j].pk, pk, 32) == 0)
			return &t->slots[j];
		j = (j + 1) & (t->cap - 1);
	}
	if (!create)
		return NULL;
	if ((t->count + 1) * 2 > t->cap) {
		if (grow(t) != PFL_OK)
			return NULL;
		return pfli_clients_get(t, pk, true);
	}
	memset(&t->slots[j], 0, sizeof(t->slots[j]));
	memcpy(t->slots[j].pk, pk, 32);
	t->slots[j].used = true;
	t->slots[j].member = -1;
	t->count++;
	return &t->slots[j];
}

size_t
pfli_clients_available(const struct pfli_clients *t, int64_t since_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used && t->slots[i].last_seen_ms >= since_ms)
			n++;
	return n;
}

static bool
is_set(const char *s)
{
	return s != NULL && *s != '\0';
}

pfl_err
pfli_keys_load(const struct pfl_agg_config *cfg, struct pfli_keys *out)
{
	struct pfli_keys k = {NULL, NULL};
	const char *rev = is_set(cfg->revoked_keys) ? cfg->revoked_keys : NULL;
	pfl_err rv = PFL_OK;

	if (is_set(cfg->enrolled_keys)) {
		rv = pfl_keyset_load(cfg->enrolled_keys, rev, &k.allowed);
		if (rv != PFL_OK)
			pfl_log(PFL_LOG_ERROR, "enrolled_keys %s: %s",
			        cfg->enrolled_keys, pfl_strerror(rv));
	} else if (rev != NULL) {
		/* a list with every key both allowed and revoked: only its
		 * revocations count */
		rv = pfl_keyset_load(rev, rev, &k.revoked);
		if (rv != PFL_OK)
			pfl_log(PFL_LOG_ERROR, "revoked_keys %s: %s", rev,
			        pfl_strerror(rv));
	}
	if (rv == PFL_OK)
		*out = k;
	return rv;
}

void
pfli_keys_fini(struct pfli_keys *k)
{
	pfl_keyset_free(k->allowed);
	pfl_keyset_free(k->revoked);
	k->allowed = k->revoked = NULL;
}

bool
pfli_keys_admit(const struct pfli_keys *k, const uint8_t pk[32], bool *revoked)
{
	*revoked = false;
	if (k->allowed != NULL) {
		if (pfl_keyset_is_enrolled(k->allowed, pk))
			return true;
		*revoked = pfl_keyset_is_revoked(k->allowed, pk);
		return false;
	}
	*revoked = k->revoked != NULL && pfl_keyset_is_revoked(k->revoked, pk);
	return !*revoked;
}
