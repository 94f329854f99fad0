/* Tests of the training engine as a whole: known answers, model specs,
 * training behaviour and determinism, bad input, Fashion-MNIST. */

/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfl/model.h"
#include "privfl/rng.h"

#include "../model/src/model_int.h"
/* ---- known answers (NumPy, tests/vectors/model/mlp_step.txt) ---- */

static double *
read_vec(FILE *f, const char *want, size_t n)
{
	char name[32];
	size_t cnt;
	double *v;

	rewind(f);
	while (fscanf(f, "%31s", name) == 1) {
		if (name[0] == '#') {
			int ch;
			while ((ch = fgetc(f)) != '\n' && ch != EOF)
				;
			continue;
		}
		assert_int_equal(fscanf(f, "%zu", &cnt), 1);
		v = malloc((cnt + 1) * sizeof(double));
		for (size_t i = 0; i < cnt; i++)
			assert_int_equal(fscanf(f, "%lf", &v[i]), 1);
		if (strcmp(name, want) == 0) {
			assert_int_equal(cnt, n);
			return v;
		}
		free(v);
	}
	fail_msg("vector %s not found", want);
	return NULL;
}

static void
test_known_answer_mlp(void **state)
{
	char path[1024];
	struct pfl_model_spec spec;
	struct pfl_model *m;
	struct pfl_dataset ds = {0};
	struct pfl_train_opts o = {.epochs = 1,
	                           .batch = 2,
	                           .lr = 0.1f,
	                           .weight_decay = 0.01f,
	                           .seed = 1};
	struct pfl_train_stats st;
	double *params, *x, *y, *logits, *loss, *after;
	float lg[6];
	FILE *f;
	const char *src = getenv("PFL_SOURCE_DIR");

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/vectors/model/mlp_step.txt",
	         src ? src : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(pfl_model_spec_parse("mlp:4,3", 1, 1, 5, 3, &spec),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&spec, &m), PFL_OK);
	assert_int_equal(pfl_model_num_params(m), 51);
	params = read_vec(f, "params", 51);
	x = read_vec(f, "x", 10);
	y = read_vec(f, "y", 2);
	logits = read_vec(f, "logits", 6);
	loss = read_vec(f, "loss", 1);
	after = read_vec(f, "after", 51);
	fclose(f);
	for (int i = 0; i < 51; i++)
		pfl_model_params(m)[i] = (float)params[i];
	ds.n = 2;
	ds.dim = 5;
	ds.c = ds.h = 1;
	ds.w = 5;
	ds.classes = 3;
	ds.x = malloc(10 * sizeof(float));
	ds.y = malloc(2 * sizeof(int32_t));
	for (int i = 0; i < 10; i++)
		ds.x[i] = (float)x[i];
	ds.y[0] = (int32_t)y[0];
	ds.y[1] = (int32_t)y[1];
	assert_int_equal(pfl_model_predict(m, ds.x, 2, lg), PFL_OK);
	for (int i = 0; i < 6; i++)
		assert_true(fabs(lg[i] - logits[i]) < 1e-6);
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st), PFL_OK);
	assert_true(fabs(st.loss - loss[0]) < 1e-6);
	assert_int_equal(st.steps, 1);
	assert_int_equal(st.samples, 2);
	for (int i = 0; i < 51; i++)
		assert_true(fabs(pfl_model_params(m)[i] - after[i]) < 1e-6);
	free(params), free(x), free(y), free(logits), free(loss), free(after);
	pfl_dataset_fini(&ds);
	pfl_model_free(m);
}

/* ---- specs ---- */

