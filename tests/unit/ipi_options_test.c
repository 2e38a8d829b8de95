// SPDX-License-Identifier: GPL-2.0-only
/* Option parsing: good values land, bad ones are refused with a reason. */
#include "kselftest_harness.h"
#include "ipi_options.h"

static int parse(struct ipi_options *o, char *err, size_t len, int argc, char **argv)
{
	ipi_options_init(o, 777, 2);
	return __ipi_options_parse(o, argc, argv, 2, 8, err, len);
}

#define PARSE(o, err, ...) ({						\
	char *argv[] = { "test", __VA_ARGS__, NULL };			\
	parse(o, err, sizeof(err), sizeof(argv) / sizeof(argv[0]) - 1, argv); \
})

TEST(defaults)
{
	struct ipi_options o;
	char *argv[] = { "test", NULL };
	char err[128];

	unsetenv("IPI_RESULTS_DIR");
	ASSERT_EQ(0, parse(&o, err, sizeof(err), 1, argv));
	EXPECT_EQ(777, o.count);
	EXPECT_EQ(2, o.vcpus);
	EXPECT_FALSE(o.pin);
	EXPECT_EQ(0, o.duration_s);
	EXPECT_EQ(1000, o.delay_threshold_us);
	EXPECT_FALSE(o.fail_on_delayed);
	EXPECT_EQ(IPI_FAULT_NONE, o.fault);
	EXPECT_EQ(NULL, o.results_dir);
}

TEST(good_values)
{
	struct ipi_options o;
	char err[128];

	ASSERT_EQ(0, PARSE(&o, err, "--count", "5", "-d", "250", "--fail-on-delayed",
			   "--fault", "lost", "--fault-every", "3", "-v", "x2apic_*",
			   "-o", "/tmp", "--grace-ms", "20", "--stall-ms", "100", "-T", "90",
			   "--vcpus", "8", "--pin", "-D", "60", "--check-icr",
			   "--injectors", "3", "--period-us", "7", "--sweep-us", "9",
			   "--dwell-us", "11"));
	EXPECT_EQ(5, o.count);
	EXPECT_EQ(250, o.delay_threshold_us);
	EXPECT_TRUE(o.fail_on_delayed);
	EXPECT_EQ(IPI_FAULT_LOST, o.fault);
	EXPECT_EQ(3, o.fault_every);
	EXPECT_STREQ("x2apic_*", o.variant);
	EXPECT_STREQ("/tmp", o.results_dir);
	EXPECT_EQ(20, o.grace_ms);
	EXPECT_EQ(100, o.stall_ms);
	EXPECT_EQ(90, o.timeout_s);
	EXPECT_EQ(8, o.vcpus);
	EXPECT_TRUE(o.pin);
	EXPECT_EQ(60, o.duration_s);
	EXPECT_TRUE(o.check_icr);
	EXPECT_EQ(3, o.injectors);
	EXPECT_EQ(7, o.period_us);
	EXPECT_EQ(9, o.sweep_us);
	EXPECT_EQ(11, o.dwell_us);
	/* A soak run prints progress by default. */
	EXPECT_EQ(10, o.progress_s);
}

TEST(environment_gives_results_dir)
{
	struct ipi_options o;
	char *argv[] = { "test", NULL };
	char err[128];

	setenv("IPI_RESULTS_DIR", "/somewhere", 1);
	ASSERT_EQ(0, parse(&o, err, sizeof(err), 1, argv));
	EXPECT_STREQ("/somewhere", o.results_dir);
	unsetenv("IPI_RESULTS_DIR");
}

TEST(bad_values_are_refused)
{
	struct ipi_options o;
	char err[128];

	EXPECT_EQ(-1, PARSE(&o, err, "--count", "0"));
	EXPECT_NE(NULL, strstr(err, "--count"));
	EXPECT_EQ(-1, PARSE(&o, err, "--count", "-5"));
	EXPECT_EQ(-1, PARSE(&o, err, "--count", "12abc"));
	EXPECT_EQ(-1, PARSE(&o, err, "--count", "99999999999999999999999"));
	EXPECT_EQ(-1, PARSE(&o, err, "--delay-threshold-us", ""));
	EXPECT_EQ(-1, PARSE(&o, err, "--fault", "sometimes"));
	EXPECT_NE(NULL, strstr(err, "sometimes"));
	EXPECT_EQ(-1, PARSE(&o, err, "--stall-ms", "1"));
	EXPECT_EQ(-1, PARSE(&o, err, "--bogus"));
	EXPECT_NE(NULL, strstr(err, "--bogus"));
	EXPECT_EQ(-1, PARSE(&o, err, "--count"));
	EXPECT_NE(NULL, strstr(err, "needs a value"));
	EXPECT_EQ(-1, PARSE(&o, err, "stray"));
	EXPECT_EQ(-1, PARSE(&o, err, "-o", ""));
	/* This test takes 2 to 8 vCPUs. */
	EXPECT_EQ(-1, PARSE(&o, err, "--vcpus", "1"));
	EXPECT_NE(NULL, strstr(err, "from 2 to 8"));
	EXPECT_EQ(-1, PARSE(&o, err, "--vcpus", "9"));
	EXPECT_EQ(-1, PARSE(&o, err, "--pin", "--migrate-us", "100"));
	EXPECT_NE(NULL, strstr(err, "contradict"));
	EXPECT_EQ(-1, PARSE(&o, err, "--migrate-us", "5"));
	EXPECT_EQ(-1, PARSE(&o, err, "--injectors", "9"));
	EXPECT_EQ(-1, PARSE(&o, err, "--dwell-us", "0"));
	EXPECT_NE(NULL, strstr(err, "--dwell-us"));
	EXPECT_EQ(-1, PARSE(&o, err, "--halt-poll-ns", "-1"));
	/* A duration the watchdog would cut short. */
	EXPECT_EQ(-1, PARSE(&o, err, "--duration-s", "90"));
	EXPECT_NE(NULL, strstr(err, "--timeout-s"));
}

TEST_HARNESS_MAIN
