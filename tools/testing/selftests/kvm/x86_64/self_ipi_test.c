// SPDX-License-Identifier: GPL-2.0-only
/*
 * self_ipi_test
 *
 * One vCPU sends itself fixed IPIs through its x2APIC, one at a time:
 * with IF=0 it sends, then waits with "sti; hlt" (vmexit.flat's
 * self_ipi_sti_hlt), so every IPI is already pending when the vCPU halts.
 * Each IPI must arrive exactly once, on its own vector.  Reports cycles
 * from the send to the handler's first instruction, and for the whole
 * send-halt-deliver iteration.
 *
 * Variants:
 *   x2apic_icr       ICR (MSR 0x830), self shorthand
 *   x2apic_self_ipi  SELF IPI register (MSR 0x83f)
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"

#define SELF_IPI_VECTOR		0x40
#define DEFAULT_COUNT		50000

static ipi_send_fn send_ipi;

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(true);
	uint64_t i, t0;

	for (i = 1; i <= ipi_config.count && !ipi_guest_should_stop(); i++) {
		t0 = rdtsc();
		ipi_irq_disable();
		ipi_guest_send(send_ipi, self->index, SELF_IPI_VECTOR);
		ipi_sti_hlt_cli();
		/* Bounded: a lost IPI is woken by the host and counted. */
		ipi_guest_wait(SELF_IPI_VECTOR, READ_ONCE(self->tx[SELF_IPI_VECTOR].sent));
		lat_hist_record(&self->iteration, rdtsc() - t0);
		WRITE_ONCE(self->progress, i);
	}
	ipi_guest_drain();
	GUEST_DONE();
}

static struct ipi_vm *run_self_ipi(const struct ipi_variant *v, const struct ipi_options *o)
{
	struct ipi_vm *ivm;

	TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));

	ivm = ipi_vm_create(1, guest_code, o);
	send_ipi = (ipi_send_fn)v->arg;
	sync_global_to_guest(ivm->vm, send_ipi);
	ipi_vm_run(ivm);
	return ivm;
}

static const struct ipi_variant variants[] = {
	{ "x2apic_icr", run_self_ipi, (uintptr_t)x2apic_send_icr_self },
	{ "x2apic_self_ipi", run_self_ipi, (uintptr_t)x2apic_send_self_ipi },
};

int main(int argc, char *argv[])
{
	return ipi_test_main("self_ipi_test", variants, ARRAY_SIZE(variants),
			     DEFAULT_COUNT, argc, argv);
}
