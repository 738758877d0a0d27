/*
 * jcm demo: builds the host Party's registry on a fresh store and replays
 * a Joint Committee meeting from a case file (data/th014_case.json by
 * default): the PIN approval, the project registration and the issuance with
 * its allocation. It submits the same JSON commands any user would, through
 * the library's one write path; nothing in the engine knows the case.
 * Facts the case marks null are not invented: where the engine needs a
 * value the case does not give, the demo says which value it used and why.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#ifndef JCM_DATA_DIR
#define JCM_DATA_DIR "data"
#endif

typedef struct {
  jcm *j;
  const cli *c;
  int failed;
} demo;

static const jcm_actor ADMIN = {"registry administrator", "admin"};
static const jcm_actor SECRETARIAT = {"Joint Committee secretariat", "jc_secretariat"};
static const jcm_actor TPE = {"third-party entity (not named in the case)", "tpe"};

/* Submits a command; returns its result (owned by the caller) or NULL. */
static json_t *step(demo *d, const jcm_actor *a, json_t *cmd) {
  json_t *r = NULL;
  char *text = json_dumps(cmd, JSON_COMPACT);
  int rc = jcm_submit_text(d->j, text, strlen(text), a, &r);
  json_t *e = json_object_get(r, "error");
  if (rc != JCM_OK) {
    fprintf(stderr, "demo: %s refused [%lld] %s\n  %s\n", json_string_value(json_object_get(cmd, "cmd")),
            (long long)json_integer_value(json_object_get(e, "code")), json_string_value(json_object_get(e, "message")),
            text);
    d->failed = 1;
    json_decref(r);
    r = NULL;
  } else if (!d->c->json) {
    printf("  [%3lld] %-18s by %s\n", (long long)json_integer_value(json_object_get(r, "seq")),
           json_string_value(json_object_get(r, "cmd")), a->name);
  }
  free(text);
  json_decref(cmd);
  return r;
}

static void slug(const char *name, char *out, size_t n) {
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < n; p++) {
    if (isalnum((unsigned char)*p))
      out[k++] = (char)tolower((unsigned char)*p);
    else if (k > 0 && out[k - 1] != '-')
      out[k++] = '-';
  }
  while (k > 0 && out[k - 1] == '-')
    k--;
  out[k] = 0;
}

static const char *str(json_t *o, const char *path) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *v = o;
  for (char *k = strtok(buf, "."); k && v; k = strtok(NULL, "."))
    v = json_object_get(v, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void heading(const demo *d, const char *fmt, ...) {
  if (d->c->json) return;
  va_list ap;
  va_start(ap, fmt);
  printf("\n== ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

/* Opens an account and returns its id in out. */
static void open_account(demo *d, const char *type, const char *holder, const char *name, char out[32]) {
  json_t *r = step(d, &ADMIN,
                   json_pack("{s:s,s:s,s:s,s:s}", "cmd", "account.open", "type", type, "holder", holder, "name", name));
  snprintf(out, 32, "%s", r ? str(r, "result.account") : "");
  json_decref(r);
}

static void add_org(demo *d, const char *name, const char *country, char id[72]) {
  slug(name, id, 65);
  json_decref(
      step(d, &ADMIN, json_pack("{s:s,s:s,s:s,s:s}", "cmd", "org.add", "id", id, "name", name, "country", country)));
}

/* The registry of the host Party, its reference data and accounts. */
static void setup_registry(demo *d, json_t *cs, const char *host, char coop[40]) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(cs, "registries"), i, r) {
    if (strcmp(str(r, "party"), host) == 0)
      json_decref(step(d, &ADMIN,
                       json_pack("{s:s,s:s,s:s,s:s}", "cmd", "init", "registry", str(r, "id"), "party", host, "name",
                                 str(r, "name"))));
  }
  json_t *ca = json_object_get(cs, "cooperative_approach");
  json_t *parties = json_object_get(ca, "parties");
  if (str(ca, "carp_id"))
    snprintf(coop, 40, "%s", str(ca, "carp_id"));
  else /* no CARP id assigned yet: a local id, as DOMAIN.md §3 allows */
    snprintf(coop, 40, "JCM-%s-%s", json_string_value(json_array_get(parties, 0)),
             json_string_value(json_array_get(parties, 1)));
  json_decref(
      step(d, &ADMIN,
           json_pack("{s:s,s:s,s:s,s:O}", "cmd", "coop.add", "id", coop, "name", str(ca, "name"), "parties", parties)));
}

/* One account per allocation line: the host side's share to a holding
 * account of its holder; another Party's share to a government holding
 * account of the host government, named for the Party it is allocated to. */
static json_t *allocation_accounts(demo *d, json_t *decision, const char *host, const char *gov_org) {
  json_t *alloc = json_array();
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(decision, "allocation"), i, a) {
    char id[32], org[72], name[300];
    const char *side = str(a, "side"), *holder = str(a, "holder");
    if (strcmp(side, host) == 0) {
      add_org(d, holder, side, org);
      snprintf(name, sizeof name, "%s holding account", holder);
      open_account(d, "holding", org, name, id);
    } else {
      snprintf(name, sizeof name, "Government holding account: share allocated to %s (%s)", holder, side);
      open_account(d, "government-holding", gov_org, name, id);
    }
    json_array_append_new(alloc, json_pack("{s:s,s:O}", "account", id, "quantity", json_object_get(a, "tco2e")));
  }
  return alloc;
}

