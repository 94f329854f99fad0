/* The table of clients heard from, keyed by public key. */
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"

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
