/* blkrep's SHA-256 against the FIPS 180-4 examples, with lengths that
 * hit each padding case. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sha256.h"
#include "unit.h"

static void hex(const uint8_t *h, char *out)
{
	for (int i = 0; i < SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void check(const void *data, size_t len, const char *want)
{
	uint8_t h[SHA256_LEN];
	char got[2 * SHA256_LEN + 1];

	sha256(data, len, h);
	hex(h, got);
	CU_ASSERT_STRING_EQUAL(got, want);
}

static void test_vectors(void)
{
	char *m = malloc(1000000);

	check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the length no longer fits the first padding block. */
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memset(m, 'a', 1000000);
	check(m, 1000000,
	      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}

void unit_suite_sha256(void)
{
	static const struct unit_case cases[] = {
		{ "FIPS 180-4 vectors", test_vectors },
		{ NULL, NULL },
	};

	unit_add_suite("blkrep sha256", cases);
}
