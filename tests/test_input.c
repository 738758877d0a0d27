/*
 * Bad input never crashes the library and never changes the store.
 *
 * Every case submits something malformed, mistyped, out of range, too long,
 * unknown or conflicting, asserts the refusal's code and field, and asserts
 * that t_dump() of the store is byte-for-byte what it was. Texts are passed
 * to jcm_submit_text() in heap buffers of exactly their length, without a
 * terminating NUL, so that a read past the end shows under AddressSanitizer.
 * Mismatches are printed and counted so one case does not hide the others;
 * each test fails at its end, after jcm_verify() has checked the store.
 *
 * The field-by-field cases are generated from the command table (lib/spec.c):
 * every required field missing, every field of every command given a value
 * of each wrong type, an unknown field on every command.
 *
 * Tests named regression_* reproduce library bugs (see the comment on each); they
 * guard the fixes. A case that crashes runs in a child
 * process (run_isolated) so the crash is reported without killing the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checks.h"
#include "spec.h"
#include "support.h"

static void make_account(const char *registry, int type, int seq, char out[32]) {
  t_account_id(registry, type, seq, out);
}

/* ---- the world: a store with units, and text tokens ---- */

typedef struct world {
  char path[512];
  jcm *j;
  t_accounts a;
  char unknown[32], foreign[32];
  char *base;
  int failures, cases;
} world;

static const char *token(const world *w, char t) {
  switch (t) {
  case 'A': return w->a.hold_a;
  case 'B': return w->a.hold_b;
  case 'G': return w->a.gov;
  case 'C': return w->a.cancel;
  case 'R': return w->a.retire;
  case 'N': return w->unknown;
  case 'F': return w->foreign;
  default: return NULL;
  }
}

static const char *token_of(const void *w, char t) { return token((const world *)w, t); }

/* Replaces @X tokens (see token()) in tmpl; malloc'd. */
static char *expand(const world *w, const char *tmpl) { return t_expand(tmpl, token_of, w); }

static void rebase(world *w) {
  free(w->base);
  w->base = t_dump(w->path);
}

/* A registry (t_registry) whose 2021 period is issued: gov holds serials
 * 1-600, hold_a 601-1000. The 2023 period of TH014 is verified (500). */
static void world_open(world *w, const char *name) {
  memset(w, 0, sizeof *w);
  t_db_path(w->path, sizeof w->path, name);
  w->j = t_registry(w->path, &w->a);
  const char *accts[] = {w->a.gov, w->a.hold_a, NULL};
  const int64_t qty[] = {600, 400};
  assert_int_equal(t_issue(w->j, 2021, 1000, 1000, accts, qty), JCM_OK);
  int code = 0;
  assert_int_equal(t_submit(w->j, &T_JCS,
                            "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
                            "\"last_day\":\"2023-12-31\",\"calculated\":500}",
                            &code, NULL),
                   JCM_OK);
  assert_int_equal(t_submit(w->j, &T_TPE,
                            "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
                            "\"last_day\":\"2023-12-31\",\"verified\":500,\"report\":\"v\"}",
                            &code, NULL),
                   JCM_OK);
  make_account("THA01", 100, 999999, w->unknown);
  make_account("JPN01", 100, 1, w->foreign);
  rebase(w);
}

static void world_close(world *w) {
  print_message("%d cases, %d failed\n", w->cases, w->failures);
  json_t *report = NULL;
  int rc = w->j ? jcm_verify(w->j, &report) : JCM_ERROR;
  if (rc != JCM_OK) {
    char *s = json_dumps(report, JSON_INDENT(2));
    fprintf(stderr, "verify failed: %s\n", s ? s : "(no report)");
    free(s);
  }
  json_decref(report);
  jcm_close(w->j);
  free(w->base);
  w->base = NULL;
  assert_int_equal(rc, JCM_OK);
}

static void check_unchanged(world *w, const char *label) {
  char *now = t_dump(w->path);
  if (strcmp(now, w->base) != 0) {
    fprintf(stderr, "FAIL [%s]: the refused input changed the store\n", label);
    w->failures++;
    free(w->base);
    w->base = now;
  } else {
    free(now);
  }
}

/* Checks a result against the expected refusal; code -1: any refusal. */
static void judge(world *w, const char *label, int rc, json_t *r, int code, const char *field, const char *shown) {
  w->cases++;
  json_t *err = json_object_get(r, "error");
  int got = (int)json_integer_value(json_object_get(err, "code"));
  const char *f = json_string_value(json_object_get(err, "field"));
  const char *m = json_string_value(json_object_get(err, "message"));
  int ok = rc == JCM_REFUSED && json_is_false(json_object_get(r, "ok")) && m && m[0] && f &&
           (code < 0 ? got > 0 : got == code && strcmp(f, field) == 0);
  if (!ok) {
    fprintf(stderr, "FAIL [%s]: want refusal %d field '%s', got rc %d code %d field '%s' (%s)\n  input: %.200s\n",
            label, code, field ? field : "*", rc, got, f ? f : "(none)", m ? m : "(none)", shown ? shown : "");
    w->failures++;
  }
}

/* Submits len bytes of text (copied to a buffer of exactly len bytes). */
static void refuse_bytes(world *w, const char *label, const jcm_actor *actor, const char *text, size_t len, int code,
                         const char *field) {
  char *exact = malloc(len ? len : 1);
  assert_non_null(exact);
  memcpy(exact, text, len);
  json_t *r = NULL;
  int rc = jcm_submit_text(w->j, exact, len, actor ? actor : &T_ADMIN, &r);
  free(exact);
  judge(w, label, rc, r, code, field, text);
  json_decref(r);
  check_unchanged(w, label);
}

static const jcm_actor *allowed(const cmd_spec *s);

/* As an actor the command allows, so that the refusal is validation's. */
static void refuse(world *w, const char *label, const char *tmpl, int code, const char *field) {
  char *text = expand(w, tmpl);
  json_t *v = json_loads(text, 0, NULL);
  const cmd_spec *s = jcm__spec_find(json_string_value(json_object_get(v, "cmd")));
  json_decref(v);
  refuse_bytes(w, label, s ? allowed(s) : NULL, text, strlen(text), code, field);
  free(text);
}

/* Submits cmd (a JSON value, reference kept by the caller). */
static void refuse_json(world *w, const char *label, const jcm_actor *actor, json_t *cmd, int code, const char *field) {
  json_t *r = NULL;
  int rc = jcm_submit(w->j, cmd, actor ? actor : &T_ADMIN, &r);
  char *shown = json_dumps(cmd, JSON_ENCODE_ANY | JSON_COMPACT);
  judge(w, label, rc, r, code, field, shown);
  free(shown);
  json_decref(r);
  check_unchanged(w, label);
}

static json_t *accept(world *w, const jcm_actor *actor, const char *tmpl) {
  char *text = expand(w, tmpl);
  json_t *r = NULL;
  int rc = jcm_submit_text(w->j, text, strlen(text), actor ? actor : &T_ADMIN, &r);
  if (rc != JCM_OK) {
    char *s = json_dumps(r, 0);
    fprintf(stderr, "command refused: %s\n  -> %s\n", text, s);
    free(s);
  }
  free(text);
  assert_int_equal(rc, JCM_OK);
  return r;
}

static json_t *parse(world *w, const char *tmpl) {
  char *text = expand(w, tmpl);
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
  free(text);
  assert_non_null(v);
  return v;
}

static int64_t journal_length(jcm *j) {
  json_t *r = NULL;
  jcm_check chk;
  assert_int_equal(jcm_query(j, "head", NULL, &r, &chk), JCM_OK);
  int64_t seq = (int64_t)json_integer_value(json_object_get(r, "seq"));
  json_decref(r);
  return seq;
}

static char *repeat(const char *unit, size_t times) {
  size_t n = strlen(unit);
  char *s = malloc(n * times + 1);
  assert_non_null(s);
  for (size_t i = 0; i < times; i++)
    memcpy(s + i * n, unit, n);
  s[n * times] = 0;
  return s;
}

/* printf into a malloc'd string */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  assert_true(n >= 0);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

/* ---- running something that may crash in a child process ---- */

typedef t_outcome outcome;
typedef t_isolated_fn isolated_fn;

