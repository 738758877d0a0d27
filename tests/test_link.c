/* Transfers between two registries, THA01 and JPN01, each its own store:
 * authorization, the signed proposal/accept/complete protocol delivered in
 * process, first transfer once per unit, use toward an NDC, and what
 * duplicated, reordered, forged, altered messages and crashes do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "checks.h"
#include "pair.h"

/* ---- refusals: the code, and both stores exactly as they were ---- */

static unsigned char triggered[10000];

static void note(int code) {
  if (code > 0 && code < 10000) triggered[code] = 1;
}

static void refuse(pair *p, jcm *j, const jcm_actor *a, int want, const char *fmt, ...) {
  char buf[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char *before_t = t_dump(p->tha_path), *before_j = t_dump(p->jpn_path);
  int code = 0;
  json_t *r = NULL;
  t_submit(j, a, buf, &code, &r);
  if (code != want) {
    char *s = json_dumps(r, 0);
    fail_msg("expected %d: %s -> %s", want, buf, s);
  }
  json_decref(r);
  note(code);
  char *after_t = t_dump(p->tha_path), *after_j = t_dump(p->jpn_path);
  assert_string_equal(before_t, after_t);
  assert_string_equal(before_j, after_j);
  free(before_t);
  free(before_j);
  free(after_t);
  free(after_j);
}

static const char *xfer_status(jcm *j, const char *tx, int *code) {
  static char status[32];
  json_t *rows = t_rows(j, "xfers", NULL, NULL);
  size_t i;
  json_t *r;
  status[0] = 0;
  json_array_foreach(rows, i, r) {
    if (strcmp(json_string_value(json_object_get(r, "id")), tx) == 0) {
      snprintf(status, sizeof status, "%s", json_string_value(json_object_get(r, "status")));
      note((int)json_integer_value(json_object_get(r, "code")));
      if (code) *code = (int)json_integer_value(json_object_get(r, "code"));
    }
  }
  json_decref(rows);
  return status;
}

/* Serials of origin THA01 held (account not null) in j, as a bit map. */
static void held_map(jcm *j, unsigned char *map, int64_t n) {
  json_t *rows = t_rows(j, "blocks", NULL, NULL);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (json_is_null(json_object_get(r, "account")) || !json_object_get(r, "account")) continue;
    if (strcmp(json_string_value(json_object_get(r, "origin")), "THA01") != 0) continue;
    for (json_int_t s = json_integer_value(json_object_get(r, "first"));
         s <= json_integer_value(json_object_get(r, "last")); s++)
      if (s >= 1 && s <= n) map[s - 1]++;
  }
  json_decref(rows);
}

/* DOMAIN.md §7.7: every unit issued is held in exactly one registry, read
 * twice: by a bit map of the blocks queries here, and by jcm_reconcile. */
static void each_unit_once(pair *p) {
  unsigned char map[2017] = {0};
  held_map(p->tha, map, 2017);
  held_map(p->jpn, map, 2017);
  for (int k = 0; k < 2017; k++)
    if (map[k] != 1) fail_msg("serial %d is held in %d registries", k + 1, map[k]);
  jcm *nodes[] = {p->tha, p->jpn};
  json_t *rep = NULL;
  int rc = jcm_reconcile(nodes, 2, &rep);
  if (rc != JCM_OK) {
    char *s = json_dumps(rep, 0);
    fail_msg("reconcile: %s", s);
  }
  assert_int_equal(json_integer_value(json_object_get(rep, "units_held")), 2017);
  json_decref(rep);
}

static void sql(const char *path, const char *stmt) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, stmt, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static const char *reconcile_problem(pair *p) {
  static char first[300];
  jcm *nodes[] = {p->tha, p->jpn};
  json_t *rep = NULL;
  assert_int_equal(jcm_reconcile(nodes, 2, &rep), JCM_REFUSED);
  snprintf(first, sizeof first, "%s", json_string_value(json_array_get(json_object_get(rep, "problems"), 0)));
  json_decref(rep);
  return first;
}

/* The account's statement closes at `closing`, its last entry of `type`. */
static void expect_statement(jcm *j, const char *account, int64_t closing, const char *type) {
  json_t *params = json_pack("{s:s}", "account", account), *r = NULL;
  jcm_check chk;
  assert_int_equal(jcm_query(j, "statement", params, &r, &chk), JCM_OK);
  assert_int_equal(json_integer_value(json_object_get(r, "closing")), closing);
  json_t *entries = json_object_get(r, "entries");
  json_t *last = json_array_get(entries, json_array_size(entries) - 1);
  assert_string_equal(json_string_value(json_object_get(last, "type")), type);
  json_decref(r);
  json_decref(params);
}

