/*
 * Reads: balances, statements, blocks, transactions, the journal, and lists
 * of reference data. They go straight to the state tables and never write.
 * Every list is paged (limit at most 1000, offset), so no query's answer
 * grows without bound.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "spec.h"

#define PAGE_MAX 1000

/* A row as a JSON object, members named after the columns. */
static json_t *row_json(jcm_store *st, jcm_stmt *s) {
  json_t *o = json_object();
  int n = st->ops->column_count(s);
  for (int i = 0; i < n; i++) {
    const char *name = st->ops->column_name(s, i);
    switch (st->ops->column_type(s, i)) {
    case JCM_INT: json_object_set_new(o, name, json_integer(col_int(st, s, i))); break;
    case JCM_TEXT: json_object_set_new(o, name, json_string(col_text(st, s, i))); break;
    case JCM_BLOB: {
      char hex[2 * 64 + 1];
      int len = st->ops->column_bytes(s, i);
      if (len > 64) len = 64;
      jcm__hex(st->ops->column_blob(s, i), (size_t)len, hex);
      json_object_set_new(o, name, json_string(hex));
      break;
    }
    default: json_object_set_new(o, name, json_null()); break;
    }
  }
  return o;
}

static int rows(jcm_store *st, jcm_stmt *s, json_t *arr) {
  int step;
  if (!s) return -1;
  while ((step = db_step(st, s)) == JCM_ROW)
    json_array_append_new(arr, row_json(st, s));
  db_reset(st, s);
  return step == JCM_DONE ? 0 : -1;
}

/* A named list query: its filters are optional, each bound twice as
 * "(? IS NULL OR col = ?)"; then LIMIT and OFFSET. */
typedef struct {
  const char *name;
  const char *sql;
  const char *filters[4]; /* "account", "project", ...; "#vintage" for integers */
  /* The same with "account = ?" usable by the index when an account is
   * given: SQLite cannot use one for "(? IS NULL OR account = ?)". */
  const char *sql_account;
} list_query;

