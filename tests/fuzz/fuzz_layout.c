/* Fuzz the custom-model layout builder: parse a safetensors image, derive
 * its layout and federated values (model/src/layout.c). */
#include <stdint.h>
#include <stdlib.h>

#include "privfl/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_st_file f;
	struct pfl_layout l;
	float *p = NULL;
	char err[256];

	if (pfl_safetensors_parse(data, size, &f) != PFL_OK)
		return 0;
	if (pfl_layout_from_st(&f, &l, &p, err, sizeof(err)) == PFL_OK) {
		volatile float sink = p[0] + p[l.num_params - 1];
		(void)sink;
		(void)pfl_layout_find(&l, "x");
		free(p);
		pfl_layout_fini(&l);
	}
	pfl_st_file_fini(&f);
	return 0;
}
