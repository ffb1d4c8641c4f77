/* Logging for every colo-kvm program: four levels, to stderr, syslog or a
 * file.  The log is one of the two globals the code style allows. */
#ifndef COLO_LOG_H
#define COLO_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
	LOG_TO_FILE,
};

/* path is used only with LOG_TO_FILE.  Returns 0 or -errno (the file could
 * not be opened; logging then falls back to stderr). */
int log_init(const char *ident, enum log_target target, const char *path,
		enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Reopens the log file (after logrotate moved it); SIGHUP calls this. */
int log_reopen(void);
void log_fini(void);

int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);
/* "stderr", "syslog" or "file:PATH"; fills *path for the last. */
int log_target_parse(const char *s, enum log_target *target,
		const char **path);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
