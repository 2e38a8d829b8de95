// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupts sent on a receiver's request; see remote_sender.h.
 */
#include <stdlib.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "kvm_stats_snapshot.h"
#include "remote_sender.h"

/* MSI data: the delivery mode sits where the ICR's does. */
#define MSI_DATA_MODE_SHIFT	8

struct remote_batch ipi_remote;

static const char * const source_names[] = {
	[IPI_SRC_SELF] = "self", [IPI_SRC_CROSS] = "cross", [IPI_SRC_MSI] = "msi",
	[IPI_SRC_POSTED] = "posted",
};

const char *ipi_source_name(enum ipi_source source)
{
	return source_names[source];
}

/* The NMI's count lives in vector 2's slot, whatever the ICR says. */
static uint8_t slot_of(uint32_t mode, uint8_t vector)
{
	return mode == APIC_DM_NMI ? NMI_VECTOR : vector;
}

/* One send from this vCPU, by the ICR (physical destination) or the source's own path. */
static void guest_send_one(uint32_t dest, uint32_t mode, bool counted, uint8_t vector)
{
	void (*deliver)(uint32_t dest, uint8_t vector) = READ_ONCE(ipi_remote.deliver);
	uint8_t slot = slot_of(mode, vector);
	uint64_t seq = 0;

	GUEST_ASSERT(!deliver || mode == APIC_DM_FIXED);
	if (counted)
		seq = ipi_guest_stamp(dest, slot);
	if (deliver)
		deliver(dest, vector);
	else
		ipi_guest_write_icr(dest, mode | APIC_INT_ASSERT | APIC_DEST_PHYSICAL | vector);
	if (counted)
		ipi_guest_stamp_end(dest, slot, seq);
}

/*
 * From a copy: a handler that runs between two sends (a self-NMI's, at
 * the first) may ask for a batch of its own, which rewrites ipi_remote.
 */
static void guest_send_batch(struct remote_batch *b)
{
	uint8_t vectors[REMOTE_MAX_BATCH];
	uint32_t n = READ_ONCE(b->n), mode = b->mode, dest = b->dest, i;
	bool counted = b->counted;

	for (i = 0; i < n; i++)
		vectors[i] = b->vectors[i];
	for (i = 0; i < n; i++)
		guest_send_one(dest, mode, counted, vectors[i]);
}

/*
 * Until batch @seq, or a later one, has been sent; bounded by the guest's
 * wait timeout, IF as the caller left it.  Later: a handler that ran
 * meanwhile (an NMI's, say) may have asked for batches of its own.
 */
static bool wait_done(struct remote_batch *b, uint32_t seq)
{
	uint64_t deadline = rdtsc() + ipi_config.wait_timeout;

	while ((int32_t)(__atomic_load_n(&b->done, __ATOMIC_ACQUIRE) - seq) < 0) {
		if (ipi_guest_should_stop() || rdtsc() > deadline) {
			b->missed++;
			this_ipi_vcpu()->missed_waits++;
			return false;
		}
		cpu_relax();
	}
	return true;
}

/* Hand the batch over (or, from the receiver itself, send it); false: the last never went. */
static bool post(const uint8_t *vectors, unsigned int n, uint32_t mode, bool counted,
		 bool when_halted)
{
	struct remote_batch *b = &ipi_remote;
	unsigned int i;

	GUEST_ASSERT(n <= REMOTE_MAX_BATCH);
	GUEST_ASSERT(!when_halted || b->source == IPI_SRC_MSI);
	if (b->source != IPI_SRC_SELF && b->done != b->seq && !wait_done(b, b->seq))
		return false;
	for (i = 0; i < n; i++)
		b->vectors[i] = vectors[i];
	b->n = n;
	b->mode = mode;
	b->counted = counted;
	b->when_halted = when_halted;
	if (b->source == IPI_SRC_SELF) {
		guest_send_batch(b);
		return true;
	}
	__atomic_store_n(&b->seq, b->seq + 1, __ATOMIC_RELEASE);
	return true;
}

bool ipi_remote_send(const uint8_t *vectors, unsigned int n, uint32_t mode, bool counted)
{
	struct remote_batch *b = &ipi_remote;

	if (!post(vectors, n, mode, counted, false))
		return false;
	return b->source == IPI_SRC_SELF || wait_done(b, b->seq);
}

void ipi_remote_post(const uint8_t *vectors, unsigned int n, uint32_t mode, bool counted,
		     bool when_halted)
{
	post(vectors, n, mode, counted, when_halted);
}

void ipi_remote_finish(void)
{
	__atomic_store_n(&ipi_remote.finish, 1, __ATOMIC_RELEASE);
}

/* The sender reads its own ESR after each batch. */
void ipi_remote_serve(void)
{
	struct remote_batch *b = &ipi_remote;
	uint32_t seen = 0, seq;

	while (!__atomic_load_n(&b->finish, __ATOMIC_ACQUIRE) && !ipi_guest_should_stop()) {
		seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		if (seq == seen) {
			cpu_relax();
			continue;
		}
		guest_send_batch(b);
		b->sender_esr = ipi_guest_read_esr();
		seen = seq;
		__atomic_store_n(&b->done, seq, __ATOMIC_RELEASE);
		WRITE_ONCE(this_ipi_vcpu()->progress, this_ipi_vcpu()->progress + 1);
	}
}

