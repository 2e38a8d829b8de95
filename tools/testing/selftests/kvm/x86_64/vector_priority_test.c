// SPDX-License-Identifier: GPL-2.0-only
/*
 * vector_priority_test
 *
 * Every vector, and the APIC's priority rules, from three sources: the
 * receiver itself (self: an IPI to its own APIC ID), a second vCPU
 * (cross) and the host (msi: KVM_SIGNAL_MSI).  vCPU 0 receives:
 *
 *   every_vector_spin  each vector from 32 to 255 (but the harness's own,
 *   every_vector_hlt   0xfb, 0xfc and 0xfe), one at a time, at least once
 *                      each: to a receiver spinning with IF=1, or halted
 *                      ("sti; hlt", which must return with it taken)
 *   tpr_order          with IF=0 and the TPR at class c (0 to 14 in turn),
 *                      a shuffled batch of 21 vectors over classes 2 to 15;
 *                      once all are in the IRR, "sti; nop": every vector
 *                      above class c is taken there, highest first, and
 *                      none at or below it; then the TPR goes to 0 and the
 *                      rest are taken right after that write, highest first
 *   preempt            the handler of a vector of class a keeps it in
 *                      service and opens a window with three more pending:
 *                      one of class a + 2 must preempt it there, one of
 *                      class a and one of class a - 1 must wait for its
 *                      EOI (the PPR follows the ISR), and come right after
 *   illegal            vectors 0 to 15, which the APIC must refuse: never
 *                      delivered, and an APIC error (ESR "send illegal
 *                      vector" at the sender, "receive illegal vector" at
 *                      the receiver) latched
 *
 * A vector taken before a higher one that was pending with it, or while
 * one of its class or above is in service, is misordered; one taken under
 * a TPR that masks its class is masked; one still pending where the
 * architecture says it must have been taken (after "sti; nop", when hlt
 * returns, after the unmasking TPR write, at the IRET after the EOI) is
 * late.  All fail, as do lost, duplicate and spurious ones (a vector below
 * 32 taken at all), and an illegal vector that latched no error.
 *
 * For the remote sources, a window opens only once the batch shows in the
 * receiver's IRR: how long a send takes to land is the sender's business,
 * what the APIC does with what is pending is the receiver's.  Latency
 * counts from the send, or, for what a scenario holds back on purpose,
 * from the moment it became deliverable.
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"
#include "json_writer.h"
#include "remote_sender.h"

#define ESR_SEND_ILLEGAL	(1u << 5)
#define ESR_RECEIVE_ILLEGAL	(1u << 6)

#define DEFAULT_COUNT		256
#define NR_ILLEGAL		16
#define ILLEGAL_TAKEN		5	/* the illegal control's vector: no error code */
#define MAX_DEPTH		8

enum scenario { EVERY_VECTOR_SPIN, EVERY_VECTOR_HLT, TPR_ORDER, PREEMPT, ILLEGAL };

struct mode {
	enum ipi_source source;
	enum scenario scenario;
};

static struct mode mode;

/* What the APIC must deliver next: the vectors of the open round, not yet taken. */
static struct {
	uint64_t pending[4];
	uint8_t nest_in;		/* preempt: the vector whose handler opens the window */
	uint8_t nest_batch[3];
} round;

/* Vectors in service, as the handlers nest. */
static uint8_t in_service[MAX_DEPTH];
static uint32_t depth;

/* The illegal vectors' evidence, for the results. */
static struct {
	uint64_t sent;
	uint64_t esr_send;		/* the sender's ESR had "send illegal vector" */
	uint64_t esr_receive;		/* the receiver's had "receive illegal vector" */
	uint64_t left_in_irr;		/* the vector sat in the receiver's IRR */
} illegal;

static inline unsigned int class_of(uint8_t vector)
{
	return vector >> 4;
}

static bool is_pending(uint8_t v)
{
	return round.pending[v / 64] & (1ull << (v % 64));
}

static uint8_t highest_pending(void)
{
	int i;

	for (i = 255; i >= IPI_FIRST_VECTOR; i--) {
		if (is_pending(i))
			return i;
	}
	return 0;
}

/*
 * At each delivery: nothing of a class at or below the one in service
 * (the TPR's share is the handler's masked check), and nothing while a
 * higher vector of the round was pending.
 */
static void check_priority(uint8_t vector)
{
	uint8_t top = depth ? in_service[depth - 1] : 0;
	uint8_t first = highest_pending();

	if (depth && class_of(vector) <= class_of(top))
		ipi_guest_misordered(vector, 0, top);
	else if (is_pending(vector) && first > vector &&
		 class_of(vector) > class_of(READ_ONCE(this_ipi_vcpu()->tpr)))
		ipi_guest_misordered(vector, first, top);
	round.pending[vector / 64] &= ~(1ull << (vector % 64));
}

