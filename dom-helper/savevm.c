/* Save files: a colo-stream with the domain XML, VM, vCPU and device
 * state, and every non-zero RAM page.  The restore side checks the record
 * order and every length before using a byte of it. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helper.h"
#include "log.h"
#include "stream.h"
#include "tlv.h"
#include "vcpu_state.h"

enum dev_tag {
	DEV_SERIAL = 1,
};

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < STREAM_PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Writes PAGE_DATA records for the pages set in bitmap (all when NULL),
 * skipping all-zero pages when skip_zero. */
int savevm_write_pages(struct vm *vm, struct stream_writer *w,
		const uint64_t *bitmap, bool skip_zero, uint64_t *written)
{
	/* Pages are copied before they are checksummed and sent: a running
	 * guest (precopy) may write them meanwhile, and the CRC must match
	 * the bytes on the wire.  A later pass sends the newer contents. */
	static uint8_t *bounce;
	static uint64_t pfns[STREAM_MAX_PAGES];
	uint32_t head[2] = { 0, 0 };
	struct iovec iov[3];
	uint32_t n = 0;
	int rc;

	*written = 0;
	if (!bounce) {
		bounce = aligned_alloc(4096, (size_t)STREAM_MAX_PAGES *
				       STREAM_PAGE_SIZE);
		if (!bounce)
			return -ENOMEM;
	}
	for (uint64_t pfn = 0; pfn <= vm->mem.npages; pfn++) {
		bool flush = pfn == vm->mem.npages || n == STREAM_MAX_PAGES;
		uint8_t *page, *slot;

		if (flush && n) {
			head[0] = n;
			iov[0] = (struct iovec){ head, sizeof(head) };
			iov[1] = (struct iovec){ pfns, n * sizeof(uint64_t) };
			iov[2] = (struct iovec){ bounce, (size_t)n *
						 STREAM_PAGE_SIZE };
			rc = stream_write_iov(w, REC_PAGE_DATA, iov, 3);
			if (rc < 0)
				return rc;
			*written += n;
			n = 0;
		}
		if (pfn == vm->mem.npages)
			break;
		if (bitmap && !(bitmap[pfn / 64] & (1ull << (pfn % 64))))
			continue;
		page = vm->mem.base + pfn * STREAM_PAGE_SIZE;
		slot = bounce + (size_t)n * STREAM_PAGE_SIZE;
		memcpy(slot, page, STREAM_PAGE_SIZE);
		if (skip_zero && page_is_zero(slot))
			continue;
		pfns[n++] = pfn;
	}
	return 0;
}

int savevm_device_state(struct helper *h, struct tlv_buf *b)
{
	struct serial_state ss;
	int rc;

	serial_save(&h->serial, &ss);
	rc = tlv_put(b, DEV_SERIAL, &ss, sizeof(ss));
	for (int i = 0; rc == 0 && i < helper_virtio_count(h); i++)
		rc = virtio_dev_save(helper_virtio(h, i), b);
	return rc;
}

int savevm_write_state(struct helper *h, struct stream_writer *w)
{
	struct tlv_buf b;
	int rc;

	tlv_buf_init(&b);
	rc = vm_state_save(&h->vm, &b);
	if (rc == 0)
		rc = stream_write(w, REC_VM_STATE, b.data, b.len);
	for (int i = 0; rc == 0 && i < h->vm.nr_vcpus; i++) {
		tlv_buf_reset(&b);
		rc = vcpu_state_save(&h->vm.vcpus[i], &b);
		if (rc == 0)
			rc = stream_write(w, REC_VCPU_STATE, b.data, b.len);
	}
	if (rc == 0) {
		tlv_buf_reset(&b);
		rc = savevm_device_state(h, &b);
		if (rc == 0)
			rc = stream_write(w, REC_DEVICE_STATE, b.data, b.len);
	}
	tlv_buf_fini(&b);
	return rc;
}

int savevm_write(struct helper *h, int fd, struct save_result *res,
		char *err, size_t errlen)
{
	struct stream_writer w;
	int rc;

	memset(res, 0, sizeof(*res));
	stream_writer_init(&w, fd);
	rc = stream_write_header(&w);
	if (rc == 0)
		rc = stream_write(&w, REC_DOMAIN_CONFIG, h->cfg.xml,
				  strlen(h->cfg.xml));
	if (rc == 0)
		rc = savevm_write_state(h, &w);
	if (rc == 0)
		rc = savevm_write_pages(&h->vm, &w, NULL, true, &res->pages);
	if (rc == 0)
		rc = stream_write(&w, REC_END, NULL, 0);
	if (rc < 0) {
		snprintf(err, errlen, "writing the save stream: %s",
			 strerror(-rc));
		return rc;
	}
	res->bytes = w.bytes;
	return 0;
}

/* PAGE_DATA into RAM, every pfn checked. */
int savevm_load_pages(struct vm *vm, const uint8_t *body, uint32_t len,
		uint8_t *ram, char *err, size_t errlen);
int savevm_load_pages(struct vm *vm, const uint8_t *body, uint32_t len,
		uint8_t *ram, char *err, size_t errlen)
{
	uint32_t n;
	const uint8_t *pages;

	if (len < 8)
		goto bad;
	memcpy(&n, body, 4);
	if (n == 0 || n > STREAM_MAX_PAGES ||
	    len != 8 + (uint64_t)n * (8 + STREAM_PAGE_SIZE))
		goto bad;
	pages = body + 8 + (size_t)n * 8;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pfn;

		memcpy(&pfn, body + 8 + (size_t)i * 8, 8);
		if (pfn >= vm->mem.npages) {
			snprintf(err, errlen, "PAGE_DATA: page %#llx is beyond "
				 "guest RAM", (unsigned long long)pfn);
			return -EPROTO;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pfn;

		memcpy(&pfn, body + 8 + (size_t)i * 8, 8);
		memcpy(ram + pfn * STREAM_PAGE_SIZE,
		       pages + (size_t)i * STREAM_PAGE_SIZE, STREAM_PAGE_SIZE);
	}
	return 0;
bad:
	snprintf(err, errlen, "PAGE_DATA: malformed record");
	return -EPROTO;
}

