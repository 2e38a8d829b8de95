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
	struct ipi_vcpu *self = this_ipi_vcpu();

	if (reg != APIC_TASKPRI) {
		apic_write(self, reg, val);
		return;
	}
	if (val < self->tpr)
		WRITE_ONCE(self->tpr, val);
	apic_write(self, reg, val);
	WRITE_ONCE(self->tpr, val);
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

static void harness_exit(struct ipi_vcpu *self);

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
		harness_exit(this_ipi_vcpu());
}

/*
 * Map, before anything is measured, what a delivery touches: the IDT, the
 * handler's code, and every vCPU's record (senders write the receiver's).
 * Otherwise the first delivery of each vector also pays for the EPT
 * violations, which under an emulator take tens of microseconds.
 */
static void prefault(void)
{
	struct desc_ptr idt = get_idt();
	const struct idt_entry *gate = (const struct idt_entry *)idt.address;
	uint64_t p, i;

	for (p = idt.address; p <= idt.address + idt.size; p += PAGE_SIZE)
		(void)READ_ONCE(*(uint8_t *)p);
	/* Each vector's entry stub, found through its gate, as the CPU finds it. */
	for (i = IPI_FIRST_VECTOR; i < IPI_NR_VECTORS; i++)
		(void)READ_ONCE(*(uint8_t *)(gate[i].offset0 | (uint64_t)gate[i].offset1 << 16 |
					     (uint64_t)gate[i].offset2 << 32));
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
	/* Negative control of the host's TSC-offset check: move this vCPU's TSC. */
	if (ipi_config.fault == IPI_FAULT_TSC_WRITE) {
		wrmsr(MSR_IA32_TSC, rdtsc() + (1ull << 32));
		self->faults_injected++;
	}
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
 * The timeline of a dwelling receiver (see ipi_classify.h): every exit it
 * makes, and every gap in its TSC loop, is a mark.  Marks are pushed with
 * IF=0, by the loop or by the handler, never both at once.
 */
static void push_mark(struct ipi_vcpu *self, uint64_t out, uint64_t in, uint64_t kind)
{
	uint64_t n = self->nr_marks;
	const struct ipi_mark *prev = &self->marks[(n - 1) % IPI_NR_MARKS];
	struct ipi_mark *m = &self->marks[n % IPI_NR_MARKS];

	/* A gap the handler already recorded, seen again by the loop it interrupted. */
	if (n && (!prev->in_tsc || (int64_t)(out - prev->in_tsc) < 0))
		return;
	m->out_tsc = out;
	m->in_tsc = in;
	m->clock = n ? prev->clock + (out - prev->in_tsc) : 0;
	m->kind = kind;
	barrier();
	WRITE_ONCE(self->nr_marks, n + 1);
}

static void cpuid_exit(void)
{
	uint32_t eax = 0, ebx, ecx = 0, edx;

	__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
}

/*
 * Start keeping the timeline.  A step of the TSC loop longer than half
 * the quickest exit this vCPU can make (a cpuid, measured here) is an exit.
 */
void ipi_guest_timeline_start(struct ipi_vcpu *self)
{
	uint64_t best = UINT64_MAX, t0, t;
	int i;

	for (i = 0; i < 16; i++) {
		t0 = rdtsc();
		cpuid_exit();
		t = rdtsc() - t0;
		best = t < best ? t : best;
	}
	ipi_irq_disable();
	self->gap_cycles = best / 2;
	t = rdtsc();
	push_mark(self, t, t, IPI_MARK_START);
	WRITE_ONCE(self->loop_tsc, t);
	WRITE_ONCE(self->timed, 1);
	ipi_irq_enable();
}

/* One look of a TSC loop: a step longer than gap_cycles was spent out of the guest. */
static void timeline_tick(struct ipi_vcpu *self)
{
	uint64_t t, last;

	/* With IF=0: the handler also moves loop_tsc, and must not land in between. */
	ipi_irq_disable();
	t = rdtsc();
	last = READ_ONCE(self->loop_tsc);
	if ((int64_t)(t - last) > (int64_t)self->gap_cycles)
		push_mark(self, last, t, IPI_MARK_GAP);
	WRITE_ONCE(self->loop_tsc, t);
	ipi_irq_enable();
}

/* An exit the guest makes on purpose, as a mark: @kind is whose it is. */
static void timeline_exit_begin(struct ipi_vcpu *self, uint64_t kind)
{
	bool was_enabled = irqs_enabled();
	uint64_t t;

	ipi_irq_disable();
	t = rdtsc();
	push_mark(self, t, 0, kind);
	WRITE_ONCE(self->loop_tsc, t);
	if (was_enabled)
		ipi_irq_enable();
}

static void timeline_exit_end(struct ipi_vcpu *self)
{
	uint64_t t = rdtsc();

	WRITE_ONCE(self->marks[(self->nr_marks - 1) % IPI_NR_MARKS].in_tsc, t);
	WRITE_ONCE(self->loop_tsc, t);
}

/*
 * An exit to userspace the harness makes (drain, quiet): what it takes
 * through the next entry was rescued, if it had been pending long before.
 */
static void harness_exit(struct ipi_vcpu *self)
{
	if (self->timed)
		timeline_exit_begin(self, IPI_MARK_HARNESS);
	outl(IPI_CHURN_PORT, 0);
	if (self->timed)
		timeline_exit_end(self);
}

/* The dwell's own exit, stamped for injectors and marked on the timeline. */
static void dwell_exit(struct ipi_vcpu *self)
{
	ipi_guest_note_exit(self);
	timeline_exit_begin(self, IPI_MARK_EXIT);
	cpuid_exit();
	timeline_exit_end(self);
}

/* Negative control: any pending interrupt under this priority waits. */
#define HELD_TPR		0xe0

/*
 * A "dwell" receiver's round: an exit that KVM handles in the kernel
 * (cpuid), so the vCPU goes straight back through vcpu_enter_guest(), then
 * the dwell in the guest with interrupts enabled.  An interrupt that missed
 * its notification at that entry waits for the next exit, up to the whole
 * dwell, where a delivery to a running vCPU takes a few microseconds: the
 * timeline shows it pending across the exit, and the classifier calls it
 * held.
 *
 * The held control raises TPR for one dwell, behind the timeline's back,
 * and lowers it only after one more exit: what arrived meanwhile really
 * is held across that exit.
 */
void ipi_guest_exit_and_dwell(struct ipi_vcpu *self)
{
	bool hold = ipi_guest_fault_now(IPI_FAULT_HELD);
	uint64_t end, length = ipi_config.dwell;

	if (!self->timed)
		ipi_guest_timeline_start(self);
	ipi_irq_enable();
	dwell_exit(self);
	if (hold) {
		/*
		 * Long enough that the margin (twice the slowest prompt delivery
		 * of the whole run) cannot cover it: sixteen times the slowest so
		 * far, and the dwell.  Four was not always enough under a loaded
		 * emulator, where a later prompt delivery was three times slower
		 * than any before it.
		 */
		length += 16 * (self->prompt_max_run + self->gap_cycles);
		ipi_guest_apic_write(APIC_TASKPRI, HELD_TPR);
	}
	end = rdtsc() + length;
	/* No PAUSE: PAUSE-loop exiting would end the dwell early. */
	while (rdtsc() < end && !ipi_guest_host_done())
		timeline_tick(self);
	if (hold) {
		dwell_exit(self);
		WRITE_ONCE(self->fault_release, 1);
		ipi_guest_apic_write(APIC_TASKPRI, 0);
		WRITE_ONCE(self->fault_release, 0);
	}
}

/*
 * One uncounted IPI from every vCPU to the next, before anything is
 * measured: the first interrupt between two vCPUs takes slow paths in KVM
 * (and, far slower, in an emulator) that no test means to measure.
 */
static void warm_up_ipis(struct ipi_vcpu *self)
{
	uint64_t before = READ_ONCE(self->received[IPI_WARM_VECTOR]);
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	bool was_enabled = irqs_enabled();

	ipi_guest_write_icr((self->index + 1) % ipi_config.nr_vcpus,
			    APIC_DM_FIXED | APIC_INT_ASSERT | APIC_DEST_PHYSICAL | IPI_WARM_VECTOR);
	ipi_irq_enable();
	while (READ_ONCE(self->received[IPI_WARM_VECTOR]) == before &&
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
	/* host_done: the watchdog's deadline winds the run down. */
	if (ipi_guest_should_stop() || READ_ONCE(ipi_config.host_done))
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
		if (sent_tsc - now > self->max_clock_skew)
			self->max_clock_skew = sent_tsc - now;
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
		/* The control's own interrupts, matched one by one: not noise. */
		if (READ_ONCE(self->fault_release))
			self->delayed_by_fault++;
	}
}

/*
 * Run time of the guest (IF=1, in its timeline) up to @t, from the marks
 * pushed so far (@n of them).  Older than every mark kept: 0, which makes
 * a window longer, never shorter (and such a send crossed every mark kept).
 */
static uint64_t clock_at(const struct ipi_vcpu *self, uint64_t n, uint64_t t)
{
	uint64_t i, lo = n > IPI_NR_MARKS - 1 ? n - (IPI_NR_MARKS - 1) : 0;
	const struct ipi_mark *m = NULL, *next = NULL;

	for (i = n; i-- > lo; next = m) {
		m = &self->marks[i % IPI_NR_MARKS];
		if (m->in_tsc && (int64_t)(t - m->in_tsc) >= 0) {
			if (next && (int64_t)(t - next->out_tsc) >= 0)
				return next->clock;
			return m->clock + (t - m->in_tsc);
		}
		if ((int64_t)(t - m->out_tsc) >= 0)
			return m->clock;
	}
	return 0;
}

static void add_crossing(struct ipi_vcpu *self, uint8_t kind, uint8_t vector,
			 const struct ipi_tx_slot *slot, uint64_t send_end, uint64_t window,
			 uint64_t point, uint64_t back, uint64_t now)
{
	uint64_t n = self->nr_crossings, i, at = n;
	struct ipi_crossing *c;

	WRITE_ONCE(self->nr_crossings, n + 1);
	/* The held control's own record of what it held, and for how long. */
	if (kind == IPI_CROSS_EXIT && READ_ONCE(self->fault_release)) {
		if (self->fault_released < IPI_MAX_FAULT_WINDOWS)
			self->fault_windows[self->fault_released] = window;
		self->fault_released++;
	}
	/*
	 * Full: the longest windows stay, so whatever was dropped waited
	 * less than every crossing kept, and the judgement stays exact down
	 * to the shortest one kept (the classifier reports it).
	 */
	if (n >= IPI_MAX_CROSSINGS) {
		at = 0;
		for (i = 1; i < IPI_MAX_CROSSINGS; i++) {
			if (self->crossings[i].window < self->crossings[at].window)
				at = i;
		}
		if (self->crossings[at].window >= window)
			return;
	}
	c = &self->crossings[at];
	c->kind = kind;
	c->vector = vector;
	c->fault = kind == IPI_CROSS_EXIT && READ_ONCE(self->fault_release);
	c->pad = (uint32_t)self->deliveries;
	c->window = window;
	c->send_tsc = READ_ONCE(slot->tsc);
	c->send_end_tsc = send_end;
	c->point_tsc = point;
	c->back_tsc = back;
	c->rx_tsc = now;
}

/* The instruction after each of the library's STIs (ipi_guest_halt(), ipi_guest_sti_nop_cli()). */
extern const char ipi_guest_hlt_insn[], ipi_guest_nop_insn[];

/*
 * The CPU may take a maskable interrupt only with RFLAGS.IF set, not in
 * the shadow of an STI (at the instruction after it), and only if its
 * priority class is above the TPR's (SDM 11.8.3.1).  The handler sees
 * where it interrupted: with IF clear there, at the instruction after one
 * of the library's STIs (never reached yet, so the shadow was broken), or
 * under a TPR that masks its class, the interrupt was taken where it must
 * not be.  A vCPU that takes its interrupt before a hlt sleeps on nothing:
 * ipi_guest_halt() counts that halt stranded.
 */
static void check_interruptible(struct ipi_vcpu *self, const struct ex_regs *regs,
				uint8_t vector, uint64_t now, bool counted)
{
	uint32_t tpr = READ_ONCE(self->tpr);
	bool masked = !(regs->rflags & X86_EFLAGS_IF) || (vector & 0xf0) <= (tpr & 0xf0);
	bool shadow = regs->rip == (uint64_t)ipi_guest_hlt_insn ||
		      regs->rip == (uint64_t)ipi_guest_nop_insn;

	if (!masked && !shadow)
		return;
	if (shadow && counted)
		self->shadow_deliveries++;
	if (self->taken_masked < IPI_MAX_MASKED) {
		struct ipi_masked *m = &self->masked[self->taken_masked];

		m->vector = vector;
		m->in_shadow = shadow;
		m->tpr = tpr;
		m->rip = regs->rip;
		m->rflags = regs->rflags;
		m->tsc = now;
	}
	self->taken_masked++;
}

/*
 * Was this delivery pending, its send complete, across an exit or the
 * harness's intervention?  Record it as a crossing, with how long it had
 * been pending before that point; otherwise it was prompt, and how long
 * it took goes into the margin's basis.  The classifier (ipi_classify.c)
 * judges after the run, against margins from the whole run.
 */
static void classify_delivery(struct ipi_vcpu *self, uint8_t vector, uint64_t now)
{
	const struct ipi_tx_slot *slot = &self->tx[vector];
	static const uint8_t harness[] = { IPI_WAKE_VECTOR, IPI_KICK_VECTOR };
	uint64_t seq = READ_ONCE(slot->end_seq), send_end = READ_ONCE(slot->end_tsc);
	uint64_t n, i, lo, clock_end = 0, clock_now = 0;
	unsigned int crossed_kinds = 0;
	bool crossed = false, intervened = false;

	/* Delivered before the sender had even returned: nothing to judge. */
	if (seq != READ_ONCE(slot->sent) || (int64_t)(now - send_end) < 0) {
		self->prompt++;
		return;
	}
	for (i = 0; i < ARRAY_SIZE(harness); i++) {
		const struct ipi_tx_slot *h = &self->tx[harness[i]];
		uint64_t at = READ_ONCE(h->tsc);

		if (READ_ONCE(h->sent) && (int64_t)(at - send_end) > 0 &&
		    (int64_t)(now - at) >= 0) {
			add_crossing(self, harness[i] == IPI_WAKE_VECTOR ? IPI_CROSS_WAKE :
				     IPI_CROSS_KICK, vector, slot, send_end, at - send_end, at, 0,
				     now);
			crossed = intervened = true;
		}
	}
	if (self->timed) {
		n = self->nr_marks;
		/*
		 * Back from an exit the loop has not seen yet (not one of
		 * ours).  Not from an NMI's handler, which IF=0 does not keep
		 * out of the loop's own pushes.
		 */
		if (vector != NMI_VECTOR && self->marks[(n - 1) % IPI_NR_MARKS].in_tsc &&
		    (int64_t)(now - self->loop_tsc) > (int64_t)self->gap_cycles) {
			push_mark(self, self->loop_tsc, now, IPI_MARK_GAP);
			n = self->nr_marks;
		}
		clock_end = clock_at(self, n, send_end);
		clock_now = clock_at(self, n, now);
		lo = n > IPI_NR_MARKS - 1 ? n - (IPI_NR_MARKS - 1) : 0;
		for (i = n; i-- > lo;) {
			const struct ipi_mark *m = &self->marks[i % IPI_NR_MARKS];
			uint8_t kind;

			if ((int64_t)(m->out_tsc - send_end) <= 0)
				break;
			if (m->kind == IPI_MARK_EXIT)
				kind = IPI_CROSS_EXIT;
			else if (m->kind == IPI_MARK_HARNESS)
				kind = IPI_CROSS_HARNESS_EXIT;
			else if (m->kind == IPI_MARK_GAP && ipi_config.posted)
				kind = IPI_CROSS_GAP;
			else
				continue;
			/* The newest of each kind: the longest it had been pending. */
			if (crossed_kinds & (1u << kind))
				continue;
			crossed_kinds |= 1u << kind;
			add_crossing(self, kind, vector, slot, send_end, m->clock - clock_end,
				     m->out_tsc, m->in_tsc, now);
		}
		crossed |= crossed_kinds != 0;
	}
	/*
	 * The interventions' margin: the slowest delivery the harness did not
	 * intervene in, exits or not (what waits for an intervention waits
	 * longer than any delivery that needed none).
	 */
	if (!intervened && now - send_end > self->prompt_max_tsc)
		self->prompt_max_tsc = now - send_end;
	if (crossed)
		return;
	self->prompt++;
	if (clock_now - clock_end > self->prompt_max_run)
		self->prompt_max_run = clock_now - clock_end;
}

/*
 * Count and judge one delivery; false if the no_eoi control skips its
 * EOI.  The TSC is read first so that the latency excludes the handler's
 * own bookkeeping, and the send's stamp before the delivery is counted: a
 * sender waiting for this delivery may stamp its next send as soon as it
 * sees the count.  A test's own handler calls it first, does what the
 * device or scenario needs before the EOI, then ipi_guest_eoi().
 */
bool ipi_guest_accept(struct ex_regs *regs)
{
	uint64_t now = rdtsc();
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint8_t vector = regs->vector;
	uint64_t sent_tsc = READ_ONCE(self->tx[vector].tsc);
	bool counted = !ipi_harness_vector(vector) && READ_ONCE(self->tx[vector].sent);
	bool fault = counted && fault_due(++self->deliveries);
	uint64_t n = self->received[vector] + 1;

	/* IF and the TPR do not mask an NMI. */
	if (vector != NMI_VECTOR)
		check_interruptible(self, regs, vector, now, counted);

	if (fault && ipi_config.fault == IPI_FAULT_DOUBLE_COUNT) {
		self->faults_injected++;
		n++;
	}
	if (counted) {
		uint64_t seq = READ_ONCE(self->tx[vector].sent);

		/*
		 * One send outstanding per vector: this delivery is of the
		 * latest.  Delivered before, it is a duplicate, even if another
		 * send of this vector goes missing.
		 */
		if (seq == self->delivered_seq[vector])
			self->received_again[vector]++;
		WRITE_ONCE(self->delivered_seq[vector], seq);
		classify_delivery(self, vector, now);
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
		return false;
	}
	return true;
}

/* The test saw @vector delivered against the priority rules; keep the first few. */
void ipi_guest_misordered(uint8_t vector, uint8_t expected, uint32_t in_service)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	if (self->misordered < IPI_MAX_MISORDERS) {
		struct ipi_misorder *m = &self->misorders[self->misordered];

		m->vector = vector;
		m->expected = expected;
		m->in_service = in_service;
		m->tsc = rdtsc();
	}
	self->misordered++;
}

