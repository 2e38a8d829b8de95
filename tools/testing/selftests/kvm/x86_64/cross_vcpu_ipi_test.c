// SPDX-License-Identifier: GPL-2.0-only
/*
 * cross_vcpu_ipi_test
 *
 * vCPUs send each other fixed IPIs; every delivery is counted at both
 * ends.  Variants are <apic>_<pattern>_<destination>_<receiver state>:
 *
 * patterns      stream       vCPU 2k sends to 2k+1 without waiting for
 *                            delivery (up to WINDOW vectors in flight)
 *               pingpong     vCPU 2k sends to 2k+1, which answers; both
 *                            wait in the receiver state, and the
 *                            iteration histogram is the round trip
 *               many_to_one  every other vCPU streams to vCPU 0
 *               one_to_many  vCPU 0 streams to all the others
 *               (both with three vCPUs unless -n says otherwise)
 * destinations  physical (unicast; one_to_many goes round-robin), logical
 *               (multicast to every receiver), allbut / allinc (broadcast
 *               shorthands, all excluding or including the sender)
 * receivers     spin (IF=1: the in-guest delivery path, where posted
 *               interrupts matter most), halt (sti; hlt: the wake-up path),
 *               alternate (spin and halt for random spells, to hit the
 *               running/blocked transitions), dwell (an exit, then
 *               --dwell-us in the guest with IF=1: every exit is a VM
 *               entry for an IPI to race, and one that waits for the next
 *               entry shows as a delay of up to the dwell)
 *
 * A sender sends a vector again only once its previous send of that
 * vector to that receiver was delivered: the architecture merges a second
 * send of a pending vector into the same IRR bit, which would look like a
 * loss.  Latency is one way (send TSC to handler TSC, one TSC timeline for
 * all vCPUs); there is no architectural deadline, so only the delay
 * threshold applies.
 */
#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "ipi_harness.h"
#include "ipi_test.h"

#define VECTOR_BASE	0x40
#define WINDOW		8
#define MAX_VCPUS	16	/* 16 senders x WINDOW vectors; x2APIC logical cluster 0 */
#define XAPIC_FLAT_MAX	8	/* xAPIC flat logical destinations: one bit per vCPU */
#define DEFAULT_COUNT	500
/*
 * Without -n, one_to_many and many_to_one run three vCPUs: with two, a
 * multicast has one destination and "many" senders are one, so a KVM that
 * delivers a logical multicast to only one of its destinations, or mixes
 * up two senders, would pass.
 */
#define FAN_VCPUS	3

enum pattern { STREAM, PINGPONG, MANY_TO_ONE, ONE_TO_MANY };
enum dest { PHYSICAL, LOGICAL, ALLBUT, ALLINC };
enum rx_state { RX_SPIN, RX_HALT, RX_ALTERNATE, RX_DWELL };

struct scenario {
	enum pattern pattern;
	enum dest dest;
	enum rx_state rx;
	bool x2apic;
};

static struct scenario sc;
static uint32_t senders_done;
static uint32_t all_sent;

static uint32_t nr_vcpus(void)
{
	return ipi_config.nr_vcpus;
}

static bool is_sender(uint32_t i)
{
	switch (sc.pattern) {
	case STREAM:
	case PINGPONG:
		return !(i & 1) && i + 1 < nr_vcpus();
	case MANY_TO_ONE:
		return i != 0;
	default:
		return i == 0;
	}
}

static uint32_t nr_senders(void)
{
	uint32_t i, n = 0;

	for (i = 0; i < nr_vcpus(); i++)
		n += is_sender(i);
	return n;
}

/* Bit mask of the vCPUs that send @k (from 1) of sender @s goes to. */
static uint32_t targets(uint32_t s, uint64_t k)
{
	uint32_t all = (1u << nr_vcpus()) - 1;

	switch (sc.pattern) {
	case STREAM:
	case PINGPONG:
		return 1u << (s + 1);
	case MANY_TO_ONE:
		return 1u;
	default:
		break;
	}
	switch (sc.dest) {
	case PHYSICAL:
		return 1u << (1 + k % (nr_vcpus() - 1));
	case ALLINC:
		return all;
	default:
		return all & ~1u;
	}
}

