/* Output helpers shared by colo-xl commands: JSON and "key : value". */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xl.h"

void xl_print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS |
			     JSON_ENCODE_ANY);

	if (t)
		printf("%s\n", t);
	free(t);
	json_decref(j);
}

void xl_print_kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%-22s : ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

const char *xl_state_letters(const char *run_state)
{
	static const struct {
		const char *state, *letters;
	} map[] = {
		{ "running", "r-----" },
		{ "colo", "-b----" },
		{ "paused", "--p---" },
		{ "inmigrate", "--p---" },
		{ "postmigrate", "--p---" },
		{ "shutdown", "---s--" },
		{ "crashed", "----c-" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, run_state) == 0)
			return map[i].letters;
	return "------";
}
