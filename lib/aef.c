/*
 * The AEF report (Agreed Electronic Format, decision 4/CMA.6 annex II) of
 * this registry's Party for one reported year: Table 1 Submission, 2
 * Authorizations, 3 Actions, 4 Holdings at 31 December, 5 Authorized
 * entities. Columns and controlled values are those of
 * shared/design/aef_columns.md; docs/aef.md maps each column to the data.
 *
 * The tables are built as JSON rows, then checked as the secretariat will
 * check them; a report that fails a check is refused with every problem
 * found (up to AEF_MAX_PROBLEMS) and nothing is written. Workload: once a
 * year per Party, thousands of rows, so clarity wins over speed here; the
 * one costly step is replaying the journal to a year end, done at most once
 * per report and skipped when the live state is the state at the cutoff.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aef.h"
#include "replay.h"

#define AEF_MAX_ROWS 1000000 /* per table: beyond that the report is refused */
#define AEF_MAX_PROBLEMS 100
#define AEF_UNDERLYING "JCM" /* the underlying unit registry of every block */
#define AEF_MITIGATION "Emission reductions"

static const char *const t1_cols[] = {
    "Party",
    "Version",
    "Reported year",
    "Date of submission",
    "Review status of the initial report",
    "Result of the consistency check of this AEF submission",
    "First year of the NDC implementation period",
    "Last year of the NDC implementation period",
    "Reference to the Article 6 technical expert review report of the initial report",
    NULL,
};
static const char *const t2_cols[] = {
    "Authorization ID",
    "Date of authorization",
    "Cooperative approach ID",
    "Version of the authorization",
    "Authorized quantity",
    "Metric",
    "Applicable GWP value(s)",
    "Applicable non-GHG metric",
    "Sector(s)",
    "Activity type(s)",
    "Purposes for authorization",
    "Authorized Party(ies) ID",
    "Authorized entity(ies) ID",
    "OIMP authorized by the Party",
    "Authorized timeframe",
    "Authorization terms and conditions",
    "Authorization documentation",
    "First transfer definition for OIMP",
    "Additional explanatory information",
    NULL,
};
static const char *const t3_cols[] = {
    "Action date",
    "Action type",
    "Action subtype",
    "Cooperative approach ID",
    "Authorization ID",
    "First transferring participating Party ID",
    "Party ITMO registry ID",
    "First ID",
    "Last ID",
    "Underlying unit registry ID",
    "First unit ID",
    "Last unit ID",
    "Metric",
    "Applicable GWP value(s)",
    "Applicable non-GHG metric",
    "Quantity (t CO2 eq)",
    "Quantity (in non-GHG metric)",
    "Mitigation type",
    "Vintage",
    "Transferring participating Party ID",
    "Acquiring participating Party ID",
    "Purpose for which the ITMO has been used towards or cancelled for OIMP",
    "Using/cancelling participating Party ID",
    "Using/cancelling authorized entity ID",
    "Calendar year for which the ITMOs are used towards the Party's NDC",
    "Result of the consistency checks",
    "Additional explanatory information",
    NULL,
};
static const char *const t4_cols[] = {
    "Cooperative approach ID",
    "Authorization ID",
    "First transferring participating Party ID",
    "Party ITMO registry ID",
    "First ID",
    "Last ID",
    "Underlying unit registry ID",
    "First unit ID",
    "Last unit ID",
    "Metric",
    "Applicable GWP value(s)",
    "Applicable non-GHG metric",
    "Quantity (t CO2 eq)",
    "Quantity (in non-GHG metric)",
    "Mitigation type",
    "Vintage",
    NULL,
};
static const char *const t5_cols[] = {
    "Date of the authorization",
    "Name",
    "Country of incorporation",
    "Identification number",
    "Cooperative approach ID",
    "Conditions",
    "Change and revocation conditions",
    "Additional explanatory information",
    NULL,
};

const jcm_aef_table jcm__aef_tables[JCM_AEF_TABLES] = {
    {"Submission", "Table 1: Submission", "1 Submission", t1_cols},
    {"Authorizations", "Table 2: Authorizations", "2 Authorizations", t2_cols},
    {"Actions", "Table 3: Actions", "3 Actions", t3_cols},
    {"Holdings", "Table 4: Holdings", "4 Holdings", t4_cols},
    {"Authorized entities", "Table 5: Authorized entities", "5 Authorized entities", t5_cols},
};
enum { T_SUBMISSION, T_AUTH, T_ACTIONS, T_HOLDINGS, T_ENTITIES };

/* ---- controlled values (aef_columns.md) ---- */

enum { A_AUTH, A_FIRST_TRANSFER, A_TRANSFER, A_ACQUISITION, A_USE, A_CANCELLATION, A_VOLUNTARY, A_HOLDINGS };
static const char *const action_types[] = {"Authorization", "First transfer",         "Transfer", "Acquisition", "Use",
                                           "Cancellation",  "Voluntary Cancellation", NULL};
static const char *const ft_subtypes[] = {"First transfer to another Party",
                                          "Authorization",
                                          "Issuance",
                                          "Use or cancellation",
                                          "Mandatory cancellation to deliver OMGE",
                                          "Voluntary cancellation to deliver OMGE",
                                          "Other cancellations",
                                          "Not yet defined",
                                          NULL};
static const char *const transfer_subtypes[] = {"Mandatory transfer to the Adaptation Fund",
                                                "Voluntary transfer to the Adaptation Fund", "Not yet defined", NULL};
static const char *const cancel_subtypes[] = {"Mandatory cancellation to deliver OMGE",
                                              "Voluntary cancellation to deliver OMGE", "Other cancellations",
                                              "Not yet defined", NULL};
/* DOMAIN.md spells the first-transfer definitions in lower case; the AEF
 * has its own spelling, which the report uses. */
static const char *const ft_definitions[][2] = {
    {"authorization", "Authorisation"},
    {"authorisation", "Authorisation"},
    {"issuance", "Issuance"},
    {"use or cancellation", "Use or Cancellation"},
    {NULL, NULL},
};

static int index_of(const char *const *list, const char *v) {
  for (int i = 0; v && list[i]; i++)
    if (strcmp(list[i], v) == 0) return i;
  return -1;
}

