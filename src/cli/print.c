/* Output of the jcm command: tables for people, one JSON line with --json. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void print_json_line(FILE *f, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  fprintf(f, "%s\n", s ? s : "null");
  free(s);
}

/* Serial ranges read as "THA01 1-1009, THA01 1010-2017" for people. */
static int ranges_text(json_t *v, char *out, size_t n) {
  json_t *first = json_array_get(v, 0);
  if (!json_is_object(first) || !json_object_get(first, "first") || !json_object_get(first, "last")) return 0;
  size_t used = 0, i;
  json_t *r;
  out[0] = 0;
  json_array_foreach(v, i, r) {
    if (used + 64 >= n) {
      snprintf(out + used, n - used, ", ...");
      break;
    }
    const char *origin = json_string_value(json_object_get(r, "origin"));
    used += (size_t)snprintf(out + used, n - used, "%s%s %lld-%lld", i ? ", " : "", origin ? origin : "",
                             (long long)json_integer_value(json_object_get(r, "first")),
                             (long long)json_integer_value(json_object_get(r, "last")));
  }
  return 1;
}

static void value_text(json_t *v, char *out, size_t n) {
  if (json_is_array(v) && ranges_text(v, out, n)) return;
  if (json_is_string(v))
    snprintf(out, n, "%s", json_string_value(v));
  else if (json_is_integer(v))
    snprintf(out, n, "%lld", (long long)json_integer_value(v));
  else if (json_is_null(v) || !v)
    snprintf(out, n, "-");
  else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, n, "%s", s ? s : "?");
    free(s);
  }
}

/* Display width of UTF-8 text, counting East Asian characters as two. */
static int width(const char *s) {
  int w = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p & 0xC0) == 0x80) continue;
    w += *p >= 0xE0 ? 2 : 1;
  }
  return w;
}

static void pad(const char *s, int w) {
  fputs(s, stdout);
  for (int k = width(s); k < w; k++)
    fputc(' ', stdout);
}

/* A table of rows (array of objects with the same members). */
static void table(json_t *rows) {
  json_t *first = json_array_get(rows, 0);
  if (!first) {
    printf("(none)\n");
    return;
  }
  size_t ncol = json_object_size(first), i, k;
  const char **names = calloc(ncol, sizeof *names);
  int *w = calloc(ncol, sizeof *w);
  const char *key;
  json_t *v, *row;
  char cell[512];
  k = 0;
  json_object_foreach(first, key, v) {
    names[k] = key;
    w[k] = width(key);
    k++;
  }
  json_array_foreach(rows, i, row) {
    for (k = 0; k < ncol; k++) {
      value_text(json_object_get(row, names[k]), cell, sizeof cell);
      if (width(cell) > w[k]) w[k] = width(cell);
    }
  }
  for (k = 0; k < ncol; k++) {
    pad(names[k], k + 1 < ncol ? w[k] + 2 : 0);
  }
  fputc('\n', stdout);
  json_array_foreach(rows, i, row) {
    for (k = 0; k < ncol; k++) {
      value_text(json_object_get(row, names[k]), cell, sizeof cell);
      pad(cell, k + 1 < ncol ? w[k] + 2 : 0);
    }
    fputc('\n', stdout);
  }
  free(names);
  free(w);
}

void print_rows(const cli *c, json_t *result) {
  if (c->json) {
    print_json_line(stdout, result);
    return;
  }
  table(json_object_get(result, "rows"));
}

void print_statement(const cli *c, json_t *st) {
  if (c->json) {
    print_json_line(stdout, st);
    return;
  }
  printf("Statement of %s (%s, holder %s, %s)\n", json_string_value(json_object_get(st, "account")),
         json_string_value(json_object_get(st, "type")), json_string_value(json_object_get(st, "holder")),
         json_string_value(json_object_get(st, "status")));
  printf("opening balance: %lld\n", (long long)json_integer_value(json_object_get(st, "opening")));
  table(json_object_get(st, "entries"));
  printf("closing balance: %lld\n", (long long)json_integer_value(json_object_get(st, "closing")));
}

void print_result(const cli *c, json_t *result) {
  if (c->json) {
    print_json_line(stdout, result);
    return;
  }
  json_t *r = json_object_get(result, "result");
  printf("ok: %s, journal entry %lld\n", json_string_value(json_object_get(result, "cmd")),
         (long long)json_integer_value(json_object_get(result, "seq")));
  const char *key;
  json_t *v;
  char cell[4096];
  json_object_foreach(r, key, v) {
    if (strcmp(key, "parties") == 0 || strstr(key, "_number") || strcmp(key, "project_key") == 0 ||
        strcmp(key, "cut") == 0)
      continue;
    value_text(v, cell, sizeof cell);
    printf("  %s: %s\n", key, cell);
  }
}

