/* colod transactions: a state change and the events it causes commit
 * together; the events are published only once COMMIT has succeeded, so
 * nobody hears of a transition that a crash could still undo. */
#include "config.h"
#include <stdlib.h>
#include "colod.h"
#include "ctl.h"
#include "util.h"

int colod_txn_begin(struct colod *d)
{
	json_array_clear(d->pending);
	return state_begin(&d->st);
}

int colod_txn_commit(struct colod *d)
{
	size_t i;
	json_t *ev;
	int rc = state_commit(&d->st);

	if (rc == 0)
		json_array_foreach(d->pending, i, ev)
			ctl_publish(d->pub, ev);
	json_array_clear(d->pending);
	return rc;
}

void colod_txn_rollback(struct colod *d)
{
	state_rollback(&d->st);
	json_array_clear(d->pending);
}

void colod_emit(void *opaque, const char *name, json_t *data)
{
	struct colod *d = opaque;
	json_t *ev = ctl_event_new(name, data);
	char *text;

	if (!ev)
		return;
	text = json_dumps(ev, JSON_COMPACT);
	if (text && state_event_append(&d->st, name, text, util_now_us()) < 0)
		log_warn("event %s not recorded in the event log", name);
	free(text);
	log_info("event %s", name);
	/* Inside a transaction the event is announced only once committed. */
	if (d->st.depth > 0)
		json_array_append(d->pending, ev);
	else
		ctl_publish(d->pub, ev);
	json_decref(ev);
}

void colod_test_delay(struct colod *d, const char *where)
{
	if (!d->test_delay_ms)
		return;
	log_info("test delay %u ms %s", d->test_delay_ms, where);
	util_sleep_ms(d->test_delay_ms);
}

