/* location: what this CSE knows of an originator's location, for aclr contexts (TS-0003 §7.1.3,
 * Annex F): a position the operator set for the originator (location.positions) and the country of
 * the peer address from an IP-to-country table (location.countries). An unknown location makes
 * every aclr context fail: never fail open. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "encoding/json.h"
#include "resources/rtype.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/mem.h"

struct position {
    char *orig; /* canonical originator */
    double lat, lon;
};

struct block {
    char *cidr;
    char cc[3];
};

struct location_db {
    struct position *pos;
    size_t npos;
    struct block *blocks;
    size_t nblocks;
};

void location_db_free(struct location_db *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->npos; i++)
        mem_free(db->pos[i].orig);
    for (size_t i = 0; i < db->nblocks; i++)
        mem_free(db->blocks[i].cidr);
    mem_free(db->pos);
    mem_free(db->blocks);
    mem_free(db);
}

/* Next non-comment line split into up to 3 fields on whitespace or commas; returns the count, or
 * -1 at end of file. */
static int fields(FILE *f, char *line, size_t len, char *out[3], int *lineno)
{
    while (fgets(line, (int)len, f)) {
        (*lineno)++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        int n = 0;
        char *save = NULL;
        for (char *t = strtok_r(p, " \t,\r\n", &save); t && n < 3; t = strtok_r(NULL, " \t,\r\n", &save))
            out[n++] = t;
        return n;
    }
    return -1;
}

static bool number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

struct location_db *location_db_load(const char *positions, const char *countries, const struct id_env *env, char *err,
                                     size_t errlen)
{
    struct location_db *db = mem_calloc(1, sizeof *db);
    char line[1024], *f[3];
    int lineno = 0, n;
    if (positions && *positions) {
        FILE *fp = fopen(positions, "r");
        if (fp == NULL) {
            snprintf(err, errlen, "location.positions: cannot open %s: %s", positions, strerror(errno));
            goto fail;
        }
        while ((n = fields(fp, line, sizeof line, f, &lineno)) >= 0) {
            struct id id;
            double lat, lon;
            if (n != 3 || !id_parse(env, f[0], &id) || !number(f[1], -90, 90, &lat) || !number(f[2], -180, 180, &lon)) {
                snprintf(err, errlen, "%s:%d: expected 'ORIGINATOR LATITUDE LONGITUDE'", positions, lineno);
                fclose(fp);
                goto fail;
            }
            db->pos = mem_realloc(db->pos, (db->npos + 1) * sizeof *db->pos);
            db->pos[db->npos++] = (struct position){mem_strdup(id.canon), lat, lon};
        }
        fclose(fp);
    }
    lineno = 0;
    if (countries && *countries) {
        FILE *fp = fopen(countries, "r");
        if (fp == NULL) {
            snprintf(err, errlen, "location.countries: cannot open %s: %s", countries, strerror(errno));
            goto fail;
        }
        while ((n = fields(fp, line, sizeof line, f, &lineno)) >= 0) {
            bool ok = n == 2 && strlen(f[1]) == 2 && isalpha((unsigned char)f[1][0]) &&
                      isalpha((unsigned char)f[1][1]) && acp_cidr_valid(f[0]);
            if (!ok) {
                snprintf(err, errlen, "%s:%d: expected 'CIDR,CC' (e.g. 192.0.2.0/24,DE)", countries, lineno);
                fclose(fp);
                goto fail;
            }
            db->blocks = mem_realloc(db->blocks, (db->nblocks + 1) * sizeof *db->blocks);
            struct block *b = &db->blocks[db->nblocks++];
            b->cidr = mem_strdup(f[0]);
            b->cc[0] = (char)toupper((unsigned char)f[1][0]);
            b->cc[1] = (char)toupper((unsigned char)f[1][1]);
            b->cc[2] = '\0';
        }
        fclose(fp);
    }
    return db;
fail:
    location_db_free(db);
    return NULL;
}

/* ---- device-based positions (TS-0001 §9.6.10, §10.2.9.7): the latest contentInstance of the
 * container of a <locationPolicy> (los 2) whose locationTargetID is the originator (TS-0003 Annex
 * F.2.1). Only a position the target AE reported itself (or the admin set) counts: a position
 * written by anyone else whom the container's policy lets write is not the device's and is ignored
 * (the location stays unknown: never fail open). */

struct reported {
    struct op_ctx *c;
    double lat, lon;
    char ct[TS_LEN + 1]; /* creation time of the position used */
    char cin[LIMIT_ID_LEN + 1], lcp[LIMIT_ID_LEN + 1];
    int64_t seq; /* newest wins across several policies */
    bool found;
    const char *skipped; /* why the newest position of a policy was not used, for explain */
};

/* con of a position: "LAT,LON" (or white space between), or a GeoJSON Point {"type":"Point",
 * "coordinates":[LON,LAT]} as an object or as its text (TS-0004 §6.3.5.x geometry uses GeoJSON). */