static const list_query lists[] = {
    {"balance",
     "SELECT account, project, vintage, SUM(last - first + 1) AS quantity FROM block"
     " WHERE account IS NOT NULL AND (? IS NULL OR account = ?) AND (? IS NULL OR project = ?)"
     " AND (? IS NULL OR vintage = ?)"
     " GROUP BY account, project, vintage ORDER BY account, project, vintage LIMIT ? OFFSET ?",
     {"account", "project", "#vintage", NULL},
     NULL}, /* with an account given: account_balance() */
    {"blocks",
     "SELECT origin, first, last, last - first + 1 AS quantity, issuance, project, vintage, unit_type,"
     " account, reserved_tx, auth_id, auth_version, ft_seq, ft_to, out_tx FROM block WHERE (? IS NULL OR account = ?) "
     "AND (? IS NULL OR project = ?)"
     " ORDER BY origin, first LIMIT ? OFFSET ?",
     {"account", "project", NULL, NULL},
     "SELECT origin, first, last, last - first + 1 AS quantity, issuance, project, vintage, unit_type,"
     " account, reserved_tx, auth_id, auth_version, ft_seq, ft_to, out_tx FROM block WHERE ? IS NOT NULL AND account = "
     "? AND (? IS NULL OR project = ?)"
     " ORDER BY origin, first LIMIT ? OFFSET ?"},
    {"accounts",
     "SELECT a.id, a.type, a.holder, o.name AS holder_name, a.name, a.status,"
     " (SELECT COALESCE(SUM(b.last - b.first + 1), 0) FROM block b WHERE b.account = a.id) AS balance"
     " FROM account a JOIN org o ON o.id = a.holder WHERE (? IS NULL OR a.holder = ?)"
     " ORDER BY a.id LIMIT ? OFFSET ?",
     {"holder", NULL, NULL, NULL},
     NULL},
    {"projects",
     "SELECT id, pin, title, host, coop, methodology, mversion AS methodology_version, status FROM project"
     " WHERE (? IS NULL OR status = ?) ORDER BY key LIMIT ? OFFSET ?",
     {"status", NULL, NULL, NULL},
     NULL},
    {"project_steps",
     "SELECT s.seq, j.time, s.status, s.cause FROM project_step s JOIN project p ON p.key = s.project"
     " JOIN journal j ON j.seq = s.seq WHERE (? IS NULL OR ? IN (p.id, p.pin)) ORDER BY s.seq LIMIT ? OFFSET ?",
     {"project", NULL, NULL, NULL},
     NULL},
    {"periods",
     "SELECT p.id AS project, m.first_day, m.last_day, m.calculated, m.verified, m.tpe, m.report, m.status"
     " FROM period m JOIN project p ON p.key = m.project WHERE (? IS NULL OR p.id = ?)"
     " ORDER BY p.id, m.first_day LIMIT ? OFFSET ?",
     {"project", NULL, NULL, NULL},
     NULL},
    {"decisions",
     "SELECT seq, coop, meeting, date, kind, ref FROM decision WHERE (? IS NULL OR meeting = ?)"
     " ORDER BY seq LIMIT ? OFFSET ?",
     {"#meeting", NULL, NULL, NULL},
     NULL},
    {"issuances",
     "SELECT i.id, p.id AS project, i.period_start, i.vintage, i.total, i.first, i.last, d.meeting, d.date"
     " FROM issuance i JOIN project p ON p.key = i.project JOIN decision d ON d.seq = i.decision"
     " WHERE (? IS NULL OR p.id = ?) ORDER BY i.id LIMIT ? OFFSET ?",
     {"project", NULL, NULL, NULL},
     NULL},
    {"allocations",
     "SELECT issuance, account, quantity, first, last FROM allocation WHERE (? IS NULL OR issuance = ?)"
     " ORDER BY issuance, first LIMIT ? OFFSET ?",
     {"issuance", NULL, NULL, NULL},
     NULL},
    {"parties",
     "SELECT code, iso2, name_en, name_ja FROM party WHERE (? IS NULL OR code = ?) ORDER BY code LIMIT ? OFFSET ?",
     {"code", NULL, NULL, NULL},
     NULL},
    {"orgs",
     "SELECT id, name, country, ident, roles FROM org WHERE (? IS NULL OR country = ?) ORDER BY id LIMIT ? OFFSET ?",
     {"country", NULL, NULL, NULL},
     NULL},
    {"registries",
     "SELECT id, party, name, role, self FROM registry WHERE (? IS NULL OR party = ?) ORDER BY id LIMIT ? OFFSET ?",
     {"party", NULL, NULL, NULL},
     NULL},
    {"registries_keys",
     "SELECT id, party, public_key FROM registry WHERE (? IS NULL OR id = ?) ORDER BY id LIMIT ? OFFSET ?",
     {"id", NULL, NULL, NULL},
     NULL},
    {"authorizations",
     "SELECT id, version, registry, party, date, coop, quantity, metric, sectors, activities, purposes, parties,"
     " entities, first_year, last_year, terms, oimp_first_transfer, scope, seq FROM auth"
     " WHERE (? IS NULL OR id = ?) ORDER BY id, version LIMIT ? OFFSET ?",
     {"id", NULL, NULL, NULL},
     NULL},
    {"actions",
     "SELECT seq, n, time, type, subtype, coop, auth_id, auth_version, ft_party, origin, first, last,"
     " last - first + 1 AS quantity, vintage, transferring, acquiring, purpose, using_party, using_entity, ndc_year, tx"
     " FROM a6_action WHERE (? IS NULL OR type = ?) ORDER BY seq, n LIMIT ? OFFSET ?",
     {"type", NULL, NULL, NULL},
     NULL},
    {"xfers",
     "SELECT id, dir, peer, status, from_account, to_account, quantity, code, reason, seq, updated_seq FROM xtx"
     " WHERE (? IS NULL OR status = ?) ORDER BY seq LIMIT ? OFFSET ?",
     {"status", NULL, NULL, NULL},
     NULL},
    /* transactions held for a second administrator's approval (foureyes.c) */
    {"pending",
     "SELECT id, status, cmd, proposer, proposer_role, from_account, to_account, quantity, ranges, args AS command,"
     " decided_by, reason, seq, updated_seq FROM pending WHERE (? IS NULL OR status = ?) ORDER BY seq LIMIT ? OFFSET ?",
     {"status", NULL, NULL, NULL},
     NULL},
    /* users of the HTTP server and their API tokens: never a secret (those
     * stay in credential), token ids only */
    {"users",
     "SELECT name, role, org, disabled, seq, cred_seq FROM app_user WHERE (? IS NULL OR role = ?)"
     " ORDER BY name LIMIT ? OFFSET ?",
     {"role", NULL, NULL, NULL},
     NULL},
    {"tokens",
     "SELECT id, user, seq, expires, revoked_seq FROM app_token WHERE (? IS NULL OR user = ?) ORDER BY seq LIMIT ? "
     "OFFSET ?",
     {"user", NULL, NULL, NULL},
     NULL},
    /* the public reports the Japanese JCM registry publishes (DOMAIN.md §11) */
    {"public_accounts",
     "SELECT a.id, a.type, a.name, o.name AS holder, o.country, a.status FROM account a JOIN org o ON o.id = a.holder"
     " WHERE a.type IN ('holding', 'government-holding') AND (? IS NULL OR a.type = ?) ORDER BY a.id LIMIT ? OFFSET ?",
     {"type", NULL, NULL, NULL},
     NULL},
    {"units_by_type",
     "SELECT a.type, COUNT(DISTINCT a.id) AS accounts, SUM(b.last - b.first + 1) AS units FROM block b"
     " JOIN account a ON a.id = b.account WHERE (? IS NULL OR b.vintage = ?) GROUP BY a.type ORDER BY a.type"
     " LIMIT ? OFFSET ?",
     {"#vintage", NULL, NULL, NULL},
     NULL},
    {"tx_summary",
     "SELECT year, type, COUNT(*) AS transactions, SUM(quantity) AS units FROM ("
     " SELECT substr(j.time, 1, 4) AS year, t.type, t.quantity FROM tx t JOIN journal j ON j.seq = t.seq"
     " UNION ALL SELECT substr(j.time, 1, 4), 'external ' || x.dir, x.quantity FROM xtx x"
     " JOIN journal j ON j.seq = x.updated_seq WHERE x.status = 'completed') s"
     " WHERE (? IS NULL OR year = ?) GROUP BY year, type ORDER BY year, type LIMIT ? OFFSET ?",
     {"year", NULL, NULL, NULL},
     NULL},
    {"journal",
     "SELECT seq, time, actor, role, cmd, hash FROM journal WHERE (? IS NULL OR seq < ?)"
     " ORDER BY seq DESC LIMIT ? OFFSET ?",
     {"#before", NULL, NULL, NULL},
     NULL},
};

