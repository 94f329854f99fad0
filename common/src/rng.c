#include "privfl/rng.h"

#include <math.h>

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
pfl_rng_seed(struct pfl_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

void
pfl_rng_fork(const struct pfl_rng *parent, uint64_t id, struct pfl_rng *child)
{
	uint64_t x = parent->s[0] ^ rotl(parent->s[2], 17) ^
	             (id * 0xd1342543de82ef95ULL);

	for (int i = 0; i < 4; i++)
		child->s[i] = splitmix64(&x);
}

uint64_t
pfl_rng_u64(struct pfl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t
pfl_rng_below(struct pfl_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
	uint64_t x;

	do {
		x = pfl_rng_u64(r);
	} while (x >= limit);
	return x % n;
}

double
pfl_rng_uniform(struct pfl_rng *r)
{
	return (double)(pfl_rng_u64(r) >> 11) * 0x1.0p-53;
}

double
pfl_rng_normal(struct pfl_rng *r)
{
	double u1, u2;

	do {
		u1 = pfl_rng_uniform(r);
	} while (u1 <= 0.0);
	u2 = pfl_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double
pfl_rng_gamma(struct pfl_rng *r, double shape)
{
	double d, c;

	if (shape < 1.0) {
		double u;
		do {
			u = pfl_rng_uniform(r);
		} while (u <= 0.0);
		return pfl_rng_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		double x, v, u;
		do {
			x = pfl_rng_normal(r);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = pfl_rng_uniform(r);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

void
pfl_rng_shuffle_u32(struct pfl_rng *r, uint32_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)pfl_rng_below(r, i);
		uint32_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}