int print_refusal(const cli *c, const char *what, const jcm_check *chk) {
  if (c->json) {
    json_t *e = json_pack("{s:b,s:{s:i,s:s,s:s}}", "ok", 0, "error", "code", chk->code, "message", chk->message,
                          "field", chk->field);
    print_json_line(stdout, e);
    json_decref(e);
  } else {
    size_t fl = strlen(chk->field);
    int named = fl && strncmp(chk->message, chk->field, fl) == 0 && chk->message[fl] == ':';
    fprintf(stderr, "jcm %s: refused [%d] %s%s%s\n", what, chk->code, named || !fl ? "" : chk->field,
            named || !fl ? "" : ": ", chk->message);
  }
  return chk->code ? EXIT_REFUSED : EXIT_USAGE;
}

void print_verify(const cli *c, json_t *report) {
  if (c->json) {
    print_json_line(stdout, report);
    return;
  }
  int ok = json_is_true(json_object_get(report, "ok"));
  printf("verify: %s: %lld journal entries, head %s\n", ok ? "ok" : "FAILED",
         (long long)json_integer_value(json_object_get(report, "events")),
         json_string_value(json_object_get(report, "head")));
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(report, "problems"), i, p) {
    printf("  %s: %s: %s\n", json_string_value(json_object_get(p, "check")),
           json_string_value(json_object_get(p, "where")), json_string_value(json_object_get(p, "what")));
  }
}

/* The trace of a row, "+1009 ft 12/1 v2021, -7 use 14/1": what the
 * adjustment comes from, each action by its journal entry and number. */
static void trace_text(json_t *actions, char *out, size_t n) {
  size_t used = 0, i;
  json_t *a;
  out[0] = 0;
  json_array_foreach(actions, i, a) {
    if (used + 48 >= n) {
      snprintf(out + used, n - used, ", ...");
      return;
    }
    int use = json_object_get(a, "ndc_year") != NULL;
    used += (size_t)snprintf(out + used, n - used, "%s%+lld %s %lld/%lld", i ? ", " : "",
                             (long long)json_integer_value(json_object_get(a, "effect")), use ? "use" : "ft",
                             (long long)json_integer_value(json_object_get(a, "seq")),
                             (long long)json_integer_value(json_object_get(a, "n")));
  }
}

void print_a6_balance(const cli *c, json_t *bal) {
  if (c->json) {
    print_json_line(stdout, bal);
    return;
  }
  printf("Emissions balance of %s: %s NDC %lld-%lld, %s (NDC version %lld, year starts in month %lld)\n",
         json_string_value(json_object_get(bal, "party")), json_string_value(json_object_get(bal, "kind")),
         (long long)json_integer_value(json_object_get(bal, "first_year")),
         (long long)json_integer_value(json_object_get(bal, "last_year")),
         json_string_value(json_object_get(bal, "method")),
         (long long)json_integer_value(json_object_get(bal, "ndc_version")),
         (long long)json_integer_value(json_object_get(bal, "fiscal_start_month")));
  json_t *rows = json_array(), *r;
  size_t i;
  json_array_foreach(json_object_get(bal, "rows"), i, r) {
    char trace[512], final[32] = "-";
    trace_text(json_object_get(r, "actions"), trace, sizeof trace);
    if (json_is_integer(json_object_get(r, "final_version")))
      snprintf(final, sizeof final, "v%lld%s", (long long)json_integer_value(json_object_get(r, "final_version")),
               json_is_true(json_object_get(r, "differs_from_final")) ? " (live differs)" : "");
    json_array_append_new(rows,
                          json_pack("{s:O,s:s,s:O,s:O,s:O,s:O,s:s,s:s}", "year", json_object_get(r, "year"), "ndc",
                                    json_is_true(json_object_get(r, "in_period")) ? "yes" : "no", "emissions",
                                    json_object_get(r, "emissions"), "net", json_object_get(r, "net"), "adjustment",
                                    json_object_get(r, "adjustment"), "balance", json_object_get(r, "balance"), "final",
                                    final, "actions", trace[0] ? trace : "-"));
  }
  table(rows);
  json_decref(rows);
  json_t *cum = json_object_get(bal, "cumulative");
  char e[32], b[32];
  if (json_is_object(cum)) {
    value_text(json_object_get(cum, "emissions"), e, sizeof e);
    value_text(json_object_get(cum, "balance"), b, sizeof b);
    printf("cumulative %lld-%lld: emissions %s, adjustment %s, balance %s\n",
           (long long)json_integer_value(json_object_get(cum, "first_year")),
           (long long)json_integer_value(json_object_get(cum, "last_year")), e,
           json_string_value(json_object_get(cum, "adjustment")), b);
  }
}
