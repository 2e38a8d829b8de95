// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/compiler.h>

#include "kselftest.h"
#include "ipi_options.h"

static const char * const fault_names[] = {
	[IPI_FAULT_NONE] = "none",
	[IPI_FAULT_LOST] = "lost",
	[IPI_FAULT_PHANTOM] = "phantom",
	[IPI_FAULT_NO_EOI] = "no_eoi",
	[IPI_FAULT_DUPLICATE] = "duplicate",
	[IPI_FAULT_DOUBLE_COUNT] = "double_count",
	[IPI_FAULT_SPURIOUS] = "spurious",
	[IPI_FAULT_DELAYED] = "delayed",
	[IPI_FAULT_TPR_MASK] = "tpr_mask",
	[IPI_FAULT_HELD] = "held",
	[IPI_FAULT_RESCUED] = "rescued",
	[IPI_FAULT_STRANDED] = "stranded",
	[IPI_FAULT_CLOCK] = "clock",
	[IPI_FAULT_TSC_WRITE] = "tsc_write",
	[IPI_FAULT_MASKED] = "masked",
	[IPI_FAULT_MISORDER] = "misorder",
	[IPI_FAULT_ILLEGAL] = "illegal",
	[IPI_FAULT_NMI_UNBLOCK] = "nmi_unblock",
	[IPI_FAULT_PI_NO_NOTIFY] = "pi_no_notify",
};

const char *ipi_fault_name(enum ipi_fault fault)
{
	return fault < ARRAY_SIZE(fault_names) ? fault_names[fault] : "?";
}

void ipi_options_init(struct ipi_options *o, uint64_t default_count,
		      unsigned int default_vcpus)
{
	memset(o, 0, sizeof(*o));
	o->count = default_count;
	o->vcpus = default_vcpus;
	o->delay_threshold_us = 1000;
	o->dwell_us = 50;
	o->grace_ms = 500;
	o->stall_ms = 1000;
	o->timeout_s = 100;
	o->fault_every = 1000;
	o->halt_poll_ns = -1;
	o->results_dir = getenv("IPI_RESULTS_DIR");
	if (o->results_dir && !*o->results_dir)
		o->results_dir = NULL;
}

void ipi_options_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [options]\n"
		"  -c, --count N             sends per sending vCPU (default: test-specific)\n"
		"  -D, --duration-s N        send for N seconds instead of --count sends\n"
		"  -n, --vcpus N             vCPUs, where the test takes more than one\n"
		"      --pin                 pin vCPU i's thread to host CPU i, injector j to CPU\n"
		"                            vCPUs + j (mod online CPUs)\n"
		"      --migrate-us N        every N us, move a random vCPU thread to a random CPU\n"
		"      --check-icr           read the ICR back after every send (as xapic_ipi_test)\n"
		"      --kick-us N           every N us, signal the vCPU threads out of KVM_RUN\n"
		"      --busy-threads N      host threads spinning beside the vCPUs\n"
		"      --halt-poll-ns N      the VM's halt polling (KVM_CAP_HALT_POLL), 0 for none\n"
		"      --progress-s N        print counts so far every N s (default with -D: 10)\n"
		"      --injectors N         host injector threads (tests with injectors; 1)\n"
		"      --period-us N         injection period, and mean jitter gap (100)\n"
		"      --sweep-us N          sweep injections from 0 to N us after an exit (20)\n"
		"      --dwell-us N          churn with dwell: time in the guest after each exit (50)\n"
		"  -d, --delay-threshold-us N  latency above which a delivery counts as delayed (1000)\n"
		"      --fail-on-delayed     delayed deliveries fail the variant (default: reported only)\n"
		"  -g, --grace-ms N          how long a guest waits for an interrupt to arrive (500)\n"
		"      --stall-ms N          no progress for N ms: the host wakes the vCPUs (1000)\n"
		"  -T, --timeout-s N         per-variant limit (100): the watchdog stops a run still\n"
		"                            going at N less a quarter (at most 10 s) and reports\n"
		"                            it; the variant is killed at N\n"
		"  -v, --variant GLOB[,GLOB]  run only the matching variants\n"
		"  -l, --list                list the variants and exit\n"
		"  -o, --results-dir DIR     write the test's JSON into DIR (default: $IPI_RESULTS_DIR)\n"
		"      --fault KIND          negative control: lost|phantom|no_eoi|duplicate|\n"
		"                            double_count|spurious|delayed|tpr_mask|held|\n"
		"                            rescued|stranded|clock|tsc_write|masked|\n"
		"                            misorder|illegal|nmi_unblock|pi_no_notify\n"
		"      --fault-every N       inject the fault on every Nth send (1000); at most --count\n"
		"  -h, --help                this text\n", prog);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_fault(const char *s, enum ipi_fault *fault)
{
	unsigned int i;

	for (i = IPI_FAULT_LOST; i < ARRAY_SIZE(fault_names); i++) {
		if (!strcmp(s, fault_names[i])) {
			*fault = i;
			return 0;
		}
	}
	return -1;
}

