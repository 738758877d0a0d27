/* Review of the link between registries: what a misbehaving or hostile
 * (but correctly signed) peer registry can make the acquirer do, Article 6
 * scopes, and reconciliation. Each case is a defect found in review; the
 * helpers are copied from test_link.c so that file stays as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "checks.h"
#include "pair.h"

/* The check code of submitting text (0 when it succeeded). */
static int code_of(jcm *j, const jcm_actor *a, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int code_of(jcm *j, const jcm_actor *a, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  int code = 0;
  t_submit(j, a, buf, &code, NULL);
  return code;
}

/* Sends body from `from` (its store at path) to `to` as that registry would
 * sign it, numbered next after what `to` received from it; the check code.
 * When refused, `to` must be unchanged. Takes body. */
static int send_as(const char *from_path, const char *from, jcm *to, const char *to_path, json_t *body) {
  int64_t last = 0;
  assert_int_equal(jcm_link_last_received(to, from, &last), JCM_OK);
  json_object_set_new(body, "from", json_string(from));
  json_object_set_new(body, "to", json_string(jcm_registry(to)));
  json_object_set_new(body, "n", json_integer(last + 1));
  char *text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT), sig[129];
  t_sign_as(from_path, text, sig);
  char *before = t_dump(to_path);
  int code = t_receive(to, text, sig);
  char *after = t_dump(to_path);
  if (code) assert_string_equal(before, after);
  free(before);
  free(after);
  free(text);
  json_decref(body);
  return code;
}

/* THA01's authorization THA-A6-0001 v1 as a proposal carries it. */
static json_t *tha_auth(void) {
  return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s}", "id", "THA-A6-0001", "version",
                   1, "registry", "THA01", "party", "THA", "date", "2025-11-01", "coop", "JCM-JPN-THA", "quantity",
                   (json_int_t)1009, "metric", "GHG", "sectors", "[\"Energy generation\"]", "activities", "[]",
                   "purposes", "NDC", "parties", "[\"JPN\"]", "entities", "[]", "first_year", 2021, "last_year", 2030,
                   "scope", "{}");
}

/* A block as a proposal carries it, of the origin's first issuance. */
static json_t *block(const char *origin, int64_t first, int64_t last) {
  char issuance[32];
  snprintf(issuance, sizeof issuance, "%s-I-000001", origin);
  return json_pack("{s:s,s:I,s:I,s:s,s:s,s:i,s:s,s:s,s:i,s:b}", "origin", origin, "first", (json_int_t)first, "last",
                   (json_int_t)last, "issuance", issuance, "project", "TH014", "vintage", 2021, "unit_type",
                   "JCM credit", "auth_id", "THA-A6-0001", "auth_version", 1, "first_transferred", 0);
}

/* A proposal from THA01 of blocks (taken) into account `to`, then (when it
 * was accepted) its `complete`: what a hostile THA01 can make JPN01 credit
 * without having reserved anything. Returns the proposal's check code, or
 * -1 when it was answered with a reject. */
static int hostile_transfer(pair *p, const char *tx, json_t *blocks, json_t *auths, const char *to) {
  int64_t total = 0;
  size_t i;
  json_t *b;
  json_array_foreach(blocks, i, b) total +=
      json_integer_value(json_object_get(b, "last")) - json_integer_value(json_object_get(b, "first")) + 1;
  json_t *prop = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:o}", "type", "proposal", "tx", tx, "from_account", p->acc.gov,
                           "to_account", to, "quantity", (json_int_t)total, "blocks", blocks, "auths", auths);
  int code = send_as(p->tha_path, "THA01", p->jpn, p->jpn_path, prop);
  if (code) return code;
  json_t *rows = t_rows(p->jpn, "xfers", NULL, NULL);
  const char *status = "";
  json_array_foreach(rows, i, b) if (strcmp(json_string_value(json_object_get(b, "id")), tx) == 0) status =
      json_string_value(json_object_get(b, "status"));
  int accepted = strcmp(status, "accepted") == 0;
  json_decref(rows);
  if (!accepted) return -1;
  json_t *complete = json_pack("{s:s,s:s}", "type", "complete", "tx", tx);
  assert_int_equal(send_as(p->tha_path, "THA01", p->jpn, p->jpn_path, complete), 0);
  return 0;
}

/* ---- a hostile peer ---- */

