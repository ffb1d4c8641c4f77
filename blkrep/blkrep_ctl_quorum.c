/* The quorum's control commands: its children's state, and bringing one
 * back (quorum_rejoin.c). */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "blkrep_ctl.h"
#include "colo-qapi-blkrep.h"
#include "quorum.h"
#include "util.h"

static int not_quorum(struct colo_error *err)
{
	colo_error_set(err, ERROR_CLASS_INVALID_STATE,
		       "this colo-blkrep serves no quorum");
	return -EINVAL;
}

int qmp_blkrep_query_quorum(void *opaque, struct blkrep_quorum *ret,
			    struct colo_error *err)
{
	struct quorum *q = ((struct blkrep_ctl *)opaque)->qr;

	if (!q)
		return not_quorum(err);
	ret->children = calloc((size_t)q->n, sizeof(*ret->children));
	if (!ret->children)
		abort();
	pthread_mutex_lock(&q->lock);
	for (int i = 0; i < q->n; i++) {
		struct blkrep_quorum_child *c = &ret->children[i];

		c->node_name = xstrdup(q->ch[i].name);
		c->state = xstrdup(quorum_child_state(q, i));
		c->bad = (int64_t)q->ch[i].bad;
		c->repaired = (int64_t)q->ch[i].repaired;
	}
	ret->children_count = (size_t)q->n;
	ret->vote_threshold = q->threshold;
	ret->rejoin_active = q->rj.running;
	ret->has_rejoin_child = q->rj.started || q->rj.error[0];
	if (ret->has_rejoin_child)
		ret->rejoin_child = xstrdup(q->ch[q->rj.child].name);
	ret->rejoin_done = (int64_t)q->rj.done;
	ret->rejoin_total = (int64_t)q->rj.total;
	ret->has_rejoin_error = q->rj.error[0] != '\0';
	if (ret->has_rejoin_error)
		ret->rejoin_error = xstrdup(q->rj.error);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int qmp_blkrep_quorum_rejoin(void *opaque,
			     const struct qmp_blkrep_quorum_rejoin_args *a,
			     struct colo_error *err)
{
	struct quorum *q = ((struct blkrep_ctl *)opaque)->qr;
	char why[512];
	int rc;

	if (!q)
		return not_quorum(err);
	rc = quorum_rejoin_start(q, a->node_name, why, sizeof(why));
	if (rc < 0)
		colo_error_set(err, rc == -ENOENT ?
			       ERROR_CLASS_INVALID_PARAMETER :
			       ERROR_CLASS_INVALID_STATE, "%s", why);
	return rc;
}
