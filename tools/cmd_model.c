/* privfl model train|eval|info: central training, evaluation, inspection. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/clock.h"
#include "privfl/config.h"
#include "privfl/csv.h"
#include "privfl/dataset.h"
#include "privfl/file.h"
#include "privfl/model.h"
#include "privfl/safetensors.h"

#include "commands.h"

struct model_args {
	char *model;
	int dataset;
	char *data_dir;
	char *csv;
	char *csv_test;
	char *label;
	int missing;
	int scale;
	char *categorical;
	int64_t epochs;
	int64_t batch;
	double lr;
	double momentum;
	double weight_decay;
	bool augment;
	int64_t seed;
	char *init;
	char *out;
	char *weights;
};

#define F(x) offsetof(struct model_args, x)
static const struct pfl_cfg_entry model_tab[] = {
        {"model", PFL_CFG_STRING, F(model), NULL, 0, 0, NULL, 0,
         "architecture: logreg, mlp, mlp:H1,H2, cnn (default: the "
         "privfl.model of --weights/--init, else mlp)"},
        {"dataset", PFL_CFG_ENUM, F(dataset), "fashion-mnist", 0, 0,
         "fashion-mnist|csv", 0, "data set"},
        {"data-dir", PFL_CFG_STRING, F(data_dir), NULL, 0, 0, NULL, 0,
         "Fashion-MNIST directory (default " PFL_FMNIST_DIR ")"},
        {"csv", PFL_CFG_STRING, F(csv), NULL, 0, 0, NULL, 0,
         "training CSV file (implies --dataset csv)"},
        {"csv-test", PFL_CFG_STRING, F(csv_test), NULL, 0, 0, NULL, 0,
         "test CSV file (default: the training file)"},
        {"label", PFL_CFG_STRING, F(label), "label", 0, 0, NULL, 0,
         "CSV label column"},
        {"missing", PFL_CFG_ENUM, F(missing), "error", 0, 0,
         "error|drop|mean|median|mode", 0,
         "CSV missing values: error, drop the row, or impute"},
        {"scale", PFL_CFG_ENUM, F(scale), "standard", 0, 0,
         "none|standard|minmax", 0, "CSV numeric scaling"},
        {"categorical", PFL_CFG_STRING, F(categorical), NULL, 0, 0, NULL, 0,
         "CSV columns to one-hot encode (comma-separated; "
         "non-numeric columns are categorical anyway)"},
        {"epochs", PFL_CFG_INT, F(epochs), "1", 0, 100000, NULL, 0,
         "training epochs"},
        {"batch", PFL_CFG_INT, F(batch), "32", 1, 65536, NULL, 0,
         "mini-batch size"},
        {"lr", PFL_CFG_DOUBLE, F(lr), "0.05", 1e-9, 100, NULL, 0,
         "learning rate"},
        {"momentum", PFL_CFG_DOUBLE, F(momentum), "0", 0, 0.999, NULL, 0,
         "SGD momentum (reset at each epoch)"},
        {"weight-decay", PFL_CFG_DOUBLE, F(weight_decay), "0", 0, 1, NULL, 0,
         "L2 weight decay"},
        {"augment", PFL_CFG_BOOL, F(augment), "false", 0, 0, NULL, 0,
         "random shifts and flips (images)"},
        {"seed", PFL_CFG_INT, F(seed), "1", 0, 9007199254740991.0, NULL, 0,
         "seed of initialization and shuffling"},
        {"init", PFL_CFG_STRING, F(init), NULL, 0, 0, NULL, 0,
         "start from these weights (.safetensors)"},
        {"out", PFL_CFG_STRING, F(out), NULL, 0, 0, NULL, 0,
         "write the trained weights here (.safetensors)"},
        {"weights", PFL_CFG_STRING, F(weights), NULL, 0, 0, NULL, 0,
         "weights to evaluate (.safetensors)"},
};
#undef F
#define NTAB (sizeof(model_tab) / sizeof(model_tab[0]))

static int
parse(struct model_args *a, int argc, char **argv)
{
	char err[PFL_CFG_ERRLEN];

	if (pfl_cfg_defaults(model_tab, NTAB, a, err, sizeof(err)) != PFL_OK ||
	    pfl_cfg_parse_args(model_tab, NTAB, a, argc, argv, 1, err,
	                       sizeof(err)) != PFL_OK) {
		fprintf(stderr, "privfl model %s: %s\n", argv[0], err);
		return 2;
	}
	if (a->dataset == 1 && a->csv == NULL) {
		fprintf(stderr,
		        "privfl model %s: --dataset csv needs --csv "
		        "FILE\n",
		        argv[0]);
		return 2;
	}
	return 0;
}

static int
load_data(const struct model_args *a, struct pfl_dataset *train,
          struct pfl_dataset *test)
{
	char err[PFL_CSV_ERRLEN] = "";
	pfl_err rc;

	if (a->csv != NULL) {
		struct pfl_csv_opts o = {
		        .label = a->label,
		        .missing = (enum pfl_csv_missing)a->missing,
		        .scale = (enum pfl_csv_scale)a->scale,
		        .categorical = a->categorical};
		rc = pfl_csv_load(a->csv, a->csv_test ? a->csv_test : a->csv,
		                  &o, train, test, err, sizeof(err));
		if (rc != PFL_OK) {
			fprintf(stderr, "privfl model: %s\n",
			        err[0] ? err : pfl_strerror(rc));
			return 1;
		}
		return 0;
	}
	if (train != NULL && (rc = pfl_dataset_load_fmnist(a->data_dir, true,
	                                                   train)) != PFL_OK) {
		fprintf(stderr, "privfl model: Fashion-MNIST train set: %s\n",
		        pfl_strerror(rc));
		return 1;
	}
	if ((rc = pfl_dataset_load_fmnist(a->data_dir, false, test)) !=
	    PFL_OK) {
		fprintf(stderr, "privfl model: Fashion-MNIST test set: %s\n",
		        pfl_strerror(rc));
		pfl_dataset_fini(train);
		return 1;
	}
	return 0;
}

/* A model file read whole, parsed, with its privfl.* metadata. */
struct wfile {
	const char *path;
	uint8_t *buf;
	struct pfl_st_file f;
	bool parsed;
};

