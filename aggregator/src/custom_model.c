/*
 * Custom models (model = custom): the aggregator federates the float
 * tensors of the init_model file without knowing the architecture
 * (privfl/layout.h has the rules; docs/MODEL.md, "Custom models").
 */
#include <stdlib.h>
#include <string.h>

#include "agg_int.h"
#include "privfl/layout.h"
#include "privfl/log.h"

bool
pfli_model_is_custom(const struct pfl_agg_config *cfg)
{
	return cfg->model != NULL && strcmp(cfg->model, "custom") == 0;
}

pfl_err
pfli_custom_setup(struct pfl_aggregator *a)
{
	const char *path = a->cfg.init_model;
	char err[256] = "", dig[17];
	float *params = NULL;
	pfl_err rv;

	if (path == NULL || *path == '\0') {
		pfl_log(PFL_LOG_ERROR,
		        "model custom needs init_model, a safetensors file "
		        "with "
		        "the model's initial tensors (e.g. a PyTorch "
		        "state_dict, see docs/PYTHON.md)");
		return PFL_ERR_CONFIG;
	}
	if ((a->layout = calloc(1, sizeof(*a->layout))) == NULL)
		return PFL_ERR_NOMEM;
	rv = pfl_layout_load(path, a->layout, &params, err, sizeof(err));
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "init_model %s: %s", path,
		        err[0] ? err : pfl_strerror(rv));
		free(a->layout);
		a->layout = NULL;
		return rv;
	}
	a->num_params = a->layout->num_params;
	a->global = params;
	pfl_layout_digest_short(a->layout, dig);
	snprintf(a->model_name, sizeof(a->model_name), "custom:%s", dig);
	pfl_log(PFL_LOG_INFO,
	        "model custom from %s: %zu tensors, %zu federated parameters, "
	        "%zu tensors carried unchanged (not averaged); layout %s",
	        path, a->layout->n, a->num_params, a->layout->num_carried, dig);
	return PFL_OK;
}

void
pfli_custom_free(struct pfl_aggregator *a)
{
	if (a->layout == NULL)
		return;
	pfl_layout_fini(a->layout);
	free(a->layout);
	a->layout = NULL;
}
