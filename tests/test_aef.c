/*
 * The AEF report (lib/aef.c): each table's columns, row counts and NA rules,
 * the CSV's formula escaping, the JSON's shape, the XLSX read back with
 * unzip, and each consistency check caught by a deliberately corrupted row
 * with nothing written.
 *
 * The commands that write `auth`, `a6_action` and a block's auth_id are
 * being built in parallel, so the fixture seeds those rows with SQL into a
 * store made by t_registry(); units, accounts and their movements come from
 * real commands (issue, retire, cancel, transfer). A limitation follows: the
 * year-end holdings are the replayed state when the journal has later
 * entries, and the replay cannot see what SQL wrote, so Table 4 is tested on
 * the live state (no entry after the cutoff) and the replay to a year end is
 * tested on where the units were (year_end_replay).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aef.h"
#include "replay.h"
#include "support.h"

static int this_year(void) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  return tm.tm_year + 1900;
}

static void sql(jcm *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(jcm *j, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  jcm_store *st = jcm__store(j);
  if (st->ops->exec(st, buf) != 0) fail_msg("SQL failed: %s: %s", buf, st->ops->errmsg(st));
}

static void must_submit(jcm *j, const char *fmt, const char *a, const char *b) {
  char buf[1024];
  int code = 0;
  snprintf(buf, sizeof buf, fmt, a, b);
  if (t_submit(j, &T_ADMIN, buf, &code, NULL) != JCM_OK) fail_msg("refused %d: %s", code, buf);
}

/* One action row of Table 3, seeded (see the head comment). */
static void action(jcm *j, int seq, int year, const char *type, const char *subtype, int64_t first, int64_t last,
                   const char *extra_cols, const char *extra_vals) {
  sql(j,
      "INSERT INTO a6_action(seq, n, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, first, last,"
      " vintage%s) VALUES (%d, 1, '%d-%02d-01T10:00:00.000Z', '%s', %s%s%s, 'JCM-JPN-THA', 'A6-THA-0001', 1, 'THA',"
      " 'THA01', %lld, %lld, 2021%s)",
      extra_cols, seq, year, seq % 12 + 1, type, subtype ? "'" : "", subtype ? subtype : "NULL", subtype ? "'" : "",
      (long long)first, (long long)last, extra_vals);
}

typedef struct {
  char path[512];
  jcm *j;
  t_accounts acc;
  int year;
} fixture;

/*
 * Thailand's registry in the current year: 2017 units of vintage 2021,
 * 1..1009 to the government, 1010..2017 to org-a; 5 retired (1005..1009),
 * 3 cancelled (1002..1004). Authorization A6-THA-0001 (two versions, the
 * second for org-a only) covers them; Japan's own authorization is not
 * Thailand's to report. Actions of the year: Authorization of 1..1009,
 * first transfer at issuance, Use, Cancellation, and an Acquisition of
 * 1010..2017, so that year-end holdings (1..1001 and 1010..2017: 2009) are
 * 0 + 1009 - 5 - 3 + 1008.
 */
