// SPDX-License-Identifier: GPL-2.0-only
/*
 * Host side of the IPI harness: VM set-up, the vCPU threads, and the
 * watchdog that keeps every run bounded.
 */
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_options.h"
#include "kselftest.h"
#include "host_info.h"
#include "kvm_stats_snapshot.h"

/* Wake-ups the watchdog tries before it gives up on a stalled run. */
#define IPI_MAX_WAKES		16
#define IPI_KICK_SIGNAL		SIGUSR1
/*
 * Polls of guest memory sleep this long between looks: under an emulator,
 * waking every 100 us kept a vCPU sharing the CPU out of the guest for
 * up to a second, long enough for its peers to give up on it.
 */
#define POLL_US			1000

struct vcpu_thread {
	struct ipi_vm *ivm;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	sem_t *exited;
};

uint64_t ipi_host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return ipi_host_now_ns() / 1000000;
}

void ipi_host_pace_init(struct ipi_host_pace *p, const struct ipi_vm *ivm,
			const struct ipi_options *o)
{
	p->count = o->count;
	p->duration_ns = o->duration_s * 1000000000ull;
	p->grace_cycles = o->grace_ms * ivm->tsc_khz;
	p->fault = o->fault;
	p->fault_every = o->fault_every;
}

/*
 * A host sender's loop: go on with send @k (from 0) of a run begun at
 * @start_ns?  Never once the run was stopped.
 */
bool ipi_host_more(const struct ipi_vm *ivm, const struct ipi_host_pace *p, uint64_t k,
		   uint64_t start_ns)
{
	if (READ_ONCE(ivm->config->stop))
		return false;
	if (p->duration_ns)
		return ipi_host_now_ns() - start_ns < p->duration_ns;
	return k < p->count;
}

static uint64_t ms_to_cycles(const struct ipi_vm *ivm, uint64_t ms)
{
	return ms * ivm->tsc_khz;
}

/*
 * The guest TSC is the host TSC plus an offset KVM chose when the vCPU was
 * created (and possibly scaled, which the harness does not support).  Read
 * the guest's view through MSR_IA32_TSC between two host reads and keep
 * the tightest bracket.
 */
static void measure_tsc_offset(struct ipi_vm *ivm, unsigned int i, int64_t *offset,
			       uint64_t *err)
{
	uint64_t best = UINT64_MAX;
	int round;

	for (round = 0; round < 16; round++) {
		uint64_t t0 = rdtsc();
		uint64_t guest = vcpu_get_msr(ivm->vcpus[i], MSR_IA32_TSC);
		uint64_t t1 = rdtsc();

		if (t1 - t0 < best) {
			best = t1 - t0;
			*offset = (int64_t)(guest - (t0 + (t1 - t0) / 2));
		}
	}
	*err = best / 2 + 1;
}

static void calibrate_vcpu_tsc(struct ipi_vm *ivm, unsigned int i)
{
	measure_tsc_offset(ivm, i, &ivm->tsc_offset[i], &ivm->tsc_offset_err[i]);
}

void ipi_vm_calibrate_tsc(struct ipi_vm *ivm)
{
	unsigned int i;

	for (i = 0; i < ivm->nr_vcpus; i++)
		calibrate_vcpu_tsc(ivm, i);
}

uint64_t host_tsc_to_guest(const struct ipi_vm *ivm, unsigned int vcpu_index,
			   uint64_t host_tsc)
{
	return host_tsc + ivm->tsc_offset[vcpu_index];
}

uint64_t guest_tsc_to_host(const struct ipi_vm *ivm, unsigned int vcpu_index,
			   uint64_t guest_tsc)
{
	return guest_tsc - ivm->tsc_offset[vcpu_index];
}

static void init_vcpu_record(struct ipi_vm *ivm, unsigned int i, vm_vaddr_t gva)
{
	struct ipi_vcpu *rec = addr_gva2hva(ivm->vm, gva);

	memset(rec, 0, sizeof(*rec));
	rec->self = (struct ipi_vcpu *)gva;
	rec->index = i;
	lat_hist_init(&rec->latency);
	lat_hist_init(&rec->iteration);
	lat_hist_init(&rec->eoi);
	ivm->rec[i] = rec;
	vcpu_set_msr(ivm->vcpus[i], MSR_GS_BASE, gva);
}