enum {
	OPT_FAIL_ON_DELAYED = 256, OPT_STALL, OPT_FAULT, OPT_FAULT_EVERY, OPT_PIN,
	OPT_MIGRATE, OPT_CHECK_ICR, OPT_KICK, OPT_BUSY, OPT_HALT_POLL, OPT_PROGRESS,
	OPT_INJECTORS, OPT_PERIOD, OPT_SWEEP, OPT_DWELL,
};

static const struct option long_options[] = {
	{ "count",		required_argument, NULL, 'c' },
	{ "duration-s",		required_argument, NULL, 'D' },
	{ "vcpus",		required_argument, NULL, 'n' },
	{ "pin",		no_argument,	   NULL, OPT_PIN },
	{ "migrate-us",		required_argument, NULL, OPT_MIGRATE },
	{ "check-icr",		no_argument,	   NULL, OPT_CHECK_ICR },
	{ "kick-us",		required_argument, NULL, OPT_KICK },
	{ "busy-threads",	required_argument, NULL, OPT_BUSY },
	{ "halt-poll-ns",	required_argument, NULL, OPT_HALT_POLL },
	{ "progress-s",		required_argument, NULL, OPT_PROGRESS },
	{ "injectors",		required_argument, NULL, OPT_INJECTORS },
	{ "period-us",		required_argument, NULL, OPT_PERIOD },
	{ "sweep-us",		required_argument, NULL, OPT_SWEEP },
	{ "dwell-us",		required_argument, NULL, OPT_DWELL },
	{ "delay-threshold-us",	required_argument, NULL, 'd' },
	{ "fail-on-delayed",	no_argument,	   NULL, OPT_FAIL_ON_DELAYED },
	{ "grace-ms",		required_argument, NULL, 'g' },
	{ "stall-ms",		required_argument, NULL, OPT_STALL },
	{ "timeout-s",		required_argument, NULL, 'T' },
	{ "variant",		required_argument, NULL, 'v' },
	{ "list",		no_argument,	   NULL, 'l' },
	{ "results-dir",	required_argument, NULL, 'o' },
	{ "fault",		required_argument, NULL, OPT_FAULT },
	{ "fault-every",	required_argument, NULL, OPT_FAULT_EVERY },
	{ "help",		no_argument,	   NULL, 'h' },
	{ 0 }
};

