/*
 * daemon_helper.c - small tools for the in-VM nanotimed test
 * (ktests/vm/daemon_vm_test.sh) and the demo stage (tools/demo/daemon-stage.sh).
 *
 *   nc_daemon_helper truth FILE UNIT
 *       Reference time independent of CLOCK_REALTIME: at start, remember
 *       (CLOCK_REALTIME, CLOCK_MONOTONIC_RAW) in FILE; from then on "true time"
 *       is that realtime plus the MONOTONIC_RAW interval since, i.e. what an
 *       undisturbed CLOCK_REALTIME would read. Every 250 ms the pair (true
 *       time, CLOCK_REALTIME) goes into ntpd's SHM refclock segment UNIT
 *       (key 0x4e545030 + UNIT), so chronyd -x serves true time even while
 *       nanotimed steers CLOCK_REALTIME. Runs until killed.
 *   nc_daemon_helper cmp DEVICE [FILE]
 *       Prints "nanoclock_minus_realtime_ns N delay_ns D" (best of 20
 *       back-to-back reads) and, with FILE, "nanoclock_minus_true_ns N
 *       realtime_minus_true_ns N".
 *   nc_daemon_helper unsync DEVICE
 *       Marks the clock unsynchronised (STA_UNSYNC, its PLL and FLL off,
 *       maximum error 16 s), as a freshly loaded module is: the demo's
 *       earlier stages leave it synchronised, and a clock put 3 ms off must
 *       not claim otherwise (CLOCK_REALTIME steering would follow it at once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#define FD_TO_CLOCKID(fd) ((clockid_t)((~(unsigned int)(fd) << 3) | 3))

/* ntpd's refclock_shm.c layout, as chrony's refclock_shm.c reads it. */
struct shm_time {
	int mode;
	volatile int count;
	time_t clock_sec;
	int clock_usec;
	time_t receive_sec;
	int receive_usec;
	int leap;
	int precision;
	int nsamples;
	volatile int valid;
	unsigned clock_nsec;
	unsigned receive_nsec;
	int dummy[8];
};

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int read_truth(const char *file, int64_t *rt0, int64_t *raw0)
{
	FILE *f = fopen(file, "r");
	long long a, b;
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%lld %lld", &a, &b) == 2;
	fclose(f);
	if (!ok)
		return -1;
	*rt0 = a;
	*raw0 = b;
	return 0;
}

/* true time now, from the origin pair */
static int64_t true_ns(int64_t rt0, int64_t raw0)
{
	return rt0 + (ns_of(CLOCK_MONOTONIC_RAW) - raw0);
}

/*
 * The origin of the truth: CLOCK_REALTIME read between two
 * CLOCK_MONOTONIC_RAW reads, the tightest of 20 tries. A single pair of reads
 * would put the truth off CLOCK_REALTIME by however long the process was
 * preempted between them (7 ms seen under TCG on a loaded host).
 */
static void truth_origin(int64_t *rt0, int64_t *raw0)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 20; i++) {
		int64_t r1 = ns_of(CLOCK_MONOTONIC_RAW);
		int64_t rt = ns_of(CLOCK_REALTIME);
		int64_t r2 = ns_of(CLOCK_MONOTONIC_RAW);

		if (r2 - r1 >= 0 && r2 - r1 < best) {
			best = r2 - r1;
			*raw0 = r1 + (r2 - r1) / 2;
			*rt0 = rt;
		}
	}
}

