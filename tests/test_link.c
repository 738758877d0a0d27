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
#include "support.h"

static const jcm_actor PEER = {"link", "peer"};

typedef struct pair {
  char tha_path[512], jpn_path[512];
  jcm *tha, *jpn;
  t_accounts acc; /* THA01's */
  char jpn_gov[32], jpn_hold[32], jpn_retire[32];
} pair;

static json_t *must(jcm *j, const jcm_actor *a, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  int code = 0;
  if (t_submit(j, a, buf, &code, &r) != JCM_OK) {
    char *s = json_dumps(r, 0);
    fail_msg("%s -> %s", buf, s);
  }
  json_t *out = json_incref(json_object_get(r, "result"));
  json_decref(r);
  return out;
}

static const char *key_of(jcm *j) {
  static char hex[2][80];
  static int k;
  json_t *r = must(j, &T_ADMIN, "{\"cmd\":\"key.generate\"}");
  k ^= 1;
  snprintf(hex[k], sizeof hex[k], "%s", json_string_value(json_object_get(r, "public_key")));
  json_decref(r);
  return hex[k];
}

static void account_of(jcm *j, const char *fmt, char out[32]) {
  json_t *r = must(j, &T_ADMIN, "%s", fmt);
  snprintf(out, 32, "%s", json_string_value(json_object_get(r, "account")));
  json_decref(r);
}

/* Both registries, keys exchanged, TH014's 2021 issuance in THA01:
 * 1009 [1-1009] to the government, 1008 [1010-2017] to org-a. */
static void pair_open(pair *p, const char *name) {
  char n[64];
  snprintf(n, sizeof n, "%s-tha", name);
  t_db_path(p->tha_path, sizeof p->tha_path, n);
  snprintf(n, sizeof n, "%s-jpn", name);
  t_db_path(p->jpn_path, sizeof p->jpn_path, n);
  p->tha = t_registry(p->tha_path, &p->acc);
  p->jpn = t_open(p->jpn_path);
  jcm *t = p->tha, *j = p->jpn;
  json_decref(must(j, &T_ADMIN, "{\"cmd\":\"init\",\"registry\":\"JPN01\",\"party\":\"JPN\",\"name\":\"Japan\"}"));
  json_decref(
      must(j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"goj\",\"name\":\"Government of Japan\",\"country\":\"JPN\"}"));
  json_decref(must(j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"tsb\",\"name\":\"TSB Green Nex\",\"country\":\"JPN\"}"));
  account_of(j, "{\"cmd\":\"account.open\",\"type\":\"government-holding\",\"holder\":\"goj\",\"name\":\"GoJ\"}",
             p->jpn_gov);
  account_of(j, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"tsb\",\"name\":\"TSB\"}", p->jpn_hold);
  account_of(j, "{\"cmd\":\"account.open\",\"type\":\"retirement\",\"holder\":\"goj\",\"name\":\"NDC use\"}",
             p->jpn_retire);
  const char *coop = "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"JCM\",\"parties\":[\"JPN\",\"THA\"]}";
  json_decref(must(t, &T_ADMIN, "%s", coop));
  json_decref(must(j, &T_ADMIN, "%s", coop));
  json_decref(
      must(t, &T_ADMIN,
           "{\"cmd\":\"registry.add\",\"id\":\"JPN01\",\"party\":\"JPN\",\"name\":\"J\",\"role\":\"national\"}"));
  json_decref(
      must(j, &T_ADMIN,
           "{\"cmd\":\"registry.add\",\"id\":\"THA01\",\"party\":\"THA\",\"name\":\"T\",\"role\":\"national\"}"));
  char tk[80], jk[80];
  snprintf(tk, sizeof tk, "%s", key_of(t));
  snprintf(jk, sizeof jk, "%s", key_of(j));
  json_decref(must(t, &T_ADMIN, "{\"cmd\":\"registry.key\",\"id\":\"JPN01\",\"public_key\":\"%s\"}", jk));
  json_decref(must(j, &T_ADMIN, "{\"cmd\":\"registry.key\",\"id\":\"THA01\",\"public_key\":\"%s\"}", tk));
  const char *acc[] = {p->acc.gov, p->acc.hold_a, NULL};
  const int64_t q[] = {1009, 1008};
  assert_int_equal(t_issue(t, 2021, 2017, 2017, acc, q), JCM_OK);
}

