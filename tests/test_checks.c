/*
 * Every check code of lib/checks.c, triggered through the public API.
 *
 * Each refusal is asserted by its exact code and field, and by the store
 * being byte-for-byte what it was: t_dump() of the SQLite file before and
 * after the refused command must be the same text (the "before" dump is
 * taken once and re-taken after every accepted command, so it is the state
 * right before each case). Cases are tables run against one populated store;
 * a mismatch is printed and counted, so one wrong case does not hide the
 * others, and the test fails at its end.
 *
 * The codes each case produced (code and field as expected) are collected;
 * the last test lists the check-code table and fails for any code no case
 * triggered, except the codes of not_triggerable[] (with the reason).
 *
 * Tests named regression_* reproduce library bugs found while writing these tests
 * (see the comment on each); they guard the fixes. Cases
 * that crash the library run in a child process (run_isolated) so that the
 * crash is reported as a failure without killing the other tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "spec.h"
#include "support.h"

/* ---- codes triggered so far ---- */

static unsigned char triggered[10000];

static void mark(int code) {
  if (code > 0 && code < 10000) triggered[code] = 1;
}

/* Codes that cannot be produced through the public API yet, with why. */
static const struct {
  int code;
  const char *why;
} not_triggerable[] = {
    /* none now: 4003 (reserved) is triggered by four_eyes_refusals; the list
     * ends with {0} so that it may be empty */
    {0, NULL},
};
/* Article 6 and the link need a second registry or their own fixtures:
 * tests/test_link.c (6001-6099, 7xxx), test_adjust.c (61xx), test_aef.c
 * (62xx) each assert that they trigger every code of their block. */
/* Passwords and signing in are not commands: tests/test_users.c triggers
 * 1025 (weak password), 8005 (authentication) and 8009 (a wrong current
 * password, checked with the secret before the command runs) and asserts it
 * does; 8006 (csrf) is refused by jcm serve before any command runs, and
 * tests/sh_sessions.sh asserts it. */
static int covered_elsewhere(int code) {
  return (code >= 6000 && code < 8000) || code == C_WEAK_PASSWORD || code == C_AUTH || code == C_CSRF ||
         code == C_WRONG_PASSWORD;
}

/* Codes that are not refusals of a command or query but problems a report
 * finds, so another test file triggers each of them. */
static const struct {
  int first, last;
  const char *where;
} tested_elsewhere[] = {
    {6201, 6299, "an AEF consistency check: tests/test_aef.c catches each with a corrupted row"},
};

/* ---- actors ---- */

static const jcm_actor HOLDER_A = {"org-a", "holder"};
static const jcm_actor HOLDER_B = {"org-b", "holder"};
static const jcm_actor NAMELESS = {"", "admin"};
static const jcm_actor NULL_NAME = {NULL, "admin"};
static const jcm_actor BAD_ROLE = {"someone", "superuser"};
static const jcm_actor NULL_ROLE = {"someone", NULL};
static const jcm_actor CASE_ROLE = {"someone", "Admin"};

static void make_account(const char *registry, int type, int seq, char out[32]) {
  t_account_id(registry, type, seq, out);
}

/* ---- the world: one store, its accounts, and the text tokens ---- */

typedef struct world {
  char path[512];
  jcm *j;
  t_accounts a;
  char blocked[32], closed[32], pending[32], unknown[32], foreign[32], mistyped[32];
  char held[32], held_serial[24]; /* a transfer awaiting approval, one of its serials */
  char s201[202], s301[302], s1001[1002];
  char *base; /* dump the next refusal is compared with */
  int failures, cases;
} world;

static const char *token(const world *w, char t) {
  switch (t) {
  case 'A': return w->a.hold_a;
  case 'B': return w->a.hold_b;
  case 'G': return w->a.gov;
  case 'C': return w->a.cancel;
  case 'R': return w->a.retire;
  case 'K': return w->blocked;
  case 'Z': return w->closed;
  case 'P': return w->pending;
  case 'N': return w->unknown;
  case 'F': return w->foreign;
  case 'M': return w->mistyped;
  case '2': return w->s201;
  case '3': return w->s301;
  case '4': return w->s1001;
  case 'H': return w->held;
  case 'S': return w->held_serial;
  default: return NULL;
  }
}

static const char *token_of(const void *w, char t) { return token((const world *)w, t); }

/* Replaces @X tokens (see token()) in tmpl; malloc'd. */
static char *expand(const world *w, const char *tmpl) { return t_expand(tmpl, token_of, w); }

static void fill(char *s, size_t n, char c) {
  memset(s, c, n);
  s[n] = 0;
}

static void rebase(world *w) {
  free(w->base);
  w->base = t_dump(w->path);
}

static void world_open(world *w, const char *name) {
  memset(w, 0, sizeof *w);
  t_db_path(w->path, sizeof w->path, name);
  w->j = t_registry(w->path, &w->a);
  make_account("THA01", 100, 999999, w->unknown);
  make_account("JPN01", 100, 1, w->foreign);
  snprintf(w->mistyped, sizeof w->mistyped, "%s", w->a.hold_a);
  w->mistyped[15] = w->mistyped[15] == '9' ? '8' : (char)(w->mistyped[15] + 1);
  assert_true(jcm_account_id_valid(w->unknown));
  assert_true(jcm_account_id_valid(w->foreign));
  assert_false(jcm_account_id_valid(w->mistyped));
  fill(w->s201, 201, 'x');
  fill(w->s301, 301, 'x');
  fill(w->s1001, 1001, 'x');
  rebase(w);
}

static void world_close(world *w) {
  print_message("%d cases, %d failed\n", w->cases, w->failures);
  json_t *report = NULL;
  int rc = jcm_verify(w->j, &report);
  if (rc != JCM_OK) {
    char *s = json_dumps(report, JSON_INDENT(2));
    fprintf(stderr, "verify failed: %s\n", s);
    free(s);
  }
  json_decref(report);
  jcm_close(w->j);
  free(w->base);
  w->base = NULL;
  assert_int_equal(rc, JCM_OK);
}

/* Submits a command that must be accepted; returns its result (owned). */
static json_t *must(world *w, const jcm_actor *actor, const char *tmpl) {
  char *text = expand(w, tmpl);
  json_t *r = NULL;
  int rc = jcm_submit_text(w->j, text, strlen(text), actor ? actor : &T_ADMIN, &r);
  if (rc != JCM_OK) {
    char *s = json_dumps(r, 0);
    fprintf(stderr, "setup command refused: %s\n  -> %s\n", text, s);
    free(s);
  }
  free(text);
  assert_int_equal(rc, JCM_OK);
  return r;
}

static void must_ok(world *w, const jcm_actor *actor, const char *tmpl) { json_decref(must(w, actor, tmpl)); }

static void must_account(world *w, const char *tmpl, char out[32]) {
  json_t *r = must(w, NULL, tmpl);
  snprintf(out, 32, "%s", json_string_value(json_object_get(json_object_get(r, "result"), "account")));
  json_decref(r);
}

/* The store must be what w->base says; a change is reported and becomes the
 * new base so the next case is judged on its own. */
static void check_unchanged(world *w, const char *label) {
  w->cases++;
  char *now = t_dump(w->path);
  if (strcmp(now, w->base) != 0) {
    fprintf(stderr, "FAIL [%s]: the refused command changed the store\n", label);
    w->failures++;
    free(w->base);
    w->base = now;
  } else {
    free(now);
  }
}

static void report_mismatch(world *w, const char *label, const char *text, int want_code, const char *want_field,
                            int rc, int code, const char *field, const char *message) {
  fprintf(stderr, "FAIL [%s]: want refusal %d field '%s', got rc %d code %d field '%s' (%s)\n  input: %.300s\n", label,
          want_code, want_field, rc, code, field, message, text);
  w->failures++;
}

/* Submits text (len bytes) and expects a refusal with code and field, and
 * the store unchanged. */
static void refuse_text(world *w, const char *label, const jcm_actor *actor, const char *text, size_t len, int code,
                        const char *field) {
  json_t *r = NULL;
  int rc = jcm_submit_text(w->j, text, len, actor ? actor : &T_ADMIN, &r);
  json_t *err = json_object_get(r, "error");
  int got = (int)json_integer_value(json_object_get(err, "code"));
  const char *f = json_string_value(json_object_get(err, "field"));
  const char *m = json_string_value(json_object_get(err, "message"));
  if (rc == JCM_REFUSED && got == code && f && strcmp(f, field) == 0 && json_is_false(json_object_get(r, "ok")) && m &&
      m[0]) {
    mark(code);
  } else {
    report_mismatch(w, label, text, code, field, rc, got, f ? f : "(none)", m ? m : "(none)");
  }
  json_decref(r);
  check_unchanged(w, label);
}

static void refuse(world *w, const char *label, const jcm_actor *actor, const char *tmpl, int code, const char *field) {
  char *text = expand(w, tmpl);
  refuse_text(w, label, actor, text, strlen(text), code, field);
  free(text);
}

/* A query (params as JSON text, NULL for none) must be refused. */
static void refuse_query(world *w, const char *label, const char *name, const char *params_tmpl, int code,
                         const char *field) {
  json_t *params = NULL;
  char *text = params_tmpl ? expand(w, params_tmpl) : NULL;
  if (text) {
    json_error_t e;
    params = json_loads(text, JSON_DECODE_ANY, &e);
    assert_non_null(params);
  }
  json_t *r = NULL;
  jcm_check chk;
  memset(&chk, 0x55, sizeof chk);
  int rc = jcm_query(w->j, name, params, &r, &chk);
  if (rc == JCM_REFUSED && chk.code == code && strcmp(chk.field, field) == 0 && r == NULL)
    mark(code);
  else
    report_mismatch(w, label, text ? text : name, code, field, rc, rc == JCM_OK ? 0 : chk.code,
                    rc == JCM_OK ? "" : chk.field, rc == JCM_OK ? "accepted" : chk.message);
  json_decref(r);
  json_decref(params);
  free(text);
  check_unchanged(w, label);
}

/* ---- running something that may crash in a child process ---- */

typedef t_outcome outcome;
typedef t_isolated_fn isolated_fn;

static int run_isolated(world *w, isolated_fn fn, const void *ud, outcome *o, char *how, size_t n) {
  return t_run_isolated(&w->j, w->path, fn, ud, o, how, n);
}

/* ---- sample commands: one well-formed instance of every command ---- */

static const char *sample(const char *cmd) { return t_sample(cmd); }

static const struct {
  const char *role;
  unsigned bit;
} roles[] = {{"admin", R_ADMIN},     {"jc_secretariat", R_JCS}, {"holder", R_HOLDER}, {"tpe", R_TPE},
             {"auditor", R_AUDITOR}, {"peer", R_PEER},          {"server", R_SERVER}};

/* ---- the populated store most cases run against ----
 *
 *   THA01 (t_registry): org-a, org-b, tgo; hold_a, hold_b, gov, cancel, retire;
 *   TH014 registered (imported). Then:
 *   blocked: holding of org-a, blocked;  closed: holding of org-a, closed;
 *   pending: a pending account of tgo;   retire: blocked (no open retirement account)
 *   TH014 2021 issued: gov 600 (serials 1-600), hold_a 400 (601-1000);
 *   TH014 2022 submitted (calculated 300); 2023 verified 500 (calculated 500);
 *   TH_AM001 ver01.0 proposed, TH_AM002 ver01.0 approved, TH_AM003 ver01.0 rejected;
 *   TH_PIN001 (pin); coop JCM-JPN-THA; JP001 (host JPN) registered; TH020 withdrawn;
 *   org-c added with idempotency key "k-org-c".
 */
