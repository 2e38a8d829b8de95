// SPDX-License-Identifier: GPL-2.0-only
/*
 * The histogram against distributions whose percentiles are known exactly:
 * every reported percentile must be within 1% of the true sample value.
 */
#include <math.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "lat_hist.h"

#define MAX_REL_ERR	0.01

static uint64_t lcg_state = 0x9e3779b97f4a7c15ull;

/* Deterministic uniform in (0, 1). */
static double uniform01(void)
{
	lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
	return ((lcg_state >> 11) + 0.5) / (double)(1ull << 53);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, the definition the histogram uses. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, unsigned int permille)
{
	size_t rank = (n * permille + 999) / 1000;

	return sorted[rank ? rank - 1 : 0];
}

static double rel_err(uint64_t got, uint64_t want)
{
	return fabs((double)got - (double)want) / (double)want;
}

static void check_percentiles(struct __test_metadata *_metadata,
			      uint64_t *samples, size_t n)
{
	static const unsigned int permille[] = { 1, 100, 500, 900, 990, 999, 1000 };
	struct lat_hist *h = malloc(sizeof(*h));
	unsigned int i;

	ASSERT_NE(NULL, h);
	lat_hist_init(h);
	for (i = 0; i < n; i++)
		lat_hist_record(h, samples[i]);
	qsort(samples, n, sizeof(*samples), cmp_u64);

	EXPECT_EQ(n, h->count);
	EXPECT_EQ(samples[0], h->min);
	EXPECT_EQ(samples[n - 1], h->max);
	for (i = 0; i < sizeof(permille) / sizeof(permille[0]); i++) {
		uint64_t want = exact_percentile(samples, n, permille[i]);
		uint64_t got = lat_hist_percentile(h, permille[i]);

		EXPECT_LE(rel_err(got, want), MAX_REL_ERR) {
			TH_LOG("p%u.%u: got %lu, exact %lu", permille[i] / 10,
			       permille[i] % 10, got, want);
		}
	}
	free(h);
}

TEST(bucket_edges_are_contiguous)
{
	unsigned int b;

	EXPECT_EQ(0, lat_hist_bucket_low(0));
	for (b = 0; b < LAT_HIST_NR_BUCKETS - 1; b++) {
		ASSERT_EQ(lat_hist_bucket_high(b) + 1, lat_hist_bucket_low(b + 1));
		ASSERT_EQ(b, lat_hist_bucket(lat_hist_bucket_low(b)));
		ASSERT_EQ(b, lat_hist_bucket(lat_hist_bucket_high(b)));
	}
	EXPECT_EQ((1ull << LAT_HIST_MAX_BITS) - 1,
		  lat_hist_bucket_high(LAT_HIST_NR_BUCKETS - 1));
}

TEST(bucket_width_bounds_relative_error)
{
	unsigned int b;

	for (b = LAT_HIST_LINEAR; b < LAT_HIST_NR_BUCKETS; b++) {
		uint64_t lo = lat_hist_bucket_low(b), hi = lat_hist_bucket_high(b);
		uint64_t mid = lo + (hi - lo) / 2;

		ASSERT_LE(rel_err(mid, lo), 1.0 / 128);
		ASSERT_LE(rel_err(mid, hi), 1.0 / 128);
	}
}

TEST(small_values_are_exact)
{
	struct lat_hist h;
	uint64_t v;

	lat_hist_init(&h);
	for (v = 0; v < LAT_HIST_LINEAR; v++)
		lat_hist_record(&h, v);
	EXPECT_EQ(63, lat_hist_percentile(&h, 500));
	EXPECT_EQ(0, h.min);
	EXPECT_EQ(LAT_HIST_LINEAR - 1, h.max);
	EXPECT_EQ(LAT_HIST_LINEAR - 1, lat_hist_percentile(&h, 1000));
}

/* @n samples from @sample(), checked against their exact percentiles. */
static void check_distribution(struct __test_metadata *_metadata, size_t n,
			       uint64_t (*sample)(void))
{
	uint64_t *s = malloc(n * sizeof(*s));
	size_t i;

	ASSERT_NE(NULL, s);
	for (i = 0; i < n; i++)
		s[i] = sample();
	check_percentiles(_metadata, s, n);
	free(s);
}

