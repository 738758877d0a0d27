/*
 * The jcm command's subcommands. Write commands are built from the
 * library's command table (lib/spec.c): each field is a --flag, lists are
 * repeated flags, and the JSON sent is exactly what `jcm apply` and the HTTP
 * API take. Queries map their flags to the query's parameters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "spec.h"

/* ---- write commands ---- */

typedef struct {
  const char *words;      /* "account block" */
  const char *cmd;        /* "account.status" */
  const char *preset;     /* extra JSON members, e.g. {"status":"blocked"} */
  const char *positional; /* the field a bare argument fills, e.g. "name" */
} write_cmd;

static const write_cmd writes[] = {
    {"init", "init", NULL, NULL},
    {"party add", "party.add", NULL, NULL},
    {"registry add", "registry.add", NULL, NULL},
    {"coop add", "coop.add", NULL, NULL},
    {"org add", "org.add", NULL, NULL},
    {"account open", "account.open", NULL, NULL},
    {"account block", "account.status", "{\"status\":\"blocked\"}", NULL},
    {"account unblock", "account.status", "{\"status\":\"open\"}", NULL},
    {"account close", "account.status", "{\"status\":\"closed\"}", NULL},
    {"methodology add", "methodology.add", NULL, NULL},
    {"pin submit", "pin.submit", NULL, NULL},
    {"project pdd", "project.pdd", NULL, NULL},
    {"project validate", "project.validate", NULL, NULL},
    {"project import", "project.import", NULL, NULL},
    {"project withdraw", "project.withdraw", NULL, NULL},
    {"decide", "decide", NULL, NULL},
    {"monitoring submit", "monitoring.submit", NULL, NULL},
    {"monitoring verify", "monitoring.verify", NULL, NULL},
    {"issue", "issue", NULL, NULL},
    {"transfer", "transfer", NULL, NULL},
    {"cancel", "cancel", NULL, NULL},
    {"retire", "retire", NULL, NULL},
    {"ndc set", "ndc.set", NULL, NULL},
    {"emissions report", "emissions.report", NULL, NULL},
    {"year finalize", "year.finalize", NULL, NULL},
    {"authorize", "authorize", NULL, NULL},
    {"use", "use", NULL, NULL},
    {"key generate", "key.generate", NULL, NULL},
    {"registry key", "registry.key", NULL, NULL},
    {"xfer propose", "xfer.propose", NULL, NULL},
    {"xfer terminate", "xfer.terminate", NULL, NULL},
    {"tx approve", "tx.approve", NULL, NULL},
    {"tx reject", "tx.reject", NULL, NULL},
    {"tx cancel", "tx.cancel", NULL, NULL},
    {"link receive", "link.receive", NULL, NULL},
    {"user disable", "user.disable", NULL, "name"},
    {"user enable", "user.enable", NULL, "name"},
    {"user role", "user.role", NULL, "name"},
    {"token revoke", "token.revoke", NULL, "id"},
};

/* CLI flag of a field: first_day -> --first-day; lists take one item a flag. */
static void flag_of(const field_spec *f, char *out, size_t n) {
  const char *name = f->name;
  if (strcmp(name, "ranges") == 0)
    name = "range";
  else if (strcmp(name, "participants") == 0)
    name = "participant";
  else if (strcmp(name, "parties") == 0)
    name = "party";
  else if (strcmp(name, "sectors") == 0)
    name = "sector";
  else if (strcmp(name, "activities") == 0)
    name = "activity";
  else if (strcmp(name, "entities") == 0)
    name = "entity";
  snprintf(out, n, "--%s", name);
  for (char *p = out + 2; *p; p++)
    if (*p == '_') *p = '-';
}

