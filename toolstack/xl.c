/* colo-xl main: global options, the subcommand table with unambiguous
 * prefix matching, per-command help, and the connection to colod. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colod.h"
#include "util.h"
#include "xl.h"

static void list_commands(FILE *f, const char *prefix,
		const struct xl_cmd *table)
{
	char name[64];

	for (const struct xl_cmd *c = table; c->name; c++) {
		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? " " : "",
			 c->name);
		if (c->sub) {
			list_commands(f, name, c->sub);
			continue;
		}
		fprintf(f, "  %-22s %s\n", name, c->summary);
	}
}

void xl_print_usage(FILE *f)
{
	fprintf(f, "Usage: colo-xl [-v] [--json] [-N] [--run-dir DIR] "
		"[--timeout MS] COMMAND [ARGS]\n\n"
		"COLO fault tolerance for KVM domains.  Commands:\n\n");
	list_commands(f, "", xl_commands);
	fprintf(f, "\nGlobal options:\n"
		"  -v, --verbose       print requests and replies on stderr\n"
		"  -j, --json          print results as JSON\n"
		"  -N, --dry-run       print what would be sent, send nothing\n"
		"  -r, --run-dir DIR   colod's run directory (default %s,\n"
		"                      or $COLO_RUN_DIR)\n"
		"  -t, --timeout MS    how long to wait for colod (default %d)\n"
		"  -h, --help          this help; 'colo-xl help CMD' for one "
		"command\n"
		"  -V, --version       print the version\n",
		COLOD_DEFAULT_RUN_DIR, CTL_DEFAULT_TIMEOUT_MS);
}

void xl_print_cmd_help(FILE *f, const char *prefix, const struct xl_cmd *cmd)
{
	char name[64];

	snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? " " : "",
		 cmd->name);
	if (cmd->sub) {
		fprintf(f, "Usage: colo-xl %s SUBCOMMAND [ARGS]\n\n%s\n\n"
			"Subcommands:\n\n", name, cmd->summary);
		list_commands(f, name, cmd->sub);
		return;
	}
	fprintf(f, "Usage: colo-xl %s%s%s\n\n%s\n", name, *cmd->args ? " " : "",
		cmd->args, cmd->summary);
	if (cmd->help && *cmd->help)
		fprintf(f, "\n%s", cmd->help);
}

/*
 * The group ("colo", "block") of the command being run, so that its usage
 * lines name it in full.  colo-xl runs one command per process, so one
 * file-scope slot is enough and spares every command passing it on.  A
 * copy, since the name is built on a caller's stack.
 */
static char cur_group[64];

int xl_usage_error(const struct xl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("colo-xl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		fprintf(stderr, "Usage: colo-xl %s%s%s%s%s\n", cur_group,
			*cur_group ? " " : "", cmd->name,
			*cmd->args ? " " : "", cmd->args);
	return XL_USAGE;
}

bool xl_want_help(const struct xl_cmd *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			xl_print_cmd_help(stdout, cur_group, cmd);
			return true;
		}
	}
	return false;
}

const struct xl_cmd *xl_lookup(const struct xl_cmd *table, const char *name,
		bool *ambiguous)
{
	const struct xl_cmd *hit = NULL;
	size_t len = strlen(name);
	int n = 0;

	*ambiguous = false;
	for (const struct xl_cmd *c = table; c->name; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
		if (len && strncmp(c->name, name, len) == 0) {
			hit = c;
			n++;
		}
	}
	if (n > 1) {
		*ambiguous = true;
		return NULL;
	}
	return hit;
}

static void list_candidates(const struct xl_cmd *table, const char *name)
{
	fprintf(stderr, "colo-xl: '%s' is ambiguous; it could be:", name);
	for (const struct xl_cmd *c = table; c->name; c++)
		if (strncmp(c->name, name, strlen(name)) == 0)
			fprintf(stderr, " %s", c->name);
	fputc('\n', stderr);
}