/* This vCPU's APIC errors: a write latches them, then the read (SDM 11.5.3). */
uint32_t ipi_guest_read_esr(void)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	apic_write(self, APIC_ESR, 0);
	return apic_read(self, APIC_ESR);
}

/* The handler's EOI, timed. */
void ipi_guest_eoi(void)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t t = rdtsc();

	apic_write(self, APIC_EOI, 0);
	lat_hist_record(&self->eoi, rdtsc() - t);
	/* The handler's own time is no gap in the loop it interrupted. */
	WRITE_ONCE(self->loop_tsc, rdtsc());
}

/* Installed on every vector from IPI_FIRST_VECTOR up. */
void ipi_guest_handler(struct ex_regs *regs)
{
	if (ipi_guest_accept(regs))
		ipi_guest_eoi();
}

__attribute__((__noinline__)) void ipi_guest_sti_nop_cli(void)
{
	__asm__ __volatile__("sti\n\t"
			     ".globl ipi_guest_nop_insn\n"
			     "ipi_guest_nop_insn:\n\t"
			     "nop\n\t"
			     "cli" ::: "memory");
}

/* Count a send to @dest_index on @vector; returns its sequence number. */
uint64_t ipi_guest_stamp(uint32_t dest_index, uint8_t vector)
{
	struct ipi_tx_slot *slot = &ipi_config.vcpus[dest_index].tx[vector];

	WRITE_ONCE(slot->tsc, rdtsc());
	return __atomic_add_fetch(&slot->sent, 1, __ATOMIC_RELEASE);
}

