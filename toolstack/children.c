/* Detached children of colod: spawning, pid files, stopping. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "children.h"
#include "ctl.h"
#include "error.h"
#include "util.h"

const char *children_program_path(const char *name, const char *env_name,
		char *path, size_t len)
{
	char self[PATH_MAX];
	const char *env = getenv(env_name);
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, len, "%s/%s", dirname(self), name);
		if (access(path, X_OK) == 0)
			return path;
	}
	snprintf(path, len, "%s/%s", SBINDIR, name);
	return path;
}

void children_spawn_detached(const char *prog, const char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		sigset_t none;

		/* colod blocks its signals (it reads them from a signalfd);
		 * a child must not inherit that, or SIGTERM never reaches
		 * it. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (fork() != 0)
			_exit(0);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void children_pidfile(struct colod *d, const char *name, const char *kind,
		int i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/dom-%s-%s%d.pid", d->cfg.run_dir, name, kind, i);
}

/* SIGTERM, then waits for the exit: a successor started right after
 * (a restore) needs the tap or socket this one still holds.  One that
 * does not go within 2 s gets SIGKILL. */
/* Alive and not a zombie: a detached child is reaped by whoever
 * adopted it, which may be nobody. */
static bool running(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool zombie = false;

	if (!util_pid_alive(pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1])
		zombie = p[2] == 'Z';
	fclose(f);
	return !zombie;
}

static void stop(pid_t pid)
{
	if (kill(pid, SIGTERM) < 0)
		return;
	for (int i = 0; i < 200; i++) {
		if (!running(pid))
			return;
		util_sleep_ms(10);
	}
	kill(pid, SIGKILL);
}

void children_kill(struct colod *d, const char *name, const char *kind,
		int max)
{
	for (int i = 0; i < max; i++) {
		char pidf[4200], buf[32];
		int fd;
		ssize_t n;

		children_pidfile(d, name, kind, i, pidf, sizeof(pidf));
		fd = open(pidf, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (atoi(buf) > 0)
				stop(atoi(buf));
		}
		unlink(pidf);
	}
}

int children_ctl_open(struct ctl_client *c, const char *endpoint,
		int timeout_ms, const char *what, struct colo_error *err)
{
	if (ctl_client_open(c, endpoint, timeout_ms) < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "cannot reach the %s at %s", what, endpoint);
		return -EIO;
	}
	return 0;
}
