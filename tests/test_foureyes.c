/*
 * Four eyes (DOMAIN.md §2, §5; lib/foureyes.c): transfer, cancel, retire,
 * use and xfer.propose from a government holding account wait `awaiting
 * approval` with their units reserved, and move nothing until a second
 * registry administrator approves; the proposer cannot approve (8007).
 *
 * The effect of an approved command is compared with the same command run
 * directly in a twin store whose source is an ordinary holding account with
 * the same serials (the rule does not apply to it): the same result, the
 * same statement of the destination, the same Article 6 actions, the same
 * balances. Refusals leave the store byte for byte as it was (t_dump), and
 * every store verifies (replay and invariants) after every path.
 *
 * The commands are submitted with t_submit_held, which does not approve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "support.h"

static const jcm_actor TGO = {"tgo", "holder"};
static const jcm_actor ORG_A = {"org-a", "holder"};

/* A registry with TH014's 2021 units: 1-600 in the source (the government
 * account, or in the twin an ordinary holding account of the same holder),
 * 601-1000 in hold_a; authorized for NDC use by THA and JPN; JPN01 known
 * with a key, so that an external transfer can be proposed. */
typedef struct fe {
  char path[512];
  jcm *j;
  t_accounts a;
  char plain[32]; /* a holding account of tgo */
  const char *src;
} fe;

