/*
 * The project cycle (DOMAIN.md §9) and issuance by Joint Committee decision.
 *
 *   methodology: proposed -> approved | rejected          (JC decision)
 *   project:     pin -> pin_approved -> pdd_submitted -> validated
 *                -> registered -> (monitoring <-> verified) ; withdrawn
 *
 * Each step is refused when out of order and names what caused it in
 * project_step. Issuance draws one contiguous run from the registry-wide
 * serial sequence and cuts it into one block per allocated account, in the
 * order the decision lists them.
 */
#include <stdio.h>
#include <string.h>

#include "spec.h"

typedef struct {
  int64_t key;
  char id[8], pin[12], status[16], host[4];
} proj;

static int project_find(jcm_ctx *c, const char *field, const char *ref, proj *p) {
  static const char q[] = "SELECT key, id, pin, status, host FROM project WHERE id = ? OR pin = ?";
  jcm_stmt *s = db_q(c->st, q, "ss", ref, ref);
  if (!s) return jcm__dberr(c, "project");
  int rc = db_step(c->st, s);
  if (rc == JCM_ROW) {
    p->key = col_int(c->st, s, 0);
    snprintf(p->id, sizeof p->id, "%s", col_text(c->st, s, 1));
    snprintf(p->pin, sizeof p->pin, "%s", col_text(c->st, s, 2));
    snprintf(p->status, sizeof p->status, "%s", col_text(c->st, s, 3));
    snprintf(p->host, sizeof p->host, "%s", col_text(c->st, s, 4));
  }
  db_reset(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, "project");
  return rc == JCM_ROW ? JCM_OK : jcm__refuse(c, C_UNKNOWN_PROJECT, field, "no project or PIN '%s'", ref);
}

static int need_status(jcm_ctx *c, const proj *p, const char *field, const char *want, const char *step) {
  if (strstr(want, p->status) && strlen(p->status) > 0) {
    /* want is a space-separated list; match whole words */
    char buf[96];
    snprintf(buf, sizeof buf, " %s ", want);
    char w[24];
    snprintf(w, sizeof w, " %s ", p->status);
    if (strstr(buf, w)) return JCM_OK;
  }
  return jcm__refuse(c, C_PROJECT_STATUS, field, "%s %s is %s: %s needs %s", p->id[0] ? p->id : p->pin,
                     p->id[0] ? "project" : "PIN", p->status, step, want);
}

static int set_status(jcm_ctx *c, int64_t key, const char *status, const char *cause) {
  static const char q1[] = "UPDATE project SET status = ? WHERE key = ?";
  static const char q2[] = "INSERT INTO project_step(seq, project, status, cause) VALUES (?, ?, ?, ?)";
  if (db_x(c->st, q1, "si", status, key) != 0 || db_x(c->st, q2, "iiss", c->seq, key, status, cause) != 0)
    return jcm__dberr(c, "project status");
  return JCM_OK;
}

static int need_exists(jcm_ctx *c, const char *sql, const char *id, int code, const char *field, const char *what) {
  jcm_stmt *s = db_q(c->st, sql, "s", id);
  if (!s) return jcm__dberr(c, what);
  int rc = db_step(c->st, s);
  db_reset(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, what);
  return rc == JCM_ROW ? JCM_OK : jcm__refuse(c, code, field, "no %s '%s'", what, id);
}

static int need_coop(jcm_ctx *c) {
  static const char q[] = "SELECT 1 FROM coop WHERE id = ?";
  const char *coop = jcm__s(c->args, "coop");
  return coop ? need_exists(c, q, coop, C_UNKNOWN_COOP, "coop", "cooperative approach") : JCM_OK;
}

/* A project or PIN id starts with the host's alpha-2 code (TH014: THA). */
static int need_prefix(jcm_ctx *c, const char *field, const char *id, const char *host) {
  static const char q[] = "SELECT iso2 FROM party WHERE code = ?";
  jcm_stmt *s = db_q(c->st, q, "s", host);
  if (!s) return jcm__dberr(c, "party");
  int rc = db_step(c->st, s);
  int ok = rc == JCM_ROW && strncmp(col_text(c->st, s, 0), id, 2) == 0;
  int known = rc == JCM_ROW;
  db_reset(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, "party");
  if (!known) return jcm__refuse(c, C_UNKNOWN_PARTY, "host", "no Party '%s'", host);
  return ok ? JCM_OK : jcm__refuse(c, C_PREFIX, field, "%s does not start with the code of %s", id, host);
}