static void init_guest_config(struct ipi_vm *ivm, vm_vaddr_t records,
			      const struct ipi_options *opts)
{
	struct ipi_guest_config *cfg;

	cfg = addr_gva2hva(ivm->vm, (vm_vaddr_t)&ipi_config);
	cfg->delay_threshold = opts->delay_threshold_us * ivm->tsc_khz / 1000;
	cfg->dwell = opts->dwell_us * ivm->tsc_khz / 1000;
	cfg->wait_timeout = ms_to_cycles(ivm, opts->grace_ms);
	cfg->count = opts->count;
	cfg->duration = opts->duration_s * 1000 * ivm->tsc_khz;
	cfg->nr_vcpus = ivm->nr_vcpus;
	cfg->fault = opts->fault;
	cfg->fault_every = opts->fault_every;
	cfg->vcpus = (struct ipi_vcpu *)records;
	cfg->check_icr = opts->check_icr;
	/*
	 * APICv only: AVIC is inhibited per VM (x2APIC guests without
	 * x2AVIC), and then the kick's exit is the software path's delivery.
	 */
	cfg->posted = !strcmp(kvm_configured_delivery(), "apicv");
	ivm->config = cfg;
}

struct ipi_vm *ipi_vm_create(unsigned int nr_vcpus, void *guest_code,
			     const struct ipi_options *opts)
{
	size_t rec_pages = sizeof(struct ipi_vcpu) / 4096 + 1;
	struct ipi_vm *ivm;
	vm_vaddr_t records;
	unsigned int i;
	int v;

	TEST_ASSERT(nr_vcpus && nr_vcpus <= IPI_MAX_VCPUS,
		    "%u vCPUs asked, the harness supports 1 to %u", nr_vcpus, IPI_MAX_VCPUS);
	ivm = calloc(1, sizeof(*ivm));
	TEST_ASSERT(ivm, "Out of memory");
	ivm->nr_vcpus = nr_vcpus;
	ivm->stall_ms = opts->stall_ms;
	/*
	 * Short of -T, whose SIGKILL keeps nothing: a run still going then is
	 * wound down by its own watchdog and reported, evidence and all, with
	 * time left (a quarter of -T, at most 10 s) for the report.
	 */
	ivm->start_ms = now_ms();
	ivm->deadline_ms = opts->timeout_s * 1000 -
			   (opts->timeout_s > 40 ? 10000 : opts->timeout_s * 1000 / 4);
	ivm->pin = opts->pin;
	ivm->migrate_us = opts->migrate_us;
	ivm->kick_us = opts->kick_us;
	ivm->busy_threads = opts->busy_threads;
	ivm->halt_poll_ns = opts->halt_poll_ns;
	ivm->progress_s = opts->progress_s;
	ivm->vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, nr_vcpus,
					 nr_vcpus * rec_pages + 16, guest_code, ivm->vcpus);
	ivm->tsc_khz = __vcpu_ioctl(ivm->vcpus[0], KVM_GET_TSC_KHZ, NULL);
	TEST_ASSERT((int64_t)ivm->tsc_khz > 0, "KVM_GET_TSC_KHZ failed");

	/* The xAPIC page, for tests that use MMIO rather than x2APIC MSRs. */
	virt_pg_map(ivm->vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	/* No memslot behind it: every access exits to userspace. */
	virt_pg_map(ivm->vm, IPI_CHURN_GPA, IPI_CHURN_GPA);

	if (ivm->halt_poll_ns >= 0) {
		__TEST_REQUIRE(kvm_has_cap(KVM_CAP_HALT_POLL), "KVM_CAP_HALT_POLL not supported");
		vm_enable_cap(ivm->vm, KVM_CAP_HALT_POLL, ivm->halt_poll_ns);
	}

	records = vm_vaddr_alloc(ivm->vm, nr_vcpus * sizeof(struct ipi_vcpu),
				 KVM_UTIL_MIN_VADDR);
	for (i = 0; i < nr_vcpus; i++)
		init_vcpu_record(ivm, i, records + i * sizeof(struct ipi_vcpu));
	ipi_vm_calibrate_tsc(ivm);
	/* Negative control: host stamps land 10 ms in the guest's future. */
	if (opts->fault == IPI_FAULT_CLOCK) {
		ivm->tsc_fault_shift = 10 * ivm->tsc_khz;
		for (i = 0; i < nr_vcpus; i++)
			ivm->tsc_offset[i] += ivm->tsc_fault_shift;
		ivm->host_faults_injected++;
	}
	init_guest_config(ivm, records, opts);

	for (v = IPI_FIRST_VECTOR; v < IPI_NR_VECTORS; v++)
		vm_install_exception_handler(ivm->vm, v, ipi_guest_handler);

	for (i = 0; i < nr_vcpus; i++)
		ivm->stats_before[i] = kvm_stats_snapshot_vcpu(ivm->vcpus[i]);
	return ivm;
}