/* A new round: what an earlier one lost is no evidence against this one. */
static void new_round(void)
{
	memset(round.pending, 0, sizeof(round.pending));
}

static void open_round(const uint8_t *vectors, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		round.pending[vectors[i] / 64] |= 1ull << (vectors[i] % 64);
}

static bool in_irr(uint8_t vector)
{
	return x2apic_read_reg(APIC_IRR + (vector / 32) * 0x10) & (1u << (vector % 32));
}

/*
 * Until every vector of the batch shows in this vCPU's IRR (or has been
 * taken), bounded; IF as it is.  A remote send is complete when its ICR
 * write or ioctl returned, not when the receiver's APIC has it.
 */
static void wait_in_irr(const uint8_t *vectors, unsigned int n, const uint64_t *expected)
{
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;
	struct ipi_vcpu *self = this_ipi_vcpu();
	unsigned int i;

	for (i = 0; i < n; i++) {
		while (!in_irr(vectors[i]) &&
		       READ_ONCE(self->received[vectors[i]]) < expected[i]) {
			if (rdtsc() > deadline || ipi_guest_should_stop()) {
				self->missed_waits++;
				return;
			}
			cpu_relax();
		}
	}
}

/*
 * Latency counts from the moment a vector became deliverable (the window,
 * the TPR write, the EOI), not from its send: the scenario holds it back
 * on purpose until then.
 */
static void deliverable_now(const uint8_t *vectors, unsigned int n)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t now = rdtsc();
	unsigned int i;

	for (i = 0; i < n; i++)
		WRITE_ONCE(self->tx[vectors[i]].tsc, now);
}

/* Send @n vectors from the variant's source, and wait until they are pending here. */
static void send_batch(const uint8_t *vectors, unsigned int n, uint64_t *expected)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	unsigned int i;

	for (i = 0; i < n; i++)
		expected[i] = READ_ONCE(self->tx[vectors[i]].sent) + 1;
	ipi_remote_send(vectors, n, APIC_DM_FIXED, true);
	wait_in_irr(vectors, n, expected);
}

/*
 * preempt, inside the handler of round.nest_in, IF=0: the higher class
 * must come in through the window, the others must wait for this EOI.
 */
static void nest(void)
{
	uint64_t expected[3];

	open_round(round.nest_batch, 3);
	send_batch(round.nest_batch, 3, expected);
	deliverable_now(round.nest_batch, 1);
	ipi_guest_sti_nop_cli();
	ipi_guest_expect_delivered(round.nest_batch[0], expected[0]);
	ipi_irq_disable();
	/* The two others become deliverable at this handler's EOI. */
	deliverable_now(round.nest_batch + 1, 2);
}

static void priority_handler(struct ex_regs *regs)
{
	uint8_t vector = regs->vector;
	bool eoi = ipi_guest_accept(regs);

	check_priority(vector);
	GUEST_ASSERT(depth < MAX_DEPTH);
	in_service[depth++] = vector;
	if (vector == round.nest_in) {
		round.nest_in = 0;
		nest();
	}
	depth--;
	if (eoi)
		ipi_guest_eoi();
}

/* Vectors 32-255 but the harness's: the test's own, in order. */
static unsigned int test_vectors(uint8_t *v)
{
	unsigned int n = 0, i;

	for (i = IPI_FIRST_VECTOR; i < IPI_NR_VECTORS; i++) {
		if (!ipi_harness_vector(i))
			v[n++] = i;
	}
	return n;
}

static void every_vector(uint8_t vector, bool halt)
{
	uint64_t expected;

	if (!halt) {
		ipi_irq_enable();
		send_batch(&vector, 1, &expected);
		ipi_guest_wait(vector, expected);
		return;
	}
	ipi_irq_disable();
	send_batch(&vector, 1, &expected);
	ipi_guest_halt();
	ipi_guest_expect_delivered(vector, expected);
}

/* A batch over classes 2 to 15: one vector each, two in the odd classes; shuffled. */
static unsigned int tpr_batch(uint8_t *v, uint64_t seed)
{
	unsigned int n = 0, k, i, j;
	uint8_t t;

	for (k = 2; k < 16; k++) {
		v[n++] = k << 4 | 0x9;
		if (k & 1)
			v[n++] = k << 4 | 0x3;
	}
	for (i = n - 1; i > 0; i--) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (seed >> 33) % (i + 1);
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	return n;
}

/*
 * Negative control of the order check: with the batch pending, the
 * receiver raises MISORDER_VECTOR itself with INT n, as an APIC that
 * ignored priority would deliver it: 0xf9 is pending above it, and no TPR
 * here masks class 15.
 */
