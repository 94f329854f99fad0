/*
 * Single-threaded local training throughput of privfl's engine, in samples
 * per second: shuffled mini-batches, forward, loss, backward, SGD step.
 *   bench_train MODEL BATCH SAMPLES [REPS [DATA_DIR]]
 * prints "privfl model=M batch=B samples_per_s=X", the best of REPS runs
 * (default 3), so that other load on the machine distorts it less.
 * bench/train.sh runs it beside PyTorch doing the same work and prints the
 * ratio.
 */
#include <stdio.h>
#include <stdlib.h>

#include "privfl/clock.h"
#include "privfl/dataset.h"
#include "privfl/model.h"

int
main(int argc, char **argv)
{
	struct pfl_dataset ds = {0};
	struct pfl_model_spec spec;
	struct pfl_model *m = NULL;
	struct pfl_train_stats st;
	struct pfl_train_opts o = {.epochs = 1, .lr = 0.05f, .seed = 1};
	size_t n;
	double t0, t1, best = 0.0;
	int reps;
	int rv = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_train MODEL BATCH SAMPLES "
		                "[REPS [DATA_DIR]]\n");
		return 2;
	}
	o.batch = atoi(argv[2]);
	reps = argc > 4 ? atoi(argv[4]) : 3;
	n = (size_t)atol(argv[3]);
	if (pfl_dataset_load_fmnist(argc > 5 ? argv[5] : NULL, true, &ds) !=
	    PFL_OK) {
		fprintf(stderr, "bench_train: cannot load Fashion-MNIST\n");
		return 1;
	}
	if (n > ds.n)
		n = ds.n;
	if (pfl_model_spec_parse(argv[1], ds.c, ds.h, ds.w, ds.classes,
	                         &spec) != PFL_OK ||
	    pfl_model_new(&spec, &m) != PFL_OK)
		goto out;
	pfl_model_init(m, 1);
	/* warm-up: allocate buffers, touch the data */
	if (pfl_model_train(m, &ds, NULL, (size_t)o.batch * 5, &o, &st) !=
	    PFL_OK)
		goto out;
	{
		uint32_t *idx = malloc(n * sizeof(*idx));
		pfl_err rc;
		if (idx == NULL)
			goto out;
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint32_t)i;
		for (int r = 0; r < reps; r++) {
			t0 = pfl_clock_sec();
			rc = pfl_model_train(m, &ds, idx, n, &o, &st);
			t1 = pfl_clock_sec();
			if (rc != PFL_OK)
				break;
			if ((double)st.samples / (t1 - t0) > best)
				best = (double)st.samples / (t1 - t0);
		}
		free(idx);
		if (rc != PFL_OK)
			goto out;
	}
	printf("privfl model=%s batch=%d samples_per_s=%.0f\n", argv[1],
	       o.batch, best);
	rv = 0;
out:
	pfl_model_free(m);
	pfl_dataset_fini(&ds);
	return rv;
}
