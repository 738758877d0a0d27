/*
 * Article 6: authorizations and the actions AEF Table 3 reports.
 *
 * An authorization is a version of an id (a change is a new version, never
 * an edit) recorded by the host Party's registry; the units it covers carry
 * its id and version in their blocks. Every command that does something to
 * authorized units (authorize, first transfer, transfer out, acquisition,
 * use, cancellation) resolves in its check the action rows it causes into
 * out.actions, and apply inserts them as they are: replay never recomputes.
 * Authorizations are rare; the work is in walking the blocks of the units a
 * command names (jcm__a6_pieces), which costs what the command touches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* ---- the AEF's controlled values (aef_columns.md), for the command table
 * and the report alike ---- */

const char *const jcm__aef_sectors[] = {"Agriculture",
                                        "Building and construction",
                                        "Cross-sectoral mechanisms",
                                        "Energy generation",
                                        "Forestry and land use",
                                        "Industrial processes",
                                        "Transportation",
                                        "Urban development",
                                        "Waste management",
                                        NULL};
const char *const jcm__aef_purposes[] = {"NDC", "OIMP", "IMP", "OP", "NDC and OIMP", "NDC and IMP", "NDC and OP", NULL};
const char *const jcm__aef_metrics[] = {"GHG", "non-GHG", NULL};

/* ---- the blocks under some serial ranges ---- */

void jcm__a6_pieces_free(jcm_pieces *p) {
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

int jcm__a6_push_piece(jcm_pieces *p, const jcm_piece *x) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    jcm_piece *g = realloc(p->v, cap * sizeof *g);
    if (!g) return -1;
    p->v = g;
    p->cap = cap;
  }
  p->v[p->n++] = *x;
  return 0;
}

static void copy_text(jcm_store *st, jcm_stmt *s, int col, char *out, size_t n) {
  snprintf(out, n, "%s", col_null(st, s, col) ? "" : col_text(st, s, col));
}

/* The part of each block inside [first, last] of origin, in serial order. */
static int pieces_of_range(jcm_ctx *c, const char *origin, int64_t first, int64_t last, jcm_pieces *out) {
  static const char q[] =
      "SELECT first, last, vintage, auth_id, auth_version, ft_seq, ft_to, issuance, project, unit_type, account,"
      " reserved_tx FROM block WHERE origin = ? AND first <= ?"
      " AND first >= COALESCE((SELECT first FROM block WHERE origin = ? AND first <= ? ORDER BY first DESC LIMIT 1), 0)"
      " ORDER BY first";
  jcm_stmt *s = db_q(c->st, q, "sisi", origin, last, origin, first);
  if (!s) return jcm__dberr(c, "blocks");
  int step, rc = JCM_OK;
  while (rc == JCM_OK && (step = db_step(c->st, s)) == JCM_ROW) {
    int64_t bf = col_int(c->st, s, 0), bl = col_int(c->st, s, 1);
    if (bl < first) continue;
    jcm_piece x = {.first = bf > first ? bf : first, .last = bl < last ? bl : last};
    snprintf(x.origin, sizeof x.origin, "%s", origin);
    x.vintage = col_int(c->st, s, 2);
    copy_text(c->st, s, 3, x.auth_id, sizeof x.auth_id);
    x.auth_version = col_null(c->st, s, 4) ? 0 : col_int(c->st, s, 4);
    x.first_transferred = !col_null(c->st, s, 5);
    copy_text(c->st, s, 6, x.ft_to, sizeof x.ft_to);
    copy_text(c->st, s, 7, x.issuance, sizeof x.issuance);
    copy_text(c->st, s, 8, x.project, sizeof x.project);
    copy_text(c->st, s, 9, x.unit_type, sizeof x.unit_type);
    copy_text(c->st, s, 10, x.account, sizeof x.account);
    x.reserved = !col_null(c->st, s, 11);
    if (jcm__a6_push_piece(out, &x) != 0) rc = jcm__refuse(c, C_TOO_MANY, "ranges", "out of memory");
  }
  db_reset(c->st, s);
  if (rc == JCM_OK && step == JCM_STEP_ERROR) rc = jcm__dberr(c, "blocks");
  return rc;
}

