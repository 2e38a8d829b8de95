// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest side of the IPI harness: the interrupt handler that accounts every
 * delivery, and the send and bounded-wait helpers guest code builds on.
 * Everything here runs in the guest and is built with -mgeneral-regs-only.
 */
#include <asm/processor-flags.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"

struct ipi_guest_config ipi_config;

static inline bool irqs_enabled(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushf; pop %0" : "=r"(flags) :: "memory");
	return flags & X86_EFLAGS_IF;
}

static inline void apic_write(struct ipi_vcpu *self, unsigned int reg, uint32_t val)
{
	if (self->x2apic)
		x2apic_write_reg(reg, val);
	else
		xapic_write_reg(reg, val);
}

static uint32_t apic_read(struct ipi_vcpu *self, unsigned int reg)
{
	return self->x2apic ? x2apic_read_reg(reg) : xapic_read_reg(reg);
}

void ipi_guest_apic_write(unsigned int reg, uint32_t val)
{
	apic_write(this_ipi_vcpu(), reg, val);
}

static bool fault_due(uint64_t n)
{
	return ipi_config.fault_every && !(n % ipi_config.fault_every);
}

bool ipi_guest_should_stop(void)
{
	return READ_ONCE(ipi_config.stop);
}

bool ipi_guest_host_done(void)
{
	return READ_ONCE(ipi_config.host_done) || ipi_guest_should_stop();
}

/*
 * This vCPU sends nothing more (the host's last kick waits for that); then
 * wait until no vCPU will: a receiver that drained before its senders
 * stopped would leave their last sends to it undelivered, and count them
 * lost.  No grace period here, since a sender held off its CPU for longer
 * (seen under an emulator) is no interrupt lost; a vCPU that never gets
 * here stalls the run, and the host's watchdog stops it, failing it.
 * Interrupts are taken meanwhile, with an exit on every round for hosts
 * that deliver only at VM entry.
 */
void ipi_guest_quiet(void)
{
	__atomic_fetch_add(&ipi_config.quiet, 1, __ATOMIC_SEQ_CST);
	ipi_irq_enable();
	while (READ_ONCE(ipi_config.quiet) < ipi_config.nr_vcpus && !ipi_guest_should_stop())
		outl(IPI_CHURN_PORT, 0);
}

/*
 * Map, before anything is measured, what a delivery touches: the IDT, the
 * handler's code, and every vCPU's record (senders write the receiver's).
 * Otherwise the first delivery of each vector also pays for the EPT
 * violations, which under an emulator take tens of microseconds.
 */
static void prefault(void)
{
	extern void *idt_handlers;
	struct desc_ptr idt = get_idt();
	uint64_t p, i;

	for (p = idt.address; p <= idt.address + idt.size; p += PAGE_SIZE)
		(void)READ_ONCE(*(uint8_t *)p);
	(void)READ_ONCE(*(uint8_t *)&idt_handlers);
	(void)READ_ONCE(*(uint8_t *)ipi_guest_handler);
	/* A write, which other vCPUs' concurrent writes cannot be lost to. */
	for (i = 0; i < ipi_config.nr_vcpus; i++) {
		for (p = 0; p < sizeof(struct ipi_vcpu); p += PAGE_SIZE)
			__atomic_fetch_add((uint64_t *)((uint8_t *)&ipi_config.vcpus[i] + p), 0,
					   __ATOMIC_RELAXED);
	}
}

struct ipi_vcpu *ipi_guest_init(bool x2apic)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	GUEST_ASSERT(self && self->self == self);
	prefault();
	if (x2apic)
		x2apic_enable();
	else
		xapic_enable();
	self->x2apic = x2apic;
	return self;
}

/* Just before an exit the guest makes on purpose: injectors time themselves off it. */
void ipi_guest_note_exit(struct ipi_vcpu *self)
{
	WRITE_ONCE(self->churn_exit_tsc, rdtsc());
	WRITE_ONCE(self->churn_exits, self->churn_exits + 1);
}