/* The parameters of the queries that are not lists. */
static const char *const statement_params[] = {"account", "#after_seq", "#limit"};
static const char *const tx_params[] = {"id"};
static const char *const a6_params[] = {"party"};

/* Refuses parameters a query does not take, of the wrong type, too long, or
 * (limit, offset, after_seq) out of range. names: '#' marks an integer. */
static int check_params(json_t *params, const char *const *names, size_t n, jcm_check *chk) {
  const char *key;
  json_t *v;
  json_object_foreach(params, key, v) {
    size_t i = 0;
    while (i < n && names[i] && strcmp(names[i] + (names[i][0] == '#'), key) != 0)
      i++;
    if (i == n || !names[i]) {
      jcm__set_check(chk, C_UNKNOWN_FIELD, key, "this query takes no parameter '%.40s'", key);
      return JCM_REFUSED;
    }
    if (json_is_null(v)) continue;
    int integer = names[i][0] == '#';
    if (integer ? !json_is_integer(v) : !json_is_string(v)) {
      jcm__set_check(chk, C_TYPE, key, "%s must be %s", key, integer ? "a whole number" : "text");
      return JCM_REFUSED;
    }
    if (!integer && strlen(json_string_value(v)) > 64) {
      jcm__set_check(chk, C_TOO_LONG, key, "%s is longer than 64 characters", key);
      return JCM_REFUSED;
    }
    json_int_t x = integer ? json_integer_value(v) : 0;
    if ((strcmp(key, "limit") == 0 && (x < 1 || x > PAGE_MAX)) ||
        ((strcmp(key, "offset") == 0 || strcmp(key, "after_seq") == 0) && x < 0)) {
      jcm__set_check(chk, C_RANGE, key, "%s must be %s", key, strcmp(key, "limit") == 0 ? "1..1000" : "0 or more");
      return JCM_REFUSED;
    }
  }
  return JCM_OK;
}

