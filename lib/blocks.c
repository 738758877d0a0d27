/*
 * The block engine. Units are never rows one by one: a block [first, last]
 * of one originating registry is one row carrying every attribute. Moving
 * units splits at most one block at each end of each range and re-assigns
 * the whole blocks in between, so a command costs what it touches, not the
 * number of units. The workload is many small transfers: picking units is an
 * index walk over the account's free blocks from the largest down.
 *
 * Taking by quantity is deterministic: the source's largest blocks (of the
 * filtered units; equal sizes by the highest serials) go whole until the
 * rest fits in the next one, of which the destination receives the upper
 * serials and the source keeps the lower (DOMAIN.md §5), so at most one
 * block is split. Largest first, not highest serials first: received pieces
 * sit above an account's own issuance, and taking them first cost nine
 * blocks a transfer once accounts had traded for a while (docs/design.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static int range_cmp(const void *a, const void *b) {
  const jcm_range *x = a, *y = b;
  int o = strcmp(x->origin, y->origin);
  if (o) return o;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Writes ranges (sorted, adjacent ones joined) to a JSON array. */
static void ranges_to_json(jcm_range *r, size_t n, json_t *out) {
  qsort(r, n, sizeof *r, range_cmp);
  for (size_t i = 0; i < n; i++) {
    int64_t last = r[i].last;
    size_t k = i;
    while (k + 1 < n && strcmp(r[k + 1].origin, r[i].origin) == 0 && r[k + 1].first == last + 1)
      last = r[++k].last;
    json_array_append_new(out, json_pack("{s:s,s:I,s:I}", "origin", r[i].origin, "first", (json_int_t)r[i].first,
                                         "last", (json_int_t)last));
    i = k;
  }
}

/* The pick walks the account's blocks down the index by account and size
 * (schema.c, migration 14), reading each row for its reservation and the
 * filters; the order is the index's, so SQLite sorts nothing. */
const char jcm__pick_sql[] = "SELECT origin, first, last FROM block WHERE account = ? AND reserved_tx IS NULL"
                             " AND (? IS NULL OR project = ?) AND (? = 0 OR vintage = ?)"
                             " ORDER BY last - first DESC, origin DESC, first DESC";

/* Takes block b (or, when it holds more than *need, its upper part) into
 * r[n]; 0, or -1 when out of memory. */
static int take(jcm_range **r, size_t *n, size_t *cap, const char *origin, int64_t first, int64_t last, int64_t *need) {
  if (*n == *cap) {
    jcm_range *g = realloc(*r, (*cap *= 2) * sizeof **r);
    if (!g) return -1;
    *r = g;
  }
  jcm_range *x = &(*r)[(*n)++];
  snprintf(x->origin, sizeof x->origin, "%.15s", origin);
  x->first = last - first + 1 > *need ? last - *need + 1 : first; /* source keeps the lower serials */
  x->last = last;
  *need -= x->last - x->first + 1;
  return 0;
}

/* The pick with a filter of project or vintage: the store sorts the
 * account's blocks (rare; the writer's lists hold no attributes). */
static int pick_stored(jcm_ctx *c, const char *account, const char *project, int64_t vintage, jcm_range **r, size_t *n,
                       size_t *cap, int64_t *need) {
  jcm_stmt *s = db_q(c->st, jcm__pick_sql, "sssii", account, project, project, vintage, vintage);
  if (!s) return -1;
  int step = JCM_DONE, rc = 0;
  while (rc == 0 && *need > 0 && (step = db_step(c->st, s)) == JCM_ROW)
    rc = take(r, n, cap, col_text(c->st, s, 0), col_int(c->st, s, 1), col_int(c->st, s, 2), need);
  db_reset(c->st, s);
  return rc == 0 && step != JCM_STEP_ERROR ? 0 : -1;
}

