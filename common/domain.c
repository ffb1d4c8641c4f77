/* The domain XML reader.  Validation comes first: once the RelaxNG schema
 * accepts a document, the extraction below can trust its shape and only
 * checks what a schema cannot (sizes, duplicates, the UUID). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include "domain.h"

extern const char domain_rng[];
extern const size_t domain_rng_len;

#define DOMAIN_XML_MAX	(1u << 20)

struct err_sink {
	char *buf;
	size_t len;
	const char *fname;
	bool set;
};

/* Keeps the first error, as "file:line: message". */
static void on_error(void *ctx, const xmlError *e)
{
	struct err_sink *s = ctx;
	char msg[256];
	size_t n;

	if (s->set || !e || !e->message)
		return;
	snprintf(msg, sizeof(msg), "%s", e->message);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	snprintf(s->buf, s->len, "%s:%d: %s", s->fname, e->line, msg);
	s->set = true;
}

static void on_error_compat(void *ctx, xmlErrorPtr e)
{
	on_error(ctx, e);
}

static int validate(xmlDocPtr doc, struct err_sink *sink)
{
	xmlRelaxNGParserCtxtPtr pctx;
	xmlRelaxNGPtr schema;
	xmlRelaxNGValidCtxtPtr vctx;
	int rc;

	pctx = xmlRelaxNGNewMemParserCtxt(domain_rng, (int)domain_rng_len);
	schema = pctx ? xmlRelaxNGParse(pctx) : NULL;
	xmlRelaxNGFreeParserCtxt(pctx);
	if (!schema) {
		snprintf(sink->buf, sink->len, "internal error: domain.rng");
		return -EIO;
	}
	vctx = xmlRelaxNGNewValidCtxt(schema);
	xmlRelaxNGSetValidStructuredErrors(vctx, on_error_compat, sink);
	rc = xmlRelaxNGValidateDoc(vctx, doc);
	xmlRelaxNGFreeValidCtxt(vctx);
	xmlRelaxNGFree(schema);
	if (rc != 0) {
		if (!sink->set)
			snprintf(sink->buf, sink->len, "%s: does not match "
				 "colo-domain(5)", sink->fname);
		return -EINVAL;
	}
	return 0;
}

/* RelaxNG's messages for <interleave> content are vague ("expecting an
 * element os, got nothing"), so unknown elements are caught first, with
 * their own line. */
static const struct {
	const char *parent;
	const char *children;	/* space-separated */
} known_children[] = {
	{ "domain", " name uuid description memory vcpu os on_poweroff "
		    "on_crash devices " },
	{ "os", " type kernel cmdline " },
	{ "devices", " interface disk serial " },
	{ "interface", " mac source target model " },
	{ "disk", " driver source target readonly " },
	{ "source", " host " },
};

static int check_elements(xmlNodePtr n, struct err_sink *sink)
{
	for (xmlNodePtr c = n->children; c; c = c->next) {
		char want[80];
		const char *list = NULL;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (size_t i = 0; i < sizeof(known_children) /
		     sizeof(known_children[0]); i++)
			if (!xmlStrcmp(n->name,
				       (const xmlChar *)known_children[i].parent))
				list = known_children[i].children;
		snprintf(want, sizeof(want), " %s ", (const char *)c->name);
		if (list && !strstr(list, want)) {
			snprintf(sink->buf, sink->len, "%s:%ld: unexpected "
				 "element <%s> in <%s>", sink->fname,
				 xmlGetLineNo(c), (const char *)c->name,
				 (const char *)n->name);
			sink->set = true;
			return -EINVAL;
		}
		if (check_elements(c, sink) < 0)
			return -EINVAL;
	}
	return 0;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(c->name, (const xmlChar *)name) == 0)
			return c;
	return NULL;
}

/* Copies the trimmed text of n into buf; false if it does not fit. */
static bool text_of(xmlNodePtr n, char *buf, size_t size)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = (const char *)t;
	size_t len;
	bool ok;

	if (!t) {
		buf[0] = '\0';
		return true;
	}
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' ||
		       s[len - 1] == '\t'))
		len--;
	ok = len < size;
	if (ok) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	xmlFree(t);
	return ok;
}

