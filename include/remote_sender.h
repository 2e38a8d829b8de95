/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Interrupts sent on a receiver's request, from wherever the variant says:
 * the receiver itself (a self-IPI), another vCPU (an IPI), or a host
 * thread (KVM_SIGNAL_MSI).  The receiver hands over a batch of vectors and
 * a delivery mode, and gets control back once every send of the batch has
 * completed (the ICR write retired, the ioctl returned), so that it can
 * judge what must already be pending, whoever sent it.
 *
 * Counted sends are stamped in the receiver's slot of their vector (the
 * NMI's is vector 2); uncounted ones (illegal vectors) are not.
 */
#ifndef IPI_REMOTE_SENDER_H
#define IPI_REMOTE_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "ipi_harness.h"

/*
 * posted: another vCPU, through a delivery function of the test's (an L1
 * posting to its L2) rather than an ICR write.
 */
enum ipi_source { IPI_SRC_SELF, IPI_SRC_CROSS, IPI_SRC_MSI, IPI_SRC_POSTED };

#define REMOTE_MAX_BATCH	256

struct remote_batch {
	uint32_t seq;			/* batches asked for */
	uint32_t done;			/* ... and sent */
	uint32_t finish;		/* the receiver wants nothing more */
	uint32_t source;		/* enum ipi_source */
	uint32_t dest;			/* the receiver's vCPU index (and APIC ID) */
	uint32_t mode;			/* APIC_DM_FIXED or APIC_DM_NMI */
	uint32_t counted;
	uint32_t when_halted;		/* a host sender waits for the receiver to block in hlt */
	uint32_t sent_blocked;		/* ... batches it sent with KVM's "blocking" stat seen set */
	uint32_t n;
	uint8_t vectors[REMOTE_MAX_BATCH];
	uint32_t sender_esr;		/* an IPI's sender: its ESR after the batch */
	uint32_t missed;		/* batches the receiver gave up waiting for */
	void (*deliver)(uint32_t dest, uint8_t vector);	/* posted: one fixed interrupt */
};

extern struct remote_batch ipi_remote;

const char *ipi_source_name(enum ipi_source source);

/* Guest, the receiver: send @n vectors to itself from the variant's source. */
bool ipi_remote_send(const uint8_t *vectors, unsigned int n, uint32_t mode, bool counted);
/*
 * Guest, the receiver: the same, but only asked for; with @when_halted, a
 * host source sends once KVM has the receiver blocked in hlt (its
 * "blocking" stat), which it must then wake.  The next batch waits for
 * this one.
 */
void ipi_remote_post(const uint8_t *vectors, unsigned int n, uint32_t mode, bool counted,
		     bool when_halted);
/* Guest, the receiver: no more batches; senders may finish. */
void ipi_remote_finish(void);
/* Guest, a sending vCPU: serve batches until the receiver finishes. */
void ipi_remote_serve(void);

struct ipi_options;

/* Host: set the source up before the run; an MSI source gets its host thread. */
void ipi_remote_setup(struct ipi_vm *ivm, enum ipi_source source, unsigned int dest);
/*
 * Host, after ipi_remote_setup() of a host source: skip (KSFT_SKIP) unless
 * it can tell the receiver is blocked in hlt, for @when_halted batches.
 */
void ipi_remote_require_halt_watch(struct ipi_vm *ivm);
/* Host: a posted source's delivery function (guest code). */
void ipi_remote_set_deliver(struct ipi_vm *ivm, void (*deliver)(uint32_t dest, uint8_t vector));

#endif /* IPI_REMOTE_SENDER_H */