static void
wfile_fini(struct wfile *w)
{
	if (w->parsed)
		pfl_st_file_fini(&w->f);
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static int
wfile_read(const char *path, struct wfile *w)
{
	char err[256] = "";
	size_t len = 0;
	pfl_err rc;

	memset(w, 0, sizeof(*w));
	w->path = path;
	rc = pfl_file_read(path, PFL_ST_MAX_FILE, &w->buf, &len);
	if (rc == PFL_OK)
		rc = pfl_safetensors_parse_err(w->buf, len, &w->f, err,
		                               sizeof(err));
	if (rc != PFL_OK) {
		fprintf(stderr, "privfl model: %s: %s\n", path,
		        err[0] ? err : pfl_strerror(rc));
		wfile_fini(w);
		return 1;
	}
	w->parsed = true;
	return 0;
}

/* The architecture: --model, else the file's privfl.model, else mlp. */
static const char *
arch_name(const struct model_args *a, const struct wfile *w)
{
	const char *m =
	        w && w->parsed ? pfl_st_file_meta(&w->f, "privfl.model") : NULL;

	return a->model ? a->model : m ? m : "mlp";
}

/* The data must have the input shape and classes the file was made for. */
static int
check_file_shape(const struct wfile *w, const struct pfl_dataset *ds)
{
	const char *in = pfl_st_file_meta(&w->f, "privfl.input");
	const char *cl = pfl_st_file_meta(&w->f, "privfl.classes");
	char have[64];

	snprintf(have, sizeof(have), "%d,%d,%d", ds->c, ds->h, ds->w);
	if (in != NULL && strcmp(in, have) != 0) {
		fprintf(stderr,
		        "privfl model: %s: made for input %s, the data has "
		        "%s\n",
		        w->path, in, have);
		return 1;
	}
	if (cl != NULL && atoi(cl) != ds->classes) {
		fprintf(stderr,
		        "privfl model: %s: made for %s classes, the data has "
		        "%d\n",
		        w->path, cl, ds->classes);
		return 1;
	}
	return 0;
}

static int
make_model(const struct model_args *a, const struct pfl_dataset *ds,
           const struct wfile *w, struct pfl_model **m)
{
	struct pfl_model_spec spec;
	const char *name = arch_name(a, w);

	if (pfl_model_spec_parse(name, ds->c, ds->h, ds->w, ds->classes,
	                         &spec) != PFL_OK) {
		fprintf(stderr,
		        "privfl model: bad model '%s' for input "
		        "%dx%dx%d\n",
		        name, ds->c, ds->h, ds->w);
		return 2;
	}
	if (pfl_model_new(&spec, m) != PFL_OK) {
		fprintf(stderr, "privfl model: out of memory\n");
		return 1;
	}
	return 0;
}

static int
load_weights(struct pfl_model *m, const struct wfile *w)
{
	char err[256] = "";
	pfl_err rc = pfl_st_file_to_params_err(&w->f, pfl_model_get_spec(m),
	                                       pfl_model_params(m), err,
	                                       sizeof(err));

	if (rc != PFL_OK) {
		fprintf(stderr, "privfl model: %s: %s\n", w->path,
		        err[0] ? err : pfl_strerror(rc));
		return 1;
	}
	return 0;
}

static int
cmd_train(struct model_args *a)
{
	struct pfl_dataset train = {0}, test = {0};
	struct pfl_model *m = NULL;
	struct wfile w = {0};
	int rv;

	if (a->init != NULL && (rv = wfile_read(a->init, &w)) != 0)
		return rv;
	if ((rv = load_data(a, &train, &test)) != 0)
		goto out;
	if (a->init != NULL && (rv = check_file_shape(&w, &train)) != 0)
		goto out;
	if ((rv = make_model(a, &train, a->init ? &w : NULL, &m)) != 0)
		goto out;
	if (a->init != NULL) {
		if ((rv = load_weights(m, &w)) != 0)
			goto out;
	} else {
		pfl_model_init(m, (uint64_t)a->seed);
	}
	for (int64_t e = 0; e < a->epochs; e++) {
		struct pfl_train_opts o = {
		        .epochs = 1,
		        .batch = (int)a->batch,
		        .lr = (float)a->lr,
		        .momentum = (float)a->momentum,
		        .weight_decay = (float)a->weight_decay,
		        .augment = a->augment,
		        .seed = (uint64_t)a->seed * 1000003u + (uint64_t)e};
		struct pfl_train_stats st;
		double acc, loss, t0 = pfl_clock_sec(), t1;
		pfl_err rc = pfl_model_train(m, &train, NULL, 0, &o, &st);
		t1 = pfl_clock_sec();
		if (rc == PFL_OK)
			rc = pfl_model_evaluate(m, &test, NULL, 0, &acc, &loss);
		if (rc != PFL_OK) {
			fprintf(stderr, "privfl model train: %s\n",
			        pfl_strerror(rc));
			rv = 1;
			goto out;
		}
		printf("epoch %" PRId64 " train_loss=%.4f test_loss=%.4f "
		       "test_accuracy=%.4f samples_per_s=%.0f\n",
		       e + 1, st.loss, loss, acc,
		       (double)st.samples / (t1 - t0));
		fflush(stdout);
	}
	if (a->out != NULL) {
		pfl_err rc = pfl_safetensors_save(pfl_model_get_spec(m),
		                                  pfl_model_params(m), NULL, 0,
		                                  a->out);
		if (rc != PFL_OK) {
			fprintf(stderr, "privfl model train: %s: %s\n", a->out,
			        pfl_strerror(rc));
			rv = 1;
		}
	}
out:
	wfile_fini(&w);
	pfl_model_free(m);
	pfl_dataset_fini(&train);
	pfl_dataset_fini(&test);
	return rv;
}

static int
cmd_eval(struct model_args *a)
{
	struct pfl_dataset train = {0}, test = {0};
	struct pfl_model *m = NULL;
	struct wfile w = {0};
	double acc, loss;
	int rv;

	if (a->weights == NULL) {
		fprintf(stderr, "privfl model eval: --weights is required\n");
		return 2;
	}
	if ((rv = wfile_read(a->weights, &w)) != 0)
		return rv;
	if ((rv = load_data(a, a->csv != NULL ? &train : NULL, &test)) != 0)
		goto out;
	if ((rv = check_file_shape(&w, &test)) != 0 ||
	    (rv = make_model(a, &test, &w, &m)) != 0 ||
	    (rv = load_weights(m, &w)) != 0)
		goto out;
	if (pfl_model_evaluate(m, &test, NULL, 0, &acc, &loss) != PFL_OK) {
		fprintf(stderr, "privfl model eval: failed\n");
		rv = 1;
		goto out;
	}
	printf("accuracy=%.4f loss=%.4f\n", acc, loss);
out:
	wfile_fini(&w);
	pfl_model_free(m);
	pfl_dataset_fini(&train);
	pfl_dataset_fini(&test);
	return rv;
}

/*
 * The architecture the file's metadata names, checked against its
 * tensors: 0 (and a line) when it matches or there is no metadata.
 */
static int
info_arch(const struct wfile *w)
{
	const char *name = pfl_st_file_meta(&w->f, "privfl.model");
	const char *in = pfl_st_file_meta(&w->f, "privfl.input");
	const char *cl = pfl_st_file_meta(&w->f, "privfl.classes");
	struct pfl_model_spec spec;
	char err[256] = "";
	float *params;
	int c, h, wd;
	pfl_err rc;

	if (name == NULL || in == NULL || cl == NULL ||
	    sscanf(in, "%d,%d,%d", &c, &h, &wd) != 3)
		return 0;
	if (pfl_model_spec_parse(name, c, h, wd, atoi(cl), &spec) != PFL_OK) {
		fprintf(stderr,
		        "privfl model info: %s: unknown architecture '%s' "
		        "(input %s, %s classes)\n",
		        w->path, name, in, cl);
		return 1;
	}
	params = malloc(pfl_model_spec_num_params(&spec) * sizeof(float));
	if (params == NULL)
		return 1;
	rc = pfl_st_file_to_params_err(&w->f, &spec, params, err, sizeof(err));
	free(params);
	if (rc != PFL_OK) {
		fprintf(stderr, "privfl model info: %s: %s\n", w->path,
		        err[0] ? err : pfl_strerror(rc));
		return 1;
	}
	printf("architecture %s, input %s, %s classes, %zu parameters\n", name,
	       in, cl, pfl_model_spec_num_params(&spec));
	return 0;
}

static int
cmd_info(const char *path)
{
	struct wfile w;
	int rv;

	if (wfile_read(path, &w) != 0)
		return 1;
	rv = info_arch(&w);
	for (size_t i = 0; i < w.f.nmeta; i++)
		if (w.f.meta_values[i] != NULL)
			printf("meta %s = %s\n", w.f.meta_keys[i],
			       w.f.meta_values[i]);
	for (size_t i = 0; i < w.f.ntensors; i++) {
		const struct pfl_st_tensor *t = &w.f.tensors[i];
		printf("%s %s [", t->name, t->dtype);
		for (int d = 0; d < t->ndim; d++)
			printf("%s%" PRId64, d ? ", " : "", t->shape[d]);
		printf("] bytes %" PRIu64 "..%" PRIu64 "\n", t->begin, t->end);
	}
	wfile_fini(&w);
	return rv;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: privfl model train [options]\n"
	           "       privfl model eval --weights FILE [options]\n"
	           "       privfl model info FILE.safetensors\n\noptions:\n");
	pfl_cfg_print_help(model_tab, NTAB, f);
}

int
pfl_cmd_model(int argc, char **argv)
{
	struct model_args a;
	int rv;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	if (strcmp(argv[1], "info") == 0) {
		if (argc != 3) {
			usage(stderr);
			return 2;
		}
		return cmd_info(argv[2]);
	}
	if (strcmp(argv[1], "train") != 0 && strcmp(argv[1], "eval") != 0) {
		usage(stderr);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	if ((rv = parse(&a, argc - 1, argv + 1)) == 0)
		rv = strcmp(argv[1], "train") == 0 ? cmd_train(&a)
		                                   : cmd_eval(&a);
	pfl_cfg_free(model_tab, NTAB, &a);
	return rv;
}