static int is_integer_text(const char *s) {
  const char *p = s + (*s == '-');
  if (!*p) return 0;
  for (; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

/* A value for a field of type t: integers as JSON numbers when they look
 * like one (the library refuses what is out of range), else text. */
static json_t *scalar(field_type t, const char *v) {
  if (t == F_INT && is_integer_text(v)) {
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    return errno == 0 ? json_integer(x) : NULL; /* NULL: beyond 2^63 */
  }
  return json_string(v);
}

/* An item of a list flag: allocation ACCOUNT=QTY, range FIRST-LAST[@ORIGIN],
 * participant ORG=SIDE. */
static json_t *list_item(const field_spec *f, const char *v) {
  if (f->type == F_IDS) return json_string(v);
  json_t *o = json_object();
  char buf[512];
  snprintf(buf, sizeof buf, "%s", v);
  char *origin = NULL;
  if (strcmp(f->name, "ranges") == 0 && (origin = strchr(buf, '@'))) *origin++ = 0;
  char *sep = strchr(buf + 1, strcmp(f->name, "ranges") == 0 ? '-' : '=');
  if (sep) *sep++ = 0;
  const field_spec *s = f->sub;
  json_t *a = scalar(s[0].type, buf), *b = sep ? scalar(s[1].type, sep) : NULL;
  if (!a || (sep && !b)) {
    json_decref(a);
    json_decref(b);
    json_decref(o);
    return NULL;
  }
  json_object_set_new(o, s[0].name, a);
  if (b) json_object_set_new(o, s[1].name, b);
  if (origin && s[2].name) json_object_set_new(o, s[2].name, json_string(origin));
  return o;
}

static void command_help(FILE *f, const write_cmd *w, const cmd_spec *s) {
  char bare[24] = "";
  for (size_t i = 0; w->positional && w->positional[i] && i < sizeof bare - 2; i++) /* "name" -> "NAME " */
    bare[i] = (char)(w->positional[i] - 'a' + 'A'), bare[i + 1] = ' ';
  fprintf(f, "usage: jcm %s %s[options]\n  %s (roles: ", w->words, bare, s->help);
  const char *names[] = {"admin", "jc_secretariat", "holder", "tpe", "auditor", "peer"};
  for (int i = 0, first = 1; i < 6; i++)
    if (s->roles & (1u << i)) fprintf(f, "%s%s", first ? "" : ", ", names[i]), first = 0;
  fprintf(f, ")\n");
  for (const field_spec *fl = s->fields; fl->name; fl++) {
    char flag[48];
    if (w->preset && strstr(w->preset, fl->name)) continue;
    flag_of(fl, flag, sizeof flag);
    const char *arg = fl->type == F_INT ? "N" : fl->type == F_DATE ? "YYYY-MM-DD" : "VALUE";
    if (strcmp(fl->name, "allocation") == 0)
      arg = "ACCOUNT=QUANTITY (repeat)";
    else if (strcmp(fl->name, "ranges") == 0) /* authorize's ranges have no origin */
      arg = fl->sub[2].name ? "FIRST-LAST[@ORIGIN] (repeat)" : "FIRST-LAST (repeat)";
    else if (strcmp(fl->name, "participants") == 0)
      arg = "ORG=SIDE (repeat)";
    else if (fl->type == F_IDS)
      arg = "TEXT (repeat)";
    fprintf(f, "  %-21s %-30s %s%s\n", flag, arg, fl->help, fl->required ? " (required)" : "");
    if (fl->type == F_ENUM) { /* commas: some choices have spaces ("NDC and OIMP") */
      fprintf(f, "  %-21s %-30s one of:", "", "");
      for (const char *const *ch = fl->choices; *ch; ch++)
        fprintf(f, "%s %s", ch == fl->choices ? "" : ",", *ch);
      fprintf(f, "\n");
    }
  }
}

/* Builds the command's JSON from flags; EXIT_USAGE on a bad flag. */
static int build_command(const cli *c, const write_cmd *w, const cmd_spec *s, int argc, char **argv, json_t **out) {
  json_t *cmd = w->preset ? json_loads(w->preset, 0, NULL) : json_object();
  json_object_set_new(cmd, "cmd", json_string(w->cmd));
  for (int i = 0; i < argc; i++) {
    const field_spec *f = s->fields;
    char flag[48];
    if (w->positional && argv[i][0] != '-' && !json_object_get(cmd, w->positional)) {
      json_object_set_new(cmd, w->positional, json_string(argv[i]));
      continue;
    }
    for (; f->name; f++) {
      flag_of(f, flag, sizeof flag);
      if (strcmp(flag, argv[i]) == 0) break;
    }
    if (!f->name || i + 1 >= argc) {
      fprintf(stderr, "jcm %s: %s '%s' (see jcm %s --help)\n", w->words,
              f->name ? "missing value for" : "unknown option", argv[i], w->words);
      json_decref(cmd);
      return EXIT_USAGE;
    }
    const char *v = argv[++i];
    json_t *item = f->type == F_ARRAY || f->type == F_IDS ? list_item(f, v) : scalar(f->type, v);
    if (!item) { /* refused as the library would refuse the JSON number */
      jcm_check chk = {.code = 1004};
      snprintf(chk.field, sizeof chk.field, "%s", f->name);
      snprintf(chk.message, sizeof chk.message, "%s: number too large (at most 2^63-1)", f->name);
      json_decref(cmd);
      return print_refusal(c, w->words, &chk);
    }
    if (f->type == F_ARRAY || f->type == F_IDS) {
      json_t *list = json_object_get(cmd, f->name);
      if (!list) json_object_set_new(cmd, f->name, list = json_array());
      json_array_append_new(list, item);
    } else {
      json_object_set_new(cmd, f->name, item);
    }
  }
  *out = cmd;
  return EXIT_OK;
}

static int submit_and_print(cli *c, const char *what, json_t *cmd) {
  jcm *j;
  int rc = cli_open(c, &j);
  if (rc != EXIT_OK) return rc;
  json_t *result = NULL;
  char *text = json_dumps(cmd, JSON_COMPACT);
  int st = jcm_submit_text(j, text, strlen(text), &c->actor, &result);
  free(text);
  if (st == JCM_OK) {
    print_result(c, result);
    rc = EXIT_OK;
  } else {
    jcm_check chk = {0};
    json_t *e = json_object_get(result, "error");
    chk.code = (int)json_integer_value(json_object_get(e, "code"));
    snprintf(chk.field, sizeof chk.field, "%s", json_string_value(json_object_get(e, "field")));
    snprintf(chk.message, sizeof chk.message, "%s", json_string_value(json_object_get(e, "message")));
    rc = st == JCM_ERROR ? EXIT_USAGE : EXIT_REFUSED;
    print_refusal(c, what, &chk);
  }
  json_decref(result);
  jcm_close(j);
  return rc;
}

static int run_write(cli *c, const write_cmd *w, int argc, char **argv) {
  const cmd_spec *s = jcm__spec_find(w->cmd);
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      command_help(stdout, w, s);
      return EXIT_OK;
    }
  json_t *cmd = NULL;
  int rc = build_command(c, w, s, argc, argv, &cmd);
  if (rc != EXIT_OK) return rc;
  rc = submit_and_print(c, w->words, cmd);
  json_decref(cmd);
  return rc;
}

/* ---- queries ---- */

typedef struct {
  const char *words;
  const char *query;
  const char *positional; /* parameter a bare argument fills */
  const char *help;
} read_cmd;

static const read_cmd reads[] = {
    {"balance", "balance", "account", "units held, by account, project and vintage [--account --project --vintage]"},
    {"statement", "statement", "account", "an account's movements with serial ranges: ACCOUNT [--after-seq --limit]"},
    {"blocks", "blocks", "account", "unit blocks [--account --project]"},
    {"tx", "tx", "id", "a transaction: ID"},
    {"journal", "journal", NULL, "the latest journal entries [--limit --before]"},
    {"journal head", "head", NULL, "the journal's head: sequence and hash"},
    {"account list", "accounts", NULL, "accounts with balances [--holder]"},
    {"project list", "projects", NULL, "projects and PINs [--status]"},
    {"project steps", "project_steps", "project", "a project's status history: PROJECT"},
    {"period list", "periods", "project", "monitoring periods [--project]"},
    {"decision list", "decisions", NULL, "Joint Committee decisions [--meeting]"},
    {"issuance list", "issuances", "project", "issuances [--project]"},
    {"allocation list", "allocations", "issuance", "allocations of issuances [--issuance]"},
    {"party list", "parties", NULL, "Parties"},
    {"org list", "orgs", NULL, "organisations [--country]"},
    {"registry list", "registries", NULL, "this registry and its peers"},
    {"registry keys", "registries_keys", "id", "the registries' public signing keys [--id]"},
    {"auth list", "authorizations", "id", "Article 6 authorizations, every version [--id]"},
    {"action list", "actions", "type", "Article 6 actions as AEF Table 3 reports them [--type]"},
    {"xfer list", "xfers", NULL, "transfers between registries, both directions [--status]"},
    {"pending list", "pending", NULL, "transactions held for a second administrator's approval [--status]"},
    {"user list", "users", NULL, "users of the server: role, organisation, disabled [--role]"},
    {"token list", "tokens", "user", "API tokens: ids, users, created and revoked (never a secret) [--user]"},
    {"report accounts", "public_accounts", NULL, "public report: holding accounts and their holders [--type]"},
    {"report units", "units_by_type", NULL, "public report: units held per account type [--vintage]"},
    {"report transactions", "tx_summary", NULL, "public report: transactions and units per year and type [--year]"},
    {"a6 balance", "a6.balance", "party", "Article 6 emissions balance per year, with adjustments [--party]"},
};

static int run_read(cli *c, const read_cmd *r, int argc, char **argv) {
  json_t *params = json_object();
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: jcm %s\n  %s; --limit N --offset N page through lists\n", r->words, r->help);
      json_decref(params);
      return EXIT_OK;
    }
    if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc) {
      char name[64];
      snprintf(name, sizeof name, "%s", argv[i] + 2);
      for (char *p = name; *p; p++)
        if (*p == '-') *p = '_';
      const char *v = argv[++i];
      json_object_set_new(params, name,
                          is_integer_text(v) && strcmp(name, "project") != 0 ? json_integer(strtoll(v, NULL, 10))
                                                                             : json_string(v));
    } else if (r->positional && strncmp(argv[i], "--", 2) != 0) {
      json_object_set_new(params, r->positional, json_string(argv[i]));
    } else {
      fprintf(stderr, "jcm %s: unexpected '%s' (see jcm %s --help)\n", r->words, argv[i], r->words);
      json_decref(params);
      return EXIT_USAGE;
    }
  }
  jcm *j;
  int rc = cli_open(c, &j);
  if (rc != EXIT_OK) {
    json_decref(params);
    return rc;
  }
  json_t *result = NULL;
  jcm_check chk;
  int st = jcm_query(j, r->query, params, &result, &chk);
  if (st != JCM_OK)
    rc = print_refusal(c, r->words, &chk);
  else if (strcmp(r->query, "statement") == 0)
    print_statement(c, result);
  else if (strcmp(r->query, "a6.balance") == 0)
    print_a6_balance(c, result);
  else if (json_object_get(result, "rows"))
    print_rows(c, result);
  else if (c->json)
    print_json_line(stdout, result);
  else {
    json_t *arr = json_array();
    json_array_append(arr, result);
    json_t *wrap = json_pack("{s:o}", "rows", arr);
    print_rows(c, wrap);
    json_decref(wrap);
  }
  json_decref(result);
  json_decref(params);
  jcm_close(j);
  return rc;
}

