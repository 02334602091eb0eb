// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy fuzzer: random commands, flags, struct sizes (smaller than the
 * first version, oversize with a zero or non-zero tail, past a page), struct
 * and iovec pointers (valid, NULL, kernel, inaccessible), iovec counts (0 to
 * past XPCOPY_IOV_MAX), fds (grants of our own, derived, of another
 * process, closed, pipes, eventfds, the device) and sizes, from several
 * threads, while a chaos thread munmaps, mremaps (moving, DONTUNMAP,
 * shrinking), mprotects, MADV_DONTNEEDs the memory being copied, forks
 * (children that touch memory pinned by copies, and children killed in the
 * middle of a copy of their own), signals the fuzzing threads and kills
 * the target; the target itself, a
 * fresh image of this binary, reshuffles its memory the same way, executes
 * itself again and exits.
 *
 * Checks: every return is a documented errno of that command (exactly the
 * one documented when the input alone decides it: struct size, flags,
 * reserved fields, unknown command, unreadable struct), a failed copy
 * leaves xpcopy_copy.copied untouched and a successful one reports at most
 * what was asked (and something when anything was asked), copies checked
 * byte for byte (write then read back, through pid mode and through
 * grants, to ourselves and to the target) return exactly the bytes
 * written, and at the end nothing stays pinned and pins taken equal pins
 * released. The runner checks the kernel log after the case.
 *
 * Deterministic from the seed it prints (each thread's choices are drawn
 * from its own generator; the interleaving is not). Environment:
 *
 *	XPCOPY_FUZZ_SEED	the seed (default: from the clock)
 *	XPCOPY_FUZZ_SECONDS	how long to run (default 20; 0: no limit)
 *	XPCOPY_FUZZ_COPIES	stop after this many successful copies
 *				(default 0: no limit); "soak" mode: copies
 *				of valid shapes and mixed sizes dominate
 *	XPCOPY_FUZZ_THREADS	fuzzing threads (default 3, at most 4)
 *
 * make check runs it for 20 s; make fuzz FUZZ_SECONDS=n and make soak
 * (a million copies) boot a guest that runs only this.
 */
#include "fuzz.h"
#include "xpcopy_test.h"

static int64_t now_s(void)
{
	return xp_now_ns() / 1000000000LL;
}

static bool done(void)
{
	if (F.stop)
		return true;
	if (F.want_copies &&
	    __atomic_load_n(&F.copies, __ATOMIC_RELAXED) >= F.want_copies)
		return true;
	return F.deadline && xp_now_ns() >= F.deadline;
}

static void *fuzz_thread(void *arg)
{
	struct tctx *c = arg;

	F.tid[c->idx] = (pid_t)syscall(SYS_gettid);
	while (!done()) {
		unsigned int k = rnd_below(&c->r, 100);

		if (F.soak) {
			if (k < 60)
				op_copy(c);
			else if (k < 90)
				op_check(c);
			else if (k < 94)
				op_grant(c);
			else if (k < 96)
				op_derive(c);
			else if (k < 98)
				op_revoke_info(c, k & 1);
			else
				fd_close_random(&c->r);
			continue;
		}
		if (k < 40)
			op_copy(c);
		else if (k < 52)
			op_check(c);
		else if (k < 62)
			op_grant(c);
		else if (k < 70)
			op_derive(c);
		else if (k < 75)
			op_revoke_info(c, true);
		else if (k < 80)
			op_revoke_info(c, false);
		else if (k < 84)
			op_features(c);
		else if (k < 87)
			op_badcmd(c);
		else if (k < 91)
			op_read(c);
		else if (k < 95)
			fd_close_random(&c->r);
		else
			other_fd(c);
	}
	return NULL;
}

/* ---- the target, from the caller's side ---- */

static pid_t target_spawn(uint64_t seed)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		target_exec(xp_ptr(F.area), seed);
	}
	return pid;
}

