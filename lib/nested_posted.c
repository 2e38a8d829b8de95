// SPDX-License-Identifier: GPL-2.0-only
/*
 * An L1 hypervisor running an L2 with posted interrupts; see
 * nested_posted.h.  The guest half is built like the rest of the guest
 * library: no sanitizers, general registers only.
 */
#include <stddef.h>
#include <asm/processor-flags.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"
#include "vmx.h"

#include "json_writer.h"
#include "nested_posted.h"
#include "remote_sender.h"

#define GUEST_ACTIVITY_ACTIVE	0
#define GUEST_ACTIVITY_HLT	1
/* VM-exit interruption information: the vector, and valid. */
#define EXIT_INTR_INFO_VALID	(1u << 31)

/* The virtual-APIC page's IRR: eight 32-bit registers, 16 bytes apart. */
#define VAPIC_IRR(i)		(APIC_IRR + 0x10 * (i))
/* Blocking by STI and by MOV SS, in the guest's interruptibility state. */
#define GUEST_BLOCKING_STI_MOVSS	3

/* What L1 asks of the CPU (KVM) for its L2, each with its VMCS field. */
#define L1_PIN_CTLS		(PIN_BASED_EXT_INTR_MASK | PIN_BASED_POSTED_INTR)
#define L1_PROC_CTLS		(CPU_BASED_TPR_SHADOW | CPU_BASED_USE_MSR_BITMAPS | \
				 CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
#define L1_PROC2_CTLS		(SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE | \
				 SECONDARY_EXEC_APIC_REGISTER_VIRT | \
				 SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY)
#define L1_EXIT_CTLS		VM_EXIT_ACK_INTR_ON_EXIT

struct nested_l1 nested_l1;

/* L2's stack: its handlers run on it too (same privilege level, no IST). */
static uint64_t l2_stack[2048] __attribute__((__aligned__(4096)));

/*
 * L2's general-purpose registers while L1 runs: a VM exit saves none of
 * them, and an exit for an interrupt comes anywhere in L2's code.  RSP,
 * RIP and RFLAGS are in the VMCS.
 */
struct l2_gprs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

static struct l2_gprs l2_gprs;

/* Used as literals below. */
_Static_assert(HOST_RSP == 0x6c14 && HOST_RIP == 0x6c16, "VMCS host RSP/RIP encodings");
_Static_assert(offsetof(struct l2_gprs, rdi) == 0x28 && offsetof(struct l2_gprs, r15) == 0x70,
	       "struct l2_gprs layout");

/*
 * int enter_l2(struct l2_gprs *gprs, bool launched): VMLAUNCH or VMRESUME
 * with L2's registers, back at L2's next exit with them saved; non-zero
 * if the entry failed.  L1's callee-saved registers and @gprs are on the
 * stack that HOST_RSP points to.
 */
int enter_l2(struct l2_gprs *gprs, bool launched);
__asm__(".pushsection .text\n"
	".type enter_l2, @function\n"
	"enter_l2:\n\t"
	"push %rbp\n\tpush %rbx\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n\t"
	"push %rdi\n\t"
	"mov $0x6c14, %eax\n\t"
	"vmwrite %rsp, %rax\n\t"
	"mov $0x6c16, %eax\n\t"
	"lea 2f(%rip), %rdx\n\t"
	"vmwrite %rdx, %rax\n\t"
	"testb %sil, %sil\n\t"
	"mov 0x00(%rdi), %rax\n\tmov 0x08(%rdi), %rbx\n\tmov 0x10(%rdi), %rcx\n\t"
	"mov 0x18(%rdi), %rdx\n\tmov 0x20(%rdi), %rsi\n\tmov 0x30(%rdi), %rbp\n\t"
	"mov 0x38(%rdi), %r8\n\tmov 0x40(%rdi), %r9\n\tmov 0x48(%rdi), %r10\n\t"
	"mov 0x50(%rdi), %r11\n\tmov 0x58(%rdi), %r12\n\tmov 0x60(%rdi), %r13\n\t"
	"mov 0x68(%rdi), %r14\n\tmov 0x70(%rdi), %r15\n\t"
	"mov 0x28(%rdi), %rdi\n\t"
	"jnz 1f\n\t"
	"vmlaunch\n\t"
	"jmp 3f\n"
	"1:\tvmresume\n"
	/* Still here: the entry failed. */
	"3:\tpop %rdi\n\t"
	"mov $1, %eax\n\t"
	"jmp 4f\n"
	/* The VM exit: RSP is HOST_RSP, every other register L2's. */
	"2:\tpush %rdi\n\t"
	"mov 8(%rsp), %rdi\n\t"
	"mov %rax, 0x00(%rdi)\n\tmov %rbx, 0x08(%rdi)\n\tmov %rcx, 0x10(%rdi)\n\t"
	"mov %rdx, 0x18(%rdi)\n\tmov %rsi, 0x20(%rdi)\n\tmov %rbp, 0x30(%rdi)\n\t"
	"mov %r8, 0x38(%rdi)\n\tmov %r9, 0x40(%rdi)\n\tmov %r10, 0x48(%rdi)\n\t"
	"mov %r11, 0x50(%rdi)\n\tmov %r12, 0x58(%rdi)\n\tmov %r13, 0x60(%rdi)\n\t"
	"mov %r14, 0x68(%rdi)\n\tmov %r15, 0x70(%rdi)\n\t"
	"pop %rax\n\t"
	"mov %rax, 0x28(%rdi)\n\t"
	"pop %rdi\n\t"
	"xor %eax, %eax\n"
	"4:\tpop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbx\n\tpop %rbp\n\t"
	"ret\n\t"
	".size enter_l2, . - enter_l2\n"
	".popsection");