static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->year = this_year();
  t_db_path(f->path, sizeof f->path, "aef");
  f->j = t_registry(f->path, &f->acc);
  const char *accounts[] = {f->acc.gov, f->acc.hold_a, NULL};
  const int64_t quantities[] = {1009, 1008};
  assert_int_equal(t_issue(f->j, 2021, 2017, 2017, accounts, quantities), JCM_OK);
  must_submit(f->j, "{\"cmd\":\"retire\",\"from\":\"%s\",\"quantity\":5%s}", f->acc.gov, "");
  must_submit(f->j, "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"voluntary\",\"reason\":\"r\",\"quantity\":3%s}",
              f->acc.gov, "");
  must_submit(f->j, "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"JCM%s\",\"parties\":[\"JPN\",\"THA\"]%s}",
              "", "");
  sql(f->j, "UPDATE block SET auth_id = 'A6-THA-0001', auth_version = 1");
  sql(f->j, "UPDATE org SET ident = '0105555000001' WHERE id = 'org-a'");
  static const char auth[] =
      "INSERT INTO auth VALUES ('%s', %d, 'THA01', '%s', '%d-%s', 'JCM-JPN-THA', 2017, 'GHG', %s, NULL,"
      " '[\"Energy generation\"]', '[\"Solar PV\", \"Floating solar\"]', '%s', '[\"JPN\"]', '%s', %s, 2021, 2030,"
      " 'Terms %d', %s, NULL, 'project', 1)";
  sql(f->j, auth, "A6-THA-0001", 1, "THA", f->year, "02-01", "'AR5'", "NDC and OIMP", "[\"org-a\", \"org-b\"]", "'JPN'",
      1, "'issuance'");
  sql(f->j, auth, "A6-THA-0001", 2, "THA", f->year, "03-01", "NULL", "NDC", "[\"org-a\"]", "NULL", 2, "NULL");
  sql(f->j, auth, "A6-JPN-0001", 1, "JPN", f->year, "03-01", "NULL", "NDC", "[]", "NULL", 3, "NULL");
  sql(f->j, "INSERT INTO ndc VALUES ('THA', 1, 'single-year', 2021, 2030, 'trajectory', 1, 1),"
            " ('THA', 2, 'single-year', 2021, 2035, 'trajectory', 1, 2)");
  action(f->j, 101, f->year, "Authorization", NULL, 1, 1009, "", "");
  action(f->j, 102, f->year, "First transfer", "Issuance", 1, 1009, ", acquiring", ", 'JPN'");
  action(f->j, 103, f->year, "Use", NULL, 1005, 1009, ", using_party, ndc_year, transferring", ", 'THA', 2030, 'JPN'");
  action(f->j, 104, f->year, "Cancellation", "Voluntary cancellation to deliver OMGE", 1002, 1004,
         ", using_party, purpose", ", 'THA', 'OMGE'");
  action(f->j, 105, f->year, "Acquisition", NULL, 1010, 2017, ", transferring, acquiring, ndc_year",
         ", 'JPN', 'THA', 2030");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  jcm_close(f->j);
  free(f);
  return 0;
}

static json_t *build_ok(fixture *f) {
  jcm_aef_options o = {.year = f->year, .date = "2026-01-15"};
  json_t *report = NULL, *problems = NULL;
  jcm_check chk;
  int rc = jcm_aef_build(f->j, &o, &report, &problems, &chk);
  if (rc != JCM_OK) {
    char *p = json_dumps(problems, JSON_INDENT(1));
    fail_msg("refused %d: %s\n%s", chk.code, chk.message, p ? p : "");
  }
  json_decref(problems);
  return report;
}

static const char *cell(json_t *report, const char *table, size_t row, const char *col) {
  json_t *v = json_object_get(json_array_get(json_object_get(report, table), row), col);
  static char num[32];
  if (json_is_integer(v)) {
    snprintf(num, sizeof num, "#%lld", (long long)json_integer_value(v));
    return num;
  }
  return json_is_string(v) ? json_string_value(v) : "(absent)";
}