/* Two blocks of one proposal that overlap: the acquirer must not credit the
 * serials they share twice (found: it inserted both rows, [1-10] and [5-14],
 * so JPN01 held serials 5-10 twice and verify failed on "no overlap"). */
static void test_overlapping_blocks(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-overlap");
  json_t *blocks = json_pack("[o,o]", block("THA01", 1, 10), block("THA01", 5, 14));
  int code = hostile_transfer(&p, "THA01-X-000050", blocks, json_pack("[o]", tha_auth()), p.jpn_gov);
  assert_int_equal(code, C_LINK_MALFORMED);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* Units that claim to originate in the acquiring registry itself but were
 * never issued there (or never left it) cannot come from a peer: found, a
 * peer could mint JPN01 serials into JPN01 (verify then failed on
 * conservation: a block of this registry belongs to no issuance). */
static void test_own_origin_minted(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-mint");
  json_t *blocks = json_pack("[o]", block("JPN01", 1, 100));
  int code = hostile_transfer(&p, "THA01-X-000051", blocks, json_pack("[o]", tha_auth()), p.jpn_gov);
  assert_int_equal(code, -1); /* answered with a reject */
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* Serials at the very end of the serial space (2^63-1): found, the credit
 * plan computed last + 1 (signed overflow) and credited nothing while the
 * movement said 10 (verify: holdings disagree with movements). */
static void test_serials_at_the_end(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-max");
  /* then serials 1-5: the action rows must not join them to the last one */
  json_t *blocks = json_pack("[o,o]", block("KOR01", INT64_MAX - 9, INT64_MAX), block("KOR01", 1, 5));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000052", blocks, json_pack("[o]", tha_auth()), p.jpn_gov), 0);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 15);
  assert_int_equal(t_action_units(p.jpn, "Acquisition"), 15);
  json_t *rows = t_rows(p.jpn, "blocks", "account", p.jpn_gov);
  assert_int_equal(json_array_size(rows), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 1), "last")), INT64_MAX);
  json_decref(rows);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* A proposal's transaction id must be the sender's: found, THA01 could
 * propose under "JPN01-X-000001", the id JPN01 gives its own first external
 * transfer, and JPN01 could then never propose one (its insert failed on
 * the id taken); under a third registry's id it would stop that
 * registry's channel (7007, "proposed before"). */
static void test_foreign_transaction_id(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-txid");
  pair_authorize(&p, "[\"JPN\",\"THA\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_t *blocks = json_pack("[o]", block("THA01", 1, 10));
  assert_int_equal(hostile_transfer(&p, "JPN01-X-000001", blocks, json_pack("[o]", tha_auth()), p.jpn_gov),
                   C_LINK_MALFORMED);
  blocks = json_pack("[o]", block("THA01", 1, 10));
  assert_int_equal(hostile_transfer(&p, "THA01-T-000001", blocks, json_pack("[o]", tha_auth()), p.jpn_gov),
                   C_LINK_MALFORMED);
  /* the honest path: THA01 sends 9, JPN01 sends 1 back with its own first id */
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":9}",
                     p.acc.gov, p.jpn_gov));
  pair_sync(&p);
  json_t *r = t_must(p.jpn, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}",
                     p.jpn_gov, p.acc.hold_b);
  assert_string_equal(json_string_value(json_object_get(r, "tx")), "JPN01-X-000001");
  json_decref(r);
  pair_sync(&p);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 8);
  assert_int_equal(t_balance(p.tha, p.acc.hold_b), 1);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* An authorization attributed to the acquiring Party itself that its
 * registry never recorded is forged: found, JPN01 accepted and stored
 * "JPN-A6-0001" of Party JPN, credited THA01's unauthorized units under it
 * and let Japan use them toward its NDC. Authorizations no block refers to
 * were stored too. */
static void test_forged_own_authorization(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-ownauth");
  json_t *auth = tha_auth();
  json_object_set_new(auth, "id", json_string("JPN-A6-0001"));
  json_object_set_new(auth, "party", json_string("JPN"));
  json_object_set_new(auth, "registry", json_string("JPN01"));
  json_t *b = block("THA01", 1010, 1019);
  json_object_set_new(b, "auth_id", json_string("JPN-A6-0001"));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000060", json_pack("[o]", b), json_pack("[o]", auth), p.jpn_gov), -1);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  /* an extra authorization that none of the blocks refers to */
  json_t *extra = tha_auth();
  json_object_set_new(extra, "id", json_string("THA-A6-0099"));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000061", json_pack("[o]", block("THA01", 1010, 1019)),
                                    json_pack("[o,o]", tha_auth(), extra), p.jpn_gov),
                   C_LINK_MALFORMED);
  json_t *rows = t_rows(p.jpn, "authorizations", NULL, NULL);
  assert_int_equal(json_array_size(rows), 0);
  json_decref(rows);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* A block's texts longer than the acquirer keeps them: found, an auth_id
 * of 60 characters was cut to 47 for the checks (matching an authorization
 * carried under the cut id) but credited whole, so JPN01 held units under
 * an authorization id it has no record of. */