static int __printf(3, 4) bad(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

int __ipi_options_parse(struct ipi_options *o, int argc, char **argv,
			unsigned int min_vcpus, unsigned int max_vcpus,
			char *err, size_t err_len)
{
	uint64_t n;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:D:n:d:g:T:v:lo:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_u64(optarg, 1, 1ULL << 32, &o->count))
				return bad(err, err_len,
					   "--count: '%s' is not a number from 1 to 2^32", optarg);
			break;
		case 'D':
			if (parse_u64(optarg, 1, 7 * 24 * 3600, &o->duration_s))
				return bad(err, err_len,
					   "--duration-s: '%s' is not a number from 1 to 604800",
					   optarg);
			break;
		case 'n':
			if (parse_u64(optarg, min_vcpus, max_vcpus, &n))
				return bad(err, err_len,
					   "--vcpus: '%s' is not a number from %u to %u for this test",
				    optarg, min_vcpus, max_vcpus);
			o->vcpus = n;
			o->vcpus_given = true;
			break;
		case OPT_PIN:
			o->pin = true;
			break;
		case OPT_MIGRATE:
			if (parse_u64(optarg, 10, 10ULL * 1000 * 1000, &o->migrate_us))
				return bad(err, err_len,
					   "--migrate-us: '%s' is not a number from 10 to 10000000",
					   optarg);
			break;
		case OPT_CHECK_ICR:
			o->check_icr = true;
			break;
		case OPT_KICK:
			if (parse_u64(optarg, 10, 10ULL * 1000 * 1000, &o->kick_us))
				return bad(err, err_len,
					   "--kick-us: '%s' is not a number from 10 to 10000000",
					   optarg);
			break;
		case OPT_BUSY:
			if (parse_u64(optarg, 0, 64, &n))
				return bad(err, err_len,
					   "--busy-threads: '%s' is not a number from 0 to 64",
					   optarg);
			o->busy_threads = n;
			break;
		case OPT_HALT_POLL:
			if (parse_u64(optarg, 0, 100ULL * 1000 * 1000, &n))
				return bad(err, err_len,
					   "--halt-poll-ns: '%s' is not a number from 0 to 100000000",
					   optarg);
			o->halt_poll_ns = n;
			break;
		case OPT_INJECTORS:
			if (parse_u64(optarg, 1, 8, &n))
				return bad(err, err_len,
					   "--injectors: '%s' is not a number from 1 to 8", optarg);
			o->injectors = n;
			break;
		case OPT_PERIOD:
			if (parse_u64(optarg, 1, 1000 * 1000, &o->period_us))
				return bad(err, err_len,
					   "--period-us: '%s' is not a number from 1 to 1000000",
					   optarg);
			break;
		case OPT_SWEEP:
			if (parse_u64(optarg, 1, 1000 * 1000, &o->sweep_us))
				return bad(err, err_len,
					   "--sweep-us: '%s' is not a number from 1 to 1000000",
					   optarg);
			break;
		case OPT_DWELL:
			if (parse_u64(optarg, 1, 1000 * 1000, &o->dwell_us))
				return bad(err, err_len,
					   "--dwell-us: '%s' is not a number from 1 to 1000000",
					   optarg);
			break;
		case OPT_PROGRESS:
			if (parse_u64(optarg, 1, 24 * 3600, &o->progress_s))
				return bad(err, err_len,
					   "--progress-s: '%s' is not a number from 1 to 86400",
					   optarg);
			break;
		case 'd':
			if (parse_u64(optarg, 1, 10ULL * 1000 * 1000, &o->delay_threshold_us))
				return bad(err, err_len,
					   "--delay-threshold-us: '%s' is not a number from 1 to 10000000",
					   optarg);
			break;
		case OPT_FAIL_ON_DELAYED:
			o->fail_on_delayed = true;
			break;
		case 'g':
			if (parse_u64(optarg, 1, 60 * 1000, &o->grace_ms))
				return bad(err, err_len,
					   "--grace-ms: '%s' is not a number from 1 to 60000",
					   optarg);
			break;
		case OPT_STALL:
			if (parse_u64(optarg, 10, 600 * 1000, &o->stall_ms))
				return bad(err, err_len,
					   "--stall-ms: '%s' is not a number from 10 to 600000",
					   optarg);
			break;
		case 'T':
			if (parse_u64(optarg, 1, 7 * 24 * 3600, &o->timeout_s))
				return bad(err, err_len,
					   "--timeout-s: '%s' is not a number from 1 to 604800",
					   optarg);
			break;
		case 'v':
			o->variant = optarg;
			break;
		case 'l':
			o->list = true;
			break;
		case 'o':
			if (!*optarg)
				return bad(err, err_len, "--results-dir: empty path");
			o->results_dir = optarg;
			break;
		case OPT_FAULT:
			if (parse_fault(optarg, &o->fault))
				return bad(err, err_len,
					   "--fault: '%s' is no fault kind (--help lists them)",
					   optarg);
			break;
		case OPT_FAULT_EVERY:
			if (parse_u64(optarg, 1, 1ULL << 32, &o->fault_every))
				return bad(err, err_len,
					   "--fault-every: '%s' is not a number from 1 to 2^32",
					   optarg);
			break;
		case 'h':
			ipi_options_usage(stdout, argv[0]);
			exit(KSFT_PASS);
		case ':':
			return bad(err, err_len, "option '%s' needs a value", argv[optind - 1]);
		default:
			return bad(err, err_len, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad(err, err_len, "unexpected argument '%s'", argv[optind]);
	if (o->pin && o->migrate_us)
		return bad(err, err_len, "--pin and --migrate-us contradict each other");
	/* A negative control that injects nothing would pass for a caught one. */
	if (o->fault && !o->duration_s && o->count < o->fault_every)
		return bad(err, err_len, "--fault %s with --count %llu below --fault-every %llu injects nothing",
			   fault_names[o->fault], (unsigned long long)o->count,
			   (unsigned long long)o->fault_every);
	if (o->duration_s && !o->progress_s)
		o->progress_s = 10;
	/* The watchdog must not kill a run that is merely long. */
	if (o->duration_s && o->duration_s + 30 > o->timeout_s)
		return bad(err, err_len, "--duration-s %llu needs --timeout-s of at least %llu",
		    (unsigned long long)o->duration_s, (unsigned long long)o->duration_s + 30);
	return 0;
}

void ipi_options_parse(struct ipi_options *o, int argc, char **argv,
		       unsigned int min_vcpus, unsigned int max_vcpus)
{
	char err[256];

	if (__ipi_options_parse(o, argc, argv, min_vcpus, max_vcpus, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		ipi_options_usage(stderr, argv[0]);
		exit(KSFT_FAIL);
	}
}
