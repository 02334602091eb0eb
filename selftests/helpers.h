/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the xpcopy selftests, defined once in helpers.c and
 * linked into every program: the ioctl wrappers, fill patterns, the
 * module's stats, timing, fds and messages, credentials, the subprocess
 * target, userfaultfd, mappings, the /proc task scan.
 *
 * Nothing here uses the harness macros, so that forked helper processes
 * (targets, copiers) can call all of it: a forked process never uses the
 * ASSERT and EXPECT macros; it reports through a pipe, a MAP_SHARED page
 * or its exit status, and the test process asserts. The macros that do
 * use the harness are in xpcopy_test.h.
 */
#ifndef XPCOPY_HELPERS_H
#define XPCOPY_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>

#include "uapi/linux/xpcopy.h"

#define XPCOPY_DEV		"/dev/xpcopy"
#define XPCOPY_STATS_DIR	"/sys/class/misc/xpcopy/stats/"
#define XPCOPY_BATCH_PARAM	"/sys/module/xpcopy/parameters/batch_pages"

#ifndef offsetofend
#define offsetofend(T, m)	(offsetof(T, m) + sizeof(((T *)0)->m))
#endif

#define KiB	(1024ULL)
#define MiB	(1024ULL * KiB)
#define GiB	(1024ULL * MiB)

/* The start of the x86-64 direct map: a kernel address, never a user one. */
#define XP_KERNEL_ADDR	0xffff888000000000ULL

/* Sentinel written into xpcopy_copy.copied before a call. */
#define XP_COPIED_POISON	0xdeadbeefcafef00dULL

__u64 xp_ptr(const void *p);

size_t xp_page_size(void);

/* ioctl() returning 0 or -errno; a positive return is passed through. */
int xp_ioctl(int fd, unsigned long cmd, void *arg);

void xp_copy_init(struct xpcopy_copy *c, __u32 flags, pid_t pid,
		  const struct xpcopy_iovec *l, __u32 lcnt,
		  const struct xpcopy_iovec *r, __u32 rcnt);

/*
 * One XPCOPY_COPY. Returns the ioctl's return (0 on success) or -errno;
 * *copied gets xpcopy_copy.copied as the kernel left it (the poison when
 * it was not written).
 */
int xp_copy(int fd, __u32 flags, pid_t pid,
	    const struct xpcopy_iovec *l, __u32 lcnt,
	    const struct xpcopy_iovec *r, __u32 rcnt,
	    __u64 *copied);

/* Single-range copy. */
int xp_copy1(int fd, __u32 flags, pid_t pid, const void *laddr,
	     __u64 llen, __u64 raddr, __u64 rlen, __u64 *copied);

/*
 * A write of @len bytes from @from to @at in @pid forced onto a worker
 * (XPCOPY_COPY_WORKER), run by xp_stall_thread() in @th: into a page
 * nobody serves it holds one worker until a signal (xp_no_op_signal, no
 * SA_RESTART) ends it with -EINTR in @ret (1 while it runs).
 */
struct xp_staller {
	pthread_t th;
	int fd;
	pid_t pid;
	const void *from;
	__u64 at;
	size_t len;
	int ret;
};

void *xp_stall_thread(void *arg);

/*
 * Start @n stallers in @st, the i-th writing @len bytes from @from + i * @len
 * to @at + i * @len in @pid; wait (up to 5 s) until pinned_now is @pinned0 +
 * @n, each holding its page, then 300 ms for the workers. Returns 0, or -1
 * if they did not all start. SIGUSR1 must be caught without SA_RESTART.
 */
int xp_stallers_start(struct xp_staller *st, unsigned int n, int fd,
		      pid_t pid, const uint8_t *from, __u64 at, size_t len,
		      uint64_t pinned0);

/*
 * End @n stallers with SIGUSR1 and join them. Returns how many went wrong:
 * ended before the signal, or with anything but -EINTR.
 */
unsigned int xp_stallers_stop(struct xp_staller *st, unsigned int n);

void xp_no_op_signal(int sig);

#ifdef LIB_URING_H
/*
 * io_uring (for the binaries that include <liburing.h> first): an
 * IORING_OP_URING_CMD SQE for /dev/xpcopy, laid out as the UAPI header's
 * "io_uring" section says, written here without libxpcopy so that the
 * tests check the ABI itself.
 */
