/*
 * What the aggregator confirmed to this client: updates delivered, and
 * rounds released with them (max_rounds counts those).
 */
#include "client_int.h"
#include "privfl/log.h"

uint64_t
pfl_client_rounds_done(const struct pfl_client *c)
{
	return c->rounds_done;
}

uint64_t
pfl_client_rounds_released(const struct pfl_client *c)
{
	return c->rounds_released;
}

/*
 * The aggregator's "rel": the last round it released with our update. A
 * round counts when it is one we delivered to (a round number can come
 * again after an abandoned attempt: only the released one is named).
 */
void
pfli_note_released(struct pfl_client *c, uint64_t rel)
{
	bool ours = false;

	if (rel == 0 || rel <= c->last_released)
		return;
	c->last_released = rel;
	for (size_t i = 0; i < 8; i++) {
		if (c->pending[i] == rel)
			ours = true;
		if (c->pending[i] != 0 && c->pending[i] <= rel)
			c->pending[i] = 0;
	}
	if (ours) {
		c->rounds_released++;
		/* DEBUG here: a simulator runs thousands of clients; the
		 * daemon's loop (run.c) says it at INFO */
		pfl_log(PFL_LOG_DEBUG,
		        "round %llu released with this client's update (%llu "
		        "so far)",
		        (unsigned long long)rel,
		        (unsigned long long)c->rounds_released);
	}
}

void
pfli_note_delivered(struct pfl_client *c)
{
	size_t slot = 0;

	for (size_t i = 0; i < 8; i++) {
		if (c->pending[i] == c->round)
			return;
		if (c->pending[i] < c->pending[slot])
			slot = i;
	}
	c->pending[slot] = c->round;
}

bool
pfl_client_is_busy(const struct pfl_client *c)
{
	return c->st != CS_CHECKIN;
}