/* A member, with JSON null read as absent. */
static json_t *param(json_t *params, const char *name) {
  json_t *v = json_object_get(params, name);
  return json_is_null(v) ? NULL : v;
}

static int bind_filter(jcm_store *st, jcm_stmt *s, int *pos, json_t *v, int integer) {
  int rc = 0;
  for (int k = 0; k < 2 && rc == 0; k++, (*pos)++) {
    if (!v || json_is_null(v))
      rc = st->ops->bind_null(s, *pos);
    else if (integer)
      rc = st->ops->bind_int(s, *pos, (int64_t)json_integer_value(v));
    else
      rc = st->ops->bind_text(s, *pos, json_string_value(v), -1);
  }
  return rc;
}

/* Refuses parameters the list does not take (check_params). */
static int list_params(const list_query *lq, json_t *params, jcm_check *chk) {
  const char *names[6] = {"#limit", "#offset"};
  size_t nn = 2;
  for (int i = 0; i < 4 && lq->filters[i]; i++)
    names[nn++] = lq->filters[i];
  return check_params(params, names, nn, chk);
}

/* One account's balance by project and vintage, summed here rather than in
 * SQL: the account's index lists its blocks in serial order, so SQLite
 * would group them through a temporary B-tree, opened and freed on every
 * query, which cost more than finding the blocks (docs/benchmarks.md). The
 * rows, their order and the paging are those of the "balance" list. */
typedef struct {
  char *project;
  int64_t vintage, quantity;
  int overflow; /* the sum passed 2^63 - 1: an error if the page shows it */
} bal_group;

static int group_cmp(const char *project, int64_t vintage, const bal_group *g) {
  int c = strcmp(project, g->project);
  return c ? c : (vintage > g->vintage) - (vintage < g->vintage);
}

/* Adds n units to the group of (project, vintage), keeping groups sorted;
 * -1 when out of memory. */
static int group_add(bal_group **groups, size_t *count, size_t *cap, const char *project, int64_t vintage, int64_t n) {
  size_t lo = 0, hi = *count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = group_cmp(project, vintage, &(*groups)[mid]);
    if (c == 0) {
      bal_group *g = &(*groups)[mid];
      g->overflow |= __builtin_add_overflow(g->quantity, n, &g->quantity);
      return 0;
    }
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (*count == *cap) {
    bal_group *more = realloc(*groups, (*cap = *cap ? 2 * *cap : 8) * sizeof **groups);
    if (!more) return -1;
    *groups = more;
  }
  char *p = strdup(project);
  if (!p) return -1;
  memmove(&(*groups)[lo + 1], &(*groups)[lo], (*count - lo) * sizeof **groups);
  (*groups)[lo] = (bal_group){p, vintage, n, 0};
  (*count)++;
  return 0;
}

/* 0, -1 a store error, -2 out of memory. */
static int sum_groups(jcm_store *st, json_t *params, bal_group **groups, size_t *count) {
  static const char q[] = "SELECT project, vintage, last - first + 1 FROM block WHERE account = ?"
                          " AND (? IS NULL OR project = ?) AND (? IS NULL OR vintage = ?)";
  jcm_stmt *s = st->ops->prepare(st, q);
  if (!s) return -1;
  int pos = 2; /* a cached statement keeps its last values: a bind that fails must stop the query */
  if (st->ops->bind_text(s, 1, json_string_value(param(params, "account")), -1) != 0 ||
      bind_filter(st, s, &pos, param(params, "project"), 0) != 0 ||
      bind_filter(st, s, &pos, param(params, "vintage"), 1) != 0)
    return -1;
  size_t cap = 0;
  int step, rc = 0;
  while (rc == 0 && (step = db_step(st, s)) == JCM_ROW)
    rc = group_add(groups, count, &cap, col_text(st, s, 0), col_int(st, s, 1), col_int(st, s, 2)) ? -2 : 0;
  db_reset(st, s);
  return rc ? rc : step == JCM_DONE ? 0 : -1;
}

/* Built member by member: json_pack parses its format on every call, and
 * did so for most of a GET balance's JSON cost. */