static int run_isolated(world *w, isolated_fn fn, const void *ud, outcome *o, char *how, size_t n) {
  return t_run_isolated(&w->j, w->path, fn, ud, o, how, n);
}

static const char *sample(const char *cmd) { return t_sample(cmd); }

/* A valid item of each list of objects. */
static const char *list_item(const char *field) {
  if (strcmp(field, "allocation") == 0) return "{\"account\":\"@A\",\"quantity\":1}";
  if (strcmp(field, "participants") == 0) return "{\"org\":\"org-a\",\"side\":\"THA\"}";
  if (strcmp(field, "ranges") == 0) return "{\"first\":601,\"last\":601}";
  return NULL;
}

/* An actor the command's spec allows (a role that may not submit the
 * command is refused before validation). */
static const jcm_actor *allowed(const cmd_spec *s) {
  static const jcm_actor peer = {"peer", "peer"}, server = {"jcm-serve", "server"};
  if (s->roles & R_ADMIN) return &T_ADMIN;
  if (s->roles & R_JCS) return &T_JCS;
  if (s->roles & R_SERVER) return &server;
  return s->roles & R_TPE ? &T_TPE : &peer;
}

/* Values of each wrong type for a field of type t. */
static json_t *wrong_value(field_type t, int which) {
  switch (t) {
  case F_INT:
    switch (which) {
    case 0: return json_string("7");
    case 1: return json_real(7.0);
    case 2: return json_true();
    case 3: return json_object();
    case 4: return json_array();
    default: return NULL;
    }
  case F_ARRAY:
  case F_IDS:
    switch (which) {
    case 0: return json_string("x");
    case 1: return json_integer(7);
    case 2: return json_false();
    case 3: return json_object();
    default: return NULL;
    }
  default:
    switch (which) {
    case 0: return json_integer(7);
    case 1: return json_real(1.5);
    case 2: return json_true();
    case 3: return json_object();
    case 4: return json_pack("[s]", "x");
    default: return NULL;
    }
  }
}

/* ---- malformed JSON ---- */

#define LIT(s) s, sizeof(s) - 1

static void malformed_json(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-malformed");
  static const struct {
    const char *label, *text;
    size_t len; /* of text, which may hold NUL bytes */
    int code;
  } cases[] = {
      {"empty", LIT(""), C_MALFORMED},
      {"white space only", LIT(" \n\t "), C_MALFORMED},
      {"open brace", LIT("{"), C_MALFORMED},
      {"truncated member", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"na"), C_MALFORMED},
      {"truncated string", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x"), C_MALFORMED},
      {"truncated after colon", LIT("{\"cmd\":"), C_MALFORMED},
      {"missing closing brace", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\""),
       C_MALFORMED},
      {"trailing garbage", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"} garbage"),
       C_MALFORMED},
      {"trailing brace", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}}"),
       C_MALFORMED},
      {"two objects", LIT("{\"cmd\":\"org.add\"}{\"cmd\":\"org.add\"}"), C_MALFORMED},
      {"trailing comma", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",}"), C_MALFORMED},
      {"single quotes", LIT("{'cmd':'org.add'}"), C_MALFORMED},
      {"unquoted key", LIT("{cmd:\"org.add\"}"), C_MALFORMED},
      {"comment", LIT("{\"cmd\":\"org.add\" /* c */}"), C_MALFORMED},
      {"NaN", LIT("{\"cmd\":\"transfer\",\"quantity\":NaN}"), C_MALFORMED},
      {"Infinity", LIT("{\"cmd\":\"transfer\",\"quantity\":Infinity}"), C_MALFORMED},
      {"hex number", LIT("{\"cmd\":\"transfer\",\"quantity\":0x10}"), C_MALFORMED},
      {"leading zero", LIT("{\"cmd\":\"transfer\",\"quantity\":010}"), C_MALFORMED},
      {"plus sign", LIT("{\"cmd\":\"transfer\",\"quantity\":+1}"), C_MALFORMED},
      {"byte order mark", LIT("\xef\xbb\xbf{\"cmd\":\"org.add\"}"), C_MALFORMED},
      {"a number", LIT("42"), C_MALFORMED},
      {"a string", LIT("\"org.add\""), C_MALFORMED},
      {"null", LIT("null"), C_MALFORMED},
      {"true", LIT("true"), C_MALFORMED},
      {"an empty array", LIT("[]"), C_TYPE},
      {"an array of the command", LIT("[{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}]"),
       C_TYPE},
      {"NUL byte inside a string", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a\0b\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"NUL byte after the object", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}\0"),
       C_MALFORMED},
      {"NUL byte first", LIT("\0{\"cmd\":\"org.add\"}"), C_MALFORMED},
      {"escaped NUL", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a\\u0000b\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"raw control character", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a\x01z\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"raw newline in a string", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a\nb\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"invalid UTF-8 byte", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\xff\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"overlong UTF-8", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\xc0\xaf\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"UTF-8 surrogate", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\xed\xa0\x80\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"truncated UTF-8", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\xe6\x97\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"UTF-8 beyond U+10FFFF",
       "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\xf4\x90\x80\x80\",\"country\":\"THA\"}", 0, C_MALFORMED},
      {"invalid UTF-8 in a key", LIT("{\"cmd\":\"org.add\",\"\xfe\":1}"), C_MALFORMED},
      {"lone surrogate escape", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\\ud800\",\"country\":\"THA\"}"),
       C_MALFORMED},
      {"bad escape", LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\\x41\",\"country\":\"THA\"}"), C_MALFORMED},
      {"duplicate key",
       LIT("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"id\":\"org-y\",\"name\":\"X\",\"country\":\"THA\"}"), C_MALFORMED},
      {"duplicate cmd",
       LIT("{\"cmd\":\"org.add\",\"cmd\":\"init\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}"), C_MALFORMED},
      {"duplicate nested key",
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":601,\"first\":602,\"last\":602}]}",
       0, C_MALFORMED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (memchr(cases[i].text, '@', cases[i].len)) {
      char *text = expand(&w, cases[i].text);
      refuse_bytes(&w, cases[i].label, NULL, text, strlen(text), cases[i].code, "");
      free(text);
    } else {
      refuse_bytes(&w, cases[i].label, NULL, cases[i].text, cases[i].len, cases[i].code, "");
    }
  }
  /* a NULL text of length 0 */
  {
    json_t *r = NULL;
    int rc = jcm_submit_text(w.j, NULL, 0, &T_ADMIN, &r);
    judge(&w, "NULL text", rc, r, C_MALFORMED, "", "NULL");
    json_decref(r);
    check_unchanged(&w, "NULL text");
  }
  /* 10,000 levels of nesting, in several shapes */
  enum { DEPTH = 10000 };
  char *open = repeat("[", DEPTH), *close = repeat("]", DEPTH);
  char *t = fmt("%s%s", open, close);
  refuse_bytes(&w, "10,000 nested arrays", NULL, t, strlen(t), C_MALFORMED, "");
  free(t);
  refuse_bytes(&w, "10,000 unclosed arrays", NULL, open, strlen(open), C_MALFORMED, "");
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":%s%s,\"country\":\"THA\"}", open, close);
  refuse_bytes(&w, "10,000 nested arrays as a field", NULL, t, strlen(t), C_MALFORMED, "");
  free(t);
  char *objs = repeat("{\"a\":", DEPTH), *objs_end = repeat("}", DEPTH);
  t = fmt("{\"cmd\":\"org.add\",\"x\":%s1%s}", objs, objs_end);
  refuse_bytes(&w, "10,000 nested objects", NULL, t, strlen(t), C_MALFORMED, "");
  free(t);
  free(objs);
  free(objs_end);
  free(open);
  free(close);
  /* a megabyte of nothing but brackets and commas */
  char *junk = repeat("[,", 512 * 1024);
  refuse_bytes(&w, "1 MB of junk", NULL, junk, strlen(junk), C_MALFORMED, "");
  free(junk);
  /* a real too large to be a double: refused, whether as malformed or as a number out of range */
  refuse(&w, "1e400 quantity", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1e400}", -1, NULL);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* JSON values built in memory (jcm_submit), including shapes the parser
 * would reject: 10,000-deep nesting, non-object commands. */