static json_t *participants(demo *d, json_t *project) {
  json_t *list = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(project, "participants"), i, p) {
    char org[72];
    add_org(d, str(p, "name"), str(p, "side"), org);
    json_array_append_new(list, json_pack("{s:s,s:s}", "org", org, "side", str(p, "side")));
  }
  return list;
}

static void pin_approval(demo *d, json_t *dec, json_t *meeting, const char *host, const char *coop) {
  json_decref(step(d, &SECRETARIAT,
                   json_pack("{s:s,s:s,s:s,s:s,s:s}", "cmd", "pin.submit", "pin", str(dec, "ref"), "title",
                             str(dec, "title"), "host", host, "coop", coop)));
  json_decref(step(d, &SECRETARIAT,
                   json_pack("{s:s,s:s,s:O,s:s,s:s,s:s}", "cmd", "decide", "coop", coop, "meeting",
                             json_object_get(meeting, "number"), "date", str(meeting, "date"), "kind", "pin_approval",
                             "ref", str(dec, "ref"))));
}

static void registration(demo *d, json_t *dec, json_t *meeting, const char *host, const char *coop) {
  /* The case gives no PDD or validation record: the project enters the
   * registry as validated, its earlier cycle recorded elsewhere. */
  json_decref(step(d, &ADMIN,
                   json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "cmd", "project.import", "project", str(dec, "ref"),
                             "title", str(dec, "title"), "host", host, "coop", coop, "status", "validated", "source",
                             "JCM records before this registry (validated; PDD and report not in the case)")));
  json_decref(step(d, &SECRETARIAT,
                   json_pack("{s:s,s:s,s:O,s:s,s:s,s:s}", "cmd", "decide", "coop", coop, "meeting",
                             json_object_get(meeting, "number"), "date", str(meeting, "date"), "kind",
                             "project_registration", "ref", str(dec, "ref"))));
}