static json_t *balance_row(const char *account, const bal_group *g) {
  json_t *o = json_object();
  json_object_set_new(o, "account", json_string(account));
  json_object_set_new(o, "project", json_string(g->project));
  json_object_set_new(o, "vintage", json_integer((json_int_t)g->vintage));
  json_object_set_new(o, "quantity", json_integer((json_int_t)g->quantity));
  return o;
}

/* {"rows": rows, "limit": limit, "offset": offset}, taking rows */
static json_t *page(json_t *rows, int64_t limit, int64_t offset) {
  json_t *o = json_object();
  json_object_set_new(o, "rows", rows);
  json_object_set_new(o, "limit", json_integer((json_int_t)limit));
  json_object_set_new(o, "offset", json_integer((json_int_t)offset));
  return o;
}

static int account_balance(jcm *j, json_t *params, json_t **result, jcm_check *chk) {
  jcm_store *st = jcm__store(j);
  bal_group *groups = NULL;
  size_t count = 0;
  int rc = sum_groups(st, params, &groups, &count);
  int64_t limit = jcm__i(params, "limit", 100), offset = jcm__i(params, "offset", 0);
  json_t *arr = json_array();
  const char *account = json_string_value(param(params, "account"));
  /* as SQLite's SUM: an overflow fails the query if its group is computed
   * for the page (those skipped by the offset included), not otherwise */
  size_t end = count < (uint64_t)offset + (uint64_t)limit ? count : (size_t)((uint64_t)offset + (uint64_t)limit);
  for (size_t i = 0; rc == 0 && i < end; i++)
    if (groups[i].overflow) rc = -3;
  for (size_t i = (size_t)offset; rc == 0 && i < end; i++)
    json_array_append_new(arr, balance_row(account, &groups[i]));
  for (size_t i = 0; i < count; i++)
    free(groups[i].project);
  free(groups);
  if (rc != 0) {
    json_decref(arr);
    jcm__set_check(chk, 0, "", "query balance: %s",
                   rc == -3   ? "integer overflow"
                   : rc == -2 ? "out of memory"
                              : st->ops->errmsg(st));
    return JCM_ERROR;
  }
  *result = page(arr, limit, offset);
  return JCM_OK;
}

static int run_list(jcm *j, const list_query *lq, json_t *params, json_t **result, jcm_check *chk) {
  jcm_store *st = jcm__store(j);
  if (list_params(lq, params, chk) != JCM_OK) return JCM_REFUSED;
  if (strcmp(lq->name, "balance") == 0 && param(params, "account")) return account_balance(j, params, result, chk);
  const char *sql = lq->sql_account && param(params, "account") ? lq->sql_account : lq->sql;
  jcm_stmt *s = st->ops->prepare(st, sql);
  if (!s) {
    jcm__set_check(chk, 0, "", "query %s: %s", lq->name, st->ops->errmsg(st));
    return JCM_ERROR;
  }
  int pos = 1, bound = 0;
  for (int i = 0; i < 4 && lq->filters[i] && bound == 0; i++) {
    int integer = lq->filters[i][0] == '#';
    bound = bind_filter(st, s, &pos, param(params, lq->filters[i] + integer), integer);
  }
  int64_t limit = jcm__i(params, "limit", 100), offset = jcm__i(params, "offset", 0);
  if (bound != 0 || st->ops->bind_int(s, pos, limit) != 0 || st->ops->bind_int(s, pos + 1, offset) != 0) {
    jcm__set_check(chk, 0, "", "query %s: %s", lq->name, st->ops->errmsg(st));
    return JCM_ERROR;
  }
  json_t *arr = json_array();
  if (rows(st, s, arr) != 0) {
    json_decref(arr);
    jcm__set_check(chk, 0, "", "query %s: %s", lq->name, st->ops->errmsg(st));
    return JCM_ERROR;
  }
  *result = page(arr, limit, offset);
  return JCM_OK;
}

static int head(jcm *j, json_t **result, jcm_check *chk) {
  int64_t seq;
  unsigned char hash[JCM_HASH_LEN];
  if (jcm__journal_head(jcm__store(j), &seq, hash, NULL) != 0) {
    jcm__set_check(chk, 0, "", "journal head unreadable");
    return JCM_ERROR;
  }
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(hash, JCM_HASH_LEN, hex);
  *result =
      json_pack("{s:s,s:s,s:I,s:s}", "registry", j->registry, "party", j->party, "seq", (json_int_t)seq, "hash", hex);
  return JCM_OK;
}