/* The subtypes an action type may have, or NULL when it has none. */
static const char *const *subtypes_of(int type) {
  switch (type) {
  case A_FIRST_TRANSFER: return ft_subtypes;
  case A_TRANSFER: return transfer_subtypes;
  case A_CANCELLATION:
  case A_VOLUNTARY: return cancel_subtypes;
  default: return NULL;
  }
}

static const char *ft_definition(const char *v) {
  for (int i = 0; v && ft_definitions[i][0]; i++)
    if (strcasecmp(ft_definitions[i][0], v) == 0) return ft_definitions[i][1];
  return NULL;
}

/* ---- the report being built ---- */

typedef struct {
  int64_t seq, n;
} action_key;

/* A serial range of a row, for the overlap check. kind: an action type, or
 * A_HOLDINGS. */
typedef struct {
  int kind;
  char origin[16];
  int64_t first, last;
  size_t row; /* 1-based row of its table */
} aef_range;

typedef struct {
  jcm *j;
  jcm_store *st;
  int year, version;
  char date[11];
  char year_start[32], cutoff[32], prev_cutoff[32], last_day[11];
  json_t *tables[JCM_AEF_TABLES];
  json_t *problems;
  int oom;          /* an allocation or a store read failed: JCM_ERROR */
  int too_many;     /* a table passed AEF_MAX_ROWS: refused */
  action_key *keys; /* Table 3 rows in order, to name a row by its action */
  size_t nkeys;
  aef_range *ranges;
  size_t nranges, cap;
  int64_t delta, held_start, held_end;
  int overflow;
  jcm_replay rp;
  int replaying;
  json_t *replay_problems; /* the replay's own, not AEF problems */
  char replay_error[400];  /* why the state at a cutoff could not be had */
} aef;

static const char *code_name(int code) {
  size_t n;
  const jcm_code_info *c = jcm_codes(&n);
  for (size_t i = 0; i < n; i++)
    if (c[i].code == code) return c[i].name;
  return "";
}

/* Records a failed check on row `row` (1-based; 0 for the table as a
 * whole) of table t; the message begins by naming the row. */
