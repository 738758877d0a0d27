/*
 * jcm verify: (1) walks the journal checking the hash chain and that each
 * entry's columns agree with its hashed bytes; (2) replays every event into
 * a fresh in-memory store and compares every state table row by row with
 * the stored state; (3) checks the invariants of DOMAIN.md §7 that apply to
 * one registry on the stored state. It names the first entry or row that is
 * wrong in each check, and never writes to the store it verifies.
 */
#include <pthread.h>
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

/* Text bytes as printable ASCII, other bytes as \xNN. */
static void printable_text(const unsigned char *p, size_t len, char *out, size_t n) {
  size_t k = 0;
  for (size_t j = 0; j < len && k + 5 < n; j++) {
    if (p[j] >= 0x20 && p[j] < 0x7f)
      out[k++] = (char)p[j];
    else
      k += (size_t)snprintf(out + k, n - k, "\\x%02x", p[j]);
  }
  out[k] = 0;
}

/* A value as printable ASCII: blobs in hex, other bytes outside 0x20..0x7e
 * as \xNN, so that tampered text can always be reported. */
void jcm__printable(jcm_store *st, jcm_stmt *s, int i, char *out, size_t n) {
  int type = st->ops->column_type(s, i);
  const unsigned char *p = type == JCM_BLOB ? st->ops->column_blob(s, i) : (const unsigned char *)col_text(st, s, i);
  size_t len = type == JCM_NULL ? 0 : (size_t)st->ops->column_bytes(s, i);
  if (type == JCM_NULL)
    snprintf(out, n, "NULL");
  else if (type == JCM_BLOB) {
    size_t m = len * 2 + 1 < n ? len : (n - 1) / 2;
    jcm__hex(p, m, out);
  } else {
    printable_text(p, len, out, n);
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

/* The two statements have the same columns, by name and in order; else
 * the difference is reported (a column added to or dropped from the
 * stored table would otherwise compare only where both have one). */
static int same_columns(jcm_replay *v, const char *table, jcm_store *a, jcm_stmt *sa, jcm_store *b, jcm_stmt *sb) {
  int na = a->ops->column_count(sa), nb = b->ops->column_count(sb), i = 0;
  while (i < na && i < nb && strcmp(a->ops->column_name(sa, i), b->ops->column_name(sb, i)) == 0)
    i++;
  if (i == na && i == nb) return 1;
  jcm__problem(v->problems, "replay", table,
               "the table's columns differ from the journal's: column %d is %s in the store, %s by the journal", i + 1,
               i < na ? a->ops->column_name(sa, i) : "(none)", i < nb ? b->ops->column_name(sb, i) : "(none)");
  return 0;
}

/* Reads one stored table to its end, each row to the invariants, and
 * compares it row by row with the replayed one when compare is set
 * (reporting the first difference). */
static void compare_table(jcm_replay *v, jcm_inv *inv, const char *table, const char *order, int compare) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *a = v->stored, *b = jcm__store(v->dst);
  jcm_stmt *sa = a->ops->prepare_temp(a, sql), *sb = compare ? b->ops->prepare_temp(b, sql) : NULL;
  if (!sa || (compare && !sb)) {
    jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s", sa ? "replayed store" : "store",
                 sa ? b->ops->errmsg(b) : a->ops->errmsg(a));
    if (!sa) jcm__inv_unread(inv, table);
  }
  if (sa) jcm__inv_table(inv, table, a, sa);
  int differs = !sa || !sb || !same_columns(v, table, a, sa, b, sb);
  while (sa) {
    int ra = db_step(a, sa), rb = differs ? JCM_DONE : db_step(b, sb);
    if (ra == JCM_STEP_ERROR) {
      jcm__problem(v->problems, "replay", table, "cannot read the table in the store: %s", a->ops->errmsg(a));
      jcm__inv_unread(inv, table);
      break;
    }
    if (rb == JCM_STEP_ERROR) { /* the stored rows are still read, for the invariants */
      jcm__problem(v->problems, "replay", table, "cannot read the table in the replayed store: %s", b->ops->errmsg(b));
      differs = 1;
    }
    /* compared first: reading a value as another type converts it in place */
    if (!differs && (ra == JCM_ROW || rb == JCM_ROW)) differs = rows_differ(v, table, a, sa, ra, b, sb, rb);
    if (ra == JCM_ROW && jcm__inv_row(inv, a, sa) != 0) {
      jcm__problem(v->problems, "invariant", table, "cannot run: out of memory");
      jcm__inv_unread(inv, table);
      break;
    }
    if (ra != JCM_ROW) break; /* the stored rows are read to their end, for the invariants */
  }
  if (sa) a->ops->finalize(sa);
  if (sb) b->ops->finalize(sb);
}

