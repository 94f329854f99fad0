#include "privfl/replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define NIL          UINT32_MAX
#define MIN_SLOTS    16
/* A now_ms further behind the latest one is a clock set back, not a race. */
#define STEP_BACK_MS 1000

_Static_assert(PFL_REPLAY_PER_KEY > 0 && PFL_REPLAY_PER_KEY < 256,
               "a key's ring is indexed by uint8_t");

struct seen {
	uint64_t tag; /* keyed 64-bit hash of the nonce */
	uint64_t time_ms;
};

/* One sender key's state. */
struct keyrec {
	uint8_t pk[32];
	uint64_t newest;    /* newest time accepted from this key */
	uint64_t low_water; /* refuse time_ms <= this, when have_low_water */
	bool have_low_water;
	uint8_t n;    /* nonces in the ring */
	uint8_t head; /* oldest */
	struct seen s[PFL_REPLAY_PER_KEY];
};

struct pfl_replay {
	pthread_mutex_t mu;
	uint8_t hkey[crypto_shorthash_KEYBYTES]; /* slot of a key */
	uint8_t tkey[crypto_shorthash_KEYBYTES]; /* tag of a nonce */
	uint32_t *slot; /* open addressing: index into rec, or NIL */
	size_t nslots;  /* power of two, > 2 * nrec */
	struct keyrec *rec;
	size_t nrec;
	size_t caprec;
	size_t max_keys;
	size_t pairs;
	uint64_t past_ms;
	uint64_t future_ms;
	uint64_t full_until; /* no room for a new key before this time */
	uint64_t latest;     /* latest now_ms seen: callers' clocks read a few
	                        ms apart never go back here, so a record dropped
	                        as expired under one caller's clock is not in
	                        another's window */
};

pfl_err
pfl_replay_new(size_t max_keys, int64_t window_ms, struct pfl_replay **out)
{
	int64_t future = window_ms < PFL_REPLAY_DEFAULT_FUTURE_MS
	                         ? window_ms
	                         : PFL_REPLAY_DEFAULT_FUTURE_MS;

	return pfl_replay_new_skew(max_keys, window_ms, future, out);
}

pfl_err
pfl_replay_new_skew(size_t max_keys, int64_t past_ms, int64_t future_ms,
                    struct pfl_replay **out)
{
	struct pfl_replay *r;

	if (out == NULL || max_keys == 0 || max_keys >= (1u << 31) ||
	    past_ms <= 0 || future_ms < 0 || future_ms > past_ms)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return PFL_ERR_NOMEM;
	r->slot = malloc(MIN_SLOTS * sizeof(*r->slot));
	if (r->slot == NULL || pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->slot);
		free(r);
		return PFL_ERR_NOMEM;
	}
	for (size_t i = 0; i < MIN_SLOTS; i++)
		r->slot[i] = NIL;
	r->nslots = MIN_SLOTS;
	randombytes_buf(r->hkey, sizeof(r->hkey));
	randombytes_buf(r->tkey, sizeof(r->tkey));
	r->max_keys = max_keys;
	r->past_ms = (uint64_t)past_ms;
	r->future_ms = (uint64_t)future_ms;
	*out = r;
	return PFL_OK;
}

void
pfl_replay_free(struct pfl_replay *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->slot);
	free(r->rec);
	free(r);
}

static uint64_t
hash64(const uint8_t *in, size_t len, const uint8_t key[16])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, in, len, key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static bool
expired(const struct pfl_replay *r, const struct keyrec *k, uint64_t now)
{
	return now > r->past_ms && k->newest < now - r->past_ms;
}

static bool
in_window(const struct pfl_replay *r, uint64_t t, uint64_t now)
{
	if (t > now)
		return t - now <= r->future_ms;
	return now - t <= r->past_ms;
}

/*
 * The record of pk, or NULL; then *empty is the empty slot ending its probe
 * sequence and *reuse the first slot on it holding an expired record
 * (SIZE_MAX: none).
 */
static struct keyrec *
find(struct pfl_replay *r, const uint8_t pk[32], uint64_t now, size_t *empty,
     size_t *reuse)
{
	size_t mask = r->nslots - 1;
	size_t j = (size_t)hash64(pk, 32, r->hkey) & mask;

	*reuse = SIZE_MAX;
	for (; r->slot[j] != NIL; j = (j + 1) & mask) {
		struct keyrec *k = &r->rec[r->slot[j]];
		if (memcmp(k->pk, pk, 32) == 0)
			return k;
		if (*reuse == SIZE_MAX && expired(r, k, now))
			*reuse = j;
	}
	*empty = j;
	return NULL;
}

static void
place(struct pfl_replay *r, uint32_t idx)
{
	size_t mask = r->nslots - 1;
	size_t j = (size_t)hash64(r->rec[idx].pk, 32, r->hkey) & mask;

	while (r->slot[j] != NIL)
		j = (j + 1) & mask;
	r->slot[j] = idx;
}

/*
 * Drop every expired record and rebuild the slots with room for as many
 * keys again as are live (so rebuilds cost O(1) per key, amortized).
 * Remembers in full_until when the first live record expires.
 */