/*
 * A "dwell" receiver's round: an exit that KVM handles in the kernel
 * (cpuid), so the vCPU goes straight back through vcpu_enter_guest(), then
 * the dwell in the guest with interrupts enabled.  An interrupt that missed
 * its notification at that entry waits for the next exit, up to the whole
 * dwell, where a delivery to a running vCPU takes a few microseconds.
 */
void ipi_guest_exit_and_dwell(struct ipi_vcpu *self)
{
	uint32_t eax = 0, ebx, ecx = 0, edx;
	uint64_t end;

	ipi_irq_enable();
	ipi_guest_note_exit(self);
	__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
	end = rdtsc() + ipi_config.dwell;
	/* No PAUSE: PAUSE-loop exiting would end the dwell early. */
	while (rdtsc() < end && !ipi_guest_host_done())
		barrier();
}

/*
 * One uncounted IPI from every vCPU to the next, before anything is
 * measured: the first interrupt between two vCPUs takes slow paths in KVM
 * (and, far slower, in an emulator) that no test means to measure.
 */
static void warm_up_ipis(struct ipi_vcpu *self)
{
	uint64_t before = READ_ONCE(self->received[IPI_WAKE_VECTOR]);
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	bool was_enabled = irqs_enabled();

	ipi_guest_write_icr((self->index + 1) % ipi_config.nr_vcpus,
			    APIC_DM_FIXED | APIC_INT_ASSERT | APIC_DEST_PHYSICAL | IPI_WAKE_VECTOR);
	ipi_irq_enable();
	while (READ_ONCE(self->received[IPI_WAKE_VECTOR]) == before &&
	       rdtsc() < deadline && !ipi_guest_should_stop())
		cpu_relax();
	if (!was_enabled)
		ipi_irq_disable();
}

/* An IPI to a vCPU whose APIC is not enabled yet would be discarded. */
void ipi_guest_wait_all_ready(void)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;

	__atomic_fetch_add(&ipi_config.ready, 1, __ATOMIC_SEQ_CST);
	while (READ_ONCE(ipi_config.ready) < ipi_config.nr_vcpus) {
		GUEST_ASSERT(rdtsc() < deadline && !ipi_guest_should_stop());
		cpu_relax();
	}
	if (ipi_config.nr_vcpus > 1)
		warm_up_ipis(self);
}

/* Go on with iteration @iteration (from 1) of a loop that began at @start_tsc? */
bool ipi_guest_more(uint64_t iteration, uint64_t start_tsc)
{
	if (ipi_guest_should_stop())
		return false;
	if (ipi_config.duration)
		return rdtsc() - start_tsc < ipi_config.duration;
	return iteration <= ipi_config.count;
}

/* With --check-icr, the ICR must read back as written, busy bit aside. */
void ipi_guest_write_icr(uint32_t dest, uint32_t low)
{
	if (this_ipi_vcpu()->x2apic) {
		uint64_t icr = (uint64_t)dest << 32 | low;

		x2apic_write_reg(APIC_ICR, icr);
		if (ipi_config.check_icr)
			GUEST_ASSERT_EQ(x2apic_read_reg(APIC_ICR) & ~(uint64_t)APIC_ICR_BUSY, icr);
	} else {
		xapic_write_reg(APIC_ICR2, SET_APIC_DEST_FIELD(dest));
		xapic_write_reg(APIC_ICR, low);
		if (ipi_config.check_icr) {
			GUEST_ASSERT_EQ(xapic_read_reg(APIC_ICR) & ~APIC_ICR_BUSY, low);
			GUEST_ASSERT_EQ(xapic_read_reg(APIC_ICR2), SET_APIC_DEST_FIELD(dest));
		}
	}
}