/* ---- host side ---- */

struct remote_host {
	struct ipi_vm *ivm;
	struct remote_batch *b;		/* host view of ipi_remote */
	pthread_t thread;
	struct kvm_stat_watch blocking;	/* the receiver's "blocking" stat, if the kernel has it */
	bool watching;
};

static void host_send_one(struct remote_host *h, uint8_t vector)
{
	struct remote_batch *b = h->b;
	uint8_t slot = slot_of(b->mode, vector);
	struct kvm_msi msi = {
		.address_lo = APIC_DEFAULT_GPA | (b->dest << 12),
		.data = vector | (b->mode == APIC_DM_NMI ? APIC_DM_NMI : APIC_DM_FIXED),
	};
	uint64_t seq = 0;
	int r;

	BUILD_BUG_ON(APIC_DM_NMI >> MSI_DATA_MODE_SHIFT != 4);
	if (b->counted)
		seq = ipi_host_stamp(h->ivm, b->dest, slot);
	r = __vm_ioctl(h->ivm->vm, KVM_SIGNAL_MSI, &msi);
	if (b->counted)
		ipi_host_stamp_end(h->ivm, b->dest, slot, seq);
	/* An illegal vector may be refused; a legal one must reach its vCPU. */
	TEST_ASSERT(r == 1 || !b->counted, "KVM_SIGNAL_MSI vector 0x%x: %d", vector, r);
}

/*
 * Until KVM has the receiver blocked in hlt (its "blocking" stat), for at
 * most a second, counting the batches it saw blocked.  Without the stat (a
 * test that needs it skips first), a millisecond.
 */
static void wait_blocked(struct remote_host *h)
{
	uint64_t deadline = ipi_host_now_ns() + (h->watching ? 1000000000ull : 1000000ull);

	while (!(h->watching && kvm_stat_watch_read(&h->blocking))) {
		if (READ_ONCE(h->ivm->config->stop) || ipi_host_now_ns() > deadline)
			return;
		usleep(20);
	}
	h->b->sent_blocked++;
}

static void *host_main(void *arg)
{
	struct remote_host *h = arg;
	struct remote_batch *b = h->b;
	uint32_t seen = 0, seq, i;

	ipi_host_wait_guest_ready(h->ivm);
	while (!__atomic_load_n(&b->finish, __ATOMIC_ACQUIRE) &&
	       !READ_ONCE(h->ivm->config->stop)) {
		seq = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		if (seq == seen) {
			cpu_relax();
			continue;
		}
		if (READ_ONCE(b->when_halted))
			wait_blocked(h);
		for (i = 0; i < READ_ONCE(b->n); i++)
			host_send_one(h, b->vectors[i]);
		seen = seq;
		__atomic_store_n(&b->done, seq, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void start_host(struct ipi_vm *ivm)
{
	struct remote_host *h = ivm->extra;

	ipi_thread_create(ivm, &h->thread, ivm->nr_vcpus, host_main, h);
}

static void join_host(struct ipi_vm *ivm)
{
	struct remote_host *h = ivm->extra;

	/* The vCPUs are gone: whatever the thread waits for, it stops now. */
	WRITE_ONCE(h->b->finish, 1);
	pthread_join(h->thread, NULL);
}

static void free_host(struct ipi_vm *ivm)
{
	struct remote_host *h = ivm->extra;

	if (h->watching)
		kvm_stat_watch_close(&h->blocking);
	free(h);
	ivm->extra = NULL;
}

void ipi_remote_set_deliver(struct ipi_vm *ivm, void (*deliver)(uint32_t dest, uint8_t vector))
{
	struct remote_batch *b = addr_gva2hva(ivm->vm, (vm_vaddr_t)&ipi_remote);

	TEST_ASSERT(b->source == IPI_SRC_POSTED, "a delivery function is for a posted source");
	b->deliver = deliver;
}

void ipi_remote_require_halt_watch(struct ipi_vm *ivm)
{
	const struct remote_host *h = ivm->extra;

	TEST_ASSERT(h, "only a host source waits for the receiver's hlt");
	__TEST_REQUIRE(h->watching, "KVM has no \"blocking\" vCPU stat");
}

void ipi_remote_setup(struct ipi_vm *ivm, enum ipi_source source, unsigned int dest)
{
	struct remote_batch *b = addr_gva2hva(ivm->vm, (vm_vaddr_t)&ipi_remote);
	struct remote_host *h;

	b->source = source;
	b->dest = dest;
	if (source != IPI_SRC_MSI)
		return;
	h = calloc(1, sizeof(*h));
	TEST_ASSERT(h, "Out of memory");
	h->ivm = ivm;
	h->b = b;
	h->watching = kvm_stat_watch_open(&h->blocking, ivm->vcpus[dest], "blocking");
	ivm->extra = h;
	ivm->on_running = start_host;
	ivm->on_stopped = join_host;
	ivm->free_extra = free_host;
}
