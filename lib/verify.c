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

#include "engine.h"
#include "spec.h"

#define MAX_PROBLEMS 20

static void problem(json_t *list, const char *check, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(json_t *list, const char *check, const char *where, const char *fmt, ...) {
  if (json_array_size(list) >= MAX_PROBLEMS) return;
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  json_t *p = json_pack("{s:s,s:s,s:s}", "check", check, "where", where, "what", what);
  /* what may quote tampered bytes; a problem is never dropped for its text */
  if (!p) p = json_pack("{s:s,s:s,s:s}", "check", check, "where", "(unprintable)", "what", "(unprintable)");
  json_array_append_new(list, p);
}

typedef struct {
  jcm *j;      /* the store verified */
  jcm *replay; /* the fresh store */
  json_t *problems;
  int64_t events;
  int chain_ok, replay_ok;
  unsigned char head[JCM_HASH_LEN];
} verifier;

static int column_matches(json_t *ev, const char *key, const char *col) {
  const char *v = jcm__s(ev, key);
  return v && strcmp(v, col) == 0;
}

/* Checks one entry's place in the chain; returns 0 when it may be replayed. */
static int check_entry(verifier *v, jcm_store *st, jcm_stmt *s, int64_t expect, json_t **event) {
  char where[48];
  int64_t seq = col_int(st, s, 0);
  snprintf(where, sizeof where, "journal entry %lld", (long long)seq);
  if (seq != expect) {
    problem(v->problems, "chain", where, "expected entry %lld here: entries are missing or reordered",
            (long long)expect);
    return -1;
  }
  const void *bytes = st->ops->column_blob(s, 5);
  size_t n = (size_t)st->ops->column_bytes(s, 5);
  unsigned char h[JCM_HASH_LEN];
  if (st->ops->column_bytes(s, 6) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 6), v->head, JCM_HASH_LEN) != 0) {
    problem(v->problems, "chain", where, "its previous hash is not the hash of entry %lld", (long long)(seq - 1));
    return -1;
  }
  jcm__hash_event(v->head, bytes ? bytes : "", n, h);
  if (st->ops->column_bytes(s, 7) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 7), h, JCM_HASH_LEN) != 0) {
    problem(v->problems, "chain", where, "its bytes do not hash to its stored hash: the entry was altered");
    return -1;
  }
  json_t *ev = json_loadb(bytes ? bytes : "", n, JSON_REJECT_DUPLICATES, NULL);
  if (!ev || jcm__i(ev, "seq", -1) != seq || !column_matches(ev, "time", col_text(st, s, 1)) ||
      !column_matches(ev, "actor", col_text(st, s, 2)) || !column_matches(ev, "role", col_text(st, s, 3)) ||
      !column_matches(ev, "cmd", col_text(st, s, 4)) || !json_is_object(json_object_get(ev, "args")) ||
      !json_is_object(json_object_get(ev, "out"))) {
    problem(v->problems, "chain", where, "its columns disagree with its hashed bytes");
    json_decref(ev);
    return -1;
  }
  memcpy(v->head, h, JCM_HASH_LEN);
  *event = ev;
  return 0;
}

static int replay_event(verifier *v, json_t *ev) {
  jcm_check chk = {0};
  jcm_actor actor = {jcm__s(ev, "actor"), jcm__s(ev, "role")};
  const cmd_spec *spec = jcm__spec_find(jcm__s(ev, "cmd"));
  jcm_ctx c = {.j = v->replay,
               .st = jcm__store(v->replay),
               .actor = &actor,
               .role = jcm__role_bit(actor.role),
               .args = json_object_get(ev, "args"),
               .out = json_object_get(ev, "out"),
               .chk = &chk,
               .seq = jcm__i(ev, "seq", 0),
               .replay = true};
  snprintf(c.time, sizeof c.time, "%s", jcm__s(ev, "time"));
  char where[48];
  snprintf(where, sizeof where, "journal entry %lld", (long long)c.seq);
  if (!spec) {
    problem(v->problems, "replay", where, "unknown command %s", jcm__s(ev, "cmd"));
    return -1;
  }
  if (!(spec->roles & c.role)) {
    problem(v->problems, "replay", where, "role '%s' may not %s", actor.role ? actor.role : "", spec->help);
    return -1;
  }
  if (jcm__apply_event(&c, spec) != JCM_OK) {
    problem(v->problems, "replay", where, "cannot be applied: %s", chk.message);
    return -1;
  }
  return 0;
}