/* ---- methodology.add ---- */

int jcm__check_methodology_add(jcm_ctx *c) {
  static const char q[] = "SELECT 1 FROM methodology WHERE id = ? AND version = ?";
  const char *id = jcm__s(c->args, "id"), *v = jcm__s(c->args, "version");
  jcm_stmt *s = db_q(c->st, q, "ss", id, v);
  if (!s) return jcm__dberr(c, "methodology");
  int rc = db_step(c->st, s);
  db_reset(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, "methodology");
  if (rc == JCM_ROW) return jcm__refuse(c, C_EXISTS, "version", "methodology %s %s exists", id, v);
  const char *status = jcm__s(c->args, "status");
  if (status && strcmp(status, "approved") == 0 && !(c->role & R_ADMIN))
    return jcm__refuse(c, C_ROLE, "status", "only an administrator records a methodology approved elsewhere");
  return JCM_OK;
}

int jcm__apply_methodology_add(jcm_ctx *c) {
  static const char q[] = "INSERT INTO methodology(id, version, title, scope, status) VALUES (?, ?, ?, ?, ?)";
  const char *status = jcm__s(c->args, "status");
  return db_x(c->st, q, "sssss", jcm__s(c->args, "id"), jcm__s(c->args, "version"), jcm__s(c->args, "title"),
              jcm__s(c->args, "scope"), status ? status : "proposed") == 0
             ? JCM_OK
             : jcm__dberr(c, "methodology.add");
}

/* ---- participants ---- */

static int check_participants(jcm_ctx *c) {
  json_t *list = json_object_get(c->args, "participants");
  size_t i, k;
  json_t *p;
  json_array_foreach(list, i, p) {
    for (k = 0; k < i; k++)
      if (strcmp(jcm__s(json_array_get(list, k), "org"), jcm__s(p, "org")) == 0)
        return jcm__refuse(c, C_DUPLICATE, "participants", "%s is listed twice", jcm__s(p, "org"));
    int e = jcm__org_exists(c->st, jcm__s(p, "org"));
    if (e < 0) return jcm__dberr(c, "participant");
    if (!e) return jcm__refuse(c, C_UNKNOWN_ORG, "participants", "no organisation '%s'", jcm__s(p, "org"));
    e = jcm__party_exists(c->st, jcm__s(p, "side"));
    if (e < 0) return jcm__dberr(c, "participant");
    if (!e) return jcm__refuse(c, C_UNKNOWN_PARTY, "participants", "no Party '%s'", jcm__s(p, "side"));
  }
  return JCM_OK;
}

static int insert_project(jcm_ctx *c, const char *id, const char *pin, const char *status, const char *cause) {
  static const char q[] = "INSERT INTO project(key, id, pin, title, host, coop, methodology, mversion, status)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  static const char qp[] = "INSERT INTO participant(project, org, side) VALUES (?, ?, ?)";
  int64_t key = jcm__i(c->out, "project_key", 0);
  if (db_x(c->st, q, "issssssss", key, id, pin, jcm__s(c->args, "title"), jcm__s(c->args, "host"),
           jcm__s(c->args, "coop"), jcm__s(c->args, "methodology"), jcm__s(c->args, "version"), status) != 0 ||
      jcm__counter_set(c, "project", key) != 0)
    return jcm__dberr(c, "project");
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(c->args, "participants"), i, p) {
    if (db_x(c->st, qp, "iss", key, jcm__s(p, "org"), jcm__s(p, "side")) != 0) return jcm__dberr(c, "participant");
  }
  static const char q2[] = "INSERT INTO project_step(seq, project, status, cause) VALUES (?, ?, ?, ?)";
  return db_x(c->st, q2, "iiss", c->seq, key, status, cause) == 0 ? JCM_OK : jcm__dberr(c, "project step");
}

static int new_project_key(jcm_ctx *c) {
  int64_t key;
  int rc = jcm__next(c, "project", &key);
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(key));
  return rc;
}

static int need_unused(jcm_ctx *c, const char *field, const char *ref) {
  proj p;
  int rc = project_find(c, field, ref, &p);
  if (rc == JCM_ERROR) return rc;
  if (rc == JCM_OK) return jcm__refuse(c, C_EXISTS, field, "%s exists already", ref);
  return JCM_OK;
}

