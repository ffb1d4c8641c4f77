/* The checkpoint-request thread: it sleeps on a condition variable and
 * makes one helper-colo-checkpoint call per wake-up. */
#include "config.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-client.h"
#include "ctl.h"
#include "log.h"
#include "requester.h"

struct requester {
	char *endpoint;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending, quit;
};

static void *run(void *arg)
{
	struct requester *r = arg;
	struct ctl_client c;
	bool open = false;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct qmp_helper_colo_checkpoint_args a = {
			.has_mismatch = true, .mismatch = true,
		};
		struct colo_error err = { 0 };

		while (!r->pending && !r->quit)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->quit)
			break;
		r->pending = false;
		pthread_mutex_unlock(&r->lock);
		if (!open)
			open = ctl_client_open(&c, r->endpoint, 2000) == 0;
		if (!open)
			log_warn("checkpoint request: cannot open %s",
				 r->endpoint);
		else if (qmpc_helper_colo_checkpoint(&c, &a, &err) < 0) {
			log_debug("checkpoint request refused: %s", err.desc);
			/* A timed-out REQ socket cannot be reused. */
			ctl_client_close(&c);
			open = false;
		}
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	if (open)
		ctl_client_close(&c);
	return NULL;
}

struct requester *requester_new(const char *endpoint)
{
	struct requester *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->endpoint = strdup(endpoint);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (!r->endpoint || pthread_create(&r->thread, NULL, run, r) != 0) {
		free(r->endpoint);
		free(r);
		return NULL;
	}
	return r;
}

void requester_free(struct requester *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->quit = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->endpoint);
	free(r);
}

void requester_ask(struct requester *r)
{
	pthread_mutex_lock(&r->lock);
	r->pending = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