/* ---- verify, apply, check-codes ---- */

/* Options of verify and check-codes: --help prints usage; any other word
 * not in `allowed` is bad usage (a typo must not run a check silently). */
static int simple_options(const char *usage, const char *allowed, int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s", usage);
      return EXIT_OK + 100;
    }
    if (!allowed || strcmp(argv[i], allowed) != 0) {
      fprintf(stderr, "jcm: unexpected '%s'\n%s", argv[i], usage);
      return EXIT_USAGE;
    }
  }
  return EXIT_OK;
}

static int run_verify(cli *c, int argc, char **argv) {
  int opt = simple_options("usage: jcm verify\n  checks the journal's hash chain, replays it into a fresh store and\n"
                           "  compares every table, checks the invariants; exit 1 names what is wrong\n",
                           NULL, argc, argv);
  if (opt != EXIT_OK) return opt == EXIT_OK + 100 ? EXIT_OK : opt;
  jcm *j;
  int rc = cli_open(c, &j);
  if (rc != EXIT_OK) return rc;
  json_t *report = NULL;
  int st = jcm_verify(j, &report);
  if (report)
    print_verify(c, report);
  else
    fprintf(stderr, "jcm verify: could not run\n");
  json_decref(report);
  jcm_close(j);
  return st == JCM_OK ? EXIT_OK : EXIT_REFUSED;
}