/* Send @seq to @dest_index on @vector is complete: the ICR write retired. */
void ipi_guest_stamp_end(uint32_t dest_index, uint8_t vector, uint64_t seq)
{
	struct ipi_tx_slot *slot = &ipi_config.vcpus[dest_index].tx[vector];

	WRITE_ONCE(slot->end_tsc, rdtsc());
	__atomic_store_n(&slot->end_seq, seq, __ATOMIC_RELEASE);
}

/*
 * Halt until an interrupt comes.  One that only the watchdog's wake-up
 * ended, with nothing of the test pending for this vCPU, is stranded: the
 * vCPU slept on nothing (say, its interrupt was taken inside the STI
 * shadow, before the HLT).  The rescued control halts with its own
 * interrupt masked, so that only the watchdog can end the halt.
 */
/* Never inlined: its hlt, and the label on it, must exist once. */
__attribute__((__noinline__)) void ipi_guest_halt(void)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t wakes = READ_ONCE(self->received[IPI_WAKE_VECTOR]);
	uint64_t deliveries = self->deliveries, in_shadow = self->shadow_deliveries;
	uint64_t t = rdtsc();
	unsigned int v;

	/* The one copy of this hlt: the handler knows an interrupt taken before it. */
	__asm__ __volatile__("sti\n\t"
			     ".globl ipi_guest_hlt_insn\n"
			     "ipi_guest_hlt_insn:\n\t"
			     "hlt\n\t"
			     "cli" ::: "memory");
	/*
	 * Ended by a delivery of the test's, unless the only ones were taken
	 * inside the STI shadow, before the hlt: then nothing ended it but
	 * the watchdog.
	 */
	if (READ_ONCE(self->received[IPI_WAKE_VECTOR]) == wakes ||
	    self->deliveries - deliveries != self->shadow_deliveries - in_shadow)
		return;
	/* The run is ending: the harness's end, not the watchdog, owes it a wake-up. */
	if (ipi_guest_host_done())
		return;
	/* From 0: an NMI counts as vector 2. */
	for (v = 0; v < IPI_NR_VECTORS; v++) {
		if (!ipi_harness_vector(v) &&
		    READ_ONCE(self->received[v]) < READ_ONCE(self->tx[v].sent))
			return;
	}
	if (self->stranded < IPI_MAX_STRANDS) {
		struct ipi_strand *st = &self->strands[self->stranded];

		st->hlt_tsc = t;
		st->wake_sent_tsc = READ_ONCE(self->tx[IPI_WAKE_VECTOR].tsc);
		st->rx_tsc = self->last_rx_tsc;
	}
	WRITE_ONCE(self->stranded, self->stranded + 1);
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
	uint64_t end, before, seq;
	uint32_t spiv;

	self->faults_injected++;
	switch (ipi_config.fault) {
	case IPI_FAULT_LOST:
		/* A software-disabled APIC discards fixed interrupts (SDM 11.4.7.2). */
		GUEST_ASSERT(dest_index == self->index);
		spiv = apic_read(self, APIC_SPIV);
		apic_write(self, APIC_SPIV, spiv & ~APIC_SPIV_APIC_ENABLED);
		seq = ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		ipi_guest_stamp_end(dest_index, vector, seq);
		apic_write(self, APIC_SPIV, spiv);
		break;
	case IPI_FAULT_PHANTOM:
		/* Complete, as far as the sender knows. */
		ipi_guest_stamp_end(dest_index, vector, ipi_guest_stamp(dest_index, vector));
		break;
	case IPI_FAULT_DUPLICATE:
		/*
		 * Wait out both deliveries: a second send still pending in the
		 * IRR would merge with the next counted one and hide.
		 */
		before = READ_ONCE(dest->received[vector]);
		seq = ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		ipi_guest_stamp_end(dest_index, vector, seq);
		ipi_guest_wait_for(dest, vector, before + 1);
		send(dest_index, vector);
		ipi_guest_wait_for(dest, vector, before + 2);
		break;
	case IPI_FAULT_SPURIOUS:
		send(dest_index, vector + 1);
		seq = ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		ipi_guest_stamp_end(dest_index, vector, seq);
		break;
	case IPI_FAULT_DELAYED:
		ipi_irq_disable();
		seq = ipi_guest_stamp(dest_index, vector);
		send(dest_index, vector);
		ipi_guest_stamp_end(dest_index, vector, seq);
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
 * For faults injected at the test's own points (its own sends, a dwell, a
 * halt): count one such point, and say whether @fault is to be injected
 * there.
 */