static void test_long_texts(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-long");
  char id[61];
  memset(id, 'A', 60);
  id[60] = 0;
  json_t *b = block("THA01", 1, 10), *auth = tha_auth();
  json_object_set_new(b, "auth_id", json_string(id));
  id[47] = 0;
  json_object_set_new(auth, "id", json_string(id));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000080", json_pack("[o]", b), json_pack("[o]", auth), p.jpn_gov),
                   C_LINK_MALFORMED);
  b = block("THA01", 1, 10);
  json_object_set_new(b, "project", json_string("TH014-AND-A-LONG-TAIL"));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000081", json_pack("[o]", b), json_pack("[o]", tha_auth()), p.jpn_gov),
                   C_LINK_MALFORMED);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 0);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* A block's issuance belongs to its originating registry: found, JPN01
 * could send KOR01 units labelled with THA01's own issuance id
 * THA01-I-000001, and THA01's verify then failed on conservation (the
 * issuance's blocks added up to more than was issued). */
static void test_issuance_of_another_origin(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-issuance");
  json_t *b = block("KOR01", 1, 10), *auth = tha_auth();
  json_object_set_new(b, "issuance", json_string("THA01-I-000001"));
  json_object_set_new(auth, "parties", json_string("[\"THA\"]"));
  json_object_set_new(auth, "id", json_string("KOR-A6-0001"));
  json_object_set_new(auth, "party", json_string("KOR"));
  json_object_set_new(b, "auth_id", json_string("KOR-A6-0001"));
  json_t *prop =
      json_pack("{s:s,s:s,s:s,s:s,s:i,s:[o],s:[o]}", "type", "proposal", "tx", "JPN01-X-000001", "from_account",
                p.jpn_gov, "to_account", p.acc.hold_b, "quantity", 10, "blocks", b, "auths", auth);
  assert_int_equal(send_as(p.jpn_path, "JPN01", p.tha, p.tha_path, prop), C_LINK_MALFORMED);
  assert_int_equal(t_balance(p.tha, p.acc.hold_b), 0);
  t_verify_ok(p.tha);
  pair_close(&p);
}

/* Two proposals of the same serials, both accepted before either is
 * complete: found, the acquirer accepted both (neither was held yet), the
 * first `complete` credited the units and the second was then refused
 * (7009), which stops the channel from that peer for good while the sender
 * has moved the units out. The second proposal must be rejected instead. */
static void test_pending_overlap(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-pending");
  json_t *prop = json_pack("{s:s,s:s,s:s,s:s,s:i,s:[o],s:[o]}", "type", "proposal", "tx", "THA01-X-000090",
                           "from_account", p.acc.gov, "to_account", p.jpn_gov, "quantity", 10, "blocks",
                           block("THA01", 1, 10), "auths", tha_auth());
  assert_int_equal(send_as(p.tha_path, "THA01", p.jpn, p.jpn_path, prop), 0);
  json_t *blocks = json_pack("[o]", block("THA01", 5, 14));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000091", blocks, json_pack("[o]", tha_auth()), p.jpn_hold), -1);
  json_t *complete = json_pack("{s:s,s:s}", "type", "complete", "tx", "THA01-X-000090");
  assert_int_equal(send_as(p.tha_path, "THA01", p.jpn, p.jpn_path, complete), 0);
  assert_int_equal(t_balance(p.jpn, p.jpn_gov), 10);
  assert_int_equal(t_balance(p.jpn, p.jpn_hold), 0);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* Authorization versions start at 1; 0 means "the latest" when the store
 * looks one up: found, a proposal of units under version 0 (carrying a
 * version 0 with the terms of the known version 1) was accepted and
 * recorded a version 0 of THA-A6-0001 in JPN01. */
static void test_auth_version_zero(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-version0");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":9}",
                     p.acc.gov, p.jpn_gov));
  pair_sync(&p);
  json_t *b = block("THA01", 1, 10), *auth = tha_auth();
  json_object_set_new(b, "auth_version", json_integer(0));
  json_object_set_new(auth, "version", json_integer(0));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000095", json_pack("[o]", b), json_pack("[o]", auth), p.jpn_hold),
                   C_LINK_MALFORMED);
  json_t *rows = t_rows(p.jpn, "authorizations", NULL, NULL);
  assert_int_equal(json_array_size(rows), 1);
  json_decref(rows);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* ---- invariants across registries ---- */

