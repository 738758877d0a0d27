/*
 * Who may read what (DOMAIN.md §2 and §11). Writes are authorized by the
 * command table; reads here, so that every front end (the HTTP server now,
 * others later) applies the same rule:
 *   - the public reads the public reports: the project cycle, JC decisions,
 *     issuances and their allocation, Parties, registries and their keys,
 *     Article 6 authorizations, actions and balances, and the journal head;
 *   - an account holder also reads organisations and its own accounts,
 *     their balances, blocks, statements and transactions; another holder's
 *     account, or one that does not exist, is refused alike (8002), so
 *     guessing account or transaction ids tells nothing;
 *   - administrator, JC secretariat, TPE and auditor read everything, but
 *     the transactions awaiting a second administrator's approval (pending),
 *     the users of the server and their API tokens only administrators, who
 *     decide, disable and revoke them, and auditors;
 *   - a peer registry and the server role read what the public reads.
 * The AEF report (jcm_aef) is a public report too: it is what the Party
 * submits, built from the public Article 6 tables (authorizations, actions).
 */
#include <string.h>

#include "engine.h"
#include "spec.h"

static const char *const public_queries[] = {
    "head",           "projects",    "project_steps", "periods",         "decisions",
    "issuances",      "allocations", "parties",       "registries",      "registries_keys",
    "authorizations", "actions",     "a6.balance",    "public_accounts", "units_by_type",
    "tx_summary",     NULL,
};
/* Public reports that are not queries. */
static const char *const public_reports[] = {"aef", NULL};
/* What a holder reads beyond the public reports, each narrowed to its own. */
static const char *const holder_queries[] = {"orgs", "accounts", "balance", "blocks", "statement", "tx", NULL};

/* Read by administrators and auditors alone (DOMAIN.md §2: auditors read
 * everything): the transactions administrators decide, and the users of the
 * server and their API tokens (ids, never secrets) that administrators
 * disable and revoke. */
static const char *const approver_queries[] = {"pending", "users", "tokens", NULL};

static int listed(const char *const *list, const char *name) {
  for (; *list; list++)
    if (strcmp(*list, name) == 0) return 1;
  return 0;
}

int jcm__query_public(const char *name) { return listed(public_queries, name); }

static int owns_account(jcm_store *st, const char *org, const char *account) {
  jcm_stmt *s = db_q(st, "SELECT 1 FROM account WHERE id = ? AND holder = ?", "ss", account, org);
  if (!s) return -1;
  int rc = db_step(st, s);
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

/* A transaction concerns a holder when one of its accounts is the holder's. */
static int owns_tx(jcm_store *st, const char *org, const char *id) {
  static const char q[] = "SELECT 1 FROM tx t WHERE t.id = ? AND (EXISTS (SELECT 1 FROM account a WHERE a.holder = ?"
                          " AND a.id IN (t.from_account, t.to_account)) OR EXISTS (SELECT 1 FROM movement m"
                          " JOIN account a ON a.id = m.account WHERE m.seq = t.seq AND m.tx = t.id AND a.holder = ?))";
  jcm_stmt *s = db_q(st, q, "sss", id, org, org);
  if (!s) return -1;
  int rc = db_step(st, s);
  db_reset(st, s);
  return rc == JCM_ROW ? 1 : rc == JCM_DONE ? 0 : -1;
}

/* Narrows a holder's read to its own; JCM_OK, or refuses with chk. */
static int holder_scope(jcm *j, const char *org, const char *name, json_t *params, jcm_check *chk) {
  if (strcmp(name, "orgs") == 0) return JCM_OK;
  if (strcmp(name, "accounts") == 0) {
    const char *h = jcm__s(params, "holder");
    if (h && strcmp(h, org) != 0) {
      jcm__set_check(chk, C_NOT_HOLDER, "holder", "a holder reads only its own accounts");
      return JCM_REFUSED;
    }
    json_object_set_new(params, "holder", json_string(org));
    return JCM_OK;
  }
  int is_tx = strcmp(name, "tx") == 0;
  const char *field = is_tx ? "id" : "account", *v = jcm__s(params, field);
  if (!v) {
    jcm__set_check(chk, C_MISSING, field, "a holder names the %s it reads", is_tx ? "transaction" : "account");
    return JCM_REFUSED;
  }
  int e = is_tx ? owns_tx(jcm__store(j), org, v) : owns_account(jcm__store(j), org, v);
  if (e < 0) {
    jcm__set_check(chk, 0, "", "cannot read the store");
    return JCM_ERROR;
  }
  if (!e) {
    jcm__set_check(chk, C_NOT_HOLDER, field, "%s is not one of %s's", v, org);
    return JCM_REFUSED;
  }
  return JCM_OK;
}

int jcm_may_read(const jcm_actor *actor, const char *name, jcm_check *chk) {
  memset(chk, 0, sizeof *chk);
  unsigned role = actor ? jcm__role_bit(actor->role) : 0;
  if (listed(approver_queries, name) && !(role & (R_ADMIN | R_AUDITOR))) {
    jcm__set_check(chk,
                   !actor ? C_AUTH
                   : role ? C_ROLE
                          : C_UNKNOWN_ROLE,
                   actor ? "role" : "", "only administrators and auditors read %.40s", name);
    return JCM_REFUSED;
  }
  if (listed(public_queries, name) || listed(public_reports, name) || (role & (R_ADMIN | R_JCS | R_TPE | R_AUDITOR)))
    return JCM_OK;
  if (!actor) {
    jcm__set_check(chk, C_AUTH, "", "sign in to read %.40s", name);
    return JCM_REFUSED;
  }
  if (role != R_HOLDER || !listed(holder_queries, name)) {
    jcm__set_check(chk, role ? C_ROLE : C_UNKNOWN_ROLE, "role", "a %.24s may not read %.40s",
                   actor->role ? actor->role : "", name);
    return JCM_REFUSED;
  }
  return JCM_OK; /* a holder: narrowed to its own by jcm_query_as */
}

int jcm_query_as(jcm *j, const jcm_actor *actor, const char *name, json_t *params, json_t **result, jcm_check *chk) {
  memset(chk, 0, sizeof *chk);
  *result = NULL;
  unsigned role = actor ? jcm__role_bit(actor->role) : 0;
  int rc = jcm_may_read(actor, name, chk);
  if (rc != JCM_OK) return rc;
  if (listed(public_queries, name) || (role & (R_ADMIN | R_JCS | R_TPE | R_AUDITOR)))
    return jcm_query(j, name, params, result, chk);
  /* what is left: a holder reading its own */
  if (params && !json_is_object(params)) return jcm_query(j, name, params, result, chk);
  json_t *p = params ? json_copy(params) : json_object(); /* the caller's object stays as it was */
  char org[72];
  jcm__actor_org(actor, org);
  rc = p ? holder_scope(j, org, name, p, chk) : JCM_ERROR;
  if (rc == JCM_OK) rc = jcm_query(j, name, p, result, chk);
  json_decref(p);
  return rc;
}
