/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * KVM_SET_USER_MEMORY_REGION2 for kernels older than the selftests
 * library (see lib/memslot_compat.c).
 */
#ifndef IPI_MEMSLOT_COMPAT_H
#define IPI_MEMSLOT_COMPAT_H

#include <stdbool.h>

/* True when this kernel lacks KVM_SET_USER_MEMORY_REGION2. */
bool memslot_compat_in_use(void);

#endif /* IPI_MEMSLOT_COMPAT_H */