/* Serials an originating registry never issued, held in another: found,
 * jcm_reconcile reported nothing (only gaps and overlaps within issuances
 * were looked at), although DOMAIN.md §7.7 wants the held units of all
 * registries to be exactly what was issued. A peer can send such serials
 * of its own origin; the acquirer cannot know, reconciliation must. */
static void test_reconcile_unissued(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-unissued");
  json_t *blocks = json_pack("[o]", block("THA01", 5000, 5009));
  assert_int_equal(hostile_transfer(&p, "THA01-X-000070", blocks, json_pack("[o]", tha_auth()), p.jpn_gov), 0);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  jcm *nodes[] = {p.tha, p.jpn};
  json_t *rep = NULL;
  assert_int_equal(jcm_reconcile(nodes, 2, &rep), JCM_REFUSED);
  assert_string_equal(json_string_value(json_array_get(json_object_get(rep, "problems"), 0)),
                      "THA01 serials 5000-5009 are held in JPN01 but were never issued");
  json_decref(rep);
  /* units of a registry not among those reconciled are not judged */
  jcm *jpn_only[] = {p.jpn};
  assert_int_equal(jcm_reconcile(jpn_only, 1, &rep), JCM_OK);
  json_decref(rep);
  pair_close(&p);
}

/* An account that an accepted incoming transfer will credit cannot be
 * closed in between: found, JPN01 closed its empty account after accepting
 * and the `complete` then credited 9 units into the closed account. */
static void test_close_pending_destination(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-close");
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":9}",
                     p.acc.gov, p.jpn_hold));
  int n = 0;
  json_t *ref = NULL;
  assert_int_equal(jcm_link_deliver(p.tha, p.jpn, &T_PEER, &n, &ref), JCM_OK);
  assert_int_equal(n, 1); /* the proposal: accepted, the accept not delivered yet */
  const char *close = "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"closed\",\"reason\":\"r\"}";
  assert_int_equal(code_of(p.jpn, &T_ADMIN, close, p.jpn_hold), C_STATUS_CHANGE);
  pair_sync(&p);
  assert_int_equal(t_balance(p.jpn, p.jpn_hold), 9);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* ---- authorization ---- */

/* Overlapping ranges in one authorization: found, the serials they share
 * were counted twice against the quantity and reported twice as
 * Authorization actions (AEF Table 3: 20 units for 14 serials). */
static void test_authorize_overlapping_ranges(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-auth-overlap");
  const char *fmt = "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0002\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                    "\"quantity\":%d,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":[\"JPN\"],"
                    "\"ranges\":[{\"first\":1,\"last\":10},{\"first\":5,\"last\":14}]}";
  assert_int_equal(code_of(p.tha, &T_ADMIN, fmt, 20), C_OVERLAP);
  assert_int_equal(t_action_units(p.tha, "Authorization"), 0);
  /* and two ranges of 2^63-1 serials each: their sum does not overflow */
  assert_int_equal(code_of(p.tha, &T_ADMIN,
                           "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0002\",\"date\":\"2025-11-01\","
                           "\"coop\":\"JCM-JPN-THA\",\"quantity\":1,\"sectors\":[\"Energy generation\"],"
                           "\"purposes\":\"NDC\",\"parties\":[\"JPN\"],\"ranges\":[{\"first\":1,\"last\":%lld},"
                           "{\"first\":2,\"last\":%lld}]}",
                           (long long)INT64_MAX, (long long)INT64_MAX),
                   C_OVERLAP);
  /* the honest path still works: authorized, first transferred, acquired */
  pair_authorize(&p, "[\"JPN\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":9}",
                     p.acc.gov, p.jpn_gov));
  pair_sync(&p);
  assert_int_equal(t_action_units(p.tha, "Authorization"), 1009);
  assert_int_equal(t_action_units(p.jpn, "Acquisition"), 9);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  pair_close(&p);
}