/*
 * Count a host send to @dest_index on @vector, stamped in the guest's TSC
 * timeline; returns its sequence number for ipi_host_stamp_end().
 */
uint64_t ipi_host_stamp(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector)
{
	struct ipi_tx_slot *slot = &ivm->rec[dest_index]->tx[vector];

	WRITE_ONCE(slot->tsc, host_tsc_to_guest(ivm, dest_index, rdtsc()));
	return __atomic_add_fetch(&slot->sent, 1, __ATOMIC_RELEASE);
}

/* The send is complete: its ioctl or eventfd write returned. */
void ipi_host_stamp_end(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector,
			uint64_t seq)
{
	struct ipi_tx_slot *slot = &ivm->rec[dest_index]->tx[vector];

	WRITE_ONCE(slot->end_tsc, host_tsc_to_guest(ivm, dest_index, rdtsc()));
	__atomic_store_n(&slot->end_seq, seq, __ATOMIC_RELEASE);
}

/* Has the guest taken every send of @vector to @dest_index so far? */
bool ipi_host_vector_free(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector)
{
	const struct ipi_vcpu *rec = ivm->rec[dest_index];

	/* The sequence, not the count: see ipi_vcpu.delivered_seq. */
	return READ_ONCE(rec->delivered_seq[vector]) == READ_ONCE(rec->tx[vector].sent);
}

/* Fixed, edge-triggered MSI to the vCPU's APIC ID, which KVM makes its index. */
int __ipi_host_send_msi(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector)
{
	struct kvm_msi msi = {
		.address_lo = APIC_DEFAULT_GPA | (dest_index << 12),
		.data = vector,
	};

	uint64_t seq = ipi_host_stamp(ivm, dest_index, vector);
	int r = __vm_ioctl(ivm->vm, KVM_SIGNAL_MSI, &msi);

	ipi_host_stamp_end(ivm, dest_index, vector, seq);
	return r;
}

void ipi_host_send_msi(struct ipi_vm *ivm, unsigned int dest_index, uint8_t vector)
{
	int r = __ipi_host_send_msi(ivm, dest_index, vector);

	/* KVM_SIGNAL_MSI returns the number of CPUs the interrupt went to. */
	TEST_ASSERT(r == 1, "KVM_SIGNAL_MSI to vCPU %u vector 0x%x: %d (errno %d)",
		    dest_index, vector, r, errno);
}

/*
 * KVM's first interrupt into a VM goes a slow way (under an emulator it
 * kept the target out of the guest for tens of microseconds, and the first
 * sends piled up behind it): host senders take it with an uncounted
 * wake-up first, waiting at most @grace_cycles for it.
 */
void ipi_host_warm_up(struct ipi_vm *ivm, unsigned int dest_index, uint64_t grace_cycles)
{
	const struct ipi_vcpu *rec = ivm->rec[dest_index];
	uint64_t before = READ_ONCE(rec->received[IPI_WARM_VECTOR]);
	uint64_t deadline = rdtsc() + grace_cycles;

	__ipi_host_send_msi(ivm, dest_index, IPI_WARM_VECTOR);
	while (READ_ONCE(rec->received[IPI_WARM_VECTOR]) == before && rdtsc() < deadline)
		cpu_relax();
}