static int pick_free(jcm_ctx *c, const char *account, jcm_range **r, size_t *n, size_t *cap, int64_t *need) {
  size_t count = 0;
  const jcm_range *v = NULL;
  int kept = jcm__free_list(c, account, &v, &count);
  if (kept < 0) return -1;
  if (kept > 0) return pick_stored(c, account, NULL, 0, r, n, cap, need);
  for (size_t i = 0; i<count && * need> 0; i++)
    if (take(r, n, cap, v[i].origin, v[i].first, v[i].last, need) != 0) return -1;
  return 0;
}

int jcm__blocks_pick(jcm_ctx *c, const char *account, int64_t quantity, const char *project, int64_t vintage,
                     json_t *ranges_out) {
  size_t n = 0, cap = 8;
  jcm_range *r = malloc(cap * sizeof *r);
  int64_t need = quantity;
  int rc = !r                   ? -1
           : project || vintage ? pick_stored(c, account, project, vintage, &r, &n, &cap, &need)
                                : pick_free(c, account, &r, &n, &cap, &need);
  if (rc != 0) {
    free(r);
    return jcm__dberr(c, "pick");
  }
  if (need > 0) {
    free(r);
    return jcm__refuse(
        c, C_INSUFFICIENT, "quantity", "account %s holds %lld unreserved units%s of those asked for, not %lld", account,
        (long long)(quantity - need), project || vintage ? " (with the filters)" : "", (long long)quantity);
  }
  ranges_to_json(r, n, ranges_out);
  free(r);
  return JCM_OK;
}

/* Checks that account holds every serial of [f, l] of origin, unreserved. */
static int covered(jcm_ctx *c, const char *account, const jcm_range *x, const char *field) {
  static const char q[] =
      "SELECT first, last, account, reserved_tx FROM block WHERE origin = ? AND first <= ?"
      " AND first >= (SELECT first FROM block WHERE origin = ? AND first <= ? ORDER BY first DESC LIMIT 1)"
      " ORDER BY first";
  jcm_stmt *s = db_q(c->st, q, "sisi", x->origin, x->last, x->origin, x->first);
  if (!s) return jcm__dberr(c, "ranges");
  int64_t next = x->first; /* the first serial not yet seen held */
  bool complete = false;   /* a flag, not next > last: next cannot pass 2^63-1 */
  int rc = JCM_OK, step = JCM_DONE;
  while (rc == JCM_OK && !complete && (step = db_step(c->st, s)) == JCM_ROW) {
    int64_t bf = col_int(c->st, s, 0), bl = col_int(c->st, s, 1);
    if (bl < next) continue;
    if (bf > next || strcmp(col_text(c->st, s, 2), account) != 0)
      rc = jcm__refuse(c, C_NOT_HELD, field, "account %s does not hold %s serial %lld", account, x->origin,
                       (long long)next);
    else if (!col_null(c->st, s, 3))
      rc = jcm__refuse(c, C_RESERVED, field, "%s serial %lld is reserved by transaction %s", x->origin, (long long)next,
                       col_text(c->st, s, 3));
    else if (bl >= x->last)
      complete = true;
    else
      next = bl + 1;
  }
  db_reset(c->st, s);
  if (rc == JCM_OK && step == JCM_STEP_ERROR) return jcm__dberr(c, "ranges"); /* not a refusal: the store failed */
  if (rc == JCM_OK && !complete)
    rc = jcm__refuse(c, C_NOT_HELD, field, "account %s does not hold %s serial %lld", account, x->origin,
                     (long long)next);
  return rc;
}

