/*
 * Moving units inside one registry: transfer between two accounts,
 * cancellation (into a cancellation account, with its kind and reason) and
 * retirement (into a retirement account). Nothing ever leaves a cancellation
 * or retirement account. Units are named by quantity (the source's largest
 * blocks first, optionally of one project or vintage; see blocks.c) or by
 * exact serial ranges.
 */
#include <stdio.h>
#include <string.h>

#include "spec.h"

static int is_one_of(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

int jcm__check_source(jcm_ctx *c, const char *from) {
  static const char *const senders[] = {"holding", "government-holding", "share-of-proceeds", NULL};
  jcm_account a;
  int e = jcm__account_get(c->st, from, &a);
  if (e < 0) return jcm__dberr(c, "source");
  if (!e) {
    if (c->role == R_HOLDER) /* as for another's account: guessing ids tells a holder nothing */
      return jcm__refuse(c, C_NOT_HOLDER, "from", "%s does not hold account %s", c->actor->name, from);
    if (strncmp(from, c->j->registry, 5) != 0)
      return jcm__refuse(c, C_SRC_FOREIGN, "from", "%s belongs to registry %.5s, not %s", from, from, c->j->registry);
    return jcm__refuse(c, C_SRC_UNKNOWN, "from", "no account %s", from);
  }
  char org[72];
  jcm__actor_org(c->actor, org);
  if (c->role == R_HOLDER && strcmp(a.holder, org) != 0)
    return jcm__refuse(c, C_NOT_HOLDER, "from", "%s does not hold account %s", org, from);
  if (strcmp(a.status, "open") != 0) return jcm__refuse(c, C_SRC_NOT_OPEN, "from", "account %s is %s", from, a.status);
  if (!is_one_of(a.type, senders)) return jcm__refuse(c, C_SRC_TYPE, "from", "units never leave a %s account", a.type);
  jcm__copy(c->source_id, sizeof c->source_id, a.id);
  jcm__copy(c->source_type, sizeof c->source_type, a.type);
  return JCM_OK;
}

static int check_destination(jcm_ctx *c, const char *from, const char *to, const char *const *types) {
  jcm_account a;
  int e = jcm__account_get(c->st, to, &a);
  if (e < 0) return jcm__dberr(c, "destination");
  if (!e) {
    if (strncmp(to, c->j->registry, 5) != 0)
      return jcm__refuse(c, C_DST_FOREIGN, "to", "%s belongs to registry %.5s: that is an external transfer", to, to);
    return jcm__refuse(c, C_DST_UNKNOWN, "to", "no account %s", to);
  }
  if (strcmp(from, to) == 0) return jcm__refuse(c, C_DST_SAME, "to", "source and destination are both %s", to);
  if (strcmp(a.status, "open") != 0) return jcm__refuse(c, C_DST_NOT_OPEN, "to", "account %s is %s", to, a.status);
  if (!is_one_of(a.type, types))
    return jcm__refuse(c, C_DST_TYPE, "to", "a %s account cannot receive units this way", a.type);
  return JCM_OK;
}

/* The registry's first open account of a type, for cancel and retire. */
static int default_account(jcm_ctx *c, const char *type, char out[32]) {
  static const char q[] = "SELECT id FROM account WHERE type = ? AND status = 'open' ORDER BY id LIMIT 1";
  jcm_stmt *s = db_q(c->st, q, "s", type);
  if (!s) return jcm__dberr(c, "default account");
  int rc = db_step(c->st, s);
  if (rc == JCM_ROW) snprintf(out, 32, "%s", col_text(c->st, s, 0));
  db_reset(c->st, s);
  if (rc == JCM_STEP_ERROR) return jcm__dberr(c, "default account");
  return rc == JCM_ROW ? JCM_OK : jcm__refuse(c, C_DST_NONE, "to", "this registry has no open %s account", type);
}

/* Fills out.ranges and out.quantity from the quantity or the ranges. */
int jcm__resolve_units(jcm_ctx *c, const char *from) {
  json_t *ranges = json_object_get(c->args, "ranges");
  int64_t quantity = jcm__i(c->args, "quantity", 0);
  if (!ranges && !quantity) return jcm__refuse(c, C_MISSING, "quantity", "give a quantity or serial ranges");
  if (ranges && json_array_size(ranges) == 0) return jcm__refuse(c, C_MISSING, "ranges", "ranges must not be empty");
  if (ranges && (json_object_get(c->args, "project") || json_object_get(c->args, "vintage")))
    return jcm__refuse(c, C_CONFLICT, json_object_get(c->args, "project") ? "project" : "vintage",
                       "explicit ranges name the units already: give no project or vintage filter with them");
  if (ranges) {
    int64_t total = 0;
    int rc = jcm__blocks_check_ranges(c, from, ranges, &total);
    if (rc != JCM_OK) return rc;
    if (quantity && quantity != total)
      return jcm__refuse(c, C_QTY_MISMATCH, "quantity", "the ranges hold %lld units, not %lld", (long long)total,
                         (long long)quantity);
    quantity = total;
  } else {
    json_t *picked = json_array();
    json_object_set_new(c->out, "ranges", picked);
    int rc = jcm__blocks_pick(c, from, quantity, jcm__s(c->args, "project"), jcm__i(c->args, "vintage", 0), picked);
    if (rc != JCM_OK) return rc;
  }
  json_object_set_new(c->out, "quantity", json_integer(quantity));
  return JCM_OK;
}

/* The command's transaction id REG-<kind>-nnnnnn from the counter (T for
 * this registry's transactions, X for transfers between registries), or the
 * id a held command keeps through its approval. */
int jcm__new_tx(jcm_ctx *c, const char *counter, char kind) {
  if (c->fixed_tx) return jcm__fe_fixed_tx(c, counter);
  int64_t n;
  int rc = jcm__next(c, counter, &n);
  if (rc != JCM_OK) return rc;
  char id[40];
  snprintf(id, sizeof id, "%s-%c-%06lld", c->j->registry, kind, (long long)n);
  json_object_set_new(c->out, "tx", json_string(id));
  json_object_set_new(c->out, "tx_number", json_integer(n));
  return JCM_OK;
}

static int check_move(jcm_ctx *c, const char *dest_type, const char *const *dest_types) {
  const char *from = jcm__s(c->args, "from"), *to = jcm__s(c->args, "to");
  char found[32];
  int rc = jcm__check_source(c, from);
  if (rc == JCM_OK && !to && dest_type) {
    rc = default_account(c, dest_type, found);
    to = found;
  }
  if (rc == JCM_OK) rc = check_destination(c, from, to, dest_types);
  if (rc == JCM_OK) rc = jcm__resolve_units(c, from);
  if (rc == JCM_OK) rc = jcm__new_tx(c, "tx", 'T');
  if (rc == JCM_OK) json_object_set_new(c->out, "to", json_string(to));
  return rc;
}

static int apply_move(jcm_ctx *c, const char *type) {
  static const char q[] =
      "INSERT INTO tx(id, seq, type, status, from_account, to_account, quantity, kind, reason, idem_key)"
      " VALUES (?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?)";
  const char *from = jcm__s(c->args, "from"), *to = jcm__s(c->out, "to"), *tx = jcm__s(c->out, "tx");
  json_t *ranges = json_object_get(c->out, "ranges");
  /* Events from before migration 10 also carry a "cut": where the pick of
   * the highest serials split the source. Moving their ranges leaves the
   * same blocks (each range is a run of the source's blocks, split at its
   * lower end only), so a replay of an older journal ignores it. */
  int rc = jcm__blocks_move(c, from, to, ranges);
  if (rc == JCM_OK) rc = jcm__movements(c, tx, from, to, ranges);
  if (rc != JCM_OK) return rc;
  if (db_x(c->st, q, "sisssisss", tx, c->seq, type, from, to, jcm__i(c->out, "quantity", 0), jcm__s(c->args, "kind"),
           jcm__s(c->args, "reason"), jcm__s(c->args, "key")) != 0 ||
      jcm__counter_set(c, "tx", jcm__i(c->out, "tx_number", 0)) != 0)
    return jcm__dberr(c, type);
  return JCM_OK;
}

/* ---- Article 6: what cancelling or using authorized units records ---- */

static const char *cancel_type(const char *kind) {
  return strcmp(kind, "voluntary") == 0 ? "Voluntary Cancellation" : "Cancellation";
}
static const char *cancel_subtype(const char *kind) {
  return strcmp(kind, "omge") == 0 ? "Voluntary cancellation to deliver OMGE" : "Other cancellations";
}

static int cancel_actions(jcm_ctx *c) {
  jcm_pieces p = {0};
  const char *kind = jcm__s(c->args, "kind");
  json_t *extra = json_pack("{s:s,s:s,s:s}", "using_party", c->j->party, "tx", jcm__s(c->out, "tx"), "purpose",
                            strcmp(kind, "omge") == 0 ? "OMGE" : "OIMP");
  int rc = jcm__a6_pieces(c, json_object_get(c->out, "ranges"), &p);
  /* an OIMP authorization may put the first transfer at this moment */
  json_t *ft = json_pack("{s:s,s:s}", "tx", jcm__s(c->out, "tx"), "purpose", "OIMP");
  if (rc == JCM_OK)
    rc = jcm__a6_add_actions(c, &p, jcm__a6_oimp_at, (void *)"Use or Cancellation", "First transfer",
                             "Use or cancellation", ft);
  if (rc == JCM_OK) rc = jcm__a6_add_actions(c, &p, NULL, NULL, cancel_type(kind), cancel_subtype(kind), extra);
  json_decref(ft);
  json_decref(extra);
  jcm__a6_pieces_free(&p);
  return rc;
}

/* Every piece used toward the NDC: authorized for NDC use by this Party,
 * within the authorization's timeframe. */
static int check_use_piece(jcm_ctx *c, const jcm_piece *x, int64_t year) {
  if (!x->auth_id[0])
    return jcm__refuse(c, C_A6_NOT_AUTHORIZED, "ranges", "serial %lld of %s is not authorized under Article 6",
                       (long long)x->first, x->origin);
  int err = 0;
  json_t *auth = jcm__a6_auth(c->st, x->auth_id, x->auth_version, &err);
  if (!auth)
    return err ? jcm__dberr(c, "auth") : jcm__refuse(c, C_A6_NOT_AUTHORIZED, "ranges", "unknown authorization");
  int rc = JCM_OK;
  if (!jcm__a6_for_ndc(jcm__s(auth, "purposes")))
    rc = jcm__refuse(c, C_A6_PURPOSE, "ranges", "authorization %s allows %s, not use toward an NDC", x->auth_id,
                     jcm__s(auth, "purposes"));
  else if (!jcm__a6_listed(jcm__s(auth, "parties"), c->j->party))
    rc = jcm__refuse(c, C_A6_PARTY_NOT_AUTHORIZED, "ranges", "authorization %s does not authorize %s", x->auth_id,
                     c->j->party);
  else if ((jcm__i(auth, "first_year", 0) && year < jcm__i(auth, "first_year", 0)) ||
           (jcm__i(auth, "last_year", 0) && year > jcm__i(auth, "last_year", 0)))
    rc = jcm__refuse(c, C_A6_TIMEFRAME, "year", "%lld is outside the timeframe of authorization %s", (long long)year,
                     x->auth_id);
  json_decref(auth);
  return rc;
}

static int use_actions(jcm_ctx *c) {
  int64_t year = jcm__i(c->args, "year", 0);
  jcm_pieces p = {0};
  int rc = jcm__a6_pieces(c, json_object_get(c->out, "ranges"), &p);
  for (size_t i = 0; rc == JCM_OK && i < p.n; i++)
    rc = check_use_piece(c, &p.v[i], year);
  json_t *extra = json_pack("{s:s,s:I,s:s,s:s}", "using_party", c->j->party, "ndc_year", (json_int_t)year, "tx",
                            jcm__s(c->out, "tx"), "purpose", "NDC");
  if (rc == JCM_OK) rc = jcm__a6_add_actions(c, &p, NULL, NULL, "Use", NULL, extra);
  json_decref(extra);
  jcm__a6_pieces_free(&p);
  return rc;
}

static const char *const holding_types[] = {"holding", "government-holding", "share-of-proceeds", NULL};
static const char *const cancellation_types[] = {"cancellation", NULL};
static const char *const retirement_types[] = {"retirement", NULL};

int jcm__check_transfer(jcm_ctx *c) { return check_move(c, NULL, holding_types); }
int jcm__apply_transfer(jcm_ctx *c) { return apply_move(c, "transfer"); }
int jcm__check_cancel(jcm_ctx *c) {
  int rc = check_move(c, "cancellation", cancellation_types);
  return rc == JCM_OK ? cancel_actions(c) : rc;
}
int jcm__apply_cancel(jcm_ctx *c) {
  int rc = apply_move(c, "cancellation");
  if (rc == JCM_OK) rc = jcm__a6_apply_first_transfers(c);
  return rc == JCM_OK ? jcm__a6_apply_actions(c) : rc;
}

int jcm__check_use(jcm_ctx *c) {
  int rc = check_move(c, "retirement", retirement_types);
  jcm_account a;
  int e = rc == JCM_OK ? jcm__account_get(c->st, jcm__s(c->args, "from"), &a) : 0;
  if (e < 0) return jcm__dberr(c, "source");
  if (rc == JCM_OK && strcmp(a.type, "government-holding") != 0)
    rc = jcm__refuse(c, C_A6_USE_ACCOUNT, "from", "%s is a %s account, not a government holding account", a.id, a.type);
  return rc == JCM_OK ? use_actions(c) : rc;
}
int jcm__apply_use(jcm_ctx *c) {
  int rc = apply_move(c, "use");
  return rc == JCM_OK ? jcm__a6_apply_actions(c) : rc;
}
int jcm__check_retire(jcm_ctx *c) { return check_move(c, "retirement", retirement_types); }
int jcm__apply_retire(jcm_ctx *c) { return apply_move(c, "retirement"); }