static void tables_and_na_rules(void **state) {
  fixture *f = *state;
  json_t *r = build_ok(f);
  assert_int_equal(json_object_size(r), 5);
  assert_int_equal(json_array_size(json_object_get(r, "Submission")), 1);
  assert_int_equal(json_array_size(json_object_get(r, "Authorizations")), 2); /* Japan's is not Thailand's */
  assert_int_equal(json_array_size(json_object_get(r, "Actions")), 5);
  assert_int_equal(json_array_size(json_object_get(r, "Holdings")), 2);
  assert_int_equal(json_array_size(json_object_get(r, "Authorized entities")), 1); /* the latest version's */
  /* Table 1: the latest NDC version; secretariat columns blank */
  assert_string_equal(cell(r, "Submission", 0, "Party"), "THA");
  assert_string_equal(cell(r, "Submission", 0, "Version"), "#1");
  assert_string_equal(cell(r, "Submission", 0, "Date of submission"), "2026-01-15");
  assert_string_equal(cell(r, "Submission", 0, "Last year of the NDC implementation period"), "#2035");
  assert_string_equal(cell(r, "Submission", 0, "Review status of the initial report"), "");
  /* Table 2: lists joined, OIMP columns NA for NDC alone, spelling mapped */
  assert_string_equal(cell(r, "Authorizations", 0, "Activity type(s)"), "Solar PV; Floating solar");
  assert_string_equal(cell(r, "Authorizations", 0, "Authorized entity(ies) ID"), "org-a; org-b");
  assert_string_equal(cell(r, "Authorizations", 0, "First transfer definition for OIMP"), "Issuance");
  assert_string_equal(cell(r, "Authorizations", 0, "OIMP authorized by the Party"), "JPN");
  assert_string_equal(cell(r, "Authorizations", 0, "Applicable GWP value(s)"), "AR5");
  assert_string_equal(cell(r, "Authorizations", 0, "Applicable non-GHG metric"), "NA");
  assert_string_equal(cell(r, "Authorizations", 0, "Authorized timeframe"), "2021-2030");
  assert_string_equal(cell(r, "Authorizations", 1, "First transfer definition for OIMP"), "NA");
  assert_string_equal(cell(r, "Authorizations", 1, "OIMP authorized by the Party"), "NA");
  assert_string_equal(cell(r, "Authorizations", 1, "Applicable GWP value(s)"), "NA");
  /* Table 3: identifiers, quantity, and each column only where it applies */
  assert_string_equal(cell(r, "Actions", 0, "First ID"), "JCM-JPN-THA.THA.THA01.2021.1");
  assert_string_equal(cell(r, "Actions", 0, "Last ID"), "JCM-JPN-THA.THA.THA01.2021.1009");
  assert_string_equal(cell(r, "Actions", 0, "Quantity (t CO2 eq)"), "#1009");
  assert_string_equal(cell(r, "Actions", 0, "Party ITMO registry ID"), "THA01");
  assert_string_equal(cell(r, "Actions", 0, "Underlying unit registry ID"), "JCM");
  assert_string_equal(cell(r, "Actions", 0, "Action subtype"), "NA");
  assert_string_equal(cell(r, "Actions", 1, "Action subtype"), "Issuance");
  assert_string_equal(cell(r, "Actions", 1, "Acquiring participating Party ID"), "JPN");
  assert_string_equal(cell(r, "Actions", 2, "Calendar year for which the ITMOs are used towards the Party's NDC"),
                      "#2030");
  assert_string_equal(cell(r, "Actions", 2, "Transferring participating Party ID"), "NA"); /* only Acquisition */
  assert_string_equal(cell(r, "Actions", 2, "Using/cancelling participating Party ID"), "THA");
  assert_string_equal(cell(r, "Actions", 3, "Purpose for which the ITMO has been used towards or cancelled for OIMP"),
                      "OMGE");
  assert_string_equal(cell(r, "Actions", 4, "Transferring participating Party ID"), "JPN");
  assert_string_equal(cell(r, "Actions", 4, "Acquiring participating Party ID"), "NA");
  assert_string_equal(cell(r, "Actions", 4, "Calendar year for which the ITMOs are used towards the Party's NDC"),
                      "NA"); /* only Use */
  assert_string_equal(cell(r, "Actions", 4, "Using/cancelling participating Party ID"), "NA");
  assert_string_equal(cell(r, "Actions", 0, "Result of the consistency checks"), "");
  /* Table 4: what the holding accounts hold, not what was retired or cancelled */
  assert_string_equal(cell(r, "Holdings", 0, "Last unit ID"), "#1001");
  assert_string_equal(cell(r, "Holdings", 1, "First ID"), "JCM-JPN-THA.THA.THA01.2021.1010");
  assert_string_equal(cell(r, "Holdings", 1, "Quantity (t CO2 eq)"), "#1008");
  /* Table 5 */
  assert_string_equal(cell(r, "Authorized entities", 0, "Name"), "Org A");
  assert_string_equal(cell(r, "Authorized entities", 0, "Identification number"), "0105555000001");
  assert_string_equal(cell(r, "Authorized entities", 0, "Conditions"), "Terms 2");
  json_decref(r);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void out_path(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", TEST_TMP_DIR, name);
  remove(out);
}

static void csv_never_a_formula(void **state) {
  fixture *f = *state;
  sql(f->j, "UPDATE org SET name = '=HYPERLINK(\"http://evil.example\",\"click\")' WHERE id = 'org-a'");
  sql(f->j, "UPDATE auth SET terms = '@SUM(A1)', info = '-2+3' WHERE version = 2");
  char path[600];
  out_path(path, sizeof path, "aef.csv");
  jcm_aef_options o = {.year = f->year, .date = "2026-01-15", .format = "csv", .path = path};
  jcm_check chk;
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_OK);
  const char *csv = slurp(path);
  assert_non_null(csv);
  assert_non_null(strstr(csv, "Table 1: Submission\r\nParty,Version,"));
  assert_non_null(strstr(csv, "\r\nTHA,1,")); /* numbers stay numbers */
  assert_non_null(strstr(csv, ",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\","));
  assert_non_null(strstr(csv, ",'@SUM(A1),"));
  assert_non_null(strstr(csv, ",'-2+3\r\n"));
  /* no field anywhere begins with a character that starts a formula */
  for (const char *p = csv; *p; p++) {
    int field_start = p == csv || p[-1] == ',' || p[-1] == '\n' || (p[-1] == '"' && (p - 1 == csv || p[-2] == ','));
    if (field_start && (*p == '=' || *p == '+' || *p == '-' || *p == '@'))
      fail_msg("a field begins with '%c' at offset %td", *p, p - csv);
  }
  /* the escaping rule itself, for the characters no fixture row holds */
  char buf[256] = "";
  FILE *m = fmemopen(buf, sizeof buf, "w");
  jcm__csv_text(m, "\tx");
  fputc('|', m);
  jcm__csv_text(m, "\rx");
  fputc('|', m);
  jcm__csv_text(m, "a,\"b\"");
  fputc('|', m);
  jcm__csv_text(m, "NA");
  fclose(m);
  assert_string_equal(buf, "'\tx|\"'\rx\"|\"a,\"\"b\"\"\"|NA");
}

