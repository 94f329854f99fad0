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
 * the aggregator). Per-update paths timed:
 *
 *   add      acc[i] += v[i] over float vectors, the bare accumulation (in
 *            serve.c's on_update() before 1f953e5);
 *   plain    the aggregator's plain path (serve.c since 1f953e5):
 *            all_finite() over the message bytes (branch-free), then
 *            add_le_floats() straight from the message bytes;
 *   old      the path before 1f953e5: read_floats() (byte-by-byte
 *            conversion with an early exit on a non-finite value, into a
 *            scratch vector), then the add;
 *   fix1     suggested, not in the aggregator: one pass writing
 *            acc + update into a second accumulator with the finiteness
 *            check of the sums, swapped in on success;
 *   fix2     suggested, not in the aggregator: plain with memcpy word
 *            loads in all_finite() (little-endian hosts).
 *
 * plain and old are copies of aggregator/src/serve.c's loops (static
 * there; old as of 657b7bb); keep plain in step. Every path's sum is checked
 * exactly. The baseline is STREAM-like: copy, add (c = a + b), triad (a = b +
 * s*c) and read (an integer sum of a and b) over arrays of 128 MB each, best of
 * REPS, in the bytes the kernel must move as STREAM counts them (copy and
 * read 8, add and triad 12 bytes per float); "memory bandwidth" is the best
 * of the four. The baseline kernels run once in every repetition, before
 * the aggregation paths, so both sample the same machine load. The ratio
 * counts only the 4 bytes per entry that must come from memory (the
 * update): update bytes per second over memory bandwidth, both best of
 * REPS. The figure in parentheses counts the loop as STREAM would (read
 * acc, read v, write acc: 12 bytes per entry); it is above 1 when the
 * accumulator stays in cache.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The aggregator's plain accumulation (serve.c, on_update). */
static void
agg_add(float *acc, const float *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		acc[i] += v[i];
}

/* serve.c, read_floats: little-endian float32 bytes, finite only. */
static int
agg_read_floats(const uint8_t *p, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t w = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		             (uint32_t)p[4 * i + 2] << 16 |
		             (uint32_t)p[4 * i + 3] << 24;
		memcpy(&out[i], &w, 4);
		if (!isfinite(out[i]))
			return 0;
	}
	return 1;
}

/*
 * Not in the aggregator: what a faster plain path could look like (the
 * suggested fix, timed for comparison). One pass: out = acc + the update
 * read straight from the message bytes (little-endian hosts), with a
 * branch-free check that every sum is finite (a finite accumulator plus a
 * non-finite value is never finite, so this rejects every update that
 * read_floats rejects, and also one whose sum overflows). The caller
 * keeps ACC on failure and swaps ACC and OUT on success, so a rejected
 * update leaves no trace. Same sums as read_floats + add.
 */