static void problem(aef *a, int code, int t, size_t row, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(aef *a, int code, int t, size_t row, const char *fmt, ...) {
  if (json_array_size(a->problems) >= AEF_MAX_PROBLEMS) return;
  char what[400], msg[480];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *key = jcm__aef_tables[t].key;
  if (row)
    snprintf(msg, sizeof msg, "%s row %zu: %s", key, row, what);
  else
    snprintf(msg, sizeof msg, "%s: %s", key, what);
  json_t *p = json_pack("{s:i,s:s,s:s,s:I,s:s}", "code", code, "name", code_name(code), "table", key, "row",
                        (json_int_t)row, "message", msg);
  /* a %.40s may cut a character of a quoted value in two: the problem is
   * kept, without its text */
  if (!p)
    p = json_pack("{s:i,s:s,s:s,s:I,s:s}", "code", code, "name", code_name(code), "table", key, "row", (json_int_t)row,
                  "message", "(the message quotes text that is not valid UTF-8)");
  if (!p || json_array_append_new(a->problems, p) != 0) a->oom = 1;
}

/* ---- cells ---- */

static void put(aef *a, json_t *row, const char *col, json_t *v) {
  if (json_object_set_new(row, col, v) != 0) a->oom = 1; /* v NULL: out of memory or not UTF-8 */
}
static json_t *text(const char *s) { return json_string(s ? s : ""); }
static json_t *text_or_na(const char *s) { return json_string(s && *s ? s : "NA"); }
static json_t *na(void) { return json_string("NA"); }
static json_t *int_or_blank(jcm_store *st, jcm_stmt *s, int i) {
  return col_null(st, s, i) ? json_string("") : json_integer(col_int(st, s, i));
}

static json_t *itmo_id(const char *coop, const char *party, const char *origin, int64_t vintage, int64_t serial) {
  char id[256];
  snprintf(id, sizeof id, "%s.%s.%s.%lld.%lld", coop, party, origin, (long long)vintage, (long long)serial);
  return json_string(id);
}

/* Appends a row to table t; refuses past AEF_MAX_ROWS. */
static int add_row(aef *a, int t, json_t *row) {
  if (json_array_size(a->tables[t]) >= AEF_MAX_ROWS) {
    a->too_many = 1;
    json_decref(row);
    return -1;
  }
  if (!row || json_array_append_new(a->tables[t], row) != 0) {
    a->oom = 1;
    return -1;
  }
  return 0;
}

/* A JSON array of strings (as the auth table keeps lists) joined with "; ",
 * NA when empty. Each item must be in `allowed` when that is given. */
static json_t *joined(aef *a, const char *json_text, const char *const *allowed, size_t row, const char *col) {
  json_t *list = json_loads(json_text ? json_text : "[]", 0, NULL), *item;
  if (!json_is_array(list)) {
    json_decref(list);
    problem(a, C_AEF_CONTROLLED, T_AUTH, row, "%s is not a list: %.80s", col, json_text ? json_text : "");
    return json_string(json_text ? json_text : "");
  }
  size_t len = 1, i;
  json_array_foreach(list, i, item) len += json_string_length(item) + 2;
  char *buf = malloc(len), *p = buf;
  if (buf) *p = 0;
  json_array_foreach(list, i, item) {
    const char *v = json_string_value(item);
    if (!v || (allowed && index_of(allowed, v) < 0))
      problem(a, C_AEF_CONTROLLED, T_AUTH, row, "%s '%.80s' is not one of the AEF's values", col, v ? v : "?");
    if (buf && v) p += sprintf(p, "%s%s", p == buf ? "" : "; ", v);
  }
  json_t *out = buf ? json_string(*buf ? buf : "NA") : NULL; /* nothing listed: not applicable */
  free(buf);
  json_decref(list);
  return out;
}

static int add_range(aef *a, int kind, const char *origin, int64_t first, int64_t last, size_t row) {
  if (a->nranges == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    aef_range *r = realloc(a->ranges, cap * sizeof *r);
    if (!r) {
      a->oom = 1;
      return -1;
    }
    a->ranges = r;
    a->cap = cap;
  }
  aef_range *r = &a->ranges[a->nranges++];
  r->kind = kind;
  snprintf(r->origin, sizeof r->origin, "%s", origin);
  r->first = first;
  r->last = last;
  r->row = row;
  return 0;
}

/* Quantity of [first, last], with check 6202: Last − First + 1 is a
 * quantity only when the range is neither empty nor inverted. */
static int64_t quantity(aef *a, int t, size_t row, int64_t first, int64_t last) {
  if (first < 1 || last < first) {
    problem(a, C_AEF_QUANTITY, t, row,
            "the range %lld..%lld is empty or inverted, so Last ID - First ID + 1 is no quantity", (long long)first,
            (long long)last);
    return 0;
  }
  return last - first + 1;
}

static void add_delta(aef *a, int64_t sign, int64_t q) {
  if (__builtin_add_overflow(a->delta, sign * q, &a->delta)) a->overflow = 1;
}

/* ---- Table 1: Submission ---- */

static int table_submission(aef *a) {
  static const char q[] = "SELECT first_year, last_year FROM ndc WHERE party = ? ORDER BY version DESC LIMIT 1";
  json_t *row = json_object();
  if (!row) return -1;
  put(a, row, "Party", text(a->j->party));
  put(a, row, "Version", json_integer(a->version));
  put(a, row, "Reported year", json_integer(a->year));
  put(a, row, "Date of submission", text(a->date));
  put(a, row, "Review status of the initial report", text(""));
  put(a, row, "Result of the consistency check of this AEF submission", text(""));
  jcm_stmt *s = db_q(a->st, q, "s", a->j->party);
  int step = s ? db_step(a->st, s) : JCM_STEP_ERROR;
  int found = step == JCM_ROW;
  put(a, row, "First year of the NDC implementation period", found ? int_or_blank(a->st, s, 0) : text(""));
  put(a, row, "Last year of the NDC implementation period", found ? int_or_blank(a->st, s, 1) : text(""));
  if (s) db_reset(a->st, s);
  put(a, row, "Reference to the Article 6 technical expert review report of the initial report", text(""));
  if (step == JCM_STEP_ERROR) a->oom = 1;
  return add_row(a, T_SUBMISSION, row);
}

/* ---- Table 2: Authorizations ---- */

/* Columns 0..18 of the authorization query below. */
enum {
  AU_ID,
  AU_DATE,
  AU_COOP,
  AU_VERSION,
  AU_QTY,
  AU_METRIC,
  AU_GWP,
  AU_NONGHG,
  AU_SECTORS,
  AU_ACTIVITIES,
  AU_PURPOSES,
  AU_PARTIES,
  AU_ENTITIES,
  AU_OIMP_PARTY,
  AU_FIRST_YEAR,
  AU_LAST_YEAR,
  AU_TERMS,
  AU_FT_DEF,
  AU_INFO
};

/* The OIMP columns apply when the authorization is for anything but NDC
 * use alone (OIMP, IMP, OP, or NDC and one of them). */
static int oimp_applies(const char *purposes_v) { return strcmp(purposes_v, "NDC") != 0; }

static json_t *timeframe(jcm_store *st, jcm_stmt *s) {
  char tf[48];
  if (col_null(st, s, AU_FIRST_YEAR) || col_null(st, s, AU_LAST_YEAR)) return na();
  snprintf(tf, sizeof tf, "%lld-%lld", (long long)col_int(st, s, AU_FIRST_YEAR),
           (long long)col_int(st, s, AU_LAST_YEAR));
  return json_string(tf);
}

static void auth_controlled(aef *a, jcm_store *st, jcm_stmt *s, size_t n) {
  const char *metric = col_text(st, s, AU_METRIC), *purpose = col_text(st, s, AU_PURPOSES);
  if (index_of(jcm__aef_metrics, metric) < 0)
    problem(a, C_AEF_CONTROLLED, T_AUTH, n, "Metric '%.40s' is not GHG or non-GHG", metric);
  if (index_of(jcm__aef_purposes, purpose) < 0)
    problem(a, C_AEF_CONTROLLED, T_AUTH, n, "Purposes for authorization '%.40s' is not one of the AEF's values",
            purpose);
  if (oimp_applies(purpose) && !ft_definition(col_text(st, s, AU_FT_DEF)))
    problem(a, C_AEF_CONTROLLED, T_AUTH, n, "First transfer definition for OIMP '%.40s' is not one of the AEF's values",
            col_text(st, s, AU_FT_DEF));
}

static json_t *auth_row(aef *a, jcm_store *st, jcm_stmt *s, size_t n) {
  json_t *row = json_object();
  if (!row) return NULL;
  const char *metric = col_text(st, s, AU_METRIC);
  int ghg = strcmp(metric, "GHG") == 0, oimp = oimp_applies(col_text(st, s, AU_PURPOSES));
  auth_controlled(a, st, s, n);
  put(a, row, "Authorization ID", text(col_text(st, s, AU_ID)));
  put(a, row, "Date of authorization", text(col_text(st, s, AU_DATE)));
  put(a, row, "Cooperative approach ID", text(col_text(st, s, AU_COOP)));
  put(a, row, "Version of the authorization", json_integer(col_int(st, s, AU_VERSION)));
  put(a, row, "Authorized quantity", json_integer(col_int(st, s, AU_QTY)));
  put(a, row, "Metric", text(metric));
  put(a, row, "Applicable GWP value(s)", ghg ? text_or_na(col_text(st, s, AU_GWP)) : na());
  put(a, row, "Applicable non-GHG metric", ghg ? na() : text_or_na(col_text(st, s, AU_NONGHG)));
  put(a, row, "Sector(s)", joined(a, col_text(st, s, AU_SECTORS), jcm__aef_sectors, n, "Sector(s)"));
  put(a, row, "Activity type(s)", joined(a, col_text(st, s, AU_ACTIVITIES), NULL, n, "Activity type(s)"));
  put(a, row, "Purposes for authorization", text(col_text(st, s, AU_PURPOSES)));
  put(a, row, "Authorized Party(ies) ID", joined(a, col_text(st, s, AU_PARTIES), NULL, n, "Authorized Party(ies) ID"));
  put(a, row, "Authorized entity(ies) ID",
      joined(a, col_text(st, s, AU_ENTITIES), NULL, n, "Authorized entity(ies) ID"));
  put(a, row, "OIMP authorized by the Party", oimp ? text_or_na(col_text(st, s, AU_OIMP_PARTY)) : na());
  put(a, row, "Authorized timeframe", timeframe(st, s));
  put(a, row, "Authorization terms and conditions", text(col_text(st, s, AU_TERMS)));
  put(a, row, "Authorization documentation", text(""));
  put(a, row, "First transfer definition for OIMP",
      oimp ? text_or_na(ft_definition(col_text(st, s, AU_FT_DEF))) : na());
  put(a, row, "Additional explanatory information", text(col_text(st, s, AU_INFO)));
  return row;
}

/* The authorizations recorded by this Party dated on or before the end of
 * the reported year, one row per id and version. */
static int table_authorizations(aef *a) {
  static const char q[] =
      "SELECT id, date, coop, version, quantity, metric, gwp, non_ghg_metric, sectors, activities, purposes,"
      " parties, entities, oimp_party, first_year, last_year, terms, oimp_first_transfer, info FROM auth"
      " WHERE party = ? AND date <= ? ORDER BY id, version";
  jcm_stmt *s = db_q(a->st, q, "ss", a->j->party, a->last_day);
  int step = JCM_STEP_ERROR;
  for (size_t n = 1; s && (step = db_step(a->st, s)) == JCM_ROW; n++)
    if (add_row(a, T_AUTH, auth_row(a, a->st, s, n)) != 0) break;
  if (s) db_reset(a->st, s);
  if (step == JCM_STEP_ERROR) a->oom = 1;
  return a->oom || a->too_many ? -1 : 0;
}

/* ---- Table 3: Actions ---- */

enum {
  AC_SEQ,
  AC_N,
  AC_TIME,
  AC_TYPE,
  AC_SUBTYPE,
  AC_COOP,
  AC_AUTH,
  AC_AUTH_VERSION,
  AC_FT_PARTY,
  AC_ORIGIN,
  AC_FIRST,
  AC_LAST,
  AC_VINTAGE,
  AC_TRANSFERRING,
  AC_ACQUIRING,
  AC_PURPOSE,
  AC_USING_PARTY,
  AC_USING_ENTITY,
  AC_NDC_YEAR,
  AC_GWP,
  AC_AUTH_COOP,
  AC_AUTH_FOUND,
  AC_COOP_FOUND
};

/* What an action does to the holdings of authorized units (aef_columns.md's
 * last check): +1 adds, -1 takes away, 0 moves nothing. Only a first
 * transfer to another Party moves units; the other first transfers (at
 * authorization, issuance, use) mark units that stay where they are. */
static int64_t holding_sign(int type, const char *subtype) {
  switch (type) {
  case A_AUTH:
  case A_ACQUISITION: return 1;
  case A_FIRST_TRANSFER: return subtype && strcmp(subtype, "First transfer to another Party") == 0 ? -1 : 0;
  case A_TRANSFER:
  case A_USE:
  case A_CANCELLATION:
  case A_VOLUNTARY: return -1;
  default: return 0;
  }
}

/* Checks 6203, 6204 and the controlled values of one action. */
static void action_checks(aef *a, jcm_store *st, jcm_stmt *s, size_t n, int type) {
  const char *subtype = col_null(st, s, AC_SUBTYPE) ? NULL : col_text(st, s, AC_SUBTYPE);
  const char *const *allowed = subtypes_of(type);
  if (type < 0)
    problem(a, C_AEF_CONTROLLED, T_ACTIONS, n, "Action type '%.40s' is not one of the AEF's values",
            col_text(st, s, AC_TYPE));
  else if (subtype && (!allowed || index_of(allowed, subtype) < 0))
    problem(a, C_AEF_CONTROLLED, T_ACTIONS, n, "Action subtype '%.60s' is not one for a %s action", subtype,
            action_types[type]);
  if (!col_int(st, s, AC_AUTH_FOUND))
    problem(a, C_AEF_UNKNOWN_AUTH, T_ACTIONS, n, "authorization %.40s version %lld does not exist",
            col_text(st, s, AC_AUTH), (long long)col_int(st, s, AC_AUTH_VERSION));
  if (!col_int(st, s, AC_COOP_FOUND))
    problem(a, C_AEF_UNKNOWN_COOP, T_ACTIONS, n, "cooperative approach %.40s does not exist", col_text(st, s, AC_COOP));
  else if (col_int(st, s, AC_AUTH_FOUND) && strcmp(col_text(st, s, AC_COOP), col_text(st, s, AC_AUTH_COOP)) != 0)
    problem(a, C_AEF_UNKNOWN_COOP, T_ACTIONS, n,
            "cooperative approach %.40s is not that of authorization %.40s (%.40s)", col_text(st, s, AC_COOP),
            col_text(st, s, AC_AUTH), col_text(st, s, AC_AUTH_COOP));
}

/* A column that applies to some action types only: its value there, NA
 * elsewhere (and NA where it applies but nothing was recorded). */
static json_t *only_for(jcm_store *st, jcm_stmt *s, int col, int applies) {
  return applies ? text_or_na(col_null(st, s, col) ? NULL : col_text(st, s, col)) : na();
}

static void action_itmo(aef *a, json_t *row, jcm_store *st, jcm_stmt *s, int64_t first, int64_t last) {
  const char *coop = col_text(st, s, AC_COOP), *party = col_text(st, s, AC_FT_PARTY),
             *origin = col_text(st, s, AC_ORIGIN);
  int64_t vintage = col_int(st, s, AC_VINTAGE);
  put(a, row, "Cooperative approach ID", text(coop));
  put(a, row, "Authorization ID", text(col_text(st, s, AC_AUTH)));
  put(a, row, "First transferring participating Party ID", text(party));
  put(a, row, "Party ITMO registry ID", text(a->j->registry));
  put(a, row, "First ID", itmo_id(coop, party, origin, vintage, first));
  put(a, row, "Last ID", itmo_id(coop, party, origin, vintage, last));
  put(a, row, "Underlying unit registry ID", text(AEF_UNDERLYING));
  put(a, row, "First unit ID", json_integer(first));
  put(a, row, "Last unit ID", json_integer(last));
  put(a, row, "Metric", text("GHG"));
  put(a, row, "Applicable GWP value(s)", text_or_na(col_null(st, s, AC_GWP) ? NULL : col_text(st, s, AC_GWP)));
  put(a, row, "Applicable non-GHG metric", na());
}

static json_t *action_row(aef *a, jcm_store *st, jcm_stmt *s, size_t n) {
  json_t *row = json_object();
  if (!row) return NULL;
  int type = index_of(action_types, col_text(st, s, AC_TYPE));
  const char *subtype = col_null(st, s, AC_SUBTYPE) ? NULL : col_text(st, s, AC_SUBTYPE);
  int64_t first = col_int(st, s, AC_FIRST), last = col_int(st, s, AC_LAST), q = quantity(a, T_ACTIONS, n, first, last);
  int used = type == A_USE || type == A_FIRST_TRANSFER || type == A_CANCELLATION;
  action_checks(a, st, s, n, type);
  add_range(a, type, col_text(st, s, AC_ORIGIN), first, last, n);
  add_delta(a, holding_sign(type, subtype), q);
  put(a, row, "Action date", text(col_text(st, s, AC_TIME)));
  put(a, row, "Action type", text(col_text(st, s, AC_TYPE)));
  put(a, row, "Action subtype", text_or_na(subtypes_of(type) ? subtype : NULL));
  action_itmo(a, row, st, s, first, last);
  put(a, row, "Quantity (t CO2 eq)", json_integer(q));
  put(a, row, "Quantity (in non-GHG metric)", na());
  put(a, row, "Mitigation type", text(AEF_MITIGATION));
  put(a, row, "Vintage", json_integer(col_int(st, s, AC_VINTAGE)));
  put(a, row, "Transferring participating Party ID", only_for(st, s, AC_TRANSFERRING, type == A_ACQUISITION));
  put(a, row, "Acquiring participating Party ID",
      only_for(st, s, AC_ACQUIRING, type == A_FIRST_TRANSFER || type == A_TRANSFER));
  put(a, row, "Purpose for which the ITMO has been used towards or cancelled for OIMP",
      only_for(st, s, AC_PURPOSE, used));
  put(a, row, "Using/cancelling participating Party ID", only_for(st, s, AC_USING_PARTY, used));
  put(a, row, "Using/cancelling authorized entity ID", only_for(st, s, AC_USING_ENTITY, used));
  put(a, row, "Calendar year for which the ITMOs are used towards the Party's NDC",
      type == A_USE && !col_null(st, s, AC_NDC_YEAR) ? json_integer(col_int(st, s, AC_NDC_YEAR)) : na());
  put(a, row, "Result of the consistency checks", text(""));
  put(a, row, "Additional explanatory information", text(""));
  return row;
}

static int remember_key(aef *a, int64_t seq, int64_t n) {
  if ((a->nkeys & (a->nkeys - 1)) == 0) { /* grow at powers of two */
    action_key *k = realloc(a->keys, (a->nkeys ? a->nkeys * 2 : 1) * sizeof *k);
    if (!k) return -1;
    a->keys = k;
  }
  a->keys[a->nkeys].seq = seq;
  a->keys[a->nkeys++].n = n;
  return 0;
}

/* The actions whose time falls in the reported year, in journal order. */
static int table_actions(aef *a) {
  static const char q[] =
      "SELECT a.seq, a.n, a.time, a.type, a.subtype, a.coop, a.auth_id, a.auth_version, a.ft_party, a.origin,"
      " a.first, a.last, a.vintage, a.transferring, a.acquiring, a.purpose, a.using_party, a.using_entity,"
      " a.ndc_year, au.gwp, au.coop, au.id IS NOT NULL, c.id IS NOT NULL FROM a6_action a"
      " LEFT JOIN auth au ON au.id = a.auth_id AND au.version = a.auth_version LEFT JOIN coop c ON c.id = a.coop"
      " WHERE a.time >= ? AND a.time <= ? ORDER BY a.seq, a.n";
  jcm_stmt *s = db_q(a->st, q, "ss", a->year_start, a->cutoff);
  int step = JCM_STEP_ERROR;
  for (size_t n = 1; s && (step = db_step(a->st, s)) == JCM_ROW; n++) {
    if (remember_key(a, col_int(a->st, s, AC_SEQ), col_int(a->st, s, AC_N)) != 0) a->oom = 1;
    if (a->oom || add_row(a, T_ACTIONS, action_row(a, a->st, s, n)) != 0) break;
  }
  if (s) db_reset(a->st, s);
  if (step == JCM_STEP_ERROR) a->oom = 1;
  return a->oom || a->too_many ? -1 : 0;
}

/* The Table 3 row of an action, 0 when it is not in the reported year. */
static size_t row_of(const aef *a, int64_t seq, int64_t n) {
  size_t lo = 0, hi = a->nkeys;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const action_key *k = &a->keys[mid];
    if (k->seq == seq && k->n == n) return mid + 1;
    if (k->seq < seq || (k->seq == seq && k->n < n))
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

/* ---- Table 4: Holdings at 31 December ---- */

/* The state at a cutoff time: the live store when no journal entry is
 * later (replaying would rebuild exactly it: verify checks that), NULL when
 * no entry is at or before it (nothing was held), else the replay continued
 * up to the cutoff. Cutoffs come in increasing order. */
static int snapshot(aef *a, const char *cutoff, jcm **out) {
  static const char q[] = "SELECT (SELECT COUNT(*) FROM journal WHERE time <= ?), (SELECT COUNT(*) FROM journal)";
  jcm_stmt *s = db_q(a->st, q, "s", cutoff);
  if (!s || db_step(a->st, s) != JCM_ROW) {
    if (s) db_reset(a->st, s);
    return -1;
  }
  int64_t before = col_int(a->st, s, 0), all = col_int(a->st, s, 1);
  db_reset(a->st, s);
  *out = before == all ? a->j : NULL;
  if (before == 0 || before == all) return 0;
  if (!a->replaying &&
      (!(a->replay_problems = json_array()) || jcm__replay_open(&a->rp, a->j, a->replay_problems) != 0))
    return -1;
  a->replaying = 1;
  jcm__replay_until(&a->rp, cutoff);
  if (!a->rp.chain_ok || !a->rp.replay_ok) {
    /* the replay's own problem says which entry; it is not an AEF check */
    json_t *p = json_array_get(a->replay_problems, 0);
    snprintf(a->replay_error, sizeof a->replay_error, "the journal does not replay up to %s (%s: %s); run jcm verify",
             cutoff, json_string_value(json_object_get(p, "where")), json_string_value(json_object_get(p, "what")));
    return -1;
  }
  *out = a->rp.dst;
  return 0;
}

enum { HO_ORIGIN, HO_FIRST, HO_LAST, HO_VINTAGE, HO_AUTH, HO_AUTH_VERSION, HO_COOP, HO_PARTY, HO_GWP, HO_FOUND };

static json_t *holding_row(aef *a, jcm_store *st, jcm_stmt *s, size_t n, int64_t *q) {
  json_t *row = json_object();
  if (!row) return NULL;
  const char *coop = col_text(st, s, HO_COOP), *party = col_text(st, s, HO_PARTY), *origin = col_text(st, s, HO_ORIGIN);
  int64_t first = col_int(st, s, HO_FIRST), last = col_int(st, s, HO_LAST), vintage = col_int(st, s, HO_VINTAGE);
  *q = quantity(a, T_HOLDINGS, n, first, last);
  if (!col_int(st, s, HO_FOUND))
    problem(a, C_AEF_UNKNOWN_AUTH, T_HOLDINGS, n, "authorization %.40s version %lld does not exist",
            col_text(st, s, HO_AUTH), (long long)col_int(st, s, HO_AUTH_VERSION));
  add_range(a, A_HOLDINGS, origin, first, last, n);
  put(a, row, "Cooperative approach ID", text(coop));
  put(a, row, "Authorization ID", text(col_text(st, s, HO_AUTH)));
  put(a, row, "First transferring participating Party ID", text(party));
  put(a, row, "Party ITMO registry ID", text(a->j->registry));
  put(a, row, "First ID", itmo_id(coop, party, origin, vintage, first));
  put(a, row, "Last ID", itmo_id(coop, party, origin, vintage, last));
  put(a, row, "Underlying unit registry ID", text(AEF_UNDERLYING));
  put(a, row, "First unit ID", json_integer(first));
  put(a, row, "Last unit ID", json_integer(last));
  put(a, row, "Metric", text("GHG"));
  put(a, row, "Applicable GWP value(s)", text_or_na(col_null(st, s, HO_GWP) ? NULL : col_text(st, s, HO_GWP)));
  put(a, row, "Applicable non-GHG metric", na());
  put(a, row, "Quantity (t CO2 eq)", json_integer(*q));
  put(a, row, "Quantity (in non-GHG metric)", na());
  put(a, row, "Mitigation type", text(AEF_MITIGATION));
  put(a, row, "Vintage", json_integer(vintage));
  return row;
}

/* Authorized units in this registry's holding, government-holding and
 * share-of-proceeds accounts of the store snap (reserved ones included:
 * they are still held until their transfer completes). With rows, each
 * block becomes a Table 4 row; either way *total is their sum. */
static int holdings(aef *a, jcm *snap, int rows, int64_t *total) {
  static const char q[] =
      "SELECT b.origin, b.first, b.last, b.vintage, b.auth_id, b.auth_version, au.coop, au.party, au.gwp,"
      " au.id IS NOT NULL FROM block b JOIN account ac ON ac.id = b.account"
      " LEFT JOIN auth au ON au.id = b.auth_id AND au.version = b.auth_version"
      " WHERE b.auth_id IS NOT NULL AND ac.type IN ('holding', 'government-holding', 'share-of-proceeds')"
      " ORDER BY b.origin, b.first";
  *total = 0;
  if (!snap) return 0;
  jcm_store *st = jcm__store(snap);
  jcm_stmt *s = db_q(st, q, "");
  int step = JCM_STEP_ERROR;
  for (size_t n = 1; s && (step = db_step(st, s)) == JCM_ROW; n++) {
    int64_t q_units = 0;
    if (rows) {
      if (add_row(a, T_HOLDINGS, holding_row(a, st, s, n, &q_units)) != 0) break;
    } else if (col_int(st, s, HO_LAST) >= col_int(st, s, HO_FIRST)) {
      q_units = col_int(st, s, HO_LAST) - col_int(st, s, HO_FIRST) + 1;
    }
    if (__builtin_add_overflow(*total, q_units, total)) a->overflow = 1;
  }
  if (s) db_reset(st, s);
  if (step == JCM_STEP_ERROR) a->oom = 1;
  return a->oom || a->too_many ? -1 : 0;
}

/* ---- Table 5: Authorized entities ---- */

static json_t *entity_row(aef *a, jcm_store *st, jcm_stmt *s, const char *org, size_t n) {
  static const char q[] = "SELECT name, country, ident FROM org WHERE id = ?";
  json_t *row = json_object();
  jcm_stmt *o = db_q(a->st, q, "s", org);
  int step = o ? db_step(a->st, o) : JCM_STEP_ERROR, found = step == JCM_ROW;
  if (!row || step == JCM_STEP_ERROR) a->oom = 1; /* the store failed: no report, not a problem in it */
  if (step == JCM_DONE)
    problem(a, C_AEF_UNKNOWN_ENTITY, T_ENTITIES, n, "entity %.40s of authorization %.40s is no known organisation", org,
            col_text(st, s, 4));
  put(a, row, "Date of the authorization", text(col_text(st, s, 0)));
  put(a, row, "Name", text(found ? col_text(a->st, o, 0) : ""));
  put(a, row, "Country of incorporation", text(found ? col_text(a->st, o, 1) : ""));
  put(a, row, "Identification number", text(found ? col_text(a->st, o, 2) : ""));
  if (o) db_reset(a->st, o);
  put(a, row, "Cooperative approach ID", text(col_text(st, s, 1)));
  put(a, row, "Conditions", text(col_text(st, s, 2)));
  put(a, row, "Change and revocation conditions", text(""));
  put(a, row, "Additional explanatory information", text(""));
  return row;
}

/* Each entity of the latest version (at the end of the year) of each
 * authorization of this Party: an entity dropped by a later version is no
 * longer authorized. */
static int table_entities(aef *a) {
  static const char q[] = "SELECT au.date, au.coop, au.terms, au.entities, au.id FROM auth au"
                          " WHERE au.party = ? AND au.date <= ? AND au.version ="
                          " (SELECT MAX(x.version) FROM auth x WHERE x.id = au.id AND x.date <= ?) ORDER BY au.id";
  jcm_stmt *s = db_q(a->st, q, "sss", a->j->party, a->last_day, a->last_day);
  int step = JCM_STEP_ERROR;
  size_t n = 0;
  while (s && !a->oom && !a->too_many && (step = db_step(a->st, s)) == JCM_ROW) {
    json_t *list = json_loads(col_text(a->st, s, 3), 0, NULL), *item;
    size_t i;
    json_array_foreach(list, i, item) {
      if (json_is_string(item) && add_row(a, T_ENTITIES, entity_row(a, a->st, s, json_string_value(item), ++n)) != 0)
        break;
    }
    json_decref(list);
  }
  if (s) db_reset(a->st, s);
  if (step == JCM_STEP_ERROR) a->oom = 1;
  return a->oom || a->too_many ? -1 : 0;
}

/* ---- the consistency checks that need more than one row ---- */

static int range_cmp(const void *x, const void *y) {
  const aef_range *p = x, *q = y;
  if (p->kind != q->kind) return p->kind < q->kind ? -1 : 1;
  int c = strcmp(p->origin, q->origin);
  if (c) return c;
  return p->first < q->first ? -1 : p->first > q->first;
}

/* 6201: within the actions of one type, and within the holdings, no serial
 * is in two rows. Sorted once, so each range meets only its neighbour. */
static void check_overlap(aef *a) {
  if (a->nranges > 1) qsort(a->ranges, a->nranges, sizeof *a->ranges, range_cmp);
  for (size_t i = 1; i < a->nranges; i++) {
    const aef_range *p = &a->ranges[i - 1], *r = &a->ranges[i];
    if (p->kind != r->kind || strcmp(p->origin, r->origin) != 0 || r->first > p->last) continue;
    int t = r->kind == A_HOLDINGS ? T_HOLDINGS : T_ACTIONS;
    problem(a, C_AEF_OVERLAP, t, r->row, "serials %s %lld..%lld overlap those of row %zu%s%s", r->origin,
            (long long)r->first, (long long)r->last, p->row, t == T_ACTIONS ? ", another " : "",
            t == T_ACTIONS ? (r->kind >= 0 ? action_types[r->kind] : "action of an unknown type") : "");
  }
}

/* 6205 and 6206 look at every action up to the end of the year, since a
 * use in an earlier year forbids a cancellation in this one; a problem is
 * reported against the later action when it is in this year's report. */
static void check_history(aef *a) {
  static const char q[] =
      "SELECT b.seq, b.n, b.type, a.seq, a.type, b.origin, "
      " CASE WHEN a.first > b.first THEN a.first ELSE b.first END, CASE WHEN a.last < b.last THEN a.last ELSE b.last "
      "END"
      " FROM a6_action b JOIN a6_action a ON a.origin = b.origin AND a.first <= b.last AND b.first <= a.last"
      " AND (a.seq < b.seq OR (a.seq = b.seq AND a.n < b.n))"
      " WHERE b.time >= ? AND b.time <= ? AND ((b.type IN ('Use', 'Cancellation', 'Voluntary Cancellation', 'Transfer')"
      " AND a.type IN ('Use', 'Cancellation', 'Voluntary Cancellation'))"
      " OR (b.type = 'First transfer' AND a.type = 'First transfer'))"
      " ORDER BY b.seq, b.n, a.seq, a.n";
  jcm_stmt *s = db_q(a->st, q, "ss", a->year_start, a->cutoff);
  int step = JCM_STEP_ERROR;
  int64_t last_seq = -1, last_n = -1;
  while (s && (step = db_step(a->st, s)) == JCM_ROW) {
    int64_t seq = col_int(a->st, s, 0), n = col_int(a->st, s, 1);
    if (seq == last_seq && n == last_n) continue; /* one problem per action */
    last_seq = seq, last_n = n;
    int ft = strcmp(col_text(a->st, s, 2), "First transfer") == 0;
    problem(a, ft ? C_AEF_SECOND_FIRST_TRANSFER : C_AEF_AFTER_USE, T_ACTIONS, row_of(a, seq, n),
            "%s of %s %lld..%lld after their %s in journal entry %lld", col_text(a->st, s, 2), col_text(a->st, s, 5),
            (long long)col_int(a->st, s, 6), (long long)col_int(a->st, s, 7), col_text(a->st, s, 4),
            (long long)col_int(a->st, s, 3));
  }
  if (s) db_reset(a->st, s);
  if (step == JCM_STEP_ERROR) a->oom = 1;
}

/* 6207: what was held at the end of the previous year, plus what the
 * year's actions added and took away, is what is held at its end. */
static void check_balance(aef *a) {
  int64_t expect = 0;
  if (a->overflow || __builtin_add_overflow(a->held_start, a->delta, &expect)) {
    problem(a, C_AEF_HOLDINGS, T_HOLDINGS, 0, "the quantities overflow a 64-bit sum");
    return;
  }
  if (expect != a->held_end)
    problem(a, C_AEF_HOLDINGS, T_HOLDINGS, 0,
            "%lld units are held at the end of %d, but %lld held at its start and %+lld by the year's actions make "
            "%lld",
            (long long)a->held_end, a->year, (long long)a->held_start, (long long)a->delta, (long long)expect);
}

/* ---- building, checking, exporting ---- */

/* Every row has exactly its table's columns (a misspelt title in the code
 * above would otherwise go out as an extra column). */
static int shape_ok(aef *a) {
  for (int t = 0; t < JCM_AEF_TABLES; t++) {
    size_t ncols = 0, i;
    json_t *row;
    while (jcm__aef_tables[t].cols[ncols])
      ncols++;
    json_array_foreach(a->tables[t], i, row) {
      if (json_object_size(row) != ncols) return 0;
      for (size_t c = 0; c < ncols; c++)
        if (!json_object_get(row, jcm__aef_tables[t].cols[c])) return 0;
    }
  }
  return 1;
}

static int build(aef *a) {
  jcm *snap = NULL;
  if (table_submission(a) != 0 || table_authorizations(a) != 0 || table_actions(a) != 0) return -1;
  if (snapshot(a, a->prev_cutoff, &snap) != 0 || holdings(a, snap, 0, &a->held_start) != 0) return -1;
  if (snapshot(a, a->cutoff, &snap) != 0 || holdings(a, snap, 1, &a->held_end) != 0) return -1;
  if (table_entities(a) != 0) return -1;
  check_overlap(a);
  check_history(a);
  check_balance(a);
  return a->oom ? -1 : 0;
}

static int refuse(jcm_check *chk, int code, const char *field, const char *msg) {
  jcm__set_check(chk, code, field, "%s", msg);
  return JCM_REFUSED;
}

static int check_options(jcm *j, const jcm_aef_options *o, jcm_check *chk) {
  const char *fmt = o->format ? o->format : "csv";
  if (!j->registry[0]) return refuse(chk, C_NOT_INITIALIZED, "", "the registry has not been initialized");
  if (o->year < 1990 || o->year > 9998) return refuse(chk, C_RANGE, "year", "year must be 1990..9998");
  if (o->version < 0 || o->version > 9999) return refuse(chk, C_RANGE, "version", "version must be 1..9999");
  if (o->date && !jcm__date_valid(o->date))
    return refuse(chk, C_DATE, "date", "date must be a calendar date YYYY-MM-DD");
  if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0 && strcmp(fmt, "xlsx") != 0)
    return refuse(chk, C_ENUM, "format", "format must be csv, json or xlsx");
  if (strcmp(fmt, "xlsx") == 0 && !o->path)
    return refuse(chk, C_MISSING, "path", "an xlsx workbook needs a file to be written to");
  return JCM_OK;
}

static void setup(aef *a, jcm *j, const jcm_aef_options *o) {
  a->j = j;
  a->st = jcm__store(j);
  a->year = o->year;
  a->version = o->version ? o->version : 1;
  if (o->date)
    snprintf(a->date, sizeof a->date, "%s", o->date);
  else { /* today, by the store's clock, so that tests can fix it */
    char now[32];
    jcm__format_time(j->clock(j->clock_ud), now);
    snprintf(a->date, sizeof a->date, "%.10s", now);
  }
  snprintf(a->year_start, sizeof a->year_start, "%04d-01-01T00:00:00.000Z", a->year);
  snprintf(a->cutoff, sizeof a->cutoff, "%04d-12-31T23:59:59.999Z", a->year);
  snprintf(a->prev_cutoff, sizeof a->prev_cutoff, "%04d-12-31T23:59:59.999Z", a->year - 1);
  snprintf(a->last_day, sizeof a->last_day, "%04d-12-31", a->year);
  a->problems = json_array();
  for (int t = 0; t < JCM_AEF_TABLES; t++)
    if (!(a->tables[t] = json_array())) a->oom = 1;
  if (!a->problems) a->oom = 1;
}

static void teardown(aef *a) {
  for (int t = 0; t < JCM_AEF_TABLES; t++)
    json_decref(a->tables[t]);
  json_decref(a->problems);
  json_decref(a->replay_problems);
  if (a->replaying) jcm__replay_close(&a->rp);
  free(a->keys);
  free(a->ranges);
}

static json_t *report_of(aef *a) {
  json_t *r = json_object();
  for (int t = 0; r && t < JCM_AEF_TABLES; t++)
    if (json_object_set(r, jcm__aef_tables[t].key, a->tables[t]) != 0) {
      json_decref(r);
      return NULL;
    }
  return r;
}

/* After build: JCM_OK with the report, JCM_REFUSED when a check failed,
 * JCM_ERROR when the build could not finish. */
static int outcome(aef *a, int built, json_t **report, jcm_check *chk) {
  size_t n = json_array_size(a->problems);
  if (a->too_many) return refuse(chk, C_TOO_MANY, "year", "a table of the report has more than 1,000,000 rows");
  if (a->replay_error[0]) {
    jcm__set_check(chk, 0, "", "%s", a->replay_error);
    return JCM_ERROR;
  }
  if (built != 0 || !shape_ok(a)) {
    jcm__set_check(chk, 0, "", "the report could not be built: %s", a->oom ? "out of memory or a store error" : "?");
    return JCM_ERROR;
  }
  if (n > 0) {
    json_t *p = json_array_get(a->problems, 0);
    jcm__set_check(chk, (int)json_integer_value(json_object_get(p, "code")),
                   json_string_value(json_object_get(p, "table")),
                   "the report is inconsistent (%zu problem%s); first: %.180s", n, n == 1 ? "" : "s",
                   json_string_value(json_object_get(p, "message")));
    return JCM_REFUSED;
  }
  *report = report_of(a);
  if (!*report) {
    jcm__set_check(chk, 0, "", "out of memory");
    return JCM_ERROR;
  }
  return JCM_OK;
}

int jcm_aef_build(jcm *j, const jcm_aef_options *opt, json_t **report, json_t **problems, jcm_check *chk) {
  memset(chk, 0, sizeof *chk);
  *report = NULL;
  if (problems) *problems = NULL;
  if (jcm__self(j, chk) != 0) return JCM_ERROR;
  int rc = check_options(j, opt, chk);
  if (rc != JCM_OK) return rc;
  aef a = {0};
  setup(&a, j, opt);
  /* one read transaction: every table sees the same state */
  int began = !j->in_batch && a.st->ops->exec(a.st, "BEGIN") == 0;
  int built = a.oom ? -1 : build(&a);
  if (began) a.st->ops->exec(a.st, "ROLLBACK");
  rc = outcome(&a, built, report, chk);
  if (problems) *problems = json_incref(a.problems);
  teardown(&a);
  return rc;
}

int jcm_aef(jcm *j, const jcm_aef_options *opt, json_t **problems, jcm_check *chk) {
  json_t *report = NULL;
  int rc = jcm_aef_build(j, opt, &report, problems, chk);
  if (rc != JCM_OK) return rc;
  rc = jcm__aef_write(report, opt->format ? opt->format : "csv", opt->path, chk);
  json_decref(report);
  return rc;
}
