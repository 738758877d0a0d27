/*
 * A SHA-256 digest of a table as verify compares it: its column names, then
 * each row's values in order, each value tagged with its type. Two tables
 * have the same digest exactly when verify's row-by-row comparison finds
 * them equal (same names, same types, same integers, same bytes), short of a
 * SHA-256 collision, which a store's tamperer cannot make either. Values are
 * gathered in a buffer and hashed in large pieces: a hash call per value
 * cost more than the hashing.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define DIGEST_BUFFER (1 << 16)

struct jcm_digest {
  EVP_MD_CTX *ctx;
  int failed, started;
  size_t used;
  unsigned char buf[DIGEST_BUFFER];
};

enum { TAG_NAMES = 0xf0, TAG_ROW = 0xf1 };

jcm_digest *jcm__digest_new(void) {
  jcm_digest *d = malloc(sizeof *d);
  if (!d) return NULL;
  d->ctx = EVP_MD_CTX_new();
  if (!d->ctx) {
    free(d);
    return NULL;
  }
  d->failed = d->started = 0;
  d->used = 0;
  return d;
}

void jcm__digest_free(jcm_digest *d) {
  if (!d) return;
  EVP_MD_CTX_free(d->ctx);
  free(d);
}

static void flush(jcm_digest *d) {
  if (!d->started) {
    d->started = 1;
    if (!EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL)) d->failed = 1;
  }
  if (d->used && !d->failed && !EVP_DigestUpdate(d->ctx, d->buf, d->used)) d->failed = 1;
  d->used = 0;
}

static void put(jcm_digest *d, const void *p, size_t n) {
  if (d->used + n > DIGEST_BUFFER) flush(d);
  if (n > DIGEST_BUFFER) { /* a value larger than the buffer goes straight in */
    if (!d->failed && !EVP_DigestUpdate(d->ctx, p, n)) d->failed = 1;
    return;
  }
  memcpy(d->buf + d->used, p, n);
  d->used += n;
}

static void put_int(jcm_digest *d, uint64_t v) {
  unsigned char b[8];
  for (int k = 0; k < 8; k++)
    b[k] = (unsigned char)(v >> (8 * k));
  put(d, b, sizeof b);
}

void jcm__digest_value(jcm_digest *d, int type, int64_t i, const void *p, size_t n) {
  unsigned char tag = (unsigned char)type;
  put(d, &tag, 1);
  if (type == JCM_NULL) return;
  if (type == JCM_INT) {
    put_int(d, (uint64_t)i);
    return;
  }
  put_int(d, n);
  if (n) put(d, p, n);
}

static void names_begin(jcm_digest *d, int cols) {
  unsigned char tag = TAG_NAMES;
  put(d, &tag, 1);
  put_int(d, (uint64_t)cols);
}

void jcm__digest_name_list(jcm_digest *d, const char *const *names, int cols) {
  names_begin(d, cols);
  for (int i = 0; i < cols; i++)
    jcm__digest_value(d, JCM_TEXT, 0, names[i], strlen(names[i]));
}

void jcm__digest_names(jcm_digest *d, jcm_store *st, jcm_stmt *s) {
  int cols = st->ops->column_count(s);
  names_begin(d, cols);
  for (int i = 0; i < cols; i++) {
    const char *name = st->ops->column_name(s, i);
    jcm__digest_value(d, JCM_TEXT, 0, name, strlen(name));
  }
}

void jcm__digest_row_begin(jcm_digest *d) {
  unsigned char tag = TAG_ROW;
  put(d, &tag, 1);
}

/* Each value read once, in its own type: as verify's comparison reads it
 * (a text read as an integer would be converted in place). */
void jcm__digest_row(jcm_digest *d, jcm_store *st, jcm_stmt *s) {
  int cols = st->ops->column_count(s);
  jcm__digest_row_begin(d);
  for (int i = 0; i < cols; i++) {
    int type = st->ops->column_type(s, i);
    if (type == JCM_NULL)
      jcm__digest_value(d, type, 0, NULL, 0);
    else if (type == JCM_INT)
      jcm__digest_value(d, type, col_int(st, s, i), NULL, 0);
    else {
      const void *p = type == JCM_TEXT ? (const void *)st->ops->column_text(s, i) : st->ops->column_blob(s, i);
      jcm__digest_value(d, type, 0, p, (size_t)st->ops->column_bytes(s, i));
    }
  }
}

int jcm__digest_end(jcm_digest *d, unsigned char out[JCM_HASH_LEN]) {
  flush(d);
  unsigned len = 0;
  int ok = !d->failed && EVP_DigestFinal_ex(d->ctx, out, &len) && len == JCM_HASH_LEN;
  d->failed = d->started = 0;
  d->used = 0;
  return ok ? 0 : -1;
}
