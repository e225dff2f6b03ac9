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

const struct acp_location *originator_location(struct op_ctx *c)
{
    if (c->loc_done)
        return c->loc_known ? &c->loc : NULL;
    c->loc_done = true;
    const struct location_db *db = c->cse->locations;
    if (db == NULL)
        return NULL;
    const char *orig = c->orig->subj.canon;
    for (size_t i = 0; orig && i < db->npos; i++)
        if (strcmp(db->pos[i].orig, orig) == 0) {
            c->loc.has_position = true;
            c->loc.lat = db->pos[i].lat;
            c->loc.lon = db->pos[i].lon;
            break;
        }
    const char *peer = c->req->sec.peer;
    for (size_t i = 0; peer[0] && i < db->nblocks; i++)
        if (acp_cidr_matches(db->blocks[i].cidr, peer)) { /* the first matching block wins */
            memcpy(c->loc.country, db->blocks[i].cc, 3);
            break;
        }
    c->loc_known = c->loc.has_position || c->loc.country[0];
    return c->loc_known ? &c->loc : NULL;
}