/* ---- pin.submit ---- */

int jcm__check_pin_submit(jcm_ctx *c) {
  const char *pin = jcm__s(c->args, "pin");
  int rc = need_unused(c, "pin", pin);
  if (rc == JCM_OK) rc = need_prefix(c, "pin", pin, jcm__s(c->args, "host"));
  if (rc == JCM_OK) rc = need_coop(c);
  if (rc == JCM_OK) rc = check_participants(c);
  if (rc == JCM_OK) rc = new_project_key(c);
  return rc;
}

int jcm__apply_pin_submit(jcm_ctx *c) {
  return insert_project(c, NULL, jcm__s(c->args, "pin"), "pin", "PIN submitted");
}

/* ---- project.import ---- */

int jcm__check_project_import(jcm_ctx *c) {
  const char *id = jcm__s(c->args, "project"), *pin = jcm__s(c->args, "pin");
  const char *m = jcm__s(c->args, "methodology"), *v = jcm__s(c->args, "version");
  int rc = need_unused(c, "project", id);
  if (rc == JCM_OK && pin) rc = need_unused(c, "pin", pin);
  if (rc == JCM_OK) rc = need_prefix(c, "project", id, jcm__s(c->args, "host"));
  if (rc == JCM_OK) rc = need_coop(c);
  if (rc == JCM_OK && (!m) != (!v))
    rc = jcm__refuse(c, C_MISSING, m ? "version" : "methodology", "methodology and version go together");
  if (rc == JCM_OK && m) {
    static const char q[] = "SELECT 1 FROM methodology WHERE id = ? AND version = ?";
    jcm_stmt *s = db_q(c->st, q, "ss", m, v);
    if (!s) return jcm__dberr(c, "methodology");
    int step = db_step(c->st, s);
    db_reset(c->st, s);
    if (step == JCM_STEP_ERROR) return jcm__dberr(c, "methodology");
    if (step != JCM_ROW) rc = jcm__refuse(c, C_UNKNOWN_METHODOLOGY, "methodology", "no methodology %s %s", m, v);
  }
  if (rc == JCM_OK) rc = check_participants(c);
  if (rc == JCM_OK) rc = new_project_key(c);
  return rc;
}

int jcm__apply_project_import(jcm_ctx *c) {
  char cause[2100]; /* source: at most 500 characters of 4 bytes; never cut mid-character */
  snprintf(cause, sizeof cause, "imported: %s", jcm__s(c->args, "source"));
  return insert_project(c, jcm__s(c->args, "project"), jcm__s(c->args, "pin"), jcm__s(c->args, "status"), cause);
}

/* ---- project.pdd ---- */

int jcm__check_project_pdd(jcm_ctx *c) {
  proj p;
  int rc = project_find(c, "pin", jcm__s(c->args, "pin"), &p);
  if (rc == JCM_OK && strcmp(p.pin, jcm__s(c->args, "pin")) != 0)
    rc = jcm__refuse(c, C_UNKNOWN_PROJECT, "pin", "no PIN %s", jcm__s(c->args, "pin"));
  if (rc == JCM_OK) rc = need_status(c, &p, "pin", "pin_approved", "a PDD");
  if (rc == JCM_OK) rc = need_unused(c, "project", jcm__s(c->args, "project"));
  if (rc == JCM_OK) rc = need_prefix(c, "project", jcm__s(c->args, "project"), p.host);
  if (rc != JCM_OK) return rc;
  static const char q[] = "SELECT status FROM methodology WHERE id = ? AND version = ?";
  const char *m = jcm__s(c->args, "methodology"), *v = jcm__s(c->args, "version");
  jcm_stmt *s = db_q(c->st, q, "ss", m, v);
  if (!s) return jcm__dberr(c, "methodology");
  int step = db_step(c->st, s);
  char status[16] = "";
  if (step == JCM_ROW) snprintf(status, sizeof status, "%s", col_text(c->st, s, 0));
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "methodology");
  if (step != JCM_ROW) return jcm__refuse(c, C_UNKNOWN_METHODOLOGY, "methodology", "no methodology %s %s", m, v);
  if (strcmp(status, "approved") != 0)
    return jcm__refuse(c, C_METHODOLOGY_STATUS, "methodology", "methodology %s %s is %s, not approved", m, v, status);
  json_object_set_new(c->out, "project_key", json_integer(p.key));
  return JCM_OK;
}

