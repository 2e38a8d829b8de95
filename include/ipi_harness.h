/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IPI harness: exact accounting of interrupts sent to and received by
 * guest vCPUs, on top of the KVM selftests library.
 *
 * Every vCPU owns a struct ipi_vcpu in guest memory, found by the guest
 * through its GS base and by the host through addr_gva2hva().  Senders
 * (guest or host) count each send and stamp its TSC, in the guest's TSC
 * timeline, in the receiver's per-vector slot before sending; the
 * receiver's handler counts the vector and records send-to-handler latency.
 * Comparing the two counts per (vCPU, vector) gives lost, duplicate and
 * spurious interrupts without any assumption about the delivery path.
 *
 * One outstanding send per (receiver, vector) is needed for exact latency:
 * the architecture merges a second send of a pending vector into the same
 * IRR bit.
 */
#ifndef IPI_HARNESS_H
#define IPI_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/compiler.h>

#include "lat_hist.h"

#define IPI_NR_VECTORS		256
#define IPI_FIRST_VECTOR	32
#define IPI_MAX_VCPUS		64

/* Harness-owned: the watchdog's wake-up MSI for a vCPU that stopped making progress. */
#define IPI_WAKE_VECTOR		0xfe
/* Harness-owned: the end-of-run kick. */
#define IPI_KICK_VECTOR		0xfc
/* Harness-owned: the uncounted warm-up interrupts, no intervention. */
#define IPI_WARM_VECTOR		0xfb
/* For tests: a counted IPI that tells a halted receiver the senders are done. */
#define IPI_DONE_VECTOR		0xfd

/* Guest exits to userspace that the vCPU threads take as churn, not errors. */
#define IPI_CHURN_PORT		0x7e
#define IPI_CHURN_GPA		0xc0000000ull

#define X2APIC_SELF_IPI		0x3f0
/* Not in every kernel's selftests apic.h. */
#ifndef APIC_LDR
#define APIC_LDR		0xd0
#endif
#ifndef APIC_DFR
#define APIC_DFR		0xe0
#endif
#define APIC_DFR_FLAT		0xffffffffu
#ifndef APIC_ESR
#define APIC_ESR		0x280
#endif

enum ipi_fault {
	IPI_FAULT_NONE,
	IPI_FAULT_LOST,		/* send with the receiving APIC software-disabled */
	IPI_FAULT_PHANTOM,	/* count a send that is never made */
	IPI_FAULT_NO_EOI,	/* the handler skips one EOI: the vector stays in service */
	IPI_FAULT_DUPLICATE,	/* send once more after delivery, uncounted */
	IPI_FAULT_DOUBLE_COUNT,	/* the handler counts one delivery twice */
	IPI_FAULT_SPURIOUS,	/* send an uncounted vector */
	IPI_FAULT_DELAYED,	/* hold the interrupt off (IF=0) past the threshold */
	IPI_FAULT_TPR_MASK,	/* the receiver masks by TPR past the threshold */
	IPI_FAULT_HELD,		/* a dwell receiver masks by TPR across an exit */
	IPI_FAULT_RESCUED,	/* the receiver halts with its interrupt masked by TPR */
	IPI_FAULT_STRANDED,	/* the receiver halts with nothing coming */
	IPI_FAULT_CLOCK,	/* the host's TSC conversion is put off by 10 ms */
	IPI_FAULT_TSC_WRITE,	/* the guest moves its own TSC: the offset changes mid-run */
	IPI_FAULT_MASKED,	/* the receiver raises its vector with INT n while IF=0 */
	IPI_FAULT_MISORDER,	/* ... a lower vector with INT n while higher ones are pending */
	IPI_FAULT_ILLEGAL,	/* ... its illegal vector with INT n, as if the APIC took it */
	IPI_FAULT_NMI_UNBLOCK,	/* an NMI handler IRETs to itself, unblocking NMIs early */
	IPI_FAULT_PI_NO_NOTIFY,	/* an L1 posts to its L2: the PIR bit, but neither ON nor the IPI */
	IPI_NR_FAULTS,
};

#define IPI_FAULT_BIT(f)	(1u << (f))
/* Faults the handler injects, whatever the test's sending code. */
#define IPI_HANDLER_FAULTS	(IPI_FAULT_BIT(IPI_FAULT_NO_EOI) | \
				 IPI_FAULT_BIT(IPI_FAULT_DOUBLE_COUNT))