static char *propose(pair *p, const char *from, const char *to, int64_t quantity) {
  json_t *r = t_must(p->tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}",
                     from, to, (long long)quantity);
  char *tx = strdup(json_string_value(json_object_get(r, "tx")));
  json_decref(r);
  return tx;
}

/* A forged credit of a completed external transfer, chain re-linked, that
 * names no account: the replay refuses it at its entry (the movement row
 * needs its account), as it did before the movement rows of a move were
 * written together; a review found the row then skipped. */
static void test_forged_credit_without_account(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-forged-credit");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  free(propose(&p, p.acc.gov, p.jpn_gov, 10));
  pair_sync(&p);
  t_verify_ok(p.jpn);
  char seq_text[32];
  t_query_text(p.jpn_path,
               "SELECT seq FROM journal WHERE json_extract(CAST(bytes AS TEXT), '$.out.effect') = 'credited'", seq_text,
               sizeof seq_text);
  int64_t seq = strtoll(seq_text, NULL, 10);
  assert_true(seq > 0);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(p.jpn_path, &db), SQLITE_OK);
  json_t *ev = t_read_event(db, seq);
  assert_int_equal(json_object_del(json_object_get(ev, "out"), "to_account"), 0);
  t_write_event(db, seq, ev);
  json_decref(ev);
  sqlite3_close(db);
  json_t *report = NULL;
  assert_int_not_equal(jcm_verify(p.jpn, &report), JCM_OK);
  char where[48];
  snprintf(where, sizeof where, "journal entry %lld", (long long)seq);
  json_t *first = json_array_get(json_object_get(report, "problems"), 0);
  const char *what = json_string_value(json_object_get(first, "what"));
  if (!first || strcmp(json_string_value(json_object_get(first, "where")), where) != 0 || !what ||
      !strstr(what, "NOT NULL")) {
    char *dump = json_dumps(report, JSON_INDENT(1));
    print_error("the forged credit (entry %lld) should be refused at its entry:\n%s\n", (long long)seq, dump);
    free(dump);
    fail();
  }
  json_decref(report);
  pair_close(&p);
}

/* Reconciliation names a unit held twice and a unit held nowhere. */
static void test_reconcile_catches(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-reconcile");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  free(propose(&p, p.acc.gov, p.jpn_gov, 1009));
  pair_sync(&p);
  each_unit_once(&p);
  pair_close(&p);
  char upd[300];
  snprintf(upd, sizeof upd, "UPDATE block SET account = '%s' WHERE account IS NULL", p.acc.gov);
  sql(p.tha_path, upd);
  p.tha = t_open(p.tha_path);
  p.jpn = t_open(p.jpn_path);
  assert_string_equal(reconcile_problem(&p), "THA01 serial 1 is held in THA01 and in JPN01");
  pair_close(&p);
  sql(p.tha_path, "UPDATE block SET account = NULL WHERE first = 1");
  sql(p.jpn_path, "DELETE FROM block WHERE first = 1");
  p.tha = t_open(p.tha_path);
  p.jpn = t_open(p.jpn_path);
  assert_string_equal(reconcile_problem(&p), "THA01 serial 1 of an issuance is held in none of the registries");
  pair_close(&p);
}

