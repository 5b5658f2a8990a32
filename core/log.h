/* SPDX-License-Identifier: Apache-2.0 */
#ifndef STRATA_CORE_LOG_H
#define STRATA_CORE_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
int log_level_parse(const char *name); /* "error".."debug" -> level, or -EINVAL */
const char *log_level_name(int level);
void log_set_level(int level);
int log_get_level(void);
/* "stderr" (default) or "syslog"; ident names the program in syslog. */
int log_set_target(const char *target, const char *ident);

/*
 * One line per message: "LEVEL prefix: text". prefix may be NULL (the core)
 * or "plugin[instance]". Identical messages (same prefix and format) more
 * often than a burst per window are dropped and counted; the next one that
 * passes says how many were suppressed.
 */
void log_msg(int level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* The same, whatever the level: for an instance whose debug is on. */
void log_vmsg_force(int level, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_err(...) log_msg(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
