/* The key = value parser.  Strict on purpose: a typo in a key or a stray
 * character is an error with file:line, never silently ignored. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"

#define CONF_MAX_SIZE	(1u << 20)
#define CONF_MAX_LINE	4096

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int valid_key(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-' &&
		    *k != '.')
			return 0;
	return 1;
}

/* Unquotes "..." in place, with \" and \\ escapes. */
static int unquote(char *v)
{
	size_t len = strlen(v);
	char *o = v;

	if (len == 0 || v[0] != '"')
		return 0;
	if (len < 2 || v[len - 1] != '"')
		return -1;
	v[len - 1] = '\0';
	for (char *p = v + 1; *p; p++) {
		if (*p == '\\') {
			p++;
			if (*p != '"' && *p != '\\')
				return -1;
		} else if (*p == '"') {
			return -1;
		}
		*o++ = *p;
	}
	*o = '\0';
	return 0;
}

static int add_entry(struct conf *c, const char *k, const char *v, int line)
{
	struct conf_entry *nv = realloc(c->v, (c->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	c->v = nv;
	nv[c->n].key = strdup(k);
	nv[c->n].value = strdup(v);
	nv[c->n].line = line;
	nv[c->n].used = 0;
	if (!nv[c->n].key || !nv[c->n].value) {
		free(nv[c->n].key);
		free(nv[c->n].value);
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

static int parse_line(struct conf *c, char *buf, int line, char *errbuf,
		size_t errlen)
{
	char *s = trim(buf), *eq, *k, *v;

	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq) {
		snprintf(errbuf, errlen, "%s:%d: expected 'key = value'",
			 c->path, line);
		return -EINVAL;
	}
	*eq = '\0';
	k = trim(s);
	v = trim(eq + 1);
	if (!valid_key(k)) {
		snprintf(errbuf, errlen, "%s:%d: invalid key '%.64s'", c->path,
			 line, k);
		return -EINVAL;
	}
	if (unquote(v) < 0) {
		snprintf(errbuf, errlen, "%s:%d: badly quoted value for '%s'",
			 c->path, line, k);
		return -EINVAL;
	}
	if (add_entry(c, k, v, line) < 0) {
		snprintf(errbuf, errlen, "%s: out of memory", c->path);
		return -ENOMEM;
	}
	return 0;
}

int conf_parse(struct conf *c, const char *path, const char *text,
		size_t len, char *errbuf, size_t errlen)
{
	char buf[CONF_MAX_LINE];
	size_t pos = 0;
	int line = 0, rc;

	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	while (pos < len) {
		size_t end = pos;

		while (end < len && text[end] != '\n')
			end++;
		line++;
		if (end - pos >= sizeof(buf)) {
			snprintf(errbuf, errlen, "%s:%d: line too long", path,
				 line);
			return -EINVAL;
		}
		if (memchr(text + pos, '\0', end - pos)) {
			snprintf(errbuf, errlen, "%s:%d: NUL byte", path, line);
			return -EINVAL;
		}
		memcpy(buf, text + pos, end - pos);
		buf[end - pos] = '\0';
		rc = parse_line(c, buf, line, errbuf, errlen);
		if (rc < 0)
			return rc;
		pos = end + 1;
	}
	return 0;
}

int conf_load(struct conf *c, const char *path, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!f) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	text = malloc(CONF_MAX_SIZE + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, CONF_MAX_SIZE + 1, f);
	fclose(f);
	if (n > CONF_MAX_SIZE) {
		snprintf(errbuf, errlen, "%s: larger than %u bytes", path,
			 CONF_MAX_SIZE);
		free(text);
		return -EFBIG;
	}
	rc = conf_parse(c, path, text, n, errbuf, errlen);
	free(text);
	return rc;
}

void conf_fini(struct conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

const char *conf_get(struct conf *c, const char *key, int *line)
{
	for (size_t i = c->n; i-- > 0;) {
		if (strcmp(c->v[i].key, key) == 0) {
			c->v[i].used = 1;
			if (line)
				*line = c->v[i].line;
			return c->v[i].value;
		}
	}
	return NULL;
}

int conf_check_keys(const struct conf *c, const char *const *known,
		char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < c->n; i++) {
		size_t k;

		for (k = 0; known[k]; k++)
			if (strcmp(known[k], c->v[i].key) == 0)
				break;
		if (!known[k]) {
			snprintf(errbuf, errlen, "%s:%d: unknown key '%s'",
				 c->path, c->v[i].line, c->v[i].key);
			return -EINVAL;
		}
	}
	return 0;
}