int jcm__a6_pieces(jcm_ctx *c, json_t *ranges, jcm_pieces *out) {
  size_t i;
  json_t *r;
  json_array_foreach(ranges, i, r) {
    const char *origin = jcm__s(r, "origin");
    int rc = pieces_of_range(c, origin ? origin : c->j->registry, jcm__i(r, "first", 0), jcm__i(r, "last", 0), out);
    if (rc != JCM_OK) return rc;
  }
  return JCM_OK;
}

/* ---- authorizations ---- */

/* The authorization as a JSON object of its columns, or NULL (not found or
 * a store error: *err tells). */
json_t *jcm__a6_auth(jcm_store *st, const char *id, int64_t version, int *err) {
  static const char q[] =
      "SELECT id, version, registry, party, date, coop, quantity, metric, gwp, non_ghg_metric, sectors,"
      " activities, purposes, parties, entities, oimp_party, first_year, last_year, terms, oimp_first_transfer,"
      " info, scope FROM auth WHERE id = ? AND (version = ? OR ? = 0) ORDER BY version DESC LIMIT 1";
  *err = 0;
  jcm_stmt *s = db_q(st, q, "sii", id, version, version);
  if (!s) {
    *err = 1;
    return NULL;
  }
  json_t *row = NULL;
  int step = db_step(st, s);
  if (step == JCM_ROW) {
    row = json_object();
    for (int k = 0; k < 22; k++) {
      const char *name = st->ops->column_name(s, k);
      if (col_null(st, s, k)) continue;
      if (st->ops->column_type(s, k) == JCM_INT)
        json_object_set_new(row, name, json_integer(col_int(st, s, k)));
      else
        json_object_set_new(row, name, json_string(col_text(st, s, k)));
    }
  }
  db_reset(st, s);
  if (step == JCM_STEP_ERROR) *err = 1;
  return row;
}

/* 1 when the JSON list text `list` holds the string x. */
int jcm__a6_listed(const char *list, const char *x) {
  json_t *v = list ? json_loads(list, 0, NULL) : NULL;
  int found = 0;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) found |= json_is_string(e) && strcmp(json_string_value(e), x) == 0;
  json_decref(v);
  return found;
}

/* NDC use is allowed by the purposes NDC, NDC and OIMP, NDC and IMP, ... */
int jcm__a6_for_ndc(const char *purposes) { return purposes && strncmp(purposes, "NDC", 3) == 0; }
int jcm__a6_for_oimp(const char *purposes) { return purposes && strcmp(purposes, "NDC") != 0; }

static int coop_has(jcm_ctx *c, const char *coop, const char *party) {
  static const char q[] = "SELECT 1 FROM coop_party WHERE coop = ? AND party = ?";
  jcm_stmt *s = db_q(c->st, q, "ss", coop, party);
  if (!s) return -1;
  int step = db_step(c->st, s);
  db_reset(c->st, s);
  return step == JCM_ROW ? 1 : step == JCM_DONE ? 0 : -1;
}

static int check_parties(jcm_ctx *c) {
  const char *coop = jcm__s(c->args, "coop");
  int e = coop_has(c, coop, c->j->party);
  if (e < 0) return jcm__dberr(c, "coop");
  if (!e) {
    static const char q[] = "SELECT 1 FROM coop WHERE id = ?";
    jcm_stmt *s = db_q(c->st, q, "s", coop);
    int step = s ? db_step(c->st, s) : JCM_STEP_ERROR;
    if (s) db_reset(c->st, s);
    if (step == JCM_STEP_ERROR) return jcm__dberr(c, "coop");
    if (step != JCM_ROW) return jcm__refuse(c, C_UNKNOWN_COOP, "coop", "no cooperative approach %s", coop);
    return jcm__refuse(c, C_A6_NOT_IN_COOP, "coop", "%s does not participate in %s", c->j->party, coop);
  }
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(c->args, "parties"), i, p) {
    if ((e = coop_has(c, coop, json_string_value(p))) < 0) return jcm__dberr(c, "coop");
    if (!e)
      return jcm__refuse(c, C_A6_NOT_IN_COOP, "parties", "%s does not participate in %s", json_string_value(p), coop);
  }
  json_array_foreach(json_object_get(c->args, "entities"), i, p) {
    if ((e = jcm__org_exists(c->st, json_string_value(p))) < 0) return jcm__dberr(c, "entities");
    if (!e) return jcm__refuse(c, C_UNKNOWN_ORG, "entities", "no organisation %s", json_string_value(p));
  }
  return JCM_OK;
}

