/* Small helpers the modules share: refusals, JSON member access, hex, time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

void jcm__set_check(jcm_check *chk, int code, const char *field, const char *fmt, ...) {
  chk->code = code;
  snprintf(chk->field, sizeof chk->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(chk->message, sizeof chk->message, fmt, ap);
  va_end(ap);
}

int jcm__refuse(jcm_ctx *c, int code, const char *field, const char *fmt, ...) {
  c->chk->code = code;
  snprintf(c->chk->field, sizeof c->chk->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->chk->message, sizeof c->chk->message, fmt, ap);
  va_end(ap);
  return JCM_REFUSED;
}

int jcm__dberr(jcm_ctx *c, const char *where) {
  jcm__set_check(c->chk, 0, "", "store error in %s: %s", where, c->st->ops->errmsg(c->st));
  return JCM_ERROR;
}

const char *jcm__s(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int jcm__is(json_t *o, const char *key, const char *value) {
  const char *v = jcm__s(o, key);
  return v && strcmp(v, value) == 0;
}

int64_t jcm__i(json_t *o, const char *key, int64_t dflt) {
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

void jcm__hex(const unsigned char *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

/* Canonical JSON (what json_dumps gives with sorted keys, compact, ASCII),
 * written directly for the values commands hold: objects, arrays, integers,
 * true/false/null and strings of printable ASCII, where jansson escapes only
 * '"' and '\\'. Anything else (reals, other bytes in a string or a key,
 * deep nesting) makes the writer give up and json_dumps do the whole value,
 * so the bytes are always json_dumps's. json_dumps was a tenth of a transfer
 * and the largest part of appending an event. */
typedef struct {
  char *p;
  size_t n, cap;
  int bad;
} canon_buf;

typedef struct {
  const char *key;
  size_t len;
  json_t *value;
} canon_member;

static void canon_put(canon_buf *b, const char *s, size_t n) {
  if (b->bad) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->n + n + 1 > cap)
      cap *= 2;
    char *g = realloc(b->p, cap);
    if (!g) {
      b->bad = 1;
      return;
    }
    b->p = g;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

size_t jcm__copy(char *out, size_t n, const char *s) {
  if (n == 0) return 0;
  size_t len = s ? strnlen(s, n - 1) : 0;
  if (len) memcpy(out, s, len);
  out[len] = 0;
  return len;
}

size_t jcm__itoa(int64_t v, char out[24]) {
  char tmp[24];
  size_t n = 0;
  /* unsigned: the magnitude of INT64_MIN does not fit an int64_t */
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  size_t k = 0;
  if (v < 0) out[k++] = '-';
  while (n)
    out[k++] = tmp[--n];
  out[k] = 0;
  return k;
}

static void canon_string(canon_buf *b, const char *s, size_t n) {
  size_t run = 0;
  canon_put(b, "\"", 1);
  for (size_t i = 0; i < n && !b->bad; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch > 0x7e) {
      b->bad = 1;
    } else if (ch == '"' || ch == '\\') {
      canon_put(b, s + run, i - run);
      canon_put(b, "\\", 1);
      run = i;
    }
  }
  canon_put(b, s + run, n - run);
  canon_put(b, "\"", 1);
}

static int canon_member_cmp(const void *x, const void *y) {
  const canon_member *a = x, *b = y;
  int r = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
  if (r) return r;
  return a->len < b->len ? -1 : a->len > b->len;
}