static json_t *deep_array(int depth) {
  json_t *v = json_array();
  for (int i = 1; i < depth; i++) {
    json_t *outer = json_array();
    json_array_append_new(outer, v);
    v = outer;
  }
  return v;
}

static void json_values(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-values");
  refuse_json(&w, "NULL command", NULL, NULL, C_TYPE, "");
  json_t *v = json_array();
  refuse_json(&w, "array command", NULL, v, C_TYPE, "");
  json_decref(v);
  v = json_string("org.add");
  refuse_json(&w, "string command", NULL, v, C_TYPE, "");
  json_decref(v);
  v = json_integer(1);
  refuse_json(&w, "integer command", NULL, v, C_TYPE, "");
  json_decref(v);
  v = json_null();
  refuse_json(&w, "null command", NULL, v, C_TYPE, "");
  v = json_object();
  refuse_json(&w, "empty object", NULL, v, C_MISSING, "cmd");
  json_decref(v);
  v = json_pack("{s:n}", "cmd");
  refuse_json(&w, "cmd null", NULL, v, C_TYPE, "cmd");
  json_decref(v);
  v = json_pack("{s:s}", "cmd", "");
  refuse_json(&w, "cmd empty", NULL, v, C_UNKNOWN_CMD, "cmd");
  json_decref(v);
  v = json_pack("{s:s}", "cmd", "ORG.ADD");
  refuse_json(&w, "cmd upper case", NULL, v, C_UNKNOWN_CMD, "cmd");
  json_decref(v);

  enum { DEPTH = 10000 };
  json_t *org = parse(&w, "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\"}");
  json_object_set_new(org, "name", deep_array(DEPTH));
  refuse_json(&w, "deep array as a text", NULL, org, C_TYPE, "name");
  json_object_set_new(org, "name", json_string("X"));
  json_object_set_new(org, "deep", deep_array(DEPTH));
  refuse_json(&w, "deep array as an unknown field", NULL, org, C_UNKNOWN_FIELD, "deep");
  json_decref(org);
  json_t *cmd = json_object();
  json_object_set_new(cmd, "cmd", deep_array(DEPTH));
  refuse_json(&w, "deep array as cmd", NULL, cmd, C_TYPE, "cmd");
  json_decref(cmd);
  json_t *issue = parse(&w, sample("issue"));
  json_object_set_new(issue, "allocation", deep_array(DEPTH));
  refuse_json(&w, "deep array as the allocation", NULL, issue, C_TYPE, "allocation[0]");
  json_decref(issue);
  json_t *coop = parse(&w, sample("coop.add"));
  json_object_set_new(coop, "parties", deep_array(DEPTH));
  refuse_json(&w, "deep array as the Parties", NULL, coop, C_TYPE, "parties[0]");
  json_decref(coop);
  json_t *tr = parse(&w, sample("transfer"));
  json_t *deep_obj = json_object();
  for (int i = 1; i < DEPTH; i++)
    deep_obj = json_pack("{s:o}", "first", deep_obj);
  json_object_set_new(tr, "ranges", json_pack("[o]", deep_obj));
  refuse_json(&w, "deep object as a serial", NULL, tr, C_TYPE, "ranges[0].first");
  json_decref(tr);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- generated from the command table ---- */

static void every_field_wrong_type(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-types");
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    const char *tmpl = sample(specs[i].name);
    if (!tmpl) fprintf(stderr, "no sample command for %s\n", specs[i].name);
    assert_non_null(tmpl);
    for (const field_spec *f = specs[i].fields; f->name; f++) {
      for (int which = 0;; which++) {
        json_t *bad = wrong_value(f->type, which);
        if (!bad) break;
        json_t *cmd = parse(&w, tmpl);
        char *shown = json_dumps(bad, JSON_ENCODE_ANY | JSON_COMPACT);
        char label[160];
        snprintf(label, sizeof label, "%s.%s = %s", specs[i].name, f->name, shown);
        free(shown);
        json_object_set_new(cmd, f->name, bad);
        refuse_json(&w, label, allowed(&specs[i]), cmd, C_TYPE, f->name);
        json_decref(cmd);
      }
      /* items of the wrong type in lists */
      if (f->type == F_ARRAY || f->type == F_IDS) {
        static const char *const items[] = {"[1]", "[\"x\"]", "[null]", "[[]]", "[true]"};
        for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
          if (f->type == F_IDS && k == 1) continue; /* a text is the right type there */
          json_t *cmd = parse(&w, tmpl);
          json_object_set_new(cmd, f->name, json_loads(items[k], 0, NULL));
          char label[160], field[80];
          snprintf(label, sizeof label, "%s.%s = %s", specs[i].name, f->name, items[k]);
          snprintf(field, sizeof field, "%s[0]", f->name);
          refuse_json(&w, label, allowed(&specs[i]), cmd, C_TYPE, field);
          json_decref(cmd);
        }
        if (f->type == F_IDS) {
          json_t *cmd = parse(&w, tmpl);
          json_object_set_new(cmd, f->name, json_pack("[{}]"));
          char label[160], field[80];
          snprintf(label, sizeof label, "%s.%s = [{}]", specs[i].name, f->name);
          snprintf(field, sizeof field, "%s[0]", f->name);
          refuse_json(&w, label, allowed(&specs[i]), cmd, C_TYPE, field);
          json_decref(cmd);
        }
      }
      /* the fields of list items */
      if (f->type == F_ARRAY) {
        for (const field_spec *sf = f->sub; sf->name; sf++) {
          for (int which = 0;; which++) {
            json_t *bad = wrong_value(sf->type, which);
            if (!bad) break;
            json_t *cmd = parse(&w, tmpl);
            json_t *item = parse(&w, list_item(f->name));
            json_object_set_new(item, sf->name, bad);
            json_object_set_new(cmd, f->name, json_pack("[o]", item));
            char label[160], field[80];
            snprintf(label, sizeof label, "%s.%s[0].%s wrong type %d", specs[i].name, f->name, sf->name, which);
            snprintf(field, sizeof field, "%s[0].%s", f->name, sf->name);
            refuse_json(&w, label, allowed(&specs[i]), cmd, C_TYPE, field);
            json_decref(cmd);
          }
        }
      }
    }
  }
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

static void every_required_field_missing(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-missing");
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    const char *tmpl = sample(specs[i].name);
    assert_non_null(tmpl);
    for (const field_spec *f = specs[i].fields; f->name; f++) {
      char label[160];
      if (f->required) {
        json_t *cmd = parse(&w, tmpl);
        json_object_del(cmd, f->name);
        snprintf(label, sizeof label, "%s without %s", specs[i].name, f->name);
        refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, f->name);
        json_object_set_new(cmd, f->name, json_null());
        snprintf(label, sizeof label, "%s with %s null", specs[i].name, f->name);
        refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, f->name);
        if (f->type == F_ARRAY || f->type == F_IDS) {
          json_object_set_new(cmd, f->name, json_array());
          snprintf(label, sizeof label, "%s with %s empty", specs[i].name, f->name);
          refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, f->name);
        }
        json_decref(cmd);
      }
      /* an empty text is missing, required or not */
      if (f->type != F_INT && f->type != F_ARRAY && f->type != F_IDS) {
        json_t *cmd = parse(&w, tmpl);
        json_object_set_new(cmd, f->name, json_string(""));
        snprintf(label, sizeof label, "%s with %s empty", specs[i].name, f->name);
        refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, f->name);
        json_decref(cmd);
      }
      if (f->type == F_STR) {
        json_t *cmd = parse(&w, tmpl);
        json_object_set_new(cmd, f->name, json_string("    "));
        snprintf(label, sizeof label, "%s with %s blank", specs[i].name, f->name);
        refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, f->name);
        json_decref(cmd);
      }
      if (f->type == F_ARRAY) {
        for (const field_spec *sf = f->sub; sf->name; sf++) {
          if (!sf->required) continue;
          json_t *cmd = parse(&w, tmpl);
          json_t *item = parse(&w, list_item(f->name));
          json_object_del(item, sf->name);
          json_object_set_new(cmd, f->name, json_pack("[o]", item));
          char field[80];
          snprintf(label, sizeof label, "%s.%s[0] without %s", specs[i].name, f->name, sf->name);
          snprintf(field, sizeof field, "%s[0].%s", f->name, sf->name);
          refuse_json(&w, label, allowed(&specs[i]), cmd, C_MISSING, field);
          json_decref(cmd);
        }
      }
    }
  }
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