static void walk_journal(verifier *v) {
  jcm_store *st = jcm__store(v->j);
  jcm_stmt *s =
      st->ops->prepare_temp(st, "SELECT seq, time, actor, role, cmd, bytes, prev_hash, hash FROM journal ORDER BY seq");
  jcm_store *rs = jcm__store(v->replay);
  if (!s || rs->ops->exec(rs, "BEGIN") != 0) {
    problem(v->problems, "chain", "journal", "cannot read the journal: %s", st->ops->errmsg(st));
    v->chain_ok = v->replay_ok = 0;
    if (s) st->ops->finalize(s);
    return;
  }
  memset(v->head, 0, sizeof v->head);
  while (db_step(st, s) == JCM_ROW) {
    json_t *ev = NULL;
    if (check_entry(v, st, s, v->events + 1, &ev) != 0) {
      v->chain_ok = 0;
      break;
    }
    v->events++;
    if (v->replay_ok && replay_event(v, ev) != 0) v->replay_ok = 0;
    json_decref(ev);
  }
  st->ops->finalize(s);
  rs->ops->exec(rs, "COMMIT");
}

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
static void compare_table(verifier *v, const char *table, const char *order) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *a = jcm__store(v->j), *b = jcm__store(v->replay);
  jcm_stmt *sa = a->ops->prepare_temp(a, sql), *sb = b->ops->prepare_temp(b, sql);
  char where[300];
  if (!sa || !sb)
    problem(v->problems, "replay", table, "cannot read the table in the %s: %s", sa ? "replayed store" : "store",
            sa ? b->ops->errmsg(b) : a->ops->errmsg(a));
  for (int64_t row = 1; sa && sb; row++) {
    int ra = db_step(a, sa), rb = db_step(b, sb);
    if (ra != JCM_ROW && rb != JCM_ROW) break;
    if (ra != JCM_ROW || rb != JCM_ROW) {
      jcm_store *st = ra == JCM_ROW ? a : b;
      describe_row(st, ra == JCM_ROW ? sa : sb, where, sizeof where);
      problem(v->problems, "replay", table, "row %s is %s", where,
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
      problem(v->problems, "replay", table, "row %s: column %s is '%s' in the store, '%s' by the journal", where,
              a->ops->column_name(sa, i), va, vb);
      break;
    }
  }
  if (sa) a->ops->finalize(sa);
  if (sb) b->ops->finalize(sb);
}

/* Runs an invariant query; each row it returns is a violation. */
static void invariant(verifier *v, const char *name, const char *sql, const char *what) {
  jcm_store *st = jcm__store(v->j);
  jcm_stmt *s = st->ops->prepare_temp(st, sql);
  if (!s) {
    problem(v->problems, "invariant", name, "cannot run: %s", st->ops->errmsg(st));
    return;
  }
  char where[300];
  if (db_step(st, s) == JCM_ROW) {
    describe_row(st, s, where, sizeof where);
    problem(v->problems, "invariant", name, "%s: %s", what, where);
  }
  st->ops->finalize(s);
}

/* One pass over the blocks in serial order: each starts after the one before
 * it of the same origin ends (a self-join would be quadratic). */
static void no_overlap(verifier *v) {
  jcm_store *st = jcm__store(v->j);
  jcm_stmt *s = st->ops->prepare_temp(st, "SELECT origin, first, last FROM block ORDER BY origin, first");
  if (!s) {
    problem(v->problems, "invariant", "no overlap", "cannot run: %s", st->ops->errmsg(st));
    return;
  }
  char origin[32] = "", where[300];
  int64_t prev_last = 0;
  while (db_step(st, s) == JCM_ROW) {
    int64_t first = col_int(st, s, 1), last = col_int(st, s, 2);
    int same = strcmp(origin, col_text(st, s, 0)) == 0;
    if (first > last || first < 1 || (same && first <= prev_last)) {
      describe_row(st, s, where, sizeof where);
      problem(v->problems, "invariant", "no overlap", "blocks overlap or are inverted: %s", where);
      break;
    }
    snprintf(origin, sizeof origin, "%s", col_text(st, s, 0));
    prev_last = last;
  }
  st->ops->finalize(s);
}

static void check_invariants(verifier *v) {
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
  invariant(v, "one state",
            "SELECT b.origin, b.first, b.account, b.reserved_tx, b.out_tx FROM block b"
            " LEFT JOIN account a ON a.id = b.account LEFT JOIN xtx r ON r.id = b.reserved_tx"
            " LEFT JOIN xtx o ON o.id = b.out_tx AND o.dir = 'out' AND o.status = 'completed'"
            " WHERE (b.account IS NULL) = (o.id IS NULL) OR (b.account IS NOT NULL AND a.id IS NULL)"
            " OR (b.reserved_tx IS NOT NULL AND (r.id IS NULL OR r.status <> 'proposed' OR b.account IS NULL))",
            "a block is in no account and not transferred out, or reserved by an unknown or finished transfer");
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
  verifier v = {.j = j, .problems = json_array(), .chain_ok = 1, .replay_ok = 1};
  char err[256] = "";
  *report = NULL;
  if (jcm_open(":memory:", NULL, &v.replay, err, sizeof err) != JCM_OK) {
    json_decref(v.problems);
    return JCM_ERROR;
  }
  /* The replay store is thrown away and never rolled back: no undo journal.
   * Its index of movements by entry serves queries only (no apply reads it,
   * and the comparison reads movements in key order): replay does without. */
  jcm_store *rs = jcm__store(v.replay);
  rs->ops->exec(rs, "PRAGMA journal_mode=OFF");
  rs->ops->exec(rs, "DROP INDEX IF EXISTS movement_seq");
  walk_journal(&v);
  if (v.chain_ok && v.replay_ok)
    for (int i = 0; jcm__state_tables[i]; i++)
      compare_table(&v, jcm__state_tables[i], jcm__state_order[i]);
  check_invariants(&v);
  jcm_close(v.replay);
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(v.head, JCM_HASH_LEN, hex);
  int ok = json_array_size(v.problems) == 0;
  *report =
      json_pack("{s:b,s:I,s:s,s:o}", "ok", ok, "events", (json_int_t)v.events, "head", hex, "problems", v.problems);
  return ok ? JCM_OK : JCM_REFUSED;
}