static void canon_value(canon_buf *b, json_t *v, int depth) {
  if (b->bad) return;
  if (depth > 32) {
    b->bad = 1;
    return;
  }
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    size_t n = json_object_size(v), i = 0;
    canon_member small[16], *m = n <= 16 ? small : malloc(n * sizeof *m);
    if (!m) {
      b->bad = 1;
      return;
    }
    const char *key;
    json_t *x;
    void *it;
    for (it = json_object_iter(v); it && i < n; it = json_object_iter_next(v, it), i++) {
      key = json_object_iter_key(it);
      x = json_object_iter_value(it);
      m[i] = (canon_member){key, json_object_iter_key_len(it), x};
    }
    /* most objects have a handful of members: sorted by insertion, as
     * qsort's indirect calls were most of writing a small answer */
    if (i > 16) qsort(m, i, sizeof *m, canon_member_cmp);
    for (size_t k = 1; k < i && i <= 16; k++)
      for (size_t h = k; h > 0 && canon_member_cmp(&m[h - 1], &m[h]) > 0; h--) {
        canon_member t = m[h];
        m[h] = m[h - 1], m[h - 1] = t;
      }
    canon_put(b, "{", 1);
    for (size_t k = 0; k < i; k++) {
      if (k) canon_put(b, ",", 1);
      canon_string(b, m[k].key, m[k].len);
      canon_put(b, ":", 1);
      canon_value(b, m[k].value, depth + 1);
    }
    canon_put(b, "}", 1);
    if (m != small) free(m);
    break;
  }
  case JSON_ARRAY: {
    canon_put(b, "[", 1);
    for (size_t k = 0; k < json_array_size(v); k++) {
      if (k) canon_put(b, ",", 1);
      canon_value(b, json_array_get(v, k), depth + 1);
    }
    canon_put(b, "]", 1);
    break;
  }
  case JSON_STRING: canon_string(b, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: {
    char num[24];
    canon_put(b, num, jcm__itoa(json_integer_value(v), num));
    break;
  }
  case JSON_TRUE: canon_put(b, "true", 4); break;
  case JSON_FALSE: canon_put(b, "false", 5); break;
  case JSON_NULL: canon_put(b, "null", 4); break;
  default: b->bad = 1; /* reals: json_dumps's own formatting */
  }
}

/* The writer's text, or NULL where it gives up. */
static char *canon_try(json_t *v) {
  canon_buf b = {0};
  if (v) canon_value(&b, v, 0);
  if (v && !b.bad) {
    canon_put(&b, "", 0);
    if (!b.bad) {
      b.p[b.n] = 0;
      return b.p;
    }
  }
  free(b.p);
  return NULL;
}

char *jcm__canonical(json_t *v) {
  char *t = canon_try(v);
  return t ? t : json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
}

char *jcm__compact(json_t *v) {
  char *t = canon_try(v);
  return t ? t : json_dumps(v, JSON_COMPACT);
}

/* ---- reading what the writer wrote ----
 * json_loadb takes 7 to 10 µs for a transfer's event (its lexer passes
 * each byte through a stream), half of verify's checking thread. This
 * reader takes only the writer's form: no whitespace, keys in strictly
 * ascending order and without escapes, strings of printable ASCII with
 * only '"' and '\\' escaped, integers of at most 18 digits without leading
 * zeros, true/false/null, nesting no deeper than the writer's, an object or an
 * array outside. On anything else it gives up and json_loadb reads the
 * bytes, so what it accepts is what json_loadb reads to an equal value
 * (test_journal checks it over random values and altered bytes), and a
 * duplicate key is never among it. */
typedef struct {
  const char *p, *end;
} canon_in;

static json_t *canon_read_value(canon_in *in, int depth);

/* The string at in->p: its bytes (escapes included) and whether it has any. */
static int canon_read_span(canon_in *in, const char **s, size_t *n, int *escaped) {
  if (in->p >= in->end || *in->p != '"') return -1;
  const char *b = ++in->p;
  *escaped = 0;
  while (in->p < in->end && *in->p != '"') {
    unsigned char ch = (unsigned char)*in->p;
    if (ch < 0x20 || ch > 0x7e) return -1;
    if (ch == '\\') {
      if (in->p + 1 >= in->end || (in->p[1] != '"' && in->p[1] != '\\')) return -1;
      *escaped = 1;
      in->p++;
    }
    in->p++;
  }
  if (in->p >= in->end) return -1;
  *s = b;
  *n = (size_t)(in->p++ - b);
  return 0;
}

static json_t *canon_read_string(canon_in *in) {
  const char *s;
  size_t n;
  int escaped;
  if (canon_read_span(in, &s, &n, &escaped) != 0) return NULL;
  if (!escaped) return json_stringn_nocheck(s, n);
  char *t = malloc(n), *o = t;
  if (!t) return NULL;
  for (size_t i = 0; i < n; i++)
    *o++ = s[i] == '\\' ? s[++i] : s[i];
  json_t *v = json_stringn_nocheck(t, (size_t)(o - t));
  free(t);
  return v;
}

static json_t *canon_read_integer(canon_in *in) {
  int neg = *in->p == '-';
  const char *d = in->p + neg, *q = d;
  int64_t v = 0;
  while (q < in->end && *q >= '0' && *q <= '9' && q - d < 18) /* no overflow */
    v = v * 10 + (*q++ - '0');
  size_t len = (size_t)(q - d);
  /* "-0", leading zeros; a 19th digit, a fraction or an exponent follows */
  if (len == 0 || (*d == '0' && (len > 1 || neg))) return NULL;
  if (q < in->end && *q != ',' && *q != '}' && *q != ']') return NULL;
  in->p = q;
  return json_integer(neg ? -v : v);
}

