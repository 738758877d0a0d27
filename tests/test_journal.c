/* Tampering with a closed store, one change at a time, and checking that
 * jcm_verify refuses it and names what was changed: every journal entry's
 * bytes and columns, deleted, reordered, forged and rewritten entries, and
 * the state tables changed behind the journal's back. A refused command
 * leaves no journal entry, so a history full of refusals still verifies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/stat.h>

#include "checks.h"
#include "internal.h"
#include "support.h"

#define MAX_ENTRIES 64
#define HASH_LEN 32

static const jcm_actor ORG_A = {"org-a", "holder"};
static const jcm_actor ORG_B = {"org-b", "holder"};
static const jcm_actor ORG_C = {"org-c", "holder"};

/* The untouched store, built once; every test tampers with a copy of it. */
static char base_path[512], work_path[512];
static t_accounts acc;
static char acc_c[32];       /* org-c's holding account */
static int64_t n_entries;    /* journal entries of the base store */
static int64_t seq_blocked;  /* the entry that blocked hold_b */
static int64_t seq_transfer; /* an early transfer by quantity, hold_a -> hold_b */
static char entry_cmd[MAX_ENTRIES + 1][32];

/* ---- reporting ---- */

/* cmocka's print_error() truncates at 1024 bytes: print in pieces. */
static void print_long(const char *s) {
  for (size_t n = strlen(s); n > 0;) {
    int k = n > 900 ? 900 : (int)n;
    print_error("%.*s", k, s);
    s += k;
    n -= (size_t)k;
  }
  print_error("\n");
}

static void print_failure(json_t *report, const char *msg) {
  print_long(msg);
  char *dump = report ? json_dumps(report, JSON_INDENT(1)) : NULL;
  print_error("verify report: ");
  print_long(dump ? dump : "(none)");
  free(dump);
}

static void failf(json_t *report, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(json_t *report, const char *fmt, ...) {
  static char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_failure(report, msg);
  fail();
}

static json_t *problem_at(json_t *report, size_t i) { return json_array_get(json_object_get(report, "problems"), i); }

static const char *pstr(json_t *p, const char *key) {
  const char *s = json_string_value(json_object_get(p, key));
  return s ? s : "";
}

static size_t problem_count(json_t *report) { return json_array_size(json_object_get(report, "problems")); }

/* Whether some problem has this check and where (and what contains what_part). */
static int has_problem(json_t *report, const char *check, const char *where, const char *what_part) {
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(report, "problems"), i, p) {
    if (strcmp(pstr(p, "check"), check) == 0 && strcmp(pstr(p, "where"), where) == 0 &&
        (!what_part || strstr(pstr(p, "what"), what_part)))
      return 1;
  }
  return 0;
}

/* The checks below return NULL when the report is as expected, or why not. */
static char why[512];

/* A refusal whose report says so and names at least one problem. */
static const char *why_not_refused(int rc, json_t *report) {
  if (rc != JCM_REFUSED)
    snprintf(why, sizeof why, "jcm_verify returned %d, not JCM_REFUSED (%d)", rc, JCM_REFUSED);
  else if (!report)
    snprintf(why, sizeof why, "no report");
  else if (!json_is_false(json_object_get(report, "ok")))
    snprintf(why, sizeof why, "the report is not \"ok\": false");
  else if (problem_count(report) == 0)
    snprintf(why, sizeof why, "refused without naming a problem");
  else
    return NULL;
  return why;
}

/* Refused, and the first problem is check `check` at "journal entry seq". */
static const char *why_not_entry(int rc, json_t *report, const char *check, int64_t seq, const char *what_part) {
  if (why_not_refused(rc, report)) return why;
  char where[48];
  snprintf(where, sizeof where, "journal entry %lld", (long long)seq);
  json_t *p = problem_at(report, 0);
  if (strcmp(pstr(p, "where"), where) != 0 || strcmp(pstr(p, "check"), check) != 0)
    snprintf(why, sizeof why, "the first problem should be a \"%s\" problem at \"%s\"", check, where);
  else if (what_part && !strstr(pstr(p, "what"), what_part))
    snprintf(why, sizeof why, "the first problem should say \"%s\"", what_part);
  else
    return NULL;
  return why;
}

/* Refused, the first problem is a replay difference in a state table (not a
 * journal entry), and one is in `table` with what_part in its what. */
static const char *why_not_table(int rc, json_t *report, const char *table, const char *what_part) {
  if (why_not_refused(rc, report)) return why;
  json_t *p = problem_at(report, 0);
  if (strcmp(pstr(p, "check"), "replay") != 0 || strncmp(pstr(p, "where"), "journal", 7) == 0)
    snprintf(why, sizeof why, "the first problem should be a replay difference in a state table");
  else if (!has_problem(report, "replay", table, what_part))
    snprintf(why, sizeof why, "no replay problem at \"%s\" saying \"%s\"", table, what_part ? what_part : "");
  else
    return NULL;
  return why;
}

static void expect_entry(int rc, json_t *report, const char *check, int64_t seq, const char *what_part,
                         const char *label) {
  if (why_not_entry(rc, report, check, seq, what_part)) failf(report, "%s: %s", label, why);
}

static void expect_table(int rc, json_t *report, const char *table, const char *what_part, const char *label) {
  if (why_not_table(rc, report, table, what_part)) failf(report, "%s: %s", label, why);
}

/* ---- building the base store ---- */

