/* fuzz_filter: filter-criteria parsing and evaluation (TS-0004 6.3.5.8): the input is the query
 * string of a discovery request (fu=1) and of a conditional retrieve (fu=2) from the admin and from
 * the tree's AE, run through the HTTP mapping, the store's filtered search and the per-resource
 * DISCOVERY decisions of an in-process CSE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_cse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    harness_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char query[4097];
    memcpy(query, data, size);
    query[size] = '\0';
    for (size_t i = 0; i < size; i++) /* one request line: no line breaks */
        if (query[i] == '\n' || query[i] == '\r')
            query[i] = '&';
    static const char *const forms[][2] = {
        {"GET /cse-in?fu=1&", "\nX-M2M-Origin: CAdmin\nX-M2M-RI: f1\n\n"},
        {"GET /cse-in/fz?fu=1&", "\nX-M2M-Origin: Cfz\nX-M2M-RI: f2\n\n"},
        {"GET /cse-in/fz/c?fu=2&", "\nX-M2M-Origin: Cfz\nX-M2M-RI: f3\n\n"},
        {"GET /cse-in/fz/c?", "\nX-M2M-Origin: Cnobody\nX-M2M-RI: f4\n\n"},
    };
    char *text = malloc(size + 128);
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(text, size + 128, "%s%s%s", forms[i][0], query, forms[i][1]);
        harness_run(text);
    }
    free(text);
    return 0;
}
