/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Classification of a run's interrupts and the verdict, and the results
 * JSON of one variant (schema: docs/results-schema.md).
 */
#ifndef IPI_REPORT_H
#define IPI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lat_hist.h"

struct ipi_vm;
struct ipi_options;
struct json_writer;

struct ipi_counts {
	uint64_t sent;
	uint64_t received;
	uint64_t lost;		/* sent, never received within the grace period */
	uint64_t duplicate;	/* received more often than sent */
	uint64_t spurious;	/* received on a vector nobody sent */
	uint64_t delayed;	/* late, or latency above the threshold */
	uint64_t late;		/* not taken at its architectural point */
	uint64_t clock_skew;	/* handler TSC earlier than send TSC */
	uint64_t missed_waits;
	uint64_t faults_injected;	/* by a negative control, as the guest counted them */
};

struct ipi_verdict_policy {
	bool fail_on_delayed;
};

/* Account one (vCPU, vector) pair's send and receive counts. */
void ipi_count_vector(struct ipi_counts *c, uint64_t sent, uint64_t received);

/*
 * KSFT_PASS or KSFT_FAIL.  Lost, duplicate, spurious and late interrupts
 * always fail, as does a run the watchdog had to abort; delayed ones fail
 * only when the policy says so.  @why gets the reasons, comma-separated.
 */
int ipi_verdict(const struct ipi_counts *c, bool aborted,
		const struct ipi_verdict_policy *p, char *why, size_t len);

/* Nanoseconds for @cycles at @tsc_khz, rounded to nearest. */
uint64_t cycles_to_ns(uint64_t cycles, uint64_t tsc_khz);

/*
 * A documented, measured misbehaviour of a host backend: a variant that
 * fails only through @counter (today only "late") on a host whose KVM
 * vendor module is @vendor_module is reported as KTAP XFAIL, with @what.
 */
struct ipi_known_issue {
	const char *vendor_module;
	const char *test;
	const char *variant;	/* fnmatch() glob */
	const char *what;
};

const struct ipi_known_issue *ipi_find_known_issue(const char *vendor_module,
						   const char *test,
						   const char *variant);

/*
 * Classify the finished run, print its summary as KTAP diagnostics, write
 * the variant's JSON members into @w (inside an open object), and return
 * its verdict: KSFT_PASS, KSFT_FAIL, or KSFT_XFAIL for a known issue.
 */
int ipi_vm_report(struct ipi_vm *ivm, const struct ipi_options *opts,
		  const char *test, const char *variant, struct json_writer *w);

#endif /* IPI_REPORT_H */
