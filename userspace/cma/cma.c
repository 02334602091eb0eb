// SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT
/*
 * libxpcopy-cma: process_vm_readv(2) and process_vm_writev(2) over xpcopy
 * grants, for programs that use cross-memory attach (Open MPI's vader/sm
 * BTL) on systems where the ptrace check forbids it (Yama ptrace_scope 2
 * or 3, or unrelated processes under scope 1).
 *
 * Loaded with LD_PRELOAD, it does two things in every process:
 *
 * - Consent. At load time (and in the child after fork) the process makes
 *   one grant over its whole address space, read and write
 *   (XPCOPY_GRANT over [0, 2^64 - 1)), and a background thread serves it
 *   on the abstract unix socket "xpcopy-cma.<pid namespace>.<pid>". A
 *   peer that connects gets the grant fd (SCM_RIGHTS) when the policy
 *   allows it (SO_PEERCRED: same effective uid by default; see
 *   XPCOPY_CMA_ALLOW below). The grant holds the address space it was made
 *   on: after exit or execve every use fails with ESRCH, so a new program
 *   in the process is never reachable through an old grant.
 *
 * - Use. process_vm_readv/writev(pid, ...) on a pid whose process serves a
 *   grant (checked: the listening socket's SO_PEERCRED pid is that pid)
 *   copies through the grant, the remote addresses being offsets into a
 *   window that starts at 0; pid may be any thread's id, as for the
 *   kernel. The arguments are checked in the kernel's order first (see
 *   cma_rw()): an error the kernel finds before it looks up the pid, and
 *   a call with nothing to copy, get the kernel's answer here. Every other
 *   call (no server, refused, own process, no /dev/xpcopy) is the real
 *   system call, so a process that did not load the library is reached
 *   exactly as without it.
 *
 * Environment:
 *	XPCOPY_CMA=0		load but do nothing: every call is the system
 *				call, and this process serves no grant
 *	XPCOPY_CMA_ALLOW	who gets this process's grant: a comma-separated
 *				list, any item matching is enough:
 *				  user     the peer's effective uid is ours
 *				           (the default)
 *				  group:G  the peer's effective gid or one of
 *				           its supplementary groups is G
 *				           (numeric)
 *				  token    the peer presents XPCOPY_CMA_TOKEN
 *				  none     nobody
 *	XPCOPY_CMA_TOKEN	the job token: sent to peers when asking for
 *				their grant, and checked by "token"
 *	XPCOPY_CMA_FORK=0	a child of fork() serves no grant
 *	XPCOPY_CMA_DEBUG=1	log decisions on stderr
 *	XPCOPY_CMA_STATS=1	at exit, print on stderr how many calls went
 *				through xpcopy and how many to the kernel
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "xpcopy.h"

#define EXPORT __attribute__((visibility("default")))

/* The window: every address but the last; offsets are addresses. */
#define CMA_WINDOW_LEN	UINT64_MAX
#define CMA_RIGHTS	(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE)

#define CMA_MAGIC	"XPCMA-1"	/* 8 bytes with its NUL */
#define CMA_TOKEN_MAX	256
#define CMA_CACHE	256		/* peers remembered */
#define CMA_NEG_NS	1000000000LL	/* a "no" is remembered 1 s */
#define CMA_TIMEOUT_S	5		/* socket timeouts */
#define CMA_GROUPS_MAX	64

_Static_assert(sizeof(struct iovec) == sizeof(struct xpcopy_iovec) &&
	       offsetof(struct iovec, iov_base) ==
	       offsetof(struct xpcopy_iovec, addr) &&
	       offsetof(struct iovec, iov_len) ==
	       offsetof(struct xpcopy_iovec, len),
	       "struct iovec and struct xpcopy_iovec differ: convert them");

struct cma_req {
	char magic[8];
	uint32_t token_len;
	char token[CMA_TOKEN_MAX];
};

struct cma_rep {
	char magic[8];
	int32_t status;		/* 0: the grant is attached; else an errno */
};

struct cma_peer {
	pid_t pid;		/* 0: free slot */
	int grant;		/* -1: no grant (a remembered "no") */
	int refs;		/* calls using @grant now */
	bool dead;		/* evicted while in use: close at last put */
	bool lost;		/* @grant is no longer our fd: never close it */
	long long until;	/* for a "no": when to ask again */
};

