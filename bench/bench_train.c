/*
 * Single-threaded local training throughput of privfl's engine, in samples
 * per second: shuffled mini-batches, forward, loss, backward, SGD step.
 *   bench_train MODEL BATCH SAMPLES [REPS [DATA_DIR]]
 * prints "privfl workload=train,model=M,batch=B,samples=N,reps=R,threads=1
 * samples_per_s=X", the best of REPS runs (default 3), so that other load
 * on the machine distorts it less. bench/train.sh runs it beside PyTorch
 * doing the same work (bench/torch_train.py prints the same workload=)
 * and prints the ratio only when the two workloads are equal. SAMPLES must
 * be a multiple of BATCH (whole batches, as PyTorch's steps are).
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
	if (o.batch < 1 || n % (size_t)o.batch != 0) {
		fprintf(stderr, "bench_train: SAMPLES must be a multiple of "
		                "BATCH\n");
		goto out;
	}
	if (pfl_model_spec_parse(argv[1], ds.c, ds.h, ds.w, ds.classes,
	                         &spec) != PFL_OK ||
	    pfl_model_new(&spec, &m) != PFL_OK)
		goto out;
	pfl_model_init(m, 1);
	{
		uint32_t *idx = malloc(n * sizeof(*idx));
		size_t warm = (size_t)o.batch * 5 < n ? (size_t)o.batch * 5 : n;
		pfl_err rc;
		if (idx == NULL)
			goto out;
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint32_t)i;
		/* warm-up, 5 batches as PyTorch's: allocate buffers, touch the
		 * data (with idx NULL it would train a whole epoch) */
		rc = pfl_model_train(m, &ds, idx, warm, &o, &st);
		for (int r = 0; r < reps && rc == PFL_OK; r++) {
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
	printf("privfl workload=train,model=%s,batch=%d,samples=%zu,reps=%d,"
	       "threads=1 samples_per_s=%.0f\n",
	       argv[1], o.batch, n, reps, best);
	rv = 0;
out:
	pfl_model_free(m);
	pfl_dataset_fini(&ds);
	return rv;
}
