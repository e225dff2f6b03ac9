/* wardenctl kex: this CSE as ESCertKE Initiating End-Point towards another CSE (wardenctl_kex.c). */
#ifndef WARDEN_TOOLS_WARDENCTL_KEX_H
#define WARDEN_TOOLS_WARDENCTL_KEX_H

struct cse_config;

extern const char wardenctl_kex_usage[];

/* argv[0] is "kex". Returns 0, 1 (failed) or 2 (usage). */
int wardenctl_kex(const struct cse_config *cfg, int argc, char **argv);

#endif
