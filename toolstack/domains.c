/* Helper processes, from colod's side.  A helper is started detached
 * (double fork, own session), reports its start-up result on a pipe, and
 * from then on is reached only through its sockets, so colod can restart
 * without the VM noticing. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "colo-qapi-client.h"
#include "colo-qapi-events.h"
#include "colo_fsm.h"
#include "colod.h"
#include "domains.h"
#include "log.h"
#include "util.h"
#include "children.h"
#include "disks.h"

const char *domains_helper_path(void)
{
	static char path[PATH_MAX];

	return children_program_path("colo-dom-helper", "COLO_DOM_HELPER", path,
			    sizeof(path));
}

static const char *netproxy_path(void)
{
	static char path[PATH_MAX];

	return children_program_path("colo-netproxy", "COLO_NETPROXY", path,
			    sizeof(path));
}

void domains_netproxy_ctl(struct colod *d, const char *name, int i,
		char *buf, size_t len)
{
	snprintf(buf, len, "ipc://%s/dom-%s-net%d.ctl", d->cfg.run_dir, name, i);
}

void domains_netproxy_port_file(struct colod *d, const char *name, int i,
		char *buf, size_t len)
{
	snprintf(buf, len, "%s/dom-%s-net%d.port", d->cfg.run_dir, name, i);
}

int domains_config(struct colod *d, const char *name,
		struct domain_config *cfg, struct colo_error *err)
{
	char *xml = NULL, why[512];
	int rc;

	if (state_domain_config(&d->st, name, &xml) < 0) {
		colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
			       "domain '%s' not found", name);
		return -ENOENT;
	}
	rc = domain_config_parse(cfg, xml, strlen(xml), "domain config", why,
				 sizeof(why));
	free(xml);
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR, "%s", why);
	return rc;
}

/* One detached netproxy per NIC that names a tap: the NIC's external
 * side.  It writes its pid file; destroy uses that.  A COLO secondary's
 * (colo_addr set) listens there for the primary's netproxy and writes
 * the port it got. */
static void spawn_netproxies(struct colod *d, const struct domain_config *cfg,
		const char *colo_addr)
{
	for (int i = 0; i < cfg->nnics; i++) {
		const struct domain_nic *nic = &cfg->nics[i];
		char sock[4200], pidf[4200], log[4200], ctl[4200], hctl[4200];
		char nicno[16], listen[300], portf[4200];
		const char *argv[24];
		int n = 0;

		if (!nic->tap[0])
			continue;
		if (nic->socket[0])
			snprintf(sock, sizeof(sock), "%s", nic->socket);
		else
			snprintf(sock, sizeof(sock), "%s/%s-net%d.sock",
				 d->cfg.run_dir, cfg->name, i);
		children_pidfile(d, cfg->name, "net", i, pidf, sizeof(pidf));
		snprintf(log, sizeof(log), "file:%s/log/%s-net%d.log",
			 d->cfg.state_dir, cfg->name, i);
		domains_netproxy_ctl(d, cfg->name, i, ctl, sizeof(ctl));
		snprintf(hctl, sizeof(hctl), "ipc://%s/dom-%s.ctl",
			 d->cfg.run_dir, cfg->name);
		snprintf(nicno, sizeof(nicno), "%d", i);
		argv[n++] = "colo-netproxy";
		argv[n++] = "--tap";
		argv[n++] = nic->tap;
		argv[n++] = "--guest";
		argv[n++] = sock;
		argv[n++] = "--ctl";
		argv[n++] = ctl;
		argv[n++] = "--helper";
		argv[n++] = hctl;
		argv[n++] = "--nic";
		argv[n++] = nicno;
		argv[n++] = "--pidfile";
		argv[n++] = pidf;
		argv[n++] = "--log";
		argv[n++] = log;
		/* The tests' window into comparisons (colod(8)). */
		if (getenv("COLO_NETPROXY_LOG_LEVEL")) {
			argv[n++] = "--log-level";
			argv[n++] = getenv("COLO_NETPROXY_LOG_LEVEL");
		}
		if (colo_addr) {
			snprintf(listen, sizeof(listen), "%s:0", colo_addr);
			domains_netproxy_port_file(d, cfg->name, i, portf,
						   sizeof(portf));
			unlink(portf);
			argv[n++] = "--mode";
			argv[n++] = "secondary";
			argv[n++] = "--peer-listen";
			argv[n++] = listen;
			argv[n++] = "--port-file";
			argv[n++] = portf;
		}
		argv[n] = NULL;
		children_spawn_detached(netproxy_path(), argv);
		log_info("domain %s: netproxy for tap %s%s", cfg->name, nic->tap,
			 colo_addr ? " (COLO secondary)" : "");
	}
}

