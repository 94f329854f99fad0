/* proto/ internals: not for use outside the module. */
#ifndef PRIVFL_PROTO_INT_H
#define PRIVFL_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "privfl/err.h"

/*
 * Walk one msgpack object in buf[0..len) without allocating. Succeeds when
 * it is a map, spans exactly len bytes, nests at most max_depth deep, holds
 * at most max_objects objects, and no declared count or length exceeds the
 * bytes that remain. *last_key_off receives the offset of the last top-level
 * key (the signature key in a privfl envelope).
 * @return PFL_OK, PFL_ERR_PROTO, PFL_ERR_TOOBIG (object count)
 */
pfl_err pfli_mp_prevalidate(const uint8_t *buf, size_t len, int max_depth,
                            size_t max_objects, size_t *last_key_off);

#endif