static struct {
	bool enabled;		/* a device and a grant: calls may use xpcopy */
	bool proc_ok;		/* /proc is of our pid namespace */
	atomic_bool filtered;	/* a seccomp filter refuses the system calls */
	bool debug, stats, serve_fork;
	int dev;		/* /dev/xpcopy */
	/* serving */
	int grant, lsock;
	int ready[2];		/* fork: the child tells it serves (cma_parent()) */
	atomic_int conn;	/* the connection being served, or -1 */
	pthread_t thread;
	bool thread_up;
	/* policy */
	bool allow_user, allow_token;
	unsigned int nr_groups;
	gid_t groups[CMA_GROUPS_MAX];
	char token[CMA_TOKEN_MAX];
	uint32_t token_len;
	unsigned long long ns;	/* inode of our pid namespace */
	/* peers */
	pthread_mutex_t lock;
	struct cma_peer peers[CMA_CACHE];
	unsigned int victim;
	/* counters */
	atomic_ulong via_xpcopy, via_syscall, served, refused;
} cma = {
	.dev = -1, .grant = -1, .lsock = -1, .conn = -1, .ready = { -1, -1 },
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void dbg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n, saved = errno;

	if (!cma.debug)
		return;
	n = snprintf(buf, sizeof(buf), "xpcopy-cma[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	strncat(buf, "\n", sizeof(buf) - strlen(buf) - 1);
	if (write(2, buf, strlen(buf)) < 0)
		errno = saved;
	errno = saved;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool env_is(const char *name, const char *val)
{
	const char *v = getenv(name);

	return v && !strcmp(v, val);
}

/* The abstract socket name of process @pid of our pid namespace. */
static socklen_t cma_addr(struct sockaddr_un *a, pid_t pid)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1,
		     "xpcopy-cma.%llu.%d", cma.ns, (int)pid);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = CMA_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ------------------------------------------------------------------------
 * Serving our grant
 */

static bool cma_allowed(int c, const struct ucred *cred,
			const struct cma_req *req, ssize_t n)
{
	gid_t groups[CMA_GROUPS_MAX * 4];
	socklen_t glen = sizeof(groups);
	unsigned int i, j;

	if (cma.allow_user && cred->uid == geteuid())
		return true;
	if (cma.nr_groups) {
		for (i = 0; i < cma.nr_groups; i++)
			if (cred->gid == cma.groups[i])
				return true;
		if (!getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, groups, &glen))
			for (j = 0; j < glen / sizeof(gid_t); j++)
				for (i = 0; i < cma.nr_groups; i++)
					if (groups[j] == cma.groups[i])
						return true;
	}
	if (cma.allow_token && cma.token_len &&
	    n >= (ssize_t)offsetof(struct cma_req, token) &&
	    req->token_len == cma.token_len &&
	    (size_t)n >= offsetof(struct cma_req, token) + req->token_len) {
		unsigned char diff = 0;

		for (i = 0; i < cma.token_len; i++)
			diff |= req->token[i] ^ cma.token[i];
		if (!diff)
			return true;
	}
	return false;
}

static void cma_serve_one(int c)
{
	struct cma_rep rep = { .magic = CMA_MAGIC };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cma_req req;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	ssize_t n;

	set_timeouts(c);
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return;
	memset(&req, 0, sizeof(req));
	n = recv(c, &req, sizeof(req), 0);
	if (n < (ssize_t)offsetof(struct cma_req, token) ||
	    memcmp(req.magic, CMA_MAGIC, sizeof(req.magic)))
		return;
	if (!cma_allowed(c, &cred, &req, n)) {
		atomic_fetch_add(&cma.refused, 1);
		dbg("refused pid %d uid %d gid %d", (int)cred.pid,
		    (int)cred.uid, (int)cred.gid);
		rep.status = EACCES;
	} else {
		atomic_fetch_add(&cma.served, 1);
		dbg("grant to pid %d uid %d", (int)cred.pid, (int)cred.uid);
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&ctl.h), &cma.grant, sizeof(int));
	}
	sendmsg(c, &msg, MSG_NOSIGNAL);
}

static void *cma_server(void *arg)
{
	int lsock = (int)(intptr_t)arg;

	for (;;) {
		int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				usleep(10000);
				continue;
			}
			/* The socket was closed under us (a program that
			 * closes every fd, a fork child): stop serving. */
			dbg("server stops: accept: %s", strerror(errno));
			return NULL;
		}
		atomic_store(&cma.conn, c);
		cma_serve_one(c);
		atomic_store(&cma.conn, -1);
		close(c);
	}
}