static int64_t submit_ok(jcm *j, const jcm_actor *a, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int64_t submit_ok(jcm *j, const jcm_actor *a, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  if (t_submit(j, a, text, NULL, &r) != JCM_OK) failf(r, "refused: %s", text);
  int64_t seq = (int64_t)json_integer_value(json_object_get(r, "seq"));
  json_decref(r);
  return seq;
}

static void submit_refused(jcm *j, const jcm_actor *a, int want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void submit_refused(jcm *j, const jcm_actor *a, int want, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  int code = 0;
  int rc = t_submit(j, a, text, &code, &r);
  if (rc != JCM_REFUSED || code != want) failf(r, "expected refusal %d (got rc %d, code %d): %s", want, rc, code, text);
  json_decref(r);
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static int build_base(void **state) {
  (void)state;
  t_db_path(base_path, sizeof base_path, "journal-base");
  jcm *j = t_registry(base_path, &acc); /* entries 1-10 */
  const char *a1[] = {acc.gov, acc.hold_a, NULL};
  const int64_t q1[] = {1009, 1008}; /* gov 1-1009, hold_a 1010-2017 */
  if (t_issue(j, 2021, 2017, 2017, a1, q1) != JCM_OK) failf(NULL, "issue 2021");
  seq_transfer = submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":8}",
                           acc.hold_a, acc.hold_b);
  submit_ok(j, &ORG_A,
            "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":1010,\"last\":1019},"
            "{\"first\":1500,\"last\":1509}]}",
            acc.hold_a, acc.hold_b);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":100,\"key\":\"k-1\"}",
            acc.gov, acc.hold_a);
  submit_ok(j, &ORG_B,
            "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":1012,\"last\":1015,"
            "\"origin\":\"THA01\"}],\"quantity\":4}",
            acc.hold_b, acc.hold_a);
  submit_ok(j, &T_ADMIN,
            "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":950,\"last\":959}]}",
            acc.hold_a, acc.gov);
  const char *a2[] = {acc.gov, acc.hold_b, NULL};
  const int64_t q2[] = {300, 200}; /* gov 2018-2317, hold_b 2318-2517 */
  if (t_issue(j, 2022, 600, 500, a2, q2) != JCM_OK) failf(NULL, "issue 2022");
  submit_ok(
      j, &T_ADMIN,
      "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":50,\"project\":\"TH014\",\"vintage\":2022}",
      acc.hold_b, acc.hold_a);
  submit_ok(j, &ORG_A,
            "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"voluntary\",\"reason\":\"offset\",\"quantity\":25}",
            acc.hold_a);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"retire\",\"from\":\"%s\",\"reason\":\"NDC use\",\"quantity\":40}", acc.gov);
  seq_blocked = submit_ok(
      j, &T_ADMIN, "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"inquiry\"}",
      acc.hold_b);
  submit_refused(j, &T_ADMIN, C_SRC_NOT_OPEN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                 acc.hold_b, acc.hold_a);
  submit_refused(j, &T_ADMIN, C_DST_NOT_OPEN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                 acc.hold_a, acc.hold_b);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"open\",\"reason\":\"cleared\"}",
            acc.hold_b);
  submit_ok(j, &ORG_B,
            "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":2400,\"last\":2409},"
            "{\"first\":1016,\"last\":1019}]}",
            acc.hold_b, acc.hold_a);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", acc.hold_a, acc.hold_b);
  submit_ok(j, &T_ADMIN,
            "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"omge\",\"reason\":\"OMGE share\",\"to\":\"%s\","
            "\"ranges\":[{\"first\":2018,\"last\":2047}]}",
            acc.gov, acc.cancel);
  submit_ok(j, &ORG_A, "{\"cmd\":\"retire\",\"from\":\"%s\",\"ranges\":[{\"first\":1020,\"last\":1029}]}", acc.hold_a);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"org-c\",\"name\":\"Org C\",\"country\":\"JPN\"}");
  json_t *r = NULL;
  if (t_submit(j, &T_ADMIN, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-c\",\"name\":\"C\"}", NULL,
               &r) != JCM_OK)
    failf(r, "account.open org-c");
  snprintf(acc_c, sizeof acc_c, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "account")));
  json_decref(r);
  submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":77}", acc.hold_a, acc_c);
  int64_t last = submit_ok(j, &ORG_C, "{\"cmd\":\"retire\",\"from\":\"%s\",\"quantity\":7}", acc_c);
  jcm_close(j);

  /* The last close checkpoints the WAL: the database file alone is the store. */
  char wal[600];
  snprintf(wal, sizeof wal, "%s-wal", base_path);
  if (file_exists(wal)) failf(NULL, "%s is still there after the last close", wal);

  sqlite3 *db = NULL;
  if (sqlite3_open_v2(base_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) failf(NULL, "open %s", base_path);
  n_entries = t_query_int(db, "SELECT COUNT(*) FROM journal");
  if (n_entries != last || t_query_int(db, "SELECT MAX(seq) FROM journal") != last || n_entries < 30 ||
      n_entries > MAX_ENTRIES)
    failf(NULL, "the journal has %lld entries, the last command was entry %lld", (long long)n_entries, (long long)last);
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(db, "SELECT seq, cmd FROM journal ORDER BY seq", -1, &s, NULL);
  while (sqlite3_step(s) == SQLITE_ROW)
    snprintf(entry_cmd[sqlite3_column_int64(s, 0)], sizeof entry_cmd[0], "%s", sqlite3_column_text(s, 1));
  sqlite3_finalize(s);
  sqlite3_close(db);
  if (strcmp(entry_cmd[n_entries], "retire") != 0 || strcmp(entry_cmd[seq_blocked], "account.status") != 0)
    failf(NULL, "unexpected history");
  return 0;
}

/* ---- tampering with a copy ---- */

/* A fresh copy of the base store, opened with plain SQLite. */
static sqlite3 *tamper_open(void) {
  t_db_path(work_path, sizeof work_path, "journal-work");
  t_copy_file(base_path, work_path);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(work_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    failf(NULL, "open %s: %s", work_path, sqlite3_errmsg(db));
  sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL); /* a scratch copy: no need to wait for the disk */
  return db;
}

/* Runs SQL on the copy; it must change at least one row unless it is DDL
 * (DROP, ALTER). */
static void tamper_sql(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tamper_sql(sqlite3 *db, const char *fmt, ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  int before = sqlite3_total_changes(db);
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) failf(NULL, "tampering failed: %s: %s", sql, err);
  if (sqlite3_total_changes(db) == before && strncmp(sql, "DROP", 4) != 0 && strncmp(sql, "ALTER", 5) != 0)
    failf(NULL, "tampering changed nothing: %s", sql);
}

/* Flips the bits of mask in byte pos of a blob column of one entry. */
static void flip_blob(sqlite3 *db, const char *column, int64_t seq, size_t pos, unsigned char mask) {
  unsigned char *b;
  size_t n;
  t_read_blob(db, column, seq, &b, &n);
  if (pos >= n) failf(NULL, "entry %lld: %s has %zu bytes", (long long)seq, column, n);
  b[pos] ^= mask;
  t_write_blob(db, column, seq, b, n);
  free(b);
}

/* Closes the tampering connection (checkpointing it) and verifies the copy.
 * When the store cannot even be opened, returns JCM_ERROR and *err says why. */
static int tamper_verify(sqlite3 *db, json_t **report, char *err, size_t errlen) {
  if (sqlite3_close(db) != SQLITE_OK) failf(NULL, "close %s", work_path);
  jcm *j = NULL;
  *report = NULL;
  err[0] = 0;
  if (jcm_open(work_path, NULL, &j, err, errlen) != JCM_OK) return JCM_ERROR;
  int rc = jcm_verify(j, report);
  jcm_close(j);
  return rc;
}

static int verify_after(sqlite3 *db, json_t **report) {
  char err[256];
  int rc = tamper_verify(db, report, err, sizeof err);
  if (rc == JCM_ERROR && !*report) failf(NULL, "the tampered store could not be opened: %s", err);
  return rc;
}

/* ---- the untouched store ---- */

static void untouched_store_verifies(void **state) {
  (void)state;
  json_t *report = NULL;
  /* The store itself, then a copy that went through the tampering path
   * without a change: the harness alone must not make verify fail. */
  for (int pass = 0; pass < 2; pass++) {
    int rc;
    if (pass == 0) {
      jcm *j = t_open(base_path);
      rc = jcm_verify(j, &report);
      jcm_close(j);
    } else {
      rc = verify_after(tamper_open(), &report);
    }
    if (rc != JCM_OK) failf(report, "pass %d: the untouched store does not verify", pass);
    if (!json_is_true(json_object_get(report, "ok")) || !json_is_array(json_object_get(report, "problems")) ||
        problem_count(report) != 0)
      failf(report, "pass %d: the report of the untouched store is not ok with \"problems\": []", pass);
    if (json_integer_value(json_object_get(report, "events")) != n_entries)
      failf(report, "pass %d: \"events\" should be %lld", pass, (long long)n_entries);
    json_decref(report);
  }
  /* "head" is the last entry's stored hash. */
  sqlite3 *db = tamper_open();
  unsigned char *h;
  size_t n;
  t_read_blob(db, "hash", n_entries, &h, &n);
  char hex[2 * HASH_LEN + 1];
  for (size_t i = 0; i < HASH_LEN && i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", h[i]);
  free(h);
  int rc = verify_after(db, &report);
  if (rc != JCM_OK || strcmp(json_string_value(json_object_get(report, "head")), hex) != 0)
    failf(report, "\"head\" should be %s", hex);
  json_decref(report);
}

/* ---- the journal ---- */

static void every_entry_byte_flip_is_named(void **state) {
  (void)state;
  for (int64_t seq = 1; seq <= n_entries; seq++) {
    unsigned char *b;
    size_t len;
    sqlite3 *db = tamper_open();
    t_read_blob(db, "bytes", seq, &b, &len);
    free(b);
    sqlite3_close(db);
    /* the first byte, a byte inside, the last byte; a different bit each time */
    size_t positions[] = {0, len / 2, len * 2 / 3, len - 1};
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
      unsigned char mask = (unsigned char)(1u << ((size_t)seq + k) % 7);
      db = tamper_open();
      flip_blob(db, "bytes", seq, positions[k], mask);
      json_t *report = NULL;
      int rc = verify_after(db, &report);
      char label[160];
      snprintf(label, sizeof label, "entry %lld (%s): byte %zu of %zu of its bytes xor 0x%02x", (long long)seq,
               entry_cmd[seq], positions[k], len, mask);
      expect_entry(rc, report, "chain", seq, NULL, label);
      json_decref(report);
    }
  }
}

