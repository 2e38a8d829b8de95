// SPDX-License-Identifier: GPL-2.0-only
/*
 * The classifier: held, rescued and stranded interrupts, from what the
 * guest recorded at each delivery (see ipi_classify.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_util.h"
#include "kselftest.h"

#include "ipi_classify.h"
#include "ipi_harness.h"
#include "json_writer.h"

#define EVIDENCE	4

enum judged { J_NONE, J_HELD, J_RESCUED };

static const char * const kind_names[] = {
	[IPI_CROSS_EXIT] = "exit", [IPI_CROSS_GAP] = "unasked_exit",
	[IPI_CROSS_HARNESS_EXIT] = "harness_exit",
	[IPI_CROSS_WAKE] = "watchdog_wake", [IPI_CROSS_KICK] = "end_of_run_kick",
};

static uint64_t abs_diff(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

/*
 * How far apart two stamps of one instant can read: a host stamp is off
 * by the offset's error, a stamp by another vCPU by the difference of the
 * two vCPUs' offsets and both errors.
 */
static uint64_t clock_error(const struct ipi_vm *ivm)
{
	uint64_t err = 0, e;
	unsigned int i, j;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		err = ivm->tsc_offset_err[i] > err ? ivm->tsc_offset_err[i] : err;
		for (j = 0; j < i; j++) {
			e = abs_diff(ivm->tsc_offset[i], ivm->tsc_offset[j]) +
			    ivm->tsc_offset_err[i] + ivm->tsc_offset_err[j];
			err = e > err ? e : err;
		}
	}
	return err;
}

static bool exceeds(const struct ipi_classes *c, const struct ipi_crossing *x)
{
	if (x->kind == IPI_CROSS_EXIT || x->kind == IPI_CROSS_GAP ||
	    x->kind == IPI_CROSS_HARNESS_EXIT)
		return x->window > c->margin_run;
	return x->window > c->margin_tsc;
}

/* One delivery's crossings are consecutive, with the same delivery number. */
static unsigned int group_len(const struct ipi_crossing *x, unsigned int left)
{
	unsigned int n = 1;

	while (n < left && x[n].pad == x[0].pad && x[n].vector == x[0].vector)
		n++;
	return n;
}

static enum judged judge(const struct ipi_classes *c, const struct ipi_crossing *x,
			 unsigned int n, const struct ipi_crossing **why)
{
	enum judged j = J_NONE;
	unsigned int k;

	for (k = 0; k < n; k++) {
		if (!exceeds(c, &x[k]))
			continue;
		if (x[k].kind != IPI_CROSS_EXIT && x[k].kind != IPI_CROSS_GAP) {
			*why = &x[k];
			return J_RESCUED;
		}
		*why = &x[k];
		j = J_HELD;
	}
	return j;
}

static unsigned int kept(const struct ipi_vcpu *rec)
{
	return rec->nr_crossings < IPI_MAX_CROSSINGS ? rec->nr_crossings : IPI_MAX_CROSSINGS;
}

static int by_delivery(const void *a, const void *b)
{
	const struct ipi_crossing *x = a, *y = b;

	if (x->pad != y->pad)
		return x->pad < y->pad ? -1 : 1;
	if (x->vector != y->vector)
		return x->vector < y->vector ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/*
 * A vCPU's kept crossings, one delivery's together: once the array was
 * full, the guest replaced the shortest windows, out of order.
 */
static struct ipi_crossing *sorted_crossings(const struct ipi_vcpu *rec)
{
	struct ipi_crossing *x = calloc(kept(rec) + 1, sizeof(*x));

	TEST_ASSERT(x, "Out of memory");
	memcpy(x, rec->crossings, kept(rec) * sizeof(*x));
	qsort(x, kept(rec), sizeof(*x), by_delivery);
	return x;
}

void ipi_classify(const struct ipi_vm *ivm, struct ipi_classes *c)
{
	uint64_t max_run = 0, max_tsc = 0, gap = 0;
	unsigned int i, k, n;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		max_run = rec->prompt_max_run > max_run ? rec->prompt_max_run : max_run;
		max_tsc = rec->prompt_max_tsc > max_tsc ? rec->prompt_max_tsc : max_tsc;
		gap = rec->gap_cycles > gap ? rec->gap_cycles : gap;
		c->prompt += rec->prompt;
		c->crossings += rec->nr_crossings;
		c->unjudged += rec->nr_crossings - kept(rec);
		c->stranded += rec->stranded;
	}
	c->clock_error = clock_error(ivm);
	c->clock_unstable = ivm->tsc_unstable;
	c->margin_run = 2 * (max_run + gap) + 2 * c->clock_error;
	c->margin_tsc = 2 * max_tsc + 2 * c->clock_error;

	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];
		struct ipi_crossing *all = sorted_crossings(rec);

		if (rec->nr_crossings > IPI_MAX_CROSSINGS) {
			for (k = 0; k < IPI_MAX_CROSSINGS; k++) {
				if (!c->judged_down_to || all[k].window < c->judged_down_to)
					c->judged_down_to = all[k].window;
			}
		}
		for (k = 0; k < kept(rec); k += n) {
			const struct ipi_crossing *x = &all[k], *why = NULL;
			enum judged j;
			unsigned int m;
			bool fault = false;

			n = group_len(x, kept(rec) - k);
			for (m = 0; m < n; m++)
				fault |= x[m].fault;
			j = judge(c, x, n, &why);
			/* On a moving TSC, windows from other clocks' stamps mean nothing. */
			if (c->clock_unstable && j != J_NONE) {
				c->not_judged++;
				j = J_NONE;
			}
			c->held += j == J_HELD;
			c->rescued += j == J_RESCUED;
			c->control_released += fault;
			c->control_flagged += fault && j == J_HELD;
		}
		free(all);
	}
}

