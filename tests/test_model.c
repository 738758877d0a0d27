/*
 * The block engine against a naive model, as SQLite tests its bitvec against
 * a plain array. The model knows every serial one by one: owner[serial] (an
 * account index, 0 when not issued), its issuance (project, vintage) and
 * whether a block starts at it (an issuance's allocations start blocks, a
 * move starts one at each end of each range it takes, blocks never merge),
 * and the rule that a transfer by quantity takes the source's largest
 * blocks first among those matching the project/vintage filters (equal
 * sizes: the higher serials first), whole until the rest fits in the next,
 * of which it takes the upper serials, while explicit ranges move exactly
 * those serials.
 *
 * Each fixed seed (xorshift64*, so every run is the same) opens a fresh
 * registry with eleven accounts of every type and runs random operations:
 * issuances (monitoring.submit, monitoring.verify, issue) of two projects over
 * many periods and vintages, transfers by quantity (with and without filters)
 * and by explicit ranges (several, adjacent, partly not held, overlapping,
 * inverted, beyond the issued serials, of another registry), cancellations and
 * retirements (default or named account), account blocking, idempotent
 * replays and key conflicts, batches committed or rolled back, and commands
 * that must be refused (insufficient units, out of a cancellation, retirement
 * or pending account, to the same account, unknown, foreign or mistyped
 * accounts, wrong roles, bad quantities, bad issuances). The model decides
 * first: accepted (as the next journal entry, with the transaction number,
 * serial ranges and issuance it predicts) or refused (with one of the codes
 * it predicts); the engine must agree, and a refusal must change nothing.
 *
 * After every operation: each account's blocks (the "blocks" query with the
 * account filter, paged; now and then in small pages, and all blocks without
 * the filter) are exactly the model's blocks and hold its serials with their issuance, project
 * and vintage; the balances by account, project and vintage, the accounts
 * list and the journal head agree. At the end of each seed jcm_verify() finds
 * no problem and each statement, read in pages of several sizes, adds up.
 *
 * Besides the seeds, two small tests state what the model found wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* Check codes (docs/check-codes.md); the numbers are stable. */
enum {
  K_MISSING = 1002,
  K_RANGE = 1004,
  K_IDEM_CONFLICT = 1009,
  K_CHECK_DIGITS = 1011,
  K_ENUM = 1012,
  K_DUPLICATE = 1018,
  K_UNKNOWN_ACCOUNT = 1021,
  K_STATUS_CHANGE = 1022,
  K_SRC_UNKNOWN = 2001,
  K_SRC_NOT_OPEN = 2002,
  K_SRC_TYPE = 2003,
  K_SRC_FOREIGN = 2004,
  K_DST_UNKNOWN = 3001,
  K_DST_NOT_OPEN = 3002,
  K_DST_TYPE = 3003,
  K_DST_SAME = 3004,
  K_DST_FOREIGN = 3005,
  K_INSUFFICIENT = 4001,
  K_NOT_HELD = 4002,
  K_BAD_RANGE = 4004,
  K_QTY_MISMATCH = 4005,
  K_OVERLAP = 4007,
  K_PERIOD_NOT_VERIFIED = 5006,
  K_PERIOD_ISSUED = 5007,
  K_OVER_VERIFIED = 5008,
  K_ALLOCATION_SUM = 5009,
  K_VERIFIED_OVER_CALCULATED = 5011,
  K_VINTAGE = 5013,
  K_ROLE = 8001,
  K_NOT_HOLDER = 8002,
};

#define REGISTRY "THA01"
#define N_PROJ 2
#define N_PERIODS 31 /* TH014: one a year 2000..2030; TH022: two years 2000-2001..2028-2029 */
#define Y0 2000
#define N_VINTAGES 32
#define MAX_ISS (N_PERIODS * N_PROJ)
#define MAX_ISSUE 500
#define MAX_SERIAL (MAX_ISS * MAX_ISSUE + 8)
#define MAX_ACC 12
#define MAX_RANGES 8
#define MAX_IDEM 256
#define CMD_MAX 16384

static const char *const PROJECTS[N_PROJ] = {"TH014", "TH022"};
static int periods_of(int p) { return p == 0 ? 31 : 15; }
static int first_year(int p, int y) { return p == 0 ? Y0 + y : Y0 + 2 * y; }
static int last_year(int p, int y) { return p == 0 ? Y0 + y : Y0 + 2 * y + 1; }

/* Account kinds and what each may do. */
enum { HOLD, GOV, CANCEL, RETIRE, SOP, PENDING };
static int may_send(int kind) { return kind == HOLD || kind == GOV || kind == SOP; }
static int may_receive_transfer(int kind) { return kind == HOLD || kind == GOV || kind == SOP; }
static int may_receive_issue(int kind) { return kind == HOLD || kind == GOV; }

/* Account indices (0: not issued). The ones t_registry opens come first. */
enum { A = 1, B, G, C, R, A2, B2, S, C2, R2, P, N_ACC = P };
/* Ids that are not accounts of this registry. */
enum { ACC_DEFAULT = 0, ACC_UNKNOWN = -2, ACC_FOREIGN = -3, ACC_TYPO = -4 };

enum { ACT_ADMIN, ACT_JCS, ACT_HOLDER_A, ACT_HOLDER_B, ACT_HOLDER_T, ACT_TPE, ACT_AUDITOR, N_ACTORS };
static const jcm_actor ACTORS[N_ACTORS] = {{"test-admin", "admin"},    {"test-secretariat", "jc_secretariat"},
                                           {"org-a", "holder"},        {"org-b", "holder"},
                                           {"tgo", "holder"},          {"test-tpe", "tpe"},
                                           {"test-auditor", "auditor"}};

typedef struct {
  char id[32];
  int kind;
  const char *holder;
} m_account;

/* Everything a rollback must restore. */
typedef struct {
  int64_t next; /* the next serial to issue */
  int64_t seq;  /* the last journal entry */
  int64_t tx;   /* the last transaction number */
  int n_iss;    /* issuances so far */
  int n_idem;   /* recorded idempotency keys */
  int iss_project[MAX_ISS + 1], iss_vintage[MAX_ISS + 1];
  int period[N_PROJ][N_PERIODS]; /* 0 none, 1 submitted, 2 verified, 3 issued */
  int64_t calculated[N_PROJ][N_PERIODS], verified[N_PROJ][N_PERIODS];
  int blocked[MAX_ACC + 1];
  unsigned char owner[MAX_SERIAL + 1];  /* account index, 0: not issued */
  unsigned char iss[MAX_SERIAL + 1];    /* issuance number */
  unsigned char bstart[MAX_SERIAL + 2]; /* 1: a block starts at this serial */
} model;

typedef struct {
  char *text, *result;
  int actor;
  int64_t seq;
} idem_rec;

typedef struct {
  int64_t first, last;
} run;

typedef struct {
  int n;
  int codes[24];
} expect;

#define MAX_CODES 64
#define MAX_RUNS (MAX_SERIAL / 2 + 2)

typedef struct {
  uint64_t seed;
  int ops;
  const char *store; /* NULL: a file under the build tree */
} seed_spec;

typedef struct {
  const seed_spec *spec;
  char shm_path[512]; /* a store on tmpfs, removed by the teardown */
  uint64_t seed, rs;
  int op, ops, submissions, accepted, refused, replays, batches, rollbacks;
  jcm *j;
  m_account acc[MAX_ACC + 1];
  char unknown_id[32], foreign_id[32], typo_id[32];
  model m, snap;
  int in_batch, batch_left;
  idem_rec rec[MAX_IDEM];
  int keys;
  int compares;
  int code_n, code[MAX_CODES], code_count[MAX_CODES]; /* refusals seen, by code */
  uint32_t stamp;
  uint32_t seen[MAX_SERIAL + 1];
  int64_t count[MAX_ACC + 1];                   /* serials held, from the model */
  int64_t agg[MAX_ACC + 1][N_PROJ][N_VINTAGES]; /* by project and vintage */
  run sel[MAX_RUNS];                            /* what an accepted move takes */
  run runs[MAX_RUNS];                           /* what a source holds */
  int nsel;
  char cmd[CMD_MAX];
  char *held; /* the last accepted command's own result when it was held for approval */
} world;

/* ---- failing with the seed, the operation and the command ---- */