static void unknown_fields(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-unknown");
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  for (size_t i = 0; i < n; i++) {
    char label[160];
    json_t *cmd = parse(&w, sample(specs[i].name));
    json_object_set_new(cmd, "bogus", json_integer(1));
    snprintf(label, sizeof label, "%s with bogus", specs[i].name);
    refuse_json(&w, label, allowed(&specs[i]), cmd, C_UNKNOWN_FIELD, "bogus");
    json_object_del(cmd, "bogus");
    json_object_set_new(cmd, "Cmd", json_string(specs[i].name));
    snprintf(label, sizeof label, "%s with Cmd", specs[i].name);
    refuse_json(&w, label, allowed(&specs[i]), cmd, C_UNKNOWN_FIELD, "Cmd");
    json_decref(cmd);
    for (const field_spec *f = specs[i].fields; f->name; f++) {
      if (f->type != F_ARRAY) continue;
      cmd = parse(&w, sample(specs[i].name));
      json_t *item = parse(&w, list_item(f->name));
      json_object_set_new(item, "bogus", json_true());
      json_object_set_new(cmd, f->name, json_pack("[o]", item));
      char field[80];
      snprintf(label, sizeof label, "%s.%s[0] with bogus", specs[i].name, f->name);
      snprintf(field, sizeof field, "%s[0].bogus", f->name);
      refuse_json(&w, label, allowed(&specs[i]), cmd, C_UNKNOWN_FIELD, field);
      json_decref(cmd);
    }
  }
  refuse(&w, "empty key", "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"\":1}",
         C_UNKNOWN_FIELD, "");
  refuse(&w, "unknown field named like a nested one",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1,\"ranges.first\":1}", C_UNKNOWN_FIELD,
         "ranges.first");
  /* a field name of a megabyte: reported, cut to fit */
  char *big = repeat("k", 1024 * 1024);
  char *t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"%s\":1}", big);
  char want[64];
  snprintf(want, sizeof want, "%.60s", big);
  refuse_bytes(&w, "1 MB field name", NULL, t, strlen(t), C_UNKNOWN_FIELD, want);
  free(t);
  free(big);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- numbers ---- */

