// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy and signals: a copy is interruptible, a caller can always be
 * killed, and a worker stalled in another process's page fault (here a
 * userfaultfd that nobody serves) neither keeps its caller from dying nor
 * stays stuck for the copies after it. Runs four ways like xpcopy_copy.
 */
#include <dirent.h>
#include <sys/time.h>

#include "xpcopy_test.h"

#define SEED_L	0x51a1ULL	/* the copier's local buffer */
#define SEED_N	0x0b0e1ULL	/* the target's normal buffer */
#define SEED_U	0xfa017ULL	/* what a resolved userfault page holds */
#define SEED_B	0xb16ULL	/* large copies */

#define BIG_LEN		(256 * MiB)
#define SMALL_LEN	(64 * KiB)
#define MAX_KIDS	32

FIXTURE(sig)
{
	int fd;
	size_t page;
	uint64_t batch;
	uint32_t nr_workers;
	struct xp_target t;
	pid_t kids[MAX_KIDS];	/* copiers, killed in teardown */
	int nkids;
	/* the target's memory, mapped before it is forked */
	uint8_t *uffd_region;	/* registered with its userfaultfd */
	uint8_t *normal;	/* SMALL_LEN, SEED_N */
	uint8_t *local;		/* SMALL_LEN, SEED_L: the copier's side */
};

FIXTURE_VARIANT(sig)
{
	__u32 flags;
	bool read;
	bool bounce;
};

FIXTURE_VARIANT_ADD(sig, write)
{
	.flags = XPCOPY_COPY_WRITE,
};

FIXTURE_VARIANT_ADD(sig, read)
{
	.flags = XPCOPY_COPY_READ,
	.read = true,
};

FIXTURE_VARIANT_ADD(sig, write_bounce)
{
	.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_BOUNCE,
	.bounce = true,
};

FIXTURE_VARIANT_ADD(sig, read_bounce)
{
	.flags = XPCOPY_COPY_READ | XPCOPY_COPY_BOUNCE,
	.read = true,
	.bounce = true,
};

FIXTURE_SETUP(sig)
{
	struct xpcopy_features f;

	xp_target_init(&self->t);
	self->nkids = 0;
	XPCOPY_OPEN_OR_SKIP(self->fd);
	self->page = xp_page_size();
	ASSERT_EQ(0, xp_features(self->fd, &f));
	self->batch = f.batch_pages;
	self->nr_workers = f.nr_workers;
	self->normal = xp_map_filled(SMALL_LEN, SEED_N);
	self->local = xp_map_filled(SMALL_LEN, SEED_L);
	ASSERT_NE(NULL, self->normal);
	ASSERT_NE(NULL, self->local);
	self->uffd_region = NULL;
}

FIXTURE_TEARDOWN(sig)
{
	for (int i = 0; i < self->nkids; i++) {
		int status;

		if (self->kids[i] > 0) {
			kill(self->kids[i], SIGKILL);
			waitpid(self->kids[i], &status, 0);
		}
	}
	xp_target_kill(&self->t);
	close(self->fd);
}

static void forget_kid(FIXTURE_DATA(sig) *self, pid_t pid)
{
	for (int i = 0; i < self->nkids; i++)
		if (self->kids[i] == pid)
			self->kids[i] = -1;
}

/*
 * Send @sig to copier @pid at *@t0 and wait up to 5 s for it to be reaped,
 * until *@t1; one still alive then is killed and reaped. Returns what the
 * wait returned: @pid, or 0 when it was still alive.
 */
static pid_t signal_copier(struct __test_metadata *_metadata,
			   FIXTURE_DATA(sig) *self, pid_t pid, int sig,
			   int *status, int64_t *t0, int64_t *t1)
{
	pid_t w;

	*t0 = xp_now_ns();
	ASSERT_EQ(0, kill(pid, sig));
	w = xp_waitpid_ms(pid, status, 5000);
	*t1 = xp_now_ns();
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, status, 0);
	}
	forget_kid(self, pid);
	return w;
}

