// SPDX-License-Identifier: GPL-2.0-only
/*
 * nmi_test
 *
 * NMIs to vCPU 0, one at a time, counted exactly and timed from the send,
 * from the receiver itself (an ICR write to its own APIC ID, delivery
 * mode NMI), a second vCPU (cross) or the host (msi: KVM_SIGNAL_MSI with
 * NMI delivery mode in the data):
 *
 *   spin      IF=1, spinning until it came
 *   dwell     cross and msi: a cpuid exit, then --dwell-us in the guest:
 *             an NMI pending at an entry is injected at that entry, so one
 *             that crossed the exit is held.  (A self-NMI is taken at the
 *             entry after its own ICR write: it never waits for a dwell.)
 *   hlt       msi only: the host sends once KVM has the vCPU blocked in
 *             hlt, and the NMI must wake it ("sti; hlt" returns with it
 *             taken).  From the vCPU itself or another one, nothing could
 *             tell the sender that the receiver is really halted, and an
 *             NMI taken before the hlt would leave it halted on nothing.
 *   blocking  the handler of the first NMI asks for two more and makes an
 *             exit, where KVM must not inject either: NMIs stay blocked
 *             until the handler's IRET.  Of the two, the architecture keeps
 *             one pending and merges the other: exactly one must be taken,
 *             right after the IRET.  The second is a counted send, the
 *             third is not.
 *
 * An NMI taken inside an NMI handler is misordered; one still pending
 * after the IRET that unblocked it, or when hlt returns, is late; a third
 * one delivered is a duplicate.  KVM's own NMI counts (nmi_injections,
 * nmi_window_exits) are in the results per NMI (per_ipi).
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"
#include "json_writer.h"
#include "remote_sender.h"

#define DEFAULT_COUNT		500

enum receiver { RECV_SPIN, RECV_DWELL, RECV_HLT, RECV_BLOCKING };

struct mode {
	enum ipi_source source;
	enum receiver receiver;
};

static struct mode mode;
static uint32_t nmi_depth;
/* blocking: the next NMI's handler asks for two more */
static uint32_t ask_two_more;
static uint64_t merged_sends;	/* the uncounted third NMIs */

static const uint8_t nmi[] = { 0 };	/* the ICR's vector field: ignored for an NMI */

/*
 * The first NMI's handler: a counted NMI and an uncounted one, both sent
 * before the IRET, then an exit, at whose entry KVM must inject neither.
 */
static void two_more(void)
{
	uint32_t eax = 0, ebx, ecx = 0, edx;

	ipi_remote_send(nmi, 1, APIC_DM_NMI, true);
	ipi_remote_send(nmi, 1, APIC_DM_NMI, false);
	merged_sends++;
	__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
}

/*
 * Negative control: an IRET to the next instruction, inside the handler,
 * ends NMI blocking there (SDM 6.7.1), so the NMIs asked for next are
 * taken inside this handler, as a KVM that ignored the blocking would
 * inject them.
 */
static void iret_to_self(void)
{
	__asm__ __volatile__("mov %%rsp, %%rax\n\t"
			     "mov %%ss, %%ecx\n\t"
			     "push %%rcx\n\t"
			     "push %%rax\n\t"
			     "pushfq\n\t"
			     "mov %%cs, %%ecx\n\t"
			     "push %%rcx\n\t"
			     "lea 1f(%%rip), %%rcx\n\t"
			     "push %%rcx\n\t"
			     "iretq\n"
			     "1:" ::: "rax", "rcx", "memory");
}

static void nmi_handler(struct ex_regs *regs)
{
	if (++nmi_depth > 1)
		ipi_guest_misordered(NMI_VECTOR, 0, nmi_depth);
	ipi_guest_accept(regs);
	/* The handler's own time is no gap in a dwell's loop. */
	WRITE_ONCE(this_ipi_vcpu()->loop_tsc, rdtsc());
	if (ask_two_more) {
		ask_two_more = 0;
		if (ipi_guest_fault_now(IPI_FAULT_NMI_UNBLOCK))
			iret_to_self();
		two_more();
	}
	nmi_depth--;
}