/* ---- movements: the replay keeps them in memory (lib/capture.c) ---- */

/* A captured row's value for the stored column `name`: 0, or -1 when the
 * replay produces no such column. */
typedef struct {
  int type;
  int64_t i;
  const char *p;
  size_t n;
} cvalue;

/* Rows the replay kept in memory, of one table: which of a row's values
 * stands for the stored column `name` (the i-th; -1 when the replay
 * produces no such column), found once a table; that value of a row; and
 * a row's key, for a row missing from the store. */
typedef struct {
  const char *table;
  int (*field)(int i, const char *name);
  void (*value)(const void *row, int field, cvalue *v);
  void (*describe)(const void *row, char *out, size_t n);
} replayed_kind;

static const char *const movement_fields[] = {"account", "tx", "ranges", "seq", "dir", "quantity"};

static int movement_field(int i, const char *name) {
  (void)i;
  for (int k = 0; k < 6; k++)
    if (strcmp(name, movement_fields[k]) == 0) return k;
  return -1;
}

static void captured(const void *row, int field, cvalue *v) {
  const jcm_movement_row *r = row;
  const char *tp[] = {r->account, r->tx, r->ranges};
  size_t tn[] = {r->account_len, r->tx_len, r->ranges_len};
  int64_t iv[] = {r->seq, r->dir, r->quantity};
  *v = field < 3 ? (cvalue){JCM_TEXT, 0, tp[field], tn[field]} : (cvalue){JCM_INT, iv[field - 3], NULL, 0};
}

static void describe_captured(const void *row, char *out, size_t n) {
  const jcm_movement_row *r = row;
  char account[128];
  printable_text((const unsigned char *)r->account, r->account_len, account, sizeof account);
  snprintf(out, n, "account=%s seq=%lld dir=%lld", account, (long long)r->seq, (long long)r->dir);
}

static const replayed_kind movements = {"movement", movement_field, captured, describe_captured};

/* The stored block columns were checked to be the replay's (origin,
 * BLOCK_COLUMNS), in order: column i is value i. */
static int block_field(int i, const char *name) {
  (void)name;
  return i < 14 ? i : -1;
}

static void kept_block(const void *row, int field, cvalue *v) {
  const jcm_block_values *b = row;
  *v = (cvalue){b->type[field], b->i[field], b->s[field], b->n[field]};
}

static void describe_kept_block(const void *row, char *out, size_t n) {
  const jcm_block_values *b = row;
  char origin[128];
  printable_text(b->s[0], b->n[0], origin, sizeof origin);
  snprintf(out, n, "origin=%s first=%lld last=%lld", origin, (long long)b->i[1], (long long)b->i[2]);
}

static const replayed_kind kept_blocks = {"block", block_field, kept_block, describe_kept_block};

static void cvalue_text(const cvalue *v, char *out, size_t n) {
  if (v->type == JCM_INT)
    snprintf(out, n, "%lld", (long long)v->i);
  else if (v->type == JCM_NULL)
    snprintf(out, n, "NULL");
  else
    printable_text((const unsigned char *)v->p, v->n, out, n);
}

static int stored_equals(jcm_store *a, jcm_stmt *sa, int i, const cvalue *v) {
  int type = a->ops->column_type(sa, i);
  if (type != v->type) return 0;
  if (type == JCM_NULL) return 1;
  if (type == JCM_INT) return col_int(a, sa, i) == v->i;
  const void *p = type == JCM_BLOB ? a->ops->column_blob(sa, i) : (const void *)col_text(a, sa, i);
  return (size_t)a->ops->column_bytes(sa, i) == v->n && (v->n == 0 || memcmp(p, v->p, v->n) == 0);
}