/* Faults ipi_guest_send() injects. */
#define IPI_SEND_FAULTS		(IPI_FAULT_BIT(IPI_FAULT_LOST) | \
				 IPI_FAULT_BIT(IPI_FAULT_PHANTOM) | \
				 IPI_FAULT_BIT(IPI_FAULT_DUPLICATE) | \
				 IPI_FAULT_BIT(IPI_FAULT_SPURIOUS) | \
				 IPI_FAULT_BIT(IPI_FAULT_DELAYED))

static inline bool ipi_harness_vector(unsigned int vector)
{
	return vector == IPI_WAKE_VECTOR || vector == IPI_KICK_VECTOR ||
	       vector == IPI_WARM_VECTOR;
}

/*
 * Both sides of the latest send: @tsc just before it, @end_tsc once the
 * ICR write or the ioctl returned, published by @end_seq == @sent.  A
 * posted interrupt can land, and be held, anywhere between the two.
 */
struct ipi_tx_slot {
	uint64_t sent;
	uint64_t tsc;
	uint64_t end_seq;
	uint64_t end_tsc;
};

/*
 * The guest's own timeline, for receivers that dwell: where it left the
 * guest and came back.  @out_tsc is the last TSC it saw before leaving,
 * @in_tsc the first after (0 while the exit is in progress), @clock its
 * running time, IF=1, up to @out_tsc.  See ipi_classify.h.
 */
enum ipi_mark_kind {
	IPI_MARK_START,		/* the timeline began */
	IPI_MARK_GAP,		/* an exit the guest did not ask for, seen as a TSC gap */
	IPI_MARK_EXIT,		/* an exit the test makes (the dwell's cpuid) */
	IPI_MARK_HARNESS,	/* an exit the harness makes (drain, quiet) */
};

struct ipi_mark {
	uint64_t out_tsc;
	uint64_t in_tsc;
	uint64_t clock;
	uint64_t kind;
};

#define IPI_NR_MARKS		64

/*
 * A delivery that was still pending, its send complete, across an exit
 * (held, or rescued if the harness made it) or a harness interrupt
 * (rescued): the classifier's raw material.  @window is how long it had
 * been pending before that point: guest running time for exits, TSC time
 * for interventions.
 */
enum ipi_crossing_kind {
	IPI_CROSS_EXIT,		/* a test exit: held if @window > margin */
	IPI_CROSS_GAP,		/* with posted interrupts, an exit it did not ask for: held too */
	IPI_CROSS_HARNESS_EXIT,	/* a drain or quiet exit: rescued */
	IPI_CROSS_WAKE,		/* the watchdog's wake-up: rescued */
	IPI_CROSS_KICK,		/* the end-of-run kick: rescued */
	IPI_NR_CROSS_KINDS,
};

struct ipi_crossing {
	uint8_t kind;
	uint8_t vector;
	uint16_t fault;		/* a negative control made this one on purpose */
	uint32_t pad;
	uint64_t window;
	uint64_t send_tsc;
	uint64_t send_end_tsc;
	uint64_t point_tsc;	/* the exit's out_tsc, or the intervention's send */
	uint64_t back_tsc;	/* the exit's in_tsc (0: delivered at that entry) */
	uint64_t rx_tsc;
};

#define IPI_MAX_CROSSINGS	512
#define IPI_MAX_FAULT_WINDOWS	1024

/* A halt that only the watchdog's wake-up ended. */
struct ipi_strand {
	uint64_t hlt_tsc;
	uint64_t wake_sent_tsc;
	uint64_t rx_tsc;
};

#define IPI_MAX_STRANDS		8

/*
 * An interrupt taken with IF=0, in an STI shadow, or with a vector whose
 * priority class the TPR masked: where it interrupted.
 */
struct ipi_masked {
	uint64_t vector;
	uint64_t in_shadow;
	uint64_t tpr;			/* the TPR in force, as the guest wrote it */
	uint64_t rip;
	uint64_t rflags;
	uint64_t tsc;
};

#define IPI_MAX_MASKED		8

/* A delivery against the priority rules: what came, what should have, and the ISR's top. */
struct ipi_misorder {
	uint64_t vector;
	uint64_t expected;	/* the vector that should have come first, or 0 */
	uint64_t in_service;	/* the highest vector in service (0: none), or the NMI depth */
	uint64_t tsc;
};

#define IPI_MAX_MISORDERS	8

struct ipi_vcpu {
	struct ipi_vcpu *self;		/* %gs:0 */
	uint32_t index;
	uint32_t x2apic;

