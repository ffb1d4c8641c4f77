/* colo-xl: the xl-style command line.  Talks only to the local colod. */
#ifndef COLO_XL_H
#define COLO_XL_H

#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <jansson.h>
#include "ctl.h"
#include "error.h"

/* Exit codes, as xl uses them. */
#define XL_OK		0
#define XL_FAIL		1
#define XL_USAGE	2

struct xl_ctx {
	struct ctl_client ctl;
	bool connected;
	bool json;
	bool dry_run;
	int verbose;
	int timeout_ms;
	const char *run_dir;
};

struct xl_cmd {
	const char *name;
	int (*fn)(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		  char **argv);
	const char *args;	/* synopsis after the name, as in colo-xl.1 */
	const char *summary;	/* one line */
	const char *help;	/* the rest, shown by "help CMD" */
	bool dry_run_ok;	/* -N means something for this command */
	const struct xl_cmd *sub;	/* a command group, such as "colo" */
};

extern const struct xl_cmd xl_commands[];

/* xl.c */
void xl_print_usage(FILE *f);
int xl_connect(struct xl_ctx *x);
/* Reports a failed call: the server's class and text, or why colod could
 * not be reached.  Returns the exit code to use. */
int xl_report(struct xl_ctx *x, const char *what, int rc,
		const struct colo_error *err);
int xl_usage_error(const struct xl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Handles -h/--help for a command; returns true when it printed help. */
bool xl_want_help(const struct xl_cmd *cmd, int argc, char **argv);
void xl_print_cmd_help(FILE *f, const char *prefix, const struct xl_cmd *cmd);
const struct xl_cmd *xl_lookup(const struct xl_cmd *table, const char *name,
		bool *ambiguous);
int xl_run_table(struct xl_ctx *x, const struct xl_cmd *table,
		const char *group, int argc, char **argv);

/* xl_cmds.c: parses a command's own options with getopt; returns the
 * index of the first operand, or -1 after printing a usage error. */
int xl_parse_opts(const struct xl_cmd *cmd, int argc, char **argv,
		const char *shortopts, const struct option *longopts,
		int (*each)(void *ctx, int opt, const char *arg), void *ctx);
/* For commands that take exactly n operands and no options: the index
 * of the first, or -1 after a usage error. */
int xl_operands(const struct xl_cmd *cmd, int argc, char **argv, int n);

/* xl_domain.c */
int xl_cmd_create(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_destroy(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_pause(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_unpause(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_save(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_restore(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
int xl_cmd_console(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);
/* xl_block.c: disk replication.  xl_call_showing_resync makes a request
 * that copies disks (colo-start, colo-resume), printing colod's
 * DISK_RESYNC events for dom on stderr while it waits. */
int xl_call_showing_resync(struct xl_ctx *x, const char *name, json_t *args,
		const char *dom, struct colo_error *err);
int xl_cmd_block_resync(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv);
int xl_cmd_block_status(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv);
int xl_cmd_migrate(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv);

/* xl_table.c */
void xl_print_json(json_t *j);		/* steals j */
void xl_print_kv(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The xl six-letter state column (r, b, p, s, c, d). */
const char *xl_state_letters(const char *run_state);

/* xl_netstats.c: prints a domain's netproxy statistics; only (--net)
 * makes a failure to get them an error. */
int xl_print_netstats(struct xl_ctx *x, const char *dom, bool only);

#endif