/* Make our grant and start serving it. Errors leave the process unserved. */
static void cma_start_server(void)
{
	struct sockaddr_un a;
	sigset_t all, old;
	pthread_attr_t attr;
	socklen_t alen;
	int ret;

	ret = xpcopy_grant_create(cma.dev, NULL, CMA_WINDOW_LEN, CMA_RIGHTS,
				  NULL, -1);
	if (ret < 0) {
		dbg("no grant: %s", strerror(-ret));
		return;
	}
	cma.grant = ret;
	cma.lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (cma.lsock < 0)
		goto err_grant;
	alen = cma_addr(&a, getpid());
	if (bind(cma.lsock, (struct sockaddr *)&a, alen) ||
	    listen(cma.lsock, 64)) {
		dbg("cannot serve on @%s: %s", a.sun_path + 1, strerror(errno));
		goto err_sock;
	}
	/* The thread takes no signal: they are the program's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&cma.thread, &attr, cma_server,
			     (void *)(intptr_t)cma.lsock);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		dbg("no server thread: %s", strerror(ret));
		goto err_sock;
	}
	cma.thread_up = true;
	dbg("serving on @%s", a.sun_path + 1);
	return;

err_sock:
	close(cma.lsock);
	cma.lsock = -1;
err_grant:
	close(cma.grant);
	cma.grant = -1;
}

/* ------------------------------------------------------------------------
 * Asking peers for their grant
 */

/* Is @fd a live grant of a whole address space, read and write? */
enum cma_grant_state {
	CMA_GRANT_LIVE,		/* a live whole-space grant, read and write */
	CMA_GRANT_ENDED,	/* such a grant, revoked or its owner gone */
	CMA_GRANT_OTHER,	/* not a grant, or another kind of grant */
};

static enum cma_grant_state cma_grant_state(int fd)
{
	struct xpcopy_grant_info info;

	if (xpcopy_grant_info(cma.dev, fd, &info) < 0 ||
	    (info.rights & CMA_RIGHTS) != CMA_RIGHTS ||
	    info.len != CMA_WINDOW_LEN)
		return CMA_GRANT_OTHER;
	return info.revoked ? CMA_GRANT_ENDED : CMA_GRANT_LIVE;
}

static bool cma_window_grant(int fd)
{
	return cma_grant_state(fd) == CMA_GRANT_LIVE;
}

/* The grant of process @pid, or -1 when it does not serve one to us. */
static int cma_ask(pid_t pid)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct cma_rep rep;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cma_req req;
	struct sockaddr_un a;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct cmsghdr *h;
	int s, fd = -1;
	ssize_t n;

	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	set_timeouts(s);
	if (connect(s, (struct sockaddr *)&a, cma_addr(&a, pid))) {
		dbg("pid %d serves no grant (%s)", (int)pid, strerror(errno));
		goto out;
	}
	/* Whoever listens on the name must be that very process. */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.pid != pid) {
		dbg("@%s is not pid %d's (listener pid %d): ignored",
		    a.sun_path + 1, (int)pid, (int)cred.pid);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	memcpy(req.magic, CMA_MAGIC, sizeof(req.magic));
	req.token_len = cma.token_len;
	memcpy(req.token, cma.token, cma.token_len);
	if (send(s, &req, offsetof(struct cma_req, token) + req.token_len,
		 MSG_NOSIGNAL) < 0)
		goto out;
	memset(&ctl, 0, sizeof(ctl));
	n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	h = n == sizeof(rep) ? CMSG_FIRSTHDR(&msg) : NULL;
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
	    h->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
	if (n != sizeof(rep) || memcmp(rep.magic, CMA_MAGIC, 8) ||
	    rep.status || fd < 0) {
		dbg("pid %d gives us no grant (status %d)", (int)pid,
		    n == sizeof(rep) ? rep.status : -1);
		if (fd >= 0)
			close(fd);
		fd = -1;
		goto out;
	}
	if (!cma_window_grant(fd)) {
		dbg("pid %d sent something that is not its grant", (int)pid);
		close(fd);
		fd = -1;
		goto out;
	}
	dbg("got pid %d's grant as fd %d", (int)pid, fd);
out:
	close(s);
	return fd;
}

/*
 * The process (thread group id) of thread @tid: @tid itself for a process,
 * 0 when no thread has that id, @tid when /proc cannot tell.
 */
static pid_t cma_tgid(pid_t tid)
{
	char path[32], buf[512], *t;
	ssize_t n;
	int fd;

	if (!cma.proc_ok)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : tid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = 0;
	t = strstr(buf, "\nTgid:");
	return t ? (pid_t)strtol(t + 6, NULL, 10) : tid;
}

/*
 * The cache slot of @pid with a reference on its grant, asking the peer
 * when it is not known; NULL when the call must go to the kernel.
 * @resolve: @pid may be a thread's id (see below).
 */
