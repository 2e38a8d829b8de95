/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Command-line options shared by every IPI test.  Parsing validates every
 * value before a VM is created; a bad value prints the usage and exits
 * with KSFT_FAIL.
 */
#ifndef IPI_OPTIONS_H
#define IPI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "ipi_harness.h"

struct ipi_options {
	uint64_t count;			/* sends per sending vCPU */
	uint64_t duration_s;		/* if set, send for this long instead */
	unsigned int vcpus;
	bool vcpus_given;		/* -n was given: no variant may choose its own */
	bool pin;			/* pin vCPU i's thread to host CPU i mod online CPUs */
	uint64_t migrate_us;		/* move a random vCPU thread this often, if set */
	bool check_icr;			/* read the ICR back after every send */
	uint64_t kick_us;		/* signal vCPU threads out of KVM_RUN this often */
	unsigned int busy_threads;	/* host threads spinning beside the vCPUs */
	int64_t halt_poll_ns;		/* KVM_CAP_HALT_POLL; -1 leaves KVM's default */
	uint64_t progress_s;		/* progress line interval; 0: 10 s with -D, else none */
	/* Tests with host injectors. */
	unsigned int injectors;
	uint64_t period_us;
	uint64_t sweep_us;
	uint64_t dwell_us;		/* churn "dwell": guest time after each exit */
	uint64_t delay_threshold_us;	/* latency above which a delivery is "delayed" */
	bool fail_on_delayed;
	uint64_t grace_ms;		/* how long a guest waits for a send to land */
	uint64_t stall_ms;		/* no progress for this long: wake the vCPUs */
	uint64_t timeout_s;		/* per-variant watchdog */
	const char *variant;		/* glob of variants to run, NULL for all */
	const char *results_dir;	/* where the test's JSON goes, NULL for none */
	enum ipi_fault fault;
	uint64_t fault_every;
	bool list;
};

void ipi_options_init(struct ipi_options *o, uint64_t default_count,
		      unsigned int default_vcpus);
/* Returns 0, or -1 with a message in @err for bad input. */
int __ipi_options_parse(struct ipi_options *o, int argc, char **argv,
			unsigned int min_vcpus, unsigned int max_vcpus,
			char *err, size_t err_len);
void ipi_options_parse(struct ipi_options *o, int argc, char **argv,
		       unsigned int min_vcpus, unsigned int max_vcpus);
void ipi_options_usage(FILE *f, const char *prog);
const char *ipi_fault_name(enum ipi_fault fault);

#endif /* IPI_OPTIONS_H */
