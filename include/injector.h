/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host injector threads: interrupts sent to a vCPU from outside the guest
 * (KVM_SIGNAL_MSI, or an eventfd bound with KVM_IRQFD to an MSI route, the
 * path vhost and VFIO use), racing the target vCPU's entries and exits.
 *
 * Each injector owns INJECTOR_VECTORS vectors and never injects a vector
 * the guest has not yet taken (that would merge in the IRR and pass for a
 * loss): if it has not landed within the grace period, the injector skips
 * that injection and counts a missed wait.
 */
#ifndef IPI_INJECTOR_H
#define IPI_INJECTOR_H

#include <pthread.h>
#include <stdint.h>

#include "ipi_harness.h"

#define INJECTOR_VECTORS	16
#define INJECTOR_FIRST_VECTOR	0x40
#define MAX_INJECTORS		8

/*
 * ioapic: KVM_IRQ_LINE raised and lowered (an edge) on in-kernel IOAPIC
 * pins 16-23, which the host programs through KVM_SET_IRQCHIP: one
 * injector, one vector per pin.  (GSIs below 16 also reach the PIC, and
 * the BSP's LINT0 takes its ExtINT.)
 */
enum injector_kind { INJ_MSI, INJ_IRQFD, INJ_IOAPIC };

enum injector_timing {
	INJ_BACK_TO_BACK,	/* as soon as a vector is free */
	INJ_PERIOD,		/* one every period_ns */
	INJ_JITTER,		/* uniform random gaps, period_ns on average */
	INJ_SWEEP,		/* k/15 of sweep_max_ns after one of the target's exits */
};

struct injector_params {
	enum injector_kind kind;
	enum injector_timing timing;
	unsigned int nr_injectors;	/* injector i targets vCPU i mod nr_vcpus */
	uint64_t period_ns;
	uint64_t sweep_max_ns;
};

struct injectors;
struct ipi_options;

/* Set up the injectors (eventfds, GSI routes); they start when the VM runs. */
struct injectors *injectors_create(struct ipi_vm *ivm, const struct injector_params *p,
				   const struct ipi_options *o);

const char *injector_kind_name(enum injector_kind kind);
const char *injector_timing_name(enum injector_timing timing);

#endif /* IPI_INJECTOR_H */
