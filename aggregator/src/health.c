/*
 * Client health: one bad client must not stall a federation (issue #14).
 * A client that fails rounds in a row (it withdrew, or it went silent in a
 * round that then waited for its deadline) is kept out of selection for a
 * back-off that doubles with every further failure; one round released
 * with its update clears the record. Each change of state is logged once,
 * with the client's fingerprint.
 */
#include <string.h>

#include "agg_int.h"
#include "privfl/clock.h"
#include "privfl/log.h"

/* Failures in a row before the first back-off; the cap on its length. */
#define HEALTH_GRACE       1
#define HEALTH_MAX_SHIFT   12
#define HEALTH_MAX_BACKOFF (3600 * 1000LL)

static int64_t
backoff_ms(const struct pfl_aggregator *a, uint32_t failures)
{
	int64_t base = a->cfg.checkin_interval_ms + a->est_run_ms;
	uint32_t shift =
	        failures > HEALTH_GRACE + 1 ? failures - HEALTH_GRACE - 1 : 0;
	int64_t ms;

	if (base < 1000)
		base = 1000;
	if (shift > HEALTH_MAX_SHIFT)
		shift = HEALTH_MAX_SHIFT;
	ms = base << shift;
	return ms < HEALTH_MAX_BACKOFF ? ms : HEALTH_MAX_BACKOFF;
}

static const char *
why_name(uint32_t why)
{
	return why == 0 ? "sent nothing before the deadline"
	                : pfl_withdraw_reason_name(why);
}

bool
pfli_health_is_backed_off(struct pfl_aggregator *a, struct pfli_client *cl,
                          int64_t now)
{
	char fp[PFL_FINGERPRINT_LEN];

	(void)a;
	if (cl->backoff_until_ms > now)
		return true;
	if (cl->backed_off) {
		cl->backed_off = false;
		pfl_key_fingerprint(cl->pk, fp);
		pfl_log(PFL_LOG_INFO,
		        "client %s: back-off over, selectable again (%u "
		        "failures in a row)",
		        fp, cl->failures);
	}
	return false;
}

void
pfli_health_fail(struct pfl_aggregator *a, struct pfli_client *cl, uint32_t why,
                 int64_t now)
{
	char fp[PFL_FINGERPRINT_LEN];
	int64_t ms;

	cl->failures++;
	cl->last_why = why;
	/* A refused plan or a wrong server key fails again next time: no
	 * second chance. Other failures may be one-offs. */
	if (cl->failures <= HEALTH_GRACE && why != PFL_WITHDRAW_POLICY &&
	    why != PFL_WITHDRAW_SERVER_KEY)
		return;
	ms = backoff_ms(a, cl->failures);
	cl->backoff_until_ms = now + ms;
	cl->backed_off = true;
	if (a->round.state == PFLI_R_SELECTING &&
	    cl->rolled_round != a->round.epoch &&
	    a->round.expected_draws > a->round.draws) {
		/* The window waits for every client seen lately to draw:
		 * not for this one any more. */
		a->round.expected_draws--;
		pfli_round_wake(a);
	}
	pfl_key_fingerprint(cl->pk, fp);
	pfl_log(PFL_LOG_WARN,
	        "client %s failed %u rounds in a row (last: %s): out of "
	        "selection for %.1f s",
	        fp, cl->failures, why_name(why), (double)ms / 1000.0);
}

static void
succeed(struct pfl_aggregator *a, struct pfli_client *cl)
{
	char fp[PFL_FINGERPRINT_LEN];

	cl->released_round = a->round.number;
	if (cl->failures > HEALTH_GRACE) {
		pfl_key_fingerprint(cl->pk, fp);
		pfl_log(PFL_LOG_INFO,
		        "client %s: round %llu released with its update after "
		        "%u failures; record cleared",
		        fp, (unsigned long long)a->round.number, cl->failures);
	}
	cl->failures = 0;
	cl->last_why = 0;
	cl->backoff_until_ms = 0;
	cl->backed_off = false;
}

static bool
in_set(const uint8_t pk[32], const uint8_t (*set)[32], uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(pk, set[i], 32) == 0)
			return true;
	return false;
}

void
pfli_health_round_end(struct pfl_aggregator *a, bool released,
                      const uint8_t (*surv)[32], uint32_t nsurv, int64_t now)
{
	const struct pfli_round *r = &a->round;
	/* A member still at work when the round closed early on enough
	 * results was only slower than the others: no failure. */
	bool deadline =
	        r->results_closed_ms >= r->deadline_ms && r->deadline_ms > 0;

	if (a->clients.slots == NULL || r->members == NULL)
		return;
	for (uint32_t i = 0; i < r->n; i++) {
		const struct pfli_member *mb = &r->members[i];
		struct pfli_client *cl =
		        pfli_clients_get(&a->clients, mb->pk, false);
		if (cl == NULL || mb->withdrawn)
			continue;
		if (released && in_set(mb->pk, surv, nsurv))
			succeed(a, cl);
		else if (released && deadline && !mb->sent_update &&
		         !(mb->sa_done & (1u << PFL_SA_MASKED)))
			pfli_health_fail(a, cl, 0, now);
	}
}

size_t
pfli_health_available(struct pfl_aggregator *a, int64_t since_ms, int64_t now)
{
	const struct pfli_clients *t = &a->clients;
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used && t->slots[i].last_seen_ms >= since_ms &&
		    t->slots[i].backoff_until_ms <= now)
			n++;
	return n;
}

static bool
all_told(const struct pfl_aggregator *a)
{
	const struct pfli_clients *t = &a->clients;

	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].used &&
		    t->slots[i].released_round == a->rounds_done &&
		    t->slots[i].told_released != a->rounds_done)
			return false;
	return true;
}

void
pfli_health_linger(struct pfl_aggregator *a)
{
	int64_t grace = 3 * a->cfg.checkin_interval_ms + a->est_run_ms + 5000;
	int64_t end = pfl_clock_ms() + (grace < 60000 ? grace : 60000);

	if (a->sampler != NULL)
		return; /* the embedder's clients ended with their round */
	pthread_mutex_lock(&a->mtx);
	while (!a->stop && !all_told(a) && pfl_clock_ms() < end) {
		pthread_mutex_unlock(&a->mtx);
		pfl_sleep_ms(10);
		pthread_mutex_lock(&a->mtx);
	}
	pthread_mutex_unlock(&a->mtx);
}

pfl_err
pfli_health_json(struct pfl_aggregator *a, int64_t now, struct pfl_buf *out)
{
	const struct pfli_clients *t = &a->clients;
	char fp[PFL_FINGERPRINT_LEN];
	const char *sep = "";
	pfl_err rv = pfl_buf_append(out, "[", 1);

	for (size_t i = 0; rv == PFL_OK && i < t->cap; i++) {
		const struct pfli_client *cl = &t->slots[i];
		if (!cl->used || cl->failures == 0)
			continue;
		pfl_key_fingerprint(cl->pk, fp);
		rv = pfl_buf_printf(
		        out,
		        "%s{\"client\":\"%s\",\"failures\":%u,\"last\":\"%s\","
		        "\"backoff_seconds_left\":%.1f}",
		        sep, fp, cl->failures, why_name(cl->last_why),
		        cl->backoff_until_ms > now
		                ? (double)(cl->backoff_until_ms - now) / 1000.0
		                : 0.0);
		sep = ",";
	}
	if (rv == PFL_OK)
		rv = pfl_buf_append(out, "]", 1);
	return rv;
}
