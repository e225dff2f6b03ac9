/* mqtt_topic: oneM2M MQTT topic names (see mqtt_topic.h; TS-0010 §6.4). */
#include "mqtt_topic.h"

#include <stdio.h>
#include <string.h>

static bool level_char_ok(char c)
{
    return id_char_ok(c) || c == ':';
}

/* Copy one level (up to '/' or the end) into out; returns its end, or NULL when it is empty, too
 * long or holds a character outside the ID set. */
static const char *take_level(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    while (p[n] && p[n] != '/') {
        if (!level_char_ok(p[n]) || n + 1 >= cap)
            return NULL;
        n++;
    }
    if (n == 0)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n;
}

static int parse_levels(const char *p, struct mqtt_topic *out);

int mqtt_topic_parse(const char *topic, struct mqtt_topic *out)
{
    memset(out, 0, sizeof *out);
    if (topic == NULL || strnlen(topic, MQTT_TOPIC_MAX + 1) > MQTT_TOPIC_MAX)
        return -1;
    const char *p;
    if (strncmp(topic, "/oneM2M/req/", 12) == 0) {
        out->kind = MQTT_REQ;
        p = topic + 12;
    } else if (strncmp(topic, "/oneM2M/reg_req/", 16) == 0) {
        out->kind = MQTT_REG_REQ;
        p = topic + 16;
    } else {
        return -1;
    }
    return parse_levels(p, out);
}

int mqtt_topic_parse_response(const char *topic, struct mqtt_topic *out)
{
    memset(out, 0, sizeof *out);
    if (topic == NULL || strnlen(topic, MQTT_TOPIC_MAX + 1) > MQTT_TOPIC_MAX ||
        strncmp(topic, "/oneM2M/resp/", 13) != 0)
        return -1;
    out->kind = MQTT_RESP;
    return parse_levels(topic + 13, out);
}

/* "<originator>/<receiver>[/<type>]" into out. */
static int parse_levels(const char *p, struct mqtt_topic *out)
{
    if ((p = take_level(p, out->originator, sizeof out->originator)) == NULL || *p != '/')
        return -1;
    if ((p = take_level(p + 1, out->receiver, sizeof out->receiver)) == NULL)
        return -1;
    if (*p == '\0') {
        out->fmt = MQTT_FMT_NONE;
        return 0;
    }
    p++; /* '/' */
    if (strcmp(p, "json") == 0)
        out->fmt = MQTT_FMT_JSON;
    else if (strcmp(p, "cbor") == 0)
        out->fmt = MQTT_FMT_CBOR;
    else if (strcmp(p, "xml") == 0)
        out->fmt = MQTT_FMT_XML;
    else
        return -1;
    return 0;
}

static const char *fmt_name(enum mqtt_format fmt)
{
    switch (fmt) {
    case MQTT_FMT_JSON: return "/json";
    case MQTT_FMT_CBOR: return "/cbor";
    case MQTT_FMT_XML: return "/xml";
    default: return "";
    }
}

int mqtt_topic_response(const struct mqtt_topic *t, enum mqtt_format fmt, char *out, size_t len)
{
    int n = snprintf(out, len, "/oneM2M/%s/%s/%s%s", t->kind == MQTT_REG_REQ ? "reg_resp" : "resp", t->originator,
                     t->receiver, fmt_name(fmt != MQTT_FMT_NONE ? fmt : t->fmt));
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

bool mqtt_topic_id(const struct id_env *env, const char *level, struct id *out)
{
    char raw[LIMIT_NAME_LEN + 3];
    size_t n = strlen(level);
    memset(out, 0, sizeof *out);
    if (n == 0 || n > LIMIT_NAME_LEN)
        return false;
    char conv[LIMIT_NAME_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        conv[i] = level[i] == ':' ? '/' : level[i];
    if (conv[0] == '/') /* ":sp:cse" = "//sp/cse": absolute */
        snprintf(raw, sizeof raw, "/%s", conv);
    else if (strchr(conv, '/') == NULL && (conv[0] == 'C' || conv[0] == 'S')) /* a stem, "C" or "S" */
        snprintf(raw, sizeof raw, "%s", conv);
    else /* SP-relative without its leading "/" */
        snprintf(raw, sizeof raw, "/%s", conv);
    return id_parse(env, raw, out) && out->kind != ID_INVALID;
}

int mqtt_id_level(const char *id, char *out, size_t len)
{
    const char *p = id;
    size_t o = 0;
    if (p[0] == '/' && p[1] == '/') {
        if (len < 2)
            return -1;
        out[o++] = ':';
        p += 2;
    } else if (p[0] == '/') {
        p++;
    }
    for (; *p; p++) {
        if (o + 1 >= len)
            return -1;
        out[o++] = *p == '/' ? ':' : *p;
    }
    if (o >= len)
        return -1;
    out[o] = '\0';
    return 0;
}

bool mqtt_notify_topic_ok(const char *topic, const char *prefix, char *reason, size_t len)
{
    static const char *const reserved[] = {"req", "resp", "reg_req", "reg_resp"};
    size_t n = topic ? strlen(topic) : 0;
    if (n == 0 || n > MQTT_TOPIC_MAX) {
        snprintf(reason, len, "an mqtt:// notification topic must have 1 to %d characters", MQTT_TOPIC_MAX);
        return false;
    }
    for (const char *p = topic; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(reason, len, "an mqtt:// notification topic must not hold control characters");
            return false;
        }
    if (strpbrk(topic, "+#") != NULL) {
        snprintf(reason, len, "an mqtt:// notification topic must not hold the wildcards '+' or '#'");
        return false;
    }
    if (topic[0] == '$') {
        snprintf(reason, len, "mqtt:// notification topics starting with '$' are reserved to the broker");
        return false;
    }
    const char *t = topic[0] == '/' ? topic + 1 : topic;
    if (strncmp(t, "oneM2M/", 7) == 0) {
        const char *lvl = t + 7, *end = strchr(lvl, '/');
        size_t ll = end ? (size_t)(end - lvl) : strlen(lvl);
        for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
            if (ll == strlen(reserved[i]) && strncmp(lvl, reserved[i], ll) == 0) {
                snprintf(reason, len,
                         "mqtt:// notification topics under oneM2M/%s are refused: they carry oneM2M requests "
                         "and responses (TS-0010 §6.4)",
                         reserved[i]);
                return false;
            }
    }
    if (prefix != NULL && prefix[0] != '\0' && strncmp(topic, prefix, strlen(prefix)) != 0) {
        snprintf(reason, len, "mqtt:// notification topics must start with '%s' (notify.mqtt_prefix)", prefix);
        return false;
    }
    return true;
}