/* As rows_differ(), with the replayed row r (NULL after the last);
 * fields[i] is the row's value for stored column i (kind->field). */
static int captured_differs(jcm_replay *v, const replayed_kind *kind, const int *fields, jcm_store *a, jcm_stmt *sa,
                            int ra, const void *r) {
  char where[300], va[128], vb[128];
  if (ra != JCM_ROW || !r) {
    if (ra == JCM_ROW)
      describe_row(a, sa, where, sizeof where);
    else
      kind->describe(r, where, sizeof where);
    jcm__problem(v->problems, "replay", kind->table, "row %s is %s", where,
                 ra == JCM_ROW ? "in the store but not produced by the journal"
                               : "produced by the journal but missing from the store");
    return 1;
  }
  int cols = a->ops->column_count(sa);
  for (int i = 0; i < cols; i++) {
    cvalue x;
    int have = fields[i] >= 0;
    if (have) kind->value(r, fields[i], &x);
    if (have && stored_equals(a, sa, i, &x)) continue;
    const char *name = a->ops->column_name(sa, i);
    describe_row(a, sa, where, sizeof where);
    jcm__printable(a, sa, i, va, sizeof va);
    if (have)
      cvalue_text(&x, vb, sizeof vb);
    else
      snprintf(vb, sizeof vb, "(no such column)");
    jcm__problem(v->problems, "replay", kind->table, "row %s: column %s is '%s' in the store, '%s' by the journal",
                 where, name, va, vb);
    return 1;
  }
  return 0;
}

/* The next replayed row of a kept table in *row: JCM_ROW, JCM_DONE, or
 * JCM_STEP_ERROR (the replay store's error). */
typedef int (*next_row_fn)(void *ctx, const void **row);

/* Reads stored table kind->table (sa) to its end, each row to the
 * invariants, and compares it with the replayed rows next() gives, unless
 * differs is already set (reporting the first difference). */
static void compare_kept(jcm_replay *v, jcm_inv *inv, const replayed_kind *kind, jcm_stmt *sa, int differs,
                         next_row_fn next, void *ctx) {
  jcm_store *a = v->stored, *b = jcm__store(v->dst);
  int fields[64], cols = sa ? a->ops->column_count(sa) : 0;
  if (cols > 64) { /* the replay's tables have far fewer: columns were added */
    jcm__problem(v->problems, "replay", kind->table, "the table has %d columns, more than the replay's", cols);
    differs = 1;
  }
  for (int i = 0; i < cols && i < 64; i++)
    fields[i] = kind->field(i, a->ops->column_name(sa, i));
  if (sa) jcm__inv_table(inv, kind->table, a, sa);
  while (sa) {
    int ra = db_step(a, sa);
    if (ra == JCM_STEP_ERROR) {
      jcm__problem(v->problems, "replay", kind->table, "cannot read the table in the store: %s", a->ops->errmsg(a));
      jcm__inv_unread(inv, kind->table);
      break;
    }
    const void *r = NULL;
    int rb = differs ? JCM_DONE : next(ctx, &r);
    if (rb == JCM_STEP_ERROR) { /* the stored rows are still read, for the invariants */
      jcm__problem(v->problems, "replay", kind->table, "cannot read the table in the replayed store: %s",
                   b->ops->errmsg(b));
      differs = 1;
    }
    if (!differs && (ra == JCM_ROW || rb == JCM_ROW)) differs = captured_differs(v, kind, fields, a, sa, ra, r);
    if (ra == JCM_ROW && jcm__inv_row(inv, a, sa) != 0) {
      jcm__problem(v->problems, "invariant", kind->table, "cannot run: out of memory");
      jcm__inv_unread(inv, kind->table);
      break;
    }
    if (ra != JCM_ROW) break;
  }
  if (sa) a->ops->finalize(sa);
}

/* Prepares SELECT * of table in both stores (*sb NULL when the replay's
 * cannot be read; *sa when the store's cannot, reported). */
static void prepare_both(jcm_replay *v, jcm_inv *inv, const char *table, const char *order, jcm_stmt **sa,
                         jcm_stmt **sb) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *a = v->stored, *b = jcm__store(v->dst);
  *sa = a->ops->prepare_temp(a, sql);
  *sb = b->ops->prepare_temp(b, sql);
  if (!*sa || !*sb) {
    jcm__problem(v->problems, "replay", table, "cannot read the table in the %s: %s", *sa ? "replayed store" : "store",
                 *sa ? b->ops->errmsg(b) : a->ops->errmsg(a));
    if (!*sa) jcm__inv_unread(inv, table);
  }
}

