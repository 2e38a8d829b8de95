// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "kvm_util.h"
#include "apic.h"
#include "kselftest.h"

#include "ipi_classify.h"
#include "ipi_harness.h"
#include "ipi_options.h"
#include "ipi_report.h"
#include "host_info.h"
#include "json_writer.h"
#include "kvm_stats_snapshot.h"

void ipi_count_vector(struct ipi_counts *c, uint64_t sent, uint64_t received,
		      uint64_t again)
{
	uint64_t once = received - again;

	c->sent += sent;
	c->received += received;
	if (!sent) {
		c->spurious += received;
		return;
	}
	/* Matched send by send, a loss and a duplicate cannot cancel out. */
	c->duplicate += again + (once > sent ? once - sent : 0);
	c->lost += once < sent ? sent - once : 0;
}

static __printf(3, 4) void add_reason(char *why, size_t len, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used)
		snprintf(why + used, len - used, ", ");
	used = strlen(why);
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
}

int ipi_verdict(const struct ipi_counts *c, bool aborted,
		const struct ipi_verdict_policy *p, char *why, size_t len)
{
	why[0] = '\0';
	if (p->fault && !c->faults_injected)
		add_reason(why, len, "negative control injected no fault");
	if (c->lost)
		add_reason(why, len, "%llu lost", (unsigned long long)c->lost);
	if (c->rescued)
		add_reason(why, len, "%llu rescued", (unsigned long long)c->rescued);
	if (c->held)
		add_reason(why, len, "%llu held", (unsigned long long)c->held);
	if (c->duplicate)
		add_reason(why, len, "%llu duplicate", (unsigned long long)c->duplicate);
	if (c->spurious)
		add_reason(why, len, "%llu spurious", (unsigned long long)c->spurious);
	if (c->late)
		add_reason(why, len, "%llu late", (unsigned long long)c->late);
	if (c->stranded)
		add_reason(why, len, "%llu stranded", (unsigned long long)c->stranded);
	if (c->misordered)
		add_reason(why, len, "%llu delivered against the priority rules",
			   (unsigned long long)c->misordered);
	if (c->stuck)
		add_reason(why, len, "%llu interrupt sources stuck (an IOAPIC remote IRR never cleared)",
			   (unsigned long long)c->stuck);
	if (c->no_esr)
		add_reason(why, len, "%llu illegal vectors raised no APIC error (ESR)",
			   (unsigned long long)c->no_esr);
	if (c->masked)
		add_reason(why, len, "%llu taken while masked (IF=0 or an STI shadow)",
			   (unsigned long long)c->masked);
	if (c->clock_skew_beyond)
		add_reason(why, len, "clock skew beyond the TSC error on %llu vCPUs",
			   (unsigned long long)c->clock_skew_beyond);
	if (c->delayed && p->fail_on_delayed)
		add_reason(why, len, "%llu delayed", (unsigned long long)c->delayed);
	if (aborted)
		add_reason(why, len, "run stopped by the watchdog (a stall, or its deadline)");
	return why[0] ? KSFT_FAIL : KSFT_PASS;
}

uint64_t cycles_to_ns(uint64_t cycles, uint64_t tsc_khz)
{
	return (uint64_t)((__uint128_t)cycles * 1000000 / tsc_khz +
			  ((__uint128_t)cycles * 1000000 % tsc_khz >= tsc_khz / 2 + tsc_khz % 2));
}

struct run_totals {
	struct ipi_counts counts;
	struct ipi_classes classes;
	struct lat_hist latency;
	struct lat_hist iteration;
	struct lat_hist eoi;
	struct kvm_stats_snapshot *stats;
};

