/* Checkpoint requests to the dom-helper (helper-colo-checkpoint with
 * mismatch set), made from a thread of their own: the helper may be in
 * a checkpoint waiting for this very netproxy's phase reply, and a
 * blocking call from the main loop would deadlock until a timeout. */
#ifndef NP_REQUESTER_H
#define NP_REQUESTER_H

struct requester;

/* endpoint: the helper's control socket (ipc://...). */
struct requester *requester_new(const char *endpoint);
void requester_free(struct requester *r);

/* Asks for a checkpoint; requests made while one is outstanding merge. */
void requester_ask(struct requester *r);

#endif
