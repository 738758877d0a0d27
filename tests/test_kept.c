/*
 * Verify's replay keeps the blocks that transfers move in memory
 * (lib/kept_blocks.c) and writes them to its store when another command
 * needs the table. These tests hold it to the statements it stands in for:
 *
 * - the same random moves applied to the same block table, once through
 *   blocks.c's statements and once kept, give the same results and the
 *   same rows, read as verify reads them (the store's merged with the
 *   kept) and once written to the store (moves inside a block, of whole blocks, across
 *   blocks, of units the source does not hold, in several origins, and
 *   enough of them that the sorted arrays split);
 * - what the table would refuse is refused at the move: a destination that
 *   is no account, a second block starting at one serial;
 * - a forged transfer to an account that does not exist is named at its
 *   own journal entry by jcm verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "support.h"

static const char *const ORIGINS[] = {"THA01", "JPN01"};

typedef struct {
  jcm *j;
  t_accounts a;
  const char *accounts[4];
  jcm_check chk;
  jcm_ctx c;
} world;

static void open_world(world *w, const char *name) {
  char path[512];
  t_db_path(path, sizeof path, name);
  memset(w, 0, sizeof *w);
  w->j = t_registry(path, &w->a);
  const char *ids[] = {w->a.hold_a, w->a.hold_b, w->a.gov, w->a.cancel};
  memcpy(w->accounts, ids, sizeof ids);
  w->c = (jcm_ctx){.j = w->j, .st = jcm__store(w->j), .chk = &w->chk, .seq = 1, .replay = true};
}

static void exec(world *w, const char *sql) { assert_int_equal(db_x(w->c.st, sql, ""), 0); }

/* Blocks of 1-200 serials over 1..span of each origin, random holders. */
static void make_blocks(world *w, unsigned seed, int64_t span) {
  srand(seed);
  for (size_t o = 0; o < 2; o++)
    for (int64_t first = 1; first <= span;) {
      int64_t last = first + rand() % 200;
      const char *holder = w->accounts[rand() % 4];
      assert_int_equal(jcm__blocks_create(&w->c, ORIGINS[o], first, last, "ISS-1", "TH014", 2021, holder), JCM_OK);
      first = last + 1;
    }
}

/* Every block row, in key order, as text. */
static char *dump_blocks(world *w) {
  static const char q[] = "SELECT * FROM block ORDER BY origin, first";
  jcm_store *st = w->c.st;
  jcm_stmt *s = st->ops->prepare_temp(st, q);
  assert_non_null(s);
  size_t n = 0, cap = 1 << 16;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = 0;
  while (db_step(st, s) == JCM_ROW) {
    for (int i = 0; i < st->ops->column_count(s); i++) {
      const char *v = col_null(st, s, i) ? "NULL" : col_text(st, s, i);
      size_t need = strlen(v) + 2;
      if (n + need + 1 > cap) assert_non_null(out = realloc(out, cap *= 2));
      n += (size_t)snprintf(out + n, cap - n, "%s%c", v, i + 1 < st->ops->column_count(s) ? '|' : '\n');
    }
  }
  st->ops->finalize(s);
  return out;
}

typedef struct {
  const char *origin;
  char from[32];
  const char *to;
  int64_t first, last;
} move;

/* Fails, showing the first line where got and want differ. */
static void same_text(const char *what, const char *got, const char *want) {
  size_t i = 0, line = 1;
  for (; got[i] && got[i] == want[i]; i++)
    line += got[i] == '\n';
  if (!got[i] && !want[i]) return;
  size_t at = i;
  while (at > 0 && got[at - 1] != '\n')
    at--;
  int gn = (int)strcspn(got + at, "\n"), wn = (int)strcspn(want + at, "\n");
  fail_msg("%s differ at line %zu: kept '%.*s', statements '%.*s'", what, line, gn, got + at, wn, want + at);
}

/* The replayed table as verify reads it, without writing the kept rows:
 * the store's merged with the kept (jcm__kept_read_next), as dump_blocks
 * writes rows. */