static void every_entry_column_change_is_named(void **state) {
  (void)state;
  static const struct {
    const char *name, *sql; /* sql: one %lld for the seq */
  } edits[] = {
      {"time", "UPDATE journal SET time = '1999' || substr(time, 5) WHERE seq = %lld"},
      {"actor", "UPDATE journal SET actor = 'mallory' WHERE seq = %lld"},
      {"role", "UPDATE journal SET role = CASE role WHEN 'admin' THEN 'jc_secretariat' ELSE 'admin' END"
               " WHERE seq = %lld"},
      {"cmd", "UPDATE journal SET cmd = CASE cmd WHEN 'transfer' THEN 'retire' ELSE 'transfer' END WHERE seq = %lld"},
  };
  for (int64_t seq = 1; seq <= n_entries; seq++) {
    char label[160];
    json_t *report = NULL;
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
      sqlite3 *db = tamper_open();
      tamper_sql(db, edits[e].sql, (long long)seq);
      int rc = verify_after(db, &report);
      snprintf(label, sizeof label, "entry %lld (%s): its %s column changed, bytes untouched", (long long)seq,
               entry_cmd[seq], edits[e].name);
      expect_entry(rc, report, "chain", seq, "columns disagree", label);
      json_decref(report);
    }
    static const char *const blobs[] = {"hash", "prev_hash"};
    for (size_t e = 0; e < 2; e++) {
      sqlite3 *db = tamper_open();
      flip_blob(db, blobs[e], seq, (size_t)seq % HASH_LEN, 0x80);
      int rc = verify_after(db, &report);
      snprintf(label, sizeof label, "entry %lld (%s): a bit of its %s flipped", (long long)seq, entry_cmd[seq],
               blobs[e]);
      expect_entry(rc, report, "chain", seq, NULL, label);
      json_decref(report);
    }
    /* a hash of the wrong length */
    sqlite3 *db = tamper_open();
    tamper_sql(db, "UPDATE journal SET hash = substr(hash, 1, 31) WHERE seq = %lld", (long long)seq);
    int rc = verify_after(db, &report);
    snprintf(label, sizeof label, "entry %lld (%s): its hash cut to 31 bytes", (long long)seq, entry_cmd[seq]);
    expect_entry(rc, report, "chain", seq, NULL, label);
    json_decref(report);
  }
}

static void deleted_entries_are_named(void **state) {
  (void)state;
  for (int64_t seq = 1; seq <= n_entries; seq++) {
    sqlite3 *db = tamper_open();
    tamper_sql(db, "DELETE FROM journal WHERE seq = %lld", (long long)seq);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    char label[160], what[64];
    snprintf(label, sizeof label, "entry %lld (%s) deleted", (long long)seq, entry_cmd[seq]);
    if (seq < n_entries) {
      /* the gap is found where the next entry stands */
      snprintf(what, sizeof what, "expected entry %lld here", (long long)seq);
      expect_entry(rc, report, "chain", seq + 1, what, label);
    } else {
      /* A shorter chain is consistent; its replay lacks the last retirement,
       * which the state tables still hold. */
      expect_table(rc, report, "block", "row ", label);
      static const char *const touched[] = {"counter", "tx", "movement"};
      for (size_t i = 0; i < 3; i++)
        if (!has_problem(report, "replay", touched[i], "row "))
          failf(report, "%s: table %s should differ from the replay", label, touched[i]);
      if (json_integer_value(json_object_get(report, "events")) != n_entries - 1)
        failf(report, "%s: \"events\" should be %lld", label, (long long)(n_entries - 1));
    }
    json_decref(report);
  }
  /* The last two, and the whole journal. */
  sqlite3 *db = tamper_open();
  tamper_sql(db, "DELETE FROM journal WHERE seq >= %lld", (long long)(n_entries - 1));
  json_t *report = NULL;
  int rc = verify_after(db, &report);
  expect_table(rc, report, "block", "row ", "the last two entries deleted");
  json_decref(report);
  db = tamper_open();
  tamper_sql(db, "DELETE FROM journal");
  rc = verify_after(db, &report);
  expect_table(rc, report, "registry", "in the store but not produced by the journal", "every entry deleted");
  if (!has_problem(report, "replay", "account", NULL) || !has_problem(report, "replay", "block", NULL))
    failf(report, "every entry deleted: accounts and blocks should differ from the (empty) replay");
  json_decref(report);
}

static void swap_seqs(sqlite3 *db, int64_t a, int64_t b) {
  tamper_sql(db, "UPDATE journal SET seq = -1 WHERE seq = %lld", (long long)a);
  tamper_sql(db, "UPDATE journal SET seq = %lld WHERE seq = %lld", (long long)a, (long long)b);
  tamper_sql(db, "UPDATE journal SET seq = %lld WHERE seq = -1", (long long)b);
}

static void reordered_entries_are_named(void **state) {
  (void)state;
  int64_t pairs[MAX_ENTRIES + 8][2];
  size_t n = 0;
  for (int64_t a = 1; a < n_entries; a++) {
    pairs[n][0] = a;
    pairs[n++][1] = a + 1;
  }
  const int64_t far[][2] = {{1, n_entries}, {5, 20}, {seq_transfer, seq_blocked}, {2, n_entries - 1}};
  for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
    pairs[n][0] = far[i][0];
    pairs[n++][1] = far[i][1];
  }
  for (size_t i = 0; i < n; i++) {
    int64_t a = pairs[i][0], b = pairs[i][1];
    sqlite3 *db = tamper_open();
    swap_seqs(db, a, b);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    char label[160];
    snprintf(label, sizeof label, "entries %lld (%s) and %lld (%s) swapped", (long long)a, entry_cmd[a], (long long)b,
             entry_cmd[b]);
    expect_entry(rc, report, "chain", a, NULL, label);
    json_decref(report);
  }
}

/* An entry appended after the last, correctly chained, that blocks hold_a:
 * the chain holds, but the replay has hold_a blocked and the store has not. */
static void forged_entries_are_caught(void **state) {
  (void)state;
  for (int good_hash = 0; good_hash < 2; good_hash++) {
    sqlite3 *db = tamper_open();
    unsigned char *prev;
    size_t n;
    t_read_blob(db, "hash", n_entries, &prev, &n);
    int64_t seq = n_entries + 1;
    json_t *ev = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:{s:s},s:s,s:I,s:s}", "actor", "test-admin", "args", "account",
                           acc.hold_a, "reason", "forged", "status", "blocked", "cmd", "account.status", "out", "from",
                           "open", "role", "admin", "seq", (json_int_t)seq, "time", "2099-01-01T00:00:00.000Z");
    char *bytes = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ev);
    unsigned char h[HASH_LEN];
    t_event_hash(prev, bytes, strlen(bytes), h);
    if (!good_hash) h[0] ^= 1;
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db,
                       "INSERT INTO journal(seq, time, actor, role, cmd, bytes, prev_hash, hash)"
                       " VALUES (?, '2099-01-01T00:00:00.000Z', 'test-admin', 'admin', 'account.status', ?, ?, ?)",
                       -1, &s, NULL);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_blob(s, 2, bytes, (int)strlen(bytes), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, prev, HASH_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 4, h, HASH_LEN, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) failf(NULL, "insert forged entry: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    free(bytes);
    free(prev);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    if (!good_hash) {
      expect_entry(rc, report, "chain", seq, "do not hash", "an appended entry with a wrong hash");
    } else {
      expect_table(rc, report, "account", "column status", "an appended, correctly chained entry");
      if (!has_problem(report, "replay", "account_status", NULL))
        failf(report, "an appended, correctly chained entry: account_status should differ from the replay");
      if (json_integer_value(json_object_get(report, "events")) != seq)
        failf(report, "an appended entry: \"events\" should be %lld", (long long)seq);
    }
    json_decref(report);
  }
}

