/* libFuzzer target: domain XML (parse, RelaxNG validation, extraction).
 * Whatever the input, the result is a config or an error naming the file. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_config c;
	char err[512] = "";

	if (domain_config_parse(&c, (const char *)data, size, "fuzz.xml", err,
				sizeof(err)) == 0) {
		if (!c.name[0] || c.vcpus < 1 || c.vcpus > 32 ||
		    c.mem_bytes % 4096 || c.kernel[0] != '/')
			abort();	/* accepted means sane */
	} else if (strncmp(err, "fuzz.xml", 8) != 0) {
		abort();
	}
	domain_config_fini(&c);
	return 0;
}
