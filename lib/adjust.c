/*
 * Corresponding adjustments and the emissions balance (DOMAIN.md §10,
 * docs/adjustments.md): a Party's NDC (ndc.set), its reported inventory
 * emissions (emissions.report), the years it marks final (year.finalize),
 * and the balance table computed from the Article 6 actions (a6_action).
 *
 * The table is computed on demand from the state: actions are few (one per
 * first transfer or use, not per unit), so reading a Party's actions on each
 * query costs little and leaves nothing cached to go stale. Everything is
 * integer: tonnes, and milli-tonnes where averaging divides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define A6_YEAR_MIN 1900
#define A6_YEAR_MAX 9999
#define A6_YEARS (A6_YEAR_MAX - A6_YEAR_MIN + 1)
#define A6_MAX_ACTIONS 100000 /* per Party; beyond it the query fails instead of growing without bound */

typedef struct a6_ndc {
  int64_t version, first, last, fiscal_start_month;
  char kind[16], method[24];
} a6_ndc;

/* What the state says about one year of one Party. */
typedef struct a6_year {
  int64_t net;       /* whole tonnes: first transferred out (by vintage) minus used (in the year of use) */
  json_t *actions;   /* the year's actions (owned), NULL when none */
  bool reported;     /* emissions reported */
  int64_t emissions; /* the latest version */
  int64_t emissions_version;
  int64_t final_version; /* 0: never final */
  bool final_has_emissions;
  int64_t final_emissions, final_adjustment_milli, final_balance_milli;
  char *final_actions; /* the snapshot's [[seq,n],...] text (owned) */
} a6_year;

/* ---- fixed point ---- */

/* num/den in milli-units, rounded half away from zero (docs/adjustments.md).
 * Whole part and remainder are taken apart first so that only the final
 * multiplication by 1000 can overflow; it is checked. -1 on overflow. */
int jcm__milli_div(int64_t num, int64_t den, int64_t *out) {
  if (den <= 0) return -1;
  int64_t q = num / den, r = num % den; /* r has the sign of num, |r| < den */
  uint64_t a = r < 0 ? (uint64_t)0 - (uint64_t)r : (uint64_t)r;
  uint64_t m = a * 1000u / (uint64_t)den, rem = a * 1000u % (uint64_t)den;
  if (2u * rem >= (uint64_t)den) m++; /* half or more: away from zero */
  int64_t frac = r < 0 ? -(int64_t)m : (int64_t)m, whole;
  if (__builtin_mul_overflow(q, (int64_t)1000, &whole) || __builtin_add_overflow(whole, frac, out)) return -1;
  return 0;
}

/* Milli-units as exact decimal text without trailing zeros: -100900 -> "-100.9". */
void jcm__milli_text(int64_t milli, char out[32]) {
  uint64_t a = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
  unsigned frac = (unsigned)(a % 1000u);
  if (frac == 0) {
    snprintf(out, 32, "%s%llu", milli < 0 ? "-" : "", (unsigned long long)(a / 1000u));
    return;
  }
  char f[8];
  snprintf(f, sizeof f, "%03u", frac);
  for (size_t n = strlen(f); n > 0 && f[n - 1] == '0'; n--)
    f[n - 1] = 0;
  snprintf(out, 32, "%s%llu.%s", milli < 0 ? "-" : "", (unsigned long long)(a / 1000u), f);
}

static int in_years(int64_t y) { return y >= A6_YEAR_MIN && y <= A6_YEAR_MAX; }

/* ---- reading the state ---- */