static void json_shape(void **state) {
  fixture *f = *state;
  char path[600];
  out_path(path, sizeof path, "aef.json");
  jcm_aef_options o = {.year = f->year, .format = "json", .path = path};
  jcm_check chk;
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_OK);
  json_t *r = json_load_file(path, 0, NULL);
  assert_non_null(r);
  assert_int_equal(json_object_size(r), JCM_AEF_TABLES);
  for (int t = 0; t < JCM_AEF_TABLES; t++) {
    json_t *rows = json_object_get(r, jcm__aef_tables[t].key), *row;
    assert_true(json_is_array(rows));
    size_t ncols = 0, i;
    while (jcm__aef_tables[t].cols[ncols])
      ncols++;
    json_array_foreach(rows, i, row) {
      assert_int_equal(json_object_size(row), ncols);
      for (size_t c = 0; c < ncols; c++)
        assert_non_null(json_object_get(row, jcm__aef_tables[t].cols[c]));
    }
  }
  assert_int_equal(json_array_size(json_object_get(r, "Holdings")), 2);
  /* today's date when none is given, by the store's clock */
  const char *date = cell(r, "Submission", 0, "Date of submission");
  assert_int_equal(strlen(date), 10);
  assert_int_equal(atoi(date), f->year);
  json_decref(r);
}

