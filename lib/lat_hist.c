// SPDX-License-Identifier: GPL-2.0-only
/*
 * Log-linear latency histogram; see lat_hist.h.  Built with
 * -mgeneral-regs-only: guest handlers record into it.
 */
#include "lat_hist.h"

void lat_hist_init(struct lat_hist *h)
{
	unsigned int i;

	h->count = 0;
	h->sum = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->overflow = 0;
	for (i = 0; i < LAT_HIST_NR_BUCKETS; i++)
		h->buckets[i] = 0;
}

unsigned int lat_hist_bucket(uint64_t value)
{
	unsigned int msb, shift;

	if (value < LAT_HIST_LINEAR)
		return value;

	msb = 63 - __builtin_clzll(value);
	shift = msb - LAT_HIST_SUB_BITS;
	/* value >> shift is in [LAT_HIST_SUB, 2 * LAT_HIST_SUB). */
	return shift * LAT_HIST_SUB + (value >> shift);
}

uint64_t lat_hist_bucket_low(unsigned int bucket)
{
	unsigned int shift;

	if (bucket < LAT_HIST_LINEAR)
		return bucket;

	shift = bucket / LAT_HIST_SUB - 1;
	return (uint64_t)(bucket - shift * LAT_HIST_SUB) << shift;
}

uint64_t lat_hist_bucket_high(unsigned int bucket)
{
	return lat_hist_bucket_low(bucket + 1) - 1;
}

void lat_hist_record(struct lat_hist *h, uint64_t value)
{
	h->count++;
	h->sum += value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
	if (value >> LAT_HIST_MAX_BITS)
		h->overflow++;
	else
		h->buckets[lat_hist_bucket(value)]++;
}

void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	dst->count += src->count;
	dst->sum += src->sum;
	dst->overflow += src->overflow;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (i = 0; i < LAT_HIST_NR_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * The sample of rank ceil(count * permille / 1000) (nearest-rank method),
 * reported as its bucket's midpoint and clamped to the exact min and max.
 */
uint64_t lat_hist_percentile(const struct lat_hist *h, unsigned int permille)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (!h->count)
		return 0;

	rank = (h->count * permille + 999) / 1000;
	if (!rank)
		rank = 1;

	for (i = 0; i < LAT_HIST_NR_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t lo = lat_hist_bucket_low(i);
			uint64_t hi = lat_hist_bucket_high(i);

			return clamp(lo + (hi - lo) / 2, h->min, h->max);
		}
	}
	/* The rank falls among the overflowed samples. */
	return h->max;
}

/*
 * Samples above @threshold, exact when @threshold is a bucket's upper edge
 * (always true below LAT_HIST_LINEAR); otherwise the bucket holding it
 * counts as above, so this never under-reports.
 */
uint64_t lat_hist_count_above(const struct lat_hist *h, uint64_t threshold)
{
	uint64_t n = h->overflow;
	unsigned int i;

	if (threshold >> LAT_HIST_MAX_BITS)
		return threshold < h->max ? n : 0;

	for (i = lat_hist_bucket(threshold); i < LAT_HIST_NR_BUCKETS; i++)
		n += h->buckets[i];
	if (lat_hist_bucket_high(lat_hist_bucket(threshold)) == threshold)
		n -= h->buckets[lat_hist_bucket(threshold)];
	return n;
}

void lat_hist_summarize(const struct lat_hist *h, struct lat_summary *s)
{
	s->count = h->count;
	s->min = h->count ? h->min : 0;
	s->max = h->max;
	s->mean = h->count ? h->sum / h->count : 0;
	s->p50 = lat_hist_percentile(h, 500);
	s->p90 = lat_hist_percentile(h, 900);
	s->p99 = lat_hist_percentile(h, 990);
	s->p999 = lat_hist_percentile(h, 999);
}