static void quantities(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-numbers");
  static const struct {
    const char *label, *value;
    int code;
  } q[] = {
      {"quantity 0", "0", C_RANGE},
      {"quantity -1", "-1", C_RANGE},
      {"quantity -2^63", "-9223372036854775808", C_RANGE},
      {"quantity 2^63", "9223372036854775808", C_RANGE},
      {"quantity 2^63+1", "9223372036854775809", C_RANGE},
      {"quantity 2^64", "18446744073709551616", C_RANGE},
      {"quantity 2^64+1", "18446744073709551617", C_RANGE},
      {"quantity 10^30", "1000000000000000000000000000000", C_RANGE},
      {"quantity of 400 digits", NULL, C_RANGE},
      {"quantity -2^63-1", "-9223372036854775809", C_RANGE},
      {"quantity -10^30", "-1000000000000000000000000000000", C_RANGE},
      {"quantity 1.0", "1.0", C_TYPE},
      {"quantity 1e3", "1e3", C_TYPE},
      {"quantity 0.5", "0.5", C_TYPE},
      {"quantity -0", "-0", C_RANGE},
      {"quantity 9.3e18", "9.3e18", C_TYPE},
      {"quantity text", "\"5\"", C_TYPE},
      {"quantity true", "true", C_TYPE},
  };
  char *digits400 = repeat("9", 400);
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    char *t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":%s}", w.a.hold_a, w.a.hold_b,
                  q[i].value ? q[i].value : digits400);
    refuse_bytes(&w, q[i].label, NULL, t, strlen(t), q[i].code, "quantity");
    free(t);
  }
  free(digits400);
  /* the number is named by its field wherever it is, and with spaces around the colon */
  refuse(&w, "2^63 with spaces",
         "{ \"cmd\" : \"transfer\" , \"quantity\"  :  9223372036854775808 , \"from\":\"@A\",\"to\":\"@B\"}", C_RANGE,
         "quantity");
  refuse(&w, "2^63 as the first member", "{\"quantity\":9223372036854775808,\"cmd\":\"transfer\"}", C_RANGE,
         "quantity");
  refuse(
      &w, "2^63 as the total",
      "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
      "\"last_day\":\"2023-12-31\",\"total\":9223372036854775808,\"allocation\":[{\"account\":\"@A\",\"quantity\":1}]}",
      C_RANGE, "total");
  refuse(&w, "2^63 as the vintage",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1,\"vintage\":9223372036854775808}", C_RANGE,
         "vintage");
  /* the largest quantity passes validation and is refused by the balance */
  refuse(&w, "quantity 2^63-1", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":9223372036854775807}",
         C_INSUFFICIENT, "quantity");
  /* other numbers and their bounds */
  static const struct {
    const char *label, *tmpl;
    int code;
    const char *field;
  } other[] = {
      {"total 0",
       "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
       "\"last_day\":\"2023-12-31\",\"total\":0,\"allocation\":[{\"account\":\"@A\",\"quantity\":1}]}",
       C_RANGE, "total"},
      {"allocation quantity 0",
       "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
       "\"last_day\":\"2023-12-31\",\"total\":1,\"allocation\":[{\"account\":\"@A\",\"quantity\":0}]}",
       C_RANGE, "allocation[0].quantity"},
      {"allocation quantity -5",
       "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
       "\"last_day\":\"2023-12-31\",\"total\":1,\"allocation\":[{\"account\":\"@A\",\"quantity\":-5}]}",
       C_RANGE, "allocation[0].quantity"},
      {"meeting 0",
       "{\"cmd\":\"decide\",\"meeting\":0,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_RANGE, "meeting"},
      {"meeting 100001",
       "{\"cmd\":\"decide\",\"meeting\":100001,\"date\":\"2024-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_"
       "PIN001\"}",
       C_RANGE, "meeting"},
      {"vintage 1899", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1,\"vintage\":1899}", C_RANGE,
       "vintage"},
      {"vintage 10000", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1,\"vintage\":10000}",
       C_RANGE, "vintage"},
      {"calculated -1",
       "{\"cmd\":\"monitoring.submit\",\"project\":\"TH014\",\"first_day\":\"2025-01-01\",\"last_day\":\"2025-12-31\","
       "\"calculated\":-1}",
       C_RANGE, "calculated"},
      {"verified -1",
       "{\"cmd\":\"monitoring.verify\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\",\"last_day\":\"2023-12-31\","
       "\"verified\":-1,\"report\":\"r\"}",
       C_RANGE, "verified"},
      {"serial 0", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":0,\"last\":1}]}",
       C_RANGE, "ranges[0].first"},
      {"serial -1", "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":1,\"last\":-1}]}",
       C_RANGE, "ranges[0].last"},
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    refuse(&w, other[i].label, other[i].tmpl, other[i].code, other[i].field);
  /* lists longer than allowed */
  char *ranges = repeat("{\"first\":601,\"last\":601},", 1001);
  ranges[strlen(ranges) - 1] = 0;
  char *t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"ranges\":[%s]}", w.a.hold_a, w.a.hold_b, ranges);
  refuse_bytes(&w, "1001 ranges", NULL, t, strlen(t), C_TOO_MANY, "ranges");
  free(t);
  free(ranges);
  char *alloc = malloc(101 * 64);
  assert_non_null(alloc);
  alloc[0] = 0;
  for (int i = 0; i < 101; i++)
    snprintf(alloc + strlen(alloc), 64, "%s{\"account\":\"%s\",\"quantity\":1}", i ? "," : "", w.a.hold_a);
  t = fmt("{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
          "\"last_day\":\"2023-12-31\",\"total\":101,\"allocation\":[%s]}",
          alloc);
  refuse_bytes(&w, "101 allocations", NULL, t, strlen(t), C_TOO_MANY, "allocation");
  free(t);
  free(alloc);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- texts ---- */

static void texts(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-texts");
  char *s;
  char *t;
  /* one character over each limit */
  s = repeat("x", 201);
  t = fmt("{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"%s\"}", s);
  refuse_bytes(&w, "account name 201 chars", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  s = repeat("\xc3\xa9", 201); /* é */
  t = fmt("{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"%s\"}", s);
  refuse_bytes(&w, "account name 201 two-byte chars", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  s = repeat("\xf0\x9f\x8c\x9e", 201); /* a four-byte character */
  t = fmt("{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"%s\"}", s);
  refuse_bytes(&w, "account name 201 four-byte chars", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  s = repeat("x", 301);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"%s\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "org name 301 chars", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  s = repeat("x", 1001);
  t = fmt("{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"%s\"}", w.a.hold_a, s);
  refuse_bytes(&w, "reason 1001 chars", NULL, t, strlen(t), C_TOO_LONG, "reason");
  free(t);
  free(s);
  s = repeat("x", 101);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"ident\":\"%s\"}", s);
  refuse_bytes(&w, "ident 101 chars", NULL, t, strlen(t), C_TOO_LONG, "ident");
  free(t);
  free(s);
  s = repeat("o", 65);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"%s\",\"name\":\"X\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "org id 65 chars", NULL, t, strlen(t), C_TOO_LONG, "id");
  free(t);
  free(s);
  /* a megabyte */
  s = repeat("x", 1024 * 1024);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"%s\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "1 MB name", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"%s\",\"name\":\"X\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "1 MB id", NULL, t, strlen(t), C_TOO_LONG, "id");
  free(t);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"%s\"}", s);
  refuse_bytes(&w, "1 MB key", NULL, t, strlen(t), C_TOO_LONG, "key");
  free(t);
  t = fmt("{\"cmd\":\"%s\"}", s);
  refuse_bytes(&w, "1 MB command name", NULL, t, strlen(t), C_UNKNOWN_CMD, "cmd");
  free(t);
  t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", s, w.a.hold_b);
  refuse_bytes(&w, "1 MB account id", NULL, t, strlen(t), C_TOO_LONG, "from");
  free(t);
  t = fmt("{\"cmd\":\"account.open\",\"type\":\"%s\",\"holder\":\"org-a\",\"name\":\"X\"}", s);
  refuse_bytes(&w, "1 MB enum", NULL, t, strlen(t), C_TOO_LONG, "type");
  free(t);
  t = fmt("{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"%s\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}", s);
  refuse_bytes(&w, "1 MB date", NULL, t, strlen(t), C_TOO_LONG, "date");
  free(t);
  free(s);
  s = repeat("\xe6\x97\xa5", 350 * 1024); /* 日, about 1 MB */
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"%s\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "1 MB of three-byte chars", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  s = repeat("\\u0001", 200 * 1024);
  t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"%s\",\"country\":\"THA\"}", s);
  refuse_bytes(&w, "1 MB of escaped control characters", NULL, t, strlen(t), C_TOO_LONG, "name");
  free(t);
  free(s);
  /* control characters, in a text and in an identifier */
  static const char *const controls[] = {"\\u0001", "\\u001f", "\\u007f", "\\n", "\\t", "\\r", "\\b", "\\f"};
  for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
    char label[64];
    t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"a%sb\",\"country\":\"THA\"}", controls[i]);
    snprintf(label, sizeof label, "control %s in a text", controls[i]);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_FORMAT, "name");
    free(t);
    t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x%s\",\"name\":\"X\",\"country\":\"THA\"}", controls[i]);
    snprintf(label, sizeof label, "control %s in an id", controls[i]);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_FORMAT, "id");
    free(t);
    t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"k%s\"}", controls[i]);
    snprintf(label, sizeof label, "control %s in a key", controls[i]);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_FORMAT, "key");
    free(t);
  }
  refuse(&w, "text of one control character",
         "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"\\t\",\"country\":\"THA\"}", C_FORMAT, "name");
  refuse(&w, "key with a space",
         "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"a b\"}", C_FORMAT, "key");
  refuse(&w, "key not ASCII",
         "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"cl\xc3\xa9\"}", C_FORMAT,
         "key");
  /* forms of identifiers and dates */
  static const struct {
    const char *label, *tmpl;
    int code;
    const char *field;
  } forms[] = {
      {"org id with a space", "{\"cmd\":\"org.add\",\"id\":\"org x\",\"name\":\"X\",\"country\":\"THA\"}", C_FORMAT,
       "id"},
      {"org id starting with a dash", "{\"cmd\":\"org.add\",\"id\":\"-org\",\"name\":\"X\",\"country\":\"THA\"}",
       C_FORMAT, "id"},
      {"country lower case", "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"tha\"}", C_FORMAT,
       "country"},
      {"country of 4 letters", "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THAI\"}", C_FORMAT,
       "country"},
      {"project id", "{\"cmd\":\"project.withdraw\",\"project\":\"TH14\",\"reason\":\"r\"}", C_FORMAT, "project"},
      {"PIN id", "{\"cmd\":\"pin.submit\",\"pin\":\"TH-PIN009\",\"title\":\"p\",\"host\":\"THA\"}", C_FORMAT, "pin"},
      {"methodology id", "{\"cmd\":\"methodology.add\",\"id\":\"TH_XM001\",\"version\":\"v1\",\"title\":\"m\"}",
       C_FORMAT, "id"},
      {"version with a slash", "{\"cmd\":\"methodology.add\",\"id\":\"TH_AM001\",\"version\":\"v1/2\",\"title\":\"m\"}",
       C_FORMAT, "version"},
      {"sha256 upper case",
       "{\"cmd\":\"project.validate\",\"project\":\"TH014\",\"report\":\"v\",\"report_sha256\":"
       "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
       C_FORMAT, "report_sha256"},
      {"registry id",
       "{\"cmd\":\"registry.add\",\"id\":\"JPN1\",\"party\":\"JPN\",\"name\":\"J\",\"role\":\"national\"}", C_FORMAT,
       "id"},
      {"date with a time",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-05-01T00:00\",\"kind\":\"pin_approval\",\"ref\":\"TH_"
       "PIN001\"}",
       C_DATE, "date"},
      {"date 2023-02-29",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2023-02-29\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date 2024-13-01",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-13-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date 2024-00-10",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-00-10\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date 2024-04-31",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024-04-31\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date 24-05-01",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"24-05-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date 2024/05/01",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"2024/05/01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"date with a sign",
       "{\"cmd\":\"decide\",\"meeting\":9,\"date\":\"+2024-5-01\",\"kind\":\"pin_approval\",\"ref\":\"TH_PIN001\"}",
       C_DATE, "date"},
      {"enum with a different case",
       "{\"cmd\":\"account.open\",\"type\":\"Holding\",\"holder\":\"org-a\",\"name\":\"X\"}", C_ENUM, "type"},
      {"enum with a trailing space",
       "{\"cmd\":\"account.open\",\"type\":\"holding \",\"holder\":\"org-a\",\"name\":\"X\"}", C_ENUM, "type"},
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    refuse(&w, forms[i].label, forms[i].tmpl, forms[i].code, forms[i].field);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* The limits themselves are accepted: 200 characters of any width, 64-char
 * ids. (These commands change the store; each is checked on its own.) */
static void text_limits_accepted(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-limits");
  static const char *const units[] = {"x", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x8c\x9e"};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    char *s = repeat(units[i], 200);
    char *t = fmt("{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"%s\"}", s);
    json_decref(accept(&w, NULL, t));
    free(t);
    free(s);
  }
  char *id = repeat("o", 64);
  char *t = fmt("{\"cmd\":\"org.add\",\"id\":\"%s\",\"name\":\"X\",\"country\":\"THA\"}", id);
  json_decref(accept(&w, NULL, t));
  free(t);
  free(id);
  rebase(&w);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- account identifiers ---- */

static void account_ids(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-accounts");
  char label[96];
  /* unknown accounts with valid check digits: the next number the registry
   * will give (t_registry opened 5 accounts), and one far away */
  char next[32];
  make_account("THA01", 100, 6, next);
  assert_true(jcm_account_id_valid(next));
  const char *unknowns[] = {next, w.unknown};
  for (size_t i = 0; i < 2; i++) {
    const char *u = unknowns[i];
    char *t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", u, w.a.hold_b);
    snprintf(label, sizeof label, "transfer from unknown %s", u);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_SRC_UNKNOWN, "from");
    free(t);
    t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", w.a.hold_a, u);
    snprintf(label, sizeof label, "transfer to unknown %s", u);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_DST_UNKNOWN, "to");
    free(t);
    t = fmt("{\"cmd\":\"cancel\",\"from\":\"%s\",\"kind\":\"other\",\"reason\":\"r\",\"to\":\"%s\",\"quantity\":1}",
            w.a.hold_a, u);
    snprintf(label, sizeof label, "cancel to unknown %s", u);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_DST_UNKNOWN, "to");
    free(t);
    t = fmt("{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"r\"}", u);
    snprintf(label, sizeof label, "block unknown %s", u);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_UNKNOWN_ACCOUNT, "account");
    free(t);
    t = fmt(
        "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
        "\"last_day\":\"2023-12-31\",\"total\":1,\"allocation\":[{\"account\":\"%s\",\"quantity\":1}]}",
        u);
    snprintf(label, sizeof label, "issue to unknown %s", u);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_DST_UNKNOWN, "allocation");
    free(t);
    json_t *p = json_pack("{s:s}", "account", u), *r = NULL;
    jcm_check chk;
    if (jcm_query(w.j, "statement", p, &r, &chk) != JCM_REFUSED || chk.code != C_UNKNOWN_ACCOUNT) {
      fprintf(stderr, "FAIL [statement of unknown %s]: code %d\n", u, chk.code);
      w.failures++;
    }
    json_decref(r);
    json_decref(p);
    check_unchanged(&w, "statement of an unknown account");
  }
  /* accounts of another registry */
  char *t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", w.foreign, w.a.hold_b);
  refuse_bytes(&w, "transfer from another registry", NULL, t, strlen(t), C_SRC_FOREIGN, "from");
  free(t);
  t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", w.a.hold_a, w.foreign);
  refuse_bytes(&w, "transfer to another registry", NULL, t, strlen(t), C_DST_FOREIGN, "to");
  free(t);
  /* the guessed number is the one the registry gives next */
  json_t *r = accept(&w, NULL, "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-b\",\"name\":\"B2\"}");
  assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "account")), next);
  json_decref(r);
  rebase(&w);

  /* every single mistyped character (check digits included): 1011 */
  const char *id = w.a.hold_a;
  for (size_t pos = 0; pos < strlen(id); pos++) {
    if (id[pos] == '-') continue;
    char typo[32];
    snprintf(typo, sizeof typo, "%s", id);
    if (typo[pos] >= '0' && typo[pos] <= '9')
      typo[pos] = (char)('0' + (typo[pos] - '0' + 7) % 10);
    else
      typo[pos] = typo[pos] == 'Z' ? 'A' : (char)(typo[pos] + 1);
    t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", typo, w.a.hold_b);
    snprintf(label, sizeof label, "mistyped %s (position %zu)", typo, pos);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_CHECK_DIGITS, "from");
    free(t);
  }
  /* every swap of two adjacent different digits or letters: 1011 */
  for (size_t pos = 0; pos + 1 < strlen(id); pos++) {
    int digit0 = id[pos] >= '0' && id[pos] <= '9', digit1 = id[pos + 1] >= '0' && id[pos + 1] <= '9';
    if (id[pos] == '-' || id[pos + 1] == '-' || id[pos] == id[pos + 1] || digit0 != digit1) continue;
    char typo[32];
    snprintf(typo, sizeof typo, "%s", id);
    typo[pos] = id[pos + 1];
    typo[pos + 1] = id[pos];
    t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", w.a.hold_a, typo);
    snprintf(label, sizeof label, "swapped %s (position %zu)", typo, pos);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_CHECK_DIGITS, "to");
    free(t);
  }
  /* ids of a bad form: 1007 */
  char lower[32], no_dashes[32], short_id[32], long_id[40], spaced[40], letter_o[32], wrong_dash[32];
  snprintf(lower, sizeof lower, "%s", id);
  lower[0] = (char)(lower[0] - 'A' + 'a');
  snprintf(no_dashes, sizeof no_dashes, "%.5s%.3s%.6s%.2s", id, id + 6, id + 10, id + 17);
  snprintf(short_id, sizeof short_id, "%.16s", id);
  snprintf(long_id, sizeof long_id, "%s0", id);
  snprintf(spaced, sizeof spaced, " %s", id);
  snprintf(letter_o, sizeof letter_o, "%s", id);
  letter_o[6] = 'O';
  snprintf(wrong_dash, sizeof wrong_dash, "%s", id);
  wrong_dash[9] = '_';
  const char *forms[] = {lower,
                         no_dashes,
                         short_id,
                         long_id,
                         spaced,
                         letter_o,
                         wrong_dash,
                         "THA01-100-000001-6\xc3\xa9",
                         "1234567890123456789",
                         "THA01--00-000001-61",
                         "THA0X-100-000001-61"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    t = fmt("{\"cmd\":\"transfer\",\"from\":\"%s\",\"to\":\"%s\",\"quantity\":1}", forms[i], w.a.hold_b);
    snprintf(label, sizeof label, "bad form '%s'", forms[i]);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_FORMAT, "from");
    free(t);
    t = fmt("{\"cmd\":\"account.status\",\"account\":\"%s\",\"status\":\"blocked\",\"reason\":\"r\"}", forms[i]);
    refuse_bytes(&w, label, NULL, t, strlen(t), C_FORMAT, "account");
    free(t);
  }
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- idempotency ---- */