static void link_paths(struct colod *d, const char *name, char *ctl,
		char *ev, size_t len)
{
	snprintf(ctl, len, "ipc://%s/dom-%s.ctl", d->cfg.run_dir, name);
	snprintf(ev, len, "ipc://%s/dom-%s.events", d->cfg.run_dir, name);
}

static int pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void link_free(struct dom_link *l)
{
	if (!l)
		return;
	ctl_client_close(&l->ctl);
	if (l->sub)
		zmq_close(l->sub);
	if (l->pidfd >= 0)
		close(l->pidfd);
	free(l);
}

/* Connects to a helper's sockets and asks who it is. */
static struct dom_link *link_open(struct colod *d, const char *name,
		int timeout_ms, struct helper_info *info)
{
	struct dom_link *l = calloc(1, sizeof(*l));
	char ctl[4200], ev[4200];
	struct colo_error err = { 0 };
	int linger = 0;

	if (!l)
		return NULL;
	l->pidfd = -1;
	snprintf(l->name, sizeof(l->name), "%s", name);
	link_paths(d, name, ctl, ev, sizeof(ctl));
	if (ctl_client_open(&l->ctl, ctl, timeout_ms) < 0 ||
	    qmpc_helper_query(&l->ctl, info, &err) < 0) {
		link_free(l);
		return NULL;
	}
	l->pid = (pid_t)info->pid;
	l->last = info->state;
	l->ckpt_seq = state_checkpoints_last_seq(&d->st, name, l->pid);
	l->pidfd = pidfd_open_compat(l->pid);
	l->sub = zmq_socket(d->zctx, ZMQ_SUB);
	zmq_setsockopt(l->sub, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(l->sub, ZMQ_SUBSCRIBE, "", 0);
	if (zmq_connect(l->sub, ev) < 0) {
		helper_info_fini(info);
		link_free(l);
		return NULL;
	}
	return l;
}

static int link_add(struct colod *d, struct dom_link *l)
{
	if (d->doms.n >= DOMAINS_MAX)
		return -ENOSPC;
	d->doms.v[d->doms.n++] = l;
	return 0;
}

static void link_remove(struct colod *d, struct dom_link *l)
{
	for (int i = 0; i < d->doms.n; i++) {
		if (d->doms.v[i] != l)
			continue;
		d->doms.v[i] = d->doms.v[--d->doms.n];
		break;
	}
	link_free(l);
}

struct dom_link *domains_get(struct colod *d, const char *name,
		struct colo_error *err)
{
	struct state_domain row;

	for (int i = 0; i < d->doms.n; i++)
		if (strcmp(d->doms.v[i]->name, name) == 0)
			return d->doms.v[i];
	if (err && state_domain_get(&d->st, name, &row) == 0)
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s' has no running helper (it %s); "
			       "destroy it", name,
			       row.run_state == RUN_STATE_CRASHED ? "crashed" :
			       "is not running");
	else
		colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
			       "domain '%s' not found", name);
	return NULL;
}

/* The grandchild: becomes the helper. */
struct spawn_args {
	const char *name, *cfg, *restore, *incoming;
	bool paused;
	bool colo;		/* the incoming domain is a COLO secondary */
	const int64_t *disk_sizes;	/* ...and its primary's disk sizes */
	size_t ndisk_sizes;
};