/* Rewrites one entry's content and re-links the chain after it: the chain
 * holds, the replay differs from the state the original entry produced. */
static void rewritten_history_is_caught(void **state) {
  (void)state;
  static const struct {
    const char *label, *table, *what;
  } cases[] = {
      {"the reason of a block rewritten, chain re-linked", "account_status", "column reason"},
      {"the destination of a transfer rewritten, chain re-linked", "block", "column account"},
      /* the source did not hold them: the replay refuses at the entry */
      {"the serials of a transfer rewritten to another account's, chain re-linked", NULL, "holds 0 of the 8 units"},
      /* a replay runs no checks, but its args are validated again as when submitted */
      {"the source of a transfer removed, chain re-linked", NULL, "would have been refused: from is required"},
      /* verify's replay keeps movements in memory (lib/capture.c) and
       * refuses a second row of one account at one entry, as the table's
       * key would */
      {"the destination of a transfer set to its source, chain re-linked", NULL, "UNIQUE constraint failed"},
      /* a second transaction of one id, as the tx table's key refuses */
      {"the transaction id of a transfer set to the issuance's, chain re-linked", NULL, "UNIQUE constraint failed"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t seq = c == 0 ? seq_blocked : seq_transfer;
    sqlite3 *db = tamper_open();
    json_t *ev = t_read_event(db, seq);
    if (c == 0) {
      json_object_set_new(json_object_get(ev, "args"), "reason", json_string("routine check"));
    } else if (c == 1) {
      json_object_set_new(json_object_get(ev, "args"), "to", json_string(acc.gov));
      json_object_set_new(json_object_get(ev, "out"), "to", json_string(acc.gov));
    } else if (c == 3) {
      json_object_del(json_object_get(ev, "args"), "from");
    } else if (c == 5) {
      char first_tx[64];
      t_query_text(base_path, "SELECT id FROM tx ORDER BY seq LIMIT 1", first_tx, sizeof first_tx);
      json_object_set_new(json_object_get(ev, "out"), "tx", json_string(first_tx));
    } else if (c == 4) {
      const char *from = json_string_value(json_object_get(json_object_get(ev, "args"), "from"));
      json_t *to = json_string(from ? from : "");
      json_object_set(json_object_get(ev, "args"), "to", to);
      json_object_set(json_object_get(ev, "out"), "to", to);
      json_decref(to);
    } else { /* gov holds serials 1-1009, the source hold_a 1010-2017 */
      json_t *range = json_array_get(json_object_get(json_object_get(ev, "out"), "ranges"), 0);
      json_object_set_new(range, "first", json_integer(1));
      json_object_set_new(range, "last", json_integer(8));
    }
    t_write_event(db, seq, ev);
    json_decref(ev);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    if (cases[c].table)
      expect_table(rc, report, cases[c].table, cases[c].what, cases[c].label);
    else
      expect_entry(rc, report, "replay", seq, cases[c].what, cases[c].label);
    if (json_integer_value(json_object_get(report, "events")) != n_entries)
      failf(report, "%s: the re-linked chain should verify through all %lld entries", cases[c].label,
            (long long)n_entries);
    json_decref(report);
  }
}

/* Replay runs no checks, only each command's apply, on whatever a re-linked
 * forged entry says. tests/forge_check.c forges every value of every entry
 * in turn (removed, of another type, empty, out of range, overlong, inside
 * ranges and arrays too): verify must run to its end every time (the
 * sanitizer build also catches reads of what is not there). */
static void every_forged_value_replays_safely(void **state) {
  (void)state;
  assert_int_equal(t_forge_check("journal-base"), 0);
}

/* A rewritten entry whose actor's role may not run its command: replay
 * re-checks the roles, so the forged history does not verify. */
static void forged_role_is_caught(void **state) {
  (void)state;
  sqlite3 *db = tamper_open();
  json_t *ev = t_read_event(db, seq_transfer);
  json_object_set_new(ev, "actor", json_string("mallory"));
  json_object_set_new(ev, "role", json_string("auditor"));
  t_write_event(db, seq_transfer, ev);
  json_decref(ev);
  json_t *report = NULL;
  int rc = verify_after(db, &report);
  expect_entry(rc, report, "replay", seq_transfer, "may not", "an auditor's forged transfer");
  json_decref(report);
}

/* A re-linked entry whose time goes back before the entry's before it, or is
 * not a journal time at all: the AEF's year-end cutoffs rely on time order,
 * so verify refuses both at that entry. */
static void forged_time_is_caught(void **state) {
  (void)state;
  static const struct {
    const char *time, *what;
  } cases[] = {
      {"2000-01-01T00:00:00.000Z", "journal times never go backwards"},
      {"yesterday", "is not of the form"},
      {"2999-01-01T00:00:00.000", "is not of the form"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sqlite3 *db = tamper_open();
    json_t *ev = t_read_event(db, seq_transfer);
    json_object_set_new(ev, "time", json_string(cases[k].time));
    t_write_event(db, seq_transfer, ev);
    json_decref(ev);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    expect_entry(rc, report, "chain", seq_transfer, cases[k].what, cases[k].time);
    json_decref(report);
  }
}

/* A handle whose clock is behind the journal's last entry (another process
 * ahead of it, or the clock stepped back) writes that entry's time again,
 * never an earlier one, and the store verifies. */
static int64_t clock_ms;
static int64_t test_clock(void *ud) {
  (void)ud;
  return clock_ms;
}

static void clock_behind_the_journal_keeps_time_order(void **state) {
  (void)state;
  char path[512];
  t_db_path(path, sizeof path, "journal-clock");
  t_copy_file(base_path, path);
  jcm_options opt = {.clock = test_clock};
  char err[256], ahead[32], behind[32];
  static const char *const times[] = {"2031-06-01T12:00:00.000Z", "2031-06-01T12:00:00.000Z",
                                      "2031-06-01T12:00:00.001Z"};
  const int64_t clocks[] = {1938081600000LL, 1938081600000LL - 86400000LL * 365, 1938081600001LL};
  for (int k = 0; k < 3; k++) {
    clock_ms = clocks[k];
    jcm *j = NULL;
    assert_int_equal(jcm_open(path, &opt, &j, err, sizeof err), JCM_OK);
    int64_t seq = submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                            acc.hold_b, acc.hold_a);
    jcm_close(j);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    unsigned char *t;
    size_t n;
    t_read_blob(db, "time", seq, &t, &n);
    sqlite3_close(db);
    snprintf(k == 1 ? behind : ahead, 32, "%s", (const char *)t);
    free(t);
    if (strcmp(k == 1 ? behind : ahead, times[k]) != 0)
      failf(NULL, "entry %lld: time %s, want %s", (long long)seq, k == 1 ? behind : ahead, times[k]);
  }
  jcm *j = t_open(path);
  json_t *report = NULL;
  if (jcm_verify(j, &report) != JCM_OK) failf(report, "the store with a clock behind should verify");
  json_decref(report);
  jcm_close(j);
}

/* ---- the state behind the journal's back ---- */

/* Misses are collected so that one run reports every one of them. */
typedef struct {
  json_t *list;
  char names[2048];
} misses;

static void miss(misses *m, const char *label, const char *reason, json_t *report) {
  size_t used = strlen(m->names);
  snprintf(m->names + used, sizeof m->names - used, "%s%s", used ? "; " : "", label);
  if (!m->list) m->list = json_array();
  json_array_append_new(m->list, json_pack("{s:s,s:s,s:O?}", "tampering", label, "why", reason, "report", report));
}

static void fail_on_misses(misses *m, const char *what) {
  if (!m->names[0]) return;
  char msg[2600];
  snprintf(msg, sizeof msg, "%s: %s", what, m->names);
  print_failure(m->list, msg);
  json_decref(m->list);
  fail();
}

/* Expands $BLOCK (the condition naming hold_a's first block), $A (hold_a)
 * and $B (hold_b) in a template of SQL. */
static void subst(char *out, size_t n, const char *tmpl, const char *block) {
  static const char *const names[] = {"$BLOCK", "$A", "$B"};
  const char *values[] = {block, acc.hold_a, acc.hold_b};
  size_t used = 0;
  out[0] = 0;
  while (*tmpl && used + 1 < n) {
    size_t k = 0;
    while (k < 3 && strncmp(tmpl, names[k], strlen(names[k])) != 0)
      k++;
    if (k < 3) {
      snprintf(out + used, n - used, "%s", values[k]);
      tmpl += strlen(names[k]);
    } else {
      out[used] = *tmpl++;
      out[used + 1] = 0;
    }
    used = strlen(out);
  }
}

/* State changed behind the journal's back: the replay comparison names the
 * table (and the invariants that break, where one does). */
static void state_tampering_is_named(void **state) {
  (void)state;
  char a_block[200];
  snprintf(a_block, sizeof a_block,
           "(origin, first) = (SELECT origin, first FROM block WHERE account = '%s' ORDER BY first LIMIT 1)",
           acc.hold_a);
  static const struct {
    const char *label, *table, *what, *invariant[2];
    const char *sql; /* $BLOCK: the first block of hold_a, $A: hold_a, $B: hold_b */
  } cases[] = {
      {"a block moved to another account",
       "block",
       "column account",
       {"holdings agree with movements", NULL},
       "UPDATE block SET account = '$B' WHERE $BLOCK"},
      {"a block's last serial lowered",
       "block",
       "column last",
       {"conservation", NULL},
       "UPDATE block SET last = last - 1 WHERE $BLOCK"},
      {"a block's last serial raised over the next block",
       "block",
       "column last",
       {"conservation", "no overlap"},
       "UPDATE block SET last = last + 1 WHERE $BLOCK"},
      {"a block deleted",
       "block",
       NULL,
       {"conservation", "holdings agree with movements"},
       "DELETE FROM block WHERE $BLOCK"},
      {"an extra block inserted",
       "block",
       "in the store but not produced by the journal",
       {"conservation", "holdings agree with movements"},
       "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type, account)"
       " SELECT origin, 900000, 900009, issuance, project, vintage, unit_type, account FROM block WHERE $BLOCK"},
      {"a block reserved by an unknown transaction",
       "block",
       "column reserved_tx",
       {"one state", NULL},
       "UPDATE block SET reserved_tx = 'THA01-T-999999' WHERE $BLOCK"},
      {"an account blocked",
       "account",
       "column status",
       {NULL, NULL},
       "UPDATE account SET status = 'blocked' WHERE id = '$A'"},
      {"an account's status history deleted",
       "account_status",
       NULL,
       {NULL, NULL},
       "DELETE FROM account_status WHERE account = '$B' AND status = 'blocked'"},
      {"the tx counter raised",
       "counter",
       "column value",
       {NULL, NULL},
       "UPDATE counter SET value = value + 1 WHERE name = 'tx'"},
      {"the serial counter lowered",
       "counter",
       "column value",
       {NULL, NULL},
       "UPDATE counter SET value = value - 100 WHERE name = 'serial'"},
      {"a transaction's quantity changed",
       "tx",
       "column quantity",
       {NULL, NULL},
       "UPDATE tx SET quantity = quantity + 1 WHERE id = (SELECT id FROM tx WHERE type = 'transfer' LIMIT 1)"},
      /* NULLs, types, order, missing and extra rows of transactions */
      {"a transaction's reason set where it had none",
       "tx",
       "column reason is 'x' in the store, 'NULL'",
       {NULL, NULL},
       "UPDATE tx SET reason = 'x' WHERE id = (SELECT id FROM tx WHERE type = 'transfer' LIMIT 1)"},
      {"a transfer's source set to NULL",
       "tx",
       "column from_account is 'NULL'",
       {NULL, NULL},
       "UPDATE tx SET from_account = NULL WHERE id = (SELECT id FROM tx WHERE type = 'transfer' LIMIT 1)"},
      {"a transaction's quantity stored as text",
       "tx",
       "column quantity",
       {NULL, NULL},
       "UPDATE tx SET quantity = quantity || ' t' WHERE id = (SELECT id FROM tx WHERE type = 'transfer' LIMIT "
       "1)"},
      {"a transaction's type stored as a blob",
       "tx",
       "column type",
       {NULL, NULL},
       "UPDATE tx SET type = CAST(type AS BLOB) WHERE id = (SELECT id FROM tx WHERE type = 'transfer' LIMIT 1)"},
      {"a transaction deleted",
       "tx",
       "produced by the journal but missing from the store",
       {NULL, NULL},
       "DELETE FROM tx WHERE id = (SELECT max(id) FROM tx)"},
      {"a transaction added",
       "tx",
       "in the store but not produced by the journal",
       {NULL, NULL},
       "INSERT INTO tx(id, seq, type, status, quantity) VALUES ('THA01-T-999999', 1, 'transfer', 'completed', 1)"},
      {"a transaction's id changed",
       "tx",
       NULL,
       {NULL, NULL},
       "UPDATE tx SET id = id || 'x' WHERE id = (SELECT min(id) FROM tx)"},
      {"a movement deleted",
       "movement",
       NULL,
       {"holdings agree with movements", NULL},
       "DELETE FROM movement WHERE (account, seq) = (SELECT account, seq FROM movement WHERE account = '$A'"
       " ORDER BY seq DESC LIMIT 1)"},
      /* verify's replay keeps movements in memory (lib/capture.c): each
       * column still compares by type and bytes */
      {"a movement's ranges changed",
       "movement",
       "column ranges",
       {NULL, NULL},
       "UPDATE movement SET ranges = replace(ranges, '\"first\":', '\"first\": ') WHERE (account, seq) = (SELECT"
       " account, seq FROM movement WHERE account = '$A' ORDER BY seq DESC LIMIT 1)"},
      {"a movement's transaction set to a blob of itself",
       "movement",
       "column tx",
       {NULL, NULL},
       "UPDATE movement SET tx = CAST(tx AS BLOB) WHERE (account, seq) = (SELECT account, seq FROM movement"
       " WHERE account = '$A' ORDER BY seq DESC LIMIT 1)"},
      {"a movement's direction reversed",
       "movement",
       "column dir",
       {"holdings agree with movements", NULL},
       "UPDATE movement SET dir = -dir WHERE (account, seq) = (SELECT account, seq FROM movement"
       " WHERE account = '$A' ORDER BY seq DESC LIMIT 1)"},
      {"an extra movement inserted",
       "movement",
       NULL, /* the rows after it are compared one place off: the first difference is named */
       {"holdings agree with movements", NULL},
       "INSERT INTO movement(account, seq, dir, tx, quantity, ranges) SELECT '$B', seq, dir, tx, quantity, ranges"
       " FROM movement WHERE account = '$A' AND seq NOT IN (SELECT seq FROM movement WHERE account = '$B')"
       " ORDER BY seq DESC LIMIT 1"},
      {"an issuance's total changed",
       "issuance",
       "column total",
       {"conservation", NULL},
       "UPDATE issuance SET total = total + 1 WHERE id = (SELECT MIN(id) FROM issuance)"},
      {"a period's status changed",
       "period",
       "column status",
       {"issued once", NULL},
       "UPDATE period SET status = 'verified' WHERE status = 'issued' AND first_day = '2021-01-01'"},
      {"an allocation deleted", "allocation", "row ", {NULL, NULL}, "DELETE FROM allocation WHERE account = '$B'"},
      {"an idempotency key's seq changed",
       "idem",
       "column seq",
       {NULL, NULL},
       "UPDATE idem SET seq = seq + 1 WHERE key = 'k-1'"},
      {"an idempotency key deleted",
       "idem",
       "produced by the journal but missing from the store",
       {NULL, NULL},
       "DELETE FROM idem WHERE key = 'k-1'"},
      {"an account's name set to an invalid UTF-8 byte",
       "account",
       NULL,
       {NULL, NULL},
       "UPDATE account SET name = CAST(x'ff' AS TEXT) WHERE id = '$A'"},
      {"an account's status set to 'open' and an invalid UTF-8 byte",
       "account",
       NULL,
       {NULL, NULL},
       "UPDATE account SET status = CAST(x'6f70656eff' AS TEXT) WHERE id = '$B'"},
      {"a block's account set to its id and an invalid UTF-8 byte",
       "block",
       NULL,
       {"one state", NULL},
       "UPDATE block SET account = account || CAST(x'ff' AS TEXT) WHERE $BLOCK"},
      /* the invariants compare whole values, as SQL does: not up to a NUL,
       * and a blob never equals a text */
      {"a block's account set to its id, a NUL and more",
       "block",
       "column account",
       {"one state", "holdings agree with movements"},
       "UPDATE block SET account = account || CAST(x'0078' AS TEXT) WHERE $BLOCK"},
      {"a block's account set to its id as a blob",
       "block",
       "column account",
       {"one state", "holdings agree with movements"},
       "UPDATE block SET account = CAST(account AS BLOB) WHERE $BLOCK"},
      {"a block's issuance set to its id and a NUL",
       "block",
       "column issuance",
       {"conservation", NULL},
       "UPDATE block SET issuance = issuance || CAST(x'00' AS TEXT) WHERE $BLOCK"},
      {"a block's last serial set to 2^63-1",
       "block",
       "column last",
       {"conservation", "no overlap"},
       "UPDATE block SET last = 9223372036854775807 WHERE $BLOCK"},
      {"a block's first serial set to -2^63",
       "block",
       "column first",
       {"conservation", "no overlap"},
       "UPDATE block SET first = -9223372036854775807 - 1 WHERE $BLOCK"},
      /* a value read as another type is converted in place: the rows are
       * compared before the invariants read them */
      {"every block's origin set to a blob of itself",
       "block",
       "column origin",
       {NULL, NULL},
       "UPDATE block SET origin = CAST(origin AS BLOB)"},
      /* the columns themselves: a table compares only where both have one */
      {"a column dropped from tx", "tx", "columns differ", {NULL, NULL}, "ALTER TABLE tx DROP COLUMN idem_key"},
      {"a column added to block", "block", "columns differ", {NULL, NULL}, "ALTER TABLE block ADD COLUMN extra TEXT"},
      /* an issuance whose id is not text joins no block: its total must be
       * 0 (its blocks deleted too, so that no orphan block tells instead) */
      {"an issuance's id set to NULL and its blocks deleted",
       "issuance",
       NULL,
       {"conservation", NULL},
       "DELETE FROM block WHERE issuance = (SELECT MIN(id) FROM issuance);"
       " UPDATE issuance SET id = NULL WHERE id = (SELECT MIN(id) FROM issuance)"},
      {"a column added to movement",
       "movement",
       "columns differ",
       {NULL, NULL},
       "ALTER TABLE movement ADD COLUMN extra TEXT"},
      {"an issuance's total column renamed",
       "issuance",
       "columns differ",
       {"conservation", NULL},
       "ALTER TABLE issuance RENAME COLUMN total TO t2"},
      {"a movement's quantity set to 2^63-1",
       "movement",
       "column quantity",
       {"holdings agree with movements", NULL},
       "UPDATE movement SET quantity = 9223372036854775807 WHERE (account, seq) = (SELECT account, seq FROM movement"
       " WHERE account = '$A' ORDER BY seq DESC LIMIT 1)"},
  };
  misses m = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sqlite3 *db = tamper_open();
    char sql[1024];
    subst(sql, sizeof sql, cases[i].sql, a_block);
    tamper_sql(db, "%s", sql);
    json_t *report = NULL;
    int rc = verify_after(db, &report);
    const char *w = why_not_table(rc, report, cases[i].table, cases[i].what);
    for (size_t v = 0; !w && v < 2; v++)
      if (cases[i].invariant[v] && !has_problem(report, "invariant", cases[i].invariant[v], NULL)) {
        snprintf(why, sizeof why, "the invariant \"%s\" is not reported broken", cases[i].invariant[v]);
        w = why;
      }
    if (!w && json_integer_value(json_object_get(report, "events")) != n_entries) {
      snprintf(why, sizeof why, "the journal is intact: \"events\" should be %lld", (long long)n_entries);
      w = why;
    }
    if (w) {
      char label[1200];
      snprintf(label, sizeof label, "%s [%s]", cases[i].label, sql);
      miss(&m, label, w, report);
    }
    json_decref(report);
  }
  fail_on_misses(&m, "state tampering that verify misses or misnames");
}

