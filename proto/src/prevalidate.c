#include "proto_int.h"

struct walk {
	const uint8_t *p;
	size_t len;
	size_t pos;
	size_t objects;
	size_t max_objects;
	int max_depth;
};

static int
need(struct walk *w, size_t n)
{
	return n <= w->len - w->pos;
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Read an n-byte big-endian length at pos, advancing past it. */
static int
read_len(struct walk *w, size_t n, uint64_t *v)
{
	if (!need(w, n))
		return 0;
	*v = be(w->p + w->pos, n);
	w->pos += n;
	return 1;
}

static pfl_err walk_obj(struct walk *w, int depth, size_t *last_key_off);

/* count elements (2 * pairs for maps) each needing at least one byte. */
static pfl_err
walk_container(struct walk *w, uint64_t count, int is_map, int depth,
               size_t *last_key_off)
{
	uint64_t items = is_map ? count * 2 : count;

	if (depth >= w->max_depth)
		return PFL_ERR_PROTO;
	if (count > w->len || items > w->len - w->pos)
		return PFL_ERR_PROTO;
	if (items > w->max_objects - w->objects)
		return PFL_ERR_TOOBIG;
	for (uint64_t i = 0; i < items; i++) {
		pfl_err rv;
		if (is_map && (i & 1) == 0 && last_key_off != NULL)
			*last_key_off = w->pos;
		if ((rv = walk_obj(w, depth + 1, NULL)) != PFL_OK)
			return rv;
	}
	return PFL_OK;
}

static pfl_err
skip(struct walk *w, uint64_t n)
{
	if (n > w->len - w->pos)
		return PFL_ERR_PROTO;
	w->pos += (size_t)n;
	return PFL_OK;
}

static pfl_err
walk_obj(struct walk *w, int depth, size_t *last_key_off)
{
	uint8_t c;
	uint64_t n;

	if (!need(w, 1))
		return PFL_ERR_PROTO;
	if (w->objects >= w->max_objects)
		return PFL_ERR_TOOBIG;
	w->objects++;
	c = w->p[w->pos++];
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return PFL_OK;
	if (c >= 0x80 && c <= 0x8f)
		return walk_container(w, c & 0x0f, 1, depth, last_key_off);
	if (c >= 0x90 && c <= 0x9f)
		return walk_container(w, c & 0x0f, 0, depth, last_key_off);
	if (c >= 0xa0 && c <= 0xbf)
		return skip(w, c & 0x1f);
	switch (c) {
	case 0xc4: /* bin 8/16/32 */
	case 0xd9: /* str 8/16/32 */
		return read_len(w, 1, &n) ? skip(w, n) : PFL_ERR_PROTO;
	case 0xc5:
	case 0xda:
		return read_len(w, 2, &n) ? skip(w, n) : PFL_ERR_PROTO;
	case 0xc6:
	case 0xdb:
		return read_len(w, 4, &n) ? skip(w, n) : PFL_ERR_PROTO;
	case 0xc7: /* ext 8/16/32: length, then a type byte */
		return read_len(w, 1, &n) ? skip(w, n + 1) : PFL_ERR_PROTO;
	case 0xc8:
		return read_len(w, 2, &n) ? skip(w, n + 1) : PFL_ERR_PROTO;
	case 0xc9:
		return read_len(w, 4, &n) ? skip(w, n + 1) : PFL_ERR_PROTO;
	case 0xca:
		return skip(w, 4);
	case 0xcb:
		return skip(w, 8);
	case 0xcc:
	case 0xd0:
		return skip(w, 1);
	case 0xcd:
	case 0xd1:
		return skip(w, 2);
	case 0xce:
	case 0xd2:
		return skip(w, 4);
	case 0xcf:
	case 0xd3:
		return skip(w, 8);
	case 0xd4: /* fixext 1/2/4/8/16 plus the type byte */
		return skip(w, 2);
	case 0xd5:
		return skip(w, 3);
	case 0xd6:
		return skip(w, 5);
	case 0xd7:
		return skip(w, 9);
	case 0xd8:
		return skip(w, 17);
	case 0xdc:
		return read_len(w, 2, &n)
		               ? walk_container(w, n, 0, depth, last_key_off)
		               : PFL_ERR_PROTO;
	case 0xdd:
		return read_len(w, 4, &n)
		               ? walk_container(w, n, 0, depth, last_key_off)
		               : PFL_ERR_PROTO;
	case 0xde:
		return read_len(w, 2, &n)
		               ? walk_container(w, n, 1, depth, last_key_off)
		               : PFL_ERR_PROTO;
	case 0xdf:
		return read_len(w, 4, &n)
		               ? walk_container(w, n, 1, depth, last_key_off)
		               : PFL_ERR_PROTO;
	default: /* 0xc1 is never used */
		return PFL_ERR_PROTO;
	}
}

pfl_err
pfli_mp_prevalidate(const uint8_t *buf, size_t len, int max_depth,
                    size_t max_objects, size_t *last_key_off)
{
	struct walk w = {buf, len, 0, 0, max_objects, max_depth};
	size_t key_off = 0;
	pfl_err rv;

	if (buf == NULL || len == 0)
		return PFL_ERR_PROTO;
	if (!((buf[0] >= 0x80 && buf[0] <= 0x8f) || buf[0] == 0xde ||
	      buf[0] == 0xdf))
		return PFL_ERR_PROTO;
	if ((rv = walk_obj(&w, 0, &key_off)) != PFL_OK)
		return rv;
	if (w.pos != len)
		return PFL_ERR_PROTO;
	if (last_key_off != NULL)
		*last_key_off = key_off;
	return PFL_OK;
}