	/* Written only by this vCPU. */
	uint64_t received[IPI_NR_VECTORS];
	/*
	 * Per vector: the send sequence last delivered, and deliveries of one
	 * already delivered.  Flow control waits on delivered_seq, never on
	 * received[]: a count that a bug (or the double_count control)
	 * inflates would let a send into a vector still pending in the IRR.
	 */
	uint64_t delivered_seq[IPI_NR_VECTORS];
	uint32_t received_again[IPI_NR_VECTORS];
	uint64_t delayed;		/* late, or slower than the threshold */
	uint64_t late;			/* not taken where the architecture says it must be */
	uint8_t late_pending[IPI_NR_VECTORS];
	uint64_t clock_skew;		/* handler TSC before send TSC */
	uint64_t max_clock_skew;	/* ... by this much at most */
	uint64_t missed_waits;		/* bounded waits that gave up */
	uint64_t sends;			/* sends made by this vCPU, for fault_every */
	uint64_t fault_points;		/* ipi_guest_fault_now() calls, for fault_every */
	uint64_t deliveries;		/* counted deliveries, for fault_every */
	uint64_t faults_injected;	/* negative-control faults actually made */
	uint64_t last_rx_tsc;
	uint64_t last_rx_vector;
	uint64_t max_latency[IPI_NR_VECTORS];
	uint32_t delayed_by_vector[IPI_NR_VECTORS];
	uint64_t delayed_by_fault;	/* ... of them, let in by a control's release */
	uint64_t progress;		/* heartbeat for the host watchdog */
	uint64_t churn_exits;		/* exits made on purpose (ipi_guest_note_exit()) */
	uint64_t churn_exit_tsc;	/* ... and the TSC just before the latest */

	/* The timeline of a dwelling receiver; @timed: it keeps one. */
	uint32_t timed;
	uint32_t fault_release;		/* the held or tpr_mask control lets its interrupts in */
	uint64_t gap_cycles;		/* a longer step in its TSC loop is an exit */
	uint64_t loop_tsc;		/* its TSC loop's latest look */
	uint64_t nr_marks;
	struct ipi_mark marks[IPI_NR_MARKS];
	/* Deliveries that crossed nothing: how long they took, the margin's basis. */
	uint64_t prompt;
	uint64_t prompt_max_run;	/* guest running time from the send's end */
	/* TSC time from the send's end, of any delivery the harness did not intervene in */
	uint64_t prompt_max_tsc;
	uint64_t nr_crossings;
	struct ipi_crossing crossings[IPI_MAX_CROSSINGS];
	uint64_t stranded;
	struct ipi_strand strands[IPI_MAX_STRANDS];
	/* Interrupts taken with IF=0, inside an STI shadow or under the TPR, and where. */
	uint64_t taken_masked;
	/*
	 * The TPR the guest set (ipi_guest_apic_write()), for the handler to
	 * judge against: the lower of the old and new value while a write is
	 * under way, so that no legitimate delivery is ever judged masked.
	 */
	uint32_t tpr;
	uint64_t shadow_deliveries;	/* ... of them, the test's, in a shadow */
	struct ipi_masked masked[IPI_MAX_MASKED];
	/*
	 * Deliveries against the APIC's priority rules, as the test saw them
	 * (ipi_guest_misordered()): a lower vector taken while a higher one
	 * was pending, one its class's PPR masked, an NMI inside an NMI.
	 */
	uint64_t misordered;
	struct ipi_misorder misorders[IPI_MAX_MISORDERS];
	/* Illegal vectors (0-15) sent or received with no APIC error in the ESR. */
	uint64_t no_esr;
	uint64_t fault_released;	/* held control: deliveries it let in after an exit */
	uint64_t fault_windows[IPI_MAX_FAULT_WINDOWS];	/* ... and how long each was held */
	struct lat_hist latency;	/* send TSC to handler entry */
	struct lat_hist iteration;	/* one test iteration, as the test defines it */
	struct lat_hist eoi;		/* the handler's EOI write */

	/* Written by senders. */
	struct ipi_tx_slot tx[IPI_NR_VECTORS];
} __aligned(4096);

