/*
 * jcm verify: (1) walks the journal checking the hash chain and that each
 * entry's columns agree with its hashed bytes; (2) replays every event into
 * a fresh in-memory store and compares every state table row by row with
 * the stored state; (3) checks the invariants of DOMAIN.md §7 that apply to
 * one registry on the stored state. It names the first entry or row that is
 * wrong in each check, and never writes to the store it verifies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

static int value_equal(jcm_store *a, jcm_stmt *sa, jcm_store *b, jcm_stmt *sb, int i) {
  int t = a->ops->column_type(sa, i);
  if (t != b->ops->column_type(sb, i)) return 0;
  switch (t) {
  case JCM_NULL: return 1;
  case JCM_INT: return col_int(a, sa, i) == col_int(b, sb, i);
  default: {
    int n = a->ops->column_bytes(sa, i);
    if (n != b->ops->column_bytes(sb, i)) return 0;
    const void *x = t == JCM_TEXT ? (const void *)a->ops->column_text(sa, i) : a->ops->column_blob(sa, i);
    const void *y = t == JCM_TEXT ? (const void *)b->ops->column_text(sb, i) : b->ops->column_blob(sb, i);
    return n == 0 || memcmp(x, y, (size_t)n) == 0;
  }
  }
}

/* A value as printable ASCII: blobs in hex, other bytes outside 0x20..0x7e
 * as \xNN, so that tampered text can always be reported. */
static void printable(jcm_store *st, jcm_stmt *s, int i, char *out, size_t n) {
  int type = st->ops->column_type(s, i);
  const unsigned char *p = type == JCM_BLOB ? st->ops->column_blob(s, i) : (const unsigned char *)col_text(st, s, i);
  size_t len = type == JCM_NULL ? 0 : (size_t)st->ops->column_bytes(s, i), k = 0;
  if (type == JCM_NULL)
    snprintf(out, n, "NULL");
  else if (type == JCM_BLOB) {
    size_t m = len * 2 + 1 < n ? len : (n - 1) / 2;
    jcm__hex(p, m, out);
  } else {
    for (size_t j = 0; j < len && k + 5 < n; j++) {
      if (p[j] >= 0x20 && p[j] < 0x7f)
        out[k++] = (char)p[j];
      else
        k += (size_t)snprintf(out + k, n - k, "\\x%02x", p[j]);
    }
    out[k] = 0;
  }
}

static void describe_row(jcm_store *st, jcm_stmt *s, char *out, size_t n) {
  int cols = st->ops->column_count(s);
  char v[128];
  out[0] = 0;
  for (int i = 0; i < cols && i < 3; i++) {
    size_t used = strlen(out);
    printable(st, s, i, v, sizeof v);
    snprintf(out + used, n - used, "%s%s=%s", i ? " " : "", st->ops->column_name(s, i), v);
  }
}

/* Compares one table row by row; reports the first difference. */
static void compare_table(jcm_replay *v, const char *table, const char *order) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *a = jcm__store(v->src), *b = jcm__store(v->dst);
  jcm_stmt *sa = a->ops->prepare_temp(a, sql), *sb = b->ops->prepare_temp(b, sql);
  char where[300];
  if (!sa || !sb)
    jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s", sa ? "replayed store" : "store",
                 sa ? b->ops->errmsg(b) : a->ops->errmsg(a));
  for (int64_t row = 1; sa && sb; row++) {
    int ra = db_step(a, sa), rb = db_step(b, sb);
    if (ra == JCM_STEP_ERROR || rb == JCM_STEP_ERROR) {
      jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s",
                   ra == JCM_STEP_ERROR ? "store" : "replayed store",
                   ra == JCM_STEP_ERROR ? a->ops->errmsg(a) : b->ops->errmsg(b));
      break;
    }
    if (ra != JCM_ROW && rb != JCM_ROW) break;
    if (ra != JCM_ROW || rb != JCM_ROW) {
      jcm_store *st = ra == JCM_ROW ? a : b;
      describe_row(st, ra == JCM_ROW ? sa : sb, where, sizeof where);
      jcm__problem(v->problems, "replay", table, "row %s is %s", where,
                   ra == JCM_ROW ? "in the store but not produced by the journal"
                                 : "produced by the journal but missing from the store");
      break;
    }
    int cols = a->ops->column_count(sa), i = 0;
    while (i < cols && value_equal(a, sa, b, sb, i))
      i++;
    if (i < cols) {
      char va[128], vb[128];
      describe_row(a, sa, where, sizeof where);
      printable(a, sa, i, va, sizeof va);
      printable(b, sb, i, vb, sizeof vb);
      jcm__problem(v->problems, "replay", table, "row %s: column %s is '%s' in the store, '%s' by the journal", where,
                   a->ops->column_name(sa, i), va, vb);
      break;
    }
  }
  if (sa) a->ops->finalize(sa);
  if (sb) b->ops->finalize(sb);
}

