/* privfl data stats: preprocessing statistics for CSV federations. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "privfl/config.h"
#include "privfl/csv.h"

#include "commands.h"

struct data_args {
	char *csv;
	char *label;
	int missing;
	int scale;
	char *categorical;
	char *out;
};

#define F(x) offsetof(struct data_args, x)
static const struct pfl_cfg_entry data_tab[] = {
        {"csv", PFL_CFG_STRING, F(csv), NULL, 0, 0, NULL, 0,
         "reference sample (CSV with a header row)"},
        {"label", PFL_CFG_STRING, F(label), "label", 0, 0, NULL, 0,
         "label column"},
        {"missing", PFL_CFG_ENUM, F(missing), "error", 0, 0,
         "error|drop|mean|median|mode", 0,
         "missing values: error, drop the row, or impute"},
        {"scale", PFL_CFG_ENUM, F(scale), "standard", 0, 0,
         "none|standard|minmax", 0, "numeric scaling"},
        {"categorical", PFL_CFG_STRING, F(categorical), NULL, 0, 0, NULL, 0,
         "columns to one-hot encode (comma-separated; non-numeric "
         "columns are categorical anyway)"},
        {"out", PFL_CFG_STRING, F(out), NULL, 0, 0, NULL, 0,
         "statistics file to write (the clients' and aggregator's "
         "csv_stats)"},
};
#undef F
#define NTAB (sizeof(data_tab) / sizeof(data_tab[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl data stats --csv SAMPLE.csv --label COLUMN "
	           "--out STATS.csv [options]\n\n"
	           "Fits CSV preprocessing (imputation, scaling, one-hot "
	           "categories, classes) on a\nreference sample, for every "
	           "device of a federation to encode its data alike.\n\n"
	           "options:\n");
	pfl_cfg_print_help(data_tab, NTAB, f);
}

static int
stats(const struct data_args *a)
{
	struct pfl_csv_opts o = {.label = a->label,
	                         .missing = (enum pfl_csv_missing)a->missing,
	                         .scale = (enum pfl_csv_scale)a->scale,
	                         .categorical = a->categorical};
	struct pfl_csv_prep *p = NULL;
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rc = pfl_csv_fit(a->csv, &o, &p, err, sizeof(err));

	if (rc != PFL_OK) {
		fprintf(stderr, "privfl data stats: %s\n",
		        err[0] ? err : pfl_strerror(rc));
		return 1;
	}
	rc = pfl_csv_prep_save(p, a->out);
	if (rc != PFL_OK) {
		fprintf(stderr, "privfl data stats: %s: %s\n", a->out,
		        pfl_strerror(rc));
	} else {
		printf("%s: %zu features, %d classes (label '%s'); aggregator: "
		       "input_shape = 1x1x%zu, classes = %d\n",
		       a->out, pfl_csv_prep_dim(p), pfl_csv_prep_classes(p),
		       pfl_csv_prep_label(p), pfl_csv_prep_dim(p),
		       pfl_csv_prep_classes(p));
	}
	pfl_csv_prep_free(p);
	return rc == PFL_OK ? 0 : 1;
}

int
pfl_cmd_data(int argc, char **argv)
{
	struct data_args a;
	char err[PFL_CFG_ERRLEN];
	int rv = 2;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	if (argc < 2 || strcmp(argv[1], "stats") != 0) {
		usage(stderr);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	if (pfl_cfg_defaults(data_tab, NTAB, &a, err, sizeof(err)) != PFL_OK ||
	    pfl_cfg_parse_args(data_tab, NTAB, &a, argc - 1, argv + 1, 1, err,
	                       sizeof(err)) != PFL_OK)
		fprintf(stderr, "privfl data stats: %s\n", err);
	else if (a.csv == NULL || a.out == NULL)
		fprintf(stderr, "privfl data stats: --csv and --out are "
		                "required (try --help)\n");
	else
		rv = stats(&a);
	pfl_cfg_free(data_tab, NTAB, &a);
	return rv;
}