/* Global guest state; the host writes it before the first KVM_RUN. */
struct ipi_guest_config {
	uint64_t delay_threshold;	/* cycles */
	uint64_t wait_timeout;		/* cycles a bounded guest wait may last */
	uint64_t dwell;			/* cycles a "dwell" receiver stays in after an exit */
	uint64_t count;			/* sends per vCPU, for the test's loop */
	uint64_t duration;		/* cycles to send for instead, if not 0 */
	uint32_t nr_vcpus;
	uint32_t fault;			/* enum ipi_fault */
	uint64_t fault_every;		/* inject on every Nth send */
	struct ipi_vcpu *vcpus;		/* guest virtual address */
	uint32_t stop;
	uint32_t ready;			/* vCPUs past ipi_guest_init() */
	uint32_t check_icr;
	uint32_t host_done;		/* host injectors have sent everything */
	uint32_t quiet;			/* vCPUs that will send nothing more */
	/*
	 * Posted interrupts (APICv, AVIC) are configured: an interrupt to a
	 * running vCPU must arrive without another exit, so one that waited
	 * for an exit the guest did not ask for was held too.  On the
	 * software path that exit may be the kick that delivers it.
	 */
	uint32_t posted;
};

extern struct ipi_guest_config ipi_config;

/* ---- guest side ---- */

static inline struct ipi_vcpu *this_ipi_vcpu(void)
{
	struct ipi_vcpu *v;

	__asm__ __volatile__("mov %%gs:0, %0" : "=r"(v));
	return v;
}

static inline void ipi_irq_disable(void)
{
	__asm__ __volatile__("cli" ::: "memory");
}

static inline void ipi_irq_enable(void)
{
	__asm__ __volatile__("sti" ::: "memory");
}

/* Halt with interrupts enabled, no window between STI and HLT; IF=0 after. */
/*
 * "sti; hlt; cli", and a halt only the watchdog ended counts as stranded.
 * Call with IF=0.
 */
void ipi_guest_halt(void);

/*
 * "sti; nop; cli": a pending interrupt is taken after the nop, at the cli,
 * never before the nop (the STI shadow).  Call with IF=0.
 */
void ipi_guest_sti_nop_cli(void);

typedef void (*ipi_send_fn)(uint32_t dest, uint8_t vector);

struct ex_regs;

struct ipi_vcpu *ipi_guest_init(bool x2apic);
void ipi_guest_note_exit(struct ipi_vcpu *self);
void ipi_guest_exit_and_dwell(struct ipi_vcpu *self);
uint64_t ipi_guest_stamp(uint32_t dest_index, uint8_t vector);
void ipi_guest_stamp_end(uint32_t dest_index, uint8_t vector, uint64_t seq);
void ipi_guest_timeline_start(struct ipi_vcpu *self);
void ipi_guest_send(ipi_send_fn send, uint32_t dest_index, uint8_t vector);
bool ipi_guest_fault_now(enum ipi_fault fault);
bool ipi_guest_wait(uint8_t vector, uint64_t expected);
void ipi_guest_expect_delivered(uint8_t vector, uint64_t expected);
void ipi_guest_apic_write(unsigned int reg, uint32_t val);
bool ipi_guest_wait_for(struct ipi_vcpu *dest, uint8_t vector, uint64_t expected);
bool ipi_guest_wait_delivered(struct ipi_vcpu *dest, uint8_t vector);
void ipi_guest_drain(void);
void ipi_guest_handler(struct ex_regs *regs);
bool ipi_guest_accept(struct ex_regs *regs);
void ipi_guest_misordered(uint8_t vector, uint8_t expected, uint32_t in_service);
void ipi_guest_eoi(void);
uint32_t ipi_guest_read_esr(void);
bool ipi_guest_should_stop(void);
bool ipi_guest_host_done(void);
void ipi_guest_quiet(void);
bool ipi_guest_more(uint64_t iteration, uint64_t start_tsc);
void ipi_guest_wait_all_ready(void);
void ipi_guest_write_icr(uint32_t dest, uint32_t low);

/* Send helpers for the common APIC paths. */
void x2apic_send_icr_self(uint32_t dest, uint8_t vector);
void x2apic_send_self_ipi(uint32_t dest, uint8_t vector);

/* ---- host side ---- */

struct kvm_vm;
struct kvm_vcpu;
struct kvm_stats_snapshot;

struct ipi_options;

struct json_writer;