static int check_purposes(jcm_ctx *c) {
  const char *purposes = jcm__s(c->args, "purposes"), *def = jcm__s(c->args, "oimp_first_transfer");
  int oimp = jcm__a6_for_oimp(purposes);
  if (oimp && !def)
    return jcm__refuse(c, C_A6_OIMP_DEFINITION, "oimp_first_transfer",
                       "purposes %s include other international mitigation purposes: say when their first transfer"
                       " happens (Authorisation, Issuance, Use or Cancellation)",
                       purposes);
  if (!oimp && def)
    return jcm__refuse(c, C_A6_OIMP_DEFINITION, "oimp_first_transfer",
                       "a first-transfer definition applies to OIMP purposes only, not to %s", purposes);
  int64_t fy = jcm__i(c->args, "first_year", 0), ly = jcm__i(c->args, "last_year", 0);
  if (fy && ly && fy > ly) return jcm__refuse(c, C_RANGE, "last_year", "the timeframe ends before it starts");
  return JCM_OK;
}

/* The next version of id, refusing an id another Party's registry recorded. */
static int next_version(jcm_ctx *c, const char *id, int64_t *version) {
  static const char q[] = "SELECT MAX(version), MAX(party) FROM auth WHERE id = ?";
  jcm_stmt *s = db_q(c->st, q, "s", id);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "auth");
  }
  *version = col_null(c->st, s, 0) ? 1 : col_int(c->st, s, 0) + 1;
  int foreign = !col_null(c->st, s, 1) && strcmp(col_text(c->st, s, 1), c->j->party) != 0;
  db_reset(c->st, s);
  if (foreign) return jcm__refuse(c, C_A6_FOREIGN_AUTH, "id", "authorization %s was recorded by another Party", id);
  return JCM_OK;
}

/* The ranges a project or issuance scope covers: its unused blocks here. */
static int scope_ranges(jcm_ctx *c, json_t *ranges) {
  const char *project = jcm__s(c->args, "project"), *issuance = jcm__s(c->args, "issuance");
  static const char q_host[] = "SELECT p.host FROM project p WHERE p.id = ? UNION ALL"
                               " SELECT p.host FROM issuance i JOIN project p ON p.key = i.project WHERE i.id = ?";
  jcm_stmt *s = db_q(c->st, q_host, "ss", project, issuance);
  if (!s) return jcm__dberr(c, "scope");
  int step = db_step(c->st, s);
  int host_ok = step == JCM_ROW && strcmp(col_text(c->st, s, 0), c->j->party) == 0;
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "scope");
  if (step != JCM_ROW)
    return project ? jcm__refuse(c, C_UNKNOWN_PROJECT, "project", "no project %s", project)
                   : jcm__refuse(c, C_UNKNOWN_TX, "issuance", "no issuance %s", issuance);
  if (!host_ok)
    return jcm__refuse(c, C_A6_NOT_HOST, project ? "project" : "issuance", "%s is not hosted by %s",
                       project ? project : issuance, c->j->party);
  /* held here and unused: cancelled and retired units are out of scope (one
   * of them would otherwise refuse the whole scope), as are units that left */
  static const char q[] = "SELECT b.first, b.last FROM block b JOIN account a ON a.id = b.account"
                          " WHERE b.origin = ? AND (b.project = ? OR b.issuance = ?)"
                          " AND a.type NOT IN ('cancellation', 'retirement') ORDER BY b.first";
  s = db_q(c->st, q, "sss", c->j->registry, project, issuance);
  if (!s) return jcm__dberr(c, "scope");
  while ((step = db_step(c->st, s)) == JCM_ROW)
    json_array_append_new(ranges,
                          json_pack("{s:s,s:I,s:I}", "origin", c->j->registry, "first",
                                    (json_int_t)col_int(c->st, s, 0), "last", (json_int_t)col_int(c->st, s, 1)));
  db_reset(c->st, s);
  return step == JCM_DONE ? JCM_OK : jcm__dberr(c, "scope");
}

