// SPDX-License-Identifier: GPL-2.0-only
/*
 * Level-triggered interrupt sources on the in-kernel IOAPIC; see
 * level_irq.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"

#include "ipi_options.h"
#include "json_writer.h"
#include "kselftest.h"
#include "level_irq.h"

uint64_t level_handled[LEVEL_PINS];

/* Why a source stopped before its count: the pin, and what it waited for. */
enum level_stall {
	STALL_NONE, STALL_NOT_TAKEN, STALL_NOT_ACKED, STALL_NOT_HANDLED, STALL_NO_RESAMPLE,
};

static const char * const stall_names[] = {
	[STALL_NONE] = NULL,
	[STALL_NOT_TAKEN] = "assertion not taken by the guest",
	[STALL_NOT_ACKED] = "device not acknowledged by the guest",
	[STALL_NOT_HANDLED] = "the guest's handler never finished with it",
	[STALL_NO_RESAMPLE] = "no resample after the guest took it (the EOI never reached the IOAPIC)",
};

struct level_pin {
	int irqfd, resamplefd;
	uint32_t line_up;	/* LEVEL_IRQ_LINE: raised, not yet acknowledged */
	uint32_t resample_due;	/* LEVEL_IRQFD_RESAMPLE: raised, its resample not yet seen */
	uint64_t asserted;
	uint64_t acks;
	uint64_t resamples;
};

struct level_sources {
	struct ipi_vm *ivm;
	enum level_kind kind;
	struct ipi_host_pace pace;
	pthread_t thread;
	double seconds;
	enum level_stall stall;
	unsigned int stall_pin;
	struct level_pin pins[LEVEL_PINS];
	const uint64_t *handled;	/* host view of level_handled */
	struct kvm_ioapic_state end;	/* the IOAPIC once every vCPU has stopped */
};

static const char * const kind_names[] = {
	[LEVEL_IRQ_LINE] = "irq_line", [LEVEL_IRQFD_RESAMPLE] = "irqfd_resample",
};

const char *level_kind_name(enum level_kind kind)
{
	return kind_names[kind];
}

static uint8_t pin_vector(unsigned int w)
{
	return LEVEL_FIRST_VECTOR + w;
}

/* Level, fixed, physical, active high, unmasked, to vCPU 0. */
static void setup_pins(struct level_sources *s)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	unsigned int w;

	vm_ioctl(s->ivm->vm, KVM_GET_IRQCHIP, &chip);
	for (w = 0; w < LEVEL_PINS; w++) {
		typeof(chip.chip.ioapic.redirtbl[0]) *e =
			&chip.chip.ioapic.redirtbl[LEVEL_FIRST_PIN + w];

		e->bits = 0;
		e->fields.vector = pin_vector(w);
		e->fields.trig_mode = 1;
		e->fields.dest_id = 0;
	}
	vm_ioctl(s->ivm->vm, KVM_SET_IRQCHIP, &chip);
}

/* An irqfd on each pin's GSI (the default routing's IOAPIC pin), with its resamplefd. */
static void setup_irqfds(struct level_sources *s)
{
	unsigned int w;

	__TEST_REQUIRE(kvm_has_cap(KVM_CAP_IRQFD_RESAMPLE), "KVM_CAP_IRQFD_RESAMPLE not supported");
	for (w = 0; w < LEVEL_PINS; w++) {
		struct level_pin *p = &s->pins[w];
		struct kvm_irqfd irqfd = {
			.gsi = LEVEL_FIRST_PIN + w,
			.flags = KVM_IRQFD_FLAG_RESAMPLE,
		};

		p->irqfd = eventfd(0, EFD_CLOEXEC);
		p->resamplefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		TEST_ASSERT(p->irqfd >= 0 && p->resamplefd >= 0, "eventfd: %s", strerror(errno));
		irqfd.fd = p->irqfd;
		irqfd.resamplefd = p->resamplefd;
		vm_ioctl(s->ivm->vm, KVM_IRQFD, &irqfd);
	}
}

/* The guest acknowledged the device on LEVEL_ACK_PORT: it lowers its line. */
static bool level_ack_exit(struct ipi_vm *ivm, struct kvm_vcpu *vcpu)
{
	struct level_sources *s = ivm->extra;
	struct kvm_run *run = vcpu->run;
	struct level_pin *p;
	uint32_t pin;

	if (run->exit_reason != KVM_EXIT_IO || run->io.port != LEVEL_ACK_PORT)
		return false;
	TEST_ASSERT(run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4,
		    "vCPU %u: the acknowledge port takes a 32-bit write", vcpu->id);
	memcpy(&pin, (char *)run + run->io.data_offset, sizeof(pin));
	TEST_ASSERT(pin < LEVEL_PINS, "vCPU %u acknowledged pin %u of %u", vcpu->id, pin,
		    LEVEL_PINS);
	p = &s->pins[pin];
	kvm_irq_line(ivm->vm, LEVEL_FIRST_PIN + pin, 0);
	p->acks++;
	WRITE_ONCE(p->line_up, 0);
	return true;
}