static json_t *canon_read_word(canon_in *in) {
  static const char *const words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if ((size_t)(in->end - in->p) >= n && memcmp(in->p, words[i], n) == 0) {
      in->p += n;
      return i == 0 ? json_true() : i == 1 ? json_false() : json_null();
    }
  }
  return NULL;
}

/* 1 when key a (n bytes) sorts strictly before key b (m bytes) */
static int canon_key_before(const char *a, size_t n, const char *b, size_t m) {
  int r = memcmp(a, b, n < m ? n : m);
  return r < 0 || (r == 0 && n < m);
}

static json_t *canon_read_object(canon_in *in, int depth) {
  json_t *o = json_object();
  const char *prev = NULL;
  size_t prev_n = 0;
  in->p++;
  if (o && in->p < in->end && *in->p == '}') return in->p++, o;
  while (o) {
    const char *k;
    size_t kn;
    int escaped;
    if (canon_read_span(in, &k, &kn, &escaped) != 0 || escaped || (prev && !canon_key_before(prev, prev_n, k, kn)) ||
        in->p >= in->end || *in->p++ != ':')
      break;
    json_t *v = canon_read_value(in, depth + 1);
    if (!v || json_object_setn_new_nocheck(o, k, kn, v) != 0) break;
    prev = k, prev_n = kn;
    if (in->p < in->end && *in->p == '}') return in->p++, o;
    if (in->p >= in->end || *in->p++ != ',') break;
  }
  json_decref(o);
  return NULL;
}

static json_t *canon_read_array(canon_in *in, int depth) {
  json_t *a = json_array();
  in->p++;
  if (a && in->p < in->end && *in->p == ']') return in->p++, a;
  while (a) {
    json_t *v = canon_read_value(in, depth + 1);
    if (!v || json_array_append_new(a, v) != 0) break;
    if (in->p < in->end && *in->p == ']') return in->p++, a;
    if (in->p >= in->end || *in->p++ != ',') break;
  }
  json_decref(a);
  return NULL;
}

static json_t *canon_read_value(canon_in *in, int depth) {
  if (in->p >= in->end || depth > 32) return NULL;
  char ch = *in->p;
  if (ch == '{') return canon_read_object(in, depth);
  if (ch == '[') return canon_read_array(in, depth);
  if (ch == '"') return canon_read_string(in);
  if (ch == '-' || (ch >= '0' && ch <= '9')) return canon_read_integer(in);
  return canon_read_word(in);
}

json_t *jcm__read_canonical_only(const void *bytes, size_t n) {
  canon_in in = {bytes, (const char *)bytes + n};
  if (!n || (*in.p != '{' && *in.p != '[')) return NULL;
  json_t *v = canon_read_value(&in, 0);
  if (v && in.p != in.end) {
    json_decref(v);
    v = NULL;
  }
  return v;
}

json_t *jcm__read_canonical(const void *bytes, size_t n) {
  json_t *v = jcm__read_canonical_only(bytes, n);
  return v ? v : json_loadb(bytes, n, JSON_REJECT_DUPLICATES, NULL);
}

static char *put_digits(char *p, int v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + width;
}

int jcm__is_time(const char *s) {
  static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (!s || strlen(s) != sizeof form - 1) return 0;
  for (size_t i = 0; form[i]; i++)
    if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != form[i]) return 0;
  return 1;
}

/* 2026-11-28T15:15:57.123Z; digits written directly (snprintf was a tenth of
 * a token check), snprintf only for years outside 0..9999. */
void jcm__format_time(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  int year = tm.tm_year + 1900, milli = (int)(ms % 1000);
  if (year < 0 || year > 9999 || milli < 0) {
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, milli);
    memcpy(out, buf, 31);
    out[31] = 0;
    return;
  }
  char *p = put_digits(out, year, 4);
  *p++ = '-';
  p = put_digits(p, tm.tm_mon + 1, 2);
  *p++ = '-';
  p = put_digits(p, tm.tm_mday, 2);
  *p++ = 'T';
  p = put_digits(p, tm.tm_hour, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_min, 2);
  *p++ = ':';
  p = put_digits(p, tm.tm_sec, 2);
  *p++ = '.';
  p = put_digits(p, milli, 3);
  *p++ = 'Z';
  *p = 0;
}

