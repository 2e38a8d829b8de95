// SPDX-License-Identifier: GPL-2.0-only
/*
 * level_irq_test
 *
 * Level-triggered interrupts through the in-kernel IOAPIC, and the EOI
 * that must reach it.  Four IOAPIC pins (GSIs 16-19) in level mode, each
 * with its own vector, go to vCPU 0; a host thread raises them in turn,
 * each again only once the guest has taken the last and the line is down:
 *
 *   irq_line              KVM_IRQ_LINE up; the handler acknowledges the
 *                         device (a write to its port: the host lowers the
 *                         line), then EOIs.  One delivery per assertion.
 *   irq_line_eoi_asserted the handler EOIs first, with the line still up:
 *                         the EOI clears the pin's remote IRR and the IOAPIC
 *                         must deliver it again, counted as a send made by
 *                         that EOI; the second handler acknowledges, then
 *                         EOIs.  Two deliveries per assertion.
 *   irqfd_resample        an irqfd with a resamplefd (KVM_IRQFD_FLAG_RESAMPLE,
 *                         VFIO's INTx path): KVM lowers the line at the EOI
 *                         and signals the resamplefd, which the host waits
 *                         for before raising the pin again.
 *
 * Receivers: spin (IF=1), hlt ("sti; hlt" until the run ends) and dwell
 * (a cpuid exit, then --dwell-us in the guest: held is judged there).
 *
 * Under APICv the EOI of a level-triggered vector is the EOI-exit bitmap's
 * business: a vector missing from it is EOIed in the virtual APIC only, the
 * IOAPIC never hears of it, and the pin is dead (4cf4df7ab4d1).  Every
 * assertion is counted; what the guest never takes is lost, and a pin
 * whose remote IRR is still set at the end is stuck, with the IOAPIC's
 * state in the results.  --fault no_eoi skips one EOI and --fault phantom
 * counts an assertion never made: both must fail.
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"
#include "level_irq.h"

#define DEFAULT_COUNT		400

enum receiver { RECV_SPIN, RECV_HLT, RECV_DWELL };

struct scenario {
	enum level_kind kind;
	bool eoi_asserted;
	enum receiver receiver;
};

static struct scenario sc;
/* Per pin: the handler EOIed with the line up and waits for the IOAPIC to deliver it again. */
static uint8_t redelivery_due[LEVEL_PINS];

static void level_handler(struct ex_regs *regs)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint8_t vector = regs->vector;
	unsigned int pin = vector - LEVEL_FIRST_VECTOR;
	bool eoi = ipi_guest_accept(regs);
	uint64_t seq;

	if (sc.eoi_asserted && !redelivery_due[pin]) {
		/* The EOI is the send: it must bring the same pin back at once. */
		redelivery_due[pin] = 1;
		seq = ipi_guest_stamp(self->index, vector);
		if (eoi)
			ipi_guest_eoi();
		ipi_guest_stamp_end(self->index, vector, seq);
		return;
	}
	redelivery_due[pin] = 0;
	if (sc.kind == LEVEL_IRQ_LINE)
		outl(LEVEL_ACK_PORT, pin);
	if (eoi)
		ipi_guest_eoi();
	/* Done with this raise: the source may raise the pin again. */
	WRITE_ONCE(level_handled[pin], level_handled[pin] + 1);
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(true);

	ipi_guest_wait_all_ready();
	ipi_irq_enable();
	while (!ipi_guest_host_done()) {
		switch (sc.receiver) {
		case RECV_HLT:
			/* Checked with IF=0: the end-of-run kick cannot slip in before the hlt. */
			ipi_irq_disable();
			if (!ipi_guest_host_done())
				ipi_guest_halt();
			ipi_irq_enable();
			break;
		case RECV_DWELL:
			ipi_guest_exit_and_dwell(self);
			break;
		default:
			cpu_relax();
		}
		WRITE_ONCE(self->progress, self->progress + 1);
	}
	ipi_guest_quiet();
	ipi_guest_drain();
	GUEST_DONE();
}

static struct ipi_vm *run_level(const struct ipi_variant *v, const struct ipi_options *o)
{
	struct ipi_vm *ivm;
	unsigned int w;

	sc = *(const struct scenario *)v->arg;
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));

	ivm = ipi_vm_create(1, guest_code, o);
	for (w = 0; w < LEVEL_PINS; w++)
		vm_install_exception_handler(ivm->vm, LEVEL_FIRST_VECTOR + w, level_handler);
	sync_global_to_guest(ivm->vm, sc);
	level_sources_create(ivm, sc.kind, o);
	ipi_vm_run(ivm);
	return ivm;
}

#define SC(_kind, _eoi_asserted, _receiver) \
	((uintptr_t)&(const struct scenario){ _kind, _eoi_asserted, _receiver })

#define RECEIVERS(name, kind, eoi_asserted)						\
	{ name "_spin", run_level, SC(kind, eoi_asserted, RECV_SPIN) },			\
	{ name "_hlt", run_level, SC(kind, eoi_asserted, RECV_HLT) },			\
	{ name "_dwell", run_level, SC(kind, eoi_asserted, RECV_DWELL) }

static const struct ipi_variant variants[] = {
	RECEIVERS("irq_line", LEVEL_IRQ_LINE, false),
	RECEIVERS("irq_line_eoi_asserted", LEVEL_IRQ_LINE, true),
	RECEIVERS("irqfd_resample", LEVEL_IRQFD_RESAMPLE, false),
};

static const struct ipi_test test = {
	.name = "level_irq_test",
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 1, .default_vcpus = 1, .max_vcpus = 1,
	.faults = IPI_HANDLER_FAULTS | IPI_FAULT_BIT(IPI_FAULT_PHANTOM) |
		  IPI_FAULT_BIT(IPI_FAULT_HELD),
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
