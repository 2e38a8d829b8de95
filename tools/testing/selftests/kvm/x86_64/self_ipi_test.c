// SPDX-License-Identifier: GPL-2.0-only
/*
 * self_ipi_test
 *
 * One vCPU sends itself fixed IPIs, one at a time, through each APIC path
 * and waits for each in each of vmexit.flat's ways.  Every IPI must arrive
 * exactly once, on its vector, and no later than the architecture says:
 *
 *   sti_nop      IF=0, send, "sti; nop": taken after the nop
 *   sti_hlt      IF=0, send, "sti; hlt": taken before hlt returns
 *   spin         IF=1, send, spin until the handler ran (no architectural
 *                point: only the latency threshold applies)
 *   tpr          IF=1, TPR above the vector, send, TPR to 0: taken right
 *                after the TPR write
 *   tpr_sti_nop  IF=0, TPR raised, send, TPR lowered, "sti; nop"
 *   tpr_sti_hlt  IF=0, TPR raised, send, TPR lowered, "sti; hlt"
 *
 * Send paths: xapic_icr (ICR at 0xfee00300, self shorthand), x2apic_icr
 * (MSR 0x830, self shorthand), x2apic_self_ipi (SELF IPI, MSR 0x83f).
 *
 * An IPI still pending at its architectural point is "late": counted as
 * delayed, and a failure unless the host has it as a documented known
 * issue (KTAP XFAIL).  Reports cycles from the send to the handler, for
 * the whole iteration, and for the handler's EOI.  The variant "overhead"
 * sends nothing: its iteration cost is the instrument's own.
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"

#define SELF_IPI_VECTOR		0x40
#define TPR_BLOCK_ALL		0xf0
/* Masks SELF_IPI_VECTOR, not the watchdog's wake-up. */
#define TPR_BLOCK_TEST		0x50
#define DEFAULT_COUNT		2000

enum wait_mode {
	STI_NOP,
	STI_HLT,
	SPIN,
	TPR,
	TPR_STI_NOP,
	TPR_STI_HLT,
	NO_SEND,
};

struct self_ipi_mode {
	ipi_send_fn send;
	bool x2apic;
	enum wait_mode wait;
};

static struct self_ipi_mode mode;

static void xapic_send_icr_self(uint32_t dest __maybe_unused, uint8_t vector)
{
	xapic_write_reg(APIC_ICR, APIC_DEST_SELF | APIC_DM_FIXED | APIC_INT_ASSERT | vector);
}

/*
 * Negative controls of the classifier, in the sti_hlt waits: "stranded"
 * halts once with nothing coming, before the send; "rescued" halts with
 * its IPI masked by TPR, so that only the watchdog's wake-up ends the
 * halt, and lowers TPR only then; "masked" makes its interrupt arrive
 * through the IDT with IF=0, as a CPU that ignored IF would deliver it (a
 * software INT: no CPU can be made to take a maskable one so).
 */
static void halt_with_fault(struct ipi_vcpu *self, uint64_t expected)
{
	if (ipi_guest_fault_now(IPI_FAULT_MASKED)) {
		uint64_t seq = ipi_guest_stamp(self->index, SELF_IPI_VECTOR);

		ipi_guest_stamp_end(self->index, SELF_IPI_VECTOR, seq);
		__asm__ __volatile__("int %0" :: "i"(SELF_IPI_VECTOR) : "memory");
		ipi_guest_expect_delivered(SELF_IPI_VECTOR, expected);
		return;
	}
	if (ipi_guest_fault_now(IPI_FAULT_STRANDED)) {
		ipi_guest_halt();
	} else if (ipi_guest_fault_now(IPI_FAULT_RESCUED)) {
		ipi_guest_apic_write(APIC_TASKPRI, TPR_BLOCK_TEST);
		ipi_guest_send(mode.send, self->index, SELF_IPI_VECTOR);
		ipi_guest_halt();
		ipi_guest_apic_write(APIC_TASKPRI, 0);
		ipi_irq_enable();
		ipi_guest_wait(SELF_IPI_VECTOR, expected);
		return;
	}
	ipi_guest_send(mode.send, self->index, SELF_IPI_VECTOR);
	/* The duplicate control waits out both deliveries of this send: nothing to halt on. */
	if (READ_ONCE(self->delivered_seq[SELF_IPI_VECTOR]) !=
	    READ_ONCE(self->tx[SELF_IPI_VECTOR].sent))
		ipi_guest_halt();
	ipi_guest_expect_delivered(SELF_IPI_VECTOR, expected);
}

