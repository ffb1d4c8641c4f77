/* colo-blkrep's command line: the options, their checks and the usage
 * text. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "options.h"
#include "quorum.h"
#include "replica.h"
#include "util.h"

#define DEFAULT_MAX_CLIENTS 16

static const char shortopts[] = "i:u:l:e:rR:D:Fm:L:v:hS:c:C:o:ft:P:p:Q:T:X:WE:K:N:";
static const struct option opts[] = {
	{ "image", required_argument, NULL, 'i' },
	{ "unix", required_argument, NULL, 'u' },
	{ "listen", required_argument, NULL, 'l' },
	{ "export", required_argument, NULL, 'e' },
	{ "read-only", no_argument, NULL, 'r' },
	{ "replicate", required_argument, NULL, 'R' },
	{ "dirty-map", required_argument, NULL, 'D' },
	{ "resync-full", no_argument, NULL, 'F' },
	{ "max-clients", required_argument, NULL, 'm' },
	{ "secondary", required_argument, NULL, 'S' },
	{ "ctl", required_argument, NULL, 'c' },
	{ "ctl-listen", required_argument, NULL, 'C' },
	{ "port-file", required_argument, NULL, 'o' },
	{ "fresh", no_argument, NULL, 'f' },
	{ "sync-token", required_argument, NULL, 'K' },
	{ "tcp-export", required_argument, NULL, 'N' },
	{ "peer-timeout", required_argument, NULL, 't' },
	{ "peer-ctl", required_argument, NULL, 'P' },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "quorum", required_argument, NULL, 'Q' },
	{ "vote-threshold", required_argument, NULL, 'T' },
	{ "read-pattern", required_argument, NULL, 'X' },
	{ "rewrite-corrupted", no_argument, NULL, 'W' },
	{ "events", required_argument, NULL, 'E' },
	{ "log", required_argument, NULL, 'L' },
	{ "log-level", required_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: colo-blkrep --image FILE [--unix PATH] [--listen HOST:PORT [--tcp-export NAME]]\n"
		"                   [--export NAME] [--read-only] [--max-clients N]\n"
		"                   [--replicate NBD-URI [--dirty-map FILE] [--resync-full]]\n"
		"                   [--peer-timeout MS]\n"
		"                   [--secondary DIR [--fresh] [--sync-token FILE]]\n"
		"                   [--ctl ENDPOINT [--ctl-listen ENDPOINT]]\n"
		"                   [--peer-ctl ENDPOINT] [--port-file FILE]\n"
		"                   [--pidfile FILE]\n"
		"       colo-blkrep --quorum FILE,FILE,... [--vote-threshold N]\n"
		"                   [--read-pattern quorum|fifo] [--rewrite-corrupted]\n"
		"                   [--events ENDPOINT] (--unix PATH | --listen HOST:PORT) ...\n"
		"                   [--log TARGET] [--log-level LEVEL]\n"
		"Serves a raw disk image over NBD (colo-blkrep(8)).\n");
}

static bool combinations_ok(const struct blkrep_opts *o)
{
	const char *why = NULL;

	if (o->replicate && o->ro)
		why = "--replicate needs a writable image";
	else if (o->sec_dir && (o->replicate || o->ro))
		why = "--secondary excludes --replicate and --read-only";
	else if (o->sync_token && !o->sec_dir)
		why = "--sync-token goes with --secondary";
	else if (o->tcp_export && (!o->tcp || !o->tcp_export[0] ||
				   strlen(o->tcp_export) > 255))
		why = "--tcp-export takes a name of 1 to 255 bytes, with --listen";
	else if (o->sec_dir && !strcmp(o->export_name, "svm"))
		why = "with --secondary the export name svm is the SVM's; "
		      "pick another";
	if (why)
		fprintf(stderr, "colo-blkrep: %s\n", why);
	return !why;
}

/* optarg as an integer option in [lo, hi], or a message and false. */
static bool int_arg(const char *name, long long lo, long long hi, int *out)
{
	long long v;

	if (util_parse_ll(optarg, lo, hi, &v) < 0) {
		fprintf(stderr, "colo-blkrep: --%s must be %lld to %lld\n",
			name, lo, hi);
		return false;
	}
	*out = (int)v;
	return true;
}

int blkrep_parse_opts(int argc, char **argv, struct blkrep_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->export_name = "";
	o->log_target = "stderr";
	o->log_level = "info";
	o->max_clients = DEFAULT_MAX_CLIENTS;
	o->peer_timeout = REPLICA_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'i': o->image = optarg; break;
		case 'u': o->unix_path = optarg; break;
		case 'l': o->tcp = optarg; break;
		case 'e': o->export_name = optarg; break;
		case 'r': o->ro = true; break;
		case 'R': o->replicate = optarg; break;
		case 'D': o->dirty = optarg; break;
		case 'F': o->full = true; break;
		case 'S': o->sec_dir = optarg; break;
		case 'c': o->ctl_ep = optarg; break;
		case 'C': o->ctl_listen = optarg; break;
		case 'o': o->port_file = optarg; break;
		case 'f': o->fresh = true; break;
		case 'K': o->sync_token = optarg; break;
		case 'N': o->tcp_export = optarg; break;
		case 't':
			if (!int_arg("peer-timeout", 100, 600000,
				     &o->peer_timeout))
				return 2;
			break;
		case 'P': o->peer_ctl = optarg; break;
		case 'p': o->pidfile = optarg; break;
		case 'Q': o->qlist = optarg; break;
		case 'T':
			if (!int_arg("vote-threshold", 1, QUORUM_MAX,
				     &o->qthreshold))
				return 2;
			break;
		case 'X':
			if (strcmp(optarg, "quorum") && strcmp(optarg, "fifo")) {
				fprintf(stderr, "colo-blkrep: --read-pattern is "
					"quorum or fifo\n");
				return 2;
			}
			o->qfifo = !strcmp(optarg, "fifo");
			break;
		case 'W': o->qrewrite = true; break;
		case 'E': o->events_ep = optarg; break;
		case 'm':
			if (!int_arg("max-clients", 1, 1024, &o->max_clients))
				return 2;
			break;
		case 'L': o->log_target = optarg; break;
		case 'v': o->log_level = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !o->image == !o->qlist ||
	    (!o->unix_path && !o->tcp) || (o->ctl_listen && !o->ctl_ep) ||
	    (o->qlist && (o->replicate || o->sec_dir || o->ro))) {
		usage(stderr);
		return 2;
	}
	return combinations_ok(o) ? -1 : 2;
}
