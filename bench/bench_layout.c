/*
 * What a transfer's row writes cost in each table layout, without the
 * engine: the floor under bench_engine's batched figure.
 *
 *   bench_layout [PATH] [--transfers N] [--accounts N] [--batch N] [--layouts L,L,...]
 *                [--page-size N] [--pragmas SQL] [--epoch-bits B]
 *
 * Every layout runs the same random transfers (seed 42: 1..100 units between
 * two random accounts of 10,000, each holding one block of a million units
 * at the start) in batches of 1,000 per transaction (--batch 1: each
 * committed alone, as bench_engine's first 20,000), with the engine's
 * pragmas (WAL, synchronous=FULL, 128 MiB of page cache, checkpoints every
 * 128,000 frames; --page-size N and --pragmas SQL change them for measuring) and its table definitions. A transfer
 * writes what the engine's writes for it: the journal row (334 bytes of event), the cut of the source's block, the
 * destination's new block, the tx row and the counter; each layout adds the engine's other trees one at a time:
 *
 *   a  the index of blocks by account (block_account)
 *   s  the index of free blocks by size (block_size, the pick)
 *   z  instead of both, one index of every block by account and size
 *   m  the movement table (two rows) and its index by account
 *   h  instead of movements, each account's latest entry in a small table
 *   e  the movement table (two rows) and its index by account within an
 *      epoch of 2^B entries (--epoch-bits B, 14 unless told): (seq >> B,
 *      account, ...), so a batch's inserts land in the current epoch's
 *      part of the index, not all over it
 *   c  the movement table (two rows) without an index by account: each row
 *      names the account's movement before it, whose entry and balance a
 *      small table of heads keeps (an account's movements as a chain)
 *   f  the foreign key from block.account to account (foreign_keys=ON)
 *   p  a savepoint around each transfer, as the engine had in a batch
 *   j  the journal row alone, no state at all: what a commit of the event
 *      alone would cost, with the state kept elsewhere
 *
 * The blocks are cut where the engine's pick cuts them (the source's
 * largest block is its own first block for the whole run), so the trees
 * grow as in bench_engine. It prints transfers a second of wall time and
 * the process's CPU time a transfer, per 100,000 and over the run.
 * docs/benchmarks.md has the figures and what they say.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNITS 1000000
#define MAX_QTY 100

typedef struct {
  int by_account, by_size, by_holder, movements, epochs, heads, chain, foreign_key, savepoints, journal_only;
} layout;

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *journal, *insert_block, *cut, *tx, *counter, *movement, *head, *head_read, *savepoint, *release, *begin,
      *commit;
} store;

static void die(const char *what, sqlite3 *db) {
  fprintf(stderr, "bench_layout: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  exit(1);
}

static void run(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die(sql, db);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) die(sql, db);
  return s;
}

static void done(store *st, sqlite3_stmt *s) {
  if (sqlite3_step(s) != SQLITE_DONE) die(sqlite3_sql(s), st->db);
  sqlite3_reset(s);
}

static double clock_s(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* splitmix64, as bench_engine */
static uint64_t rnd(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int epoch_bits = 14;

/* The engine's definitions of the tables a transfer writes (lib/schema.c). */
static void create_tables(store *st, const layout *l) {
  run(st->db, "CREATE TABLE account(id TEXT PRIMARY KEY, type TEXT NOT NULL, holder TEXT NOT NULL,"
              " name TEXT NOT NULL, status TEXT NOT NULL, opened_seq INTEGER NOT NULL);"
              "CREATE TABLE journal(seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,"
              " role TEXT NOT NULL, cmd TEXT NOT NULL, bytes BLOB NOT NULL, prev_hash BLOB NOT NULL,"
              " hash BLOB NOT NULL);"
              "CREATE TABLE counter(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
              "INSERT INTO counter VALUES ('tx', 0);"
              "CREATE TABLE tx(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL,"
              " status TEXT NOT NULL, from_account TEXT, to_account TEXT, quantity INTEGER NOT NULL,"
              " kind TEXT, reason TEXT, idem_key TEXT) WITHOUT ROWID;"
              "CREATE TABLE block(origin TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,"
              " issuance TEXT NOT NULL, project TEXT NOT NULL, vintage INTEGER NOT NULL,"
              " unit_type TEXT NOT NULL, account TEXT REFERENCES account(id), reserved_tx TEXT,"
              " auth_id TEXT, auth_version INTEGER, ft_seq INTEGER, ft_to TEXT, out_tx TEXT,"
              " PRIMARY KEY(origin, first)) WITHOUT ROWID;");
  if (l->by_account) run(st->db, "CREATE INDEX block_account ON block(account, origin, first)");
  if (l->by_holder) run(st->db, "CREATE INDEX block_holder ON block(account, last - first)");
  if (l->by_size) run(st->db, "CREATE INDEX block_size ON block(account, last - first) WHERE reserved_tx IS NULL");
  if (l->movements)
    run(st->db, "CREATE TABLE movement(account TEXT NOT NULL, seq INTEGER NOT NULL, dir INTEGER NOT NULL,"
                " tx TEXT NOT NULL, quantity INTEGER NOT NULL, ranges TEXT NOT NULL,"
                " PRIMARY KEY(seq, account)) WITHOUT ROWID;"
                "CREATE INDEX movement_account ON movement(account, seq, dir, quantity)");
  if (l->epochs) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE movement(account TEXT NOT NULL, seq INTEGER NOT NULL, dir INTEGER NOT NULL,"
             " tx TEXT NOT NULL, quantity INTEGER NOT NULL, ranges TEXT NOT NULL,"
             " PRIMARY KEY(seq, account)) WITHOUT ROWID;"
             "CREATE INDEX movement_account ON movement(seq >> %d, account, seq, dir, quantity)",
             epoch_bits);
    run(st->db, sql);
  }
  if (l->heads) run(st->db, "CREATE TABLE head(account TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID");
  if (l->chain)
    run(st->db, "CREATE TABLE movement(account TEXT NOT NULL, seq INTEGER NOT NULL, dir INTEGER NOT NULL,"
                " tx TEXT NOT NULL, quantity INTEGER NOT NULL, ranges TEXT NOT NULL, prev INTEGER, balance INTEGER,"
                " PRIMARY KEY(seq, account)) WITHOUT ROWID;"
                "CREATE TABLE head(account TEXT PRIMARY KEY, seq INTEGER NOT NULL, balance INTEGER NOT NULL)"
                " WITHOUT ROWID");
}