bool ipi_guest_fault_now(enum ipi_fault fault)
{
	struct ipi_vcpu *self = this_ipi_vcpu();

	if (ipi_config.fault != fault)
		return false;
	if (!fault_due(++self->fault_points))
		return false;
	self->faults_injected++;
	return true;
}

void ipi_guest_send(ipi_send_fn send, uint32_t dest_index, uint8_t vector)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t seq;

	self->sends++;
	if ((IPI_FAULT_BIT(ipi_config.fault) & IPI_SEND_FAULTS) && fault_due(self->sends)) {
		send_with_fault(send, dest_index, vector);
		return;
	}
	seq = ipi_guest_stamp(dest_index, vector);
	send(dest_index, vector);
	ipi_guest_stamp_end(dest_index, vector, seq);
}

static bool received_count(const struct ipi_vcpu *dest, uint8_t vector, uint64_t expected)
{
	return READ_ONCE(dest->received[vector]) >= expected;
}

static bool latest_delivered(const struct ipi_vcpu *dest, uint8_t vector,
			     uint64_t unused __maybe_unused)
{
	return READ_ONCE(dest->delivered_seq[vector]) == READ_ONCE(dest->tx[vector].sent);
}

/*
 * Wait with IF=1 until @done holds for @dest and @vector, for at most
 * ipi_config.wait_timeout cycles.  A wait that gives up is counted, and
 * the interrupt, if it never comes, shows up as lost.
 */