static inline void xp_prep_uring_cmd(struct io_uring_sqe *sqe, int fd,
				     __u32 cmd_op, const void *arg,
				     __u64 user_data)
{
	struct xpcopy_uring_cmd uc = { .cmd = xp_ptr(arg) };

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = user_data;
	memcpy(sqe->cmd, &uc, sizeof(uc));
}

/* The CQE result a copy that copied @copied bytes must complete with. */
static inline int xp_uring_copy_res(__u64 copied)
{
	return copied > INT_MAX ? INT_MAX : (int)copied;
}

/*
 * Submit the one SQE prepared in @ring with user_data 0x5eed and wait for
 * its CQE: its result in *@res (-EPROTO if another CQE came), 0; or the
 * -errno of the submission or the wait.
 */
static inline int xp_uring_one(struct io_uring *ring, int *res)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	do
		ret = io_uring_wait_cqe(ring, &cqe);
	while (ret == -EINTR);
	if (ret)
		return ret;
	*res = cqe->user_data == 0x5eed ? cqe->res : -EPROTO;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/*
 * One XPCOPY_COPY through @ring, waited for: returns what xp_copy() would
 * (0 or -errno), or -EPROTO when the CQE disagrees with the struct (a
 * success whose result is not the count written to xpcopy_copy.copied).
 */
static inline int xp_uring_copy(struct io_uring *ring, int fd, __u32 flags,
				pid_t pid, const struct xpcopy_iovec *l,
				__u32 lcnt, const struct xpcopy_iovec *r,
				__u32 rcnt, __u64 *copied)
{
	struct io_uring_sqe *sqe;
	struct xpcopy_copy c;
	int ret, res;

	xp_copy_init(&c, flags, pid, l, lcnt, r, rcnt);
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	xp_prep_uring_cmd(sqe, fd, XPCOPY_COPY, &c, 0x5eed);
	ret = xp_uring_one(ring, &res);
	if (ret)
		return ret;
	if (copied)
		*copied = c.copied;
	if (res < 0)
		return res;
	return res == xp_uring_copy_res(c.copied) ? 0 : -EPROTO;
}

/*
 * An XPCOPY_SQE_COPY in @sqe, a slot of a ring of 128-byte SQEs, laid out
 * as the UAPI header's "Copies in the SQE" says: the command in the 80
 * bytes of sqe->cmd, the rest of them zero.
 */
static inline void xp_prep_sqe_copy(struct io_uring_sqe *sqe, int fd,
				    __u32 flags, int target, __u64 local,
				    __u64 remote, __u64 len, __u64 seq,
				    __u64 user_data)
{
	struct xpcopy_sqe_copy sc = {
		.flags = flags, .pid = target, .local = local,
		.remote = remote, .len = len, .seq = seq,
	};

	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = XPCOPY_SQE_COPY;
	sqe->user_data = user_data;
	memcpy(sqe->cmd, &sc, sizeof(sc));
}

/*
 * One XPCOPY_SQE_COPY through @ring (made with IORING_SETUP_SQE128),
 * waited for: 0 with the count in *@copied, or -errno with *@copied
 * XP_COPIED_POISON, as an XPCOPY_COPY's untouched count (the kernel wrote
 * none).
 */
static inline int xp_sqe_copy(struct io_uring *ring, int fd, __u32 flags,
			      int target, __u64 local, __u64 remote,
			      __u64 len, __u64 *copied)
{
	struct io_uring_sqe *sqe;
	int ret, res;

	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	xp_prep_sqe_copy(sqe, fd, flags, target, local, remote, len, 0,
			 0x5eed);
	ret = xp_uring_one(ring, &res);
	if (copied)
		*copied = ret || res < 0 ? XP_COPIED_POISON : (__u64)res;
	if (ret)
		return ret;
	return res < 0 ? res : 0;
}
#endif /* LIB_URING_H */

int xp_features(int fd, struct xpcopy_features *f);

/*
 * Fill patterns. Byte i of a pattern (i counted from the start of a buffer
 * or window, not from an address) is byte (i % 8) of a 64-bit hash of
 * (seed, i / 8): no period a misplaced copy could hide behind, and a
 * different seed per buffer so that bytes from the wrong buffer show.
 */
uint64_t xp_mix(uint64_t seed, uint64_t k);

uint8_t xp_pattern_byte(uint64_t seed, uint64_t i);