static void pair_close(pair *p) {
  jcm_close(p->tha);
  jcm_close(p->jpn);
}

static void authorize(pair *p, const char *parties, const char *scope) {
  json_decref(must(p->tha, &T_ADMIN,
                   "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0001\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                   "\"quantity\":1009,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":%s,"
                   "\"first_year\":2021,\"last_year\":2030,%s}",
                   parties, scope));
}

/* Delivers both ways until nothing is left. */
static void sync(pair *p) {
  for (int round = 0; round < 10; round++) {
    int a = 0, b = 0;
    json_t *ref = NULL;
    if (jcm_link_deliver(p->tha, p->jpn, &PEER, &a, &ref) != JCM_OK ||
        jcm_link_deliver(p->jpn, p->tha, &PEER, &b, &ref) != JCM_OK) {
      char *s = json_dumps(ref, 0);
      fail_msg("delivery refused: %s", s ? s : "(store error)");
    }
    if (!a && !b) return;
  }
  fail_msg("the link does not settle");
}

static void verify_ok(jcm *j) {
  json_t *rep = NULL;
  int rc = jcm_verify(j, &rep);
  if (rc != JCM_OK) {
    char *s = json_dumps(rep, 0);
    fail_msg("verify: %s", s);
  }
  json_decref(rep);
}

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

static json_t *query(jcm *j, const char *name, const char *param, const char *value) {
  json_t *params = param ? json_pack("{s:s}", param, value) : json_object(), *r = NULL;
  if (strcmp(name, "a6.balance") != 0) json_object_set_new(params, "limit", json_integer(1000));
  jcm_check chk;
  if (jcm_query(j, name, params, &r, &chk) != JCM_OK) fail_msg("query %s: %s", name, chk.message);
  json_decref(params);
  json_t *rows = json_incref(json_object_get(r, "rows"));
  json_decref(r);
  return rows;
}

/* Units of the given action type, summed over the store's Article 6 actions. */
static int64_t action_units(jcm *j, const char *type) {
  json_t *rows = query(j, "actions", "type", type);
  int64_t n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) n += json_integer_value(json_object_get(r, "quantity"));
  json_decref(rows);
  return n;
}

static const char *xfer_status(jcm *j, const char *tx, int *code) {
  static char status[32];
  json_t *rows = query(j, "xfers", NULL, NULL);
  size_t i;
  json_t *r;
  status[0] = 0;
  json_array_foreach(rows, i, r) {
    if (strcmp(json_string_value(json_object_get(r, "id")), tx) == 0) {
      snprintf(status, sizeof status, "%s", json_string_value(json_object_get(r, "status")));
      if (code) *code = (int)json_integer_value(json_object_get(r, "code"));
    }
  }
  json_decref(rows);
  return status;
}

/* Serials of origin THA01 held (account not null) in j, as a bit map. */
static void held_map(jcm *j, unsigned char *map, int64_t n) {
  json_t *rows = query(j, "blocks", NULL, NULL);
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

/* DOMAIN.md §7.7: every unit issued is held in exactly one registry. */
static void each_unit_once(pair *p) {
  unsigned char map[2017] = {0};
  held_map(p->tha, map, 2017);
  held_map(p->jpn, map, 2017);
  for (int k = 0; k < 2017; k++)
    if (map[k] != 1) fail_msg("serial %d is held in %d registries", k + 1, map[k]);
}

static char *propose(pair *p, const char *from, const char *to, int64_t quantity) {
  json_t *r = must(p->tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}", from,
                   to, (long long)quantity);
  char *tx = strdup(json_string_value(json_object_get(r, "tx")));
  json_decref(r);
  return tx;
}