typedef struct {
  const jcm_capture *cap;
  size_t k;
} captured_rows;

static int next_captured(void *ctx, const void **row) {
  captured_rows *c = ctx;
  if (c->k == jcm__capture_count(c->cap)) return JCM_DONE;
  *row = jcm__capture_row(c->cap, c->k++);
  return JCM_ROW;
}

/* compare_table() for the movements the replay kept in memory. Their
 * columns are those of the replay store's table, which stays empty. */
static void compare_movements(jcm_replay *v, jcm_inv *inv, const jcm_capture *cap, const char *order) {
  jcm_stmt *sa, *sb;
  prepare_both(v, inv, "movement", order, &sa, &sb);
  jcm_store *a = v->stored, *b = jcm__store(v->dst);
  int differs = !sa || !sb || !same_columns(v, "movement", a, sa, b, sb);
  if (sb) b->ops->finalize(sb);
  captured_rows rows = {cap, 0};
  compare_kept(v, inv, &movements, sa, differs, next_captured, &rows);
}

/* The columns of the rows kept in memory (jcm_block_values): origin, BLOCK_COLUMNS. */
static const char *const kept_names[] = {"origin",       "first",     "last",    "issuance",    "project",
                                         "vintage",      "unit_type", "account", "reserved_tx", "auth_id",
                                         "auth_version", "ft_seq",    "ft_to",   "out_tx"};

/* The replay store's block columns are those the kept rows give, in
 * order (origin, BLOCK_COLUMNS); else the difference is reported. */
static int kept_columns(jcm_replay *v, jcm_store *b, jcm_stmt *sb) {
  int n = b->ops->column_count(sb), i = 0;
  while (i < n && i < 14 && strcmp(b->ops->column_name(sb, i), kept_names[i]) == 0)
    i++;
  if (i == n && n == 14) return 1;
  jcm__problem(v->problems, "replay", "block", "the replay's block column %d is %s, not the kept rows' %s", i + 1,
               i < n ? b->ops->column_name(sb, i) : "(none)", i < 14 ? kept_names[i] : "(none)");
  return 0;
}

typedef struct {
  jcm_kept_reader r;
  jcm_block_values values;
} kept_rows;

static int next_kept(void *ctx, const void **row) {
  kept_rows *k = ctx;
  int step = jcm__kept_read_next(&k->r, &k->values);
  if (step == JCM_ROW) *row = &k->values;
  return step;
}

/* compare_table() for the block table, whose replayed rows are the replay
 * store's merged with those the replay kept in memory (lib/kept_blocks.c):
 * writing a million kept rows to the store only to read them back took
 * longer than comparing them where they are. */
static void compare_blocks(jcm_replay *v, jcm_inv *inv, jcm_kept_blocks *kept, const char *order) {
  jcm_stmt *sa, *sb;
  prepare_both(v, inv, "block", order, &sa, &sb);
  jcm_store *a = v->stored, *b = jcm__store(v->dst);
  kept_rows rows;
  int readable = sb && jcm__kept_read_begin(kept, b, &rows.r) == 0;
  if (sb && !readable)
    jcm__problem(v->problems, "replay", "block", "cannot read the table in the replayed store: %s", b->ops->errmsg(b));
  int differs = !sa || !readable || !same_columns(v, "block", a, sa, b, sb) || !kept_columns(v, b, sb);
  if (sb) b->ops->finalize(sb);
  compare_kept(v, inv, &kept_blocks, sa, differs, next_kept, &rows);
  if (sb) jcm__kept_read_end(&rows.r);
}