static bool attr_of(xmlNodePtr n, const char *name, char *buf, size_t size)
{
	xmlChar *a = xmlGetProp(n, (const xmlChar *)name);
	bool ok = true;

	buf[0] = '\0';
	if (a) {
		ok = strlen((const char *)a) < size;
		if (ok)
			strcpy(buf, (const char *)a);
		xmlFree(a);
	}
	return ok;
}

static int fail(char *err, size_t errlen, const char *fname, xmlNodePtr n,
		const char *what)
{
	snprintf(err, errlen, "%s:%ld: %s", fname, n ? xmlGetLineNo(n) : 0L,
		 what);
	return -EINVAL;
}

static int get_memory(struct domain_config *c, xmlNodePtr n,
		const char *fname, char *err, size_t errlen)
{
	char unit[8], num[32];
	unsigned long long v, mul = 1024;	/* libvirt's default: KiB */

	attr_of(n, "unit", unit, sizeof(unit));
	if (!text_of(n, num, sizeof(num)))
		return fail(err, errlen, fname, n, "memory: number too long");
	v = strtoull(num, NULL, 10);
	if (!strcmp(unit, "b") || !strcmp(unit, "bytes"))
		mul = 1;
	else if (!strcmp(unit, "MiB") || !strcmp(unit, "M"))
		mul = 1ull << 20;
	else if (!strcmp(unit, "GiB") || !strcmp(unit, "G"))
		mul = 1ull << 30;
	if (v > (64ull << 30) / mul || v * mul < (2ull << 20) ||
	    (v * mul) % 4096)
		return fail(err, errlen, fname, n, "memory must be a whole "
			    "number of 4 KiB pages from 2 MiB to 64 GiB");
	c->mem_bytes = v * mul;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return (mac[0] & 1) ? -EINVAL : 0;	/* no multicast MACs */
}

static int get_nic(struct domain_config *c, xmlNodePtr n, const char *fname,
		char *err, size_t errlen)
{
	struct domain_nic *nic;
	xmlNodePtr m = child(n, "mac"), s = child(n, "source"),
		   t = child(n, "target");
	char mac[32];

	if (c->nnics >= DOMAIN_MAX_NICS)
		return fail(err, errlen, fname, n, "too many interfaces");
	nic = &c->nics[c->nnics++];
	if (m) {
		attr_of(m, "address", mac, sizeof(mac));
		if (parse_mac(mac, nic->mac) < 0)
			return fail(err, errlen, fname, m, "a NIC's MAC address "
				    "must be unicast");
		nic->has_mac = true;
	}
	if (s)
		attr_of(s, "path", nic->socket, sizeof(nic->socket));
	if (t)
		attr_of(t, "dev", nic->tap, sizeof(nic->tap));
	return 0;
}

static int get_disk(struct domain_config *c, xmlNodePtr n, const char *fname,
		char *err, size_t errlen)
{
	struct domain_disk *d;
	xmlNodePtr s = child(n, "source"), h = child(s, "host");
	char port[16];

	if (c->ndisks >= DOMAIN_MAX_DISKS)
		return fail(err, errlen, fname, n, "too many disks");
	d = &c->disks[c->ndisks++];
	d->readonly = child(n, "readonly") != NULL;
	if (!attr_of(s, "file", d->file, sizeof(d->file)))
		return fail(err, errlen, fname, s, "file name too long");
	if (d->file[0])
		return 0;	/* colod serves it; the helper knows where */
	if (!attr_of(s, "name", d->export_name, sizeof(d->export_name)) ||
	    !attr_of(h, "name", d->host, sizeof(d->host)))
		return fail(err, errlen, fname, s, "NBD name too long");
	attr_of(h, "socket", d->socket, sizeof(d->socket));
	attr_of(h, "port", port, sizeof(port));
	d->port = *port ? (uint16_t)atoi(port) : 10809;
	return 0;
}

