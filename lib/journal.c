/*
 * The journal: every accepted command as an event, in order, hash-chained.
 * An event's canonical bytes are the JSON object
 *   {"actor","args","cmd","out","role","seq","time"}
 * with sorted keys and no white space; its hash is
 *   SHA-256(previous hash || bytes), the first previous hash being 32 zeros.
 * The hash is computed here on append and again by verify on replay.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* SHA-256 through OpenSSL, which uses the processor's SHA instructions:
 * 0.4 us for a transfer's entry against libsodium's 1.7-2.2 us
 * (docs/benchmarks.md), a tenth of verify's checking thread. libsodium's,
 * the same function, serves should OpenSSL fail. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void fetch_sha256(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static int openssl_hash(const unsigned char prev[JCM_HASH_LEN], const void *bytes, size_t n,
                        unsigned char out[JCM_HASH_LEN]) {
  pthread_once(&sha256_once, fetch_sha256);
  EVP_MD_CTX *ctx = sha256_md ? EVP_MD_CTX_new() : NULL;
  unsigned int len = 0;
  int ok = ctx && EVP_DigestInit_ex(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, prev, JCM_HASH_LEN) &&
           EVP_DigestUpdate(ctx, bytes, n) && EVP_DigestFinal_ex(ctx, out, &len) && len == JCM_HASH_LEN;
  EVP_MD_CTX_free(ctx);
  return ok;
}

void jcm__hash_event(const unsigned char prev[JCM_HASH_LEN], const void *bytes, size_t n,
                     unsigned char out[JCM_HASH_LEN]) {
  if (openssl_hash(prev, bytes, n, out)) return;
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  crypto_hash_sha256_update(&h, prev, JCM_HASH_LEN);
  crypto_hash_sha256_update(&h, bytes, n);
  crypto_hash_sha256_final(&h, out);
}

int jcm__journal_head(jcm_store *st, int64_t *seq, unsigned char hash[JCM_HASH_LEN], char time[32]) {
  static const char q[] = "SELECT seq, hash, time FROM journal ORDER BY seq DESC LIMIT 1";
  jcm_stmt *s = db_q(st, q, "");
  if (!s) return -1;
  int rc = db_step(st, s);
  *seq = 0;
  memset(hash, 0, JCM_HASH_LEN);
  if (time) time[0] = 0;
  if (rc == JCM_ROW) {
    *seq = col_int(st, s, 0);
    if (st->ops->column_bytes(s, 1) == JCM_HASH_LEN) memcpy(hash, st->ops->column_blob(s, 1), JCM_HASH_LEN);
    if (time) snprintf(time, 32, "%.31s", col_text(st, s, 2));
  }
  db_reset(st, s);
  return rc == JCM_STEP_ERROR ? -1 : 0;
}

int jcm__journal_append(jcm_ctx *c, const char *cmd, unsigned char hash_out[JCM_HASH_LEN]) {
  int64_t head = 0;
  unsigned char prev[JCM_HASH_LEN];
  char head_time[32];
  if (jcm__journal_head(c->st, &head, prev, head_time) != 0) return jcm__dberr(c, "journal head");
  jcm__format_time(c->j->clock(c->j->clock_ud), c->time);
  /* Journal times never go backwards: another handle or process may have
   * written with a clock ahead of this one, or the clock stepped back. An
   * AEF report's year-end cutoff stops at the first entry past it, and
   * verify refuses a journal whose times go backwards. */
  if (jcm__is_time(head_time) && strcmp(c->time, head_time) < 0) memcpy(c->time, head_time, sizeof c->time);
  c->seq = head + 1;
  const char *time_buf = c->time;
  json_t *ev = json_pack("{s:I,s:s,s:s,s:s,s:s,s:O,s:O}", "seq", (json_int_t)c->seq, "time", time_buf, "actor",
                         c->actor->name, "role", c->actor->role, "cmd", cmd, "args", c->args, "out", c->out);
  char *bytes = ev ? jcm__canonical(ev) : NULL;
  json_decref(ev);
  if (!bytes) {
    jcm__set_check(c->chk, 0, "", "out of memory");
    return JCM_ERROR;
  }
  size_t n = strlen(bytes);
  jcm__hash_event(prev, bytes, n, hash_out);
  static const char q[] = "INSERT INTO journal(seq, time, actor, role, cmd, bytes, prev_hash, hash)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  int rc = db_x(c->st, q, "issssbbb", c->seq, time_buf, c->actor->name, c->actor->role, cmd, bytes, (int)n, prev,
                JCM_HASH_LEN, hash_out, JCM_HASH_LEN);
  free(bytes);
  return rc == 0 ? JCM_OK : jcm__dberr(c, "journal append");
}
