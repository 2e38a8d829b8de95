// SPDX-License-Identifier: GPL-2.0-only
/*
 * Run on kernels older than the selftests library: 6.12's library adds
 * every memslot with KVM_SET_USER_MEMORY_REGION2 (v6.8+), so on a 6.1
 * kernel each test would stop at its first memslot.  The suite links with
 * -Wl,--wrap=ioctl; a memslot the old ioctl can express (no guest_memfd)
 * is retried with KVM_SET_USER_MEMORY_REGION, whose struct is the leading
 * part of kvm_userspace_memory_region2, and KVM_CAP_USER_MEMORY2 (which
 * vm_mem_add() requires) reads as present.  Results say when it was
 * needed ("memslot_compat" in the host object, lib/host_info.c).
 *
 * Not part of a kselftest install: there the library and the kernel under
 * test come from the same tree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

int __real_ioctl(int fd, unsigned long request, void *arg);
int __wrap_ioctl(int fd, unsigned long request, ...);

_Static_assert(offsetof(struct kvm_userspace_memory_region2, userspace_addr) ==
	       offsetof(struct kvm_userspace_memory_region, userspace_addr),
	       "kvm_userspace_memory_region must prefix kvm_userspace_memory_region2");

static int check_extension(int fd, unsigned long cap)
{
	int ret = __real_ioctl(fd, KVM_CHECK_EXTENSION, (void *)cap);

	if (ret == 0 && cap == KVM_CAP_USER_MEMORY2)
		return 1;
	return ret;
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	struct kvm_userspace_memory_region2 *region;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (request == KVM_CHECK_EXTENSION)
		return check_extension(fd, (unsigned long)arg);

	ret = __real_ioctl(fd, request, arg);
	if (ret != -1 || errno != ENOTTY || request != KVM_SET_USER_MEMORY_REGION2)
		return ret;

	region = arg;
	if (region->flags & KVM_MEM_GUEST_MEMFD)
		return ret;
	return __real_ioctl(fd, KVM_SET_USER_MEMORY_REGION, region);
}