#define MAX_LINE (1u << 20)

/* One line's result: the command's, or a refusal of a line too long. */
static json_t *submit_line(cli *c, jcm *j, const char *line, size_t len) {
  if (len > MAX_LINE)
    return json_pack("{s:b,s:n,s:{s:i,s:s,s:s}}", "ok", 0, "cmd", "error", "code", 1005, "message",
                     "the line is longer than 1 MiB", "field", "");
  json_t *result = NULL;
  jcm_submit_text(j, line, len, &c->actor, &result);
  return result;
}

/* A batch's lines, kept until it commits (a too long line as NULL), each
 * with its length: a line may hold a NUL byte, and runs again exactly as it
 * ran first (cut at the NUL, a line refused as malformed could parse). */
typedef struct {
  char **v;
  size_t *len;
  size_t n, cap;
} kept_lines;

static int keep_line(kept_lines *k, const char *line, size_t len) {
  if (k->n == k->cap) {
    size_t cap = k->cap ? 2 * k->cap : 64;
    char **g = realloc(k->v, cap * sizeof *g);
    if (g) k->v = g;
    size_t *l = g ? realloc(k->len, cap * sizeof *l) : NULL;
    if (!l) return -1;
    k->len = l, k->cap = cap;
  }
  char *copy = len > MAX_LINE ? NULL : malloc(len + 1);
  if (len <= MAX_LINE && !copy) return -1;
  if (copy) memcpy(copy, line, len), copy[len] = 0;
  k->v[k->n] = copy;
  k->len[k->n++] = len;
  return 0;
}

static void drop_lines(kept_lines *k) {
  for (size_t i = 0; i < k->n; i++)
    free(k->v[i]);
  k->n = 0;
}

/* A batch that a command broke (jcm_batch_commit gave JCM_REFUSED: the
 * command failed after it wrote, lib/engine.c tx_begin) took no effect. Its
 * commands run again, each in its own transaction, so that the others still
 * take effect and the failing one reports its own error. */
static void run_each_alone(cli *c, jcm *j, kept_lines *k, json_t *pending) {
  if (k->n > 1) fprintf(stderr, "jcm apply: a command broke a batch of %zu; running each alone\n", k->n);
  json_array_clear(pending);
  for (size_t i = 0; i < k->n; i++)
    json_array_append_new(pending, submit_line(c, j, k->v[i] ? k->v[i] : "", k->len[i]));
}

/* What the results of the committed batches came to, written by whoever
 * prints them (the syncer's thread) and read once it has drained. */
typedef struct {
  int refused, lost;
} apply_outcome;

typedef struct {
  json_t *results;
  apply_outcome *out;
} committed_batch;

/* Prints a committed batch's results once it is durable; when durability is
 * unknown (an fdatasync failed) prints none of them. */
static void print_batch(void *arg, int ok) {
  committed_batch *b = arg;
  if (ok != JCM_OK && !b->out->lost)
    fprintf(stderr, "jcm apply: fdatasync of the WAL failed: whether the last batches reached the disk is unknown;"
                    " their results are not printed\n");
  b->out->lost |= ok != JCM_OK;
  size_t i;
  json_t *r;
  json_array_foreach(ok == JCM_OK ? b->results : NULL, i, r) {
    b->out->refused |= !json_is_true(json_object_get(r, "ok"));
    print_json_line(stdout, r);
  }
  fflush(stdout);
  json_decref(b->results);
  free(b);
}

/* Hands a committed batch's results (the reference is taken) to the syncer,
 * which prints them once the commit is durable, or without one waits for the
 * disk here. 0, or -1 out of memory. */
static int hand_over(jcm_syncer *sy, json_t *results, int durable, apply_outcome *out) {
  committed_batch *b = malloc(sizeof *b);
  if (!b) {
    json_decref(results);
    jcm_make_durable(durable); /* the commit is in: wait for it, print nothing more */
    return -1;
  }
  *b = (committed_batch){results, out};
  if (sy) return jcm_syncer_add(sy, durable, print_batch, b) == JCM_OK ? 0 : -1;
  print_batch(b, jcm_make_durable(durable));
  return 0;
}

/* The result of a command whose own commit failed, as jcm_submit reports a
 * store error in its commit (lib/engine.c, tx_end); NULL out of memory. */
static json_t *commit_failed(json_t *result) {
  json_t *cmd = json_object_get(result, "cmd");
  return json_pack("{s:b,s:O?,s:{s:i,s:s,s:s}}", "ok", 0, "cmd", cmd, "error", "code", 0, "message",
                   "store error in commit: the transaction could not be committed", "field", "");
}

/* Reads up to `batch` lines of in and submits them in one batch, begun only
 * once the first line is in, and ended early when input pauses: waiting for
 * input (a pipe, a terminal) holds no lock on the store, and the lines sent
 * so far get their results. Keeps each line (a broken batch runs them
 * again) and its result. The count; 0 when no batch was begun (the end of
 * input, or a batch that could not begin: its first line then ran alone,
 * its result in pending); -1 when memory ran out (the batch rolled back). */
