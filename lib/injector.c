// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host injector threads; see injector.h.  Host-only (it reports rates in
 * floating point).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "injector.h"
#include "ipi_options.h"
#include "json_writer.h"

struct injector {
	struct injectors *set;
	unsigned int index;
	unsigned int target;
	uint8_t first_vector;
	int efd[INJECTOR_VECTORS];
	uint32_t first_gsi;
	pthread_t thread;
	uint64_t sent;
	uint64_t missed_waits;
	double seconds;
};

struct injectors {
	struct ipi_vm *ivm;
	struct injector_params p;
	struct ipi_host_pace pace;
	unsigned int nr_vectors;	/* per injector: INJECTOR_VECTORS, or IOAPIC_PINS */
	unsigned int running;
	struct injector inj[MAX_INJECTORS];
};

#define IOAPIC_FIRST_PIN	16
#define IOAPIC_PINS		8

static const char * const kind_names[] = {
	[INJ_MSI] = "msi", [INJ_IRQFD] = "irqfd", [INJ_IOAPIC] = "ioapic",
};

static const char * const timing_names[] = {
	[INJ_BACK_TO_BACK] = "back_to_back", [INJ_PERIOD] = "period",
	[INJ_JITTER] = "jitter", [INJ_SWEEP] = "sweep",
};

const char *injector_kind_name(enum injector_kind kind)
{
	return kind_names[kind];
}

const char *injector_timing_name(enum injector_timing timing)
{
	return timing_names[timing];
}

static uint64_t ns_to_cycles(const struct injectors *s, uint64_t ns)
{
	return ns * s->ivm->tsc_khz / 1000000;
}

/* Until @tsc, but never past the grace period, nor once the run stopped. */
static void spin_until_tsc(const struct injectors *s, uint64_t tsc)
{
	uint64_t deadline = rdtsc() + s->pace.grace_cycles;

	while ((int64_t)(rdtsc() - tsc) < 0 && (int64_t)(rdtsc() - deadline) < 0 &&
	       !READ_ONCE(s->ivm->config->stop))
		cpu_relax();
}

/* One MSI route per vector, and an eventfd KVM signals it through. */
static void setup_irqfds(struct injectors *s)
{
	struct kvm_irq_routing *routing = kvm_gsi_routing_create();
	unsigned int i, w;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IRQFD) && kvm_has_cap(KVM_CAP_IRQ_ROUTING));
	for (i = 0; i < s->p.nr_injectors; i++) {
		struct injector *inj = &s->inj[i];

		inj->first_gsi = i * INJECTOR_VECTORS;
		for (w = 0; w < INJECTOR_VECTORS; w++) {
			struct kvm_irq_routing_entry *e = &routing->entries[routing->nr++];

			e->gsi = inj->first_gsi + w;
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = APIC_DEFAULT_GPA | (inj->target << 12);
			e->u.msi.data = inj->first_vector + w;
		}
	}
	kvm_gsi_routing_write(s->ivm->vm, routing);

	for (i = 0; i < s->p.nr_injectors; i++) {
		for (w = 0; w < INJECTOR_VECTORS; w++) {
			int fd = eventfd(0, EFD_CLOEXEC);
			struct kvm_irqfd irqfd = { .fd = fd, .gsi = s->inj[i].first_gsi + w };

			TEST_ASSERT(fd >= 0, "eventfd: %s", strerror(errno));
			vm_ioctl(s->ivm->vm, KVM_IRQFD, &irqfd);
			s->inj[i].efd[w] = fd;
		}
	}
}

/* Edge-triggered, fixed, physical, unmasked: pin IOAPIC_FIRST_PIN + w carries vector w. */
static void setup_ioapic(struct injectors *s)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct injector *inj = &s->inj[0];
	unsigned int w;

	__TEST_REQUIRE(s->p.nr_injectors == 1, "the ioapic injector has pins for one injector only");
	vm_ioctl(s->ivm->vm, KVM_GET_IRQCHIP, &chip);
	for (w = 0; w < s->nr_vectors; w++) {
		typeof(chip.chip.ioapic.redirtbl[0]) *e =
			&chip.chip.ioapic.redirtbl[IOAPIC_FIRST_PIN + w];

		e->bits = 0;
		e->fields.vector = inj->first_vector + w;
		e->fields.dest_id = inj->target;
	}
	vm_ioctl(s->ivm->vm, KVM_SET_IRQCHIP, &chip);
}