static void exec_helper(struct colod *d, const struct spawn_args *sa,
		int status_fd)
{
	const char *name = sa->name;
	char ctl[4200], ev[4200], con[4200], log[4200], fd[16], inc[300];
	const char *argv[24];
	int n = 0, null = open("/dev/null", O_RDWR);

	link_paths(d, name, ctl, ev, sizeof(ctl));
	snprintf(con, sizeof(con), "%s/console/%s.log", d->cfg.state_dir, name);
	snprintf(log, sizeof(log), "file:%s/log/%s.log", d->cfg.state_dir, name);
	snprintf(fd, sizeof(fd), "%d", status_fd);
	argv[n++] = "colo-dom-helper";
	argv[n++] = sa->restore ? "--restore" : "--config";
	argv[n++] = sa->restore ? sa->restore : sa->cfg;
	if (sa->incoming) {
		snprintf(inc, sizeof(inc), "tcp:%s", sa->incoming);
		argv[n++] = "--incoming";
		argv[n++] = inc;
	}
	argv[n++] = "--ctl";
	argv[n++] = ctl;
	argv[n++] = "--events";
	argv[n++] = ev;
	argv[n++] = "--console-log";
	argv[n++] = con;
	argv[n++] = "--status-fd";
	argv[n++] = fd;
	argv[n++] = "--log";
	argv[n++] = log;
	argv[n++] = "--run-dir";
	argv[n++] = d->cfg.run_dir;
	if (sa->paused)
		argv[n++] = "--paused";
	argv[n] = NULL;
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	execv(domains_helper_path(), (char **)argv);
	dprintf(status_fd, "ERR cannot run %s: %s\n", domains_helper_path(),
		strerror(errno));
	_exit(127);
}

static void copy_line(char *line, size_t size, const char *from)
{
	size_t n = strnlen(from, size - 1);

	memcpy(line, from, n);
	line[n] = '\0';
}

/*
 * Reads the status pipe until the helper's verdict: "OK [port=N]" or
 * "ERR reason".  The middle child's "PID n" line comes too, in any order
 * with the verdict, since both may write at once.  Called once the middle
 * child has exited, so its line is in the pipe by then: after the verdict
 * only what is already there is read.  Leaves the verdict line in line[],
 * empty when the helper went silent or away.
 */
static void read_status(int fd, char *line, size_t size, pid_t *helper)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[700], *nl;
	bool verdict = false;
	size_t got = 0;
	ssize_t r;

	*line = '\0';
	for (;;) {
		while ((nl = memchr(buf, '\n', got))) {
			*nl = '\0';
			if (strncmp(buf, "PID ", 4) == 0) {
				*helper = (pid_t)atoi(buf + 4);
			} else if (!verdict) {
				copy_line(line, size, buf);
				verdict = true;
			}
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got);
		}
		if (verdict && *helper)
			return;
		if (got >= sizeof(buf) - 1 ||
		    poll(&pfd, 1, verdict ? 0 : HELPER_START_TIMEOUT_MS) <= 0)
			break;
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (!verdict) {
		buf[got] = '\0';
		copy_line(line, size, buf);
	}
}

/* Double-forks the helper and waits for its "OK [port=N]" or "ERR
 * reason"; *port gets N when given.  *helper gets the helper's pid, so
 * that a caller can stop a helper it gives up on. */
static int spawn(struct colod *d, const struct spawn_args *sa, int *port,
		pid_t *helper, char *why, size_t whylen)
{
	char line[600];
	sigset_t all, old;
	int p[2], status;
	pid_t pid;

	*helper = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		pid_t g;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		g = fork();
		if (g != 0) {
			if (g > 0)
				dprintf(p[1], "PID %d\n", (int)g);
			_exit(0);
		}
		close(p[0]);
		fcntl(p[1], F_SETFD, 0);	/* keep it across exec */
		exec_helper(d, sa, p[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -errno;
	}
	waitpid(pid, &status, 0);
	read_status(p[0], line, sizeof(line), helper);
	close(p[0]);
	if (strncmp(line, "OK", 2) == 0) {
		if (port && strncmp(line, "OK port=", 8) == 0)
			*port = atoi(line + 8);
		return 0;
	}
	snprintf(why, whylen, "%s", strncmp(line, "ERR ", 4) == 0 ? line + 4 :
		 *line ? line : "the helper exited without reporting");
	return -EIO;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	return rc;
}

static int make_state_dirs(struct colod *d)
{
	static const char *const sub[] = { "domains", "console", "log" };
	char path[4200];

	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->cfg.state_dir, sub[i]);
		if (util_mkdir_p(path, 0700) < 0)
			return -errno;
	}
	return 0;
}

