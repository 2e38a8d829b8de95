/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Snapshots of a vCPU's KVM binary stats (KVM_GET_STATS_FD), so a test can
 * report what KVM did while it ran: exits, injections, halts, wakeups...
 * Only scalar stats are kept; histograms are left out.
 */
#ifndef IPI_KVM_STATS_SNAPSHOT_H
#define IPI_KVM_STATS_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvm_vcpu;

struct kvm_stat_value {
	char name[64];
	bool cumulative;
	uint64_t value;
};

struct kvm_stats_snapshot {
	unsigned int nr;
	struct kvm_stat_value stats[];
};

/* NULL when the kernel has no KVM_CAP_BINARY_STATS_FD. */
struct kvm_stats_snapshot *kvm_stats_snapshot_vcpu(struct kvm_vcpu *vcpu);

/*
 * @after minus @before for cumulative stats, @after's value for the others,
 * added into @sum (which must come from the same kernel, as its layout is
 * taken from @after when @sum->nr is 0).
 */
void kvm_stats_accumulate_delta(struct kvm_stats_snapshot *sum,
				const struct kvm_stats_snapshot *before,
				const struct kvm_stats_snapshot *after);
struct kvm_stats_snapshot *kvm_stats_snapshot_alloc(unsigned int nr);
const struct kvm_stat_value *kvm_stats_find(const struct kvm_stats_snapshot *s,
					    const char *name);

/*
 * One stat of a vCPU, read while it runs: the stats fd is opened up front,
 * because that is a vCPU ioctl, which waits for KVM_RUN to return; reads
 * of the open fd do not.
 */
struct kvm_stat_watch {
	int fd;
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs;
	struct kvm_stats_desc *desc;
};

/* False, and nothing open, where the kernel has no such stat. */
bool kvm_stat_watch_open(struct kvm_stat_watch *w, struct kvm_vcpu *vcpu, const char *name);
uint64_t kvm_stat_watch_read(struct kvm_stat_watch *w);
void kvm_stat_watch_close(struct kvm_stat_watch *w);

#endif /* IPI_KVM_STATS_SNAPSHOT_H */