static struct cma_peer *cma_get(pid_t pid, bool resolve)
{
	struct cma_peer *p, *free_slot = NULL;
	long long now = 0;
	unsigned int i;
	pid_t tgid;
	int fd;

	if (pid <= 0)
		return NULL;	/* the kernel finds no task: ESRCH */
	pthread_mutex_lock(&cma.lock);
	for (i = 0; i < CMA_CACHE; i++) {
		p = &cma.peers[i];
		if (p->pid == pid && !p->dead) {
			if (p->grant >= 0) {
				p->refs++;
				pthread_mutex_unlock(&cma.lock);
				return p;
			}
			now = now_ns();
			if (now < p->until) {
				pthread_mutex_unlock(&cma.lock);
				return NULL;
			}
			p->pid = 0;	/* ask again */
		}
		if (!p->pid && !p->refs && !free_slot)
			free_slot = p;
	}
	pthread_mutex_unlock(&cma.lock);

	/*
	 * The kernel takes the id of any thread (find_get_task_by_vpid()):
	 * a thread's calls go to its process's grant. A thread id is never
	 * cached, so that every call checks that the thread still exists
	 * (else the kernel's ESRCH) and belongs to that process.
	 */
	if (resolve) {
		tgid = cma_tgid(pid);
		if (tgid != pid)
			return tgid > 0 && tgid != getpid() ?
				cma_get(tgid, false) : NULL;
	}
	fd = cma_ask(pid);

	pthread_mutex_lock(&cma.lock);
	if (!free_slot || free_slot->pid || free_slot->refs) {
		/* Evict one (round robin); closed at its last put. */
		for (i = 0; i < CMA_CACHE; i++) {
			p = &cma.peers[cma.victim++ % CMA_CACHE];
			if (!p->dead && (!p->pid || !p->refs))
				break;
		}
		if (i == CMA_CACHE) {
			pthread_mutex_unlock(&cma.lock);
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (p->pid && p->grant >= 0)
			close(p->grant);
		free_slot = p;
	}
	p = free_slot;
	p->pid = pid;
	p->grant = fd;
	p->dead = false;
	p->refs = fd >= 0;
	p->until = fd >= 0 ? 0 : (now ? now : now_ns()) + CMA_NEG_NS;
	pthread_mutex_unlock(&cma.lock);
	return fd >= 0 ? p : NULL;
}

enum cma_put_how {
	CMA_KEEP,	/* the grant is good */
	CMA_DEAD,	/* the peer's grant is dead: close our fd, forget it */
	CMA_LOST,	/* our fd is not the grant any more (the program closed
			 * it, maybe reused the number): forget, never close */
};

/* Drop a reference to @p's grant. */
static void cma_put(struct cma_peer *p, enum cma_put_how how)
{
	pthread_mutex_lock(&cma.lock);
	if (how == CMA_LOST)
		p->lost = true;
	if (how != CMA_KEEP)
		p->dead = true;
	if (!--p->refs && p->dead) {
		if (!p->lost)
			close(p->grant);
		p->grant = -1;
		p->pid = 0;
		p->dead = p->lost = false;
	}
	pthread_mutex_unlock(&cma.lock);
}

/* ------------------------------------------------------------------------
 * The calls
 */

static ssize_t sys_rw(bool write, pid_t pid, const struct iovec *l,
		      unsigned long lc, const struct iovec *r,
		      unsigned long rc, unsigned long flags)
{
	atomic_fetch_add(&cma.via_syscall, 1);
	return syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv,
		       pid, l, lc, r, rc, flags);
}

/* As the kernel's import_iovec(): one call transfers at most this. */
#define CMA_MAX_RW_COUNT	((size_t)INT_MAX & ~(size_t)(4096 - 1))
#define CMA_IOV_STACK		16

/*
 * A seccomp filter refuses process_vm_readv/writev (Docker's default
 * profile without CAP_SYS_PTRACE does, with EPERM): the calls on our own
 * pid that read and check the caller's arrays fail too. Neither call can
 * fail so otherwise (EPERM comes from the task lookup, which they never
 * reach), and a filter is never removed: from the first such failure on,
 * the library reads its own memory through the module and checks the
 * local ranges itself, as the kernel does.
 */
static bool cma_filtered(void)
{
	if (!atomic_load(&cma.filtered) && (errno == EPERM || errno == ENOSYS)) {
		atomic_store(&cma.filtered, true);
		dbg("process_vm_readv/writev refused by a filter (%s): checking and reading arrays ourselves",
		    strerror(errno));
	}
	return atomic_load(&cma.filtered);
}

