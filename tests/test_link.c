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

static void test_th014_story(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "link-story");
  authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_t *r = must(p.tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1009}",
                   p.acc.gov, p.jpn_gov);
  json_decref(r);
  assert_int_equal(t_balance(p.tha, p.acc.gov), 1009); /* reserved, still held */
  sync(&p);
  assert_int_equal(t_balance(p.tha, p.acc.gov), 0);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 1009);
  json_decref(must(p.jpn, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":1009}", p.jpn_gov));
  assert_int_equal(t_balance(p.jpn, p.jpn_retire), 1009);
  verify_ok(p.tha);
  verify_ok(p.jpn);
  pair_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_th014_story),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
