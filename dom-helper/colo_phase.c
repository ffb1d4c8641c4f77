/* Checkpoint phase notifications to netproxy and blkrep. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colo_phase.h"
#include "log.h"
#include "util.h"

void colo_phases_init(struct colo_phases *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
}

void colo_phases_fini(struct colo_phases *p)
{
	for (int i = 0; i < p->n; i++)
		ctl_client_close(&p->cl[i]);
	p->n = 0;
	pthread_mutex_destroy(&p->lock);
}

static int find(struct colo_phases *p, const char *endpoint)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->cl[i].endpoint, endpoint) == 0)
			return i;
	return -1;
}

int colo_phases_attach(struct colo_phases *p, const char *endpoint,
		int timeout_ms, struct colo_error *err)
{
	struct ctl_client c;
	int i, rc;

	if (strncmp(endpoint, "ipc://", 6) != 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "a phase listener must be ipc://PATH, not %s",
			       endpoint);
		return -EINVAL;
	}
	if (timeout_ms < 10 || timeout_ms > 60000) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "timeout must be 10 to 60000 ms");
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	i = find(p, endpoint);
	if (i >= 0) {
		p->cl[i].timeout_ms = timeout_ms;
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	rc = p->n < PHASE_MAX_LISTENERS ? 0 : -ENOSPC;
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "already %d phase listeners", PHASE_MAX_LISTENERS);
	else if ((rc = ctl_client_open(&c, endpoint, timeout_ms)) < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "phase listener %s: %s", endpoint, strerror(-rc));
		ctl_client_close(&c);
	} else {
		p->cl[p->n++] = c;
		log_info("phase listener %s attached (timeout %d ms)",
			 endpoint, timeout_ms);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int colo_phases_detach(struct colo_phases *p, const char *endpoint,
		struct colo_error *err)
{
	int i;

	pthread_mutex_lock(&p->lock);
	i = find(p, endpoint);
	if (i >= 0) {
		ctl_client_close(&p->cl[i]);
		p->cl[i] = p->cl[--p->n];
		log_info("phase listener %s detached", endpoint);
	}
	pthread_mutex_unlock(&p->lock);
	if (i < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "no phase listener %s", endpoint);
		return -ENOENT;
	}
	return 0;
}

char **colo_phases_list(struct colo_phases *p, size_t *count)
{
	char **v;

	pthread_mutex_lock(&p->lock);
	v = calloc((size_t)p->n + 1, sizeof(*v));
	*count = 0;
	for (int i = 0; v && i < p->n; i++)
		v[(*count)++] = xstrdup(p->cl[i].endpoint);
	pthread_mutex_unlock(&p->lock);
	return v;
}

int colo_phases_notify(struct colo_phases *p, const struct qmp_colo_phase_args *a,
		char *why, size_t whylen)
{
	char ids[PHASE_MAX_LISTENERS][CTL_ID_MAX];
	const char *phase = colo_phase_str(a->phase);
	bool sent[PHASE_MAX_LISTENERS] = { false };
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	/* All at once, so the pause costs the slowest reply, not the sum. */
	for (int i = 0; i < p->n; i++) {
		int r = ctl_client_send(&p->cl[i], "colo-phase",
					qmp_colo_phase_args_to_json(a), ids[i]);

		sent[i] = r == 0;
		if (r < 0 && rc == 0) {
			rc = r;
			snprintf(why, whylen, "phase %s to %s: %s", phase,
				 p->cl[i].endpoint, strerror(-r));
		}
	}
	for (int i = 0; i < p->n; i++) {
		struct colo_error err = { 0 };
		json_t *ret = NULL;
		int r;

		if (!sent[i])
			continue;
		r = ctl_client_finish(&p->cl[i], "colo-phase", ids[i], &ret,
				      &err);
		json_decref(ret);
		if (r < 0 && rc == 0) {
			rc = r;
			snprintf(why, whylen, "phase %s of checkpoint %lld: "
				 "%s: %s", phase, (long long)a->seq,
				 p->cl[i].endpoint, err.desc[0] ? err.desc :
				 strerror(-r));
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}