/* Each piece: issued here, held here (not cancelled or used), unreserved,
 * not first transferred, and not under another authorization id. */
static int check_scope_pieces(jcm_ctx *c, const jcm_pieces *p, const char *id, int64_t *units) {
  *units = 0;
  for (size_t i = 0; i < p->n; i++) {
    const jcm_piece *x = &p->v[i];
    jcm_account a;
    int e = x->account[0] ? jcm__account_get(c->st, x->account, &a) : 0;
    if (e < 0) return jcm__dberr(c, "scope");
    if (strcmp(x->origin, c->j->registry) != 0 || !e || strcmp(a.type, "cancellation") == 0 ||
        strcmp(a.type, "retirement") == 0)
      return jcm__refuse(c, C_NOT_HELD, "ranges", "serial %lld of %s is not an unused unit held in this registry",
                         (long long)x->first, x->origin);
    if (x->reserved)
      return jcm__refuse(c, C_RESERVED, "ranges", "serial %lld is reserved by a transfer", (long long)x->first);
    if (x->first_transferred)
      return jcm__refuse(c, C_A6_FIRST_TRANSFERRED, "ranges", "serial %lld was first transferred already",
                         (long long)x->first);
    if (x->auth_id[0] && strcmp(x->auth_id, id) != 0)
      return jcm__refuse(c, C_A6_ATTACHED, "ranges", "serial %lld falls under authorization %s", (long long)x->first,
                         x->auth_id);
    *units += x->last - x->first + 1;
  }
  return JCM_OK;
}

