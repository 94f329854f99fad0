/*
 * Fuzz the protocol decoder: pfl_msg_decode on arbitrary bytes with small
 * limits, then signature verification of whatever decodes. Invariants
 * checked: a decoded message's pointers lie inside the input, its strings
 * are terminated, its enums in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	(void)pfl_msg_type_name(m.type);
	return 0;
}
