/* colo-blkrep's command line (colo-blkrep(8)). */
#ifndef COLO_BLKREP_OPTIONS_H
#define COLO_BLKREP_OPTIONS_H

#include <stdbool.h>

struct blkrep_opts {
	const char *image, *unix_path, *tcp, *export_name;
	const char *replicate, *dirty, *sec_dir, *peer_ctl;
	const char *ctl_ep, *ctl_listen, *port_file, *pidfile;
	const char *qlist, *events_ep, *sync_token, *tcp_export;
	const char *log_target, *log_level;
	int max_clients, peer_timeout, qthreshold;
	bool ro, full, fresh, qfifo, qrewrite;
};

/* Fills o from argv.  Returns -1 to go on, or the exit status: 0 after
 * --help, 2 after a usage error (printed). */
int blkrep_parse_opts(int argc, char **argv, struct blkrep_opts *o);

#endif