static uint64_t uniform_sample(void)
{
	return 1 + (uint64_t)(uniform01() * 100000);
}

static uint64_t exponential_sample(void)
{
	return 1000 + (uint64_t)(-log(uniform01()) * 50000);
}

/* 10 cycles to 10 s at 5 GHz, log-uniform: the whole documented range. */
static uint64_t log_uniform_sample(void)
{
	double lo = log(10), hi = log(5e10);

	return (uint64_t)exp(lo + uniform01() * (hi - lo));
}

/* Mostly fast, a few very slow: the shape of delayed interrupts. */
static uint64_t bimodal_sample(void)
{
	return uniform01() < 0.995 ? 1800 + (uint64_t)(uniform01() * 400)
				   : 2000000 + (uint64_t)(uniform01() * 6000000);
}

TEST(uniform)
{
	check_distribution(_metadata, 100000, uniform_sample);
}

TEST(exponential)
{
	check_distribution(_metadata, 200000, exponential_sample);
}

TEST(log_uniform_full_range)
{
	check_distribution(_metadata, 200000, log_uniform_sample);
}

TEST(bimodal_tail)
{
	check_distribution(_metadata, 100000, bimodal_sample);
}

TEST(merge_equals_single_histogram)
{
	struct lat_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct lat_hist *all = malloc(sizeof(*all));
	unsigned int i;

	ASSERT_TRUE(a && b && all);
	lat_hist_init(a);
	lat_hist_init(b);
	lat_hist_init(all);
	for (i = 0; i < 50000; i++) {
		uint64_t v = (uint64_t)(uniform01() * 1e7);

		lat_hist_record(i & 1 ? a : b, v);
		lat_hist_record(all, v);
	}
	lat_hist_merge(a, b);
	EXPECT_EQ(all->count, a->count);
	EXPECT_EQ(all->sum, a->sum);
	EXPECT_EQ(all->min, a->min);
	EXPECT_EQ(all->max, a->max);
	EXPECT_EQ(0, memcmp(all->buckets, a->buckets, sizeof(all->buckets)));
	free(a);
	free(b);
	free(all);
}

TEST(overflow_is_counted_and_max_exact)
{
	struct lat_hist h;
	uint64_t huge = (1ull << LAT_HIST_MAX_BITS) + 12345;

	lat_hist_init(&h);
	lat_hist_record(&h, 100);
	lat_hist_record(&h, huge);
	EXPECT_EQ(1, h.overflow);
	EXPECT_EQ(huge, h.max);
	EXPECT_EQ(huge, lat_hist_percentile(&h, 1000));
	EXPECT_EQ(100, lat_hist_percentile(&h, 500));
	EXPECT_EQ(1, lat_hist_count_above(&h, 1000));
}

TEST(count_above_at_bucket_edges)
{
	uint64_t edge = lat_hist_bucket_high(lat_hist_bucket(500000));
	struct lat_hist h;
	unsigned int i, above_edge = 0;

	lat_hist_init(&h);
	for (i = 0; i < 1000; i++) {
		lat_hist_record(&h, i * 1000);
		above_edge += i * 1000 > edge;
	}
	/* At an upper bucket edge the count is exact. */
	EXPECT_EQ(999, lat_hist_count_above(&h, 127));
	EXPECT_EQ(above_edge, lat_hist_count_above(&h, edge));
	/* Inside a bucket it may over-count by that bucket, never under-count. */
	EXPECT_GE(lat_hist_count_above(&h, 500000), 499);
	EXPECT_LE(lat_hist_count_above(&h, 500000), 499 + 5);
}

TEST(empty)
{
	struct lat_hist h;
	struct lat_summary s;

	lat_hist_init(&h);
	lat_hist_summarize(&h, &s);
	EXPECT_EQ(0, s.count);
	EXPECT_EQ(0, s.min);
	EXPECT_EQ(0, s.max);
	EXPECT_EQ(0, s.p50);
	EXPECT_EQ(0, s.mean);
}

TEST_HARNESS_MAIN