static void issuance(demo *d, json_t *cs, json_t *dec, json_t *meeting, const char *host, const char *coop,
                     const char *gov_org) {
  json_t *project = json_object_get(cs, "project");
  json_t *period = json_object_get(dec, "monitoring_period");
  json_t *total = json_object_get(dec, "total_tco2e");
  json_t *people = participants(d, project);
  json_decref(
      step(d, &ADMIN,
           json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s}", "cmd", "project.import", "project", str(project, "id"),
                     "title", str(project, "title"), "host", host, "coop", coop, "status", "registered", "participants",
                     people, "source", "JCM records before this registry (registered)")));
  /* The case states only the issued total; the demo records it as the
   * calculated and verified reductions, the least they can have been. */
  json_decref(step(d, &SECRETARIAT,
                   json_pack("{s:s,s:s,s:s,s:s,s:O}", "cmd", "monitoring.submit", "project", str(project, "id"),
                             "first_day", str(period, "start"), "last_day", str(period, "end"), "calculated", total)));
  json_decref(step(d, &TPE,
                   json_pack("{s:s,s:s,s:s,s:s,s:O,s:s}", "cmd", "monitoring.verify", "project", str(project, "id"),
                             "first_day", str(period, "start"), "last_day", str(period, "end"), "verified", total,
                             "report", "verification report (not named in the case)")));
  json_t *alloc = allocation_accounts(d, dec, host, gov_org);
  json_decref(step(d, &ADMIN,
                   json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:O,s:o}", "cmd", "issue", "coop", coop, "meeting",
                             json_object_get(meeting, "number"), "date", str(meeting, "date"), "project",
                             str(project, "id"), "first_day", str(period, "start"), "last_day", str(period, "end"),
                             "total", total, "allocation", alloc)));
}

static int query(demo *d, const char *title, const char *name, json_t *params) {
  json_t *r = NULL;
  jcm_check chk;
  heading(d, "%s", title);
  int rc = jcm_query(d->j, name, params, &r, &chk);
  if (rc == JCM_OK) {
    if (json_object_get(r, "rows"))
      print_rows(d->c, r);
    else
      print_json_line(stdout, r);
  } else {
    print_refusal(d->c, name, &chk);
  }
  json_decref(r);
  json_decref(params);
  return rc;
}

/* The case's arithmetic, checked from the registry's own records: each
 * issuance's allocation adds up to its total, in contiguous, disjoint runs. */
static void conservation(demo *d) {
  json_t *iss = NULL, *al = NULL;
  jcm_check chk;
  jcm_query(d->j, "issuances", NULL, &iss, &chk);
  size_t i, k;
  json_t *row, *a;
  heading(d, "Conservation");
  json_array_foreach(json_object_get(iss, "rows"), i, row) {
    json_t *params = json_pack("{s:O}", "issuance", json_object_get(row, "id"));
    jcm_query(d->j, "allocations", params, &al, &chk);
    json_decref(params);
    long long total = json_integer_value(json_object_get(row, "total")), sum = 0;
    long long next = json_integer_value(json_object_get(row, "first"));
    int contiguous = 1;
    char terms[512] = "";
    json_array_foreach(json_object_get(al, "rows"), k, a) {
      long long q = json_integer_value(json_object_get(a, "quantity"));
      contiguous &= json_integer_value(json_object_get(a, "first")) == next;
      next = json_integer_value(json_object_get(a, "last")) + 1;
      sum += q;
      size_t n = strlen(terms);
      snprintf(terms + n, sizeof terms - n, "%s%lld [%lld-%lld]", k ? " + " : "", q,
               (long long)json_integer_value(json_object_get(a, "first")),
               (long long)json_integer_value(json_object_get(a, "last")));
    }
    int ok = sum == total && contiguous && next - 1 == json_integer_value(json_object_get(row, "last"));
    if (!ok) d->failed = 1;
    if (!d->c->json)
      printf("%s: %lld = %s: %s\n", json_string_value(json_object_get(row, "id")), total, terms,
             ok ? "adds up; serial runs contiguous and disjoint" : "DOES NOT ADD UP");
    json_decref(al);
  }
  json_decref(iss);
}

