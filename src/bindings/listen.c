/* listen: see listen.h. */
#include "listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int listen_probe(const struct sockaddr *addr, socklen_t len, int type)
{
    int fd = socket(addr->sa_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int one = 1, rc = 0;
    if (type == SOCK_STREAM)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, addr, len) != 0)
        rc = errno;
    close(fd);
    return rc;
}

void listen_error(char *err, size_t errlen, const char *key, const char *address, long port, int error)
{
    const char *hint = error == EADDRINUSE ? " (another process, perhaps a second warden, holds it: stop it or change "
                       : error == EACCES   ? " (a port below 1024 needs privileges: change "
                                           : NULL;
    if (hint)
        snprintf(err, errlen, "%s.port: cannot listen on %s port %ld: %s%s%s.port)", key, address, port,
                 strerror(error), hint, key);
    else
        snprintf(err, errlen, "%s.port: cannot listen on %s port %ld: %s", key, address, port, strerror(error));
}
