/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strata-cni: the CNI plugin executable. It checks what the runtime gave
 * (cni_conf.c), opens the pod's netns, hands the request and the netns fd
 * to stratad's frontend-cni over a unix socket, and prints the result in
 * the requested CNI version (cni_result.c). Exactly one JSON document goes
 * to stdout, errors included; logs go to stderr. docs/cni.md has the
 * details.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cni_conf.h"
#include "cni_result.h"

/* stdout proper; fd 1 itself points at stderr so that nothing but our
 * one document can reach the runtime */
static int out_fd = 1;
static volatile sig_atomic_t emitted;

static const char last_resort[] =
	"{\"code\":999,\"msg\":\"strata-cni: internal error\"}\n";

static void write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void on_crash(int sig)
{
	if (!emitted) {
		emitted = 1;
		write_all(out_fd, last_resort, sizeof(last_resort) - 1);
	}
	/* SA_RESETHAND: the default action follows */
	raise(sig);
}

static void setup_output(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa = {
		.sa_handler = on_crash,
		.sa_flags = SA_RESETHAND | SA_NODEFER,
	};
	size_t i;
	int fd;

	fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0) {
		out_fd = fd;
		dup2(2, 1);
	}
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void emit(const char *doc, size_t len)
{
	emitted = 1;
	write_all(out_fd, doc, len);
}

static const char *cmd_name(const struct cni_env *env)
{
	return env->command && env->command[0] ? env->command : "?";
}

static int fail(const struct cni_env *env, const char *version,
		const struct cni_err *err)
{
	char *doc;
	size_t len;

	if (env->containerid && env->containerid[0])
		fprintf(stderr, "strata-cni: %s %s/%s: %s%s%s\n",
			cmd_name(env), env->containerid,
			env->ifname ? env->ifname : "", err->msg,
			err->details[0] ? ": " : "", err->details);
	else
		fprintf(stderr, "strata-cni: %s: %s%s%s\n", cmd_name(env),
			err->msg, err->details[0] ? ": " : "", err->details);
	if (cni_error_doc(version, err, &doc, &len) < 0) {
		emit(last_resort, sizeof(last_resort) - 1);
		return 1;
	}
	emit(doc, len);
	free(doc);
	return 1;
}