/* A state table dropped from the store: verify must refuse and name it (or
 * the store must refuse to open). */
static void dropped_state_table_is_named(void **state) {
  (void)state;
  static const char *const tables[] = {
      "meta",   "counter",  "idem",           "party",       "registry", "coop",        "coop_party",
      "org",    "account",  "account_status", "methodology", "project",  "participant", "project_step",
      "period", "decision", "issuance",       "allocation",  "block",    "tx",          "movement"};
  misses m = {0};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    sqlite3 *db = tamper_open();
    tamper_sql(db, "DROP TABLE %s", tables[i]);
    json_t *report = NULL;
    char err[256];
    int rc = tamper_verify(db, &report, err, sizeof err);
    if (rc == JCM_ERROR && !report) continue; /* the store does not open: nothing is certified */
    int named = 0;
    size_t p;
    json_t *pr;
    json_array_foreach(json_object_get(report, "problems"), p, pr) {
      if (strcmp(pstr(pr, "where"), tables[i]) == 0 || strstr(pstr(pr, "what"), tables[i])) named = 1;
    }
    if (rc != JCM_REFUSED || !named) {
      char label[96];
      snprintf(label, sizeof label, "DROP TABLE %s", tables[i]);
      snprintf(why, sizeof why, "verify returned %d and names no problem in %s", rc, tables[i]);
      miss(&m, label, why, report);
    }
    json_decref(report);
  }
  fail_on_misses(&m, "dropped state tables that verify does not report");
}