static void announce(struct colod *d, const char *name, enum run_state rs,
		const char *reason)
{
	struct qev_domain_state ev = { (char *)name, rs, (char *)reason };

	qapi_event_send_domain_state(&d->sink, &ev);
}

static int create(struct colod *d, const struct domain_config *cfg,
		const struct spawn_args *sa, int *port, struct state_domain *out,
		struct colo_error *err)
{
	const char *restore_path = sa->restore;
	struct state_domain row, tmp;
	struct helper_info info;
	struct dom_link *l;
	pid_t helper = 0;
	char path[4200], why[600] = "";
	int rc;

	if (state_domain_get(&d->st, cfg->name, &tmp) == 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s' already exists", cfg->name);
		return -EEXIST;
	}
	if (d->doms.n >= DOMAINS_MAX) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "colod runs at most %d domains", DOMAINS_MAX);
		return -ENOSPC;
	}
	rc = make_state_dirs(d);
	snprintf(path, sizeof(path), "%s/domains/%s.xml", d->cfg.state_dir,
		 cfg->name);
	if (rc == 0)
		rc = write_file(path, cfg->xml);
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	/* The row is committed before the helper exists, so a colod that
	 * dies during the spawn finds the domain on restart. */
	memset(&row, 0, sizeof(row));
	snprintf(row.name, sizeof(row.name), "%s", cfg->name);
	snprintf(row.uuid, sizeof(row.uuid), "%s", cfg->uuid);
	row.domid = state_domain_next_id(&d->st);
	row.mem_mib = (int64_t)(cfg->mem_bytes >> 20);
	row.vcpus = cfg->vcpus;
	row.run_state = RUN_STATE_PAUSED;
	rc = colod_txn_begin(d);
	if (rc == 0)
		rc = state_domain_insert(&d->st, &row, cfg->xml);
	if (rc == 0)
		rc = colod_txn_commit(d);
	else
		colod_txn_rollback(d);
	if (rc < 0) {
		colo_error_set(err, rc == -EEXIST ? ERROR_CLASS_INVALID_STATE :
			       ERROR_CLASS_INTERNAL_ERROR, rc == -EEXIST ?
			       "a domain with UUID %s already exists" :
			       "cannot record domain %s", cfg->uuid);
		return rc;
	}
	{
		struct spawn_args a = *sa;

		a.name = cfg->name;
		a.cfg = path;
		struct disks_colo dc = { sa->incoming, sa->disk_sizes,
					 sa->ndisk_sizes };

		rc = disks_spawn(d, cfg, sa->colo ? &dc : NULL, why,
				 sizeof(why));
		if (rc == 0)
			rc = spawn(d, &a, port, &helper, why, sizeof(why));
	}
	l = rc == 0 ? link_open(d, cfg->name, HELPER_CALL_TIMEOUT_MS, &info) :
	    NULL;
	if (!l) {
		/* A helper that never said OK, or never answered, must not
		 * run on with no record of its domain. */
		if (helper > 0)
			kill(helper, SIGKILL);
		disks_kill(d, cfg->name);
		colod_txn_begin(d);
		state_domain_delete(&d->st, cfg->name);
		colod_txn_commit(d);
		unlink(path);
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s",
			       *why ? why : "the helper did not answer");
		return rc < 0 ? rc : -EIO;
	}
	link_add(d, l);
	spawn_netproxies(d, cfg, sa->colo ? sa->incoming : NULL);
	row.run_state = info.state;
	row.helper_pid = l->pid;
	helper_info_fini(&info);
	colod_txn_begin(d);
	state_domain_set_run(&d->st, cfg->name, row.run_state, row.helper_pid);
	announce(d, cfg->name, row.run_state, restore_path ? "restored" :
		 sa->incoming ? "incoming migration" : "created");
	colod_txn_commit(d);
	log_info("domain %s: helper pid %d", cfg->name, (int)l->pid);
	*out = row;
	return 0;
}