/* What a forked copier reports. */
struct copier_res {
	volatile int started;
	volatile int handled;		/* signals its handler caught */
	int ret;
	__u64 copied;
	long long diff;			/* READ: local bytes wrong at, or -1 */
	int64_t t_ret;			/* when the ioctl returned */
};

static struct copier_res *the_res;

static void count_signal(int sig)
{
	(void)sig;
	if (the_res)
		the_res->handled++;
}

static struct copier_res *shared_res(void)
{
	void *p = mmap(NULL, sizeof(struct copier_res), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(struct copier_res));
	((struct copier_res *)p)->ret = INT_MIN;
	((struct copier_res *)p)->diff = -2;
	return p;
}

/*
 * Fork a copier: it catches @catch_sig (when non-zero) with a handler
 * installed without SA_RESTART, then copies @len bytes between its @local
 * and the target's @remote, in the variant's direction. For a READ it
 * checks what it got against pattern @check_seed from @check_start (when
 * @check_seed is non-zero).
 */
static pid_t start_copier(FIXTURE_DATA(sig) *self,
			  const FIXTURE_VARIANT(sig) *variant,
			  struct copier_res *res, uint8_t *local,
			  uint64_t remote, size_t len, int catch_sig,
			  uint64_t check_seed, uint64_t check_start)
{
	pid_t pid;

	pid = xp_fork();
	if (pid == 0) {
		__u64 copied = 0;

		if (catch_sig) {
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = count_signal;
			sa.sa_flags = 0;	/* no SA_RESTART */
			sigemptyset(&sa.sa_mask);
			the_res = res;
			if (sigaction(catch_sig, &sa, NULL))
				_exit(20);
		}
		res->started = 1;
		res->ret = xp_copy1(self->fd, variant->flags, self->t.pid,
				    local, len, remote, len, &copied);
		res->t_ret = xp_now_ns();
		res->copied = copied;
		if (variant->read && check_seed && res->ret == 0)
			res->diff = xp_check(local, copied, check_seed,
					     check_start);
		_exit(0);
	}
	if (pid > 0 && self->nkids < MAX_KIDS)
		self->kids[self->nkids++] = pid;
	return pid;
}

/* Wait (up to 5 s) until a copier is about to call the ioctl. */
static bool copier_started(struct copier_res *res)
{
	for (int i = 0; i < 5000 && !res->started; i++)
		usleep(1000);
	return res->started;
}

/*
 * A normal copy between the test's local buffer and the target's normal
 * buffer, in a child with a deadline: a worker left stuck by an earlier
 * test step would hang it.
 */
static void normal_copy_works(struct __test_metadata *_metadata,
			      FIXTURE_DATA(sig) *self,
			      const FIXTURE_VARIANT(sig) *variant)
{
	struct copier_res *res = shared_res();
	int status = 0;
	pid_t pid, w;

	ASSERT_NE(NULL, res);
	pid = start_copier(self, variant, res, self->local,
			   xp_ptr(self->normal), SMALL_LEN, 0, SEED_N, 0);
	ASSERT_LT(0, pid);
	w = xp_waitpid_ms(pid, &status, 10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	forget_kid(self, pid);
	ASSERT_EQ(pid, w) TH_LOG("a normal copy did not finish within 10 s: is a worker stuck?");
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, res->ret) TH_LOG("normal copy: %s", strerror(-res->ret));
	EXPECT_EQ((__u64)SMALL_LEN, res->copied);
	if (variant->read) {
		EXPECT_EQ(-1, res->diff);
	} else {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(self->normal),
						 SMALL_LEN, SEED_L, 0));
	}
	munmap(res, sizeof(*res));
}

/* ---- a signal during a large copy ---- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * A SIGALRM handler without SA_RESTART and an interval timer: the first
 * signal after @first_us, then one every millisecond, during a 256 MiB copy
 * from a pattern into a fresh mapping. Returns the copy's result; bytes
 * copied are checked against the pattern, counters around it.
 */