/*
 * Posted interrupts on top of prepare_vmcs()'s defaults.  The MSR bitmap
 * is all zeroes: with x2APIC virtualization, L2's EOI and TPR writes and
 * its APIC reads go to the virtual-APIC page, not to L1's APIC.
 */
static void enable_posted_interrupts(void)
{
	unsigned int i;

	vmwrite(PIN_BASED_VM_EXEC_CONTROL, vmreadz(PIN_BASED_VM_EXEC_CONTROL) | L1_PIN_CTLS);
	vmwrite(CPU_BASED_VM_EXEC_CONTROL, vmreadz(CPU_BASED_VM_EXEC_CONTROL) | L1_PROC_CTLS);
	vmwrite(SECONDARY_VM_EXEC_CONTROL, vmreadz(SECONDARY_VM_EXEC_CONTROL) | L1_PROC2_CTLS);
	vmwrite(VM_EXIT_CONTROLS, vmreadz(VM_EXIT_CONTROLS) | L1_EXIT_CTLS);
	vmwrite(VIRTUAL_APIC_PAGE_ADDR, nested_l1.vapic_gpa);
	vmwrite(TPR_THRESHOLD, 0);
	for (i = 0; i < 4; i++)
		vmwrite(EOI_EXIT_BITMAP0 + 2 * i, 0);
	vmwrite(GUEST_INTR_STATUS, 0);
	vmwrite(POSTED_INTR_NV, NESTED_PI_NV);
	vmwrite(POSTED_INTR_DESC_ADDR, nested_l1.pi_desc_gpa);
}

/*
 * An interrupt for L1 itself, acknowledged by the exit: counted as taken
 * where it interrupted L2.  That exit is its delivery, not a gap in the
 * timeline of an L2 that dwells.
 */
static void take_exit_interrupt(uint8_t vector)
{
	struct ex_regs regs = { .vector = vector, .rflags = X86_EFLAGS_IF };

	WRITE_ONCE(this_ipi_vcpu()->loop_tsc, rdtsc());
	if (ipi_guest_accept(&regs))
		ipi_guest_eoi();
}

/*
 * External-interrupt exiting ignores L2's IF, but L2 and L1 share the
 * record, and L2 updates its timeline with IF=0: L1 counts an interrupt
 * that exits there only at the interrupt-window exit after it, keeping it
 * in service (unacknowledged by EOI) meanwhile.
 */
static uint8_t deferred[8];
static unsigned int nr_deferred;

static void set_window_exiting(bool on)
{
	uint64_t ctls = vmreadz(CPU_BASED_VM_EXEC_CONTROL);

	vmwrite(CPU_BASED_VM_EXEC_CONTROL, on ? ctls | CPU_BASED_INTR_WINDOW_EXITING :
						ctls & ~CPU_BASED_INTR_WINDOW_EXITING);
}

static void l1_interrupt(uint8_t vector)
{
	if (vmreadz(GUEST_RFLAGS) & X86_EFLAGS_IF) {
		take_exit_interrupt(vector);
		return;
	}
	GUEST_ASSERT(nr_deferred < ARRAY_SIZE(deferred));
	deferred[nr_deferred++] = vector;
	nested_l1.deferred++;
	set_window_exiting(true);
}