/* Wait, at most 10 s, for every vCPU to have enabled its APIC. */
void ipi_host_wait_guest_ready(struct ipi_vm *ivm)
{
	uint64_t deadline = now_ms() + 10000;

	while (READ_ONCE(ivm->config->ready) < ivm->nr_vcpus) {
		TEST_ASSERT(now_ms() < deadline && !READ_ONCE(ivm->config->stop),
			    "vCPUs not ready after 10 s: %u of %u",
			    READ_ONCE(ivm->config->ready), ivm->nr_vcpus);
		usleep(POLL_US);
	}
}

/* Take the vCPU's exit to userspace as churn if it is one of ours. */
static bool churn_exit(struct kvm_run *run)
{
	if (run->exit_reason == KVM_EXIT_IO)
		return run->io.port == IPI_CHURN_PORT;
	if (run->exit_reason == KVM_EXIT_MMIO)
		return (run->mmio.phys_addr & ~0xfffull) == IPI_CHURN_GPA;
	return false;
}

static void *vcpu_thread_main(void *arg)
{
	struct vcpu_thread *t = arg;
	struct kvm_vcpu *vcpu = t->vcpu;
	struct ucall uc;
	int r;

	for (;;) {
		r = __vcpu_run(vcpu);
		WRITE_ONCE(t->ivm->exit_tsc[vcpu->id], rdtsc());
		WRITE_ONCE(t->ivm->exits[vcpu->id], t->ivm->exits[vcpu->id] + 1);
		if (r < 0 && errno == EINTR) {
			if (READ_ONCE(t->ivm->config->stop))
				break;
			WRITE_ONCE(vcpu->run->immediate_exit, 0);
			continue;
		}
		TEST_ASSERT(!r, KVM_IOCTL_ERROR(KVM_RUN, r));
		if (churn_exit(vcpu->run))
			continue;
		if (t->ivm->on_exit && t->ivm->on_exit(t->ivm, vcpu))
			continue;
		assert_on_unhandled_exception(vcpu);

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			break;
		case UCALL_DONE:
			goto out;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("vCPU %u: unexpected exit %s", vcpu->id,
				  exit_reason_str(vcpu->run->exit_reason));
		}
	}
out:
	sem_post(t->exited);
	return NULL;
}

static void kick_handler(int sig __maybe_unused)
{
}

static uint64_t total_progress(const struct ipi_vm *ivm)
{
	uint64_t sum = 0;
	unsigned int i, v;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		sum += READ_ONCE(ivm->rec[i]->progress);
		/* From 0: an NMI counts as vector 2. */
		for (v = 0; v < IPI_NR_VECTORS; v++)
			sum += READ_ONCE(ivm->rec[i]->received[v]);
	}
	return sum;
}

/* Force every vCPU out of KVM_RUN for good. */
static void abort_run(struct ipi_vm *ivm, struct vcpu_thread *threads)
{
	unsigned int i;

	WRITE_ONCE(ivm->config->stop, 1);
	ivm->aborted = true;
	for (i = 0; i < ivm->nr_vcpus; i++) {
		WRITE_ONCE(ivm->vcpus[i]->run->immediate_exit, 1);
		pthread_kill(threads[i].thread, IPI_KICK_SIGNAL);
	}
}

/*
 * A vCPU halted on an interrupt that never came would sleep forever: when
 * nothing moves for stall_ms, send every vCPU a wake-up MSI on the
 * harness's own vector, and after IPI_MAX_WAKES of those, stop the run.
 */
/* Soak runs: counts so far, at a steady interval. */
static void print_progress(struct ipi_vm *ivm, uint64_t seconds)
{
	uint64_t sent = 0, received = 0, delayed = 0;
	unsigned int i, v;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			if (ipi_harness_vector(v))
				continue;
			sent += READ_ONCE(ivm->rec[i]->tx[v].sent);
			received += READ_ONCE(ivm->rec[i]->received[v]);
		}
		delayed += READ_ONCE(ivm->rec[i]->delayed);
	}
	ksft_print_msg("progress: %llus sent=%llu received=%llu in flight=%lld delayed=%llu wakes=%llu\n",
		       (unsigned long long)seconds, (unsigned long long)sent,
		       (unsigned long long)received, (long long)(sent - received),
		       (unsigned long long)delayed, (unsigned long long)ivm->wakes_sent);
}

