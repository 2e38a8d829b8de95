/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Log-linear latency histogram.
 *
 * Values below LAT_HIST_LINEAR get a bucket each; above, every power of two
 * is split into LAT_HIST_SUB buckets, so a bucket is at most 1/64 of its
 * value wide and its midpoint is within 0.8% of any value in it.  The range
 * (2^40 cycles, over 100 s at 10 GHz) covers 10 cycles to 10 s on any host.
 *
 * Recording is integer-only and lock-free per histogram, so guest interrupt
 * handlers can record straight into guest memory that the host reads.
 */
#ifndef IPI_LAT_HIST_H
#define IPI_LAT_HIST_H

#include <stdbool.h>
#include <stdint.h>

/* Overridable only to build the coarse mutant the unit tests must reject. */
#ifndef LAT_HIST_SUB_BITS
#define LAT_HIST_SUB_BITS	6
#endif
#define LAT_HIST_SUB		(1u << LAT_HIST_SUB_BITS)
#define LAT_HIST_LINEAR		(2 * LAT_HIST_SUB)
#define LAT_HIST_MAX_BITS	40
#define LAT_HIST_NR_BUCKETS	\
	(LAT_HIST_LINEAR + (LAT_HIST_MAX_BITS - LAT_HIST_SUB_BITS - 1) * LAT_HIST_SUB)

struct lat_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	/* Values of 2^LAT_HIST_MAX_BITS and above: counted, min/max exact. */
	uint64_t overflow;
	uint64_t buckets[LAT_HIST_NR_BUCKETS];
};

/* Percentiles are given in parts per thousand: 500, 900, 990, 999. */
struct lat_summary {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t mean;
	uint64_t p50;
	uint64_t p90;
	uint64_t p99;
	uint64_t p999;
};

void lat_hist_init(struct lat_hist *h);
void lat_hist_record(struct lat_hist *h, uint64_t value);
void lat_hist_merge(struct lat_hist *dst, const struct lat_hist *src);

unsigned int lat_hist_bucket(uint64_t value);
uint64_t lat_hist_bucket_low(unsigned int bucket);
uint64_t lat_hist_bucket_high(unsigned int bucket);

/* Value at or below which @permille of the samples lie (0 if empty). */
uint64_t lat_hist_percentile(const struct lat_hist *h, unsigned int permille);
uint64_t lat_hist_count_above(const struct lat_hist *h, uint64_t threshold);
void lat_hist_summarize(const struct lat_hist *h, struct lat_summary *s);

#endif /* IPI_LAT_HIST_H */