/* The output of a command (unzip), or "" when it fails. */
static char *run(const char *fmt, const char *a, const char *b) {
  static char out[1 << 20];
  char cmd[1400];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  FILE *p = popen(cmd, "r");
  out[0] = 0;
  if (!p) return out;
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  if (pclose(p) != 0) out[0] = 0;
  return out;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void xlsx_read_back(void **state) {
  fixture *f = *state;
  char path[600];
  out_path(path, sizeof path, "aef.xlsx");
  jcm_aef_options o = {.year = f->year, .format = "xlsx", .path = path};
  jcm_check chk;
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_OK);
  char *wb = strdup(run("unzip -p '%s' xl/workbook.xml%s", path, "")); /* run() reuses its buffer */
  assert_non_null(wb);
  assert_int_equal(count(wb, "<sheet "), 5);
  static const int rows[] = {1, 2, 5, 2, 1};
  for (int t = 0; t < JCM_AEF_TABLES; t++) {
    char name[80], sheet[40], header[200];
    snprintf(name, sizeof name, "name=\"%s\"", jcm__aef_tables[t].sheet);
    assert_non_null(strstr(wb, name));
    snprintf(sheet, sizeof sheet, "xl/worksheets/sheet%d.xml", t + 1);
    const char *xml = run("unzip -p '%s' %s", path, sheet);
    assert_int_equal(count(xml, "<row "), 1 + rows[t]);
    for (int c = 0; jcm__aef_tables[t].cols[c]; c++) {
      snprintf(header, sizeof header, "<t>%s</t>", jcm__aef_tables[t].cols[c]);
      if (!strstr(xml, header) && !strchr(jcm__aef_tables[t].cols[c], '\''))
        fail_msg("sheet %d lacks header %s", t + 1, header);
    }
    if (t == 2) { /* quantities and serials are numbers, not text */
      assert_non_null(strstr(xml, "<v>1009</v>"));
      assert_null(strstr(xml, "<t>1009</t>"));
    }
  }
  free(wb);
}

/* ---- each consistency check, caught ---- */

typedef struct {
  const char *what;
  const char *sql;
  int code;
  const char *names; /* the message names this row */
} corruption;

static const corruption corruptions[] = {
    {"two Authorizations of the same serials",
     "INSERT INTO a6_action SELECT 110, 1, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, 500,"
     " 600, vintage, transferring, acquiring, purpose, using_party, using_entity, ndc_year, tx FROM a6_action"
     " WHERE seq = 101",
     6201, "Actions row 6"},
    {"an inverted range",
     "INSERT INTO a6_action SELECT 110, 1, time, type, subtype, coop, auth_id, auth_version, ft_party, 'THA02', 20,"
     " 10, vintage, NULL, acquiring, NULL, NULL, NULL, NULL, tx FROM a6_action WHERE seq = 102",
     6202, "Actions row 6"},
    {"an authorization version that does not exist", "UPDATE a6_action SET auth_version = 9 WHERE seq = 102", 6203,
     "Actions row 2"},
    {"an unknown cooperative approach", "UPDATE a6_action SET coop = 'CA9999' WHERE seq = 104", 6204, "Actions row 4"},
    {"a transfer of retired units",
     "INSERT INTO a6_action SELECT 110, 1, time, 'Transfer', NULL, coop, auth_id, auth_version, ft_party, origin, 1005,"
     " 1005, vintage, NULL, 'JPN', NULL, NULL, NULL, NULL, tx FROM a6_action WHERE seq = 103",
     6205, "Actions row 6"},
    {"a second first transfer",
     "INSERT INTO a6_action SELECT 110, 1, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, 7, 7,"
     " vintage, NULL, acquiring, NULL, NULL, NULL, NULL, tx FROM a6_action WHERE seq = 102",
     6206, "Actions row 6"},
    {"a cancellation the actions do not show", "DELETE FROM a6_action WHERE seq = 104", 6207, "Holdings:"},
    {"an action type the AEF does not have", "UPDATE a6_action SET type = 'Gift' WHERE seq = 102", 6208,
     "Actions row 2"},
    {"a subtype of another type", "UPDATE a6_action SET subtype = 'Issuance' WHERE seq = 104", 6208, "Actions row 4"},
    {"a sector the AEF does not have", "UPDATE auth SET sectors = '[\"Space\"]' WHERE version = 1", 6208,
     "Authorizations row 1"},
    {"an unknown entity", "UPDATE auth SET entities = '[\"nobody\"]' WHERE version = 2", 6209,
     "Authorized entities row 1"},
};