/* Every vCPU that receives anything, for the final "done" kick. */
static uint32_t all_receivers(void)
{
	uint32_t s, mask = 0;
	uint64_t k;

	for (s = 0; s < nr_vcpus(); s++) {
		for (k = 1; is_sender(s) && k < nr_vcpus(); k++)
			mask |= targets(s, k);
	}
	return mask;
}

static uint8_t vector_of(uint32_t s, uint64_t k)
{
	return VECTOR_BASE + WINDOW * s + k % WINDOW;
}

static void send(uint32_t mask, uint8_t vector)
{
	uint32_t low = APIC_DM_FIXED | APIC_INT_ASSERT | vector;

	switch (sc.dest) {
	case PHYSICAL:
		ipi_guest_write_icr(__builtin_ctz(mask), low | APIC_DEST_PHYSICAL);
		break;
	case LOGICAL:
		/* x2APIC cluster 0 and xAPIC flat: one bit per vCPU index. */
		ipi_guest_write_icr(mask, low | APIC_DEST_LOGICAL);
		break;
	case ALLBUT:
		ipi_guest_write_icr(0, low | APIC_DEST_ALLBUT);
		break;
	case ALLINC:
		ipi_guest_write_icr(0, low | APIC_DEST_ALLINC);
		break;
	}
}

/*
 * Send @vector to every vCPU in @mask, once the previous send of it to each
 * has landed.  If one has not within the grace period, skip this send
 * (the wait is counted as missed): sending into a vector still pending in
 * the IRR would merge the two and look like a loss.
 */
static bool send_counted(uint32_t mask, uint8_t vector)
{
	uint64_t seq[MAX_VCPUS];
	uint32_t m;

	for (m = mask; m; m &= m - 1) {
		struct ipi_vcpu *d = &ipi_config.vcpus[__builtin_ctz(m)];

		if (!ipi_guest_wait_delivered(d, vector))
			return false;
	}
	for (m = mask; m; m &= m - 1)
		seq[__builtin_ctz(m)] = ipi_guest_stamp(__builtin_ctz(m), vector);
	if (!ipi_guest_fault_now(IPI_FAULT_PHANTOM))
		send(mask, vector);
	for (m = mask; m; m &= m - 1)
		ipi_guest_stamp_end(__builtin_ctz(m), vector, seq[__builtin_ctz(m)]);
	return true;
}

static uint64_t received_from(struct ipi_vcpu *self, uint32_t s)
{
	uint64_t n = 0;
	int v;

	for (v = 0; v < WINDOW; v++)
		n += READ_ONCE(self->received[VECTOR_BASE + WINDOW * s + v]);
	return n;
}

/* Idle as the receiver state says until @done(arg) holds, or the run stops. */
static void rx_wait(bool (*done)(struct ipi_vcpu *, uint64_t), uint64_t arg)
{
	struct ipi_vcpu *self = this_ipi_vcpu();
	uint64_t rng = 0x9e3779b97f4a7c15ull * (self->index + 1);

	while (!ipi_guest_should_stop()) {
		uint64_t spin_end = rdtsc();

		if (sc.rx == RX_DWELL) {
			if (done(self, arg))
				break;
			ipi_guest_exit_and_dwell(self);
			WRITE_ONCE(self->progress, self->progress + 1);
			continue;
		}
		if (sc.rx == RX_SPIN) {
			spin_end = UINT64_MAX;
		} else if (sc.rx == RX_ALTERNATE) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			spin_end += rng % (ipi_config.delay_threshold / 8 + 1);
		}
		ipi_irq_enable();
		while (!done(self, arg) && rdtsc() < spin_end && !ipi_guest_should_stop())
			cpu_relax();
		ipi_irq_disable();
		/* Checked with IF=0, so an IPI after the check wakes the hlt. */
		if (done(self, arg) || ipi_guest_should_stop())
			break;
		ipi_guest_halt();
		WRITE_ONCE(self->progress, self->progress + 1);
	}
	ipi_irq_enable();
}