/* The Party's current NDC: 1 found, 0 none, -1 store error. */
static int ndc_get(jcm_store *st, const char *party, a6_ndc *n) {
  static const char q[] = "SELECT version, kind, first_year, last_year, method, fiscal_start_month FROM ndc"
                          " WHERE party = ? ORDER BY version DESC LIMIT 1";
  jcm_stmt *s = db_q(st, q, "s", party);
  if (!s) return -1;
  int rc = db_step(st, s);
  if (rc == JCM_ROW) {
    n->version = col_int(st, s, 0);
    snprintf(n->kind, sizeof n->kind, "%s", col_text(st, s, 1));
    n->first = col_int(st, s, 2);
    n->last = col_int(st, s, 3);
    snprintf(n->method, sizeof n->method, "%s", col_text(st, s, 4));
    n->fiscal_start_month = col_int(st, s, 5);
  }
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

/* One action row as the trace shows it; *year and *effect (signed tonnes)
 * say where it counts. NULL when the row cannot be read as an adjustment. */
static json_t *action_of(jcm_store *st, jcm_stmt *s, int64_t *year, int64_t *effect) {
  int use = strcmp(col_text(st, s, 2), "Use") == 0;
  int64_t qty = col_int(st, s, 8);
  const char *time = col_text(st, s, 9);
  /* a use names its NDC year; failing that, the year it happened */
  *year = !use                  ? col_int(st, s, 6)
          : !col_null(st, s, 7) ? col_int(st, s, 7)
          : strlen(time) >= 4   ? jcm__year_of(time)
                                : 0;
  *effect = use ? -qty : qty;
  if (qty <= 0 || !in_years(*year)) return NULL;
  json_t *a = json_pack("{s:I,s:I,s:s,s:s?,s:s,s:I,s:I,s:I}", "seq", (json_int_t)col_int(st, s, 0), "n",
                        (json_int_t)col_int(st, s, 1), "type", col_text(st, s, 2), "subtype",
                        col_null(st, s, 3) ? NULL : col_text(st, s, 3), "auth_id", col_text(st, s, 4), "auth_version",
                        (json_int_t)col_int(st, s, 5), "quantity", (json_int_t)qty, "effect", (json_int_t)*effect);
  json_object_set_new(a, use ? "ndc_year" : "vintage", json_integer(*year));
  return a;
}

/* First transfers by the Party count for their vintage, its uses for the
 * year of use; acquisitions and transfers between others change nothing. */
static int load_actions(jcm_store *st, const char *party, a6_year *ys, jcm_check *chk) {
  static const char q[] = "SELECT seq, n, type, subtype, auth_id, auth_version, vintage, ndc_year,"
                          " last - first + 1, time FROM a6_action"
                          " WHERE (type = 'First transfer' AND ft_party = ?) OR (type = 'Use' AND using_party = ?)"
                          " ORDER BY seq, n";
  jcm_stmt *s = db_q(st, q, "ss", party, party);
  int rc = s ? JCM_ROW : JCM_STEP_ERROR, count = 0;
  while (s && (rc = db_step(st, s)) == JCM_ROW) {
    int64_t y, effect, net = 0;
    json_t *a = action_of(st, s, &y, &effect);
    if (!a || ++count > A6_MAX_ACTIONS || __builtin_add_overflow(ys[y - A6_YEAR_MIN].net, effect, &net)) {
      jcm__set_check(chk, 0, "", "a6_action %lld/%lld: %s", (long long)col_int(st, s, 0), (long long)col_int(st, s, 1),
                     a ? "too many actions or sum out of range" : "unreadable row");
      json_decref(a);
      db_reset(st, s);
      return JCM_ERROR;
    }
    a6_year *yr = &ys[y - A6_YEAR_MIN];
    yr->net = net;
    if (!yr->actions) yr->actions = json_array();
    json_array_append_new(yr->actions, a);
  }
  if (s) db_reset(st, s);
  if (rc == JCM_DONE) return JCM_OK;
  jcm__set_check(chk, 0, "", "a6 actions: %s", st->ops->errmsg(st));
  return JCM_ERROR;
}

static int load_emissions(jcm_store *st, const char *party, a6_year *ys, jcm_check *chk) {
  static const char q[] = "SELECT e.year, e.quantity, e.version FROM emissions e WHERE e.party = ?"
                          " AND e.version = (SELECT MAX(version) FROM emissions x WHERE x.party = e.party"
                          " AND x.year = e.year)";
  jcm_stmt *s = db_q(st, q, "s", party);
  int rc = s ? JCM_ROW : JCM_STEP_ERROR;
  while (s && (rc = db_step(st, s)) == JCM_ROW) {
    int64_t y = col_int(st, s, 0);
    if (!in_years(y)) continue; /* ndc.set and emissions.report keep years in range */
    ys[y - A6_YEAR_MIN].reported = true;
    ys[y - A6_YEAR_MIN].emissions = col_int(st, s, 1);
    ys[y - A6_YEAR_MIN].emissions_version = col_int(st, s, 2);
  }
  if (s) db_reset(st, s);
  if (rc == JCM_DONE) return JCM_OK;
  jcm__set_check(chk, 0, "", "emissions: %s", st->ops->errmsg(st));
  return JCM_ERROR;
}

static int load_finals(jcm_store *st, const char *party, a6_year *ys, jcm_check *chk) {
  static const char q[] = "SELECT f.year, f.version, f.emissions, f.adjustment_milli, f.balance_milli, f.actions"
                          " FROM a6_final f WHERE f.party = ? AND f.version = (SELECT MAX(version) FROM a6_final x"
                          " WHERE x.party = f.party AND x.year = f.year)";
  jcm_stmt *s = db_q(st, q, "s", party);
  int rc = s ? JCM_ROW : JCM_STEP_ERROR;
  while (s && (rc = db_step(st, s)) == JCM_ROW) {
    int64_t y = col_int(st, s, 0);
    if (!in_years(y)) continue;
    a6_year *yr = &ys[y - A6_YEAR_MIN];
    yr->final_version = col_int(st, s, 1);
    yr->final_has_emissions = !col_null(st, s, 2);
    yr->final_emissions = col_int(st, s, 2);
    yr->final_adjustment_milli = col_int(st, s, 3);
    yr->final_balance_milli = col_int(st, s, 4);
    free(yr->final_actions);
    yr->final_actions = strdup(col_text(st, s, 5));
    if (!yr->final_actions) {
      rc = JCM_STEP_ERROR; /* out of memory: fail rather than compare with nothing */
      break;
    }
  }
  if (s) db_reset(st, s);
  if (rc == JCM_DONE) return JCM_OK;
  jcm__set_check(chk, 0, "", "a6_final: %s", st->ops->errmsg(st));
  return JCM_ERROR;
}

static void years_free(a6_year *ys) {
  if (!ys) return;
  for (int i = 0; i < A6_YEARS; i++) {
    json_decref(ys[i].actions);
    free(ys[i].final_actions);
  }
  free(ys);
}

/* ---- the computation ---- */

static bool in_period(const a6_ndc *n, int64_t y) { return y >= n->first && y <= n->last; }
static bool averaging(const a6_ndc *n) { return strcmp(n->method, "averaging") == 0; }

/* The averaged adjustment of the target year: the net of every year of the
 * period, divided by the number of years. -1 on overflow. */
static int average_milli(const a6_ndc *n, const a6_year *ys, int64_t *out) {
  int64_t sum = 0;
  for (int64_t y = n->first; y <= n->last; y++)
    if (__builtin_add_overflow(sum, ys[y - A6_YEAR_MIN].net, &sum)) return -1;
  return jcm__milli_div(sum, n->last - n->first + 1, out);
}

/* The actions behind year y's adjustment (a new array): the year's own, or
 * for the target year of averaging those of every year of the period. */
static json_t *behind(const a6_ndc *n, const a6_year *ys, int64_t y) {
  json_t *out = json_array();
  int64_t from = y, to = y;
  if (averaging(n)) {
    if (y != n->last) return out;
    from = n->first;
    to = n->last;
  }
  for (int64_t k = from; k <= to; k++)
    if (ys[k - A6_YEAR_MIN].actions) json_array_extend(out, ys[k - A6_YEAR_MIN].actions);
  return out;
}

static int adjustment_milli(const a6_ndc *n, const a6_year *ys, int64_t y, int64_t average, int64_t *out) {
  if (averaging(n)) {
    *out = y == n->last ? average : 0;
    return 0;
  }
  return __builtin_mul_overflow(ys[y - A6_YEAR_MIN].net, (int64_t)1000, out) ? -1 : 0;
}

/* [[seq,n],...] of an action list, as the compact text a6_final keeps
 * (malloc'd). */
static char *refs_text(json_t *actions) {
  json_t *refs = json_array(), *a;
  size_t i;
  json_array_foreach(actions, i, a) {
    json_array_append_new(refs, json_pack("[O,O]", json_object_get(a, "seq"), json_object_get(a, "n")));
  }
  char *s = json_dumps(refs, JSON_COMPACT);
  json_decref(refs);
  return s;
}

static json_t *milli_json(bool present, int64_t milli) {
  char t[32];
  jcm__milli_text(milli, t);
  return present ? json_string(t) : json_null();
}

static json_t *int_json(bool present, int64_t v) { return present ? json_integer(v) : json_null(); }

/* Whether the live figures of a final year differ from its last snapshot. */
static bool differs(const a6_year *yr, int64_t adj, bool has_balance, int64_t bal, const char *refs) {
  return yr->final_has_emissions != yr->reported || (yr->reported && yr->final_emissions != yr->emissions) ||
         yr->final_adjustment_milli != adj || (has_balance && yr->final_balance_milli != bal) ||
         strcmp(yr->final_actions, refs) != 0;
}

/* One row of the table; NULL on overflow. */
static json_t *year_row(const a6_ndc *n, const a6_year *ys, int64_t y, int64_t average) {
  const a6_year *yr = &ys[y - A6_YEAR_MIN];
  int64_t adj, bal = 0;
  if (adjustment_milli(n, ys, y, average, &adj) != 0) return NULL;
  bool has_balance = yr->reported;
  if (has_balance &&
      (__builtin_mul_overflow(yr->emissions, (int64_t)1000, &bal) || __builtin_add_overflow(bal, adj, &bal)))
    return NULL;
  json_t *acts = behind(n, ys, y);
  char *refs = refs_text(acts);
  bool diff = yr->final_version && refs && differs(yr, adj, has_balance, bal, refs);
  free(refs);
  return json_pack("{s:I,s:b,s:o,s:o,s:I,s:o,s:I,s:o,s:o,s:s,s:o,s:b,s:o}", "year", (json_int_t)y, "in_period",
                   in_period(n, y), "emissions", int_json(yr->reported, yr->emissions), "emissions_version",
                   int_json(yr->reported, yr->emissions_version), "net", (json_int_t)yr->net, "adjustment",
                   milli_json(true, adj), "adjustment_milli", (json_int_t)adj, "balance", milli_json(has_balance, bal),
                   "balance_milli", int_json(has_balance, bal), "method", n->method, "final_version",
                   int_json(yr->final_version != 0, yr->final_version), "differs_from_final", diff, "actions", acts);
}

/* The cumulative row of a multi-year budget: sums over the period; the
 * emissions and balance only when every year of it is reported. */
static json_t *cumulative(const a6_ndc *n, json_t *rows) {
  int64_t emissions = 0, adj = 0;
  bool all = true;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (!json_is_true(json_object_get(r, "in_period"))) continue;
    json_t *e = json_object_get(r, "emissions");
    all = all && json_is_integer(e);
    if (__builtin_add_overflow(adj, (int64_t)json_integer_value(json_object_get(r, "adjustment_milli")), &adj) ||
        (json_is_integer(e) && __builtin_add_overflow(emissions, (int64_t)json_integer_value(e), &emissions)))
      return NULL;
  }
  int64_t bal = 0;
  if (all && (__builtin_mul_overflow(emissions, (int64_t)1000, &bal) || __builtin_add_overflow(bal, adj, &bal)))
    return NULL;
  return json_pack("{s:I,s:I,s:o,s:o,s:I,s:o,s:o}", "first_year", (json_int_t)n->first, "last_year",
                   (json_int_t)n->last, "emissions", int_json(all, emissions), "adjustment", milli_json(true, adj),
                   "adjustment_milli", (json_int_t)adj, "balance", milli_json(all, bal), "balance_milli",
                   int_json(all, bal));
}