int jcm__apply_project_pdd(jcm_ctx *c) {
  static const char q[] =
      "UPDATE project SET id = ?, methodology = ?, mversion = ?, title = COALESCE(?, title) WHERE key = ?";
  int64_t key = jcm__i(c->out, "project_key", 0);
  if (db_x(c->st, q, "ssssi", jcm__s(c->args, "project"), jcm__s(c->args, "methodology"), jcm__s(c->args, "version"),
           jcm__s(c->args, "title"), key) != 0)
    return jcm__dberr(c, "project.pdd");
  return set_status(c, key, "pdd_submitted", "PDD submitted");
}

/* ---- project.validate, project.withdraw ---- */

int jcm__check_project_validate(jcm_ctx *c) {
  proj p;
  int rc = project_find(c, "project", jcm__s(c->args, "project"), &p);
  if (rc == JCM_OK) rc = need_status(c, &p, "project", "pdd_submitted", "validation");
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(p.key));
  return rc;
}

int jcm__apply_project_validate(jcm_ctx *c) {
  char cause[1500]; /* report: at most 300 characters of 4 bytes, actor 128 bytes */
  snprintf(cause, sizeof cause, "validation report %s by %s", jcm__s(c->args, "report"), c->actor->name);
  return set_status(c, jcm__i(c->out, "project_key", 0), "validated", cause);
}

int jcm__check_project_withdraw(jcm_ctx *c) {
  proj p;
  int rc = project_find(c, "project", jcm__s(c->args, "project"), &p);
  if (rc == JCM_OK && strcmp(p.status, "withdrawn") == 0)
    rc = jcm__refuse(c, C_PROJECT_STATUS, "project", "%s is withdrawn already", p.id);
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(p.key));
  return rc;
}

int jcm__apply_project_withdraw(jcm_ctx *c) {
  return set_status(c, jcm__i(c->out, "project_key", 0), "withdrawn", jcm__s(c->args, "reason"));
}

/* ---- decide ---- */

static int insert_decision(jcm_ctx *c, const char *kind, const char *ref) {
  static const char q[] = "INSERT INTO decision(seq, coop, meeting, date, kind, ref) VALUES (?, ?, ?, ?, ?, ?)";
  return db_x(c->st, q, "isisss", c->seq, jcm__s(c->args, "coop"), jcm__i(c->args, "meeting", 0),
              jcm__s(c->args, "date"), kind, ref) == 0
             ? JCM_OK
             : jcm__dberr(c, "decision");
}

static int check_methodology_decision(jcm_ctx *c, const char *ref) {
  const char *v = jcm__s(c->args, "version");
  if (!jcm__is_methodology(ref)) return jcm__refuse(c, C_FORMAT, "ref", "%s is not a methodology id", ref);
  if (!v) return jcm__refuse(c, C_MISSING, "version", "a methodology decision names the version");
  static const char q[] = "SELECT status FROM methodology WHERE id = ? AND version = ?";
  jcm_stmt *s = db_q(c->st, q, "ss", ref, v);
  if (!s) return jcm__dberr(c, "methodology");
  int step = db_step(c->st, s);
  int proposed = step == JCM_ROW && strcmp(col_text(c->st, s, 0), "proposed") == 0;
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "methodology");
  if (step != JCM_ROW) return jcm__refuse(c, C_UNKNOWN_METHODOLOGY, "ref", "no methodology %s %s", ref, v);
  if (!proposed) return jcm__refuse(c, C_METHODOLOGY_STATUS, "ref", "methodology %s %s was decided already", ref, v);
  return JCM_OK;
}

int jcm__check_decide(jcm_ctx *c) {
  const char *kind = jcm__s(c->args, "kind"), *ref = jcm__s(c->args, "ref");
  int rc = need_coop(c);
  if (rc != JCM_OK) return rc;
  if (strcmp(kind, "issuance") == 0)
    return jcm__refuse(c, C_DECISION_KIND, "kind", "an issuance decision is carried out with the issue command");
  if (strncmp(kind, "methodology", 11) == 0) return check_methodology_decision(c, ref);
  proj p;
  rc = project_find(c, "ref", ref, &p);
  if (rc != JCM_OK) return rc;
  if (strcmp(kind, "pin_approval") == 0) {
    if (strcmp(p.pin, ref) != 0) return jcm__refuse(c, C_FORMAT, "ref", "a PIN approval names the PIN");
    rc = need_status(c, &p, "ref", "pin", "PIN approval");
  } else {
    if (strcmp(p.id, ref) != 0) return jcm__refuse(c, C_FORMAT, "ref", "a registration names the project");
    rc = need_status(c, &p, "ref", "validated", "registration");
  }
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(p.key));
  return rc;
}