int jcm__blocks_check_ranges(jcm_ctx *c, const char *account, json_t *ranges, int64_t *total) {
  size_t n = json_array_size(ranges);
  jcm_range *r = calloc(n ? n : 1, sizeof *r);
  if (!r) return jcm__refuse(c, C_TOO_MANY, "ranges", "out of memory");
  int rc = JCM_OK;
  uint64_t sum = 0;
  for (size_t i = 0; i < n && rc == JCM_OK; i++) {
    json_t *x = json_array_get(ranges, i);
    const char *origin = jcm__s(x, "origin");
    snprintf(r[i].origin, sizeof r[i].origin, "%.5s", origin ? origin : c->j->registry);
    r[i].first = jcm__i(x, "first", 0);
    r[i].last = jcm__i(x, "last", 0);
    if (r[i].first > r[i].last) {
      rc = jcm__refuse(c, C_BAD_RANGE, "ranges", "range %lld-%lld is inverted", (long long)r[i].first,
                       (long long)r[i].last);
      break;
    }
    sum += (uint64_t)(r[i].last - r[i].first) + 1;
    if (sum > (uint64_t)INT64_MAX) rc = jcm__refuse(c, C_RANGE, "ranges", "the ranges hold too many units");
  }
  if (rc == JCM_OK) qsort(r, n, sizeof *r, range_cmp);
  for (size_t i = 1; i < n && rc == JCM_OK; i++)
    if (strcmp(r[i].origin, r[i - 1].origin) == 0 && r[i].first <= r[i - 1].last)
      rc = jcm__refuse(c, C_OVERLAP, "ranges", "ranges overlap at serial %lld", (long long)r[i].first);
  for (size_t i = 0; i < n && rc == JCM_OK; i++)
    rc = covered(c, account, &r[i], "ranges");
  if (rc == JCM_OK) {
    json_t *out = json_array();
    ranges_to_json(r, n, out);
    json_object_set_new(c->out, "ranges", out);
    *total = (int64_t)sum;
  }
  free(r);
  return rc;
}

/* Inserts [f, l] of origin as a copy of the block row st is on (selected as
 * BLOCK_COLUMNS), held by `account` when given, else by the row's holder.
 * The values are bound one by one: an INSERT ... SELECT from the table it
 * inserts into needs a temporary table on every run. */
static int copy_row(jcm_ctx *c, jcm_stmt *st, const char *origin, int64_t f, int64_t l, const char *account) {
  static const char q[] =
      "INSERT INTO block(origin, " BLOCK_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  const jcm_store_ops *o = c->st->ops;
  jcm_stmt *ins = o->prepare(c->st, q); /* binds all 14 itself: db_q binds only from a format */
  int rc = ins ? 0 : -1;
  if (rc == 0) rc = o->bind_text(ins, 1, origin, -1) || o->bind_int(ins, 2, f) || o->bind_int(ins, 3, l) ? -1 : 0;
  for (int i = 2; i < 13 && rc == 0; i++) {
    if (i == 6 && account) { /* column 6 is the account */
      rc = o->bind_text(ins, i + 2, account, -1);
      continue;
    }
    switch (o->column_type(st, i)) {
    case JCM_NULL: rc = o->bind_null(ins, i + 2); break;
    case JCM_INT: rc = o->bind_int(ins, i + 2, o->column_int(st, i)); break;
    default: rc = o->bind_text(ins, i + 2, col_text(c->st, st, i), -1); break;
    }
  }
  if (rc == 0) rc = o->step(ins) == JCM_DONE ? 0 : -1;
  if (ins) o->reset(ins);
  return rc;
}

/* Runs q (a look-up of one block by origin and serial, BLOCK_COLUMNS) and
 * gives its step, leaving the row in *st for copy_row; *st is NULL when the
 * statement cannot run. */
static int find_block(jcm_ctx *c, const char *q, const char *origin, int64_t s, jcm_stmt **st, int64_t *bf,
                      int64_t *bl) {
  *st = db_q(c->st, q, "si", origin, s);
  int step = *st ? db_step(c->st, *st) : JCM_STEP_ERROR;
  *bf = step == JCM_ROW ? col_int(c->st, *st, 0) : 0;
  *bl = step == JCM_ROW ? col_int(c->st, *st, 1) : 0;
  return step;
}

/* Splits the block holding serial s so that s starts a block; the upper
 * part goes to account `to` when given (else it stays where the block is). */
