/*
 * Replaying the journal: each entry's place in the hash chain is checked
 * (sequence without gaps, previous hash, its own hash, columns equal to the
 * hashed bytes), then its command's apply function runs on a fresh
 * in-memory store. Only apply runs, from the event's args and out, so the
 * replay re-decides nothing and never reads the clock. Used by verify (the
 * whole journal) and by the AEF report (the state at a year end).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "spec.h"

atomic_uint jcm__problems_lost;

void jcm__problem(json_t *list, const char *check, const char *where, const char *fmt, ...) {
  if (json_array_size(list) >= JCM_MAX_PROBLEMS) return;
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  json_t *p = json_pack("{s:s,s:s,s:s}", "check", check, "where", where, "what", what);
  /* what may quote tampered bytes; a problem is never dropped for its text */
  if (!p) p = json_pack("{s:s,s:s,s:s}", "check", check, "where", "(unprintable)", "what", "(unprintable)");
  if (!p || json_array_append_new(list, p) != 0) atomic_fetch_add(&jcm__problems_lost, 1); /* memory ran out */
}

void jcm__problems_add(json_t *to, json_t *from) {
  size_t i;
  json_t *p;
  json_array_foreach(from, i, p) {
    if (json_array_size(to) < JCM_MAX_PROBLEMS && json_array_append(to, p) != 0)
      atomic_fetch_add(&jcm__problems_lost, 1);
  }
}

/* "journal entry N" in where, for a problem's text: written only when
 * there is a problem (an snprintf per entry showed in verify's profile). */
static const char *entry_name(char where[48], int64_t seq) {
  snprintf(where, 48, "journal entry %lld", (long long)seq);
  return where;
}

/* Checks one entry's place in the chain; returns 0 when it may be replayed. */
static int check_entry(jcm_replay *r, json_t *problems, jcm_store *st, jcm_stmt *s, int64_t expect, json_t **event) {
  char where[48];
  int64_t seq = col_int(st, s, 0);
  if (seq != expect) {
    jcm__problem(problems, "chain", entry_name(where, seq),
                 "expected entry %lld here: entries are missing or reordered", (long long)expect);
    return -1;
  }
  const void *bytes = st->ops->column_blob(s, 5);
  size_t n = (size_t)st->ops->column_bytes(s, 5);
  unsigned char h[JCM_HASH_LEN];
  if (st->ops->column_bytes(s, 6) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 6), r->head, JCM_HASH_LEN) != 0) {
    jcm__problem(problems, "chain", entry_name(where, seq), "its previous hash is not the hash of entry %lld",
                 (long long)(seq - 1));
    return -1;
  }
  jcm__hash_event(r->head, bytes ? bytes : "", n, h);
  if (st->ops->column_bytes(s, 7) != JCM_HASH_LEN || memcmp(st->ops->column_blob(s, 7), h, JCM_HASH_LEN) != 0) {
    jcm__problem(problems, "chain", entry_name(where, seq),
                 "its bytes do not hash to its stored hash: the entry was altered");
    return -1;
  }
  jcm__json_slot_begin(); /* the tree is freed by this thread as a whole, after the replay */
  json_t *ev = jcm__read_canonical(bytes ? bytes : "", n);
  jcm__json_slot_end();
  if (!ev || jcm__i(ev, "seq", -1) != seq || !jcm__is(ev, "time", col_text(st, s, 1)) ||
      !jcm__is(ev, "actor", col_text(st, s, 2)) || !jcm__is(ev, "role", col_text(st, s, 3)) ||
      !jcm__is(ev, "cmd", col_text(st, s, 4)) || !json_is_object(json_object_get(ev, "args")) ||
      !json_is_object(json_object_get(ev, "out"))) {
    jcm__problem(problems, "chain", entry_name(where, seq), "its columns disagree with its hashed bytes");
    json_decref(ev);
    return -1;
  }
  const char *time = jcm__s(ev, "time");
  if (!jcm__is_time(time) || strcmp(time, r->head_time) < 0) {
    if (!jcm__is_time(time))
      jcm__problem(problems, "chain", entry_name(where, seq),
                   "its time '%.40s' is not of the form 2026-11-28T15:15:57.123Z", time);
    else
      jcm__problem(problems, "chain", entry_name(where, seq),
                   "its time %s is before entry %lld's, %s: journal times never go backwards", time,
                   (long long)(seq - 1), r->head_time);
    json_decref(ev);
    return -1;
  }
  memcpy(r->head_time, time, strlen(time) + 1); /* 24 characters and the NUL */
  memcpy(r->head, h, JCM_HASH_LEN);
  *event = ev;
  return 0;
}

/* Transfers and retirements touch blocks only by moving them
 * (jcm__blocks_move): their moves may be kept in memory. A transfer held
 * for approval reserves instead; cancellation and use also write the
 * Article 6 columns of the blocks moved. */
