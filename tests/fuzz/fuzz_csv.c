/*
 * Fuzz the CSV reader: the first byte picks the missing-value and scaling
 * options, the rest is a file that is fitted and then applied to itself.
 * The label column is "label".
 */
#include <stdint.h>
#include <stdlib.h>

#include "privfl/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfl_csv_opts o = {.label = "label", .categorical = "c"};
	struct pfl_csv_prep *p = NULL;
	struct pfl_dataset ds = {0};
	char err[PFL_CSV_ERRLEN];

	if (size < 1)
		return 0;
	o.missing = (enum pfl_csv_missing)(data[0] % 5);
	o.scale = (enum pfl_csv_scale)((data[0] / 5) % 3);
	if (pfl_csv_fit_buf("fuzz.csv", (const char *)data + 1, size - 1, &o,
	                    &p, err, sizeof(err)) != PFL_OK)
		return 0;
	if (pfl_csv_apply_buf(p, "fuzz.csv", (const char *)data + 1, size - 1,
	                      &ds, err, sizeof(err)) == PFL_OK)
		pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);
	return 0;
}