static int serial_order(const void *a, const void *b) {
  const jcm_range *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* No serial named by two of the ranges (all of this registry): it would be
 * counted twice against the quantity and reported twice in AEF Table 3.
 * Disjoint ranges within [1, 2^63-1] also cannot add up past 2^63-1. */
static int check_disjoint(jcm_ctx *c, json_t *ranges) {
  size_t n = json_array_size(ranges);
  jcm_range *v = calloc(n ? n : 1, sizeof *v);
  if (!v) return jcm__refuse(c, C_TOO_MANY, "ranges", "out of memory");
  for (size_t i = 0; i < n; i++) {
    v[i].first = jcm__i(json_array_get(ranges, i), "first", 0);
    v[i].last = jcm__i(json_array_get(ranges, i), "last", 0);
  }
  qsort(v, n, sizeof *v, serial_order);
  int64_t at = 0;
  for (size_t i = 1; i < n && !at; i++)
    if (v[i].first <= v[i - 1].last) at = v[i].first;
  free(v);
  return at ? jcm__refuse(c, C_OVERLAP, "ranges", "ranges overlap at serial %lld", (long long)at) : JCM_OK;
}

/* Ranges given explicitly must be covered by blocks without gaps. */
static int check_no_gaps(jcm_ctx *c, json_t *ranges, const jcm_pieces *p) {
  int64_t want = 0, have = 0;
  size_t i;
  json_t *r;
  json_array_foreach(ranges, i, r) {
    if (jcm__i(r, "first", 0) > jcm__i(r, "last", 0))
      return jcm__refuse(c, C_BAD_RANGE, "ranges", "range %lld-%lld is inverted", (long long)jcm__i(r, "first", 0),
                         (long long)jcm__i(r, "last", 0));
  }
  int rc = check_disjoint(c, ranges);
  if (rc != JCM_OK) return rc;
  json_array_foreach(ranges, i, r) want += jcm__i(r, "last", 0) - jcm__i(r, "first", 0) + 1;
  for (size_t k = 0; k < p->n; k++)
    have += p->v[k].last - p->v[k].first + 1;
  if (have != want) return jcm__refuse(c, C_NOT_HELD, "ranges", "some of the serials named were never issued here");
  return JCM_OK;
}

static int resolve_scope(jcm_ctx *c, json_t *ranges) {
  int given = !!json_object_get(c->args, "project") + !!json_object_get(c->args, "issuance") +
              !!json_object_get(c->args, "ranges");
  if (given != 1)
    return given ? jcm__refuse(c, C_CONFLICT, "project", "name the units by one of project, issuance or ranges")
                 : jcm__refuse(c, C_MISSING, "project", "name the units: project, issuance or ranges");
  json_t *explicit = json_object_get(c->args, "ranges");
  if (!explicit) return scope_ranges(c, ranges);
  size_t i;
  json_t *r;
  json_array_foreach(explicit, i, r)
      json_array_append_new(ranges, json_pack("{s:s,s:O,s:O}", "origin", c->j->registry, "first",
                                              json_object_get(r, "first"), "last", json_object_get(r, "last")));
  return JCM_OK;
}

int jcm__check_authorize(jcm_ctx *c) {
  const char *id = jcm__s(c->args, "id");
  int64_t version = 0, units = 0;
  int rc = check_parties(c);
  if (rc == JCM_OK) rc = check_purposes(c);
  if (rc == JCM_OK) rc = next_version(c, id, &version);
  json_t *ranges = json_array();
  jcm_pieces p = {0};
  if (rc == JCM_OK) rc = resolve_scope(c, ranges);
  if (rc == JCM_OK) rc = jcm__a6_pieces(c, ranges, &p);
  if (rc == JCM_OK && json_object_get(c->args, "ranges")) rc = check_no_gaps(c, ranges, &p);
  if (rc == JCM_OK) rc = check_scope_pieces(c, &p, id, &units);
  if (rc == JCM_OK && units > jcm__i(c->args, "quantity", 0))
    rc = jcm__refuse(c, C_A6_OVER_AUTHORIZED, "quantity", "the units named hold %lld, more than the %lld authorized",
                     (long long)units, (long long)jcm__i(c->args, "quantity", 0));
  if (rc == JCM_OK) {
    json_object_set_new(c->out, "version", json_integer(version));
    json_object_set_new(c->out, "units", json_integer(units));
    json_object_set_new(c->out, "ranges", json_incref(ranges));
    rc = jcm__a6_authorization_actions(c, &p, id, version);
  }
  jcm__a6_pieces_free(&p);
  json_decref(ranges);
  return rc;
}

static char *list_text(json_t *v) { return v ? jcm__canonical(v) : strdup("[]"); }

static int insert_auth(jcm_ctx *c) {
  static const char q[] =
      "INSERT INTO auth(id, version, registry, party, date, coop, quantity, metric, gwp, non_ghg_metric, sectors,"
      " activities, purposes, parties, entities, oimp_party, first_year, last_year, terms, oimp_first_transfer,"
      " info, scope, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?, ?,"
      " ?, ?, ?)";
  json_t *a = c->args;
  const char *metric = jcm__s(a, "metric") ? jcm__s(a, "metric") : "GHG";
  json_t *sc = json_pack("{s:O?,s:O?,s:O}", "project", json_object_get(a, "project"), "issuance",
                         json_object_get(a, "issuance"), "ranges", json_object_get(c->out, "ranges"));
  char *sectors = list_text(json_object_get(a, "sectors")), *activities = list_text(json_object_get(a, "activities"));
  char *parties = list_text(json_object_get(a, "parties")), *entities = list_text(json_object_get(a, "entities"));
  char *scope = sc ? jcm__canonical(sc) : NULL;
  json_decref(sc);
  int rc = -1;
  if (sectors && activities && parties && entities && scope)
    rc = db_x(c->st, q, "sissssisssssssssiissssi", jcm__s(a, "id"), jcm__i(c->out, "version", 0), c->j->registry,
              c->j->party, jcm__s(a, "date"), jcm__s(a, "coop"), jcm__i(a, "quantity", 0), metric, jcm__s(a, "gwp"),
              jcm__s(a, "non_ghg_metric"), sectors, activities, jcm__s(a, "purposes"), parties, entities,
              jcm__s(a, "oimp_party"), jcm__i(a, "first_year", 0), jcm__i(a, "last_year", 0), jcm__s(a, "terms"),
              jcm__s(a, "oimp_first_transfer"), jcm__s(a, "info"), scope, c->seq);
  free(sectors);
  free(activities);
  free(parties);
  free(entities);
  free(scope);
  return rc == 0 ? JCM_OK : jcm__dberr(c, "authorize");
}

/* Sets attributes on the blocks of [first, last] of origin, splitting at the
 * ends first so that only those serials change. */
static int mark_range(jcm_ctx *c, json_t *r, const char *sql, const char *id, int64_t version) {
  const char *origin = jcm__s(r, "origin");
  int64_t f = jcm__i(r, "first", 0), l = jcm__i(r, "last", 0);
  int rc = jcm__blocks_isolate(c, origin, f, l);
  if (rc == JCM_OK && db_x(c->st, sql, "sisii", id, version, origin, f, l) != 0) rc = jcm__dberr(c, "mark");
  return rc;
}

int jcm__apply_authorize(jcm_ctx *c) {
  static const char q_attach[] = "UPDATE block SET auth_id = ?, auth_version = ?"
                                 " WHERE origin = ? AND first >= ? AND first <= ? AND account IS NOT NULL";
  int rc = insert_auth(c);
  const char *id = jcm__s(c->args, "id");
  int64_t version = jcm__i(c->out, "version", 0);
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(c->out, "ranges"), i, r) {
    if (rc == JCM_OK) rc = mark_range(c, r, q_attach, id, version);
  }
  if (rc == JCM_OK) rc = jcm__a6_apply_first_transfers(c);
  if (rc == JCM_OK) rc = jcm__a6_apply_actions(c);
  return rc;
}

