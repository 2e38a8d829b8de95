// SPDX-License-Identifier: GPL-2.0-only
/*
 * host_injection_test
 *
 * Host threads inject interrupts into vCPUs that keep entering and
 * leaving the guest, to race delivery against VM entry: the window that
 * commit b95234c8 ("kvm: x86: do not use KVM_REQ_EVENT for APICv
 * interrupt injection") closed, where a posted-interrupt notification
 * (or an IRR update) lands between vcpu->mode = IN_GUEST_MODE, disabling
 * interrupts, sync_pir_to_irr and VM entry, and the interrupt waits for
 * the next entry, if any.  On a VT-x host with APICv this exercises
 * vmx_deliver_posted_interrupt(); elsewhere whatever path the host has,
 * which the results record.
 *
 * Variants are <injector>_<timing>_<churn>:
 *
 * injectors  msi (KVM_SIGNAL_MSI), irqfd (eventfd -> KVM_IRQFD -> MSI route),
 *            ioapic (KVM_IRQ_LINE edges on in-kernel IOAPIC pins)
 * timing     back_to_back, period (--period-us, 100), jitter (random gaps of
 *            that mean), sweep (k/15 of --sweep-us, 20, after one of the
 *            target's exits to userspace, on vector k: the results show
 *            delay by k; k/7 for ioapic, which has 8 vectors)
 *
 * --injectors N runs N injector threads, each on its own vectors, injector
 * i targeting vCPU i mod --vcpus.
 * churn      spin (no exits), cpuid, pio and mmio (exits to userspace), hlt,
 *            signal (host signals kick KVM_RUN), migrate (vCPU threads moved
 *            between CPUs), busy (host threads compete for the CPUs),
 *            halt_poll_off (hlt with KVM_CAP_HALT_POLL at 0), ipi (another
 *            vCPU sends IPIs to the target at the same time), dwell (a
 *            cpuid exit, then --dwell-us, 50, in the guest with interrupts
 *            enabled: an interrupt held back until the next VM entry shows
 *            as a delay of up to the dwell)
 *
 * When the injectors are done, every vCPU is woken and taken through one
 * more exit and entry; each then gives what is still in flight the grace
 * period.  Anything missing after that is lost, and the LAPIC state is
 * dumped.
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "injector.h"
#include "ipi_harness.h"
#include "ipi_test.h"

#define DEFAULT_COUNT		1000	/* 32 variants, well inside kselftest's 120 s */
#define GUEST_IPI_VECTOR	0xc0	/* above every injector's vectors */
#define TPR_MASK_INJECTED	0xe0	/* masks the injectors, not the harness's wake-up */

enum churn {
	CHURN_SPIN, CHURN_CPUID, CHURN_PIO, CHURN_MMIO, CHURN_HLT, CHURN_SIGNAL,
	CHURN_MIGRATE, CHURN_BUSY, CHURN_HALT_POLL_OFF, CHURN_IPI, CHURN_DWELL,
};

struct scenario {
	enum injector_kind kind;
	enum injector_timing timing;
	enum churn churn;
};

static struct scenario sc;

static void exit_once(struct ipi_vcpu *self)
{
	uint32_t eax = 0, ebx, ecx = 0, edx;

	switch (sc.churn) {
	case CHURN_CPUID:
		ipi_guest_note_exit(self);
		__cpuid(0, 0, &eax, &ebx, &ecx, &edx);
		break;
	case CHURN_PIO:
		ipi_guest_note_exit(self);
		outl(IPI_CHURN_PORT, 0);
		break;
	case CHURN_MMIO:
		ipi_guest_note_exit(self);
		WRITE_ONCE(*(uint32_t *)IPI_CHURN_GPA, 0);
		break;
	case CHURN_HLT:
	case CHURN_HALT_POLL_OFF:
		ipi_guest_note_exit(self);
		/* Checked with IF=0: the end-of-run kick cannot slip in before the hlt. */
		ipi_irq_disable();
		if (!ipi_guest_host_done())
			ipi_guest_halt();
		ipi_irq_enable();
		break;
	case CHURN_DWELL:
		ipi_guest_exit_and_dwell(self);
		break;
	default:
		cpu_relax();
	}
}

/*
 * Negative control: mask the injected vectors for twice the threshold.
 * Whatever the unmasking write lets in is delivered at that write, with
 * fault_release set: the handler counts those deliveries apart
 * (delayed_by_fault), so that every delayed one can be matched to a mask.
 */
static void maybe_mask_by_tpr(struct ipi_vcpu *self)
{
	uint64_t end;

	if (!ipi_guest_fault_now(IPI_FAULT_TPR_MASK))
		return;
	ipi_guest_apic_write(APIC_TASKPRI, TPR_MASK_INJECTED);
	end = rdtsc() + 2 * ipi_config.delay_threshold;
	while (rdtsc() < end)
		cpu_relax();
	WRITE_ONCE(self->fault_release, 1);
	ipi_guest_apic_write(APIC_TASKPRI, 0);
	WRITE_ONCE(self->fault_release, 0);
}