static int has_problem(json_t *problems, int code, const char *names) {
  size_t i;
  json_t *p;
  json_array_foreach(problems, i, p) {
    if (json_integer_value(json_object_get(p, "code")) == code &&
        strstr(json_string_value(json_object_get(p, "message")), names))
      return 1;
  }
  return 0;
}

static void each_check_caught(void **state) {
  fixture *f = *state;
  char path[600], part[620];
  out_path(path, sizeof path, "aef-refused.csv");
  snprintf(part, sizeof part, "%s.part", path);
  for (size_t i = 0; i < sizeof corruptions / sizeof corruptions[0]; i++) {
    const corruption *c = &corruptions[i];
    jcm_store *st = jcm__store(f->j);
    sql(f->j, "SAVEPOINT corrupt");
    sql(f->j, "%s", c->sql);
    jcm_aef_options o = {.year = f->year, .path = path};
    json_t *problems = NULL;
    jcm_check chk;
    int rc = jcm_aef(f->j, &o, &problems, &chk);
    st->ops->exec(st, "ROLLBACK TO corrupt");
    st->ops->exec(st, "RELEASE corrupt");
    if (rc != JCM_REFUSED || !has_problem(problems, c->code, c->names)) {
      char *s = json_dumps(problems, JSON_INDENT(1));
      fail_msg("%s: rc %d, want a %d naming '%s'; problems: %s", c->what, rc, c->code, c->names, s ? s : "none");
    }
    assert_int_not_equal(chk.code, 0);
    assert_null(fopen(path, "r")); /* nothing written */
    assert_null(fopen(part, "r"));
    json_decref(problems);
  }
  json_t *r = build_ok(f); /* and the rollbacks left it consistent */
  json_decref(r);
}

static void bad_options(void **state) {
  fixture *f = *state;
  jcm_check chk;
  jcm_aef_options o = {.year = 1980};
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_REFUSED);
  assert_int_equal(chk.code, 1004);
  o = (jcm_aef_options){.year = f->year, .date = "2026-02-30"};
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_REFUSED);
  assert_int_equal(chk.code, 1008);
  o = (jcm_aef_options){.year = f->year, .format = "pdf"};
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_REFUSED);
  assert_int_equal(chk.code, 1012);
  o = (jcm_aef_options){.year = f->year, .format = "xlsx"};
  assert_int_equal(jcm_aef(f->j, &o, NULL, &chk), JCM_REFUSED);
  assert_int_equal(chk.code, 1002);
}

/* ---- the state at a year end, by replay ---- */

static int64_t clock_ms;
static int64_t fixed_clock(void *ud) {
  (void)ud;
  return clock_ms;
}

static int64_t held_in(jcm *j, const char *account) {
  static const char q[] = "SELECT COALESCE(SUM(last - first + 1), 0) FROM block WHERE account = ?";
  jcm_store *st = jcm__store(j);
  jcm_stmt *s = db_q(st, q, "s", account);
  assert_non_null(s);
  assert_int_equal(db_step(st, s), JCM_ROW);
  int64_t v = col_int(st, s, 0);
  db_reset(st, s);
  return v;
}

/* The report with its binds failing from the k-th on, or its k-th step
 * failing, for every k: a store error (no report), or, when the fault hit
 * nothing the report reads, the same report. Never a report built from a
 * read that failed, nor a refusal for an inconsistency the store does not
 * have. */
static void store_faults_give_no_report(void **state) {
  fixture *f = *state;
  json_t *want = build_ok(f);
  int wrong = 0;
  for (t_fault_steps = 0; t_fault_steps < 2; t_fault_steps++) {
    for (int k = 1;; k++) {
      jcm_aef_options o = {.year = f->year, .date = "2026-01-15"};
      json_t *report = NULL, *problems = NULL;
      jcm_check chk;
      t_fault_from(f->j, k);
      int rc = jcm_aef_build(f->j, &o, &report, &problems, &chk);
      int hit = t_fault_hit(k);
      t_fault_end(f->j);
      if (hit && rc != JCM_ERROR && !(rc == JCM_OK && json_equal(report, want))) {
        print_error("%s %d: rc %d (%s)\n", t_fault_steps ? "step failing at" : "binds failing from", k, rc,
                    chk.message);
        wrong++;
      }
      if (hit && rc == JCM_ERROR && report) print_error("a store error with a report\n"), wrong++;
      json_decref(report), json_decref(problems);
      if (!hit) break;
    }
  }
  t_fault_steps = 0;
  json_decref(want);
  assert_int_equal(wrong, 0);
}