/* ---- refusals leave no trace ---- */

static void refused_then_accepted_verifies(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "journal-refusals");
  jcm *j = t_registry(path, &a);
  const char *accts[] = {a.gov, a.hold_a, NULL};
  const int64_t qty[] = {600, 400}; /* gov 1-600, hold_a 601-1000 */
  assert_int_equal(t_issue(j, 2021, 1000, 1000, accts, qty), JCM_OK);
  int64_t seq =
      submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", a.hold_a, a.hold_b);
  /* each refusal, then an accepted command that must take the very next seq */
  struct {
    const jcm_actor *actor;
    int code;
    const char *to, *units;
  } refusals[] = {
      {&T_ADMIN, C_INSUFFICIENT, a.hold_b, "\"quantity\":100000"},
      {&T_AUDITOR, C_ROLE, a.hold_b, "\"quantity\":1"},
      {&ORG_B, C_NOT_HOLDER, a.hold_b, "\"quantity\":1"},
      {&T_ADMIN, C_NOT_HELD, a.hold_b, "\"ranges\":[{\"first\":1,\"last\":2}]"},
      {&T_ADMIN, C_DST_SAME, a.hold_a, "\"quantity\":1"},
      {&T_ADMIN, C_DST_TYPE, a.cancel, "\"quantity\":1"},
      {&T_ADMIN, C_UNKNOWN_FIELD, a.hold_b, "\"quantity\":1,\"x\":1"},
  };
  for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
    submit_refused(j, refusals[i].actor, refusals[i].code, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",%s}",
                   a.hold_a, refusals[i].to, refusals[i].units);
    int64_t next =
        submit_ok(j, &ORG_A, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":2}", a.hold_a, a.hold_b);
    if (next != seq + 1)
      failf(NULL, "after refusal %zu the next entry is %lld, not %lld", i, (long long)next, (long long)(seq + 1));
    seq = next;
  }
  submit_refused(j, &T_ADMIN, C_MALFORMED, "%s", "{\"cmd\":\"transfer\",");
  submit_refused(j, &T_ADMIN, C_PERIOD_ISSUED,
                 "{\"cmd\":\"issue\",\"meeting\":7,\"date\":\"2025-10-30\",\"project\":\"TH014\","
                 "\"first_day\":\"2021-01-01\",\"last_day\":\"2021-12-31\",\"total\":1,"
                 "\"allocation\":[{\"account\":\"%s\",\"quantity\":1}]}",
                 a.gov);
  /* blocked: refused both ways, then unblocked */
  assert_int_equal(submit_ok(j, &T_ADMIN,
                             "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"r\"}",
                             a.hold_b),
                   ++seq);
  submit_refused(j, &T_ADMIN, C_SRC_NOT_OPEN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                 a.hold_b, a.hold_a);
  submit_refused(j, &T_ADMIN, C_DST_NOT_OPEN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                 a.hold_a, a.hold_b);
  submit_refused(j, &T_ADMIN, C_STATUS_CHANGE,
                 "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"again\"}",
                 a.hold_b);
  assert_int_equal(submit_ok(j, &T_ADMIN,
                             "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"open\",\"reason\":\"r\"}",
                             a.hold_b),
                   ++seq);
  /* an idempotent repeat answers from the journal and adds nothing; the same
   * key for another command is refused */
  const char *keyed = "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":3,\"key\":\"once\"}";
  char text[1024];
  /* (from a holding account: a government account's command would wait for
   * approval, and its repeat answer `awaiting approval`, tests/test_foureyes.c) */
  snprintf(text, sizeof text, keyed, a.hold_a, a.hold_b);
  assert_int_equal(submit_ok(j, &T_ADMIN, "%s", text), ++seq);
  assert_int_equal(submit_ok(j, &T_ADMIN, "%s", text), seq);
  submit_refused(j, &T_ADMIN, C_IDEM_CONFLICT,
                 "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":4,\"key\":\"once\"}", a.hold_a,
                 a.hold_b);
  /* inside a batch: a refusal by the checks leaves the batch going; each move from
   * the government account is two entries, the proposal and its approval */
  assert_int_equal(jcm_batch_begin(j), JCM_OK);
  assert_int_equal(
      submit_ok(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", a.gov, a.hold_a),
      seq += 2);
  submit_refused(j, &T_ADMIN, C_INSUFFICIENT,
                 "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":100000}", a.gov, a.hold_a);
  assert_int_equal(submit_ok(j, &T_ADMIN, "{\"cmd\":\"retire\",\"from\":\"%s\",\"quantity\":5}", a.gov), seq += 2);
  assert_int_equal(jcm_batch_commit(j), JCM_OK);
  submit_refused(j, &T_ADMIN, C_INSUFFICIENT, "{\"cmd\":\"retire\",\"from\":\"%s\",\"quantity\":100000}", a.hold_b);

  json_t *report = NULL;
  int rc = jcm_verify(j, &report);
  if (rc != JCM_OK || problem_count(report) != 0 || json_integer_value(json_object_get(report, "events")) != seq)
    failf(report, "after refusals the journal should verify with %lld events", (long long)seq);
  json_decref(report);
  jcm_close(j);
  /* and again from the closed file */
  j = t_open(path);
  rc = jcm_verify(j, &report);
  if (rc != JCM_OK || json_integer_value(json_object_get(report, "events")) != seq)
    failf(report, "reopened after refusals: the journal should verify with %lld events", (long long)seq);
  json_decref(report);
  jcm_close(j);
}