struct ipi_vm {
	struct kvm_vm *vm;
	unsigned int nr_vcpus;
	struct kvm_vcpu *vcpus[IPI_MAX_VCPUS];
	struct ipi_vcpu *rec[IPI_MAX_VCPUS];	/* host view of guest records */
	struct ipi_guest_config *config;	/* host view of ipi_config */
	int64_t tsc_offset[IPI_MAX_VCPUS];	/* guest TSC - host TSC */
	uint64_t tsc_offset_err[IPI_MAX_VCPUS];
	int64_t tsc_drift[IPI_MAX_VCPUS];	/* the offset at the end, less at the start */
	bool tsc_unstable;			/* ... moved beyond both measurements' error */
	int64_t tsc_fault_shift;		/* the clock control's deliberate error */
	uint64_t tsc_khz;
	uint64_t stall_ms;
	uint64_t start_ms;		/* the VM's creation */
	uint64_t deadline_ms;		/* from then: the watchdog stops the run there */
	bool pin;
	uint64_t migrate_us;
	uint64_t migrations;
	uint64_t kick_us;		/* signal vCPU threads out of KVM_RUN this often */
	uint64_t kicks;
	unsigned int busy_threads;	/* host threads competing for the CPUs */
	int64_t halt_poll_ns;		/* -1: KVM's default */
	uint64_t progress_s;		/* print a progress line this often, 0: never */
	/* Per vCPU: guest exits to userspace, and the TSC of the latest. */
	uint64_t exits[IPI_MAX_VCPUS];
	uint64_t exit_tsc[IPI_MAX_VCPUS];
	uint64_t host_missed_waits;	/* host senders that skipped a busy vector */
	pthread_t *threads;		/* the vCPU threads, while ipi_vm_run() runs */
	uint64_t host_faults_injected;
	uint64_t wakes_sent;
	bool aborted;			/* ... and finally stopped the run */
	bool deadline_passed;		/* ... because the variant's time was up */
	struct kvm_stats_snapshot *stats_before[IPI_MAX_VCPUS];
	struct kvm_stats_snapshot *stats_after[IPI_MAX_VCPUS];

	/*
	 * A test's interrupt sources left stuck at the end (an IOAPIC pin
	 * whose remote IRR never cleared), and its own exits to userspace (a
	 * device register): @on_exit returns true for one it handled.
	 */
	uint64_t stuck;
	bool (*on_exit)(struct ipi_vm *ivm, struct kvm_vcpu *vcpu);

	/* A test's own host-side state, its part of the results, and its end. */
	void *extra;
	void (*on_running)(struct ipi_vm *ivm);	/* all vCPU threads started */
	void (*on_stopped)(struct ipi_vm *ivm);	/* all vCPU threads joined */
	void (*report_extra)(struct ipi_vm *ivm, struct json_writer *w);
	void (*free_extra)(struct ipi_vm *ivm);
};

struct ipi_vm *ipi_vm_create(unsigned int nr_vcpus, void *guest_code,
			     const struct ipi_options *opts);
void ipi_vm_run(struct ipi_vm *ivm);
void ipi_vm_free(struct ipi_vm *ivm);
/* With --pin, on host CPU @slot mod online CPUs: vCPU i's slot is i, others follow. */
void ipi_thread_create(struct ipi_vm *ivm, pthread_t *thread, unsigned int slot,
		       void *(*fn)(void *), void *arg);

uint64_t ipi_host_stamp(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector);
void ipi_host_stamp_end(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector,
			uint64_t seq);
bool ipi_host_vector_free(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector);
int __ipi_host_send_msi(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector);
void ipi_host_kick_vcpus(struct ipi_vm *ivm);
void ipi_host_end_run(struct ipi_vm *ivm);
void ipi_host_wait_guest_ready(struct ipi_vm *ivm);
void ipi_host_warm_up(struct ipi_vm *ivm, unsigned int dest_index, uint64_t grace_cycles);
uint64_t ipi_host_now_ns(void);

/* What a host sender takes from the options: how much to send, how long to wait, which fault. */
struct ipi_host_pace {
	uint64_t count;
	uint64_t duration_ns;		/* instead of count, if not 0 */
	uint64_t grace_cycles;
	enum ipi_fault fault;
	uint64_t fault_every;
};

void ipi_host_pace_init(struct ipi_host_pace *p, const struct ipi_vm *ivm,
			const struct ipi_options *o);
bool ipi_host_more(const struct ipi_vm *ivm, const struct ipi_host_pace *p, uint64_t k,
		   uint64_t start_ns);
void ipi_host_send_msi(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector);

/* Re-measure every vCPU's guest TSC offset, e.g. after a guest TSC write. */
void ipi_vm_calibrate_tsc(struct ipi_vm *ivm);
uint64_t host_tsc_to_guest(const struct ipi_vm *ivm, unsigned int vcpu_index,
			   uint64_t host_tsc);
uint64_t guest_tsc_to_host(const struct ipi_vm *ivm, unsigned int vcpu_index,
			   uint64_t guest_tsc);

#endif /* IPI_HARNESS_H */