static void account_latency(struct ipi_vcpu *self, uint8_t vector, uint64_t now,
			    uint64_t sent_tsc)
{
	bool late = self->late_pending[vector];
	uint64_t latency;

	if (now < sent_tsc) {
		self->clock_skew++;
		latency = 0;
	} else {
		latency = now - sent_tsc;
	}
	lat_hist_record(&self->latency, latency);
	if (latency > self->max_latency[vector])
		self->max_latency[vector] = latency;
	self->late_pending[vector] = 0;
	if (late || latency > ipi_config.delay_threshold) {
		self->delayed++;
		self->delayed_by_vector[vector]++;
	}
}

/*
 * Installed on every vector from IPI_FIRST_VECTOR up.  The TSC is read
 * first so that the latency excludes the handler's own bookkeeping, and the
 * send's stamp before the delivery is counted: a sender waiting for this
 * delivery may stamp its next send as soon as it sees the count.
 */
void ipi_guest_handler(struct ex_regs *regs)
{
	uint64_t now = rdtsc(), t;
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint8_t vector = regs->vector;
	uint64_t sent_tsc = READ_ONCE(self->tx[vector].tsc);
	bool counted = vector != IPI_WAKE_VECTOR && READ_ONCE(self->tx[vector].sent);
	bool fault = counted && fault_due(++self->deliveries);
	uint64_t n = self->received[vector] + 1;

	if (fault && ipi_config.fault == IPI_FAULT_DOUBLE_COUNT) {
		self->faults_injected++;
		n++;
	}
	WRITE_ONCE(self->received[vector], n);
	self->last_rx_tsc = now;
	self->last_rx_vector = vector;

	if (counted)
		account_latency(self, vector, now, sent_tsc);

	/* Only the first such delivery: one vector left in service is enough. */
	if (fault && ipi_config.fault == IPI_FAULT_NO_EOI &&
	    self->deliveries == ipi_config.fault_every) {
		self->faults_injected++;
		return;
	}
	t = rdtsc();
	apic_write(self, APIC_EOI, 0);
	lat_hist_record(&self->eoi, rdtsc() - t);
}

void ipi_guest_stamp(uint32_t dest_index, uint8_t vector)
{
	struct ipi_tx_slot *slot = &ipi_config.vcpus[dest_index].tx[vector];

	WRITE_ONCE(slot->tsc, rdtsc());
	__atomic_fetch_add(&slot->sent, 1, __ATOMIC_RELEASE);
}

/*
 * Negative controls: each fault makes a real interrupt go wrong in the way
 * its name says, so that the accounting is shown to catch it.
 */
static void send_with_fault(ipi_send_fn send, uint32_t dest_index, uint8_t vector)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	struct ipi_vcpu *dest = &ipi_config.vcpus[dest_index];
	bool was_enabled = irqs_enabled();
	uint64_t end, before;
	uint32_t spiv;

	self->faults_injected++;
	switch (ipi_config.fault) {
	case IPI_FAULT_LOST:
		/* A software-disabled APIC discards fixed interrupts (SDM 11.4.7.2). */
		GUEST_ASSERT(dest_index == self->index);
		spiv = apic_read(self, APIC_SPIV);
		apic_write(self, APIC_SPIV, spiv & ~APIC_SPIV_APIC_ENABLED);
		ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		apic_write(self, APIC_SPIV, spiv);
		break;
	case IPI_FAULT_PHANTOM:
		ipi_guest_stamp(dest_index, vector);
		break;
	case IPI_FAULT_DUPLICATE:
		/*
		 * Wait out both deliveries: a second send still pending in the
		 * IRR would merge with the next counted one and hide.
		 */
		before = READ_ONCE(dest->received[vector]);
		ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		ipi_guest_wait_for(dest, vector, before + 1);
		send(dest_index, vector);
		ipi_guest_wait_for(dest, vector, before + 2);
		break;
	case IPI_FAULT_SPURIOUS:
		send(dest_index, vector + 1);
		ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		break;
	case IPI_FAULT_DELAYED:
		ipi_irq_disable();
		ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		end = rdtsc() + 2 * ipi_config.delay_threshold;
		while (rdtsc() < end)
			cpu_relax();
		if (was_enabled)
			ipi_irq_enable();
		break;
	default:
		GUEST_FAIL("Unknown fault %u", ipi_config.fault);
	}
}