/* Runs an invariant query; each row it returns is a violation. */
static void invariant(jcm_replay *v, const char *name, const char *sql, const char *what) {
  jcm_store *st = jcm__store(v->src);
  jcm_stmt *s = st->ops->prepare_temp(st, sql);
  if (!s) {
    jcm__problem(v->problems, "invariant", name, "cannot run: %s", st->ops->errmsg(st));
    return;
  }
  char where[300];
  int step = db_step(st, s);
  if (step == JCM_ROW) {
    describe_row(st, s, where, sizeof where);
    jcm__problem(v->problems, "invariant", name, "%s: %s", what, where);
  } else if (step == JCM_STEP_ERROR) {
    jcm__problem(v->problems, "invariant", name, "cannot run: %s", st->ops->errmsg(st));
  }
  st->ops->finalize(s);
}

/* One pass over the blocks in serial order: each starts after the one before
 * it of the same origin ends (a self-join would be quadratic). */
static void no_overlap(jcm_replay *v) {
  jcm_store *st = jcm__store(v->src);
  jcm_stmt *s = st->ops->prepare_temp(st, "SELECT origin, first, last FROM block ORDER BY origin, first");
  if (!s) {
    jcm__problem(v->problems, "invariant", "no overlap", "cannot run: %s", st->ops->errmsg(st));
    return;
  }
  char origin[32] = "", where[300];
  int64_t prev_last = 0;
  int step;
  while ((step = db_step(st, s)) == JCM_ROW) {
    int64_t first = col_int(st, s, 1), last = col_int(st, s, 2);
    int same = strcmp(origin, col_text(st, s, 0)) == 0;
    if (first > last || first < 1 || (same && first <= prev_last)) {
      describe_row(st, s, where, sizeof where);
      jcm__problem(v->problems, "invariant", "no overlap", "blocks overlap or are inverted: %s", where);
      break;
    }
    snprintf(origin, sizeof origin, "%s", col_text(st, s, 0));
    prev_last = last;
  }
  if (step == JCM_STEP_ERROR)
    jcm__problem(v->problems, "invariant", "no overlap", "cannot run: %s", st->ops->errmsg(st));
  st->ops->finalize(s);
}

