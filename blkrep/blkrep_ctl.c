/* Phase notifications for blkrep.  On a primary, paused waits for the
 * secondary to answer every write so far, marks the epoch boundary at
 * the secondary's colo-blkrep and replies only once it is
 * acknowledged: the helper resumes the PVM after every listener
 * answered, so no write of the new epoch can overtake the mark.  On a
 * secondary, loaded drops what checkpoint N covers and exit with a
 * takeover commits the SVM's view. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "blkrep_ctl.h"
#include "colo-qapi-blkrep.h"
#include "colo-qapi-client.h"
#include "colo-qapi-phase.h"
#include "log.h"
#include "view_hash.h"

#define PEER_TIMEOUT_MS 2000

static int mark_boundary(struct blkrep_ctl *b, uint64_t seq,
			 struct colo_error *err)
{
	struct qmp_blkrep_boundary_args a = { .seq = (int64_t)seq };
	int rc;

	if (!b->peer_open) {
		rc = ctl_client_open(&b->peer_c, b->peer, PEER_TIMEOUT_MS);
		if (rc < 0) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "cannot reach the secondary's blkrep at "
				       "%s", b->peer);
			return rc;
		}
		b->peer_open = true;
	}
	rc = qmpc_blkrep_boundary(&b->peer_c, &a, err);
	if (rc < 0) {
		/* A REQ socket that timed out is stuck: start over. */
		ctl_client_close(&b->peer_c);
		b->peer_open = false;
	}
	return rc;
}

/* The test knob: the disk as the guest sees it at this phase. */
static void log_view_hash(struct blkrep_ctl *b, const char *phase,
			  int64_t seq)
{
	uint64_t h;
	int rc;

	if (!view_hash_wanted())
		return;
	h = b->sec ? view_hash_svm(b->sec, &rc) :
	    view_hash_image(b->job->img, &rc);
	if (rc == 0)
		log_info("test: %s %lld view %016llx", phase, (long long)seq,
			 (unsigned long long)h);
}

static int fail_io(struct colo_error *err, int rc, const char *what)
{
	colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s: %s", what,
		       strerror(-rc));
	return rc;
}

int qmp_colo_phase(void *opaque, const struct qmp_colo_phase_args *a,
		   struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;
	int rc = 0;

	if (a->seq < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "seq must not be negative");
		return -EINVAL;
	}
	switch (a->phase) {
	case COLO_PHASE_PAUSED:
		/* Writes still on their way (replica_window.h) belong to
		 * the epoch that ends here: answered before the mark. */
		if (b->peer && b->rep)
			replica_drain(b->rep);
		if (b->peer)
			rc = mark_boundary(b, (uint64_t)a->seq, err);
		if (rc == 0 && b->job && !b->sec)
			log_view_hash(b, "paused", a->seq);
		break;
	case COLO_PHASE_LOADED:
		if (b->sec && (rc = sec_loaded(b->sec, (uint64_t)a->seq)) < 0)
			return fail_io(err, rc, "dropping the overlays");
		if (b->sec)
			log_view_hash(b, "loaded", a->seq);
		break;
	case COLO_PHASE_EXIT:
		if (b->sec && a->has_takeover && a->takeover) {
			rc = sec_commit(b->sec);
			if (rc < 0)
				return fail_io(err, rc, "failover commit");
			log_info("took over: the SVM's view is now the disk");
		}
		break;
	default:
		break;
	}
	return rc;
}

int qmp_blkrep_boundary(void *opaque, const struct qmp_blkrep_boundary_args *a,
			struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;

	if (!b->sec) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "this colo-blkrep is not a secondary");
		return -EINVAL;
	}
	if (a->seq < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "seq must not be negative");
		return -EINVAL;
	}
	return sec_boundary(b->sec, (uint64_t)a->seq);
}

