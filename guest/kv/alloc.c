/* A segregated-fit heap: power-of-two classes from 32 bytes to 1 MiB,
 * each with a free list, carved from pages taken with galloc.  Enough for
 * keys, values and connection buffers; freed blocks are reused. */
#include "kv.h"

#define MIN_SHIFT 5
#define MAX_SHIFT 20
#define CLASSES (MAX_SHIFT - MIN_SHIFT + 1)

struct block {
	uint32_t cls;
	uint32_t magic;
	uint64_t pad;
	union {
		struct block *next;	/* when free */
		uint8_t data[8];
	};
};

#define HDR 16
#define MAGIC 0x6b76616c

static struct block *free_list[CLASSES];
static uint64_t used;

static int class_of(size_t n)
{
	int c = 0;

	while (((size_t)1 << (c + MIN_SHIFT)) < n + HDR)
		c++;
	return c;
}

void *kmalloc(size_t n)
{
	int c = class_of(n);
	struct block *b;

	if (c >= CLASSES)
		return NULL;
	b = free_list[c];
	if (b) {
		free_list[c] = b->next;
	} else {
		size_t sz = (size_t)1 << (c + MIN_SHIFT);

		b = galloc(sz, sz < 4096 ? 16 : 4096);
	}
	b->cls = (uint32_t)c;
	b->magic = MAGIC;
	used += (size_t)1 << (c + MIN_SHIFT);
	return b->data;
}

void kfree(void *p)
{
	struct block *b;

	if (!p)
		return;
	b = (struct block *)((uint8_t *)p - HDR);
	if (b->magic != MAGIC || b->cls >= CLASSES)
		panic("kfree: bad block %p", p);
	b->magic = 0;
	used -= (size_t)1 << (b->cls + MIN_SHIFT);
	b->next = free_list[b->cls];
	free_list[b->cls] = b;
}

void *krealloc(void *p, size_t n)
{
	struct block *b;
	size_t have;
	void *q;

	if (!p)
		return kmalloc(n);
	b = (struct block *)((uint8_t *)p - HDR);
	have = ((size_t)1 << (b->cls + MIN_SHIFT)) - HDR;
	if (n <= have)
		return p;
	q = kmalloc(n);
	if (q) {
		memcpy(q, p, have);
		kfree(p);
	}
	return q;
}

uint64_t kheap_used(void)
{
	return used;
}