static void collect(struct ipi_vm *ivm, struct run_totals *t)
{
	unsigned int i, v;

	memset(&t->counts, 0, sizeof(t->counts));
	lat_hist_init(&t->latency);
	lat_hist_init(&t->iteration);
	lat_hist_init(&t->eoi);
	t->stats = NULL;

	t->counts.faults_injected = ivm->host_faults_injected;
	t->counts.missed_waits = ivm->host_missed_waits;
	t->counts.stuck = ivm->stuck;
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		/* From 0: the NMI's count is vector 2's; anything else below 32 is spurious. */
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			if (!ipi_harness_vector(v))
				ipi_count_vector(&t->counts, rec->tx[v].sent, rec->received[v],
						 rec->received_again[v]);
		}
		t->counts.delayed += rec->delayed;
		t->counts.late += rec->late;
		t->counts.clock_skew += rec->clock_skew;
		t->counts.missed_waits += rec->missed_waits;
		t->counts.faults_injected += rec->faults_injected;
		t->counts.delayed_by_fault += rec->delayed_by_fault;
		t->counts.masked += rec->taken_masked;
		t->counts.misordered += rec->misordered;
		t->counts.no_esr += rec->no_esr;
		lat_hist_merge(&t->latency, &rec->latency);
		lat_hist_merge(&t->iteration, &rec->iteration);
		lat_hist_merge(&t->eoi, &rec->eoi);

		if (ivm->stats_before[i] && ivm->stats_after[i]) {
			if (!t->stats)
				t->stats = kvm_stats_snapshot_alloc(ivm->stats_after[i]->nr);
			kvm_stats_accumulate_delta(t->stats, ivm->stats_before[i],
						   ivm->stats_after[i]);
		}
	}
	ipi_classify(ivm, &t->classes);
	/* A delivery before its send, past what the clocks' error allows: the timeline is wrong. */
	for (i = 0; i < ivm->nr_vcpus && !ivm->tsc_unstable; i++) {
		if (ivm->rec[i]->max_clock_skew > t->classes.clock_error)
			t->counts.clock_skew_beyond++;
	}
	t->counts.held = t->classes.held;
	t->counts.rescued = t->classes.rescued;
	t->counts.stranded = t->classes.stranded;
}

static void write_counts(struct json_writer *w, const struct ipi_counts *c)
{
	json_begin_object(w, "counts");
	json_u64(w, "sent", c->sent);
	json_u64(w, "received", c->received);
	json_u64(w, "lost", c->lost);
	json_u64(w, "duplicate", c->duplicate);
	json_u64(w, "spurious", c->spurious);
	json_u64(w, "delayed", c->delayed);
	json_u64(w, "late", c->late);
	json_u64(w, "held", c->held);
	json_u64(w, "rescued", c->rescued);
	json_u64(w, "stranded", c->stranded);
	json_u64(w, "masked", c->masked);
	json_u64(w, "misordered", c->misordered);
	json_u64(w, "stuck", c->stuck);
	json_u64(w, "no_esr", c->no_esr);
	json_u64(w, "clock_skew", c->clock_skew);
	json_u64(w, "clock_skew_beyond_error", c->clock_skew_beyond);
	json_u64(w, "missed_waits", c->missed_waits);
	json_u64(w, "faults_injected", c->faults_injected);
	json_u64(w, "delayed_by_fault", c->delayed_by_fault);
	json_end_object(w);
}

static void write_summary(struct json_writer *w, const char *key,
			  const struct lat_hist *h, uint64_t tsc_khz)
{
	struct lat_summary s;
	static const char * const names[] = { "min", "p50", "p90", "p99", "p999", "max", "mean" };
	uint64_t vals[ARRAY_SIZE(names)];
	unsigned int i;

	lat_hist_summarize(h, &s);
	vals[0] = s.min; vals[1] = s.p50; vals[2] = s.p90; vals[3] = s.p99;
	vals[4] = s.p999; vals[5] = s.max; vals[6] = s.mean;

	json_begin_object(w, key);
	json_u64(w, "count", s.count);
	json_begin_object(w, "cycles");
	for (i = 0; i < ARRAY_SIZE(names); i++)
		json_u64(w, names[i], vals[i]);
	json_end_object(w);
	json_begin_object(w, "ns");
	for (i = 0; i < ARRAY_SIZE(names); i++)
		json_u64(w, names[i], cycles_to_ns(vals[i], tsc_khz));
	json_end_object(w);
	/* Non-empty buckets as [low, high, count], enough to rebuild the histogram. */
	json_begin_array(w, "buckets");
	for (i = 0; i < LAT_HIST_NR_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		json_begin_array(w, NULL);
		json_u64(w, NULL, lat_hist_bucket_low(i));
		json_u64(w, NULL, lat_hist_bucket_high(i));
		json_u64(w, NULL, h->buckets[i]);
		json_end_array(w);
	}
	json_end_array(w);
	json_u64(w, "overflow", h->overflow);
	json_end_object(w);
}

