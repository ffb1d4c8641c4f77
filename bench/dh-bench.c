/* dom-helper benchmarks, each beside a baseline measured in the same run:
 *   harvest cost by guest size and dirty count, bitmap against ring,
 *     beside a memcpy of the dirty pages;
 *   pause + resume latency of a running guest;
 *   save and restore throughput, beside a memcpy of guest RAM.
 * Run by "make bench"; needs /dev/kvm. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helper.h"
#include "log.h"
#include "util.h"

static char console_buf[65536];
static size_t console_len;
static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture(void *opaque, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&console_lock);
	if (console_len + n >= sizeof(console_buf))
		console_len = 0;
	memcpy(console_buf + console_len, buf, n);
	console_len += n;
	console_buf[console_len] = '\0';
	pthread_mutex_unlock(&console_lock);
}

static bool console_has(const char *s)
{
	bool r;

	pthread_mutex_lock(&console_lock);
	r = strstr(console_buf, s) != NULL;
	pthread_mutex_unlock(&console_lock);
	return r;
}

static int wait_console(const char *s, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (console_has(s))
			return 0;
		util_sleep_ms(1);
	}
	return -ETIMEDOUT;
}

static const char *guest_dir;

/* A helper running tests/guests/NAME.elf with cmdline, built in-process. */
static int start(struct helper *h, const char *guest, uint64_t mib,
		const char *cmdline, enum dirty_mode mode)
{
	char xml[2048], err[512];
	int rc;

	memset(h, 0, sizeof(*h));
	h->opts.dirty_mode = mode;
	h->opts.run_dir = "/tmp";
	snprintf(xml, sizeof(xml),
		 "<domain type='kvm'><name>bench</name>"
		 "<memory unit='MiB'>%llu</memory><vcpu>1</vcpu><os>"
		 "<type>hvm</type><kernel>%s/%s.elf</kernel>"
		 "<cmdline>%s</cmdline></os></domain>",
		 (unsigned long long)mib, guest_dir, guest, cmdline);
	rc = domain_config_parse(&h->cfg, xml, strlen(xml), "bench", err,
				 sizeof(err));
	if (rc == 0)
		rc = console_init(&h->console, NULL);
	if (rc == 0)
		rc = helper_build(h, true, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return rc;
	}
	h->serial.out = capture;
	console_len = 0;
	console_buf[0] = '\0';
	return vm_start(&h->vm);
}

static void stop(struct helper *h)
{
	helper_teardown(h);
	console_fini(&h->console);
	domain_config_fini(&h->cfg);
}

static double memcpy_us(size_t pages)
{
	size_t len = pages * 4096;
	char *a = malloc(len), *b = malloc(len);
	uint64_t t0;
	double best = 1e18;

	memset(a, 1, len);
	memset(b, 2, len);
	for (int r = 0; r < 5; r++) {
		t0 = util_mono_us();
		memcpy(b, a, len);
		__asm__ volatile("" : : "r"(b) : "memory");
		if ((double)(util_mono_us() - t0) < best)
			best = (double)(util_mono_us() - t0);
	}
	free(a);
	free(b);
	return best;
}

static void bench_harvest(uint64_t mib, uint64_t dirty, enum dirty_mode mode)
{
	struct helper h;
	char cmd[256], want[32];
	uint64_t *bm, t0, us_get;
	size_t n;

	snprintf(cmd, sizeof(cmd), "dirty_base=0x1000000 dirty_count=%llu "
		 "dirty_stride=1", (unsigned long long)dirty);
	if (start(&h, "dirty", mib, cmd, mode) < 0) {
		printf("harvest: guest did not start\n");
		return;
	}
	if (wait_console("DIRTY-READY", 10000) < 0) {
		printf("harvest: guest did not get ready\n");
		stop(&h);
		return;
	}
	bm = calloc(h.vm.mem.bitmap_words, sizeof(uint64_t));
	dirty_enable(&h.vm, true);
	dirty_harvest(&h.vm, bm);
	dirty_commit(&h.vm);
	serial_input(&h.serial, (const uint8_t *)"d", 1);
	snprintf(want, sizeof(want), "DIRTIED 1");
	if (wait_console(want, 20000) < 0) {
		printf("harvest: the guest did not dirty its pages\n");
		free(bm);
		stop(&h);
		return;
	}
	vm_pause(&h.vm, VM_PAUSE_SNAPSHOT);	/* as at a checkpoint */
	memset(bm, 0, h.vm.mem.bitmap_words * sizeof(uint64_t));
	t0 = util_mono_us();
	dirty_harvest(&h.vm, bm);
	us_get = util_mono_us() - t0;
	dirty_commit(&h.vm);
	n = dirty_count(bm, h.vm.mem.bitmap_words);
	printf("harvest  %-6s %5llu MiB %6llu dirty: %7.1f us (%zu found, %llu "
	       "ring-full exits)   memcpy of those pages %7.1f us\n",
	       dirty_mode_name(mode), (unsigned long long)mib,
	       (unsigned long long)dirty, (double)us_get, n,
	       (unsigned long long)h.vm.dirty.ring_full_exits,
	       memcpy_us(dirty));
	vm_resume(&h.vm, VM_PAUSE_SNAPSHOT);
	free(bm);
	stop(&h);
}

/* The baseline for a pause: one wake-up of another thread and its answer,
 * over pipes, the least any stop-and-acknowledge handshake costs. */