/* Runs an invariant query; each row it returns is a violation. */
static void invariant(jcm_replay *v, const char *name, const char *sql, const char *what) {
  jcm_store *st = v->stored;
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

/* ---- the stored state read beside the walk ----
 *
 * The comparison read the stored tables only after the walk, on the walk's
 * thread, while the second core had little to do. A second connection in
 * the same snapshot now reads them during the walk: it feeds every row to
 * the invariants and keeps a digest of each table (lib/digest.c). After the
 * walk the replayed tables are digested; a table whose digests agree is
 * equal row for row, and one whose digests differ (or could not be made) is
 * compared row by row as before, on the same snapshot, to name its first
 * difference. */

void (*jcm__verify_stored_opened)(jcm_store *st);

#define STATE_TABLES 64
enum { STORED_DIGESTED, STORED_UNREAD, STORED_PARTIAL };

typedef struct {
  jcm_store *st; /* a second connection, in a read transaction on the walk's snapshot */
  jcm_digest *d;
  jcm_inv *inv;     /* the invariants, fed by this pass */
  json_t *problems; /* this pass's, added to verify's after the walk */
  int state[STATE_TABLES];
  unsigned char digest[STATE_TABLES][JCM_HASH_LEN];
  pthread_t thread;
} stored_pass;

/* The journal's last entry (seq and hash) in st's snapshot: 0, or -1 when
 * it cannot be read. Every commit that changes a compared table appends an
 * entry, so two snapshots with the same last entry hold the same state. */
static int journal_head(jcm_store *st, int64_t *seq, unsigned char hash[JCM_HASH_LEN]) {
  jcm_stmt *s = st->ops->prepare_temp(st, "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1");
  if (!s) return -1;
  int step = db_step(st, s), rc = step == JCM_STEP_ERROR ? -1 : 0;
  *seq = 0;
  memset(hash, 0, JCM_HASH_LEN);
  if (step == JCM_ROW) {
    *seq = col_int(st, s, 0);
    int n = st->ops->column_bytes(s, 1);
    if (n == JCM_HASH_LEN) memcpy(hash, st->ops->column_blob(s, 1), JCM_HASH_LEN);
  }
  st->ops->finalize(s);
  return rc;
}

static int read_one_stored(stored_pass *p, jcm_digest *d, const char *table, const char *order,
                           unsigned char out[JCM_HASH_LEN]) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *st = p->st;
  jcm_stmt *s = st->ops->prepare_temp(st, sql);
  if (!s) {
    jcm__problem(p->problems, "replay", table, "cannot read the table in the store: %s", st->ops->errmsg(st));
    jcm__inv_unread(p->inv, table);
    return STORED_UNREAD;
  }
  jcm__inv_table(p->inv, table, st, s);
  jcm__digest_names(d, st, s);
  int state = STORED_DIGESTED;
  for (;;) {
    int step = db_step(st, s);
    if (step == JCM_STEP_ERROR) {
      jcm__problem(p->problems, "replay", table, "cannot read the table in the store: %s", st->ops->errmsg(st));
      jcm__inv_unread(p->inv, table);
      state = STORED_UNREAD;
      break;
    }
    if (step != JCM_ROW) break;
    jcm__digest_row(d, st, s); /* first: the invariants may read a value as another type */
    if (jcm__inv_row(p->inv, st, s) != 0) {
      jcm__problem(p->problems, "invariant", table, "cannot run: out of memory");
      jcm__inv_unread(p->inv, table);
      state = STORED_PARTIAL;
      break;
    }
  }
  st->ops->finalize(s);
  if (jcm__digest_end(d, out) != 0 && state == STORED_DIGESTED) state = STORED_PARTIAL;
  return state;
}

static void *read_stored(void *arg) {
  stored_pass *p = arg;
  for (int i = 0; jcm__state_tables[i]; i++)
    p->state[i] = read_one_stored(p, p->d, jcm__state_tables[i], jcm__state_order[i], p->digest[i]);
  return NULL;
}

static void stored_pass_free(stored_pass *p) {
  if (p->st) {
    p->st->ops->exec(p->st, "COMMIT"); /* of reads only */
    p->st->ops->close(p->st);
  }
  jcm__digest_free(p->d);
  jcm__inv_free(p->inv);
  json_decref(p->problems);
  memset(p, 0, sizeof *p);
}

/* Starts the pass on a second connection to j's store, in the snapshot j
 * reads (j in its read transaction; its first read here begins the
 * snapshot); 0 when there is none (an in-memory store, no memory, no
 * thread): then verify reads the stored state after the walk, as before.
 * Both read the journal's last entry, a check of the handed-over snapshot
 * (every commit that changes a compared table appends one). */