/* The event bytes are written without json_dumps (lib/util.c); they must be
 * json_dumps's bytes for every value, including those the writer hands back
 * to json_dumps (reals, non-ASCII and control characters, deep nesting). */
static void canonical_bytes_are_json_dumps(void **state) {
  (void)state;
  static const char *const texts[] = {
      "{}",
      "[]",
      "{\"b\":1,\"a\":[1,-2,0,10,-10,9223372036854775807,-9223372036854775808],\"c\":{\"z\":null,\"y\":true,\"x\":"
      "false}}",
      "{\"q\":\"a\\\"b\\\\c/d\",\"k\\\"\":\"\",\"ab\":1,\"a\":2,\"a b\":3,\"A\":4,\"~\":5}",
      "{\"n\":\"tab\\there\",\"u\":\"caf\\u00e9 \\u6771\\ud83d\\ude00\",\"d\":\"\\u007f\"}",
      "{\"r\":1.5,\"s\":[0.1,1e300,-0.0]}",
      "{\"\\u00e9\":1,\"e\":2}",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "{\"actor\":\"org-001\",\"args\":{\"from\":\"THA01-100-000004-52\",\"quantity\":7},\"cmd\":\"transfer\","
      "\"out\":{\"ranges\":[{\"first\":1,\"last\":7,\"origin\":\"THA01\"}]},\"seq\":3}",
      "\"a string\"",
      "42",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_error_t e;
    json_t *v = json_loads(texts[i], JSON_DECODE_ANY, &e);
    if (!v) fail_msg("test value %zu does not parse: %s", i, e.text);
    char *want = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    char *got = jcm__canonical(v);
    if (!want || !got || strcmp(want, got) != 0)
      fail_msg("value %zu: canonical bytes %s, json_dumps %s", i, got ? got : "NULL", want ? want : "NULL");
    free(want);
    free(got);
    json_decref(v);
  }
  /* a key with a NUL byte sorts by its length too */
  json_t *o = json_object();
  json_object_setn_new(o, "a\0b", 3, json_integer(1));
  json_object_set_new(o, "a", json_integer(2));
  char *want = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
  char *got = jcm__canonical(o);
  if (!want || !got || strcmp(want, got) != 0) fail_msg("NUL key: %s vs %s", got ? got : "NULL", want ? want : "NULL");
  free(want);
  free(got);
  json_decref(o);
}

/* ---- the canonical reader (lib/util.c) ----
 * What it accepts must be what json_loadb reads, to an equal value, or
 * verify would replay a different event than the one hashed. */

static uint32_t rng_state;
static uint32_t rnd(uint32_t n) { /* xorshift: the same values on every machine */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state % n;
}

