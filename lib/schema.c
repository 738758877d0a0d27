/*
 * The schema, as numbered migrations applied in order at open. A migration
 * is never edited once released: a change is a new migration.
 *
 * The journal is the source of truth; every other table is state that
 * replaying the journal rebuilds (jcm__state_tables lists them for verify).
 * Units live in `block` rows: a block [first, last] of one originating
 * registry shares every attribute, so issuing 10^12 units is one row.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const migrations[] = {
    /* 1: the registry engine */
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE journal(seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL,"
    " role TEXT NOT NULL, cmd TEXT NOT NULL, bytes BLOB NOT NULL, prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE counter(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE idem(key TEXT PRIMARY KEY, request_hash BLOB NOT NULL, seq INTEGER NOT NULL);"
    "CREATE TABLE party(code TEXT PRIMARY KEY, iso2 TEXT, name_en TEXT NOT NULL, name_ja TEXT);"
    "CREATE TABLE registry(id TEXT PRIMARY KEY, party TEXT NOT NULL REFERENCES party(code),"
    " name TEXT NOT NULL, role TEXT NOT NULL, self INTEGER NOT NULL);"
    "CREATE TABLE coop(id TEXT PRIMARY KEY, name TEXT NOT NULL, agreement_date TEXT);"
    "CREATE TABLE coop_party(coop TEXT NOT NULL REFERENCES coop(id),"
    " party TEXT NOT NULL REFERENCES party(code), PRIMARY KEY(coop, party));"
    "CREATE TABLE org(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " country TEXT NOT NULL REFERENCES party(code), ident TEXT, roles TEXT);"
    "CREATE TABLE account(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " holder TEXT NOT NULL REFERENCES org(id), name TEXT NOT NULL, status TEXT NOT NULL,"
    " opened_seq INTEGER NOT NULL);"
    "CREATE TABLE account_status(seq INTEGER NOT NULL, account TEXT NOT NULL REFERENCES account(id),"
    " status TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY(seq, account));"
    "CREATE TABLE methodology(id TEXT NOT NULL, version TEXT NOT NULL, title TEXT NOT NULL,"
    " scope TEXT, status TEXT NOT NULL, PRIMARY KEY(id, version));"
    "CREATE TABLE project(key INTEGER PRIMARY KEY, id TEXT UNIQUE, pin TEXT UNIQUE,"
    " title TEXT NOT NULL, host TEXT NOT NULL REFERENCES party(code), coop TEXT REFERENCES coop(id),"
    " methodology TEXT, mversion TEXT, status TEXT NOT NULL);"
    "CREATE TABLE participant(project INTEGER NOT NULL REFERENCES project(key),"
    " org TEXT NOT NULL REFERENCES org(id), side TEXT NOT NULL, PRIMARY KEY(project, org));"
    "CREATE TABLE project_step(seq INTEGER PRIMARY KEY, project INTEGER NOT NULL REFERENCES project(key),"
    " status TEXT NOT NULL, cause TEXT NOT NULL);"
    "CREATE TABLE period(project INTEGER NOT NULL REFERENCES project(key), first_day TEXT NOT NULL,"
    " last_day TEXT NOT NULL, calculated INTEGER NOT NULL, verified INTEGER, tpe TEXT, report TEXT,"
    " status TEXT NOT NULL, PRIMARY KEY(project, first_day));"
    "CREATE TABLE decision(seq INTEGER PRIMARY KEY, coop TEXT REFERENCES coop(id),"
    " meeting INTEGER NOT NULL, date TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL);"
    "CREATE TABLE issuance(id TEXT PRIMARY KEY, decision INTEGER NOT NULL REFERENCES decision(seq),"
    " project INTEGER NOT NULL REFERENCES project(key), period_start TEXT NOT NULL,"
    " vintage INTEGER NOT NULL, total INTEGER NOT NULL, first INTEGER NOT NULL,"
    " last INTEGER NOT NULL, UNIQUE(project, period_start));"
    "CREATE TABLE allocation(issuance TEXT NOT NULL REFERENCES issuance(id),"
    " account TEXT NOT NULL REFERENCES account(id), quantity INTEGER NOT NULL,"
    " first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY(issuance, account));"
    "CREATE TABLE block(origin TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,"
    " issuance TEXT NOT NULL, project TEXT NOT NULL, vintage INTEGER NOT NULL,"
    " unit_type TEXT NOT NULL, account TEXT NOT NULL REFERENCES account(id), reserved_tx TEXT,"
    " PRIMARY KEY(origin, first)) WITHOUT ROWID;"
    "CREATE INDEX block_account ON block(account, origin, first);"
    "CREATE TABLE tx(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL,"
    " status TEXT NOT NULL, from_account TEXT, to_account TEXT, quantity INTEGER NOT NULL,"
    " kind TEXT, reason TEXT, idem_key TEXT);"
    /* one row per account and journal entry, its serial ranges as JSON: a
     * transfer of many small blocks writes two rows, not two per block */
    "CREATE TABLE movement(account TEXT NOT NULL, seq INTEGER NOT NULL, dir INTEGER NOT NULL,"
    " tx TEXT NOT NULL, quantity INTEGER NOT NULL, ranges TEXT NOT NULL,"
    " PRIMARY KEY(account, seq)) WITHOUT ROWID;"
    "CREATE INDEX movement_seq ON movement(seq);",
    /* 2: the monitored data of DOMAIN.md §9, kept with the period */
    "ALTER TABLE period ADD COLUMN electricity_mwh TEXT;"
    "ALTER TABLE period ADD COLUMN emission_factor TEXT;",
    /* 3: Article 6 and the link between registries. A block gains its
     * Article 6 attributes; its account becomes NULL when it has been
     * transferred out to another registry (out_tx names the transfer), so
     * every serial ever issued here stays in exactly one row. */
    "ALTER TABLE registry ADD COLUMN public_key TEXT;"
    "CREATE TABLE node_secret(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
    "CREATE TABLE block3(origin TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,"
    " issuance TEXT NOT NULL, project TEXT NOT NULL, vintage INTEGER NOT NULL,"
    " unit_type TEXT NOT NULL, account TEXT REFERENCES account(id), reserved_tx TEXT,"
    " auth_id TEXT, auth_version INTEGER, ft_seq INTEGER, ft_to TEXT, out_tx TEXT,"
    " PRIMARY KEY(origin, first)) WITHOUT ROWID;"
    "INSERT INTO block3(origin, first, last, issuance, project, vintage, unit_type, account, reserved_tx)"
    " SELECT origin, first, last, issuance, project, vintage, unit_type, account, reserved_tx FROM block;"
    "DROP TABLE block;"
    "ALTER TABLE block3 RENAME TO block;"
    "CREATE INDEX block_account ON block(account, origin, first);"
    /* an authorization version; registry is where it was recorded (a copy
     * arrives with the units it covers) */
    "CREATE TABLE auth(id TEXT NOT NULL, version INTEGER NOT NULL, registry TEXT NOT NULL,"
    " party TEXT NOT NULL, date TEXT NOT NULL, coop TEXT NOT NULL, quantity INTEGER NOT NULL,"
    " metric TEXT NOT NULL, gwp TEXT, non_ghg_metric TEXT, sectors TEXT NOT NULL, activities TEXT NOT NULL,"
    " purposes TEXT NOT NULL, parties TEXT NOT NULL, entities TEXT NOT NULL, oimp_party TEXT,"
    " first_year INTEGER, last_year INTEGER, terms TEXT, oimp_first_transfer TEXT, info TEXT,"
    " scope TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(id, version));"
    /* the actions of AEF Table 3, as they happened */
    "CREATE TABLE a6_action(seq INTEGER NOT NULL, n INTEGER NOT NULL, time TEXT NOT NULL,"
    " type TEXT NOT NULL, subtype TEXT, coop TEXT NOT NULL, auth_id TEXT NOT NULL,"
    " auth_version INTEGER NOT NULL, ft_party TEXT NOT NULL, origin TEXT NOT NULL,"
    " first INTEGER NOT NULL, last INTEGER NOT NULL, vintage INTEGER NOT NULL,"
    " transferring TEXT, acquiring TEXT, purpose TEXT, using_party TEXT, using_entity TEXT,"
    " ndc_year INTEGER, tx TEXT, PRIMARY KEY(seq, n));"
    /* transfers between registries, each side's view */
    "CREATE TABLE xtx(id TEXT PRIMARY KEY, dir TEXT NOT NULL, peer TEXT NOT NULL, status TEXT NOT NULL,"
    " from_account TEXT NOT NULL, to_account TEXT NOT NULL, quantity INTEGER NOT NULL,"
    " proposal TEXT NOT NULL, code INTEGER, reason TEXT, seq INTEGER NOT NULL, updated_seq INTEGER NOT NULL);"
    /* signed messages: sent (the durable outbox) and received (their hashes) */
    "CREATE TABLE outbox(peer TEXT NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, tx TEXT NOT NULL,"
    " msg TEXT NOT NULL, sig TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(peer, n));"
    "CREATE TABLE inbox(peer TEXT NOT NULL, n INTEGER NOT NULL, type TEXT NOT NULL, tx TEXT NOT NULL,"
    " hash BLOB NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(peer, n));"
    /* corresponding adjustments: a Party's NDC, its reported emissions and
     * the years marked final; every change is a new version */
    "CREATE TABLE ndc(party TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL,"
    " first_year INTEGER NOT NULL, last_year INTEGER NOT NULL, method TEXT NOT NULL,"
    " fiscal_start_month INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(party, version));"
    "CREATE TABLE emissions(party TEXT NOT NULL, year INTEGER NOT NULL, version INTEGER NOT NULL,"
    " quantity INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(party, year, version));"
    "CREATE TABLE a6_final(party TEXT NOT NULL, year INTEGER NOT NULL, version INTEGER NOT NULL,"
    " emissions INTEGER, adjustment_milli INTEGER NOT NULL, balance_milli INTEGER,"
    " actions TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(party, year, version));",
    /* 4: users and API tokens of the HTTP server. Who they are is state
     * (user.add, token.create are journaled); their secrets are not: the
     * credential table is written beside the command, never journaled,
     * compared or replayed (docs/server.md). */
    "CREATE TABLE app_user(name TEXT PRIMARY KEY, role TEXT NOT NULL, org TEXT REFERENCES org(id),"
    " seq INTEGER NOT NULL);"
    "CREATE TABLE app_token(id TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES app_user(name),"
    " seq INTEGER NOT NULL);"
    "CREATE TABLE credential(kind TEXT NOT NULL, id TEXT NOT NULL, user TEXT NOT NULL, hash TEXT NOT NULL,"
    " PRIMARY KEY(kind, id));",
    /* 5: four eyes (DOMAIN.md §2, §5). A command whose source is a
     * government holding account waits here `awaiting approval`, its units
     * reserved under its id (block.reserved_tx), until a second administrator
     * approves it (status approved: the transaction then exists in tx or xtx
     * under the same id) or it is rejected (terminated) or withdrawn
     * (cancelled). args is the full command as proposed, ranges the units it
     * resolved. */
    "CREATE TABLE pending(id TEXT PRIMARY KEY, cmd TEXT NOT NULL, status TEXT NOT NULL,"
    " from_account TEXT NOT NULL, to_account TEXT, quantity INTEGER NOT NULL, ranges TEXT NOT NULL,"
    " args TEXT NOT NULL, proposer TEXT NOT NULL, proposer_role TEXT NOT NULL, decided_by TEXT, reason TEXT,"
    " seq INTEGER NOT NULL, updated_seq INTEGER NOT NULL);",
    /* 6: the lifecycle of users and tokens. A disabled user signs in no
     * more; cred_seq is the journal entry of the last change of a user's
     * password or status (0: none since user.add), so that a session opened
     * before it ends; a revoked token keeps its row (who had it, since and
     * until when) with the entry that revoked it. */
    "ALTER TABLE app_user ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE app_user ADD COLUMN cred_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE app_token ADD COLUMN revoked_seq INTEGER;",
    /* 7: movements kept in journal order. Keyed by (account, seq), every
     * transfer inserted two wide rows at two random places of a tree whose
     * leaves SQLite keeps full, so most inserts rebalanced three leaves and
     * their parent: 4 of a transfer's 8.3 written pages (WAL frames counted
     * by table, docs/benchmarks.md). Keyed by (seq, account) the rows are
     * appended at the tree's right edge, shared by every command of a group
     * commit; the by-account index holds narrow entries (and the columns
     * balances sum, so those read no row). It replaces movement_seq. */
    "CREATE TABLE movement7(account TEXT NOT NULL, seq INTEGER NOT NULL, dir INTEGER NOT NULL,"
    " tx TEXT NOT NULL, quantity INTEGER NOT NULL, ranges TEXT NOT NULL,"
    " PRIMARY KEY(seq, account)) WITHOUT ROWID;"
    "INSERT INTO movement7(account, seq, dir, tx, quantity, ranges)"
    " SELECT account, seq, dir, tx, quantity, ranges FROM movement ORDER BY seq, account;"
    "DROP TABLE movement;"
    "ALTER TABLE movement7 RENAME TO movement;"
    "CREATE INDEX movement_account ON movement(account, seq, dir, quantity);",
    /* 8: transactions stored in the tree of their id. As a rowid table with
     * a text key, every transaction wrote two trees (rows, and the index of
     * ids the key needs): one page more for each command committed alone. */
    "CREATE TABLE tx8(id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL,"
    " status TEXT NOT NULL, from_account TEXT, to_account TEXT, quantity INTEGER NOT NULL,"
    " kind TEXT, reason TEXT, idem_key TEXT) WITHOUT ROWID;"
    "INSERT INTO tx8 SELECT id, seq, type, status, from_account, to_account, quantity, kind, reason, idem_key"
    " FROM tx ORDER BY id;"
    "DROP TABLE tx;"
    "ALTER TABLE tx8 RENAME TO tx;",
    /* 9: API tokens expire (docs/server.md); a token made before has none */
    "ALTER TABLE app_token ADD COLUMN expires TEXT;",
    /* 10: an account's free blocks by size, for picking units by quantity
     * from the largest blocks first (lib/blocks.c): one range a transfer
     * where the highest serials gave nine once accounts had fragmented */
    "CREATE INDEX block_size ON block(account, last - first) WHERE reserved_tx IS NULL;",
    /* 11: an issuance's transaction keeps the command's idempotency key, as
     * a transfer's does. Before, the key was handed to the INSERT but never
     * bound, and the column stayed NULL; the key is in the journal. An entry
     * that is not JSON (a damaged store) gives none: the store still opens,
     * and jcm verify names the entry. */
    "UPDATE tx SET idem_key = (SELECT CASE WHEN json_valid(CAST(j.bytes AS TEXT))"
    " THEN json_extract(CAST(j.bytes AS TEXT), '$.args.key') END FROM journal j"
    " WHERE j.seq = tx.seq) WHERE type = 'issuance' AND idem_key IS NULL;",
    /* 12: the blocks a transaction reserves. Releasing them (an approval,
     * a rejection, a withdrawal, a transfer refused by the peer) read the
     * whole block table; the index holds only reserved blocks, so a
     * transfer, which reserves nothing, never writes it. */
    "CREATE INDEX block_reserved ON block(reserved_tx) WHERE reserved_tx IS NOT NULL;",
    /* 13: the movements' index by account kept within epochs of 4,096
     * journal entries. Keyed by account alone, a batch of a thousand
     * transfers wrote two thousand entries at random places of a tree that
     * grows with every movement ever made, so nearly every entry cost a page
     * of its own in the WAL and again at the checkpoint. Prefixed by the
     * epoch, a batch's entries fall into the current epoch's few dozen
     * pages, and a finished epoch is never written again. A query of one
     * account's movements asks the epochs in turn (lib/query.c): one seek an
     * epoch. JCM_EPOCH_SQL names the expression for the queries, which must
     * spell it as the index does. docs/design.md, docs/benchmarks.md. */
    "DROP INDEX movement_account;"
    "CREATE INDEX movement_account ON movement(seq / 4096, account, seq, dir, quantity);",
    /* 14: one index of an account's blocks, by size, instead of two. The
     * index by account and serial and the index of free blocks by size each
     * took a random entry a transfer (the destination's new block; the
     * source's cut block, and the new one again), three pages of trees as
     * large as the block table. One index by account and size serves the
     * pick (largest first, its rows read for the reservation, as they were
     * for the serials), every read of an account's blocks, and takes two.
     * A list of an account's blocks in serial order now sorts them. */
    "DROP INDEX block_account;"
    "DROP INDEX block_size;"
    "CREATE INDEX block_account_size ON block(account, last - first);",
    /* 15: the two small tables every command reads by a text key, each one
     * tree instead of two. An account was read through the index of its id
     * and then its row, twice a transfer (source, destination). The counters, read and written by every
     * command that numbers something, become a tree of their own key, as
     * the transactions did in migration 8. Accounts are referred to by
     * other tables: jcm__migrate turns foreign keys off while it rebuilds,
     * and checks them all before it commits. */
    "CREATE TABLE account15(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " holder TEXT NOT NULL REFERENCES org(id), name TEXT NOT NULL, status TEXT NOT NULL,"
    " opened_seq INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO account15(id, type, holder, name, status, opened_seq)"
    " SELECT id, type, holder, name, status, opened_seq FROM account ORDER BY id;"
    "DROP TABLE account;"
    "ALTER TABLE account15 RENAME TO account;"
    "CREATE TABLE counter15(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO counter15(name, value) SELECT name, value FROM counter ORDER BY name;"
    "DROP TABLE counter;"
    "ALTER TABLE counter15 RENAME TO counter;",
    /* 16: no index of blocks by size. It changed twice a transfer (the
     * source's cut block moved in it, the destination's new block entered
     * it), at random places of a tree as large as the block table: two of
     * a transfer's three random pages. The writer now keeps each account's
     * free blocks in the pick's order in memory (lib/free_blocks.c), read
     * through this index by account and serial, which a cut leaves alone:
     * one entry a transfer. An account's blocks list in serial order again
     * without a sort; a pick with a project or vintage filter sorts the
     * account's blocks. */
    "DROP INDEX block_account_size;"
    "CREATE INDEX block_account ON block(account, origin, first);",
};