/* Sends, to any vCPU, that are complete and not delivered. */
static uint64_t outstanding(const struct ipi_vm *ivm)
{
	uint64_t n = 0;
	unsigned int i, v;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		/* From 0: an NMI counts as vector 2. */
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			uint64_t sent = READ_ONCE(rec->tx[v].end_seq);

			if (!ipi_harness_vector(v) && sent > READ_ONCE(rec->received[v]))
				n += sent - READ_ONCE(rec->received[v]);
		}
	}
	return n;
}

/*
 * A vCPU halted on an interrupt that never came would sleep forever: when
 * nothing moves for stall_ms, send every vCPU a wake-up MSI on the
 * harness's own vector.  If complete sends were outstanding then, the
 * variant has failed whatever follows (what the wake-up delivers was
 * rescued, what it does not was lost): give the wake-up one more stall_ms
 * to show which, then stop, rather than burn more rounds.  With nothing
 * outstanding, stop after IPI_MAX_WAKES.  Whatever the guest waits in (a
 * halt, its quiet or receive loops, which all look at the stop flag), the
 * run is wound down at deadline_ms, and stopped one stall_ms later.
 */
static void watchdog(struct ipi_vm *ivm, struct vcpu_thread *threads, sem_t *exited)
{
	uint64_t last = total_progress(ivm), last_change = now_ms();
	/*
	 * Seldom: each wake-up of this thread can preempt a vCPU, and on some
	 * hosts that exit is what delivers a pending interrupt.  A vCPU
	 * thread's exit wakes it at once.
	 */
	uint64_t period_ms = ivm->stall_ms < 1000 ? ivm->stall_ms / 10 : 100;
	uint64_t start = ivm->start_ms, next_progress = now_ms() + ivm->progress_s * 1000;
	uint64_t stuck = 0, stop_at = 0, deadline_stop = 0;
	unsigned int i, running = ivm->nr_vcpus;

	while (running) {
		struct timespec deadline;
		uint64_t progress;

		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += period_ms * 1000000;
		deadline.tv_sec += deadline.tv_nsec / 1000000000;
		deadline.tv_nsec %= 1000000000;
		if (!sem_clockwait(exited, CLOCK_MONOTONIC, &deadline)) {
			running--;
			continue;
		}
		/* A thread that re-entered KVM_RUN just as the run stopped: again. */
		if (ivm->aborted) {
			abort_run(ivm, threads);
			continue;
		}
		/*
		 * Past the deadline: tell the guest its run is over, so that it
		 * stops sending and takes what is in flight (nothing is called
		 * lost that was merely cut off), and stop it outright one stall
		 * period later.  The variant fails either way.
		 */
		if (!ivm->deadline_passed && now_ms() - start >= ivm->deadline_ms) {
			ksft_print_msg("watchdog: the variant ran %llu ms, past its deadline; winding it down\n",
				       (unsigned long long)(now_ms() - start));
			ivm->deadline_passed = true;
			__atomic_store_n(&ivm->config->host_done, 1, __ATOMIC_SEQ_CST);
			ipi_host_kick_vcpus(ivm);
			deadline_stop = now_ms() + ivm->stall_ms;
			continue;
		}
		if (deadline_stop && !ivm->aborted && now_ms() >= deadline_stop) {
			ksft_print_msg("watchdog: the variant did not wind down in %llu ms; stopping\n",
				       (unsigned long long)ivm->stall_ms);
			abort_run(ivm, threads);
			continue;
		}
		if (ivm->progress_s && now_ms() >= next_progress) {
			print_progress(ivm, (now_ms() - start) / 1000);
			next_progress += ivm->progress_s * 1000;
		}
		if (stop_at && !ivm->aborted &&
		    (now_ms() >= stop_at || outstanding(ivm) < stuck)) {
			/* What the wake-up delivered has had its chance to land. */
			usleep(POLL_US * 10);
			ksft_print_msg("watchdog: %llu interrupts were stuck at a stall; stopping\n",
				       (unsigned long long)stuck);
			abort_run(ivm, threads);
			continue;
		}
		progress = total_progress(ivm);
		if (progress != last) {
			last = progress;
			last_change = now_ms();
			continue;
		}
		if (now_ms() - last_change < ivm->stall_ms || ivm->aborted || stop_at)
			continue;

		last_change = now_ms();
		if (ivm->wakes_sent >= IPI_MAX_WAKES) {
			abort_run(ivm, threads);
			continue;
		}
		stuck = outstanding(ivm);
		if (stuck)
			stop_at = now_ms() + ivm->stall_ms;
		for (i = 0; i < ivm->nr_vcpus; i++)
			__ipi_host_send_msi(ivm, i, IPI_WAKE_VECTOR);
		ivm->wakes_sent++;
	}
}