static void inject(struct injector *inj, unsigned int w)
{
	struct injectors *s = inj->set;
	uint8_t vector = inj->first_vector + w;
	uint64_t one = 1, seq;

	if (s->pace.fault == IPI_FAULT_PHANTOM && !((inj->sent + 1) % s->pace.fault_every)) {
		ipi_host_stamp_end(s->ivm, inj->target, vector,
				   ipi_host_stamp(s->ivm, inj->target, vector));
		__atomic_fetch_add(&s->ivm->host_faults_injected, 1, __ATOMIC_RELAXED);
		return;
	}
	if (s->p.kind == INJ_MSI) {
		ipi_host_send_msi(s->ivm, inj->target, vector);
	} else if (s->p.kind == INJ_IRQFD) {
		seq = ipi_host_stamp(s->ivm, inj->target, vector);
		TEST_ASSERT(write(inj->efd[w], &one, sizeof(one)) == sizeof(one),
			    "eventfd write: %s", strerror(errno));
		ipi_host_stamp_end(s->ivm, inj->target, vector, seq);
	} else {
		seq = ipi_host_stamp(s->ivm, inj->target, vector);
		kvm_irq_line(s->ivm->vm, IOAPIC_FIRST_PIN + w, 1);
		ipi_host_stamp_end(s->ivm, inj->target, vector, seq);
		kvm_irq_line(s->ivm->vm, IOAPIC_FIRST_PIN + w, 0);
	}
}

/* Wait, within the grace period, until the guest has taken vector @w. */
static bool wait_vector_free(struct injector *inj, unsigned int w)
{
	struct injectors *s = inj->set;
	uint64_t deadline = rdtsc() + s->pace.grace_cycles;

	while (!ipi_host_vector_free(s->ivm, inj->target, inj->first_vector + w)) {
		if (rdtsc() > deadline || READ_ONCE(s->ivm->config->stop))
			return false;
		cpu_relax();
	}
	return true;
}

/*
 * Sweep: wait for the target's next exit, as the guest stamps it just
 * before making it (in-kernel exits such as cpuid never reach userspace),
 * then @delay cycles more.
 */
static bool time_after_exit(struct injector *inj, uint64_t delay)
{
	struct injectors *s = inj->set;
	const struct ipi_vcpu *rec = s->ivm->rec[inj->target];
	uint64_t seen = READ_ONCE(rec->churn_exits);
	uint64_t deadline = rdtsc() + s->pace.grace_cycles, exit_tsc;

	while (READ_ONCE(rec->churn_exits) == seen) {
		if (rdtsc() > deadline || READ_ONCE(s->ivm->config->stop))
			return false;
		cpu_relax();
	}
	exit_tsc = guest_tsc_to_host(s->ivm, inj->target, READ_ONCE(rec->churn_exit_tsc));
	spin_until_tsc(s, exit_tsc + delay);
	return true;
}

static void *injector_main(void *arg)
{
	struct injector *inj = arg;
	struct injectors *s = inj->set;
	uint64_t period = ns_to_cycles(s, s->p.period_ns);
	uint64_t sweep_step = ns_to_cycles(s, s->p.sweep_max_ns) / (s->nr_vectors - 1);
	uint64_t k, start_ns, next = 0;
	unsigned int seed = inj->index + 1;

	ipi_host_wait_guest_ready(s->ivm);
	ipi_host_warm_up(s->ivm, inj->target, s->pace.grace_cycles);
	start_ns = ipi_host_now_ns();
	for (k = 0; ipi_host_more(s->ivm, &s->pace, k, start_ns); k++) {
		unsigned int w = k % s->nr_vectors;

		if (!wait_vector_free(inj, w)) {
			inj->missed_waits++;
			continue;
		}
		switch (s->p.timing) {
		case INJ_PERIOD:
			next = next ? next + period : rdtsc();
			spin_until_tsc(s, next);
			break;
		case INJ_JITTER:
			spin_until_tsc(s, rdtsc() + (uint64_t)rand_r(&seed) % (2 * period + 1));
			break;
		case INJ_SWEEP:
			/* Vector w always carries delay w, so the results can tell them apart. */
			if (!time_after_exit(inj, w * sweep_step)) {
				inj->missed_waits++;
				continue;
			}
			break;
		default:
			break;
		}
		inject(inj, w);
		inj->sent++;
	}
	inj->seconds = (ipi_host_now_ns() - start_ns) / 1e9;

	/* The last one out ends the run: no more sends, every vCPU round once more. */
	if (!__atomic_sub_fetch(&s->running, 1, __ATOMIC_SEQ_CST))
		ipi_host_end_run(s->ivm);
	return NULL;
}