static json_t *must(jcm *j, const jcm_actor *actor, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *must(jcm *j, const jcm_actor *actor, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  json_t *r = NULL;
  int rc = t_submit_held(j, actor, text, NULL, &r);
  if (rc != JCM_OK) {
    char *s = json_dumps(r, 0);
    print_error("refused: %s\n  -> %s\n", text, s);
    free(s);
  }
  assert_int_equal(rc, JCM_OK);
  return r;
}

/* Submits and expects refusal with code, the store unchanged. */
static void refused(fe *f, const jcm_actor *actor, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refused(fe *f, const jcm_actor *actor, int code, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  char *before = t_dump(f->path);
  int got = 0;
  json_t *r = NULL;
  int rc = t_submit_held(f->j, actor, text, &got, &r);
  char *after = t_dump(f->path);
  if (rc != JCM_REFUSED || got != code) {
    char *s = json_dumps(r, 0);
    print_error("%s\n  -> %s (want %d)\n", text, s, code);
    free(s);
  }
  json_decref(r);
  assert_int_equal(rc, JCM_REFUSED);
  assert_int_equal(got, code);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

static void verified(jcm *j) {
  json_t *report = NULL;
  int rc = jcm_verify(j, &report);
  if (rc != JCM_OK) {
    char *s = json_dumps(report, JSON_INDENT(1));
    print_error("verify: %s\n", s);
    free(s);
  }
  json_decref(report);
  assert_int_equal(rc, JCM_OK);
}

static void fe_open(fe *f, const char *name, int government) {
  memset(f, 0, sizeof *f);
  t_db_path(f->path, sizeof f->path, name);
  f->j = t_registry(f->path, &f->a);
  json_t *r = must(f->j, &T_ADMIN, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"tgo\",\"name\":\"P\"}");
  snprintf(f->plain, sizeof f->plain, "%s",
           json_string_value(json_object_get(json_object_get(r, "result"), "account")));
  json_decref(r);
  f->src = government ? f->a.gov : f->plain;
  const char *accts[] = {f->src, f->a.hold_a, NULL};
  const int64_t qty[] = {600, 400};
  assert_int_equal(t_issue(f->j, 2021, 1000, 1000, accts, qty), JCM_OK);
  json_decref(must(f->j, &T_ADMIN,
                   "{\"cmd\":\"coop.add\",\"id\":\"JCM-JPN-THA\",\"name\":\"JCM\",\"parties\":[\"JPN\",\"THA\"]}"));
  json_decref(must(f->j, &T_ADMIN,
                   "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0001\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                   "\"quantity\":600,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\","
                   "\"parties\":[\"JPN\",\"THA\"],\"first_year\":2021,\"last_year\":2030,"
                   "\"ranges\":[{\"first\":1,\"last\":600}]}"));
  json_decref(
      must(f->j, &T_ADMIN,
           "{\"cmd\":\"registry.add\",\"id\":\"JPN01\",\"party\":\"JPN\",\"name\":\"J\",\"role\":\"national\"}"));
  json_decref(must(f->j, &T_ADMIN,
                   "{\"cmd\":\"registry.key\",\"id\":\"JPN01\",\"public_key\":"
                   "\"00000000000000000000000000000000000000000000000000000000000000aa\"}"));
  json_decref(must(f->j, &T_ADMIN, "{\"cmd\":\"key.generate\"}"));
}

static void fe_close(fe *f) {
  verified(f->j);
  jcm_close(f->j);
}

static json_t *query(jcm *j, const char *name, json_t *params) {
  json_t *r = NULL;
  jcm_check chk;
  int rc = jcm_query(j, name, params, &r, &chk);
  json_decref(params);
  if (rc != JCM_OK) print_error("query %s: %d %s\n", name, chk.code, chk.message);
  assert_int_equal(rc, JCM_OK);
  return r;
}

static json_t *rows(jcm *j, const char *name, json_t *params) {
  json_t *r = query(j, name, params);
  json_t *v = json_incref(json_object_get(r, "rows"));
  json_decref(r);
  return v;
}

static const char *res_s(json_t *r, const char *key) {
  return json_string_value(json_object_get(json_object_get(r, "result"), key));
}

/* Deletes the members that name when (seq, time) or through which account. */
static void strip(json_t *rowset, const char *const *keys) {
  size_t i;
  json_t *x;
  json_array_foreach(rowset, i, x) for (const char *const *k = keys; *k; k++) json_object_del(x, *k);
}

static json_t *statement_entries(jcm *j, const char *account) {
  static const char *const when[] = {"seq", "time", "counterparty", NULL};
  json_t *s = query(j, "statement", json_pack("{s:s}", "account", account));
  json_t *e = json_deep_copy(json_object_get(s, "entries"));
  json_decref(s);
  strip(e, when);
  return e;
}

static json_t *actions_of(jcm *j) {
  static const char *const when[] = {"seq", "time", NULL};
  json_t *a = rows(j, "actions", NULL);
  strip(a, when);
  return a;
}

static void assert_json_equal(json_t *a, json_t *b) {
  if (!json_equal(a, b)) {
    char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(b, JSON_SORT_KEYS);
    print_error("differ:\n  %s\n  %s\n", x, y);
    free(x);
    free(y);
    fail();
  }
}

/* ---- each command waits, then does what it would have done ---- */

typedef struct move {
  const char *name;
  const char *tmpl; /* %s: the source; then the destination where given */
  int dest;         /* 'B' hold_b, 'C' cancellation, 'R' retirement */
} move;

static const char *dest_of(fe *f, int d) { return d == 'B' ? f->a.hold_b : d == 'C' ? f->a.cancel : f->a.retire; }

static json_t *submit_move(fe *f, const move *m) { return must(f->j, &T_ADMIN, m->tmpl, f->src, dest_of(f, m->dest)); }

/* The held command: reserved, nothing moved, listed as pending. */
static void assert_held(fe *f, json_t *held, const move *m, const char *before_dest) {
  assert_string_equal(res_s(held, "status"), "awaiting approval");
  assert_string_equal(res_s(held, "cmd"), m->name);
  assert_int_equal(t_balance(f->j, f->src), 600);
  char *now = t_dump(f->path);
  assert_non_null(strstr(now, res_s(held, "tx")));
  free(now);
  json_t *dest = statement_entries(f->j, dest_of(f, m->dest));
  char *d = json_dumps(dest, JSON_SORT_KEYS);
  assert_string_equal(d, before_dest);
  free(d);
  json_decref(dest);
  json_t *p = rows(f->j, "pending", json_pack("{s:s}", "status", "awaiting approval"));
  assert_int_equal(json_array_size(p), 1);
  json_t *row = json_array_get(p, 0);
  assert_string_equal(json_string_value(json_object_get(row, "id")), res_s(held, "tx"));
  assert_string_equal(json_string_value(json_object_get(row, "proposer")), T_ADMIN.name);
  assert_string_equal(json_string_value(json_object_get(row, "cmd")), m->name);
  json_decref(p);
  verified(f->j);
}

static void held_then_approved_equals_direct(void **state) {
  (void)state;
  static const move moves[] = {
      {"transfer", "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":250}", 'B'},
      {"transfer", "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":10,\"last\":19}]}", 'B'},
      {"cancel",
       "{\"cmd\":\"cancel\",\"from\":\"%s\",\"to\":\"%s\",\"kind\":\"voluntary\",\"reason\":\"r\",\"quantity\":7}",
       'C'},
      {"retire", "{\"cmd\":\"retire\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":9,\"key\":\"k-retire\"}", 'R'},
  };
  for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
    fe g, t;
    fe_open(&g, "foureyes-gov", 1);
    fe_open(&t, "foureyes-twin", 0);
    json_t *d0 = statement_entries(g.j, dest_of(&g, moves[i].dest));
    char *before_dest = json_dumps(d0, JSON_SORT_KEYS);
    json_decref(d0);
    json_t *held = submit_move(&g, &moves[i]);
    assert_held(&g, held, &moves[i], before_dest);
    free(before_dest);
    refused(&g, &T_ADMIN, C_SECOND_APPROVER, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(held, "tx"));
    json_t *ok = must(g.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(held, "tx"));
    json_t *direct = submit_move(&t, &moves[i]);
    /* the same result: tx id, ranges, destination, actions */
    json_t *a = json_deep_copy(json_object_get(ok, "result")), *b = json_deep_copy(json_object_get(direct, "result"));
    assert_string_equal(json_string_value(json_object_get(a, "status")), "completed");
    json_object_del(a, "status");
    json_object_del(a, "approved");
    assert_json_equal(a, b);
    json_t *sa = statement_entries(g.j, dest_of(&g, moves[i].dest));
    json_t *sb = statement_entries(t.j, dest_of(&t, moves[i].dest));
    assert_json_equal(sa, sb);
    json_t *aa = actions_of(g.j), *ab = actions_of(t.j);
    assert_json_equal(aa, ab);
    assert_int_equal(t_balance(g.j, g.src), t_balance(t.j, t.src));
    assert_int_equal(t_balance(g.j, dest_of(&g, moves[i].dest)), t_balance(t.j, dest_of(&t, moves[i].dest)));
    json_t *p = rows(g.j, "pending", json_pack("{s:s}", "status", "approved"));
    assert_int_equal(json_array_size(p), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "decided_by")), T_ADMIN2.name);
    json_decref(p);
    json_decref(sa), json_decref(sb), json_decref(aa), json_decref(ab), json_decref(a), json_decref(b);
    json_decref(held), json_decref(ok), json_decref(direct);
    fe_close(&g);
    fe_close(&t);
  }
}