static void test_th014_story(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-story");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  char *tx = propose(&p, p.acc.gov, p.jpn_gov, 1009);
  assert_int_equal(t_balance(p.tha, p.acc.gov), 1009); /* reserved, still held */
  assert_string_equal(xfer_status(p.tha, tx, NULL), "proposed");
  pair_sync(&p);
  assert_string_equal(xfer_status(p.tha, tx, NULL), "completed");
  assert_string_equal(xfer_status(p.jpn, tx, NULL), "completed");
  assert_int_equal(t_balance(p.tha, p.acc.gov), 0);
  assert_int_equal(t_balance(p.tha, p.acc.hold_a), 1008);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 1009);
  /* both statements show the external transfer and agree with the blocks */
  expect_statement(p.tha, p.acc.gov, 0, "external out");
  expect_statement(p.jpn, p.jpn_gov, 1009, "external in");
  /* Japan holds the serials Thailand issued */
  json_t *rows = t_rows(p.jpn, "blocks", "account", p.jpn_gov);
  assert_int_equal(json_array_size(rows), 1);
  json_t *b = json_array_get(rows, 0);
  assert_string_equal(json_string_value(json_object_get(b, "origin")), "THA01");
  assert_int_equal(json_integer_value(json_object_get(b, "first")), 1);
  assert_int_equal(json_integer_value(json_object_get(b, "last")), 1009);
  assert_string_equal(json_string_value(json_object_get(b, "auth_id")), "THA-A6-0001");
  json_decref(rows);
  each_unit_once(&p);
  json_decref(t_must(p.jpn, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1009}", p.jpn_gov));
  assert_int_equal(t_balance(p.jpn, p.jpn_retire), 1009);
  /* AEF actions: Authorization and First transfer in THA01, Acquisition and Use in JPN01 */
  assert_int_equal(t_action_units(p.tha, "Authorization"), 1009);
  assert_int_equal(t_action_units(p.tha, "First transfer"), 1009);
  assert_int_equal(t_action_units(p.tha, "Transfer"), 0);
  assert_int_equal(t_action_units(p.jpn, "Acquisition"), 1009);
  assert_int_equal(t_action_units(p.jpn, "Use"), 1009);
  assert_int_equal(t_action_units(p.jpn, "First transfer"), 0);
  /* used exactly once: nothing is left to use, nothing leaves retirement */
  refuse(&p, p.jpn, &T_ADMIN, C_INSUFFICIENT, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1}",
         p.jpn_gov);
  refuse(&p, p.jpn, &T_ADMIN, C_SRC_TYPE, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
         p.jpn_retire, p.acc.gov);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  free(tx);
  pair_close(&p);
}

/* The corresponding adjustments of the story, from the actions the
 * protocol recorded (hand-computed: DOMAIN.md §10). */
static void test_th014_adjustments(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-adjust");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  free(propose(&p, p.acc.gov, p.jpn_gov, 1009));
  pair_sync(&p);
  json_decref(t_must(p.jpn, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1009}", p.jpn_gov));
  const char *ndc = "{\"cmd\":\"ndc.set\",\"party\":\"%s\",\"kind\":\"single-year\",\"first_year\":2021,"
                    "\"last_year\":2030,\"method\":\"%s\"}";
  json_decref(t_must(p.tha, &T_ADMIN, ndc, "THA", "trajectory"));
  json_decref(t_must(p.jpn, &T_ADMIN, ndc, "JPN", "trajectory"));
  json_t *rows = t_rows(p.tha, "a6.balance", "party", "THA");
  int found = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) != 2021) continue;
    assert_string_equal(json_string_value(json_object_get(r, "adjustment")), "1009");
    found = 1;
  }
  assert_true(found);
  json_decref(rows);
  rows = t_rows(p.jpn, "a6.balance", "party", "JPN");
  found = 0;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) != 2030) continue;
    assert_string_equal(json_string_value(json_object_get(r, "adjustment")), "-1009");
    found = 1;
  }
  assert_true(found);
  json_decref(rows);
  json_decref(t_must(p.jpn, &T_ADMIN, ndc, "JPN", "averaging"));
  rows = t_rows(p.jpn, "a6.balance", "party", "JPN");
  found = 0;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) != 2030) continue;
    assert_string_equal(json_string_value(json_object_get(r, "adjustment")), "-100.9");
    found = 1;
  }
  assert_true(found);
  json_decref(rows);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* The adjustment of year in the Party's balance table, as text. */
static void expect_adjustment(jcm *j, const char *party, int year, const char *want) {
  json_t *rows = t_rows(j, "a6.balance", "party", party);
  const char *got = NULL;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) == year && json_is_string(json_object_get(r, "adjustment")))
      got = json_string_value(json_object_get(r, "adjustment"));
  }
  if (!got || strcmp(got, want) != 0)
    fail_msg("%s %d: adjustment %s, expected %s", party, year, got ? got : "none", want);
  json_decref(rows);
}

static void set_ndc(jcm *j, const char *party, const char *method) {
  json_decref(t_must(j, &T_ADMIN,
                     "{\"cmd\":\"ndc.set\",\"party\":\"%s\",\"kind\":\"single-year\",\"first_year\":2021,"
                     "\"last_year\":2030,\"method\":\"%s\"}",
                     party, method));
}

/* Several vintages under two versions of one authorization (the second
 * made mid-period), first transferred and used through the protocol.
 * Hand-computed: Thailand first transfers 1,009 (2021), 500 (2022) and
 * 183 (2023): trajectory +1009, +500, +183 in those years; averaging over
 * 2021-2030: (1009 + 500 + 183) / 10 = 169.2 in 2030. Japan uses 1,009 for
 * 2025 and 683 for 2030: trajectory -1009 (2025), -683 (2030); averaging
 * -1692 / 10 = -169.2 in 2030. */
