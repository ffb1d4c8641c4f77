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
 * in full.  The token lives in STATE_DIR/overlay/NAME-diskN.sync. */
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
/* Disk i's token, or "" when it has none (or an unreadable one). */
void disk_sync_read(struct colod *d, const char *name, int i,
		char tok[DISK_SYNC_TOKEN_LEN + 1]);
/* Records tok durably (written aside, synced, renamed); 0 or -errno. */
int disk_sync_record(struct colod *d, const char *name, int i,
		const char *tok);
/* Removes the token durably; 0 or -errno (a missing one is fine). */
int disk_sync_forget(struct colod *d, const char *name, int i);

#endif