/* Set from the command line for measuring: a page size for the new store and
 * pragmas run after the engine's. */
static int page_size = 0;
static const char *extra_pragmas = NULL;

static void open_store(store *st, const char *path, const layout *l) {
  char wal[1024], shm[1024];
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(shm, sizeof shm, "%s-shm", path);
  remove(path), remove(wal), remove(shm);
  if (sqlite3_open(path, &st->db) != SQLITE_OK) die(path, st->db);
  if (page_size) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA page_size=%d", page_size);
    run(st->db, sql);
  }
  run(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;"
              " PRAGMA cache_size=-131072; PRAGMA wal_autocheckpoint=128000; PRAGMA checkpoint_fullfsync=ON");
  if (extra_pragmas) run(st->db, extra_pragmas);
  run(st->db, l->foreign_key ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF");
  create_tables(st, l);
  st->journal = prep(st->db, "INSERT INTO journal VALUES (?, '2026-12-07T12:00:00.000Z', 'org-001', 'holder',"
                             " 'transfer', ?, ?, ?)");
  st->insert_block = prep(st->db, "INSERT INTO block(origin, first, last, issuance, project, vintage, unit_type,"
                                  " account) VALUES ('THA01', ?, ?, 'THA01-I-000001', 'TH001', 2021, 'JCM credit', ?)");
  st->cut = prep(st->db, "UPDATE block SET last = ? WHERE origin = 'THA01' AND first = ?");
  st->tx = prep(st->db, "INSERT INTO tx VALUES (?, ?, 'transfer', 'completed', ?, ?, ?, NULL, NULL, NULL)");
  st->counter = prep(st->db, "UPDATE counter SET value = ? WHERE name = 'tx'");
  st->movement = l->movements || l->epochs ? prep(st->db, "INSERT INTO movement VALUES (?, ?, ?, ?, ?, ?)")
                 : l->chain                ? prep(st->db, "INSERT INTO movement VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                                           : NULL;
  st->head = l->heads   ? prep(st->db, "INSERT INTO head VALUES (?, ?) ON CONFLICT(account) DO UPDATE"
                                         " SET seq = excluded.seq")
             : l->chain ? prep(st->db, "INSERT INTO head VALUES (?, ?, ?) ON CONFLICT(account) DO UPDATE"
                                       " SET seq = excluded.seq, balance = excluded.balance")
                        : NULL;
  st->head_read = l->chain ? prep(st->db, "SELECT seq, balance FROM head WHERE account = ?") : NULL;
  st->savepoint = prep(st->db, "SAVEPOINT cmd");
  st->release = prep(st->db, "RELEASE cmd");
  st->begin = prep(st->db, "BEGIN IMMEDIATE");
  st->commit = prep(st->db, "COMMIT");
}

static void close_store(store *st) {
  sqlite3_stmt *all[] = {st->journal, st->insert_block, st->cut,       st->tx,      st->counter, st->movement,
                         st->head,    st->head_read,    st->savepoint, st->release, st->begin,   st->commit};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    sqlite3_finalize(all[i]);
  sqlite3_close(st->db);
}

/* Account a holds [a * UNITS + 1, top[a]]: its first block, which the
 * engine's pick (the largest block first) cuts for the whole run. */
static void fill(store *st, char (*id)[32], int64_t *top, int accounts) {
  sqlite3_stmt *acc = prep(st->db, "INSERT INTO account VALUES (?, 'holding', 'org-001', 'A', 'open', 1)");
  run(st->db, "BEGIN");
  for (int a = 0; a < accounts; a++) {
    snprintf(id[a], 32, "THA01-100-%07d-%02d", a, a % 97);
    sqlite3_bind_text(acc, 1, id[a], -1, SQLITE_STATIC);
    done(st, acc);
    top[a] = (int64_t)a * UNITS + UNITS;
    sqlite3_bind_int64(st->insert_block, 1, (int64_t)a * UNITS + 1);
    sqlite3_bind_int64(st->insert_block, 2, top[a]);
    sqlite3_bind_text(st->insert_block, 3, id[a], -1, SQLITE_STATIC);
    done(st, st->insert_block);
  }
  run(st->db, "COMMIT");
  sqlite3_finalize(acc);
}

static void write_movements(store *st, const char *from, const char *to, int64_t seq, const char *tx, int64_t q,
                            const char *ranges) {
  for (int side = 0; side < 2; side++) {
    sqlite3_bind_text(st->movement, 1, side ? to : from, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->movement, 2, seq);
    sqlite3_bind_int64(st->movement, 3, side ? 1 : -1);
    sqlite3_bind_text(st->movement, 4, tx, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->movement, 5, q);
    sqlite3_bind_text(st->movement, 6, ranges, -1, SQLITE_STATIC);
    done(st, st->movement);
  }
}

/* The chain: each side reads its account's head (the movement before and
 * the balance), writes its movement naming them, and moves the head. */
static void write_chain(store *st, const char *from, const char *to, int64_t seq, const char *tx, int64_t q,
                        const char *ranges) {
  for (int side = 0; side < 2; side++) {
    const char *account = side ? to : from;
    sqlite3_bind_text(st->head_read, 1, account, -1, SQLITE_STATIC);
    int row = sqlite3_step(st->head_read) == SQLITE_ROW;
    int64_t prev = row ? sqlite3_column_int64(st->head_read, 0) : 0;
    int64_t balance = (row ? sqlite3_column_int64(st->head_read, 1) : UNITS) + (side ? q : -q);
    sqlite3_reset(st->head_read);
    sqlite3_bind_text(st->movement, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->movement, 2, seq);
    sqlite3_bind_int64(st->movement, 3, side ? 1 : -1);
    sqlite3_bind_text(st->movement, 4, tx, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->movement, 5, q);
    sqlite3_bind_text(st->movement, 6, ranges, -1, SQLITE_STATIC);
    if (prev)
      sqlite3_bind_int64(st->movement, 7, prev);
    else
      sqlite3_bind_null(st->movement, 7);
    sqlite3_bind_int64(st->movement, 8, balance);
    done(st, st->movement);
    sqlite3_bind_text(st->head, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->head, 2, seq);
    sqlite3_bind_int64(st->head, 3, balance);
    done(st, st->head);
  }
}

static void write_heads(store *st, const char *from, const char *to, int64_t seq) {
  for (int side = 0; side < 2; side++) {
    sqlite3_bind_text(st->head, 1, side ? to : from, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->head, 2, seq);
    done(st, st->head);
  }
}

/* The state's rows of transfer seq: q units off the top of from's block
 * (first .. top[from]) to a new block of to, the tx row, the counter. */
static void write_state(store *st, const layout *l, int64_t seq, int from, int to, int64_t q, char (*id)[32],
                        int64_t *top) {
  int64_t first = top[from] - q + 1;
  char tx[32], ranges[96];
  snprintf(tx, sizeof tx, "THA01-T-%07lld", (long long)seq);
  snprintf(ranges, sizeof ranges, "[{\"first\":%lld,\"last\":%lld,\"origin\":\"THA01\"}]", (long long)first,
           (long long)top[from]);
  sqlite3_bind_int64(st->insert_block, 1, first);
  sqlite3_bind_int64(st->insert_block, 2, top[from]);
  sqlite3_bind_text(st->insert_block, 3, id[to], -1, SQLITE_STATIC);
  done(st, st->insert_block);
  sqlite3_bind_int64(st->cut, 1, first - 1);
  sqlite3_bind_int64(st->cut, 2, (int64_t)from * UNITS + 1);
  done(st, st->cut);
  sqlite3_bind_text(st->tx, 1, tx, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st->tx, 2, seq);
  sqlite3_bind_text(st->tx, 3, id[from], -1, SQLITE_STATIC);
  sqlite3_bind_text(st->tx, 4, id[to], -1, SQLITE_STATIC);
  sqlite3_bind_int64(st->tx, 5, q);
  done(st, st->tx);
  if (l->movements || l->epochs) write_movements(st, id[from], id[to], seq, tx, q, ranges);
  if (l->heads) write_heads(st, id[from], id[to], seq);
  if (l->chain) write_chain(st, id[from], id[to], seq, tx, q, ranges);
  sqlite3_bind_int64(st->counter, 1, seq);
  done(st, st->counter);
}

/* The row writes of transfer seq. */
static void transfer(store *st, const layout *l, int64_t seq, int from, int to, int64_t q, char (*id)[32],
                     int64_t *top) {
  static const unsigned char event[334] = {'{'}, hash[32] = {1};
  if (top[from] - q < (int64_t)from * UNITS + 1) {
    fprintf(stderr, "bench_layout: account %d has given all its units away: use more accounts\n", from);
    exit(2);
  }
  if (l->savepoints) done(st, st->savepoint);
  sqlite3_bind_int64(st->journal, 1, seq);
  sqlite3_bind_blob(st->journal, 2, event, sizeof event, SQLITE_STATIC);
  sqlite3_bind_blob(st->journal, 3, hash, sizeof hash, SQLITE_STATIC);
  sqlite3_bind_blob(st->journal, 4, hash, sizeof hash, SQLITE_STATIC);
  done(st, st->journal);
  if (!l->journal_only) write_state(st, l, seq, from, to, q, id, top);
  top[from] -= q; /* kept in memory either way: the next transfer cuts the same block */
  if (l->savepoints) done(st, st->release);
}

static int parse_layout(const char *s, layout *l) {
  memset(l, 0, sizeof *l);
  for (; *s; s++) {
    switch (*s) {
    case 'a': l->by_account = 1; break;
    case 's': l->by_size = 1; break;
    case 'z': l->by_holder = 1; break;
    case 'm': l->movements = 1; break;
    case 'h': l->heads = 1; break;
    case 'c': l->chain = 1; break;
    case 'e': l->epochs = 1; break;
    case 'f': l->foreign_key = 1; break;
    case 'p': l->savepoints = 1; break;
    case 'j': l->journal_only = 1; break;
    case '-': break;
    default: return -1;
    }
  }
  /* each of these makes its own movement table, or its own table of heads */
  return l->movements + l->epochs + l->chain > 1 || (l->heads && l->chain) ? -1 : 0;
}

/* Runs one layout; prints its figures. */
static void bench(const char *path, const char *name, int64_t n, int accounts, int64_t batch) {
  layout l;
  parse_layout(name, &l); /* checked in main */
  store st;
  open_store(&st, path, &l);
  char(*id)[32] = malloc((size_t)accounts * sizeof *id);
  int64_t *top = malloc((size_t)accounts * sizeof *top);
  if (!id || !top) die("out of memory", NULL);
  fill(&st, id, top, accounts);
  uint64_t seed = 42;
  double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), wl = w0, cl = c0;
  for (int64_t seq = 1; seq <= n; seq++) {
    if ((seq - 1) % batch == 0) done(&st, st.begin);
    int from = (int)(rnd(&seed) % (uint64_t)accounts), to = (int)(rnd(&seed) % (uint64_t)(accounts - 1));
    to += to >= from;
    transfer(&st, &l, seq, from, to, 1 + (int64_t)(rnd(&seed) % MAX_QTY), id, top);
    if (seq % batch == 0 || seq == n) done(&st, st.commit);
    if (seq % 100000 == 0 || seq == n) {
      double w = clock_s(CLOCK_MONOTONIC), c = clock_s(CLOCK_PROCESS_CPUTIME_ID);
      int64_t k = seq % 100000 ? seq % 100000 : 100000;
      printf("  %-8s %8lld: %8.0f /s, %6.1f us CPU a transfer over the last %lld\n", name, (long long)seq,
             (double)k / (w - wl), (c - cl) * 1e6 / (double)k, (long long)k);
      wl = w, cl = c;
    }
  }
  double w = clock_s(CLOCK_MONOTONIC) - w0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  printf("layout_%s: %.0f transfers/s, %.1f us CPU a transfer (%lld transfers)\n", name, (double)n / w,
         c * 1e6 / (double)n, (long long)n);
  fflush(stdout);
  close_store(&st);
  free(id);
  free(top);
}