/* Reap the target if it is gone (or kill it first); start another. */
static void target_cycle(struct rng *r, bool kill_it)
{
	pid_t old;
	int status;

	pthread_mutex_lock(&F.lock);
	old = F.target;
	pthread_mutex_unlock(&F.lock);
	if (old > 0) {
		if (kill_it)
			kill(old, SIGKILL);
		if (waitpid(old, &status, kill_it ? 0 : WNOHANG) == 0)
			return;
	}
	pthread_mutex_lock(&F.lock);
	F.target = -1;
	if (F.tfd >= 0)
		close(F.tfd);
	F.tfd = -1;
	F.tgen++;
	pthread_mutex_unlock(&F.lock);
	old = target_spawn(rnd(r));
	pthread_mutex_lock(&F.lock);
	F.target = old;
	pthread_mutex_unlock(&F.lock);
}

/* Take one of the target's grants with pidfd_getfd(). */
static void target_getfd(struct rng *r)
{
	int pidfd, fd, num;
	pid_t t;

	pthread_mutex_lock(&F.lock);
	t = F.target;
	pthread_mutex_unlock(&F.lock);
	if (t <= 0)
		return;
	pidfd = (int)syscall(__NR_pidfd_open, t, 0);
	if (pidfd < 0)
		return;
	num = chance(r, 30) ? T_STABLE_FD : T_GRANT_FD + rnd_below(r, T_NGRANTS);
	fd = (int)syscall(__NR_pidfd_getfd, pidfd, num, 0);
	close(pidfd);
	if (fd < 0)
		return;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	add(&F.ev_getfd, 1);
	if (num == T_STABLE_FD) {
		fd = high_fd(fd, 990);
		if (fd < 0)
			return;
		pthread_mutex_lock(&F.lock);
		if (F.tfd >= 0)
			close(F.tfd);
		F.tfd = fd;
		pthread_mutex_unlock(&F.lock);
	} else {
		fd_add(fd, FD_GRANT_TARGET);
	}
}

static void chaos_step(struct rng *r)
{
	unsigned int k = rnd_below(r, 100);
	int status;

	if (k < 35) {
		shuffle(F.area, r);
		add(&F.ev_shuffle, 1);
	} else if (k < 55) {
		int i = rnd_below(r, F.nthreads);

		if (F.tid[i] > 0 &&
		    syscall(SYS_tgkill, getpid(), F.tid[i], SIGUSR1) == 0)
			add(&F.ev_signal, 1);
	} else if (k < 65) {
		bool copier = k & 1;
		pid_t pid = fork();

		if (pid == 0 && copier) {
			/* a copier killed in the middle of a large copy */
			struct xpcopy_iovec v = { xp_ptr(F.area), REG_LEN };

			xp_copy(F.dev, (k & 2 ? XPCOPY_COPY_READ :
					XPCOPY_COPY_WRITE) | XPCOPY_COPY_WORKER,
				F.target > 0 ? F.target : getppid(), &v, 1,
				&v, 1, NULL);
			_exit(0);
		}
		if (pid == 0) {
			/* touch our memory (copy-on-write under pins) */
			volatile uint8_t *p = at(F.area, SRC_OFF);

			*p = *p;
			_exit(0);
		}
		if (pid > 0) {
			if (copier) {
				usleep(rnd_below(r, 3000));
				kill(pid, SIGKILL);
				add(&F.ev_copier_kill, 1);
			}
			waitpid(pid, &status, 0);
			add(&F.ev_fork, 1);
		}
	} else if (k < (F.soak ? 66 : 68)) {
		target_cycle(r, true);
		add(&F.ev_kill, 1);
	} else if (k < 85) {
		target_getfd(r);
	} else {
		target_cycle(r, false);	/* restart it if it exited */
	}
}

/* ---- the test ---- */

