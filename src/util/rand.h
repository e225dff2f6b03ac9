/* rand: cryptographic randomness (getrandom) for resource IDs and keys. */
#ifndef WARDEN_UTIL_RAND_H
#define WARDEN_UTIL_RAND_H

#include <stddef.h>

/* Fill buf with n random bytes from the kernel CSPRNG; aborts if it is unavailable. */
void rand_bytes(void *buf, size_t n);
/* Write n random characters from [0-9A-Za-z] and a NUL into out (size n+1).
 * 16 characters carry ~95 bits: resource IDs cannot be guessed. */
void rand_alnum(char *out, size_t n);

#endif
