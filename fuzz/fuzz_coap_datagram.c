/* fuzz_coap_datagram: raw UDP datagrams into the CoAP server's receive path: the real binding
 * (libcoap's parser and dispatch, Warden's handler, its block-wise reassembly, the oneM2M mapping)
 * on the pipeline CSE of harness_cse.c, over a loopback socket. Input: datagrams, each preceded by
 * its length as two bytes (big-endian); a length beyond the input takes the rest. Each input comes
 * from a new source port (a new libcoap session), so inputs do not share transfers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bindings/binding.h"
#include "bindings/coap/coap_binding.h"
#include "harness_cse.h"

#define MAX_DATAGRAMS 32

/* Harness state: one binding for the whole run (a test driver, not the server). */
static struct binding *srv;
static struct sockaddr_in srv_addr;

static void stop(void)
{
    if (srv)
        coap_binding_ops.stop(srv);
    srv = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    char err[256] = "";
    for (int attempt = 0; attempt < 20 && srv == NULL; attempt++) {
        /* a free port: bind 0, read it back, release it for libcoap */
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &al) != 0)
            abort();
        close(s);
        srv_addr = a;
        srv = coap_binding_start_polled(harness_cse(), ntohs(a.sin_port), err, sizeof err);
    }
    if (srv == NULL) {
        fprintf(stderr, "fuzz_coap_datagram: %s\n", err);
        abort();
    }
    atexit(stop); /* before harness_cse's cleanup, which was registered first */
    return 0;
}

/* Read what the server sent; acknowledge its CON messages (separate responses) so that libcoap does
 * not retransmit them for the rest of the run. Returns the number of datagrams read. */
static int drain(int s)
{
    int n = 0;
    uint8_t buf[2048];
    ssize_t r;
    while ((r = recv(s, buf, sizeof buf, MSG_DONTWAIT)) >= 4) {
        n++;
        if (((buf[0] >> 4) & 3) == 0) { /* CON: empty ACK with its message ID */
            uint8_t ack[4] = {(uint8_t)(0x40 | (2 << 4)), 0, buf[2], buf[3]};
            (void)send(s, ack, sizeof ack, 0);
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&srv_addr, sizeof srv_addr) != 0)
        abort();
    size_t i = 0;
    int answers = 0;
    for (int k = 0; k < MAX_DATAGRAMS && i + 2 <= size; k++) {
        size_t len = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        (void)send(s, data + i, len, 0);
        i += len;
        /* let the server take it and answer (parked requests complete on the store's writer) */
        coap_binding_poll(srv, 0);
        answers += drain(s);
        for (int spins = 0; spins < 2000 && coap_binding_ops.inflight(srv) > 0; spins++) {
            coap_binding_poll(srv, 1);
            answers += drain(s);
        }
    }
    coap_binding_poll(srv, 0);
    answers += drain(s);
    close(s);
    if (getenv("FUZZ_COAP_VERBOSE")) /* for a look at what the seeds reach */
        fprintf(stderr, "fuzz_coap_datagram: %zu bytes, %d answers\n", size, answers);
    return 0;
}
