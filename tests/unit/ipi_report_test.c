// SPDX-License-Identifier: GPL-2.0-only
/*
 * Classification of send/receive counts, the verdict policy, and the
 * TSC conversions the reports rely on.
 */
#include "kselftest_harness.h"
#include "kselftest.h"
#include "ipi_harness.h"
#include "ipi_report.h"

TEST(exact_delivery_is_clean)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 1000, 1000, 0);
	EXPECT_EQ(1000, c.sent);
	EXPECT_EQ(1000, c.received);
	EXPECT_EQ(0, c.lost + c.duplicate + c.spurious);
}

TEST(missing_deliveries_are_lost)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 1000, 997, 0);
	EXPECT_EQ(3, c.lost);
	EXPECT_EQ(0, c.duplicate + c.spurious);
}

TEST(extra_deliveries_are_duplicates)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 1000, 1002, 0);
	EXPECT_EQ(2, c.duplicate);
	EXPECT_EQ(0, c.lost + c.spurious);
}

/* Matched send by send: a loss and a duplicate on one vector both show. */
TEST(a_duplicate_does_not_hide_a_loss)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 1000, 1000, 1);
	EXPECT_EQ(1, c.lost);
	EXPECT_EQ(1, c.duplicate);
	EXPECT_EQ(0, c.spurious);
}

TEST(unsent_vectors_are_spurious)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 0, 5, 0);
	ipi_count_vector(&c, 0, 0, 0);
	EXPECT_EQ(5, c.spurious);
	EXPECT_EQ(0, c.lost + c.duplicate);
}

/* A loss on one vector is not cancelled by a duplicate on another. */
TEST(vectors_do_not_cancel_out)
{
	struct ipi_counts c = {};

	ipi_count_vector(&c, 10, 9, 0);
	ipi_count_vector(&c, 10, 11, 0);
	EXPECT_EQ(20, c.sent);
	EXPECT_EQ(20, c.received);
	EXPECT_EQ(1, c.lost);
	EXPECT_EQ(1, c.duplicate);
}

TEST(verdict)
{
	struct ipi_verdict_policy report_only = { .fail_on_delayed = false };
	struct ipi_verdict_policy strict = { .fail_on_delayed = true };
	struct ipi_counts c = { .sent = 10, .received = 10 };
	char why[128];

	EXPECT_EQ(KSFT_PASS, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("", why);
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, true, &report_only, why, sizeof(why)));

	c.delayed = 2;
	EXPECT_EQ(KSFT_PASS, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &strict, why, sizeof(why)));
	EXPECT_STREQ("2 delayed", why);

	c.delayed = 0;
	c.lost = 1;
	c.spurious = 3;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("1 lost, 3 spurious", why);

	c.lost = 0;
	c.spurious = 0;
	c.late = 5;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("5 late", why);

	c.late = 0;
	c.duplicate = 1;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("1 duplicate", why);

	/* Taken where the CPU must not take it: fails on its own. */
	c.duplicate = 0;
	c.masked = 2;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("2 taken while masked (IF=0 or an STI shadow)", why);

	/* The priority, IOAPIC and APIC-error classes each fail alone. */
	c.masked = 0;
	c.misordered = 1;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("1 delivered against the priority rules", why);
	c.misordered = 0;
	c.stuck = 2;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("2 interrupt sources stuck (an IOAPIC remote IRR never cleared)", why);
	c.stuck = 0;
	c.no_esr = 3;
	EXPECT_EQ(KSFT_FAIL, ipi_verdict(&c, false, &report_only, why, sizeof(why)));
	EXPECT_STREQ("3 illegal vectors raised no APIC error (ESR)", why);
}

/*
 * KVM's missing illegal-vector error is a known issue of the *_illegal
 * variants only, and never excuses an illegal vector that was delivered.
 */
TEST(no_esr_known_issue_is_narrow)
{
	struct ipi_counts c = { .no_esr = 16 };

	EXPECT_NE(NULL, ipi_find_known_issue("kvm_intel", NULL, "6.12.0", "vector_priority_test",
					     "msi_illegal", &c));
	EXPECT_EQ(NULL, ipi_find_known_issue("kvm_intel", NULL, "6.12.0", "vector_priority_test",
					     "msi_tpr_order", &c));
	EXPECT_EQ(NULL, ipi_find_known_issue("kvm_intel", NULL, "6.12.0", "self_ipi_test",
					     "msi_illegal", &c));
	c.spurious = 1;
	EXPECT_EQ(NULL, ipi_find_known_issue("kvm_amd", NULL, "6.12.0", "vector_priority_test",
					     "self_illegal", &c));
	c.spurious = 0;
	c.misordered = 1;
	EXPECT_EQ(NULL, ipi_find_known_issue("kvm_amd", NULL, "6.12.0", "vector_priority_test",
					     "self_illegal", &c));
}

TEST(cycles_to_ns_rounds_to_nearest)
{
	/* This host's TSC, as KVM_GET_TSC_KHZ reported it. */
	EXPECT_EQ(1000000, cycles_to_ns(2596098, 2596098));
	EXPECT_EQ(0, cycles_to_ns(0, 2596098));
	EXPECT_EQ(1, cycles_to_ns(3, 2596098));		/* 1.155 ns */
	EXPECT_EQ(1, cycles_to_ns(2, 2596098));		/* 0.770 ns rounds up */
	EXPECT_EQ(0, cycles_to_ns(1, 2596098));		/* 0.385 ns rounds down */
	EXPECT_EQ(250, cycles_to_ns(1000, 4000000));
	/* 10 s at 5 GHz, and far beyond, without overflow. */
	EXPECT_EQ(10000000000ull, cycles_to_ns(50000000000ull, 5000000));
	EXPECT_EQ(3600000000000000ull, cycles_to_ns(3600000000000000ull * 3, 3000000));
}

TEST(host_tsc_to_guest_applies_signed_offset)
{
	struct ipi_vm ivm = {};

	ivm.tsc_offset[0] = -1000000000000ll;	/* guest TSC reset at vCPU creation */
	ivm.tsc_offset[1] = 12345;
	EXPECT_EQ(500, host_tsc_to_guest(&ivm, 0, 1000000000500ull));
	EXPECT_EQ(12345 + 7, host_tsc_to_guest(&ivm, 1, 7));
}

TEST_HARNESS_MAIN
