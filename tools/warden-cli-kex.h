/* warden-cli kex: ESCertKE with a CSE (tools/warden-cli-kex.c). */
#ifndef WARDEN_TOOLS_CLI_KEX_H
#define WARDEN_TOOLS_CLI_KEX_H

/* `warden-cli kex [options]` (argv[0] is "kex"): runs the exchange, writes the key file, prints the
 * key ID. Returns the process exit status (0 established, 1 failed, 2 usage). */
int warden_cli_kex(int argc, char **argv);

#endif