/* Write bytes start .. start+len-1 of pattern @seed at buf. */
void xp_fill(void *buf, size_t len, uint64_t seed, uint64_t start);

/* Offset of the first byte that differs from the pattern, or -1. */
long long xp_check(const void *buf, size_t len, uint64_t seed,
		   uint64_t start);

/* Offset of the first differing byte of two buffers, or -1. */
long long xp_cmp(const void *a, const void *b, size_t len);

/* sysfs */
int xp_read_u64(const char *path, uint64_t *val);

int xp_write_str(const char *path, const char *s);

int xp_write_u64(const char *path, uint64_t v);

struct xp_stats {
	uint64_t copies, bytes, pinned_now, pinned_peak, pins_taken,
		 pins_released;
};

int xp_stat(const char *name, uint64_t *v);

int xp_stats_read(struct xp_stats *s);

int xp_reset_peak(void);

int xp_batch_pages(uint64_t *v);

/* Wait until pinned_now reads 0 (pins may be dropped by a worker just after
 * its caller returned). Returns 0, or the last value seen. */
uint64_t xp_wait_unpinned(int ms);

/* time */
int64_t xp_now_ns(void);

void xp_sleep_ms(int ms);

/*
 * waitpid() with a deadline. Returns the pid, 0 if the child is still
 * running after @ms milliseconds, or -errno.
 */
pid_t xp_waitpid_ms(pid_t pid, int *status, int ms);

/* Read exactly len bytes; 0 on success, -errno, or -EPIPE on EOF. */
int xp_read_full(int fd, void *buf, size_t len);

int xp_write_full(int fd, const void *buf, size_t len);

/* Wait up to @ms for @fd to be readable: 1 readable, 0 timeout, -errno. */
int xp_poll_in(int fd, int ms);

/*
 * One message on a SOCK_SEQPACKET socket, with an fd when fd >= 0.
 * Returns 0 or -errno.
 */
int xp_msg_send(int sock, const void *data, size_t len, int fd);

/*
 * Receive one message of exactly len bytes, waiting at most ms; *fd gets
 * the fd that came with it (close-on-exec), or -1. Returns 0 or -errno.
 */
int xp_msg_recv(int sock, void *data, size_t len, int *fd, int ms);

/* Make a forked helper die with its parent. */
void xp_die_with_parent(pid_t parent);

/*
 * fork() after flushing stdio (so that the child does not print the
 * parent's buffered output again); the child dies with its parent, and
 * exits 99 at once if the parent is already gone. Returns what fork() does.
 */
pid_t xp_fork(void);

/*
 * Credentials. Capability masks are 64-bit (bit n = capability n).
 */
int xp_capget(uint64_t *eff, uint64_t *prm);

int xp_capset(uint64_t eff, uint64_t prm, uint64_t inh);

/*
 * Become @uid/@gid with no supplementary groups and exactly the
 * capabilities in @keep (effective and permitted; inheritable empty).
 * Returns 0 or -errno; checks the result with capget.
 */
int xp_become(uid_t uid, gid_t gid, uint64_t keep);

/*
 * A target process: a fork of the test process, so that it has every
 * mapping the test set up before target_start() at the same address, with
 * its own copy-on-write copy of private memory. It serves commands on a
 * pipe until told to exit or until the pipe closes.
 *
 * Commands work against a MAP_SHARED scratch area mapped before the fork,
 * so that expected images of any size need not go through a pipe.
 */
enum {
	XP_T_PING = 1,		/* -> target's pid */
	XP_T_CMP,		/* addr vs scratch+arg, len -> first diff or -1 */
	XP_T_LOAD,		/* memcpy(addr, scratch+arg, len) -> 0 */
	XP_T_PATCHECK,		/* xp_check(addr, len, arg, arg2) -> diff or -1 */
	XP_T_PATFILL,		/* xp_fill(addr, len, arg, arg2) -> 0 */
	XP_T_UFFD_RESOLVE,	/* resolve faults from now on, with pattern arg */
	XP_T_EXIT,
};

struct xp_tcmd {
	uint32_t op;
	uint32_t pad;
	uint64_t addr, len, arg, arg2;
};

/* A page fault seen on the target's userfaultfd. */
struct xp_tevent {
	uint64_t address;
	uint64_t flags;
};

