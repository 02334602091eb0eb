// SPDX-License-Identifier: GPL-2.0
/*
 * grant-pingpong: two unrelated processes play ping-pong through xpcopy
 * grants, with ordered completion.
 *
 * Each end exports a receive window of its own memory, and a sequence word
 * outside that window, as a grant (XPCOPY_GRANT_WRITE | XPCOPY_GRANT_SEQ).
 * It hands the other end a write-only grant derived from it, over a unix
 * socket (SCM_RIGHTS). To send message number n, an end copies it into the
 * other end's window with XPCOPY_COPY_PUBLISH and seq = n: the module copies
 * every byte, then stores n into the other end's sequence word with release
 * ordering, then wakes it. To receive message n, an end polls its grant fd
 * and loads its sequence word with acquire ordering: once the word reads n,
 * all of message n is in the window.
 *
 *   grant-pingpong [COUNT]                  both ends: the server starts
 *                                           the client with fork + execve
 *   grant-pingpong server PATH              the server, on socket PATH
 *   grant-pingpong client PATH [COUNT]      the client: COUNT pings
 *
 * Needs the xpcopy module (/dev/xpcopy); no privilege: the grant fds are
 * the whole authority. Build with the Makefile beside this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/xpcopy.h>

#define WINDOW	4096			/* the receive window: one page */

/* A message, at the start of the window. */
struct msg {
	uint32_t len;			/* bytes of text */
	char text[60];
};

/* One end of the conversation. */
struct end {
	int dev;			/* /dev/xpcopy */
	int sock;			/* the unix socket to the other end */
	struct msg *rx;			/* my window: the other end writes here */
	uint64_t rx_seq;		/* my sequence word (not in the window) */
	int rx_grant;			/* my grant on rx: I poll it */
	int tx_grant;			/* the other end's: I write through it */
};

static const char *who = "grant-pingpong";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", who, what, strerror(errno));
	exit(1);
}

/* Pass an fd over a unix socket, with one byte of data to carry it. */
static void send_fd(int sock, int fd)
{
	char byte = 'g';
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = { 0 };
	struct msghdr m = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr m = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg");
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		errno = EPROTO;
		die("no fd came");
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Export my receive window, and swap grants with the other end. */
static void setup(struct end *e)
{
	struct xpcopy_grant g = { .size = sizeof(g) };
	struct xpcopy_grant_derive d = { .size = sizeof(d) };
	int peer;

	e->dev = open("/dev/xpcopy", O_RDWR | O_CLOEXEC);
	if (e->dev < 0)
		die("/dev/xpcopy");
	e->rx = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->rx == MAP_FAILED)
		die("mmap");

	/*
	 * The sequence word lies outside the window: a peer that could
	 * write it with a plain copy could announce a message it never sent.
	 */
	g.flags = XPCOPY_GRANT_WRITE | XPCOPY_GRANT_SEQ;
	g.addr = (uintptr_t)e->rx;
	g.len = WINDOW;
	g.seq_addr = (uintptr_t)&e->rx_seq;
	e->rx_grant = ioctl(e->dev, XPCOPY_GRANT, &g);
	if (e->rx_grant < 0)
		die("XPCOPY_GRANT");

	/*
	 * The other end gets a grant derived from mine, not mine: a file of
	 * its own (poll and read state are per file), which can be revoked
	 * on its own, and which could be narrower (a sub-window).
	 */
	d.flags = XPCOPY_GRANT_WRITE;
	d.grant_fd = e->rx_grant;
	d.offset = 0;
	d.len = WINDOW;
	peer = ioctl(e->dev, XPCOPY_GRANT_DERIVE, &d);
	if (peer < 0)
		die("XPCOPY_GRANT_DERIVE");
	send_fd(e->sock, peer);
	close(peer);			/* the other end holds it now */
	e->tx_grant = recv_fd(e->sock);
}

/* Copy a message into the other end's window, then publish seq. */
static void send_msg(struct end *e, const struct msg *m, uint64_t seq)
{
	struct xpcopy_iovec local = { .addr = (uintptr_t)m, .len = sizeof(*m) };
	/* In grant mode remote addresses are offsets into the window. */
	struct xpcopy_iovec remote = { .addr = 0, .len = sizeof(*m) };
	struct xpcopy_copy c = {
		.size = sizeof(c),
		.flags = XPCOPY_COPY_WRITE | XPCOPY_COPY_GRANT |
			 XPCOPY_COPY_PUBLISH,
		.local_cnt = 1, .local_iov = (uintptr_t)&local,
		.remote_cnt = 1, .remote_iov = (uintptr_t)&remote,
		.seq = seq,
	};

	c.grant_fd = e->tx_grant;
	if (ioctl(e->dev, XPCOPY_COPY, &c))
		die("XPCOPY_COPY");
	/* A copy cut short publishes nothing: the other end would hang. */
	if (c.copied != sizeof(*m)) {
		errno = EIO;
		die("short copy");
	}
}