static bool senders_finished(struct ipi_vcpu *self __maybe_unused, uint64_t arg __maybe_unused)
{
	return READ_ONCE(all_sent);
}

static bool ping_arrived(struct ipi_vcpu *self, uint64_t k)
{
	return received_from(self, self->index - 1) >= k || senders_finished(self, 0);
}

/* Per pinger: when its wait for the current pong gives up. */
static uint64_t pong_deadline[MAX_VCPUS];

static bool pong_answered(struct ipi_vcpu *self, uint64_t v)
{
	const struct ipi_vcpu *ponger = &ipi_config.vcpus[self->index + 1];

	return READ_ONCE(self->received[v]) >= READ_ONCE(ponger->tx[v].sent);
}

/* Every ping sent on vector @v has been answered, or the wait is over. */
static bool pong_arrived(struct ipi_vcpu *self, uint64_t v)
{
	return pong_answered(self, v) || (int64_t)(rdtsc() - pong_deadline[self->index]) > 0;
}

static void finish_sending(void)
{
	uint64_t seq[MAX_VCPUS];
	uint32_t m;

	/*
	 * The last sender tells every receiver, one kick each so none merge.
	 * The kicks are counted before "done" is published: a receiver that
	 * sees it drains them before it exits.
	 */
	if (__atomic_add_fetch(&senders_done, 1, __ATOMIC_SEQ_CST) != nr_senders())
		return;
	for (m = all_receivers(); m; m &= m - 1)
		seq[__builtin_ctz(m)] = ipi_guest_stamp(__builtin_ctz(m), IPI_DONE_VECTOR);
	__atomic_store_n(&all_sent, 1, __ATOMIC_SEQ_CST);
	for (m = all_receivers(); m; m &= m - 1) {
		ipi_guest_write_icr(__builtin_ctz(m), APIC_DM_FIXED | APIC_INT_ASSERT |
				    APIC_DEST_PHYSICAL | IPI_DONE_VECTOR);
		ipi_guest_stamp_end(__builtin_ctz(m), IPI_DONE_VECTOR, seq[__builtin_ctz(m)]);
	}
}

static void sender(struct ipi_vcpu *self)
{
	uint64_t k, t0, start = rdtsc();

	for (k = 1; ipi_guest_more(k, start); k++) {
		uint8_t vector = vector_of(self->index, k);
		uint32_t mask = targets(self->index, k);

		t0 = rdtsc();
		if (!send_counted(mask, vector))
			continue;
		/*
		 * The answer comes on the same vector, one per ping sent on it,
		 * and is waited for in the variant's receiver state: a pinger
		 * that spun for it while the ponger halted would time a halted
		 * and a spinning receiver, and the round trip would be no
		 * multiple of either one-way latency.
		 */
		if (sc.pattern == PINGPONG) {
			/*
			 * Bounded as every wait of the harness is: a pong that
			 * never comes is a missed wait, and lost at the end.
			 */
			pong_deadline[self->index] = rdtsc() + ipi_config.wait_timeout;
			rx_wait(pong_arrived, vector);
			if (!pong_answered(self, vector))
				self->missed_waits++;
		}
		lat_hist_record(&self->iteration, rdtsc() - t0);
		/* A heartbeat: rx_wait() beats it too, and it must never repeat a value. */
		WRITE_ONCE(self->progress, self->progress + 1);
	}
	finish_sending();
}

/* Answer every ping on the vector it came on; a skipped ping skips nothing. */
static void pong(struct ipi_vcpu *self)
{
	uint32_t pinger = self->index - 1;
	uint64_t answered[WINDOW] = {}, total = 0;
	int w;

	for (;;) {
		rx_wait(ping_arrived, total + 1);
		if (received_from(self, pinger) <= total)
			break;
		for (w = 0; w < WINDOW; w++) {
			uint8_t vector = VECTOR_BASE + WINDOW * pinger + w;

			while (answered[w] < READ_ONCE(self->received[vector])) {
				uint64_t seq = ipi_guest_stamp(pinger, vector);

				send(1u << pinger, vector);
				ipi_guest_stamp_end(pinger, vector, seq);
				answered[w]++;
				total++;
			}
		}
	}
}