static long read_batch(cli *c, jcm *j, line_reader *in, long batch, kept_lines *kept, json_t *pending) {
  long n = 0;
  size_t len;
  char *line;
  while (n < batch && (n == 0 || lines_ready(in)) && (line = lines_next(in, &len))) {
    if (len == 0) continue;
    int alone = n == 0 && jcm_batch_begin(j) != JCM_OK; /* the line alone reports why (a lock held too long) */
    json_t *result = alone || keep_line(kept, line, len) == 0 ? submit_line(c, j, line, len) : NULL;
    if (!result || json_array_append_new(pending, result) != 0) {
      fprintf(stderr, "jcm apply: out of memory\n");
      if (!alone) jcm_batch_rollback(j);
      return -1;
    }
    if (alone) return 0;
    n++;
  }
  return n;
}

/* Submits lines of in, up to n per database transaction; prints each result only
 * after its transaction committed and reached the disk. The next batch is
 * applied while the last one's fdatasync runs on the syncer's thread
 * (docs/design.md, "Commits in a pipeline"). */
static int apply_stream(cli *c, jcm *j, line_reader *in, long batch) {
  int failed = 0;
  apply_outcome out = {0};
  json_t *pending = json_array();
  kept_lines kept = {0};
  jcm_syncer *sy = jcm_syncer_start(); /* NULL: each batch waits for the disk in line */
  while (!failed) {
    long n = read_batch(c, j, in, batch, &kept, pending);
    if (n < 0) {
      failed = 1;
      break;
    }
    if (n == 0 && json_array_size(pending) == 0) break; /* the end of input */
    int durable = -1, committed = n > 0 ? jcm_batch_commit_early(j, &durable) : JCM_OK;
    /* a batch of one that broke holds its command's own result already */
    if (committed == JCM_REFUSED && n > 1) run_each_alone(c, j, &kept, pending);
    drop_lines(&kept);
    if (committed == JCM_ERROR && n == 1) { /* as the command alone reported a failed commit */
      if (json_array_set_new(pending, 0, commit_failed(json_array_get(pending, 0))) != 0) {
        fprintf(stderr, "jcm apply: the transaction could not be committed (and memory ran out)\n");
        failed = 1;
        break;
      }
    } else if (committed == JCM_ERROR) { /* running them again could apply them twice */
      fprintf(stderr, "jcm apply: the batch could not be committed; none of its %ld commands took effect\n", n);
      failed = 1;
      break;
    }
    if (hand_over(sy, pending, durable, &out) != 0) {
      fprintf(stderr, "jcm apply: out of memory\n");
      failed = 1;
    }
    pending = json_array();
    if (!pending || (sy ? jcm_syncer_failed(sy) : out.lost)) failed = 1; /* out is the syncer's while it runs */
  }
  jcm_syncer_stop(sy); /* every batch handed over is printed, or known lost */
  if (in->err) {
    fprintf(stderr, "jcm apply: cannot read the input: %s\n", strerror(in->err));
    failed = 1;
  }
  drop_lines(&kept);
  free(kept.v);
  free(kept.len);
  json_decref(pending);
  return failed || out.lost ? EXIT_USAGE : out.refused ? EXIT_REFUSED : EXIT_OK;
}

static int run_apply(cli *c, int argc, char **argv) {
  const char *file = NULL;
  long batch = 1;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      char *end;
      batch = strtol(argv[++i], &end, 10);
      if (*end || batch < 1 || batch > 100000) {
        fprintf(stderr, "jcm apply: --batch takes 1..100000\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(argv[i], "--help") == 0) {
      printf("usage: jcm apply FILE|- [--batch N]\n"
             "  submits one JSON command per line; prints one JSON result per\n"
             "  line, each only after its database transaction committed and\n"
             "  reached the disk (the next is applied meanwhile);\n"
             "  --batch N commits up to N commands per transaction (default 1),\n"
             "  fewer when input pauses (a pipe): what was sent gets its results; a batch\n"
             "  that cannot commit (a command failed after it wrote) runs again,\n"
             "  each command in its own transaction\n");
      return EXIT_OK;
    } else if (!file) {
      file = argv[i];
    } else {
      fprintf(stderr, "jcm apply: unexpected '%s'\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!file) {
    fprintf(stderr, "jcm apply: name a file, or - for standard input\n");
    return EXIT_USAGE;
  }
  int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "jcm apply: cannot open %s: %s\n", file, strerror(errno));
    return EXIT_USAGE;
  }
  jcm *j;
  int rc = cli_open(c, &j);
  if (rc == EXIT_OK) {
    c->json = true;
    line_reader in;
    lines_init(&in, fd, MAX_LINE);
    rc = apply_stream(c, j, &in, batch);
    lines_free(&in);
    jcm_close(j);
  }
  if (fd != STDIN_FILENO) close(fd);
  return rc;
}

static int run_codes(cli *c, int argc, char **argv) {
  int opt = simple_options("usage: jcm check-codes [--markdown]\n  every check code with its name and meaning;"
                           " --markdown as the table of docs/check-codes.md\n",
                           "--markdown", argc, argv);
  if (opt != EXIT_OK) return opt == EXIT_OK + 100 ? EXIT_OK : opt;
  size_t n;
  const jcm_code_info *codes = jcm_codes(&n);
  int md = argc > 0 && strcmp(argv[0], "--markdown") == 0;
  if (c->json) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(
          arr, json_pack("{s:i,s:s,s:s}", "code", codes[i].code, "name", codes[i].name, "text", codes[i].text));
    print_json_line(stdout, arr);
    json_decref(arr);
    return EXIT_OK;
  }
  for (size_t i = 0; i < n; i++) {
    if (md)
      printf("| %d | %s | %s |\n", codes[i].code, codes[i].name, codes[i].text);
    else
      printf("%d  %-28s %s\n", codes[i].code, codes[i].name, codes[i].text);
  }
  return EXIT_OK;
}