/* use needs a government account: there is no direct twin; the approval
 * records the Use action under the held id. */
static void use_waits_for_approval(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-use", 1);
  json_t *held = must(f.j, &T_ADMIN, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":100}", f.src);
  assert_string_equal(res_s(held, "status"), "awaiting approval");
  assert_int_equal(t_balance(f.j, f.a.retire), 0);
  json_t *before = actions_of(f.j);
  json_t *ok = must(f.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(held, "tx"));
  assert_int_equal(t_balance(f.j, f.a.retire), 100);
  assert_int_equal(t_balance(f.j, f.src), 500);
  json_t *after = rows(f.j, "actions", json_pack("{s:s}", "type", "Use"));
  assert_int_equal(json_array_size(after), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(after, 0), "tx")), res_s(held, "tx"));
  assert_int_equal(json_integer_value(json_object_get(json_array_get(after, 0), "quantity")), 100);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(after, 0), "seq")),
                   json_integer_value(json_object_get(ok, "seq")));
  json_decref(before), json_decref(after), json_decref(held), json_decref(ok);
  fe_close(&f);
}

/* xfer.propose: nothing is signed or sent before approval; after it the
 * proposal is in the outbox and the units are reserved by the transfer. */
static void xfer_propose_waits_for_approval(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-xfer", 1);
  json_t *held =
      must(f.j, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"JPN01-110-000001-46\",\"quantity\":50}",
           f.src);
  const char *tx = res_s(held, "tx");
  assert_string_equal(res_s(held, "status"), "awaiting approval");
  assert_non_null(strstr(tx, "-X-"));
  json_t *x = rows(f.j, "xfers", NULL);
  assert_int_equal(json_array_size(x), 0);
  json_decref(x);
  char *dump = t_dump(f.path);
  assert_null(strstr(dump, "proposal")); /* no message in the outbox */
  free(dump);
  verified(f.j);
  json_t *ok = must(f.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", tx);
  assert_string_equal(res_s(ok, "status"), "proposed");
  assert_string_equal(res_s(ok, "tx"), tx);
  assert_int_equal(json_array_size(json_object_get(json_object_get(ok, "result"), "messages")), 1);
  x = rows(f.j, "xfers", json_pack("{s:s}", "status", "proposed"));
  assert_int_equal(json_array_size(x), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(x, 0), "id")), tx);
  json_decref(x);
  verified(f.j);
  /* the transfer's own life goes on: terminating it releases the units */
  json_decref(must(f.j, &T_ADMIN, "{\"cmd\":\"xfer.terminate\",\"tx\":\"%s\",\"reason\":\"r\"}", tx));
  json_decref(
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":600}", f.src, f.a.hold_b));
  json_decref(held), json_decref(ok);
  fe_close(&f);
  assert_int_equal(t_forge_check("foureyes-xfer"), 0); /* tests/forge_check.c */
}