static int stored_pass_start(stored_pass *p, jcm *j, json_t *v_problems) {
  memset(p, 0, sizeof *p);
  int n = 0;
  while (jcm__state_tables[n])
    n++;
  if (n > STATE_TABLES) return 0;
  int64_t seq_a, seq_b;
  unsigned char hash_a[JCM_HASH_LEN], hash_b[JCM_HASH_LEN];
  char err[256];
  jcm_store *a = jcm__store(j);
  if (journal_head(a, &seq_a, hash_a) != 0) { /* the walk will not read it either */
    jcm__problem(v_problems, "replay", "journal", "cannot read the last entry: %s", a->ops->errmsg(a));
    return 0;
  }
  p->st = a->ops->open_reader(a, err, sizeof err);
  if (p->st && jcm__verify_stored_opened) jcm__verify_stored_opened(p->st);
  int same =
      p->st && journal_head(p->st, &seq_b, hash_b) == 0 && seq_a == seq_b && memcmp(hash_a, hash_b, JCM_HASH_LEN) == 0;
  p->d = same ? jcm__digest_new() : NULL;
  p->inv = p->d ? jcm__inv_new() : NULL;
  p->problems = p->inv ? json_array() : NULL;
  if (!p->problems || pthread_create(&p->thread, NULL, read_stored, p) != 0) {
    stored_pass_free(p);
    return 0;
  }
  return 1;
}

/* The replayed movements' digest, made on a thread of its own while the
 * other tables are digested: the rows are in memory (lib/capture.c), and
 * they were most of the replayed side's digest. The columns are named as
 * the replay store's table names them, read before the thread starts. */
typedef struct {
  const jcm_capture *cap;
  char *names[8];
  int fields[8], cols, rc, started;
  unsigned char out[JCM_HASH_LEN];
  char err[200]; /* the replay store's message, when rc is -1 */
  pthread_t thread;
} movement_job;

static void *digest_movements(void *arg) {
  movement_job *m = arg;
  jcm_digest *d = jcm__digest_new();
  m->rc = -2;
  if (!d) return NULL;
  jcm__digest_name_list(d, (const char *const *)m->names, m->cols);
  for (size_t k = 0; k < jcm__capture_count(m->cap); k++) {
    const void *row = jcm__capture_row(m->cap, k);
    jcm__digest_row_begin(d);
    for (int i = 0; i < m->cols; i++) {
      cvalue x;
      captured(row, m->fields[i], &x);
      jcm__digest_value(d, x.type, x.i, x.p, x.n);
    }
  }
  m->rc = jcm__digest_end(d, m->out) == 0 ? 0 : -2;
  jcm__digest_free(d);
  return NULL;
}

/* Reads the replay store's movement columns into m and starts the digest
 * (on this thread when no other starts). rc: -1 when the replay store
 * cannot be read, -2 when a column has no captured value. */
static void movement_job_start(movement_job *m, jcm_replay *v, const char *order, const jcm_capture *cap) {
  memset(m, 0, sizeof *m);
  m->cap = cap;
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM movement ORDER BY %s", order);
  jcm_store *b = jcm__store(v->dst);
  jcm_stmt *sb = b->ops->prepare_temp(b, sql);
  m->rc = sb ? 0 : -1;
  if (!sb) snprintf(m->err, sizeof m->err, "%s", b->ops->errmsg(b));
  m->cols = sb ? b->ops->column_count(sb) : 0;
  if (m->cols > 8) m->rc = -2;
  for (int i = 0; m->rc == 0 && i < m->cols; i++) {
    const char *name = b->ops->column_name(sb, i);
    m->names[i] = strdup(name);
    m->fields[i] = movement_field(i, name);
    if (!m->names[i] || m->fields[i] < 0) m->rc = -2;
  }
  if (sb) b->ops->finalize(sb);
  if (m->rc != 0) return;
  m->started = pthread_create(&m->thread, NULL, digest_movements, m) == 0;
  if (!m->started) digest_movements(m);
}