/*
 * Pinned from creation: a thread moved once running takes its vCPU out of
 * the guest for the migration, while the injectors have started.
 */
void ipi_thread_create(struct ipi_vm *ivm, pthread_t *thread, unsigned int slot,
		       void *(*fn)(void *), void *arg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_attr_t attr;
	cpu_set_t set;
	int r;

	pthread_attr_init(&attr);
	if (ivm->pin) {
		CPU_ZERO(&set);
		CPU_SET(slot % cpus, &set);
		r = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		TEST_ASSERT(!r, "Pinning thread %u to CPU %ld: %s", slot, slot % cpus, strerror(r));
	}
	r = pthread_create(thread, &attr, fn, arg);
	TEST_ASSERT(!r, "pthread_create: %s", strerror(r));
	pthread_attr_destroy(&attr);
}

struct churn {
	struct ipi_vm *ivm;
	struct vcpu_thread *threads;
	bool stop;
};

/*
 * @us (up to 10 s) in slices of at most a millisecond, so that
 * stop_churn() joins a churn thread at once, whatever its period.
 */
static void churn_sleep(struct churn *c, uint64_t us)
{
	while (us && !READ_ONCE(c->stop)) {
		uint64_t slice = us < 1000 ? us : 1000;

		usleep(slice);
		us -= slice;
	}
}

/* As xapic_ipi_test -m: random vCPU threads to random host CPUs. */
static void *migrator_main(void *arg)
{
	struct churn *c = arg;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int seed = getpid();
	cpu_set_t set;

	while (!READ_ONCE(c->stop)) {
		unsigned int i = rand_r(&seed) % c->ivm->nr_vcpus;

		churn_sleep(c, c->ivm->migrate_us);
		if (READ_ONCE(c->stop))
			break;
		CPU_ZERO(&set);
		CPU_SET(rand_r(&seed) % cpus, &set);
		/* A thread that already exited is simply not moved. */
		if (!pthread_setaffinity_np(c->threads[i].thread, sizeof(set), &set))
			c->ivm->migrations++;
	}
	return NULL;
}

/*
 * Out of KVM_RUN with a signal, and straight back in; every other kick also
 * sets immediate_exit, so that a KVM_RUN about to start returns at once.
 */
static void *kicker_main(void *arg)
{
	struct churn *c = arg;
	unsigned int i;

	while (!READ_ONCE(c->stop)) {
		churn_sleep(c, c->ivm->kick_us);
		if (READ_ONCE(c->stop))
			break;
		for (i = 0; i < c->ivm->nr_vcpus; i++) {
			if (c->ivm->kicks & 1)
				WRITE_ONCE(c->ivm->vcpus[i]->run->immediate_exit, 1);
			if (!pthread_kill(c->threads[i].thread, IPI_KICK_SIGNAL))
				c->ivm->kicks++;
		}
	}
	return NULL;
}

static void *busy_main(void *arg)
{
	struct churn *c = arg;

	while (!READ_ONCE(c->stop))
		cpu_relax();
	return NULL;
}

#define MAX_CHURN_THREADS	(2 + 64)

static unsigned int start_churn(struct churn *c, pthread_t *tids)
{
	unsigned int n = 0, i;

	if (c->ivm->migrate_us)
		pthread_create(&tids[n++], NULL, migrator_main, c);
	if (c->ivm->kick_us)
		pthread_create(&tids[n++], NULL, kicker_main, c);
	for (i = 0; i < c->ivm->busy_threads; i++)
		pthread_create(&tids[n++], NULL, busy_main, c);
	return n;
}