/*
 * Wait until message seq is in my window, and copy it out. Returns 0, or
 * -1 when the other end hung up.
 */
static int recv_msg(struct end *e, uint64_t seq, struct msg *out)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = e->rx_grant, .events = POLLIN },
			{ .fd = e->sock, .events = POLLIN },
		};
		uint64_t v;

		/*
		 * Acquire pairs with the module's release store: seeing seq
		 * in the word means seeing every byte copied before it.
		 */
		if (__atomic_load_n(&e->rx_seq, __ATOMIC_ACQUIRE) >= seq)
			break;
		/* Readable when something was published since my last read. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents & POLLERR) {
			errno = ESTALE;
			die("my grant was revoked");
		}
		if ((p[0].revents & POLLIN) && read(e->rx_grant, &v, 8) != 8)
			die("read grant");
		if (p[1].revents)
			return -1;	/* nothing else comes on the socket */
	}
	/*
	 * The window is shared with a writer: take a copy, then check it,
	 * so that what is checked is what is used.
	 */
	*out = *e->rx;
	if (out->len >= sizeof(out->text)) {
		errno = EBADMSG;
		die("bad message");
	}
	out->text[out->len] = 0;
	return 0;
}

static void set_text(struct msg *m, const char *verb, unsigned long long n)
{
	int len = snprintf(m->text, sizeof(m->text), "%s %llu", verb, n);

	m->len = (uint32_t)len;
}

static int server(int lsock, const char *path)
{
	static struct end e;		/* static: rx_seq outlives the calls */
	struct msg in, out;
	uint64_t n;

	who = "server";
	e.sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (e.sock < 0)
		die("accept");
	unlink(path);			/* one client: nobody else may come */
	setup(&e);
	for (n = 1; recv_msg(&e, n, &in) == 0; n++) {
		unsigned long long k;

		if (sscanf(in.text, "ping %llu", &k) != 1 || k != n) {
			errno = EBADMSG;
			die(in.text);
		}
		if (n <= 3)
			printf("server: got \"%s\"\n", in.text);
		set_text(&out, "pong", k);
		send_msg(&e, &out, n);
	}
	printf("server: answered %llu pings; the client left\n",
	       (unsigned long long)(n - 1));
	return 0;
}

static int client(int sock, unsigned long long count)
{
	static struct end e;
	struct timespec t0, t1;
	struct msg in, out;
	uint64_t n;
	char want[64];
	double us;

	who = "client";
	e.sock = sock;
	setup(&e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 1; n <= count; n++) {
		set_text(&out, "ping", n);
		send_msg(&e, &out, n);
		if (recv_msg(&e, n, &in)) {
			errno = ECONNRESET;
			die("the server left");
		}
		snprintf(want, sizeof(want), "pong %llu",
			 (unsigned long long)n);
		if (strcmp(in.text, want)) {
			errno = EBADMSG;
			die(in.text);
		}
		if (n <= 3)
			printf("client: got \"%s\"\n", in.text);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
	printf("client: %llu round trips in %.0f ms, %.1f us each\n", count,
	       us / 1000, count ? us / count : 0);
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || strlen(path) >= sizeof(a.sun_path))
		die("socket");
	strcpy(a.sun_path, path);
	unlink(path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1))
		die(path);
	return s;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || strlen(path) >= sizeof(a.sun_path))
		die("socket");
	strcpy(a.sun_path, path);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		die(path);
	return s;
}

int main(int argc, char **argv)
{
	char path[64], count[32];
	int lsock, ret, status;
	pid_t pid;

	if (argc >= 3 && !strcmp(argv[1], "server"))
		return server(listen_on(argv[2]), argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "client"))
		return client(connect_to(argv[2]),
			      argc > 3 ? strtoull(argv[3], NULL, 0) : 1000);
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [COUNT] | server PATH | "
			"client PATH [COUNT]\n", argv[0]);
		return 2;
	}

	/* Both ends: the client is a new program image, sharing nothing. */
	if (access("/dev/xpcopy", R_OK | W_OK))
		die("/dev/xpcopy");
	snprintf(path, sizeof(path), "/tmp/grant-pingpong.%d", getpid());
	snprintf(count, sizeof(count), "%s", argc == 2 ? argv[1] : "1000");
	lsock = listen_on(path);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "client", path, count,
		      (char *)NULL);
		die("execl");
	}
	ret = server(lsock, path);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return 1;
	return ret;
}