static int truth(const char *file, int unit)
{
	int64_t raw0 = 0, rt0 = 0;
	struct shm_time *shm;
	FILE *f;
	int id;

	truth_origin(&rt0, &raw0);
	f = fopen(file, "w");
	if (!f || fprintf(f, "%lld %lld\n", (long long)rt0, (long long)raw0) < 0 || fclose(f)) {
		perror(file);
		return 1;
	}
	id = shmget((key_t)(0x4e545030 + unit), sizeof(*shm), IPC_CREAT | 0600);
	if (id < 0) {
		perror("shmget");
		return 1;
	}
	shm = shmat(id, NULL, 0);
	if (shm == (void *)-1) {
		perror("shmat");
		return 1;
	}
	for (;;) {
		/* realtime read between two raw reads: the truth at its midpoint */
		int64_t r1 = ns_of(CLOCK_MONOTONIC_RAW);
		int64_t rt = ns_of(CLOCK_REALTIME);
		int64_t r2 = ns_of(CLOCK_MONOTONIC_RAW);
		int64_t t = rt0 + (r1 + (r2 - r1) / 2 - raw0);

		shm->mode = 1;
		shm->count++;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		shm->clock_sec = t / 1000000000;
		shm->clock_nsec = (unsigned)(t % 1000000000);
		shm->clock_usec = (int)(shm->clock_nsec / 1000);
		shm->receive_sec = rt / 1000000000;
		shm->receive_nsec = (unsigned)(rt % 1000000000);
		shm->receive_usec = (int)(shm->receive_nsec / 1000);
		shm->leap = 0;
		shm->precision = -20;
		shm->nsamples = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		shm->count++;
		shm->valid = 1;
		usleep(250000);
	}
}

static int cmp(const char *device, const char *file)
{
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	int64_t best_delay = INT64_MAX, best_off = 0, rt0, raw0;
	clockid_t id;

	if (fd < 0) {
		perror(device);
		return 1;
	}
	id = FD_TO_CLOCKID(fd);
	for (int i = 0; i < 20; i++) {
		int64_t t1 = ns_of(CLOCK_REALTIME);
		int64_t n = ns_of(id);
		int64_t t2 = ns_of(CLOCK_REALTIME);

		if (!t1 || !n || !t2) {
			fprintf(stderr, "cannot read the clocks\n");
			return 1;
		}
		if (t2 - t1 >= 0 && t2 - t1 < best_delay) {
			best_delay = t2 - t1;
			best_off = n - (t1 + (t2 - t1) / 2);
		}
	}
	printf("nanoclock_minus_realtime_ns %lld delay_ns %lld\n", (long long)best_off,
	       (long long)best_delay);
	if (file) {
		if (read_truth(file, &rt0, &raw0)) {
			fprintf(stderr, "%s: no origin\n", file);
			return 1;
		}
		best_delay = INT64_MAX;
		int64_t nt = 0, rtt = 0;
		for (int i = 0; i < 20; i++) {
			int64_t a = true_ns(rt0, raw0);
			int64_t n = ns_of(id);
			int64_t r = ns_of(CLOCK_REALTIME);
			int64_t b = true_ns(rt0, raw0);

			if (b - a >= 0 && b - a < best_delay) {
				best_delay = b - a;
				nt = n - (a + (b - a) / 2);
				rtt = r - (a + (b - a) / 2);
			}
		}
		printf("nanoclock_minus_true_ns %lld realtime_minus_true_ns %lld\n", (long long)nt,
		       (long long)rtt);
	}
	close(fd);
	return 0;
}

static int unsync(const char *device)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);
	struct timex tx = { 0 };

	if (fd < 0) {
		perror(device);
		return 1;
	}
	if (clock_adjtime(FD_TO_CLOCKID(fd), &tx) < 0) {
		perror("clock_adjtime (read)");
		close(fd);
		return 1;
	}
	tx.modes = ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
	tx.status = (tx.status | STA_UNSYNC) & ~(STA_PLL | STA_FLL);
	tx.maxerror = 16000000;	/* us: NTP_PHASE_LIMIT's 16 s */
	tx.esterror = 16000000;
	if (clock_adjtime(FD_TO_CLOCKID(fd), &tx) < 0) {
		perror("clock_adjtime (STA_UNSYNC)");
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "truth"))
		return truth(argv[2], atoi(argv[3]));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "cmp"))
		return cmp(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "unsync"))
		return unsync(argv[2]);
	fprintf(stderr, "usage: %s truth FILE UNIT | cmp DEVICE [FILE] | unsync DEVICE\n",
		argv[0]);
	return 2;
}