static pfl_err
compact(struct pfl_replay *r, uint64_t now)
{
	size_t live = 0, want = MIN_SLOTS, w = 0;
	uint64_t first = UINT64_MAX;
	uint32_t *slot;

	for (size_t i = 0; i < r->nrec; i++)
		live += !expired(r, &r->rec[i], now);
	while (want < 4 * (live + 1))
		want *= 2;
	if ((slot = malloc(want * sizeof(*slot))) == NULL)
		return PFL_ERR_NOMEM;
	for (size_t i = 0; i < want; i++)
		slot[i] = NIL;
	for (size_t i = 0; i < r->nrec; i++) {
		if (expired(r, &r->rec[i], now)) {
			r->pairs -= r->rec[i].n;
			continue;
		}
		if (r->rec[i].newest < first)
			first = r->rec[i].newest;
		if (w != i)
			r->rec[w] = r->rec[i];
		w++;
	}
	free(r->slot);
	r->slot = slot;
	r->nslots = want;
	r->nrec = w;
	for (size_t i = 0; i < w; i++)
		place(r, (uint32_t)i);
	r->full_until = first == UINT64_MAX ? 0 : first + r->past_ms + 1;
	return PFL_OK;
}

/* A fresh record appended to r->rec, or an error. */
static pfl_err
append(struct pfl_replay *r, const uint8_t pk[32], uint64_t now,
       struct keyrec **out)
{
	pfl_err rv;

	if (r->nrec >= r->max_keys && now < r->full_until)
		return PFL_ERR_AGAIN;
	if (r->nrec >= r->max_keys || 2 * (r->nrec + 1) > r->nslots) {
		if ((rv = compact(r, now)) != PFL_OK)
			return rv;
		if (r->nrec >= r->max_keys)
			return PFL_ERR_AGAIN;
	}
	if (r->nrec == r->caprec) {
		size_t cap = r->caprec ? r->caprec * 2 : 64;
		struct keyrec *k;
		if (cap > r->max_keys)
			cap = r->max_keys;
		if ((k = realloc(r->rec, cap * sizeof(*k))) == NULL)
			return PFL_ERR_NOMEM;
		r->rec = k;
		r->caprec = cap;
	}
	memset(&r->rec[r->nrec], 0, sizeof(r->rec[r->nrec]));
	memcpy(r->rec[r->nrec].pk, pk, 32);
	place(r, (uint32_t)r->nrec);
	*out = &r->rec[r->nrec++];
	return PFL_OK;
}

/* The record of pk, made (or an expired one reused) when missing. */
static pfl_err
get(struct pfl_replay *r, const uint8_t pk[32], uint64_t now,
    struct keyrec **out)
{
	struct keyrec *k;
	size_t empty, reuse;

	if ((k = find(r, pk, now, &empty, &reuse)) != NULL) {
		*out = k;
		return PFL_OK;
	}
	if (reuse == SIZE_MAX)
		return append(r, pk, now, out);
	/* on pk's probe sequence: the slot may simply change owner */
	k = &r->rec[r->slot[reuse]];
	r->pairs -= k->n;
	memset(k, 0, sizeof(*k));
	memcpy(k->pk, pk, 32);
	*out = k;
	return PFL_OK;
}

static bool
seen(const struct keyrec *k, uint64_t tag)
{
	for (unsigned i = 0; i < k->n; i++)
		if (k->s[(k->head + i) % PFL_REPLAY_PER_KEY].tag == tag)
			return true;
	return false;
}

/* Remember; a full ring forgets its oldest and raises this key's mark. */
static void
remember(struct pfl_replay *r, struct keyrec *k, uint64_t tag, uint64_t t)
{
	struct seen *s;

	if (k->n == PFL_REPLAY_PER_KEY) {
		s = &k->s[k->head];
		if (!k->have_low_water || s->time_ms > k->low_water)
			k->low_water = s->time_ms;
		k->have_low_water = true;
		k->head = (uint8_t)((k->head + 1) % PFL_REPLAY_PER_KEY);
		k->n--;
		r->pairs--;
	}
	s = &k->s[(k->head + k->n) % PFL_REPLAY_PER_KEY];
	s->tag = tag;
	s->time_ms = t;
	k->n++;
	r->pairs++;
	if (t > k->newest)
		k->newest = t;
}

pfl_err
pfl_replay_check(struct pfl_replay *r, const uint8_t sender[32],
                 const uint8_t nonce[16], uint64_t time_ms, uint64_t now_ms)
{
	struct keyrec *k = NULL;
	uint64_t tag;
	pfl_err rv;

	if (r == NULL || sender == NULL || nonce == NULL)
		return PFL_ERR_INVAL;
	tag = hash64(nonce, 16, r->tkey);
	pthread_mutex_lock(&r->mu);
	if (now_ms > r->latest || r->latest - now_ms > STEP_BACK_MS)
		r->latest =
		        now_ms; /* time went on, or the clock was set back */
	now_ms = r->latest;
	if (!in_window(r, time_ms, now_ms))
		rv = PFL_ERR_AUTH;
	else if ((rv = get(r, sender, now_ms, &k)) == PFL_OK) {
		if ((k->have_low_water && time_ms <= k->low_water) ||
		    seen(k, tag))
			rv = PFL_ERR_AUTH;
		else
			remember(r, k, tag, time_ms);
	}
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
	n = r->pairs;
	pthread_mutex_unlock(&r->mu);
	return n;
}

size_t
pfl_replay_keys(struct pfl_replay *r)
{
	size_t n;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->mu);
	n = r->nrec;
	pthread_mutex_unlock(&r->mu);
	return n;
}