/* Count the resamples KVM signalled; true once the latest assertion's came. */
static bool resampled(struct level_pin *p)
{
	uint64_t n;

	if (read(p->resamplefd, &n, sizeof(n)) == sizeof(n)) {
		p->resamples += n;
		WRITE_ONCE(p->resample_due, 0);
	}
	return !READ_ONCE(p->resample_due);
}

/* Everything pin @w raised has been taken, and the line is down: STALL_NONE. */
static enum level_stall pin_busy(struct level_sources *s, unsigned int w)
{
	struct level_pin *p = &s->pins[w];

	if (!ipi_host_vector_free(s->ivm, 0, pin_vector(w)))
		return STALL_NOT_TAKEN;
	if (s->kind == LEVEL_IRQ_LINE && READ_ONCE(p->line_up))
		return STALL_NOT_ACKED;
	/* The last delivery of every raise: the one after the device was acknowledged. */
	if (READ_ONCE(s->handled[w]) < p->asserted)
		return STALL_NOT_HANDLED;
	if (s->kind == LEVEL_IRQFD_RESAMPLE && !resampled(p))
		return STALL_NO_RESAMPLE;
	return STALL_NONE;
}

/* Wait, within the grace period, until pin @w may be raised again. */
static enum level_stall wait_pin_idle(struct level_sources *s, unsigned int w)
{
	uint64_t deadline = rdtsc() + s->pace.grace_cycles;
	enum level_stall why;

	while ((why = pin_busy(s, w)) != STALL_NONE) {
		if (rdtsc() > deadline || READ_ONCE(s->ivm->config->stop))
			return why;
		cpu_relax();
	}
	return STALL_NONE;
}

/* Raise pin @w: the source's @k-th assertion (from 0), over all pins. */
static void raise_pin(struct level_sources *s, unsigned int w, uint64_t k)
{
	struct level_pin *p = &s->pins[w];
	uint8_t vector = pin_vector(w);
	uint64_t one = 1, seq;

	/* Negative control: an assertion counted, never made (every Nth of the source's). */
	if (s->pace.fault == IPI_FAULT_PHANTOM && !((k + 1) % s->pace.fault_every)) {
		ipi_host_stamp_end(s->ivm, 0, vector, ipi_host_stamp(s->ivm, 0, vector));
		__atomic_fetch_add(&s->ivm->host_faults_injected, 1, __ATOMIC_RELAXED);
		p->asserted++;
		/* Never taken, so never handled: the guest owes it nothing. */
		return;
	}
	if (s->kind == LEVEL_IRQ_LINE) {
		WRITE_ONCE(p->line_up, 1);
		seq = ipi_host_stamp(s->ivm, 0, vector);
		kvm_irq_line(s->ivm->vm, LEVEL_FIRST_PIN + w, 1);
		ipi_host_stamp_end(s->ivm, 0, vector, seq);
	} else {
		/*
		 * No end stamp: KVM raises an irqfd's IOAPIC pin from a work
		 * item, later than the write returns, and nothing here sees
		 * when.  Its deliveries are counted and timed from the write,
		 * but never judged held or rescued against it.
		 */
		WRITE_ONCE(p->resample_due, 1);
		ipi_host_stamp(s->ivm, 0, vector);
		TEST_ASSERT(write(p->irqfd, &one, sizeof(one)) == sizeof(one),
			    "eventfd write: %s", strerror(errno));
	}
	p->asserted++;
}

static bool stalled(struct level_sources *s, unsigned int w)
{
	enum level_stall why = wait_pin_idle(s, w);

	if (why == STALL_NONE)
		return false;
	s->stall = why;
	s->stall_pin = w;
	return true;
}

static void *level_main(void *arg)
{
	struct level_sources *s = arg;
	uint64_t k, start_ns;
	unsigned int w;

	ipi_host_wait_guest_ready(s->ivm);
	ipi_host_warm_up(s->ivm, 0, s->pace.grace_cycles);
	start_ns = ipi_host_now_ns();
	for (k = 0; ipi_host_more(s->ivm, &s->pace, k, start_ns); k++) {
		w = k % LEVEL_PINS;
		if (stalled(s, w))
			break;
		raise_pin(s, w, k);
	}
	/* The last of each pin taken and ended too, before the run ends. */
	for (w = 0; w < LEVEL_PINS && s->stall == STALL_NONE; w++)
		stalled(s, w);
	s->seconds = (ipi_host_now_ns() - start_ns) / 1e9;
	ipi_host_end_run(s->ivm);
	return NULL;
}