static void idempotency(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-idem");
  const char *first_text = "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"idem-1\"}";
  json_t *r1 = accept(&w, NULL, first_text);
  rebase(&w);
  int64_t length = journal_length(w.j);
  assert_int_equal(t_balance(w.j, w.a.hold_b), 5);
  /* the same command again, in other spellings: the same result, nothing added */
  static const char *const same[] = {
      "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"idem-1\"}",
      "{\"key\":\"idem-1\",\"quantity\":5,\"to\":\"@B\",\"from\":\"@A\",\"cmd\":\"transfer\"}",
      " {\n \"cmd\" : \"transfer\" , \"from\" : \"@A\" , \"to\" : \"@B\" , \"quantity\" : 5 , \"key\" : \"idem-1\" }\n",
      "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"idem-1\",\"project\":null}",
  };
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    json_t *r2 = accept(&w, NULL, same[i]);
    if (!json_equal(r1, r2)) {
      char *a = json_dumps(r1, 0), *b = json_dumps(r2, 0);
      fprintf(stderr, "FAIL [idempotent replay %zu]: first %s\n  replay %s\n", i, a, b);
      free(a);
      free(b);
      w.failures++;
    }
    assert_int_equal(json_integer_value(json_object_get(r2, "seq")), json_integer_value(json_object_get(r1, "seq")));
    assert_string_equal(json_string_value(json_object_get(r2, "hash")), json_string_value(json_object_get(r1, "hash")));
    json_decref(r2);
    check_unchanged(&w, "idempotent replay");
    assert_int_equal(journal_length(w.j), length);
  }
  /* through jcm_submit as well */
  json_t *cmd = parse(&w, same[0]), *r2 = NULL;
  assert_int_equal(jcm_submit(w.j, cmd, &T_ADMIN, &r2), JCM_OK);
  assert_true(json_equal(r1, r2));
  json_decref(r2);
  json_decref(cmd);
  check_unchanged(&w, "idempotent replay (jcm_submit)");
  /* the same key for something else: 1009, nothing changes */
  static const jcm_actor holder_a = {"org-a", "holder"}, admin_as_holder = {"test-admin", "holder"};
  static const struct {
    const char *label;
    const jcm_actor *actor;
    const char *tmpl;
  } conflicts[] = {
      {"key reused: other quantity", NULL,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":6,\"key\":\"idem-1\"}"},
      {"key reused: other destination", NULL,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@G\",\"quantity\":5,\"key\":\"idem-1\"}"},
      {"key reused: a filter added", NULL,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"vintage\":2021,\"key\":\"idem-1\"}"},
      {"key reused: the quantity given as ranges", NULL,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"ranges\":[{\"first\":996,\"last\":1000}],\"key\":\"idem-"
       "1\"}"},
      {"key reused: another command", NULL,
       "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"idem-1\"}"},
      {"key reused: another actor", &holder_a,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"idem-1\"}"},
      {"key reused: same name, another role", &admin_as_holder,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"idem-1\"}"},
      {"key reused: a command that would be refused anyway", NULL,
       "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":100000,\"key\":\"idem-1\"}"},
  };
  for (size_t i = 0; i < sizeof conflicts / sizeof conflicts[0]; i++) {
    char *text = expand(&w, conflicts[i].tmpl);
    refuse_bytes(&w, conflicts[i].label, conflicts[i].actor, text, strlen(text), C_IDEM_CONFLICT, "key");
    free(text);
    assert_int_equal(journal_length(w.j), length);
  }
  /* keys differ by case: "IDEM-1" is another key */
  json_decref(
      accept(&w, NULL, "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":5,\"key\":\"IDEM-1\"}"));
  assert_int_equal(journal_length(w.j), length + 1);
  /* the key answers with the first result even when the command could not
   * run any more (its source is blocked now) */
  json_decref(
      accept(&w, NULL, "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"blocked\",\"reason\":\"r\"}"));
  rebase(&w);
  json_t *r3 = accept(&w, NULL, same[0]);
  assert_true(json_equal(r1, r3));
  json_decref(r3);
  check_unchanged(&w, "replay while the source is blocked");
  json_decref(accept(&w, NULL, "{\"cmd\":\"account.status\",\"account\":\"@A\",\"status\":\"open\",\"reason\":\"r\"}"));
  rebase(&w);
  /* a refused command does not use up its key */
  refuse(&w, "refused with a new key",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":100000,\"key\":\"idem-2\"}", C_INSUFFICIENT,
         "quantity");
  refuse(&w, "refused at validation with a new key",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":0,\"key\":\"idem-2\"}", C_RANGE, "quantity");
  json_decref(
      accept(&w, NULL, "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\":1,\"key\":\"idem-2\"}"));
  rebase(&w);
  json_decref(r1);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* ---- idempotency inside batches ---- */