static int keeps_blocks(const cmd_spec *spec, json_t *out) {
  return (spec->apply == jcm__apply_transfer || spec->apply == jcm__apply_retire) && !jcm__fe_is_held(spec->name, out);
}

static int replay_event(jcm_replay *r, json_t *ev) {
  jcm_check chk = {0};
  jcm_actor actor = {jcm__s(ev, "actor"), jcm__s(ev, "role")};
  const cmd_spec *spec = jcm__spec_find(jcm__s(ev, "cmd"));
  jcm_ctx c = {.j = r->dst,
               .st = jcm__store(r->dst),
               .actor = &actor,
               .role = jcm__role_bit(actor.role),
               .args = json_object_get(ev, "args"),
               .out = json_object_get(ev, "out"),
               .chk = &chk,
               .seq = jcm__i(ev, "seq", 0),
               .replay = true};
  jcm__copy(c.time, sizeof c.time, jcm__s(ev, "time"));
  char where[48];
  if (!spec) {
    jcm__problem(r->problems, "replay", entry_name(where, c.seq), "unknown command %s", jcm__s(ev, "cmd"));
    return -1;
  }
  if (!(spec->roles & c.role)) {
    jcm__problem(r->problems, "replay", entry_name(where, c.seq), "role '%s' may not %s", actor.role ? actor.role : "",
                 spec->help);
    return -1;
  }
  if (c.seq == r->refused_seq) {
    jcm__problem(r->problems, "replay", entry_name(where, c.seq), "its args would have been refused: %s",
                 r->refused_why);
    return -1;
  }
  if (r->kept) {
    int keep = keeps_blocks(spec, c.out);
    /* any other command reads or writes the block table: it gets the kept rows first */
    if (!keep && jcm__kept_flush(r->kept, c.st) != 0) {
      jcm__problem(r->problems, "replay", entry_name(where, c.seq), "cannot write the blocks moved before it: %s",
                   c.st->ops->errmsg(c.st));
      return -1;
    }
    r->dst->kept = keep ? r->kept : NULL;
  }
  if (jcm__apply_event(&c, spec) != JCM_OK) {
    jcm__problem(r->problems, "replay", entry_name(where, c.seq), "cannot be applied: %s", chk.message);
    return -1;
  }
  return 0;
}

void (*jcm__replay_opened)(jcm *dst);

int jcm__replay_open(jcm_replay *r, jcm *src, json_t *problems) {
  char err[256] = "";
  memset(r, 0, sizeof *r);
  r->src = src;
  r->stored = jcm__store(src);
  r->problems = problems;
  r->chain_ok = r->replay_ok = 1;
  if (jcm_open(":memory:", NULL, &r->dst, err, sizeof err) != JCM_OK) return -1;
  /* The replay store is thrown away and never rolled back: no undo journal. */
  jcm__store(r->dst)->ops->exec(jcm__store(r->dst), "PRAGMA journal_mode=OFF");
  if (jcm__replay_opened) jcm__replay_opened(r->dst);
  return 0;
}

void jcm__replay_close(jcm_replay *r) {
  jcm_close(r->dst);
  r->dst = NULL;
}

/* ---- the walk: the chain is checked on a second thread while this one
 * replays, since the two share nothing but the events handed over; the
 * check (JSON parsing, SHA-256) was a fifth of a verify (docs/benchmarks.md) ---- */

#define PIPE_SLOTS 1024
#define BATCH 64

typedef struct {
  jcm_replay *r;
  jcm_store *st;
  jcm_stmt *s;
  const char *until;
  json_t *chain_problems; /* the checking thread's, added to r->problems at the end */
  /* events travel in ring[took..put) to the replay and come back in
   * ring[freed..took) to be freed by the thread that made them (glibc
   * frees across threads slowly) */
  json_t *ring[PIPE_SLOTS];
  size_t put, took, freed;
  int ended;
  pthread_mutex_t m;
  pthread_cond_t changed;
} walk;

/* The next entry checked, or NULL at the end: the journal's, the cutoff's,
 * or the first that breaks the chain (which sets chain_ok). */
