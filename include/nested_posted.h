/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An L1 hypervisor, built on the selftests library's nested VMX, that runs
 * one L2 with posted interrupts in its VMCS: external-interrupt exiting
 * with acknowledge-on-exit, a virtual-APIC page with x2APIC virtualization,
 * APIC-register virtualization and virtual-interrupt delivery, its own
 * notification vector and descriptor.
 *
 * L2 shares L1's address space, IDT and GS base, so it counts what it
 * takes in the record of the vCPU it runs on, with the harness's own
 * handler; its EOI is virtualized.  An interrupt for L1 itself exits to
 * L1, which counts it in the same record as taken at that exit.  Another
 * L1 vCPU posts to L2 as a hypervisor does: the PIR bit, then ON, then the
 * notification IPI, unless ON was already set.
 */
#ifndef IPI_NESTED_POSTED_H
#define IPI_NESTED_POSTED_H

#include <stdbool.h>
#include <stdint.h>

#include "ipi_harness.h"

/* L1's notification vector for its L2: none of the harness's. */
#define NESTED_PI_NV		0xf2

#define PI_ON			(1u << 0)

/* The posted-interrupt descriptor (SDM 29.6): 256 PIR bits, then ON. */
struct nested_pi_desc {
	uint64_t pir[4];
	uint32_t control;
	uint32_t ndst;
	uint32_t rsvd[6];
} __attribute__((__aligned__(64)));

/* L1's view of its L2, in guest memory; the host reads the counts. */
struct nested_l1 {
	struct vmx_pages *vmx;		/* guest virtual */
	struct nested_pi_desc *pi_desc;	/* guest virtual */
	uint64_t pi_desc_gpa;
	void *vapic;			/* L2's virtual-APIC page, guest virtual */
	uint64_t vapic_gpa;

	uint64_t entries;		/* VMLAUNCH and VMRESUMEs */
	uint64_t ext_intr_exits;	/* L1's own interrupts, taken at an exit */
	uint64_t wakes_from_hlt;	/* ... of them, ending L2's hlt */
	uint64_t deferred;		/* ... of them, counted at the next interrupt window */
	uint64_t cpuid_exits;
	/*
	 * Exits with the notification vector.  Architecturally none: an NV
	 * recognized in VMX non-root operation (also one pending at VM entry)
	 * is processed as posted interrupts.
	 */
	uint64_t nv_exits;

	/* The posting side (other L1 vCPUs). */
	uint64_t posts;
	uint64_t notifications;		/* IPIs sent: ON was clear */
	uint64_t merged;		/* ON already set: no IPI needed */
};

extern struct nested_l1 nested_l1;

/* Guest, L1 on the vCPU that runs L2: run @l2_code until it makes a VMCALL. */
void nested_l1_run(void (*l2_code)(void));
/* Guest, L2: hand control back to L1 for good. */
void nested_l2_done(void);
/* Guest, another L1 vCPU: post @vector to the L2 running on vCPU @dest. */
void nested_pi_post(uint32_t dest, uint8_t vector);

struct ipi_vm;
struct json_writer;

/* Host: skip (exit 4) unless KVM offers its L1 VMX with posted interrupts. */
void nested_posted_require(void);
/* Host: L1's pages, for the L2 it runs on one vCPU. */
void nested_posted_setup(struct ipi_vm *ivm);
void nested_posted_report(struct ipi_vm *ivm, struct json_writer *w);

#endif /* IPI_NESTED_POSTED_H */