static int
fix_add_check(const uint8_t *p, const float *acc, float *out, uint32_t n)
{
	uint32_t bad = 0;

	for (uint32_t i = 0; i < n; i++) {
		float f;
		uint32_t w;

		memcpy(&f, p + 4 * (size_t)i, 4);
		f += acc[i];
		out[i] = f;
		memcpy(&w, &f, 4);
		bad |= (w & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

/*
 * serve.c since commit 1f953e5: all_finite() over the message outside the
 * lock, then add_le_floats() into the accumulator (little-endian branch).
 */
static int
agg_all_finite(const uint8_t *p, size_t n)
{
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t w = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		             (uint32_t)p[4 * i + 2] << 16 |
		             (uint32_t)p[4 * i + 3] << 24;
		bad |= (w & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

static void
agg_add_le_floats(float *acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float f;

		memcpy(&f, p + 4 * i, 4);
		acc[i] += f;
	}
}

/*
 * Suggested, not in the aggregator: all_finite() with memcpy word loads
 * (little-endian hosts) instead of assembling each word from four bytes,
 * which the compiler vectorizes as byte shuffles.
 */
static int
fix_all_finite(const uint8_t *p, size_t n)
{
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t w;

		memcpy(&w, p + 4 * i, 4);
		bad |= (w & 0x7f800000u) == 0x7f800000u;
	}
	return bad == 0;
}

static int
little_endian(void)
{
	uint32_t one = 1;
	uint8_t b;

	memcpy(&b, &one, 1);
	return b == 1;
}

/*
 * Sums UPDATES updates into *ACCP by PATH: 0 add, 1 old, 2 plain, 3 fix1
 * (one pass into *SCRATCHP, then *ACCP and *SCRATCHP are swapped), 4 fix2.
 */
static int
run_path(int path, uint8_t *const *src, size_t ring, unsigned long updates,
         float **accp, float **scratchp, uint32_t n)
{
	for (unsigned long u = 0; u < updates; u++) {
		const uint8_t *p = src[u % ring];
		float *t;

		switch (path) {
		case 0:
			agg_add(*accp, (const float *)(const void *)p, n);
			break;
		case 1:
			if (!agg_read_floats(p, n, *scratchp))
				return -1;
			agg_add(*accp, *scratchp, n);
			break;
		case 2:
			if (!agg_all_finite(p, n))
				return -1;
			agg_add_le_floats(*accp, p, n);
			break;
		case 4:
			if (!fix_all_finite(p, n))
				return -1;
			agg_add_le_floats(*accp, p, n);
			break;
		default:
			if (!fix_add_check(p, *accp, *scratchp, n))
				return -1;
			t = *accp;
			*accp = *scratchp;
			*scratchp = t;
			break;
		}
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
	uint8_t **src;
	float *acc, *scratch, *a, *b, *c;
	double bw[4] = {0, 0, 0, 0}, mem_bw = 0,
	       best[5] = {1e30, 1e30, 1e30, 1e30, 1e30}, want = 0, ub;
	const char *pnames[5] = {"add", "old", "plain", "fix1", "fix2"};
	const char *names[4] = {"copy", "add", "triad", "read"};
	const double moved[4] = {8, 12, 12, 8};

	if (updates == 0 || entries == 0 || entries > UINT32_MAX / 4 ||
	    reps < 1) {
		fprintf(stderr, "usage: bench_aggregate [UPDATES [ENTRIES "
		                "[REPS]]]\n");
		return 2;
	}
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
	for (size_t j = 0; j < ring; j++) {
		src[j] = xalloc(vbytes);
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
	scratch = xalloc(vbytes);
	/* The expected last entry of the sum: every term is a multiple of
	 * 2^-20 below 2^-10, so every partial sum is exact in float up to
	 * 2^13 updates and the check is exact. */
	for (unsigned long u = 0; u < updates; u++)
		want += (double)(((entries - 1) + u % ring) % 1024) / 1048576.0;

	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < 4; k++) {
			double t = stream_best(k, a, b, c, sn, 1);

			if (moved[k] * (double)sn / t > bw[k])
				bw[k] = moved[k] * (double)sn / t;
		}
		for (int path = 0; path < 5; path++) {
			double t;

			if (path >= 2 && !little_endian()) /* memcpy loads */
				continue;
			memset(acc, 0, vbytes);
			t = now_s();
			if (run_path(path, src, ring, updates, &acc, &scratch,
			             (uint32_t)entries) != 0) {
				fprintf(stderr,
				        "bench_aggregate: non-finite\n");
				return 1;
			}
			t = now_s() - t;
			if (updates <= 8192 &&
			    (double)acc[entries - 1] != want) {
				fprintf(stderr,
				        "bench_aggregate: %s: wrong sum %g != "
				        "%g\n",
				        pnames[path], (double)acc[entries - 1],
				        want);
				return 1;
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
	for (int path = 0; path < 5; path++) {
		double r1, r3;

		if (best[path] >= 1e30)
			continue;
		/* r1: update bytes / bandwidth; r3: the STREAM count of the
		 * loop (read acc, read v, write acc: 12 bytes per entry). */
		r1 = ub / best[path] / mem_bw;
		r3 = 3 * r1;
		printf("aggregate %-6s %lu x %lu float32: %.3f s  %6.2f GB/s "
		       "of "
		       "updates  ratio %.2f of memory bandwidth (%.2f counted "
		       "as STREAM, 12 B/entry; target 0.8)%s\n",
		       pnames[path], updates, entries, best[path],
		       ub / best[path] / 1e9, r1, r3,
		       path == 2
		               ? "  [suggested fix, not the aggregator's code]"
		               : "");
	}
	for (size_t j = 0; j < ring; j++)
		free(src[j]);
	free(src);
	free(acc);
	free(scratch);
	free(a);
	free(b);
	free(c);
	return sink == -1.0 ? 1 : 0;
}
