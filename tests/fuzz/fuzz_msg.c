/*
 * Fuzz the protocol decoder: pfl_msg_decode on arbitrary bytes with small
 * limits, then signature verification of whatever decodes. Invariants
 * checked: a decoded message's pointers lie inside the input, its strings
 * are terminated, its enums in range; and whatever decodes, re-signed by
 * our own key, encodes, decodes and re-encodes to the very same bytes
 * (the encoder writes only what the decoder accepts, and nothing is lost).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/identity.h"
#include "privfl/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned long verified;

static void
check_inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	if (p == NULL) {
		if (n != 0)
			abort();
		return;
	}
	if (p < data || n > size || p + n > data + size)
		abort();
}

static void
check_reencode(const struct pfl_msg *m, const struct pfl_wire_limits *lim)
{
	static struct pfl_identity *id;
	static const uint8_t seed[32] = {7};
	struct pfl_buf a, b;
	struct pfl_msg m2 = *m, m3;

	if (id == NULL && pfl_identity_from_seed(seed, &id) != PFL_OK)
		abort();
	memcpy(m2.sender, pfl_identity_public(id), sizeof(m2.sender));
	pfl_buf_init(&a, 0);
	pfl_buf_init(&b, 0);
	if (pfl_msg_encode(&m2, id, &a) != PFL_OK)
		abort();
	if (pfl_msg_decode(a.data, a.len, lim, &m3) != PFL_OK ||
	    pfl_msg_verify(&m3) != PFL_OK)
		abort();
	if (pfl_msg_encode(&m3, id, &b) != PFL_OK || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	pfl_buf_fini(&a);
	pfl_buf_fini(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_wire_limits lim = {1u << 20, 1u << 16, 1u << 16};
	struct pfl_msg m;

	if (pfl_msg_decode(data, size, &lim, &m) != PFL_OK)
		return 0;
	if (m.type <= 0 || m.type >= PFL_MSG__COUNT ||
	    m.version != PFL_PROTO_VERSION ||
	    memchr(m.fed, '\0', sizeof(m.fed)) == NULL ||
	    m.signed_ptr != data || m.signed_len >= size)
		abort();
	switch (m.type) {
	case PFL_MSG_MODEL:
		check_inside(m.u.model.params, m.u.model.params_len, data,
		             size);
		if (m.u.model.params_len % 4 != 0)
			abort();
		break;
	case PFL_MSG_UPDATE:
		check_inside(m.u.update.data, m.u.update.data_len, data, size);
		break;
	case PFL_MSG_SA_SUBMIT:
	case PFL_MSG_SA_FETCH:
	case PFL_MSG_SA_DATA:
		check_inside(m.u.sa.payload, m.u.sa.payload_len, data, size);
		break;
	default:
		break;
	}
	if (pfl_msg_verify(&m) == PFL_OK)
		verified++;
	check_reencode(&m, &lim);
	(void)pfl_msg_type_name(m.type);
	return 0;
}
