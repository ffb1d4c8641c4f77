/* Image-file disks: colod starts a colo-blkrep for each, detached like
 * the netproxies, and the helper finds it by the socket's name. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "children.h"
#include "disk_sync.h"
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

void disks_ctl(struct colod *d, const char *name, int i, char *buf,
		size_t len)
{
	snprintf(buf, len, "ipc://%s/dom-%s-disk%d.ctl", d->cfg.run_dir, name,
		 i);
}

void disks_port_file(struct colod *d, const char *name, int i, char *buf,
		size_t len)
{
	snprintf(buf, len, "%s/dom-%s-disk%d.port", d->cfg.run_dir, name, i);
}

/* A COLO secondary's image: created at the primary's size when missing
 * (the primary's blkrep fills it), refused when its size differs. */
static int secondary_image(const char *path, int64_t size, char *why,
		size_t whylen)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		if (size >= 0 && st.st_size != size) {
			snprintf(why, whylen, "%s has %lld bytes, the primary's "
				 "image %lld", path, (long long)st.st_size,
				 (long long)size);
			return -EINVAL;
		}
		return 0;
	}
	if (size < 0) {
		snprintf(why, whylen, "%s does not exist", path);
		return -ENOENT;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, size) < 0) {
		int e = errno;

		snprintf(why, whylen, "cannot create %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	log_info("created %s (%lld bytes) for the primary to fill", path,
		 (long long)size);
	return 0;
}

/* STATE_DIR/overlay/NAME-diskN plus suffix, with the directory made. */
static void overlay_path(struct colod *d, const char *name, int i,
		const char *suffix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/overlay", d->cfg.state_dir);
	mkdir(buf, 0700);
	snprintf(buf + strlen(buf), len - strlen(buf), "/%s-disk%d%s", name, i,
		 suffix);
}

struct blkrep_argv {
	const char *argv[32];
	int n;
	char pidf[4200], log[4200], ctl[4200], ovl[4200], listen[300];
	char ctl_listen[300], portf[4200], dirty[4200], sync[4200];
	char tcp_export[DISK_SYNC_TOKEN_LEN + 1];
};

static void add(struct blkrep_argv *a, const char *s)
{
	a->argv[a->n++] = s;
}

/* The secondary-mode part: overlays, the primary's export on TCP and a
 * control endpoint it can reach. */
static int secondary_args(struct colod *d, const struct domain_config *cfg,
		int i, const struct disks_colo *colo, struct blkrep_argv *a,
		char *why, size_t whylen)
{
	overlay_path(d, cfg->name, i, "", a->ovl, sizeof(a->ovl));
	if (mkdir(a->ovl, 0700) < 0 && errno != EEXIST) {
		int e = errno;

		snprintf(why, whylen, "cannot create %s: %s", a->ovl,
			 strerror(e));
		return -e;
	}
	snprintf(a->listen, sizeof(a->listen), "%s:0", colo->addr);
	/* Anyone on the replication network reaches the port: the export
	 * answers only to a random name, which only the primary learns. */
	if (disk_sync_new(a->tcp_export) < 0) {
		snprintf(why, whylen, "no random bytes for an export name");
		return -EIO;
	}
	snprintf(a->ctl_listen, sizeof(a->ctl_listen), "tcp://%s:*",
		 colo->addr);
	disks_port_file(d, cfg->name, i, a->portf, sizeof(a->portf));
	unlink(a->portf);
	add(a, "--secondary");
	add(a, a->ovl);
	add(a, "--fresh");	/* a new session: the migration brings the SVM */
	add(a, "--listen");
	add(a, a->listen);
	add(a, "--tcp-export");
	add(a, a->tcp_export);
	add(a, "--ctl-listen");
	add(a, a->ctl_listen);
	add(a, "--port-file");
	add(a, a->portf);
	/* A takeover writes the SVM's view into the image: from then on it
	 * is not in step with the primary's (disk_sync.h). */
	disk_sync_path(d, cfg->name, i, a->sync, sizeof(a->sync));
	add(a, "--sync-token");
	add(a, a->sync);
	return 0;
}

static int spawn_one(struct colod *d, const struct domain_config *cfg,
		int i, int k, const char *sock, const struct disks_colo *colo,
		char *why, size_t whylen)
{
	const struct domain_disk *disk = &cfg->disks[i];
	struct blkrep_argv a = { .n = 0 };
	int rc;

	children_pidfile(d, cfg->name, "disk", i, a.pidf, sizeof(a.pidf));
	snprintf(a.log, sizeof(a.log), "file:%s/log/%s-disk%d.log",
		 d->cfg.state_dir, cfg->name, i);
	disks_ctl(d, cfg->name, i, a.ctl, sizeof(a.ctl));
	add(&a, "colo-blkrep");
	add(&a, "--image");
	add(&a, disk->file);
	add(&a, "--unix");
	add(&a, sock);
	add(&a, "--ctl");
	add(&a, a.ctl);
	add(&a, "--pidfile");
	add(&a, a.pidf);
	add(&a, "--log");
	add(&a, a.log);
	if (disk->readonly) {
		add(&a, "--read-only");
	} else {
		/* For when it replicates (a secondary, once it took over):
		 * what its own secondary missed. */
		overlay_path(d, cfg->name, i, ".dirty", a.dirty,
			     sizeof(a.dirty));
		add(&a, "--dirty-map");
		add(&a, a.dirty);
	}
	/* Used any other way, the image stops being a secondary copy. */
	if (!colo && !disk->readonly) {
		char tok[DISK_SYNC_TOKEN_LEN + 1];

		disk_sync_read(d, cfg->name, i, disk->file, DISK_SYNC_SECONDARY,
			       tok);
		if (tok[0] && (rc = disk_sync_forget(d, cfg->name, i)) < 0) {
			snprintf(why, whylen, "cannot remove the sync token of "
				 "%s: %s", disk->file, strerror(-rc));
			return rc;
		}
	}
	if (colo && !disk->readonly) {
		rc = secondary_image(disk->file, colo->sizes &&
				     (size_t)k < colo->nsizes ? colo->sizes[k] :
				     -1, why, whylen);
		if (rc == 0)
			rc = secondary_args(d, cfg, i, colo, &a, why, whylen);
		if (rc < 0)
			return rc;
	}
	a.argv[a.n] = NULL;
	unlink(sock);
	children_spawn_detached(blkrep_path(), a.argv);
	return 0;
}

int disks_spawn(struct colod *d, const struct domain_config *cfg,
		const struct disks_colo *colo, char *why, size_t whylen)
{
	for (int i = 0, k = 0; i < cfg->ndisks; i++) {
		char sock[4200];
		struct stat st;
		int t, rc;

		if (!cfg->disks[i].file[0])
			continue;
		snprintf(sock, sizeof(sock), "%s/dom-%s-disk%d.sock",
			 d->cfg.run_dir, cfg->name, i);
		rc = spawn_one(d, cfg, i, k, sock, colo, why, whylen);
		k += !cfg->disks[i].readonly;	/* only those replicate */
		if (rc < 0) {
			disks_kill(d, cfg->name);
			return rc;
		}
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
		log_info("domain %s: blkrep for %s%s", cfg->name,
			 cfg->disks[i].file, colo ? " (COLO secondary)" : "");
	}
	return 0;
}

void disks_kill(struct colod *d, const char *name)
{
	children_kill(d, name, "disk", DOMAIN_MAX_DISKS);
}