int xl_run_table(struct xl_ctx *x, const struct xl_cmd *table,
		const char *group, int argc, char **argv)
{
	const struct xl_cmd *cmd;
	bool ambiguous;

	if (argc < 1) {
		fprintf(stderr, "colo-xl: %s needs a subcommand\n", group);
		return XL_USAGE;
	}
	cmd = xl_lookup(table, argv[0], &ambiguous);
	if (ambiguous) {
		list_candidates(table, argv[0]);
		return XL_USAGE;
	}
	if (!cmd) {
		fprintf(stderr, "colo-xl: unknown command '%s%s%s'; "
			"try 'colo-xl help'\n", group, *group ? " " : "",
			argv[0]);
		return XL_USAGE;
	}
	if (cmd->sub) {
		char g[64];

		snprintf(g, sizeof(g), "%s%s%s", group, *group ? " " : "",
			 cmd->name);
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				  strcmp(argv[1], "--help") == 0)) {
			xl_print_cmd_help(stdout, group, cmd);
			return XL_OK;
		}
		return xl_run_table(x, cmd->sub, g, argc - 1, argv + 1);
	}
	snprintf(cur_group, sizeof(cur_group), "%s", group);
	if (xl_want_help(cmd, argc, argv))
		return XL_OK;
	if (x->dry_run && !cmd->dry_run_ok) {
		fprintf(stderr, "colo-xl: -N (dry run) has no meaning for "
			"'%s'\n", cmd->name);
		return XL_USAGE;
	}
	return cmd->fn(x, cmd, argc, argv);
}

int xl_connect(struct xl_ctx *x)
{
	char ep[4200];
	int rc;

	if (x->connected)
		return 0;
	if (x->dry_run) {
		/* Nothing is sent, so colod need not even be running. */
		memset(&x->ctl, 0, sizeof(x->ctl));
		x->ctl.dry_run = true;
		return 0;
	}
	snprintf(ep, sizeof(ep), "ipc://%s/%s", x->run_dir, COLOD_CTL_SOCKET);
	rc = ctl_client_open(&x->ctl, ep, x->timeout_ms);
	x->ctl.dry_run = x->dry_run;
	x->ctl.trace = x->verbose > 0;
	if (rc < 0) {
		ctl_client_close(&x->ctl);
		fprintf(stderr, "colo-xl: cannot reach colod at %s/%s: %s\n"
			"colo-xl: is colod running? (start it with 'colod', or "
			"use --run-dir)\n", x->run_dir, COLOD_CTL_SOCKET,
			strerror(-rc));
		return rc;
	}
	x->connected = true;
	return 0;
}

int xl_report(struct xl_ctx *x, const char *what, int rc,
		const struct colo_error *err)
{
	if (rc == -ECANCELED && x->dry_run)
		return XL_OK;	/* dry run: the request was printed */
	if (x->json && err->set) {
		json_t *e = json_pack("{s:{s:s,s:s}}", "error", "class",
				      error_class_str(err->cls), "desc",
				      err->desc);

		xl_print_json(e);
	}
	if (err->set)
		fprintf(stderr, "colo-xl: %s: %s (%s)\n", what, err->desc,
			error_class_str(err->cls));
	else
		fprintf(stderr, "colo-xl: %s: %s\n", what, strerror(-rc));
	return XL_FAIL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'N' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct xl_ctx x;
	long long v;
	int c, rc;

	memset(&x, 0, sizeof(x));
	x.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	x.run_dir = getenv("COLO_RUN_DIR");
	if (!x.run_dir || !*x.run_dir)
		x.run_dir = COLOD_DEFAULT_RUN_DIR;
	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+vjNr:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'v': x.verbose++; break;
		case 'j': x.json = true; break;
		case 'N': x.dry_run = true; break;
		case 'r': x.run_dir = optarg; break;
		case 't':
			if (util_parse_ll(optarg, 1, 3600000, &v) < 0)
				return xl_usage_error(NULL, "bad --timeout '%s'",
						      optarg);
			x.timeout_ms = (int)v;
			break;
		case 'h': xl_print_usage(stdout); return XL_OK;
		case 'V': printf("colo-xl %s\n", PACKAGE_VERSION); return XL_OK;
		default: xl_print_usage(stderr); return XL_USAGE;
		}
	}
	if (optind >= argc) {
		xl_print_usage(stderr);
		return XL_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = xl_run_table(&x, xl_commands, "", argc - optind, argv + optind);
	if (x.connected)
		ctl_client_close(&x.ctl);
	return rc;
}
