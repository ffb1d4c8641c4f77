/* Helpers shared by the CUnit test binaries. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "unit.h"

void unit_add_suite(const char *name, const struct unit_case *cases)
{
	CU_pSuite s = CU_add_suite(name, NULL, NULL);

	if (!s) {
		fprintf(stderr, "CU_add_suite(%s) failed\n", name);
		exit(2);
	}
	for (; cases->name; cases++)
		if (!CU_add_test(s, cases->name, cases->fn)) {
			fprintf(stderr, "CU_add_test(%s) failed\n", cases->name);
			exit(2);
		}
}

char *unit_mkdtemp(void)
{
	char *d = strdup("/tmp/colo-unit.XXXXXX");

	if (!d || !mkdtemp(d)) {
		perror("mkdtemp");
		exit(2);
	}
	return d;
}

void unit_rmdir(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(dir);
}

