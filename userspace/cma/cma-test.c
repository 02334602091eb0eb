// SPDX-License-Identifier: GPL-2.0
/*
 * cma-test: tests of libxpcopy-cma, run with the library preloaded (the
 * calls below are glibc's process_vm_readv/writev, which it replaces).
 *
 *	cma-test suite LIB		TAP: the library's semantics against
 *					targets it spawns (with LIB preloaded
 *					or not); needs ptrace_scope 3
 *	cma-test semantics LIB		TAP: the suite's cases that compare
 *					with the system call, alone; any
 *					ptrace_scope (0 compares every row)
 *	cma-test deny-cma PROG ARGS...	run PROG under a seccomp filter that
 *					refuses process_vm_readv/writev with
 *					EPERM (as Docker's default profile)
 *	cma-test target SEED		a target: prints
 *					"READY pid addr len guard", then obeys
 *					stdin lines (see target())
 *	cma-test read PID ADDR LEN SEED	read; exit 0 when the bytes are SEED's
 *	cma-test expect PID ADDR LEN ERRNO  read; exit 0 when it fails so
 *
 * The target's buffer holds pattern(SEED); a PROT_NONE page follows it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "xpcopy.h"

#define BUFSZ	(256 * 1024)
#define PAGE	4096

static unsigned char pattern(size_t i, unsigned int seed)
{
	return (unsigned char)(i * 7 + (i >> 8) * 3 + seed * 41 + 1);
}

static unsigned char *map_buf(unsigned char **guard)
{
	unsigned char *b = mmap(NULL, BUFSZ + PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	*guard = b + BUFSZ;
	mprotect(*guard, PAGE, PROT_NONE);
	return b;
}

static void fill(unsigned char *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i, seed);
}

static long bad_bytes(const unsigned char *b, size_t n, unsigned int seed)
{
	long bad = 0;

	for (size_t i = 0; i < n; i++)
		bad += b[i] != pattern(i, seed);
	return bad;
}

static atomic_int sleeper_tid;

static void *sleeper(void *arg)
{
	(void)arg;
	atomic_store(&sleeper_tid, (int)gettid());
	for (;;)
		pause();
	return NULL;
}

/* Start a thread that sleeps for ever; its thread id. */
static pid_t start_sleeper(void)
{
	pthread_t th;

	atomic_store(&sleeper_tid, 0);
	if (pthread_create(&th, NULL, sleeper, NULL))
		return -1;
	pthread_detach(th);
	while (!atomic_load(&sleeper_tid))
		usleep(1000);
	return atomic_load(&sleeper_tid);
}

/*
 * The target. Commands on stdin, one a line:
 *	fork SEED	the child refills its buffer with SEED, prints its
 *			READY line and sleeps
 *	exec		execute cma-test target 99 without LD_PRELOAD
 *	verify SEED	print "GOOD" when the buffer holds SEED's pattern,
 *			else "BAD n"
 *	thread		start a thread that sleeps; print "TID tid"
 *	quit		exit
 */
