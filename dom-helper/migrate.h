/* Live migration between helpers over TCP, as a colo-stream: precopy
 * iterations over the dirty log while the guest runs, then a short
 * stop-and-copy of what is left plus the vCPU, VM and device state.  The
 * receiver acknowledges only a complete, loaded stream; until then the
 * source can resume. */
#ifndef DH_MIGRATE_H
#define DH_MIGRATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MIGRATE_MAX_ITERATIONS	30
#define MIGRATE_ACK		0x4b	/* the receiver's one-byte answer */

struct helper;

struct migration {
	pthread_t thread;
	bool started;
	_Atomic int status;		/* enum migration_status */
	_Atomic uint64_t transferred, remaining, dirty_rate, iterations;
	_Atomic uint64_t downtime_ms;
	char error[256];
	char host[256];
	int port;
	int max_downtime_ms;
	int notify_fd;			/* eventfd: the main loop looks */
	int listen_fd;			/* incoming: the listening socket */
	_Atomic bool stop;		/* the helper is exiting */
	bool colo;			/* continue into COLO checkpoints */
	_Atomic int conn_fd;		/* the stream, while it is open */
};

int migrate_init(struct migration *m);
void migrate_fini(struct migration *m);
/* Source: starts the sender thread. */
int migrate_start(struct helper *h, const char *host, int port,
		int max_downtime_ms, bool colo, char *err, size_t errlen);
/* Destination: listens on addr (port 0: any) and returns the port. */
int migrate_listen(struct migration *m, const char *addr, char *err,
		size_t errlen);
/* Destination: accepts and loads the stream in a thread. */
int migrate_accept_start(struct helper *h);

#endif