static void
test_spec(void **state)
{
	struct pfl_model_spec s;
	struct pfl_tensor_info ti;
	char name[PFL_MODEL_NAME_MAX];

	(void)state;
	assert_int_equal(pfl_model_spec_parse("cnn", 1, 28, 28, 10, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_spec_num_params(&s), 1663370);
	assert_true(pfl_model_spec_tensor(&s, 0, &ti));
	assert_string_equal(ti.name, "conv1.weight");
	assert_int_equal(ti.ndim, 4);
	assert_int_equal(ti.shape[0], 32);
	assert_int_equal(ti.shape[3], 5);
	assert_true(pfl_model_spec_tensor(&s, 7, &ti));
	assert_string_equal(ti.name, "fc2.bias");
	assert_int_equal(ti.offset + ti.count, 1663370);
	assert_false(pfl_model_spec_tensor(&s, 8, &ti));
	assert_int_equal(pfl_model_spec_parse("mlp", 1, 28, 28, 10, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_spec_num_params(&s), 199210);
	pfl_model_spec_name(&s, name, sizeof(name));
	assert_string_equal(name, "mlp:200,200");
	assert_int_equal(pfl_model_spec_parse("mlp:64,32", 1, 1, 20, 2, &s),
	                 PFL_OK);
	pfl_model_spec_name(&s, name, sizeof(name));
	assert_string_equal(name, "mlp:64,32");
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 28, 28, 10, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_spec_num_params(&s), 7850);
	assert_int_equal(pfl_model_spec_parse("mlp:0,3", 1, 1, 5, 2, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_spec_parse("mlp:3", 1, 1, 5, 2, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_spec_parse("mlp:3,4x", 1, 1, 5, 2, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_spec_parse("cnn", 1, 1, 30, 2, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_spec_parse("resnet", 1, 28, 28, 10, &s),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 28, 28, 1, &s),
	                 PFL_ERR_INVAL);
}

/* ---- training on synthetic data ---- */

/* Two Gaussian blobs per class in dim dims; deterministic. */
static void
make_blobs(struct pfl_dataset *ds, size_t n, int c, int h, int w, int classes,
           uint64_t seed)
{
	struct pfl_rng r;
	size_t dim = (size_t)c * h * w;

	pfl_rng_seed(&r, seed);
	ds->n = n;
	ds->dim = dim;
	ds->c = c;
	ds->h = h;
	ds->w = w;
	ds->classes = classes;
	ds->x = malloc(n * dim * sizeof(float));
	ds->y = malloc(n * sizeof(int32_t));
	for (size_t i = 0; i < n; i++) {
		int32_t y = (int32_t)(i % (size_t)classes);
		ds->y[i] = y;
		for (size_t j = 0; j < dim; j++)
			ds->x[i * dim + j] =
			        (float)(0.5 * pfl_rng_normal(&r) +
			                ((j % (size_t)classes) == (size_t)y
			                         ? 1.0
			                         : 0.0));
	}
}

static void
test_train_learns_and_is_deterministic(void **state)
{
	struct pfl_dataset ds = {0};
	struct pfl_model_spec s;
	struct pfl_model *a, *b;
	struct pfl_train_opts o = {.epochs = 3,
	                           .batch = 16,
	                           .lr = 0.1f,
	                           .momentum = 0.9f,
	                           .weight_decay = 1e-4f,
	                           .seed = 9};
	struct pfl_train_stats st;
	double acc0, acc, loss;
	uint32_t idx[300];

	(void)state;
	make_blobs(&ds, 600, 1, 1, 12, 4, 1);
	for (int i = 0; i < 300; i++)
		idx[i] = (uint32_t)(599 - i);
	assert_int_equal(pfl_model_spec_parse("mlp:16,8", 1, 1, 12, 4, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&s, &a), PFL_OK);
	assert_int_equal(pfl_model_new(&s, &b), PFL_OK);
	pfl_model_init(a, 3);
	pfl_model_init(b, 3);
	assert_memory_equal(pfl_model_params(a), pfl_model_params(b),
	                    pfl_model_num_params(a) * sizeof(float));
	assert_int_equal(pfl_model_evaluate(a, &ds, NULL, 0, &acc0, &loss),
	                 PFL_OK);
	assert_int_equal(pfl_model_train(a, &ds, idx, 300, &o, &st), PFL_OK);
	assert_int_equal(st.samples, 900);
	assert_int_equal(st.steps, 3 * 19);
	assert_int_equal(pfl_model_train(b, &ds, idx, 300, &o, NULL), PFL_OK);
	assert_memory_equal(pfl_model_params(a), pfl_model_params(b),
	                    pfl_model_num_params(a) * sizeof(float));
	assert_int_equal(pfl_model_evaluate(a, &ds, NULL, 0, &acc, &loss),
	                 PFL_OK);
	printf("# blobs accuracy %.3f (before %.3f)\n", acc, acc0);
	assert_true(acc > 0.9);
	assert_true(acc > acc0);
	/* another seed shuffles differently */
	pfl_model_init(b, 3);
	o.seed = 10;
	assert_int_equal(pfl_model_train(b, &ds, idx, 300, &o, NULL), PFL_OK);
	assert_true(memcmp(pfl_model_params(a), pfl_model_params(b),
	                   pfl_model_num_params(a) * sizeof(float)) != 0);
	pfl_model_free(a);
	pfl_model_free(b);
	pfl_dataset_fini(&ds);
}

static double
dist2(const float *a, const float *b, size_t n)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return s;
}

static void
test_fedprox_pulls_to_reference(void **state)
{
	struct pfl_dataset ds = {0};
	struct pfl_model_spec s;
	struct pfl_model *m;
	struct pfl_train_opts o = {
	        .epochs = 2, .batch = 8, .lr = 0.1f, .seed = 4};
	float *ref;
	size_t np;
	double plain, prox;

	(void)state;
	make_blobs(&ds, 200, 1, 1, 10, 3, 2);
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 1, 10, 3, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&s, &m), PFL_OK);
	np = pfl_model_num_params(m);
	ref = malloc(np * sizeof(float));
	pfl_model_init(m, 1);
	memcpy(ref, pfl_model_params(m), np * sizeof(float));
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, NULL), PFL_OK);
	plain = dist2(pfl_model_params(m), ref, np);
	memcpy(pfl_model_params(m), ref, np * sizeof(float));
	o.prox_mu = 5.0f;
	o.prox_ref = ref;
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, NULL), PFL_OK);
	prox = dist2(pfl_model_params(m), ref, np);
	assert_true(plain > 0.0);
	assert_true(prox < 0.5 * plain);
	free(ref);
	pfl_model_free(m);
	pfl_dataset_fini(&ds);
}