/*
 * Read @len bytes of our own memory at @src through the kernel: an address
 * that cannot be read is a short count (or -1), never a crash. Our own
 * memory is always ours to read, whatever ptrace_scope says (and through
 * the module when a filter refuses the system call).
 */
static ssize_t cma_read_self(void *dst, const void *src, size_t len)
{
	struct iovec to = { dst, len }, from = { (void *)src, len };
	ssize_t n;

	if (!atomic_load(&cma.filtered)) {
		n = syscall(SYS_process_vm_readv, getpid(), &to, 1UL, &from,
			    1UL, 0UL);
		if (n >= 0 || !cma_filtered())
			return n;
	}
	n = __xpcopy_copy_iov(cma.dev, XPCOPY_COPY_READ, getpid(),
			      (const struct xpcopy_iovec *)&to, 1,
			      (const struct xpcopy_iovec *)&from, 1, 0);
	return n < 0 ? -1 : n;
}

/*
 * The highest address access_ok() takes, TASK_SIZE_MAX (Linux 6.1 to
 * 6.12, LAM or not): the top of the lower half less a page, the half being
 * 47 bits, or 56 with 5-level paging, where a mapping above 2^47 can be
 * asked for.
 */
static uintptr_t cma_user_max(void)
{
#ifdef __x86_64__
	static uintptr_t max;
	void *m;

	if (!max) {
		m = mmap((void *)(1UL << 47), 4096, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (m != MAP_FAILED)
			munmap(m, 4096);
		max = m == (void *)(1UL << 47) || (m == MAP_FAILED &&
						    errno == EEXIST) ?
		      (1UL << 56) - 4096 : (1UL << 47) - 4096;
	}
	return max;
#else
	return UINTPTR_MAX;
#endif
}

/* As access_ok(): [@addr, @addr + @len) lies below cma_user_max(). */
static bool cma_access_ok(const void *addr, size_t len)
{
	uintptr_t end = (uintptr_t)addr + len;

	return end >= (uintptr_t)addr && end <= cma_user_max();
}

/*
 * The call, checked in the order of the kernel's process_vm_rw() and
 * process_vm_rw_core(), so that every error is the one the system call
 * gives, and comes before the pid is looked up where the kernel's does:
 *
 * 1. flags: not 0 is EINVAL.
 * 2. The local iovec array, as import_iovec(): more than IOV_MAX ranges
 *    (the count is an unsigned int there: the high bits of liovcnt are
 *    ignored), an unreadable array, a negative length, a range that is
 *    not user memory (access_ok()). Rather than copy these rules, whose
 *    details vary between kernels (and with 5-level paging or LAM), we ask
 *    the running kernel: the same system call on our own pid, with the
 *    caller's local array and one empty remote range, runs exactly this
 *    import and returns 0 before any lookup (nothing to copy).
 * 3. No local byte (after clipping to MAX_RW_COUNT): 0, and the remote
 *    array is not even read.
 * 4. The remote array, as iovec_from_user(): more than IOV_MAX ranges is
 *    EINVAL; then range by range, a negative length EINVAL, an unreadable
 *    range EFAULT. Remote addresses are not checked here.
 * 5. No remote byte: 0, before the pid is looked up.
 * 6. The pid: any thread's id (cma_get()); our own process, or one that
 *    serves us no grant, is the system call's.
 * 7. The copy stops when the local side is full: remote ranges past that
 *    point are never looked at, however long (their lengths may sum past
 *    2^64), so they are cut there; and it stops with EFAULT at a range
 *    that reaches past the user address space (past the window).
 */
static ssize_t cma_rw(bool write, pid_t pid, const struct iovec *l,
		      unsigned long lc, const struct iovec *r,
		      unsigned long rc, unsigned long flags)
{
	long nr = write ? SYS_process_vm_writev : SYS_process_vm_readv;
	unsigned int dir = write ? XPCOPY_COPY_WRITE : XPCOPY_COPY_READ;
	struct iovec stack[CMA_IOV_STACK], *lv = stack, *rv;
	struct iovec empty = { NULL, 0 };
	unsigned long i, rn, nrv = rc <= IOV_MAX ? rc : 0;
	size_t ltotal = 0, left;
	unsigned int lcnt;
	enum cma_grant_state state;
	struct cma_peer *p;
	int tries = 0;
	bool cut, own;
	ssize_t ret;

	if (!cma.enabled)
		return sys_rw(write, pid, l, lc, r, rc, flags);
	/* 1 */
	if (flags) {
		errno = EINVAL;
		return -1;
	}
	/* 2: errno is the kernel's, unless a filter refuses the call */
	if (!atomic_load(&cma.filtered) &&
	    syscall(nr, getpid(), l, lc, &empty, 1UL, 0UL) < 0 &&
	    !cma_filtered())
		return -1;
	own = atomic_load(&cma.filtered);
	lcnt = (unsigned int)lc;
	if (own && lcnt > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (lcnt + nrv > CMA_IOV_STACK) {
		lv = malloc((lcnt + nrv) * sizeof(*lv));
		if (!lv) {
			errno = ENOMEM;
			return -1;
		}
	}
	rv = lv + lcnt;
	/* Unless @own, the kernel read the array just now: only a thread
	 * of the caller's changing it under us can fail these. */
	ret = own && !cma_access_ok(l, lcnt * sizeof(*lv)) ? -1 :
	      cma_read_self(lv, l, lcnt * sizeof(*lv));
	left = ret < 0 ? 0 : ret / sizeof(*lv);
	for (i = 0; i < left; i++)
		if ((ssize_t)lv[i].iov_len < 0) {
			ret = -EINVAL;
			goto out;
		}
	ret = -EFAULT;
	if (left < lcnt)
		goto out;
	/* import_iovec(): one range is clipped, then checked; several
	 * are checked, then clipped. */
	for (i = 0; own && i < lcnt; i++)
		if (!cma_access_ok(lv[i].iov_base, lcnt == 1 &&
				   lv[i].iov_len > CMA_MAX_RW_COUNT ?
				   CMA_MAX_RW_COUNT : lv[i].iov_len))
			goto out;
	for (i = 0; i < lcnt; i++) {
		if (lv[i].iov_len > CMA_MAX_RW_COUNT - ltotal)
			lv[i].iov_len = CMA_MAX_RW_COUNT - ltotal;
		ltotal += lv[i].iov_len;
	}
	/* 3 */
	ret = 0;
	if (!ltotal)
		goto out;
	/* 4 */
	ret = -EINVAL;
	if (rc > IOV_MAX)
		goto out;
	/* (iovec_from_user() checks the whole array with access_ok() first) */
	ret = !cma_access_ok(r, rc * sizeof(*rv)) ? -1 :
	      cma_read_self(rv, r, rc * sizeof(*rv));
	left = ret < 0 ? 0 : ret / sizeof(*rv);
	for (i = 0; i < left; i++)
		if ((ssize_t)rv[i].iov_len < 0) {
			ret = -EINVAL;
			goto out;
		}
	if (left < rc) {
		ret = -EFAULT;
		goto out;
	}
	/* 5 */
	for (i = 0; i < rc && !rv[i].iov_len; i++)
		;
	ret = 0;
	if (i == rc)
		goto out;
	/* 6 */
	if (pid == getpid())
		goto kernel;
	/* 7 */
	left = ltotal;
	for (rn = 0; rn < rc && left; rn++) {
		if (rv[rn].iov_len > left)
			rv[rn].iov_len = left;
		left -= rv[rn].iov_len;
	}
	for (i = 0; i < rn; i++)
		if (rv[i].iov_len > CMA_WINDOW_LEN - (uintptr_t)rv[i].iov_base)
			break;
	cut = i < rn;
	rn = i;
again:
	p = cma_get(pid, true);
	if (!p)
		goto kernel;
	ret = rn ? __xpcopy_copy_iov(cma.dev, dir | XPCOPY_COPY_GRANT,
				     p->grant,
				     (const struct xpcopy_iovec *)lv, lcnt,
				     (const struct xpcopy_iovec *)rv, rn, 0) : 0;
	/*
	 * Which errors mean the grant is no good. The module says of a grant
	 * (see the UAPI header): ESRCH, its owner exited or executed;
	 * ESTALE, it was revoked. Either way the pid may be another
	 * process's now: forget the grant and ask again. EBADF, and EINVAL,
	 * ERANGE or EACCES when XPCOPY_GRANT_INFO says the fd is not such a
	 * grant, mean that our fd is not the grant we were given any more
	 * (the program closed it and maybe opened something else under the
	 * number): forget it without closing it.
	 * Every other error (EFAULT, EINTR, ENOMEM, and EINVAL about the
	 * ranges) is about this call, not the grant, which is kept.
	 */
	switch (ret) {
	case -ESRCH:
	case -ESTALE:
		cma_put(p, CMA_DEAD);
		if (++tries < 2)
			goto again;
		goto kernel;
	case -EBADF:
	case -EINVAL:
	case -ERANGE:
	case -EACCES:
		state = ret == -EBADF ? CMA_GRANT_OTHER :
			cma_grant_state(p->grant);
		if (state != CMA_GRANT_LIVE) {
			/* (an ended grant: the module checked the
			 * ranges first) */
			cma_put(p, state == CMA_GRANT_ENDED ? CMA_DEAD :
							     CMA_LOST);
			if (++tries < 2)
				goto again;
			goto kernel;
		}
		/* The module refused ranges that the kernel takes (or
		 * would refuse with its own errno): the kernel decides. */
		cma_put(p, CMA_KEEP);
		goto kernel;
	default:
		cma_put(p, CMA_KEEP);
		if (ret >= 0)
			atomic_fetch_add(&cma.via_xpcopy, 1);
		if (ret == 0 && cut)
			ret = -EFAULT;	/* stopped where the kernel would */
		goto out;
	}
kernel:
	if (lv != stack)
		free(lv);
	return sys_rw(write, pid, l, lc, r, rc, flags);
out:
	if (lv != stack)
		free(lv);
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec *local_iov,
				unsigned long liovcnt,
				const struct iovec *remote_iov,
				unsigned long riovcnt, unsigned long flags)
{
	return cma_rw(false, pid, local_iov, liovcnt, remote_iov, riovcnt,
		      flags);
}

EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec *local_iov,
				 unsigned long liovcnt,
				 const struct iovec *remote_iov,
				 unsigned long riovcnt, unsigned long flags)
{
	return cma_rw(true, pid, local_iov, liovcnt, remote_iov, riovcnt,
		      flags);
}

/* ------------------------------------------------------------------------
 * Set-up, fork, exit
 */

/*
 * fork(). With the kernel alone a parent reaches its child as soon as
 * fork() returns, so the library must too: a parent that called at once
 * used to find no server yet (ECONNREFUSED), remember that "no" for
 * CMA_NEG_NS and go to the system call (EPERM at ptrace_scope 3, or the
 * kernel's copy at 0). The child makes its grant and starts serving in its
 * atfork handler, before its own fork() returns; the parent's handler
 * waits for that, on a pipe made by the prepare handler. The child writes
 * its pid once its socket listens (from then on a connection is queued,
 * even before the server thread accepts it), or dies, which closes the
 * pipe. The parent then forgets anything it remembered about that pid (a
 * "no" of an earlier owner of the number). So the child is served when
 * fork() returns, by construction rather than by timing: retrying a
 * refusal for a while, or not remembering refusals of young processes,
 * would only make the race rarer. The price is the child's set-up (a
 * grant, a socket, a thread: tens of microseconds) in the parent's
 * fork(). The wait is bounded by CMA_TIMEOUT_S, for a child that a
 * debugger holds stopped before its handler runs. _Fork(), vfork(),
 * posix_spawn() and clone() run no atfork handler: nothing serves in
 * their children, and nothing waits.
 */
static void cma_prepare(void)
{
	int saved = errno;

	pthread_mutex_lock(&cma.lock);
	if (!cma.serve_fork || pipe2(cma.ready, O_CLOEXEC))
		cma.ready[0] = cma.ready[1] = -1;
	errno = saved;
}

/* Forget @pid's slot, if any. Called with cma.lock held. */
static void cma_forget(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < CMA_CACHE; i++) {
		struct cma_peer *p = &cma.peers[i];

		if (p->pid != pid || p->dead)
			continue;
		if (p->refs) {
			p->dead = true;		/* closed at its last put */
			continue;
		}
		if (p->grant >= 0 && !p->lost)
			close(p->grant);
		p->grant = -1;
		p->pid = 0;
		p->lost = false;
	}
}