/* A row for every year of the period and every year with actions,
 * emissions or a final snapshot. */
static int table(const a6_ndc *n, const a6_year *ys, json_t *rows, jcm_check *chk) {
  int64_t average = 0;
  if (averaging(n) && average_milli(n, ys, &average) != 0) goto overflow;
  for (int64_t y = A6_YEAR_MIN; y <= A6_YEAR_MAX; y++) {
    const a6_year *yr = &ys[y - A6_YEAR_MIN];
    if (!in_period(n, y) && !yr->actions && !yr->reported && !yr->final_version) continue;
    json_t *row = year_row(n, ys, y, average);
    if (!row) goto overflow;
    json_array_append_new(rows, row);
  }
  return JCM_OK;
overflow:
  jcm__set_check(chk, C_RANGE, "", "the balance is beyond the range of 64-bit milli-tonnes");
  return JCM_ERROR;
}

static json_t *result_of(const char *party, const a6_ndc *n, json_t *rows) {
  json_t *cum = strcmp(n->method, "multi-year budget") == 0 ? cumulative(n, rows) : json_null();
  if (!cum) return NULL;
  return json_pack("{s:s,s:I,s:s,s:I,s:I,s:s,s:I,s:O,s:o}", "party", party, "ndc_version", (json_int_t)n->version,
                   "kind", n->kind, "first_year", (json_int_t)n->first, "last_year", (json_int_t)n->last, "method",
                   n->method, "fiscal_start_month", (json_int_t)n->fiscal_start_month, "rows", rows, "cumulative", cum);
}