/* The job's result, as digest_replayed gives it. */
static int movement_job_end(movement_job *m, unsigned char out[JCM_HASH_LEN]) {
  if (m->started) pthread_join(m->thread, NULL);
  m->started = 0;
  for (int i = 0; i < 8; i++)
    free(m->names[i]);
  memset(m->names, 0, sizeof m->names);
  memcpy(out, m->out, JCM_HASH_LEN);
  return m->rc;
}

/* The replayed blocks' digest: the replay store's rows merged with the kept
 * ones (compare_blocks). 0, or -1 when they cannot be read. */
static int digest_kept(jcm_digest *d, jcm_store *b, jcm_stmt *sb, jcm_kept_blocks *kept) {
  if (b->ops->column_count(sb) != 14) return -2;
  for (int i = 0; i < 14; i++)
    if (strcmp(b->ops->column_name(sb, i), kept_names[i]) != 0) return -2;
  jcm__digest_names(d, b, sb);
  jcm_kept_reader r;
  jcm_block_values x;
  if (jcm__kept_read_begin(kept, b, &r) != 0) {
    jcm__kept_read_end(&r);
    return -1;
  }
  int step;
  while ((step = jcm__kept_read_next(&r, &x)) == JCM_ROW) {
    jcm__digest_row_begin(d);
    for (int i = 0; i < 14; i++)
      jcm__digest_value(d, x.type[i], x.i[i], x.s[i], x.n[i]);
  }
  jcm__kept_read_end(&r);
  return step == JCM_DONE ? 0 : -1;
}

/* The digest of replayed table `table` (not the movements: movement_job):
 * 0; -1 when the replay store could not be read (a problem, as when
 * comparing); -2 when the replay's columns are not those a digest can stand
 * for (the comparison then names them). */
static int digest_replayed(jcm_replay *v, jcm_digest *d, const char *table, const char *order,
                           unsigned char out[JCM_HASH_LEN]) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, order);
  jcm_store *b = jcm__store(v->dst);
  jcm_stmt *sb = b->ops->prepare_temp(b, sql);
  if (!sb) return -1;
  int rc = 0; /* digest_kept: -2 for columns, -1 for reads */
  if (strcmp(table, "block") == 0)
    rc = digest_kept(d, b, sb, v->kept);
  else {
    jcm__digest_names(d, b, sb);
    int step;
    while ((step = db_step(b, sb)) == JCM_ROW)
      jcm__digest_row(d, b, sb);
    rc = step == JCM_DONE ? 0 : -1;
  }
  b->ops->finalize(sb);
  return jcm__digest_end(d, out) == 0 || rc != 0 ? rc : -2;
}

/* Compares the replayed tables with the pass's digests; a table that
 * differs, or whose digest either side could not make, is compared row by
 * row on the pass's snapshot (without the invariants: the pass ran them). */
static void compare_digests(jcm_replay *v, stored_pass *p, const jcm_capture *cap) {
  jcm_digest *d = jcm__digest_new();
  movement_job movements_job = {.rc = -2};
  for (int i = 0; jcm__state_tables[i]; i++)
    if (strcmp(jcm__state_tables[i], "movement") == 0 && p->state[i] == STORED_DIGESTED)
      movement_job_start(&movements_job, v, jcm__state_order[i], cap);
  for (int i = 0; jcm__state_tables[i]; i++) {
    const char *table = jcm__state_tables[i], *order = jcm__state_order[i];
    unsigned char mine[JCM_HASH_LEN];
    int is_movement = strcmp(table, "movement") == 0;
    int rc = is_movement ? movement_job_end(&movements_job, mine) : -2;
    if (p->state[i] == STORED_UNREAD) continue; /* reported by the pass */
    if (!is_movement) rc = p->state[i] == STORED_DIGESTED && d ? digest_replayed(v, d, table, order, mine) : -2;
    if (rc == 0 && memcmp(mine, p->digest[i], JCM_HASH_LEN) == 0) continue;
    if (rc == -1) { /* reported, not read again: as the row-by-row comparison does */
      jcm_store *b = jcm__store(v->dst);
      jcm__problem(v->problems, "replay", table, "cannot read the table in the replayed store: %s",
                   is_movement ? movements_job.err : b->ops->errmsg(b));
      continue;
    }
    if (is_movement)
      compare_movements(v, NULL, cap, order);
    else if (strcmp(table, "block") == 0)
      compare_blocks(v, NULL, v->kept, order);
    else
      compare_table(v, NULL, table, order, 1);
  }
  jcm__digest_free(d);
}

