/* Small helpers shared by every program: time, numbers, paths, pid locks,
 * and die() for main() paths. */
#ifndef COLO_UTIL_H
#define COLO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

uint64_t util_now_us(void);		/* wall clock */
uint64_t util_mono_us(void);		/* monotonic */
void util_sleep_ms(unsigned ms);
/* strdup that aborts on ENOMEM; NULL gives "". */
char *xstrdup(const char *s);

/* Parses a whole decimal integer in [min, max]; -EINVAL or -ERANGE. */
int util_parse_ll(const char *s, long long min, long long max,
		long long *out);
/* "yes/no/true/false/on/off/1/0"; -EINVAL otherwise. */
int util_parse_bool(const char *s, bool *out);

int util_mkdir_p(const char *path, mode_t mode);
/* Syncs the directory that holds path, so that a rename, a creation or
 * an unlink there is on disk.  0 or -errno. */
int util_sync_parent(const char *path);
/* Removes path (a missing one is fine) and syncs its directory. */
int util_unlink_synced(const char *path);
bool util_pid_alive(pid_t pid);

/* Takes an exclusive, non-blocking lock on path and writes our pid into
 * it.  On -EWOULDBLOCK *holder is the pid found in the file (0 if none).
 * The lock lasts as long as *fd stays open. */
int util_lock_pidfile(const char *path, int *fd, pid_t *holder);

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
					      noreturn));

/* writev until every byte is out (iov is consumed); 0 or -errno. */
struct iovec;
int util_writev_all(int fd, struct iovec *iov, int n);
/* The same at file offset off (pwritev). */
int util_pwritev_all(int fd, struct iovec *iov, int n, uint64_t off);
/* readv until every iovec is full (iov is consumed); 0, -EPIPE when the
 * file ends first, or -errno. */
int util_readv_all(int fd, struct iovec *iov, int n);

/* A connected unix stream socket (close-on-exec, plus flags, such as
 * SOCK_NONBLOCK) to path, or -errno (-ENAMETOOLONG for a path that cannot
 * be a socket's).  Non-blocking, a full backlog is -EAGAIN. */
int util_connect_unix(const char *path, int flags);

#endif