/* ---- rejecting, withdrawing ---- */

static void reject_and_cancel_release(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-reject", 1);
  const char *tr = "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":1,\"last\":600}]}";
  json_t *h1 = must(f.j, &T_ADMIN, tr, f.src, f.a.hold_b);
  /* an administrator, even the proposer, may reject: nothing moves */
  json_t *r1 =
      must(f.j, &T_ADMIN, "{\"cmd\":\"tx.reject\",\"tx\":\"%s\",\"reason\":\"wrong account\"}", res_s(h1, "tx"));
  assert_string_equal(res_s(r1, "status"), "terminated");
  verified(f.j);
  refused(&f, &T_ADMIN2, C_NOT_AWAITING, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h1, "tx"));
  /* the units are free again: the holder proposes them, another holder
   * cannot withdraw that, the proposer can */
  json_t *h2 = must(f.j, &TGO, tr, f.src, f.a.hold_b);
  assert_string_equal(res_s(h2, "status"), "awaiting approval");
  refused(&f, &ORG_A, C_NOT_PROPOSER, "{\"cmd\":\"tx.cancel\",\"tx\":\"%s\",\"reason\":\"r\"}", res_s(h2, "tx"));
  json_t *c2 = must(f.j, &TGO, "{\"cmd\":\"tx.cancel\",\"tx\":\"%s\",\"reason\":\"changed my mind\"}", res_s(h2, "tx"));
  assert_string_equal(res_s(c2, "status"), "cancelled");
  refused(&f, &TGO, C_NOT_AWAITING, "{\"cmd\":\"tx.cancel\",\"tx\":\"%s\",\"reason\":\"r\"}", res_s(h2, "tx"));
  json_t *p = rows(f.j, "pending", NULL);
  assert_int_equal(json_array_size(p), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "status")), "terminated");
  assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "reason")), "wrong account");
  assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "status")), "cancelled");
  assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "decided_by")), "tgo");
  json_decref(p);
  /* a holder's proposal approved by an administrator moves all 600 */
  json_t *h3 = must(f.j, &TGO, tr, f.src, f.a.hold_b);
  json_decref(must(f.j, &T_ADMIN, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h3, "tx")));
  assert_int_equal(t_balance(f.j, f.a.hold_b), 600);
  json_decref(h1), json_decref(r1), json_decref(h2), json_decref(c2), json_decref(h3);
  fe_close(&f);
  assert_int_equal(t_forge_check("foureyes-reject"), 0); /* tests/forge_check.c */
}

/* ---- approval re-checks; reserved units; idempotency ---- */

/* The destination is blocked between proposal and approval: the approval is
 * refused (3002) and changes nothing, the units stay reserved and the
 * transaction keeps waiting; once unblocked it can be approved. */
static void approval_rechecks(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-recheck", 1);
  json_t *h =
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", f.src, f.a.hold_b);
  json_decref(must(f.j, &T_ADMIN,
                   "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"r\"}",
                   f.a.hold_b));
  refused(&f, &T_ADMIN2, C_DST_NOT_OPEN, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h, "tx"));
  json_t *p = rows(f.j, "pending", json_pack("{s:s}", "status", "awaiting approval"));
  assert_int_equal(json_array_size(p), 1);
  json_decref(p);
  verified(f.j);
  json_decref(must(f.j, &T_ADMIN,
                   "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"open\",\"reason\":\"r\"}", f.a.hold_b));
  json_decref(must(f.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h, "tx")));
  assert_int_equal(t_balance(f.j, f.a.hold_b), 5);
  json_decref(h);
  fe_close(&f);
}

/* Submits text alone or in the open batch: 0 done, else the refusal's
 * code, or -1 for an error without one (a store error, a command not run). */
static int code_of(jcm *j, const jcm_actor *actor, const char *text) {
  int code = 0, rc = t_submit_held(j, actor, text, &code, NULL);
  return rc == JCM_OK ? 0 : code ? code : -1;
}