/* State tables and the order verify compares them in (whole-row order, so
 * that two stores with the same rows compare equal). */
const char *const jcm__state_tables[] = {
    "meta",     "counter",        "idem",        "party",     "registry",    "coop",         "coop_party", "org",
    "account",  "account_status", "methodology", "project",   "participant", "project_step", "period",     "decision",
    "issuance", "allocation",     "block",       "tx",        "movement",    "auth",         "a6_action",  "xtx",
    "outbox",   "inbox",          "ndc",         "emissions", "a6_final",    "app_user",     "app_token",  "pending",
    NULL,
};
const char *const jcm__state_order[] = {
    "k",
    "name",
    "key",
    "code",
    "id",
    "id",
    "coop, party",
    "id",
    "id",
    "seq, account",
    "id, version",
    "key",
    "project, org",
    "seq",
    "project, first_day",
    "seq",
    "id",
    "issuance, account",
    "origin, first",
    "id",
    "seq, account",
    "id, version",
    "seq, n",
    "id",
    "peer, n",
    "peer, n",
    "party, version",
    "party, year, version",
    "party, year, version",
    "name",
    "id",
    "id",
    NULL,
};

static int current_version(jcm_store *st, int64_t *v) {
  if (st->ops->exec(st, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)") != 0) return -1;
  static const char q[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
  jcm_stmt *s = db_q(st, q, "");
  if (!s || db_step(st, s) != JCM_ROW) return -1;
  *v = col_int(st, s, 0);
  db_reset(st, s);
  return 0;
}

/* The first column of q's first row; 0 when it has none. Reads without a
 * write lock. */
static int64_t first_int(jcm_store *st, const char *q) {
  jcm_stmt *s = st->ops->prepare_temp(st, q);
  int64_t v = s && st->ops->step(s) == JCM_ROW ? st->ops->column_int(s, 0) : 0;
  if (s) st->ops->finalize(s);
  return v;
}

/* 1 when some row refers to one that is not there, or the check fails. */
static int foreign_keys_broken(jcm_store *st) {
  jcm_stmt *s = st->ops->prepare_temp(st, "PRAGMA foreign_key_check");
  int step = s ? st->ops->step(s) : JCM_STEP_ERROR;
  if (s) st->ops->finalize(s);
  return step != JCM_DONE;
}

static int migrate_all(jcm_store *st, int64_t count, char *err, size_t errlen) {
  if (st->ops->exec(st, "BEGIN IMMEDIATE") != 0) goto fail;
  int64_t v = 0;
  if (current_version(st, &v) != 0) goto rollback;
  if (v > count) {
    snprintf(err, errlen, "the store has schema version %lld, newer than this program (%lld)", (long long)v,
             (long long)count);
    st->ops->exec(st, "ROLLBACK");
    return -1;
  }
  for (int64_t i = v; i < count; i++) {
    if (st->ops->exec(st, migrations[i]) != 0) goto rollback;
    if (db_x(st, "INSERT INTO schema_version(version) VALUES (?)", "i", i + 1) != 0) goto rollback;
  }
  if (v < count && foreign_keys_broken(st)) { /* not when another open migrated first */
    snprintf(err, errlen, "migration failed: a row refers to one that is not there (PRAGMA foreign_key_check)");
    st->ops->exec(st, "ROLLBACK");
    return -1;
  }
  if (st->ops->exec(st, "COMMIT") != 0) goto rollback;
  return 0;
rollback:
  snprintf(err, errlen, "migration failed: %s", st->ops->errmsg(st));
  st->ops->exec(st, "ROLLBACK");
  return -1;
fail:
  snprintf(err, errlen, "cannot start migration: %s", st->ops->errmsg(st));
  return -1;
}

int jcm__migrate(jcm_store *st, char *err, size_t errlen) {
  const int64_t count = (int64_t)(sizeof migrations / sizeof migrations[0]);
  /* an up-to-date store opens without the write lock, which a busy writer
   * (jcm serve's group commit) may hold for a long while */
  if (first_int(st, "SELECT COALESCE(MAX(version), 0) FROM schema_version") == count) return 0;
  /* a migration may rebuild a table others refer to (15): foreign keys are
   * off while the migrations run (the pragma cannot change inside a
   * transaction), and every reference is checked before the commit */
  int fk = first_int(st, "PRAGMA foreign_keys") != 0;
  if (fk && st->ops->exec(st, "PRAGMA foreign_keys=OFF") != 0) {
    snprintf(err, errlen, "cannot start migration: %s", st->ops->errmsg(st));
    return -1;
  }
  int rc = migrate_all(st, count, err, errlen);
  if (fk && st->ops->exec(st, "PRAGMA foreign_keys=ON") != 0 && rc == 0) {
    snprintf(err, errlen, "cannot turn foreign keys back on: %s", st->ops->errmsg(st));
    rc = -1;
  }
  return rc;
}
