/*
 * Server aggregation throughput against memory bandwidth measured in the
 * same run (issue #3: the sum of 1000 updates of 1M float32, target at
 * least 0.8 of memory bandwidth).
 *
 *   bench_aggregate [UPDATES [ENTRIES [REPS]]]     (default 1000 1048576 5)
 *
 * Updates arrive one at a time, each in a fresh buffer: the sources are a
 * ring of buffers about eight times the last-level cache, written before
 * the timed loop, so every update is read from DRAM as a freshly received
 * message would be (the accumulator, 4 MB, may stay in cache as it does in
 * the aggregator). Each update buffer starts 4 bytes past a 64-byte
 * boundary, as the float data of a decoded message may. Paths timed:
 *
 *   add      acc[i] += v[i] over float vectors: the bare accumulation, no
 *            check (the floor; not a correct aggregator path);
 *   accum    pfli_accum_add(acc, undo, msg, n), aggregator/src/accum.c:
 *            check and add fused per 4 KB block, refusal through the undo
 *            buffer (the aggregator with an undo buffer);
 *   noundo   pfli_accum_add(acc, NULL, msg, n): check the whole update,
 *            then add (the aggregator without an undo buffer);
 *   many     pfli_accum_add_many over the updates queued PFLI_ACCUM_GROUP
 *            (4) at a time: the accumulator walked once per 4 updates
 *            (the server would need to queue updates, see accum.h);
 *   before   serve.c's loops before accum.c (all_finite() over the
 *            message, then add_le_floats(); a copy, as of 97ad85b).
 *
 * accum, noundo and many call accum.c itself (compiled into the bench, see
 * bench/aggregate.cmake). Every entry of every path's sum is checked
 * exactly against the expected value. The baseline is STREAM-like: copy,
 * add (c = a + b), triad (a = b + s*c) and read (an integer sum of a and
 * b) over arrays of 128 MB each, in the bytes the kernel must move as
 * STREAM counts them (copy and read 8, add and triad 12 bytes per float);
 * "memory bandwidth" is the best of the four, each best of REPS. The
 * baseline kernels run once in every repetition, before the aggregation
 * paths, so both sample the same machine load. The ratio counts only the
 * 4 bytes per entry that must come from memory (the update): update bytes
 * per second over memory bandwidth, both best of REPS; the floor_s printed
 * beside it is this workload's update bytes at that bandwidth, so the
 * ratio compares the same workload (docs/BENCHMARKS.md, "Line
 * convention").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accum.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
xalloc(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, n) != 0) {
		fprintf(stderr, "bench_aggregate: out of memory (%zu bytes)\n",
		        n);
		exit(1);
	}
	return p;
}

/* serve.c before accum.c (97ad85b): all_finite(), then add_le_floats(). */
static int
before_all_finite(const uint8_t *p, size_t n)
{
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t w;

		memcpy(&w, p + 4 * i, 4);
		bad |= (w & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

static void
before_add_le_floats(float *acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float f;

		memcpy(&f, p + 4 * i, 4);
		acc[i] += f;
	}
}

static int
little_endian(void)
{
	uint32_t one = 1;
	uint8_t b;

	memcpy(&b, &one, 1);
	return b == 1;
}

enum { P_ADD, P_ACCUM, P_NOUNDO, P_MANY, P_BEFORE, NPATHS };
enum { QUEUE = PFLI_ACCUM_GROUP }; /* updates per add_many call */

/* Sums UPDATES updates from the ring SRC into ACC by PATH; 0 or -1. */
static int
run_path(int path, uint8_t *const *src, size_t ring, unsigned long updates,
         float *acc, float *undo, uint32_t n)
{
	for (unsigned long u = 0; u < updates;) {
		const uint8_t *p = src[u % ring];
		const uint8_t *q[QUEUE];
		size_t k;

		switch (path) {
		case P_ADD: {
			const float *v = (const float *)(const void *)p;

			for (uint32_t i = 0; i < n; i++)
				acc[i] += v[i];
			break;
		}
		case P_ACCUM:
			if (pfli_accum_add(acc, undo, p, n) != PFL_OK)
				return -1;
			break;
		case P_NOUNDO:
			if (pfli_accum_add(acc, NULL, p, n) != PFL_OK)
				return -1;
			break;
		case P_MANY:
			k = updates - u < QUEUE ? updates - u : QUEUE;
			for (size_t j = 0; j < k; j++)
				q[j] = src[(u + j) % ring];
			if (pfli_accum_add_many(acc, undo, q, k, n, NULL) !=
			    PFL_OK)
				return -1;
			u += k;
			continue;
		default:
			if (!before_all_finite(p, n))
				return -1;
			before_add_le_floats(acc, p, n);
			break;
		}
		u++;
	}
	return 0;
}

/* STREAM-like kernels over arrays far larger than the caches. */
static double sink;

static double
stream_best(int kernel, float *a, float *b, float *c, size_t n, int reps)
{
	double best = 1e30;

	for (int r = 0; r < reps; r++) {
		double t = now_s();
		switch (kernel) {
		case 0:
			for (size_t i = 0; i < n; i++)
				c[i] = a[i];
			break;
		case 1:
			for (size_t i = 0; i < n; i++)
				c[i] = a[i] + b[i];
			break;
		case 2:
			for (size_t i = 0; i < n; i++)
				a[i] = b[i] + 3.0f * c[i];
			break;
		default: {
			/* Read only: an integer sum of the words of a and b. */
			const uint64_t *wa = (const uint64_t *)(void *)a;
			const uint64_t *wb = (const uint64_t *)(void *)b;
			uint64_t s = 0;

			for (size_t i = 0; i < n / 2; i++)
				s += wa[i] + wb[i];
			sink += (double)s;
			break;
		}
		}
		t = now_s() - t;
		sink += (double)a[n / 2] + (double)c[n / 3];
		if (t < best)
			best = t;
	}
	return best;
}

int
main(int argc, char **argv)
{
	unsigned long updates = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	unsigned long entries =
	        argc > 2 ? strtoul(argv[2], NULL, 10) : 1u << 20;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	size_t sn = (size_t)32 << 20; /* 32M floats = 128 MB per array */
	size_t ring, vbytes;
	uint8_t **src, **raw;
	float *acc, *undo, *a, *b, *c, want[1024];
	double bw[4] = {0, 0, 0, 0}, mem_bw = 0, best[NPATHS], ub;
	const char *pnames[NPATHS] = {"add", "accum", "noundo", "many",
	                              "before"};
	const char *notes[NPATHS] = {
	        "  [no check: the floor, not an aggregator path]",
	        "  [pfli_accum_add with undo]", "  [pfli_accum_add, undo NULL]",
	        "  [pfli_accum_add_many, 4 queued]",
	        "  [serve.c before accum.c]"};
	const char *names[4] = {"copy", "add", "triad", "read"};
	const double moved[4] = {8, 12, 12, 8};

	if (updates == 0 || entries == 0 || entries > UINT32_MAX / 4 ||
	    reps < 1) {
		fprintf(stderr, "usage: bench_aggregate [UPDATES [ENTRIES "
		                "[REPS]]]\n");
		return 2;
	}
	if (!little_endian()) { /* the add and before paths read in place */
		fprintf(stderr, "bench_aggregate: little-endian hosts only\n");
		return 2;
	}
	if (updates > 8192) { /* partial sums stay exact up to 2^13 terms */
		fprintf(stderr, "bench_aggregate: at most 8192 updates\n");
		return 2;
	}
	for (int path = 0; path < NPATHS; path++)
		best[path] = 1e30;
	vbytes = entries * 4;
	/* A ring of ~256 MB of update buffers (8x a 32 MB L3), at least 2. */
	ring = ((size_t)256 << 20) / vbytes;
	if (ring < 2)
		ring = 2;
	if (ring > updates)
		ring = updates < 2 ? 2 : updates;

	/* Baseline arrays; measured in every repetition, between the
	 * aggregation paths, so that both see the same machine load. */
	a = xalloc(sn * 4);
	b = xalloc(sn * 4);
	c = xalloc(sn * 4);
	for (size_t i = 0; i < sn; i++) {
		a[i] = 1.0f;
		b[i] = 2.0f;
		c[i] = 0.5f;
	}

	src = xalloc(ring * sizeof(*src));
	raw = xalloc(ring * sizeof(*raw));
	for (size_t j = 0; j < ring; j++) {
		raw[j] = xalloc(vbytes + 64);
		src[j] = raw[j] + 4; /* not vector-aligned, as in a message */
		/* Small finite values (the bytes of k * 2^-20, little-endian).
		 */
		for (size_t i = 0; i < entries; i++) {
			float f = (float)((i + j) % 1024) * (1.0f / 1048576.0f);
			uint32_t w;

			memcpy(&w, &f, 4);
			src[j][4 * i] = (uint8_t)w;
			src[j][4 * i + 1] = (uint8_t)(w >> 8);
			src[j][4 * i + 2] = (uint8_t)(w >> 16);
			src[j][4 * i + 3] = (uint8_t)(w >> 24);
		}
	}
	acc = xalloc(vbytes);
	undo = xalloc(vbytes);
	/* The expected sum at entry i is want[i % 1024]: every term is a
	 * multiple of 2^-20 below 2^-10, so every partial sum is exact in
	 * float up to 2^13 updates, in any order, and the check is exact. */
	for (size_t r = 0; r < 1024; r++) {
		double s = 0;

		for (unsigned long u = 0; u < updates; u++)
			s += (double)((r + u % ring) % 1024) / 1048576.0;
		want[r] = (float)s;
	}

	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 4; k++) {
			double t = stream_best(k, a, b, c, sn, 1);

			if (moved[k] * (double)sn / t > bw[k])
				bw[k] = moved[k] * (double)sn / t;
		}
		for (int path = 0; path < NPATHS; path++) {
			double t;

			memset(acc, 0, vbytes);
			t = now_s();
			if (run_path(path, src, ring, updates, acc, undo,
			             (uint32_t)entries) != 0) {
				fprintf(stderr,
				        "bench_aggregate: %s: update refused\n",
				        pnames[path]);
				return 1;
			}
			t = now_s() - t;
			for (size_t i = 0; i < entries; i++) {
				if (acc[i] != want[i % 1024]) {
					fprintf(stderr,
					        "bench_aggregate: %s: wrong "
					        "sum "
					        "at %zu: %g != %g\n",
					        pnames[path], i, (double)acc[i],
					        (double)want[i % 1024]);
					return 1;
				}
			}
			if (t < best[path])
				best[path] = t;
		}
	}

	for (int k = 0; k < 4; k++) {
		if (bw[k] > mem_bw)
			mem_bw = bw[k];
		printf("aggregate baseline stream %-5s %6.2f GB/s\n", names[k],
		       bw[k] / 1e9);
	}
	ub = (double)updates * (double)vbytes;
	printf("aggregate memory bandwidth (best stream kernel) %.2f GB/s\n",
	       mem_bw / 1e9);
	/* The floor is this workload's update bytes read at the measured
	 * memory bandwidth, so both sides of the ratio are the same work; it
	 * holds only while the updates come from DRAM, i.e. while the ring of
	 * update buffers is at least as large as a STREAM array. */
	for (int path = 0; path < NPATHS; path++) {
		if (ring * vbytes < sn * 4) {
			printf("aggregate %s workload=aggregate,updates=%lu,"
			       "entries=%lu time_s=%.3f update_GBps=%.2f "
			       "compared=no (the updates fit in cache: no "
			       "memory floor)%s\n",
			       pnames[path], updates, entries, best[path],
			       ub / best[path] / 1e9, notes[path]);
			continue;
		}
		printf("aggregate %s "
		       "workload=aggregate,updates=%lu,entries=%lu "
		       "baseline=memory_floor "
		       "baseline_workload=aggregate,updates=%lu,entries=%lu "
		       "time_s=%.3f update_GBps=%.2f floor_s=%.3f ratio=%.2f "
		       "target=0.8%s\n",
		       pnames[path], updates, entries, updates, entries,
		       best[path], ub / best[path] / 1e9, ub / mem_bw,
		       ub / best[path] / mem_bw, notes[path]);
	}
	for (size_t j = 0; j < ring; j++)
		free(raw[j]);
	free(src);
	free(raw);
	free(acc);
	free(undo);
	free(a);
	free(b);
	free(c);
	return sink == -1.0 ? 1 : 0;
}