int domains_create(struct colod *d, const struct domain_config *cfg,
		const char *restore_path, bool paused, struct state_domain *out,
		struct colo_error *err)
{
	struct spawn_args sa = { NULL, NULL, restore_path, NULL, paused, false,
				 NULL, 0 };

	return create(d, cfg, &sa, NULL, out, err);
}

int domains_create_incoming(struct colod *d, const struct domain_config *cfg,
		const char *addr, bool colo, const int64_t *disk_sizes,
		size_t ndisk_sizes, int *port, struct colo_error *err)
{
	struct spawn_args sa = { NULL, NULL, NULL, addr, true, colo,
				 disk_sizes, ndisk_sizes };
	struct state_domain row;

	*port = 0;
	return create(d, cfg, &sa, port, &row, err);
}

/* The helper is gone.  A guest that powered off (or a destroy) takes its
 * domain with it; a helper that died otherwise leaves a crashed domain,
 * whose COLO state stays until it is destroyed. */
static void forget(struct colod *d, struct dom_link *l, const char *why,
		bool remove)
{
	char name[65];

	snprintf(name, sizeof(name), "%s", l->name);
	remove = remove || l->last == RUN_STATE_SHUTDOWN ||
		 l->last == RUN_STATE_POSTMIGRATE;
	link_remove(d, l);
	children_kill(d, name, "net", DOMAIN_MAX_NICS);
	disks_kill(d, name);
	colod_txn_begin(d);
	if (remove)
		state_domain_delete(&d->st, name);
	else
		state_domain_set_run(&d->st, name, RUN_STATE_CRASHED, 0);
	announce(d, name, remove ? RUN_STATE_SHUTDOWN : RUN_STATE_CRASHED, why);
	colod_txn_commit(d);
	log_info("domain %s: %s", name, why);
}

int domains_destroy(struct colod *d, const char *name,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(d, name, NULL);
	struct colo_error ignored = { 0 };
	struct state_domain row;
	pid_t pid;

	if (!l) {
		/* No helper: a crashed domain can still be destroyed. */
		if (state_domain_get(&d->st, name, &row) < 0) {
			colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
				       "domain '%s' not found", name);
			return -ENOENT;
		}
		children_kill(d, name, "net", DOMAIN_MAX_NICS);
		disks_kill(d, name);
		colod_txn_begin(d);
		state_domain_delete(&d->st, name);
		announce(d, name, RUN_STATE_SHUTDOWN, "destroyed");
		return colod_txn_commit(d);
	}
	pid = l->pid;
	l->ctl.timeout_ms = 5000;
	if (qmpc_helper_quit(&l->ctl, &ignored) < 0 && pid > 0)
		kill(pid, SIGKILL);
	/* Wait for it to be gone, so a create right after does not clash. */
	for (int i = 0; i < 500 && util_pid_alive(pid); i++)
		util_sleep_ms(10);
	if (util_pid_alive(pid)) {
		kill(pid, SIGKILL);
		util_sleep_ms(50);
	}
	forget(d, l, "destroyed", true);
	return 0;
}

