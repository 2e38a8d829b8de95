// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "kvm_stats_snapshot.h"

struct kvm_stats_snapshot *kvm_stats_snapshot_alloc(unsigned int nr)
{
	struct kvm_stats_snapshot *s;

	s = calloc(1, sizeof(*s) + nr * sizeof(s->stats[0]));
	TEST_ASSERT(s, "Out of memory for %u stats", nr);
	return s;
}

struct kvm_stats_snapshot *kvm_stats_snapshot_vcpu(struct kvm_vcpu *vcpu)
{
	struct kvm_stats_snapshot *snap;
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *d;
	unsigned int i;
	int fd;

	if (!kvm_has_cap(KVM_CAP_BINARY_STATS_FD))
		return NULL;

	fd = vcpu_get_stats_fd(vcpu);
	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	snap = kvm_stats_snapshot_alloc(header.num_desc);

	for (i = 0; i < header.num_desc; i++) {
		struct kvm_stat_value *v = &snap->stats[snap->nr];

		d = get_stats_descriptor(descs, i, &header);
		if (d->size != 1)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", d->name);
		v->cumulative = (d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_CUMULATIVE;
		read_stat_data(fd, &header, d, &v->value, 1);
		snap->nr++;
	}
	free(descs);
	close(fd);
	return snap;
}

const struct kvm_stat_value *kvm_stats_find(const struct kvm_stats_snapshot *s,
					    const char *name)
{
	unsigned int i;

	for (i = 0; s && i < s->nr; i++) {
		if (!strcmp(s->stats[i].name, name))
			return &s->stats[i];
	}
	return NULL;
}

void kvm_stats_accumulate_delta(struct kvm_stats_snapshot *sum,
				const struct kvm_stats_snapshot *before,
				const struct kvm_stats_snapshot *after)
{
	unsigned int i;

	if (!sum->nr) {
		for (i = 0; i < after->nr; i++) {
			sum->stats[i] = after->stats[i];
			sum->stats[i].value = 0;
		}
		sum->nr = after->nr;
	}
	TEST_ASSERT(sum->nr == after->nr && before->nr == after->nr,
		    "KVM stats layout changed during the run");

	for (i = 0; i < after->nr; i++) {
		const struct kvm_stat_value *a = &after->stats[i];

		sum->stats[i].value += a->cumulative ? a->value - before->stats[i].value
						     : a->value;
	}
}

bool kvm_stat_watch_open(struct kvm_stat_watch *w, struct kvm_vcpu *vcpu, const char *name)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (!kvm_has_cap(KVM_CAP_BINARY_STATS_FD))
		return false;
	w->fd = vcpu_get_stats_fd(vcpu);
	read_stats_header(w->fd, &w->header);
	w->descs = read_stats_descriptors(w->fd, &w->header);
	for (i = 0; i < w->header.num_desc; i++) {
		struct kvm_stats_desc *d = get_stats_descriptor(w->descs, i, &w->header);

		if (d->size == 1 && !strcmp(d->name, name)) {
			w->desc = d;
			return true;
		}
	}
	kvm_stat_watch_close(w);
	return false;
}

uint64_t kvm_stat_watch_read(struct kvm_stat_watch *w)
{
	uint64_t value;

	read_stat_data(w->fd, &w->header, w->desc, &value, 1);
	return value;
}

void kvm_stat_watch_close(struct kvm_stat_watch *w)
{
	free(w->descs);
	if (w->fd >= 0)
		close(w->fd);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