/* ---- link: moving signed messages between registries through files ---- */

typedef struct {
  const char *peer, *file;
  int64_t after;
} link_args;

static int link_usage(FILE *f) {
  fprintf(f, "usage: jcm link export --peer REG [--after N]\n"
             "         prints the outbox messages for REG numbered above N (default 0), one JSON line each\n"
             "         {\"msg\":...,\"sig\":...}\n"
             "       jcm link import FILE|- [--actor NAME]\n"
             "         submits each line as link.receive (actor NAME, default \"link\", role peer); prints one\n"
             "         result line each; a duplicate (7003) counts as done; stops with exit 1 at another refusal\n"
             "       jcm link status --peer REG\n"
             "         the last message number received from REG and the last one written for it\n");
  return EXIT_OK;
}

/* Parses the options of a link subcommand; EXIT_USAGE on a bad one. */
static int link_parse(cli *c, const char *sub, int argc, char **argv, link_args *a) {
  for (int i = 0; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--peer") == 0 && v)
      a->peer = argv[++i];
    else if (strcmp(argv[i], "--after") == 0 && v && is_integer_text(v) && v[0] != '-')
      a->after = strtoll(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--actor") == 0 && v)
      c->actor.name = argv[++i], c->actor_set = true;
    else if (strcmp(sub, "import") == 0 && !a->file && (strncmp(argv[i], "-", 1) != 0 || !argv[i][1]))
      a->file = argv[i];
    else {
      fprintf(stderr, "jcm link %s: unexpected '%s' (see jcm link --help)\n", sub, argv[i]);
      return EXIT_USAGE;
    }
  }
  if (strcmp(sub, "import") == 0 ? !a->file : !a->peer) {
    fprintf(stderr, "jcm link %s: %s (see jcm link --help)\n", sub,
            a->file || strcmp(sub, "import") != 0 ? "name the peer registry: --peer REG" : "name a file, or -");
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

/* The outbox in pages, so that a long history is never held at once. */
static int link_export(jcm *j, const link_args *a) {
  int64_t after = a->after;
  for (;;) {
    json_t *msgs = NULL, *m;
    if (jcm_link_outbox(j, a->peer, after, 1000, &msgs) != JCM_OK) {
      json_decref(msgs);
      fprintf(stderr, "jcm link export: cannot read the outbox\n");
      return EXIT_USAGE;
    }
    size_t i, n = json_array_size(msgs);
    json_array_foreach(msgs, i, m) {
      json_t *line = json_pack("{s:O,s:O}", "msg", json_object_get(m, "msg"), "sig", json_object_get(m, "sig"));
      print_json_line(stdout, line);
      json_decref(line);
      after = json_integer_value(json_object_get(m, "n"));
    }
    json_decref(msgs);
    if (n < 1000) return EXIT_OK;
  }
}

/* One line of an export file: prints its outcome; 1 when it was refused
 * (other than as a duplicate), 2 when the store failed. */
static int link_receive_line(const cli *c, jcm *j, const char *line, size_t len) {
  json_t *in = json_loadb(line, len, 0, NULL), *result = NULL;
  json_t *cmd = json_pack("{s:s,s:O?,s:O?}", "cmd", "link.receive", "msg", json_object_get(in, "msg"), "sig",
                          json_object_get(in, "sig"));
  json_t *m = json_loads(
      json_string_value(json_object_get(in, "msg")) ? json_string_value(json_object_get(in, "msg")) : "{}", 0, NULL);
  int st = cmd ? jcm_submit(j, cmd, &c->actor, &result) : JCM_ERROR;
  json_t *e = json_object_get(result, "error");
  int code = (int)json_integer_value(json_object_get(e, "code"));
  if (c->json)
    print_json_line(stdout, result);
  else if (st == JCM_OK || code == 7003)
    printf("%s #%lld %-10s %s: %s\n", json_string_value(json_object_get(m, "from")),
           (long long)json_integer_value(json_object_get(m, "n")), json_string_value(json_object_get(m, "type")),
           json_string_value(json_object_get(m, "tx")),
           st == JCM_OK ? "received" : "duplicate, received before [7003]");
  else
    fprintf(stderr, "jcm link import: refused [%d] %s\n", code,
            e ? json_string_value(json_object_get(e, "message")) : "the line is not a link message");
  int rc = st == JCM_OK || code == 7003 ? EXIT_OK : st == JCM_ERROR && code == 0 && e ? EXIT_USAGE : EXIT_REFUSED;
  json_decref(m);
  json_decref(result);
  json_decref(cmd);
  json_decref(in);
  return rc;
}

static int link_import(const cli *c, jcm *j, FILE *in) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = EXIT_OK;
  while (rc == EXIT_OK && (len = getline(&line, &cap, in)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = 0;
    if (len > 0) rc = link_receive_line(c, j, line, (size_t)len);
    fflush(stdout);
  }
  free(line);
  return rc;
}

/* "Sent" is what the outbox holds: the outbox is never marked delivered. */
static int link_status(const cli *c, jcm *j, const link_args *a) {
  int64_t received = 0, sent = 0;
  json_t *msgs = NULL;
  if (jcm_link_last_received(j, a->peer, &received) != JCM_OK) return EXIT_USAGE;
  for (int more = 1; more;) {
    if (jcm_link_outbox(j, a->peer, sent, 1000, &msgs) != JCM_OK) return json_decref(msgs), EXIT_USAGE;
    size_t n = json_array_size(msgs);
    if (n) sent = json_integer_value(json_object_get(json_array_get(msgs, n - 1), "n"));
    more = n == 1000;
    json_decref(msgs);
  }
  if (c->json) {
    json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "registry", jcm_registry(j), "peer", a->peer, "last_received",
                          (json_int_t)received, "last_sent", (json_int_t)sent);
    print_json_line(stdout, o);
    json_decref(o);
  } else {
    printf("%s and peer %s\n  last message received from %s: %lld\n  last message written for %s: %lld\n",
           jcm_registry(j), a->peer, a->peer, (long long)received, a->peer, (long long)sent);
  }
  return EXIT_OK;
}

static int run_link(cli *c, int argc, char **argv) {
  const char *sub = argc > 0 ? argv[0] : "";
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return link_usage(stdout);
  if (strcmp(sub, "export") != 0 && strcmp(sub, "import") != 0 && strcmp(sub, "status") != 0) {
    link_usage(stderr);
    return EXIT_USAGE;
  }
  link_args a = {0};
  if (!c->actor_set) c->actor.name = "link";
  c->actor.role = "peer"; /* link.receive is the peer's command, whoever carries it */
  int rc = link_parse(c, sub, argc - 1, argv + 1, &a);
  if (rc != EXIT_OK) return rc;
  FILE *in = NULL;
  if (a.file && !(in = strcmp(a.file, "-") == 0 ? stdin : fopen(a.file, "r"))) {
    fprintf(stderr, "jcm link import: cannot open %s: %s\n", a.file, strerror(errno));
    return EXIT_USAGE;
  }
  jcm *j = NULL;
  rc = cli_open(c, &j);
  if (rc == EXIT_OK)
    rc = strcmp(sub, "export") == 0   ? link_export(j, &a)
         : strcmp(sub, "import") == 0 ? link_import(c, j, in)
                                      : link_status(c, j, &a);
  jcm_close(j);
  if (in && in != stdin) fclose(in);
  return rc;
}

/* ---- aef ---- */

static void aef_help(void) {
  printf("usage: jcm aef --year YEAR [--version N] [--date YYYY-MM-DD] [--format csv|json|xlsx] [--out PATH]\n"
         "  the AEF report (Tables 1-5) of this registry's Party for YEAR; Holdings as at 31 December.\n"
         "  The consistency checks run first: an inconsistent report is refused (exit 1), its problems\n"
         "  listed, and nothing is written.\n"
         "  --year YEAR       the reported year (required)\n"
         "  --version N       version of the submission (default 1)\n"
         "  --date DATE       date of submission (default today)\n"
         "  --format FORMAT   csv (default: the five tables stacked), json, or xlsx (a sheet per table)\n"
         "  --out PATH        file to write (default standard output; required for xlsx)\n");
}

/* A whole number in lo..hi, else -1. */
static long number_arg(const char *v, long lo, long hi) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  return errno || *end || end == v || x < lo || x > hi ? -1 : x;
}

/* Fills o from the flags; EXIT_USAGE with a message on a bad one. */
static int aef_options(int argc, char **argv, jcm_aef_options *o) {
  for (int i = 0; i < argc; i++) {
    const char *flag = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "jcm aef: %s '%s' (see jcm aef --help)\n", "missing value or unknown option", flag);
      return EXIT_USAGE;
    }
    i++;
    if (strcmp(flag, "--year") == 0)
      o->year = (int)number_arg(v, 1990, 9998);
    else if (strcmp(flag, "--version") == 0)
      o->version = (int)number_arg(v, 1, 9999);
    else if (strcmp(flag, "--date") == 0)
      o->date = v;
    else if (strcmp(flag, "--format") == 0)
      o->format = v;
    else if (strcmp(flag, "--out") == 0)
      o->path = v;
    else {
      fprintf(stderr, "jcm aef: unknown option '%s' (see jcm aef --help)\n", flag);
      return EXIT_USAGE;
    }
  }
  const char *bad = o->year <= 0     ? "--year takes a year 1990..9998 and is required"
                    : o->version < 0 ? "--version takes 1..9999"
                    : o->format && strcmp(o->format, "csv") && strcmp(o->format, "json") && strcmp(o->format, "xlsx")
                        ? "--format takes csv, json or xlsx"
                    : o->format && strcmp(o->format, "xlsx") == 0 && !o->path ? "--format xlsx needs --out PATH"
                                                                              : NULL;
  if (bad) fprintf(stderr, "jcm aef: %s\n", bad);
  return bad ? EXIT_USAGE : EXIT_OK;
}

