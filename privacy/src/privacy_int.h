/* pfl_privacy internals: never included from outside privacy/. */
#ifndef PFL_PRIVACY_INT_H
#define PFL_PRIVACY_INT_H

#include <stddef.h>
#include <stdint.h>

#define PFL_PI    3.14159265358979323846
#define PFL_SQRT2 1.41421356237309504880

/* log(exp(a) + exp(b)), exact for -inf arguments. */
double pfl_log_add(double a, double b);
/* log(erfc(x)), accurate for large x (no underflow). */
double pfl_log_erfc(double x);
/* RDP of one sampled-Gaussian step at every order of pfl_rdp_orders(). */
void pfl_rdp_vector(double q, double sigma, double *rdp);

#endif
