/*
 * Whether a plan's model is the one this client trains: a custom model is
 * named in the plan by its layout digest ("ld", privfl/layout.h).
 */
#include <stdio.h>
#include <string.h>

#include "client_int.h"

static bool
is_zero(const uint8_t *d)
{
	uint8_t acc = 0;

	for (int i = 0; i < 32; i++)
		acc |= d[i];
	return acc == 0;
}

static void
hex8(const uint8_t *d, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

bool
pfli_layout_allows(const uint8_t *mine, const struct pfl_msg_plan *p, char *why,
                   size_t whylen)
{
	char theirs[17], ours[17];

	if (mine == NULL && is_zero(p->layout_digest))
		return true; /* a built-in model, for the built-in trainer */
	hex8(p->layout_digest, theirs);
	if (mine == NULL) {
		snprintf(why, whylen,
		         "custom model (layout %s); this client trains no "
		         "custom model",
		         theirs);
		return false;
	}
	if (is_zero(p->layout_digest)) {
		snprintf(why, whylen,
		         "built-in model %.32s; this client trains layout %s",
		         p->model, (hex8(mine, ours), ours));
		return false;
	}
	if (memcmp(mine, p->layout_digest, 32) == 0)
		return true;
	hex8(mine, ours);
	snprintf(why, whylen, "model layout %s, this client trains %s", theirs,
	         ours);
	return false;
}
