/* key = value configuration files (colod.conf and friends).  Blank lines
 * and lines starting with '#' are ignored; values may be quoted with "".
 * Errors name file:line.  Which keys are valid is the caller's business:
 * conf_check_keys() rejects the unknown ones. */
#ifndef COLO_CONF_H
#define COLO_CONF_H

#include <stddef.h>

struct conf_entry {
	char *key;
	char *value;
	int line;
	int used;
};

struct conf {
	char *path;
	struct conf_entry *v;
	size_t n;
};

/* Parses text (len bytes; need not be NUL-terminated).  Returns 0, or
 * -EINVAL with "path:line: reason" in errbuf. */
int conf_parse(struct conf *c, const char *path, const char *text,
		size_t len, char *errbuf, size_t errlen);
int conf_load(struct conf *c, const char *path, char *errbuf,
		size_t errlen);
void conf_fini(struct conf *c);

/* The last value given for key, or NULL.  Marks the entry used. */
const char *conf_get(struct conf *c, const char *key, int *line);
/* Fails on the first key not in known (NULL-terminated). */
int conf_check_keys(const struct conf *c, const char *const *known,
		char *errbuf, size_t errlen);

#endif