static void cma_parent(void)
{
	long long deadline = now_ns() + CMA_TIMEOUT_S * 1000000000LL, left;
	int rfd = cma.ready[0], saved = errno;
	pid_t child;

	if (cma.ready[1] >= 0)
		close(cma.ready[1]);
	cma.ready[0] = cma.ready[1] = -1;
	pthread_mutex_unlock(&cma.lock);
	if (rfd < 0)
		return;
	while ((left = deadline - now_ns()) > 0) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)(left / 1000000) + 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && read(rfd, &child, sizeof(child)) ==
		    sizeof(child)) {
			pthread_mutex_lock(&cma.lock);
			cma_forget(child);
			pthread_mutex_unlock(&cma.lock);
		}
		break;
	}
	close(rfd);
	errno = saved;
}

/*
 * In the child: the parent's grant, socket and peers are not ours. Only
 * the forking thread survives, so the server thread is gone: make our own
 * grant and server.
 */
static void cma_child(void)
{
	int c, ready = cma.ready[1], saved = errno;
	unsigned int i;
	pid_t me;

	if (cma.ready[0] >= 0)
		close(cma.ready[0]);
	cma.ready[0] = cma.ready[1] = -1;
	pthread_mutex_init(&cma.lock, NULL);
	c = atomic_exchange(&cma.conn, -1);
	if (c >= 0)
		close(c);
	if (cma.lsock >= 0)
		close(cma.lsock);
	if (cma.grant >= 0)
		close(cma.grant);
	cma.lsock = cma.grant = -1;
	cma.thread_up = false;
	for (i = 0; i < CMA_CACHE; i++) {
		struct cma_peer *p = &cma.peers[i];

		if (p->pid && p->grant >= 0 && !p->lost)
			close(p->grant);
		memset(p, 0, sizeof(*p));
		p->grant = -1;
	}
	atomic_store(&cma.via_xpcopy, 0);
	atomic_store(&cma.via_syscall, 0);
	if (cma.enabled && cma.serve_fork)
		cma_start_server();
	/* Serving (or not, for good): the parent's fork() may return. */
	if (ready >= 0) {
		me = getpid();
		if (write(ready, &me, sizeof(me)) < 0)
			dbg("cannot tell the parent: %s", strerror(errno));
		close(ready);
	}
	errno = saved;
}