static void populate(world *w) {
  must_account(w, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"Blocked\"}",
               w->blocked);
  must_ok(w, NULL, "{\"cmd\":\"account.status\",\"account\":\"@K\",\"status\":\"blocked\",\"reason\":\"test\"}");
  must_account(w, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"Closed\"}",
               w->closed);
  must_ok(w, NULL, "{\"cmd\":\"account.status\",\"account\":\"@Z\",\"status\":\"closed\",\"reason\":\"test\"}");
  must_account(w, "{\"cmd\":\"account.open\",\"type\":\"pending\",\"holder\":\"tgo\",\"name\":\"P\"}", w->pending);
  const char *accts[] = {w->a.gov, w->a.hold_a, NULL};
  const int64_t qty[] = {600, 400};
  assert_int_equal(t_issue(w->j, 2021, 1000, 1000, accts, qty), JCM_OK);
  must_ok(
      w, &T_JCS,
      "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\",\"last_day\":\"2022-12-31\","
      "\"calculated\":300}");
  must_ok(
      w, &T_JCS,
      "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\",\"last_day\":\"2023-12-31\","
      "\"calculated\":500}");
  must_ok(
      w, &T_TPE,
      "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\",\"last_day\":\"2023-12-31\","
      "\"verified\":500,\"report\":\"v2023\"}");
  must_ok(w, &T_JCS, "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM001\",\"version\":\"ver01.0\",\"title\":\"m1\"}");
  must_ok(w, NULL,
          "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM002\",\"version\":\"ver01.0\",\"title\":\"m2\",\"status\":"
          "\"approved\"}");
  must_ok(w, &T_JCS, "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM003\",\"version\":\"ver01.0\",\"title\":\"m3\"}");
  must_ok(w, &T_JCS,
          "{\"cmd\":\"decide\",\"meeting\":3,\"date\":\"2020-03-03\",\"kind\":\"methodology_rejection\",\"ref\":\"TH_"
          "AM003\","
          "\"version\":\"ver01.0\"}");
  must_ok(w, &T_JCS, "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN001\",\"title\":\"idea\",\"host\":\"THA\"}");
  must_ok(
      w, NULL,
      "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"JCM Japan-Thailand\",\"parties\":[\"JPN\",\"THA\"]}");
  must_ok(w, NULL,
          "{\"cmd\":\"project.import\",\"project\":\"JP001\",\"title\":\"Japanese\",\"host\":\"JPN\",\"status\":"
          "\"registered\","
          "\"source\":\"test\"}");
  must_ok(
      w, NULL,
      "{\"cmd\":\"project.import\",\"project\":\"TH020\",\"title\":\"Gone\",\"host\":\"THA\",\"status\":\"registered\","
      "\"source\":\"test\"}");
  must_ok(w, NULL, "{\"cmd\":\"project.withdraw\",\"project\":\"TH020\",\"reason\":\"test\"}");
  must_ok(w, NULL, "{\"cmd\":\"org.add\",\"id\":\"org-c\",\"name\":\"Org C\",\"country\":\"THA\",\"key\":\"k-org-c\"}");
  must_ok(w, NULL, "{\"cmd\":\"account.status\",\"account\":\"@R\",\"status\":\"blocked\",\"reason\":\"test\"}");
  rebase(w);
}

typedef struct rcase {
  const char *label;
  const jcm_actor *actor; /* NULL: admin */
  const char *tmpl;
  int code;
  const char *field;
} rcase;

static void run_cases(world *w, const rcase *cases, size_t n) {
  for (size_t i = 0; i < n; i++)
    refuse(w, cases[i].label, cases[i].actor, cases[i].tmpl, cases[i].code, cases[i].field);
}

#define ISSUE_2023(extra, total, alloc)                                                                                \
  "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","       \
  "\"last_day\":\"2023-12-31\"" extra ",\"total\":" total ",\"allocation\":[" alloc "]}"
#define ALLOC(acct, q) "{\"account\":\"" acct "\",\"quantity\":" q "}"
#define TRANSFER(from, to, rest) "{\"cmd\":\"transfer\",\"from\":\"" from "\",\"to\":\"" to "\"" rest "}"

/* 1xxx: the request */
static const rcase request_cases[] = {
    {"1001 not JSON", NULL, "{", C_MALFORMED, ""},
    {"1001 trailing garbage", NULL, "{\"cmd\":\"org.add\"} x", C_MALFORMED, ""},
    {"1002 cmd missing", NULL, "{\"id\":\"org-x\"}", C_MISSING, "cmd"},
    {"1002 name missing", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"country\":\"THA\"}", C_MISSING, "name"},
    {"1002 empty text", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\",\"country\":\"THA\"}", C_MISSING,
     "name"},
    {"1002 blank text", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"   \",\"country\":\"THA\"}", C_MISSING,
     "name"},
    {"1002 transfer without quantity or ranges", NULL, TRANSFER("@A", "@B", ""), C_MISSING, "quantity"},
    {"1002 coop with one Party", NULL, "{\"cmd\":\"coop.add\",\"id\":\"CA0009\",\"name\":\"c\",\"parties\":[\"JPN\"]}",
     C_MISSING, "parties"},
    {"1002 methodology without version", NULL,
     "{\"cmd\":\"project.import\",\"project\":\"TH040\",\"title\":\"t\",\"host\":\"THA\",\"status\":\"registered\","
     "\"source\":\"s\",\"methodology\":\"TH_AM002\"}",
     C_MISSING, "version"},
    {"1002 methodology decision without version", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH_"
     "AM001\"}",
     C_MISSING, "version"},
    {"1003 not an object", NULL, "[{\"cmd\":\"org.add\"}]", C_TYPE, ""},
    {"1003 cmd not text", NULL, "{\"cmd\":5}", C_TYPE, "cmd"},
    {"1003 name a number", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":5,\"country\":\"THA\"}", C_TYPE,
     "name"},
    {"1003 quantity text", NULL, TRANSFER("@A", "@B", ",\"quantity\":\"5\""), C_TYPE, "quantity"},
    {"1004 quantity 0", NULL, TRANSFER("@A", "@B", ",\"quantity\":0"), C_RANGE, "quantity"},
    {"1004 quantity 2^63", NULL, TRANSFER("@A", "@B", ",\"quantity\":9223372036854775808"), C_RANGE, "quantity"},
    {"1004 meeting 0", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":0,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
     C_RANGE, "meeting"},
    {"1004 ranges hold more than 2^63-1 units", NULL,
     TRANSFER("@A", "@B",
              ",\"ranges\":[{\"first\":1,\"last\":9223372036854775807},{\"first\":1,\"last\":5,\"origin\":"
              "\"JPN01\"}]"),
     C_RANGE, "ranges"},
    {"1005 org name 301 chars", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"@3\",\"country\":\"THA\"}",
     C_TOO_LONG, "name"},
    {"1005 account name 201 chars", NULL,
     "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"@2\"}", C_TOO_LONG, "name"},
    {"1005 reason 1001 chars", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"blocked\",\"reason\":\"@4\"}", C_TOO_LONG, "reason"},
    {"1006 unknown command", NULL, "{\"cmd\":\"account.delete\"}", C_UNKNOWN_CMD, "cmd"},
    {"1007 org id upper case", NULL, "{\"cmd\":\"org.add\",\"id\":\"Org-X\",\"name\":\"X\",\"country\":\"THA\"}",
     C_FORMAT, "id"},
    {"1007 control character", NULL,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a\\u0007b\",\"country\":\"THA\"}", C_FORMAT, "name"},
    {"1007 account id form", NULL, TRANSFER("THA01-100-1-00", "@B", ",\"quantity\":1"), C_FORMAT, "from"},
    {"1007 PIN approval naming a project", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH014\"}", C_FORMAT,
     "ref"},
    {"1007 methodology decision on a project", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH014\","
     "\"version\":\"v1\"}",
     C_FORMAT, "ref"},
    {"1008 February 30", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2021-02-30\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
     C_DATE, "date"},
    {"1008 year 1899", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"1899-12-31\",\"last_day\":\"2030-01-01\","
     "\"calculated\":1}",
     C_DATE, "first_day"},
    {"1009 key reused for another command", NULL,
     "{\"cmd\":\"org.add\",\"id\":\"org-d\",\"name\":\"Org D\",\"country\":\"THA\",\"key\":\"k-org-c\"}",
     C_IDEM_CONFLICT, "key"},
    {"1009 key reused by another actor", &T_JCS,
     "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM008\",\"version\":\"v1\",\"title\":\"t\",\"key\":\"k-org-c\"}",
     C_IDEM_CONFLICT, "key"},
    {"1010 unknown field", NULL,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"colour\":\"red\"}", C_UNKNOWN_FIELD,
     "colour"},
    {"1010 unknown nested field", NULL, ISSUE_2023("", "5", "{\"account\":\"@A\",\"quantity\":5,\"note\":1}"),
     C_UNKNOWN_FIELD, "allocation[0].note"},
    {"1011 mistyped account", NULL, TRANSFER("@M", "@B", ",\"quantity\":1"), C_CHECK_DIGITS, "from"},
    {"1011 mistyped account (status)", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@M\",\"status\":\"blocked\",\"reason\":\"r\"}", C_CHECK_DIGITS,
     "account"},
    {"1012 account type", NULL, "{\"cmd\":\"account.open\",\"type\":\"savings\",\"holder\":\"org-a\",\"name\":\"X\"}",
     C_ENUM, "type"},
    {"1012 decision kind", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"approval\",\"ref\":\"TH_PIN001\"}", C_ENUM,
     "kind"},
    {"1013 org exists", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-a\",\"name\":\"X\",\"country\":\"THA\"}", C_EXISTS,
     "id"},
    {"1013 party exists", NULL, "{\"cmd\":\"party.add\",\"code\":\"THA\",\"name_en\":\"Thailand\"}", C_EXISTS, "code"},
    {"1013 registry exists", NULL,
     "{\"cmd\":\"registry.add\",\"id\":\"THA01\",\"party\":\"THA\",\"name\":\"x\",\"role\":\"national\"}", C_EXISTS,
     "id"},
    {"1013 coop exists", NULL,
     "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"c\",\"parties\":[\"JPN\",\"THA\"]}", C_EXISTS, "id"},
    {"1013 methodology version exists", &T_JCS,
     "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM001\",\"version\":\"ver01.0\",\"title\":\"m\"}", C_EXISTS, "version"},
    {"1013 PIN exists", &T_JCS, "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN001\",\"title\":\"p\",\"host\":\"THA\"}",
     C_EXISTS, "pin"},
    {"1013 project exists", NULL,
     "{\"cmd\":\"project.import\",\"project\":\"TH014\",\"title\":\"t\",\"host\":\"THA\",\"status\":\"registered\","
     "\"source\":\"s\"}",
     C_EXISTS, "project"},
    {"1013 imported PIN exists", NULL,
     "{\"cmd\":\"project.import\",\"project\":\"TH041\",\"pin\":\"TH_PIN001\",\"title\":\"t\",\"host\":\"THA\","
     "\"status\":\"registered\",\"source\":\"s\"}",
     C_EXISTS, "pin"},
    {"1015 init twice", NULL, "{\"cmd\":\"init\",\"registry\":\"THA01\",\"party\":\"THA\",\"name\":\"again\"}",
     C_ALREADY_INITIALIZED, ""},
    {"1016 org country", NULL, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"XXX\"}",
     C_UNKNOWN_PARTY, "country"},
    {"1016 registry party", NULL,
     "{\"cmd\":\"registry.add\",\"id\":\"USA01\",\"party\":\"USA\",\"name\":\"x\",\"role\":\"national\"}",
     C_UNKNOWN_PARTY, "party"},
    {"1016 coop party", NULL, "{\"cmd\":\"coop.add\",\"id\":\"CA0009\",\"name\":\"c\",\"parties\":[\"JPN\",\"USA\"]}",
     C_UNKNOWN_PARTY, "parties"},
    {"1016 PIN host", &T_JCS, "{\"cmd\":\"pin.submit\",\"pin\":\"US_PIN001\",\"title\":\"p\",\"host\":\"USA\"}",
     C_UNKNOWN_PARTY, "host"},
    {"1016 participant side", &T_JCS,
     "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN009\",\"title\":\"p\",\"host\":\"THA\",\"participants\":[{\"org\":\"org-"
     "a\","
     "\"side\":\"USA\"}]}",
     C_UNKNOWN_PARTY, "participants"},
    {"1017 account holder", NULL,
     "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"nobody\",\"name\":\"X\"}", C_UNKNOWN_ORG, "holder"},
    {"1017 participant", &T_JCS,
     "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN009\",\"title\":\"p\",\"host\":\"THA\",\"participants\":[{\"org\":"
     "\"nobody\","
     "\"side\":\"THA\"}]}",
     C_UNKNOWN_ORG, "participants"},
    {"1018 coop Party twice", NULL,
     "{\"cmd\":\"coop.add\",\"id\":\"CA0009\",\"name\":\"c\",\"parties\":[\"JPN\",\"JPN\"]}", C_DUPLICATE, "parties"},
    {"1018 participant twice", &T_JCS,
     "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN009\",\"title\":\"p\",\"host\":\"THA\",\"participants\":[{\"org\":\"org-"
     "a\","
     "\"side\":\"THA\"},{\"org\":\"org-a\",\"side\":\"JPN\"}]}",
     C_DUPLICATE, "participants"},
    {"1018 allocation account twice", NULL, ISSUE_2023("", "10", ALLOC("@A", "5") "," ALLOC("@A", "5")), C_DUPLICATE,
     "allocation"},
    {"1019 coop with 17 Parties", NULL,
     "{\"cmd\":\"coop.add\",\"id\":\"CA0009\",\"name\":\"c\",\"parties\":[\"AAA\",\"AAB\",\"AAC\",\"AAD\",\"AAE\","
     "\"AAF\","
     "\"AAG\",\"AAH\",\"AAI\",\"AAJ\",\"AAK\",\"AAL\",\"AAM\",\"AAN\",\"AAO\",\"AAP\",\"AAQ\"]}",
     C_TOO_MANY, "parties"},
    {"1020 PIN coop", &T_JCS,
     "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN009\",\"title\":\"p\",\"host\":\"THA\",\"coop\":\"NOPE-1\"}",
     C_UNKNOWN_COOP, "coop"},
    {"1020 issue coop", NULL, ISSUE_2023(",\"coop\":\"NOPE-1\"", "5", ALLOC("@A", "5")), C_UNKNOWN_COOP, "coop"},
    {"1020 decide coop", &T_JCS,
     "{\"cmd\":\"decide\",\"coop\":\"NOPE-1\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\","
     "\"ref\":\"TH_PIN001\"}",
     C_UNKNOWN_COOP, "coop"},
    {"1021 status of an unknown account", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@N\",\"status\":\"blocked\",\"reason\":\"r\"}", C_UNKNOWN_ACCOUNT,
     "account"},
};