/* With churn "ipi", every other vCPU streams IPIs at the target, vCPU 0. */
static void send_guest_ipis(struct ipi_vcpu *self)
{
	uint8_t vector = GUEST_IPI_VECTOR + self->index;
	struct ipi_vcpu *target = &ipi_config.vcpus[0];
	uint64_t seq;

	while (!ipi_guest_host_done()) {
		if (!ipi_guest_wait_delivered(target, vector))
			continue;
		seq = ipi_guest_stamp(0, vector);
		ipi_guest_write_icr(0, APIC_DM_FIXED | APIC_INT_ASSERT | APIC_DEST_PHYSICAL |
					 vector);
		ipi_guest_stamp_end(0, vector, seq);
		WRITE_ONCE(self->progress, self->progress + 1);
	}
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(true);

	ipi_guest_wait_all_ready();
	ipi_irq_enable();
	if (sc.churn == CHURN_IPI && self->index)
		send_guest_ipis(self);
	while (!ipi_guest_host_done()) {
		exit_once(self);
		maybe_mask_by_tpr(self);
		WRITE_ONCE(self->progress, self->progress + 1);
	}
	ipi_guest_quiet();
	ipi_guest_drain();
	GUEST_DONE();
}

/* Host-side churn is the harness's: set it as the scenario asks. */
static void apply_churn(struct ipi_options *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	switch (sc.churn) {
	case CHURN_SIGNAL:
		o->kick_us = o->kick_us ? : 100;
		break;
	case CHURN_MIGRATE:
		o->pin = false;
		o->migrate_us = o->migrate_us ? : 200;
		break;
	case CHURN_BUSY:
		o->busy_threads = o->busy_threads ? : cpus;
		break;
	case CHURN_HALT_POLL_OFF:
		o->halt_poll_ns = 0;
		break;
	case CHURN_IPI:
		o->vcpus = o->vcpus < 2 ? 2 : o->vcpus;
		break;
	default:
		break;
	}
}

static struct ipi_vm *run_injection(const struct ipi_variant *v, const struct ipi_options *opts)
{
	struct injector_params p = {
		.nr_injectors = opts->injectors ? : 1,
		.period_ns = (opts->period_us ? : 100) * 1000,
		.sweep_max_ns = (opts->sweep_us ? : 20) * 1000,
	};
	struct ipi_options o = *opts;
	struct ipi_vm *ivm;

	sc = *(const struct scenario *)v->arg;
	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));
	apply_churn(&o);
	p.kind = sc.kind;
	p.timing = sc.timing;

	ivm = ipi_vm_create(o.vcpus, guest_code, &o);
	sync_global_to_guest(ivm->vm, sc);
	injectors_create(ivm, &p, &o);
	ipi_vm_run(ivm);
	return ivm;
}

#define SC(_kind, _timing, _churn) \
	((uintptr_t)&(const struct scenario){ _kind, _timing, _churn })

#define CHURNS(kind, name)								\
	{ name "_back_to_back_spin", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_SPIN) },	\
	{ name "_back_to_back_cpuid", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_CPUID) },	\
	{ name "_back_to_back_pio", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_PIO) },	\
	{ name "_back_to_back_mmio", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_MMIO) },	\
	{ name "_back_to_back_hlt", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_HLT) },	\
	{ name "_back_to_back_signal", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_SIGNAL) }, \
	{ name "_back_to_back_migrate", run_injection,					\
	  SC(kind, INJ_BACK_TO_BACK, CHURN_MIGRATE) },						\
	{ name "_back_to_back_busy", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_BUSY) },	\
	{ name "_back_to_back_halt_poll_off", run_injection,				\
	  SC(kind, INJ_BACK_TO_BACK, CHURN_HALT_POLL_OFF) },					\
	{ name "_back_to_back_ipi", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_IPI) },	\
	{ name "_back_to_back_dwell", run_injection, SC(kind, INJ_BACK_TO_BACK, CHURN_DWELL) }, \
	{ name "_period_pio", run_injection, SC(kind, INJ_PERIOD, CHURN_PIO) },		\
	{ name "_jitter_pio", run_injection, SC(kind, INJ_JITTER, CHURN_PIO) },		\
	{ name "_sweep_pio", run_injection, SC(kind, INJ_SWEEP, CHURN_PIO) }

static const struct ipi_variant variants[] = {
	CHURNS(INJ_MSI, "msi"),
	CHURNS(INJ_IRQFD, "irqfd"),
	{ "ioapic_back_to_back_spin", run_injection, SC(INJ_IOAPIC, INJ_BACK_TO_BACK, CHURN_SPIN) },
	{ "ioapic_back_to_back_pio", run_injection, SC(INJ_IOAPIC, INJ_BACK_TO_BACK, CHURN_PIO) },
	{ "ioapic_back_to_back_hlt", run_injection, SC(INJ_IOAPIC, INJ_BACK_TO_BACK, CHURN_HLT) },
	{ "ioapic_sweep_pio", run_injection, SC(INJ_IOAPIC, INJ_SWEEP, CHURN_PIO) },
};

/*
 * The IOAPIC has pins for one injector's vectors: asking for an ioapic
 * variant by name with more injectors is a mistake (run as part of the
 * whole test, such a variant skips, saying why).
 */
static const char *refuse(const struct ipi_variant *v, const struct ipi_options *o)
{
	const struct scenario *s = (const struct scenario *)v->arg;

	if (s->kind == INJ_IOAPIC && o->injectors > 1 && o->variant)
		return "the ioapic injector has pins for one injector only (--injectors 1)";
	return NULL;
}

static const struct ipi_test test = {
	.name = "host_injection_test",
	.refuse = refuse,
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 1, .default_vcpus = 1, .max_vcpus = MAX_INJECTORS,
	.faults = IPI_HANDLER_FAULTS | IPI_FAULT_BIT(IPI_FAULT_PHANTOM) |
		  IPI_FAULT_BIT(IPI_FAULT_TPR_MASK) | IPI_FAULT_BIT(IPI_FAULT_HELD) |
		  IPI_FAULT_BIT(IPI_FAULT_CLOCK),
	.host_injectors = true,
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