static void *echo_thread(void *arg)
{
	int *fds = arg;
	char c;

	while (read(fds[0], &c, 1) == 1 && c != 'q')
		if (write(fds[3], &c, 1) != 1)
			break;
	return NULL;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static double ping_pong_us(int rounds)
{
	int fds[4] = { -1, -1, -1, -1 }, done = 0;
	pthread_t t;
	uint64_t t0, total = 0;
	char c = 'p';

	if (pipe(fds) < 0 || pipe(fds + 2) < 0 ||
	    pthread_create(&t, NULL, echo_thread, fds) != 0) {
		close_all(fds, 4);
		return -1;
	}
	for (; done < rounds; done++) {
		t0 = util_mono_us();
		if (write(fds[1], &c, 1) != 1 || read(fds[2], &c, 1) != 1)
			break;
		total += util_mono_us() - t0;
		util_sleep_ms(2);
	}
	/* Closing the write end ends the thread even if 'q' cannot go. */
	c = 'q';
	if (write(fds[1], &c, 1) != 1) {
		close(fds[1]);
		fds[1] = -1;
	}
	pthread_join(t, NULL);
	close_all(fds, 4);
	return done ? (double)total / done : -1;
}

static void bench_pause(void)
{
	struct helper h;
	uint64_t total = 0, worst = 0;
	const int rounds = 200;
	double base;

	if (start(&h, "counter", 64, "pages=64 per_tick=8 tick_us=200 report=1000000",
		  DIRTY_MODE_BITMAP) < 0) {
		printf("pause: guest did not start\n");
		return;
	}
	if (wait_console("COUNTER-START", 10000) < 0) {
		printf("pause: guest did not get ready\n");
		stop(&h);
		return;
	}
	for (int i = 0; i < rounds; i++) {
		uint64_t t0 = util_mono_us(), d;

		vm_pause(&h.vm, VM_PAUSE_SNAPSHOT);
		vm_resume(&h.vm, VM_PAUSE_SNAPSHOT);
		d = util_mono_us() - t0;
		total += d;
		if (d > worst)
			worst = d;
		util_sleep_ms(2);
	}
	base = ping_pong_us(rounds);
	printf("pause+resume of a running 1-vCPU guest: mean %.1f us, worst "
	       "%llu us over %d rounds   thread ping-pong %.1f us (x%.1f)\n",
	       (double)total / rounds, (unsigned long long)worst, rounds,
	       base, base > 0 ? (double)total / rounds / base : 0.0);
	stop(&h);
}

static void bench_save(uint64_t mib)
{
	struct helper h, r;
	struct save_result res;
	char path[] = "/tmp/colo-bench.XXXXXX", err[256];
	uint64_t t0, save_us, load_us;
	int fd;

	/* Fill most of RAM so few pages are skipped as zero. */
	if (start(&h, "counter", mib, "pages=0", DIRTY_MODE_BITMAP) < 0)
		return;
	util_sleep_ms(200);
	vm_pause(&h.vm, VM_PAUSE_SNAPSHOT);
	for (uint64_t p = 256; p < h.vm.mem.npages; p++)
		memset(h.vm.mem.base + p * 4096, (int)(p & 0xff) | 1, 4096);
	fd = mkstemp(path);
	unlink(path);
	t0 = util_mono_us();
	if (savevm_write(&h, fd, &res, err, sizeof(err)) < 0) {
		printf("save failed: %s\n", err);
		close(fd);
		stop(&h);
		return;
	}
	save_us = util_mono_us() - t0;
	lseek(fd, 0, SEEK_SET);
	memset(&r, 0, sizeof(r));
	r.opts.run_dir = "/tmp";
	console_init(&r.console, NULL);
	t0 = util_mono_us();
	if (savevm_restore(&r, fd, err, sizeof(err)) < 0)
		printf("restore failed: %s\n", err);
	load_us = util_mono_us() - t0;
	close(fd);
	printf("save    %5llu MiB: %6.0f MB/s   restore (incl. VM creation) "
	       "%6.0f MB/s   memcpy of RAM %6.0f MB/s\n",
	       (unsigned long long)mib, (double)res.bytes / (double)save_us,
	       (double)res.bytes / (double)load_us,
	       (double)(mib << 20) / memcpy_us((mib << 20) / 4096));
	stop(&r);
	stop(&h);
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[] = { 256, 1024 };
	static const uint64_t counts[] = { 1000, 10000, 50000 };

	/* The domain XML wants an absolute kernel path. */
	guest_dir = realpath(argc > 1 ? argv[1] : "tests/guests", NULL);
	if (!guest_dir) {
		perror(argc > 1 ? argv[1] : "tests/guests");
		return 1;
	}
	log_init("dh-bench", LOG_TO_STDERR, NULL, LOG_LVL_ERROR);
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		printf("dh-bench: /dev/kvm is not usable; skipped\n");
		return 77;
	}
	printf("== dirty harvest (KVM log + device-model bitmap), VM paused\n");
	for (size_t s = 0; s < 2; s++)
		for (size_t c = 0; c < 3; c++) {
			if (counts[c] * 4096 + (16u << 20) > sizes[s] << 20)
				continue;
			bench_harvest(sizes[s], counts[c], DIRTY_MODE_BITMAP);
			bench_harvest(sizes[s], counts[c], DIRTY_MODE_RING);
		}
	printf("== pause and resume\n");
	bench_pause();
	printf("== save and restore (to /tmp)\n");
	bench_save(256);
	bench_save(1024);
	return 0;
}