/* Units issued this year and moved next year: the replay to this year's end
 * finds them where they were, and the report for this year is built from
 * that replay while the one for next year reads the live state. */
static void year_end_replay(void **state) {
  fixture *f = *state;
  char cutoff[32];
  jcm_close(f->j);
  clock_ms = (int64_t)(this_year() + 1 - 1970) * 365 * 86400000LL + 60 * 86400000LL; /* early next year */
  jcm_options opt = {.clock = fixed_clock};
  char err[256];
  assert_int_equal(jcm_open(f->path, &opt, &f->j, err, sizeof err), JCM_OK);
  must_submit(f->j, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":8}", f->acc.hold_a,
              f->acc.hold_b);
  snprintf(cutoff, sizeof cutoff, "%d-12-31T23:59:59.999Z", f->year);
  jcm_replay rp;
  json_t *problems = json_array();
  assert_int_equal(jcm__replay_open(&rp, f->j, problems), 0);
  jcm__replay_until(&rp, cutoff);
  assert_true(rp.chain_ok && rp.replay_ok);
  assert_int_equal(held_in(rp.dst, f->acc.hold_a), 1008);
  assert_int_equal(held_in(rp.dst, f->acc.hold_b), 0);
  jcm__replay_until(&rp, NULL); /* continued to the end: the live state */
  assert_int_equal(held_in(rp.dst, f->acc.hold_b), 8);
  assert_int_equal(held_in(f->j, f->acc.hold_b), 8);
  jcm__replay_close(&rp);
  json_decref(problems);
  /* The replay cannot see the auth_id SQL put on blocks (head comment), so
   * this year's Table 4, replayed, is empty, and its actions (seeded) no
   * longer add up: the report is refused with 6207, which shows the replay
   * was used. Next year, read from the live state, holds them. */
  jcm_aef_options o = {.year = f->year};
  json_t *report = NULL;
  jcm_check chk;
  problems = NULL;
  assert_int_equal(jcm_aef_build(f->j, &o, &report, &problems, &chk), JCM_REFUSED);
  assert_true(has_problem(problems, 6207, "0 units are held"));
  json_decref(problems);
  sql(f->j, "DELETE FROM a6_action");
  o.year = f->year + 1;
  /* holdings at the start of next year come from the replay (none), at its
   * end from the live state: the seeded auth_id makes 2009 appear with no
   * action, which the balance check must catch */
  assert_int_equal(jcm_aef_build(f->j, &o, &report, &problems, &chk), JCM_REFUSED);
  assert_true(has_problem(problems, 6207, "2009 units are held"));
  json_decref(problems);
  /* a journal that does not replay gives no report, and says so */
  sql(f->j, "UPDATE journal SET hash = zeroblob(32) WHERE seq = 2");
  o.year = f->year;
  assert_int_equal(jcm_aef_build(f->j, &o, &report, &problems, &chk), JCM_ERROR);
  assert_null(report);
  assert_non_null(strstr(chk.message, "journal entry 2"));
  assert_non_null(strstr(chk.message, "run jcm verify"));
  json_decref(problems);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(tables_and_na_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(csv_never_a_formula, setup, teardown),
      cmocka_unit_test_setup_teardown(json_shape, setup, teardown),
      cmocka_unit_test_setup_teardown(xlsx_read_back, setup, teardown),
      cmocka_unit_test_setup_teardown(each_check_caught, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_options, setup, teardown),
      cmocka_unit_test_setup_teardown(year_end_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(store_faults_give_no_report, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
