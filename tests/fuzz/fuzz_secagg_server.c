/*
 * Fuzz pfl_sa_server_recv: input = phase byte, sender byte, message. A real
 * round of 4 clients (dim 8) is driven up to that phase, then the bytes are
 * delivered as the sender's message; if accepted, the phase is closed and
 * the sender's output fetched. Nothing may crash, leak or read out of
 * bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "../test_secagg_harness.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_sa_params p;
	struct pfl_buf out;
	struct sah h;
	int ph;
	uint32_t from;

	if (size < 2 || sodium_init() < 0)
		return 0;
	ph = data[0] % PFL_SA_PHASES;
	from = data[1] % 6; /* 0 and 5 are unknown ids */
	memset(&p, 0, sizeof(p));
	p.mode = PFL_SA_FULL;
	p.n = 4;
	p.k = 3;
	p.t = 3;
	p.dim = 8;
	if (sah_init(&h, &p, 0, 1) != PFL_OK)
		goto out;
	if (from >= 1 && from <= 4)
		h.drop_at[from - 1] = ph; /* its message is the fuzz input */
	for (int q = 0; q < ph; q++)
		if (sah_phase(&h, q) != PFL_OK)
			goto out;
	if (pfl_sa_server_recv(h.server, (enum pfl_sa_phase)ph, from, data + 2,
	                       size - 2) != PFL_OK)
		goto out;
	for (uint32_t i = 0; i < 4; i++) /* the others, for a full phase */
		if (i + 1 != from)
			h.drop_at[i] = PFL_SA_PHASES;
	if (sah_phase(&h, ph) != PFL_OK)
		goto out;
	pfl_buf_init(&out, 0);
	if (ph < PFL_SA_UNMASK &&
	    pfl_sa_server_output(h.server, (enum pfl_sa_phase)ph, from, &out) ==
	            PFL_OK &&
	    out.len < 4)
		abort(); /* every output starts with a count */
	pfl_buf_fini(&out);
out:
	sah_fini(&h);
	return 0;
}