static int target(unsigned int seed, const char *self)
{
	unsigned char *guard, *buf = map_buf(&guard);
	char line[128];

	fill(buf, BUFSZ, seed);
	printf("READY %d %p %d %p\n", (int)getpid(), buf, BUFSZ, guard);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		unsigned int s;

		if (sscanf(line, "fork %u", &s) == 1) {
			pid_t c = fork();

			if (c == 0) {
				fill(buf, BUFSZ, s);
				printf("READY %d %p %d %p\n", (int)getpid(),
				       buf, BUFSZ, guard);
				fflush(stdout);
				for (;;)
					pause();
			}
		} else if (!strncmp(line, "exec", 4)) {
			char *argv[] = { "cma-test", "target", "99", NULL };

			unsetenv("LD_PRELOAD");
			execv(self, argv);
			perror("execv");
			return 2;
		} else if (sscanf(line, "verify %u", &s) == 1) {
			long bad = bad_bytes(buf, BUFSZ, s);

			if (bad)
				printf("BAD %ld\n", bad);
			else
				printf("GOOD\n");
			fflush(stdout);
		} else if (!strncmp(line, "thread", 6)) {
			printf("TID %d\n", (int)start_sleeper());
			fflush(stdout);
		} else if (!strncmp(line, "quit", 4)) {
			return 0;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The suite
 */

struct tgt {
	pid_t pid;
	FILE *in, *out;
	unsigned char *buf, *guard;
};

static const char *self_exe;
static const char *lib;
static int ntest, nfail;
static int spawn_stderr = -1;	/* the next target's stderr, if >= 0 */

static void tap(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (ok) {
		printf("ok %d %s\n", ntest, name);
	} else {
		nfail++;
		printf("not ok %d %s # ", ntest, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

static int read_ready(struct tgt *t)
{
	char line[160];
	int pid, len;
	void *b, *g;

	if (!fgets(line, sizeof(line), t->out) ||
	    sscanf(line, "READY %d %p %d %p", &pid, &b, &len, &g) != 4)
		return -1;
	t->pid = pid;
	t->buf = b;
	t->guard = g;
	return 0;
}

/* Start a target; @env: "NAME=value" strings to add; @preload: with LIB. */
static int spawn(struct tgt *t, unsigned int seed, int preload,
		 const char *env1, const char *env2)
{
	int in[2], out[2];
	char s[16];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	snprintf(s, sizeof(s), "%u", seed);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = { "cma-test", "target", s, NULL };

		dup2(in[0], 0);
		dup2(out[1], 1);
		if (spawn_stderr >= 0)
			dup2(spawn_stderr, 2);
		if (preload)
			setenv("LD_PRELOAD", lib, 1);
		else
			unsetenv("LD_PRELOAD");
		unsetenv("XPCOPY_CMA_ALLOW");
		unsetenv("XPCOPY_CMA_TOKEN");
		if (env1)
			putenv((char *)env1);
		if (env2)
			putenv((char *)env2);
		execv(self_exe, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in = fdopen(in[1], "w");
	t->out = fdopen(out[0], "r");
	return read_ready(t);
}

static void say(struct tgt *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(t->in, fmt, ap);
	va_end(ap);
	fflush(t->in);
}

static void stop(struct tgt *t)
{
	say(t, "quit\n");
	fclose(t->in);
	fclose(t->out);
	waitpid(t->pid, NULL, 0);
}

/*
 * Start a target that prints its library's counters at exit
 * (XPCOPY_CMA_STATS=1) into a temporary file, open as *@err.
 */
static int spawn_counted(struct tgt *t, unsigned int seed, FILE **err)
{
	int ret;

	*err = tmpfile();
	if (!*err)
		return -1;
	spawn_stderr = fileno(*err);
	ret = spawn(t, seed, 1, "XPCOPY_CMA_STATS=1", NULL);
	spawn_stderr = -1;
	return ret;
}

/* After stop(): how many times the target gave its grant away, or -1. */
static long served_count(FILE *err)
{
	char line[256];
	long served = -1;

	rewind(err);
	while (fgets(line, sizeof(line), err)) {
		const char *p = strstr(line, "grant served ");

		if (p)
			served = strtol(p + strlen("grant served "), NULL, 10);
	}
	fclose(err);
	return served;
}

static unsigned long long stat_copies(void)
{
	FILE *f = fopen("/sys/class/misc/xpcopy/stats/copies", "r");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static ssize_t rd(pid_t pid, void *l, size_t ll, const void *r, size_t rl)
{
	struct iovec lv = { l, ll }, rv = { (void *)r, rl };

	return process_vm_readv(pid, &lv, 1, &rv, 1, 0);
}

/* The read must fail with @err; bytes must not arrive. */
static void expect_fail(const char *name, pid_t pid, const void *addr,
			int err)
{
	unsigned char *b = calloc(1, BUFSZ);
	unsigned long long c0 = stat_copies();
	ssize_t n;

	errno = 0;
	n = rd(pid, b, BUFSZ, addr, BUFSZ);
	tap(n == -1 && errno == err && stat_copies() == c0, name,
	    "returned %zd errno %d (%s), wanted -1 errno %d; copies %llu -> %llu",
	    n, errno, strerror(errno), err, c0, stat_copies());
	free(b);
}

/* A process that is not @pid binds @pid's name and offers its own grant. */
struct impostor {
	int lsock, grant, dev;
};

static void *impostor_main(void *arg)
{
	struct impostor *im = arg;

	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct { char magic[8]; int32_t status; } rep = { "XPCMA-1", 0 };
		struct iovec iov = { &rep, sizeof(rep) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf) };
		char req[512];
		int c = accept(im->lsock, NULL, NULL);

		if (c < 0)
			return NULL;
		if (recv(c, req, sizeof(req), 0) > 0) {
			memset(&ctl, 0, sizeof(ctl));
			ctl.h.cmsg_level = SOL_SOCKET;
			ctl.h.cmsg_type = SCM_RIGHTS;
			ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(&ctl.h), &im->grant, sizeof(int));
			sendmsg(c, &msg, MSG_NOSIGNAL);
		}
		close(c);
	}
}

/*
 * Errors of the module about the call, not the grant, leave the cached
 * grant alone: a local range that wraps (the kernel's import_iovec() says
 * EFAULT) and a remote page that is not mapped (the module's EFAULT)
 * between two good reads; the target gives its grant away once.
 */
static void test_module_error_keeps_grant(unsigned char *l)
{
	struct iovec lv = { (void *)-1, 16 }, rv;
	ssize_t n1, n2, n3, n4;
	int e2, e3;
	long served;
	struct tgt g;
	FILE *err;

	if (spawn_counted(&g, 13, &err)) {
		tap(0, "module_error_keeps_grant", "cannot start the target");
		return;
	}
	n1 = rd(g.pid, l, PAGE, g.buf, PAGE);
	rv = (struct iovec){ g.buf, 16 };
	errno = 0;
	n2 = process_vm_readv(g.pid, &lv, 1, &rv, 1, 0);
	e2 = errno;
	errno = 0;
	n3 = rd(g.pid, l, PAGE, g.guard, PAGE);
	e3 = errno;
	n4 = rd(g.pid, l, PAGE, g.buf, PAGE);
	stop(&g);
	served = served_count(err);
	tap(n1 == PAGE && n2 == -1 && e2 == EFAULT && n3 == -1 &&
	    e3 == EFAULT && n4 == PAGE && served == 1,
	    "module_error_keeps_grant",
	    "reads %zd, %zd errno %d, %zd errno %d, %zd; grant given %ld times, wanted once",
	    n1, n2, e2, n3, e3, n4, served);
}

/*
 * One call, three answers: the library's (glibc's process_vm_readv/writev,
 * which it replaces), the kernel's (the raw system call) and the one the
 * kernel is known to give (@want_n, @want_err). The library must give the
 * known answer; so must the kernel, unless it refuses with EPERM a row
 * that reaches its task lookup (@lookup: another process) because
 * ptrace_scope forbids it, or any row when a seccomp filter refuses the
 * call (cma-test deny-cma): then only the library is compared. Such a row
 * that copies must copy through xpcopy, and a read must bring the bytes of
 * pattern(@seed) (reads are of the start of a buffer).
 */
static unsigned char *row_buf;	/* where rows read to: cleared first */

/* Does a seccomp filter refuse the system call (cma-test deny-cma)? */
static bool cma_filtered(void)
{
	return syscall(SYS_process_vm_readv, getpid(), NULL, 0UL, NULL, 0UL,
		       0UL) < 0 && errno == EPERM;
}

static void row(const char *name, bool write, pid_t pid,
		const struct iovec *lv, unsigned long lc,
		const struct iovec *rv, unsigned long rc,
		ssize_t want_n, int want_err, bool lookup, int seed)
{
	unsigned long long c0, c1;
	ssize_t n, k;
	int e, ke;
	long bad = 0;
	bool ok;

	if (row_buf)
		memset(row_buf, 0, BUFSZ);
	c0 = stat_copies();
	errno = 0;
	n = write ? process_vm_writev(pid, lv, lc, rv, rc, 0) :
		    process_vm_readv(pid, lv, lc, rv, rc, 0);
	e = errno;
	c1 = stat_copies();
	if (!write && n > 0 && seed >= 0)
		bad = bad_bytes(lv[0].iov_base, n, seed);
	errno = 0;
	k = syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv,
		    pid, lv, lc, rv, rc, 0UL);
	ke = errno;
	ok = n == want_n && (n >= 0 || e == want_err) && !bad &&
	     (n <= 0 || !lookup || c1 > c0) &&
	     ((k == want_n && (k >= 0 || ke == want_err)) ||
	      ((lookup || cma_filtered()) && k == -1 && ke == EPERM));
	tap(ok, name,
	    "library %zd errno %d (%s), %ld bad bytes, copies %llu -> %llu; kernel %zd errno %d (%s); wanted %zd errno %d",
	    n, e, strerror(e), bad, c0, c1, k, ke, strerror(ke), want_n,
	    want_n < 0 ? want_err : 0);
}

/*
 * The order of the kernel's checks (process_vm_rw()): flags, the local
 * array, no local byte (0), the remote array, no remote byte (0), the
 * task lookup by any thread's id, the copy, which stops when the local
 * side is full. @t holds pattern(@seed).
 */
static void test_kernel_order(struct tgt *t, unsigned char *l, int seed)
{
	static struct iovec many[IOV_MAX + 1];
	const size_t big = (size_t)-1 / 2;	/* 2^63 - 1 */
	struct iovec l0 = { l, 0 }, l16 = { l, 16 }, lwrap = { (void *)-1, 16 };
	struct iovec lneg = { l, (size_t)-1 }, r16 = { t->buf, 16 };
	struct iovec rneg = { t->buf, (size_t)-1 }, r0 = { t->buf, 0 };
	struct iovec rsum[4] = { { t->buf, 16 }, { t->buf, big },
				 { t->buf, big }, { t->buf, big } };
	static unsigned char mine[16];
	struct iovec own = { l + PAGE, 16 }, src = { mine, 16 };
	char line[64];
	int i, tid = -1;

	for (i = 0; i <= IOV_MAX; i++)
		many[i] = (struct iovec){ t->buf, 1 };
	row_buf = l;
	row("order_zero_local_unreadable_remote_array", false, t->pid,
	    &l0, 1, (void *)8, 1, 0, 0, false, -1);
	row("order_zero_local_remote_length_minus_1", false, t->pid,
	    &l0, 1, &rneg, 1, 0, 0, false, -1);
	row("order_zero_local_1025_remote_ranges", false, t->pid,
	    &l0, 1, many, IOV_MAX + 1, 0, 0, false, -1);
	row("order_unreadable_local_array_1025_remote_ranges", false, t->pid,
	    (void *)8, 1, many, IOV_MAX + 1, -1, EFAULT, false, -1);
	row("order_local_negative_length_unreadable_remote_array", false,
	    t->pid, &lneg, 1, (void *)8, 1, -1, EINVAL, false, -1);
	row("order_local_range_wraps_efault", false, t->pid,
	    &lwrap, 1, &r16, 1, -1, EFAULT, false, -1);
	row("order_write_local_range_wraps_efault", true, t->pid,
	    &lwrap, 1, &r16, 1, -1, EFAULT, false, -1);
	row("order_zero_remote_bytes_no_such_pid", false, INT_MAX,
	    &l16, 1, &r0, 1, 0, 0, false, -1);
	row("order_no_remote_ranges", false, t->pid,
	    &l16, 1, &r0, 0, 0, 0, false, -1);
	row("remote_lengths_sum_past_2_64_copies", false, t->pid,
	    &l16, 1, rsum, 4, 16, 0, true, seed);
	row("liovcnt_high_bits_ignored", false, t->pid,
	    &l16, (1UL << 32) | 1, &r16, 1, 16, 0, true, seed);
	say(t, "thread\n");
	if (!fgets(line, sizeof(line), t->out) ||
	    sscanf(line, "TID %d", &tid) != 1 || tid == t->pid) {
		tap(0, "thread_id_as_pid", "the target started no thread");
	} else {
		row("thread_id_as_pid", false, tid, &l16, 1, &r16, 1, 16, 0,
		    true, seed);
	}
	/* A thread of our own: the system call, always allowed. */
	/* (Under a filter, the filter's EPERM: the library cannot help.) */
	fill(mine, 16, 9);
	row("own_thread_id_as_pid", false, start_sleeper(), &own, 1, &src, 1,
	    cma_filtered() ? -1 : 16, EPERM, false, 9);
	row_buf = NULL;
}

/*
 * A parent calls into its child as soon as fork() returns, as the kernel
 * allows: 100 rounds, each a new child, every read through xpcopy (the
 * module's copies counter grows; at ptrace_scope 3 the system call would
 * be refused anyway) with the child's bytes. @l2 holds pattern(9).
 */
static void test_fork_call_at_once(unsigned char *l, unsigned char *l2)
{
	int i, rounds = 100, bad = 0, first = -1;
	unsigned long long c0, c1;
	ssize_t n, first_n = 0;
	int e, first_e = 0;
	pid_t c;

	fill(l2, PAGE, 9);
	for (i = 0; i < rounds; i++) {
		c0 = stat_copies();
		c = fork();
		if (c < 0)
			break;
		if (c == 0) {
			for (;;)
				pause();
		}
		memset(l, 0, PAGE);
		errno = 0;
		n = rd(c, l, PAGE, l2, PAGE);
		e = errno;
		c1 = stat_copies();
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		if (n != PAGE || bad_bytes(l, PAGE, 9) || c1 == c0) {
			if (first < 0) {
				first = i;
				first_n = n;
				first_e = e;
			}
			bad++;
		}
	}
	tap(i == rounds && !bad, "fork_child_called_at_once",
	    "%d of %d rounds done, %d not through xpcopy (first: round %d, returned %zd errno %d)",
	    i, rounds, bad, first, first_n, first_e);
}

static int suite(void)
{
	unsigned char *l = malloc(BUFSZ), *l2 = malloc(BUFSZ);
	unsigned long long c0, c1;
	struct tgt t, u, f;
	struct stat st;
	ssize_t n;

	printf("TAP version 13\n");
	if (!l || !l2 || spawn(&t, 5, 1, NULL, NULL)) {
		printf("Bail out! cannot start a target\n");
		return 1;
	}

	/* Whole buffer, 3 local ranges against 2 remote ones. */
	{
		struct iovec lv[3] = { { l, 1000 }, { l + 1000, 5 },
				       { l + 1005, BUFSZ - 1005 } };
		struct iovec rv[2] = { { t.buf, 77777 },
				       { t.buf + 77777, BUFSZ - 77777 } };

		memset(l, 0, BUFSZ);
		c0 = stat_copies();
		n = process_vm_readv(t.pid, lv, 3, rv, 2, 0);
		c1 = stat_copies();
		tap(n == BUFSZ && !bad_bytes(l, BUFSZ, 5) && c1 > c0,
		    "readv_consenting_through_xpcopy",
		    "returned %zd (errno %d), %ld bad bytes, copies %llu -> %llu",
		    n, errno, bad_bytes(l, BUFSZ, 5), c0, c1);
	}
	/* Write, then the target checks. */
	{
		struct iovec lv[2] = { { l, 4096 }, { l + 4096, BUFSZ - 4096 } };
		struct iovec rv[3] = { { t.buf, 100 }, { t.buf + 100, 100000 },
				       { t.buf + 100100, BUFSZ - 100100 } };
		char line[64] = "";

		fill(l, BUFSZ, 6);
		c0 = stat_copies();
		n = process_vm_writev(t.pid, lv, 2, rv, 3, 0);
		c1 = stat_copies();
		say(&t, "verify 6\n");
		if (!fgets(line, sizeof(line), t.out))
			strcpy(line, "no answer\n");
		line[strcspn(line, "\n")] = 0;
		tap(n == BUFSZ && !strcmp(line, "GOOD") && c1 > c0,
		    "writev_consenting_through_xpcopy",
		    "returned %zd (errno %d), target says %s, copies %llu -> %llu",
		    n, errno, line, c0, c1);
	}
	/* A range running into the PROT_NONE page: a short count. */
	n = rd(t.pid, l, 3 * PAGE, t.guard - PAGE, 3 * PAGE);
	tap(n == PAGE, "partial_count_at_unmapped_page",
	    "returned %zd errno %d, wanted %d", n, errno, PAGE);
	/* Two remote ranges, the second bad: the first's bytes. */
	{
		struct iovec lv = { l, 2 * PAGE };
		struct iovec rv[2] = { { t.buf, PAGE }, { t.guard, PAGE } };

		n = process_vm_readv(t.pid, &lv, 1, rv, 2, 0);
		tap(n == PAGE, "partial_count_second_range_bad",
		    "returned %zd errno %d, wanted %d", n, errno, PAGE);
	}
	expect_fail("efault_unmapped", t.pid, t.guard, EFAULT);
	expect_fail("efault_kernel_address", t.pid,
		    (void *)0xffff888000000000ULL, EFAULT);
	expect_fail("efault_noncanonical", t.pid,
		    (void *)0x0000800000000000ULL, EFAULT);
	{
		struct iovec lv = { l, 2 * PAGE };
		struct iovec rv = { (void *)0xfffffffffffff000ULL, 2 * PAGE };

		errno = 0;
		n = process_vm_readv(t.pid, &lv, 1, &rv, 1, 0);
		tap(n == -1 && errno == EFAULT, "efault_top_of_address_space",
		    "returned %zd errno %d", n, errno);
	}
	{
		struct iovec lv = { l, 16 }, rv = { t.buf, 16 };

		errno = 0;
		n = process_vm_readv(t.pid, &lv, 1, &rv, 1, 1);
		tap(n == -1 && errno == EINVAL, "einval_flags",
		    "returned %zd errno %d", n, errno);
	}
	{
		static struct iovec many[IOV_MAX + 1];
		struct iovec lv = { l, 16 };

		for (int i = 0; i <= IOV_MAX; i++)
			many[i] = (struct iovec){ t.buf, 1 };
		errno = 0;
		n = process_vm_readv(t.pid, &lv, 1, many, IOV_MAX + 1, 0);
		tap(n == -1 && errno == EINVAL, "einval_more_than_iov_max",
		    "returned %zd errno %d", n, errno);
		n = process_vm_readv(t.pid, &lv, 1, many, IOV_MAX, 0);
		tap(n == 16, "iov_max_ranges_ok", "returned %zd errno %d", n,
		    errno);
	}
	{
		struct iovec lv = { l, 16 }, rv = { t.buf, (size_t)-1 / 2 + 2 };

		errno = 0;
		n = process_vm_readv(t.pid, &lv, 1, &rv, 1, 0);
		tap(n == -1 && errno == EINVAL, "einval_negative_length",
		    "returned %zd errno %d", n, errno);
	}
	{
		struct iovec lv = { l, 16 };

		errno = 0;
		n = process_vm_readv(t.pid, &lv, 1, (void *)8, 1, 0);
		tap(n == -1 && errno == EFAULT, "efault_bad_iovec_array",
		    "returned %zd errno %d", n, errno);
	}
	test_module_error_keeps_grant(l);
	test_kernel_order(&t, l, 6);
	/* Our own memory: the system call (always allowed). */
	fill(l2, 4096, 9);
	n = rd(getpid(), l, 4096, l2, 4096);
	tap(n == 4096 && !bad_bytes(l, 4096, 9), "own_pid", "returned %zd errno %d",
	    n, errno);

	/* fork: the child serves its own memory, the parent still its own. */
	say(&t, "fork 7\n");
	f = t;
	if (read_ready(&f)) {
		tap(0, "fork_child_serves_its_own_grant", "no READY from the child");
	} else {
		memset(l, 0, BUFSZ);
		c0 = stat_copies();
		n = rd(f.pid, l, BUFSZ, f.buf, BUFSZ);
		c1 = stat_copies();
		tap(n == BUFSZ && !bad_bytes(l, BUFSZ, 7) && c1 > c0,
		    "fork_child_serves_its_own_grant",
		    "returned %zd errno %d, %ld bytes not the child's, copies %llu -> %llu",
		    n, errno, bad_bytes(l, BUFSZ, 7), c0, c1);
		memset(l, 0, BUFSZ);
		n = rd(t.pid, l, BUFSZ, t.buf, BUFSZ);
		tap(n == BUFSZ && !bad_bytes(l, BUFSZ, 6),
		    "fork_parent_still_its_own", "returned %zd errno %d", n,
		    errno);
		kill(f.pid, SIGKILL);
	}

	test_fork_call_at_once(l, l2);

	/* exec: the old grant gives nothing of the new image. */
	say(&t, "exec\n");
	if (read_ready(&t)) {
		tap(0, "exec_ends_the_grant", "no READY after exec");
	} else {
		expect_fail("exec_ends_the_grant", t.pid, t.buf, EPERM);
	}
	stop(&t);
	/* exit: the pid is gone. */
	expect_fail("exited_target_esrch", t.pid, t.buf, ESRCH);

	/* A process that did not load the library. */
	if (!spawn(&u, 8, 0, NULL, NULL)) {
		expect_fail("no_library_not_reachable", u.pid, u.buf, EPERM);
		/* The library remembers a "no" for a second. */
		usleep(1200000);
		/* Someone else squats its socket name with a grant of its
		 * own memory: never used, the listener is not that pid. */
		{
			struct impostor im;
			struct sockaddr_un a = { .sun_family = AF_UNIX };
			pthread_t th;
			socklen_t alen;
			int k;

			im.dev = xpcopy_open(O_CLOEXEC);
			im.grant = xpcopy_grant_create(im.dev, NULL, UINT64_MAX,
						       XPCOPY_GRANT_READ |
						       XPCOPY_GRANT_WRITE,
						       NULL, -1);
			im.lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			stat("/proc/self/ns/pid", &st);
			k = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1,
				     "xpcopy-cma.%llu.%d",
				     (unsigned long long)st.st_ino, (int)u.pid);
			alen = offsetof(struct sockaddr_un, sun_path) + 1 + k;
			if (im.grant < 0 || bind(im.lsock, (void *)&a, alen) ||
			    listen(im.lsock, 4) ||
			    pthread_create(&th, NULL, impostor_main, &im)) {
				tap(0, "impostor_socket_ignored", "cannot set up the impostor");
			} else {
				/* Our own buffer at the target's address
				 * would be read through the impostor. */
				expect_fail("impostor_socket_ignored", u.pid,
					    u.buf, EPERM);
				shutdown(im.lsock, SHUT_RDWR);
				pthread_join(th, NULL);
			}
			close(im.lsock);
			close(im.grant);
			close(im.dev);
		}
		stop(&u);
	} else {
		tap(0, "no_library_not_reachable", "cannot start the target");
	}

	/* Policies. */
	if (!spawn(&u, 10, 1, "XPCOPY_CMA_ALLOW=none", NULL)) {
		expect_fail("policy_none_refuses", u.pid, u.buf, EPERM);
		stop(&u);
	}
	if (!spawn(&u, 11, 1, "XPCOPY_CMA_ALLOW=token",
		   "XPCOPY_CMA_TOKEN=not-ours")) {
		expect_fail("policy_token_wrong_token_refused", u.pid, u.buf,
			    EPERM);
		stop(&u);
	}
	{
		static char tok[300];

		snprintf(tok, sizeof(tok), "XPCOPY_CMA_TOKEN=%s",
			 getenv("XPCOPY_CMA_TOKEN") ? getenv("XPCOPY_CMA_TOKEN") : "");
		if (getenv("XPCOPY_CMA_TOKEN") &&
		    !spawn(&u, 12, 1, "XPCOPY_CMA_ALLOW=token", tok)) {
			memset(l, 0, BUFSZ);
			n = rd(u.pid, l, BUFSZ, u.buf, BUFSZ);
			tap(n == BUFSZ && !bad_bytes(l, BUFSZ, 12),
			    "policy_token_right_token_served",
			    "returned %zd errno %d", n, errno);
			stop(&u);
		}
	}
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}

/*
 * The cases about the system call's semantics alone, which hold at every
 * ptrace_scope (the suite runs them too): at 0 the raw system call is
 * allowed and every row is compared with it.
 */
static int semantics(void)
{
	unsigned char *l = malloc(BUFSZ), *l2 = malloc(BUFSZ);
	struct tgt t;

	printf("TAP version 13\n");
	if (!l || !l2 || spawn(&t, 5, 1, NULL, NULL)) {
		printf("Bail out! cannot start a target\n");
		return 1;
	}
	test_module_error_keeps_grant(l);
	test_kernel_order(&t, l, 5);
	test_fork_call_at_once(l, l2);
	stop(&t);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}

/*
 * Run @argv under a seccomp filter that refuses process_vm_readv and
 * process_vm_writev with EPERM, as Docker's default profile does without
 * CAP_SYS_PTRACE. The filter stays over fork and execve.
 */
static int deny_cma(char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_writev, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]), .filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("cma-test deny-cma: seccomp");
		return 2;
	}
	execvp(argv[0], argv);
	perror("cma-test deny-cma: execvp");
	return 127;
}

