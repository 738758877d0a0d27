/*
 * Four eyes (DOMAIN.md §2, §5): a transfer, cancellation, retirement, use or
 * external transfer proposal whose source is a government holding account
 * moves nothing when submitted. Its checks run in full; then, instead of its
 * effect, the registry records it `awaiting approval` (table pending: the
 * proposer, the full command, the ranges it resolved) and reserves exactly
 * those units under the transaction id the command was given, as an external
 * transfer reserves its units (other commands meet them as 4003).
 *
 * tx.approve, by a registry administrator other than the proposer (8007),
 * runs the command's checks again as the state stands then (the destination
 * may have closed meanwhile), on the reserved units, as the proposer and
 * under the same transaction id, and applies exactly what the command would
 * have applied: movements, AEF actions, the signed proposal in the outbox. A
 * refusal at approval rolls back like any refusal: the units stay reserved
 * and the transaction keeps waiting, to be approved later or rejected.
 * tx.reject (an administrator: terminated) and tx.cancel (the proposer or an
 * administrator: cancelled) release the reservation.
 *
 * The approval's check releases the reservation before it re-runs the
 * command's check, which would otherwise find the units reserved; apply
 * releases it again, so that replay, which runs apply alone, ends in the
 * same state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define AWAITING "awaiting approval"

static const char *const held_cmds[] = {"transfer", "cancel", "retire", "use", "xfer.propose", NULL};

static int is_held_cmd(const char *cmd) {
  for (const char *const *p = held_cmds; cmd && *p; p++)
    if (strcmp(*p, cmd) == 0) return 1;
  return 0;
}

int jcm__fe_is_held(const char *cmd, json_t *out) {
  const char *status = jcm__s(out, "status");
  return is_held_cmd(cmd) && status && strcmp(status, AWAITING) == 0;
}

/* ---- holding a command ---- */

/* 1 when `from` is a government holding account, 0 when not (or unknown),
 * -1 when the store fails. The checks have read it already, mostly. */
static int from_government(jcm_ctx *c, const char *from) {
  if (from && c->source_type[0] && strcmp(c->source_id, from) == 0)
    return strcmp(c->source_type, "government-holding") == 0;
  jcm_account a;
  int e = jcm__account_get(c->st, from, &a);
  return e <= 0 ? e : strcmp(a.type, "government-holding") == 0;
}

int jcm__fe_hold(jcm_ctx *c, const char *cmd) {
  if (!is_held_cmd(cmd)) return JCM_OK;
  const char *from = jcm__s(c->args, "from");
  int gov = from_government(c, from);
  if (gov < 0) return jcm__dberr(c, "source");
  if (!gov) return JCM_OK;
  /* cancel, retire and use may resolve their destination: keep what they found */
  const char *to = jcm__s(c->out, "to") ? jcm__s(c->out, "to") : jcm__s(c->args, "to");
  json_t *held =
      json_pack("{s:s,s:s,s:O,s:O,s:s,s:s?,s:O,s:O,s:s,s:s}", "status", AWAITING, "cmd", cmd, "tx",
                json_object_get(c->out, "tx"), "tx_number", json_object_get(c->out, "tx_number"), "from", from, "to",
                to, "quantity", json_object_get(c->out, "quantity"), "ranges", json_object_get(c->out, "ranges"),
                "proposer", c->actor->name, "proposer_role", c->actor->role);
  if (!held) return jcm__dberr(c, "hold");
  json_object_clear(c->out);
  json_object_update(c->out, held);
  json_decref(held);
  return JCM_OK;
}

