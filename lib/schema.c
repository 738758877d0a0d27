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
};

/* State tables and the order verify compares them in (whole-row order, so
 * that two stores with the same rows compare equal). */
const char *const jcm__state_tables[] = {
    "meta",     "counter",        "idem",        "party",   "registry",    "coop",         "coop_party", "org",
    "account",  "account_status", "methodology", "project", "participant", "project_step", "period",     "decision",
    "issuance", "allocation",     "block",       "tx",      "movement",    NULL,
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
    "account, seq",
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

int jcm__migrate(jcm_store *st, char *err, size_t errlen) {
  const int64_t count = (int64_t)(sizeof migrations / sizeof migrations[0]);
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
