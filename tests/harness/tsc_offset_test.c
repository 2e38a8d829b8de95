// SPDX-License-Identifier: GPL-2.0-only
/*
 * tsc_offset_test
 *
 * The harness converts host TSC stamps into each vCPU's TSC timeline with
 * an offset it measures.  Move the guest's TSC far from the host's (as
 * KVM does on real hosts, where a new vCPU's TSC starts near zero), then
 * check that TSC values the guest reads always fall between the converted
 * host TSCs taken around the KVM_RUN that read them.  The same check with
 * the offset taken as zero must fail, or it proves nothing.
 */
#include "kvm_util.h"
#include "processor.h"

#include "host_info.h"
#include "ipi_harness.h"
#include "ipi_options.h"
#include "kselftest.h"

#define ROUNDS		200
#define GUEST_TSC_START	1000000ull

static void guest_code(void)
{
	for (;;)
		GUEST_SYNC(rdtsc());
}

/* Rounds in which the guest's TSC fell inside the host bracket. */
static int rounds_in_bracket(struct ipi_vm *ivm, bool use_offset)
{
	struct kvm_vcpu *vcpu = ivm->vcpus[0];
	uint64_t err = ivm->tsc_offset_err[0];
	int i, inside = 0;
	struct ucall uc;

	for (i = 0; i < ROUNDS; i++) {
		uint64_t h0 = rdtsc(), h1, g;

		vcpu_run(vcpu);
		h1 = rdtsc();
		TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
		g = uc.args[1];
		if (use_offset) {
			h0 = host_tsc_to_guest(ivm, 0, h0);
			h1 = host_tsc_to_guest(ivm, 0, h1);
		}
		inside += (int64_t)(g - (h0 - err)) >= 0 && (int64_t)(h1 + err - g) >= 0;
	}
	return inside;
}

int main(int argc, char *argv[])
{
	struct ipi_options o;
	struct ipi_vm *ivm;
	int with, without;

	ipi_options_init(&o, 1, 1);
	ipi_options_parse(&o, argc, argv, 1, 1);
	ksft_print_header();
	ksft_set_plan(2);

	ivm = ipi_vm_create(1, guest_code, &o);
	vcpu_set_msr(ivm->vcpus[0], MSR_IA32_TSC, GUEST_TSC_START);
	ipi_vm_calibrate_tsc(ivm);
	ksft_print_msg("guest TSC offset %ld (+/- %lu) cycles\n",
		       ivm->tsc_offset[0], ivm->tsc_offset_err[0]);

	with = rounds_in_bracket(ivm, true);
	ksft_test_result(with == ROUNDS, "measured offset: %d/%d guest reads inside the host bracket\n",
			 with, ROUNDS);

	/* Only meaningful if the write really moved the guest's TSC. */
	if (ivm->tsc_offset[0] > -(int64_t)(rdtsc() / 2)) {
		ksft_test_result_skip("offset taken as zero: this host ignored the guest TSC write (%s)\n",
				      kvm_vendor_module());
	} else {
		without = rounds_in_bracket(ivm, false);
		ksft_test_result(without == 0, "offset taken as zero: %d/%d inside (negative control)\n",
				 without, ROUNDS);
	}
	ipi_vm_free(ivm);
	ksft_finished();
}
