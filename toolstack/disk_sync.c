/* Sync tokens in files beside the overlays (see disk_sync.h). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "disk_sync.h"
#include "util.h"

void disk_sync_path(struct colod *d, const char *name, int i, char *buf,
		size_t len)
{
	snprintf(buf, len, "%s/overlay/%s-disk%d.sync", d->cfg.state_dir, name,
		 i);
}

int disk_sync_new(char tok[DISK_SYNC_TOKEN_LEN + 1])
{
	unsigned char r[DISK_SYNC_TOKEN_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (size_t k = 0; k < sizeof(r); k++)
		snprintf(tok + 2 * k, 3, "%02x", r[k]);
	return 0;
}

static bool well_formed(const char *tok)
{
	if (strlen(tok) != DISK_SYNC_TOKEN_LEN)
		return false;
	for (const char *p = tok; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static const char *const role_names[] = { "primary", "secondary" };

void disk_sync_read(struct colod *d, const char *name, int i,
		const char *image, enum disk_sync_role role,
		char tok[DISK_SYNC_TOKEN_LEN + 1])
{
	char path[4200], buf[DISK_SYNC_TOKEN_LEN + 1], who[16];
	unsigned long long dev, ino;
	struct stat st;
	FILE *f;

	tok[0] = 0;
	if (stat(image, &st) < 0)
		return;		/* no image: nothing can be in step */
	disk_sync_path(d, name, i, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%32s %15s %llu %llu", buf, who, &dev, &ino) == 4 &&
	    well_formed(buf) && !strcmp(who, role_names[role]) &&
	    dev == (unsigned long long)st.st_dev &&
	    ino == (unsigned long long)st.st_ino)
		memcpy(tok, buf, DISK_SYNC_TOKEN_LEN + 1);
	fclose(f);
}

int disk_sync_record(struct colod *d, const char *name, int i,
		const char *image, enum disk_sync_role role, const char *tok)
{
	char path[4200], tmp[4300];
	struct stat st;
	FILE *f;
	int rc = 0;

	if (!well_formed(tok))
		return -EINVAL;
	if (stat(image, &st) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/overlay", d->cfg.state_dir);
	mkdir(path, 0700);
	disk_sync_path(d, name, i, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fprintf(f, "%s %s %llu %llu\n", tok, role_names[role],
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) < 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc < 0 ? rc : util_sync_parent(path);
}

int disk_sync_forget(struct colod *d, const char *name, int i)
{
	char path[4200];

	disk_sync_path(d, name, i, path, sizeof(path));
	return util_unlink_synced(path);
}
