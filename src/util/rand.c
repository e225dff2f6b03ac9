/* rand: kernel CSPRNG access (see rand.h). */
#include "rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void rand_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("warden: getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

void rand_alnum(char *out, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i = 0;
    while (i < n) {
        unsigned char raw[32];
        rand_bytes(raw, sizeof raw);
        for (size_t k = 0; k < sizeof raw && i < n; k++)
            if (raw[k] < 248) /* 248 = 4 * 62: reject to keep the draw uniform */
                out[i++] = alphabet[raw[k] % 62];
    }
    out[n] = '\0';
}
