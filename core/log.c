/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A burst of LOG_RATE_BURST identical messages per window passes. */
#define LOG_RATE_BURST 10
#ifndef LOG_RATE_WINDOW_MS
#define LOG_RATE_WINDOW_MS 10000
#endif
#define LOG_RATE_WINDOW_NS ((int64_t)LOG_RATE_WINDOW_MS * 1000000)
/* Bounded memory: a fixed table, probed a few slots from the hash. */
#define LOG_RATE_SLOTS 64
#define LOG_RATE_PROBE 4
#define LOG_LINE_MAX 1024

struct log_rate {
	uint64_t key; /* 0: free slot */
	int64_t window_start;
	int64_t last_seen;
	unsigned count;      /* messages in this window */
	unsigned suppressed; /* dropped since the last one that passed */
};

static atomic_int log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_to_syslog;
static char log_ident[64];
static struct log_rate log_rates[LOG_RATE_SLOTS];

static const struct {
	const char *name;
	int level;
} log_names[] = {
	{ "error", LOG_ERR },	  { "err", LOG_ERR },
	{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
	{ "info", LOG_INFO },	  { "debug", LOG_DEBUG },
};

int log_level_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcasecmp(name, log_names[i].name) == 0)
			return log_names[i].level;
	return -EINVAL;
}

const char *log_level_name(int level)
{
	if (level < 0)
		return "unknown";
	if (level <= LOG_ERR)
		return "error";
	if (level == LOG_WARNING)
		return "warning";
	if (level <= LOG_INFO)
		return "info";
	if (level == LOG_DEBUG)
		return "debug";
	return "unknown";
}

void log_set_level(int level)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

int log_set_target(const char *target, const char *ident)
{
	if (!target)
		return -EINVAL;
	if (strcmp(target, "stderr") == 0) {
		pthread_mutex_lock(&log_lock);
		if (log_to_syslog)
			closelog();
		log_to_syslog = false;
		pthread_mutex_unlock(&log_lock);
		return 0;
	}
	if (strcmp(target, "syslog") != 0)
		return -EINVAL;
	pthread_mutex_lock(&log_lock);
	if (log_to_syslog)
		closelog();
	/* openlog() keeps the pointer: hold our own copy. */
	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "stratad");
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = true;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

static int64_t log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* FNV-1a over prefix and format; 0 is reserved for free slots. */
static uint64_t log_key(const char *prefix, const char *fmt)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[2] = { prefix ? prefix : "", fmt };

	for (int i = 0; i < 2; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i];
		     *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ull;
		}
		/* separator, so ("ab", "c") differs from ("a", "bc") */
		h ^= 0xff;
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

/*
 * Called with log_lock held. Returns false if the message is to be dropped;
 * otherwise *suppressed is how many were dropped before it.
 */
static bool log_rate_pass(const char *prefix, const char *fmt,
			  unsigned *suppressed)
{
	uint64_t key = log_key(prefix, fmt);
	int64_t now = log_now();
	struct log_rate *slot = NULL, *victim = NULL;

	*suppressed = 0;
	for (unsigned i = 0; i < LOG_RATE_PROBE; i++) {
		struct log_rate *r = &log_rates[(key + i) % LOG_RATE_SLOTS];

		if (r->key == key) {
			slot = r;
			break;
		}
		if (!victim || r->key == 0 ||
		    (victim->key != 0 && r->last_seen < victim->last_seen))
			victim = r;
	}
	if (!slot) {
		/* Evict the least recently seen neighbour. */
		slot = victim;
		memset(slot, 0, sizeof(*slot));
		slot->key = key;
		slot->window_start = now;
	}
	slot->last_seen = now;
	if (now - slot->window_start >= LOG_RATE_WINDOW_NS) {
		slot->window_start = now;
		slot->count = 0;
	}
	if (slot->count >= LOG_RATE_BURST) {
		slot->suppressed++;
		return false;
	}
	slot->count++;
	*suppressed = slot->suppressed;
	slot->suppressed = 0;
	return true;
}

/* One line: control characters (newlines above all) become spaces. */
static void log_flatten(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			s[i] = ' ';
}

static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void log_emit(int level, const char *prefix, const char *text,
		     unsigned suppressed)
{
	char tail[64] = "";

	if (suppressed)
		snprintf(tail, sizeof(tail), " (%u similar messages suppressed)",
			 suppressed);
	if (log_to_syslog) {
		syslog(level, "%s%s%s%s", prefix ? prefix : "",
		       prefix ? ": " : "", text, tail);
		return;
	}

	char stackbuf[LOG_LINE_MAX + 128];
	char *line = stackbuf;
	int n = snprintf(stackbuf, sizeof(stackbuf), "%s %s%s%s%s\n",
			 log_level_name(level), prefix ? prefix : "",
			 prefix ? ": " : "", text, tail);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(stackbuf)) {
		line = malloc((size_t)n + 1);
		if (!line) {
			/* Out of memory: the truncated line still helps. */
			line = stackbuf;
			n = (int)sizeof(stackbuf) - 1;
			stackbuf[n - 1] = '\n';
		} else {
			snprintf(line, (size_t)n + 1, "%s %s%s%s%s\n",
				 log_level_name(level), prefix ? prefix : "",
				 prefix ? ": " : "", text, tail);
		}
	}
	log_write_all(STDERR_FILENO, line, (size_t)n);
	if (line != stackbuf)
		free(line);
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char stackbuf[LOG_LINE_MAX];
	char *text = stackbuf;
	unsigned suppressed;
	va_list copy;
	int n;

	/* Below the level nothing is formatted: debug calls stay cheap. */
	if (level > atomic_load(&log_level) || !fmt)
		return;

	pthread_mutex_lock(&log_lock);
	if (!log_rate_pass(prefix, fmt, &suppressed))
		goto unlock;

	va_copy(copy, ap);
	n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, copy);
	va_end(copy);
	if (n < 0)
		goto unlock;
	if ((size_t)n >= sizeof(stackbuf)) {
		char *big = malloc((size_t)n + 1);

		/* Without memory, the truncated text is still written. */
		if (big) {
			va_copy(copy, ap);
			vsnprintf(big, (size_t)n + 1, fmt, copy);
			va_end(copy);
			text = big;
		}
	}
	log_flatten(text);
	log_emit(level, prefix, text, suppressed);
	if (text != stackbuf)
		free(text);
unlock:
	pthread_mutex_unlock(&log_lock);
}

void log_msg(int level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}