/* ---- actions ---- */

/* One action row per run of pieces sharing origin, vintage and
 * authorization (adjacent serials joined). */
static json_t *action_row(const jcm_piece *x, json_t *auth, const char *type, const char *subtype) {
  return json_pack("{s:s,s:s?,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:I}", "type", type, "subtype", subtype, "coop",
                   jcm__s(auth, "coop"), "auth_id", x->auth_id, "auth_version", (json_int_t)x->auth_version, "ft_party",
                   jcm__s(auth, "party"), "origin", x->origin, "first", (json_int_t)x->first, "last",
                   (json_int_t)x->last, "vintage", (json_int_t)x->vintage);
}

static int same_run(const json_t *row, const jcm_piece *x) {
  /* first - 1, not last + 1: last may be 2^63-1, first is at least 1 */
  return strcmp(jcm__s((json_t *)row, "origin"), x->origin) == 0 && jcm__i((json_t *)row, "last", 0) == x->first - 1 &&
         jcm__i((json_t *)row, "vintage", 0) == x->vintage &&
         strcmp(jcm__s((json_t *)row, "auth_id"), x->auth_id) == 0 &&
         jcm__i((json_t *)row, "auth_version", 0) == x->auth_version;
}

/* Appends to out.actions the rows of kind `type` for the pieces `pick`
 * selects, each with the fields of `extra` added. */
int jcm__a6_add_actions(jcm_ctx *c, const jcm_pieces *p, int (*pick)(const jcm_piece *x, json_t *auth, void *ud),
                        void *ud, const char *type, const char *subtype, json_t *extra) {
  json_t *actions = json_object_get(c->out, "actions");
  if (!actions) json_object_set_new(c->out, "actions", actions = json_array());
  json_t *last_row = NULL;
  for (size_t i = 0; i < p->n; i++) {
    const jcm_piece *x = &p->v[i];
    if (!x->auth_id[0]) continue;
    int err = 0;
    json_t *auth = jcm__a6_auth(c->st, x->auth_id, x->auth_version, &err);
    if (err) return jcm__dberr(c, "auth");
    int take = auth && (!pick || pick(x, auth, ud));
    if (take && last_row && same_run(last_row, x)) {
      json_object_set_new(last_row, "last", json_integer(x->last));
    } else if (take) {
      last_row = action_row(x, auth, type, subtype);
      if (extra) json_object_update(last_row, extra);
      /* a first transfer reports the purposes the units were authorized for */
      if (strcmp(type, "First transfer") == 0 && !json_object_get(last_row, "purpose"))
        json_object_set_new(last_row, "purpose", json_string(jcm__s(auth, "purposes")));
      json_array_append_new(actions, last_row);
    }
    json_decref(auth);
  }
  return JCM_OK;
}

