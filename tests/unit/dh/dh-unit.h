/* Unit tests of the dom-helper and the stream format. */
#ifndef COLO_DH_UNIT_H
#define COLO_DH_UNIT_H

#include "unit.h"

void dh_suite_stream(void);
void dh_suite_elf(void);
void dh_suite_dirty(void);
void dh_suite_state(void);
void dh_suite_console(void);
void dh_suite_vq(void);
void dh_suite_pause(void);
void dh_suite_watch(void);

/* A VM with 4 MiB of RAM and one vCPU, or NULL when /dev/kvm is not
 * usable (the caller then reports the skip). */
struct vm;
struct vm *dh_vm_new(int dirty_mode);
void dh_vm_free(struct vm *vm);

#endif
