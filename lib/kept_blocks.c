/*
 * Blocks moved by verify's replay, kept in memory until something other
 * than a move needs the block table.
 *
 * Replaying a transfer in the store is a look-up, an insert and an update
 * in a block table that grows by a row a transfer: at a million events a
 * build that skipped them verified with 18 and 16 s of user time against
 * 34 and 28 s (docs/benchmarks.md). Here a move that lies inside one block of its
 * source (what every pick by quantity takes) changes rows kept in sorted
 * arrays, and the store's table keeps what it had. Before any other
 * command, before a move the store must make itself (ranges across
 * blocks), and when the replay ends, the kept rows are written to the
 * store (jcm__kept_flush): updates of the rows read from it, inserts of
 * the new ones. The outcome is the same rows the statements of
 * blocks.c's move would leave.
 *
 * A look-up takes the kept row that starts at or below the serial, and
 * asks the store only when the store may hold a row starting between that
 * row and the serial: each kept row knows where the store's next row
 * starts (sql_next), which a split row inherits. So once each issued
 * block has been read, a transfer's replay asks the store nothing.
 *
 * What the table would refuse is refused at the move, with the store's
 * words: a destination that is no account (the foreign key) and a second
 * block starting at one serial (the key).
 */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#define ROWS 128             /* rows of a chunk of one origin's sorted rows */
#define TEXT_BYTES (1 << 16) /* texts are kept in chunks of this size */

/* The columns of a block other than first, last and account, as read
 * (BLOCK_COLUMNS order; slots 0, 1 and 6 unused), shared by every row
 * split from one read row. */
typedef struct {
  int type[13];
  int64_t i[13];
  const char *s[13];
} attrs;

typedef struct {
  int64_t first, last;
  int64_t sql_next;    /* the store holds no row of this origin starting in (first, sql_next) */
  const char *account; /* kept; NULL when no account holds the units */
  const attrs *a;
  bool stored; /* read from the store: written back as an update */
} kept;

typedef struct {
  int n;
  kept rows[ROWS];
} chunk;

/* One origin's kept rows: chunk i's rows all start below chunk i+1's. */
typedef struct {
  const char *origin;
  chunk **chunks;
  int64_t *mins; /* the first serial of each chunk's first row */
  size_t n, cap;
} serials;

typedef struct text_chunk {
  struct text_chunk *next;
  size_t used;
  _Alignas(16) char bytes[TEXT_BYTES];
} text_chunk;

struct jcm_kept_blocks {
  serials *origins;
  size_t n_origins;
  text_chunk *texts; /* texts and attrs, freed together */
  jcm_ix accounts;   /* the accounts known to exist (their ids kept in texts) */
};

jcm_kept_blocks *jcm__kept_new(void) { return calloc(1, sizeof(jcm_kept_blocks)); }

/* Forgets every row, text and known account. */
static void drop_all(jcm_kept_blocks *k) {
  for (size_t o = 0; o < k->n_origins; o++) {
    for (size_t i = 0; i < k->origins[o].n; i++)
      free(k->origins[o].chunks[i]);
    free(k->origins[o].chunks);
    free(k->origins[o].mins);
  }
  free(k->origins);
  k->origins = NULL;
  k->n_origins = 0;
  for (text_chunk *t = k->texts, *next; t; t = next) {
    next = t->next;
    free(t);
  }
  k->texts = NULL;
  jcm__ix_free(&k->accounts);
}

void jcm__kept_free(jcm_kept_blocks *k) {
  if (!k) return;
  drop_all(k);
  free(k);
}

/* n bytes kept until the rows are dropped, aligned for any value, or NULL
 * out of memory. */
static void *keep_bytes(jcm_kept_blocks *k, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n > TEXT_BYTES) return NULL; /* block texts are ids, far shorter */
  if (!k->texts || TEXT_BYTES - k->texts->used < n) {
    text_chunk *t = malloc(sizeof *t);
    if (!t) return NULL;
    t->next = k->texts;
    t->used = 0;
    k->texts = t;
  }
  void *p = k->texts->bytes + k->texts->used;
  k->texts->used += n;
  return p;
}

static const char *keep_text(jcm_kept_blocks *k, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = keep_bytes(k, n);
  if (p) memcpy(p, s, n);
  return p;
}

