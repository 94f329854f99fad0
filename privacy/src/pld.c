/* Privacy loss distribution accountant (in progress). */
#include "privfl/accountant.h"

pfl_err
pfl_pld_epsilon(const double *q, const double *sigma, const uint64_t *steps,
                size_t n, double delta, double interval, double *eps)
{
	(void)q;
	(void)sigma;
	(void)steps;
	(void)n;
	(void)delta;
	(void)interval;
	(void)eps;
	return PFL_ERR_STATE;
}