static int timer_copy(struct __test_metadata *_metadata,
		      FIXTURE_DATA(sig) *self,
		      const FIXTURE_VARIANT(sig) *variant, long first_us,
		      __u64 *copied)
{
	bool rd = variant->read;
	uint8_t *loc, *rem;
	struct itimerval it = {
		.it_interval = { 0, 1000 },
		.it_value = { first_us / 1000000, first_us % 1000000 },
	};
	struct itimerval off = { 0 };
	struct sigaction sa;
	struct xp_stats s0 = { 0 }, s1 = { 0 };
	int ret;

	*copied = 0;
	loc = xp_map(BIG_LEN, PROT_READ | PROT_WRITE);
	rem = xp_map(BIG_LEN, PROT_READ | PROT_WRITE);
	if (!loc || !rem)
		return INT_MIN;
	xp_fill(rd ? rem : loc, BIG_LEN, SEED_B, 0);
	if (xp_target_start(&self->t, NULL, 0, NULL, NULL))
		return INT_MIN;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;		/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || xp_stats_read(&s0))
		return INT_MIN;
	alarms = 0;
	if (setitimer(ITIMER_REAL, &it, NULL))
		return INT_MIN;
	ret = xp_copy1(self->fd, variant->flags, self->t.pid, loc, BIG_LEN,
		       xp_ptr(rem), BIG_LEN, copied);
	setitimer(ITIMER_REAL, &off, NULL);

	XP_EXPECT_PINS_BACK_TO(s0, s1, 1000);
	EXPECT_EQ(ret == 0 ? *copied : 0ULL, s1.bytes - s0.bytes);
	if (ret == 0 && *copied <= BIG_LEN) {
		if (rd) {
			EXPECT_EQ(-1, xp_check(loc, *copied, SEED_B, 0));
		} else {
			EXPECT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(rem),
							 *copied, SEED_B, 0));
		}
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(loc, BIG_LEN);
	munmap(rem, BIG_LEN);
	return ret;
}

/*
 * Either EINTR with nothing copied, or success with a short count whose
 * bytes are right. Never the whole copy: signals keep coming.
 */
TEST_F_TIMEOUT(sig, timer_interrupts_large_copy, 100)
{
	__u64 copied = 0;
	int ret;

	ret = timer_copy(_metadata, self, variant, 1000, &copied);
	ASSERT_NE(INT_MIN, ret) TH_LOG("setup failed: %s", strerror(errno));
	EXPECT_LE(1, alarms);
	if (ret == -EINTR) {
		TH_LOG("EINTR before any byte was copied");
	} else {
		ASSERT_EQ(0, ret) TH_LOG("copy: %s", strerror(-ret));
		TH_LOG("short count %llu of %llu after %d signals",
		       (unsigned long long)copied,
		       (unsigned long long)BIG_LEN, (int)alarms);
		EXPECT_LT(0ULL, copied);
		EXPECT_GT(BIG_LEN, copied) TH_LOG("signals did not stop the copy");
	}
}

/* SIGKILL during a large copy: the caller dies promptly, pins are
 * dropped, and copies still work after. */
TEST_F_TIMEOUT(sig, sigkill_during_large_copy, 100)
{
	struct copier_res *res = shared_res();
	uint8_t *loc, *rem;
	int64_t t0, t1;
	int status = 0;
	pid_t pid, w;

	ASSERT_NE(NULL, res);
	loc = xp_map(BIG_LEN, PROT_READ | PROT_WRITE);
	rem = xp_map(BIG_LEN, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, loc);
	ASSERT_NE(NULL, rem);
	xp_fill(variant->read ? rem : loc, BIG_LEN, SEED_B, 0);
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));

	pid = start_copier(self, variant, res, loc, xp_ptr(rem), BIG_LEN, 0,
			   0, 0);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(copier_started(res));
	xp_sleep_ms(5);
	w = signal_copier(_metadata, self, pid, SIGKILL, &status, &t0, &t1);
	ASSERT_EQ(pid, w) TH_LOG("copier still alive 5 s after SIGKILL");
	if (WIFEXITED(status) && res->ret == 0 && res->copied == BIG_LEN)
		SKIP(goto out, "the copy finished before the kill");
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_GT(1000000000LL, t1 - t0)
		TH_LOG("waitpid returned %lld ms after SIGKILL",
		       (long long)((t1 - t0) / 1000000));
	EXPECT_EQ(0ULL, xp_wait_unpinned(2000)) TH_LOG("pages still pinned");
	normal_copy_works(_metadata, self, variant);