static int split_to(jcm_ctx *c, const char *origin, int64_t s, const char *to) {
  static const char q_find[] =
      "SELECT " BLOCK_COLUMNS " FROM block WHERE origin = ? AND first < ? ORDER BY first DESC LIMIT 1";
  static const char q_cut[] = "UPDATE block SET last = ? WHERE origin = ? AND first = ?";
  jcm_stmt *st;
  int64_t bf, bl;
  int step = find_block(c, q_find, origin, s, &st, &bf, &bl);
  if (!st) return jcm__dberr(c, "split");
  if (step != JCM_ROW || bl < s) { /* s starts a block or is not held at all */
    db_reset(c->st, st);
    return step == JCM_STEP_ERROR ? jcm__dberr(c, "split") : JCM_OK;
  }
  jcm__free_forget(c->j); /* the general case: lists are read again */
  /* the insert's error is taken before the look-up's reset, which clears it */
  int rc = copy_row(c, st, origin, s, bl, to) == 0 ? JCM_OK : jcm__dberr(c, "split");
  db_reset(c->st, st);
  if (rc == JCM_OK && db_x(c->st, q_cut, "isi", s - 1, origin, bf) != 0) rc = jcm__dberr(c, "split");
  return rc;
}

int jcm__blocks_split(jcm_ctx *c, const char *origin, int64_t s) { return split_to(c, origin, s, NULL); }

int jcm__block_at(jcm_ctx *c, const char *origin, int64_t s, jcm_stmt **st, int64_t *bf, int64_t *bl) {
  static const char q[] =
      "SELECT " BLOCK_COLUMNS " FROM block WHERE origin = ? AND first <= ? ORDER BY first DESC LIMIT 1";
  return find_block(c, q, origin, s, st, bf, bl);
}

/* Makes [f, l] of origin whole blocks (splitting at most one at each end), so
 * that an UPDATE over that range changes exactly those serials. */
int jcm__blocks_isolate(jcm_ctx *c, const char *origin, int64_t f, int64_t l) {
  int rc = jcm__blocks_split(c, origin, f);
  if (rc == JCM_OK && l < INT64_MAX) rc = jcm__blocks_split(c, origin, l + 1);
  return rc;
}

/* Moves [f, l] of origin to `to` when one block holds all of it: what a
 * pick by quantity takes (a whole block, or the upper part of one). One look
 * up and one or two writes (three for a range strictly inside), against four
 * statements for the general case. *moved is 0 when the range is not inside
 * one block of `from`: the general case (move_whole) then moves it, or
 * refuses when `from` does not hold all of it. */
static int move_within(jcm_ctx *c, const char *origin, int64_t f, int64_t l, const char *from, const char *to,
                       int *moved) {
  static const char q_cut[] = "UPDATE block SET last = ? WHERE origin = ? AND first = ?";
  static const char q_set[] = "UPDATE block SET last = ?, account = ? WHERE origin = ? AND first = ?";
  jcm_stmt *st;
  int64_t bf, bl;
  int step = jcm__block_at(c, origin, f, &st, &bf, &bl);
  if (!st) return jcm__dberr(c, "move");
  *moved = step == JCM_ROW && bl >= l && col_text(c->st, st, 6) && strcmp(col_text(c->st, st, 6), from) == 0;
  if (!*moved) {
    db_reset(c->st, st);
    return step == JCM_STEP_ERROR ? jcm__dberr(c, "move") : JCM_OK;
  }
  int rc = bf < f ? copy_row(c, st, origin, f, l, to) : 0;              /* the range, when the block starts below it */
  if (rc == 0 && bl > l) rc = copy_row(c, st, origin, l + 1, bl, NULL); /* the part above it stays */
  if (rc != 0) jcm__dberr(c, "move");      /* before the look-up's reset, which clears the error */
  int free_block = col_null(c->st, st, 7); /* column 7: reserved_tx */
  db_reset(c->st, st);
  if (rc != 0) return JCM_ERROR;
  /* the block's own row keeps its lower part, or becomes the range */
  rc = bf < f ? db_x(c->st, q_cut, "isi", f - 1, origin, bf) : db_x(c->st, q_set, "issi", l, to, origin, bf);
  if (rc != 0) return jcm__dberr(c, "move");
  if (free_block)
    jcm__free_moved(c->j, origin, bf, bl, f, l, from, to);
  else
    jcm__free_forget(c->j);
  return JCM_OK;
}

