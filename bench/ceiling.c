/* warden-ceiling: trivial libmicrohttpd server with Warden's daemon configuration, the benchmark's upper bound. */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

/* A fixed contentInstance-shaped representation, about 250 bytes. */
static const char CIN_BODY[] = "{\"m2m:cin\":{\"rn\":\"cin_7f3a9c21e4b8d056\",\"ty\":4,"
                               "\"ri\":\"7f3a9c21e4b8d056\",\"pi\":\"3c9e1a7b5d2f4086\","
                               "\"ct\":\"20250101T000000\",\"lt\":\"20250101T000000\","
                               "\"et\":\"20991231T235959\",\"st\":1,\"cnf\":\"text/plain:0\",\"cs\":32,"
                               "\"con\":\"ceiling benchmark payload 01234\"}}";

/* Address of this object marks "first call already seen" in *req_cls. */
static int first_call_marker;

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;

    if (*req_cls == NULL) {
        /* First call: headers only. Answer after the whole body has arrived, as Warden does. */
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* discard the body */
        return MHD_YES;
    }

    /* A fresh response per request, body copied as a server with per-request bodies must. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof CIN_BODY - 1, (void *)(uintptr_t)CIN_BODY, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;

    const char *ri = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-M2M-RI");
    enum MHD_Result ok = MHD_YES;
    if (MHD_add_response_header(resp, "X-M2M-RSC", "2000") != MHD_YES ||
        MHD_add_response_header(resp, "X-M2M-RI", ri != NULL ? ri : "") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES)
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint16_t port = 0;
    if (argc != 2 || parse_port(argv[1], &port) != 0) {
        fprintf(stderr, "usage: %s PORT   (1..65535; binds 127.0.0.1)\n", argc > 0 ? argv[0] : "warden-ceiling");
        return 2;
    }

    /* Block the termination signals before any MHD thread exists; main waits for them. The default
     * disposition is restored first: a background job inherits SIGINT ignored, and an ignored signal
     * is discarded instead of becoming pending for sigwait(). */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        fprintf(stderr, "warden-ceiling: pthread_sigmask failed\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int pool = (ncpu < 1) ? 1U : (ncpu > 256 ? 256U : (unsigned int)ncpu);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* Exactly Warden's daemon configuration with its defaults (src/bindings/http/http_binding.c, http.* in
     * src/core/config.c: threads 0 = one per CPU, max_conns 1024, max_conns_per_ip 64, timeout 10,
     * header_limit 16384 as the connection memory limit); only the handler differs. */
    // clang-format off
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
        port, NULL, NULL,
        &answer, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_END);
    // clang-format on
    if (d == NULL) {
        fprintf(stderr, "warden-ceiling: cannot start daemon on 127.0.0.1:%u\n", (unsigned int)port);
        return 1;
    }
    fprintf(stderr, "warden-ceiling: ready on 127.0.0.1:%u (%u threads)\n", (unsigned int)port, pool);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    MHD_stop_daemon(d);
    fprintf(stderr, "warden-ceiling: stopped (signal %d)\n", sig);
    return 0;
}