static void guest_code(void)
{
	struct ipi_vcpu *self = ipi_guest_init(sc.x2apic);

	if (!sc.x2apic) {
		xapic_write_reg(APIC_DFR, APIC_DFR_FLAT);
		xapic_write_reg(APIC_LDR, (1u << self->index) << 24);
	}
	ipi_guest_wait_all_ready();

	if (is_sender(self->index))
		sender(self);
	else if (sc.pattern == PINGPONG && self->index & 1)
		pong(self);
	else
		rx_wait(senders_finished, 0);
	ipi_guest_drain();
	GUEST_DONE();
}

static struct ipi_vm *run_cross(const struct ipi_variant *v, const struct ipi_options *o)
{
	unsigned int nr = o->vcpus;
	struct ipi_vm *ivm;

	sc = *(const struct scenario *)v->arg;
	if (!o->vcpus_given && (sc.pattern == ONE_TO_MANY || sc.pattern == MANY_TO_ONE))
		nr = nr < FAN_VCPUS ? FAN_VCPUS : nr;
	if (sc.x2apic)
		TEST_REQUIRE(kvm_cpu_has(X86_FEATURE_X2APIC));
	else if (sc.dest == LOGICAL)
		__TEST_REQUIRE(nr <= XAPIC_FLAT_MAX,
			       "xAPIC flat logical mode addresses at most %u vCPUs",
			       XAPIC_FLAT_MAX);

	ivm = ipi_vm_create(nr, guest_code, o);
	sync_global_to_guest(ivm->vm, sc);
	ipi_vm_run(ivm);
	return ivm;
}

#define SC(_pattern, _dest, _rx, _x2apic) \
	((uintptr_t)&(const struct scenario){ _pattern, _dest, _rx, _x2apic })

#define RX_STATES(apic, x2apic, name, pattern, dest)				\
	{ apic "_" name "_spin", run_cross, SC(pattern, dest, RX_SPIN, x2apic) },	\
	{ apic "_" name "_halt", run_cross, SC(pattern, dest, RX_HALT, x2apic) },	\
	{ apic "_" name "_alternate", run_cross, SC(pattern, dest, RX_ALTERNATE, x2apic) },	\
	{ apic "_" name "_dwell", run_cross, SC(pattern, dest, RX_DWELL, x2apic) }

#define APIC_MODE(apic, x2apic)								\
	RX_STATES(apic, x2apic, "stream_physical", STREAM, PHYSICAL),			\
	RX_STATES(apic, x2apic, "stream_logical", STREAM, LOGICAL),			\
	RX_STATES(apic, x2apic, "pingpong_physical", PINGPONG, PHYSICAL),		\
	RX_STATES(apic, x2apic, "many_to_one_physical", MANY_TO_ONE, PHYSICAL),		\
	RX_STATES(apic, x2apic, "one_to_many_physical", ONE_TO_MANY, PHYSICAL),		\
	RX_STATES(apic, x2apic, "one_to_many_logical", ONE_TO_MANY, LOGICAL),		\
	RX_STATES(apic, x2apic, "one_to_many_allbut", ONE_TO_MANY, ALLBUT),		\
	RX_STATES(apic, x2apic, "one_to_many_allinc", ONE_TO_MANY, ALLINC)

static const struct ipi_variant variants[] = {
	APIC_MODE("xapic", false),
	APIC_MODE("x2apic", true),
};

static const struct ipi_test test = {
	.name = "cross_vcpu_ipi_test",
	.variants = variants,
	.nr_variants = ARRAY_SIZE(variants),
	.default_count = DEFAULT_COUNT,
	.min_vcpus = 2, .default_vcpus = 2, .max_vcpus = MAX_VCPUS,
	.faults = IPI_HANDLER_FAULTS | IPI_FAULT_BIT(IPI_FAULT_PHANTOM) |
		  IPI_FAULT_BIT(IPI_FAULT_HELD),
};

int main(int argc, char *argv[])
{
	return ipi_test_main(&test, argc, argv);
}
