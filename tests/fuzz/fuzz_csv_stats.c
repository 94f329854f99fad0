/*
 * Fuzz the CSV statistics reader (pfl_csv_prep_load_buf): a loaded prep
 * is applied to a fixed data file, which must never crash either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rows[] = "a,c,y\n1,x,p\n,z,q\nNA,,p\n2,x,r\n";
	struct pfl_csv_prep *p = NULL;
	struct pfl_dataset ds = {0};
	char err[PFL_CSV_ERRLEN];

	if (pfl_csv_prep_load_buf("stats.csv", (const char *)data, size, &p,
	                          err, sizeof(err)) != PFL_OK)
		return 0;
	if (pfl_csv_apply_buf(p, "data.csv", rows, strlen(rows), &ds, err,
	                      sizeof(err)) == PFL_OK)
		pfl_dataset_fini(&ds);
	pfl_csv_prep_free(p);
	return 0;
}
