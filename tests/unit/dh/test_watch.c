/* A virtio device's worker watches backend fds: a changed interest is
 * applied once, and an fd whose slot follows a freed one keeps its own
 * slot (taking the free one would add it to epoll twice, EEXIST). */
#include "config.h"
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "devices/virtio.h"
#include "dh-unit.h"

static void dev_init(struct virtio_dev *d)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < VIRTIO_MAX_FDS; i++)
		d->fds[i] = -1;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	CU_ASSERT_FATAL(d->epfd >= 0);
}

/* The events epoll reports for fd now, or 0. */
static uint32_t ready(struct virtio_dev *d, int fd)
{
	struct epoll_event ev[VIRTIO_MAX_FDS];
	int n = epoll_wait(d->epfd, ev, VIRTIO_MAX_FDS, 0);

	for (int i = 0; i < n; i++)
		if (ev[i].data.fd == fd)
			return ev[i].events;
	return 0;
}

static void test_slot_after_a_free_one(void)
{
	struct virtio_dev d;
	int a = eventfd(1, EFD_CLOEXEC), b = eventfd(1, EFD_CLOEXEC);

	dev_init(&d);
	CU_ASSERT_EQUAL(virtio_dev_watch(&d, a, EPOLLIN), 0);
	CU_ASSERT_EQUAL(virtio_dev_watch(&d, b, EPOLLOUT), 0);
	CU_ASSERT_EQUAL(d.fds[1], b);
	virtio_dev_unwatch(&d, a);
	/* b is readable, but only its output was watched. */
	CU_ASSERT_EQUAL(ready(&d, b) & EPOLLIN, 0);
	CU_ASSERT_EQUAL(virtio_dev_watch(&d, b, EPOLLIN), 0);
	CU_ASSERT_EQUAL(d.fds[0], -1);
	CU_ASSERT_EQUAL(d.fds[1], b);
	CU_ASSERT_EQUAL(ready(&d, b), EPOLLIN);
	/* The same interest again changes nothing and still succeeds. */
	CU_ASSERT_EQUAL(virtio_dev_watch(&d, b, EPOLLIN), 0);
	CU_ASSERT_EQUAL(ready(&d, b), EPOLLIN);
	/* A new fd takes the free slot. */
	CU_ASSERT_EQUAL(virtio_dev_watch(&d, a, EPOLLIN), 0);
	CU_ASSERT_EQUAL(d.fds[0], a);
	close(a);
	close(b);
	close(d.epfd);
}

void dh_suite_watch(void)
{
	static const struct unit_case cases[] = {
		{ "slot after a free one", test_slot_after_a_free_one },
		{ NULL, NULL },
	};

	unit_add_suite("watch", cases);
}