static void start_source(struct ipi_vm *ivm)
{
	struct level_sources *s = ivm->extra;

	ipi_thread_create(ivm, &s->thread, ivm->nr_vcpus, level_main, s);
}

/* Every vCPU has stopped: whatever remote IRR is still set will stay so. */
static void judge_pins(struct ipi_vm *ivm)
{
	struct level_sources *s = ivm->extra;
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	unsigned int w;

	pthread_join(s->thread, NULL);
	vm_ioctl(ivm->vm, KVM_GET_IRQCHIP, &chip);
	s->end = chip.chip.ioapic;
	for (w = 0; w < LEVEL_PINS; w++) {
		if (s->end.redirtbl[LEVEL_FIRST_PIN + w].fields.remote_irr)
			ivm->stuck++;
	}
	/* A source that could not go on is stuck, whatever the IOAPIC shows now. */
	if (s->stall != STALL_NONE &&
	    !s->end.redirtbl[LEVEL_FIRST_PIN + s->stall_pin].fields.remote_irr)
		ivm->stuck++;
}

static void report_level(struct ipi_vm *ivm, struct json_writer *w)
{
	struct level_sources *s = ivm->extra;
	const struct ipi_vcpu *rec = ivm->rec[0];
	unsigned int k;

	if (s->stall != STALL_NONE)
		ksft_print_msg("level source stopped at pin %u: %s\n", LEVEL_FIRST_PIN + s->stall_pin,
			       stall_names[s->stall]);
	json_begin_object(w, "level");
	json_string(w, "kind", level_kind_name(s->kind));
	json_double(w, "seconds", s->seconds);
	json_string(w, "stopped", stall_names[s->stall]);
	json_begin_array(w, "pins");
	for (k = 0; k < LEVEL_PINS; k++) {
		unsigned int pin = LEVEL_FIRST_PIN + k;
		const struct level_pin *p = &s->pins[k];
		uint8_t vector = pin_vector(k);
		bool remote_irr = s->end.redirtbl[pin].fields.remote_irr;
		bool line = s->end.irr & (1u << pin);

		if (remote_irr || s->stall != STALL_NONE)
			ksft_print_msg("IOAPIC pin %u (vector 0x%x): remote IRR %u, line %u, redirection 0x%llx; raised %llu, taken %llu, acknowledged %llu, resampled %llu\n",
				       pin, vector, remote_irr, line,
				       (unsigned long long)s->end.redirtbl[pin].bits,
				       (unsigned long long)p->asserted,
				       (unsigned long long)rec->received[vector],
				       (unsigned long long)p->acks, (unsigned long long)p->resamples);
		json_begin_object(w, NULL);
		json_u64(w, "pin", pin);
		json_u64(w, "vector", vector);
		json_u64(w, "raised", p->asserted);
		json_u64(w, "sent", rec->tx[vector].sent);
		json_u64(w, "received", rec->received[vector]);
		json_u64(w, "acknowledged", p->acks);
		json_u64(w, "resampled", p->resamples);
		json_u64(w, "redirection", s->end.redirtbl[pin].bits);
		json_bool(w, "remote_irr", remote_irr);
		json_bool(w, "line", line);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void free_sources(struct ipi_vm *ivm)
{
	struct level_sources *s = ivm->extra;
	unsigned int w;

	for (w = 0; w < LEVEL_PINS && s->kind == LEVEL_IRQFD_RESAMPLE; w++) {
		close(s->pins[w].irqfd);
		close(s->pins[w].resamplefd);
	}
	free(s);
	ivm->extra = NULL;
}

struct level_sources *level_sources_create(struct ipi_vm *ivm, enum level_kind kind,
					   const struct ipi_options *o)
{
	struct level_sources *s = calloc(1, sizeof(*s));

	TEST_ASSERT(s, "Out of memory");
	s->ivm = ivm;
	s->kind = kind;
	ipi_host_pace_init(&s->pace, ivm, o);
	s->handled = addr_gva2hva(ivm->vm, (vm_vaddr_t)level_handled);
	setup_pins(s);
	if (kind == LEVEL_IRQFD_RESAMPLE)
		setup_irqfds(s);

	ivm->extra = s;
	ivm->on_exit = level_ack_exit;
	ivm->on_running = start_source;
	ivm->on_stopped = judge_pins;
	ivm->report_extra = report_level;
	ivm->free_extra = free_sources;
	return s;
}