int jcm__a6_apply_actions(jcm_ctx *c) {
  static const char q[] =
      "INSERT INTO a6_action(seq, n, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, first, last,"
      " vintage, transferring, acquiring, purpose, using_party, using_entity, ndc_year, tx)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), ?)";
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(c->out, "actions"), i, a) {
    if (db_x(c->st, q, "iisssssissiiisssssis", c->seq, (int64_t)i + 1, c->time, jcm__s(a, "type"), jcm__s(a, "subtype"),
             jcm__s(a, "coop"), jcm__s(a, "auth_id"), jcm__i(a, "auth_version", 0), jcm__s(a, "ft_party"),
             jcm__s(a, "origin"), jcm__i(a, "first", 0), jcm__i(a, "last", 0), jcm__i(a, "vintage", 0),
             jcm__s(a, "transferring"), jcm__s(a, "acquiring"), jcm__s(a, "purpose"), jcm__s(a, "using_party"),
             jcm__s(a, "using_entity"), jcm__i(a, "ndc_year", 0), jcm__s(a, "tx")) != 0)
      return jcm__dberr(c, "action");
  }
  return JCM_OK;
}

/* Marks the first transfer of the pieces out.first_transfer lists. */
int jcm__a6_apply_first_transfers(jcm_ctx *c) {
  static const char q[] = "UPDATE block SET ft_seq = ?, ft_to = ? WHERE origin = ? AND first >= ? AND first <= ?";
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(c->out, "actions"), i, a) {
    if (!jcm__is(a, "type", "First transfer")) continue; /* a forged entry may lack it */
    const char *origin = jcm__s(a, "origin");
    int64_t f = jcm__i(a, "first", 0), l = jcm__i(a, "last", 0);
    int rc = jcm__blocks_isolate(c, origin, f, l);
    if (rc != JCM_OK) return rc;
    if (db_x(c->st, q, "isiii", c->seq, jcm__s(a, "acquiring"), origin, f, l) != 0)
      return jcm__dberr(c, "first transfer");
  }
  return JCM_OK;
}

int jcm__a6_oimp_at(const jcm_piece *x, json_t *auth, void *ud) {
  return !x->first_transferred && jcm__s(auth, "oimp_first_transfer") &&
         strcmp(jcm__s(auth, "oimp_first_transfer"), (const char *)ud) == 0 &&
         !jcm__a6_for_ndc(jcm__s(auth, "purposes"));
}

/* Authorization rows, and the OIMP first transfers that happen at
 * authorization (or, for units issued before it, at what stands in for
 * their issuance: see docs/article6.md). */
int jcm__a6_authorization_actions(jcm_ctx *c, jcm_pieces *p, const char *id, int64_t version) {
  for (size_t i = 0; i < p->n; i++) {
    snprintf(p->v[i].auth_id, sizeof p->v[i].auth_id, "%s", id);
    p->v[i].auth_version = version;
  }
  /* the new version is not in the store yet: action rows read it from args */
  json_t *auth = json_pack("{s:O,s:s,s:O?,s:O?}", "coop", json_object_get(c->args, "coop"), "party", c->j->party,
                           "purposes", json_object_get(c->args, "purposes"), "oimp_first_transfer",
                           json_object_get(c->args, "oimp_first_transfer"));
  json_t *actions = json_array();
  json_object_set_new(c->out, "actions", actions);
  for (size_t i = 0; i < p->n; i++) {
    json_t *last = json_array_size(actions) ? json_array_get(actions, json_array_size(actions) - 1) : NULL;
    if (last && same_run(last, &p->v[i]))
      json_object_set_new(last, "last", json_integer(p->v[i].last));
    else
      json_array_append_new(actions, action_row(&p->v[i], auth, "Authorization", NULL));
  }
  const char *def = jcm__s(auth, "oimp_first_transfer");
  if (def && (strcmp(def, "Authorisation") == 0 || strcmp(def, "Issuance") == 0)) {
    json_t *extra = json_pack("{s:s}", "purpose", jcm__s(c->args, "purposes"));
    size_t n0 = json_array_size(actions);
    for (size_t i = 0; i < n0; i++) {
      json_t *row = json_deep_copy(json_array_get(actions, i));
      json_object_set_new(row, "type", json_string("First transfer"));
      json_object_set_new(row, "subtype", json_string(strcmp(def, "Issuance") == 0 ? "Issuance" : "Authorization"));
      json_object_update(row, extra);
      json_array_append_new(actions, row);
    }
    json_decref(extra);
  }
  json_decref(auth);
  return JCM_OK;
}