int jcm__fe_apply_hold(jcm_ctx *c) {
  static const char q[] = "INSERT INTO pending(id, cmd, status, from_account, to_account, quantity, ranges, args,"
                          " proposer, proposer_role, seq, updated_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  const char *tx = jcm__s(c->out, "tx"), *cmd = jcm__s(c->out, "cmd"), *from = jcm__s(c->out, "from");
  json_t *ranges = json_object_get(c->out, "ranges");
  int rc = jcm__reserve(c, from, tx, ranges);
  if (rc != JCM_OK) return rc;
  char *rtext = jcm__canonical(ranges), *atext = jcm__canonical(c->args);
  int e = rtext && atext ? db_x(c->st, q, "sssssissssii", tx, cmd, AWAITING, from, jcm__s(c->out, "to"),
                                jcm__i(c->out, "quantity", 0), rtext, atext, jcm__s(c->out, "proposer"),
                                jcm__s(c->out, "proposer_role"), c->seq, c->seq)
                         : -1;
  free(rtext);
  free(atext);
  const char *counter = cmd && strcmp(cmd, "xfer.propose") == 0 ? "xtx" : "tx"; /* cmd: a forged entry may lack it */
  if (e != 0 || jcm__counter_set(c, counter, jcm__i(c->out, "tx_number", 0)) != 0) return jcm__dberr(c, "hold");
  return JCM_OK;
}

int jcm__fe_fixed_tx(jcm_ctx *c, const char *counter) {
  int64_t next;
  int rc = jcm__next(c, counter, &next);
  if (rc != JCM_OK) return rc;
  json_object_set_new(c->out, "tx", json_string(c->fixed_tx));
  /* the number was taken when the command was held: apply keeps the counter */
  json_object_set_new(c->out, "tx_number", json_integer(next - 1));
  return JCM_OK;
}

/* ---- the held transaction ---- */

typedef struct held_row {
  char cmd[24], proposer[132], role[24];
  json_t *args, *ranges; /* owned */
} held_row;

static void held_free(held_row *h) {
  json_decref(h->args);
  json_decref(h->ranges);
}

/* JCM_OK when tx is held awaiting approval, else refuses. */
static int held_get(jcm_ctx *c, const char *tx, held_row *h) {
  static const char q[] = "SELECT cmd, status, proposer, proposer_role, args, ranges FROM pending WHERE id = ?";
  char status[24] = "";
  memset(h, 0, sizeof *h);
  jcm_stmt *s = db_q(c->st, q, "s", tx);
  if (!s) return jcm__dberr(c, "pending");
  int step = db_step(c->st, s);
  if (step == JCM_ROW) {
    snprintf(h->cmd, sizeof h->cmd, "%s", col_text(c->st, s, 0));
    snprintf(status, sizeof status, "%s", col_text(c->st, s, 1));
    snprintf(h->proposer, sizeof h->proposer, "%s", col_text(c->st, s, 2));
    snprintf(h->role, sizeof h->role, "%s", col_text(c->st, s, 3));
    h->args = json_loads(col_text(c->st, s, 4), 0, NULL);
    h->ranges = json_loads(col_text(c->st, s, 5), 0, NULL);
  }
  db_reset(c->st, s);
  if (step == JCM_STEP_ERROR || (step == JCM_ROW && (!h->args || !h->ranges))) return jcm__dberr(c, "pending");
  if (step != JCM_ROW) return jcm__refuse(c, C_UNKNOWN_TX, "tx", "no transaction %s awaits approval here", tx);
  if (strcmp(status, AWAITING) != 0)
    return jcm__refuse(c, C_NOT_AWAITING, "tx", "transaction %s is %s, not awaiting approval", tx, status);
  return JCM_OK;
}

static int decide(jcm_ctx *c, const char *tx, const char *status, const char *reason) {
  static const char q[] = "UPDATE pending SET status = ?, decided_by = ?, reason = ?, updated_seq = ? WHERE id = ?";
  return db_x(c->st, q, "sssis", status, c->actor->name, reason, c->seq, tx) == 0 ? JCM_OK : jcm__dberr(c, "pending");
}

/* The command as approval re-runs it: on exactly the reserved units. */
static json_t *approval_args(const held_row *h) {
  json_t *args = json_deep_copy(h->args);
  if (!args) return NULL;
  json_object_del(args, "quantity");
  json_object_del(args, "project");
  json_object_del(args, "vintage");
  json_object_set_new(args, "ranges", json_deep_copy(h->ranges));
  return args;
}