/* One account's movements, read one epoch of the index at a time. A
 * movement belongs to a transaction of this registry (tx) or to a transfer
 * between registries (xtx): both appear in a statement, or its closing
 * balance would disagree with the blocks. */
static const char sum_sql[] = "SELECT COALESCE(SUM(dir * quantity), 0) FROM movement"
                              " WHERE " JCM_EPOCH_SQL " = ? AND account = ? AND seq <= ?";
static const char statement_sql[] =
    "SELECT m.seq, jn.time, m.tx, COALESCE(t.type, 'external ' || x.dir) AS type, m.dir, m.quantity, m.ranges,"
    " CASE WHEN m.dir < 0 THEN COALESCE(t.to_account, x.to_account) ELSE COALESCE(t.from_account, x.from_account)"
    " END AS counterparty FROM movement m LEFT JOIN tx t ON t.id = m.tx LEFT JOIN xtx x ON x.id = m.tx"
    " JOIN journal jn ON jn.seq = m.seq WHERE m." JCM_EPOCH_SQL " = ? AND m.account = ? AND m.seq > ?"
    " ORDER BY m.seq LIMIT ?";
const char *const jcm__epoch_queries[] = {sum_sql, statement_sql, NULL};

/* The highest entry of any movement into *top: where the epochs of the
 * movements' index end. 0, or -1 when the store fails. */
static int movements_top(jcm_store *st, int64_t *top) {
  jcm_stmt *s = db_q(st, "SELECT COALESCE(MAX(seq), 0) FROM movement", "");
  int step = s ? db_step(st, s) : JCM_STEP_ERROR;
  *top = step == JCM_ROW ? col_int(st, s, 0) : 0;
  if (s) db_reset(st, s);
  return step == JCM_ROW ? 0 : -1;
}

/* The account's balance after entry seq into *v, summed epoch by epoch up
 * to top; 0, or -1 when the store fails (a statement must not open on a
 * balance it could not read). */
static int sum_before(jcm_store *st, const char *account, int64_t seq, int64_t top, int64_t *v) {
  *v = 0;
  for (int64_t e = 0; e <= (seq < top ? seq : top) / JCM_EPOCH; e++) {
    jcm_stmt *s = db_q(st, sum_sql, "isi", e, account, seq);
    int step = s ? db_step(st, s) : JCM_STEP_ERROR;
    if (step == JCM_ROW) *v += col_int(st, s, 0);
    if (s) db_reset(st, s);
    if (step != JCM_ROW) return -1;
  }
  return 0;
}

/* The ranges column holds JSON text: give it as JSON. */
static void ranges_column(json_t *row) {
  json_t *v = json_loads(jcm__s(row, "ranges") ? jcm__s(row, "ranges") : "[]", 0, NULL);
  json_object_set_new(row, "ranges", v ? v : json_array());
}

/* A statement's page being read: its entries, the running balance and the
 * last entry listed. */
typedef struct {
  json_t *entries;
  int64_t balance, last_seq;
} statement_page;

/* Appends to p the account's movements of epoch e after entry after, at
 * most limit; the number appended, or -1 when the store fails. */
static int64_t statement_epoch(jcm_store *st, const char *account, int64_t e, int64_t after, int64_t limit,
                               statement_page *p) {
  jcm_stmt *s = db_q(st, statement_sql, "isii", e, account, after, limit);
  int64_t n = 0;
  int step = JCM_DONE;
  while (s && (step = db_step(st, s)) == JCM_ROW) {
    json_t *row = row_json(st, s);
    ranges_column(row);
    p->balance += col_int(st, s, 4) * col_int(st, s, 5);
    p->last_seq = col_int(st, s, 0);
    json_object_set_new(row, "balance", json_integer(p->balance));
    json_array_append_new(p->entries, row);
    n++;
  }
  if (s) db_reset(st, s);
  return !s || step == JCM_STEP_ERROR ? -1 : n;
}