static void test_vintages_and_versions(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-vintages");
  const char *gov[] = {p.acc.gov, NULL};
  const int64_t q22[] = {500}, q23[] = {301};
  assert_int_equal(t_issue(p.tha, 2022, 500, 500, gov, q22), JCM_OK); /* serials 2018-2517 */
  assert_int_equal(t_issue(p.tha, 2023, 301, 301, gov, q23), JCM_OK); /* serials 2518-2818 */
  const char *av = "{\"cmd\":\"authorize\",\"id\":\"THA-AV\",\"date\":\"%s\",\"coop\":\"JCM-JPN-THA\",\"quantity\":%d,"
                   "\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":[\"JPN\"],"
                   "\"first_year\":2021,\"last_year\":2030,\"ranges\":[{\"first\":%d,\"last\":%d}]}";
  json_decref(t_must(p.tha, &T_ADMIN, av, "2025-11-01", 1009, 1, 1009));
  const char *xr = "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":%d,\"last\":%d}]}";
  json_decref(t_must(p.tha, &T_ADMIN, xr, p.acc.gov, p.jpn_gov, 1, 1009));
  pair_sync(&p);
  json_t *r = t_must(p.tha, &T_ADMIN, av, "2026-01-15", 2000, 2018, 2818);
  assert_int_equal(json_integer_value(json_object_get(r, "version")), 2);
  json_decref(r);
  json_decref(t_must(p.tha, &T_ADMIN, xr, p.acc.gov, p.jpn_gov, 2018, 2700));
  pair_sync(&p);
  json_t *rows = t_rows(p.tha, "actions", "type", "First transfer");
  int64_t v1 = 0, v2 = 0;
  size_t i;
  json_t *a;
  json_array_foreach(rows, i, a) {
    int64_t qn = json_integer_value(json_object_get(a, "quantity"));
    if (json_integer_value(json_object_get(a, "auth_version")) == 1)
      v1 += qn;
    else
      v2 += qn;
  }
  json_decref(rows);
  assert_int_equal(v1, 1009);
  assert_int_equal(v2, 683);
  set_ndc(p.tha, "THA", "trajectory");
  expect_adjustment(p.tha, "THA", 2021, "1009");
  expect_adjustment(p.tha, "THA", 2022, "500");
  expect_adjustment(p.tha, "THA", 2023, "183");
  set_ndc(p.tha, "THA", "averaging");
  expect_adjustment(p.tha, "THA", 2030, "169.2");
  const char *use = "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":%d,\"quantity\":%d}";
  json_decref(t_must(p.jpn, &T_ADMIN, use, p.jpn_gov, 2025, 1009));
  json_decref(t_must(p.jpn, &T_ADMIN, use, p.jpn_gov, 2030, 683));
  set_ndc(p.jpn, "JPN", "trajectory");
  expect_adjustment(p.jpn, "JPN", 2025, "-1009");
  expect_adjustment(p.jpn, "JPN", 2030, "-683");
  set_ndc(p.jpn, "JPN", "averaging");
  expect_adjustment(p.jpn, "JPN", 2030, "-169.2");
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* ---- messages one by one ---- */

/* The next message `from` has for `to` that `to` has not received, or NULL. */
static json_t *next_message(jcm *from, jcm *to) {
  int64_t last = 0;
  json_t *msgs = NULL;
  assert_int_equal(jcm_link_last_received(to, jcm_registry(from), &last), JCM_OK);
  assert_int_equal(jcm_link_outbox(from, jcm_registry(to), last, 1, &msgs), JCM_OK);
  json_t *m = json_incref(json_array_get(msgs, 0));
  json_decref(msgs);
  return m;
}

static int receive(jcm *j, const char *msg, const char *sig) {
  int code = t_receive(j, msg, sig);
  note(code);
  return code;
}

/* Delivers one message, THA01's first: 1 when one went. */
static int step_once(pair *p) {
  jcm *order[2][2] = {{p->tha, p->jpn}, {p->jpn, p->tha}};
  for (int k = 0; k < 2; k++) {
    json_t *m = next_message(order[k][0], order[k][1]);
    if (!m) continue;
    assert_int_equal(receive(order[k][1], json_string_value(json_object_get(m, "msg")),
                             json_string_value(json_object_get(m, "sig"))),
                     0);
    json_decref(m);
    return 1;
  }
  return 0;
}

/* A message as THA01 would sign it: fields replaced in a delivered one. */
static int forge(pair *p, json_t *base, const char *key, json_t *value, int64_t n) {
  json_t *m = json_loads(json_string_value(json_object_get(base, "msg")), 0, NULL);
  if (key) json_object_set(m, key, value);
  json_object_set_new(m, "n", json_integer(n));
  char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT), sig[129];
  t_sign_as(p->tha_path, text, sig);
  char *before = t_dump(p->jpn_path);
  int code = receive(p->jpn, text, sig);
  char *after = t_dump(p->jpn_path);
  if (code) assert_string_equal(before, after);
  free(before);
  free(after);
  free(text);
  json_decref(m);
  json_decref(value);
  return code;
}

static void test_messages(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-messages");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  char *tx = propose(&p, p.acc.gov, p.jpn_gov, 1009);
  json_t *m = next_message(p.tha, p.jpn);
  assert_non_null(m);
  const char *msg = json_string_value(json_object_get(m, "msg")), *sig = json_string_value(json_object_get(m, "sig"));
  char *before = t_dump(p.jpn_path);
  /* altered: one byte of the signed bytes */
  char *altered = strdup(msg);
  char *q = strstr(altered, "\"quantity\":1009");
  q[strlen("\"quantity\":100")] = '8';
  assert_int_equal(receive(p.jpn, altered, sig), C_LINK_SIGNATURE);
  /* forged: signed by a key that is not THA01's */
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], raw[crypto_sign_BYTES];
  char forged[129];
  crypto_sign_keypair(pk, sk);
  crypto_sign_detached(raw, NULL, (const unsigned char *)msg, strlen(msg), sk);
  sodium_bin2hex(forged, sizeof forged, raw, sizeof raw);
  assert_int_equal(receive(p.jpn, msg, forged), C_LINK_SIGNATURE);
  /* malformed, and addressed elsewhere */
  assert_int_equal(receive(p.jpn, "{}", sig), C_LINK_MALFORMED);
  assert_int_equal(forge(&p, m, "to", json_string("KOR01"), 1), C_LINK_MALFORMED);
  /* from an unknown registry */
  assert_int_equal(forge(&p, m, "from", json_string("KOR01"), 1), C_LINK_UNKNOWN_REGISTRY);
  /* out of order: number 2 before number 1 */
  assert_int_equal(forge(&p, m, NULL, NULL, 2), C_LINK_SEQUENCE);
  char *after = t_dump(p.jpn_path);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* delivered once; again is a harmless duplicate; another number 1 is a conflict */
  assert_int_equal(receive(p.jpn, msg, sig), 0);
  assert_int_equal(receive(p.jpn, msg, sig), C_LINK_DUPLICATE);
  assert_int_equal(forge(&p, m, "quantity", json_integer(5), 1), C_LINK_CONFLICT);
  /* a second proposal of the same transaction */
  assert_int_equal(forge(&p, m, NULL, NULL, 2), C_LINK_CONFLICT);
  pair_sync(&p);
  assert_string_equal(xfer_status(p.jpn, tx, NULL), "completed");
  /* after completion: complete again is out of place; a proposal of units
   * Japan holds is rejected (7009) */
  json_t *complete = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "type", "complete", "from", "THA01", "to", "JPN01", "tx",
                               tx, "n", (json_int_t)0, "msg", "");
  char *ctext = json_dumps(complete, JSON_SORT_KEYS | JSON_COMPACT);
  json_t *wrap = json_pack("{s:s}", "msg", ctext);
  assert_int_equal(forge(&p, wrap, NULL, NULL, 3), C_LINK_STATUS);
  json_t *again = json_loads(msg, 0, NULL);
  json_object_set_new(again, "tx", json_string("THA01-X-000099"));
  char *atext = json_dumps(again, JSON_SORT_KEYS | JSON_COMPACT);
  json_t *wrap2 = json_pack("{s:s}", "msg", atext);
  assert_int_equal(forge(&p, wrap2, NULL, NULL, 3), 0);
  int code = 0;
  assert_string_equal(xfer_status(p.jpn, "THA01-X-000099", &code), "rejected");
  assert_int_equal(code, C_LINK_HELD_HERE);
  note(code);
  /* units claimed to fall under an authorization Japan knows with other terms */
  json_t *other = json_loads(msg, 0, NULL);
  json_object_set_new(other, "tx", json_string("THA01-X-000098"));
  json_t *blk = json_array_get(json_object_get(other, "blocks"), 0);
  json_object_set_new(blk, "first", json_integer(1010));
  json_object_set_new(blk, "last", json_integer(2018));
  json_object_set_new(json_array_get(json_object_get(other, "auths"), 0), "parties", json_string("[\"JPN\",\"VNM\"]"));
  char *otext = json_dumps(other, JSON_SORT_KEYS | JSON_COMPACT);
  json_t *wrap3 = json_pack("{s:s}", "msg", otext);
  assert_int_equal(forge(&p, wrap3, NULL, NULL, 4), 0);
  assert_string_equal(xfer_status(p.jpn, "THA01-X-000098", &code), "rejected");
  assert_int_equal(code, C_LINK_CONFLICT);
  free(otext);
  json_decref(wrap3);
  json_decref(other);
  each_unit_once(&p);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  free(atext);
  free(ctext);
  json_decref(wrap);
  json_decref(wrap2);
  json_decref(again);
  json_decref(complete);
  free(altered);
  free(tx);
  json_decref(m);
  pair_close(&p);
}