/* Runs the held command's check as its proposer, under the held id. */
static int recheck(jcm_ctx *c, const char *tx, const held_row *h) {
  const cmd_spec *spec = jcm__spec_find(h->cmd);
  if (!spec) return jcm__refuse(c, C_UNKNOWN_CMD, "tx", "transaction %s holds an unknown command", tx);
  jcm_actor proposer = {h->proposer, h->role};
  json_t *args = approval_args(h), *out = json_object();
  jcm_ctx in = {.j = c->j,
                .st = c->st,
                .actor = &proposer,
                .role = jcm__role_bit(h->role),
                .args = args,
                .out = out,
                .chk = c->chk,
                .fixed_tx = tx};
  int rc = args && out ? spec->check(&in) : jcm__dberr(c, "approve");
  /* the result is the command's own, plus what apply needs to replay it */
  json_t *held = rc == JCM_OK ? json_pack("{s:s,s:s,s:s,s:O}", "cmd", h->cmd, "proposer", h->proposer, "proposer_role",
                                          h->role, "args", args)
                              : NULL;
  if (rc == JCM_OK && !held) rc = jcm__dberr(c, "approve");
  if (rc == JCM_OK) {
    json_object_update(c->out, out);
    if (!json_object_get(out, "status")) json_object_set_new(c->out, "status", json_string("completed"));
    json_object_set_new(c->out, "approved", held);
  }
  json_decref(args);
  json_decref(out);
  return rc;
}

int jcm__check_tx_approve(jcm_ctx *c) {
  const char *tx = jcm__s(c->args, "tx");
  held_row h;
  int rc = held_get(c, tx, &h);
  if (rc == JCM_OK && strcmp(h.proposer, c->actor->name) == 0)
    rc = jcm__refuse(c, C_SECOND_APPROVER, "tx", "%s proposed %s: another registry administrator must approve it",
                     h.proposer, tx);
  /* the command's own check must find the units free; a refusal rolls this back */
  if (rc == JCM_OK) rc = jcm__release(c, tx);
  if (rc == JCM_OK) rc = recheck(c, tx, &h);
  held_free(&h);
  return rc;
}

int jcm__apply_tx_approve(jcm_ctx *c) {
  const char *tx = jcm__s(c->out, "tx");
  json_t *held = json_object_get(c->out, "approved");
  const cmd_spec *spec = jcm__spec_find(jcm__s(held, "cmd"));
  jcm_actor proposer = {jcm__s(held, "proposer"), jcm__s(held, "proposer_role")};
  jcm_ctx in = *c;
  in.actor = &proposer;
  in.role = jcm__role_bit(proposer.role);
  in.args = json_object_get(held, "args");
  in.fixed_tx = tx;
  int rc = spec && in.args && tx ? jcm__release(c, tx)
                                 : jcm__refuse(c, C_UNKNOWN_CMD, "tx", "the approval names no held command");
  if (rc == JCM_OK) rc = spec->apply(&in);
  return rc == JCM_OK ? decide(c, tx, "approved", NULL) : rc;
}

/* ---- rejecting and withdrawing ---- */

static int check_close(jcm_ctx *c, const char *status) {
  const char *tx = jcm__s(c->args, "tx");
  held_row h;
  int rc = held_get(c, tx, &h);
  if (rc == JCM_OK && c->role == R_HOLDER && strcmp(h.proposer, c->actor->name) != 0)
    rc = jcm__refuse(c, C_NOT_PROPOSER, "tx", "%s did not propose %s", c->actor->name, tx);
  held_free(&h);
  json_t *o =
      rc == JCM_OK ? json_pack("{s:s,s:s,s:s}", "tx", tx, "status", status, "reason", jcm__s(c->args, "reason")) : NULL;
  if (o) json_object_update(c->out, o);
  json_decref(o);
  return rc;
}

static int apply_close(jcm_ctx *c) {
  const char *tx = jcm__s(c->out, "tx");
  int rc = jcm__release(c, tx);
  return rc == JCM_OK ? decide(c, tx, jcm__s(c->out, "status"), jcm__s(c->out, "reason")) : rc;
}

int jcm__check_tx_reject(jcm_ctx *c) { return check_close(c, "terminated"); }
int jcm__apply_tx_reject(jcm_ctx *c) { return apply_close(c); }
int jcm__check_tx_cancel(jcm_ctx *c) { return check_close(c, "cancelled"); }
int jcm__apply_tx_cancel(jcm_ctx *c) { return apply_close(c); }
