/* Domain configuration: the libvirt domain XML subset of colo-domain(5),
 * validated against schema/domain.rng (compiled in) with libxml2's
 * RelaxNG.  Errors name the file, the line and what was expected. */
#ifndef COLO_DOMAIN_H
#define COLO_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOMAIN_MAX_NICS		8
#define DOMAIN_MAX_DISKS	8

struct domain_nic {
	uint8_t mac[6];
	bool has_mac;
	char socket[108];	/* empty: the run directory's default */
	char tap[16];
};

struct domain_disk {
	char file[1024];	/* an image colod serves with colo-blkrep, or */
	char socket[108];	/* NBD over a unix socket, or */
	char host[256];		/* NBD over TCP */
	uint16_t port;
	char export_name[256];
	bool readonly;
};

enum domain_lifecycle {
	DOMAIN_DESTROY,
	DOMAIN_PRESERVE,
};

struct domain_config {
	char name[65];
	char uuid[37];		/* canonical, lower case */
	uint64_t mem_bytes;
	int vcpus;
	char kernel[4096];
	char cmdline[3072];
	enum domain_lifecycle on_poweroff, on_crash;
	int nnics;
	struct domain_nic nics[DOMAIN_MAX_NICS];
	int ndisks;
	struct domain_disk disks[DOMAIN_MAX_DISKS];
	char *xml;		/* the text it was parsed from */
};

/* Parses XML text; fname is used in error messages. */
int domain_config_parse(struct domain_config *c, const char *text,
		size_t len, const char *fname, char *err, size_t errlen);
int domain_config_load(struct domain_config *c, const char *path, char *err,
		size_t errlen);
void domain_config_fini(struct domain_config *c);

#endif