static void
test_cnn_augment_trains(void **state)
{
	struct pfl_dataset ds = {0};
	struct pfl_model_spec s;
	struct pfl_model *a, *b;
	struct pfl_train_opts o = {.epochs = 1,
	                           .batch = 4,
	                           .lr = 0.01f,
	                           .augment = true,
	                           .seed = 2};
	struct pfl_train_stats st;

	(void)state;
	make_blobs(&ds, 12, 1, 8, 8, 2, 3);
	assert_int_equal(pfl_model_spec_parse("cnn", 1, 8, 8, 2, &s), PFL_OK);
	assert_int_equal(pfl_model_new(&s, &a), PFL_OK);
	assert_int_equal(pfl_model_new(&s, &b), PFL_OK);
	pfl_model_init(a, 1);
	pfl_model_init(b, 1);
	assert_int_equal(pfl_model_train(a, &ds, NULL, 0, &o, &st), PFL_OK);
	assert_true(isfinite(st.loss));
	assert_int_equal(pfl_model_train(b, &ds, NULL, 0, &o, NULL), PFL_OK);
	assert_memory_equal(pfl_model_params(a), pfl_model_params(b),
	                    pfl_model_num_params(a) * sizeof(float));
	o.augment = false;
	pfl_model_init(b, 1);
	assert_int_equal(pfl_model_train(b, &ds, NULL, 0, &o, NULL), PFL_OK);
	assert_true(memcmp(pfl_model_params(a), pfl_model_params(b),
	                   pfl_model_num_params(a) * sizeof(float)) != 0);
	pfl_model_free(a);
	pfl_model_free(b);
	pfl_dataset_fini(&ds);
}

