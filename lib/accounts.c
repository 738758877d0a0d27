/*
 * Accounts: opening (the registry assigns the id, with check digits),
 * blocking, unblocking and closing. Every status change is kept with its
 * reason in account_status.
 */
#include <stdio.h>
#include <string.h>

#include "spec.h"

static const struct {
  const char *type;
  int code;
} type_codes[] = {{"holding", 100},      {"government-holding", 110}, {"pending", 200},
                  {"cancellation", 300}, {"retirement", 400},         {"share-of-proceeds", 500}};

int jcm__account_type_code(const char *type) {
  for (size_t i = 0; i < sizeof type_codes / sizeof type_codes[0]; i++)
    if (strcmp(type_codes[i].type, type) == 0) return type_codes[i].code;
  return 0;
}

int jcm__account_get(jcm_store *st, const char *id, jcm_account *a) {
  static const char q[] = "SELECT id, type, status, holder FROM account WHERE id = ?";
  jcm_stmt *s = db_q(st, q, "s", id);
  if (!s) return -1;
  int rc = db_step(st, s);
  if (rc == JCM_ROW) {
    jcm__copy(a->id, sizeof a->id, col_text(st, s, 0));
    jcm__copy(a->type, sizeof a->type, col_text(st, s, 1));
    jcm__copy(a->status, sizeof a->status, col_text(st, s, 2));
    jcm__copy(a->holder, sizeof a->holder, col_text(st, s, 3));
    jcm__copy(a->registry, 6, a->id);
  }
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

static int insert_status(jcm_ctx *c, const char *account, const char *status, const char *reason) {
  static const char q[] = "INSERT INTO account_status(seq, account, status, reason) VALUES (?, ?, ?, ?)";
  return db_x(c->st, q, "isss", c->seq, account, status, reason) == 0 ? JCM_OK : jcm__dberr(c, "account status");
}

int jcm__check_account_open(jcm_ctx *c) {
  const char *holder = jcm__s(c->args, "holder");
  int e = jcm__org_exists(c->st, holder);
  if (e < 0) return jcm__dberr(c, "org");
  if (!e) return jcm__refuse(c, C_UNKNOWN_ORG, "holder", "no organisation '%s'", holder);
  int64_t seq;
  int rc = jcm__next(c, "account", &seq);
  if (rc != JCM_OK) return rc;
  char id[32];
  if (jcm__account_make(c->j->registry, jcm__account_type_code(jcm__s(c->args, "type")), seq, id) != 0)
    return jcm__refuse(c, C_RANGE, "", "this registry has used all 999,999 account numbers");
  json_object_set_new(c->out, "account", json_string(id));
  json_object_set_new(c->out, "number", json_integer(seq));
  return JCM_OK;
}

int jcm__apply_account_open(jcm_ctx *c) {
  static const char q[] =
      "INSERT INTO account(id, type, holder, name, status, opened_seq) VALUES (?, ?, ?, ?, 'open', ?)";
  const char *id = jcm__s(c->out, "account");
  if (db_x(c->st, q, "ssssi", id, jcm__s(c->args, "type"), jcm__s(c->args, "holder"), jcm__s(c->args, "name"),
           c->seq) != 0)
    return jcm__dberr(c, "account.open");
  if (jcm__counter_set(c, "account", jcm__i(c->out, "number", 0)) != 0) return jcm__dberr(c, "account.open");
  return insert_status(c, id, "open", "opened");
}

static int account_units(jcm_ctx *c, const char *id, int64_t *n) {
  static const char q[] = "SELECT COUNT(*) FROM block WHERE account = ?";
  jcm_stmt *s = db_q(c->st, q, "s", id);
  if (!s || db_step(c->st, s) != JCM_ROW) return jcm__dberr(c, "account units");
  *n = col_int(c->st, s, 0);
  db_reset(c->st, s);
  return JCM_OK;
}

/* External transfers this registry accepted into account id and that the
 * sender has yet to complete: the `complete` will credit the account, and
 * cannot be refused without losing the units the sender moved out. */
static int incoming(jcm_ctx *c, const char *id, int64_t *n) {
  static const char q[] = "SELECT COUNT(*) FROM xtx WHERE dir = 'in' AND status = 'accepted' AND to_account = ?";
  jcm_stmt *s = db_q(c->st, q, "s", id);
  if (!s || db_step(c->st, s) != JCM_ROW) {
    if (s) db_reset(c->st, s);
    return jcm__dberr(c, "incoming transfers");
  }
  *n = col_int(c->st, s, 0);
  db_reset(c->st, s);
  return JCM_OK;
}

int jcm__check_account_status(jcm_ctx *c) {
  const char *id = jcm__s(c->args, "account"), *to = jcm__s(c->args, "status");
  jcm_account a;
  int e = jcm__account_get(c->st, id, &a);
  if (e < 0) return jcm__dberr(c, "account");
  if (!e) return jcm__refuse(c, C_UNKNOWN_ACCOUNT, "account", "no account %s", id);
  if (strcmp(a.status, "closed") == 0)
    return jcm__refuse(c, C_STATUS_CHANGE, "status", "account %s is closed for good", id);
  if (strcmp(a.status, to) == 0) return jcm__refuse(c, C_STATUS_CHANGE, "status", "account %s is %s already", id, to);
  if (strcmp(to, "closed") == 0) {
    int64_t blocks = 0;
    int rc = account_units(c, id, &blocks);
    if (rc != JCM_OK) return rc;
    if (blocks) return jcm__refuse(c, C_STATUS_CHANGE, "status", "account %s still holds units; move them first", id);
    if ((rc = incoming(c, id, &blocks)) != JCM_OK) return rc;
    if (blocks)
      return jcm__refuse(c, C_STATUS_CHANGE, "status", "an accepted external transfer will credit account %s", id);
  }
  json_object_set_new(c->out, "from", json_string(a.status));
  return JCM_OK;
}

int jcm__apply_account_status(jcm_ctx *c) {
  static const char q[] = "UPDATE account SET status = ? WHERE id = ?";
  const char *id = jcm__s(c->args, "account"), *to = jcm__s(c->args, "status");
  if (db_x(c->st, q, "ss", to, id) != 0) return jcm__dberr(c, "account.status");
  return insert_status(c, id, to, jcm__s(c->args, "reason"));
}