static int read_stdin(char **out, size_t *len, struct cni_err *err)
{
	size_t cap = 65536, n = 0;
	char *buf, *p;
	ssize_t r;

	*out = NULL;
	*len = 0;
	buf = malloc(cap);
	if (!buf) {
		cni_seterr(err, CNI_ERR_INTERNAL, NULL, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			/* one byte over the limit is enough to refuse */
			if (cap > CNI_MAX_MSG)
				break;
			cap *= 2;
			p = realloc(buf, cap + 1);
			if (!p) {
				free(buf);
				cni_seterr(err, CNI_ERR_INTERNAL, NULL,
					   "out of memory");
				return -ENOMEM;
			}
			buf = p;
		}
		r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		/* no stdin at all reads as an empty one */
		if (r < 0 && errno == EBADF)
			break;
		if (r < 0) {
			cni_seterr(err, CNI_ERR_IO, NULL,
				   "cannot read the network configuration "
				   "from stdin: %s", strerror(errno));
			free(buf);
			return -EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* ---- the pod's netns ----------------------------------------------------- */

/* A DEL carries on without the fd when the netns is gone or unusable:
 * stratad finds the host veth by name and releases the address anyway. */
static int open_netns(const struct cni_req *req, int *nsfd,
		      struct cni_err *err)
{
	bool del = req->cmd == CNI_CMD_DEL;
	struct stat self, st;
	int fd, e;

	*nsfd = -1;
	if (!req->netns[0])
		return 0;
	fd = open(req->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (del) {
			fprintf(stderr, "strata-cni: DEL %s/%s: netns %s: %s; "
				"going on without it\n", req->container_id,
				req->ifname, req->netns, strerror(e));
			return 0;
		}
		cni_seterr(err, CNI_ERR_IO, NULL,
			   "cannot open CNI_NETNS %s: %s", req->netns,
			   strerror(e));
		return -e;
	}
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		if (del) {
			fprintf(stderr, "strata-cni: DEL %s/%s: %s is not a "
				"network namespace; going on without it\n",
				req->container_id, req->ifname, req->netns);
			return 0;
		}
		cni_seterr(err, CNI_ERR_NETNS, NULL,
			   "CNI_NETNS %s is not a network namespace",
			   req->netns);
		return -EINVAL;
	}
	/* the runtime's own netns would put the pod's end on the host */
	if (stat("/proc/self/ns/net", &self) == 0 && fstat(fd, &st) == 0 &&
	    self.st_dev == st.st_dev && self.st_ino == st.st_ino) {
		close(fd);
		if (del) {
			fprintf(stderr, "strata-cni: DEL %s/%s: %s is our own "
				"network namespace; going on without it\n",
				req->container_id, req->ifname, req->netns);
			return 0;
		}
		cni_seterr(err, CNI_ERR_NETNS, NULL,
			   "CNI_NETNS %s is strata-cni's own network "
			   "namespace, not a pod's", req->netns);
		return -EINVAL;
	}
	*nsfd = fd;
	return 0;
}

/* ---- stratad ------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int unreachable(const struct cni_req *req, struct cni_err *err,
		       const char *why)
{
	cni_seterr(err, req->cmd == CNI_CMD_STATUS ? CNI_ERR_STATUS :
		   CNI_ERR_AGAIN, NULL, "stratad is not reachable at %s: %s",
		   req->socket, why);
	return -ECONNREFUSED;
}

static int timed_out(const struct cni_req *req, struct cni_err *err)
{
	cni_seterr(err, req->cmd == CNI_CMD_STATUS ? CNI_ERR_STATUS :
		   CNI_ERR_AGAIN, NULL,
		   "stratad did not answer within %d s at %s", req->timeout,
		   req->socket);
	return -ETIMEDOUT;
}

/* 0 when fd is ready for events, -ETIMEDOUT past the deadline. */
static int wait_for(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const struct cni_req *req, int64_t deadline,
		      struct cni_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	memcpy(sa.sun_path, req->socket, strlen(req->socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cni_seterr(err, CNI_ERR_IO, NULL, "socket: %s",
			   strerror(errno));
		return -EIO;
	}
	/* EAGAIN: stratad's backlog is full; it is alive but busy */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN && now_ms() < deadline) {
			poll(NULL, 0, 10);
			continue;
		}
		close(fd);
		if (e == EAGAIN)
			return timed_out(req, err);
		return unreachable(req, err, strerror(e));
	}
	return fd;
}

/* The first chunk carries the netns fd, so stratad gets both at once. */
static ssize_t send_chunk(int sock, const char *buf, size_t len, int nsfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nsfd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &nsfd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

static int talk(const struct cni_req *req, const char *msg, size_t len,
		int nsfd, char **reply, size_t *rlen, struct cni_err *err)
{
	int64_t deadline = now_ms() + (int64_t)req->timeout * 1000;
	size_t off = 0, n = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t r;
	int sock, w;

	*reply = NULL;
	*rlen = 0;
	sock = connect_to(req, deadline, err);
	if (sock < 0)
		return sock;
	while (off < len) {
		w = wait_for(sock, POLLOUT, deadline);
		if (w == -ETIMEDOUT)
			goto timeout;
		r = send_chunk(sock, msg + off, len - off, off ? -1 : nsfd);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* stratad may have answered already (too large, refused):
		 * read what it said */
		if (r < 0)
			break;
		off += (size_t)r;
	}
	for (;;) {
		if (cap - n < 4096) {
			if (cap > CNI_MAX_MSG) {
				cni_seterr(err, CNI_ERR_IO, NULL,
					   "reply from stratad at %s is larger "
					   "than %d bytes", req->socket,
					   CNI_MAX_MSG);
				goto close_sock;
			}
			cap = cap ? cap * 2 : 8192;
			p = realloc(buf, cap + 1);
			if (!p) {
				cni_seterr(err, CNI_ERR_INTERNAL, NULL,
					   "out of memory");
				goto close_sock;
			}
			buf = p;
		}
		w = wait_for(sock, POLLIN, deadline);
		if (w == -ETIMEDOUT)
			goto timeout;
		r = recv(sock, buf + n, cap - n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0 && errno != ECONNRESET) {
			cni_seterr(err, CNI_ERR_IO, NULL,
				   "reading from stratad at %s: %s",
				   req->socket, strerror(errno));
			goto close_sock;
		}
		if (r <= 0)
			break;
		p = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (p) {
			close(sock);
			*reply = buf;
			*rlen = (size_t)(p - buf) + 1;
			return 0;
		}
	}
	unreachable(req, err, n ? "it closed the connection in the middle "
			      "of its reply" :
			      "it closed the connection without a reply");
	goto close_sock;

timeout:
	timed_out(req, err);
close_sock:
	close(sock);
	free(buf);
	return -EIO;
}

int main(void)
{
	struct cni_req req;
	struct cni_err err;
	struct cni_env env;
	char *in = NULL, *msg = NULL, *reply = NULL, *out = NULL;
	size_t inlen = 0, msglen, rlen, outlen;
	int nsfd = -1, status = 1;

	setup_output();
	cni_env_get(&env);
	if (read_stdin(&in, &inlen, &err) < 0)
		return fail(&env, NULL, &err);
	if (cni_parse(&req, &env, in, inlen, &err) < 0) {
		status = fail(&env, req.version, &err);
		goto free_req;
	}
	if (req.cmd == CNI_CMD_VERSION) {
		if (cni_version_doc(&req, &out, &outlen) < 0) {
			cni_seterr(&err, CNI_ERR_INTERNAL, NULL,
				   "out of memory");
			status = fail(&env, req.version, &err);
			goto free_req;
		}
		emit(out, outlen);
		status = 0;
		goto free_req;
	}
	if (cni_request(&req, &msg, &msglen, &err) < 0 ||
	    ((req.cmd == CNI_CMD_ADD || req.cmd == CNI_CMD_CHECK ||
	      req.cmd == CNI_CMD_DEL) && open_netns(&req, &nsfd, &err) < 0) ||
	    talk(&req, msg, msglen, nsfd, &reply, &rlen, &err) < 0 ||
	    cni_reply(&req, reply, rlen, &out, &outlen, &err) < 0) {
		status = fail(&env, req.version, &err);
		goto close_ns;
	}
	if (out)
		emit(out, outlen);
	status = 0;

close_ns:
	if (nsfd >= 0)
		close(nsfd);
free_req:
	free(out);
	free(reply);
	free(msg);
	free(in);
	cni_req_free(&req);
	return status;
}