/* The stored state compared and checked after the walk, on its thread. */
static void compare_after(jcm_replay *v, jcm_capture *cap, int compare) {
  jcm_inv *inv = jcm__inv_new();
  if (!inv) jcm__problem(v->problems, "invariant", "store", "cannot run: out of memory");
  for (int i = 0; inv && jcm__state_tables[i]; i++)
    if (compare && strcmp(jcm__state_tables[i], "movement") == 0)
      compare_movements(v, inv, cap, jcm__state_order[i]);
    else if (compare && strcmp(jcm__state_tables[i], "block") == 0)
      compare_blocks(v, inv, v->kept, jcm__state_order[i]);
    else if (compare || jcm__inv_reads(jcm__state_tables[i]))
      compare_table(v, inv, jcm__state_tables[i], jcm__state_order[i], compare);
  if (inv) jcm__inv_end(inv, v->stored, v->problems);
  jcm__inv_free(inv);
}

/* The same with the pass that read the stored state during the walk; what
 * follows (check_invariants) reads the pass's snapshot too. */
static void compare_beside(jcm_replay *v, stored_pass *p, jcm_capture *cap, int compare) {
  pthread_join(p->thread, NULL);
  jcm__problems_add(v->problems, p->problems);
  v->stored = p->st;
  if (compare) compare_digests(v, p, cap);
  jcm__inv_end(p->inv, p->st, v->problems);
}

int jcm_verify(jcm *j, json_t **report) {
  jcm_replay v;
  unsigned lost = atomic_load(&jcm__problems_lost);
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
  stored_pass pass;
  int beside = snapshot && stored_pass_start(&pass, j, problems);
  /* The replay store's index of blocks by account serves checks (the pick
   * by quantity, an account's units before it closes) and queries: no
   * apply reads it, the comparison reads rows in key order, and each
   * transfer would write an entry at a random place of a tree as large as
   * the block table. (Its movement table stays empty: the replay keeps
   * movements in memory.) */
  jcm_store *rs = jcm__store(v.dst);
  rs->ops->exec(rs, "DROP INDEX IF EXISTS block_account");
  jcm_capture *cap = v.dst->capture = jcm__capture_new();
  v.kept = cap ? jcm__kept_new() : NULL;
  if (!v.kept) jcm__problem(problems, "replay", "movement", "cannot keep the replayed movements: out of memory");
  if (v.kept) jcm__replay_until(&v, NULL);
  v.dst->kept = NULL; /* the kept rows are compared where they are (compare_blocks) */
  if (v.kept && v.replay_ok && jcm__capture_write_counters(cap, rs) != 0) {
    jcm__problem(problems, "replay", "counter", "cannot write the replayed counters: %s", rs->ops->errmsg(rs));
    v.replay_ok = 0;
  }
  /* the stored state is read once: compared with the replay's when the
   * replay ran to its end, and checked against the invariants always */
  int compare = v.kept && v.chain_ok && v.replay_ok;
  if (beside)
    compare_beside(&v, &pass, cap, compare);
  else
    compare_after(&v, cap, compare);
  check_invariants(&v);
  if (beside) {
    stored_pass_free(&pass);
    v.stored = jcm__store(j);
  }
  if (snapshot) jcm_read_end(j);
  if (v.dst) v.dst->capture = NULL;
  jcm__capture_free(cap);
  jcm__kept_free(v.kept);
  jcm__replay_close(&v);
  char hex[2 * JCM_HASH_LEN + 1];
  jcm__hex(v.head, JCM_HASH_LEN, hex);
  lost = atomic_load(&jcm__problems_lost) - lost;
  if (lost) /* its own append may fail too: the count decides */
    jcm__problem(problems, "verify", "report", "%u problems could not be recorded: out of memory", lost);
  int ok = json_array_size(problems) == 0 && !lost;
  *report = json_pack("{s:b,s:I,s:s,s:o}", "ok", ok, "events", (json_int_t)v.events, "head", hex, "problems", problems);
  if (!*report) return JCM_ERROR; /* no report: it could not run, whatever it found */
  return ok ? JCM_OK : JCM_REFUSED;
}