static char *read_kept(world *w, jcm_kept_blocks *kept) {
  jcm_kept_reader r;
  assert_int_equal(jcm__kept_read_begin(kept, w->c.st, &r), 0);
  size_t n = 0, cap = 1 << 16;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = 0;
  jcm_block_values v;
  while (jcm__kept_read_next(&r, &v) == JCM_ROW) {
    for (int i = 0; i < 14; i++) {
      char num[24];
      if (v.type[i] == JCM_INT) snprintf(num, sizeof num, "%lld", (long long)v.i[i]);
      const char *text = v.type[i] == JCM_NULL ? "NULL" : v.type[i] == JCM_INT ? num : NULL;
      size_t len = text ? strlen(text) : v.n[i];
      if (n + len + 2 > cap) assert_non_null(out = realloc(out, cap *= 2));
      memcpy(out + n, text ? text : v.s[i], len);
      n += len;
      out[n++] = i < 13 ? '|' : '\n';
      out[n] = 0;
    }
  }
  jcm__kept_read_end(&r);
  return out;
}

/* A random move near the blocks as they are: the upper part of a block (as
 * a pick by quantity takes), a whole block, a piece strictly inside one,
 * or one of the odd kinds of mix; its source is the block's holder. */
/* How often a random move is of each odd kind: one in `across` moves
 * reaches into the next blocks, one in `stranger` names another source,
 * one in `inverted` names its range last first. */
typedef struct {
  int across, stranger, inverted;
} move_mix;

static move random_move(world *w, const move_mix *mix) {
  move m = {.origin = ORIGINS[rand() % 2], .to = w->accounts[rand() % 4]};
  int64_t s = 1 + rand() % 20000;
  jcm_stmt *st;
  int64_t bf, bl;
  int step = jcm__block_at(&w->c, m.origin, s, &st, &bf, &bl);
  const char *holder = step == JCM_ROW && !col_null(w->c.st, st, 6) ? col_text(w->c.st, st, 6) : w->a.hold_a;
  snprintf(m.from, sizeof m.from, "%s", rand() % mix->stranger ? holder : w->accounts[rand() % 4]);
  db_reset(w->c.st, st);
  if (step != JCM_ROW) bf = bl = s;
  m.first = bf + rand() % (bl - bf + 1), m.last = bl;
  switch (rand() % 4) {
  case 0: m.first = bf; break;                                   /* the whole block */
  case 1: m.last = m.first + rand() % (bl - m.first + 1); break; /* inside it, maybe strictly */
  default: break;                                                /* its upper part */
  }
  if (rand() % mix->across == 0) m.last = m.first + rand() % 400;
  if (rand() % mix->inverted == 0) { /* only a forged entry names one: the statements' path takes it */
    int64_t t = m.first;
    m.first = m.last + 1, m.last = t;
  }
  return m;
}

/* Applies m; its result (rc, and the message when refused) appended to
 * log, and returned. */
static int apply_move(world *w, const move *m, char *log, size_t n) {
  json_t *ranges =
      json_pack("[{s:s,s:I,s:I}]", "origin", m->origin, "first", (json_int_t)m->first, "last", (json_int_t)m->last);
  memset(&w->chk, 0, sizeof w->chk);
  int rc = jcm__blocks_move(&w->c, m->from, m->to, ranges);
  json_decref(ranges);
  size_t used = strlen(log);
  snprintf(log + used, n - used, "%d %s\n", rc, rc == JCM_OK ? "" : w->chk.message);
  return rc;
}

/* Applies moves[0..n) through the statements (kept NULL, drawing each move
 * at random from the blocks as they are) or kept, then written; the block
 * table and the results, as text. */
static char *run_moves(world *w, jcm_kept_blocks *kept, move *moves, int n, const move_mix *mix, char **log) {
  size_t size = (size_t)n * 200;
  *log = calloc(1, size);
  assert_non_null(*log);
  exec(w, "SAVEPOINT moves");
  w->j->kept = kept;
  /* until a store error (one an inverted range can cause): the replay
   * stops there, and the statements may have written part of the move */
  for (int i = 0; i < n; i++) {
    if (!kept) moves[i] = random_move(w, mix);
    if (apply_move(w, &moves[i], *log, size) == JCM_ERROR) break;
  }
  w->j->kept = NULL;
  char *rows = kept ? read_kept(w, kept) : dump_blocks(w);
  if (kept) { /* written to the store, the same rows */
    assert_int_equal(jcm__kept_flush(kept, w->c.st), 0);
    char *written = dump_blocks(w);
    same_text("the rows written", written, rows);
    free(written);
  }
  exec(w, "ROLLBACK TO moves");
  exec(w, "RELEASE moves");
  return rows;
}

