/* fuzz_audit_line: what `wardenctl audit verify` reads from an audit log someone may have edited
 * (audit_line_check): any bytes as one line, checked against a fixed key and the all-zero prev. A
 * line that verifies has the keyed form, and changing its mac makes it fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "security/audit.h"

static const unsigned char key[AUDIT_KEY_LEN] = "fuzz-audit-key-0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (line == NULL)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    char prev[AUDIT_MAC_HEX + 1], mac[AUDIT_MAC_HEX + 1];
    memset(prev, '0', AUDIT_MAC_HEX);
    prev[AUDIT_MAC_HEX] = '\0';
    if (audit_line_check(key, sizeof key, line, size, prev, mac) == NULL) {
        if (size < 2 || line[0] != '{' || line[size - 1] != '\n' || strlen(mac) != AUDIT_MAC_HEX)
            abort();
        /* the mac is the 64 hex digits before "}\n": another value must not verify */
        char *m = line + size - 3 - AUDIT_MAC_HEX;
        m[0] = m[0] == '0' ? '1' : '0';
        if (audit_line_check(key, sizeof key, line, size, prev, mac) == NULL)
            abort();
    }
    free(line);
    return 0;
}