static int64_t fixed_clock(void *ud) {
  (void)ud;
  return INT64_C(1761782400000); /* 2025-10-30 */
}

static const char *const batch_base[] = {
    "{\"cmd\":\"init\",\"registry\":\"THA01\",\"party\":\"THA\",\"name\":\"Thailand registry\"}",
    "{\"cmd\":\"org.add\",\"id\":\"org-a\",\"name\":\"Org A\",\"country\":\"THA\"}",
    "{\"cmd\":\"account.open\",\"type\":\"holding\",\"holder\":\"org-a\",\"name\":\"A\"}",
};

/* A store whose journal times are all the same, so that two stores given
 * the same commands are identical. */
static void open_fixed(world *w, const char *name) {
  memset(w, 0, sizeof *w);
  t_db_path(w->path, sizeof w->path, name);
  jcm_options opt = {fixed_clock, NULL};
  char err[256] = "";
  assert_int_equal(jcm_open(w->path, &opt, &w->j, err, sizeof err), JCM_OK);
  for (size_t i = 0; i < sizeof batch_base / sizeof batch_base[0]; i++)
    json_decref(accept(w, NULL, batch_base[i]));
  rebase(w);
}

#define ORG_K "{\"cmd\":\"org.add\",\"id\":\"org-k\",\"name\":\"K\",\"country\":\"THA\",\"key\":\"batch-k\"}"

static void batch_idempotency(void **state) {
  (void)state;
  world a, b;
  open_fixed(&a, "input-batch-a");
  open_fixed(&b, "input-batch-b");
  assert_string_equal(a.base, b.base);
  /* a: the command alone in a batch */
  assert_int_equal(jcm_batch_begin(a.j), JCM_OK);
  json_t *ra = accept(&a, NULL, ORG_K);
  assert_int_equal(jcm_batch_commit(a.j), JCM_OK);
  rebase(&a);
  /* b: the command, its replay, a conflicting use of its key and other
   * refusals, in one batch: the store must end as a's */
  assert_int_equal(jcm_batch_begin(b.j), JCM_OK);
  json_t *r1 = accept(&b, NULL, ORG_K);
  json_t *r2 = accept(&b, NULL, ORG_K);
  assert_true(json_equal(r1, r2));
  json_decref(r2);
  static const struct {
    const char *label, *text;
    int code;
    const char *field;
  } in_batch[] = {
      {"batch: key reused",
       "{\"cmd\":\"org.add\",\"id\":\"org-z\",\"name\":\"Z\",\"country\":\"THA\",\"key\":\"batch-k\"}", C_IDEM_CONFLICT,
       "key"},
      {"batch: exists", "{\"cmd\":\"org.add\",\"id\":\"org-k\",\"name\":\"K\",\"country\":\"THA\"}", C_EXISTS, "id"},
      {"batch: malformed", "{\"cmd\":", C_MALFORMED, ""},
      {"batch: new key, refused",
       "{\"cmd\":\"org.add\",\"id\":\"org-a\",\"name\":\"A\",\"country\":\"THA\",\"key\":\"batch-2\"}", C_EXISTS, "id"},
  };
  for (size_t i = 0; i < sizeof in_batch / sizeof in_batch[0]; i++) {
    json_t *r = NULL;
    int rc = jcm_submit_text(b.j, in_batch[i].text, strlen(in_batch[i].text), &T_ADMIN, &r);
    judge(&b, in_batch[i].label, rc, r, in_batch[i].code, in_batch[i].field, in_batch[i].text);
    json_decref(r);
  }
  /* the key refused above was not kept: it is free inside the batch still */
  json_t *rr = accept(
      &b, NULL, "{\"cmd\":\"org.add\",\"id\":\"org-k2\",\"name\":\"K2\",\"country\":\"THA\",\"key\":\"batch-2\"}");
  json_decref(rr);
  assert_int_equal(jcm_batch_commit(b.j), JCM_OK);
  /* a did not add org-k2: add it to a too, then compare */
  json_decref(accept(
      &a, NULL, "{\"cmd\":\"org.add\",\"id\":\"org-k2\",\"name\":\"K2\",\"country\":\"THA\",\"key\":\"batch-2\"}"));
  rebase(&a);
  rebase(&b);
  if (strcmp(a.base, b.base) != 0) {
    fprintf(stderr, "FAIL [batch]: refusals and replays inside a batch left a trace\n");
    b.failures++;
  }
  assert_true(json_equal(ra, r1));
  /* after the commit, the key answers with the same result, in and out of a batch */
  json_t *r3 = accept(&b, NULL, ORG_K);
  assert_true(json_equal(r1, r3));
  json_decref(r3);
  check_unchanged(&b, "replay after the batch");
  assert_int_equal(jcm_batch_begin(b.j), JCM_OK);
  r3 = accept(&b, NULL, ORG_K);
  assert_true(json_equal(r1, r3));
  json_decref(r3);
  json_t *r = NULL;
  const char *conflict =
      "{\"cmd\":\"org.add\",\"id\":\"org-y\",\"name\":\"Y\",\"country\":\"THA\",\"key\":\"batch-k\"}";
  int rc = jcm_submit_text(b.j, conflict, strlen(conflict), &T_ADMIN, &r);
  judge(&b, "batch: committed key reused", rc, r, C_IDEM_CONFLICT, "key", conflict);
  json_decref(r);
  assert_int_equal(jcm_batch_commit(b.j), JCM_OK);
  check_unchanged(&b, "a batch of a replay and a conflict");
  /* a rolled-back batch keeps nothing, not even its keys */
  assert_int_equal(jcm_batch_begin(b.j), JCM_OK);
  json_decref(accept(&b, NULL,
                     "{\"cmd\":\"org.add\",\"id\":\"org-r\",\"name\":\"R\",\"country\":\"THA\",\"key\":\"batch-r\"}"));
  jcm_batch_rollback(b.j);
  check_unchanged(&b, "a rolled-back batch");
  json_decref(accept(&b, NULL,
                     "{\"cmd\":\"org.add\",\"id\":\"org-s\",\"name\":\"S\",\"country\":\"THA\",\"key\":\"batch-r\"}"));
  rebase(&b);
  /* batches do not nest; commit needs a batch */
  assert_int_equal(jcm_batch_begin(b.j), JCM_OK);
  assert_int_equal(jcm_batch_begin(b.j), JCM_ERROR);
  jcm_batch_rollback(b.j);
  assert_int_equal(jcm_batch_commit(b.j), JCM_ERROR);
  jcm_batch_rollback(b.j); /* no batch: nothing happens */
  check_unchanged(&b, "batch misuse");
  json_decref(ra);
  json_decref(r1);
  int failures = a.failures + b.failures;
  world_close(&a);
  world_close(&b);
  assert_int_equal(failures, 0);
}