/* account status rules */
static const rcase status_cases[] = {
    {"1022 open -> open", NULL, "{\"cmd\":\"account.status\",\"account\":\"@B\",\"status\":\"open\",\"reason\":\"r\"}",
     C_STATUS_CHANGE, "status"},
    {"1022 blocked -> blocked", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@K\",\"status\":\"blocked\",\"reason\":\"r\"}", C_STATUS_CHANGE,
     "status"},
    {"1022 closed -> open", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@Z\",\"status\":\"open\",\"reason\":\"r\"}", C_STATUS_CHANGE, "status"},
    {"1022 closed -> blocked", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@Z\",\"status\":\"blocked\",\"reason\":\"r\"}", C_STATUS_CHANGE,
     "status"},
    {"1022 closed -> closed", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@Z\",\"status\":\"closed\",\"reason\":\"r\"}", C_STATUS_CHANGE,
     "status"},
    {"1022 closing an account holding units", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"closed\",\"reason\":\"r\"}", C_STATUS_CHANGE,
     "status"},
    {"1022 closing the government account holding units", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@G\",\"status\":\"closed\",\"reason\":\"r\"}", C_STATUS_CHANGE,
     "status"},
    {"1012 status value", NULL,
     "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"frozen\",\"reason\":\"r\"}", C_ENUM, "status"},
    {"8001 holder blocks an account", &HOLDER_A,
     "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"blocked\",\"reason\":\"r\"}", C_ROLE, "role"},
};

/* 2xxx, 3xxx, 4xxx: moving units */
static const rcase unit_cases[] = {
    {"2001 unknown source", NULL, TRANSFER("@N", "@B", ",\"quantity\":1"), C_SRC_UNKNOWN, "from"},
    {"2002 blocked source", NULL, TRANSFER("@K", "@B", ",\"quantity\":1"), C_SRC_NOT_OPEN, "from"},
    {"2002 closed source", NULL, TRANSFER("@Z", "@B", ",\"quantity\":1"), C_SRC_NOT_OPEN, "from"},
    {"2003 units leave a cancellation account", NULL, TRANSFER("@C", "@B", ",\"quantity\":1"), C_SRC_TYPE, "from"},
    {"2003 units leave a pending account", NULL, TRANSFER("@P", "@B", ",\"quantity\":1"), C_SRC_TYPE, "from"},
    {"2004 foreign source", NULL, TRANSFER("@F", "@B", ",\"quantity\":1"), C_SRC_FOREIGN, "from"},
    {"3001 unknown destination", NULL, TRANSFER("@A", "@N", ",\"quantity\":1"), C_DST_UNKNOWN, "to"},
    {"3002 blocked destination", NULL, TRANSFER("@A", "@K", ",\"quantity\":1"), C_DST_NOT_OPEN, "to"},
    {"3002 closed destination", NULL, TRANSFER("@A", "@Z", ",\"quantity\":1"), C_DST_NOT_OPEN, "to"},
    {"3002 blocked retirement account", NULL, "{\"cmd\":\"retire\",\"from\":\"@A\",\"to\":\"@R\",\"quantity\":1}",
     C_DST_NOT_OPEN, "to"},
    {"3003 transfer into a cancellation account", NULL, TRANSFER("@A", "@C", ",\"quantity\":1"), C_DST_TYPE, "to"},
    {"3003 cancel into a holding account", NULL,
     "{\"cmd\":\"cancel\",\"from\":\"@A\",\"kind\":\"voluntary\",\"reason\":\"r\",\"to\":\"@B\",\"quantity\":1}",
     C_DST_TYPE, "to"},
    {"3004 same account", NULL, TRANSFER("@A", "@A", ",\"quantity\":1"), C_DST_SAME, "to"},
    {"3005 foreign destination", NULL, TRANSFER("@A", "@F", ",\"quantity\":1"), C_DST_FOREIGN, "to"},
    {"3006 no open retirement account", NULL, "{\"cmd\":\"retire\",\"from\":\"@A\",\"quantity\":1}", C_DST_NONE, "to"},
    {"4001 more than held", NULL, TRANSFER("@A", "@B", ",\"quantity\":401"), C_INSUFFICIENT, "quantity"},
    {"4001 2^63-1 units", NULL, TRANSFER("@A", "@B", ",\"quantity\":9223372036854775807"), C_INSUFFICIENT, "quantity"},
    {"4001 none of that vintage", NULL, TRANSFER("@A", "@B", ",\"quantity\":1,\"vintage\":2020"), C_INSUFFICIENT,
     "quantity"},
    {"4001 none of that project", NULL, TRANSFER("@A", "@B", ",\"quantity\":1,\"project\":\"TH099\""), C_INSUFFICIENT,
     "quantity"},
    {"4001 empty account", NULL, TRANSFER("@B", "@A", ",\"quantity\":1"), C_INSUFFICIENT, "quantity"},
    {"4002 serials of another account", NULL, TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":1,\"last\":1}]"),
     C_NOT_HELD, "ranges"},
    {"4002 range running past the holding", NULL, TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":990,\"last\":1001}]"),
     C_NOT_HELD, "ranges"},
    {"4002 serials never issued", NULL,
     TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":9223372036854775000,\"last\":9223372036854775807}]"), C_NOT_HELD,
     "ranges"},
    {"4002 serials of another origin", NULL,
     TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":601,\"last\":601,\"origin\":\"JPN01\"}]"), C_NOT_HELD, "ranges"},
    /* first = last + 1: see also regression_inverted_range_code */
    {"4004 inverted range", NULL, TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":602,\"last\":601}]"), C_BAD_RANGE,
     "ranges"},
    {"4005 quantity is not the ranges'", NULL,
     TRANSFER("@A", "@B", ",\"quantity\":5,\"ranges\":[{\"first\":601,\"last\":610}]"), C_QTY_MISMATCH, "quantity"},
    {"4007 overlapping ranges", NULL,
     TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":601,\"last\":610},{\"first\":605,\"last\":620}]"), C_OVERLAP,
     "ranges"},
    {"4007 a range twice", NULL,
     TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":601,\"last\":601},{\"first\":601,\"last\":601}]"), C_OVERLAP,
     "ranges"},
    {"8002 holder moves another holder's units", &HOLDER_B, TRANSFER("@A", "@B", ",\"quantity\":1"), C_NOT_HOLDER,
     "from"},
    {"8002 holder cancels another holder's units", &HOLDER_B,
     "{\"cmd\":\"cancel\",\"from\":\"@A\",\"kind\":\"voluntary\",\"reason\":\"r\",\"quantity\":1}", C_NOT_HOLDER,
     "from"},
    {"8002 holder retires another holder's units", &HOLDER_B, "{\"cmd\":\"retire\",\"from\":\"@A\",\"quantity\":1}",
     C_NOT_HOLDER, "from"},
    {"8002 holder moves the government's units", &HOLDER_A, TRANSFER("@G", "@A", ",\"quantity\":1"), C_NOT_HOLDER,
     "from"},
};