int jcm__apply_decide(jcm_ctx *c) {
  const char *kind = jcm__s(c->args, "kind"), *ref = jcm__s(c->args, "ref");
  int rc = insert_decision(c, kind, ref);
  if (rc != JCM_OK) return rc;
  if (strncmp(kind, "methodology", 11) == 0) {
    static const char q[] = "UPDATE methodology SET status = ? WHERE id = ? AND version = ?";
    const char *to = strcmp(kind, "methodology_approval") == 0 ? "approved" : "rejected";
    return db_x(c->st, q, "sss", to, ref, jcm__s(c->args, "version")) == 0 ? JCM_OK : jcm__dberr(c, "decide");
  }
  char cause[96];
  snprintf(cause, sizeof cause, "JC meeting %lld (%s): %s", (long long)jcm__i(c->args, "meeting", 0),
           jcm__s(c->args, "date"), kind);
  const char *to = strcmp(kind, "pin_approval") == 0 ? "pin_approved" : "registered";
  return set_status(c, jcm__i(c->out, "project_key", 0), to, cause);
}

/* ---- monitoring ---- */

static int period_dates(jcm_ctx *c, const char **first, const char **last) {
  *first = jcm__s(c->args, "first_day");
  *last = jcm__s(c->args, "last_day");
  if (strcmp(*first, *last) > 0)
    return jcm__refuse(c, C_PERIOD_DATES, "last_day", "the period ends (%s) before it starts (%s)", *last, *first);
  return JCM_OK;
}

__extension__ typedef unsigned __int128 u128;

/* DOMAIN.md §9: reductions = electricity fed to the grid (MWh) x emission
 * factor (tCO2/MWh), rounded down to whole tonnes, in exact integers: MWh in
 * thousandths times the factor in millionths, divided by 10^9. */
static int check_calculation(jcm_ctx *c) {
  const char *mwh = jcm__s(c->args, "electricity_mwh"), *ef = jcm__s(c->args, "emission_factor");
  json_t *given = json_object_get(c->args, "calculated");
  if (!mwh && !ef) {
    if (!given) return jcm__refuse(c, C_MISSING, "calculated", "give the calculated reductions, or the monitored data");
    json_object_set(c->out, "calculated", given);
    return JCM_OK;
  }
  if (!mwh || !ef)
    return jcm__refuse(c, C_MISSING, mwh ? "emission_factor" : "electricity_mwh",
                       "electricity_mwh and emission_factor go together");
  int64_t e = 0, f = 0;
  jcm__decimal(mwh, 3, &e);
  jcm__decimal(ef, 6, &f);
  u128 t = (u128)e * (u128)f / 1000000000u;
  if (t > (u128)INT64_MAX) return jcm__refuse(c, C_RANGE, "electricity_mwh", "the product is too large");
  int64_t computed = (int64_t)t;
  if (given && json_integer_value(given) != computed)
    return jcm__refuse(c, C_CALCULATION, "calculated", "%lld tCO2e calculated, but %s MWh x %s tCO2/MWh gives %lld",
                       (long long)json_integer_value(given), mwh, ef, (long long)computed);
  json_object_set_new(c->out, "calculated", json_integer(computed));
  return JCM_OK;
}

int jcm__check_monitoring_submit(jcm_ctx *c) {
  proj p;
  const char *first, *last;
  int rc = project_find(c, "project", jcm__s(c->args, "project"), &p);
  if (rc == JCM_OK) rc = check_calculation(c);
  if (rc == JCM_OK) rc = need_status(c, &p, "project", "registered monitoring verified", "monitoring");
  if (rc == JCM_OK) rc = period_dates(c, &first, &last);
  if (rc != JCM_OK) return rc;
  static const char q[] =
      "SELECT first_day, last_day FROM period WHERE project = ? AND first_day <= ? AND last_day >= ? LIMIT 1";
  jcm_stmt *s = db_q(c->st, q, "iss", p.key, last, first);
  if (!s) return jcm__dberr(c, "period");
  int step = db_step(c->st, s);
  if (step == JCM_ROW)
    rc = jcm__refuse(c, C_PERIOD_OVERLAP, "first_day", "the period overlaps %s..%s", col_text(c->st, s, 0),
                     col_text(c->st, s, 1));
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "period");
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(p.key));
  return rc;
}