/* A rejection releases the reservation: the units are free again. */
static void test_reject_releases(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-reject");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  char nowhere[32];
  t_account_id("JPN01", 110, 99, nowhere); /* well-formed, never opened */
  char *tx = propose(&p, p.acc.gov, nowhere, 600);
  refuse(&p, p.tha, &T_ADMIN, C_INSUFFICIENT, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":500}",
         p.acc.gov, p.acc.hold_b);
  pair_sync(&p);
  int code = 0;
  assert_string_equal(xfer_status(p.tha, tx, &code), "terminated");
  assert_int_equal(code, C_DST_UNKNOWN);
  assert_string_equal(xfer_status(p.jpn, tx, NULL), "rejected");
  assert_int_equal(t_balance(p.tha, p.acc.gov), 1009);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1009}",
                     p.acc.gov, p.acc.hold_b));
  each_unit_once(&p);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  free(tx);
  pair_close(&p);
}

static void reopen(pair *p) {
  pair_close(p);
  p->tha = t_open(p->tha_path);
  p->jpn = t_open(p->jpn_path);
}

/* Dropping both processes' memory after any number of delivered messages
 * (and, when terminate is set, the sender then giving up): both sides end
 * completed, or both terminated, never half. */
static void crash_at(int cut, int terminate) {
  pair p;
  char name[64];
  snprintf(name, sizeof name, "link-crash-%d-%d", cut, terminate);
  pair_open(&p, name);
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  char *tx = propose(&p, p.acc.gov, p.jpn_gov, 700);
  for (int k = 0; k < cut; k++)
    step_once(&p);
  reopen(&p);
  if (terminate) {
    int code = 0;
    t_submitf(p.tha, &T_ADMIN, &code, NULL, "{\"cmd\":\"xfer.terminate\",\"tx\":\"%s\",\"reason\":\"timeout\"}", tx);
    note(code);
    assert_true(code == 0 || code == C_LINK_STATUS);
  }
  pair_sync(&p);
  reopen(&p);
  const char *st = xfer_status(p.tha, tx, NULL);
  char tha_status[32];
  snprintf(tha_status, sizeof tha_status, "%s", st);
  const char *jst = xfer_status(p.jpn, tx, NULL);
  if (strcmp(tha_status, "completed") == 0) {
    assert_string_equal(jst, "completed");
    assert_int_equal(t_balance(p.jpn, p.jpn_gov), 700);
    assert_int_equal(t_balance(p.tha, p.acc.gov), 309);
  } else {
    assert_string_equal(tha_status, "terminated");
    assert_true(strcmp(jst, "terminated") == 0 || strcmp(jst, "rejected") == 0);
    assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
    assert_int_equal(t_balance(p.tha, p.acc.gov), 1009);
  }
  each_unit_once(&p);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  free(tx);
  pair_close(&p);
}

