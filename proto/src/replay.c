#include "privfl/replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define NIL UINT32_MAX

struct entry {
	uint8_t id[16]; /* keyed BLAKE2b-128 of sender || nonce */
	uint64_t time_ms;
	uint32_t next; /* bucket chain */
	bool used;
};

struct pfl_replay {
	pthread_mutex_t mu;
	uint8_t key[crypto_shorthash_KEYBYTES]; /* against hash flooding */
	uint8_t idkey[32];
	struct entry *e; /* ring of capacity entries, oldest at head */
	uint32_t *bucket;
	size_t cap;
	size_t nbuckets; /* power of two */
	size_t head;
	size_t count;
	int64_t window_ms;
	uint64_t low_water; /* refuse time_ms <= this (0 = none yet) */
	bool have_low_water;
};

pfl_err
pfl_replay_new(size_t capacity, int64_t window_ms, struct pfl_replay **out)
{
	struct pfl_replay *r;
	size_t nb = 16;

	if (out == NULL || capacity == 0 || capacity >= NIL || window_ms <= 0)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	while (nb < capacity)
		nb *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return PFL_ERR_NOMEM;
	r->e = calloc(capacity, sizeof(*r->e));
	r->bucket = malloc(nb * sizeof(*r->bucket));
	if (r->e == NULL || r->bucket == NULL ||
	    pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->e);
		free(r->bucket);
		free(r);
		return PFL_ERR_NOMEM;
	}
	for (size_t i = 0; i < nb; i++)
		r->bucket[i] = NIL;
	randombytes_buf(r->key, sizeof(r->key));
	randombytes_buf(r->idkey, sizeof(r->idkey));
	r->cap = capacity;
	r->nbuckets = nb;
	r->window_ms = window_ms;
	*out = r;
	return PFL_OK;
}

void
pfl_replay_free(struct pfl_replay *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->e);
	free(r->bucket);
	free(r);
}

static size_t
bucket_of(const struct pfl_replay *r, const uint8_t id[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, id, 16, r->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v & (r->nbuckets - 1));
}

static bool
lookup(const struct pfl_replay *r, const uint8_t id[16], size_t b)
{
	for (uint32_t i = r->bucket[b]; i != NIL; i = r->e[i].next)
		if (memcmp(r->e[i].id, id, 16) == 0)
			return true;
	return false;
}

/* Forget the oldest entry and raise the low-water mark to its time. */
static void
evict_oldest(struct pfl_replay *r)
{
	struct entry *old = &r->e[r->head];
	size_t b = bucket_of(r, old->id);
	uint32_t *pp = &r->bucket[b];

	while (*pp != NIL && *pp != (uint32_t)r->head)
		pp = &r->e[*pp].next;
	if (*pp != NIL)
		*pp = old->next;
	if (!r->have_low_water || old->time_ms > r->low_water)
		r->low_water = old->time_ms;
	r->have_low_water = true;
	old->used = false;
	r->head = (r->head + 1) % r->cap;
	r->count--;
}

static void
insert(struct pfl_replay *r, const uint8_t id[16], uint64_t time_ms)
{
	size_t slot, b;

	if (r->count == r->cap)
		evict_oldest(r);
	slot = (r->head + r->count) % r->cap;
	b = bucket_of(r, id);
	memcpy(r->e[slot].id, id, 16);
	r->e[slot].time_ms = time_ms;
	r->e[slot].used = true;
	r->e[slot].next = r->bucket[b];
	r->bucket[b] = (uint32_t)slot;
	r->count++;
}

static bool
in_window(const struct pfl_replay *r, uint64_t t, uint64_t now)
{
	uint64_t w = (uint64_t)r->window_ms;
	uint64_t d = t > now ? t - now : now - t;
	return d <= w;
}

pfl_err
pfl_replay_check(struct pfl_replay *r, const uint8_t sender[32],
                 const uint8_t nonce[16], uint64_t time_ms, uint64_t now_ms)
{
	uint8_t in[48], id[16];
	pfl_err rv = PFL_OK;
	size_t b;

	if (r == NULL || sender == NULL || nonce == NULL)
		return PFL_ERR_INVAL;
	if (!in_window(r, time_ms, now_ms))
		return PFL_ERR_AUTH;
	memcpy(in, sender, 32);
	memcpy(in + 32, nonce, 16);
	crypto_generichash(id, sizeof(id), in, sizeof(in), r->idkey,
	                   sizeof(r->idkey));
	pthread_mutex_lock(&r->mu);
	b = bucket_of(r, id);
	if ((r->have_low_water && time_ms <= r->low_water) || lookup(r, id, b))
		rv = PFL_ERR_AUTH;
	else
		insert(r, id, time_ms);
	pthread_mutex_unlock(&r->mu);
	return rv;
}

size_t
pfl_replay_count(struct pfl_replay *r)
{
	size_t n;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->mu);
	n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}