int main(int argc, char **argv) {
  const char *path = "bench-layout.db", *layouts = "j,-,a,as,am,ah,asmf,asmfp";
  int64_t n = 1000000, batch = 1000;
  int accounts = 10000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--transfers") == 0 && i + 1 < argc)
      n = atoll(argv[++i]);
    else if (strcmp(argv[i], "--accounts") == 0 && i + 1 < argc)
      accounts = atoi(argv[++i]);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = atoll(argv[++i]);
    else if (strcmp(argv[i], "--layouts") == 0 && i + 1 < argc)
      layouts = argv[++i];
    else if (strcmp(argv[i], "--page-size") == 0 && i + 1 < argc)
      page_size = atoi(argv[++i]);
    else if (strcmp(argv[i], "--epoch-bits") == 0 && i + 1 < argc)
      epoch_bits = atoi(argv[++i]);
    else if (strcmp(argv[i], "--pragmas") == 0 && i + 1 < argc)
      extra_pragmas = argv[++i];
    else if (argv[i][0] != '-')
      path = argv[i];
    else {
      fprintf(stderr, "usage: bench_layout [PATH] [--transfers N] [--accounts N] [--batch N] [--layouts L,L,...]\n"
                      "                    [--page-size N] [--pragmas SQL] [--epoch-bits B]\n"
                      "  L: letters of a (block_account) s (block_size) z (one index by account and size)\n"
                      "     m (movements) h (heads)\n"
                      "     e (movements, index by account within epochs of 2^B entries: --epoch-bits B)\n"
                      "     c (movements as a chain, no index by account)\n"
                      "     f (foreign key) p (savepoints) j (the journal alone), or - for the journal, blocks,\n"
                      "     tx and counter alone\n");
      return 2;
    }
  }
  if (n < 1 || accounts < 2 || batch < 1) {
    fprintf(stderr, "bench_layout: --transfers and --batch must be at least 1, --accounts at least 2\n");
    return 2;
  }
  layout check;
  char *names = strdup(layouts);
  for (char *save = NULL, *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save))
    if (parse_layout(name, &check) != 0) {
      fprintf(stderr,
              "bench_layout: unknown layout '%s' (letters of a s z m e h c f p j, or -; at most one"
              " of m e c, and not h with c)\n",
              name);
      return 2;
    }
  free(names);
  printf("bench_layout: %lld transfers of 1..%d units between %d accounts, batches of %lld, store %s\n", (long long)n,
         MAX_QTY, accounts, (long long)batch, path);
  char *list = strdup(layouts);
  for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save))
    bench(path, name, n, accounts, batch);
  free(list);
  return 0;
}
