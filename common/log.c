/* The process log.  Messages below the configured level cost one compare.
 * A file target is reopened on request so logrotate can move it. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

static struct {
	char ident[64];
	enum log_target target;
	char *path;
	FILE *file;
	enum log_level level;
	pthread_mutex_t lock;
} logger = {
	.ident = "colo",
	.target = LOG_TO_STDERR,
	.level = LOG_LVL_INFO,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_LVL_DEBUG ? level_names[level] : "?";
}

int log_target_parse(const char *s, enum log_target *target,
		const char **path)
{
	*path = NULL;
	if (strcmp(s, "stderr") == 0)
		*target = LOG_TO_STDERR;
	else if (strcmp(s, "syslog") == 0)
		*target = LOG_TO_SYSLOG;
	else if (strncmp(s, "file:", 5) == 0 && s[5] == '/') {
		*target = LOG_TO_FILE;
		*path = s + 5;
	} else
		return -EINVAL;
	return 0;
}

static int open_file_locked(void)
{
	FILE *f = fopen(logger.path, "ae");

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	if (logger.file)
		fclose(logger.file);
	logger.file = f;
	return 0;
}

int log_init(const char *ident, enum log_target target, const char *path,
		enum log_level level)
{
	int rc = 0;

	pthread_mutex_lock(&logger.lock);
	snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	logger.level = level;
	logger.target = target;
	free(logger.path);
	logger.path = NULL;
	if (target == LOG_TO_SYSLOG)
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (target == LOG_TO_FILE) {
		logger.path = strdup(path);
		rc = logger.path ? open_file_locked() : -ENOMEM;
		if (rc < 0)
			logger.target = LOG_TO_STDERR;
	}
	pthread_mutex_unlock(&logger.lock);
	return rc;
}

void log_set_level(enum log_level level)
{
	logger.level = level;
}

enum log_level log_get_level(void)
{
	return logger.level;
}

int log_reopen(void)
{
	int rc = 0;

	pthread_mutex_lock(&logger.lock);
	if (logger.target == LOG_TO_FILE)
		rc = open_file_locked();
	pthread_mutex_unlock(&logger.lock);
	return rc;
}

void log_fini(void)
{
	pthread_mutex_lock(&logger.lock);
	if (logger.file)
		fclose(logger.file);
	logger.file = NULL;
	free(logger.path);
	logger.path = NULL;
	if (logger.target == LOG_TO_SYSLOG)
		closelog();
	logger.target = LOG_TO_STDERR;
	pthread_mutex_unlock(&logger.lock);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
					   LOG_DEBUG };
	char msg[2048];
	char ts[32];
	struct timeval tv;
	struct tm tm;
	FILE *out;
	int saved = errno;

	if (level > logger.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&logger.lock);
	if (logger.target == LOG_TO_SYSLOG) {
		syslog(syslog_prio[level], "%s", msg);
	} else {
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		out = (logger.target == LOG_TO_FILE && logger.file) ?
			logger.file : stderr;
		fprintf(out, "%s.%03ld %s[%d] %s: %s\n", ts,
			(long)tv.tv_usec / 1000, logger.ident, (int)getpid(),
			level_names[level], msg);
	}
	pthread_mutex_unlock(&logger.lock);
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