static void write_per_vector(struct json_writer *w, const struct ipi_vm *ivm)
{
	unsigned int i, v;

	json_begin_array(w, "per_vector");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			const struct ipi_vcpu *rec = ivm->rec[i];

			if (!rec->tx[v].sent && !rec->received[v])
				continue;
			json_begin_object(w, NULL);
			json_u64(w, "vcpu", i);
			json_u64(w, "vector", v);
			json_u64(w, "sent", rec->tx[v].sent);
			json_u64(w, "received", rec->received[v]);
			json_u64(w, "delayed", rec->delayed_by_vector[v]);
			json_u64(w, "max_latency_cycles", rec->max_latency[v]);
			json_bool(w, "harness", ipi_harness_vector(v));
			json_end_object(w);
		}
	}
	json_end_array(w);
}

static void write_stats(struct json_writer *w, const struct kvm_stats_snapshot *s,
			uint64_t sent)
{
	static const char * const per_ipi[] = {
		"exits", "irq_injections", "halt_exits", "halt_wakeup", "irq_exits",
		"request_irq_exits", "irq_window_exits", "nmi_injections", "nmi_window_exits",
	};
	unsigned int i;

	if (!s) {
		json_null(w, "kvm_stats");
		json_null(w, "per_ipi");
		return;
	}
	json_begin_object(w, "kvm_stats");
	for (i = 0; i < s->nr; i++)
		json_u64(w, s->stats[i].name, s->stats[i].value);
	json_end_object(w);

	json_begin_object(w, "per_ipi");
	for (i = 0; i < ARRAY_SIZE(per_ipi); i++) {
		const struct kvm_stat_value *v = kvm_stats_find(s, per_ipi[i]);

		if (v && sent)
			json_double(w, per_ipi[i], (double)v->value / sent);
	}
	json_end_object(w);
}

static void write_u64_array(struct json_writer *w, const char *key,
			    const uint64_t *v, unsigned int n)
{
	unsigned int i;

	json_begin_array(w, key);
	for (i = 0; i < n; i++)
		json_u64(w, NULL, v[i]);
	json_end_array(w);
}

static void write_tsc(struct json_writer *w, const struct ipi_vm *ivm)
{
	unsigned int i;

	json_begin_object(w, "tsc");
	json_u64(w, "khz", ivm->tsc_khz);
	json_begin_array(w, "guest_offset");
	for (i = 0; i < ivm->nr_vcpus; i++)
		json_i64(w, NULL, ivm->tsc_offset[i]);
	json_end_array(w);
	json_begin_array(w, "guest_offset_error");
	for (i = 0; i < ivm->nr_vcpus; i++)
		json_u64(w, NULL, ivm->tsc_offset_err[i]);
	json_end_array(w);
	json_begin_array(w, "guest_offset_drift");
	for (i = 0; i < ivm->nr_vcpus; i++)
		json_i64(w, NULL, ivm->tsc_drift[i]);
	json_end_array(w);
	json_bool(w, "unstable", ivm->tsc_unstable);
	json_end_object(w);
}

static void write_params(struct json_writer *w, const struct ipi_vm *ivm,
			 const struct ipi_options *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	json_begin_object(w, "params");
	json_u64(w, "vcpus", ivm->nr_vcpus);
	json_bool(w, "pinned", ivm->pin);
	json_u64(w, "host_cpus", cpus);
	json_bool(w, "overcommit", ivm->nr_vcpus > cpus);
	json_u64(w, "migrate_us", ivm->migrate_us);
	json_bool(w, "check_icr", o->check_icr);
	json_u64(w, "count", o->count);
	json_u64(w, "duration_s", o->duration_s);
	json_u64(w, "delay_threshold_us", o->delay_threshold_us);
	json_u64(w, "delay_threshold_cycles", ivm->config->delay_threshold);
	json_bool(w, "fail_on_delayed", o->fail_on_delayed);
	json_u64(w, "grace_ms", o->grace_ms);
	json_u64(w, "stall_ms", o->stall_ms);
	json_string(w, "fault", ipi_fault_name(o->fault));
	json_u64(w, "fault_every", o->fault_every);
	json_end_object(w);
}