static void check_invariants(jcm_replay *v) {
  /* the blocks are grouped once, not scanned once per issuance */
  invariant(v, "conservation",
            "SELECT i.id AS issuance, i.total, COALESCE(g.units, 0) AS in_blocks FROM issuance i LEFT JOIN"
            " (SELECT issuance, SUM(last - first + 1) AS units, MIN(first) AS lo, MAX(last) AS hi FROM block"
            " GROUP BY issuance) g ON g.issuance = i.id"
            " WHERE COALESCE(g.units, 0) <> i.total OR g.lo < i.first OR g.hi > i.last",
            "the blocks of an issuance do not add up to what was issued");
  invariant(v, "conservation",
            "SELECT b.origin, b.first, b.issuance FROM block b LEFT JOIN issuance i ON i.id = b.issuance"
            " WHERE i.id IS NULL AND b.origin = (SELECT id FROM registry WHERE self = 1)",
            "a block of this registry belongs to no issuance");
  no_overlap(v);
  /* a reservation is held by an external transfer still proposed, or by a
   * transaction awaiting a second administrator's approval from that account */
  invariant(v, "one state",
            "SELECT b.origin, b.first, b.account, b.reserved_tx, b.out_tx FROM block b"
            " LEFT JOIN account a ON a.id = b.account LEFT JOIN xtx r ON r.id = b.reserved_tx"
            " AND r.status = 'proposed' LEFT JOIN pending p ON p.id = b.reserved_tx"
            " AND p.status = 'awaiting approval' AND p.from_account = b.account"
            " LEFT JOIN xtx o ON o.id = b.out_tx AND o.dir = 'out' AND o.status = 'completed'"
            " WHERE (b.account IS NULL) = (o.id IS NULL) OR (b.account IS NOT NULL AND a.id IS NULL)"
            " OR (b.reserved_tx IS NOT NULL AND ((r.id IS NULL AND p.id IS NULL) OR b.account IS NULL))",
            "a block is in no account and not transferred out, or reserved by an unknown or finished transaction");
  invariant(v, "one state",
            "SELECT p.id, p.quantity, (SELECT COALESCE(SUM(last - first + 1), 0) FROM block b"
            " WHERE b.reserved_tx = p.id AND b.account = p.from_account) AS reserved FROM pending p"
            " WHERE p.status = 'awaiting approval' AND reserved <> p.quantity",
            "a transaction awaiting approval does not reserve exactly its units");
  invariant(
      v, "holdings agree with movements",
      "SELECT a.id AS account, (SELECT COALESCE(SUM(last - first + 1), 0) FROM block WHERE account = a.id) AS held,"
      " (SELECT COALESCE(SUM(dir * quantity), 0) FROM movement WHERE account = a.id) AS moved"
      " FROM account a WHERE held <> moved",
      "an account holds other than its movements add up to");
  invariant(v, "issued once",
            "SELECT p.project, p.first_day, p.status FROM period p LEFT JOIN issuance i ON i.project = p.project"
            " AND i.period_start = p.first_day WHERE (p.status = 'issued') <> (i.id IS NOT NULL)",
            "a monitoring period's issued status disagrees with its issuances");
}

int jcm_verify(jcm *j, json_t **report) {
  jcm_replay v;
  json_t *problems = json_array();
  *report = NULL;
  if (!problems || jcm__replay_open(&v, j, problems) != 0) {
    json_decref(problems);
    return JCM_ERROR;
  }
  /* One snapshot for the walk, the comparison and the invariants: a store
   * in service keeps committing while verify reads it (test_smoke). Inside
   * a caller's transaction, that one serves. */
  int snapshot = j->in_batch || j->in_read ? 0 : jcm_read_begin(j) == JCM_OK;
  if (!snapshot && !j->in_batch && !j->in_read)
    jcm__problem(problems, "replay", "store", "cannot begin the read: %s", jcm__store(j)->ops->errmsg(jcm__store(j)));
  /* The replay store's index of movements by account serves queries and
   * the invariants (run on the stored state) only, and that of blocks by
   * size the pick by quantity, a check: no apply reads either, and the
   * comparison reads rows in key order. Each transfer rewrites entries of
   * both. */
  jcm_store *rs = jcm__store(v.dst);
  rs->ops->exec(rs, "DROP INDEX IF EXISTS movement_account; DROP INDEX IF EXISTS block_size");
  jcm__replay_until(&v, NULL);
  if (v.chain_ok && v.replay_ok)
    for (int i = 0; jcm__state_tables[i]; i++)
      compare_table(&v, jcm__state_tables[i], jcm__state_order[i]);
  check_invariants(&v);
  if (snapshot) jcm_read_end(j);
  jcm__replay_close(&v);
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(v.head, JCM_HASH_LEN, hex);
  int ok = json_array_size(problems) == 0;
  *report = json_pack("{s:b,s:I,s:s,s:o}", "ok", ok, "events", (json_int_t)v.events, "head", hex, "problems", problems);
  return ok ? JCM_OK : JCM_REFUSED;
}