static bool position_parse(const json_t *con, double *lat, double *lon)
{
    json_t *parsed = NULL;
    if (json_is_string(con)) {
        const char *s = json_string_value(con);
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '{')
            con = parsed = json_loads(s, 0, NULL);
        else {
            char buf[96], *f[3];
            snprintf(buf, sizeof buf, "%s", s);
            int n = 0;
            char *save = NULL;
            for (char *t = strtok_r(buf, " \t,", &save); t && n < 3; t = strtok_r(NULL, " \t,", &save))
                f[n++] = t;
            return n == 2 && number(f[0], -90, 90, lat) && number(f[1], -180, 180, lon);
        }
    }
    bool ok = false;
    const json_t *co = json_object_get(con, "coordinates");
    const char *type = json_string_value(json_object_get(con, "type"));
    if (type && strcmp(type, "Point") == 0 && json_is_array(co) && json_array_size(co) == 2 &&
        json_is_number(json_array_get(co, 0)) && json_is_number(json_array_get(co, 1))) {
        double x = json_number_value(json_array_get(co, 0)), y = json_number_value(json_array_get(co, 1));
        ok = y >= -90 && y <= 90 && x >= -180 && x <= 180;
        if (ok) {
            *lat = y;
            *lon = x;
        }
    }
    json_decref(parsed);
    return ok;
}

static int one_policy(void *arg, const struct store_row *lcp)
{
    struct reported *r = arg;
    struct op_ctx *c = r->c;
    json_t *doc = json_loads(lcp->doc, 0, NULL);
    const char *lot = json_string_value(json_object_get(doc, "lot"));
    const char *loi = json_string_value(json_object_get(doc, "loi"));
    struct id target;
    bool mine = json_int_or(doc, "los", 0) == 2 && lot && loi && id_parse(&c->cse->idenv, lot, &target) &&
                strcmp(target.canon, c->orig->subj.canon) == 0;
    struct store_row cin;
    int rc = mine ? c->view->st->ops->edge_child(c->view, loi, TY_CIN, true, c->now, &cin) : STORE_NOT_FOUND;
    json_decref(doc);
    if (rc != STORE_OK) {
        if (mine && rc == STORE_NOT_FOUND && !r->found)
            r->skipped = "its container holds no position yet";
        return 0;
    }
    if (cin.seq > r->seq || !r->found) {
        json_t *cd = json_loads(cin.doc, 0, NULL);
        double lat, lon;
        bool own = strcmp(cin.cr, c->orig->subj.canon) == 0 || strcmp(cin.cr, c->cse->admin.canon) == 0;
        if (!own)
            r->skipped = "its latest position was not reported by the AE itself";
        else if (!position_parse(json_object_get(cd, "con"), &lat, &lon))
            r->skipped = "its latest position is not 'LAT,LON' nor a GeoJSON Point";
        else {
            r->found = true;
            r->seq = cin.seq;
            r->lat = lat;
            r->lon = lon;
            snprintf(r->ct, sizeof r->ct, "%s",
                     json_string_value(json_object_get(cd, "ct")) ? json_string_value(json_object_get(cd, "ct")) : "");
            snprintf(r->cin, sizeof r->cin, "%s", cin.ri);
            snprintf(r->lcp, sizeof r->lcp, "%s", lcp->ri);
        }
        json_decref(cd);
    }
    store_row_free(&cin);
    return 0;
}

const struct acp_location *originator_location(struct op_ctx *c)
{
    if (c->loc_done)
        return c->loc_known ? &c->loc : NULL;
    c->loc_done = true;
    const char *orig = c->orig->subj.canon;
    /* a position the device reported wins over the operator's static one (it is newer) */
    struct reported r = {.c = c};
    if (orig && orig[0] && c->cse->cb_ri)
        c->view->st->ops->children(c->view, c->cse->cb_ri, TY_LCP, c->now, one_policy, &r);
    if (r.found) {
        c->loc.has_position = true;
        c->loc.lat = r.lat;
        c->loc.lon = r.lon;
        if (c->explain)
            buf_printf(c->explain,
                       "  the originator's position: %.6f,%.6f, reported at %s (contentInstance %s of the container "
                       "of locationPolicy %s)\n",
                       r.lat, r.lon, r.ct, r.cin, r.lcp);
    } else if (r.skipped && c->explain)
        buf_printf(c->explain, "  a locationPolicy of the originator gives no position: %s\n", r.skipped);
    const struct location_db *db = c->cse->locations;
    for (size_t i = 0; !r.found && db && orig && i < db->npos; i++)
        if (strcmp(db->pos[i].orig, orig) == 0) {
            c->loc.has_position = true;
            c->loc.lat = db->pos[i].lat;
            c->loc.lon = db->pos[i].lon;
            if (c->explain)
                buf_printf(c->explain, "  the originator's position: %.6f,%.6f (location.positions)\n", db->pos[i].lat,
                           db->pos[i].lon);
            break;
        }
    if (!c->loc.has_position && c->explain)
        buf_puts(c->explain, "  the originator's position: unknown (no locationPolicy position, not in "
                             "location.positions)\n");
    const char *peer = c->req->sec.peer;
    for (size_t i = 0; db && peer[0] && i < db->nblocks; i++)
        if (acp_cidr_matches(db->blocks[i].cidr, peer)) { /* the first matching block wins */
            memcpy(c->loc.country, db->blocks[i].cc, 3);
            break;
        }
    c->loc_known = c->loc.has_position || c->loc.country[0];
    return c->loc_known ? &c->loc : NULL;
}