static void cma_parse_policy(void)
{
	const char *allow = getenv("XPCOPY_CMA_ALLOW");
	const char *token = getenv("XPCOPY_CMA_TOKEN");
	char buf[512], *item, *save;

	if (token) {
		size_t n = strlen(token);

		if (n > CMA_TOKEN_MAX)
			n = CMA_TOKEN_MAX;
		memcpy(cma.token, token, n);
		cma.token_len = n;
	}
	if (!allow || !*allow) {
		cma.allow_user = true;
		return;
	}
	snprintf(buf, sizeof(buf), "%s", allow);
	for (item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *end;

		if (!strcmp(item, "user")) {
			cma.allow_user = true;
		} else if (!strcmp(item, "token")) {
			cma.allow_token = true;
			if (!cma.token_len)
				dbg("XPCOPY_CMA_ALLOW=token but no XPCOPY_CMA_TOKEN: nobody matches");
		} else if (!strncmp(item, "group:", 6) &&
			   cma.nr_groups < CMA_GROUPS_MAX) {
			unsigned long g = strtoul(item + 6, &end, 10);

			if (item[6] && !*end)
				cma.groups[cma.nr_groups++] = g;
			else
				dbg("XPCOPY_CMA_ALLOW: bad group \"%s\"", item);
		} else if (strcmp(item, "none")) {
			dbg("XPCOPY_CMA_ALLOW: unknown item \"%s\" ignored",
			    item);
		}
	}
}