int savevm_load_device_state(struct helper *h, const uint8_t *body,
		uint32_t len, char *err, size_t errlen)
{
	struct tlv_iter it;
	uint32_t tag, slen;
	const uint8_t *d;
	int rc;

	tlv_iter_init(&it, body, len);
	while ((rc = tlv_next(&it, &tag, &d, &slen)) > 0) {
		struct serial_state ss;

		switch (tag) {
		case DEV_SERIAL:
			if (slen != sizeof(ss))
				goto bad;
			memcpy(&ss, d, sizeof(ss));
			if (serial_load(&h->serial, &ss) < 0)
				goto bad;
			break;
		default:
			if (tag >= 16 && tag - 16 < (uint32_t)helper_virtio_count(h)) {
				rc = virtio_dev_load(helper_virtio(h, (int)tag - 16),
						     d, slen, err, errlen);
				if (rc < 0)
					return rc;
				break;
			}
			snprintf(err, errlen, "DEVICE_STATE: unknown device %u",
				 tag);
			return -EPROTO;
		}
	}
	if (rc == 0)
		return 0;
bad:
	snprintf(err, errlen, "DEVICE_STATE: malformed");
	return -EPROTO;
}

/* What a stream may still bring.  Pages come at any point after the
 * config (migration sends them first, save files last); the VM, vCPU and
 * device state come once each, in that order, and END closes it. */
enum load_phase { WANT_CONFIG, WANT_VM, WANT_VCPUS, WANT_DEVICES, WANT_END };

static int load_record(struct helper *h, enum load_phase *phase, int *vcpus,
		uint32_t type, const uint8_t *body, uint32_t len, char *why,
		size_t whylen)
{
	struct domain_config cfg;
	int rc;

	if (*phase == WANT_CONFIG) {
		if (type != REC_DOMAIN_CONFIG)
			goto unexpected;
		rc = domain_config_parse(&h->cfg, (const char *)body, len,
					 "saved config", why, whylen);
		if (rc == 0)
			rc = helper_build(h, false, why, whylen);
		*phase = WANT_VM;
		return rc;
	}
	switch (type) {
	case REC_DOMAIN_CONFIG:
		/* Into a VM built already: it must be the same domain. */
		if (*phase != WANT_VM || domain_config_parse(&cfg,
				(const char *)body, len, "stream", why, whylen) < 0)
			goto unexpected;
		rc = strcmp(cfg.name, h->cfg.name) || cfg.mem_bytes !=
		     h->cfg.mem_bytes || cfg.vcpus != h->cfg.vcpus ? -EPROTO : 0;
		if (rc < 0)
			snprintf(why, whylen, "the stream is for domain %s with "
				 "another shape", cfg.name);
		domain_config_fini(&cfg);
		return rc;
	case REC_PAGE_DATA:
		return savevm_load_pages(&h->vm, body, len, h->vm.mem.base, why,
					 whylen);
	case REC_VM_STATE:
		if (*phase != WANT_VM)
			goto unexpected;
		*phase = WANT_VCPUS;
		return vm_state_load(&h->vm, body, len, why, whylen);
	case REC_VCPU_STATE:
		if (*phase != WANT_VCPUS)
			goto unexpected;
		if (++*vcpus == h->vm.nr_vcpus)
			*phase = WANT_DEVICES;
		return vcpu_state_load(&h->vm, body, len, why, whylen);
	case REC_DEVICE_STATE:
		if (*phase != WANT_DEVICES)
			goto unexpected;
		*phase = WANT_END;
		return savevm_load_device_state(h, body, len, why, whylen);
	case REC_END:
		if (*phase != WANT_END)
			goto unexpected;
		return 1;
	}
unexpected:
	snprintf(why, whylen, "unexpected %s record", stream_rec_name(type));
	return -EPROTO;
}

static int load(struct helper *h, int fd, bool build, char *err,
		size_t errlen, bool *colo)
{
	struct stream_reader r;
	enum load_phase phase = build ? WANT_CONFIG : WANT_VM;
	const uint8_t *body;
	uint32_t type, len;
	int vcpus = 0, rc;
	char why[256];

	stream_reader_init(&r, fd);
	rc = stream_read_header(&r);
	if (colo)
		*colo = r.flags & STREAM_F_COLO;
	while (rc == 0) {
		rc = stream_read(&r, &type, &body, &len);
		if (rc < 0)
			break;
		why[0] = '\0';
		rc = load_record(h, &phase, &vcpus, type, body, len, why,
				 sizeof(why));
		if (rc == 1) {
			stream_reader_fini(&r);
			return 0;
		}
		if (rc < 0)
			snprintf(r.err, sizeof(r.err), "%s record at offset %llu:"
				 " %s", stream_rec_name(type),
				 (unsigned long long)r.offset, why);
	}
	snprintf(err, errlen, "%s", r.err);
	stream_reader_fini(&r);
	return rc;
}

int savevm_load(struct helper *h, int fd, bool build, char *err,
		size_t errlen)
{
	return load(h, fd, build, err, errlen, NULL);
}

int savevm_load_colo(struct helper *h, int fd, char *err, size_t errlen,
		bool *colo)
{
	return load(h, fd, false, err, errlen, colo);
}

int savevm_restore(struct helper *h, int fd, char *err, size_t errlen)
{
	return savevm_load(h, fd, true, err, errlen);
}