static void stop_churn(struct churn *c, pthread_t *tids, unsigned int n)
{
	WRITE_ONCE(c->stop, true);
	while (n--)
		pthread_join(tids[n], NULL);
}

/*
 * The end of a host-driven run: tell the guest, wake every vCPU so it can
 * see it, wait (at most 1 s) until no vCPU will send anything more, then
 * take every vCPU through one more exit and entry: a guest's last IPI,
 * sent after the first wake-up, must not be left waiting for a host event
 * that never comes.
 */
void ipi_host_end_run(struct ipi_vm *ivm)
{
	uint64_t deadline = now_ms() + 1000;

	__atomic_store_n(&ivm->config->host_done, 1, __ATOMIC_SEQ_CST);
	ipi_host_kick_vcpus(ivm);
	while (READ_ONCE(ivm->config->quiet) < ivm->nr_vcpus && now_ms() < deadline)
		usleep(POLL_US);
	ipi_host_kick_vcpus(ivm);
}

/* Every vCPU out of KVM_RUN and back in, and awake. */
void ipi_host_kick_vcpus(struct ipi_vm *ivm)
{
	unsigned int i;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		__ipi_host_send_msi(ivm, i, IPI_KICK_VECTOR);
		if (ivm->threads)
			pthread_kill(ivm->threads[i], IPI_KICK_SIGNAL);
	}
}

void ipi_vm_run(struct ipi_vm *ivm)
{
	struct vcpu_thread threads[IPI_MAX_VCPUS] = {};
	struct sigaction sa = { .sa_handler = kick_handler };
	struct churn churn = { .ivm = ivm, .threads = threads };
	pthread_t churn_tids[MAX_CHURN_THREADS], tids[IPI_MAX_VCPUS];
	unsigned int i, nr_churn;
	sem_t exited;

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigaction(IPI_KICK_SIGNAL, &sa, NULL);
	sem_init(&exited, 0, 0);

	for (i = 0; i < ivm->nr_vcpus; i++) {
		threads[i].ivm = ivm;
		threads[i].vcpu = ivm->vcpus[i];
		threads[i].exited = &exited;
		ipi_thread_create(ivm, &threads[i].thread, i, vcpu_thread_main, &threads[i]);
		tids[i] = threads[i].thread;
	}
	ivm->threads = tids;
	if (ivm->on_running)
		ivm->on_running(ivm);
	nr_churn = start_churn(&churn, churn_tids);
	watchdog(ivm, threads, &exited);
	stop_churn(&churn, churn_tids, nr_churn);
	for (i = 0; i < ivm->nr_vcpus; i++)
		pthread_join(threads[i].thread, NULL);
	if (ivm->on_stopped)
		ivm->on_stopped(ivm);
	ivm->threads = NULL;
	sem_destroy(&exited);

	for (i = 0; i < ivm->nr_vcpus; i++)
		ivm->stats_after[i] = kvm_stats_snapshot_vcpu(ivm->vcpus[i]);
	/*
	 * Did the guest's TSC keep its offset?  KVM moves it on every vCPU
	 * load where the host's TSC is unstable (an emulated machine whose
	 * clocksource watchdog gave up on it): then host and cross-vCPU
	 * stamps mean nothing.
	 */
	for (i = 0; i < ivm->nr_vcpus; i++) {
		int64_t end;
		uint64_t err;

		measure_tsc_offset(ivm, i, &end, &err);
		/* (Against what was measured, not what the clock control made of it.) */
		ivm->tsc_drift[i] = end - (ivm->tsc_offset[i] - ivm->tsc_fault_shift);
		if ((uint64_t)(ivm->tsc_drift[i] < 0 ? -ivm->tsc_drift[i] : ivm->tsc_drift[i]) >
		    ivm->tsc_offset_err[i] + err)
			ivm->tsc_unstable = true;
	}
}

void ipi_vm_free(struct ipi_vm *ivm)
{
	unsigned int i;

	if (ivm->free_extra)
		ivm->free_extra(ivm);
	for (i = 0; i < ivm->nr_vcpus; i++) {
		free(ivm->stats_before[i]);
		free(ivm->stats_after[i]);
	}
	kvm_vm_free(ivm->vm);
	free(ivm);
}