#define MISORDER_VECTOR		0xf3

static void misorder(void)
{
	uint64_t seq = ipi_guest_stamp(0, MISORDER_VECTOR);

	ipi_guest_stamp_end(0, MISORDER_VECTOR, seq);
	open_round((const uint8_t []){ MISORDER_VECTOR }, 1);
	__asm__ __volatile__("int %0" :: "i"(MISORDER_VECTOR) : "memory");
}

static void tpr_order(uint64_t r)
{
	uint8_t v[32];
	uint64_t expected[32];
	unsigned int c = r % 15, n = tpr_batch(v, r), i;
	bool fault = ipi_guest_fault_now(IPI_FAULT_MISORDER);

	/* The control raises that vector itself: out of the batch. */
	for (i = 0; fault && i < n; i++) {
		if (v[i] == MISORDER_VECTOR)
			v[i] = v[--n];
	}
	ipi_irq_disable();
	ipi_guest_apic_write(APIC_TASKPRI, c << 4);
	new_round();
	open_round(v, n);
	send_batch(v, n, expected);
	if (fault)
		misorder();
	for (i = 0; i < n; i++) {
		if (class_of(v[i]) > c)
			deliverable_now(&v[i], 1);
	}
	ipi_guest_sti_nop_cli();
	for (i = 0; i < n; i++) {
		if (class_of(v[i]) > c)
			ipi_guest_expect_delivered(v[i], expected[i]);
	}
	ipi_irq_disable();
	for (i = 0; i < n; i++) {
		if (class_of(v[i]) <= c)
			deliverable_now(&v[i], 1);
	}
	ipi_irq_enable();
	ipi_guest_apic_write(APIC_TASKPRI, 0);
	for (i = 0; i < n; i++)
		ipi_guest_expect_delivered(v[i], expected[i]);
	ipi_irq_disable();
}

static void preempt(uint64_t r)
{
	unsigned int a = 3 + r % 11;	/* classes 3 to 13: a - 1 and a + 2 exist */
	uint8_t low = a << 4 | 0x8;
	uint64_t expected, nested;

	round.nest_batch[0] = (a + 2) << 4 | 0x4;
	round.nest_batch[1] = a << 4 | 0x2;
	round.nest_batch[2] = (a - 1) << 4 | 0xa;
	new_round();
	WRITE_ONCE(round.nest_in, low);
	ipi_irq_disable();
	send_batch(&low, 1, &expected);
	ipi_guest_sti_nop_cli();
	ipi_guest_expect_delivered(low, expected);
	/* Both were pending at the IRET after the EOI: taken there. */
	for (nested = 1; nested < 3; nested++)
		ipi_guest_expect_delivered(round.nest_batch[nested],
					   READ_ONCE(this_ipi_vcpu()->tx[round.nest_batch[nested]].sent));
	ipi_irq_disable();
}

/* An illegal vector: uncounted, never to be taken (a delivery counts as spurious). */
static void send_illegal(uint8_t vector)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint32_t esr, eax = 0, ebx, ecx = 0, edx;
	bool raised;

	ipi_guest_read_esr();
	ipi_irq_enable();
	ipi_remote_send(&vector, 1, APIC_DM_FIXED, false);
	/* Negative control: the vector taken, as if the APIC had delivered one. */
	if (ipi_guest_fault_now(IPI_FAULT_ILLEGAL))
		__asm__ __volatile__("int %0" :: "i"(ILLEGAL_TAKEN) : "memory");
	/* An exit and an entry: whatever KVM would inject, it injects here. */
	__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
	illegal.left_in_irr += in_irr(vector);
	esr = ipi_guest_read_esr();
	illegal.sent++;
	illegal.esr_receive += !!(esr & ESR_RECEIVE_ILLEGAL);
	raised = esr & (ESR_RECEIVE_ILLEGAL | ESR_SEND_ILLEGAL);
	if (mode.source == IPI_SRC_SELF)
		illegal.esr_send += !!(esr & ESR_SEND_ILLEGAL);
	if (mode.source == IPI_SRC_CROSS) {
		illegal.esr_send += !!(ipi_remote.sender_esr & ESR_SEND_ILLEGAL);
		raised |= ipi_remote.sender_esr & ESR_SEND_ILLEGAL;
	}
	if (!raised)
		self->no_esr++;
}

static uint64_t rounds(uint64_t at_least)
{
	return ipi_config.count > at_least ? ipi_config.count : at_least;
}