static void print_aef_problems(const cli *c, const jcm_check *chk, json_t *problems) {
  if (c->json) {
    json_t *e = json_pack("{s:b,s:{s:i,s:s,s:s},s:O}", "ok", 0, "error", "code", chk->code, "message", chk->message,
                          "field", chk->field, "problems", problems ? problems : json_null());
    print_json_line(stdout, e);
    json_decref(e);
    return;
  }
  fprintf(stderr, "jcm aef: refused [%d] %s\n", chk->code, chk->message);
  size_t i;
  json_t *p;
  json_array_foreach(problems, i, p) {
    fprintf(stderr, "  [%lld] %s\n", (long long)json_integer_value(json_object_get(p, "code")),
            json_string_value(json_object_get(p, "message")));
  }
}

static int run_aef(cli *c, int argc, char **argv) {
  jcm_aef_options o = {0};
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      aef_help();
      return EXIT_OK;
    }
  int rc = aef_options(argc, argv, &o);
  if (rc != EXIT_OK) return rc;
  jcm *j;
  if ((rc = cli_open(c, &j)) != EXIT_OK) return rc;
  json_t *problems = NULL;
  jcm_check chk;
  int st = jcm_aef(j, &o, &problems, &chk);
  if (st == JCM_OK && o.path && c->json) {
    json_t *r = json_pack("{s:b,s:s,s:i}", "ok", 1, "path", o.path, "year", o.year);
    print_json_line(stdout, r);
    json_decref(r);
  } else if (st == JCM_OK && o.path) {
    printf("ok: the AEF report for %d is in %s\n", o.year, o.path);
  } else if (st == JCM_REFUSED && json_array_size(problems) > 0) {
    print_aef_problems(c, &chk, problems);
  } else if (st != JCM_OK) {
    print_refusal(c, "aef", &chk);
  }
  json_decref(problems);
  jcm_close(j);
  return st == JCM_OK ? EXIT_OK : st == JCM_REFUSED ? EXIT_REFUSED : EXIT_USAGE;
}