__attribute__((constructor))
static void cma_init(void)
{
	char self[24];
	struct stat st;
	ssize_t n;
	int fd;

	cma.debug = env_is("XPCOPY_CMA_DEBUG", "1");
	cma.stats = env_is("XPCOPY_CMA_STATS", "1");
	cma.serve_fork = !env_is("XPCOPY_CMA_FORK", "0");
	if (env_is("XPCOPY_CMA", "0"))
		return;
	cma_parse_policy();
	if (!stat("/proc/self/ns/pid", &st))
		cma.ns = st.st_ino;
	/* Thread ids are looked up in /proc: is it of our pid namespace? */
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		cma.proc_ok = atoi(self) == (int)getpid();
	}
	fd = xpcopy_open(O_CLOEXEC);
	if (fd < 0) {
		dbg("no %s: %s; every call is the system call",
		    XPCOPY_DEV_PATH, strerror(-fd));
		return;
	}
	cma.dev = fd;
	cma.enabled = true;
	pthread_atfork(cma_prepare, cma_parent, cma_child);
	cma_start_server();
}

__attribute__((destructor))
static void cma_fini(void)
{
	char buf[200];
	int n;

	if (!cma.stats)
		return;
	n = snprintf(buf, sizeof(buf),
		     "xpcopy-cma[%d]: %lu calls through xpcopy, %lu to the kernel; grant served %lu, refused %lu\n",
		     (int)getpid(), atomic_load(&cma.via_xpcopy),
		     atomic_load(&cma.via_syscall), atomic_load(&cma.served),
		     atomic_load(&cma.refused));
	if (write(2, buf, n) < 0)
		return;
}
