/* fuzz_dispatch: the whole request pipeline in-process: HTTP mapping, originator checks, target
 * resolution, authorization, the resource types' rules and the SQLite store with its writer.
 * Input format as fuzz_http_request (see http_text.h). */
#include <stdint.h>
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
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    harness_run(text);
    free(text);
    return 0;
}
