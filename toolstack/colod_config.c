/* colod's options and colod.conf.  Precedence: built-in defaults, then the
 * config file, then the command line. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "colod.h"
#include "conf.h"
#include "params.h"
#include "util.h"

static const char *const daemon_keys[] = {
	"state_dir", "run_dir", "log_level", "log_target", "peer_listen",
	"curve_secret_key", "curve_peer_public_key", NULL,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: colod [OPTIONS]\n"
		"The colo-kvm host daemon.\n\n"
		"  -s, --state-dir DIR   state directory (default %s)\n"
		"  -r, --run-dir DIR     run directory for sockets (default %s)\n"
		"  -c, --config FILE     configuration file (default %s)\n"
		"  -f, --foreground      stay in the foreground\n"
		"  -l, --log-level LVL   error, warn, info or debug\n"
		"  -L, --log TARGET      stderr, syslog or file:PATH\n"
		"  -P, --peer-listen HOST:PORT  accept peer colods (migration,\n"
		"                        COLO) on this TCP address\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n",
		COLOD_DEFAULT_STATE_DIR, COLOD_DEFAULT_RUN_DIR,
		COLOD_DEFAULT_CONFIG);
}

void colod_config_init(struct colod_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = strdup(COLOD_DEFAULT_STATE_DIR);
	cfg->run_dir = strdup(COLOD_DEFAULT_RUN_DIR);
	cfg->log_level = LOG_LVL_INFO;
	cfg->log_target = LOG_TO_SYSLOG;
	params_defaults(&cfg->params);
}

void colod_config_fini(struct colod_config *cfg)
{
	free(cfg->config_path);
	free(cfg->state_dir);
	free(cfg->run_dir);
	free(cfg->log_path);
	free(cfg->peer_listen);
	explicit_bzero(&cfg->curve_keys, sizeof(cfg->curve_keys));
	memset(cfg, 0, sizeof(*cfg));
}

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int make_absolute(char **dir)
{
	char cwd[4096], *abs;

	if (**dir == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (asprintf(&abs, "%s/%s", cwd, *dir) < 0)
		return -ENOMEM;
	free(*dir);
	*dir = abs;
	return 0;
}

static int set_log_target(struct colod_config *cfg, const char *v)
{
	const char *path;
	enum log_target t;

	if (log_target_parse(v, &t, &path) < 0)
		return -EINVAL;
	cfg->log_target = t;
	cfg->log_target_set = true;
	free(cfg->log_path);
	cfg->log_path = path ? strdup(path) : NULL;
	return 0;
}

/* curve_secret_key and curve_peer_public_key come together.  A file
 * that holds a secret must be private to its owner, as ssh asks of keys. */
static int apply_curve(struct colod_config *cfg, struct conf *c,
		const char *path, char *err, size_t errlen)
{
	int ls = 0, lp = 0;
	const char *sec = conf_get(c, "curve_secret_key", &ls);
	const char *pub = conf_get(c, "curve_peer_public_key", &lp);
	struct stat st;
	char why[160];

	if (!sec && !pub)
		return 0;
	if (!sec || !pub) {
		snprintf(err, errlen, "%s:%d: curve_secret_key and "
			 "curve_peer_public_key must be set together", path,
			 sec ? ls : lp);
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s holds curve_secret_key but others "
			 "may read it (mode %04o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (ctl_curve_init(&cfg->curve_keys, sec, pub, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s:%d: %s", path,
			 ctl_curve_key_valid(sec) ? lp : ls, why);
		return -EINVAL;
	}
	cfg->curve = true;
	return 0;
}