static void test_crash_anywhere(void **state) {
  (void)state;
  for (int cut = 0; cut <= 3; cut++) {
    crash_at(cut, 0);
    crash_at(cut, 1);
  }
  assert_true(triggered[C_LINK_STATUS]); /* terminating after completion is refused */
}

/* Back and forth: the first transfer happens once; later moves are
 * transfers and acquisitions. */
static void test_back_and_forth(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-back");
  pair_authorize(&p, "[\"JPN\",\"THA\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  free(propose(&p, p.acc.gov, p.jpn_gov, 1009));
  pair_sync(&p);
  json_decref(t_must(p.jpn, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1009}",
                     p.jpn_gov, p.acc.gov));
  pair_sync(&p);
  assert_int_equal(t_balance(p.tha, p.acc.gov), 1009);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  free(propose(&p, p.acc.gov, p.jpn_gov, 400));
  pair_sync(&p);
  assert_int_equal(t_action_units(p.tha, "First transfer"), 1009);
  assert_int_equal(t_action_units(p.tha, "Transfer"), 400);
  assert_int_equal(t_action_units(p.tha, "Acquisition"), 1009);
  assert_int_equal(t_action_units(p.jpn, "Acquisition"), 1409);
  assert_int_equal(t_action_units(p.jpn, "Transfer"), 1009);
  assert_int_equal(t_action_units(p.jpn, "First transfer"), 0);
  /* the units that came back keep their first transfer: no second one */
  refuse(&p, p.tha, &T_ADMIN, C_A6_FIRST_TRANSFERRED,
         "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0001\",\"date\":\"2025-12-01\",\"coop\":\"JCM-JPN-THA\","
         "\"quantity\":2000,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":[\"JPN\"],"
         "\"ranges\":[{\"first\":1,\"last\":10}]}");
  each_unit_once(&p);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

static const char *const AUTH =
    "{\"cmd\":\"authorize\",\"id\":\"%s\",\"date\":\"2025-11-01\",\"coop\":\"%s\",\"quantity\":%d,"
    "\"sectors\":[\"Energy "
    "generation\"],\"purposes\":\"%s\",\"parties\":[%s],\"first_year\":2021,\"last_year\":2030%s,%s}";

/* Every Article 6 and link refusal with its code, both stores unchanged. */
static void test_codes(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-codes");
  jcm *t = p.tha;
  const char *r1009 = "\"ranges\":[{\"first\":1,\"last\":1009}]";
  refuse(&p, t, &T_ADMIN, C_UNKNOWN_COOP, AUTH, "A1", "JCM-XXX", 1009, "NDC", "\"JPN\"", "", r1009);
  refuse(&p, t, &T_ADMIN, C_A6_NOT_IN_COOP, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"KOR\"", "", r1009);
  refuse(&p, t, &T_ADMIN, C_A6_OIMP_DEFINITION, AUTH, "A1", "JCM-JPN-THA", 1009, "OIMP", "\"JPN\"", "", r1009);
  refuse(&p, t, &T_ADMIN, C_A6_OIMP_DEFINITION, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"JPN\"",
         ",\"oimp_first_transfer\":\"Issuance\"", r1009);
  refuse(&p, t, &T_ADMIN, C_A6_OVER_AUTHORIZED, AUTH, "A1", "JCM-JPN-THA", 1000, "NDC", "\"JPN\"", "", r1009);
  refuse(&p, t, &T_ADMIN, C_CONFLICT, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"JPN\"", "",
         "\"project\":\"TH014\",\"ranges\":[{\"first\":1,\"last\":2}]");
  refuse(&p, t, &T_ADMIN, C_NOT_HELD, AUTH, "A1", "JCM-JPN-THA", 5000, "NDC", "\"JPN\"", "",
         "\"ranges\":[{\"first\":2000,\"last\":3000}]");
  json_decref(t_must(t, &T_ADMIN,
                     "{\"cmd\":\"project.import\",\"project\":\"JP099\",\"title\":\"t\",\"host\":\"JPN\","
                     "\"status\":\"registered\",\"source\":\"s\"}"));
  refuse(&p, t, &T_ADMIN, C_A6_NOT_HOST, AUTH, "A1", "JCM-JPN-THA", 5000, "NDC", "\"JPN\"", "",
         "\"project\":\"JP099\"");
  /* units not authorized cannot leave; an unauthorized Party cannot acquire */
  refuse(&p, t, &T_ADMIN, C_A6_NOT_AUTHORIZED,
         "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", p.acc.hold_a, p.jpn_gov);
  json_decref(t_must(t, &T_ADMIN, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"THA\"", "", r1009));
  refuse(&p, t, &T_ADMIN, C_A6_PARTY_NOT_AUTHORIZED,
         "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", p.acc.gov, p.jpn_gov);
  refuse(&p, t, &T_ADMIN, C_A6_ATTACHED, AUTH, "A2", "JCM-JPN-THA", 1009, "NDC", "\"JPN\"", "", r1009);
  /* a new version of A1 for Japan, then the link's own refusals */
  json_decref(t_must(t, &T_ADMIN, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"JPN\"", "", r1009));
  char vnm[32], own[32];
  t_account_id("VNM01", 100, 1, vnm);
  refuse(&p, t, &T_ADMIN, C_LINK_UNKNOWN_REGISTRY,
         "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", p.acc.gov, vnm);
  json_decref(
      t_must(t, &T_ADMIN,
             "{\"cmd\":\"registry.add\",\"id\":\"VNM01\",\"party\":\"VNM\",\"name\":\"K\",\"role\":\"national\"}"));
  refuse(&p, t, &T_ADMIN, C_LINK_NO_KEY, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}",
         p.acc.gov, vnm);
  t_account_id("THA01", 100, 77, own);
  refuse(&p, t, &T_ADMIN, C_LINK_SELF, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}",
         p.acc.gov, own);
  refuse(&p, t, &T_ADMIN, C_LINK_SELF, "{\"cmd\":\"registry.key\",\"id\":\"THA01\",\"public_key\":\"%064d\"}", 0);
  refuse(&p, t, &T_ADMIN, C_EXISTS, "{\"cmd\":\"key.generate\"}");
  refuse(&p, t, &T_ADMIN, C_UNKNOWN_TX, "{\"cmd\":\"xfer.terminate\",\"tx\":\"THA01-X-000042\",\"reason\":\"r\"}");
  /* reserved units: neither re-authorized nor moved */
  char *tx = propose(&p, p.acc.gov, p.jpn_gov, 9);
  refuse(&p, t, &T_ADMIN, C_RESERVED, AUTH, "A1", "JCM-JPN-THA", 1009, "NDC", "\"JPN\"", "", r1009);
  refuse(&p, t, &T_ADMIN, C_RESERVED,
         "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":1001,\"last\":1009}]}", p.acc.gov,
         p.acc.hold_b);
  pair_sync(&p);
  refuse(&p, t, &T_ADMIN, C_LINK_STATUS, "{\"cmd\":\"xfer.terminate\",\"tx\":\"%s\",\"reason\":\"late\"}", tx);
  /* Japan: the authorization is Thailand's; use needs a government account,
   * the timeframe, an NDC purpose */
  jcm *j = p.jpn;
  refuse(&p, j, &T_ADMIN, C_A6_FOREIGN_AUTH, AUTH, "A1", "JCM-JPN-THA", 9, "NDC", "\"JPN\"", "", r1009);
  json_decref(t_must(j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":2}", p.jpn_gov,
                     p.jpn_hold));
  refuse(&p, j, &T_ADMIN, C_A6_USE_ACCOUNT, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1}",
         p.jpn_hold);
  refuse(&p, j, &T_ADMIN, C_A6_TIMEFRAME, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2031,\"quantity\":1}", p.jpn_gov);
  /* Thailand's own: OIMP units used toward an NDC, and units never authorized */
  json_decref(t_must(t, &T_ADMIN, AUTH, "A3", "JCM-JPN-THA", 1008, "OIMP", "\"THA\"",
                     ",\"oimp_first_transfer\":\"Use or Cancellation\"",
                     "\"ranges\":[{\"first\":1010,\"last\":2017}]"));
  json_decref(t_must(t, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", p.acc.hold_a,
                     p.acc.gov));
  /* by range: a use by quantity would take the government's largest block,
   * authorized for Japan, and be refused for that instead */
  refuse(&p, t, &T_ADMIN, C_A6_PURPOSE,
         "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"ranges\":[{\"first\":2013,\"last\":2017}]}", p.acc.gov);
  /* cancelling OIMP units is their first transfer (the authorization says so) */
  json_decref(t_must(t, &T_ADMIN,
                     "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"omge\",\"reason\":\"OMGE\","
                     "\"quantity\":3}",
                     p.acc.hold_a));
  assert_int_equal(t_action_units(t, "First transfer"), 9 + 3);
  assert_int_equal(t_action_units(t, "Cancellation"), 3);
  t_verify_ok(t);
  t_verify_ok(j);
  free(tx);
  pair_close(&p);
}

/* Every code of 6001-6099 and 7xxx was triggered by some case above. */
static void test_every_code(void **state) {
  (void)state;
  size_t n;
  const jcm_code_info *codes = jcm_codes(&n);
  int missing = 0;
  for (size_t i = 0; i < n; i++) {
    int c = codes[i].code;
    if (!((c >= 6000 && c < 6100) || (c >= 7000 && c < 8000)) || triggered[c]) continue;
    fprintf(stderr, "code %d (%s) was not triggered\n", c, codes[i].name);
    missing++;
  }
  assert_int_equal(missing, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_th014_story),
      cmocka_unit_test(test_forged_credit_without_account),
      cmocka_unit_test(test_th014_adjustments),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_reject_releases),
      cmocka_unit_test(test_crash_anywhere),
      cmocka_unit_test(test_back_and_forth),
      cmocka_unit_test(test_codes),
      cmocka_unit_test(test_every_code),
      cmocka_unit_test(test_reconcile_catches),
      cmocka_unit_test(test_vintages_and_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