/* Calls @fn on the first EVIDENCE deliveries judged @want, with the crossing that decided. */
static void for_each_judged(const struct ipi_vm *ivm, const struct ipi_classes *c,
			    enum judged want,
			    void (*fn)(unsigned int vcpu, const struct ipi_crossing *x, void *arg),
			    void *arg)
{
	unsigned int i, k, n, found = 0;

	for (i = 0; i < ivm->nr_vcpus && found < EVIDENCE; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];
		struct ipi_crossing *all = sorted_crossings(rec);

		for (k = 0; k < kept(rec) && found < EVIDENCE; k += n) {
			const struct ipi_crossing *x = &all[k], *why = NULL;

			n = group_len(x, kept(rec) - k);
			if (judge(c, x, n, &why) != want)
				continue;
			fn(i, why, arg);
			found++;
		}
		free(all);
	}
}

static void write_crossing(unsigned int vcpu, const struct ipi_crossing *x, void *arg)
{
	struct json_writer *w = arg;

	json_begin_object(w, NULL);
	json_u64(w, "vcpu", vcpu);
	json_u64(w, "vector", x->vector);
	json_string(w, "crossed", kind_names[x->kind]);
	json_u64(w, "window_cycles", x->window);
	json_u64(w, "send_tsc", x->send_tsc);
	json_u64(w, "send_end_tsc", x->send_end_tsc);
	json_u64(w, "crossed_at_tsc", x->point_tsc);
	if (x->back_tsc)
		json_u64(w, "back_in_guest_tsc", x->back_tsc);
	else
		json_null(w, "back_in_guest_tsc");
	json_u64(w, "delivered_tsc", x->rx_tsc);
	json_bool(w, "negative_control", x->fault);
	json_end_object(w);
}

static void print_crossing(unsigned int vcpu, const struct ipi_crossing *x, void *arg)
{
	ksft_print_msg("%s: vCPU %u vector 0x%x sent %llu-%llu, pending %llu cycles before the %s at %llu, delivered %llu\n",
		       (const char *)arg, vcpu, x->vector, (unsigned long long)x->send_tsc,
		       (unsigned long long)x->send_end_tsc, (unsigned long long)x->window,
		       kind_names[x->kind], (unsigned long long)x->point_tsc,
		       (unsigned long long)x->rx_tsc);
}

void ipi_classify_write_json(const struct ipi_vm *ivm, const struct ipi_classes *c,
			     struct json_writer *w)
{
	unsigned int i, k;

