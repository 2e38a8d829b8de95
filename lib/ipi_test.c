// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "kselftest.h"

#include "host_info.h"
#include "ipi_report.h"
#include "ipi_test.h"
#include "json_writer.h"

enum variant_status { V_PASS, V_FAIL, V_SKIP, V_XFAIL, V_TIMEOUT, V_CRASH };

static const char * const status_names[] = {
	[V_PASS] = "pass", [V_FAIL] = "fail", [V_SKIP] = "skip", [V_XFAIL] = "xfail",
	[V_TIMEOUT] = "timeout", [V_CRASH] = "crash",
};

struct variant_outcome {
	bool done;			/* it ran; else its status is "not_run" */
	enum variant_status status;
	int code;			/* exit code or signal */
	char reason[512];		/* why it skipped, or its known issue */
	char *members;			/* the child's JSON members, or NULL */
	double seconds;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void iso_time(char *buf, size_t len)
{
	time_t t = time(NULL);

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/* Runs in the child: the variant, its report, its JSON members. */
static __noreturn void run_child(const char *test_name, const struct ipi_variant *v,
				 const struct ipi_options *o, FILE *members, int log_fd)
{
	struct json_writer w;
	struct ipi_vm *ivm;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int verdict;

	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);

	mem = open_memstream(&buf, &len);
	TEST_ASSERT(mem, "open_memstream failed");
	json_init(&w, mem);
	json_begin_object(&w, NULL);

	ivm = v->run(v, o);
	verdict = ipi_vm_report(ivm, o, test_name, v->name, &w);
	ipi_vm_free(ivm);

	json_end_object(&w);
	TEST_ASSERT(!json_finish(&w), "JSON writer error");
	fclose(mem);
	fwrite(buf, 1, len, members);
	fflush(members);
	exit(verdict);
}

/* Copy the child's output as KTAP diagnostics; remember a skip or XFAIL reason. */
static void relay_line(char *line, struct variant_outcome *out)
{
	const char *skip = strstr(line, "# SKIP ");
	const char *xfail = strstr(line, "# XFAIL: ");

	if (skip) {
		skip += strlen("# SKIP ");
		/* __TEST_REQUIRE() puts "- " before its reason. */
		if (!strncmp(skip, "- ", 2))
			skip += 2;
		snprintf(out->reason, sizeof(out->reason), "%s", skip);
	} else if (xfail) {
		snprintf(out->reason, sizeof(out->reason), "%s", xfail + strlen("# XFAIL: "));
	}
	printf("%s%s\n", line[0] == '#' ? "" : "# ", line);
}

static void relay_output(int fd, char *pending, size_t *used, size_t cap,
			 struct variant_outcome *out, bool flush)
{
	ssize_t n = read(fd, pending + *used, cap - *used - 1);
	char *start, *nl;

	if (n > 0)
		*used += n;
	pending[*used] = '\0';
	start = pending;
	while ((nl = strchr(start, '\n')) || (flush && *start) || *used == cap - 1) {
		if (nl)
			*nl = '\0';
		relay_line(start, out);
		start = nl ? nl + 1 : pending + *used;
		if (!nl)
			break;
	}
	*used -= start - pending;
	memmove(pending, start, *used);
	fflush(stdout);
}

static void read_members(FILE *f, struct variant_outcome *out)
{
	long len;

	fseek(f, 0, SEEK_END);
	len = ftell(f);
	out->members = NULL;
	/* Outer braces stripped: the members go into the variant's own object. */
	if (len < 2)
		return;
	out->members = calloc(1, len);
	rewind(f);
	if (fread(out->members, 1, len, f) != (size_t)len) {
		free(out->members);
		out->members = NULL;
		return;
	}
	memmove(out->members, out->members + 1, len - 2);
	out->members[len - 2] = '\0';
}

static void classify_exit(int status, struct variant_outcome *out)
{
	if (WIFSIGNALED(status)) {
		out->status = V_CRASH;
		out->code = WTERMSIG(status);
		return;
	}
	out->code = WEXITSTATUS(status);
	out->status = out->code == KSFT_PASS ? V_PASS :
		      out->code == KSFT_SKIP ? V_SKIP :
		      out->code == KSFT_XFAIL ? V_XFAIL : V_FAIL;
}

/*
 * After SIGKILL: a child stuck in the kernel (a vCPU in an uninterruptible
 * wait) dies only when it leaves it.  Wait for that, but not forever: say
 * so and go on, rather than hang the whole test on one variant.
 */
#define REAP_TIMEOUT_S	10

static void reap_killed(pid_t pid, int *status, struct variant_outcome *out)
{
	double deadline = now_s() + REAP_TIMEOUT_S;

	while (waitpid(pid, status, WNOHANG) != pid) {
		if (now_s() > deadline) {
			ksft_print_msg("pid %d survived SIGKILL for %d s (stuck in the kernel?); not waiting for it\n",
				       pid, REAP_TIMEOUT_S);
			snprintf(out->reason, sizeof(out->reason), "unkillable after SIGKILL");
			return;
		}
		usleep(10000);
	}
}

static void run_variant(const char *test_name, const struct ipi_variant *v,
			const struct ipi_options *o, struct variant_outcome *out)
{
	char pending[4096];
	size_t used = 0;
	double start = now_s();
	FILE *members = tmpfile();
	int pipefd[2], status = 0;
	bool exited = false;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	TEST_ASSERT(members && !pipe(pipefd), "tmpfile/pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		/*
		 * A parent ended by kselftest's SIGTERM (or anything else) must
		 * not leave this variant's VM running beside the next test.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(KSFT_FAIL);
		close(pipefd[0]);
		run_child(test_name, v, o, members, pipefd[1]);
	}
	close(pipefd[1]);
	/* Never blocks: a killed child that lingers may still hold the pipe. */
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };

		if (poll(&pfd, 1, 10) > 0) {
			if (pfd.revents & POLLIN)
				relay_output(pipefd[0], pending, &used, sizeof(pending), out,
					     false);
			else if (exited)
				break;
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
		if (exited && !(pfd.revents & POLLIN))
			break;
		if (!exited && now_s() - start > o->timeout_s) {
			kill(pid, SIGKILL);
			reap_killed(pid, &status, out);
			out->status = V_TIMEOUT;
			break;
		}
	}
	relay_output(pipefd[0], pending, &used, sizeof(pending), out, true);
	close(pipefd[0]);
	if (out->status != V_TIMEOUT)
		classify_exit(status, out);
	if (out->status == V_PASS || out->status == V_FAIL || out->status == V_XFAIL)
		read_members(members, out);
	fclose(members);
	out->seconds = now_s() - start;
}

static void report_ktap(const struct ipi_variant *v, const struct variant_outcome *out)
{
	switch (out->status) {
	case V_PASS:
		ksft_test_result_pass("%s\n", v->name);
		break;
	case V_SKIP:
		/* KTAP's form, "ok N name # SKIP reason", which ksft_test_result_skip() lacks. */
		printf("ok %u %s # SKIP %s\n", ksft_test_num() + 1, v->name, out->reason);
		ksft_inc_xskip_cnt();
		break;
	case V_XFAIL:
		printf("ok %u %s # XFAIL %s\n", ksft_test_num() + 1, v->name, out->reason);
		ksft_inc_xfail_cnt();
		break;
	case V_TIMEOUT:
		ksft_test_result_fail("%s # TIMEOUT %.0fs\n", v->name, out->seconds);
		break;
	case V_CRASH:
		ksft_test_result_fail("%s # killed by signal %d\n", v->name, out->code);
		break;
	default:
		ksft_test_result_fail("%s\n", v->name);
	}
}

static void write_variant_json(struct json_writer *w, const struct ipi_variant *v,
			       const struct variant_outcome *out)
{
	json_begin_object(w, NULL);
	json_string(w, "name", v->name);
	if (!out->done) {
		json_string(w, "status", "not_run");
		json_end_object(w);
		return;
	}
	json_string(w, "status", status_names[out->status]);
	json_i64(w, "exit_code", out->status == V_CRASH ? -out->code : out->code);
	json_double(w, "seconds", out->seconds);
	json_string(w, "skip_reason", out->status == V_SKIP ? out->reason : NULL);
	if (out->members && *out->members)
		json_raw(w, NULL, out->members);
	json_end_object(w);
}

static char *results_path(const struct ipi_options *o, const char *test_name)
{
	struct stat st;
	char *path;

	if (!o->results_dir)
		return NULL;
	if (stat(o->results_dir, &st) || !S_ISDIR(st.st_mode) ||
	    access(o->results_dir, W_OK))
		ksft_exit_fail_msg("results directory '%s' is not a writable directory\n",
				   o->results_dir);
	TEST_ASSERT(asprintf(&path, "%s/%s.json", o->results_dir, test_name) > 0, "asprintf");
	if (!access(path, F_OK))
		ksft_exit_fail_msg("%s exists; results are never overwritten\n", path);
	return path;
}

/*
 * The test's results so far, every variant not run yet marked so: written
 * before the first variant (which claims the file, never overwriting
 * another run's) and again, atomically, after each one, so that a run
 * killed by kselftest's timeout keeps what it finished.
 */