unsigned jcm__role_bit(const char *role) {
  static const struct {
    const char *name;
    unsigned bit;
  } roles[] = {{"admin", R_ADMIN},     {"jc_secretariat", R_JCS}, {"holder", R_HOLDER}, {"tpe", R_TPE},
               {"auditor", R_AUDITOR}, {"peer", R_PEER},          {"server", R_SERVER}};
  for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
    if (strcmp(role, roles[i].name) == 0) return roles[i].bit;
  return 0;
}

/* A holder acts as its organisation; a named user of it as "ORG/USER", so
 * the journal says who while the holder checks still see the organisation. */
void jcm__actor_org(const jcm_actor *a, char out[72]) {
  const char *name = a && a->name ? a->name : "";
  size_t n = strcspn(name, "/");
  snprintf(out, 72, "%.*s", (int)(n < 71 ? n : 71), name);
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* A real calendar date in YYYY-MM-DD, years 1900..9999. */
int jcm__date_valid(const char *s) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
  int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  int m = (s[5] - '0') * 10 + (s[6] - '0');
  int d = (s[8] - '0') * 10 + (s[9] - '0');
  if (y < 1900 || m < 1 || m > 12 || d < 1) return 0;
  int max = days[m - 1] + (m == 2 && leap(y));
  return d <= max;
}

int jcm__year_of(const char *date) {
  return (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 + (date[3] - '0');
}

/* A non-negative decimal text with at most `places` decimals, as an integer
 * scaled by 10^places ("7105.25", 3 -> 7105250). -1 on bad form or overflow. */
int jcm__decimal(const char *s, int places, int64_t *out) {
  int64_t v = 0;
  int decimals = -1;
  if (!s || !*s || *s == '.') return -1;
  for (; *s; s++) {
    if (*s == '.' && decimals < 0) {
      decimals = 0;
      continue;
    }
    if (*s < '0' || *s > '9' || decimals >= places) return -1;
    if (v > (INT64_MAX - (*s - '0')) / 10) return -1;
    v = v * 10 + (*s - '0');
    if (decimals >= 0) decimals++;
  }
  if (decimals == 0) return -1; /* "12." */
  for (int k = decimals < 0 ? 0 : decimals; k < places; k++) {
    if (v > INT64_MAX / 10) return -1;
    v *= 10;
  }
  *out = v;
  return 0;
}

/* ---- jcm_ix ---- */

static size_t key_hash(const char *key, size_t len) { /* FNV-1a */
  size_t h = 14695981039346656037u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)key[i]) * 1099511628211u;
  return h;
}

/* The slot of key in ix: where it is, or the empty slot where it would go. */
static jcm_ix_entry *ix_slot(const jcm_ix *ix, const char *key, size_t len) {
  size_t mask = ix->cap - 1, i = key_hash(key, len) & mask;
  while (ix->e[i].key && (ix->e[i].len != len || memcmp(ix->e[i].key, key, len) != 0))
    i = (i + 1) & mask;
  return &ix->e[i];
}

const jcm_ix_entry *jcm__ix_get(const jcm_ix *ix, const char *key, size_t len) {
  if (!key || !ix->cap) return NULL;
  const jcm_ix_entry *x = ix_slot(ix, key, len);
  return x->key ? x : NULL;
}

int64_t jcm__ix_find(const jcm_ix *ix, const char *key, size_t len) {
  const jcm_ix_entry *x = jcm__ix_get(ix, key, len);
  return x ? x->item : -1;
}

int jcm__ix_put(jcm_ix *ix, const char *key, size_t len, int64_t item) {
  if (2 * (ix->n + 1) > ix->cap) {
    size_t cap = ix->cap ? ix->cap * 2 : 1024;
    jcm_ix grown = {calloc(cap, sizeof(jcm_ix_entry)), cap, ix->n};
    if (!grown.e) return -1;
    for (size_t i = 0; i < ix->cap; i++)
      if (ix->e[i].key) *ix_slot(&grown, ix->e[i].key, ix->e[i].len) = ix->e[i];
    free(ix->e);
    *ix = grown;
  }
  jcm_ix_entry *x = ix_slot(ix, key, len);
  if (!x->key) ix->n++;
  *x = (jcm_ix_entry){key, len, item};
  return 0;
}

void jcm__ix_free(jcm_ix *ix) {
  free(ix->e);
  *ix = (jcm_ix){0};
}