static int64_t org_count(const char *path) {
  char n[32];
  t_query_text(path, "SELECT count(*) FROM org", n, sizeof n);
  return atoll(n);
}

/* Inside a batch a command has no savepoint of its own (lib/engine.c,
 * tx_begin). A command refused by its checks has written nothing: the batch
 * goes on and commits. An approval refused by its re-check has written (it
 * released its units first): the batch breaks, the command after it is not
 * run, and the commit fails and leaves the store byte for byte as it was.
 * Run alone, each command then takes effect or is refused as it would be. */
static void a_refusal_after_a_write_breaks_the_batch(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-batch", 1);
  char xfer[256], approve[128];
  snprintf(xfer, sizeof xfer, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":100000}", f.a.hold_a,
           f.a.hold_b);
  int64_t n0 = org_count(f.path);
  assert_int_equal(jcm_batch_begin(f.j), JCM_OK);
  assert_int_equal(code_of(f.j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"org-n1\",\"name\":\"N\",\"country\":\"THA\"}"),
                   0);
  assert_int_equal(code_of(f.j, &T_ADMIN, xfer), C_INSUFFICIENT);
  assert_int_equal(code_of(f.j, &T_ADMIN, "{\"cmd\":\"org.add\",\"id\":\"org-n2\",\"name\":\"N\",\"country\":\"THA\"}"),
                   0);
  assert_int_equal(jcm_batch_commit(f.j), JCM_OK);
  int64_t n_orgs = org_count(f.path);
  assert_int_equal(n_orgs, n0 + 2);

  json_t *h =
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", f.src, f.a.hold_b);
  json_decref(must(f.j, &T_ADMIN,
                   "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"r\"}",
                   f.a.hold_b));
  snprintf(approve, sizeof approve, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h, "tx"));
  const char *o3 = "{\"cmd\":\"org.add\",\"id\":\"org-n3\",\"name\":\"N\",\"country\":\"THA\"}",
             *o4 = "{\"cmd\":\"org.add\",\"id\":\"org-n4\",\"name\":\"N\",\"country\":\"THA\"}";
  char *before = t_dump(f.path);
  assert_int_equal(jcm_batch_begin(f.j), JCM_OK);
  assert_int_equal(code_of(f.j, &T_ADMIN, o3), 0);
  assert_int_equal(code_of(f.j, &T_ADMIN2, approve), C_DST_NOT_OPEN);
  assert_int_equal(code_of(f.j, &T_ADMIN, o4), -1);     /* not run */
  assert_int_equal(jcm_batch_commit(f.j), JCM_REFUSED); /* rolled back: each may run again alone */
  char *after = t_dump(f.path);
  assert_string_equal(before, after);
  free(after);

  /* alone: the approval is refused and leaves nothing; the others take effect */
  assert_int_equal(code_of(f.j, &T_ADMIN, o3), 0);
  free(before);
  before = t_dump(f.path);
  assert_int_equal(code_of(f.j, &T_ADMIN2, approve), C_DST_NOT_OPEN);
  after = t_dump(f.path);
  assert_string_equal(before, after);
  assert_int_equal(code_of(f.j, &T_ADMIN, o4), 0);
  assert_int_equal(org_count(f.path), n_orgs + 2);
  free(before);
  free(after);
  verified(f.j);
  json_decref(h);
  fe_close(&f);
}

static void reserved_units_refused(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-reserved", 1);
  json_t *h =
      must(f.j, &T_ADMIN, "{\"cmd\":\"retire\",\"from\":\"%s\",\"ranges\":[{\"first\":100,\"last\":199}]}", f.src);
  refused(&f, &T_ADMIN, C_RESERVED,
          "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":150,\"last\":150}]}", f.src,
          f.a.hold_b);
  refused(
      &f, &T_ADMIN, C_RESERVED,
      "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"JPN01-110-000001-46\",\"ranges\":[{\"first\":199,\"last\":"
      "200}]}",
      f.src);
  refused(&f, &T_ADMIN, C_INSUFFICIENT, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":501}", f.src);
  /* the 500 unreserved units may be held by a second command meanwhile */
  json_t *h2 =
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":500}", f.src, f.a.hold_b);
  verified(f.j);
  json_decref(must(f.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h2, "tx")));
  json_decref(must(f.j, &T_ADMIN2, "{\"cmd\":\"tx.approve\",\"tx\":\"%s\"}", res_s(h, "tx")));
  assert_int_equal(t_balance(f.j, f.a.hold_b), 500);
  assert_int_equal(t_balance(f.j, f.a.retire), 100);
  assert_int_equal(t_balance(f.j, f.src), 0);
  json_decref(h), json_decref(h2);
  fe_close(&f);
}