static void write_results(const char *path, const char *test_name, int argc, char **argv,
			  const char *started, const struct ipi_variant *variants,
			  const bool *selected, const struct variant_outcome *outs,
			  unsigned int n, bool first, bool complete)
{
	struct json_writer w;
	char finished[32], *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	unsigned int i;
	int r;

	iso_time(finished, sizeof(finished));
	json_init(&w, mem);
	json_begin_object(&w, NULL);
	json_string(&w, "schema", "kvm-ipi-selftests/test-result");
	json_u64(&w, "schema_version", 1);
	json_string(&w, "test", test_name);
	json_string(&w, "started", started);
	json_string(&w, complete ? "finished" : "updated", finished);
	json_bool(&w, "complete", complete);
	json_begin_array(&w, "argv");
	for (i = 0; i < (unsigned int)argc; i++)
		json_string(&w, NULL, argv[i]);
	json_end_array(&w);
	host_info_write_json(&w);
	json_begin_array(&w, "variants");
	for (i = 0; i < n; i++) {
		if (selected[i])
			write_variant_json(&w, &variants[i], &outs[i]);
	}
	json_end_array(&w);
	json_end_object(&w);
	fputc('\n', mem);
	TEST_ASSERT(!json_finish(&w), "JSON writer error");
	fclose(mem);

	r = first ? write_file_noreplace(path, buf, len) : write_file_replace(path, buf, len);
	if (r)
		ksft_exit_fail_msg("writing %s: %s\n", path, strerror(-r));
	if (complete)
		ksft_print_msg("results: %s\n", path);
	free(buf);
}

/* @globs is a comma-separated list of fnmatch() patterns. */
static bool variant_matches(const char *globs, const char *name)
{
	char *copy, *glob, *save = NULL;
	bool match = false;

	if (!globs)
		return true;
	copy = strdup(globs);
	TEST_ASSERT(copy, "Out of memory");
	for (glob = strtok_r(copy, ",", &save); glob && !match; glob = strtok_r(NULL, ",", &save))
		match = !fnmatch(glob, name, 0);
	free(copy);
	return match;
}

int ipi_test_main(const struct ipi_test *t, int argc, char **argv)
{
	const struct ipi_variant *variants = t->variants;
	const char *test_name = t->name;
	unsigned int nr_variants = t->nr_variants;
	struct variant_outcome outs[nr_variants];
	bool selected[nr_variants];
	struct ipi_options o;
	unsigned int i, nr_selected = 0, pass = 0, fail = 0, skip = 0;
	char started[32], *path;

	memset(outs, 0, sizeof(outs));
	ipi_options_init(&o, t->default_count, t->default_vcpus);
	ipi_options_parse(&o, argc, argv, t->min_vcpus, t->max_vcpus);
	if (!t->host_injectors && (o.injectors || o.period_us || o.sweep_us)) {
		fprintf(stderr, "%s: %s has no host injectors\n", argv[0], test_name);
		return KSFT_FAIL;
	}
	if (o.fault && !(t->faults & IPI_FAULT_BIT(o.fault))) {
		fprintf(stderr, "%s: --fault %s is not something %s can inject\n",
			argv[0], ipi_fault_name(o.fault), test_name);
		return KSFT_FAIL;
	}

	for (i = 0; i < nr_variants; i++) {
		selected[i] = variant_matches(o.variant, variants[i].name);
		nr_selected += selected[i];
		if (o.list && selected[i])
			printf("%s\n", variants[i].name);
	}
	if (o.list)
		return KSFT_PASS;
	if (!nr_selected) {
		fprintf(stderr, "%s: no variant matches '%s' (see --list)\n", argv[0], o.variant);
		return KSFT_FAIL;
	}
	for (i = 0; i < nr_variants && t->refuse; i++) {
		const char *why = selected[i] ? t->refuse(&variants[i], &o) : NULL;

		if (why) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], variants[i].name, why);
			return KSFT_FAIL;
		}
	}
	path = results_path(&o, test_name);
	iso_time(started, sizeof(started));

	/* Before anything runs: an unwritable directory fails now, not at the end. */
	if (path)
		write_results(path, test_name, argc, argv, started, variants, selected, outs,
			      nr_variants, true, false);
	ksft_print_header();
	ksft_set_plan(nr_selected);
	for (i = 0; i < nr_variants; i++) {
		if (!selected[i])
			continue;
		ksft_print_msg("%s: %s\n", test_name, variants[i].name);
		run_variant(test_name, &variants[i], &o, &outs[i]);
		outs[i].done = true;
		report_ktap(&variants[i], &outs[i]);
		if (path)
			write_results(path, test_name, argc, argv, started, variants, selected,
				      outs, nr_variants, false, false);
		pass += outs[i].status == V_PASS;
		skip += outs[i].status == V_SKIP;
		fail += outs[i].status != V_PASS && outs[i].status != V_SKIP &&
			outs[i].status != V_XFAIL;
	}
	if (path)
		write_results(path, test_name, argc, argv, started, variants, selected,
			      outs, nr_variants, false, true);
	for (i = 0; i < nr_variants; i++)
		free(outs[i].members);
	free(path);
	ksft_print_cnts();
	/* An expected failure is not a failure: kselftest exits 0 for it. */
	return fail ? KSFT_FAIL : (!pass && skip == nr_selected) ? KSFT_SKIP : KSFT_PASS;
}