static int apply_conf(struct colod_config *cfg, const char *path,
		bool must_exist)
{
	char err[512];
	struct conf c;
	const char *v;
	int line = 0, rc, lvl;
	const char *const *lists[] = { daemon_keys, params_conf_keys };
	const char *known[32];
	size_t n = 0;

	if (!must_exist && access(path, F_OK) < 0)
		return 0;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (size_t i = 0; lists[l][i]; i++)
			known[n++] = lists[l][i];
	known[n] = NULL;
	rc = conf_load(&c, path, err, sizeof(err));
	if (rc == 0)
		rc = conf_check_keys(&c, known, err, sizeof(err));
	if (rc == 0)
		rc = params_from_conf(&cfg->params, &c, err, sizeof(err));
	if (rc < 0)
		goto fail;
	if ((v = conf_get(&c, "state_dir", &line)) && *v != '/')
		goto bad_path;
	if (v)
		set_str(&cfg->state_dir, v);
	if ((v = conf_get(&c, "run_dir", &line)) && *v != '/')
		goto bad_path;
	if (v)
		set_str(&cfg->run_dir, v);
	if ((v = conf_get(&c, "log_level", &line))) {
		lvl = log_level_parse(v);
		if (lvl < 0) {
			snprintf(err, sizeof(err), "%s:%d: log_level must be "
				 "error, warn, info or debug", path, line);
			rc = -EINVAL;
			goto fail;
		}
		cfg->log_level = (enum log_level)lvl;
	}
	if ((v = conf_get(&c, "peer_listen", &line)))
		set_str(&cfg->peer_listen, v);
	rc = apply_curve(cfg, &c, path, err, sizeof(err));
	if (rc < 0)
		goto fail;
	if ((v = conf_get(&c, "log_target", &line)) &&
	    set_log_target(cfg, v) < 0) {
		snprintf(err, sizeof(err), "%s:%d: log_target must be stderr, "
			 "syslog or file:/ABSOLUTE/PATH", path, line);
		rc = -EINVAL;
		goto fail;
	}
	conf_fini(&c);
	return 0;
bad_path:
	snprintf(err, sizeof(err), "%s:%d: directory must be an absolute path",
		 path, line);
	rc = -EINVAL;
fail:
	fprintf(stderr, "colod: %s\n", err);
	conf_fini(&c);
	return rc;
}

int colod_config_parse(struct colod_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'L' },
		{ "peer-listen", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = NULL, *run_dir = NULL, *level = NULL;
	const char *target = NULL;
	bool foreground = false;
	int c, lvl;

	optind = 1;
	const char *peer = NULL;

	while ((c = getopt_long(argc, argv, "s:r:c:fl:L:P:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': state_dir = optarg; break;
		case 'r': run_dir = optarg; break;
		case 'c': set_str(&cfg->config_path, optarg); break;
		case 'f': foreground = true; break;
		case 'l': level = optarg; break;
		case 'L': target = optarg; break;
		case 'P': peer = optarg; break;
		case 'h': usage(stdout); return 1;
		case 'V': printf("colod %s\n", PACKAGE_VERSION); return 1;
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "colod: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	/* The config file comes first so the command line overrides it. */
	if (apply_conf(cfg, cfg->config_path ? cfg->config_path :
		       COLOD_DEFAULT_CONFIG, cfg->config_path != NULL) < 0)
		return -EINVAL;
	if (peer)
		set_str(&cfg->peer_listen, peer);
	if (state_dir)
		set_str(&cfg->state_dir, state_dir);
	if (run_dir)
		set_str(&cfg->run_dir, run_dir);
	if (level) {
		lvl = log_level_parse(level);
		if (lvl < 0) {
			fprintf(stderr, "colod: bad --log-level '%s'\n", level);
			return -EINVAL;
		}
		cfg->log_level = (enum log_level)lvl;
	}
	if (target && set_log_target(cfg, target) < 0) {
		fprintf(stderr, "colod: bad --log '%s': use stderr, syslog or "
			"file:/PATH\n", target);
		return -EINVAL;
	}
	/* A daemon runs in /, so relative directories are resolved now. */
	if (make_absolute(&cfg->state_dir) < 0 ||
	    make_absolute(&cfg->run_dir) < 0) {
		fprintf(stderr, "colod: cannot resolve the current directory\n");
		return -EINVAL;
	}
	cfg->foreground = foreground;
	/* Unless told otherwise, a daemon logs to syslog and a foreground
	 * colod to stderr. */
	if (!cfg->log_target_set)
		cfg->log_target = foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG;
	return 0;
}