/* ---- library bugs ---- */

/* Regression (fixed; was lib/spec.c check_string): a text holding a NUL character, which
 * jcm_submit() receives from a JSON value built in memory (json_stringn), is
 * checked up to the NUL only and accepted; the journal records it as
 * "\u0000", which jcm_verify() (json_loadb without JSON_ALLOW_NUL) cannot read
 * back: "its columns disagree with its hashed bytes". An account id with a
 * NUL after 19 valid characters is accepted the same way. The text parser
 * refuses these (1001), so only jcm_submit() callers reach it.
 * Reproduction: cmd = {"cmd":"org.add","id":"org-z","name":json_stringn("ab\0cd",5),
 * "country":"THA"}; jcm_submit(j, cmd, admin) -> JCM_OK; jcm_verify -> problems.
 * Expected: refused (e.g. 1007, a control character), store unchanged. */
static void regression_nul_inside_text_via_jcm_submit(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-bug-nul");
  json_t *cmd = parse(&w, "{\"cmd\":\"org.add\",\"id\":\"org-z\",\"name\":\"X\",\"country\":\"THA\"}");
  json_object_set_new(cmd, "name", json_stringn("ab\0cd", 5));
  refuse_json(&w, "NUL inside a name", NULL, cmd, -1, NULL);
  json_decref(cmd);
  cmd = parse(&w, "{\"cmd\":\"transfer\",\"to\":\"@B\",\"quantity\":1}");
  char from[40];
  memcpy(from, w.a.hold_a, 19);
  memcpy(from + 19, "\0junk", 5);
  json_object_set_new(cmd, "from", json_stringn(from, 24));
  refuse_json(&w, "NUL after an account id", NULL, cmd, -1, NULL);
  json_decref(cmd);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

typedef struct actor_call {
  const jcm_actor *actor;
  const char *text;
} actor_call;

static void submit_as(jcm *j, const void *ud, outcome *o) {
  const actor_call *c = ud;
  json_t *r = NULL;
  o->rc = jcm_submit_text(j, c->text, strlen(c->text), c->actor, &r);
  o->code = (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
  json_decref(r);
}

/* Regression (fixed; was lib/engine.c): the actor's name is not checked to be UTF-8. With a
 * name such as "bad\xff": (1) a new command fails with JCM_ERROR, code 0,
 * "out of memory" (json_pack of the journal event fails), where a refusal
 * with a code is due; (2) a command with an idempotency key used before
 * crashes: idem_lookup -> request_hash builds its JSON with json_pack, which
 * returns NULL, and strlen(jcm__canonical(NULL)) dereferences NULL.
 * Reproduction: submit {"cmd":"org.add",...,"key":"k1"} as admin, then the
 * same as {"bad\xff","admin"} -> SIGSEGV in request_hash (engine.c:130).
 * The second case runs in a child process. */
static void regression_actor_name_not_utf8(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-bug-actor");
  static const jcm_actor bad = {"bad\xff", "admin"};
  const char *org = "{\"cmd\":\"org.add\",\"id\":\"org-u\",\"name\":\"U\",\"country\":\"THA\"}";
  refuse_bytes(&w, "actor name not UTF-8", &bad, org, strlen(org), -1, NULL);
  const char *keyed = "{\"cmd\":\"org.add\",\"id\":\"org-k\",\"name\":\"K\",\"country\":\"THA\",\"key\":\"k-utf8\"}";
  json_decref(accept(&w, NULL, keyed));
  rebase(&w);
  actor_call call = {&bad, keyed};
  outcome o = {0};
  char how[128] = "";
  if (run_isolated(&w, submit_as, &call, &o, how, sizeof how) != 0) {
    fprintf(stderr, "FAIL [used key, actor name not UTF-8]: %s\n", how);
    w.failures++;
  } else if (o.rc != JCM_REFUSED || o.code <= 0) {
    fprintf(stderr, "FAIL [used key, actor name not UTF-8]: rc %d code %d, want a refusal\n", o.rc, o.code);
    w.failures++;
  }
  check_unchanged(&w, "used key, actor name not UTF-8");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Regression (fixed; was lib/spec.c check_string): the key field is documented (spec help,
 * jcm__is_key) as 1-128 printable ASCII characters, but every non-F_STR
 * text longer than 64 bytes is refused with 1005 first, so keys of 65-128
 * characters are refused. Reproduction: org.add with "key" of 65 'k' ->
 * 1005 field "key". Expected: accepted. */
static void regression_key_of_65_to_128_chars(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-bug-key");
  static const size_t lengths[] = {64, 65, 128};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    char *key = repeat("k", lengths[i]);
    char *t = fmt("{\"cmd\":\"org.add\",\"id\":\"org-%zu\",\"name\":\"X\",\"country\":\"THA\",\"key\":\"%s\"}",
                  lengths[i], key);
    json_t *r = NULL;
    int rc = jcm_submit_text(w.j, t, strlen(t), &T_ADMIN, &r);
    if (rc != JCM_OK) {
      fprintf(stderr, "FAIL [key of %zu characters]: refused with %lld\n", lengths[i],
              (long long)json_integer_value(json_object_get(json_object_get(r, "error"), "code")));
      w.failures++;
    }
    json_decref(r);
    free(t);
    free(key);
  }
  rebase(&w);
  refuse(&w, "key of 129 characters",
         "{\"cmd\":\"org.add\",\"id\":\"org-x\",\"name\":\"X\",\"country\":\"THA\",\"key\":\""
         "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
         "kkkkkkk"
         "kkkkkkkkkkkkk\"}",
         -1, NULL);
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

/* Regression (fixed; was lib/engine.c field_before): a number too large for 64 bits is named
 * by the last key before it, without its path, and only when nothing but
 * spaces stands between the key and the colon. So 2^63 as the quantity of an
 * allocation is reported as field "quantity" (validation reports the same
 * field as "allocation[0].quantity"), and "quantity"\t:2^63 as field "".
 * Reproduction: {"cmd":"transfer","quantity"\n:9223372036854775808} ->
 * 1004 field "". */
static void regression_big_number_field_names(void **state) {
  (void)state;
  world w;
  world_open(&w, "input-bug-bignum");
  refuse(
      &w, "2^63 in an allocation",
      "{\"cmd\":\"issue\",\"meeting\":9,\"date\":\"2024-05-01\",\"project\":\"TH014\",\"first_day\":\"2023-01-01\","
      "\"last_day\":\"2023-12-31\",\"total\":1,\"allocation\":[{\"account\":\"@A\",\"quantity\":9223372036854775808}]}",
      C_RANGE, "allocation[0].quantity");
  refuse(&w, "2^63 after a tab",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\"\t:9223372036854775808}", C_RANGE,
         "quantity");
  refuse(&w, "2^63 after a new line",
         "{\"cmd\":\"transfer\",\"from\":\"@A\",\"to\":\"@B\",\"quantity\"\n:9223372036854775808}", C_RANGE,
         "quantity");
  int failures = w.failures;
  world_close(&w);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(malformed_json),
      cmocka_unit_test(json_values),
      cmocka_unit_test(every_field_wrong_type),
      cmocka_unit_test(every_required_field_missing),
      cmocka_unit_test(unknown_fields),
      cmocka_unit_test(quantities),
      cmocka_unit_test(texts),
      cmocka_unit_test(text_limits_accepted),
      cmocka_unit_test(account_ids),
      cmocka_unit_test(idempotency),
      cmocka_unit_test(batch_idempotency),
      cmocka_unit_test(regression_nul_inside_text_via_jcm_submit),
      cmocka_unit_test(regression_actor_name_not_utf8),
      cmocka_unit_test(regression_key_of_65_to_128_chars),
      cmocka_unit_test(regression_big_number_field_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
