/* Image-file disks: colod starts a colo-blkrep for each, detached like
 * the netproxies, and the helper finds it by the socket's name. */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "children.h"
#include "disks.h"
#include "log.h"
#include "util.h"

#define SOCKET_WAIT_MS 5000

static const char *blkrep_path(void)
{
	static char path[PATH_MAX];

	return children_program_path("colo-blkrep", "COLO_BLKREP", path,
				     sizeof(path));
}

static void spawn_one(struct colod *d, const struct domain_config *cfg,
		int i, const char *sock)
{
	const struct domain_disk *disk = &cfg->disks[i];
	char pidf[4200], log[4200], ctl[4200];
	const char *argv[20];
	int n = 0;

	children_pidfile(d, cfg->name, "disk", i, pidf, sizeof(pidf));
	snprintf(log, sizeof(log), "file:%s/log/%s-disk%d.log",
		 d->cfg.state_dir, cfg->name, i);
	snprintf(ctl, sizeof(ctl), "ipc://%s/dom-%s-disk%d.ctl",
		 d->cfg.run_dir, cfg->name, i);
	argv[n++] = "colo-blkrep";
	argv[n++] = "--image";
	argv[n++] = disk->file;
	argv[n++] = "--unix";
	argv[n++] = sock;
	argv[n++] = "--ctl";
	argv[n++] = ctl;
	argv[n++] = "--pidfile";
	argv[n++] = pidf;
	argv[n++] = "--log";
	argv[n++] = log;
	if (disk->readonly)
		argv[n++] = "--read-only";
	argv[n] = NULL;
	unlink(sock);
	children_spawn_detached(blkrep_path(), argv);
}

int disks_spawn(struct colod *d, const struct domain_config *cfg,
		char *why, size_t whylen)
{
	for (int i = 0; i < cfg->ndisks; i++) {
		char sock[4200];
		struct stat st;
		int t;

		if (!cfg->disks[i].file[0])
			continue;
		snprintf(sock, sizeof(sock), "%s/dom-%s-disk%d.sock",
			 d->cfg.run_dir, cfg->name, i);
		spawn_one(d, cfg, i, sock);
		/* The helper connects as it boots: the socket must exist. */
		for (t = 0; t < SOCKET_WAIT_MS / 20; t++) {
			if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
				break;
			util_sleep_ms(20);
		}
		if (t == SOCKET_WAIT_MS / 20) {
			snprintf(why, whylen, "colo-blkrep for %s did not start "
				 "(see %s/log/%s-disk%d.log)", cfg->disks[i].file,
				 d->cfg.state_dir, cfg->name, i);
			disks_kill(d, cfg->name);
			return -EIO;
		}
		log_info("domain %s: blkrep for %s", cfg->name,
			 cfg->disks[i].file);
	}
	return 0;
}

void disks_kill(struct colod *d, const char *name)
{
	children_kill(d, name, "disk", DOMAIN_MAX_DISKS);
}