int jcm__a6_balance(jcm_store *st, const char *party, json_t **out, jcm_check *chk) {
  a6_ndc n;
  *out = NULL;
  int found = ndc_get(st, party, &n);
  if (found <= 0) {
    if (found < 0)
      jcm__set_check(chk, 0, "", "ndc: %s", st->ops->errmsg(st));
    else
      jcm__set_check(chk, C_NO_NDC, "party", "no NDC is set for %s (ndc.set)", party);
    return found < 0 ? JCM_ERROR : JCM_REFUSED;
  }
  a6_year *ys = calloc(A6_YEARS, sizeof *ys);
  json_t *rows = json_array();
  int rc = ys ? JCM_OK : JCM_ERROR;
  if (rc == JCM_OK) rc = load_actions(st, party, ys, chk);
  if (rc == JCM_OK) rc = load_emissions(st, party, ys, chk);
  if (rc == JCM_OK) rc = load_finals(st, party, ys, chk);
  if (rc == JCM_OK) rc = table(&n, ys, rows, chk);
  if (rc == JCM_OK && !(*out = result_of(party, &n, rows))) {
    jcm__set_check(chk, C_RANGE, "", "the cumulative balance is beyond the range of 64-bit milli-tonnes");
    rc = JCM_ERROR;
  }
  json_decref(rows);
  years_free(ys);
  return rc;
}