/* Canonical UUID from the document, or a random one. */
static int get_uuid(struct domain_config *c, xmlNodePtr n, const char *fname,
		char *err, size_t errlen)
{
	char raw[64], hex[33];
	size_t k = 0;
	uint8_t rnd[16];

	if (n) {
		text_of(n, raw, sizeof(raw));
		for (const char *p = raw; *p && k < 32; p++)
			if (*p != '-')
				hex[k++] = (char)(*p | 0x20);
		hex[k] = '\0';
	} else {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, rnd, sizeof(rnd)) != sizeof(rnd)) {
			if (fd >= 0)
				close(fd);
			return fail(err, errlen, fname, NULL, "cannot read "
				    "/dev/urandom for a UUID");
		}
		close(fd);
		rnd[6] = (rnd[6] & 0x0f) | 0x40;	/* version 4 */
		rnd[8] = (rnd[8] & 0x3f) | 0x80;
		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	}
	snprintf(c->uuid, sizeof(c->uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex,
		 hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

static int extract(struct domain_config *c, xmlNodePtr root,
		const char *fname, char *err, size_t errlen)
{
	xmlNodePtr os = child(root, "os"), devs = child(root, "devices");
	char buf[32];
	int rc;

	text_of(child(root, "name"), c->name, sizeof(c->name));
	rc = get_uuid(c, child(root, "uuid"), fname, err, errlen);
	if (rc == 0)
		rc = get_memory(c, child(root, "memory"), fname, err, errlen);
	if (rc < 0)
		return rc;
	text_of(child(root, "vcpu"), buf, sizeof(buf));
	c->vcpus = atoi(buf);
	if (!text_of(child(os, "kernel"), c->kernel, sizeof(c->kernel)))
		return fail(err, errlen, fname, child(os, "kernel"),
			    "kernel path too long");
	if (!text_of(child(os, "cmdline"), c->cmdline, sizeof(c->cmdline) - 512))
		return fail(err, errlen, fname, child(os, "cmdline"),
			    "cmdline longer than 2559 bytes");
	text_of(child(root, "on_poweroff"), buf, sizeof(buf));
	c->on_poweroff = !strcmp(buf, "preserve") ? DOMAIN_PRESERVE :
			 DOMAIN_DESTROY;
	text_of(child(root, "on_crash"), buf, sizeof(buf));
	c->on_crash = !strcmp(buf, "preserve") ? DOMAIN_PRESERVE :
		      DOMAIN_DESTROY;
	for (xmlNodePtr n = devs ? devs->children : NULL; n && rc == 0;
	     n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!xmlStrcmp(n->name, (const xmlChar *)"interface"))
			rc = get_nic(c, n, fname, err, errlen);
		else if (!xmlStrcmp(n->name, (const xmlChar *)"disk"))
			rc = get_disk(c, n, fname, err, errlen);
	}
	return rc;
}

int domain_config_parse(struct domain_config *c, const char *text,
		size_t len, const char *fname, char *err, size_t errlen)
{
	struct err_sink sink = { err, errlen, fname, false };
	xmlDocPtr doc;
	int rc;

	memset(c, 0, sizeof(*c));
	if (len > DOMAIN_XML_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", fname,
			 DOMAIN_XML_MAX);
		return -EFBIG;
	}
	xmlSetStructuredErrorFunc(&sink, on_error_compat);
	/* No network, no entity expansion: the file is untrusted input. */
	doc = xmlReadMemory(text, (int)len, fname, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!doc) {
		if (!sink.set)
			snprintf(err, errlen, "%s: not well-formed XML", fname);
		return -EINVAL;
	}
	rc = xmlDocGetRootElement(doc) ?
	     check_elements(xmlDocGetRootElement(doc), &sink) : -EINVAL;
	if (rc == 0)
		rc = validate(doc, &sink);
	if (rc == 0)
		rc = extract(c, xmlDocGetRootElement(doc), fname, err, errlen);
	if (rc == 0) {
		c->xml = strndup(text, len);
		if (!c->xml)
			rc = -ENOMEM;
	}
	xmlFreeDoc(doc);
	return rc;
}

int domain_config_load(struct domain_config *c, const char *path, char *err,
		size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, rc;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DOMAIN_XML_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %u "
			 "bytes", path, DOMAIN_XML_MAX);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: read failed", path);
		free(buf);
		return -EIO;
	}
	rc = domain_config_parse(c, buf, (size_t)n, path, err, errlen);
	free(buf);
	return rc;
}

void domain_config_fini(struct domain_config *c)
{
	free(c->xml);
	c->xml = NULL;
}