/* A project or issuance scope covers the units of it held here and still
 * unused: found, one cancelled or retired unit of the issuance made the
 * whole authorization fail (4002, "not an unused unit held here"), so once
 * any unit was cancelled the scope could not be used at all. */
static void test_scope_skips_cancelled(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-scope");
  json_decref(t_must(p.tha, &T_ADMIN,
                     "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"voluntary\",\"reason\":\"r\",\"quantity\":3}",
                     p.acc.hold_a));
  json_decref(t_must(p.tha, &T_ADMIN, "{\"cmd\":\"retire\",\"from\":\"%s\",\"quantity\":2}", p.acc.hold_a));
  json_t *r = t_must(p.tha, &T_ADMIN,
                     "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0003\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
                     "\"quantity\":2012,\"sectors\":[\"Energy generation\"],\"purposes\":\"NDC\",\"parties\":[\"JPN\"],"
                     "\"issuance\":\"THA01-I-000001\"}");
  assert_int_equal(json_integer_value(json_object_get(r, "units")), 2012);
  json_decref(r);
  assert_int_equal(t_action_units(p.tha, "Authorization"), 2012);
  /* the cancelled and retired units stay outside the authorization */
  json_t *rows = t_rows(p.tha, "blocks", "account", p.acc.cancel);
  assert_int_equal(json_array_size(rows), 1);
  assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "auth_id")) ||
              !json_object_get(json_array_get(rows, 0), "auth_id"));
  json_decref(rows);
  t_verify_ok(p.tha);
  pair_close(&p);
}

/* ---- many steps in random order ---- */

#ifndef RND_SEED
#define RND_SEED 88172645463325252u
#endif
#ifndef RND_STEPS
#define RND_STEPS 300
#endif

static uint64_t rnd_state = RND_SEED;
static int64_t rnd(int64_t n) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return (int64_t)(rnd_state % (uint64_t)n);
}

/* Submits, accepting a refusal but never a store error. */
static void try_cmd(jcm *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void try_cmd(jcm *j, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  int code = 0;
  json_t *r = NULL;
  if (t_submit(j, &T_ADMIN, buf, &code, &r) == JCM_ERROR) {
    char *e = json_dumps(r, 0);
    fail_msg("%s -> %s", buf, e);
  }
  json_decref(r);
}

/* Delivers the next message one way (side 0: THA01 to JPN01): 1 when one went. */
static int deliver_one(pair *p, int side) {
  jcm *from = side ? p->jpn : p->tha, *to = side ? p->tha : p->jpn;
  int64_t last = 0;
  json_t *msgs = NULL;
  assert_int_equal(jcm_link_last_received(to, jcm_registry(from), &last), JCM_OK);
  assert_int_equal(jcm_link_outbox(from, jcm_registry(to), last, 1, &msgs), JCM_OK);
  json_t *m = json_array_get(msgs, 0);
  if (m)
    assert_int_equal(
        t_receive(to, json_string_value(json_object_get(m, "msg")), json_string_value(json_object_get(m, "sig"))), 0);
  int went = m != NULL;
  json_decref(msgs);
  return went;
}

static void terminate_some(jcm *j) {
  json_t *rows = t_rows(j, "xfers", NULL, NULL);
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (strcmp(json_string_value(json_object_get(r, "status")), "proposed") == 0 && rnd(2))
      try_cmd(j, "{\"cmd\":\"xfer.terminate\",\"tx\":\"%s\",\"reason\":\"r\"}",
              json_string_value(json_object_get(r, "id")));
  }
  json_decref(rows);
}

static void each_unit_once(pair *p) {
  jcm *nodes[] = {p->tha, p->jpn};
  json_t *rep = NULL;
  int rc = jcm_reconcile(nodes, 2, &rep);
  if (rc != JCM_OK) {
    char *e = json_dumps(rep, 0);
    fail_msg("reconcile: %s", e);
  }
  assert_int_equal(json_integer_value(json_object_get(rep, "units_held")), 2017);
  json_decref(rep);
}

/* Proposals both ways, terminations, deliveries one message at a time,
 * internal transfers, cancellations (OIMP first transferred on
 * cancellation) and uses, in a random order: after every few steps each
 * store verifies (its journal replays to the same state) and, once all is
 * delivered, every unit is held in exactly one registry. */
