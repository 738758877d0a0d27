/*
 * Reference data: this registry node (init), Parties, peer registries,
 * cooperative approaches and organisations. Written rarely, read by every
 * check. init seeds Japan and the JCM partner countries; the list goes into
 * the event itself, so replay does not depend on this build's table.
 */
#include <string.h>

#include "engine.h"
#include "refdata.h"
#include "spec.h"

static int exists(jcm_store *st, const char *sql, const char *id) {
  jcm_stmt *s = db_q(st, sql, "s", id);
  if (!s) return -1;
  int rc = db_step(st, s);
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

int jcm__party_exists(jcm_store *st, const char *code) {
  static const char q[] = "SELECT 1 FROM party WHERE code = ?";
  return exists(st, q, code);
}

int jcm__org_exists(jcm_store *st, const char *id) {
  static const char q[] = "SELECT 1 FROM org WHERE id = ?";
  return exists(st, q, id);
}

/* Refuses unless the Party exists. */
static int need_party(jcm_ctx *c, const char *field, const char *code) {
  int e = jcm__party_exists(c->st, code);
  if (e < 0) return jcm__dberr(c, "party");
  return e ? JCM_OK : jcm__refuse(c, C_UNKNOWN_PARTY, field, "no Party '%s'", code);
}

static int insert_party(jcm_store *st, const char *code, const char *iso2, const char *en, const char *ja) {
  static const char q[] = "INSERT INTO party(code, iso2, name_en, name_ja) VALUES (?, ?, ?, ?)";
  return db_x(st, q, "ssss", code, iso2, en, ja);
}

/* ---- init ---- */

int jcm__check_init(jcm_ctx *c) {
  if (c->j->registry[0])
    return jcm__refuse(c, C_ALREADY_INITIALIZED, "", "this store is registry %s already", c->j->registry);
  const char *party = jcm__s(c->args, "party");
  json_t *parties = json_array();
  json_array_append_new(
      parties, json_pack("{s:s,s:s,s:s,s:s}", "code", "JPN", "iso2", "JP", "name_en", "Japan", "name_ja", "日本国"));
  int found = strcmp(party, "JPN") == 0;
  for (int i = 0; i < jcm_partner_count; i++) {
    const jcm_partner *p = &jcm_partners[i];
    json_array_append_new(parties, json_pack("{s:s,s:s,s:s,s:s}", "code", p->iso3, "iso2", p->iso2, "name_en",
                                             p->name_en, "name_ja", p->name_ja));
    found |= strcmp(party, p->iso3) == 0;
  }
  json_object_set_new(c->out, "parties", parties);
  if (!found)
    return jcm__refuse(c, C_UNKNOWN_PARTY, "party",
                       "'%s' is neither Japan nor a JCM partner country; add it with party.add after init", party);
  if (strncmp(jcm__s(c->args, "registry"), party, 3) != 0)
    return jcm__refuse(c, C_FORMAT, "registry", "a registry id starts with its Party's code (%s)", party);
  return JCM_OK;
}

int jcm__apply_init(jcm_ctx *c) {
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(c->out, "parties"), i, p) {
    if (insert_party(c->st, jcm__s(p, "code"), jcm__s(p, "iso2"), jcm__s(p, "name_en"), jcm__s(p, "name_ja")) != 0)
      return jcm__dberr(c, "init parties");
  }
  static const char q[] = "INSERT INTO registry(id, party, name, role, self) VALUES (?, ?, ?, 'national', 1)";
  if (db_x(c->st, q, "sss", jcm__s(c->args, "registry"), jcm__s(c->args, "party"), jcm__s(c->args, "name")) != 0)
    return jcm__dberr(c, "init registry");
  return jcm__load_self(c->j) == 0 ? JCM_OK : jcm__dberr(c, "init");
}

/* ---- party.add ---- */

int jcm__check_party_add(jcm_ctx *c) {
  int e = jcm__party_exists(c->st, jcm__s(c->args, "code"));
  if (e < 0) return jcm__dberr(c, "party");
  return e ? jcm__refuse(c, C_EXISTS, "code", "Party %s exists", jcm__s(c->args, "code")) : JCM_OK;
}