void domains_adopt(struct colod *d)
{
	struct state_domain *v;
	size_t n;

	if (state_domain_list(&d->st, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct helper_info info;
		struct dom_link *l;

		if (domains_get(d, v[i].name, NULL))
			continue;
		l = link_open(d, v[i].name, 3000, &info);
		if (!l) {
			if (v[i].run_state == RUN_STATE_CRASHED)
				continue;
			colod_txn_begin(d);
			state_domain_set_run(&d->st, v[i].name,
					     RUN_STATE_CRASHED, 0);
			announce(d, v[i].name, RUN_STATE_CRASHED,
				 "helper gone while colod was down");
			colod_txn_commit(d);
			log_warn("domain %s: no helper answers; crashed",
				 v[i].name);
			continue;
		}
		link_add(d, l);
		colod_txn_begin(d);
		state_domain_set_run(&d->st, v[i].name, info.state, l->pid);
		colod_txn_commit(d);
		log_info("domain %s: re-adopted helper pid %d", v[i].name,
			 (int)l->pid);
		helper_info_fini(&info);
	}
	free(v);
}

void domains_fini(struct colod *d)
{
	/* The helpers live on; only the connections close. */
	for (int i = 0; i < d->doms.n; i++)
		link_free(d->doms.v[i]);
	d->doms.n = 0;
}

int domains_pollitems(struct colod *d, zmq_pollitem_t *pi, int max,
		const char *skip)
{
	int k = 0;

	for (int i = 0; i < d->doms.n && k + 2 <= max; i++) {
		if (skip && strcmp(d->doms.v[i]->name, skip) == 0)
			continue;
		pi[k++] = (zmq_pollitem_t){ d->doms.v[i]->sub, 0, ZMQ_POLLIN, 0 };
		pi[k++] = (zmq_pollitem_t){ NULL, d->doms.v[i]->pidfd,
					    d->doms.v[i]->pidfd >= 0 ?
					    ZMQ_POLLIN : 0, 0 };
	}
	return k;
}

/* A source helper whose VM has moved away: keep its migration figures
 * for query-migrate, then let it go.  This runs in colod's loop, so the
 * helper gets a short time to answer, not the minute of a call that
 * does work: a silent one would stall every request and heartbeat
 * here.  Its VM runs on the destination now, so one that does not
 * answer is killed. */
static void collect_migration(struct colod *d, struct dom_link *l)
{
	int k = d->last_mig_next++ % 16;
	struct colo_error err = { 0 };

	migration_info_fini(&d->last_mig[k].info);
	snprintf(d->last_mig[k].name, sizeof(d->last_mig[k].name), "%s",
		 l->name);
	l->ctl.timeout_ms = HELPER_COLLECT_TIMEOUT_MS;
	if (qmpc_helper_query_migrate(&l->ctl, &d->last_mig[k].info,
				      &err) < 0) {
		log_warn("domain %s: its helper gave no migration figures "
			 "(%s); recording the migration as completed", l->name,
			 err.desc);
		d->last_mig[k].info.status = MIGRATION_STATUS_COMPLETED;
	}
	colo_error_clear(&err);
	if (qmpc_helper_quit(&l->ctl, &err) < 0 && l->pid > 0) {
		log_warn("domain %s: its helper (pid %d) did not take quit "
			 "(%s); killing it", l->name, (int)l->pid, err.desc);
		kill(l->pid, SIGKILL);
	}
	colo_error_clear(&err);
	l->quitting = true;
}

/* A secondary whose stream went bad while the primary lives: COLO has
 * exited here (recorded and announced), but there is no failover, so
 * the domain stays a secondary, paused.  A failover later (colo-xl
 * failover, or the peer's heartbeats lost) makes it take over. */
static void colo_standby(struct colod *d, struct state_domain *dom)
{
	struct qev_colo_exit ev = { dom->name, COLO_MODE_SECONDARY,
				    COLO_EXIT_REASON_ERROR };

	if (dom->reason == COLO_EXIT_REASON_ERROR)
		return;		/* announced already */
	dom->reason = COLO_EXIT_REASON_ERROR;
	colod_txn_begin(d);
	state_domain_put_colo(&d->st, dom);
	qapi_event_send_colo_exit(&d->sink, &ev);
	if (colod_txn_commit(d) == 0)
		log_warn("%s: COLO stopped on a bad stream; the secondary "
			 "stands by until a failover", dom->name);
}

/* Migration and COLO news from a helper: a failed migration, a pair in
 * lock-step (recorded), or COLO stopped by a broken stream, which is a
 * failover like a lost heartbeat. */
static void colo_event(struct colod *d, struct dom_link *l,
		const char *reason)
{
	struct state_domain dom;
	struct colo_error err = { 0 };

	if (state_domain_get(&d->st, l->name, &dom) < 0)
		return;
	if (!strncmp(reason, "migration failed", 16)) {
		dom.migration = MIGRATION_STATUS_FAILED;
		colod_txn_begin(d);
		state_domain_put_colo(&d->st, &dom);
		colod_txn_commit(d);
		return;
	}
	if (dom.mode == COLO_MODE_UNKNOWN)
		return;
	if (!strncmp(reason, "COLO primary", 12) ||
	    !strncmp(reason, "COLO secondary", 14)) {
		dom.migration = MIGRATION_STATUS_COLO;
		colod_txn_begin(d);
		state_domain_put_colo(&d->st, &dom);
		colod_txn_commit(d);
		return;
	}
	if (!strncmp(reason, "COLO stopped", 12) &&
	    dom.failover == FAILOVER_STATUS_NONE)
		colo_fsm_failover(d, l->name, COLO_EXIT_REASON_ERROR, &err);
	else if (!strncmp(reason, "COLO standby", 12) &&
		 dom.failover == FAILOVER_STATUS_NONE)
		colo_standby(d, &dom);
}

/* One event from a helper: state changes are recorded, then announced;
 * console output is passed on as it is. */
static void forward_event(struct colod *d, struct dom_link *l)
{
	char topic[64];
	zmq_msg_t m;
	json_t *ev;
	int n, more = 0;
	size_t sz = sizeof(more);

	n = zmq_recv(l->sub, topic, sizeof(topic) - 1, ZMQ_DONTWAIT);
	if (n < 0)
		return;
	topic[n < (int)sizeof(topic) ? n : (int)sizeof(topic) - 1] = '\0';
	zmq_getsockopt(l->sub, ZMQ_RCVMORE, &more, &sz);
	if (!more)
		return;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, l->sub, 0) < 0) {
		zmq_msg_close(&m);
		return;
	}
	ev = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
	zmq_msg_close(&m);
	if (!ev)
		return;
	if (strcmp(topic, "DOMAIN_STATE") == 0) {
		struct qev_domain_state s;

		if (qev_domain_state_from_json(json_object_get(ev, "data"), &s,
					       false, "", NULL) == 0) {
			l->last = s.state;
			colod_txn_begin(d);
			state_domain_set_run(&d->st, l->name, s.state, l->pid);
			announce(d, l->name, s.state, s.reason);
			colod_txn_commit(d);
			if (l->last == RUN_STATE_POSTMIGRATE)
				collect_migration(d, l);
			else
				colo_event(d, l, s.reason);
			qev_domain_state_fini(&s);
		}
	} else if (strcmp(topic, "CONSOLE_OUTPUT") == 0) {
		ctl_publish(d->pub, ev);
	}
	json_decref(ev);
}

void domains_handle(struct colod *d, zmq_pollitem_t *pi, int n)
{
	struct dom_link *gone[DOMAINS_MAX];
	int ngone = 0;

	for (int k = 0; k + 1 < n; k += 2) {
		struct dom_link *l = NULL;

		for (int i = 0; i < d->doms.n; i++)
			if (d->doms.v[i]->sub == pi[k].socket)
				l = d->doms.v[i];
		if (!l)
			continue;
		if (pi[k].revents & ZMQ_POLLIN)
			for (int j = 0; j < 64; j++)
				forward_event(d, l);
		/* A helper told to quit is as good as gone: its domain
		 * leaves this host now, not when the process is reaped. */
		if ((pi[k + 1].revents & ZMQ_POLLIN) || l->quitting)
			gone[ngone++] = l;
	}
	for (int i = 0; i < ngone; i++) {
		for (int j = 0; j < 64; j++)
			forward_event(d, gone[i]);	/* its last words */
		forget(d, gone[i], "helper exited", false);
	}
}