static void one_nmi(struct ipi_vcpu *self)
{
	uint64_t expected = READ_ONCE(self->tx[NMI_VECTOR].sent) + 1;
	uint64_t deadline;

	switch (mode.receiver) {
	case RECV_SPIN:
		ipi_irq_enable();
		ipi_remote_send(nmi, 1, APIC_DM_NMI, true);
		ipi_guest_wait(NMI_VECTOR, expected);
		break;
	case RECV_DWELL:
		deadline = rdtsc() + ipi_config.wait_timeout;
		ipi_remote_post(nmi, 1, APIC_DM_NMI, true, false);
		while (READ_ONCE(self->received[NMI_VECTOR]) < expected &&
		       !ipi_guest_should_stop()) {
			/* Bounded: a lost NMI shows as lost, not as a stall. */
			if (rdtsc() > deadline) {
				self->missed_waits++;
				break;
			}
			ipi_guest_exit_and_dwell(self);
		}
		break;
	case RECV_HLT:
		ipi_irq_disable();
		ipi_remote_post(nmi, 1, APIC_DM_NMI, true, true);
		ipi_guest_halt();
		ipi_guest_expect_delivered(NMI_VECTOR, expected);
		break;
	case RECV_BLOCKING:
		ipi_irq_enable();
		WRITE_ONCE(ask_two_more, 1);
		ipi_remote_send(nmi, 1, APIC_DM_NMI, true);
		ipi_guest_wait(NMI_VECTOR, expected);
		/* The one kept pending: taken at the first handler's IRET. */
		ipi_guest_expect_delivered(NMI_VECTOR, expected + 1);
		break;
	}
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(true);
	uint64_t i, t0, start = rdtsc();

	ipi_guest_wait_all_ready();
	if (self->index) {
		ipi_remote_serve();
	} else {
		for (i = 1; ipi_guest_more(i, start); i++) {
			t0 = rdtsc();
			one_nmi(self);
			lat_hist_record(&self->iteration, rdtsc() - t0);
			WRITE_ONCE(self->progress, i);
			/* A wait gave up: the evidence is in, end the variant. */
			if (READ_ONCE(self->missed_waits))
				break;
		}
		ipi_remote_finish();
	}
	ipi_guest_quiet();
	ipi_guest_drain();
	GUEST_DONE();
}

static void report_nmi(struct ipi_vm *ivm, struct json_writer *w)
{
	uint64_t *merged = addr_gva2hva(ivm->vm, (vm_vaddr_t)&merged_sends);

	json_begin_object(w, "nmi");
	json_u64(w, "merged_sends", *merged);
	json_end_object(w);
}

static struct ipi_vm *run_nmi(const struct ipi_variant *v, const struct ipi_options *o)
{
	struct ipi_vm *ivm;

	mode = *(const struct mode *)v->arg;
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));

	ivm = ipi_vm_create(mode.source == IPI_SRC_CROSS ? 2 : 1, guest_code, o);
	vm_install_exception_handler(ivm->vm, NMI_VECTOR, nmi_handler);
	sync_global_to_guest(ivm->vm, mode);
	ipi_remote_setup(ivm, mode.source, 0);
	if (mode.receiver == RECV_HLT)
		ipi_remote_require_halt_watch(ivm);
	ivm->report_extra = report_nmi;
	ipi_vm_run(ivm);
	return ivm;
}

#define MODE(_source, _receiver) \
	((uintptr_t)&(const struct mode){ _source, _receiver })

static const struct ipi_variant variants[] = {
	{ "self_spin", run_nmi, MODE(IPI_SRC_SELF, RECV_SPIN) },
	{ "self_blocking", run_nmi, MODE(IPI_SRC_SELF, RECV_BLOCKING) },
	{ "cross_spin", run_nmi, MODE(IPI_SRC_CROSS, RECV_SPIN) },
	{ "cross_dwell", run_nmi, MODE(IPI_SRC_CROSS, RECV_DWELL) },
	{ "cross_blocking", run_nmi, MODE(IPI_SRC_CROSS, RECV_BLOCKING) },
	{ "msi_spin", run_nmi, MODE(IPI_SRC_MSI, RECV_SPIN) },
	{ "msi_dwell", run_nmi, MODE(IPI_SRC_MSI, RECV_DWELL) },
	{ "msi_hlt", run_nmi, MODE(IPI_SRC_MSI, RECV_HLT) },
	{ "msi_blocking", run_nmi, MODE(IPI_SRC_MSI, RECV_BLOCKING) },
};

static const struct ipi_test test = {
	.name = "nmi_test",
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 1, .default_vcpus = 1, .max_vcpus = 2,
	.faults = IPI_FAULT_BIT(IPI_FAULT_DOUBLE_COUNT) | IPI_FAULT_BIT(IPI_FAULT_NMI_UNBLOCK),
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