static void
test_train_rejects_bad_input(void **state)
{
	struct pfl_dataset ds = {0};
	struct pfl_model_spec s;
	struct pfl_model *m;
	struct pfl_train_opts o = {.epochs = 1, .batch = 4, .lr = 0.1f};
	struct pfl_train_stats st = {.loss = -1.0};
	uint32_t bad[2] = {0, 99};
	double acc = -1.0;

	(void)state;
	make_blobs(&ds, 20, 1, 1, 6, 2, 3);
	assert_int_equal(pfl_model_spec_parse("logreg", 1, 1, 6, 2, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&s, &m), PFL_OK);
	assert_int_equal(pfl_model_train(m, &ds, bad, 2, &o, &st),
	                 PFL_ERR_INVAL);
	assert_true(st.loss == -1.0);
	o.batch = 0;
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st),
	                 PFL_ERR_INVAL);
	o.batch = 4;
	o.lr = NAN;
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st),
	                 PFL_ERR_INVAL);
	o.lr = 0.1f;
	ds.y[3] = 2; /* label out of range for the model */
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st),
	                 PFL_ERR_INVAL);
	assert_int_equal(pfl_model_evaluate(m, &ds, NULL, 0, &acc, NULL),
	                 PFL_ERR_INVAL);
	assert_true(acc == -1.0);
	ds.y[3] = 1;
	ds.dim = 5;
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st),
	                 PFL_ERR_INVAL);
	ds.dim = 6;
	/* diverging training is reported, not hidden */
	o.lr = 3e38f;
	assert_int_equal(pfl_model_train(m, &ds, NULL, 0, &o, &st),
	                 PFL_ERR_STATE);
	pfl_model_free(m);
	pfl_model_free(NULL);
	pfl_dataset_fini(&ds);
}

/* The acceptance run: mlp, 1 epoch, batch 32, lr 0.05, seed 1. */
static void
test_fmnist_mlp_one_epoch(void **state)
{
	struct pfl_dataset train = {0}, test = {0};
	struct pfl_model_spec s;
	struct pfl_model *m;
	struct pfl_train_opts o = {
	        .epochs = 1, .batch = 32, .lr = 0.05f, .seed = 1 * 1000003u};
	double acc, loss;

	(void)state;
	if (pfl_dataset_load_fmnist(NULL, true, &train) != PFL_OK)
		skip();
	assert_int_equal(pfl_dataset_load_fmnist(NULL, false, &test), PFL_OK);
	assert_int_equal(pfl_model_spec_parse("mlp", 1, 28, 28, 10, &s),
	                 PFL_OK);
	assert_int_equal(pfl_model_new(&s, &m), PFL_OK);
	pfl_model_init(m, 1);
	assert_int_equal(pfl_model_train(m, &train, NULL, 0, &o, NULL), PFL_OK);
	assert_int_equal(pfl_model_evaluate(m, &test, NULL, 0, &acc, &loss),
	                 PFL_OK);
	printf("# fashion-mnist mlp 1 epoch: accuracy %.4f loss %.4f\n", acc,
	       loss);
	assert_true(acc >= 0.80);
	pfl_model_free(m);
	pfl_dataset_fini(&train);
	pfl_dataset_fini(&test);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_answer_mlp),
	        cmocka_unit_test(test_spec),
	        cmocka_unit_test(test_train_learns_and_is_deterministic),
	        cmocka_unit_test(test_fedprox_pulls_to_reference),
	        cmocka_unit_test(test_cnn_augment_trains),
	        cmocka_unit_test(test_train_rejects_bad_input),
	        cmocka_unit_test(test_fmnist_mlp_one_epoch),
	};

	return cmocka_run_group_tests_name("model_train", tests, NULL, NULL);
}