static void print_summary(const char *what, const struct lat_hist *h, uint64_t tsc_khz)
{
	struct lat_summary s;

	lat_hist_summarize(h, &s);
	if (!s.count)
		return;
	ksft_print_msg("%s cycles: n=%llu min=%llu p50=%llu p90=%llu p99=%llu p99.9=%llu max=%llu (p50 %llu ns)\n",
		       what, (unsigned long long)s.count, (unsigned long long)s.min,
		       (unsigned long long)s.p50, (unsigned long long)s.p90,
		       (unsigned long long)s.p99, (unsigned long long)s.p999,
		       (unsigned long long)s.max,
		       (unsigned long long)cycles_to_ns(s.p50, tsc_khz));
}

static void vectors_set(struct json_writer *w, const char *key,
			const struct kvm_lapic_state *st, unsigned int reg, char *text, size_t len)
{
	unsigned int v;
	size_t used = 0;

	text[0] = '\0';
	json_begin_array(w, key);
	for (v = 0; v < IPI_NR_VECTORS; v++) {
		uint32_t word = *(const uint32_t *)&st->regs[reg + (v / 32) * 0x10];

		if (!(word & (1u << (v % 32))))
			continue;
		json_u64(w, NULL, v);
		used += snprintf(text + used, used < len ? len - used : 0, " 0x%x", v);
	}
	json_end_array(w);
}

/*
 * Something went missing: where to start debugging.  Per vCPU, what KVM's
 * LAPIC holds (KVM_GET_LAPIC), the last delivery, and every vector with
 * sends outstanding, with the TSC of its last send.
 */
static void dump_diagnostics(struct ipi_vm *ivm, struct json_writer *w)
{
	char irr[512], isr[512];
	unsigned int i, v;

	json_begin_array(w, "diagnostics");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];
		struct kvm_lapic_state st;

		vcpu_ioctl(ivm->vcpus[i], KVM_GET_LAPIC, &st);
		json_begin_object(w, NULL);
		json_u64(w, "vcpu", i);
		vectors_set(w, "irr", &st, APIC_IRR, irr, sizeof(irr));
		vectors_set(w, "isr", &st, 0x100, isr, sizeof(isr));
		json_u64(w, "tpr", *(uint32_t *)&st.regs[APIC_TASKPRI]);
		json_u64(w, "ppr", *(uint32_t *)&st.regs[APIC_PROCPRI]);
		json_u64(w, "last_rx_vector", rec->last_rx_vector);
		json_u64(w, "last_rx_tsc", rec->last_rx_tsc);
		ksft_print_msg("vCPU %u: IRR {%s } ISR {%s } TPR 0x%x PPR 0x%x, last delivery 0x%llx at TSC %llu\n",
			       i, irr, isr, *(uint32_t *)&st.regs[APIC_TASKPRI],
			       *(uint32_t *)&st.regs[APIC_PROCPRI],
			       (unsigned long long)rec->last_rx_vector,
			       (unsigned long long)rec->last_rx_tsc);
		json_begin_array(w, "outstanding");
		/* From 0: an NMI counts as vector 2. */
		for (v = 0; v < IPI_NR_VECTORS; v++) {
			if (ipi_harness_vector(v) || rec->tx[v].sent <= rec->received[v])
				continue;
			json_begin_object(w, NULL);
			json_u64(w, "vector", v);
			json_u64(w, "sent", rec->tx[v].sent);
			json_u64(w, "received", rec->received[v]);
			json_u64(w, "last_sent_tsc", rec->tx[v].tsc);
			json_end_object(w);
			ksft_print_msg("vCPU %u: vector 0x%x sent %llu received %llu, last sent at TSC %llu\n",
				       i, v, (unsigned long long)rec->tx[v].sent,
				       (unsigned long long)rec->received[v],
				       (unsigned long long)rec->tx[v].tsc);
		}
		json_end_array(w);
		json_end_object(w);
	}
	json_end_array(w);
}

/*
 * A failure that only a known issue of this host explains becomes XFAIL:
 * the classes the issue excuses taken away, the verdict must pass.  Never
 * for a negative control, which must fail as itself.
 */