static void show(demo *d) {
  query(d, "Projects", "projects", NULL);
  query(d, "Joint Committee decisions", "decisions", NULL);
  query(d, "Issuances", "issuances", NULL);
  query(d, "Allocation, with serial ranges", "allocations", NULL);
  query(d, "Unit blocks", "blocks", NULL);
  query(d, "Accounts and balances", "accounts", NULL);
  query(d, "Balances by account, project and vintage", "balance", NULL);
  conservation(d);
  query(d, "Journal head", "head", NULL);
  heading(d, "jcm verify");
  json_t *report = NULL;
  if (jcm_verify(d->j, &report) != JCM_OK) d->failed = 1;
  if (report) print_verify(d->c, report);
  json_decref(report);
}

static void run_meeting(demo *d, json_t *cs, const char *host, const char *coop, const char *gov_org) {
  json_t *meeting = json_object_get(cs, "joint_committee_meeting");
  heading(d, "Joint Committee meeting %lld (%s)", (long long)json_integer_value(json_object_get(meeting, "number")),
          str(meeting, "date"));
  size_t i;
  json_t *dec;
  json_array_foreach(json_object_get(meeting, "decisions"), i, dec) {
    const char *kind = str(dec, "kind");
    if (!kind || d->failed) continue;
    if (strcmp(kind, "pin_approval") == 0)
      pin_approval(d, dec, meeting, host, coop);
    else if (strcmp(kind, "project_registration") == 0)
      registration(d, dec, meeting, host, coop);
    else if (strcmp(kind, "issuance") == 0)
      issuance(d, cs, dec, meeting, host, coop, gov_org);
  }
}

int cli_demo(cli *c) {
  const char *case_file = JCM_DATA_DIR "/th014_case.json";
  for (int i = 0; i < c->argc; i++) {
    if (strcmp(c->argv[i], "--case") == 0 && i + 1 < c->argc)
      case_file = c->argv[++i];
    else {
      printf("usage: jcm [--db PATH] demo [--case FILE]\n  builds the host Party's registry on a fresh store and "
             "replays the Joint Committee meeting of the case file\n  (default %s)\n",
             JCM_DATA_DIR "/th014_case.json");
      return strcmp(c->argv[i], "--help") == 0 ? EXIT_OK : EXIT_USAGE;
    }
  }
  struct stat sb;
  if (stat(c->db, &sb) == 0 && sb.st_size > 0) {
    fprintf(stderr, "jcm demo: %s exists; the demo builds a fresh registry (remove it or give another --db)\n", c->db);
    return EXIT_USAGE;
  }
  json_error_t e;
  json_t *cs = json_load_file(case_file, 0, &e);
  if (!cs) {
    fprintf(stderr, "jcm demo: cannot read %s: %s\n", case_file, e.text);
    return EXIT_USAGE;
  }
  demo d = {.c = c};
  if (cli_open(c, &d.j) != EXIT_OK) {
    json_decref(cs);
    return EXIT_USAGE;
  }
  const char *host = str(cs, "project.host_party");
  char coop[40], gov[72], gov_name[200], id[32];
  heading(&d, "Registry of %s on %s", host, c->db);
  setup_registry(&d, cs, host, coop);
  json_t *p = NULL;
  jcm_check chk;
  json_t *params = json_pack("{s:s}", "code", host);
  jcm_query(d.j, "parties", params, &p, &chk);
  snprintf(gov_name, sizeof gov_name, "Government of %s",
           str(json_array_get(json_object_get(p, "rows"), 0), "name_en"));
  json_decref(p);
  json_decref(params);
  add_org(&d, gov_name, host, gov);
  open_account(&d, "cancellation", gov, "Cancellation account", id);
  open_account(&d, "retirement", gov, "Retirement account", id);
  if (!d.failed) run_meeting(&d, cs, host, coop, gov);
  if (!d.failed) show(&d);
  jcm_close(d.j);
  json_decref(cs);
  if (d.failed) fprintf(stderr, "jcm demo: FAILED\n");
  return d.failed ? EXIT_REFUSED : EXIT_OK;
}
