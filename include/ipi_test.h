/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The main() of an IPI test: option parsing, one forked child per variant
 * under a watchdog, one KTAP result per variant, and the test's results
 * JSON.  A variant that crashes, asserts or hangs fails alone.
 */
#ifndef IPI_TEST_H
#define IPI_TEST_H

#include <stdint.h>

#include "ipi_harness.h"
#include "ipi_options.h"

struct ipi_variant {
	const char *name;
	/* Build the VM, run it to completion and hand it back for the report. */
	struct ipi_vm *(*run)(const struct ipi_variant *v, const struct ipi_options *o);
	uintptr_t arg;
};

struct ipi_test {
	const char *name;
	const struct ipi_variant *variants;
	unsigned int nr_variants;
	uint64_t default_count;
	unsigned int min_vcpus, default_vcpus, max_vcpus;
	/* IPI_FAULT_BIT()s of the --fault kinds the test can inject. */
	uint32_t faults;
	bool host_injectors;	/* takes --injectors, --period-us, --sweep-us */
	/* Why @v cannot run with @o (a usage error, before anything runs), or NULL. */
	const char *(*refuse)(const struct ipi_variant *v, const struct ipi_options *o);
};

int ipi_test_main(const struct ipi_test *t, int argc, char **argv);

#endif /* IPI_TEST_H */
