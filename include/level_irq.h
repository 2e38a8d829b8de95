/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Level-triggered interrupt sources on the in-kernel IOAPIC.
 *
 * A device raises its line and keeps it raised until the guest's handler
 * acknowledges it, as a real device holds its interrupt until its driver
 * clears the status; or an irqfd with a resamplefd (KVM_IRQFD_FLAG_RESAMPLE,
 * the way VFIO forwards INTx), which KVM lowers at the guest's EOI and
 * reports on the resamplefd.
 *
 * Either way the EOI must reach the IOAPIC (under APICv, through the
 * EOI-exit bitmap): the IOAPIC sets a pin's remote IRR when it delivers,
 * delivers nothing more on that pin until an EOI of its vector clears it,
 * and then delivers again if the line is still up.  A pin whose remote
 * IRR is still set once the guest has taken and ended everything is
 * stuck: the harness's "stuck" class, with the IOAPIC's state in the
 * results.
 *
 * Every assertion is a counted send on its pin's vector.  A source waits
 * for the guest to take each one and finish with it (and for the resample
 * to come) before asserting that pin again; past the grace period it
 * stops, and a source that stopped is stuck too: nothing more can be
 * delivered on a line that is up.
 */
#ifndef IPI_LEVEL_IRQ_H
#define IPI_LEVEL_IRQ_H

#include <stdint.h>

#include "ipi_harness.h"

#define LEVEL_PINS		4
#define LEVEL_FIRST_PIN		16	/* GSIs 16-23 reach the IOAPIC only, not the PIC */
#define LEVEL_FIRST_VECTOR	0x60
/* The device's acknowledge register: the guest writes the pin, the device lowers its line. */
#define LEVEL_ACK_PORT		0x7d

enum level_kind {
	LEVEL_IRQ_LINE,		/* KVM_IRQ_LINE up; down when the guest acknowledges the device */
	LEVEL_IRQFD_RESAMPLE,	/* an irqfd up; KVM lowers it at the EOI and signals the resamplefd */
};

/*
 * Per pin, the deliveries the guest's handler has finished with (the
 * device acknowledged, the EOI written or, under the no_eoi control,
 * skipped): a pin is raised again only after that, so that every EOI of
 * an irq_line pin finds its line down, as a device's would.  Guest
 * memory: the test's handler counts, the source reads.
 */
extern uint64_t level_handled[LEVEL_PINS];

struct ipi_options;
struct level_sources;

/* Program the pins (level, fixed, to vCPU 0) and the irqfds; the source starts when the VM runs. */
struct level_sources *level_sources_create(struct ipi_vm *ivm, enum level_kind kind,
					   const struct ipi_options *o);

const char *level_kind_name(enum level_kind kind);

#endif /* IPI_LEVEL_IRQ_H */
