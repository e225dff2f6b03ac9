/* wardenctl e2e: the end-to-end pairwise keys of ESPrim (TS-0003 §8.4.2 pairwiseESPrimKey) in the
 * store's e2e key table (security/e2e_keys.h): add (key bytes on standard input only), derive from
 * a provisioned Kpsa (TS-0003 §10.3.6, e2e/e2e_kdf.h), list (never key bytes), revoke (immediate). */
#ifndef WARDEN_TOOLS_WARDENCTL_E2E_H
#define WARDEN_TOOLS_WARDENCTL_E2E_H

#include "core/config.h"

/* argv[0] is "e2e". Exit status 0, 1 (failure) or 2 (usage). */
int wardenctl_e2e(const struct cse_config *cfg, int argc, char **argv);

extern const char wardenctl_e2e_usage[];

#endif