int jcm__apply_monitoring_submit(jcm_ctx *c) {
  static const char q[] =
      "INSERT INTO period(project, first_day, last_day, calculated, status, electricity_mwh, emission_factor)"
      " VALUES (?, ?, ?, ?, 'submitted', ?, ?)";
  int64_t key = jcm__i(c->out, "project_key", 0);
  if (db_x(c->st, q, "ississ", key, jcm__s(c->args, "first_day"), jcm__s(c->args, "last_day"),
           jcm__i(c->out, "calculated", 0), jcm__s(c->args, "electricity_mwh"),
           jcm__s(c->args, "emission_factor")) != 0)
    return jcm__dberr(c, "monitoring.submit");
  char cause[64];
  snprintf(cause, sizeof cause, "monitoring period %s..%s", jcm__s(c->args, "first_day"), jcm__s(c->args, "last_day"));
  return set_status(c, key, "monitoring", cause);
}

typedef struct {
  int64_t calculated, verified;
  char status[16];
} period_row;

static int period_find(jcm_ctx *c, int64_t key, period_row *r) {
  static const char q[] =
      "SELECT calculated, COALESCE(verified, -1), status FROM period WHERE project = ? AND first_day = ?"
      " AND last_day = ?";
  jcm_stmt *s = db_q(c->st, q, "iss", key, jcm__s(c->args, "first_day"), jcm__s(c->args, "last_day"));
  if (!s) return jcm__dberr(c, "period");
  int step = db_step(c->st, s);
  if (step == JCM_ROW) {
    r->calculated = col_int(c->st, s, 0);
    r->verified = col_int(c->st, s, 1);
    snprintf(r->status, sizeof r->status, "%s", col_text(c->st, s, 2));
  }
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR) return jcm__dberr(c, "period");
  if (step != JCM_ROW)
    return jcm__refuse(c, C_UNKNOWN_PERIOD, "first_day", "no monitoring period %s..%s of %s",
                       jcm__s(c->args, "first_day"), jcm__s(c->args, "last_day"), jcm__s(c->args, "project"));
  return JCM_OK;
}

int jcm__check_monitoring_verify(jcm_ctx *c) {
  proj p;
  period_row r;
  int rc = project_find(c, "project", jcm__s(c->args, "project"), &p);
  if (rc == JCM_OK) rc = period_find(c, p.key, &r);
  if (rc != JCM_OK) return rc;
  if (strcmp(r.status, "submitted") != 0)
    return jcm__refuse(c, C_PROJECT_STATUS, "first_day", "the period is %s already", r.status);
  if (jcm__i(c->args, "verified", 0) > r.calculated)
    return jcm__refuse(c, C_VERIFIED_OVER_CALCULATED, "verified", "verified %lld exceeds the %lld calculated",
                       (long long)jcm__i(c->args, "verified", 0), (long long)r.calculated);
  json_object_set_new(c->out, "project_key", json_integer(p.key));
  return JCM_OK;
}

int jcm__apply_monitoring_verify(jcm_ctx *c) {
  static const char q[] = "UPDATE period SET verified = ?, tpe = ?, report = ?, status = 'verified'"
                          " WHERE project = ? AND first_day = ?";
  int64_t key = jcm__i(c->out, "project_key", 0);
  if (db_x(c->st, q, "issis", jcm__i(c->args, "verified", 0), c->actor->name, jcm__s(c->args, "report"), key,
           jcm__s(c->args, "first_day")) != 0)
    return jcm__dberr(c, "monitoring.verify");
  char cause[1500]; /* report: at most 300 characters of 4 bytes, actor 128 bytes */
  snprintf(cause, sizeof cause, "verification report %s", jcm__s(c->args, "report"));
  return set_status(c, key, "verified", cause);
}

/* ---- issue ---- */