static void test_random_steps(void **state) {
  (void)state;
  pair p;
  pair_open(&p, "review-random");
  pair_authorize(&p, "[\"JPN\",\"THA\"]", "\"ranges\":[{\"first\":1,\"last\":1009}]");
  json_decref(
      t_must(p.tha, &T_ADMIN,
             "{\"cmd\":\"authorize\",\"id\":\"THA-A6-0002\",\"date\":\"2025-11-01\",\"coop\":\"JCM-JPN-THA\","
             "\"quantity\":1008,\"sectors\":[\"Energy generation\"],\"purposes\":\"OIMP\",\"parties\":[\"JPN\","
             "\"THA\"],\"oimp_first_transfer\":\"Use or Cancellation\",\"ranges\":[{\"first\":1010,\"last\":2017}]}"));
  char jpn_cancel[32];
  t_account_of(p.jpn, "{\"cmd\":\"account.open\",\"type\":\"cancellation\",\"holder\":\"goj\",\"name\":\"C\"}",
               jpn_cancel);
  const char *kinds[] = {"voluntary", "omge", "other"};
  for (int step = 1; step <= RND_STEPS; step++) {
    int64_t q = 1 + rnd(60);
    switch (rnd(9)) {
    case 0:
      try_cmd(p.tha, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}",
              rnd(2) ? p.acc.gov : p.acc.hold_a, rnd(2) ? p.jpn_gov : p.jpn_hold, (long long)q);
      break;
    case 1:
      try_cmd(p.jpn, "{\"cmd\":\"xfer.propose\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}",
              rnd(2) ? p.jpn_gov : p.jpn_hold, rnd(2) ? p.acc.gov : p.acc.hold_b, (long long)q);
      break;
    case 2: terminate_some(rnd(2) ? p.tha : p.jpn); break;
    case 3:
    case 4:
      for (int k = (int)rnd(4); k >= 0; k--)
        deliver_one(&p, (int)rnd(2));
      break;
    case 5:
      try_cmd(p.jpn, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}", p.jpn_hold, p.jpn_gov,
              (long long)q);
      break;
    case 6:
      try_cmd(rnd(2) ? p.tha : p.jpn,
              "{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"%s\",\"reason\":\"r\",\"quantity\":%lld}",
              rnd(2) ? p.acc.hold_b : p.jpn_hold, kinds[rnd(3)], (long long)(1 + rnd(5)));
      break;
    case 7:
      try_cmd(p.jpn, "{\"cmd\":\"use\",\"from\":\"%s\",\"year\":2030,\"quantity\":%lld}", p.jpn_gov,
              (long long)(1 + rnd(5)));
      break;
    default:
      try_cmd(p.tha, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%lld}", p.acc.hold_b,
              rnd(2) ? p.acc.gov : p.acc.hold_a, (long long)q);
    }
    if (step % 50 == 0) {
      t_verify_ok(p.tha);
      t_verify_ok(p.jpn);
    }
    if (step % 100 == 0) { /* units in flight are held nowhere until delivered */
      pair_sync(&p);
      each_unit_once(&p);
    }
  }
  pair_sync(&p);
  t_verify_ok(p.tha);
  t_verify_ok(p.jpn);
  each_unit_once(&p);
  /* something happened on every path */
  assert_true(t_action_units(p.jpn, "Acquisition") > 0);
  assert_true(t_action_units(p.tha, "Acquisition") > 0);
  assert_true(t_action_units(p.jpn, "Use") > 0);
  assert_true(t_action_units(p.jpn, "Cancellation") > 0);
  pair_close(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overlapping_blocks),
      cmocka_unit_test(test_own_origin_minted),
      cmocka_unit_test(test_serials_at_the_end),
      cmocka_unit_test(test_authorize_overlapping_ranges),
      cmocka_unit_test(test_foreign_transaction_id),
      cmocka_unit_test(test_forged_own_authorization),
      cmocka_unit_test(test_reconcile_unissued),
      cmocka_unit_test(test_close_pending_destination),
      cmocka_unit_test(test_long_texts),
      cmocka_unit_test(test_issuance_of_another_origin),
      cmocka_unit_test(test_pending_overlap),
      cmocka_unit_test(test_auth_version_zero),
      cmocka_unit_test(test_scope_skips_cancelled),
      cmocka_unit_test(test_random_steps),
      /* one per line */
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