static void test_th014_story(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-story");
  authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  char *tx = propose(&p, p.acc.gov, p.jpn_gov, 1009);
  assert_int_equal(t_balance(p.tha, p.acc.gov), 1009); /* reserved, still held */
  assert_string_equal(xfer_status(p.tha, tx, NULL), "proposed");
  sync(&p);
  assert_string_equal(xfer_status(p.tha, tx, NULL), "completed");
  assert_string_equal(xfer_status(p.jpn, tx, NULL), "completed");
  assert_int_equal(t_balance(p.tha, p.acc.gov), 0);
  assert_int_equal(t_balance(p.tha, p.acc.hold_a), 1008);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 1009);
  /* Japan holds the serials Thailand issued */
  json_t *rows = query(p.jpn, "blocks", "account", p.jpn_gov);
  assert_int_equal(json_array_size(rows), 1);
  json_t *b = json_array_get(rows, 0);
  assert_string_equal(json_string_value(json_object_get(b, "origin")), "THA01");
  assert_int_equal(json_integer_value(json_object_get(b, "first")), 1);
  assert_int_equal(json_integer_value(json_object_get(b, "last")), 1009);
  assert_string_equal(json_string_value(json_object_get(b, "auth_id")), "THA-A6-0001");
  json_decref(rows);
  each_unit_once(&p);
  json_decref(must(p.jpn, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1009}", p.jpn_gov));
  assert_int_equal(t_balance(p.jpn, p.jpn_retire), 1009);
  /* AEF actions: Authorization and First transfer in THA01, Acquisition and Use in JPN01 */
  assert_int_equal(action_units(p.tha, "Authorization"), 1009);
  assert_int_equal(action_units(p.tha, "First transfer"), 1009);
  assert_int_equal(action_units(p.tha, "Transfer"), 0);
  assert_int_equal(action_units(p.jpn, "Acquisition"), 1009);
  assert_int_equal(action_units(p.jpn, "Use"), 1009);
  assert_int_equal(action_units(p.jpn, "First transfer"), 0);
  /* used exactly once: nothing is left to use, nothing leaves retirement */
  refuse(&p, p.jpn, &T_ADMIN, C_INSUFFICIENT, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1}",
         p.jpn_gov);
  refuse(&p, p.jpn, &T_ADMIN, C_SRC_TYPE, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
         p.jpn_retire, p.acc.gov);
  verify_ok(p.tha);
  verify_ok(p.jpn);
  free(tx);
  pair_close(&p);
}

/* The corresponding adjustments of the story, from the actions the
 * protocol recorded (hand-computed: DOMAIN.md §10). */
static void test_th014_adjustments(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-adjust");
  authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  free(propose(&p, p.acc.gov, p.jpn_gov, 1009));
  sync(&p);
  json_decref(must(p.jpn, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1009}", p.jpn_gov));
  const char *ndc = "{\"cmd\":\"ndc.set\",\"party\":\"%s\",\"kind\":\"single-year\",\"first_year\":2021,"
                    "\"last_year\":2030,\"method\":\"%s\"}";
  json_decref(must(p.tha, &T_ADMIN, ndc, "THA", "trajectory"));
  json_decref(must(p.jpn, &T_ADMIN, ndc, "JPN", "trajectory"));
  json_t *rows = query(p.tha, "a6.balance", "party", "THA");
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
  rows = query(p.jpn, "a6.balance", "party", "JPN");
  found = 0;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) != 2030) continue;
    assert_string_equal(json_string_value(json_object_get(r, "adjustment")), "-1009");
    found = 1;
  }
  assert_true(found);
  json_decref(rows);
  json_decref(must(p.jpn, &T_ADMIN, ndc, "JPN", "averaging"));
  rows = query(p.jpn, "a6.balance", "party", "JPN");
  found = 0;
  json_array_foreach(rows, i, r) {
    if (json_integer_value(json_object_get(r, "year")) != 2030) continue;
    assert_string_equal(json_string_value(json_object_get(r, "adjustment")), "-100.9");
    found = 1;
  }
  assert_true(found);
  json_decref(rows);
  verify_ok(p.tha);
  verify_ok(p.jpn);
  pair_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_th014_story),
      cmocka_unit_test(test_th014_adjustments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
