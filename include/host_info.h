/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the results need to say about the host: kernel, KVM vendor module
 * and its parameters, CPU, and the interrupt delivery path KVM is set up
 * to use.
 */
#ifndef IPI_HOST_INFO_H
#define IPI_HOST_INFO_H

struct json_writer;

/* "kvm_intel", "kvm_amd", "kvm_pvm", ... or "none". */
const char *kvm_vendor_module(void);
/*
 * "apicv" (kvm_intel, enable_apicv=Y), "avic" (kvm_amd, avic=Y) or
 * "software-lapic": what the module parameters ask for, not proof that
 * the hardware path was taken.
 */
const char *kvm_configured_delivery(void);
void host_info_write_json(struct json_writer *w);

#endif /* IPI_HOST_INFO_H */
