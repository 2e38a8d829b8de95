// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/kernel.h>
#include <linux/kvm.h>

#include "kvm_util.h"

#include "host_info.h"
#include "json_writer.h"

#define SYS_MODULE "/sys/module"

static const char * const vendor_modules[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };

static bool module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), SYS_MODULE "/%s", name);
	return access(path, F_OK) == 0;
}

const char *kvm_vendor_module(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vendor_modules); i++) {
		if (module_loaded(vendor_modules[i]))
			return vendor_modules[i];
	}
	return module_loaded("kvm") ? "other" : "none";
}

/* First line of a sysfs file, without the newline; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Older than the selftests library (6.8): memslots go through
 * KVM_SET_USER_MEMORY_REGION (lib/memslot_compat.c, outside a kselftest
 * install).  Asked with a raw syscall, past that file's ioctl wrapper.
 */
static bool kvm_lacks_memslot2(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	bool lacks;

	if (fd < 0)
		return false;
	lacks = syscall(SYS_ioctl, fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2) == 0;
	close(fd);
	return lacks;
}

const char *kvm_configured_delivery(void)
{
	const char *mod = kvm_vendor_module();

	/* The library's readers: each module is loaded, so its parameter exists. */
	if (!strcmp(mod, "kvm_intel") && get_kvm_intel_param_bool("enable_apicv"))
		return "apicv";
	if (!strcmp(mod, "kvm_amd") && get_kvm_amd_param_bool("avic"))
		return "avic";
	return "software-lapic";
}

/*
 * Every parameter of @module, as its sysfs files read.  The selftests
 * library reads one named parameter (get_kvm_*_param_bool/integer(), which
 * assert); it has no way to list them, which the cover letter proposes.
 */
static void write_module_params(struct json_writer *w, const char *module)
{
	char dir[128], path[512], val[256];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), SYS_MODULE "/%s/parameters", module);
	d = opendir(dir);
	if (!d) {
		json_null(w, module);
		return;
	}
	json_begin_object(w, module);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (access(path, R_OK))
			continue;
		read_line(path, val, sizeof(val));
		json_string(w, de->d_name, val);
	}
	closedir(d);
	json_end_object(w);
}

static void cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			snprintf(buf, len, "%s", colon + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

void host_info_write_json(struct json_writer *w)
{
	struct utsname u;
	char model[128];
	const char *mod = kvm_vendor_module();

	uname(&u);
	cpu_model(model, sizeof(model));

	json_begin_object(w, "host");
	json_string(w, "hostname", u.nodename);
	json_string(w, "kernel_release", u.release);
	json_string(w, "kernel_version", u.version);
	json_string(w, "machine", u.machine);
	json_string(w, "cpu_model", model);
	json_u64(w, "online_cpus", sysconf(_SC_NPROCESSORS_ONLN));
	json_string(w, "kvm_vendor_module", mod);
	json_string(w, "configured_delivery", kvm_configured_delivery());
	json_bool(w, "memslot_compat", kvm_lacks_memslot2());
	json_begin_object(w, "module_params");
	write_module_params(w, "kvm");
	if (strcmp(mod, "none") && strcmp(mod, "other"))
		write_module_params(w, mod);
	json_end_object(w);
	json_end_object(w);
}