	json_begin_object(w, "classification");
	json_u64(w, "margin_run_cycles", c->margin_run);
	json_u64(w, "margin_tsc_cycles", c->margin_tsc);
	json_u64(w, "clock_error_cycles", c->clock_error);
	json_bool(w, "clock_unstable", c->clock_unstable);
	json_u64(w, "not_judged_clock_unstable", c->not_judged);
	json_u64(w, "prompt", c->prompt);
	json_u64(w, "crossings", c->crossings);
	json_u64(w, "unjudged", c->unjudged);
	/*
	 * With crossings dropped: every one kept waited at least this long,
	 * so the counts are exact only while it is below the margins.
	 */
	json_u64(w, "judged_down_to_cycles", c->judged_down_to);
	json_begin_object(w, "held_control");
	json_u64(w, "released", c->control_released);
	json_u64(w, "judged_held", c->control_flagged);
	/* As the guest recorded them, apart from the crossings the classifier read. */
	json_begin_array(w, "windows_cycles");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		for (k = 0; k < ivm->rec[i]->fault_released && k < IPI_MAX_FAULT_WINDOWS; k++)
			json_u64(w, NULL, ivm->rec[i]->fault_windows[k]);
	}
	json_end_array(w);
	json_end_object(w);
	json_begin_array(w, "held");
	for_each_judged(ivm, c, J_HELD, write_crossing, w);
	json_end_array(w);
	json_begin_array(w, "rescued");
	for_each_judged(ivm, c, J_RESCUED, write_crossing, w);
	json_end_array(w);
	json_begin_array(w, "stranded");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		for (k = 0; k < rec->stranded && k < IPI_MAX_STRANDS; k++) {
			json_begin_object(w, NULL);
			json_u64(w, "vcpu", i);
			json_u64(w, "hlt_tsc", rec->strands[k].hlt_tsc);
			json_u64(w, "wake_sent_tsc", rec->strands[k].wake_sent_tsc);
			json_u64(w, "last_delivery_tsc", rec->strands[k].rx_tsc);
			json_end_object(w);
		}
	}
	json_end_array(w);
	/* Interrupts taken where the CPU must not take them: the first few. */
	json_begin_array(w, "masked");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		for (k = 0; k < rec->taken_masked && k < IPI_MAX_MASKED; k++) {
			json_begin_object(w, NULL);
			json_u64(w, "vcpu", i);
			json_u64(w, "vector", rec->masked[k].vector);
			json_bool(w, "in_sti_shadow", rec->masked[k].in_shadow);
			json_u64(w, "tpr", rec->masked[k].tpr);
			json_u64(w, "rip", rec->masked[k].rip);
			json_u64(w, "rflags", rec->masked[k].rflags);
			json_u64(w, "tsc", rec->masked[k].tsc);
			json_end_object(w);
		}
	}
	json_end_array(w);
	/* Deliveries against the priority rules: the first few. */
	json_begin_array(w, "misordered");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		const struct ipi_vcpu *rec = ivm->rec[i];

		for (k = 0; k < rec->misordered && k < IPI_MAX_MISORDERS; k++) {
			json_begin_object(w, NULL);
			json_u64(w, "vcpu", i);
			json_u64(w, "vector", rec->misorders[k].vector);
			json_u64(w, "expected", rec->misorders[k].expected);
			json_u64(w, "in_service", rec->misorders[k].in_service);
			json_u64(w, "tsc", rec->misorders[k].tsc);
			json_end_object(w);
		}
	}
	json_end_array(w);
	json_end_object(w);
}

void ipi_classify_print(const struct ipi_vm *ivm, const struct ipi_classes *c)
{
	unsigned int i, k;

	if (c->held)
		for_each_judged(ivm, c, J_HELD, print_crossing, "held");
	if (c->rescued)
		for_each_judged(ivm, c, J_RESCUED, print_crossing, "rescued");
	for (i = 0; i < ivm->nr_vcpus; i++) {
		for (k = 0; k < ivm->rec[i]->stranded && k < IPI_MAX_STRANDS; k++)
			ksft_print_msg("stranded: vCPU %u halted at %llu, only the watchdog's wake-up (sent %llu) ended it\n",
				       i, (unsigned long long)ivm->rec[i]->strands[k].hlt_tsc,
				       (unsigned long long)ivm->rec[i]->strands[k].wake_sent_tsc);
		for (k = 0; k < ivm->rec[i]->taken_masked && k < IPI_MAX_MASKED; k++)
			ksft_print_msg("masked: vCPU %u took vector 0x%llx at rip 0x%llx, rflags 0x%llx, TPR 0x%llx%s\n",
				       i, (unsigned long long)ivm->rec[i]->masked[k].vector,
				       (unsigned long long)ivm->rec[i]->masked[k].rip,
				       (unsigned long long)ivm->rec[i]->masked[k].rflags,
				       (unsigned long long)ivm->rec[i]->masked[k].tpr,
				       ivm->rec[i]->masked[k].in_shadow ? ", inside an STI shadow" : "");
		for (k = 0; k < ivm->rec[i]->misordered && k < IPI_MAX_MISORDERS; k++)
			ksft_print_msg("misordered: vCPU %u took vector 0x%llx, expected 0x%llx first, in service 0x%llx\n",
				       i, (unsigned long long)ivm->rec[i]->misorders[k].vector,
				       (unsigned long long)ivm->rec[i]->misorders[k].expected,
				       (unsigned long long)ivm->rec[i]->misorders[k].in_service);
	}
	if (c->clock_unstable)
		ksft_print_msg("the guest's TSC offset moved during the run (host TSC unstable): %llu crossings past the margins not judged\n",
			       (unsigned long long)c->not_judged);
	if (c->held || c->rescued)
		ksft_print_msg("margins: %llu cycles of guest running time, %llu of TSC time (slowest prompt delivery x2, clock error %llu)\n",
			       (unsigned long long)c->margin_run, (unsigned long long)c->margin_tsc,
			       (unsigned long long)c->clock_error);
}
