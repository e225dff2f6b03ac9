/* listen: what the listeners of every binding share about taking their port: a listening port is
 * one process's alone (finding 21), and a refusal names the errno and the key to change. */
#ifndef WARDEN_BINDINGS_LISTEN_H
#define WARDEN_BINDINGS_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/* Whether addr could be bound now by a socket of the given type (SOCK_STREAM, SOCK_DGRAM) that
 * does not share its port: for TCP with SO_REUSEADDR (a restart must not wait for the TIME_WAIT
 * connections of the previous process) and never SO_REUSEPORT; for UDP with neither, so that a
 * port another process holds (even with SO_REUSEADDR, which lets UDP sockets share a port on
 * Linux) is refused. Returns 0, or the errno of the failure. The probe socket is closed again. */
int listen_probe(const struct sockaddr *addr, socklen_t len, int type);

/* "KEY: cannot listen on ADDRESS port PORT: STRERROR (hint)" into err, with a hint for EADDRINUSE
 * (another process, perhaps a second warden, holds the port: stop it or change KEY.port) and
 * EACCES. */
void listen_error(char *err, size_t errlen, const char *key, const char *address, long port, int error);

#endif
