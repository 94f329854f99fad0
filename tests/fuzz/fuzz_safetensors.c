/* Fuzz the safetensors reader: parse, then map onto a small spec. */
#include <stdint.h>
#include <stdlib.h>

#include "privfl/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_st_file f;
	struct pfl_model_spec spec;
	float params[15];

	if (pfl_safetensors_parse(data, size, &f) != PFL_OK)
		return 0;
	(void)pfl_st_file_meta(&f, "privfl.model");
	if (pfl_model_spec_parse("logreg", 1, 1, 4, 3, &spec) == PFL_OK &&
	    pfl_st_file_to_params(&f, &spec, params) == PFL_OK) {
		volatile float sink = params[0] + params[14];
		(void)sink;
	}
	pfl_st_file_fini(&f);
	return 0;
}