/*
 * For tests that send by their own means: count one send, and say whether
 * @fault is to be injected into it.
 */
bool ipi_guest_fault_now(enum ipi_fault fault)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	self->sends++;
	if (ipi_config.fault != fault || !fault_due(self->sends))
		return false;
	self->faults_injected++;
	return true;
}

void ipi_guest_send(ipi_send_fn send, uint32_t dest_index, uint8_t vector)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	self->sends++;
	if (ipi_config.fault && fault_due(self->sends) && ipi_config.fault != IPI_FAULT_NO_EOI &&
	    ipi_config.fault != IPI_FAULT_DOUBLE_COUNT) {
		send_with_fault(send, dest_index, vector);
		return;
	}
	ipi_guest_stamp(dest_index, vector);
	send(dest_index, vector);
}

/*
 * Wait with IF=1 until @dest has received @vector @expected times, for at
 * most ipi_config.wait_timeout cycles.  A wait that gives up is counted, and
 * the interrupt, if it never comes, shows up as lost.
 */
bool ipi_guest_wait_for(struct ipi_vcpu *dest, uint8_t vector, uint64_t expected)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	bool was_enabled = irqs_enabled();
	bool ok = true;

	ipi_irq_enable();
	while (READ_ONCE(dest->received[vector]) < expected) {
		if (ipi_guest_should_stop() || rdtsc() > deadline) {
			self->missed_waits++;
			ok = false;
			break;
		}
		cpu_relax();
	}
	if (!was_enabled)
		ipi_irq_disable();
	return ok;
}

bool ipi_guest_wait(uint8_t vector, uint64_t expected)
{
	return ipi_guest_wait_for(this_ipi_vcpu(), vector, expected);
}

/*
 * At a point where the architecture says the interrupt must already have
 * been taken (the instruction after "sti; nop", the return from hlt, the
 * TPR write that unmasked it): if it has not, it is late, and counted as
 * delayed when it does arrive.  Then wait for it, bounded.
 */
void ipi_guest_expect_delivered(uint8_t vector, uint64_t expected)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	if (READ_ONCE(self->received[vector]) >= expected)
		return;
	self->late++;
	self->late_pending[vector] = 1;
	ipi_guest_wait(vector, expected);
}

/*
 * Give every interrupt sent to this vCPU the grace period to arrive, going
 * through an exit to userspace and back on every round: an interrupt that
 * only became deliverable while the vCPU ran (say, at an EOI) may wait for
 * the next VM entry, and a spin alone might never make one (kvm_pvm).
 */
void ipi_guest_drain(void)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	bool outstanding = true;
	unsigned int v;

	ipi_irq_enable();
	while (outstanding && !ipi_guest_should_stop()) {
		outstanding = false;
		for (v = IPI_FIRST_VECTOR; v < IPI_NR_VECTORS; v++) {
			if (v != IPI_WAKE_VECTOR &&
			    READ_ONCE(self->received[v]) < READ_ONCE(self->tx[v].sent))
				outstanding = true;
		}
		if (!outstanding)
			break;
		if (rdtsc() > deadline) {
			self->missed_waits++;
			break;
		}
		outl(IPI_CHURN_PORT, 0);
	}
}

void x2apic_send_icr_self(uint32_t dest __maybe_unused, uint8_t vector)
{
	x2apic_write_reg(APIC_ICR, APIC_DEST_SELF | APIC_DM_FIXED | APIC_INT_ASSERT | vector);
}

void x2apic_send_self_ipi(uint32_t dest __maybe_unused, uint8_t vector)
{
	x2apic_write_reg(X2APIC_SELF_IPI, vector);
}