struct xp_target {
	pid_t pid;
	int cmd_wr;		/* commands to the target */
	int rep_rd;		/* replies from it */
	int evt_rd;		/* userfaultfd events from it */
	void *scratch;
	size_t scratch_len;
};

/* A target that is not running: what a fixture sets before it starts one. */
void xp_target_init(struct xp_target *t);

/*
 * Runs in the target before it reports ready; returns 0 or -errno (the
 * error is reported to target_start()'s caller). May set *uffd to a
 * userfaultfd (opened O_NONBLOCK) that the target then watches, and
 * *uffd_base to the start of its registered region.
 */
typedef int (*xp_target_setup_fn)(void *arg, int *uffd, uint64_t *uffd_base);

void xp_target_loop(int cmd_rd, int rep_wr, int evt_wr,
		    void *scratch, int uffd, uint64_t uffd_base);

/*
 * Fork a target. Returns 0, or -errno: a setup failure is returned as the
 * setup function's error (the target is then reaped).
 */
int xp_target_start(struct xp_target *t, void *scratch,
		    size_t scratch_len, xp_target_setup_fn setup,
		    void *arg);

/* Send one command; returns the target's reply, or INT64_MIN on failure. */
int64_t xp_target_cmd(struct xp_target *t, uint32_t op,
		      uint64_t addr, uint64_t len, uint64_t arg,
		      uint64_t arg2);

/* Compare target memory at addr with the scratch area from offset soff:
 * -1 equal, offset of the first difference, or INT64_MIN if the target
 * did not answer. */
int64_t xp_target_cmp(struct xp_target *t, uint64_t addr,
		      uint64_t len, uint64_t soff);

int64_t xp_target_patcheck(struct xp_target *t, uint64_t addr,
			   uint64_t len, uint64_t seed,
			   uint64_t start);

/*
 * Stop a target: ask it to exit and reap it. Returns its wait status, or
 * -1 if there was none to stop. Safe to call twice.
 */
int xp_target_stop(struct xp_target *t);

/* For teardown: kill outright. */
void xp_target_kill(struct xp_target *t);

/* userfaultfd, without libc wrappers. */
int xp_uffd_resolve(int uffd, uint64_t fault, uint64_t base,
		    uint64_t seed, void *page_buf, size_t page);

/*
 * Open a userfaultfd and register [addr, addr+len) for missing faults.
 * Returns the fd or -errno; *stage says which step failed.
 */
int xp_uffd_register(void *addr, size_t len, const char **stage);

/* The userfaultfd region of a stalling target: XP_UFFD_LEN bytes. */
#define XP_UFFD_LEN	(1UL << 20)

/*
 * A target setup function (for xp_target_start): register the XP_UFFD_LEN
 * bytes at @arg with userfaultfd in the target, and hand the fd to its
 * event loop, which serves no fault until told to.
 */
int xp_uffd_target_setup(void *arg, int *uffd, uint64_t *ubase);

/* Empty a target's fault-event pipe; returns how many events there were. */
int xp_target_drain_events(struct xp_target *t);

/* mmap helpers */
void *xp_map(size_t len, int prot);

/*
 * Map @len bytes with an inaccessible guard page on each side; the guard
 * pages catch stray accesses by the module in the test process itself.
 */
void *xp_map_guarded(size_t len);

/* xp_map_guarded(@len) filled with pattern @seed from 0; NULL on failure. */
void *xp_map_filled(size_t len, uint64_t seed);

/* pidfd_open(2) and pidfd_getfd(2), for a libc without their numbers. */
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif

/* The first @len - 1 bytes of a small file, NUL-terminated; 0 or -errno. */
int xp_read_str(const char *path, char *buf, size_t len);

/*
 * The /proc task scan. For each task in @dir ("/proc" for every process,
 * "/proc/self/task" for this one's threads) whose comm starts with
 * @prefix, calls @fn with the task's id (the directory entry's name) and
 * @arg, in readdir order, until @fn returns non-zero. Returns how many
 * tasks matched, or -errno when @dir cannot be read.
 */
int xp_scan_tasks(const char *dir, const char *prefix,
		  int (*fn)(const char *id, void *arg), void *arg);

/*
 * The state letter of task @id under @dir (the field after the comm in
 * its stat file), or 0 when it cannot be read.
 */
char xp_task_state(const char *dir, const char *id);

#endif /* XPCOPY_HELPERS_H */