/* One exit of L2's; false once L2 is done. */
static bool handle_exit(void)
{
	uint32_t reason = vmreadz(VM_EXIT_REASON);
	unsigned int i;
	uint64_t info;

	/* An event L2 was being delivered when it exited: none of ours re-injects one. */
	__GUEST_ASSERT(!(vmreadz(IDT_VECTORING_INFO_FIELD) & EXIT_INTR_INFO_VALID),
		       "L2 exit %u during event delivery, IDT-vectoring info 0x%lx", reason,
		       vmreadz(IDT_VECTORING_INFO_FIELD));
	switch (reason) {
	case EXIT_REASON_EXTERNAL_INTERRUPT:
		info = vmreadz(VM_EXIT_INTR_INFO);
		GUEST_ASSERT(info & EXIT_INTR_INFO_VALID);
		/* L1 lets L2 go on past its hlt, as after any interrupt of L2's. */
		if (vmreadz(GUEST_ACTIVITY_STATE) == GUEST_ACTIVITY_HLT) {
			vmwrite(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
			nested_l1.wakes_from_hlt++;
		}
		if ((uint8_t)info == NESTED_PI_NV) {
			/*
			 * Recognized in VMX non-root operation, the notification
			 * is processed, never an exit (SDM 29.6).  An L1 that
			 * trusts that, as this one does, dismisses it and leaves
			 * the PIR alone: what it held shows as lost.
			 */
			nested_l1.nv_exits++;
			x2apic_write_reg(APIC_EOI, 0);
		} else {
			nested_l1.ext_intr_exits++;
			l1_interrupt((uint8_t)info);
		}
		return true;
	case EXIT_REASON_INTERRUPT_WINDOW:
		set_window_exiting(false);
		for (i = 0; i < nr_deferred; i++)
			take_exit_interrupt(deferred[i]);
		nr_deferred = 0;
		return true;
	case EXIT_REASON_CPUID:
		nested_l1.cpuid_exits++;
		vmwrite(GUEST_RIP, vmreadz(GUEST_RIP) + vmreadz(VM_EXIT_INSTRUCTION_LEN));
		vmwrite(GUEST_INTERRUPTIBILITY_INFO,
			vmreadz(GUEST_INTERRUPTIBILITY_INFO) & ~GUEST_BLOCKING_STI_MOVSS);
		return true;
	case EXIT_REASON_VMCALL:
		return false;
	default:
		GUEST_FAIL("L2 exit reason %u at 0x%lx, qualification 0x%lx", reason,
			   vmreadz(GUEST_RIP), vmreadz(EXIT_QUALIFICATION));
		return false;
	}
}

/*
 * L1 runs with IF=0 throughout, as hypervisors run around VM entry: an
 * interrupt for it that comes while it is in root operation stays pending
 * in its APIC, and the next VM entry must exit with it at once (or, for
 * the notification vector, process it as posted).
 */
void nested_l1_run(void (*l2_code)(void))
{
	struct vmx_pages *vmx = nested_l1.vmx;
	bool launched = false;
	int r;

	ipi_irq_disable();
	GUEST_ASSERT(prepare_for_vmx_operation(vmx));
	GUEST_ASSERT(load_vmcs(vmx));
	/* As if called: the ABI's alignment at a function's first instruction. */
	prepare_vmcs(vmx, l2_code, &l2_stack[ARRAY_SIZE(l2_stack) - 1]);
	enable_posted_interrupts();
	do {
		nested_l1.entries++;
		r = enter_l2(&l2_gprs, launched);
		__GUEST_ASSERT(!r, "VM entry failed: VM-instruction error %lu",
			       vmreadz(VM_INSTRUCTION_ERROR));
		launched = true;
	} while (handle_exit());
}

void nested_l2_done(void)
{
	vmcall();
}

/* As a hypervisor posts: the PIR bit, then ON; only the one that set ON notifies. */
void nested_pi_post(uint32_t dest, uint8_t vector)
{
	struct nested_pi_desc *pi = nested_l1.pi_desc;

	__atomic_fetch_add(&nested_l1.posts, 1, __ATOMIC_RELAXED);
	__atomic_fetch_or(&pi->pir[vector / 64], 1ull << (vector % 64), __ATOMIC_SEQ_CST);
	/*
	 * Negative control: the PIR bit, and nothing to say it is there.
	 * Not ON alone without the IPI: KVM then processes the descriptor
	 * at the vCPU's next entry anyway, if an earlier notification left
	 * nested.pi_pending set (measured, README).  Without ON it does not,
	 * and neither does the CPU until the next notification, which the
	 * sender never makes while this one is outstanding.
	 */
	if (ipi_guest_fault_now(IPI_FAULT_PI_NO_NOTIFY))
		return;
	if (__atomic_fetch_or(&pi->control, PI_ON, __ATOMIC_SEQ_CST) & PI_ON) {
		__atomic_fetch_add(&nested_l1.merged, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&nested_l1.notifications, 1, __ATOMIC_RELAXED);
	ipi_guest_write_icr(dest, APIC_DM_FIXED | APIC_INT_ASSERT | APIC_DEST_PHYSICAL |
			    NESTED_PI_NV);
}

/* ---- host side ---- */

static void require_allowed(uint32_t msr, uint32_t bits, const char *what)
{
	uint32_t allowed1 = kvm_get_feature_msr(msr) >> 32;

	__TEST_REQUIRE((allowed1 & bits) == bits,
		       "KVM does not offer its L1 %s (kvm_intel without APICv, or too old)", what);
}

void nested_posted_require(void)
{
	__TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_VMX),
		       "no VMX for the guest (not kvm_intel, or nested=0): no L1 hypervisor to run");
	require_allowed(MSR_IA32_VMX_TRUE_PINBASED_CTLS, L1_PIN_CTLS, "posted interrupts");
	require_allowed(MSR_IA32_VMX_TRUE_PROCBASED_CTLS, L1_PROC_CTLS, "a TPR shadow");
	require_allowed(MSR_IA32_VMX_PROCBASED_CTLS2, L1_PROC2_CTLS,
			"virtual-interrupt delivery with x2APIC virtualization");
	require_allowed(MSR_IA32_VMX_TRUE_EXIT_CTLS, L1_EXIT_CTLS, "acknowledge-on-exit");
}