static void idempotent_approval(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-idem", 1);
  const char *tr = "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":3,\"key\":\"p-%d\"}";
  json_t *h = must(f.j, &T_ADMIN, tr, f.src, f.a.hold_b, 1);
  json_t *again = must(f.j, &T_ADMIN, tr, f.src, f.a.hold_b, 1); /* the proposal's own key */
  assert_json_equal(h, again);
  json_t *h2 = must(f.j, &T_ADMIN, tr, f.src, f.a.hold_b, 2);
  const char *ap = "{\"cmd\":\"tx.approve\",\"tx\":\"%s\",\"key\":\"a-1\"}";
  json_t *a1 = must(f.j, &T_ADMIN2, ap, res_s(h, "tx"));
  json_t *a2 = must(f.j, &T_ADMIN2, ap, res_s(h, "tx"));
  assert_json_equal(a1, a2);
  assert_int_equal(t_balance(f.j, f.a.hold_b), 3);
  refused(&f, &T_ADMIN2, C_IDEM_CONFLICT, ap, res_s(h2, "tx"));
  json_decref(h), json_decref(again), json_decref(h2), json_decref(a1), json_decref(a2);
  fe_close(&f);
}

/* ---- who reads the pending list ---- */

static void pending_readers(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-read", 1);
  json_decref(
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":3}", f.src, f.a.hold_b));
  struct {
    const jcm_actor *actor;
    int code;
  } cases[] = {{&T_ADMIN, 0},    {&T_AUDITOR, 0},  {&TGO, C_ROLE}, {&ORG_A, C_ROLE},
               {&T_JCS, C_ROLE}, {&T_TPE, C_ROLE}, {NULL, C_AUTH}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *r = NULL;
    jcm_check chk;
    int rc = jcm_query_as(f.j, cases[i].actor, "pending", NULL, &r, &chk);
    assert_int_equal(rc, cases[i].code ? JCM_REFUSED : JCM_OK);
    assert_int_equal(chk.code, cases[i].code);
    if (!cases[i].code) assert_int_equal(json_array_size(json_object_get(r, "rows")), 1);
    json_decref(r);
  }
  fe_close(&f);
}

/* ---- verify sees a reservation that is not what the journal says ---- */

static void run_sql(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static int verify_names(jcm *j, const char *check, const char *where) {
  json_t *report = NULL;
  int rc = jcm_verify(j, &report), found = 0;
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(report, "problems"), i, p) found |=
      strcmp(json_string_value(json_object_get(p, "check")), check) == 0 &&
      strcmp(json_string_value(json_object_get(p, "where")), where) == 0;
  json_decref(report);
  return rc == JCM_REFUSED && found;
}

static void verify_catches_tampered_hold(void **state) {
  (void)state;
  fe f;
  fe_open(&f, "foureyes-tamper", 1);
  json_decref(
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", f.src, f.a.hold_b));
  jcm_close(f.j);
  /* the units freed behind the journal's back: the waiting transaction no
   * longer reserves them */
  run_sql(f.path, "UPDATE block SET reserved_tx = NULL");
  f.j = t_open(f.path);
  assert_true(verify_names(f.j, "invariant", "one state"));
  jcm_close(f.j);
  /* a reservation naming a transaction that is no longer waiting */
  fe_open(&f, "foureyes-tamper", 1);
  json_decref(
      must(f.j, &T_ADMIN, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":5}", f.src, f.a.hold_b));
  jcm_close(f.j);
  run_sql(f.path, "UPDATE pending SET status = 'cancelled'");
  f.j = t_open(f.path);
  assert_true(verify_names(f.j, "invariant", "one state"));
  jcm_close(f.j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(held_then_approved_equals_direct),
      cmocka_unit_test(use_waits_for_approval),
      cmocka_unit_test(xfer_propose_waits_for_approval),
      cmocka_unit_test(reject_and_cancel_release),
      cmocka_unit_test(approval_rechecks),
      cmocka_unit_test(a_refusal_after_a_write_breaks_the_batch),
      cmocka_unit_test(reserved_units_refused),
      cmocka_unit_test(idempotent_approval),
      cmocka_unit_test(pending_readers),
      cmocka_unit_test(verify_catches_tampered_hold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