/* Re-assigns the whole blocks of [f, l] of origin (isolated) from `from` to
 * `to`. `from` must hold every serial of it: the checks ensure that for a
 * command, and a replayed entry naming other units is refused here, at its
 * own entry, rather than found later as a difference in the state. */
static int move_whole(jcm_ctx *c, const char *origin, int64_t f, int64_t l, const char *from, const char *to) {
  static const char q_held[] =
      "SELECT COALESCE(SUM(last - first + 1), 0) FROM block WHERE origin = ? AND first >= ? AND first <= ?"
      " AND account = ?";
  static const char q[] = "UPDATE block SET account = ? WHERE origin = ? AND first >= ? AND first <= ? AND account = ?";
  jcm_stmt *s = db_q(c->st, q_held, "siis", origin, f, l, from);
  int step = s ? db_step(c->st, s) : JCM_STEP_ERROR;
  int64_t held = step == JCM_ROW ? col_int(c->st, s, 0) : -1;
  if (s) db_reset(c->st, s);
  if (step != JCM_ROW) return jcm__dberr(c, "move");
  if (held != l - f + 1)
    return jcm__refuse(c, C_NOT_HELD, "ranges", "%s holds %lld of the %lld units of %s serials %lld-%lld", from,
                       (long long)held, (long long)(l - f + 1), origin ? origin : "(no origin)", (long long)f,
                       (long long)l);
  jcm__free_forget(c->j);
  return db_x(c->st, q, "ssiis", to, origin, f, l, from) == 0 ? JCM_OK : jcm__dberr(c, "move");
}

/* Moves the serial ranges from `from` (which holds them) to `to`: a range
 * inside one block by move_within, else by splitting the blocks at its
 * ends and re-assigning the whole blocks between. */
int jcm__blocks_move(jcm_ctx *c, const char *from, const char *to, json_t *ranges) {
  size_t i;
  json_t *x;
  /* the checks require both; a replayed entry may lack one (a forged journal) */
  if (!from || !to) return jcm__refuse(c, C_MISSING, from ? "to" : "from", "a move needs a source and a destination");
  json_array_foreach(ranges, i, x) {
    const char *origin = jcm__s(x, "origin");
    int64_t f = jcm__i(x, "first", 0), l = jcm__i(x, "last", 0);
    /* the checks never make one; a replayed (forged) entry may name one */
    if (f > l) return jcm__refuse(c, C_BAD_RANGE, "ranges", "range %lld-%lld is inverted", (long long)f, (long long)l);
    jcm_kept_blocks *k = c->j->kept; /* verify's replay, which writes blocks past the lists */
    if (k) jcm__free_forget(c->j);
    int moved = 0, kept = k && origin;
    int rc = kept ? jcm__kept_move(c, k, origin, f, l, from, to, &moved) : JCM_OK;
    /* the statements below read the table: it gets the kept rows first */
    if (rc == JCM_OK && !moved && k && jcm__kept_flush(k, c->st) != 0) rc = jcm__dberr(c, "move");
    if (rc == JCM_OK && !moved && !kept) rc = move_within(c, origin, f, l, from, to, &moved);
    if (rc == JCM_OK && !moved) rc = jcm__blocks_isolate(c, origin, f, l);
    if (rc == JCM_OK && !moved) rc = move_whole(c, origin, f, l, from, to);
    if (rc != JCM_OK) return rc;
  }
  return JCM_OK;
}