static void receiver(struct ipi_vcpu *self)
{
	uint8_t vectors[IPI_NR_VECTORS];
	unsigned int nr_vectors = test_vectors(vectors);
	uint64_t r, n, t0;

	switch (mode.scenario) {
	case EVERY_VECTOR_SPIN:
	case EVERY_VECTOR_HLT:
		n = rounds(nr_vectors);
		break;
	case ILLEGAL:
		n = rounds(NR_ILLEGAL);
		break;
	default:
		n = rounds(15);
	}
	/* host_done: the watchdog's deadline winds the run down. */
	for (r = 0; r < n && !ipi_guest_host_done(); r++) {
		t0 = rdtsc();
		switch (mode.scenario) {
		case EVERY_VECTOR_SPIN:
		case EVERY_VECTOR_HLT:
			every_vector(vectors[r % nr_vectors], mode.scenario == EVERY_VECTOR_HLT);
			break;
		case TPR_ORDER:
			tpr_order(r);
			break;
		case PREEMPT:
			preempt(r);
			break;
		case ILLEGAL:
			send_illegal(r % NR_ILLEGAL);
			break;
		}
		lat_hist_record(&self->iteration, rdtsc() - t0);
		WRITE_ONCE(self->progress, r + 1);
		/*
		 * A wait gave up: something never came.  The evidence is in;
		 * every later round would wait out the grace period again.
		 */
		if (READ_ONCE(self->missed_waits))
			break;
	}
	ipi_remote_finish();
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(true);

	ipi_guest_wait_all_ready();
	if (self->index)
		ipi_remote_serve();
	else
		receiver(self);
	ipi_guest_quiet();
	ipi_guest_drain();
	GUEST_DONE();
}

/* Vectors 0-15 with no error code: where a wrong delivery of one would land. */
static bool counts_illegal(unsigned int v)
{
	return v < 16 && v != 8 && (v < 10 || v > 14);
}

static void report_illegal(struct ipi_vm *ivm, struct json_writer *w);

static struct ipi_vm *run_priority(const struct ipi_variant *v, const struct ipi_options *o)
{
	struct ipi_vm *ivm;
	unsigned int i;

	mode = *(const struct mode *)v->arg;
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));

	ivm = ipi_vm_create(mode.source == IPI_SRC_CROSS ? 2 : 1, guest_code, o);
	for (i = 0; i < IPI_NR_VECTORS; i++) {
		if (i >= IPI_FIRST_VECTOR && !ipi_harness_vector(i))
			vm_install_exception_handler(ivm->vm, i, priority_handler);
		else if (mode.scenario == ILLEGAL && counts_illegal(i))
			vm_install_exception_handler(ivm->vm, i, ipi_guest_handler);
	}
	sync_global_to_guest(ivm->vm, mode);
	ipi_remote_setup(ivm, mode.source, 0);
	if (mode.scenario == ILLEGAL)
		ivm->report_extra = report_illegal;
	ipi_vm_run(ivm);
	return ivm;
}

static void report_illegal(struct ipi_vm *ivm, struct json_writer *w)
{
	typeof(illegal) *il = addr_gva2hva(ivm->vm, (vm_vaddr_t)&illegal);

	ksft_print_msg("illegal vectors: sent %llu, ESR send-illegal %llu, receive-illegal %llu, left in the IRR %llu\n",
		       (unsigned long long)il->sent, (unsigned long long)il->esr_send,
		       (unsigned long long)il->esr_receive, (unsigned long long)il->left_in_irr);
	json_begin_object(w, "illegal");
	json_u64(w, "sent", il->sent);
	json_u64(w, "esr_send_illegal", il->esr_send);
	json_u64(w, "esr_receive_illegal", il->esr_receive);
	json_u64(w, "left_in_irr", il->left_in_irr);
	json_end_object(w);
}

#define MODE(_source, _scenario) \
	((uintptr_t)&(const struct mode){ _source, _scenario })

#define SCENARIOS(name, source)								\
	{ name "_every_vector_spin", run_priority, MODE(source, EVERY_VECTOR_SPIN) },	\
	{ name "_every_vector_hlt", run_priority, MODE(source, EVERY_VECTOR_HLT) },	\
	{ name "_tpr_order", run_priority, MODE(source, TPR_ORDER) },			\
	{ name "_preempt", run_priority, MODE(source, PREEMPT) },			\
	{ name "_illegal", run_priority, MODE(source, ILLEGAL) }

static const struct ipi_variant variants[] = {
	SCENARIOS("self", IPI_SRC_SELF),
	SCENARIOS("cross", IPI_SRC_CROSS),
	SCENARIOS("msi", IPI_SRC_MSI),
};

static const struct ipi_test test = {
	.name = "vector_priority_test",
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 1, .default_vcpus = 1, .max_vcpus = 2,
	.faults = IPI_HANDLER_FAULTS | IPI_FAULT_BIT(IPI_FAULT_MISORDER) |
		  IPI_FAULT_BIT(IPI_FAULT_ILLEGAL),
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