out:
	EXPECT_EQ(0, xp_target_stop(&self->t));
	munmap(loc, BIG_LEN);
	munmap(rem, BIG_LEN);
}

/* ---- userfaultfd: a target that never serves its faults ---- */

/*
 * Start a copier at the target's unserved userfaultfd region, see its
 * worker fault there, give it 300 ms, then send @sig and time how long the
 * copier takes to be reaped (SIGKILL) or to come out of the ioctl (a
 * caught signal: EINTR, nothing was copied).
 */
static void stall_then_signal(struct __test_metadata *_metadata,
			      FIXTURE_DATA(sig) *self,
			      const FIXTURE_VARIANT(sig) *variant, int sig)
{
	struct copier_res *res = shared_res();
	struct xp_tevent ev;
	int64_t t0, t1;
	int status = 0;
	pid_t pid, w;
	int r;

	ASSERT_NE(NULL, res);
	xp_target_drain_events(&self->t);
	pid = start_copier(self, variant, res, self->local,
			   xp_ptr(self->uffd_region) + 64, SMALL_LEN,
			   sig == SIGKILL ? 0 : sig, 0, 0);
	ASSERT_LT(0, pid);

	/* the target sees its worker's fault */
	r = xp_poll_in(self->t.evt_rd, 10000);
	if (r != 1) {
		w = waitpid(pid, &status, WNOHANG);
		ASSERT_EQ(1, r)
			TH_LOG("no userfault within 10 s; copier %s (ret %d, copied %llu)",
			       w == pid ? "returned" : "still running",
			       res->ret, (unsigned long long)res->copied);
	}
	ASSERT_EQ(0, xp_read_full(self->t.evt_rd, &ev, sizeof(ev)));
	EXPECT_LE(xp_ptr(self->uffd_region), ev.address);
	EXPECT_GT(xp_ptr(self->uffd_region) + XP_UFFD_LEN, ev.address);

	xp_sleep_ms(300);
	w = waitpid(pid, &status, WNOHANG);
	ASSERT_EQ(0, w) TH_LOG("copier returned %d, copied %llu, with the fault unresolved",
			       res->ret, (unsigned long long)res->copied);

	w = signal_copier(_metadata, self, pid, sig, &status, &t0, &t1);
	ASSERT_EQ(pid, w) TH_LOG("copier still blocked 5 s after signal %d",
				 sig);
	EXPECT_GT(1000000000LL, t1 - t0)
		TH_LOG("copier reaped %lld ms after signal %d",
		       (long long)((t1 - t0) / 1000000), sig);
	if (sig == SIGKILL) {
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	} else {
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		EXPECT_EQ(1, res->handled);
		EXPECT_EQ(-EINTR, res->ret)
			TH_LOG("ioctl returned %d, copied %llu", res->ret,
			       (unsigned long long)res->copied);
		EXPECT_GT(1000000000LL, res->t_ret - t0)
			TH_LOG("ioctl returned %lld ms after the signal",
			       (long long)((res->t_ret - t0) / 1000000));
	}
	munmap(res, sizeof(*res));
}

/*
 * How many stalls to kill in a row: one more than there are workers, so
 * that if each abandoned stall kept a worker, none would be left for the
 * normal copy after.
 */
static int stall_rounds(FIXTURE_DATA(sig) *self)
{
	return (self->nr_workers < 8 ? (int)self->nr_workers : 8) + 1;
}

/*
 * The xpcopy/N worker threads not idle (state I, waiting for work), with
 * their pids and states in @which, waiting up to @ms for none: a worker
 * still stalled in a fault is in D (the hung-task watchdog reports that
 * once it lasts) or S. Returns how many, -1 when there are no workers.
 */
