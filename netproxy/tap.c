/* Tap devices for netproxy's external side. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tap.h"

static int set_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(s);
	return rc;
}

int tap_open(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, rc;

	if (strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap name '%s' is too long", name);
		return -ENAMETOOLONG;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: %s", name, strerror(errno));
		close(fd);
		return rc;
	}
	rc = set_up(name);
	if (rc < 0) {
		snprintf(err, errlen, "tap %s: cannot bring it up: %s", name,
			 strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}
