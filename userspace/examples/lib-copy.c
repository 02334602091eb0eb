// SPDX-License-Identifier: GPL-2.0
/*
 * lib-copy: the smallest libxpcopy program. It writes a string into a
 * forked child's copy of a buffer and lets the child print it. Built by
 * userspace/Makefile against the installed library, the way a user builds:
 *
 *	cc $(pkg-config --cflags xpcopy) lib-copy.c $(pkg-config --libs xpcopy)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <xpcopy.h>

int main(void)
{
	static char buf[64] = "nothing yet";
	const char msg[] = "hello from the parent, one copy";
	int fd, pfd[2], status;
	ssize_t n;
	pid_t pid;
	char go;

	fd = xpcopy_open(0);
	if (fd < 0) {
		fprintf(stderr, "%s\n", xpcopy_strerror(fd, XPCOPY_OP_OPEN));
		return 1;
	}
	if (pipe(pfd))
		return 1;
	pid = fork();
	if (pid == 0) {			/* the child waits, then prints its buffer */
		if (read(pfd[0], &go, 1) != 1)
			_exit(1);
		printf("child sees: %s\n", buf);
		_exit(strcmp(buf, msg) ? 1 : 0);
	}
	/* pid mode needs CAP_SYS_PTRACE; a grant fd would need nothing */
	n = xpcopy_write(fd, pid, (uintptr_t)buf, msg, sizeof(msg), 0);
	if (n < 0)
		fprintf(stderr, "%s\n", xpcopy_strerror(n, XPCOPY_OP_COPY));
	if (write(pfd[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid)
		return 1;
	return n == sizeof(msg) && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}