static void same_as_statements(world *w, unsigned seed, int moves, move_mix mix) {
  jcm_kept_blocks *kept = jcm__kept_new();
  assert_non_null(kept);
  char *log_sql, *log_kept;
  move *list = calloc((size_t)moves, sizeof *list);
  assert_non_null(list);
  srand(seed);
  char *rows_sql = run_moves(w, NULL, list, moves, &mix, &log_sql);
  char *rows_kept = run_moves(w, kept, list, moves, &mix, &log_kept);
  free(list);
  same_text("the results", log_kept, log_sql);
  same_text("the rows", rows_kept, rows_sql);
  /* the moves did move units: the rows are not those made at the start */
  char *rows_before = dump_blocks(w);
  assert_string_not_equal(rows_sql, rows_before);
  free(rows_before);
  free(rows_sql);
  free(rows_kept);
  free(log_sql);
  free(log_kept);
  jcm__kept_free(kept);
}

static void kept_moves_leave_the_statements_rows(void **state) {
  (void)state;
  world w;
  open_world(&w, "kept-random");
  exec(&w, "BEGIN");
  make_blocks(&w, 7, 20000);
  /* one move in eight may cross blocks and one in ten names another
   * source: the rows kept are written, then the statements move */
  for (unsigned seed = 1; seed <= 4; seed++)
    same_as_statements(&w, seed, 3000, (move_mix){8, 10, 1 << 30});
  /* and one in forty names an inverted range, as only a forged entry can:
   * refused before either looks at a block */
  for (unsigned seed = 5; seed <= 8; seed++)
    same_as_statements(&w, seed, 3000, (move_mix){8, 10, 40});
  /* every move inside one block: thousands of rows kept at once, the arrays split */
  same_as_statements(&w, 99, 5000, (move_mix){1 << 30, 1 << 30, 1 << 30});
  exec(&w, "ROLLBACK");
  jcm_close(w.j);
}

/* One range moved with the kept rows; its result, with the message in *why. */
static int kept_move(world *w, jcm_kept_blocks *k, const char *from, const char *to, int64_t f, int64_t l) {
  json_t *ranges = json_pack("[{s:s,s:I,s:I}]", "origin", "THA01", "first", (json_int_t)f, "last", (json_int_t)l);
  memset(&w->chk, 0, sizeof w->chk);
  w->j->kept = k;
  int rc = jcm__blocks_move(&w->c, from, to, ranges);
  w->j->kept = NULL;
  json_decref(ranges);
  return rc;
}

static void kept_moves_refuse_what_the_table_would(void **state) {
  (void)state;
  world w;
  open_world(&w, "kept-refuse");
  jcm_kept_blocks *k = jcm__kept_new();
  exec(&w, "BEGIN");
  assert_int_equal(jcm__blocks_create(&w.c, "THA01", 100, 200, "ISS-1", "TH014", 2021, w.a.hold_a), JCM_OK);
  /* a second block starting inside the first: only a forged history makes one */
  assert_int_equal(jcm__blocks_create(&w.c, "THA01", 150, 160, "ISS-1", "TH014", 2021, w.a.hold_b), JCM_OK);
  char nobody[32];
  t_account_id("THA01", 100, 999, nobody);
  assert_int_equal(kept_move(&w, k, w.a.hold_a, nobody, 110, 120), JCM_ERROR);
  assert_non_null(strstr(w.chk.message, "FOREIGN KEY constraint failed"));
  /* [120, 149] leaves [150, 200] of the first block, where the store's second starts */
  assert_int_equal(kept_move(&w, k, w.a.hold_a, w.a.gov, 120, 149), JCM_ERROR);
  assert_non_null(strstr(w.chk.message, "UNIQUE constraint failed"));
  /* a kept row starting at 156, then [101, 155] of the first block: its rest would start there too */
  assert_int_equal(kept_move(&w, k, w.a.hold_b, w.a.gov, 156, 160), JCM_OK);
  assert_int_equal(kept_move(&w, k, w.a.hold_a, w.a.gov, 101, 155), JCM_ERROR);
  assert_non_null(strstr(w.chk.message, "UNIQUE constraint failed"));
  /* nothing was written to the store meanwhile */
  char *rows = dump_blocks(&w);
  assert_int_equal(jcm__kept_flush(k, w.c.st), 0);
  char *written = dump_blocks(&w);
  assert_non_null(strstr(rows, "150|160|"));
  assert_non_null(strstr(written, "150|155|"));
  assert_non_null(strstr(written, "156|160|"));
  free(rows);
  free(written);
  exec(&w, "ROLLBACK");
  jcm__kept_free(k);
  jcm_close(w.j);
}