/* A random value; plain: only what the writer's form holds (then the
 * reader must take it), else also reals, escapes, other bytes, big numbers. */
static json_t *random_value(int depth, int plain) {
  static const char *const keys[] = {"a", "b", "ab", "ba", "", "A", "~", "a b", "from", "to", "k\"", "\\", "\xc3\xa9"};
  static const char *const strs[] = {"", "x", "THA01", "a\"b", "c\\d", "tab\there", "caf\xc3\xa9", "\x7f", "/"};
  static const int64_t ints[] = {
      0, 1, -1, 9, 10, -10, 123456789012345678, -123456789012345678, 1234567890123456789, INT64_MAX, INT64_MIN};
  uint32_t kind = rnd(depth > 4 ? 5 : 7);
  switch (kind) {
  case 0: return json_integer(ints[rnd(plain ? 8 : 11)]);
  case 1: return json_string(strs[rnd(plain ? 5 : 9)]);
  case 2: return rnd(3) == 0 ? json_true() : rnd(2) ? json_false() : json_null();
  case 3: return plain ? json_integer((json_int_t)rnd(1000000)) : json_real(rnd(2) ? 1.5 : -0.0);
  case 4: return json_integer(-(json_int_t)rnd(1000));
  case 5: {
    json_t *a = json_array();
    for (uint32_t i = rnd(4); i > 0; i--)
      json_array_append_new(a, random_value(depth + 1, plain));
    return a;
  }
  default: {
    json_t *o = json_object();
    for (uint32_t i = rnd(5); i > 0; i--)
      json_object_set_new(o, keys[rnd(plain ? 10 : 13)], random_value(depth + 1, plain));
    return o;
  }
  }
}

/* Fails unless bytes read by the reader are json_loadb's value; returns
 * 1 when the reader took them. */
static int reader_agrees(const char *bytes, size_t n) {
  json_t *got = jcm__read_canonical_only(bytes, n);
  json_t *want = json_loadb(bytes, n, JSON_REJECT_DUPLICATES, NULL);
  json_t *either = jcm__read_canonical(bytes, n);
  if (got && (!want || !json_equal(got, want)))
    fail_msg("the reader took %.*s, which json_loadb reads %s", (int)n, bytes, want ? "otherwise" : "as no JSON");
  if ((either != NULL) != (want != NULL) || (want && !json_equal(either, want)))
    fail_msg("jcm__read_canonical disagrees with json_loadb on %.*s", (int)n, bytes);
  json_decref(got);
  json_decref(want);
  json_decref(either);
  return got != NULL;
}

/* The journal's hash (OpenSSL) is libsodium's SHA-256 of prev || bytes, for
 * lengths around SHA-256's 64-byte blocks and beyond a page. */
static void event_hash_is_sha256(void **state) {
  (void)state;
  rng_state = 88172645u;
  static unsigned char bytes[20000];
  for (size_t i = 0; i < sizeof bytes; i++)
    bytes[i] = (unsigned char)rnd(256);
  const size_t lengths[] = {0, 1, 31, 32, 55, 56, 63, 64, 65, 119, 120, 334, 4095, 4096, 4097, 20000};
  unsigned char prev[JCM_HASH_LEN] = {0}, got[JCM_HASH_LEN], want[JCM_HASH_LEN];
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    jcm__hash_event(prev, bytes, lengths[i], got);
    t_event_hash(prev, bytes, lengths[i], want);
    if (memcmp(got, want, JCM_HASH_LEN) != 0) fail_msg("the hash of %zu bytes differs from SHA-256", lengths[i]);
    memcpy(prev, got, JCM_HASH_LEN);
  }
  /* SHA-256("abc") with 32 zero bytes before it is not SHA-256("abc"): prev is hashed */
  unsigned char zero[JCM_HASH_LEN] = {0}, abc_only[JCM_HASH_LEN];
  jcm__hash_event(zero, "abc", 3, got);
  crypto_hash_sha256(abc_only, (const unsigned char *)"abc", 3);
  assert_memory_not_equal(got, abc_only, JCM_HASH_LEN);
}

static void canonical_reader_is_json_loadb(void **state) {
  (void)state;
  rng_state = 2463534242u;
  int taken = 0, altered_taken = 0, altered = 0;
  static const char subst[] = "\"\\,:{}[]0-1 .eatfn\x00\x80\x1f";
  for (int i = 0; i < 3000; i++) {
    json_t *o = json_object(); /* the outside is an object or an array */
    json_object_set_new(o, "v", random_value(0, i % 2));
    char *text = jcm__canonical(o);
    size_t n = strlen(text);
    int took = reader_agrees(text, n);
    if (i % 2 && !took) fail_msg("the reader gave up on the writer's form: %s", text);
    taken += took;
    for (int k = 0; k < 4; k++) { /* one byte changed, removed or doubled */
      char *t = malloc(n + 2);
      memcpy(t, text, n);
      size_t at = rnd((uint32_t)n), m = n;
      switch (rnd(3)) {
      case 0: t[at] = subst[rnd(sizeof subst - 1)]; break;
      case 1: memmove(t + at, t + at + 1, n - at - 1), m--; break;
      default: memmove(t + at + 1, t + at, n - at), m++; break;
      }
      altered++;
      altered_taken += reader_agrees(t, m);
      free(t);
    }
    free(text);
    json_decref(o);
  }
  /* the reader must have had work of both kinds for the test to say anything */
  if (taken < 1500 || altered_taken < altered / 10 || altered_taken == altered)
    fail_msg("took %d of 3000 values and %d of %d altered texts", taken, altered_taken, altered);
  static const char *const edges[] = {
      "{\"a\":1,\"a\":2}",
      "{\"b\":1,\"a\":2}",
      "{\"a\":-0}",
      "{\"a\":01}",
      "{\"a\":1.0}",
      "{\"a\":1e2}",
      "{\"a\":1234567890123456789}",
      "{\"a\":-9223372036854775808}",
      "{\"a\":123456789012345678}",
      "{} ",
      " {}",
      "{\"a\":\"\\u0041\"}",
      "{\"a\":\"\\/\"}",
      "{\"a\":\"\\\"\"}",
      "{\"a\\\"\":1}",
      "{\"a\":tru}",
      "{\"a\":nul}",
      "\"a\"",
      "1",
      "{\"a\":[1,]}",
      "{\"a\":1,}",
      "{,}",
      "[",
      "{\"a\"}",
      "{\"a\":}",
      "",
  };
  static const int fast[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
    if (reader_agrees(edges[i], strlen(edges[i])) != fast[i])
      fail_msg("the reader %s %s", fast[i] ? "gave up on" : "took", edges[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(untouched_store_verifies),
      cmocka_unit_test(every_entry_byte_flip_is_named),
      cmocka_unit_test(every_entry_column_change_is_named),
      cmocka_unit_test(deleted_entries_are_named),
      cmocka_unit_test(reordered_entries_are_named),
      cmocka_unit_test(forged_entries_are_caught),
      cmocka_unit_test(rewritten_history_is_caught),
      cmocka_unit_test(every_forged_value_replays_safely),
      cmocka_unit_test(forged_role_is_caught),
      cmocka_unit_test(forged_time_is_caught),
      cmocka_unit_test(clock_behind_the_journal_keeps_time_order),
      cmocka_unit_test(state_tampering_is_named),
      cmocka_unit_test(dropped_state_table_is_named),
      cmocka_unit_test(refused_then_accepted_verifies),
      cmocka_unit_test(canonical_bytes_are_json_dumps),
      cmocka_unit_test(canonical_reader_is_json_loadb),
      cmocka_unit_test(event_hash_is_sha256),
  };
  return cmocka_run_group_tests(tests, build_base, NULL);
}
