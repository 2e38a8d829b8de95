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
	uint64_t held;		/* waited for a later VM entry than KVM guarantees */
	uint64_t rescued;	/* delivered only after the harness intervened */
	uint64_t stranded;	/* halts only the watchdog ended, nothing pending */
	uint64_t masked;	/* taken with IF=0 or inside an STI shadow */
	uint64_t misordered;	/* delivered against the priority rules */
	uint64_t stuck;		/* interrupt sources stuck at the end (an IOAPIC remote IRR) */
	uint64_t no_esr;	/* illegal vectors that raised no APIC error */
	uint64_t clock_skew;	/* handler TSC earlier than send TSC */
	uint64_t clock_skew_beyond;	/* ... by more than the measured clock error */
	uint64_t missed_waits;
	uint64_t faults_injected;	/* by a negative control, as the guest counted them */
	uint64_t delayed_by_fault;	/* delayed, and let in by the control's own release */
};

struct ipi_verdict_policy {
	bool fail_on_delayed;
	bool fault;		/* a negative control ran: one that injected nothing fails */
};

/*
 * Account one (vCPU, vector) pair's send and receive counts; @again of the
 * deliveries were of a send already delivered (the handler matches each
 * delivery to the send whose sequence number the slot holds).
 */
void ipi_count_vector(struct ipi_counts *c, uint64_t sent, uint64_t received,
		      uint64_t again);

/*
 * KSFT_PASS or KSFT_FAIL.  Lost, rescued, held, late, stranded, duplicate
 * and spurious interrupts always fail (ipi_classify.h), as does a run the
 * watchdog had to abort; delayed ones fail only when the policy says so.
 * @why gets the reasons, comma-separated.
 */
int ipi_verdict(const struct ipi_counts *c, bool aborted,
		const struct ipi_verdict_policy *p, char *why, size_t len);

/* Nanoseconds for @cycles at @tsc_khz, rounded to nearest. */
uint64_t cycles_to_ns(uint64_t cycles, uint64_t tsc_khz);

/* The classes a known issue may excuse; never lost, rescued, duplicate or spurious. */
#define IPI_EXCUSE_LATE		(1u << 0)
#define IPI_EXCUSE_HELD		(1u << 1)
#define IPI_EXCUSE_STRANDED	(1u << 2)
#define IPI_EXCUSE_NO_ESR	(1u << 3)

/*
 * A documented, measured misbehaviour of a host: a variant that fails only
 * through the classes in @excuses, on a host whose KVM vendor module is
 * @vendor_module (and, if set, under the emulator and CPU model the rig
 * names in IPI_RIG_EMULATOR, "bochs:corei7_skylake_x", and a kernel whose
 * release matches @kernel), is reported as KTAP XFAIL, with @what.
 */
struct ipi_known_issue {
	const char *vendor_module;
	const char *emulator;	/* NULL: any host */
	const char *kernel;	/* fnmatch() glob of the release (uname -r); NULL: any */
	const char *test;
	const char *variant;	/* fnmatch() glob */
	unsigned int excuses;
	const char *what;
};

/* The known issue that excuses every failing class of @c here, or NULL. */
const struct ipi_known_issue *ipi_find_known_issue(const char *vendor_module,
						   const char *emulator,
						   const char *kernel,
						   const char *test,
						   const char *variant,
						   const struct ipi_counts *c);

/*
 * Classify the finished run, print its summary as KTAP diagnostics, write
 * the variant's JSON members into @w (inside an open object), and return
 * its verdict: KSFT_PASS, KSFT_FAIL, or KSFT_XFAIL for a known issue.
 */
int ipi_vm_report(struct ipi_vm *ivm, const struct ipi_options *opts,
		  const char *test, const char *variant, struct json_writer *w);

#endif /* IPI_REPORT_H */