/* Opening balance, every movement after after_seq with its serial range and
 * counterparty, closing balance. */
static int statement(jcm *j, json_t *params, json_t **result, jcm_check *chk) {
  jcm_store *st = jcm__store(j);
  if (check_params(params, statement_params, 3, chk) != JCM_OK) return JCM_REFUSED;
  const char *account = jcm__s(params, "account");
  jcm_account a;
  if (!account || jcm__account_form(account) != 0) {
    jcm__set_check(chk, account ? jcm__account_form(account) : C_MISSING, "account", "give a valid account id");
    return JCM_REFUSED;
  }
  int64_t after = jcm__i(params, "after_seq", 0), limit = jcm__i(params, "limit", PAGE_MAX), opening = 0, top = 0;
  int e = jcm__account_get(st, account, &a);
  if (e < 0 || (e == 1 && (movements_top(st, &top) != 0 || sum_before(st, account, after, top, &opening) != 0))) {
    jcm__set_check(chk, 0, "", "statement: %s", st->ops->errmsg(st));
    return JCM_ERROR;
  }
  if (e == 0) {
    jcm__set_check(chk, C_UNKNOWN_ACCOUNT, "account", "no account %s", account);
    return JCM_REFUSED;
  }
  /* top, the opening and each epoch's page are separate reads (the server
   * holds one snapshot for a request; the command line does not), and still
   * agree: movements are only ever inserted, in the order of their entries,
   * so the epochs below top's are complete when top is read, and a later
   * insert can only add to the end of what a page lists */
  statement_page p = {json_array(), opening, after};
  for (int64_t k = after / JCM_EPOCH, n = 0; n < limit && k <= top / JCM_EPOCH; k++) {
    int64_t got = statement_epoch(st, account, k, after, limit - n, &p);
    if (got < 0) {
      json_decref(p.entries);
      jcm__set_check(chk, 0, "", "statement: %s", st->ops->errmsg(st));
      return JCM_ERROR;
    }
    n += got;
  }
  *result = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:I,s:I}", "account", a.id, "type", a.type, "holder", a.holder,
                      "status", a.status, "opening", (json_int_t)opening, "entries", p.entries, "closing",
                      (json_int_t)p.balance, "last_seq", (json_int_t)p.last_seq);
  return JCM_OK;
}

static int tx(jcm *j, json_t *params, json_t **result, jcm_check *chk) {
  static const char q[] =
      "SELECT t.id, t.seq, jn.time, t.type, t.status, t.from_account, t.to_account, t.quantity, t.kind,"
      " t.reason, t.idem_key FROM tx t JOIN journal jn ON jn.seq = t.seq WHERE t.id = ?";
  static const char qr[] = "SELECT account, quantity, ranges FROM movement WHERE seq = ? AND tx = ? AND dir > 0"
                           " ORDER BY account";
  jcm_store *st = jcm__store(j);
  if (check_params(params, tx_params, 1, chk) != JCM_OK) return JCM_REFUSED;
  const char *id = jcm__s(params, "id");
  if (!id) {
    jcm__set_check(chk, C_MISSING, "id", "give a transaction id");
    return JCM_REFUSED;
  }
  jcm_stmt *s = db_q(st, q, "s", id);
  int step = s ? db_step(st, s) : JCM_STEP_ERROR;
  if (step != JCM_ROW) {
    if (s) db_reset(st, s);
    if (step == JCM_STEP_ERROR) {
      jcm__set_check(chk, 0, "", "tx: %s", st->ops->errmsg(st));
      return JCM_ERROR;
    }
    jcm__set_check(chk, C_UNKNOWN_TX, "id", "no transaction %s", id);
    return JCM_REFUSED;
  }
  json_t *o = row_json(st, s);
  int64_t seq = col_int(st, s, 1);
  db_reset(st, s);
  json_t *moved = json_array(), *ranges = json_array(), *m, *r;
  if (rows(st, db_q(st, qr, "is", seq, id), moved) != 0) { /* not a transaction without ranges */
    json_decref(moved), json_decref(ranges), json_decref(o);
    jcm__set_check(chk, 0, "", "tx: %s", st->ops->errmsg(st));
    return JCM_ERROR;
  }
  size_t i, k;
  json_array_foreach(moved, i, m) { /* one row per range received, with its account */
    ranges_column(m);
    json_array_foreach(json_object_get(m, "ranges"), k, r) {
      json_int_t f = json_integer_value(json_object_get(r, "first")),
                 l = json_integer_value(json_object_get(r, "last"));
      json_array_append_new(ranges,
                            json_pack("{s:O,s:O,s:I,s:I,s:I}", "account", json_object_get(m, "account"), "origin",
                                      json_object_get(r, "origin"), "first", f, "last", l, "quantity", l - f + 1));
    }
  }
  json_decref(moved);
  json_object_set_new(o, "ranges", ranges);
  *result = o;
  return JCM_OK;
}

