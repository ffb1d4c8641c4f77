/* libFuzzer target: the key = value parser and the parameter keys of
 * colod.conf.  Any input must parse or fail with a file:line message. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	struct parameters p;
	char err[512] = "";
	int rc;

	params_defaults(&p);
	rc = conf_parse(&c, "fuzz.conf", (const char *)data, size, err,
			sizeof(err));
	if (rc == 0) {
		rc = params_from_conf(&p, &c, err, sizeof(err));
		if (rc == 0 && params_validate(&p, NULL) != 0)
			abort();	/* accepted values must be in range */
	}
	if (rc < 0 && strncmp(err, "fuzz.conf", 9) != 0)
		abort();	/* errors always name the file */
	conf_fini(&c);
	return 0;
}
