/*
 * Corresponding adjustments and the emissions balance (DOMAIN.md §10,
 * docs/adjustments.md): the TH014 figures, averaging over several vintages
 * across a change of authorization, the trajectory method over several
 * years, the multi-year budget's cumulative row, the rounding rule, final
 * versions, and every refusal of the three commands.
 *
 * The Article 6 actions (a6_action rows) are written by the first-transfer
 * and use commands, which are being built in parallel with this one; until
 * they exist these tests seed the rows with SQL straight into the store
 * opened by t_registry(), on a second connection. The balance only reads
 * those rows, so seeding them tests the same code the commands will feed.
 * A store with seeded rows no longer replays to itself (the rows are not in
 * the journal), so jcm_verify() is run only on stores without them.
 *
 * Every expected figure is computed by hand in the comment beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "support.h"

static const jcm_actor SECRETARIAT = {"test-secretariat", "jc_secretariat"};

/* ---- seeding a6_action ---- */

typedef struct act {
  int64_t seq, n;
  const char *type, *subtype, *auth_id;
  int64_t auth_version;
  const char *ft_party;
  int64_t vintage, first, last;
  const char *using_party;
  int64_t ndc_year; /* 0: NULL */
  const char *time;
} act;

static void seed(const char *path, const act *a) {
  static const char q[] =
      "INSERT INTO a6_action(seq, n, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, first, last,"
      " vintage, using_party, ndc_year) VALUES (?, ?, ?, ?, ?, 'JCM-JPN-THA', ?, ?, ?, 'THA01', ?, ?, ?, ?, ?)";
  sqlite3 *db;
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_int64(s, 1, a->seq);
  sqlite3_bind_int64(s, 2, a->n);
  sqlite3_bind_text(s, 3, a->time ? a->time : "2026-01-15T00:00:00.000Z", -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, a->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, a->subtype, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, a->auth_id ? a->auth_id : "TH014-A", -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 7, a->auth_version ? a->auth_version : 1);
  sqlite3_bind_text(s, 8, a->ft_party ? a->ft_party : "THA", -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 9, a->first);
  sqlite3_bind_int64(s, 10, a->last);
  sqlite3_bind_int64(s, 11, a->vintage);
  sqlite3_bind_text(s, 12, a->using_party, -1, SQLITE_STATIC);
  if (a->ndc_year)
    sqlite3_bind_int64(s, 13, a->ndc_year);
  else
    sqlite3_bind_null(s, 13);
  assert_int_equal(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static void seed_all(const char *path, const act *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    seed(path, &a[i]);
}

/* ---- commands and the table ---- */

static json_t *ok(jcm *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *ok(jcm *j, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  int code = 0;
  if (t_submit(j, &T_ADMIN, buf, &code, &r) != JCM_OK) {
    char *s = json_dumps(r, 0);
    fail_msg("refused: %s -> %s", buf, s);
  }
  json_t *out = json_incref(json_object_get(r, "result"));
  json_decref(r);
  return out;
}

static void ndc(jcm *j, const char *party, const char *kind, int first, int last, const char *method) {
  json_decref(ok(j,
                 "{\"cmd\":\"ndc.set\",\"party\":\"%s\",\"kind\":\"%s\",\"first_year\":%d,\"last_year\":%d,"
                 "\"method\":\"%s\"}",
                 party, kind, first, last, method));
}

static void report(jcm *j, const char *party, int year, long long quantity) {
  json_decref(
      ok(j, "{\"cmd\":\"emissions.report\",\"party\":\"%s\",\"year\":%d,\"quantity\":%lld}", party, year, quantity));
}

static json_t *balance(jcm *j, const char *party) {
  json_t *params = party ? json_pack("{s:s}", "party", party) : NULL, *r = NULL;
  jcm_check chk;
  int rc = jcm_query(j, "a6.balance", params, &r, &chk);
  json_decref(params);
  if (rc != JCM_OK) fail_msg("a6.balance refused: %d %s", chk.code, chk.message);
  return r;
}

static json_t *row(json_t *bal, int year) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(bal, "rows"), i, r) {
    if (json_integer_value(json_object_get(r, "year")) == year) return r;
  }
  fail_msg("no row for %d", year);
  return NULL;
}

static void want_adjustment(json_t *bal, int year, int64_t milli, const char *text) {
  json_t *r = row(bal, year);
  assert_int_equal(json_integer_value(json_object_get(r, "adjustment_milli")), milli);
  assert_string_equal(json_string_value(json_object_get(r, "adjustment")), text);
}

static void want_balance(json_t *bal, int year, const char *text) {
  json_t *b = json_object_get(row(bal, year), "balance");
  if (!text)
    assert_true(json_is_null(b));
  else
    assert_string_equal(json_string_value(b), text);
}

static int64_t member(json_t *o, const char *key) { return (int64_t)json_integer_value(json_object_get(o, key)); }

/* A second registry: Japan's, where Japan's uses are recorded. */
static jcm *japan(const char *path) {
  jcm *j = t_open(path);
  json_decref(ok(j, "{\"cmd\":\"init\",\"registry\":\"JPN01\",\"party\":\"JPN\",\"name\":\"Japan registry\"}"));
  return j;
}

/* ---- the rounding rule ---- */

static void rounding_rule(void **state) {
  (void)state;
  static const struct {
    int64_t num, den, milli;
  } cases[] = {
      {-1, 3, -333},             /* -0.3333… -> -0.333 */
      {2, 3, 667},               /* 0.6666… -> 0.667 */
      {1, 3, 333},               /* 0.3333… -> 0.333 */
      {-2, 3, -667},             /* -0.6666… -> -0.667 */
      {-1, 2000, -1},            /* -0.0005: a half, away from zero -> -0.001 */
      {1, 2000, 1},              /* 0.0005 -> 0.001 */
      {1, 2001, 0},              /* 0.00049… -> 0 */
      {-1, 2001, 0},             /* -0.00049… -> 0 (no negative zero) */
      {1, 16, 63},               /* 0.0625 -> 0.063 */
      {-1, 16, -63},             /* -0.0625 -> -0.063 */
      {-1009, 10, -100900},      /* TH014: -100.9 */
      {2043, 10, 204300},        /* 204.3 */
      {-7, 2, -3500},            /* exact */
      {1009, 1, 1009000},        /* trajectory: whole tonnes */
      {0, 7, 0},                 /* nothing */
      {-2000000, 3, -666666667}, /* -666666.666… -> -666666.667: a whole part and a fraction */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = 12345;
    assert_int_equal(jcm__milli_div(cases[i].num, cases[i].den, &got), 0);
    if (got != cases[i].milli)
      fail_msg("%lld/%lld: got %lld, want %lld", (long long)cases[i].num, (long long)cases[i].den, (long long)got,
               (long long)cases[i].milli);
  }
  int64_t x;
  assert_int_equal(jcm__milli_div(INT64_MAX, 1, &x), -1); /* beyond 64-bit milli-tonnes */
  assert_int_equal(jcm__milli_div(INT64_MIN, 3, &x), -1);
  assert_int_equal(jcm__milli_div(1, 0, &x), -1);
  static const struct {
    int64_t milli;
    const char *text;
  } texts[] = {{-100900, "-100.9"},
               {-333, "-0.333"},
               {667, "0.667"},
               {1009000, "1009"},
               {0, "0"},
               {120, "0.12"},
               {-1, "-0.001"},
               {-1000, "-1"},
               {200204300, "200204.3"},
               {INT64_MIN, "-9223372036854775.808"}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    char t[32];
    jcm__milli_text(texts[i].milli, t);
    assert_string_equal(t, texts[i].text);
  }
}

/* ---- TH014 (DOMAIN.md §10) ---- */

/* Thailand first transfers 1,009 ITMOs of vintage 2021: its 2021 balance
 * rises by 1,009. Japan's acquisition changes nothing for Thailand, and the
 * other 1,008 units, never authorized, have no action at all. */
static void th014_thailand(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-th014-tha");
  jcm *j = t_registry(path, &acc);
  ndc(j, "THA", "single-year", 2021, 2030, "trajectory");
  const act acts[] = {
      {1001, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
      {1002, 1, "Acquisition", NULL, NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
  };
  seed_all(path, acts, 2);
  report(j, "THA", 2021, 250000);
  json_t *bal = balance(j, NULL); /* default: this registry's Party */
  assert_string_equal(json_string_value(json_object_get(bal, "party")), "THA");
  want_adjustment(bal, 2021, 1009000, "1009");
  want_balance(bal, 2021, "251009"); /* 250,000 + 1,009 */
  want_adjustment(bal, 2022, 0, "0");
  want_balance(bal, 2022, NULL); /* nothing reported */
  json_t *trace = json_object_get(row(bal, 2021), "actions");
  assert_int_equal(json_array_size(trace), 1); /* the acquisition is not behind it */
  json_t *a = json_array_get(trace, 0);
  assert_int_equal(member(a, "seq"), 1001);
  assert_int_equal(member(a, "vintage"), 2021);
  assert_int_equal(member(a, "quantity"), 1009);
  assert_int_equal(member(a, "effect"), 1009);
  assert_int_equal(json_array_size(json_object_get(bal, "rows")), 10); /* 2021..2030 */
  json_decref(bal);
  jcm_close(j);
}

/* Japan uses the 1,009 toward its NDC in FY2025: −1,009 in 2025 under the
 * trajectory method; under averaging over FY2021–FY2030 (ten years) the
 * same use gives −1,009 / 10 = −100.9 in FY2030 and nothing in 2025. */
static void th014_japan(void **state) {
  (void)state;
  char path[512];
  t_db_path(path, sizeof path, "adjust-th014-jpn");
  jcm *j = japan(path);
  json_decref(ok(j, "{\"cmd\":\"ndc.set\",\"party\":\"JPN\",\"kind\":\"single-year\",\"first_year\":2021,"
                    "\"last_year\":2030,\"method\":\"trajectory\",\"fiscal_start_month\":4}"));
  const act acts[] = {
      /* Thailand's first transfer, as Japan's registry records it: not Japan's */
      {1001, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
      {1002, 1, "Acquisition", NULL, NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
      {1003, 1, "Use", "NDC", NULL, 1, "THA", 2021, 1, 1009, "JPN", 2025, NULL},
  };
  seed_all(path, acts, 3);
  json_t *bal = balance(j, "JPN");
  assert_int_equal(member(bal, "fiscal_start_month"), 4);
  want_adjustment(bal, 2025, -1009000, "-1009");
  want_adjustment(bal, 2021, 0, "0"); /* the vintage year: nothing for the acquirer */
  want_adjustment(bal, 2030, 0, "0");
  json_decref(bal);

  ndc(j, "JPN", "single-year", 2021, 2030, "averaging");
  bal = balance(j, "JPN");
  assert_int_equal(member(bal, "ndc_version"), 2);
  want_adjustment(bal, 2030, -100900, "-100.9");
  want_adjustment(bal, 2025, 0, "0");
  assert_int_equal(member(row(bal, 2025), "net"), -1009); /* what feeds the average */
  json_t *trace = json_object_get(row(bal, 2030), "actions");
  assert_int_equal(json_array_size(trace), 1);
  assert_int_equal(member(json_array_get(trace, 0), "ndc_year"), 2025);
  assert_int_equal(member(json_array_get(trace, 0), "effect"), -1009);
  assert_int_equal(json_array_size(json_object_get(row(bal, 2025), "actions")), 0);
  report(j, "JPN", 2030, 760000000);
  json_decref(bal);
  bal = balance(j, "JPN");
  want_balance(bal, 2030, "759999899.1"); /* 760,000,000 − 100.9 */
  json_decref(bal);
  jcm_close(j);
}

/* ---- averaging over several vintages, across a change of authorization ----
 *
 * Thailand, single-year NDC 2021–2030 (target 2030), averaging. TH014's
 * authorization TH014-A is changed in 2023 (version 2 adds OIMP); actions
 * under both versions count alike, an OIMP first transfer included:
 *
 *   seq/n   action                      auth  year   effect
 *   2001/1  first transfer (NDC)        v1    2021   +1009
 *   2002/1  first transfer (NDC)        v1    2022    +500
 *   2003/1  first transfer (OIMP)       v2    2023    +300
 *   2003/2  first transfer (NDC)        v2    2023     +41
 *   2004/1  first transfer (NDC)        v2    2024    +200
 *   2005/1  use by Thailand             v2    2026      −7
 *   2006/1  acquisition                 v2    2024   (none)
 *   2007/1  first transfer by Japan     v2    2025   (not Thailand's)
 *   2008/1  first transfer (NDC)        v1    2019   (outside the period)
 *
 * Sum over 2021–2030 = 1009 + 500 + 300 + 41 + 200 − 7 = 2043; / 10 = 204.3
 * in 2030 (204300 milli-tonnes, exact). Emissions 2030 = 200,000 → balance
 * 200,204.3. Every other year: adjustment 0. 2019 gets a row (it has an
 * action) outside the period, adjustment 0.
 */
static void averaging_several_vintages(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-averaging");
  jcm *j = t_registry(path, &acc);
  ndc(j, "THA", "single-year", 2021, 2030, "averaging");
  const act acts[] = {
      {2001, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
      {2002, 1, "First transfer", "NDC", NULL, 1, "THA", 2022, 2018, 2517, NULL, 0, NULL},
      {2003, 1, "First transfer", "OIMP", NULL, 2, "THA", 2023, 3001, 3300, NULL, 0, NULL},
      {2003, 2, "First transfer", "NDC", NULL, 2, "THA", 2023, 3301, 3341, NULL, 0, NULL},
      {2004, 1, "First transfer", "NDC", NULL, 2, "THA", 2024, 4001, 4200, NULL, 0, NULL},
      {2005, 1, "Use", "NDC", "JP-AUTH", 2, "JPN", 2022, 1, 7, "THA", 2026, NULL},
      {2006, 1, "Acquisition", NULL, NULL, 2, "THA", 2024, 4001, 4200, NULL, 0, NULL},
      {2007, 1, "First transfer", "NDC", "JP-AUTH", 2, "JPN", 2025, 1, 99, NULL, 0, NULL},
      {2008, 1, "First transfer", "NDC", NULL, 1, "THA", 2019, 9001, 9050, NULL, 0, NULL},
  };
  seed_all(path, acts, sizeof acts / sizeof acts[0]);
  report(j, "THA", 2030, 200000);
  json_t *bal = balance(j, "THA");
  want_adjustment(bal, 2030, 204300, "204.3");
  want_balance(bal, 2030, "200204.3");
  for (int y = 2021; y <= 2029; y++)
    want_adjustment(bal, y, 0, "0");
  assert_int_equal(member(row(bal, 2023), "net"), 341); /* both versions of the authorization */
  assert_int_equal(member(row(bal, 2026), "net"), -7);
  assert_int_equal(member(row(bal, 2025), "net"), 0); /* Japan's first transfer */
  json_t *r2019 = row(bal, 2019);
  assert_false(json_is_true(json_object_get(r2019, "in_period")));
  want_adjustment(bal, 2019, 0, "0");
  assert_int_equal(member(r2019, "net"), 50);
  /* the trace of 2030: the six actions of the period, in year order */
  json_t *trace = json_object_get(row(bal, 2030), "actions");
  static const int64_t seqs[][3] = {{2001, 1, 1}, {2002, 1, 1}, {2003, 1, 2}, {2003, 2, 2}, {2004, 1, 2}, {2005, 1, 2}};
  assert_int_equal(json_array_size(trace), 6);
  for (size_t i = 0; i < 6; i++) {
    json_t *a = json_array_get(trace, i);
    assert_int_equal(member(a, "seq"), seqs[i][0]);
    assert_int_equal(member(a, "n"), seqs[i][1]);
    assert_int_equal(member(a, "auth_version"), seqs[i][2]);
  }
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 2), "subtype")), "OIMP");
  json_decref(bal);
  /* the final snapshot keeps the same trace */
  json_t *out = ok(j, "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2030}");
  assert_string_equal(json_string_value(json_object_get(out, "actions")),
                      "[[2001,1],[2002,1],[2003,1],[2003,2],[2004,1],[2005,1]]");
  assert_int_equal(member(out, "adjustment_milli"), 204300);
  assert_int_equal(member(out, "balance_milli"), 200204300);
  json_decref(out);
  jcm_close(j);
}

/* Averaging that does not divide evenly: NDC 2028–2030 (three years).
 * A use of 1 in 2029: −1/3 = −0.333… → −0.333. Then a first transfer of 3
 * of vintage 2030: (3 − 1)/3 = 0.666… → 0.667, balance 10 + 0.667. */
static void averaging_rounding(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-rounding");
  jcm *j = t_registry(path, &acc);
  ndc(j, "THA", "single-year", 2028, 2030, "averaging");
  const act use = {3001, 1, "Use", "NDC", NULL, 1, "JPN", 2027, 1, 1, "THA", 2029, NULL};
  seed(path, &use);
  json_t *bal = balance(j, NULL);
  want_adjustment(bal, 2030, -333, "-0.333");
  json_decref(bal);
  const act ft = {3002, 1, "First transfer", "NDC", NULL, 1, "THA", 2030, 5, 7, NULL, 0, NULL};
  seed(path, &ft);
  report(j, "THA", 2030, 10);
  bal = balance(j, NULL);
  want_adjustment(bal, 2030, 667, "0.667");
  want_balance(bal, 2030, "10.667");
  assert_int_equal(member(row(bal, 2030), "balance_milli"), 10667);
  json_decref(bal);
  jcm_close(j);
}

/* ---- trajectory over several years ----
 *
 * Japan, single-year NDC 2021–2030, trajectory: each year's adjustment is
 * that year's own net.
 *   2022: use 100                         → −100;  emissions 1,000,000 → 999,900
 *   2023: Japan's first transfer out, 40  → +40;   no emissions → no balance
 *   2025: uses 1,009 and 50               → −1059; emissions 900,000 → 898,941
 *   2027: use 5 without an NDC year, made in 2027 → counts in 2027: −5
 */
static void trajectory_several_years(void **state) {
  (void)state;
  char path[512];
  t_db_path(path, sizeof path, "adjust-trajectory");
  jcm *j = japan(path);
  ndc(j, "JPN", "single-year", 2021, 2030, "trajectory");
  const act acts[] = {
      {4001, 1, "Use", "NDC", NULL, 1, "THA", 2021, 1, 100, "JPN", 2022, NULL},
      {4002, 1, "First transfer", "NDC", "JP-AUTH", 1, "JPN", 2023, 1, 40, NULL, 0, NULL},
      {4003, 1, "Use", "NDC", NULL, 1, "THA", 2021, 101, 1109, "JPN", 2025, NULL},
      {4003, 2, "Use", "NDC", NULL, 1, "THA", 2022, 1, 50, "JPN", 2025, NULL},
      {4004, 1, "Use", "NDC", NULL, 1, "THA", 2022, 51, 55, "JPN", 0, "2027-06-01T00:00:00.000Z"},
  };
  seed_all(path, acts, sizeof acts / sizeof acts[0]);
  report(j, "JPN", 2022, 1000000);
  report(j, "JPN", 2025, 900000);
  json_t *bal = balance(j, NULL);
  assert_string_equal(json_string_value(json_object_get(bal, "method")), "trajectory");
  want_adjustment(bal, 2021, 0, "0");
  want_adjustment(bal, 2022, -100000, "-100");
  want_balance(bal, 2022, "999900");
  want_adjustment(bal, 2023, 40000, "40");
  want_balance(bal, 2023, NULL);
  want_adjustment(bal, 2024, 0, "0");
  want_adjustment(bal, 2025, -1059000, "-1059");
  want_balance(bal, 2025, "898941");
  assert_int_equal(json_array_size(json_object_get(row(bal, 2025), "actions")), 2);
  want_adjustment(bal, 2027, -5000, "-5");
  assert_true(json_is_null(json_object_get(bal, "cumulative")));
  json_decref(bal);
  jcm_close(j);
}

/* ---- multi-year budget ----
 *
 * Thailand, multi-year NDC 2021–2025, budget: annual adjustments as the
 * trajectory method (2021 +1009, 2023 +300, 2024 −9), and a cumulative row:
 * adjustment 1009 + 300 − 9 = 1300. Emissions 100, 200, 300, 400 for
 * 2021–2024: the cumulative emissions and balance wait for 2025; with 2025
 * = 500, emissions 1500 and balance 1500 + 1300 = 2800.
 */
static void multi_year_budget(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-budget");
  jcm *j = t_registry(path, &acc);
  ndc(j, "THA", "multi-year", 2021, 2025, "multi-year budget");
  const act acts[] = {
      {5001, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL},
      {5002, 1, "First transfer", "OIMP", NULL, 1, "THA", 2023, 2001, 2300, NULL, 0, NULL},
      {5003, 1, "Use", "NDC", "JP-AUTH", 1, "JPN", 2022, 1, 9, "THA", 2024, NULL},
  };
  seed_all(path, acts, 3);
  for (int y = 2021; y <= 2024; y++)
    report(j, "THA", y, 100 * (y - 2020));
  json_t *bal = balance(j, NULL);
  want_adjustment(bal, 2021, 1009000, "1009");
  want_balance(bal, 2021, "1109");
  want_adjustment(bal, 2023, 300000, "300");
  want_adjustment(bal, 2024, -9000, "-9");
  want_balance(bal, 2024, "391");
  json_t *cum = json_object_get(bal, "cumulative");
  assert_int_equal(member(cum, "adjustment_milli"), 1300000);
  assert_string_equal(json_string_value(json_object_get(cum, "adjustment")), "1300");
  assert_true(json_is_null(json_object_get(cum, "emissions")));
  assert_true(json_is_null(json_object_get(cum, "balance")));
  json_decref(bal);
  report(j, "THA", 2025, 500);
  bal = balance(j, NULL);
  cum = json_object_get(bal, "cumulative");
  assert_int_equal(member(cum, "emissions"), 1500);
  assert_string_equal(json_string_value(json_object_get(cum, "balance")), "2800");
  assert_int_equal(member(cum, "balance_milli"), 2800000);
  json_decref(bal);
  jcm_close(j);
}

/* ---- final versions ---- */

static char *final_rows(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT group_concat(party || '|' || year || '|' || version || '|' || emissions"
                                      " || '|' || adjustment_milli || '|' || balance_milli || '|' || actions, ';')"
                                      " FROM (SELECT * FROM a6_final ORDER BY party, year, version)",
                                      -1, &s, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  const unsigned char *t = sqlite3_column_text(s, 0);
  char *out = strdup(t ? (const char *)t : "");
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

static void want_final(jcm *j, int year, int64_t version, int differs) {
  json_t *bal = balance(j, NULL);
  assert_int_equal(member(row(bal, year), "final_version"), version);
  assert_int_equal(json_is_true(json_object_get(row(bal, year), "differs_from_final")), differs);
  json_decref(bal);
}

/* Thailand 2021 (trajectory): +1009 from TH014, emissions 250,000 →
 * balance 251,009, final as version 1. A new report (251,000) is a new
 * emissions version: the table says the live figures differ; finalizing
 * again makes version 2 (balance 252,009). A later first transfer of vintage
 * 2021 (+10) changes the adjustment: differs again, version 3. */
static void finalize_versions(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-final");
  jcm *j = t_registry(path, &acc);
  ndc(j, "THA", "single-year", 2021, 2030, "trajectory");
  const act ft = {6001, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1, 1009, NULL, 0, NULL};
  seed(path, &ft);
  report(j, "THA", 2021, 250000);
  json_t *out = ok(j, "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2021}");
  assert_int_equal(member(out, "version"), 1);
  assert_string_equal(json_string_value(json_object_get(out, "balance")), "251009");
  json_decref(out);
  want_final(j, 2021, 1, 0);
  char *rows = final_rows(path);
  assert_string_equal(rows, "THA|2021|1|250000|1009000|251009000|[[6001,1]]");
  free(rows);

  char *before = t_dump(path);
  int code = 0;
  t_submit(j, &T_ADMIN, "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2021}", &code, NULL);
  assert_int_equal(code, C_FINAL_UNCHANGED);
  char *after = t_dump(path);
  assert_string_equal(before, after);
  free(before);
  free(after);

  out = ok(j, "{\"cmd\":\"emissions.report\",\"party\":\"THA\",\"year\":2021,\"quantity\":251000}");
  assert_int_equal(member(out, "version"), 2);
  assert_int_equal(member(out, "final_version"), 1); /* the report says the year was final */
  json_decref(out);
  want_final(j, 2021, 1, 1);
  json_decref(ok(j, "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2021}"));
  want_final(j, 2021, 2, 0);

  const act more = {6002, 1, "First transfer", "NDC", NULL, 1, "THA", 2021, 1010, 1019, NULL, 0, NULL};
  seed(path, &more);
  want_final(j, 2021, 2, 1);
  json_decref(ok(j, "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":2021}"));
  want_final(j, 2021, 3, 0);
  rows = final_rows(path);
  assert_string_equal(rows, "THA|2021|1|250000|1009000|251009000|[[6001,1]];"
                            "THA|2021|2|251000|1009000|252009000|[[6001,1]];"
                            "THA|2021|3|251000|1019000|252019000|[[6001,1],[6002,1]]");
  free(rows);
  jcm_close(j);
}

/* ---- refusals: each code, and the store unchanged ---- */

static void refused(jcm *j, const char *path, const jcm_actor *actor, const char *text, int want) {
  char *before = t_dump(path);
  int code = 0;
  int rc = t_submit(j, actor, text, &code, NULL);
  char *after = t_dump(path);
  if (rc != JCM_REFUSED || code != want) fail_msg("%s: want %d, got rc %d code %d", text, want, rc, code);
  if (strcmp(before, after) != 0) fail_msg("%s: the refusal changed the store", text);
  free(before);
  free(after);
}

static void query_refused(jcm *j, const char *path, const char *params_text, int want) {
  char *before = t_dump(path);
  json_t *params = params_text ? json_loads(params_text, 0, NULL) : NULL, *r = NULL;
  jcm_check chk;
  int rc = jcm_query(j, "a6.balance", params, &r, &chk);
  if (rc != JCM_REFUSED || chk.code != want || r) fail_msg("a6.balance %s: want %d, got rc %d", params_text, want, rc);
  json_decref(params);
  char *after = t_dump(path);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

#define NDC_SET(party, kind, first, last, method, extra)                                                               \
  "{\"cmd\":\"ndc.set\",\"party\":\"" party "\",\"kind\":\"" kind "\",\"first_year\":" first ",\"last_year\":" last    \
  ",\"method\":\"" method "\"" extra "}"
#define FINALIZE(party, year) "{\"cmd\":\"year.finalize\",\"party\":\"" party "\",\"year\":" year "}"
#define REPORT(party, year, q)                                                                                         \
  "{\"cmd\":\"emissions.report\",\"party\":\"" party "\",\"year\":" year ",\"quantity\":" q "}"

static void refusals(void **state) {
  (void)state;
  char path[512];
  t_accounts acc;
  t_db_path(path, sizeof path, "adjust-refusals");
  jcm *j = t_registry(path, &acc);
  const jcm_actor *A = &T_ADMIN;
  refused(j, path, A, NDC_SET("JPN", "single-year", "2021", "2030", "trajectory", ""), C_FOREIGN_PARTY);
  refused(j, path, A, REPORT("JPN", "2021", "5"), C_FOREIGN_PARTY);
  refused(j, path, A, FINALIZE("JPN", "2021"), C_FOREIGN_PARTY);
  refused(j, path, A, NDC_SET("ZZZ", "single-year", "2021", "2030", "trajectory", ""), C_UNKNOWN_PARTY);
  refused(j, path, A, FINALIZE("THA", "2021"), C_NO_NDC);
  query_refused(j, path, NULL, C_NO_NDC);
  refused(j, path, A, NDC_SET("THA", "single-year", "2031", "2030", "trajectory", ""), C_NDC_PERIOD);
  refused(j, path, A, NDC_SET("THA", "multi-year", "2021", "2030", "averaging", ""), C_NDC_METHOD);
  refused(j, path, A, NDC_SET("THA", "single-year", "2021", "2030", "multi-year budget", ""), C_NDC_METHOD);
  refused(j, path, A, NDC_SET("THA", "single-year", "1989", "2030", "trajectory", ""), C_RANGE);
  refused(j, path, A, NDC_SET("THA", "single-year", "2021", "2101", "trajectory", ""), C_RANGE);
  refused(j, path, A, NDC_SET("THA", "single-year", "2021", "2030", "trajectory", ",\"fiscal_start_month\":13"),
          C_RANGE);
  refused(j, path, A, NDC_SET("THA", "single-year", "2021", "2030", "budget", ""), C_ENUM);
  refused(j, path, A, REPORT("THA", "2021", "-1"), C_RANGE);
  refused(j, path, &SECRETARIAT, NDC_SET("THA", "single-year", "2021", "2030", "trajectory", ""), C_ROLE);
  refused(j, path, &SECRETARIAT, REPORT("THA", "2021", "5"), C_ROLE);
  refused(j, path, &SECRETARIAT, FINALIZE("THA", "2021"), C_ROLE);

  ndc(j, "THA", "single-year", 2021, 2030, "trajectory");
  refused(j, path, A, FINALIZE("THA", "2031"), C_YEAR_OUTSIDE_NDC);
  refused(j, path, A, FINALIZE("THA", "2020"), C_YEAR_OUTSIDE_NDC);
  refused(j, path, A, FINALIZE("THA", "2021"), C_NO_EMISSIONS);
  report(j, "THA", 2021, 0); /* zero is a figure */
  json_decref(ok(j, FINALIZE("THA", "2021")));
  refused(j, path, A, FINALIZE("THA", "2021"), C_FINAL_UNCHANGED);
  query_refused(j, path, "{\"party\":\"JPN\"}", C_NO_NDC);
  query_refused(j, path, "{\"party\":\"ZZZ\"}", C_UNKNOWN_PARTY);
  query_refused(j, path, "{\"party\":\"jpn\"}", C_FORMAT);
  query_refused(j, path, "{\"party\":5}", C_TYPE);
  query_refused(j, path, "{\"year\":2021}", C_UNKNOWN_FIELD);

  /* nothing seeded here: the journal replays to this very state */
  json_t *rep = NULL;
  int rc = jcm_verify(j, &rep);
  if (rc != JCM_OK) {
    char *s = json_dumps(rep, 0);
    fail_msg("verify: %s", s);
  }
  json_decref(rep);
  jcm_close(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rounding_rule),      cmocka_unit_test(th014_thailand),
      cmocka_unit_test(th014_japan),        cmocka_unit_test(averaging_several_vintages),
      cmocka_unit_test(averaging_rounding), cmocka_unit_test(trajectory_several_years),
      cmocka_unit_test(multi_year_budget),  cmocka_unit_test(finalize_versions),
      cmocka_unit_test(refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