/* 5xxx: issuance and the project cycle on the populated store */
static const rcase cycle_cases[] = {
    {"5001 monitoring of an unknown project", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH099\",\"first_day\":\"2024-01-01\",\"last_day\":\"2024-12-31\","
     "\"calculated\":1}",
     C_UNKNOWN_PROJECT, "project"},
    {"5001 issue for an unknown project", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH099\",\"first_day\":\"2023-01-01\","
     "\"last_day\":\"2023-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_UNKNOWN_PROJECT, "project"},
    {"5001 approval of an unknown PIN", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN099\"}",
     C_UNKNOWN_PROJECT, "ref"},
    {"5001 withdraw an unknown project", NULL, "{\"cmd\":\"project.withdraw\",\"project\":\"TH099\",\"reason\":\"r\"}",
     C_UNKNOWN_PROJECT, "project"},
    {"5002 register a registered project", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"project_registration\",\"ref\":\"TH014\"}",
     C_PROJECT_STATUS, "ref"},
    {"5002 validate a registered project", &T_TPE,
     "{\"cmd\":\"project.validate\",\"project\":\"TH014\",\"report\":\"v\"}", C_PROJECT_STATUS, "project"},
    {"5002 PDD of a PIN not approved", &T_JCS,
     "{\"cmd\":\"project.pdd\",\"pin\":\"TH_PIN001\",\"project\":\"TH031\",\"methodology\":\"TH_AM002\","
     "\"version\":\"ver01.0\"}",
     C_PROJECT_STATUS, "pin"},
    {"5002 issue for a withdrawn project", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH020\",\"first_day\":\"2023-01-01\","
     "\"last_day\":\"2023-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_PROJECT_STATUS, "project"},
    {"5002 monitoring of a withdrawn project", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH020\",\"first_day\":\"2024-01-01\",\"last_day\":\"2024-12-31\","
     "\"calculated\":1}",
     C_PROJECT_STATUS, "project"},
    {"5002 withdraw twice", NULL, "{\"cmd\":\"project.withdraw\",\"project\":\"TH020\",\"reason\":\"r\"}",
     C_PROJECT_STATUS, "project"},
    {"5002 verify an issued period", &T_TPE,
     "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\",\"last_day\":\"2021-12-31\","
     "\"verified\":1,\"report\":\"r\"}",
     C_PROJECT_STATUS, "first_day"},
    {"5002 verify a verified period", &T_TPE,
     "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\",\"last_day\":\"2023-12-31\","
     "\"verified\":1,\"report\":\"r\"}",
     C_PROJECT_STATUS, "first_day"},
    {"5003 approve an unknown methodology", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH_AM099\","
     "\"version\":\"ver01.0\"}",
     C_UNKNOWN_METHODOLOGY, "ref"},
    {"5003 approve an unknown version", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH_AM001\","
     "\"version\":\"ver02.0\"}",
     C_UNKNOWN_METHODOLOGY, "ref"},
    {"5003 import with an unknown methodology", NULL,
     "{\"cmd\":\"project.import\",\"project\":\"TH040\",\"title\":\"t\",\"host\":\"THA\",\"status\":\"registered\","
     "\"source\":\"s\",\"methodology\":\"TH_AM099\",\"version\":\"v1\"}",
     C_UNKNOWN_METHODOLOGY, "methodology"},
    {"5004 approve an approved methodology", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH_AM002\","
     "\"version\":\"ver01.0\"}",
     C_METHODOLOGY_STATUS, "ref"},
    {"5004 approve a rejected methodology", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"methodology_approval\",\"ref\":\"TH_AM003\","
     "\"version\":\"ver01.0\"}",
     C_METHODOLOGY_STATUS, "ref"},
    {"5005 overlapping period", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2021-06-01\",\"last_day\":\"2021-06-30\","
     "\"calculated\":1}",
     C_PERIOD_OVERLAP, "first_day"},
    {"5005 period spanning two", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2020-01-01\",\"last_day\":\"2024-12-31\","
     "\"calculated\":1}",
     C_PERIOD_OVERLAP, "first_day"},
    {"5006 issue for a period not verified", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\","
     "\"last_day\":\"2022-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_PERIOD_NOT_VERIFIED, "first_day"},
    {"5007 issue twice for a period", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\","
     "\"last_day\":\"2021-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_PERIOD_ISSUED, "first_day"},
    {"5008 more than verified", NULL, ISSUE_2023("", "501", ALLOC("@A", "501")), C_OVER_VERIFIED, "total"},
    {"5009 allocation short of the total", NULL, ISSUE_2023("", "500", ALLOC("@A", "499")), C_ALLOCATION_SUM,
     "allocation"},
    {"5009 allocation over the total", NULL, ISSUE_2023("", "10", ALLOC("@A", "5") "," ALLOC("@G", "6")),
     C_ALLOCATION_SUM, "allocation"},
    {"5009 allocation adding up past 2^63-1", NULL,
     ISSUE_2023("", "10", ALLOC("@A", "9223372036854775807") "," ALLOC("@G", "9223372036854775807")), C_ALLOCATION_SUM,
     "allocation"},
    {"3001 issue to an unknown account", NULL, ISSUE_2023("", "5", ALLOC("@N", "5")), C_DST_UNKNOWN, "allocation"},
    {"3002 issue to a closed account", NULL, ISSUE_2023("", "5", ALLOC("@Z", "5")), C_DST_NOT_OPEN, "allocation"},
    {"3002 issue to a blocked account", NULL, ISSUE_2023("", "5", ALLOC("@K", "5")), C_DST_NOT_OPEN, "allocation"},
    {"3003 issue to a cancellation account", NULL, ISSUE_2023("", "5", ALLOC("@C", "5")), C_DST_TYPE, "allocation"},
    {"3003 issue to a pending account", NULL, ISSUE_2023("", "5", ALLOC("@P", "5")), C_DST_TYPE, "allocation"},
    {"5010 issue for an unknown period", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH014\",\"first_day\":\"2019-01-01\","
     "\"last_day\":\"2019-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_UNKNOWN_PERIOD, "first_day"},
    {"5010 issue for a period with another end", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
     "\"last_day\":\"2023-06-30\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_UNKNOWN_PERIOD, "first_day"},
    {"5010 verify an unknown period", &T_TPE,
     "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2019-01-01\",\"last_day\":\"2019-12-31\","
     "\"verified\":1,\"report\":\"r\"}",
     C_UNKNOWN_PERIOD, "first_day"},
    {"5011 verified over calculated", &T_TPE,
     "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\",\"last_day\":\"2022-12-31\","
     "\"verified\":301,\"report\":\"r\"}",
     C_VERIFIED_OVER_CALCULATED, "verified"},
    {"1024 ranges with a project filter", NULL,
     "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":1,\"last\":2}],\"project\":\"TH014\"}",
     C_CONFLICT, "project"},
    {"1024 ranges with a vintage filter", NULL,
     "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":1,\"last\":2}],\"vintage\":2021}",
     C_CONFLICT, "vintage"},
    {"3005 issuance to another registry's account", NULL,
     ISSUE_2023("", "5", "{\"account\":\"JPN01-110-000001-46\",\"quantity\":5}"), C_DST_FOREIGN, "allocation"},
    {"5017 calculated disagrees with electricity x factor", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2031-01-01\",\"last_day\":\"2031-12-31\","
     "\"calculated\":3603,\"electricity_mwh\":\"7105.25\",\"emission_factor\":\"0.5070\"}",
     C_CALCULATION, "calculated"},
    {"1002 electricity without a factor", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2031-01-01\",\"last_day\":\"2031-12-31\","
     "\"electricity_mwh\":\"7105.25\"}",
     C_MISSING, "emission_factor"},
    {"1002 neither calculated nor monitored data", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2031-01-01\",\"last_day\":\"2031-12-31\"}",
     C_MISSING, "calculated"},
    {"1007 electricity with four decimals", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2031-01-01\",\"last_day\":\"2031-12-31\","
     "\"electricity_mwh\":\"7105.2501\",\"emission_factor\":\"0.5\"}",
     C_FORMAT, "electricity_mwh"},
    {"5012 period ending before it starts", &T_JCS,
     "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2030-12-31\",\"last_day\":\"2030-01-01\","
     "\"calculated\":1}",
     C_PERIOD_DATES, "last_day"},
    {"5013 vintage before the period", NULL, ISSUE_2023(",\"vintage\":2020", "500", ALLOC("@A", "500")), C_VINTAGE,
     "vintage"},
    {"5013 vintage after the period", NULL, ISSUE_2023(",\"vintage\":2024", "500", ALLOC("@A", "500")), C_VINTAGE,
     "vintage"},
    {"5014 issuance decided with decide", &T_JCS,
     "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01\",\"kind\":\"issuance\",\"ref\":\"TH014\"}",
     C_DECISION_KIND, "kind"},
    {"5015 issue for a project hosted by Japan", NULL,
     "{\"cmd\":\"issue\",\"meeting\":8,\"date\":\"2024-06-01\",\"project\":\"JP001\",\"first_day\":\"2023-01-01\","
     "\"last_day\":\"2023-12-31\",\"total\":5,\"allocation\":[" ALLOC("@A", "5") "]}",
     C_FOREIGN_PROJECT, "project"},
    {"5016 PIN id of another host", &T_JCS,
     "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN060\",\"title\":\"p\",\"host\":\"JPN\"}", C_PREFIX, "pin"},
    {"5016 imported project id of another host", NULL,
     "{\"cmd\":\"project.import\",\"project\":\"JP002\",\"title\":\"t\",\"host\":\"THA\",\"status\":\"registered\","
     "\"source\":\"s\"}",
     C_PREFIX, "project"},
};

/* 8xxx: who may do what */
static const rcase permission_cases[] = {
    {"8001 auditor adds an organisation", &T_AUDITOR,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}", C_ROLE, "role"},
    {"8001 tpe issues", &T_TPE, ISSUE_2023("", "5", ALLOC("@A", "5")), C_ROLE, "role"},
    {"8001 tpe opens an account", &T_TPE,
     "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"X\"}", C_ROLE, "role"},
    {"8001 holder opens an account", &HOLDER_A,
     "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"X\"}", C_ROLE, "role"},
    {"8001 admin files a validation report", NULL,
     "{\"cmd\":\"project.validate\",\"project\":\"TH014\",\"report\":\"v\"}", C_ROLE, "role"},
    {"8001 secretariat records a methodology approved elsewhere", &T_JCS,
     "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM008\",\"version\":\"v1\",\"title\":\"t\",\"status\":\"approved\"}",
     C_ROLE, "status"},
    {"8001 actor without a name", &NAMELESS,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}", C_ROLE, "actor"},
    {"8001 actor with a NULL name", &NULL_NAME,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}", C_ROLE, "actor"},
    {"8003 unknown role", &BAD_ROLE, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}",
     C_UNKNOWN_ROLE, "role"},
    {"8003 NULL role", &NULL_ROLE, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}",
     C_UNKNOWN_ROLE, "role"},
    {"8004 the first user a holder", NULL,
     "{\"cmd\":\"user.add\",\"name\":\"h\",\"role\":\"holder\",\"org\":\"org-a\"}", C_FIRST_USER, "role"},
    {"1026 a token for an unknown user", NULL,
     "{\"cmd\":\"token.create\",\"user\":\"nobody\",\"id\":\"0123456789abcdef\"}", C_UNKNOWN_USER, "user"},
    {"8003 role names are case-sensitive", &CASE_ROLE,
     "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}", C_UNKNOWN_ROLE, "role"},
};

/* ---- tests ---- */

/* 61xx: corresponding adjustments. The store has no NDC at first; the
 * cases that need one set it, report 2021 and finalize it (tests/test_adjust.c
 * covers the figures). */
#define NDC(party, kind, first, last, method)                                                                          \
  "{\"cmd\":\"ndc.set\",\"party\":\"" party "\",\"kind\":\"" kind "\",\"first_year\":" first ",\"last_year\":" last    \
  ",\"method\":\"" method "\"}"
#define FINALIZE(year) "{\"cmd\":\"year.finalize\",\"party\":\"THA\",\"year\":" year "}"
static const rcase a6_cases[] = {
    {"6101 NDC of another Party", NULL, NDC("JPN", "single-year", "2021", "2030", "trajectory"), C_FOREIGN_PARTY,
     "party"},
    {"6101 emissions of another Party", NULL,
     "{\"cmd\":\"emissions.report\",\"party\":\"JPN\",\"year\":2021,\"quantity\":1}", C_FOREIGN_PARTY, "party"},
    {"1016 NDC of an unknown Party", NULL, NDC("XXX", "single-year", "2021", "2030", "trajectory"), C_UNKNOWN_PARTY,
     "party"},
    {"6102 finalize without an NDC", NULL, FINALIZE("2021"), C_NO_NDC, "party"},
    {"6103 inverted NDC period", NULL, NDC("THA", "multi-year", "2030", "2021", "trajectory"), C_NDC_PERIOD,
     "last_year"},
    {"6104 averaging for a multi-year NDC", NULL, NDC("THA", "multi-year", "2021", "2030", "averaging"), C_NDC_METHOD,
     "method"},
    {"6104 budget for a single-year NDC", NULL, NDC("THA", "single-year", "2021", "2030", "multi-year budget"),
     C_NDC_METHOD, "method"},
    {"8001 NDC by the secretariat", &T_JCS, NDC("THA", "single-year", "2021", "2030", "trajectory"), C_ROLE, "role"},
};
static const rcase a6_ndc_cases[] = {
    {"6105 finalize a year after the period", NULL, FINALIZE("2031"), C_YEAR_OUTSIDE_NDC, "year"},
    {"6107 finalize a year without emissions", NULL, FINALIZE("2021"), C_NO_EMISSIONS, "year"},
};

static void a6_refusals(world *w) {
  run_cases(w, a6_cases, sizeof a6_cases / sizeof a6_cases[0]);
  refuse_query(w, "6102 balance of a Party without NDC", "a6.balance", "{\"party\":\"JPN\"}", C_NO_NDC, "party");
  must_ok(w, NULL, NDC("THA", "single-year", "2021", "2030", "trajectory"));
  rebase(w);
  run_cases(w, a6_ndc_cases, sizeof a6_ndc_cases / sizeof a6_ndc_cases[0]);
  must_ok(w, NULL, "{\"cmd\":\"emissions.report\",\"party\":\"THA\",\"year\":2021,\"quantity\":5}");
  must_ok(w, NULL, FINALIZE("2021"));
  rebase(w);
  refuse(w, "6106 finalize twice with nothing changed", NULL, FINALIZE("2021"), C_FINAL_UNCHANGED, "year");
}

/* Four eyes: a transfer from the government account waits for a second
 * administrator; its units are reserved meanwhile. */
static const jcm_actor ADMIN_2 = {"test-admin-2", "admin"};
static const jcm_actor TGO = {"tgo", "holder"};
#define TX_CMD(cmd, tx, rest) "{\"cmd\":\"" cmd "\",\"tx\":\"" tx "\"" rest "}"
static const rcase held_cases[] = {
    {"8007 the proposer approves its own transaction", NULL, TX_CMD("tx.approve", "@H", ""), C_SECOND_APPROVER, "tx"},
    {"8008 a holder withdraws another's transaction", &TGO, TX_CMD("tx.cancel", "@H", ",\"reason\":\"r\""),
     C_NOT_PROPOSER, "tx"},
    {"8001 a holder approves", &TGO, TX_CMD("tx.approve", "@H", ""), C_ROLE, "role"},
    {"8001 a holder rejects", &TGO, TX_CMD("tx.reject", "@H", ",\"reason\":\"r\""), C_ROLE, "role"},
    {"8001 an auditor approves", &T_AUDITOR, TX_CMD("tx.approve", "@H", ""), C_ROLE, "role"},
    {"1023 approve an unknown transaction", &ADMIN_2, TX_CMD("tx.approve", "THA01-T-999999", ""), C_UNKNOWN_TX, "tx"},
    {"1002 reject without a reason", NULL, TX_CMD("tx.reject", "@H", ""), C_MISSING, "reason"},
    {"1007 approve a malformed id", &ADMIN_2, TX_CMD("tx.approve", "THA01-Q-000001", ""), C_FORMAT, "tx"},
    {"4003 a held serial named by range", NULL, TRANSFER("@G", "@B", ",\"ranges\":[{\"first\":@S,\"last\":@S}]"),
     C_RESERVED, "ranges"},
    {"4001 held units are not there to take by quantity", NULL, TRANSFER("@G", "@B", ",\"quantity\":600"),
     C_INSUFFICIENT, "quantity"},
    {"4003 a held serial cancelled by range", NULL,
     "{\"cmd\":\"cancel\",\"from\":\"@G\",\"kind\":\"other\",\"reason\":\"r\",\"ranges\":[{\"first\":@S,\"last\":@S}]}",
     C_RESERVED, "ranges"},
};
static const rcase decided_cases[] = {
    {"1027 approve twice", &ADMIN_2, TX_CMD("tx.approve", "@H", ""), C_NOT_AWAITING, "tx"},
    {"1027 reject an approved transaction", NULL, TX_CMD("tx.reject", "@H", ",\"reason\":\"r\""), C_NOT_AWAITING, "tx"},
    {"1027 withdraw an approved transaction", NULL, TX_CMD("tx.cancel", "@H", ",\"reason\":\"r\""), C_NOT_AWAITING,
     "tx"},
};

static void four_eyes_refusals(world *w) {
  json_t *r = must(w, NULL, TRANSFER("@G", "@B", ",\"quantity\":5"));
  json_t *res = json_object_get(r, "result");
  assert_string_equal(json_string_value(json_object_get(res, "status")), "awaiting approval");
  snprintf(w->held, sizeof w->held, "%s", json_string_value(json_object_get(res, "tx")));
  json_t *first = json_object_get(json_array_get(json_object_get(res, "ranges"), 0), "first");
  snprintf(w->held_serial, sizeof w->held_serial, "%lld", (long long)json_integer_value(first));
  json_decref(r);
  rebase(w);
  run_cases(w, held_cases, sizeof held_cases / sizeof held_cases[0]);
  must_ok(w, &ADMIN_2, TX_CMD("tx.approve", "@H", ""));
  rebase(w);
  run_cases(w, decided_cases, sizeof decided_cases / sizeof decided_cases[0]);
}

/* The lifecycle of users (lib/users.c). Through jcm_submit (no secret)
 * user.password is refused before its checks; tests/test_users.c changes
 * passwords (8009 included) through jcm_submit_secret. */
static const jcm_actor ROOT = {"root", "admin"}, HOLD = {"org-a/hold", "holder"};
static const rcase user_cases[] = {
    {"1026 disable an unknown user", NULL, "{\"cmd\":\"user.disable\",\"name\":\"nobody\"}", C_UNKNOWN_USER, "name"},
    {"1028 disable a disabled user", NULL, "{\"cmd\":\"user.disable\",\"name\":\"gone\"}", C_ALREADY, "name"},
    {"1028 enable an enabled user", NULL, "{\"cmd\":\"user.enable\",\"name\":\"hold\"}", C_ALREADY, "name"},
    {"8010 the last enabled administrator", &ROOT, "{\"cmd\":\"user.disable\",\"name\":\"root\"}", C_LAST_ADMIN,
     "name"},
    {"8001 a holder disables", &HOLD, "{\"cmd\":\"user.disable\",\"name\":\"gone\"}", C_ROLE, "role"},
    {"1002 user.password without its secret", NULL, "{\"cmd\":\"user.password\",\"name\":\"hold\"}", C_MISSING,
     "password"},
    {"1010 user.password takes no key", NULL, "{\"cmd\":\"user.password\",\"name\":\"hold\",\"key\":\"k\"}",
     C_UNKNOWN_FIELD, "key"},
    {"1029 revoke an unknown token", NULL, "{\"cmd\":\"token.revoke\",\"id\":\"00000000000000ff\"}", C_UNKNOWN_TOKEN,
     "id"},
    {"1028 revoke a revoked token", NULL, "{\"cmd\":\"token.revoke\",\"id\":\"00000000000000bb\"}", C_ALREADY, "id"},
    {"8011 a holder revokes another's token", &HOLD, "{\"cmd\":\"token.revoke\",\"id\":\"00000000000000cc\"}",
     C_NOT_OWNER, "id"},
    {"8011 a holder revokes an unknown token (alike)", &HOLD, "{\"cmd\":\"token.revoke\",\"id\":\"00000000000000ff\"}",
     C_NOT_OWNER, "id"},
};

static void user_refusals(world *w) {
  static const char *const setup[] = {
      "{\"cmd\":\"user.add\",\"name\":\"root\",\"role\":\"admin\"}",
      "{\"cmd\":\"user.add\",\"name\":\"hold\",\"role\":\"holder\",\"org\":\"org-a\"}",
      "{\"cmd\":\"user.add\",\"name\":\"gone\",\"role\":\"tpe\"}",
      "{\"cmd\":\"user.disable\",\"name\":\"gone\"}",
      "{\"cmd\":\"token.create\",\"user\":\"hold\",\"id\":\"00000000000000aa\"}",
      "{\"cmd\":\"token.create\",\"user\":\"hold\",\"id\":\"00000000000000bb\"}",
      "{\"cmd\":\"token.revoke\",\"id\":\"00000000000000bb\"}",
      "{\"cmd\":\"token.create\",\"user\":\"root\",\"id\":\"00000000000000cc\"}",
  };
  for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
    must_ok(w, NULL, setup[i]);
  rebase(w);
  run_cases(w, user_cases, sizeof user_cases / sizeof user_cases[0]);
}

static void populated_store_refusals(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-populated");
  populate(&w);
  run_cases(&w, request_cases, sizeof request_cases / sizeof request_cases[0]);
  run_cases(&w, status_cases, sizeof status_cases / sizeof status_cases[0]);
  run_cases(&w, unit_cases, sizeof unit_cases / sizeof unit_cases[0]);
  run_cases(&w, cycle_cases, sizeof cycle_cases / sizeof cycle_cases[0]);
  run_cases(&w, permission_cases, sizeof permission_cases / sizeof permission_cases[0]);
  /* an actor's name longer than 128 characters */
  char longname[130];
  fill(longname, 129, 'n');
  jcm_actor verbose = {longname, "admin"};
  refuse(&w, "8001 actor name of 129 characters", &verbose,
         "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}", C_ROLE, "actor");
  /* the same refusals leave the holder's own commands possible */
  must_ok(&w, &HOLDER_A, TRANSFER("@A", "@B", ",\"quantity\":1"));
  rebase(&w);
  refuse(&w, "8002 holder B after a transfer", &HOLDER_B, TRANSFER("@A", "@B", ",\"quantity\":1"), C_NOT_HOLDER,
         "from");
  a6_refusals(&w);
  four_eyes_refusals(&w);
  user_refusals(&w); /* after the permission cases: 8004 wants a store without users */
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Every command, by every role it does not allow: 8001 with field "role". */
static void every_command_every_forbidden_role(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-roles");
  populate(&w);
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    const char *tmpl = sample(specs[i].name);
    if (!tmpl) fprintf(stderr, "no sample command for %s\n", specs[i].name);
    assert_non_null(tmpl);
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
      if (specs[i].roles & roles[r].bit) continue;
      jcm_actor actor = {roles[r].bit == R_HOLDER ? "org-a" : "someone", roles[r].role};
      char label[96];
      snprintf(label, sizeof label, "8001 %s by %s", specs[i].name, roles[r].role);
      refuse(&w, label, &actor, tmpl, C_ROLE, "role");
    }
  }
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* A store that was never initialized refuses everything but init (1014). */
static void uninitialized_store(void **state) {
  (void)state;
  world w;
  memset(&w, 0, sizeof w);
  t_db_path(w.path, sizeof w.path, "checks-uninit");
  w.j = t_open(w.path);
  make_account("THA01", 100, 1, w.a.hold_a);
  make_account("THA01", 100, 2, w.a.hold_b);
  assert_true(jcm_account_id_valid(w.a.hold_a));
  assert_true(jcm_account_id_valid(w.a.hold_b));
  rebase(&w);
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(specs[i].name, "init") == 0) continue;
    size_t r = 0;
    while (!(specs[i].roles & roles[r].bit))
      r++;
    jcm_actor actor = {roles[r].bit == R_HOLDER ? "org-a" : "someone", roles[r].role};
    char label[96];
    snprintf(label, sizeof label, "1014 %s before init", specs[i].name);
    refuse(&w, label, &actor, sample(specs[i].name), C_NOT_INITIALIZED, "");
  }
  refuse(&w, "1016 init for a Party that is not a partner", NULL,
         "{\"cmd\":\"init\",\"registry\":\"USA01\",\"party\":\"USA\",\"name\":\"x\"}", C_UNKNOWN_PARTY, "party");
  refuse(&w, "1007 init registry id of another Party", NULL,
         "{\"cmd\":\"init\",\"registry\":\"JPN01\",\"party\":\"THA\",\"name\":\"x\"}", C_FORMAT, "registry");
  refuse(&w, "8001 init by the secretariat", &T_JCS, sample("init"), C_ROLE, "role");
  /* a refused init leaves the store uninitialized: the next command is still 1014 */
  refuse(&w, "1014 after a refused init", NULL, sample("org.add"), C_NOT_INITIALIZED, "");
  int failures = w.failures;
  print_message("%d cases, %d failed\n", w.cases, w.failures);
  jcm_close(w.j);
  free(w.base);
  assert_int_equal(failures, 0);
}

/* The project cycle, each step tried out of order at every stage. */
#define PIN_SUBMIT "{\"cmd\":\"pin.submit\",\"pin\":\"TH_PIN002\",\"title\":\"Solar\",\"host\":\"THA\"}"
#define PIN_APPROVE                                                                                                    \
  "{\"cmd\":\"decide\",\"meeting\":10,\"date\":\"2024-01-10\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN002\"}"
#define PDD_WITH(project, m)                                                                                           \
  "{\"cmd\":\"project.pdd\",\"pin\":\"TH_PIN002\",\"project\":\"" project "\",\"methodology\":\"" m                    \
  "\",\"version\":\"ver01.0\"}"
#define PDD PDD_WITH("TH022", "TH_AM002")
#define VALIDATE "{\"cmd\":\"project.validate\",\"project\":\"TH022\",\"report\":\"validation TH022\"}"
#define REGISTER                                                                                                       \
  "{\"cmd\":\"decide\",\"meeting\":11,\"date\":\"2024-03-01\",\"kind\":\"project_registration\",\"ref\":\"TH022\"}"
#define MON_SUBMIT                                                                                                     \
  "{\"cmd\":\"monitoring.submit\",\"project\":\"TH022\",\"first_day\":\"2024-01-01\",\"last_day\":\"2024-12-31\","     \
  "\"calculated\":1000}"
#define MON_VERIFY_N(n)                                                                                                \
  "{\"cmd\":\"monitoring.verify\",\"project\":\"TH022\",\"first_day\":\"2024-01-01\",\"last_day\":\"2024-12-31\","     \
  "\"verified\":" n ",\"report\":\"verification TH022\"}"
#define MON_VERIFY MON_VERIFY_N("1000")
#define ISSUE_N(n)                                                                                                     \
  "{\"cmd\":\"issue\",\"meeting\":12,\"date\":\"2025-02-01\",\"project\":\"TH022\",\"first_day\":\"2024-01-01\","      \
  "\"last_day\":\"2024-12-31\",\"total\":" n ",\"allocation\":[{\"account\":\"@A\",\"quantity\":" n "}]}"
#define ISSUE ISSUE_N("1000")
#define WITHDRAW "{\"cmd\":\"project.withdraw\",\"project\":\"TH022\",\"reason\":\"ended\"}"

static const struct {
  const jcm_actor *actor;
  const char *tmpl;
} cycle_steps[] = {
    {&T_JCS, PIN_SUBMIT}, {&T_JCS, PIN_APPROVE}, {&T_JCS, PDD},     {&T_TPE, VALIDATE}, {&T_JCS, REGISTER},
    {&T_JCS, MON_SUBMIT}, {&T_TPE, MON_VERIFY},  {&T_ADMIN, ISSUE}, {&T_JCS, WITHDRAW},
};

static const struct {
  int stage; /* the number of cycle_steps done before this case */
  rcase c;
} cycle_order_cases[] = {
    {0, {"stage 0: approve a PIN not submitted", &T_JCS, PIN_APPROVE, C_UNKNOWN_PROJECT, "ref"}},
    {0, {"stage 0: PDD", &T_JCS, PDD, C_UNKNOWN_PROJECT, "pin"}},
    {0, {"stage 0: validate", &T_TPE, VALIDATE, C_UNKNOWN_PROJECT, "project"}},
    {0, {"stage 0: register", &T_JCS, REGISTER, C_UNKNOWN_PROJECT, "ref"}},
    {0, {"stage 0: monitoring", &T_JCS, MON_SUBMIT, C_UNKNOWN_PROJECT, "project"}},
    {0, {"stage 0: verification", &T_TPE, MON_VERIFY, C_UNKNOWN_PROJECT, "project"}},
    {0, {"stage 0: issue", NULL, ISSUE, C_UNKNOWN_PROJECT, "project"}},
    {1, {"stage pin: submit again", &T_JCS, PIN_SUBMIT, C_EXISTS, "pin"}},
    {1, {"stage pin: PDD", &T_JCS, PDD, C_PROJECT_STATUS, "pin"}},
    {1, {"stage pin: validate", &T_TPE, VALIDATE, C_UNKNOWN_PROJECT, "project"}},
    {1, {"stage pin: register", &T_JCS, REGISTER, C_UNKNOWN_PROJECT, "ref"}},
    {1,
     {"stage pin: register the PIN", &T_JCS,
      "{\"cmd\":\"decide\",\"meeting\":11,\"date\":\"2024-03-01\",\"kind\":\"project_registration\",\"ref\":\"TH_"
      "PIN002\"}",
      C_FORMAT, "ref"}},
    {1, {"stage pin: monitoring", &T_JCS, MON_SUBMIT, C_UNKNOWN_PROJECT, "project"}},
    {1, {"stage pin: issue", NULL, ISSUE, C_UNKNOWN_PROJECT, "project"}},
    {2, {"stage pin_approved: approve again", &T_JCS, PIN_APPROVE, C_PROJECT_STATUS, "ref"}},
    {2,
     {"stage pin_approved: PDD with a proposed methodology", &T_JCS, PDD_WITH("TH022", "TH_AM001"),
      C_METHODOLOGY_STATUS, "methodology"}},
    {2,
     {"stage pin_approved: PDD with an unknown methodology", &T_JCS, PDD_WITH("TH022", "TH_AM099"),
      C_UNKNOWN_METHODOLOGY, "methodology"}},
    {2,
     {"stage pin_approved: PDD with a project id of Japan", &T_JCS, PDD_WITH("JP022", "TH_AM002"), C_PREFIX,
      "project"}},
    {2, {"stage pin_approved: PDD reusing a project id", &T_JCS, PDD_WITH("TH014", "TH_AM002"), C_EXISTS, "project"}},
    {2, {"stage pin_approved: PDD by a TPE", &T_TPE, PDD, C_ROLE, "role"}},
    {2, {"stage pin_approved: validate", &T_TPE, VALIDATE, C_UNKNOWN_PROJECT, "project"}},
    {2, {"stage pin_approved: issue", NULL, ISSUE, C_UNKNOWN_PROJECT, "project"}},
    {3, {"stage pdd_submitted: approve the PIN again", &T_JCS, PIN_APPROVE, C_PROJECT_STATUS, "ref"}},
    {3, {"stage pdd_submitted: PDD again", &T_JCS, PDD, C_PROJECT_STATUS, "pin"}},
    {3, {"stage pdd_submitted: register", &T_JCS, REGISTER, C_PROJECT_STATUS, "ref"}},
    {3, {"stage pdd_submitted: monitoring", &T_JCS, MON_SUBMIT, C_PROJECT_STATUS, "project"}},
    {3, {"stage pdd_submitted: verification", &T_TPE, MON_VERIFY, C_UNKNOWN_PERIOD, "first_day"}},
    {3, {"stage pdd_submitted: issue", NULL, ISSUE, C_PROJECT_STATUS, "project"}},
    {3, {"stage pdd_submitted: validation by the admin", NULL, VALIDATE, C_ROLE, "role"}},
    {4, {"stage validated: validate again", &T_TPE, VALIDATE, C_PROJECT_STATUS, "project"}},
    {4, {"stage validated: PDD again", &T_JCS, PDD, C_PROJECT_STATUS, "pin"}},
    {4, {"stage validated: monitoring", &T_JCS, MON_SUBMIT, C_PROJECT_STATUS, "project"}},
    {4, {"stage validated: issue", NULL, ISSUE, C_PROJECT_STATUS, "project"}},
    {5, {"stage registered: register again", &T_JCS, REGISTER, C_PROJECT_STATUS, "ref"}},
    {5, {"stage registered: validate", &T_TPE, VALIDATE, C_PROJECT_STATUS, "project"}},
    {5, {"stage registered: verification", &T_TPE, MON_VERIFY, C_UNKNOWN_PERIOD, "first_day"}},
    {5, {"stage registered: issue", NULL, ISSUE, C_UNKNOWN_PERIOD, "first_day"}},
    {6, {"stage monitoring: issue", NULL, ISSUE, C_PERIOD_NOT_VERIFIED, "first_day"}},
    {6, {"stage monitoring: monitoring again", &T_JCS, MON_SUBMIT, C_PERIOD_OVERLAP, "first_day"}},
    {6,
     {"stage monitoring: verified over calculated", &T_TPE, MON_VERIFY_N("1001"), C_VERIFIED_OVER_CALCULATED,
      "verified"}},
    {6, {"stage monitoring: register", &T_JCS, REGISTER, C_PROJECT_STATUS, "ref"}},
    {6, {"stage monitoring: verification by the secretariat", &T_JCS, MON_VERIFY, C_ROLE, "role"}},
    {7, {"stage verified: verify again", &T_TPE, MON_VERIFY, C_PROJECT_STATUS, "first_day"}},
    {7, {"stage verified: monitoring again", &T_JCS, MON_SUBMIT, C_PERIOD_OVERLAP, "first_day"}},
    {7, {"stage verified: issue more than verified", NULL, ISSUE_N("1001"), C_OVER_VERIFIED, "total"}},
    {7, {"stage verified: issue by a TPE", &T_TPE, ISSUE, C_ROLE, "role"}},
    {8, {"stage issued: issue again", NULL, ISSUE, C_PERIOD_ISSUED, "first_day"}},
    {8, {"stage issued: verify again", &T_TPE, MON_VERIFY, C_PROJECT_STATUS, "first_day"}},
    {9, {"stage withdrawn: withdraw again", &T_JCS, WITHDRAW, C_PROJECT_STATUS, "project"}},
    {9,
     {"stage withdrawn: monitoring", &T_JCS,
      "{\"cmd\":\"monitoring.submit\",\"project\":\"TH022\",\"first_day\":\"2025-01-01\",\"last_day\":\"2025-12-31\","
      "\"calculated\":1}",
      C_PROJECT_STATUS, "project"}},
    {9, {"stage withdrawn: issue", NULL, ISSUE, C_PROJECT_STATUS, "project"}},
    {9, {"stage withdrawn: register", &T_JCS, REGISTER, C_PROJECT_STATUS, "ref"}},
};

static void project_cycle_out_of_order(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-cycle");
  must_ok(&w, &T_JCS, "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM001\",\"version\":\"ver01.0\",\"title\":\"m1\"}");
  must_ok(&w, NULL,
          "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM002\",\"version\":\"ver01.0\",\"title\":\"m2\",\"status\":"
          "\"approved\"}");
  rebase(&w);
  size_t n = sizeof cycle_order_cases / sizeof cycle_order_cases[0], k = 0;
  for (int stage = 0; stage <= (int)(sizeof cycle_steps / sizeof cycle_steps[0]); stage++) {
    for (; k < n && cycle_order_cases[k].stage == stage; k++) {
      const rcase *c = &cycle_order_cases[k].c;
      refuse(&w, c->label, c->actor, c->tmpl, c->code, c->field);
    }
    if (stage < (int)(sizeof cycle_steps / sizeof cycle_steps[0])) {
      must_ok(&w, cycle_steps[stage].actor, cycle_steps[stage].tmpl);
      rebase(&w);
    }
  }
  assert_int_equal(k, n);
  assert_int_equal(t_balance(w.j, w.a.hold_a), 1000);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
  assert_int_equal(t_forge_check("checks-cycle"), 0); /* tests/forge_check.c */
}

/* The serial space ends at 2^63-1: an issuance that does not fit is 4006.
 * (Serials 1 .. 2^63-2 are issued first: reaching 2^63-1 itself overflows
 * see regression_serial_overflow.) */
static void serial_space(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-serials");
  must_ok(
      &w, &T_JCS,
      "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\",\"last_day\":\"2021-12-31\","
      "\"calculated\":9223372036854775807}");
  must_ok(
      &w, &T_TPE,
      "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\",\"last_day\":\"2021-12-31\","
      "\"verified\":9223372036854775807,\"report\":\"r\"}");
  must_ok(&w, NULL,
          "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2022-01-01\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\","
          "\"last_day\":\"2021-12-31\",\"total\":9223372036854775806,\"allocation\":[{\"account\":\"@G\",\"quantity\":"
          "9223372036854775806}]}");
  must_ok(
      &w, &T_JCS,
      "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\",\"last_day\":\"2022-12-31\","
      "\"calculated\":10}");
  must_ok(
      &w, &T_TPE,
      "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\",\"last_day\":\"2022-12-31\","
      "\"verified\":10,\"report\":\"r\"}");
  rebase(&w);
  refuse(&w, "4006 two units, one serial left", NULL,
         "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2023-01-01\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\","
         "\"last_day\":\"2022-12-31\",\"total\":2,\"allocation\":[{\"account\":\"@A\",\"quantity\":2}]}",
         C_SERIALS_EXHAUSTED, "total");
  refuse(&w, "4006 ten units, one serial left", NULL,
         "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2023-01-01\",\"project\":\"TH014\",\"first_day\":\"2022-01-01\","
         "\"last_day\":\"2022-12-31\",\"total\":10,\"allocation\":[{\"account\":\"@A\",\"quantity\":5},{\"account\":"
         "\"@B\",\"quantity\":5}]}",
         C_SERIALS_EXHAUSTED, "total");
  /* issuing the last serial itself is in regression_serial_overflow */
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Runs the NULL-terminated texts of ud in order as admin, stopping at the
 * first that is not accepted; o->code is that one's step (from 0). */
static void submit_steps(jcm *j, const void *ud, outcome *o) {
  const char *const *texts = ud;
  for (int i = 0; texts[i]; i++) {
    json_t *r = NULL;
    o->rc = jcm_submit_text(j, texts[i], strlen(texts[i]), &T_ADMIN, &r);
    json_t *err = json_object_get(r, "error");
    const char *f = json_string_value(json_object_get(err, "field"));
    o->code = (int)json_integer_value(json_object_get(err, "code"));
    snprintf(o->field, sizeof o->field, "%s", f ? f : "");
    o->step = i;
    json_decref(r);
    if (o->rc != JCM_OK) return;
  }
}

/* Regression (fixed; was lib/cycle.c resolve_serials, lib/engine.c jcm__next): signed
 * overflow at the end of the serial space.
 *  (1) resolve_serials computes the last serial as first + total - 1 (and
 *      each block's as next + q - 1): first + total overflows whenever the
 *      issuance ends exactly at 2^63-1 (e.g. 1 unit when serial 2^63-1 is
 *      the next one, or 2^63-1 units from serial 1), although the result is
 *      representable. Undefined behaviour; UBSan aborts ("signed integer
 *      overflow: 1 + 9223372036854775807", cycle.c), an optimized build
 *      happens to wrap back to the right value. Fix: first + (total - 1).
 *  (2) once serial 2^63-1 is issued, the counter holds INT64_MAX and the
 *      next issuance's jcm__next computes INT64_MAX + 1: UBSan aborts; an
 *      optimized build wraps to -2^63, passes the 4006 check, and issues
 *      serials -9223372036854775808.. (jcm_verify then reports "blocks
 *      overlap or are inverted"). It must be refused with 4006.
 * Reproduction: issue 2^63-2 units, then 1 unit (1), then 1 more (2).
 * The steps that overflow run in child processes. */
static void regression_serial_overflow(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-serials-full");
  for (int year = 2021; year <= 2023; year++) {
    char *t = NULL;
    const char *calc = year == 2021 ? "9223372036854775807" : "10";
    size_t n = 512;
    t = malloc(n);
    assert_non_null(t);
    snprintf(
        t, n,
        "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\",\"last_day\":\"%d-12-31\","
        "\"calculated\":%s}",
        year, year, calc);
    must_ok(&w, &T_JCS, t);
    snprintf(
        t, n,
        "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\",\"last_day\":\"%d-12-31\","
        "\"verified\":%s,\"report\":\"r\"}",
        year, year, calc);
    must_ok(&w, &T_TPE, t);
    free(t);
  }
  must_ok(&w, NULL,
          "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2022-01-01\",\"project\":\"TH014\",\"first_day\":\"2021-01-01\","
          "\"last_day\":\"2021-12-31\",\"total\":9223372036854775806,\"allocation\":[{\"account\":\"@G\",\"quantity\":"
          "9223372036854775806}]}");
  rebase(&w);
  /* (1) the last serial is issued, and moved by its range */
  char *last = expand(&w, "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2023-01-01\",\"project\":\"TH014\","
                          "\"first_day\":\"2022-01-01\",\"last_day\":\"2022-12-31\",\"total\":1,\"allocation\":[{"
                          "\"account\":\"@A\",\"quantity\":1}]}");
  char *move =
      expand(&w, TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":9223372036854775807,\"last\":9223372036854775807}]"));
  const char *steps1[] = {last, move, NULL};
  outcome o = {0};
  char how[128] = "";
  int ran = run_isolated(&w, submit_steps, steps1, &o, how, sizeof how);
  int reached = 0;
  if (ran != 0) {
    fprintf(stderr, "FAIL [(1) issue serial 2^63-1 and move it]: %s\n", how);
    w.failures++;
  } else if (o.rc != JCM_OK) {
    fprintf(stderr, "FAIL [(1) issue serial 2^63-1 and move it]: step %d refused with %d field '%s'\n", o.step, o.code,
            o.field);
    w.failures++;
  } else {
    reached = 1;
    assert_int_equal(t_balance(w.j, w.a.hold_b), 1);
  }
  free(last);
  free(move);
  rebase(&w);
  /* (2) nothing fits after it */
  char *after = expand(&w, "{\"cmd\":\"issue\",\"meeting\":1,\"date\":\"2024-01-01\",\"project\":\"TH014\","
                           "\"first_day\":\"2023-01-01\",\"last_day\":\"2023-12-31\",\"total\":1,\"allocation\":[{"
                           "\"account\":\"@A\",\"quantity\":1}]}");
  const char *steps2[] = {after, NULL};
  if (!reached) {
    fprintf(stderr, "FAIL [(2) issue after serial 2^63-1]: not tried, (1) failed\n");
    w.failures++;
  } else if (run_isolated(&w, submit_steps, steps2, &o, how, sizeof how) != 0) {
    fprintf(stderr, "FAIL [(2) issue after serial 2^63-1]: %s\n", how);
    w.failures++;
  } else if (o.rc != JCM_REFUSED || o.code != C_SERIALS_EXHAUSTED || strcmp(o.field, "total") != 0) {
    fprintf(stderr,
            "FAIL [(2) issue after serial 2^63-1]: want refusal 4006 field 'total', got rc %d code %d field '%s'\n",
            o.rc, o.code, o.field);
    w.failures++;
  }
  free(after);
  check_unchanged(&w, "(2) issue after serial 2^63-1");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Regression (fixed; was lib/blocks.c jcm__blocks_check_ranges): an inverted range sets the
 * 4004 refusal, but the same loop iteration then adds (last - first) + 1 as
 * uint64_t to the sum; for last < first - 1 that wraps to a huge number and
 * the refusal is overwritten by 1004 "the ranges hold too many units". Only
 * first == last + 1 (which adds 0) is reported as 4004. Reproduction:
 *   transfer from an account holding 601-1000, "ranges":[{"first":610,"last":601}]
 *   -> 1004 field "ranges", expected 4004 field "ranges". */
static void regression_inverted_range_code(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-inverted");
  populate(&w);
  refuse(&w, "4004 range 610-601", NULL, TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":610,\"last\":601}]"),
         C_BAD_RANGE, "ranges");
  refuse(&w, "4004 range 2^63-1 to 1", NULL,
         TRANSFER("@A", "@B", ",\"ranges\":[{\"first\":9223372036854775807,\"last\":1}]"), C_BAD_RANGE, "ranges");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Queries refuse bad parameters with codes too, and never write. */
static void query_refusals(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-queries");
  populate(&w);
  refuse_query(&w, "1006 unknown query", "nope", NULL, C_UNKNOWN_CMD, "");
  refuse_query(&w, "1003 params not an object", "balance", "[]", C_TYPE, "");
  refuse_query(&w, "1003 params a string", "accounts", "\"org-a\"", C_TYPE, "");
  refuse_query(&w, "1003 account filter a number", "balance", "{\"account\":5}", C_TYPE, "account");
  refuse_query(&w, "1003 vintage filter text", "balance", "{\"vintage\":\"2021\"}", C_TYPE, "vintage");
  refuse_query(&w, "1003 meeting filter text", "decisions", "{\"meeting\":\"7\"}", C_TYPE, "meeting");
  refuse_query(&w, "1003 journal before text", "journal", "{\"before\":\"10\"}", C_TYPE, "before");
  refuse_query(&w, "1003 holder filter an object", "accounts", "{\"holder\":{}}", C_TYPE, "holder");
  refuse_query(&w, "1005 account filter 65 chars", "balance",
               "{\"account\":\"THA01-100-000001-61THA01-100-000001-61THA01-100-000001-61THA01-10\"}", C_TOO_LONG,
               "account");
  refuse_query(&w, "1004 limit 0", "balance", "{\"limit\":0}", C_RANGE, "limit");
  refuse_query(&w, "1004 limit 1001", "accounts", "{\"limit\":1001}", C_RANGE, "limit");
  refuse_query(&w, "1004 limit negative", "journal", "{\"limit\":-1}", C_RANGE, "limit");
  refuse_query(&w, "1002 statement without account", "statement", "{}", C_MISSING, "account");
  refuse_query(&w, "1002 statement without params", "statement", NULL, C_MISSING, "account");
  refuse_query(&w, "1007 statement account form", "statement", "{\"account\":\"THA01-1\"}", C_FORMAT, "account");
  refuse_query(&w, "1011 statement mistyped account", "statement", "{\"account\":\"@M\"}", C_CHECK_DIGITS, "account");
  refuse_query(&w, "1021 statement unknown account", "statement", "{\"account\":\"@N\"}", C_UNKNOWN_ACCOUNT, "account");
  refuse_query(&w, "1021 statement foreign account", "statement", "{\"account\":\"@F\"}", C_UNKNOWN_ACCOUNT, "account");
  refuse_query(&w, "1004 statement limit 0", "statement", "{\"account\":\"@A\",\"limit\":0}", C_RANGE, "limit");
  refuse_query(&w, "1002 tx without id", "tx", "{}", C_MISSING, "id");
  refuse_query(&w, "1023 unknown transaction", "tx", "{\"id\":\"THA01-T-999999\"}", C_UNKNOWN_TX, "id");
  refuse_query(&w, "1023 transaction of another registry", "tx", "{\"id\":\"JPN01-T-000001\"}", C_UNKNOWN_TX, "id");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Regression (fixed; was lib/query.c): wrong codes or fields for query parameters.
 *  - run_list: "limit"/"offset" of the wrong type are ignored (jcm__i falls
 *    back to the default) instead of refused with 1003;
 *  - run_list: a negative offset is refused with field "limit", not "offset";
 *  - statement: a negative after_seq is refused with field "limit";
 *  - statement/tx: an account or id of the wrong type is refused as missing
 *    (1002) instead of 1003, and a tx id longer than 64 characters as
 *    missing instead of too long (1005).
 * Reproduction: jcm_query(j, "balance", {"offset":-1}) -> 1004 field "limit";
 * jcm_query(j, "balance", {"limit":"10"}) -> JCM_OK. */
static void regression_query_parameter_codes(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-query-bugs");
  rebase(&w);
  refuse_query(&w, "offset negative names offset", "balance", "{\"offset\":-1}", C_RANGE, "offset");
  refuse_query(&w, "limit of the wrong type", "balance", "{\"limit\":\"10\"}", C_TYPE, "limit");
  refuse_query(&w, "offset of the wrong type", "accounts", "{\"offset\":1.5}", C_TYPE, "offset");
  refuse_query(&w, "statement after_seq negative names after_seq", "statement", "{\"account\":\"@A\",\"after_seq\":-1}",
               C_RANGE, "after_seq");
  refuse_query(&w, "statement account a number", "statement", "{\"account\":5}", C_TYPE, "account");
  refuse_query(&w, "statement limit of the wrong type", "statement", "{\"account\":\"@A\",\"limit\":\"5\"}", C_TYPE,
               "limit");
  refuse_query(&w, "tx id a number", "tx", "{\"id\":5}", C_TYPE, "id");
  refuse_query(&w, "tx id of 65 chars", "tx",
               "{\"id\":\"THA01-T-000001THA01-T-000001THA01-T-000001THA01-T-000001THA01-T-0\"}", C_TOO_LONG, "id");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

typedef struct query_call {
  const char *name, *params;
} query_call;

static void query_isolated(jcm *j, const void *ud, outcome *o) {
  const query_call *q = ud;
  json_t *params = json_loads(q->params, 0, NULL), *r = NULL;
  jcm_check chk = {0};
  o->rc = jcm_query(j, q->name, params, &r, &chk);
  o->code = chk.code;
  snprintf(o->field, sizeof o->field, "%s", chk.field);
  json_decref(r);
  json_decref(params);
}

/* Regression (fixed; was lib/query.c run_list): a text filter given as JSON null passes the
 * type check (null means "no filter") and then strlen(json_string_value(v))
 * is strlen(NULL): a segmentation fault. Reproduction:
 *   jcm_query(j, "balance", {"account": null}, &r, &chk)
 * Expected: the filter is ignored (JCM_OK, as a null command field is) or
 * refused; never a crash. Runs in a child process. */
static void regression_query_null_filter_crashes(void **state) {
  (void)state;
  world w;
  world_open(&w, "checks-query-null");
  static const query_call calls[] = {
      {"balance", "{\"account\":null}"}, {"accounts", "{\"holder\":null}"}, {"blocks", "{\"project\":null}"}};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    outcome o = {0};
    char how[128] = "", label[128];
    snprintf(label, sizeof label, "query %s %s", calls[i].name, calls[i].params);
    if (run_isolated(&w, query_isolated, &calls[i], &o, how, sizeof how) != 0) {
      fprintf(stderr, "FAIL [%s]: %s\n", label, how);
      w.failures++;
    } else if (o.rc == JCM_ERROR) {
      fprintf(stderr, "FAIL [%s]: JCM_ERROR\n", label);
      w.failures++;
    }
    check_unchanged(&w, label);
  }
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Every code of the table was produced by some case above, except the
 * documented ones. Runs last. */
/* DOMAIN.md §9: reductions = MWh x tCO2/MWh rounded down, in exact integers.
 * 7105.25 MWh x 0.5070 = 3602.36175 -> 3602; 0.001 MWh x 0.000001 -> 0. */
static void monitoring_calculation(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "checks-calc");
  jcm *j = t_registry(path, &a);
  static const struct {
    const char *mwh, *ef;
    long long want;
  } cases[] = {{"7105.25", "0.5070", 3602},
               {"0.001", "0.000001", 0},
               {"1000", "1", 1000},
               {"2017", "1.000000", 2017},
               {"9999999.999", "0.999999", 9999989}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *r = NULL;
    int code = 0;
    int rc = t_submitf(j, &T_JCS, &code, &r,
                       "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\","
                       "\"last_day\":\"%d-12-31\",\"electricity_mwh\":\"%s\",\"emission_factor\":\"%s\"}",
                       (int)(2001 + i), (int)(2001 + i), cases[i].mwh, cases[i].ef);
    assert_int_equal(rc, JCM_OK);
    json_int_t got = json_integer_value(json_object_get(json_object_get(r, "result"), "calculated"));
    if (got != cases[i].want)
      fail_msg("%s x %s gave %lld, want %lld", cases[i].mwh, cases[i].ef, (long long)got, cases[i].want);
    json_decref(r);
    /* the same figure given as calculated is accepted; one more is refused */
    rc = t_submitf(
        j, &T_JCS, &code, NULL,
        "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"%d-01-01\","
        "\"last_day\":\"%d-12-31\",\"calculated\":%lld,\"electricity_mwh\":\"%s\",\"emission_factor\":\"%s\"}",
        (int)(2101 + i), (int)(2101 + i), cases[i].want + 1, cases[i].mwh, cases[i].ef);
    assert_int_equal(code, C_CALCULATION);
  }
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

/* Regressions from the review of 2026-11-28: (1) movement text of many
 * 19-digit ranges overflowed its buffer; (2) a range ending at 2^63-1 was
 * taken as held when that serial was never issued; (3) an empty ranges list
 * made a zero-unit transaction; (4) long texts were cut mid-character. */
static void regression_review_findings(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  int code = 0;
  t_db_path(path, sizeof path, "checks-review");
  jcm *j = t_registry(path, &a);
  const char *accts[] = {a.hold_a, NULL};
  const int64_t big[] = {2000000000000000000};
  assert_int_equal(t_issue(j, 2021, big[0], big[0], accts, big), JCM_OK);
  char ranges[8192] = "";
  for (int k = 0; k < 40; k++) {
    size_t n = strlen(ranges);
    long long f = 1000000000000000000LL + 2 * k;
    snprintf(ranges + n, sizeof ranges - n, "%s{\"first\":%lld,\"last\":%lld}", k ? "," : "", f, f);
  }
  assert_int_equal(t_submitf(j, &T_ADMIN, &code, NULL,
                             "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[%s]}", a.hold_a, a.hold_b,
                             ranges),
                   JCM_OK);
  assert_int_equal(t_balance(j, a.hold_b), 40);
  /* (2): serials 1..2^63-2 exist (2e18 issued above, the rest now); 2^63-1 does not */
  const int64_t rest[] = {INT64_MAX - 1 - 2000000000000000000};
  assert_int_equal(t_issue(j, 2022, rest[0], rest[0], accts, rest), JCM_OK);
  t_submitf(j, &T_ADMIN, &code, NULL,
            "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":9223372036854775806,"
            "\"last\":9223372036854775807}]}",
            a.hold_a, a.hold_b);
  assert_int_equal(code, C_NOT_HELD);
  /* (3) */
  t_submitf(j, &T_ADMIN, &code, NULL, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[]}", a.hold_a,
            a.hold_b);
  assert_int_equal(code, C_MISSING);
  /* (4): 500 three-byte characters survive whole into the project's history */
  char source[1600] = "";
  for (int k = 0; k < 500; k++)
    strcat(source, "\xe6\x97\xa5");
  assert_int_equal(t_submitf(j, &T_ADMIN, &code, NULL,
                             "{\"cmd\":\"project.import\",\"project\":\"TH002\",\"title\":\"t\",\"host\":\"THA\","
                             "\"status\":\"registered\",\"source\":\"%s\"}",
                             source),
                   JCM_OK);
  json_t *params = json_pack("{s:s}", "project", "TH002"), *r = NULL;
  jcm_check chk;
  assert_int_equal(jcm_query(j, "project_steps", params, &r, &chk), JCM_OK);
  const char *cause = json_string_value(json_object_get(json_array_get(json_object_get(r, "rows"), 0), "cause"));
  assert_non_null(cause);
  assert_int_equal(strlen(cause), strlen("imported: ") + strlen(source));
  json_decref(r);
  json_decref(params);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_OK);
  json_decref(report);
  jcm_close(j);
}

static void every_code_triggered(void **state) {
  (void)state;
  size_t n;
  const jcm_code_info *codes = jcm_codes(&n);
  int missing = 0;
  for (size_t k = 0; not_triggerable[k].code; k++) {
    int in_table = 0;
    for (size_t i = 0; i < n; i++)
      in_table |= codes[i].code == not_triggerable[k].code;
    if (!in_table) {
      fprintf(stderr, "allow-listed code %d is not in the table any more\n", not_triggerable[k].code);
      missing++;
    }
    if (triggered[not_triggerable[k].code]) {
      fprintf(stderr, "code %d is allow-listed as not triggerable but a case triggered it: remove it from the list\n",
              not_triggerable[k].code);
      missing++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (triggered[codes[i].code] || covered_elsewhere(codes[i].code)) continue;
    const char *why = NULL;
    for (size_t k = 0; k < sizeof tested_elsewhere / sizeof tested_elsewhere[0]; k++)
      if (codes[i].code >= tested_elsewhere[k].first && codes[i].code <= tested_elsewhere[k].last)
        why = tested_elsewhere[k].where;
    for (size_t k = 0; not_triggerable[k].code; k++)
      if (not_triggerable[k].code == codes[i].code) why = not_triggerable[k].why;
    if (why) {
      fprintf(stderr, "note: code %d (%s) not triggered: %s\n", codes[i].code, codes[i].name, why);
      continue;
    }
    fprintf(stderr, "code %d (%s) was not triggered by any case\n", codes[i].code, codes[i].name);
    missing++;
  }
  assert_int_equal(missing, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(populated_store_refusals),
      cmocka_unit_test(every_command_every_forbidden_role),
      cmocka_unit_test(uninitialized_store),
      cmocka_unit_test(project_cycle_out_of_order),
      cmocka_unit_test(serial_space),
      cmocka_unit_test(query_refusals),
      cmocka_unit_test(monitoring_calculation),
      cmocka_unit_test(regression_review_findings),
      cmocka_unit_test(every_code_triggered),
      cmocka_unit_test(regression_serial_overflow),
      cmocka_unit_test(regression_inverted_range_code),
      cmocka_unit_test(regression_query_parameter_codes),
      cmocka_unit_test(regression_query_null_filter_crashes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
