/*
 * Fuzz the IDX decoder (plain and gzip). Input: 2-byte little-endian
 * length L of the image file, L bytes of image file, then the label file.
 */
#include <stdint.h>

#include "privfl/dataset.h"

#include "../../model/src/model_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_dataset ds = {0};
	size_t l;

	if (size < 2)
		return 0;
	l = (size_t)data[0] | (size_t)data[1] << 8;
	if (l > size - 2)
		return 0;
	if (pfli_idx_decode(data + 2, l, data + 2 + l, size - 2 - l, &ds) ==
	    PFL_OK)
		pfl_dataset_fini(&ds);
	return 0;
}