static int check_allocation(jcm_ctx *c, int64_t total) {
  json_t *alloc = json_object_get(c->args, "allocation");
  uint64_t sum = 0;
  size_t i, k;
  json_t *a;
  json_array_foreach(alloc, i, a) {
    const char *id = jcm__s(a, "account");
    for (k = 0; k < i; k++)
      if (strcmp(jcm__s(json_array_get(alloc, k), "account"), id) == 0)
        return jcm__refuse(c, C_DUPLICATE, "allocation", "account %s is listed twice", id);
    jcm_account acc;
    int e = jcm__account_get(c->st, id, &acc);
    if (e < 0) return jcm__dberr(c, "account");
    if (!e && strncmp(id, c->j->registry, 5) != 0)
      return jcm__refuse(c, C_DST_FOREIGN, "allocation",
                         "%s belongs to registry %.5s: issuance goes to this registry's accounts", id, id);
    if (!e) return jcm__refuse(c, C_DST_UNKNOWN, "allocation", "no account %s", id);
    if (strcmp(acc.status, "open") != 0)
      return jcm__refuse(c, C_DST_NOT_OPEN, "allocation", "account %s is %s", id, acc.status);
    if (strcmp(acc.type, "holding") != 0 && strcmp(acc.type, "government-holding") != 0)
      return jcm__refuse(c, C_DST_TYPE, "allocation", "a %s account cannot receive an issuance", acc.type);
    sum += (uint64_t)jcm__i(a, "quantity", 0);
    if (sum > (uint64_t)INT64_MAX) break;
  }
  if (sum != (uint64_t)total)
    return jcm__refuse(c, C_ALLOCATION_SUM, "allocation", "the allocation adds up to %s%llu, the total is %lld",
                       sum > (uint64_t)INT64_MAX ? "more than " : "", (unsigned long long)sum, (long long)total);
  return JCM_OK;
}

static int check_period_for_issue(jcm_ctx *c, const proj *p, int64_t total) {
  period_row r;
  int rc = period_find(c, p->key, &r);
  if (rc != JCM_OK) return rc;
  if (strcmp(r.status, "issued") == 0)
    return jcm__refuse(c, C_PERIOD_ISSUED, "first_day", "units for %s..%s were issued already",
                       jcm__s(c->args, "first_day"), jcm__s(c->args, "last_day"));
  if (strcmp(r.status, "verified") != 0)
    return jcm__refuse(c, C_PERIOD_NOT_VERIFIED, "first_day", "the period is %s, not verified", r.status);
  if (total > r.verified)
    return jcm__refuse(c, C_OVER_VERIFIED, "total", "%lld exceeds the %lld tCO2e verified", (long long)total,
                       (long long)r.verified);
  int64_t vintage = jcm__i(c->args, "vintage", jcm__year_of(jcm__s(c->args, "last_day")));
  if (vintage < jcm__year_of(jcm__s(c->args, "first_day")) || vintage > jcm__year_of(jcm__s(c->args, "last_day")))
    return jcm__refuse(c, C_VINTAGE, "vintage", "%lld is not a year of the period", (long long)vintage);
  json_object_set_new(c->out, "vintage", json_integer(vintage));
  return JCM_OK;
}

/* Resolves serials: one run from the registry's sequence, cut per account. */
static int resolve_serials(jcm_ctx *c, int64_t total) {
  int64_t first, iss, tx;
  int rc = jcm__next(c, "serial", &first);
  if (rc == JCM_OK) rc = jcm__next(c, "issuance", &iss);
  if (rc == JCM_OK) rc = jcm__next(c, "tx", &tx);
  if (rc != JCM_OK) return rc;
  if (first > INT64_MAX - (total - 1))
    return jcm__refuse(c, C_SERIALS_EXHAUSTED, "total", "only %lld serials are left",
                       (long long)(INT64_MAX - first + 1));
  char id[40];
  snprintf(id, sizeof id, "%s-I-%06lld", c->j->registry, (long long)iss);
  json_object_set_new(c->out, "issuance", json_string(id));
  json_object_set_new(c->out, "issuance_number", json_integer(iss));
  snprintf(id, sizeof id, "%s-T-%06lld", c->j->registry, (long long)tx);
  json_object_set_new(c->out, "tx", json_string(id));
  json_object_set_new(c->out, "tx_number", json_integer(tx));
  json_object_set_new(c->out, "first", json_integer(first));
  json_object_set_new(c->out, "last", json_integer(first + (total - 1)));
  json_t *blocks = json_array();
  size_t i;
  json_t *a;
  int64_t next = first;
  json_array_foreach(json_object_get(c->args, "allocation"), i, a) {
    int64_t q = jcm__i(a, "quantity", 0);
    json_array_append_new(blocks,
                          json_pack("{s:s,s:I,s:I,s:I}", "account", jcm__s(a, "account"), "quantity", (json_int_t)q,
                                    "first", (json_int_t)next, "last", (json_int_t)(next + (q - 1))));
    if (next + (q - 1) < INT64_MAX) next += q; /* the last block may end at 2^63-1 */
  }
  json_object_set_new(c->out, "blocks", blocks);
  return JCM_OK;
}