static const struct ipi_known_issue *explained(const struct ipi_counts *c, bool aborted,
					       const struct ipi_verdict_policy *p,
					       const char *test, const char *variant)
{
	const struct ipi_known_issue *k;
	struct ipi_counts rest = *c;
	struct utsname u;
	char why[256];

	if (aborted || p->fault)
		return NULL;
	uname(&u);
	k = ipi_find_known_issue(kvm_vendor_module(), getenv("IPI_RIG_EMULATOR"), u.release,
				 test, variant, c);
	if (!k)
		return NULL;
	if (k->excuses & IPI_EXCUSE_LATE) {
		/* Late deliveries are counted delayed too. */
		rest.delayed = rest.delayed > rest.late ? rest.delayed - rest.late : 0;
		rest.late = 0;
	}
	if (k->excuses & IPI_EXCUSE_HELD)
		rest.held = 0;
	if (k->excuses & IPI_EXCUSE_STRANDED)
		rest.stranded = 0;
	if (k->excuses & IPI_EXCUSE_NO_ESR)
		rest.no_esr = 0;
	return ipi_verdict(&rest, aborted, p, why, sizeof(why)) == KSFT_PASS ? k : NULL;
}

int ipi_vm_report(struct ipi_vm *ivm, const struct ipi_options *opts,
		  const char *test, const char *variant, struct json_writer *w)
{
	struct ipi_verdict_policy policy = {
		.fail_on_delayed = opts->fail_on_delayed,
		.fault = opts->fault != IPI_FAULT_NONE,
	};
	const struct ipi_known_issue *issue = NULL;
	struct run_totals t;
	char why[256];
	int verdict;

	collect(ivm, &t);
	/* A run stopped at its deadline failed, wound down or not. */
	verdict = ipi_verdict(&t.counts, ivm->aborted || ivm->deadline_passed, &policy, why,
			      sizeof(why));
	if (verdict != KSFT_PASS)
		issue = explained(&t.counts, ivm->aborted || ivm->deadline_passed, &policy, test,
				  variant);

	ksft_print_msg("sent=%llu received=%llu lost=%llu rescued=%llu held=%llu late=%llu stranded=%llu masked=%llu duplicate=%llu spurious=%llu delayed=%llu (> %llu us) wakes=%llu\n",
		       (unsigned long long)t.counts.sent, (unsigned long long)t.counts.received,
		       (unsigned long long)t.counts.lost, (unsigned long long)t.counts.rescued,
		       (unsigned long long)t.counts.held, (unsigned long long)t.counts.late,
		       (unsigned long long)t.counts.stranded, (unsigned long long)t.counts.masked,
		       (unsigned long long)t.counts.duplicate,
		       (unsigned long long)t.counts.spurious,
		       (unsigned long long)t.counts.delayed,
		       (unsigned long long)opts->delay_threshold_us,
		       (unsigned long long)ivm->wakes_sent);
	ipi_classify_print(ivm, &t.classes);
	print_summary("send->handler", &t.latency, ivm->tsc_khz);
	print_summary("iteration", &t.iteration, ivm->tsc_khz);
	print_summary("eoi", &t.eoi, ivm->tsc_khz);
	if (issue)
		ksft_print_msg("XFAIL: %s; known issue on %s: %s\n", why, issue->vendor_module,
			       issue->what);
	else if (verdict != KSFT_PASS)
		ksft_print_msg("FAIL: %s\n", why);

	write_params(w, ivm, opts);
	write_tsc(w, ivm);
	write_counts(w, &t.counts);
	ipi_classify_write_json(ivm, &t.classes, w);
	json_string(w, "fail_reason", verdict == KSFT_PASS ? NULL : why);
	json_string(w, "known_issue", issue ? issue->what : NULL);
	json_u64(w, "wakes", ivm->wakes_sent);
	json_u64(w, "migrations", ivm->migrations);
	json_u64(w, "kicks", ivm->kicks);
	write_u64_array(w, "exits_to_userspace", ivm->exits, ivm->nr_vcpus);
	json_bool(w, "aborted", ivm->aborted);
	json_bool(w, "deadline_passed", ivm->deadline_passed);
	write_summary(w, "latency", &t.latency, ivm->tsc_khz);
	write_summary(w, "iteration", &t.iteration, ivm->tsc_khz);
	write_summary(w, "eoi", &t.eoi, ivm->tsc_khz);
	write_per_vector(w, ivm);
	if (t.counts.lost || t.counts.rescued || t.counts.held || t.counts.stranded ||
	    t.counts.masked || t.counts.misordered || t.counts.stuck || ivm->aborted ||
	    ivm->deadline_passed)
		dump_diagnostics(ivm, w);
	write_stats(w, t.stats, t.counts.sent);
	if (ivm->report_extra)
		ivm->report_extra(ivm, w);
	free(t.stats);
	return issue ? KSFT_XFAIL : verdict;
}