static json_t *check_next(walk *w) {
  jcm_replay *r = w->r;
  json_t *ev = NULL;
  if (!r->chain_ok) return NULL;
  int step = db_step(w->st, w->s);
  if (step == JCM_STEP_ERROR) { /* not the journal's end: what follows was not checked */
    jcm__problem(w->chain_problems, "chain", "journal", "cannot read the journal after entry %lld: %s",
                 (long long)r->events, w->st->ops->errmsg(w->st));
    r->chain_ok = 0;
  }
  if (step != JCM_ROW) return NULL;
  if (w->until && strcmp(col_text(w->st, w->s, 1), w->until) > 0) return NULL; /* times never go backwards */
  if (check_entry(r, w->chain_problems, w->st, w->s, r->events + 1, &ev) != 0) {
    r->chain_ok = 0;
    return NULL;
  }
  r->events++;
  /* apply trusts what validation let through when the command was
   * submitted; a forged entry, chain re-linked, must pass it again. Checked
   * here, on the checking thread, which has time to spare; the replay
   * reports the first such entry when it gets there. */
  const cmd_spec *spec = jcm__spec_find(jcm__s(ev, "cmd"));
  jcm_check chk = {0};
  if (!r->refused_seq && spec && jcm__validate_args(spec, json_object_get(ev, "args"), &chk) != JCM_OK) {
    snprintf(r->refused_why, sizeof r->refused_why, "%s (check %d)", chk.message, chk.code);
    r->refused_seq = r->events;
  }
  return ev;
}

static void replay_one(jcm_replay *r, json_t *ev) {
  if (r->replay_ok && replay_event(r, ev) != 0) r->replay_ok = 0;
}

/* Puts n events (ended: and then the end), waiting for room; frees those
 * the replay is done with. Called with w->m unlocked. */
static void put_batch(walk *w, json_t **batch, size_t n, int ended) {
  json_t *done[PIPE_SLOTS];
  size_t nd = 0;
  pthread_mutex_lock(&w->m);
  while (w->put - w->freed + n > PIPE_SLOTS) {
    while (w->freed < w->took)
      done[nd++] = w->ring[w->freed++ % PIPE_SLOTS];
    if (w->put - w->freed + n > PIPE_SLOTS) pthread_cond_wait(&w->changed, &w->m);
  }
  for (size_t i = 0; i < n; i++)
    w->ring[w->put++ % PIPE_SLOTS] = batch[i];
  w->ended = ended;
  pthread_cond_broadcast(&w->changed);
  pthread_mutex_unlock(&w->m);
  for (size_t i = 0; i < nd; i++)
    json_decref(done[i]);
}

static void *checker_main(void *arg) {
  walk *w = arg;
  json_t *batch[BATCH], *ev;
  size_t n = 0;
  do {
    ev = check_next(w);
    if (ev) batch[n++] = ev;
    if (!ev || n == BATCH) put_batch(w, batch, n, !ev), n = 0;
  } while (ev);
  return NULL;
}

/* Replays the events the checker puts, in order, until it ends. */
static void replay_from(walk *w) {
  pthread_mutex_lock(&w->m);
  for (;;) {
    while (w->put == w->took && !w->ended)
      pthread_cond_wait(&w->changed, &w->m);
    size_t from = w->took, to = w->put;
    if (from == to) break;
    pthread_mutex_unlock(&w->m);
    for (size_t i = from; i < to; i++)
      replay_one(w->r, w->ring[i % PIPE_SLOTS]);
    pthread_mutex_lock(&w->m);
    w->took = to;
    pthread_cond_broadcast(&w->changed);
  }
  pthread_mutex_unlock(&w->m);
}

void jcm__replay_until(jcm_replay *r, const char *until) {
  jcm_store *st = jcm__store(r->src), *rs = jcm__store(r->dst);
  if (!r->chain_ok) return;
  walk w = {.r = r, .st = st, .until = until, .chain_problems = json_array()};
  w.s = st->ops->prepare_temp(
      st, "SELECT seq, time, actor, role, cmd, bytes, prev_hash, hash FROM journal WHERE seq > ? ORDER BY seq");
  if (!w.chain_problems || !w.s || st->ops->bind_int(w.s, 1, r->events) != 0 || rs->ops->exec(rs, "BEGIN") != 0) {
    jcm__problem(r->problems, "chain", "journal", "cannot read the journal: %s", st->ops->errmsg(st));
    r->chain_ok = r->replay_ok = 0;
    if (w.s) st->ops->finalize(w.s);
    json_decref(w.chain_problems);
    return;
  }
  pthread_t checker;
  pthread_mutex_init(&w.m, NULL);
  pthread_cond_init(&w.changed, NULL);
  if (pthread_create(&checker, NULL, checker_main, &w) == 0) {
    replay_from(&w);
    pthread_join(checker, NULL);
    while (w.freed < w.took)
      json_decref(w.ring[w.freed++ % PIPE_SLOTS]);
  } else { /* no thread: the same steps, one after the other */
    json_t *ev;
    while ((ev = check_next(&w))) {
      replay_one(r, ev);
      json_decref(ev);
    }
  }
  pthread_cond_destroy(&w.changed);
  pthread_mutex_destroy(&w.m);
  jcm__problems_add(r->problems, w.chain_problems);
  json_decref(w.chain_problems);
  st->ops->finalize(w.s);
  rs->ops->exec(rs, "COMMIT");
}
