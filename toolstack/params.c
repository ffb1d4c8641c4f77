/* Host COLO parameters.  The table below is the only place a parameter's
 * name, conf key, default and range are written down. */
#include "config.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "params.h"
#include "util.h"

struct param_def {
	const char *name;	/* protocol and database name */
	const char *conf_key;	/* colod.conf key */
	size_t offset;
	bool is_bool;
	long long min, max, def;
};

#define P_INT(n, k, f, lo, hi, d) \
	{ n, k, offsetof(struct parameters, f), false, lo, hi, d }
#define P_BOOL(n, k, f, d) \
	{ n, k, offsetof(struct parameters, f), true, 0, 1, d }

static const struct param_def defs[] = {
	P_INT("checkpoint-interval", "checkpoint_interval",
	      checkpoint_interval, 10, 3600000, 2000),
	P_INT("heartbeat-interval", "heartbeat_interval",
	      heartbeat_interval, 10, 60000, 100),
	P_INT("heartbeat-misses", "heartbeat_misses", heartbeat_misses, 1, 100,
	      3),
	P_BOOL("auto-failover", "auto_failover", auto_failover, 1),
	P_INT("max-downtime", "max_downtime", max_downtime, 1, 60000, 300),
};

const char *const params_conf_keys[] = {
	"checkpoint_interval", "heartbeat_interval", "heartbeat_misses",
	"auto_failover", "max_downtime", NULL,
};

static long long get(const struct parameters *p, const struct param_def *d)
{
	const char *base = (const char *)p + d->offset;

	if (d->is_bool)
		return *(const bool *)base;
	return *(const int64_t *)base;
}

static void put(struct parameters *p, const struct param_def *d,
		long long v)
{
	char *base = (char *)p + d->offset;

	if (d->is_bool)
		*(bool *)base = v != 0;
	else
		*(int64_t *)base = v;
}

/* Parses text for d: a boolean word or an integer in range. */
static int parse_value(const struct param_def *d, const char *text,
		long long *v)
{
	bool b;

	if (d->is_bool) {
		if (util_parse_bool(text, &b) < 0)
			return -EINVAL;
		*v = b;
		return 0;
	}
	return util_parse_ll(text, d->min, d->max, v);
}

void params_defaults(struct parameters *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++)
		put(p, &defs[i], defs[i].def);
}

int params_validate(const struct parameters *p, struct colo_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		long long v = get(p, &defs[i]);

		if (v < defs[i].min || v > defs[i].max) {
			colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
				"Parameter '%s' must be between %lld and %lld, "
				"not %lld", defs[i].name, defs[i].min,
				defs[i].max, v);
			return -ERANGE;
		}
	}
	return 0;
}

int params_from_conf(struct parameters *p, struct conf *c, char *errbuf,
		size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		int line = 0;
		const char *text = conf_get(c, defs[i].conf_key, &line);
		long long v;

		if (!text)
			continue;
		if (parse_value(&defs[i], text, &v) < 0) {
			if (defs[i].is_bool)
				snprintf(errbuf, errlen, "%s:%d: %s must be "
					 "yes or no, not '%s'", c->path, line,
					 defs[i].conf_key, text);
			else
				snprintf(errbuf, errlen, "%s:%d: %s must be an "
					 "integer from %lld to %lld, not '%s'",
					 c->path, line, defs[i].conf_key,
					 defs[i].min, defs[i].max, text);
			return -EINVAL;
		}
		put(p, &defs[i], v);
	}
	return 0;
}

int params_load(struct state *st, struct parameters *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		char buf[64];
		long long v;
		int rc = state_param_get(st, defs[i].name, buf, sizeof(buf));

		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return rc;
		if (parse_value(&defs[i], buf, &v) < 0) {
			log_warn("state: ignoring stored %s='%s': out of range",
				 defs[i].name, buf);
			continue;
		}
		put(p, &defs[i], v);
	}
	return 0;
}

int params_store(struct state *st, const struct parameters *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		char buf[32];
		int rc;

		snprintf(buf, sizeof(buf), "%lld", get(p, &defs[i]));
		rc = state_param_set(st, defs[i].name, buf);
		if (rc < 0)
			return rc;
	}
	return 0;
}