/* ---- commands ---- */

/* The NDC, emissions and final years recorded here are this registry's
 * Party's: another Party reports in its own registry. */
static int own_party(jcm_ctx *c) {
  const char *party = jcm__s(c->args, "party");
  if (strcmp(party, c->j->party) == 0) return JCM_OK;
  int e = jcm__party_exists(c->st, party);
  if (e < 0) return jcm__dberr(c, "party");
  if (!e) return jcm__refuse(c, C_UNKNOWN_PARTY, "party", "no Party '%s'", party);
  return jcm__refuse(c, C_FOREIGN_PARTY, "party", "%s reports in its own registry; this one is %s's", party,
                     c->j->party);
}

/* The next version of a versioned row (max + 1). */
static int next_version(jcm_ctx *c, const char *sql, const char *party, int64_t year, int64_t *out) {
  jcm_stmt *s = year ? db_q(c->st, sql, "si", party, year) : db_q(c->st, sql, "s", party);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "version");
  }
  *out = col_int(c->st, s, 0) + 1;
  db_reset(c->st, s);
  return JCM_OK;
}

int jcm__check_ndc_set(jcm_ctx *c) {
  static const char q[] = "SELECT COALESCE(MAX(version), 0) FROM ndc WHERE party = ?";
  int rc = own_party(c);
  if (rc != JCM_OK) return rc;
  const char *kind = jcm__s(c->args, "kind"), *method = jcm__s(c->args, "method");
  int64_t first = jcm__i(c->args, "first_year", 0), last = jcm__i(c->args, "last_year", 0), version;
  if (first > last)
    return jcm__refuse(c, C_NDC_PERIOD, "last_year", "the NDC period %lld-%lld ends before it starts", (long long)first,
                       (long long)last);
  bool single = strcmp(kind, "single-year") == 0;
  if ((strcmp(method, "averaging") == 0 && !single) || (strcmp(method, "multi-year budget") == 0 && single))
    return jcm__refuse(c, C_NDC_METHOD, "method", "%s is not a method for a %s NDC", method, kind);
  rc = next_version(c, q, jcm__s(c->args, "party"), 0, &version);
  if (rc != JCM_OK) return rc;
  json_object_set_new(c->out, "version", json_integer(version));
  json_object_set_new(c->out, "fiscal_start_month", json_integer(jcm__i(c->args, "fiscal_start_month", 1)));
  return JCM_OK;
}

int jcm__apply_ndc_set(jcm_ctx *c) {
  static const char q[] = "INSERT INTO ndc(party, version, kind, first_year, last_year, method, fiscal_start_month,"
                          " seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  json_t *a = c->args;
  if (db_x(c->st, q, "sisiisii", jcm__s(a, "party"), jcm__i(c->out, "version", 0), jcm__s(a, "kind"),
           jcm__i(a, "first_year", 0), jcm__i(a, "last_year", 0), jcm__s(a, "method"),
           jcm__i(c->out, "fiscal_start_month", 1), c->seq) != 0)
    return jcm__dberr(c, "ndc");
  return JCM_OK;
}

