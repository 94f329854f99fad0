#include "privfl/err.h"

static const char *const messages[PFL_ERR__COUNT] = {
        [PFL_OK] = "success",
        [PFL_ERR_NOMEM] = "out of memory",
        [PFL_ERR_INVAL] = "invalid argument",
        [PFL_ERR_PROTO] = "protocol error",
        [PFL_ERR_CRYPTO] = "cryptographic verification failed",
        [PFL_ERR_TIMEOUT] = "timed out",
        [PFL_ERR_CLOSED] = "closed",
        [PFL_ERR_STATE] = "invalid state",
        [PFL_ERR_TOOBIG] = "too large",
        [PFL_ERR_IO] = "I/O error",
        [PFL_ERR_CONFIG] = "configuration error",
        [PFL_ERR_AUTH] = "not authorized",
        [PFL_ERR_BUDGET] = "privacy budget exhausted",
        [PFL_ERR_AGAIN] = "not ready, try again",
        [PFL_ERR_NOTFOUND] = "not found",
        [PFL_ERR_FORMAT] = "malformed data",
        [PFL_ERR_ABORTED] = "aborted",
};

const char *
pfl_strerror(int err)
{
	if (err < 0 || err >= PFL_ERR__COUNT || messages[err] == 0)
		return "unknown error";
	return messages[err];
}