static void failf(world *w, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void failf(world *w, const char *fmt, ...) {
  char msg[3000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_error("model test: seed %" PRIu64 ", operation %d (submission %d): %s\n  last command: %.3000s\n", w->seed,
              w->op, w->submissions, msg, w->cmd);
  fail();
  abort();
}

/* JSON as text for messages and comparisons. The texts are kept in a small
 * ring and freed as it turns (and by the teardown), so that a failing check,
 * which never returns, leaks nothing. */
#define DUMPS 8
static char *dumped[DUMPS];
static int dumped_next;

static const char *dump(json_t *v) {
  char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  free(dumped[dumped_next]);
  dumped[dumped_next] = s ? s : strdup("(null)");
  const char *out = dumped[dumped_next];
  dumped_next = (dumped_next + 1) % DUMPS;
  return out;
}

/* Results being looked at, released by the teardown when a check fails. */
#define LIVE 8
static json_t *live[LIVE];

static json_t *keep(json_t *v) {
  for (int i = 0; v && i < LIVE; i++)
    if (!live[i]) {
      live[i] = v;
      break;
    }
  return v;
}

static void release(json_t *v) {
  if (!v) return;
  for (int i = 0; i < LIVE; i++)
    if (live[i] == v) {
      live[i] = NULL;
      break;
    }
  json_decref(v);
}

static void dumps_free(void) {
  for (int i = 0; i < LIVE; i++) {
    json_decref(live[i]);
    live[i] = NULL;
  }
  for (int i = 0; i < DUMPS; i++) {
    free(dumped[i]);
    dumped[i] = NULL;
  }
}

/* ---- random numbers: xorshift64*, fixed seeds ---- */

static uint64_t rnd(world *w) {
  uint64_t x = w->rs;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  w->rs = x;
  return x * 0x2545F4914F6CDD1DULL;
}
static int64_t between(world *w, int64_t lo, int64_t hi) { return lo + (int64_t)(rnd(w) % (uint64_t)(hi - lo + 1)); }
static int chance(world *w, int percent) { return (int)(rnd(w) % 100) < percent; }
static int pick(world *w, const int *list, int n) { return list[between(w, 0, n - 1)]; }

/* ---- expectations ---- */

static void want(expect *e, int code) {
  for (int i = 0; i < e->n; i++)
    if (e->codes[i] == code) return;
  if (e->n < (int)(sizeof e->codes / sizeof e->codes[0])) e->codes[e->n++] = code;
}

static int wanted(const expect *e, int code) {
  for (int i = 0; i < e->n; i++)
    if (e->codes[i] == code) return 1;
  return 0;
}

static void codes_text(const expect *e, char *out, size_t n) {
  out[0] = 0;
  for (int i = 0; i < e->n; i++) {
    size_t used = strlen(out);
    snprintf(out + used, n - used, "%s%d", i ? "," : "", e->codes[i]);
  }
}

static const char *acc_id(world *w, int a) {
  switch (a) {
  case ACC_UNKNOWN: return w->unknown_id;
  case ACC_FOREIGN: return w->foreign_id;
  case ACC_TYPO: return w->typo_id;
  default: return w->acc[a].id;
  }
}

/* Four eyes (lib/foureyes.c): a command from the government account waits
 * for a second administrator. The model approves it at once, as an admin
 * other than the proposer, and expects the approval (the next entry) to
 * bring exactly the command's effect: its result in place of the held one,
 * which an idempotent replay answers with (w->held). */
static const jcm_actor SECOND_ADMIN = {"test-admin-2", "admin"};

static json_t *approve_held(world *w, int actor, json_t *r) {
  free(w->held);
  w->held = NULL;
  json_t *res = json_object_get(r, "result");
  const char *status = json_string_value(json_object_get(res, "status"));
  if (!status || strcmp(status, "awaiting approval") != 0) return r;
  w->held = strdup(dump(r));
  json_t *cmd = json_pack("{s:s,s:O}", "cmd", "tx.approve", "tx", json_object_get(res, "tx"));
  json_t *a = NULL;
  int rc = jcm_submit(w->j, cmd, actor == ACT_ADMIN ? &SECOND_ADMIN : &ACTORS[ACT_ADMIN], &a);
  json_decref(cmd);
  release(r);
  keep(a);
  if (rc != JCM_OK) failf(w, "the approval of a held command was refused: %s", dump(a));
  int64_t seq = (int64_t)json_integer_value(json_object_get(a, "seq"));
  if (seq != w->m.seq + 1) failf(w, "approved as journal entry %" PRId64 ", expected %" PRId64, seq, w->m.seq + 1);
  w->m.seq = seq;
  return a;
}

/* Submits w->cmd as actor. When e names no codes the command must be
 * accepted as the next journal entry and its result is returned (the caller
 * releases it); else it must be refused with one of e's codes. */
static json_t *submit_expect(world *w, int actor, const expect *e) {
  json_t *r = NULL;
  w->submissions++;
  int rc = jcm_submit_text(w->j, w->cmd, strlen(w->cmd), &ACTORS[actor], &r);
  keep(r);
  if (rc == JCM_ERROR) failf(w, "store error: %s", dump(r));
  if (e->n == 0) {
    if (rc != JCM_OK) failf(w, "the model accepts this command, the engine refused it: %s", dump(r));
    int64_t seq = (int64_t)json_integer_value(json_object_get(r, "seq"));
    if (seq != w->m.seq + 1)
      failf(w, "accepted as journal entry %" PRId64 ", the model expects %" PRId64, seq, w->m.seq + 1);
    w->m.seq = seq;
    w->accepted++;
    return approve_held(w, actor, r);
  }
  char codes[200];
  codes_text(e, codes, sizeof codes);
  if (rc == JCM_OK) failf(w, "the model refuses this command (%s), the engine accepted it: %s", codes, dump(r));
  int code = (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
  if (!wanted(e, code)) failf(w, "refused with code %d, the model expects one of %s: %s", code, codes, dump(r));
  w->refused++;
  int k = 0;
  while (k < w->code_n && w->code[k] != code)
    k++;
  if (k == w->code_n && k < MAX_CODES) w->code[w->code_n++] = code;
  if (k < MAX_CODES) w->code_count[k]++;
  release(r);
  return NULL;
}

/* ---- comparing the engine with the model ---- */

static json_t *query(world *w, const char *name, json_t *params) {
  json_t *r = NULL;
  jcm_check chk;
  int rc = jcm_query(w->j, name, keep(params), &r, &chk);
  if (rc != JCM_OK) failf(w, "query %s %s failed: %d %s", name, dump(params), chk.code, chk.message);
  release(params);
  return keep(r);
}

static int64_t ival(json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }
static const char *sval(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static int account_index(world *w, const char *id) {
  for (int i = 1; i <= N_ACC; i++)
    if (strcmp(w->acc[i].id, id) == 0) return i;
  return -1;
}

static void model_counts(world *w) {
  model *m = &w->m;
  memset(w->count, 0, sizeof w->count);
  memset(w->agg, 0, sizeof w->agg);
  for (int64_t s = 1; s < m->next; s++) {
    int a = m->owner[s], i = m->iss[s];
    if (a < 1 || a > N_ACC || i < 1 || i > m->n_iss) failf(w, "model: serial %" PRId64 " has no owner", s);
    w->count[a]++;
    w->agg[a][m->iss_project[i]][m->iss_vintage[i] - Y0]++;
  }
}

/* n of "THA01-I-00000n", or -1. */
static int issuance_number(const char *id) {
  int n = 0;
  if (strlen(id) != 14 || strncmp(id, REGISTRY "-I-", 8) != 0) return -1;
  for (int i = 8; i < 14; i++) {
    if (id[i] < '0' || id[i] > '9') return -1;
    n = n * 10 + (id[i] - '0');
  }
  return n;
}

/* The model's blocks: serial s starts one when bstart says so; it runs to
 * the next start (or the last issued serial). */
static int64_t block_end(const model *m, int64_t s) {
  int64_t e = s;
  while (e + 1 < m->next && !m->bstart[e + 1])
    e++;
  return e;
}

/* The blocks of one account (a > 0) or of all (a == 0), paged, against the
 * model's serials: every serial in exactly the account the model says, with
 * the attributes of its issuance. seen[] marks what was found. */
static void compare_blocks(world *w, int a, int limit, int64_t *got) {
  model *m = &w->m;
  w->stamp++;
  for (int64_t offset = 0;;) {
    json_t *params =
        a ? json_pack("{s:s,s:i,s:I}", "account", w->acc[a].id, "limit", limit, "offset", (json_int_t)offset)
          : json_pack("{s:i,s:I}", "limit", limit, "offset", (json_int_t)offset);
    json_t *r = query(w, "blocks", params);
    json_t *rows = json_object_get(r, "rows"), *row;
    size_t i;
    json_array_foreach(rows, i, row) {
      int64_t f = ival(row, "first"), l = ival(row, "last");
      const char *acct = sval(row, "account"), *iss = sval(row, "issuance");
      int owner = a && strcmp(acct, w->acc[a].id) == 0 ? a : account_index(w, acct);
      int n = issuance_number(iss);
      if (strcmp(sval(row, "origin"), REGISTRY) != 0 || owner < 0 || (a && owner != a) ||
          strcmp(sval(row, "unit_type"), "JCM credit") != 0 || !json_is_null(json_object_get(row, "reserved_tx")) ||
          f < 1 || f > l || l >= m->next || ival(row, "quantity") != l - f + 1 || n < 1 || n > m->n_iss ||
          strcmp(sval(row, "project"), PROJECTS[m->iss_project[n]]) != 0 || ival(row, "vintage") != m->iss_vintage[n])
        failf(w, "blocks of %s: row %s is not one the model can hold (next serial %" PRId64 ")",
              a ? w->acc[a].id : "all accounts", dump(row), m->next);
      if (!m->bstart[f] || block_end(m, f) != l)
        failf(w, "blocks of %s: row %s is not one of the model's blocks (its block at %" PRId64 " ends at %" PRId64 ")",
              a ? w->acc[a].id : "all accounts", dump(row), f, block_end(m, f));
      for (int64_t s = f; s <= l; s++) {
        if (m->owner[s] != owner) {
          int o = m->owner[s];
          failf(w, "blocks of %s: row %s holds serial %" PRId64 ", which the model gives to %s",
                a ? w->acc[a].id : "all accounts", dump(row), s, o ? w->acc[o].id : "nobody (not issued)");
        }
        if (w->seen[s] == w->stamp) failf(w, "serial %" PRId64 " is in two blocks (%s)", s, dump(row));
        if (m->iss[s] != n)
          failf(w, "block %s says serial %" PRId64 " comes from issuance %d, the model says %d", dump(row), s, n,
                m->iss[s]);
        w->seen[s] = w->stamp;
      }
      got[owner] += l - f + 1;
    }
    size_t n = json_array_size(rows);
    release(r);
    offset += (int64_t)n;
    if (n < (size_t)limit) break;
  }
}

/* The serials the engine has account a hold are exactly the model's. */
static void same_count(world *w, int a, const int64_t *got) {
  if (got[a] == w->count[a]) return;
  int64_t missing = -1;
  for (int64_t s = 1; s < w->m.next && missing < 0; s++)
    if (w->m.owner[s] == a && w->seen[s] != w->stamp) missing = s;
  failf(w,
        "account %s holds %" PRId64 " units in its blocks, the model %" PRId64 " (first serial missing: %" PRId64 ")",
        w->acc[a].id, got[a], w->count[a], missing);
}

/* One account's balance through the account filter (summed in C by
 * lib/query.c, not by SQL), page by page, now and then with a project or
 * vintage filter: the model's nonzero cells in order of project, then
 * vintage. */
static void compare_account_balance(world *w, int a) {
  uint32_t k = w->stamp;
  int fp = k % 3 == 1 ? (int)(k / 3 % N_PROJ) : -1, fv = k % 5 == 2 ? Y0 + (int)(k / 5 % N_VINTAGES) : 0;
  int limit = k % 2 ? 1 + (int)(k % 4) : 1000, cell = 0;
  for (int64_t offset = 0;;) {
    json_t *params = json_pack("{s:s,s:i,s:I}", "account", w->acc[a].id, "limit", limit, "offset", (json_int_t)offset);
    if (fp >= 0) json_object_set_new(params, "project", json_string(PROJECTS[fp]));
    if (fv) json_object_set_new(params, "vintage", json_integer(fv));
    json_t *r = query(w, "balance", params), *rows = json_object_get(r, "rows"), *row;
    size_t i;
    json_array_foreach(rows, i, row) {
      while (cell < N_PROJ * N_VINTAGES &&
             (!w->agg[a][cell / N_VINTAGES][cell % N_VINTAGES] || (fp >= 0 && cell / N_VINTAGES != fp) ||
              (fv && cell % N_VINTAGES != fv - Y0)))
        cell++;
      if (cell == N_PROJ * N_VINTAGES || strcmp(sval(row, "account"), w->acc[a].id) != 0 ||
          strcmp(sval(row, "project"), PROJECTS[cell / N_VINTAGES]) != 0 ||
          ival(row, "vintage") != Y0 + cell % N_VINTAGES ||
          ival(row, "quantity") != w->agg[a][cell / N_VINTAGES][cell % N_VINTAGES])
        failf(w, "balance of %s, row %s (filters %d %d, limit %d, offset %" PRId64 "): not the model's next cell",
              w->acc[a].id, dump(row), fp, fv, limit, offset);
      cell++;
    }
    size_t n = json_array_size(rows);
    release(r);
    offset += (int64_t)n;
    if (n < (size_t)limit) break;
  }
  for (; cell < N_PROJ * N_VINTAGES; cell++)
    if (w->agg[a][cell / N_VINTAGES][cell % N_VINTAGES] && (fp < 0 || cell / N_VINTAGES == fp) &&
        (!fv || cell % N_VINTAGES == fv - Y0))
      failf(w, "balance of %s lacks %s %d (filters %d %d, limit %d)", w->acc[a].id, PROJECTS[cell / N_VINTAGES],
            Y0 + cell % N_VINTAGES, fp, fv, limit);
}

static void compare_all(world *w) {
  model *m = &w->m;
  model_counts(w);
  /* each account's blocks through the account filter, in pages of 1000
   * (and now and then in small pages, so that paging is exercised) */
  int limit = w->compares % 10 == 4 ? 2 + w->compares % 47 : 1000;
  int64_t got[MAX_ACC + 1] = {0};
  for (int a = 1; a <= N_ACC; a++) {
    compare_blocks(w, a, limit, got);
    same_count(w, a, got);
  }
  /* and now and then all blocks at once, without the filter */
  if (w->compares++ % 10 == 9) {
    memset(got, 0, sizeof got);
    compare_blocks(w, 0, 1000, got);
    for (int a = 1; a <= N_ACC; a++)
      same_count(w, a, got);
  }
  /* balances by account, project and vintage */
  int cells = 0, rows_seen = 0;
  for (int a = 1; a <= N_ACC; a++)
    for (int p = 0; p < N_PROJ; p++)
      for (int v = 0; v < N_VINTAGES; v++)
        cells += w->agg[a][p][v] != 0;
  for (int64_t offset = 0;;) {
    json_t *r = query(w, "balance", json_pack("{s:i,s:I}", "limit", 1000, "offset", (json_int_t)offset));
    json_t *rows = json_object_get(r, "rows"), *row;
    size_t i;
    json_array_foreach(rows, i, row) {
      int a = account_index(w, sval(row, "account"));
      int p = strcmp(sval(row, "project"), PROJECTS[0]) == 0   ? 0
              : strcmp(sval(row, "project"), PROJECTS[1]) == 0 ? 1
                                                               : -1;
      int64_t v = ival(row, "vintage") - Y0;
      if (a < 0 || p < 0 || v < 0 || v >= N_VINTAGES || ival(row, "quantity") != w->agg[a][p][v] ||
          w->agg[a][p][v] == 0) {
        failf(w, "balance row %s: the model has %" PRId64, dump(row),
              a < 0 || p < 0 || v < 0 || v >= N_VINTAGES ? (int64_t)-1 : w->agg[a][p][v]);
      }
      rows_seen++;
    }
    size_t n = json_array_size(rows);
    release(r);
    offset += (int64_t)n;
    if (n < 1000) break;
  }
  if (rows_seen != cells) failf(w, "the balance query has %d rows, the model %d", rows_seen, cells);
  /* per-account totals and statuses */
  json_t *r = query(w, "accounts", json_pack("{s:i}", "limit", 1000));
  json_t *row;
  size_t i;
  int accounts = 0;
  json_array_foreach(json_object_get(r, "rows"), i, row) {
    int a = account_index(w, sval(row, "id"));
    if (a < 0) continue;
    accounts++;
    const char *status = m->blocked[a] ? "blocked" : "open";
    if (ival(row, "balance") != w->count[a] || strcmp(sval(row, "status"), status) != 0) {
      failf(w, "accounts row %s: the model has balance %" PRId64 ", status %s", dump(row), w->count[a], status);
    }
  }
  release(r);
  if (accounts != N_ACC) failf(w, "the accounts query lists %d of the %d accounts", accounts, N_ACC);
  int a = (int)(w->stamp % N_ACC) + 1;
  if (t_balance(w->j, w->acc[a].id) != w->count[a])
    failf(w, "t_balance(%s) is %" PRId64 ", the model %" PRId64, w->acc[a].id, t_balance(w->j, w->acc[a].id),
          w->count[a]);
  compare_account_balance(w, a);
  /* nothing was journaled that the model does not know of */
  r = query(w, "head", NULL);
  if (ival(r, "seq") != m->seq) failf(w, "the journal head is %" PRId64 ", the model %" PRId64, ival(r, "seq"), m->seq);
  release(r);
}

/* ---- commands ---- */

static void appendf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char *buf, const char *fmt, ...) {
  size_t n = strlen(buf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + n, CMD_MAX - n, fmt, ap);
  va_end(ap);
}

static void new_key(world *w, char *out, size_t n) { snprintf(out, n, "model-%" PRIu64 "-%d", w->seed, ++w->keys); }

/* Remembers an accepted command with a key, for replays and conflicts. */
static void record_idem(world *w, int actor, json_t *result) {
  model *m = &w->m;
  if (m->n_idem >= MAX_IDEM) return;
  idem_rec *r = &w->rec[m->n_idem++];
  free(r->text);
  free(r->result);
  r->text = strdup(w->cmd);
  r->result = w->held ? strdup(w->held) : strdup(dump(result));
  r->actor = actor;
  r->seq = ival(result, "seq");
}

/* ---- moves: transfer, cancel, retire ---- */

enum { MV_TRANSFER, MV_CANCEL, MV_RETIRE };
static const char *const MV_NAMES[] = {"transfer", "cancel", "retire"};
static const char *const CANCEL_KINDS[] = {"voluntary", "omge", "other", "lost"};

typedef struct {
  int64_t first, last;
  int origin; /* 0 absent, 1 this registry, 2 another */
} m_range;

typedef struct {
  int cmd, from, to, actor;
  int has_qty;
  int64_t qty;
  int project, vintage; /* filters: -1 / 0 when absent */
  int nranges;
  m_range r[MAX_RANGES];
  int kind, reason, key;
} move;

static void move_text(world *w, const move *mv, const char *key) {
  char *t = w->cmd;
  snprintf(t, CMD_MAX, "{\"cmd\":\"%s\",\"from\":\"%s\"", MV_NAMES[mv->cmd], acc_id(w, mv->from));
  if (mv->to != ACC_DEFAULT) appendf(t, ",\"to\":\"%s\"", acc_id(w, mv->to));
  if (mv->cmd == MV_CANCEL) appendf(t, ",\"kind\":\"%s\"", CANCEL_KINDS[mv->kind]);
  if (mv->reason) appendf(t, ",\"reason\":\"model test %d\"", w->op);
  if (mv->has_qty) appendf(t, ",\"quantity\":%" PRId64, mv->qty);
  if (mv->nranges) {
    appendf(t, ",\"ranges\":[");
    for (int i = 0; i < mv->nranges; i++) {
      appendf(t, "%s{\"first\":%" PRId64 ",\"last\":%" PRId64, i ? "," : "", mv->r[i].first, mv->r[i].last);
      if (mv->r[i].origin) appendf(t, ",\"origin\":\"%s\"", mv->r[i].origin == 1 ? REGISTRY : "JPN01");
      appendf(t, "}");
    }
    appendf(t, "]");
  }
  if (mv->project >= 0) appendf(t, ",\"project\":\"%s\"", PROJECTS[mv->project]);
  if (mv->vintage) appendf(t, ",\"vintage\":%d", mv->vintage);
  if (key) appendf(t, ",\"key\":\"%s\"", key);
  appendf(t, "}");
}

/* The registry's first open account of a kind, by id, as the engine picks
 * the default cancellation or retirement account. */
static int default_account(world *w, int kind) {
  int best = ACC_DEFAULT;
  for (int a = 1; a <= N_ACC; a++)
    if (w->acc[a].kind == kind && !w->m.blocked[a] &&
        (best == ACC_DEFAULT || strcmp(w->acc[a].id, w->acc[best].id) < 0))
      best = a;
  return best;
}

static int run_cmp(const void *x, const void *y) {
  const run *a = x, *b = y;
  return a->first < b->first ? -1 : a->first > b->first;
}

static int size_then_first_desc(const void *x, const void *y) {
  const run *a = x, *b = y;
  int64_t sa = a->last - a->first, sb = b->last - b->first;
  if (sa != sb) return sa > sb ? -1 : 1;
  return a->first > b->first ? -1 : a->first < b->first;
}

/* A move by quantity: the source's largest blocks matching the filters
 * first (equal sizes: the higher serials), whole until the rest fits in the
 * next, of which the upper serials go. Leaves w->sel sorted and joined
 * where adjacent, as the engine reports them; 0 when too few are held. */
static int pick_largest(world *w, int from, const move *mv) {
  model *m = &w->m;
  int n = 0;
  for (int64_t s = 1; s < m->next; s = block_end(m, s) + 1) {
    int i = m->iss[s];
    if (!m->bstart[s]) failf(w, "model: serial %" PRId64 " follows a block's end but starts none", s);
    if (m->owner[s] != from || (mv->project >= 0 && m->iss_project[i] != mv->project) ||
        (mv->vintage && m->iss_vintage[i] != mv->vintage))
      continue;
    if (n == MAX_RUNS) failf(w, "model: account %s holds more blocks than it can list", w->acc[from].id);
    w->runs[n++] = (run){s, block_end(m, s)};
  }
  qsort(w->runs, (size_t)n, sizeof w->runs[0], size_then_first_desc);
  int64_t need = mv->qty;
  int taken = 0;
  for (; taken < n && need > 0; taken++) {
    run *r = &w->runs[taken];
    if (r->last - r->first + 1 > need) r->first = r->last - need + 1;
    need -= r->last - r->first + 1;
  }
  if (need > 0) return 0;
  qsort(w->runs, (size_t)taken, sizeof w->runs[0], run_cmp);
  for (int i = 0; i < taken; i++) {
    if (w->nsel && w->sel[w->nsel - 1].last + 1 == w->runs[i].first)
      w->sel[w->nsel - 1].last = w->runs[i].last;
    else
      w->sel[w->nsel++] = w->runs[i];
  }
  return 1;
}

/* What the model says about a move: *pre gets the refusals that come before
 * the idempotency lookup (the command's form, the role), *post the others;
 * when both are empty w->sel holds the serial runs that move and *to the
 * destination. */
static void expect_move(world *w, const move *mv, expect *pre, expect *post, int *to_out) {
  model *m = &w->m;
  const jcm_actor *actor = &ACTORS[mv->actor];
  memset(pre, 0, sizeof *pre);
  memset(post, 0, sizeof *post);
  w->nsel = 0;
  /* the command's form */
  if (mv->has_qty && mv->qty < 1) want(pre, K_RANGE);
  if (mv->cmd == MV_CANCEL && mv->kind > 2) want(pre, K_ENUM);
  if (mv->cmd == MV_CANCEL && !mv->reason) want(pre, K_MISSING);
  if (mv->cmd == MV_TRANSFER && mv->to == ACC_DEFAULT) want(pre, K_MISSING);
  if (mv->from == ACC_TYPO || mv->to == ACC_TYPO) want(pre, K_CHECK_DIGITS);
  if (mv->actor == ACT_TPE || mv->actor == ACT_AUDITOR || mv->actor == ACT_JCS) want(pre, K_ROLE);
  /* the source */
  int from = mv->from;
  /* a holder learns nothing about accounts that are not its own: 8002 alike */
  int holder = strcmp(actor->role, "holder") == 0;
  if (from == ACC_UNKNOWN) want(post, holder ? K_NOT_HOLDER : K_SRC_UNKNOWN);
  if (from == ACC_FOREIGN) want(post, holder ? K_NOT_HOLDER : K_SRC_FOREIGN);
  if (from > 0) {
    if (holder && strcmp(actor->name, w->acc[from].holder) != 0) want(post, K_NOT_HOLDER);
    if (m->blocked[from]) want(post, K_SRC_NOT_OPEN);
    if (!may_send(w->acc[from].kind)) want(post, K_SRC_TYPE);
  }
  /* the destination */
  int to = mv->to;
  if (to == ACC_DEFAULT && mv->cmd != MV_TRANSFER) to = default_account(w, mv->cmd == MV_CANCEL ? CANCEL : RETIRE);
  if (to == ACC_UNKNOWN) want(post, K_DST_UNKNOWN);
  if (to == ACC_FOREIGN) want(post, K_DST_FOREIGN);
  if (to > 0) {
    int kind = w->acc[to].kind;
    if (to == from) want(post, K_DST_SAME);
    if (m->blocked[to]) want(post, K_DST_NOT_OPEN);
    if (mv->cmd == MV_TRANSFER ? !may_receive_transfer(kind) : kind != (mv->cmd == MV_CANCEL ? CANCEL : RETIRE))
      want(post, K_DST_TYPE);
  }
  *to_out = to;
  if (from <= 0) return;
  /* the units */
  if (!mv->has_qty && !mv->nranges) {
    want(post, K_MISSING);
  } else if (mv->nranges) {
    run own[MAX_RANGES];
    int nown = 0, bad = 0;
    uint64_t sum = 0;
    for (int i = 0; i < mv->nranges; i++) {
      int64_t f = mv->r[i].first, l = mv->r[i].last;
      if (f > l) {
        want(post, K_BAD_RANGE);
        bad = 1;
        continue;
      }
      sum += (uint64_t)(l - f) + 1;
      if (sum > (uint64_t)INT64_MAX) {
        want(post, K_RANGE);
        bad = 1;
      }
      if (mv->r[i].origin == 2) {
        want(post, K_NOT_HELD);
        continue;
      }
      own[nown].first = f;
      own[nown++].last = l;
      if (l >= m->next) {
        want(post, K_NOT_HELD);
        continue;
      }
      for (int64_t s = f; s <= l; s++)
        if (m->owner[s] != from) {
          want(post, K_NOT_HELD);
          break;
        }
    }
    qsort(own, (size_t)nown, sizeof own[0], run_cmp);
    for (int i = 1; i < nown; i++)
      if (own[i].first <= own[i - 1].last) want(post, K_OVERLAP);
    if (!bad && mv->has_qty && mv->qty >= 1 && (uint64_t)mv->qty != sum) want(post, K_QTY_MISMATCH);
    if (pre->n || post->n) return;
    /* exactly these serials, joined where adjacent */
    for (int i = 0; i < nown; i++) {
      if (w->nsel && w->sel[w->nsel - 1].last + 1 == own[i].first)
        w->sel[w->nsel - 1].last = own[i].last;
      else
        w->sel[w->nsel++] = own[i];
    }
  } else {
    if (!pick_largest(w, from, mv)) want(post, K_INSUFFICIENT);
  }
}

static int64_t selected(world *w) {
  int64_t n = 0;
  for (int i = 0; i < w->nsel; i++)
    n += w->sel[i].last - w->sel[i].first + 1;
  return n;
}

/* Checks an accepted move's result and the tx query, then applies it. */
static void apply_move(world *w, const move *mv, int to, json_t *res) {
  model *m = &w->m;
  json_t *out = json_object_get(res, "result");
  char tx[40];
  snprintf(tx, sizeof tx, REGISTRY "-T-%06" PRId64, m->tx + 1);
  int64_t qty = selected(w);
  json_t *ranges = json_object_get(out, "ranges");
  int ok = strcmp(sval(out, "tx"), tx) == 0 && strcmp(sval(out, "to"), w->acc[to].id) == 0 &&
           ival(out, "quantity") == qty && json_array_size(ranges) == (size_t)w->nsel;
  for (int i = 0; ok && i < w->nsel; i++) {
    json_t *x = json_array_get(ranges, (size_t)i);
    ok = strcmp(sval(x, "origin"), REGISTRY) == 0 && ival(x, "first") == w->sel[i].first &&
         ival(x, "last") == w->sel[i].last;
  }
  if (!ok) {
    char want_r[2000] = "";
    for (int i = 0; i < w->nsel && strlen(want_r) < 1900; i++)
      snprintf(want_r + strlen(want_r), sizeof want_r - strlen(want_r), " %" PRId64 "-%" PRId64, w->sel[i].first,
               w->sel[i].last);
    failf(w, "result %s; the model expects tx %s to %s, %" PRId64 " units:%s", dump(out), tx, w->acc[to].id, qty,
          want_r);
  }
  /* the transaction as the tx query tells it */
  json_t *t = query(w, "tx", json_pack("{s:s}", "id", tx));
  static const char *const types[] = {"transfer", "cancellation", "retirement"};
  json_t *tr = json_object_get(t, "ranges");
  ok = strcmp(sval(t, "type"), types[mv->cmd]) == 0 && strcmp(sval(t, "from_account"), w->acc[mv->from].id) == 0 &&
       strcmp(sval(t, "to_account"), w->acc[to].id) == 0 && ival(t, "quantity") == qty &&
       json_array_size(tr) == (size_t)w->nsel;
  for (int i = 0; ok && i < w->nsel; i++) {
    json_t *x = json_array_get(tr, (size_t)i);
    ok = strcmp(sval(x, "account"), w->acc[to].id) == 0 && ival(x, "first") == w->sel[i].first &&
         ival(x, "last") == w->sel[i].last;
  }
  if (!ok) failf(w, "tx query %s disagrees with the model", dump(t));
  release(t);
  for (int i = 0; i < w->nsel; i++) {
    for (int64_t s = w->sel[i].first; s <= w->sel[i].last; s++)
      m->owner[s] = (unsigned char)to;
    m->bstart[w->sel[i].first] = m->bstart[w->sel[i].last + 1] = 1; /* split at both ends */
  }
  m->tx++;
}

/* Submits a generated move and checks it against the model. */
static void do_move(world *w, const move *mv) {
  expect pre, post;
  int to;
  char key[48];
  if (mv->key) new_key(w, key, sizeof key);
  move_text(w, mv, mv->key ? key : NULL);
  expect_move(w, mv, &pre, &post, &to);
  for (int i = 0; i < post.n; i++)
    want(&pre, post.codes[i]);
  json_t *res = submit_expect(w, mv->actor, &pre);
  if (!res) return;
  apply_move(w, mv, to, res);
  if (mv->key) record_idem(w, mv->actor, res);
  release(res);
}

/* Maximal runs of serials held by account a. */
static int held_runs(world *w, int a, run *out, int max) {
  int n = 0;
  for (int64_t s = 1; s < w->m.next; s++) {
    if (w->m.owner[s] != a) continue;
    if (n && out[n - 1].last + 1 == s)
      out[n - 1].last = s;
    else if (n < max)
      out[n++] = (run){s, s};
    else
      break;
  }
  return n;
}

static int holder_actor(const char *holder) {
  return strcmp(holder, "org-a") == 0 ? ACT_HOLDER_A : strcmp(holder, "org-b") == 0 ? ACT_HOLDER_B : ACT_HOLDER_T;
}

/* A random sender, preferring those that hold units. */
static int random_sender(world *w) {
  static const int senders[] = {A, B, G, A2, B2, S};
  for (int tries = 0; tries < 8; tries++) {
    int a = pick(w, senders, 6);
    if (w->count[a] > 0 && (!w->m.blocked[a] || chance(w, 30))) return a;
  }
  return pick(w, senders, 6);
}

static int random_receiver(world *w, int except) {
  static const int receivers[] = {A, B, G, A2, B2, S};
  int a;
  do
    a = pick(w, receivers, 6);
  while (a == except || (w->m.blocked[a] && chance(w, 80)));
  return a;
}

/* Ranges the source holds: 1..4, sometimes adjacent, in random order. */
static void valid_ranges(world *w, move *mv, run *runs, int nruns) {
  mv->nranges = 0;
  int want_n = (int)between(w, 1, 4);
  for (int tries = 0; tries < 12 && mv->nranges < want_n; tries++) {
    run r = runs[between(w, 0, nruns - 1)];
    int64_t len = r.last - r.first + 1;
    int64_t size = chance(w, 15) ? len : between(w, 1, len < 40 ? len : 40);
    int64_t f = between(w, r.first, r.last - size + 1), l = f + size - 1;
    int clash = 0;
    for (int i = 0; i < mv->nranges; i++)
      if (f <= mv->r[i].last && mv->r[i].first <= l) clash = 1;
    if (clash) continue;
    int k = mv->nranges++;
    mv->r[k].first = f;
    mv->r[k].last = l;
    mv->r[k].origin = chance(w, 20) ? 1 : 0;
    /* split it in two adjacent ranges now and then */
    if (size > 1 && mv->nranges < MAX_RANGES && chance(w, 25)) {
      int64_t cut = between(w, f, l - 1);
      mv->r[k].last = cut;
      mv->r[mv->nranges].first = cut + 1;
      mv->r[mv->nranges].last = l;
      mv->r[mv->nranges++].origin = 0;
    }
  }
  for (int i = mv->nranges - 1; i > 0; i--) {
    int k = (int)between(w, 0, i);
    m_range t = mv->r[i];
    mv->r[i] = mv->r[k];
    mv->r[k] = t;
  }
}

/* Spoils valid ranges in one of several ways. */
static void spoil_ranges(world *w, move *mv, run *runs, int nruns) {
  int k = (int)between(w, 0, mv->nranges - 1);
  switch (between(w, 0, 7)) {
  case 0: /* one serial past the end of a held run */
    for (int i = 0; i < nruns; i++)
      if (runs[i].last >= mv->r[k].first && runs[i].first <= mv->r[k].last) mv->r[k].last = runs[i].last + 1;
    break;
  case 1: { /* serials held by another account */
    int other = (int)between(w, 1, N_ACC);
    run o[4];
    int n = other == mv->from ? 0 : held_runs(w, other, o, 4);
    if (n) {
      mv->r[k].first = o[0].first;
      mv->r[k].last = o[0].first + between(w, 0, o[0].last - o[0].first);
    } else {
      mv->r[k].first = mv->r[k].last = w->m.next;
    }
    break;
  }
  case 2: /* the same range twice */
    if (mv->nranges < MAX_RANGES) mv->r[mv->nranges++] = mv->r[k];
    break;
  case 3: /* overlapping by one serial */
    if (mv->nranges < MAX_RANGES) {
      mv->r[mv->nranges].first = mv->r[k].last;
      mv->r[mv->nranges].last = mv->r[k].last;
      mv->r[mv->nranges++].origin = 0;
    }
    break;
  case 4: /* inverted */
    if (mv->r[k].first == mv->r[k].last)
      mv->r[k].first++;
    else {
      int64_t t = mv->r[k].first;
      mv->r[k].first = mv->r[k].last;
      mv->r[k].last = t;
    }
    break;
  case 5: /* serials never issued, up to the largest */
    mv->r[k].first = w->m.next + between(w, 0, 1000);
    mv->r[k].last = chance(w, 50) ? INT64_MAX : mv->r[k].first + between(w, 0, 10);
    break;
  case 6: /* another registry's serials */ mv->r[k].origin = 2; break;
  default: /* a quantity that disagrees */
    mv->has_qty = 1;
    mv->qty = 0;
    for (int i = 0; i < mv->nranges; i++)
      mv->qty += mv->r[i].last - mv->r[i].first + 1;
    mv->qty += chance(w, 50) ? 1 : -1;
    if (mv->qty < 1) mv->qty = 2;
    break;
  }
}

/* Serials of account a matching the filters. */
static int64_t available(world *w, int a, int project, int vintage) {
  model *m = &w->m;
  int64_t n = 0;
  for (int64_t s = 1; s < m->next; s++) {
    int i = m->iss[s];
    if (m->owner[s] == a && (project < 0 || m->iss_project[i] == project) && (!vintage || m->iss_vintage[i] == vintage))
      n++;
  }
  return n;
}

/* A random move. mode: 0 by quantity, 1 valid ranges, 2 spoiled ranges;
 * spoil: a mutation that should (usually) make it refused. */
static void gen_move(world *w, move *mv, int cmd, int mode, int spoil) {
  memset(mv, 0, sizeof *mv);
  mv->cmd = cmd;
  mv->project = -1;
  mv->from = random_sender(w);
  if (cmd == MV_TRANSFER)
    mv->to = random_receiver(w, mv->from);
  else if (chance(w, 40))
    mv->to = cmd == MV_CANCEL ? (chance(w, 50) ? C : C2) : (chance(w, 50) ? R : R2);
  if (mv->to > 0 && w->m.blocked[mv->to] && chance(w, 70)) mv->to = cmd == MV_CANCEL ? C2 : cmd == MV_RETIRE ? R2 : A;
  if (mv->to == mv->from) mv->to = mv->from == A ? A2 : A;
  mv->actor = chance(w, 25) ? holder_actor(w->acc[mv->from].holder) : ACT_ADMIN;
  mv->kind = (int)between(w, 0, 2);
  mv->reason = cmd == MV_CANCEL || (cmd == MV_RETIRE && chance(w, 50));
  mv->key = chance(w, 15);
  run *runs = w->runs;
  int nruns = held_runs(w, mv->from, runs, MAX_RUNS);
  if (mode > 0 && nruns == 0) mode = 0;
  if (mode == 0) {
    if (chance(w, 30)) {
      /* filters taken from a unit the source holds, so that some match */
      run r = nruns ? runs[between(w, 0, nruns - 1)] : (run){0, 0};
      int64_t s = nruns ? between(w, r.first, r.last) : 0;
      int i = s ? w->m.iss[s] : 1;
      int which = (int)between(w, 0, 2);
      if (which != 1) mv->project = s && chance(w, 85) ? w->m.iss_project[i] : (int)between(w, 0, 1);
      if (which != 0) mv->vintage = s && chance(w, 85) ? w->m.iss_vintage[i] : (int)between(w, Y0, Y0 + 30);
    }
    int64_t h = available(w, mv->from, mv->project, mv->vintage);
    mv->has_qty = 1;
    if (h == 0)
      mv->qty = between(w, 1, 5);
    else if (chance(w, 8))
      mv->qty = h;
    else if (chance(w, 4))
      mv->qty = h + between(w, 1, 3);
    else
      mv->qty = between(w, 1, h < 60 ? h : 60);
  } else {
    valid_ranges(w, mv, runs, nruns);
    if (chance(w, 15)) {
      mv->has_qty = 1;
      for (int i = 0; i < mv->nranges; i++)
        mv->qty += mv->r[i].last - mv->r[i].first + 1;
    }
    if (mode == 2) spoil_ranges(w, mv, runs, nruns);
  }
  if (!spoil) return;
  static const int dead[] = {C, R, C2, R2, P};
  switch (between(w, 0, 10)) {
  case 0: mv->from = pick(w, dead, 5); break;                             /* nothing leaves these */
  case 1: mv->to = mv->from; break;                                       /* to itself */
  case 2: mv->to = chance(w, 50) ? P : cmd == MV_TRANSFER ? C : A; break; /* wrong type */
  case 3: mv->from = chance(w, 50) ? ACC_UNKNOWN : ACC_FOREIGN; break;
  case 4: mv->to = chance(w, 34) ? ACC_UNKNOWN : chance(w, 50) ? ACC_FOREIGN : ACC_TYPO; break;
  case 5: /* no quantity, zero, negative or far too many */
    mv->nranges = 0;
    mv->has_qty = !chance(w, 25);
    mv->qty = chance(w, 30)   ? 0
              : chance(w, 30) ? -between(w, 1, 100)
              : chance(w, 50) ? INT64_MAX
                              : w->count[mv->from] + 1;
    break;
  case 6: mv->actor = pick(w, (const int[]){ACT_TPE, ACT_AUDITOR, ACT_JCS}, 3); break;
  case 7: mv->actor = pick(w, (const int[]){ACT_HOLDER_A, ACT_HOLDER_B, ACT_HOLDER_T}, 3); break;
  case 8:
    if (cmd == MV_CANCEL) {
      if (chance(w, 50))
        mv->kind = 3;
      else
        mv->reason = 0;
    } else if (cmd == MV_TRANSFER) {
      mv->to = ACC_DEFAULT;
    } else {
      mv->to = chance(w, 50) ? C : S;
    }
    break;
  case 9: { /* a blocked account, if any */
    for (int a = 1; a <= N_ACC; a++)
      if (w->m.blocked[a]) {
        if (chance(w, 50))
          mv->from = a;
        else
          mv->to = a;
        break;
      }
    break;
  }
  default: mv->from = ACC_TYPO; break;
  }
}

/* ---- issuance ---- */

static void period_days(int p, int y, char first[16], char last[16]) {
  snprintf(first, 16, "%04d-01-01", first_year(p, y) % 10000);
  snprintf(last, 16, "%04d-12-31", last_year(p, y) % 10000);
}

/* monitoring.submit, monitoring.verify (sometimes refused first), issue
 * (sometimes spoiled). Returns 0 when every period is issued. */
static int op_issue(world *w) {
  model *m = &w->m;
  int p = (int)between(w, 0, 1), y = -1;
  for (int k = 0; k < 2 && y < 0; k++, p = 1 - p) {
    int open[N_PERIODS], n = 0;
    for (int i = 0; i < periods_of(p); i++)
      if (m->period[p][i] < 3) open[n++] = i;
    if (n) y = pick(w, open, n);
    if (y >= 0) break;
  }
  if (y < 0) return 0;
  char fd[16], ld[16];
  period_days(p, y, fd, ld);
  expect ok = {0}, e;
  if (m->period[p][y] == 0) {
    m->calculated[p][y] = between(w, 20, 700);
    snprintf(w->cmd, CMD_MAX,
             "{\"cmd\":\"monitoring.submit\",\"project\":\"%s\",\"first_day\":\"%s\",\"last_day\":\"%s\","
             "\"calculated\":%" PRId64 "}",
             PROJECTS[p], fd, ld, m->calculated[p][y]);
    release(submit_expect(w, chance(w, 50) ? ACT_ADMIN : ACT_JCS, &ok));
    m->period[p][y] = 1;
    compare_all(w);
    if (chance(w, 30)) return 1;
  }
  if (m->period[p][y] == 1) {
    if (chance(w, 25)) {
      snprintf(w->cmd, CMD_MAX,
               "{\"cmd\":\"issue\",\"meeting\":7,\"date\":\"2025-10-30\",\"project\":\"%s\",\"first_day\":\"%s\","
               "\"last_day\":\"%s\",\"total\":1,\"allocation\":[{\"account\":\"%s\",\"quantity\":1}]}",
               PROJECTS[p], fd, ld, w->acc[A].id);
      e = (expect){0};
      want(&e, K_PERIOD_NOT_VERIFIED);
      submit_expect(w, ACT_ADMIN, &e);
      compare_all(w);
    }
    int over = chance(w, 10);
    int64_t v = over ? m->calculated[p][y] + between(w, 1, 10) : between(w, 1, m->calculated[p][y]);
    snprintf(w->cmd, CMD_MAX,
             "{\"cmd\":\"monitoring.verify\",\"project\":\"%s\",\"first_day\":\"%s\",\"last_day\":\"%s\","
             "\"verified\":%" PRId64 ",\"report\":\"report %d\"}",
             PROJECTS[p], fd, ld, v, w->op);
    e = (expect){0};
    if (over) want(&e, K_VERIFIED_OVER_CALCULATED);
    release(submit_expect(w, ACT_TPE, &e));
    if (over) return 1;
    m->verified[p][y] = v;
    m->period[p][y] = 2;
    compare_all(w);
    if (chance(w, 30)) return 1;
  }
  /* the issue command */
  int64_t total = between(w, 1, m->verified[p][y] < MAX_ISSUE ? m->verified[p][y] : MAX_ISSUE);
  static const int receivers[] = {A, B, G, A2, B2};
  int alloc[6], nalloc = (int)between(w, 1, 3);
  int64_t q[6];
  if (nalloc > total) nalloc = (int)total;
  for (int i = 0; i < nalloc; i++) {
    int a, dup;
    do {
      a = pick(w, receivers, 5);
      dup = 0;
      for (int k = 0; k < i; k++)
        dup |= alloc[k] == a;
    } while (dup);
    alloc[i] = a;
  }
  int64_t left = total;
  for (int i = 0; i < nalloc; i++) {
    q[i] = i == nalloc - 1 ? left : between(w, 1, left - (nalloc - 1 - i));
    left -= q[i];
  }
  int fy = first_year(p, y), ly = last_year(p, y), vintage = 0, actor = chance(w, 70) ? ACT_ADMIN : ACT_JCS;
  if (chance(w, p == 0 ? 20 : 60)) vintage = chance(w, 50) ? fy : ly;
  int64_t stated_total = total;
  int spoil = chance(w, 15) ? (int)between(w, 0, 7) : -1;
  switch (spoil) {
  case 0: stated_total = q[0] = m->verified[p][y] + 1 - (total - q[0]); break; /* over verified */
  case 1: stated_total += chance(w, 50) ? 1 : -1; break;                       /* sum differs */
  case 2: alloc[nalloc] = pick(w, (const int[]){C, R, S, P}, 4), q[nalloc++] = 1, stated_total++; break;
  case 3: alloc[nalloc] = alloc[0], q[nalloc++] = 1, stated_total++; break; /* twice */
  case 4: alloc[nalloc] = chance(w, 50) ? ACC_UNKNOWN : ACC_FOREIGN, q[nalloc++] = 1, stated_total++; break;
  case 5: vintage = chance(w, 50) ? fy - 1 : ly + 1; break; /* not in the period */
  case 6: actor = pick(w, (const int[]){ACT_HOLDER_A, ACT_TPE, ACT_AUDITOR}, 3); break;
  case 7: alloc[0] = B2; break; /* B2 may be blocked, or listed twice */
  default: break;
  }
  if (stated_total < 1) stated_total = 2;
  snprintf(w->cmd, CMD_MAX,
           "{\"cmd\":\"issue\",\"meeting\":%d,\"date\":\"2025-10-30\",\"project\":\"%s\",\"first_day\":\"%s\","
           "\"last_day\":\"%s\",\"total\":%" PRId64,
           (int)between(w, 1, 100), PROJECTS[p], fd, ld, stated_total);
  if (vintage) appendf(w->cmd, ",\"vintage\":%d", vintage);
  appendf(w->cmd, ",\"allocation\":[");
  for (int i = 0; i < nalloc; i++)
    appendf(w->cmd, "%s{\"account\":\"%s\",\"quantity\":%" PRId64 "}", i ? "," : "", acc_id(w, alloc[i]), q[i]);
  appendf(w->cmd, "]}");
  /* what the model says */
  e = (expect){0};
  if (actor != ACT_ADMIN && actor != ACT_JCS) want(&e, K_ROLE);
  if (stated_total > m->verified[p][y]) want(&e, K_OVER_VERIFIED);
  if (vintage && (vintage < fy || vintage > ly)) want(&e, K_VINTAGE);
  int64_t sum = 0;
  for (int i = 0; i < nalloc; i++) {
    sum += q[i];
    for (int k = 0; k < i; k++)
      if (alloc[k] == alloc[i]) want(&e, K_DUPLICATE);
    if (alloc[i] == ACC_UNKNOWN) want(&e, K_DST_UNKNOWN);
    if (alloc[i] == ACC_FOREIGN) {
      want(&e, K_DST_UNKNOWN);
      want(&e, K_DST_FOREIGN);
    }
    if (alloc[i] > 0 && m->blocked[alloc[i]]) want(&e, K_DST_NOT_OPEN);
    if (alloc[i] > 0 && !may_receive_issue(w->acc[alloc[i]].kind)) want(&e, K_DST_TYPE);
  }
  if (sum != stated_total) want(&e, K_ALLOCATION_SUM);
  json_t *res = submit_expect(w, actor, &e);
  if (!res) return 1;
  /* the serials: one run from the registry's sequence, cut in the order listed */
  json_t *out = json_object_get(res, "result");
  char iss[40], tx[40];
  snprintf(iss, sizeof iss, REGISTRY "-I-%06d", m->n_iss + 1);
  snprintf(tx, sizeof tx, REGISTRY "-T-%06" PRId64, m->tx + 1);
  int want_vintage = vintage ? vintage : ly;
  json_t *blocks = json_object_get(out, "blocks");
  int good = ival(out, "first") == m->next && ival(out, "last") == m->next + stated_total - 1 &&
             strcmp(sval(out, "issuance"), iss) == 0 && strcmp(sval(out, "tx"), tx) == 0 &&
             ival(out, "vintage") == want_vintage && json_array_size(blocks) == (size_t)nalloc;
  int n = ++m->n_iss;
  m->iss_project[n] = p;
  m->iss_vintage[n] = want_vintage;
  int64_t s = m->next;
  for (int i = 0; good && i < nalloc; i++) {
    json_t *b = json_array_get(blocks, (size_t)i);
    good = strcmp(sval(b, "account"), w->acc[alloc[i]].id) == 0 && ival(b, "first") == s &&
           ival(b, "last") == s + q[i] - 1;
    m->bstart[s] = 1;
    for (int64_t k = 0; k < q[i]; k++, s++) {
      m->owner[s] = (unsigned char)alloc[i];
      m->iss[s] = (unsigned char)n;
    }
  }
  if (!good)
    failf(w, "issue result %s; the model expects %s %s serials %" PRId64 "-%" PRId64 " vintage %d", dump(out), iss, tx,
          m->next, m->next + stated_total - 1, want_vintage);
  m->next = s;
  m->tx++;
  m->period[p][y] = 3;
  release(res);
  if (chance(w, 10)) { /* the same decision again */
    compare_all(w);
    e = (expect){0};
    want(&e, K_PERIOD_ISSUED);
    submit_expect(w, ACT_ADMIN, &e);
  }
  return 1;
}

/* ---- account status ---- */

static void op_status(world *w) {
  static const int toggled[] = {B, C, R, B2};
  int a = pick(w, toggled, 4), actor = chance(w, 90) ? ACT_ADMIN : ACT_HOLDER_B;
  for (int i = 0; i < 4; i++) /* unblock more often than block, so that most accounts are open most of the time */
    if (w->m.blocked[toggled[i]] && chance(w, 50)) a = toggled[i];
  const char *to = w->m.blocked[a] ? "open" : "blocked";
  int same = chance(w, 8), close = !same && chance(w, 8) && w->count[a] > 0, unknown = chance(w, 4);
  if (same) to = w->m.blocked[a] ? "blocked" : "open";
  if (close) to = "closed";
  snprintf(w->cmd, CMD_MAX, "{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"%s\",\"reason\":\"op %d\"}",
           unknown ? w->unknown_id : w->acc[a].id, to, w->op);
  expect e = {0};
  if (actor != ACT_ADMIN) want(&e, K_ROLE);
  if (unknown) want(&e, K_UNKNOWN_ACCOUNT);
  if (same || close) want(&e, K_STATUS_CHANGE);
  json_t *res = submit_expect(w, actor, &e);
  if (res) w->m.blocked[a] = !w->m.blocked[a];
  release(res);
}

/* ---- idempotency: replays and conflicts ---- */

static void op_idem(world *w) {
  model *m = &w->m;
  if (m->n_idem == 0) {
    move mv;
    gen_move(w, &mv, MV_TRANSFER, 0, 0);
    mv.key = 1;
    do_move(w, &mv);
    return;
  }
  idem_rec *r = &w->rec[between(w, 0, m->n_idem - 1)];
  int actor = r->actor, replay = 0;
  expect e = {0};
  if (chance(w, 60)) {
    snprintf(w->cmd, CMD_MAX, "%s", r->text);
    if (chance(w, 10)) { /* the same command from someone else */
      actor = actor == ACT_ADMIN ? ACT_HOLDER_A : ACT_ADMIN;
      want(&e, K_IDEM_CONFLICT);
    } else {
      replay = 1;
    }
  } else {
    /* another command under the same key */
    const char *k = strstr(r->text, "\"key\":\"");
    char key[64] = "";
    if (k) sscanf(k + 7, "%63[^\"]", key);
    move mv;
    expect post;
    int to;
    gen_move(w, &mv, (int)between(w, 0, 2), (int)between(w, 0, 1), chance(w, 20));
    move_text(w, &mv, key);
    expect_move(w, &mv, &e, &post, &to);
    actor = mv.actor;
    if (strcmp(w->cmd, r->text) == 0 && actor == r->actor)
      replay = 1;
    else
      want(&e, K_IDEM_CONFLICT);
  }
  if (!replay) {
    submit_expect(w, actor, &e);
    return;
  }
  /* a replay: the first result again, and nothing moves twice */
  json_t *res = NULL;
  w->submissions++;
  int rc = jcm_submit_text(w->j, w->cmd, strlen(w->cmd), &ACTORS[actor], &res);
  const char *d = dump(res);
  json_decref(res);
  if (rc != JCM_OK || strcmp(d, r->result) != 0)
    failf(w, "the replay answered %s, the first time it was %s", d, r->result);
  w->replays++;
}

/* ---- batches ---- */

static void begin_batch(world *w) {
  if (jcm_batch_begin(w->j) != JCM_OK) failf(w, "jcm_batch_begin failed");
  w->snap = w->m;
  w->in_batch = 1;
  w->batch_left = (int)between(w, 3, 30);
  w->batches++;
}

static void end_batch(world *w, int commit) {
  snprintf(w->cmd, CMD_MAX, "(batch %s)", commit ? "commit" : "rollback");
  w->in_batch = 0;
  if (commit) {
    if (jcm_batch_commit(w->j) != JCM_OK) failf(w, "jcm_batch_commit failed");
  } else {
    jcm_batch_rollback(w->j);
    w->m = w->snap;
    w->rollbacks++;
  }
  compare_all(w);
}

/* ---- one random operation ---- */

static void step(world *w) {
  move mv;
  if (!w->in_batch && w->op + 40 < w->ops && chance(w, 6)) begin_batch(w);
  int r = (int)between(w, 0, 999);
  if (w->m.next == 1 || r < 90) {
    if (!op_issue(w)) {
      gen_move(w, &mv, MV_TRANSFER, 0, 0);
      do_move(w, &mv);
    }
  } else if (r < 450) {
    gen_move(w, &mv, MV_TRANSFER, 0, 0);
    do_move(w, &mv);
  } else if (r < 590) {
    gen_move(w, &mv, MV_TRANSFER, 1, 0);
    do_move(w, &mv);
  } else if (r < 670) {
    gen_move(w, &mv, MV_TRANSFER, 2, 0);
    do_move(w, &mv);
  } else if (r < 735) {
    gen_move(w, &mv, MV_CANCEL, chance(w, 10) ? 2 : (int)between(w, 0, 1), 0);
    do_move(w, &mv);
  } else if (r < 790) {
    gen_move(w, &mv, MV_RETIRE, chance(w, 10) ? 2 : (int)between(w, 0, 1), 0);
    do_move(w, &mv);
  } else if (r < 910) {
    gen_move(w, &mv, (int)between(w, 0, 2), (int)between(w, 0, 1), 1);
    do_move(w, &mv);
  } else if (r < 950) {
    op_status(w);
  } else {
    op_idem(w);
  }
  compare_all(w);
  if (w->in_batch && --w->batch_left == 0) end_batch(w, chance(w, 70));
}

/* ---- a seed from start to end ---- */

static void open_account(world *w, int a, const char *type, int kind, const char *holder) {
  snprintf(w->cmd, CMD_MAX, "{\"cmd\":\"account.open\",\"type\":\"%s\",\"holder\":\"%s\",\"name\":\"model %d\"}", type,
           holder, a);
  expect ok = {0};
  json_t *r = submit_expect(w, ACT_ADMIN, &ok);
  snprintf(w->acc[a].id, sizeof w->acc[a].id, "%s", sval(json_object_get(r, "result"), "account"));
  w->acc[a].kind = kind;
  w->acc[a].holder = holder;
  release(r);
}

static void with_check_digits(char *out, const char *body) {
  for (int cc = 0; cc < 100; cc++) {
    snprintf(out, 32, "%s-%02d", body, cc);
    if (jcm_account_id_valid(out)) return;
  }
}

static void remove_store(const char *path) {
  char side[600];
  remove(path);
  snprintf(side, sizeof side, "%s-wal", path);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", path);
  remove(side);
}

static void setup_world(world *w, const seed_spec *spec, char *path, size_t n) {
  t_accounts a;
  const char *address = spec->store;
  w->seed = spec->seed;
  w->rs = spec->seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  if (!w->rs) w->rs = 1;
  w->ops = spec->ops;
  if (!address) {
    /* a file store: on tmpfs when there is one (the same SQLite file and WAL,
     * without the wait for each commit's fsync), else under the build tree */
    if (access("/dev/shm", W_OK) == 0) {
      snprintf(path, n, "/dev/shm/jcm-test-model-%ld-%" PRIu64 ".db", (long)getpid(), spec->seed);
      remove_store(path);
      snprintf(w->shm_path, sizeof w->shm_path, "%s", path);
    } else {
      char name[64];
      snprintf(name, sizeof name, "model-%" PRIu64, spec->seed);
      t_db_path(path, n, name);
    }
    address = path;
  }
  w->j = t_registry(address, &a);
  const struct {
    const char *id;
    int kind;
    const char *holder;
  } first[] = {{a.hold_a, HOLD, "org-a"},
               {a.hold_b, HOLD, "org-b"},
               {a.gov, GOV, "tgo"},
               {a.cancel, CANCEL, "tgo"},
               {a.retire, RETIRE, "tgo"}};
  for (int i = 0; i < 5; i++) {
    snprintf(w->acc[A + i].id, sizeof w->acc[A + i].id, "%s", first[i].id);
    w->acc[A + i].kind = first[i].kind;
    w->acc[A + i].holder = first[i].holder;
  }
  json_t *head = query(w, "head", NULL);
  w->m.seq = ival(head, "seq");
  release(head);
  w->m.next = 1;
  open_account(w, A2, "holding", HOLD, "org-a");
  open_account(w, B2, "holding", HOLD, "org-b");
  open_account(w, S, "share-of-proceeds", SOP, "tgo");
  open_account(w, C2, "cancellation", CANCEL, "tgo");
  open_account(w, R2, "retirement", RETIRE, "tgo");
  open_account(w, P, "pending", PENDING, "tgo");
  snprintf(w->cmd, CMD_MAX,
           "{\"cmd\":\"project.import\",\"project\":\"TH022\",\"title\":\"Waste heat\",\"host\":\"THA\","
           "\"status\":\"registered\",\"source\":\"model test\"}");
  expect ok = {0};
  release(submit_expect(w, ACT_ADMIN, &ok));
  with_check_digits(w->unknown_id, REGISTRY "-100-000099");
  with_check_digits(w->foreign_id, "JPN01-100-000001");
  snprintf(w->typo_id, sizeof w->typo_id, "%s", w->acc[A].id);
  for (int cc = 0; jcm_account_id_valid(w->typo_id) && cc < 100; cc++) {
    w->typo_id[17] = (char)('0' + cc / 10);
    w->typo_id[18] = (char)('0' + cc % 10);
  }
  compare_all(w);
}

/* jcm_verify, then the statements paged through in pages of several sizes:
 * each page opens where the one before closed, the running balances add
 * up, and the last page closes at the model's balance. */
static void final_checks(world *w) {
  if (w->in_batch) end_batch(w, 1);
  snprintf(w->cmd, CMD_MAX, "(final checks)");
  compare_all(w);
  json_t *report = NULL;
  int rc = jcm_verify(w->j, &report);
  int ok = rc == JCM_OK && json_is_true(json_object_get(report, "ok")) &&
           json_array_size(json_object_get(report, "problems")) == 0 && ival(report, "events") == w->m.seq;
  const char *d = dump(report);
  json_decref(report);
  if (!ok) failf(w, "jcm_verify returned %d: %s (the model counts %" PRId64 " journal entries)", rc, d, w->m.seq);
  static const int page[MAX_ACC + 1] = {0, 1000, 7, 1, 3, 50, 2, 13, 1000, 5, 100, 10, 1000};
  for (int a = 1; a <= N_ACC; a++) {
    int64_t after = 0, balance = 0, pages = 0;
    for (;; pages++) {
      json_t *r =
          query(w, "statement",
                json_pack("{s:s,s:I,s:i}", "account", w->acc[a].id, "after_seq", (json_int_t)after, "limit", page[a]));
      json_t *entries = json_object_get(r, "entries"), *x;
      size_t i;
      if (ival(r, "opening") != balance)
        failf(w,
              "statement of %s in pages of %d: page %" PRId64 " (after_seq %" PRId64 ") opens at %" PRId64
              ", the page before closed at %" PRId64,
              w->acc[a].id, page[a], pages + 1, after, ival(r, "opening"), balance);
      json_array_foreach(entries, i, x) {
        balance += ival(x, "dir") * ival(x, "quantity");
        if (ival(x, "balance") != balance)
          failf(w, "statement entry %s: the running balance should be %" PRId64, dump(x), balance);
      }
      if (ival(r, "closing") != balance) failf(w, "statement page %s closes wrong", dump(r));
      after = ival(r, "last_seq");
      size_t n = json_array_size(entries);
      release(r);
      if (n < (size_t)page[a]) break;
    }
    if (balance != w->count[a])
      failf(w, "statement of %s closes at %" PRId64 ", the model holds %" PRId64, w->acc[a].id, balance, w->count[a]);
  }
}

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int seed_setup(void **state) {
  world *w = calloc(1, sizeof *w);
  if (!w) return -1;
  w->spec = *state;
  *state = w;
  return 0;
}

/* Runs after a failure too: closes the store and frees the model. */
static int seed_teardown(void **state) {
  world *w = *state;
  if (w->j && w->in_batch) jcm_batch_rollback(w->j);
  jcm_close(w->j);
  if (w->shm_path[0]) remove_store(w->shm_path);
  for (int i = 0; i < MAX_IDEM; i++) {
    free(w->rec[i].text);
    free(w->rec[i].result);
  }
  free(w->held);
  free(w);
  dumps_free();
  return 0;
}

static void model_seed(void **state) {
  world *w = *state;
  const seed_spec *spec = w->spec;
  char path[512];
  double t0 = seconds();
  setup_world(w, spec, path, sizeof path);
  for (w->op = 1; w->op <= w->ops; w->op++)
    step(w);
  final_checks(w);
  int issued = 0;
  for (int p = 0; p < N_PROJ; p++)
    for (int y = 0; y < N_PERIODS; y++)
      issued += w->m.period[p][y] == 3;
  char hist[1200] = "";
  for (int k = 0; k < w->code_n; k++)
    snprintf(hist + strlen(hist), sizeof hist - strlen(hist), " %d:%d", w->code[k], w->code_count[k]);
  print_message("seed %" PRIu64 " (%s): %d operations, %d submissions (%d accepted, %d refused, %d replays), "
                "%d batches (%d rolled back), %d issuances, %" PRId64 " serials, %.1f s\n  refusals by code:%s\n",
                w->seed, spec->store ? spec->store : "file", w->ops, w->submissions, w->accepted, w->refused,
                w->replays, w->batches, w->rollbacks, issued, w->m.next - 1, seconds() - t0, hist);
}

/* ---- the smallest cases of what the model found ---- */

/* A batch rolled back leaves nothing behind, in a ":memory:" store too
 * (jcm_open documents ":memory:"). */
static void memory_batch_rollback(void **state) {
  (void)state;
  t_accounts a;
  jcm *j = t_registry(":memory:", &a);
  const char *accts[] = {a.hold_a, NULL};
  const int64_t qty[] = {10};
  int issued = t_issue(j, 2021, 10, 10, accts, qty), code = 0;
  int began = jcm_batch_begin(j);
  int moved = t_submitf(j, &T_ADMIN, &code, NULL, "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":4}",
                        a.hold_a, a.hold_b);
  jcm_batch_rollback(j);
  int64_t held_a = t_balance(j, a.hold_a), held_b = t_balance(j, a.hold_b);
  jcm_close(j);
  assert_int_equal(issued, JCM_OK);
  assert_int_equal(began, JCM_OK);
  assert_int_equal(moved, JCM_OK);
  if (held_a != 10 || held_b != 0) {
    print_error("after jcm_batch_rollback the :memory: store still has the batch's transfer: %s holds %lld "
                "(10 before the batch), %s holds %lld (0 before)\n",
                a.hold_a, (long long)held_a, a.hold_b, (long long)held_b);
    fail();
  }
}

/* The statement is paged by after_seq = the last page's last_seq. One
 * transfer of several ranges is one journal entry with several movements;
 * a page that ends inside it must not lose the rest of them. */
static void statement_page_inside_entry(void **state) {
  (void)state;
  char path[512];
  t_accounts a;
  t_db_path(path, sizeof path, "model-statement");
  jcm *j = t_registry(path, &a);
  const char *accts[] = {a.hold_a, NULL};
  const int64_t qty[] = {10};
  int issued = t_issue(j, 2021, 10, 10, accts, qty), code = 0;
  int moved = t_submitf(j, &T_ADMIN, &code, NULL,
                        "{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[{\"first\":1,\"last\":2},"
                        "{\"first\":5,\"last\":6}]}",
                        a.hold_a, a.hold_b);
  int64_t after = 0, listed = 0, closing = 0, opening_gap = 0;
  for (int page = 0; page < 10; page++) {
    json_t *params = json_pack("{s:s,s:I,s:i}", "account", a.hold_b, "after_seq", (json_int_t)after, "limit", 1), *r;
    jcm_check chk;
    if (jcm_query(j, "statement", params, &r, &chk) != JCM_OK) {
      json_decref(params);
      break;
    }
    json_decref(params);
    json_t *entries = json_object_get(r, "entries"), *x;
    size_t i;
    if (ival(r, "opening") != closing && !opening_gap) opening_gap = ival(r, "opening") - closing;
    json_array_foreach(entries, i, x) listed += ival(x, "quantity");
    closing = ival(r, "closing");
    after = ival(r, "last_seq");
    size_t n = json_array_size(entries);
    json_decref(r);
    if (n < 1) break;
  }
  jcm_close(j);
  assert_int_equal(issued, JCM_OK);
  assert_int_equal(moved, JCM_OK);
  if (listed != 4 || opening_gap) {
    print_error("statement of %s in pages of 1 lists %lld of the 4 units received; a page opens %lld units above where "
                "the page before closed: the movements after the first of one journal entry are skipped\n",
                a.hold_b, (long long)listed, (long long)opening_gap);
    fail();
  }
}

/* Fixed seeds, each on a fresh registry: short runs keep the number of
 * blocks (and so the cost of comparing everything after every operation)
 * small; many seeds make up the total. */
#define OPS 450
static const seed_spec SEEDS[] = {
    {1, OPS, NULL},          {2, OPS, NULL},          {3, OPS, NULL},         {4, OPS, NULL},
    {5, OPS, NULL},          {6, OPS, NULL},          {7, OPS, NULL},         {8, OPS, NULL},
    {9, OPS, NULL},          {10, OPS, NULL},         {42, OPS, NULL},        {99, OPS, NULL},
    {1234, OPS, NULL},       {2024, OPS, NULL},       {7777, OPS, NULL},      {31337, OPS, NULL},
    {65537, OPS, NULL},      {0xC0FFEE, OPS, NULL},   {0xBADC0DE, OPS, NULL}, {123456789, OPS, NULL},
    {0xDEADBEEF, OPS, NULL}, {0x5EED5EED, OPS, NULL}, {12, OPS, NULL},        {11, OPS, ":memory:"},
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

int main(void) {
  struct CMUnitTest tests[2 + N_SEEDS];
  char names[N_SEEDS][48];
  tests[0] = (struct CMUnitTest)cmocka_unit_test(memory_batch_rollback);
  tests[1] = (struct CMUnitTest)cmocka_unit_test(statement_page_inside_entry);
  for (size_t i = 0; i < N_SEEDS; i++) {
    snprintf(names[i], sizeof names[i], "model seed %" PRIu64 "%s", SEEDS[i].seed, SEEDS[i].store ? " (memory)" : "");
    tests[2 + i] = (struct CMUnitTest){names[i], model_seed, seed_setup, seed_teardown, (void *)&SEEDS[i]};
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
