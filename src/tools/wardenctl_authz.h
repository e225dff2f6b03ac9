/* wardenctl authz / token: a development Authorization Authority (TS-0003 §7.3.2), so the roles and
 * tokens flows run from the command line: `authz init DIR` makes an authority's keys and the issuers
 * file that authz.issuers names; `token issue` mints a token with the claims of TS-0003 §7.3.2.6,
 * signed with those keys, that src/security/token.c verifies. */
#ifndef WARDEN_TOOLS_WARDENCTL_AUTHZ_H
#define WARDEN_TOOLS_WARDENCTL_AUTHZ_H

#include "core/config.h"

/* argv[0] is "authz" or "token". Exit status 0, 1 (failure) or 2 (usage). */
int wardenctl_authz(const struct cse_config *cfg, int argc, char **argv);

/* The usage lines of both commands, for wardenctl's usage(). */
extern const char wardenctl_authz_usage[];

#endif