static void start_injectors(struct ipi_vm *ivm)
{
	struct injectors *s = ivm->extra;
	unsigned int i;

	s->running = s->p.nr_injectors;
	/* Off the vCPUs' CPUs where there are enough: a race needs two. */
	for (i = 0; i < s->p.nr_injectors; i++)
		ipi_thread_create(ivm, &s->inj[i].thread, ivm->nr_vcpus + i, injector_main,
				  &s->inj[i]);
}

static void join_injectors(struct ipi_vm *ivm)
{
	struct injectors *s = ivm->extra;
	unsigned int i;

	for (i = 0; i < s->p.nr_injectors; i++)
		pthread_join(s->inj[i].thread, NULL);
	ivm->host_missed_waits = 0;
	for (i = 0; i < s->p.nr_injectors; i++)
		ivm->host_missed_waits += s->inj[i].missed_waits;
}

static void report_sweep(const struct injectors *s, const struct injector *inj,
			 struct json_writer *w)
{
	const struct ipi_vcpu *rec = s->ivm->rec[inj->target];
	uint64_t step = s->p.sweep_max_ns / (s->nr_vectors - 1);
	unsigned int k;

	json_begin_array(w, "sweep");
	for (k = 0; k < s->nr_vectors; k++) {
		uint8_t v = inj->first_vector + k;

		json_begin_object(w, NULL);
		json_u64(w, "delay_ns", k * step);
		json_u64(w, "vector", v);
		json_u64(w, "sent", rec->tx[v].sent);
		json_u64(w, "received", rec->received[v]);
		json_u64(w, "delayed", rec->delayed_by_vector[v]);
		json_u64(w, "max_latency_cycles", rec->max_latency[v]);
		json_end_object(w);
	}
	json_end_array(w);
}

static void report_injectors(struct ipi_vm *ivm, struct json_writer *w)
{
	struct injectors *s = ivm->extra;
	unsigned int i;

	json_begin_object(w, "injection");
	json_string(w, "kind", injector_kind_name(s->p.kind));
	json_string(w, "timing", injector_timing_name(s->p.timing));
	json_u64(w, "period_ns", s->p.period_ns);
	json_u64(w, "sweep_max_ns", s->p.sweep_max_ns);
	json_begin_array(w, "injectors");
	for (i = 0; i < s->p.nr_injectors; i++) {
		const struct injector *inj = &s->inj[i];

		json_begin_object(w, NULL);
		json_u64(w, "target_vcpu", inj->target);
		json_u64(w, "first_vector", inj->first_vector);
		json_u64(w, "vectors", s->nr_vectors);
		json_u64(w, "sent", inj->sent);
		json_u64(w, "missed_waits", inj->missed_waits);
		json_double(w, "seconds", inj->seconds);
		json_double(w, "per_second", inj->seconds > 0 ? inj->sent / inj->seconds : 0);
		if (s->p.timing == INJ_SWEEP)
			report_sweep(s, inj, w);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void free_injectors(struct ipi_vm *ivm)
{
	struct injectors *s = ivm->extra;
	unsigned int i, w;

	for (i = 0; i < s->p.nr_injectors; i++) {
		for (w = 0; w < INJECTOR_VECTORS && s->p.kind == INJ_IRQFD; w++)
			close(s->inj[i].efd[w]);
	}
	free(s);
	ivm->extra = NULL;
}

struct injectors *injectors_create(struct ipi_vm *ivm, const struct injector_params *p,
				   const struct ipi_options *o)
{
	struct injectors *s = calloc(1, sizeof(*s));
	unsigned int i;

	TEST_ASSERT(s, "Out of memory");
	TEST_ASSERT(p->nr_injectors && p->nr_injectors <= MAX_INJECTORS,
		    "1 to %u injectors", MAX_INJECTORS);
	s->ivm = ivm;
	s->p = *p;
	ipi_host_pace_init(&s->pace, ivm, o);
	s->nr_vectors = p->kind == INJ_IOAPIC ? IOAPIC_PINS : INJECTOR_VECTORS;
	for (i = 0; i < p->nr_injectors; i++) {
		s->inj[i].set = s;
		s->inj[i].index = i;
		s->inj[i].target = i % ivm->nr_vcpus;
		s->inj[i].first_vector = INJECTOR_FIRST_VECTOR + i * INJECTOR_VECTORS;
	}
	if (p->kind == INJ_IRQFD)
		setup_irqfds(s);
	else if (p->kind == INJ_IOAPIC)
		setup_ioapic(s);

	ivm->extra = s;
	ivm->on_running = start_injectors;
	ivm->on_stopped = join_injectors;
	ivm->report_extra = report_injectors;
	ivm->free_extra = free_injectors;
	return s;
}
