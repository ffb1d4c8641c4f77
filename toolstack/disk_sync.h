/* Sync tokens: whether a secondary's image may be brought back in step
 * from the primary's dirty map alone.  That holds only while the image
 * has taken no write but the primary's since the last complete copy
 * from this primary: not for a new image, nor after a takeover wrote
 * the SVM's view into it, nor once the primary copied (part of) its
 * disk to another host, since its dirty map then counts against that
 * one.  Each session has a random token: the secondary records it with
 * its image as the session is set up (and its blkrep removes it before
 * a takeover commit), the primary records it with its own image once
 * that disk's copy completed, and removes it as a new copy starts.  An
 * incremental resume trusts only equal tokens; anything else is copied
 * in full.  The token lives in STATE_DIR/overlay/NAME-diskN.sync, with
 * the side that wrote it and the image file's device and inode: a
 * primary's token is no secondary's, and a token means nothing for
 * another file put in the image's place.  A secondary's token goes as
 * soon as its host uses the image any other way (disks.c). */
#ifndef COLOD_DISK_SYNC_H
#define COLOD_DISK_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include "colod.h"

#define DISK_SYNC_TOKEN_LEN 32		/* hex digits */

void disk_sync_path(struct colod *d, const char *name, int i, char *buf,
		size_t len);
/* A new random token. */
int disk_sync_new(char tok[DISK_SYNC_TOKEN_LEN + 1]);
enum disk_sync_role { DISK_SYNC_PRIMARY, DISK_SYNC_SECONDARY };

/* Disk i's token, or "" unless its file holds one of that role for the
 * very file image (same device and inode). */
void disk_sync_read(struct colod *d, const char *name, int i,
		const char *image, enum disk_sync_role role,
		char tok[DISK_SYNC_TOKEN_LEN + 1]);
/* Records tok for image in that role durably (written aside, synced,
 * renamed); 0 or -errno. */
int disk_sync_record(struct colod *d, const char *name, int i,
		const char *image, enum disk_sync_role role, const char *tok);
/* Removes the token durably; 0 or -errno (a missing one is fine). */
int disk_sync_forget(struct colod *d, const char *name, int i);

#endif