int qmp_blkrep_query_stats(void *opaque, struct blkrep_stats *r,
			   struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;
	struct secondary *s = b->sec;

	if (!s) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "this colo-blkrep is not a secondary");
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	r->epoch = (int64_t)s->epoch;
	r->loaded = (int64_t)s->loaded;
	r->taken_over = s->taken_over;
	r->active_blocks = (int64_t)s->active.live;
	r->hidden_blocks = (int64_t)s->hidden.live;
	r->pre_images = (int64_t)s->pre_images;
	r->commits = (int64_t)s->commits;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int not_primary(struct colo_error *err)
{
	colo_error_set(err, ERROR_CLASS_INVALID_STATE,
		       "this colo-blkrep serves no plain writable image");
	return -EINVAL;
}

static int start_resync(struct blkrep_ctl *b, bool full,
			struct colo_error *err)
{
	char why[512];
	int rc = resync_job_start(b->job, full, why, sizeof(why));

	if (rc < 0)
		colo_error_set(err, rc == -EBUSY ? ERROR_CLASS_INVALID_STATE :
			       ERROR_CLASS_GENERIC_ERROR, "%s", why);
	return rc;
}

int qmp_blkrep_replicate(void *opaque,
			 const struct qmp_blkrep_replicate_args *a,
			 struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;
	char why[512];
	int rc;

	if (!b->rep)
		return not_primary(err);
	if (b->sec && !b->sec->taken_over) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "a secondary replicates only after it took "
			       "over");
		return -EINVAL;
	}
	if (strncmp(a->uri, "nbd://", 6) && strncmp(a->uri, "nbd+unix://", 11)) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "uri must be nbd://HOST:PORT or nbd+unix://");
		return -EINVAL;
	}
	if (atomic_load(&b->job->running)) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "a resync is running");
		return -EBUSY;
	}
	rc = replica_attach(b->rep, a->uri, why, sizeof(why));
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s", why);
		return rc;
	}
	/* The boundary goes to the new secondary only. */
	blkrep_ctl_fini(b);
	b->peer = NULL;
	if (a->has_peer_ctl) {
		snprintf(b->peer_buf, sizeof(b->peer_buf), "%s", a->peer_ctl);
		b->peer = b->peer_buf;
	}
	return start_resync(b, a->has_full && a->full, err);
}

int qmp_blkrep_resync(void *opaque, const struct qmp_blkrep_resync_args *a,
		      struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;

	if (!b->rep)
		return not_primary(err);
	return start_resync(b, a->has_full && a->full, err);
}

int qmp_blkrep_query_replication(void *opaque, struct blkrep_replication *r,
				 struct colo_error *err)
{
	struct blkrep_ctl *b = opaque;
	struct resync_job *j = b->job;
	int last;

	if (!b->rep)
		return not_primary(err);
	r->replicating = replica_active(b->rep);
	if (r->replicating) {
		r->has_uri = true;
		r->uri = strdup(b->rep->uri);
	}
	/* Also while not replicating: a restarted primary keeps count. */
	r->dirty_blocks = (int64_t)replica_missed(b->rep);
	r->connected = r->replicating && !replica_degraded(b->rep);
	r->resync_active = atomic_load(&j->running);
	r->resync_done = (int64_t)atomic_load(&j->done);
	r->resync_total = (int64_t)atomic_load(&j->total);
	r->resyncs_completed = (int64_t)atomic_load(&j->completed);
	last = atomic_load(&j->last_rc);
	if (!r->resync_active && last < 0) {
		r->has_resync_error = true;
		r->resync_error = strdup(strerror(-last));
	}
	return 0;
}

json_t *blkrep_ctl_dispatch(void *opaque, const char *name, json_t *args,
			    struct colo_error *err)
{
	if (!strcmp(name, "colo-phase"))
		return phase_dispatch(opaque, name, args, err);
	return blkrep_dispatch(opaque, name, args, err);
}

json_t *blkrep_peer_dispatch(void *opaque, const char *name, json_t *args,
			     struct colo_error *err)
{
	if (strcmp(name, "blkrep-boundary")) {
		colo_error_set(err, ERROR_CLASS_COMMAND_NOT_FOUND,
			       "%s is not served on the peer endpoint", name);
		return NULL;
	}
	return blkrep_dispatch(opaque, name, args, err);
}

void blkrep_ctl_fini(struct blkrep_ctl *b)
{
	if (b->peer_open)
		ctl_client_close(&b->peer_c);
	b->peer_open = false;
}
