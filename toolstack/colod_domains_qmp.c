/* colod's domain commands: create, destroy, pause, unpause, save,
 * restore, the console, and the x-domain-* debugging commands.  Most of
 * them are a call to the domain's helper. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colod.h"
#include "domains.h"
#include "stream.h"

static void fill_info(struct domain_info *o, const struct state_domain *s)
{
	o->name = strdup(s->name);
	o->uuid = strdup(s->uuid);
	if (!o->name || !o->uuid)
		abort();
	o->domid = s->domid;
	o->memory = s->mem_mib;
	o->vcpus = s->vcpus;
	o->state = s->run_state;
	o->colo_mode = s->mode;
}

int qmp_domain_create(void *opaque, const struct qmp_domain_create_args *a,
		struct domain_info *ret, struct colo_error *err)
{
	struct colod *d = opaque;
	struct domain_config cfg;
	struct state_domain row;
	char why[512];
	int rc;

	rc = domain_config_parse(&cfg, a->config, strlen(a->config),
				 a->has_source ? a->source : "config", why,
				 sizeof(why));
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER, "%s", why);
		return rc;
	}
	rc = domains_create(d, &cfg, NULL, a->has_paused && a->paused, &row,
			    err);
	domain_config_fini(&cfg);
	if (rc == 0)
		fill_info(ret, &row);
	return rc;
}

int qmp_domain_destroy(void *opaque, const struct qmp_domain_destroy_args *a,
		struct colo_error *err)
{
	return domains_destroy(opaque, a->domain, err);
}

int qmp_domain_pause(void *opaque, const struct qmp_domain_pause_args *a,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);

	return l ? qmpc_helper_stop(&l->ctl, err) : -ENOENT;
}

int qmp_domain_unpause(void *opaque, const struct qmp_domain_unpause_args *a,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);

	return l ? qmpc_helper_cont(&l->ctl, err) : -ENOENT;
}

int qmp_domain_save(void *opaque, const struct qmp_domain_save_args *a,
		struct save_info *ret, struct colo_error *err)
{
	struct colod *d = opaque;
	struct dom_link *l = domains_get(d, a->domain, err);
	struct qmp_helper_save_args h = { (char *)a->path,
					  a->has_continue_ && a->continue_ };
	int rc;

	if (!l)
		return -ENOENT;
	if (a->path[0] != '/') {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "path must be absolute");
		return -EINVAL;
	}
	rc = qmpc_helper_save(&l->ctl, &h, ret, err);
	/* xl semantics: a saved domain is gone unless asked to continue. */
	if (rc == 0 && !h.continue_)
		domains_destroy(d, a->domain, err);
	return rc;
}

/* The DOMAIN_CONFIG record that opens a save file. */
static int read_saved_config(const char *path, struct domain_config *cfg,
		struct colo_error *err)
{
	struct stream_reader r;
	const uint8_t *body;
	uint32_t type, len;
	char why[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s: %s", path,
			       strerror(errno));
		return -errno;
	}
	stream_reader_init(&r, fd);
	rc = stream_read_header(&r);
	if (rc == 0)
		rc = stream_read(&r, &type, &body, &len);
	if (rc == 0 && type != REC_DOMAIN_CONFIG) {
		snprintf(r.err, sizeof(r.err), "not a save file: it starts with "
			 "a %s record", stream_rec_name(type));
		rc = -EPROTO;
	}
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER, "%s: %s",
			       path, r.err);
	else if ((rc = domain_config_parse(cfg, (const char *)body, len, path,
					   why, sizeof(why))) < 0)
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER, "%s", why);
	stream_reader_fini(&r);
	close(fd);
	return rc;
}

int qmp_domain_restore(void *opaque, const struct qmp_domain_restore_args *a,
		struct domain_info *ret, struct colo_error *err)
{
	struct colod *d = opaque;
	struct domain_config cfg;
	struct state_domain row;
	int rc;

	if (a->path[0] != '/') {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "path must be absolute");
		return -EINVAL;
	}
	rc = read_saved_config(a->path, &cfg, err);
	if (rc < 0)
		return rc;
	rc = domains_create(d, &cfg, a->path, a->has_paused && a->paused, &row,
			    err);
	domain_config_fini(&cfg);
	if (rc == 0)
		fill_info(ret, &row);
	return rc;
}

int qmp_console_write(void *opaque, const struct qmp_console_write_args *a,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);
	struct qmp_helper_console_write_args h = { a->data };

	return l ? qmpc_helper_console_write(&l->ctl, &h, err) : -ENOENT;
}

int qmp_console_read(void *opaque, const struct qmp_console_read_args *a,
		struct console_data *ret, struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);
	struct qmp_helper_console_read_args h = {
		a->has_bytes ? a->bytes : 4096,
	};

	if (!l)
		return -ENOENT;
	if (h.bytes < 1 || h.bytes > 65536) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "bytes must be from 1 to 65536");
		return -EINVAL;
	}
	return qmpc_helper_console_read(&l->ctl, &h, ret, err);
}

int qmp_x_domain_dirty_log(void *opaque,
		const struct qmp_x_domain_dirty_log_args *a,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);
	struct qmp_x_helper_dirty_log_args h = { a->enable };

	return l ? qmpc_x_helper_dirty_log(&l->ctl, &h, err) : -ENOENT;
}

int qmp_x_domain_dirty_harvest(void *opaque,
		const struct qmp_x_domain_dirty_harvest_args *a,
		struct dirty_info *ret, struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);

	return l ? qmpc_x_helper_dirty_harvest(&l->ctl, ret, err) : -ENOENT;
}

int qmp_x_domain_ram_hash(void *opaque,
		const struct qmp_x_domain_ram_hash_args *a,
		struct ram_hash *ret, struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);

	return l ? qmpc_x_helper_ram_hash(&l->ctl, ret, err) : -ENOENT;
}
