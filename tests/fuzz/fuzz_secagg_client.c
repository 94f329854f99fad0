/*
 * Fuzz pfl_sa_client_step: input = phase byte, then what the server
 * returned for the previous phase. A real round of 4 clients (dim 8) is
 * driven up to that phase; client 1 then gets the fuzz bytes as its input.
 * Nothing may crash, leak or read out of bounds.
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

	if (size < 1 || sodium_init() < 0)
		return 0;
	ph = 1 + data[0] % (PFL_SA_PHASES - 1);
	memset(&p, 0, sizeof(p));
	p.mode = PFL_SA_FULL;
	p.n = 4;
	p.k = 3;
	p.t = 3;
	p.dim = 8;
	pfl_buf_init(&out, 0);
	if (sah_init(&h, &p, data[0] & 0x80, 1) != PFL_OK)
		goto out;
	for (int q = 0; q < ph; q++)
		if (sah_phase(&h, q) != PFL_OK)
			goto out;
	if (pfl_sa_client_step(h.clients[0], (enum pfl_sa_phase)ph, data + 1,
	                       size - 1, &out) == PFL_OK &&
	    ph < PFL_SA_UNMASK &&
	    pfl_sa_server_recv(h.server, (enum pfl_sa_phase)ph, 1, out.data,
	                       out.len) != PFL_OK)
		h.status[0] = PFL_ERR_PROTO; /* refused: fine, nothing to do */
out:
	pfl_buf_fini(&out);
	sah_fini(&h);
	return 0;
}