int jcm__check_issue(jcm_ctx *c) {
  proj p;
  int64_t total = jcm__i(c->args, "total", 0);
  int rc = need_coop(c);
  if (rc == JCM_OK) rc = project_find(c, "project", jcm__s(c->args, "project"), &p);
  if (rc == JCM_OK && strcmp(p.host, c->j->party) != 0)
    rc = jcm__refuse(c, C_FOREIGN_PROJECT, "project", "%s is hosted by %s; this registry serves %s", p.id, p.host,
                     c->j->party);
  if (rc == JCM_OK) rc = need_status(c, &p, "project", "registered monitoring verified", "issuance");
  if (rc == JCM_OK) rc = check_period_for_issue(c, &p, total);
  if (rc == JCM_OK) rc = check_allocation(c, total);
  if (rc == JCM_OK) rc = resolve_serials(c, total);
  if (rc == JCM_OK) json_object_set_new(c->out, "project_key", json_integer(p.key));
  return rc;
}

int jcm__apply_issue(jcm_ctx *c) {
  static const char q_iss[] = "INSERT INTO issuance(id, decision, project, period_start, vintage, total, first, last)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  static const char q_alloc[] =
      "INSERT INTO allocation(issuance, account, quantity, first, last) VALUES (?, ?, ?, ?, ?)";
  static const char q_tx[] = "INSERT INTO tx(id, seq, type, status, from_account, to_account, quantity, idem_key)"
                             " VALUES (?, ?, 'issuance', 'completed', NULL, NULL, ?, ?)";
  static const char q_period[] = "UPDATE period SET status = 'issued' WHERE project = ? AND first_day = ?";
  json_t *o = c->out;
  const char *iss = jcm__s(o, "issuance"), *tx = jcm__s(o, "tx"), *project = jcm__s(c->args, "project");
  int64_t key = jcm__i(o, "project_key", 0), vintage = jcm__i(o, "vintage", 0);
  int rc = insert_decision(c, "issuance", project);
  if (rc != JCM_OK) return rc;
  if (db_x(c->st, q_iss, "siisiiii", iss, c->seq, key, jcm__s(c->args, "first_day"), vintage,
           jcm__i(c->args, "total", 0), jcm__i(o, "first", 0), jcm__i(o, "last", 0)) != 0 ||
      db_x(c->st, q_tx, "siis", tx, c->seq, jcm__i(c->args, "total", 0), jcm__s(c->args, "key")) != 0 ||
      db_x(c->st, q_period, "is", key, jcm__s(c->args, "first_day")) != 0)
    return jcm__dberr(c, "issue");
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(o, "blocks"), i, b) {
    const char *acct = jcm__s(b, "account");
    int64_t f = jcm__i(b, "first", 0), l = jcm__i(b, "last", 0);
    if (db_x(c->st, q_alloc, "ssiii", iss, acct, jcm__i(b, "quantity", 0), f, l) != 0)
      return jcm__dberr(c, "allocation");
    rc = jcm__blocks_create(c, c->j->registry, f, l, iss, project, vintage, acct);
    json_t *r = json_pack("[{s:s,s:I,s:I}]", "origin", c->j->registry, "first", (json_int_t)f, "last", (json_int_t)l);
    if (rc == JCM_OK) rc = jcm__movement(c, tx, acct, +1, r);
    json_decref(r);
    if (rc != JCM_OK) return rc;
  }
  if (jcm__counter_set(c, "serial", jcm__i(o, "last", 0)) != 0 ||
      jcm__counter_set(c, "issuance", jcm__i(o, "issuance_number", 0)) != 0 ||
      jcm__counter_set(c, "tx", jcm__i(o, "tx_number", 0)) != 0)
    return jcm__dberr(c, "issue counters");
  return JCM_OK;
}