void nested_posted_setup(struct ipi_vm *ivm)
{
	struct nested_l1 *l1 = addr_gva2hva(ivm->vm, (vm_vaddr_t)&nested_l1);
	vm_vaddr_t vmx_gva, pi_gva, vapic_gva;

	vcpu_alloc_vmx(ivm->vm, &vmx_gva);
	pi_gva = vm_vaddr_alloc_page(ivm->vm);
	vapic_gva = vm_vaddr_alloc_page(ivm->vm);
	memset(addr_gva2hva(ivm->vm, pi_gva), 0, getpagesize());
	memset(addr_gva2hva(ivm->vm, vapic_gva), 0, getpagesize());

	l1->vmx = (struct vmx_pages *)vmx_gva;
	l1->pi_desc = (struct nested_pi_desc *)pi_gva;
	l1->pi_desc_gpa = addr_gva2gpa(ivm->vm, pi_gva);
	l1->vapic = (void *)vapic_gva;
	l1->vapic_gpa = addr_gva2gpa(ivm->vm, vapic_gva);
}

/* L1's counts, and what was left in the descriptor and L2's virtual IRR. */
void nested_posted_report(struct ipi_vm *ivm, struct json_writer *w)
{
	const struct nested_l1 *l1 = addr_gva2hva(ivm->vm, (vm_vaddr_t)&nested_l1);
	const struct nested_pi_desc *pi = addr_gva2hva(ivm->vm, (vm_vaddr_t)l1->pi_desc);
	const uint8_t *vapic = addr_gva2hva(ivm->vm, (vm_vaddr_t)l1->vapic);
	uint64_t pir = 0, virr = 0;
	unsigned int i;

	for (i = 0; i < 4; i++)
		pir += __builtin_popcountll(pi->pir[i]);
	for (i = 0; i < 8; i++)
		virr += __builtin_popcount(*(const uint32_t *)(vapic + VAPIC_IRR(i)));

	json_begin_object(w, "nested");
	json_u64(w, "notification_vector", NESTED_PI_NV);
	json_u64(w, "entries", l1->entries);
	json_u64(w, "ext_intr_exits", l1->ext_intr_exits);
	json_u64(w, "wakes_from_hlt", l1->wakes_from_hlt);
	json_u64(w, "deferred_to_window", l1->deferred);
	json_u64(w, "cpuid_exits", l1->cpuid_exits);
	json_u64(w, "nv_exits", l1->nv_exits);
	json_u64(w, "posts", l1->posts);
	json_u64(w, "notifications", l1->notifications);
	json_u64(w, "merged", l1->merged);
	json_u64(w, "sent_to_blocked_l2",
		 ((struct remote_batch *)addr_gva2hva(ivm->vm, (vm_vaddr_t)&ipi_remote))->sent_blocked);
	json_bool(w, "left_on", pi->control & PI_ON);
	json_u64(w, "left_in_pir", pir);
	json_u64(w, "left_in_virtual_irr", virr);
	json_end_object(w);
}
