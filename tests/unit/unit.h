/* Shared declarations for the CUnit unit tests: one suite per file. */
#ifndef COLO_UNIT_H
#define COLO_UNIT_H

#include <CUnit/CUnit.h>

void unit_suite_conf(void);
void unit_suite_log(void);
void unit_suite_ctl(void);
void unit_suite_fsm(void);
void unit_suite_params(void);
void unit_suite_qapi(void);
void unit_suite_state(void);
void unit_suite_util(void);
void unit_suite_frame(void);
void unit_suite_compare(void);
void unit_suite_rewriter(void);
void unit_suite_garp(void);
void unit_suite_mirrorlog(void);
void unit_suite_link(void);
void unit_suite_overlay(void);
void unit_suite_sha256(void);
void unit_suite_disk_sync(void);

/* Adds a suite with its tests; aborts the run if CUnit cannot. */
struct unit_case {
	const char *name;
	void (*fn)(void);
};
void unit_add_suite(const char *name, const struct unit_case *cases);

/* A fresh directory under /tmp, removed by unit_rmdir(). */
char *unit_mkdtemp(void);
void unit_rmdir(char *dir);

/* fixture.c */
struct colod;
struct state;
struct colod *unit_colod_new(void);
void unit_colod_free(struct colod *d);
void unit_seed_domain(struct state *st, const char *name, int domid,
		const char *mode);
/* Runs a "SELECT count(*) ..." and returns the count, or -1. */
int unit_count_rows(struct state *st, const char *sql);

#endif