struct busy_arg {
	char *which;
	size_t len, used;
	int busy;
};

static int note_busy(const char *id, void *arg)
{
	struct busy_arg *a = arg;
	char state = xp_task_state("/proc", id);

	if (state && state != 'I') {
		a->busy++;
		a->used += snprintf(a->which + a->used, a->len - a->used,
				    "%.20s:%c ", id, state);
		if (a->used >= a->len)
			a->used = a->len - 1;
	}
	return 0;
}

static int workers_busy(unsigned int ms, char *which, size_t len)
{
	for (unsigned int waited = 0;; waited += 50) {
		struct busy_arg a = { .which = which, .len = len };
		int seen;

		which[0] = 0;
		seen = xp_scan_tasks("/proc", "xpcopy/", note_busy, &a);
		if (seen <= 0)
			return -1;
		if (!a.busy || waited >= ms)
			return a.busy;
		xp_sleep_ms(50);
	}
}

TEST_F_TIMEOUT(sig, uffd_sigkill_copier, 100)
{
	char which[256];
	int rounds;

	XP_START_UFFD_TARGET();
	rounds = stall_rounds(self);
	for (int i = 0; i < rounds; i++) {
		TH_LOG("round %d of %d", i + 1, rounds);
		stall_then_signal(_metadata, self, variant, SIGKILL);
	}
	/* workers gave up (all idle: none left in D, which the hung-task
	 * watchdog would report after 30 s) and dropped the dead copiers'
	 * pins, while the target still has its faults pending */
	EXPECT_EQ(0, workers_busy(1000, which, sizeof(which)))
		TH_LOG("xpcopy workers not idle 1 s after the kills (pid:state): %s",
		       which);
	EXPECT_EQ(0ULL, xp_wait_unpinned(2000)) TH_LOG("pages still pinned");
	normal_copy_works(_metadata, self, variant);
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

TEST_F_TIMEOUT(sig, uffd_signal_copier_eintr, 100)
{
	int rounds;

	XP_START_UFFD_TARGET();
	rounds = stall_rounds(self);
	for (int i = 0; i < rounds; i++) {
		TH_LOG("round %d of %d", i + 1, rounds);
		stall_then_signal(_metadata, self, variant, SIGUSR1);
	}
	EXPECT_EQ(0ULL, xp_wait_unpinned(2000)) TH_LOG("pages still pinned");
	normal_copy_works(_metadata, self, variant);
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

/*
 * The control: the same copy completes once the target serves its faults
 * (each missing page filled with pattern SEED_U), and the bytes are right.
 */
TEST_F_TIMEOUT(sig, uffd_resolved_copy_completes, 60)
{
	const size_t off = 100, len = XP_UFFD_LEN - 200;
	uint8_t *loc;
	__u64 copied = 0;
	int ret;

	loc = xp_map_filled(len, SEED_L);
	ASSERT_NE(NULL, loc);
	XP_START_UFFD_TARGET();
	ASSERT_EQ(0, xp_target_cmd(&self->t, XP_T_UFFD_RESOLVE, 0, 0, SEED_U,
				   0));
	ret = xp_copy1(self->fd, variant->flags, self->t.pid, loc, len,
		       xp_ptr(self->uffd_region) + off, len, &copied);
	ASSERT_EQ(0, ret) TH_LOG("%s", strerror(-ret));
	EXPECT_EQ(len, copied);
	EXPECT_LE(1, xp_target_drain_events(&self->t))
		TH_LOG("the region never faulted");
	if (variant->read) {
		EXPECT_EQ(-1, xp_check(loc, len, SEED_U, off));
	} else {
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(self->uffd_region), off, SEED_U, 0));
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(self->uffd_region) + off, len,
				SEED_L, 0));
		EXPECT_EQ(-1, xp_target_patcheck(&self->t,
				xp_ptr(self->uffd_region) + off + len,
				XP_UFFD_LEN - off - len, SEED_U, off + len));
	}
	EXPECT_EQ(0, xp_target_stop(&self->t));
}

TEST_HARNESS_MAIN