static uint64_t env_num(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/*
 * The runner keeps a case's output until the case ends; a soak runs for an
 * hour. When XPCOPY_LIVE names a file (the guest's console), each report
 * also writes one line there as it happens.
 */
static void live(int64_t t0)
{
	const char *path = getenv("XPCOPY_LIVE");
	int64_t secs = now_s() - t0;
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	dprintf(fd, "# live: xpcopy_fuzz: %llds, %llu copies ok (%llu/s), %llu bytes, violations %llu\n",
		(long long)secs, (unsigned long long)F.copies,
		(unsigned long long)(secs > 0 ? F.copies / (uint64_t)secs : 0),
		(unsigned long long)F.bytes, (unsigned long long)F.nviol);
	close(fd);
}

static void report(struct __test_metadata *_metadata, int64_t t0)
{
	char line[1024];

	printf("# fuzz: seed=%#llx %llds: %llu copies ok, %llu bytes; %llu checked copies (%llu bytes); events: %llu memory changes, %llu forks, %llu copiers killed, %llu signals, %llu target kills, %llu grants taken from the target; violations %llu\n",
	       (unsigned long long)F.seed, (long long)(now_s() - t0),
	       (unsigned long long)F.copies, (unsigned long long)F.bytes,
	       (unsigned long long)F.checked,
	       (unsigned long long)F.checked_bytes,
	       (unsigned long long)F.ev_shuffle,
	       (unsigned long long)F.ev_fork,
	       (unsigned long long)F.ev_copier_kill,
	       (unsigned long long)F.ev_signal,
	       (unsigned long long)F.ev_kill,
	       (unsigned long long)F.ev_getfd,
	       (unsigned long long)F.nviol);
	for (int c = 0; c < C_NR; c++) {
		int n = snprintf(line, sizeof(line), "#   %-13s %9llu:", cname[c],
				 (unsigned long long)F.ops[c]);

		for (int e = 0; e < NERR; e++)
			if (F.err[c][e] && n < (int)sizeof(line) - 40)
				n += snprintf(line + n, sizeof(line) - n,
					      " %s %llu", e ? strerrorname_np(e) : "ok",
					      (unsigned long long)F.err[c][e]);
		printf("%s\n", line);
	}
	fflush(stdout);
	live(t0);
	(void)_metadata;
}

/*
 * kmemleak, when the kernel has it (the debug kernel): scan once the run is
 * over (objects younger than 5 s are not reported) and count the leaks
 * whose backtrace names the module, or an eventfd context or address space
 * a lost reference would strand.
 */
static void leak_check(struct __test_metadata *_metadata)
{
	static char buf[1 << 16];
	const char *path = "/sys/kernel/debug/kmemleak";
	ssize_t n;
	int fd;

	if (access(path, W_OK))
		return;
	xp_sleep_ms(5500);
	xp_write_str(path, "scan");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	printf("# fuzz: kmemleak: %s\n", buf[0] ? "reports below" : "no leak");
	if (strstr(buf, "xpc_") || strstr(buf, "[xpcopy]") ||
	    strstr(buf, "do_eventfd") || strstr(buf, "dup_mm") ||
	    strstr(buf, "mm_alloc"))
		violation("kmemleak reports a leak: %.200s", buf);
	if (buf[0])
		TH_LOG("kmemleak:\n%s", buf);
}

FIXTURE(fuzz)
{
	int dummy;
};

FIXTURE_SETUP(fuzz)
{
	self->dummy = 0;
}

FIXTURE_TEARDOWN(fuzz)
{
}

/* The runner's XPCOPY_TIMEOUT bounds it; the harness's own limit is far. */
TEST_F_TIMEOUT(fuzz, run, 7 * 24 * 3600)
{
	static struct tctx ctx[MAX_THREADS];
	struct xp_stats s0 = { 0 };
	struct sigaction sa;
	struct rng cr;
	uint64_t secs;
	int64_t t0, last;
	int status;

	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	F.dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (F.dev < 0)
		SKIP(return, "%s: %s (xpcopy module not loaded?)", XPCOPY_DEV,
		     strerror(errno));
	F.seed = env_num("XPCOPY_FUZZ_SEED", 0);
	if (!F.seed)
		F.seed = xp_mix((uint64_t)xp_now_ns(), getpid()) & 0xffffffffffffULL;
	secs = env_num("XPCOPY_FUZZ_SECONDS", 20);
	F.want_copies = env_num("XPCOPY_FUZZ_COPIES", 0);
	F.soak = F.want_copies != 0;
	F.nthreads = (int)env_num("XPCOPY_FUZZ_THREADS", 3);
	if (F.nthreads < 1 || F.nthreads > MAX_THREADS)
		F.nthreads = 3;
	printf("# fuzz: seed=%#llx (replay: XPCOPY_FUZZ_SEED=%#llx), %llu s, %llu copies, %d threads%s\n",
	       (unsigned long long)F.seed, (unsigned long long)F.seed,
	       (unsigned long long)secs, (unsigned long long)F.want_copies,
	       F.nthreads, F.soak ? ", soak" : "");
	fflush(stdout);

	F.area = mmap(NULL, AREA_LEN, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, F.area);
	for (unsigned int i = 0; i < NREG; i++)
		map_fixed(at(F.area, (uint64_t)i * REG_LEN), REG_LEN,
			  PROT_READ | PROT_WRITE);
	map_fixed(at(F.area, SRC_OFF), AREA_LEN - SRC_OFF,
		  PROT_READ | PROT_WRITE);
	F.tfd = -1;
	F.closed_fd = 1 << 19;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	if (!access("/sys/kernel/debug/kmemleak", W_OK))
		xp_write_str("/sys/kernel/debug/kmemleak", "clear");

	cr.seed = xp_mix(F.seed, 1000);
	cr.ctr = 0;
	target_cycle(&cr, false);
	ASSERT_LT(0, F.target);
	ASSERT_EQ(0, xp_stats_read(&s0));

	t0 = now_s();
	last = t0;
	F.deadline = secs ? xp_now_ns() + (int64_t)secs * 1000000000LL : 0;
	for (int i = 0; i < F.nthreads; i++) {
		struct tctx *c = &ctx[i];

		c->idx = i;
		c->r.seed = xp_mix(F.seed, i);
		c->r.ctr = 0;
		c->sbuf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, c->sbuf);
		ASSERT_EQ(0, mprotect(c->sbuf + 2 * 4096, 4096, PROT_NONE));
		c->liov = calloc(MAX_IOV, sizeof(*c->liov));
		c->riov = calloc(MAX_IOV, sizeof(*c->riov));
		ASSERT_NE(NULL, c->liov);
		ASSERT_NE(NULL, c->riov);
		ASSERT_EQ(0, pthread_create(&F.th[i], NULL, fuzz_thread, c));
	}
	/* This thread is the chaos. */
	while (!done()) {
		usleep(rnd_below(&cr, 2000));
		chaos_step(&cr);
		if (now_s() - last >= 30) {
			last = now_s();
			report(_metadata, t0);
		}
	}
	F.stop = 1;
	for (int i = 0; i < F.nthreads; i++) {
		/* a thread may sit in a blocking call: signal until it ends */
		while (pthread_tryjoin_np(F.th[i], NULL)) {
			syscall(SYS_tgkill, getpid(), F.tid[i], SIGUSR1);
			usleep(10000);
		}
	}
	if (F.target > 0) {
		kill(F.target, SIGKILL);
		waitpid(F.target, &status, 0);
	}
	for (int i = 0; i < NFD; i++)
		if (F.fds[i].type != FD_NONE)
			close(F.fds[i].fd);
	if (F.tfd >= 0)
		close(F.tfd);
	leak_check(_metadata);
	report(_metadata, t0);

	XP_EXPECT_PINS_BACK(s0, 5000);
	for (uint64_t i = 0; i < F.nviol && i < MAX_VIOL; i++)
		TH_LOG("violation: %s", F.viol[i]);
	EXPECT_EQ(0ULL, F.nviol) TH_LOG("replay with XPCOPY_FUZZ_SEED=%#llx",
					(unsigned long long)F.seed);
	EXPECT_LT(0ULL, F.copies);
	if (F.want_copies)
		EXPECT_LE(F.want_copies, F.copies)
			TH_LOG("the time limit came first");
	close(F.dev);
}

TEST_HARNESS_MAIN
