/* colod's detached children beside the helpers: one colo-netproxy per
 * network card, one colo-blkrep per image-file disk.  They outlive
 * colod; a pid file per child, named after the domain, the kind and the
 * index, is how colod finds them again. */
#ifndef COLOD_CHILDREN_H
#define COLOD_CHILDREN_H

#include <stddef.h>
#include "colod.h"

/* A sibling program: $env_name, else next to colod, else in sbindir. */
const char *children_program_path(const char *name, const char *env_name,
		char *path, size_t len);

/* Starts prog with argv in a session of its own, standard streams on
 * /dev/null, not a child of colod (double fork). */
void children_spawn_detached(const char *prog, const char *const argv[]);

/* RUN_DIR/dom-NAME-KINDi.pid */
void children_pidfile(struct colod *d, const char *name, const char *kind,
		int i, char *buf, size_t len);

/* SIGTERM to every child of that kind whose pid file exists; the pid
 * files are removed. */
void children_kill(struct colod *d, const char *name, const char *kind,
		int max);

/* Opens a control connection to a child's endpoint; what names the
 * child in the error ("netproxy", "blkrep"). */
struct ctl_client;
struct colo_error;
int children_ctl_open(struct ctl_client *c, const char *endpoint,
		int timeout_ms, const char *what, struct colo_error *err);

#endif
