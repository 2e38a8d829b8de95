/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What happened to each interrupt, judged against what KVM guarantees
 * rather than against a time threshold.
 *
 * A receiver that dwells keeps a timeline in guest memory: every exit it
 * makes on purpose (the dwell's cpuid; the harness's drain exits) and
 * every exit it did not ask for, seen as a gap in its TSC loop, is a mark,
 * and between marks it runs with IF=1.  Senders stamp both sides of each
 * send, since a posted interrupt can land, and be held, while the sender's
 * ICR write or ioctl is still under way: the send is complete only once
 * it returned.  At each delivery the handler looks back from the send's
 * end:
 *
 *   prompt    nothing between the send's end and the delivery but exits
 *             the guest did not ask for: how long that took, in guest
 *             running time and in TSC time, is the run's own measure of
 *             how long a delivery to a running vCPU takes;
 *   crossing  the interrupt was still pending at one of the guest's own
 *             exits, or when the harness intervened (the watchdog's
 *             wake-up, the end-of-run kick), and had been pending for
 *             @window before it.
 *
 * KVM delivers an interrupt that is pending at VM entry at that entry,
 * and one posted to a running vCPU without another exit (or, on the
 * software path, at the entry after the kick's exit).  So after the run:
 *
 *   held      crossed one of the test's exits after more than the run
 *             margin of guest running time: it waited for a later entry
 *             than KVM guarantees (the races of b95234c8).  With posted
 *             interrupts configured (APICv, AVIC), crossing an exit the
 *             guest did not ask for counts the same: KVM posts to a
 *             running vCPU without an exit, where the software path may
 *             need its kick's;
 *   rescued   crossed a harness exit (drain, quiet) after more than the run
 *             margin, or the watchdog's wake-up or the end-of-run kick
 *             after more than the TSC margin: without the harness it
 *             would have been lost;
 *   stranded  a halt that only the watchdog's wake-up ended, with nothing
 *             of the test pending (ipi_guest_halt()).
 *
 * The margins come from the same run, never from a constant: for exits,
 * twice the slowest prompt delivery in guest running time (plus the
 * loop's gap resolution); for interventions, twice the slowest delivery
 * in TSC time that needed none; each plus twice the TSC conversion
 * error.  A crossing within the margin is an interrupt that was in
 * flight at the exit, and is not judged.
 */
#ifndef IPI_CLASSIFY_H
#define IPI_CLASSIFY_H

#include <stdint.h>

struct ipi_vm;
struct json_writer;

struct ipi_classes {
	uint64_t held;
	uint64_t rescued;
	uint64_t stranded;
	uint64_t prompt;		/* deliveries that crossed nothing */
	uint64_t crossings;		/* that crossed something, judged or not */
	uint64_t unjudged;		/* crossings past IPI_MAX_CROSSINGS per vCPU, dropped */
	uint64_t judged_down_to;	/* ... all shorter than this: the shortest window kept */
	uint64_t control_released;	/* held control: let in after its exit */
	uint64_t control_flagged;	/* ... of those, judged held */
	uint64_t margin_run;		/* cycles of guest running time */
	uint64_t margin_tsc;		/* cycles of TSC time */
	uint64_t clock_error;		/* cycles: TSC conversion and cross-vCPU offsets */
	bool clock_unstable;		/* the guest's TSC offset moved during the run */
	uint64_t not_judged;		/* ... so these crossings past a margin were not judged */
};

/* Judge every recorded crossing of the run; fills @c. */
void ipi_classify(const struct ipi_vm *ivm, struct ipi_classes *c);

/* The "classification" object: margins, and evidence for the first of each class. */
void ipi_classify_write_json(const struct ipi_vm *ivm, const struct ipi_classes *c,
			     struct json_writer *w);

/* KTAP diagnostics: one line per interrupt of each failing class, the first few. */
void ipi_classify_print(const struct ipi_vm *ivm, const struct ipi_classes *c);

#endif /* IPI_CLASSIFY_H */