static serials *serials_of(jcm_kept_blocks *k, const char *origin) {
  for (size_t o = 0; o < k->n_origins; o++)
    if (strcmp(k->origins[o].origin, origin) == 0) return &k->origins[o];
  const char *kept_origin = keep_text(k, origin);
  serials *grown = kept_origin ? realloc(k->origins, (k->n_origins + 1) * sizeof *grown) : NULL;
  if (!grown) return NULL;
  k->origins = grown;
  grown[k->n_origins] = (serials){.origin = kept_origin};
  return &grown[k->n_origins++];
}

/* The index of the last chunk starting at or below s; -1 when none does. */
static ptrdiff_t chunk_at(const serials *m, int64_t s) {
  size_t lo = 0, hi = m->n; /* the first chunk starting above s is in [lo, hi] */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->mins[mid] <= s)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (ptrdiff_t)lo - 1;
}

/* The index of the first row of ch starting above s. */
static int row_above(const chunk *ch, int64_t s) {
  int lo = 0, hi = ch->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (ch->rows[mid].first <= s)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The kept row starting at or below s, or NULL. Valid until the next insert. */
static kept *kept_at(serials *m, int64_t s) {
  ptrdiff_t i = chunk_at(m, s);
  if (i < 0) return NULL;
  int r = row_above(m->chunks[i], s);
  return r ? &m->chunks[i]->rows[r - 1] : NULL;
}

/* Room for one more chunk: 0, or -1 out of memory. */
static int chunk_room(serials *m) {
  if (m->n < m->cap) return 0;
  size_t cap = m->cap ? m->cap * 2 : 64;
  chunk **chunks = realloc(m->chunks, cap * sizeof *chunks);
  if (chunks) m->chunks = chunks;
  int64_t *mins = chunks ? realloc(m->mins, cap * sizeof *mins) : NULL;
  if (!mins) return -1;
  m->mins = mins;
  m->cap = cap;
  return 0;
}

/* Inserts an empty chunk at i: 0, or -1 out of memory. */
static int new_chunk(serials *m, size_t i) {
  chunk *ch = chunk_room(m) == 0 ? malloc(sizeof *ch) : NULL;
  if (!ch) return -1;
  ch->n = 0;
  memmove(m->chunks + i + 1, m->chunks + i, (m->n - i) * sizeof *m->chunks);
  memmove(m->mins + i + 1, m->mins + i, (m->n - i) * sizeof *m->mins);
  m->chunks[i] = ch;
  m->n++;
  return 0;
}

/* Moves the upper half of full chunk i to a new chunk after it: 0, or -1
 * out of memory. */
static int split_chunk(serials *m, size_t i) {
  if (new_chunk(m, i + 1) != 0) return -1;
  chunk *lower = m->chunks[i], *upper = m->chunks[i + 1];
  upper->n = lower->n / 2;
  lower->n -= upper->n;
  memcpy(upper->rows, lower->rows + lower->n, (size_t)upper->n * sizeof *upper->rows);
  m->mins[i + 1] = upper->rows[0].first;
  return 0;
}

/* Inserts row, whose first no kept row has: 0, or -1 out of memory. */
static int insert_row(serials *m, const kept *row) {
  if (m->n == 0) {
    if (new_chunk(m, 0) != 0) return -1;
    m->mins[0] = row->first;
  }
  ptrdiff_t at = chunk_at(m, row->first);
  size_t i = at < 0 ? 0 : (size_t)at;
  if (m->chunks[i]->n == ROWS) {
    if (split_chunk(m, i) != 0) return -1;
    if (row->first >= m->mins[i + 1]) i++;
  }
  chunk *ch = m->chunks[i];
  int r = row_above(ch, row->first);
  memmove(ch->rows + r + 1, ch->rows + r, (size_t)(ch->n - r) * sizeof *ch->rows);
  ch->rows[r] = *row;
  ch->n++;
  m->mins[i] = ch->rows[0].first;
  return 0;
}

/* ---- the store's rows ---- */

static int out_of_memory(jcm_ctx *c) {
  jcm__set_check(c->chk, 0, "", "store error in move: out of memory");
  return JCM_ERROR;
}

/* What the block table would say, as a store error. */
static int table_refuses(jcm_ctx *c, const char *what) {
  jcm__set_check(c->chk, 0, "", "store error in move: %s", what);
  return JCM_ERROR;
}

/* The row st is on (BLOCK_COLUMNS) as a kept row, its columns copied as
 * copy_row (blocks.c) binds them: 0, or -1 out of memory. */
static int read_row(jcm_ctx *c, jcm_kept_blocks *k, jcm_stmt *st, kept *out) {
  attrs *a = keep_bytes(k, sizeof *a);
  if (!a) return -1;
  for (int i = 2; i < 13; i++) {
    int type = c->st->ops->column_type(st, i);
    const char *text = type == JCM_INT || type == JCM_NULL ? NULL : col_text(c->st, st, i);
    a->type[i] = type == JCM_INT ? JCM_INT : text ? JCM_TEXT : JCM_NULL; /* bound as text, a NULL text as NULL */
    if (type == JCM_INT) a->i[i] = col_int(c->st, st, i);
    if (text && !(a->s[i] = keep_text(k, text))) return -1;
  }
  const char *account = a->type[6] == JCM_NULL ? NULL : a->s[6];
  *out =
      (kept){.first = col_int(c->st, st, 0), .last = col_int(c->st, st, 1), .account = account, .a = a, .stored = true};
  return 0;
}

/* The store's first serial of origin above s, or INT64_MAX when none: *next. */
static int stored_next(jcm_ctx *c, const char *origin, int64_t s, int64_t *next) {
  static const char q[] = "SELECT first FROM block WHERE origin = ? AND first > ? ORDER BY first LIMIT 1";
  jcm_stmt *st = db_q(c->st, q, "si", origin, s);
  int step = st ? db_step(c->st, st) : JCM_STEP_ERROR;
  *next = step == JCM_ROW ? col_int(c->st, st, 0) : INT64_MAX;
  if (st) db_reset(c->st, st);
  return step == JCM_STEP_ERROR ? jcm__dberr(c, "move") : JCM_OK;
}

/* Reads the store's row of origin starting at or below s when it starts
 * above `above` (the kept row's first): *found 1 and the row in *out. */
static int read_stored(jcm_ctx *c, jcm_kept_blocks *k, const char *origin, int64_t s, int64_t above, kept *out,
                       int *found) {
  jcm_stmt *st;
  int64_t bf, bl;
  int step = jcm__block_at(c, origin, s, &st, &bf, &bl);
  *found = step == JCM_ROW && bf > above;
  int rc = !st || step == JCM_STEP_ERROR ? jcm__dberr(c, "move") : JCM_OK;
  if (rc == JCM_OK && *found && read_row(c, k, st, out) != 0) rc = out_of_memory(c);
  if (st) db_reset(c->st, st);
  if (rc == JCM_OK && *found) rc = stored_next(c, origin, bf, &out->sql_next);
  return rc;
}

/* The account `to` as kept, when the store has it (the block table's
 * foreign key); NULL with c->chk set otherwise. */
static const char *destination(jcm_ctx *c, jcm_kept_blocks *k, const char *to) {
  static const char q[] = "SELECT 1 FROM account WHERE id = ?";
  const jcm_ix_entry *known = jcm__ix_get(&k->accounts, to, strlen(to));
  if (known) return known->key;
  jcm_stmt *s = db_q(c->st, q, "s", to);
  int step = s ? db_step(c->st, s) : JCM_STEP_ERROR;
  if (s) db_reset(c->st, s);
  if (step == JCM_DONE) table_refuses(c, "FOREIGN KEY constraint failed");
  if (step != JCM_ROW) {
    if (step != JCM_DONE) jcm__dberr(c, "move");
    return NULL;
  }
  const char *id = keep_text(k, to);
  if (!id || jcm__ix_put(&k->accounts, id, strlen(id), 0) != 0) {
    out_of_memory(c);
    return NULL;
  }
  return id;
}

/* 1 when a row of origin starts at s, kept or (below sql_next, known not
 * to) stored; -1 when the store cannot say. */
static int starts_at(jcm_ctx *c, serials *m, int64_t s, int64_t sql_next) {
  kept *r = kept_at(m, s);
  if (r && r->first == s) return 1;
  if (s < sql_next) return 0;
  jcm_stmt *st;
  int64_t bf, bl;
  int step = jcm__block_at(c, m->origin, s, &st, &bf, &bl);
  if (st) db_reset(c->st, st);
  if (step == JCM_STEP_ERROR || !st) return -1;
  return step == JCM_ROW && bf == s;
}

int jcm__kept_move(jcm_ctx *c, jcm_kept_blocks *k, const char *origin, int64_t f, int64_t l, const char *from,
                   const char *to, int *moved) {
  serials *m = serials_of(k, origin);
  *moved = 0;
  if (!m) return out_of_memory(c);
  kept read, *r = kept_at(m, f);
  if (!r || f >= r->sql_next) { /* the store may hold a row starting between */
    int found, rc = read_stored(c, k, origin, f, r ? r->first : INT64_MIN, &read, &found);
    if (rc != JCM_OK) return rc;
    if (found) r = &read;
  }
  if (!r || r->last < l || !r->account || strcmp(r->account, from) != 0) return JCM_OK; /* not inside one block */
  const char *dest = destination(c, k, to);
  if (!dest) return JCM_ERROR;
  kept block = *r;
  if (block.last > l) { /* its part above the range becomes a row of its own */
    int taken = starts_at(c, m, l + 1, block.sql_next);
    if (taken)
      return taken < 0 ? jcm__dberr(c, "move")
                       : table_refuses(c, "UNIQUE constraint failed: block.origin, block.first");
  }
  kept own = block; /* the block's own row keeps its lower part, or becomes the range */
  if (block.first < f)
    own.last = f - 1;
  else {
    own.last = l;
    own.account = dest;
  }
  int rc = r == &read ? insert_row(m, &own) : (*r = own, 0);
  if (rc == 0 && block.first < f) {
    kept range = block;
    range.first = f, range.last = l, range.account = dest, range.stored = false;
    rc = insert_row(m, &range);
  }
  if (rc == 0 && block.last > l) {
    kept above = block;
    above.first = l + 1, above.stored = false;
    rc = insert_row(m, &above);
  }
  if (rc != 0) return out_of_memory(c);
  *moved = 1;
  return JCM_OK;
}

/* ---- writing the kept rows to the store ---- */

static int write_row(jcm_store *st, const char *origin, const kept *r) {
  static const char q_set[] = "UPDATE block SET last = ?, account = ? WHERE origin = ? AND first = ?";
  static const char q_new[] =
      "INSERT INTO block(origin, " BLOCK_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  if (r->stored) return db_x(st, q_set, "issi", r->last, r->account, origin, r->first);
  const jcm_store_ops *o = st->ops;
  jcm_stmt *s = o->prepare(st, q_new);
  int rc = s && !o->bind_text(s, 1, origin, -1) && !o->bind_int(s, 2, r->first) && !o->bind_int(s, 3, r->last) ? 0 : -1;
  for (int i = 2; i < 13 && rc == 0; i++) {
    int type = i == 6 ? (r->account ? JCM_TEXT : JCM_NULL) : r->a->type[i];
    const char *text = i == 6 ? r->account : r->a->s[i];
    rc = type == JCM_NULL  ? o->bind_null(s, i + 2)
         : type == JCM_INT ? o->bind_int(s, i + 2, r->a->i[i])
                           : o->bind_text(s, i + 2, text, -1);
  }
  if (rc == 0) rc = o->step(s) == JCM_DONE ? 0 : -1;
  if (s) o->reset(s);
  return rc;
}

int jcm__kept_flush(jcm_kept_blocks *k, jcm_store *st) {
  int rc = 0;
  for (size_t o = 0; o < k->n_origins && rc == 0; o++) {
    const serials *m = &k->origins[o];
    for (size_t i = 0; i < m->n && rc == 0; i++)
      for (int r = 0; r < m->chunks[i]->n && rc == 0; r++)
        rc = write_row(st, m->origin, &m->chunks[i]->rows[r]);
  }
  drop_all(k);
  return rc;
}

/* ---- reading the replayed table: the store's rows merged with the kept ---- */

static int origin_cmp(const void *a, const void *b) {
  return strcmp(((const serials *)a)->origin, ((const serials *)b)->origin);
}

int jcm__kept_read_begin(jcm_kept_blocks *k, jcm_store *st, jcm_kept_reader *r) {
  static const char q[] = "SELECT origin, " BLOCK_COLUMNS " FROM block ORDER BY origin, first";
  /* the table's order: origins as BINARY collation sorts them, which is strcmp's for text without NUL */
  if (k->n_origins > 1) qsort(k->origins, k->n_origins, sizeof *k->origins, origin_cmp);
  *r = (jcm_kept_reader){.k = k, .st = st, .s = st->ops->prepare_temp(st, q)};
  r->step = r->s ? db_step(st, r->s) : JCM_STEP_ERROR;
  return r->step == JCM_STEP_ERROR ? -1 : 0;
}

void jcm__kept_read_end(jcm_kept_reader *r) {
  if (r->s) r->st->ops->finalize(r->s);
  r->s = NULL;
}

/* The kept row the reader is at, or NULL after the last; *origin its origin. */
static const kept *kept_here(jcm_kept_reader *r, const char **origin) {
  while (r->o < r->k->n_origins) {
    const serials *m = &r->k->origins[r->o];
    if (r->chunk < m->n && r->row < m->chunks[r->chunk]->n) {
      *origin = m->origin;
      return &m->chunks[r->chunk]->rows[r->row];
    }
    if (r->chunk < m->n && ++r->chunk < m->n) {
      r->row = 0;
      continue;
    }
    r->o++, r->chunk = 0, r->row = 0;
  }
  return NULL;
}

/* -1, 0 or 1 as the store's row (the statement's) sorts before, with or after kept row x of origin. */
static int stored_vs_kept(jcm_kept_reader *r, const char *origin, const kept *x) {
  const char *so = col_text(r->st, r->s, 0);
  int c = strcmp(so ? so : "", origin);
  if (c) return c < 0 ? -1 : 1;
  int64_t f = col_int(r->st, r->s, 1);
  return f < x->first ? -1 : f > x->first;
}

static void values_of_kept(const char *origin, const kept *x, jcm_block_values *v) {
  v->type[0] = JCM_TEXT, v->s[0] = origin, v->n[0] = strlen(origin);
  v->type[1] = JCM_INT, v->i[1] = x->first;
  v->type[2] = JCM_INT, v->i[2] = x->last;
  for (int c = 2; c < 13; c++) { /* BLOCK_COLUMNS index c is value c + 1 */
    int type = c == 6 ? (x->account ? JCM_TEXT : JCM_NULL) : x->a->type[c];
    const char *s = c == 6 ? x->account : x->a->s[c];
    v->type[c + 1] = type;
    v->i[c + 1] = type == JCM_INT ? x->a->i[c] : 0;
    v->s[c + 1] = type == JCM_TEXT ? s : NULL;
    v->n[c + 1] = type == JCM_TEXT ? strlen(s) : 0;
  }
}

static void values_of_stored(jcm_kept_reader *r, jcm_block_values *v) {
  for (int c = 0; c < 14; c++) {
    int type = r->st->ops->column_type(r->s, c);
    v->type[c] = type;
    v->i[c] = type == JCM_INT ? col_int(r->st, r->s, c) : 0;
    v->s[c] = type == JCM_TEXT ? col_text(r->st, r->s, c) : type == JCM_BLOB ? r->st->ops->column_blob(r->s, c) : NULL;
    v->n[c] = type == JCM_TEXT || type == JCM_BLOB ? (size_t)r->st->ops->column_bytes(r->s, c) : 0;
  }
}

int jcm__kept_read_next(jcm_kept_reader *r, jcm_block_values *v) {
  /* first past the row given last: the store's, the kept, or both (a kept row stands for the store's of its key) */
  if (r->took_stored) r->step = db_step(r->st, r->s);
  if (r->took_kept) r->row++;
  r->took_stored = r->took_kept = 0;
  if (r->step == JCM_STEP_ERROR) return JCM_STEP_ERROR;
  const char *origin = NULL;
  const kept *x = kept_here(r, &origin);
  int c = r->step != JCM_ROW ? 1 : x ? stored_vs_kept(r, origin, x) : -1;
  if (!x && r->step != JCM_ROW) return JCM_DONE;
  r->took_stored = c <= 0;
  r->took_kept = c >= 0;
  if (c < 0)
    values_of_stored(r, v);
  else
    values_of_kept(origin, x, v);
  return JCM_ROW;
}