/* The Article 6 balance table of a Party (default: this registry's). */
static int a6_balance(jcm *j, json_t *params, json_t **result, jcm_check *chk) {
  if (check_params(params, a6_params, 1, chk) != JCM_OK) return JCM_REFUSED;
  const char *party = jcm__s(params, "party") ? jcm__s(params, "party") : j->party;
  if (!party[0]) {
    jcm__set_check(chk, C_NOT_INITIALIZED, "", "initialize the registry first (jcm init)");
    return JCM_REFUSED;
  }
  int e = jcm__is_party(party) ? jcm__party_exists(jcm__store(j), party) : 0;
  if (e <= 0) {
    jcm__set_check(chk, !jcm__is_party(party) ? C_FORMAT : C_UNKNOWN_PARTY, "party", "no Party '%s'", party);
    return e < 0 ? JCM_ERROR : JCM_REFUSED;
  }
  return jcm__a6_balance(jcm__store(j), party, result, chk);
}

int jcm_query(jcm *j, const char *name, json_t *params, json_t **result, jcm_check *chk) {
  memset(chk, 0, sizeof *chk);
  *result = NULL;
  if (params && !json_is_object(params)) {
    jcm__set_check(chk, C_TYPE, "", "query parameters must be an object");
    return JCM_REFUSED;
  }
  if (jcm__self(j, chk) != 0) return JCM_ERROR;
  if (strcmp(name, "head") == 0) return check_params(params, NULL, 0, chk) ? JCM_REFUSED : head(j, result, chk);
  if (strcmp(name, "statement") == 0) return statement(j, params, result, chk);
  if (strcmp(name, "tx") == 0) return tx(j, params, result, chk);
  if (strcmp(name, "a6.balance") == 0) return a6_balance(j, params, result, chk);
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
    if (strcmp(lists[i].name, name) == 0) return run_list(j, &lists[i], params, result, chk);
  jcm__set_check(chk, C_UNKNOWN_CMD, "", "no query '%.40s'", name);
  return JCM_REFUSED;
}

/* ---- the list of queries, for front ends (the OpenAPI document) ---- */

#define N_LISTS (sizeof lists / sizeof lists[0])
static jcm_query_info infos[N_LISTS + 4];
static pthread_once_t infos_once = PTHREAD_ONCE_INIT;

static void add_info(size_t i, const char *name, const char *const *params, size_t n, int paged) {
  jcm_query_info *q = &infos[i];
  size_t k = 0;
  q->name = name;
  q->paged = paged;
  q->public_read = jcm__query_public(name);
  for (size_t p = 0; p < n && params[p] && k < 7; p++)
    q->params[k++] = params[p];
  if (paged) q->params[k++] = "#limit", q->params[k++] = "#offset";
}

/* Built from the same tables the queries check their parameters against,
 * so that what the front ends describe cannot drift from what runs. */
static void fill_infos(void) {
  static const char *const req_account[] = {"!account", "#after_seq", "#limit"};
  static const char *const req_id[] = {"!id"};
  (void)statement_params;
  (void)tx_params;
  add_info(0, "head", NULL, 0, 0);
  add_info(1, "statement", req_account, 3, 0);
  add_info(2, "tx", req_id, 1, 0);
  add_info(3, "a6.balance", a6_params, 1, 0);
  for (size_t i = 0; i < N_LISTS; i++)
    add_info(4 + i, lists[i].name, lists[i].filters, 4, 1);
}

const jcm_query_info *jcm_queries(size_t *count) {
  pthread_once(&infos_once, fill_infos);
  *count = N_LISTS + 4;
  return infos;
}
