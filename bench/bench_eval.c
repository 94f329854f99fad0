/*
 * Time of one evaluation of a model on the Fashion-MNIST test set (10,000
 * images: forward pass, loss and accuracy), as the aggregator does after
 * every round. bench/fedavg.sh uses it with bench_train to work out the
 * compute floor of the FedAvg simulation.
 *   bench_eval MODEL [REPS [DATA_DIR]]
 * prints "privfl model=M eval_ms=X", the best of REPS runs (default 5).
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
	double best = -1.0, acc, loss;
	int reps, rv = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_eval MODEL [REPS [DATA_DIR]]\n");
		return 2;
	}
	reps = argc > 2 ? atoi(argv[2]) : 5;
	if (reps < 1)
		reps = 1;
	if (pfl_dataset_load_fmnist(argc > 3 ? argv[3] : NULL, false, &ds) !=
	    PFL_OK) {
		fprintf(stderr, "bench_eval: cannot load Fashion-MNIST\n");
		return 1;
	}
	if (pfl_model_spec_parse(argv[1], ds.c, ds.h, ds.w, ds.classes,
	                         &spec) != PFL_OK ||
	    pfl_model_new(&spec, &m) != PFL_OK)
		goto out;
	pfl_model_init(m, 1);
	for (int r = 0; r <= reps; r++) { /* the first run warms up */
		double t0 = pfl_clock_sec(), t;
		if (pfl_model_evaluate(m, &ds, NULL, 0, &acc, &loss) != PFL_OK)
			goto out;
		t = pfl_clock_sec() - t0;
		if (r > 0 && (best < 0 || t < best))
			best = t;
	}
	printf("privfl model=%s eval_ms=%.2f\n", argv[1], best * 1e3);
	rv = 0;
out:
	pfl_model_free(m);
	pfl_dataset_fini(&ds);
	return rv;
}
