/* wardenctl_common: what the wardenctl subcommand files (wardenctl*.c) share. */
#ifndef WARDEN_TOOLS_WARDENCTL_COMMON_H
#define WARDEN_TOOLS_WARDENCTL_COMMON_H

/* "wardenctl: " and the message on stderr; returns 1, the failure exit status of every
 * subcommand (2 is usage). Defined in wardenctl.c. */
__attribute__((format(printf, 1, 2))) int wardenctl_fail(const char *fmt, ...);

#endif