static void send_and_wait(struct ipi_vcpu *self, uint64_t expected)
{
	bool tpr = mode.wait >= TPR;

	if (mode.wait == SPIN || mode.wait == TPR)
		ipi_irq_enable();
	else
		ipi_irq_disable();
	if (mode.wait == STI_HLT) {
		halt_with_fault(self, expected);
		return;
	}
	if (tpr)
		ipi_guest_apic_write(APIC_TASKPRI, TPR_BLOCK_ALL);

	ipi_guest_send(mode.send, self->index, SELF_IPI_VECTOR);

	if (tpr)
		ipi_guest_apic_write(APIC_TASKPRI, 0);
	switch (mode.wait) {
	case STI_NOP:
	case TPR_STI_NOP:
		ipi_guest_sti_nop_cli();
		break;
	case TPR_STI_HLT:
		ipi_guest_halt();
		break;
	case SPIN:
		ipi_guest_wait(SELF_IPI_VECTOR, expected);
		return;
	default:
		break;
	}
	ipi_guest_expect_delivered(SELF_IPI_VECTOR, expected);
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(mode.x2apic);
	uint64_t i, t0;
	uint64_t start = rdtsc();

	for (i = 1; ipi_guest_more(i, start); i++) {
		t0 = rdtsc();
		if (mode.wait != NO_SEND)
			send_and_wait(self, READ_ONCE(self->tx[SELF_IPI_VECTOR].sent) + 1);
		lat_hist_record(&self->iteration, rdtsc() - t0);
		WRITE_ONCE(self->progress, i);
	}
	ipi_guest_drain();
	GUEST_DONE();
}

static struct ipi_vm *run_self_ipi(const struct ipi_variant *v, const struct ipi_options *o)
{
	struct ipi_vm *ivm;

	mode = *(const struct self_ipi_mode *)v->arg;
	if (mode.x2apic)
		TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));

	ivm = ipi_vm_create(1, guest_code, o);
	sync_global_to_guest(ivm->vm, mode);
	ipi_vm_run(ivm);
	return ivm;
}

#define MODE(_send, _x2apic, _wait) \
	((uintptr_t)&(const struct self_ipi_mode){ _send, _x2apic, _wait })

#define SEND_PATH(name, send, x2apic)						\
	{ name "_sti_nop", run_self_ipi, MODE(send, x2apic, STI_NOP) },		\
	{ name "_sti_hlt", run_self_ipi, MODE(send, x2apic, STI_HLT) },		\
	{ name "_spin", run_self_ipi, MODE(send, x2apic, SPIN) },		\
	{ name "_tpr", run_self_ipi, MODE(send, x2apic, TPR) },			\
	{ name "_tpr_sti_nop", run_self_ipi, MODE(send, x2apic, TPR_STI_NOP) },	\
	{ name "_tpr_sti_hlt", run_self_ipi, MODE(send, x2apic, TPR_STI_HLT) }

static const struct ipi_variant variants[] = {
	SEND_PATH("xapic_icr", xapic_send_icr_self, false),
	SEND_PATH("x2apic_icr", x2apic_send_icr_self, true),
	SEND_PATH("x2apic_self_ipi", x2apic_send_self_ipi, true),
	{ "overhead", run_self_ipi, MODE(NULL, true, NO_SEND) },
};

static const struct ipi_test test = {
	.name = "self_ipi_test",
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 1, .default_vcpus = 1, .max_vcpus = 1,
	.faults = IPI_HANDLER_FAULTS | IPI_SEND_FAULTS | IPI_FAULT_BIT(IPI_FAULT_RESCUED) |
		  IPI_FAULT_BIT(IPI_FAULT_STRANDED) | IPI_FAULT_BIT(IPI_FAULT_TSC_WRITE) |
		  IPI_FAULT_BIT(IPI_FAULT_MASKED),
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