int main(int argc, char **argv)
{
	static char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (k < 0) {
		perror("readlink /proc/self/exe");
		return 2;
	}
	exe[k] = 0;
	self_exe = exe;
	if (argc == 3 && !strcmp(argv[1], "suite")) {
		lib = argv[2];
		return suite();
	}
	if (argc >= 3 && !strcmp(argv[1], "deny-cma"))
		return deny_cma(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "semantics")) {
		lib = argv[2];
		return semantics();
	}
	if (argc == 3 && !strcmp(argv[1], "target"))
		return target(strtoul(argv[2], NULL, 0), exe);
	if (argc == 6 && (!strcmp(argv[1], "read") ||
			  !strcmp(argv[1], "expect"))) {
		pid_t pid = atoi(argv[2]);
		void *addr = (void *)strtoull(argv[3], NULL, 0);
		size_t len = strtoull(argv[4], NULL, 0);
		unsigned char *b = calloc(1, len);
		ssize_t n;

		errno = 0;
		n = rd(pid, b, len, addr, len);
		if (!strcmp(argv[1], "read")) {
			long bad = n == (ssize_t)len ?
				bad_bytes(b, len, strtoul(argv[5], NULL, 0)) : -1;

			printf("read: returned %zd errno %d (%s), %ld bad bytes\n",
			       n, errno, strerror(errno), bad);
			return bad == 0 ? 0 : 1;
		}
		printf("expect: returned %zd errno %d (%s)\n", n, errno,
		       strerror(errno));
		return n == -1 && errno == atoi(argv[5]) ? 0 : 1;
	}
	fprintf(stderr, "usage: cma-test suite LIB | semantics LIB | deny-cma PROG ARGS... | target SEED | read PID ADDR LEN SEED | expect PID ADDR LEN ERRNO\n");
	return 2;
}