int jcm__check_emissions_report(jcm_ctx *c) {
  static const char q[] = "SELECT COALESCE(MAX(version), 0) FROM emissions WHERE party = ? AND year = ?";
  static const char qf[] = "SELECT COALESCE(MAX(version), 0) FROM a6_final WHERE party = ? AND year = ?";
  int rc = own_party(c);
  if (rc != JCM_OK) return rc;
  const char *party = jcm__s(c->args, "party");
  int64_t year = jcm__i(c->args, "year", 0), version, final_next;
  rc = next_version(c, q, party, year, &version);
  if (rc == JCM_OK) rc = next_version(c, qf, party, year, &final_next);
  if (rc != JCM_OK) return rc;
  json_object_set_new(c->out, "version", json_integer(version));
  /* a final year takes the new figure as a new version; the table shows it
   * differs from the final one until the year is finalized again */
  if (final_next > 1) json_object_set_new(c->out, "final_version", json_integer(final_next - 1));
  return JCM_OK;
}

int jcm__apply_emissions_report(jcm_ctx *c) {
  static const char q[] = "INSERT INTO emissions(party, year, version, quantity, seq) VALUES (?, ?, ?, ?, ?)";
  if (db_x(c->st, q, "siiii", jcm__s(c->args, "party"), jcm__i(c->args, "year", 0), jcm__i(c->out, "version", 0),
           jcm__i(c->args, "quantity", 0), c->seq) != 0)
    return jcm__dberr(c, "emissions");
  return JCM_OK;
}

static json_t *row_of_year(json_t *balance, int64_t year) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(balance, "rows"), i, r) {
    if (json_integer_value(json_object_get(r, "year")) == year) return r;
  }
  return NULL;
}

/* Refuses a year that cannot be finalized; else fills out from its row. */
static int snapshot(jcm_ctx *c, json_t *row, int64_t year) {
  if (!row || !json_is_true(json_object_get(row, "in_period")))
    return jcm__refuse(c, C_YEAR_OUTSIDE_NDC, "year", "%lld is not a year of the NDC period", (long long)year);
  if (json_is_null(json_object_get(row, "emissions")))
    return jcm__refuse(c, C_NO_EMISSIONS, "year", "no emissions are reported for %lld (emissions.report)",
                       (long long)year);
  json_t *fv = json_object_get(row, "final_version");
  if (json_is_integer(fv) && !json_is_true(json_object_get(row, "differs_from_final")))
    return jcm__refuse(c, C_FINAL_UNCHANGED, "year", "%lld is final (version %lld) and nothing changed since",
                       (long long)year, (long long)json_integer_value(fv));
  char *refs = refs_text(json_object_get(row, "actions"));
  if (!refs) return jcm__dberr(c, "actions");
  json_object_set_new(c->out, "version", json_integer(json_is_integer(fv) ? json_integer_value(fv) + 1 : 1));
  static const char *const keep[] = {"emissions", "adjustment", "adjustment_milli", "balance", "balance_milli"};
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
    json_object_set(c->out, keep[i], json_object_get(row, keep[i]));
  json_object_set_new(c->out, "actions", json_string(refs));
  free(refs);
  return JCM_OK;
}

/* The check computes the snapshot; apply writes it from out, so replay
 * gives the same row whatever the state then holds. */
int jcm__check_year_finalize(jcm_ctx *c) {
  int rc = own_party(c);
  if (rc != JCM_OK) return rc;
  int64_t year = jcm__i(c->args, "year", 0);
  json_t *balance = NULL;
  rc = jcm__a6_balance(c->st, jcm__s(c->args, "party"), &balance, c->chk);
  if (rc == JCM_OK) rc = snapshot(c, row_of_year(balance, year), year);
  json_decref(balance);
  return rc;
}

int jcm__apply_year_finalize(jcm_ctx *c) {
  static const char q[] = "INSERT INTO a6_final(party, year, version, emissions, adjustment_milli, balance_milli,"
                          " actions, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  json_t *o = c->out;
  if (db_x(c->st, q, "siiiiisi", jcm__s(c->args, "party"), jcm__i(c->args, "year", 0), jcm__i(o, "version", 0),
           jcm__i(o, "emissions", 0), jcm__i(o, "adjustment_milli", 0), jcm__i(o, "balance_milli", 0),
           jcm__s(o, "actions"), c->seq) != 0)
    return jcm__dberr(c, "a6_final");
  return JCM_OK;
}