/* A forger rewrites a transfer's destination to an account id of the right
 * form that was never opened, and re-links the chain: the replay's move
 * refuses it at that entry, as the block table's foreign key would. */
static void forged_destination_is_named_at_its_entry(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  jcm *j = t_issued_registry("kept-forged", path, sizeof path, &a);
  int code = 0;
  json_t *out = NULL;
  for (int i = 0; i < 3; i++)
    assert_int_equal(t_submitf(j, &T_ADMIN, &code, i == 1 ? &out : NULL,
                               "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%d}", a.hold_a,
                               a.hold_b, 5 + i),
                     JCM_OK);
  int64_t seq = json_integer_value(json_object_get(out, "seq"));
  json_decref(out);
  jcm_close(j);
  assert_true(seq > 0);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char nobody[32];
  t_account_id("THA01", 100, 999, nobody);
  json_t *ev = t_read_event(db, seq);
  json_object_set_new(json_object_get(ev, "args"), "to", json_string(nobody));
  json_object_set_new(json_object_get(ev, "out"), "to", json_string(nobody));
  t_write_event(db, seq, ev);
  json_decref(ev);
  sqlite3_close(db);

  j = t_open(path);
  json_t *report = NULL;
  assert_int_equal(jcm_verify(j, &report), JCM_REFUSED);
  char where[48];
  snprintf(where, sizeof where, "journal entry %lld", (long long)seq);
  json_t *first = json_array_get(json_object_get(report, "problems"), 0);
  assert_string_equal(json_string_value(json_object_get(first, "where")), where);
  assert_non_null(strstr(json_string_value(json_object_get(first, "what")), "FOREIGN KEY"));
  json_decref(report);
  jcm_close(j);
}

/* jcm_ix (lib/util.c), which holds the kept path's known accounts and the
 * invariants' ids: keys are bytes, a NUL inside one too; it grows. */
static void an_index_of_byte_keys(void **state) {
  (void)state;
  static char keys[5000][8];
  jcm_ix ix = {0};
  assert_int_equal(jcm__ix_find(&ix, "a", 1), -1);
  assert_int_equal(jcm__ix_find(&ix, NULL, 0), -1);
  for (int i = 0; i < 5000; i++) {
    snprintf(keys[i], sizeof keys[i], "k%05d", i);
    keys[i][1] = i % 2 ? '\0' : keys[i][1]; /* every other key has a NUL inside */
    assert_int_equal(jcm__ix_put(&ix, keys[i], 6, i), 0);
  }
  assert_int_equal(ix.n, 5000);
  for (int i = 0; i < 5000; i++)
    assert_int_equal(jcm__ix_find(&ix, keys[i], 6), i);
  assert_int_equal(jcm__ix_find(&ix, "k", 1), -1);       /* a prefix is not the key */
  assert_int_equal(jcm__ix_find(&ix, keys[1], 1), -1);   /* nor the bytes before its NUL */
  assert_int_equal(jcm__ix_put(&ix, keys[7], 6, 70), 0); /* a key put again takes the new item */
  assert_int_equal(jcm__ix_find(&ix, keys[7], 6), 70);
  assert_int_equal(ix.n, 5000);
  jcm__ix_free(&ix);
  assert_int_equal(jcm__ix_find(&ix, keys[0], 6), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kept_moves_leave_the_statements_rows),
      cmocka_unit_test(kept_moves_refuse_what_the_table_would),
      cmocka_unit_test(forged_destination_is_named_at_its_entry),
      cmocka_unit_test(an_index_of_byte_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