static bool wait_until(bool (*done)(const struct ipi_vcpu *, uint8_t, uint64_t),
		       struct ipi_vcpu *dest, uint8_t vector, uint64_t arg)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	bool was_enabled = irqs_enabled();
	bool ok = true;

	ipi_irq_enable();
	while (!done(dest, vector, arg)) {
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

/* Until @dest has received @vector @expected times. */
bool ipi_guest_wait_for(struct ipi_vcpu *dest, uint8_t vector, uint64_t expected)
{
	return wait_until(received_count, dest, vector, expected);
}

/*
 * Until the latest send of @vector to @dest has been delivered: only then
 * may the vector be sent again without merging into a pending IRR bit.
 * The sequence, not the count, so that a duplicate counted earlier cannot
 * open the gate early.
 */
bool ipi_guest_wait_delivered(struct ipi_vcpu *dest, uint8_t vector)
{
	return wait_until(latest_delivered, dest, vector, 0);
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
		/* From 0: an NMI counts as vector 2. */
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			if (!ipi_harness_vector(v) &&
			    READ_ONCE(self->received[v]) < READ_ONCE(self->tx[v].sent))
				outstanding = true;
		}
		if (!outstanding)
			break;
		if (rdtsc() > deadline) {
			self->missed_waits++;
			break;
		}
		harness_exit(self);
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
