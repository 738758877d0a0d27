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
void jcm__printable(jcm_store *st, jcm_stmt *s, int i, char *out, size_t n) {
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
    jcm__printable(st, s, i, v, sizeof v);
    snprintf(out + used, n - used, "%s%s=%s", i ? " " : "", st->ops->column_name(s, i), v);
  }
}

/* Reports the first difference between the rows the two statements are
 * on (both JCM_ROW), or that one table ended first; 1 when they differ. */
static int rows_differ(jcm_replay *v, const char *table, jcm_store *a, jcm_stmt *sa, int ra, jcm_store *b, jcm_stmt *sb,
                       int rb) {
  char where[300];
  if (ra != JCM_ROW || rb != JCM_ROW) {
    jcm_store *st = ra == JCM_ROW ? a : b;
    describe_row(st, ra == JCM_ROW ? sa : sb, where, sizeof where);
    jcm__problem(v->problems, "replay", table, "row %s is %s", where,
                 ra == JCM_ROW ? "in the store but not produced by the journal"
                               : "produced by the journal but missing from the store");
    return 1;
  }
  int cols = a->ops->column_count(sa), i = 0;
  while (i < cols && value_equal(a, sa, b, sb, i))
    i++;
  if (i == cols) return 0;
  char va[128], vb[128];
  describe_row(a, sa, where, sizeof where);
  jcm__printable(a, sa, i, va, sizeof va);
  jcm__printable(b, sb, i, vb, sizeof vb);
  jcm__problem(v->problems, "replay", table, "row %s: column %s is '%s' in the store, '%s' by the journal", where,
               a->ops->column_name(sa, i), va, vb);
  return 1;
}

/* Reads one stored table to its end, each row to the invariants, and
 * compares it row by row with the replayed one when compare is set
 * (reporting the first difference). */
static void compare_table(jcm_replay *v, jcm_inv *inv, const char *table, const char *order, int compare) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *a = jcm__store(v->src), *b = jcm__store(v->dst);
  jcm_stmt *sa = a->ops->prepare_temp(a, sql), *sb = compare ? b->ops->prepare_temp(b, sql) : NULL;
  if (!sa || (compare && !sb)) {
    jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s", sa ? "replayed store" : "store",
                 sa ? b->ops->errmsg(b) : a->ops->errmsg(a));
    if (!sa) jcm__inv_unread(inv, table);
  }
  if (sa) jcm__inv_table(inv, table, a, sa);
  for (int differs = !sb; sa;) {
    int ra = db_step(a, sa), rb = differs ? JCM_DONE : db_step(b, sb);
    if (ra == JCM_STEP_ERROR || rb == JCM_STEP_ERROR) {
      jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s",
                   ra == JCM_STEP_ERROR ? "store" : "replayed store",
                   ra == JCM_STEP_ERROR ? a->ops->errmsg(a) : b->ops->errmsg(b));
      if (ra == JCM_STEP_ERROR) jcm__inv_unread(inv, table);
      if (ra == JCM_STEP_ERROR || differs) break;
      differs = 1;
      continue;
    }
    if (ra == JCM_ROW && jcm__inv_row(inv, a, sa) != 0) {
      jcm__problem(v->problems, "invariant", table, "cannot run: out of memory");
      jcm__inv_unread(inv, table);
      break;
    }
    if (!differs && (ra == JCM_ROW || rb == JCM_ROW)) differs = rows_differ(v, table, a, sa, ra, b, sb, rb);
    if (ra != JCM_ROW) break; /* the stored rows are read to their end, for the invariants */
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

/* The invariants on small tables, as queries; those over the blocks and
 * movements are checked as the comparison reads them (lib/invariants.c). */
static void check_invariants(jcm_replay *v) {
  invariant(v, "one state",
            "SELECT p.id, p.quantity, (SELECT COALESCE(SUM(last - first + 1), 0) FROM block b"
            " WHERE b.reserved_tx = p.id AND b.account = p.from_account) AS reserved FROM pending p"
            " WHERE p.status = 'awaiting approval' AND reserved <> p.quantity",
            "a transaction awaiting approval does not reserve exactly its units");
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
  /* the stored state is read once: compared with the replay's when the
   * replay ran to its end, and checked against the invariants always */
  int compare = v.chain_ok && v.replay_ok;
  jcm_inv *inv = jcm__inv_new();
  if (!inv) jcm__problem(problems, "invariant", "store", "cannot run: out of memory");
  for (int i = 0; inv && jcm__state_tables[i]; i++)
    if (compare || jcm__inv_reads(jcm__state_tables[i]))
      compare_table(&v, inv, jcm__state_tables[i], jcm__state_order[i], compare);
  if (inv) jcm__inv_end(inv, jcm__store(j), problems);
  jcm__inv_free(inv);
  check_invariants(&v);
  if (snapshot) jcm_read_end(j);
  jcm__replay_close(&v);
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(v.head, JCM_HASH_LEN, hex);
  int ok = json_array_size(problems) == 0;
  *report = json_pack("{s:b,s:I,s:s,s:o}", "ok", ok, "events", (json_int_t)v.events, "head", hex, "problems", problems);
  return ok ? JCM_OK : JCM_REFUSED;
}