/* ---- dispatch ---- */

int cli_open(const cli *c, jcm **j) {
  char err[512] = "";
  if (jcm_open(c->db, NULL, j, err, sizeof err) != JCM_OK) {
    fprintf(stderr, "jcm: %s\n", err);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

/* How many of argv's first words spell `words`. */
static int matches(const char *words, int argc, char **argv) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", words);
  int n = 0;
  for (char *w = strtok(buf, " "); w; w = strtok(NULL, " "), n++)
    if (n >= argc || strcmp(argv[n], w) != 0) return 0;
  return n;
}

void cli_usage(FILE *f) {
  fprintf(f, "usage: jcm [--db PATH] [--json] [--actor NAME] [--role ROLE] COMMAND [options]\n\n"
             "A registry for JCM credits and Article 6.2 ITMOs.\n\n"
             "  --db PATH     the store (default ./jcm.db, or $JCM_DB)\n"
             "  --json        machine output: one JSON object per line\n"
             "  --actor NAME  who acts (default $JCM_ACTOR, or cli:$USER)\n"
             "  --role ROLE   admin, jc_secretariat, holder, tpe, auditor or peer (default $JCM_ROLE, or admin)\n\n"
             "Commands that change the registry:\n");
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
    fprintf(f, "  %-20s %s\n", writes[i].words, jcm__spec_find(writes[i].cmd)->help);
  fprintf(f, "\nQueries:\n");
  for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
    fprintf(f, "  %-20s %s\n", reads[i].words, reads[i].help);
  fprintf(f,
          "\nOther:\n"
          "  %-20s check the journal's hash chain, replay it and compare, check invariants\n"
          "  %-20s submit JSON commands, one per line (FILE or -), [--batch N]\n"
          "  %-20s the TH014 story on two registries: Thailand's issuance, the transfer to Japan, use\n"
          "  %-20s print a peer's signed messages as JSON lines: --peer REG [--after N]\n"
          "  %-20s receive a file of signed messages from a peer: FILE|- [--actor NAME]\n"
          "  %-20s the last message numbers received from and written for a peer: --peer REG\n"
          "  %-20s list the check codes [--markdown]\n"
          "  %-20s the AEF report of a year as CSV, JSON or XLSX, after its consistency checks\n"
          "  %-20s serve the JSON REST API: --listen HOST:PORT (see jcm serve --help)\n"
          "  %-20s add a user of the server: NAME --role ROLE [--org ORG] [--password-stdin]\n"
          "  %-20s print a new API token for a user, once: USER\n"
          "  %-20s set a user's password from standard input: NAME --password-stdin [--current-stdin]\n\n"
          "Run 'jcm COMMAND --help' for a command's options. Exit status: 0 done, 1 refused, 2 bad usage.\n",
          "verify", "apply", "demo", "link export", "link import", "link status", "check-codes", "aef", "serve",
          "user add", "token create", "user password");
}

int cli_dispatch(cli *c, int argc, char **argv) {
  if (argc == 0 || strcmp(argv[0], "help") == 0) {
    cli_usage(stdout);
    return argc == 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[0], "verify") == 0) return run_verify(c, argc - 1, argv + 1);
  if (strcmp(argv[0], "apply") == 0) return run_apply(c, argc - 1, argv + 1);
  if (strcmp(argv[0], "demo") == 0) {
    c->argc = argc - 1;
    c->argv = argv + 1;
    return cli_demo(c);
  }
  if (strcmp(argv[0], "check-codes") == 0) return run_codes(c, argc - 1, argv + 1);
  if (strcmp(argv[0], "serve") == 0) return cli_serve(c, argc - 1, argv + 1);
  if (cli_is_users(argc, argv)) return cli_users(c, argc, argv);
  /* link receive is the generic write command; the others move messages */
  if (strcmp(argv[0], "link") == 0 && !(argc > 1 && strcmp(argv[1], "receive") == 0))
    return run_link(c, argc - 1, argv + 1);
  if (strcmp(argv[0], "aef") == 0) return run_aef(c, argc - 1, argv + 1);
  int best = 0;
  const read_cmd *rd = NULL;
  const write_cmd *wr = NULL;
  for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
    int n = matches(reads[i].words, argc, argv);
    if (n > best) best = n, rd = &reads[i], wr = NULL;
  }
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    int n = matches(writes[i].words, argc, argv);
    if (n > best) best = n, wr = &writes[i], rd = NULL;
  }
  if (wr) return run_write(c, wr, argc - best, argv + best);
  if (rd) return run_read(c, rd, argc - best, argv + best);
  fprintf(stderr, "jcm: no command '%s' (see jcm --help)\n", argv[0]);
  return EXIT_USAGE;
}