int jcm__blocks_create(jcm_ctx *c, const char *origin, int64_t first, int64_t last, const char *issuance,
                       const char *project, int64_t vintage, const char *account) {
  static const char q[] = "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type, account)"
                          " VALUES (?, ?, ?, ?, ?, ?, 'JCM credit', ?)";
  jcm__free_forget(c->j);
  return db_x(c->st, q, "siissis", origin, first, last, issuance, project, vintage, account) == 0
             ? JCM_OK
             : jcm__dberr(c, "create block");
}

/* Appends s (n bytes) at *at. */
static char *put(char *at, const char *s, size_t n) {
  memcpy(at, s, n);
  return at + n;
}

/* The ranges as canonical JSON and the units they hold, written directly:
 * json_dumps was a tenth of a transfer's cost, and making it with snprintf,
 * twice a transfer, 3 % of verify's samples. Origins are registry ids ([A-Z0-9]), never escaped. */
static char *ranges_text(json_t *ranges, int64_t *quantity) {
  /* an entry is at most 2 x 20 digits + 15 origin + 31 of syntax = 86 bytes */
  size_t n = json_array_size(ranges);
  char *out = malloc(3 + n * 112), *at = out, num[24];
  if (!out) return NULL;
  *quantity = 0;
  at = put(at, "[", 1);
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(ranges, i);
    int64_t first = jcm__i(x, "first", 0), last = jcm__i(x, "last", 0);
    const char *origin = jcm__s(x, "origin");
    /* wraps, as a forged entry's ranges may: the comparison then finds it */
    *quantity = (int64_t)((uint64_t)*quantity + (uint64_t)last - (uint64_t)first + 1u);
    at = i ? put(at, ",{\"first\":", 10) : put(at, "{\"first\":", 9);
    at = put(at, num, jcm__itoa(first, num));
    at = put(at, ",\"last\":", 8);
    at = put(at, num, jcm__itoa(last, num));
    at = put(at, ",\"origin\":\"", 11);
    at = put(at, origin ? origin : "", origin ? strnlen(origin, 15) : 0);
    at = put(at, "\"}", 2);
  }
  at = put(at, "]", 2); /* and the NUL */
  return out;
}

static int movement_text(jcm_ctx *c, const char *tx, const char *account, int dir, int64_t quantity, const char *text) {
  static const char q[] = "INSERT INTO movement(account, seq, dir, tx, quantity, ranges) VALUES (?, ?, ?, ?, ?, ?)";
  if (c->j->capture) { /* verify's replay */
    int rc = jcm__capture_movement(c->j->capture, account, c->seq, dir, tx, quantity, text);
    if (rc == 0) return JCM_OK;
    jcm__set_check(c->chk, 0, "", "store error in movement: %s",
                   rc < 0    ? "out of memory"
                   : rc == 1 ? "NOT NULL constraint failed: the movement lacks its account or transaction"
                             : "UNIQUE constraint failed: a second movement of the account at this entry");
    return JCM_ERROR;
  }
  return db_x(c->st, q, "siisis", account, c->seq, (int64_t)dir, tx, quantity, text) == 0 ? JCM_OK
                                                                                          : jcm__dberr(c, "movement");
}

int jcm__movement(jcm_ctx *c, const char *tx, const char *account, int dir, json_t *ranges) {
  int64_t quantity;
  char *text = ranges_text(ranges, &quantity);
  if (!text) return jcm__refuse(c, C_TOO_MANY, "ranges", "out of memory");
  int rc = movement_text(c, tx, account, dir, quantity, text); /* a NULL account is refused as the table would */
  free(text);
  return rc;
}

int jcm__movements(jcm_ctx *c, const char *tx, const char *from, const char *to, json_t *ranges) {
  int64_t quantity;
  char *text = ranges_text(ranges, &quantity);
  if (!text) return jcm__refuse(c, C_TOO_MANY, "ranges", "out of memory");
  int rc = movement_text(c, tx, from, -1, quantity, text);
  if (rc == JCM_OK) rc = movement_text(c, tx, to, +1, quantity, text);
  free(text);
  return rc;
}
