/*
 * Moving units inside one registry: transfer between two accounts,
 * cancellation (into a cancellation account, with its kind and reason) and
 * retirement (into a retirement account). Nothing ever leaves a cancellation
 * or retirement account. Units are named by quantity (the source's highest
 * serials, optionally of one project or vintage) or by exact serial ranges.
 */
#include <stdio.h>
#include <string.h>

#include "spec.h"

static int is_one_of(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

static int check_source(jcm_ctx *c, const char *from) {
  static const char *const senders[] = {"holding", "government-holding", "share-of-proceeds", NULL};
  jcm_account a;
  int e = jcm__account_get(c->st, from, &a);
  if (e < 0) return jcm__dberr(c, "source");
  if (!e) {
    if (strncmp(from, c->j->registry, 5) != 0)
      return jcm__refuse(c, C_SRC_FOREIGN, "from", "%s belongs to registry %.5s, not %s", from, from, c->j->registry);
    return jcm__refuse(c, C_SRC_UNKNOWN, "from", "no account %s", from);
  }
  if (c->role == R_HOLDER && strcmp(a.holder, c->actor->name) != 0)
    return jcm__refuse(c, C_NOT_HOLDER, "from", "%s does not hold account %s", c->actor->name, from);
  if (strcmp(a.status, "open") != 0) return jcm__refuse(c, C_SRC_NOT_OPEN, "from", "account %s is %s", from, a.status);
  if (!is_one_of(a.type, senders)) return jcm__refuse(c, C_SRC_TYPE, "from", "units never leave a %s account", a.type);
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
static int resolve_units(jcm_ctx *c, const char *from) {
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

static int new_tx(jcm_ctx *c) {
  int64_t n;
  int rc = jcm__next(c, "tx", &n);
  if (rc != JCM_OK) return rc;
  char id[40];
  snprintf(id, sizeof id, "%s-T-%06lld", c->j->registry, (long long)n);
  json_object_set_new(c->out, "tx", json_string(id));
  json_object_set_new(c->out, "tx_number", json_integer(n));
  return JCM_OK;
}

static int check_move(jcm_ctx *c, const char *dest_type, const char *const *dest_types) {
  const char *from = jcm__s(c->args, "from"), *to = jcm__s(c->args, "to");
  char found[32];
  int rc = check_source(c, from);
  if (rc == JCM_OK && !to && dest_type) {
    rc = default_account(c, dest_type, found);
    to = found;
  }
  if (rc == JCM_OK) rc = check_destination(c, from, to, dest_types);
  if (rc == JCM_OK) rc = resolve_units(c, from);
  if (rc == JCM_OK) rc = new_tx(c);
  if (rc == JCM_OK) json_object_set_new(c->out, "to", json_string(to));
  return rc;
}

static int apply_move(jcm_ctx *c, const char *type) {
  static const char q[] =
      "INSERT INTO tx(id, seq, type, status, from_account, to_account, quantity, kind, reason, idem_key)"
      " VALUES (?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?)";
  const char *from = jcm__s(c->args, "from"), *to = jcm__s(c->out, "to"), *tx = jcm__s(c->out, "tx");
  json_t *ranges = json_object_get(c->out, "ranges");
  json_t *cut = json_object_get(c->out, "cut"); /* set when taken by quantity */
  int rc = cut ? jcm__blocks_move_above(c, from, to, cut, jcm__s(c->args, "project"), jcm__i(c->args, "vintage", 0))
               : jcm__blocks_move(c, from, to, ranges);
  if (rc == JCM_OK) rc = jcm__movement(c, tx, from, -1, ranges);
  if (rc == JCM_OK) rc = jcm__movement(c, tx, to, +1, ranges);
  if (rc != JCM_OK) return rc;
  if (db_x(c->st, q, "sisssisss", tx, c->seq, type, from, to, jcm__i(c->out, "quantity", 0), jcm__s(c->args, "kind"),
           jcm__s(c->args, "reason"), jcm__s(c->args, "key")) != 0 ||
      jcm__counter_set(c->st, "tx", jcm__i(c->out, "tx_number", 0)) != 0)
    return jcm__dberr(c, type);
  return JCM_OK;
}

static const char *const holding_types[] = {"holding", "government-holding", "share-of-proceeds", NULL};
static const char *const cancellation_types[] = {"cancellation", NULL};
static const char *const retirement_types[] = {"retirement", NULL};

int jcm__check_transfer(jcm_ctx *c) { return check_move(c, NULL, holding_types); }
int jcm__apply_transfer(jcm_ctx *c) { return apply_move(c, "transfer"); }
int jcm__check_cancel(jcm_ctx *c) { return check_move(c, "cancellation", cancellation_types); }
int jcm__apply_cancel(jcm_ctx *c) { return apply_move(c, "cancellation"); }
int jcm__check_retire(jcm_ctx *c) { return check_move(c, "retirement", retirement_types); }
int jcm__apply_retire(jcm_ctx *c) { return apply_move(c, "retirement"); }