int jcm__apply_party_add(jcm_ctx *c) {
  return insert_party(c->st, jcm__s(c->args, "code"), jcm__s(c->args, "iso2"), jcm__s(c->args, "name_en"),
                      jcm__s(c->args, "name_ja")) == 0
             ? JCM_OK
             : jcm__dberr(c, "party.add");
}

/* ---- registry.add ---- */

int jcm__check_registry_add(jcm_ctx *c) {
  static const char q[] = "SELECT 1 FROM registry WHERE id = ?";
  const char *id = jcm__s(c->args, "id");
  int e = exists(c->st, q, id);
  if (e < 0) return jcm__dberr(c, "registry");
  if (e) return jcm__refuse(c, C_EXISTS, "id", "registry %s exists", id);
  return need_party(c, "party", jcm__s(c->args, "party"));
}

int jcm__apply_registry_add(jcm_ctx *c) {
  static const char q[] = "INSERT INTO registry(id, party, name, role, self) VALUES (?, ?, ?, ?, 0)";
  return db_x(c->st, q, "ssss", jcm__s(c->args, "id"), jcm__s(c->args, "party"), jcm__s(c->args, "name"),
              jcm__s(c->args, "role")) == 0
             ? JCM_OK
             : jcm__dberr(c, "registry.add");
}

/* ---- coop.add ---- */

int jcm__check_coop_add(jcm_ctx *c) {
  static const char q[] = "SELECT 1 FROM coop WHERE id = ?";
  const char *id = jcm__s(c->args, "id");
  int e = exists(c->st, q, id);
  if (e < 0) return jcm__dberr(c, "coop");
  if (e) return jcm__refuse(c, C_EXISTS, "id", "cooperative approach %s exists", id);
  json_t *parties = json_object_get(c->args, "parties");
  size_t i, k;
  json_t *p;
  json_array_foreach(parties, i, p) {
    for (k = 0; k < i; k++)
      if (json_equal(json_array_get(parties, k), p))
        return jcm__refuse(c, C_DUPLICATE, "parties", "%s is listed twice", json_string_value(p));
    int rc = need_party(c, "parties", json_string_value(p));
    if (rc != JCM_OK) return rc;
  }
  if (json_array_size(parties) < 2)
    return jcm__refuse(c, C_MISSING, "parties", "a cooperative approach has at least two Parties");
  return JCM_OK;
}

int jcm__apply_coop_add(jcm_ctx *c) {
  static const char q[] = "INSERT INTO coop(id, name, agreement_date) VALUES (?, ?, ?)";
  static const char qp[] = "INSERT INTO coop_party(coop, party) VALUES (?, ?)";
  const char *id = jcm__s(c->args, "id");
  if (db_x(c->st, q, "sss", id, jcm__s(c->args, "name"), jcm__s(c->args, "agreement_date")) != 0)
    return jcm__dberr(c, "coop.add");
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(c->args, "parties"), i, p) {
    if (db_x(c->st, qp, "ss", id, json_string_value(p)) != 0) return jcm__dberr(c, "coop.add");
  }
  return JCM_OK;
}

/* ---- org.add ---- */

int jcm__check_org_add(jcm_ctx *c) {
  const char *id = jcm__s(c->args, "id");
  int e = jcm__org_exists(c->st, id);
  if (e < 0) return jcm__dberr(c, "org");
  if (e) return jcm__refuse(c, C_EXISTS, "id", "organisation %s exists", id);
  return need_party(c, "country", jcm__s(c->args, "country"));
}

int jcm__apply_org_add(jcm_ctx *c) {
  static const char q[] = "INSERT INTO org(id, name, country, ident, roles) VALUES (?, ?, ?, ?, ?)";
  return db_x(c->st, q, "sssss", jcm__s(c->args, "id"), jcm__s(c->args, "name"), jcm__s(c->args, "country"),
              jcm__s(c->args, "ident"), jcm__s(c->args, "roles")) == 0
             ? JCM_OK
             : jcm__dberr(c, "org.add");
}
