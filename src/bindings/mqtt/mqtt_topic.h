/* mqtt_topic: the oneM2M MQTT topic names (TS-0010 §6.4.2-6.4.4, §6.5.4) and the ':' form of IDs
 * in them. Pure: no broker, no sockets, so the fuzzer and unit tests drive it directly. */
#ifndef WARDEN_BINDINGS_MQTT_TOPIC_H
#define WARDEN_BINDINGS_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/id.h"
#include "core/limits.h"

enum mqtt_topic_kind {
    MQTT_REQ = 1, /* /oneM2M/req/<originator>/<receiver>/<type> */
    MQTT_REG_REQ, /* /oneM2M/reg_req/<credential-id>/<receiver>/<type> (initial registration) */
    MQTT_RESP,    /* /oneM2M/resp/<originator>/<receiver>/<type>: a response to a request this CSE sent */
};

enum mqtt_format {
    MQTT_FMT_NONE = 0, /* no type level: taken as JSON, answered without one */
    MQTT_FMT_JSON,
    MQTT_FMT_CBOR,
    MQTT_FMT_XML, /* recognised, not served (answered 4015 in JSON) */
};

#define MQTT_TOPIC_MAX 512 /* longest topic accepted; longer ones are dropped */

struct mqtt_topic {
    enum mqtt_topic_kind kind;
    char originator[LIMIT_NAME_LEN + 1]; /* the topic level as is (':' form) */
    char receiver[LIMIT_NAME_LEN + 1];
    enum mqtt_format fmt;
};

/* Parse a request topic. Levels must be non-empty and made of ID characters or ':'. Returns 0, or
 * -1 for anything else (other topics, wildcards, empty or oversized levels, extra levels). */
int mqtt_topic_parse(const char *topic, struct mqtt_topic *out /* OUT */);

/* Parse a response topic (/oneM2M/resp/<originator>/<receiver>[/<type>], TS-0010 §6.4.3), by the
 * same rules as mqtt_topic_parse. Returns 0 (kind MQTT_RESP) or -1. */
int mqtt_topic_parse_response(const char *topic, struct mqtt_topic *out /* OUT */);

/* The response topic for a parsed request topic: /oneM2M/resp/... or /oneM2M/reg_resp/..., with
 * the same type level. fmt overrides the type when not MQTT_FMT_NONE. Returns 0 or -1 (too long). */
int mqtt_topic_response(const struct mqtt_topic *t, enum mqtt_format fmt, char *out, size_t len);

/* The originator ID a topic level names (TS-0010 §6.4.2): ':' stands for '/'; a leading ':' is the
 * absolute form's "//"; "Cae1"/"Sae1" are AE-ID-Stems; "id-mn" is the SP-relative CSE-ID
 * "/id-mn"; "id-in:Cae1" is "/id-in/Cae1". Returns false when the level is no valid ID. */
bool mqtt_topic_id(const struct id_env *env, const char *level, struct id *out /* OUT */);

/* The topic level for an SP-relative (or absolute) ID: leading "/" dropped ("//" becomes ":"),
 * other "/" as ":". Returns 0, or -1 when out is too small. */
int mqtt_id_level(const char *id, char *out, size_t len);

/* May a notification (an mqtt:// notificationURI, TS-0010 §6.6, which leaves the topic free) be
 * published to topic? Refused: empty, longer than MQTT_TOPIC_MAX, control characters, wildcards
 * ('+', '#'), '$' topics (broker-reserved), and the oneM2M request/response topics (first levels
 * oneM2M/req, oneM2M/resp, oneM2M/reg_req, oneM2M/reg_resp, with or without a leading '/'), where
 * the CSE or a client would take the notification for a request or a response; and, when prefix is
 * not empty, a topic not starting with prefix. false with reason (size len) filled. */
bool mqtt_notify_topic_ok(const char *topic, const char *prefix, char *reason, size_t len);

#endif
