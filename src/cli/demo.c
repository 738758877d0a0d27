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
  jcm *j;    /* the host Party's registry, where the units are issued */
  jcm *peer; /* the acquiring Party's registry */
  const cli *c;
  int failed;
  char gov_share[32]; /* host government account holding the other Party's share */
  json_t *issued;     /* the issue command's result: the serial run of each account */
  char peer_gov[32], peer_retire[32];
  const char *peer_db;
} demo;

static const jcm_actor ADMIN = {"registry administrator", "admin"};
/* Units leave a government account only with a second administrator's
 * approval (four eyes, DOMAIN.md §2): another person than ADMIN. */
static const jcm_actor APPROVER = {"second registry administrator", "admin"};
static const jcm_actor SECRETARIAT = {"Joint Committee secretariat", "jc_secretariat"};
static const jcm_actor TPE = {"third-party entity (not named in the case)", "tpe"};
/* Carries signed messages between the two stores; the messages themselves
 * are signed by the registries, so the carrier needs no other power. */
static const jcm_actor LINK = {"link", "peer"};

/* Submits a command to registry j; returns its result (owned by the
 * caller) or NULL. */
static json_t *step_at(demo *d, jcm *j, const jcm_actor *a, json_t *cmd) {
  json_t *r = NULL;
  char *text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
  if (!text) { /* json_pack or json_dumps ran out of memory */
    fprintf(stderr, "demo: out of memory\n");
    d->failed = 1;
    json_decref(cmd);
    return NULL;
  }
  int rc = jcm_submit_text(j, text, strlen(text), a, &r);
  json_t *e = json_object_get(r, "error");
  if (rc != JCM_OK) {
    fprintf(stderr, "demo: %s refused [%lld] %s\n  %s\n", json_string_value(json_object_get(cmd, "cmd")),
            (long long)json_integer_value(json_object_get(e, "code")), json_string_value(json_object_get(e, "message")),
            text);
    d->failed = 1;
    json_decref(r);
    r = NULL;
  } else if (!d->c->json) {
    printf("  %s [%3lld] %-18s by %s\n", jcm_registry(j), (long long)json_integer_value(json_object_get(r, "seq")),
           json_string_value(json_object_get(r, "cmd")), a->name);
  }
  free(text);
  json_decref(cmd);
  return r;
}

static json_t *step(demo *d, const jcm_actor *a, json_t *cmd) { return step_at(d, d->j, a, cmd); }

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

/* Opens an account in registry j and returns its id in out. */
static void open_account_at(demo *d, jcm *j, const char *type, const char *holder, const char *name, char out[32]) {
  json_t *r =
      step_at(d, j, &ADMIN,
              json_pack("{s:s,s:s,s:s,s:s}", "cmd", "account.open", "type", type, "holder", holder, "name", name));
  snprintf(out, 32, "%s", r ? str(r, "result.account") : "");
  json_decref(r);
}

static void open_account(demo *d, const char *type, const char *holder, const char *name, char out[32]) {
  open_account_at(d, d->j, type, holder, name, out);
}

static void add_org_at(demo *d, jcm *j, const char *name, const char *country, char id[72]) {
  slug(name, id, 65);
  json_decref(step_at(d, j, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:s}", "cmd", "org.add", "id", id, "name", name, "country", country)));
}

static void add_org(demo *d, const char *name, const char *country, char id[72]) {
  add_org_at(d, d->j, name, country, id);
}

/* The organisation "Government of <Party>", named from the registry's
 * reference data; its id in id. */
static void add_government(demo *d, jcm *j, const char *party, char id[72]) {
  json_t *p = NULL, *params = json_pack("{s:s}", "code", party);
  jcm_check chk;
  char name[200];
  jcm_query(j, "parties", params, &p, &chk);
  const char *en = str(json_array_get(json_object_get(p, "rows"), 0), "name_en");
  snprintf(name, sizeof name, "Government of %s", en ? en : party);
  json_decref(p);
  json_decref(params);
  add_org_at(d, j, name, party, id);
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
      snprintf(d->gov_share, sizeof d->gov_share, "%s", id);
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
  /* kept: the serial runs it gives each account scope the authorization */
  d->issued = step(d, &ADMIN,
                   json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:O,s:o}", "cmd", "issue", "coop", coop, "meeting",
                             json_object_get(meeting, "number"), "date", str(meeting, "date"), "project",
                             str(project, "id"), "first_day", str(period, "start"), "last_day", str(period, "end"),
                             "total", total, "allocation", alloc));
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

/* ---- the acquiring Party's registry and the link ---- */

/* The case's registry of a Party (NULL when the case names none). */
static json_t *registry_of(json_t *cs, const char *party) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(cs, "registries"), i, r) {
    if (str(r, "party") && strcmp(str(r, "party"), party) == 0) return r;
  }
  return NULL;
}

/* The other Party of the cooperative approach: the one that acquires. */
static const char *partner_of(json_t *cs, const char *host) {
  json_t *parties = json_object_get(json_object_get(cs, "cooperative_approach"), "parties");
  const char *a = json_string_value(json_array_get(parties, 0)), *b = json_string_value(json_array_get(parties, 1));
  return a && b ? (strcmp(a, host) == 0 ? b : a) : NULL;
}

/* The acquiring Party's registry: its government and the accounts the case
 * names (the holding account) or the use needs (retirement). */
static void setup_peer(demo *d, json_t *cs, const char *partner) {
  json_t *reg = registry_of(cs, partner);
  char gov[72];
  json_decref(step_at(d, d->peer, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:s}", "cmd", "init", "registry", str(reg, "id"), "party", partner,
                                "name", str(reg, "name"))));
  add_government(d, d->peer, partner, gov);
  const char *named = str(cs, "itmo_issuance.account");
  open_account_at(d, d->peer, "government-holding", gov, named ? named : "Government holding account", d->peer_gov);
  open_account_at(d, d->peer, "retirement", gov, "Retirement account (use toward the NDC)", d->peer_retire);
}

static void registry_add(demo *d, jcm *at, json_t *other) {
  json_decref(step_at(d, at, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:s,s:s}", "cmd", "registry.add", "id", str(other, "id"), "party",
                                str(other, "party"), "name", str(other, "name"), "role", "national")));
}

/* Each registry makes its key pair and records the other's public key, as
 * the operators would exchange them out of band. */
static void exchange_keys(demo *d) {
  json_t *kt = step_at(d, d->j, &ADMIN, json_pack("{s:s}", "cmd", "key.generate"));
  json_t *kp = step_at(d, d->peer, &ADMIN, json_pack("{s:s}", "cmd", "key.generate"));
  if (kt && kp) {
    json_decref(step_at(d, d->j, &ADMIN,
                        json_pack("{s:s,s:s,s:s}", "cmd", "registry.key", "id", jcm_registry(d->peer), "public_key",
                                  str(kp, "result.public_key"))));
    json_decref(step_at(d, d->peer, &ADMIN,
                        json_pack("{s:s,s:s,s:s}", "cmd", "registry.key", "id", jcm_registry(d->j), "public_key",
                                  str(kt, "result.public_key"))));
  }
  json_decref(kt);
  json_decref(kp);
}

/* Both registries know the cooperative approach, each other and each
 * other's key. The host added the approach when it was set up. */
static void link_registries(demo *d, json_t *cs, const char *host, const char *partner, const char *coop) {
  json_t *ca = json_object_get(cs, "cooperative_approach");
  heading(d, "Linking %s and %s: cooperative approach, peers, signing keys", jcm_registry(d->j), jcm_registry(d->peer));
  json_decref(step_at(d, d->peer, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:O}", "cmd", "coop.add", "id", coop, "name", str(ca, "name"), "parties",
                                json_object_get(ca, "parties"))));
  registry_add(d, d->j, registry_of(cs, partner));
  registry_add(d, d->peer, registry_of(cs, host));
  exchange_keys(d);
}

/* The serial run the issuance gave the host government's account. */
static json_t *share_block(demo *d) {
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(json_object_get(d->issued, "result"), "blocks"), i, b) {
    if (str(b, "account") && strcmp(str(b, "account"), d->gov_share) == 0) return b;
  }
  return NULL;
}

/* The host authorizes the other Party's share for use toward that Party's
 * NDC. The case does not give the authorization's terms: the demo uses the
 * sector of the project (solar power), the vintage as first year and the
 * NDC target year as last, and says so here. */
static void authorize_share(demo *d, json_t *cs, const char *host, const char *partner, const char *coop,
                            int target_year, char auth_id[48]) {
  json_t *b = share_block(d);
  const char *date = str(cs, "itmo_issuance.date");
  if (!b || !date) {
    fprintf(stderr, "demo: no issued share to authorize\n");
    d->failed = 1;
    return;
  }
  snprintf(auth_id, 48, "%s-JCM-%.4s-001", host, date);
  heading(d, "%s authorizes the share of %s: %s, %lld units [%lld-%lld]", host, partner, auth_id,
          (long long)json_integer_value(json_object_get(b, "quantity")),
          (long long)json_integer_value(json_object_get(b, "first")),
          (long long)json_integer_value(json_object_get(b, "last")));
  json_t *cmd = json_pack("{s:s,s:s,s:s,s:s,s:O,s:s,s:[s],s:s,s:[s],s:O*,s:i,s:[{s:O,s:O}]}", "cmd", "authorize", "id",
                          auth_id, "date", date, "coop", coop, "quantity", json_object_get(b, "quantity"), "metric",
                          "GHG", "sectors", "Energy generation", "purposes", "NDC", "parties", partner, "first_year",
                          json_object_get(json_object_get(d->issued, "result"), "vintage"), "last_year", target_year,
                          "ranges", "first", json_object_get(b, "first"), "last", json_object_get(b, "last"));
  json_decref(step(d, &ADMIN, cmd));
}
/* Carries what `from` has for `to` that `to` has not received yet, printing
 * each message as it travels; returns how many went. */
static int deliver(demo *d, jcm *from, jcm *to) {
  int64_t last = 0;
  json_t *msgs = NULL, *m, *refusal = NULL;
  int n = 0;
  if (jcm_link_last_received(to, jcm_registry(from), &last) != JCM_OK ||
      jcm_link_outbox(from, jcm_registry(to), last, 1000, &msgs) != JCM_OK) {
    fprintf(stderr, "demo: cannot read the link between %s and %s\n", jcm_registry(from), jcm_registry(to));
    d->failed = 1;
    json_decref(msgs);
    return 0;
  }
  size_t i;
  json_array_foreach(msgs, i, m) {
    if (!d->c->json)
      printf("  %s -> %s  message %lld  %-9s %s\n", jcm_registry(from), jcm_registry(to),
             (long long)json_integer_value(json_object_get(m, "n")), str(m, "type"), str(m, "tx"));
  }
  json_decref(msgs);
  if (jcm_link_deliver(from, to, &LINK, &n, &refusal) != JCM_OK) {
    char *t = refusal ? json_dumps(refusal, JSON_COMPACT) : NULL;
    fprintf(stderr, "demo: %s refused a message from %s: %s\n", jcm_registry(to), jcm_registry(from),
            t ? t : "(store error)");
    free(t);
    d->failed = 1;
  }
  json_decref(refusal);
  return n;
}

/* Delivers both ways until nothing is left: proposal, accept, complete. */
static void sync_link(demo *d) {
  for (int round = 0; round < 10 && !d->failed; round++) {
    int a = deliver(d, d->j, d->peer);
    int b = deliver(d, d->peer, d->j);
    if (!a && !b) return;
  }
  if (!d->failed) fprintf(stderr, "demo: the link does not settle\n");
  d->failed = 1;
}

/* r held for a second administrator (awaiting approval): APPROVER approves
 * it in registry j; returns the approval's result in place of r. */
static json_t *approved(demo *d, jcm *j, json_t *r) {
  const char *status = str(r, "result.status"), *tx = str(r, "result.tx");
  if (!status || strcmp(status, "awaiting approval") != 0 || !tx) return r;
  if (!d->c->json) printf("  %s awaits a second administrator's approval; its units are reserved\n", tx);
  json_t *a = step_at(d, j, &APPROVER, json_pack("{s:s,s:s}", "cmd", "tx.approve", "tx", tx));
  json_decref(r);
  return a;
}

static void external_transfer(demo *d, json_int_t quantity) {
  heading(d, "External transfer %s -> %s: %lld units, proposal, accept, complete", jcm_registry(d->j),
          jcm_registry(d->peer), (long long)quantity);
  json_t *r = step(d, &ADMIN,
                   json_pack("{s:s,s:s,s:s,s:I}", "cmd", "xfer.propose", "from", d->gov_share, "to", d->peer_gov,
                             "quantity", quantity));
  r = approved(d, d->j, r);
  if (r && !d->c->json)
    printf("  transfer %s proposed; the units are reserved in %s\n", str(r, "result.tx"), jcm_registry(d->j));
  json_decref(r);
  if (!d->failed) sync_link(d);
}

static void ndc_set(demo *d, jcm *j, const char *party, const char *method, int target_year) {
  json_decref(step_at(d, j, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:i,s:i,s:s}", "cmd", "ndc.set", "party", party, "kind", "single-year",
                                "first_year", 2021, "last_year", target_year, "method", method)));
}

/* ---- what both registries show ---- */

/* A table of some columns of a list query's rows; rows without a value in
 * `need` (when given) are left out. */
static void columns(demo *d, jcm *j, const char *name, json_t *params, const char *const *cols, const char *need) {
  json_t *r = NULL, *rows = json_array(), *row;
  jcm_check chk;
  int rc = jcm_query(j, name, params, &r, &chk);
  json_decref(params);
  if (rc != JCM_OK) {
    print_refusal(d->c, name, &chk);
    d->failed = 1;
  }
  size_t i;
  json_array_foreach(json_object_get(r, "rows"), i, row) {
    if (need && json_is_null(json_object_get(row, need))) continue;
    json_t *o = json_object();
    for (const char *const *c = cols; *c; c++)
      json_object_set(o, *c, json_object_get(row, *c) ? json_object_get(row, *c) : json_null());
    json_array_append_new(rows, o);
  }
  json_t *wrap = json_pack("{s:o}", "rows", rows);
  print_rows(d->c, wrap);
  json_decref(wrap);
  json_decref(r);
}

static void holdings(demo *d, jcm *j, const char *when) {
  static const char *const acc[] = {"id", "type", "name", "balance", NULL};
  static const char *const blk[] = {"account", "origin",  "first",   "last", "quantity",
                                    "project", "vintage", "auth_id", NULL};
  heading(d, "%s: accounts and balances%s", jcm_registry(j), when);
  columns(d, j, "accounts", NULL, acc, NULL);
  heading(d, "%s: units held, with serial ranges%s", jcm_registry(j), when);
  columns(d, j, "blocks", NULL, blk, "account");
}

static void actions(demo *d, jcm *j) {
  static const char *const cols[] = {"seq",       "type",     "auth_id",     "origin",   "first",
                                     "last",      "quantity", "vintage",     "ft_party", "transferring",
                                     "acquiring", "purpose",  "using_party", "ndc_year", NULL};
  heading(d, "%s: Article 6 actions (AEF Table 3)", jcm_registry(j));
  columns(d, j, "actions", NULL, cols, NULL);
}

static void a6_balance(demo *d, jcm *j, const char *party, const char *why) {
  json_t *r = NULL, *params = json_pack("{s:s}", "party", party);
  jcm_check chk;
  heading(d, "Emissions balance of %s (%s)", party, why);
  if (jcm_query(j, "a6.balance", params, &r, &chk) == JCM_OK)
    print_a6_balance(d->c, r);
  else
    d->failed = 1, print_refusal(d->c, "a6.balance", &chk);
  json_decref(r);
  json_decref(params);
}

static void verify(demo *d, jcm *j) {
  json_t *report = NULL;
  if (jcm_verify(j, &report) != JCM_OK) d->failed = 1;
  if (!d->c->json) printf("%s ", jcm_registry(j));
  if (report) print_verify(d->c, report);
  json_decref(report);
}

/* ---- one registry for every unit ---- */

typedef struct {
  int64_t first, last;
  int where; /* 0: the host's registry, 1: the peer's */
} run;

static int run_cmp(const void *a, const void *b) {
  const run *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Appends the runs of origin held (in an account) in registry j. */
static int held_runs(jcm *j, const char *origin, int where, run **v, size_t *n, int64_t *count) {
  json_t *r = NULL, *b, *params = json_pack("{s:i}", "limit", 1000);
  jcm_check chk;
  int rc = jcm_query(j, "blocks", params, &r, &chk);
  json_decref(params);
  size_t i;
  json_array_foreach(json_object_get(r, "rows"), i, b) {
    if (json_is_null(json_object_get(b, "account")) || strcmp(str(b, "origin"), origin) != 0) continue;
    run *g = realloc(*v, (*n + 1) * sizeof **v);
    if (!g) {
      rc = JCM_ERROR;
      break;
    }
    *v = g;
    (*v)[*n] =
        (run){json_integer_value(json_object_get(b, "first")), json_integer_value(json_object_get(b, "last")), where};
    count[where] += (*v)[*n].last - (*v)[*n].first + 1;
    (*n)++;
  }
  json_decref(r);
  return rc;
}

/* The serials of origin held in the two registries are disjoint and
 * together exactly first..last, the issued run. */
static void one_registry(demo *d, const char *origin, int64_t first, int64_t last) {
  run *v = NULL;
  size_t n = 0;
  int64_t count[2] = {0, 0}, next = first;
  int ok =
      held_runs(d->j, origin, 0, &v, &n, count) == JCM_OK && held_runs(d->peer, origin, 1, &v, &n, count) == JCM_OK;
  if (v) qsort(v, n, sizeof *v, run_cmp);
  for (size_t i = 0; ok && i < n; i++) {
    ok = v[i].first == next; /* below: held twice; above: missing */
    next = v[i].last + 1;
  }
  ok = ok && n > 0 && next == last + 1;
  free(v);
  heading(d, "Every unit in exactly one registry");
  if (!d->c->json)
    printf("%s serials %lld-%lld: %lld in %s + %lld in %s = %lld: %s\n", origin, (long long)first, (long long)last,
           (long long)count[0], jcm_registry(d->j), (long long)count[1], jcm_registry(d->peer),
           (long long)(count[0] + count[1]),
           ok ? "disjoint, together exactly the issued units" : "NOT ONE REGISTRY PER UNIT");
  if (!ok) d->failed = 1;
}

/* ---- the story after the issuance ---- */

/* The case counts the units toward the NDC target year ("FY2030"); it does
 * not say when Japan uses them, so the demo uses them in that year. */
static int target_year(json_t *cs) {
  const char *t = str(cs, "itmo_issuance.counted_toward.ndc_target_year");
  while (t && *t && !isdigit((unsigned char)*t))
    t++;
  return t && *t ? atoi(t) : 2030;
}

static void acquiring_side(demo *d, json_t *cs, const char *host, const char *partner, const char *coop) {
  int year = target_year(cs);
  char auth_id[48] = "";
  heading(d, "Registry of %s on %s", partner, d->peer_db);
  setup_peer(d, cs, partner);
  if (!d->failed) link_registries(d, cs, host, partner, coop);
  if (!d->failed) authorize_share(d, cs, host, partner, coop, year, auth_id);
  json_t *b = share_block(d);
  if (!d->failed) external_transfer(d, json_integer_value(json_object_get(b, "quantity")));
  if (!d->failed) holdings(d, d->peer, " after the transfer");
  if (d->failed) return;
  heading(d, "NDCs, and %s uses the units toward its NDC (year %d)", partner, year);
  ndc_set(d, d->peer, partner, "trajectory", year);
  ndc_set(d, d->j, host, "trajectory", year);
  json_t *r = step_at(d, d->peer, &ADMIN,
                      json_pack("{s:s,s:s,s:s,s:i,s:O,s:s}", "cmd", "use", "from", d->peer_gov, "to", d->peer_retire,
                                "year", year, "quantity", json_object_get(b, "quantity"), "reason",
                                "TH014 ITMOs counted toward the NDC"));
  json_decref(approved(d, d->peer, r));
}

static void report(demo *d, const char *host, const char *partner, int year) {
  holdings(d, d->j, "");
  holdings(d, d->peer, "");
  actions(d, d->j);
  actions(d, d->peer);
  a6_balance(d, d->j, host, "first transfer adds the units to the vintage year");
  a6_balance(d, d->peer, partner, "trajectory: use subtracts the units in the year of use");
  heading(d, "A new NDC version for %s with the averaging method", partner);
  ndc_set(d, d->peer, partner, "averaging", year);
  a6_balance(d, d->peer, partner, "averaging: the units used over the period, divided by its years");
  heading(d, "jcm verify, both registries");
  verify(d, d->j);
  verify(d, d->peer);
  json_t *res = json_object_get(d->issued, "result");
  one_registry(d, jcm_registry(d->j), json_integer_value(json_object_get(res, "first")),
               json_integer_value(json_object_get(res, "last")));
}

/* ---- the command ---- */

static int usage(const char *arg) {
  printf("usage: jcm [--db PATH] demo [--case FILE] [--peer-db PATH] [--at YYYY-MM-DDThh:mm:ssZ]\n"
         "  builds the host Party's registry on a fresh store (--db, default demo-THA01.db), replays the\n"
         "  Joint Committee meeting of the case file (default %s), then builds\n"
         "  the acquiring Party's registry on a second fresh store (--peer-db, default demo-JPN01.db beside\n"
         "  --db), links the two, authorizes and transfers its share, uses it toward its NDC and shows\n"
         "  both registries' holdings, Article 6 actions and emissions balances. --at replays it as if it\n"
         "  began at that time, a second per journal entry (the same journals on every run)\n",
         JCM_DATA_DIR "/th014_case.json");
  return arg && strcmp(arg, "--help") == 0 ? EXIT_OK : EXIT_USAGE;
}

static int fresh(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && sb.st_size > 0) {
    fprintf(stderr, "jcm demo: %s exists; the demo builds a fresh registry (remove it or give another path)\n", path);
    return 0;
  }
  return 1;
}

/* The peer's store beside --db: DIR/demo-<registry>.db. */
static void peer_path(const char *db, json_t *cs, const char *partner, char *out, size_t n) {
  const char *slash = strrchr(db, '/');
  const char *id = str(registry_of(cs, partner), "id");
  snprintf(out, n, "%.*sdemo-%s.db", slash ? (int)(slash - db + 1) : 0, db, id ? id : partner);
}

/* The host's registry: reference data, government accounts, the meeting. */
static void host_side(demo *d, json_t *cs, const char *host, char coop[40]) {
  char gov[72], id[32];
  heading(d, "Registry of %s on %s", host, d->c->db);
  setup_registry(d, cs, host, coop);
  add_government(d, d->j, host, gov);
  open_account(d, "cancellation", gov, "Cancellation account", id);
  open_account(d, "retirement", gov, "Retirement account", id);
  if (!d->failed) run_meeting(d, cs, host, coop, gov);
  if (!d->failed) show(d);
}

/* --at: both registries read one clock that starts at the given time and
 * moves a second per reading, so a demo's journals, and the reports made
 * from them, are the same on every run (golden files, training). Only the
 * demo has it: a registry's journal times come from the system clock. */
typedef struct {
  int64_t ms;
} step_clock;

static int64_t step_tick(void *ud) {
  step_clock *s = ud;
  return s->ms += 1000;
}

/* "YYYY-MM-DDThh:mm:ssZ" as milliseconds since 1970 (UTC), or -1. */
static int64_t parse_at(const char *t) {
  int y, mo, d, h, mi, se;
  char z = 0;
  if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 || z != 'Z' || strlen(t) != 20 ||
      y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
    return -1;
  /* days from civil (Howard Hinnant's algorithm) */
  int64_t yy = mo <= 2 ? y - 1 : y, era = yy / 400, yoe = yy - era * 400;
  int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi) * 60000 + se * 1000;
}

static int open_both(demo *d, const char *peer_db, step_clock *clock) {
  char err[512] = "";
  jcm_options opt = {.clock = step_tick, .clock_ud = clock};
  const jcm_options *o = clock ? &opt : NULL;
  if (jcm_open(d->c->db, o, &d->j, err, sizeof err) != JCM_OK ||
      jcm_open(peer_db, o, &d->peer, err, sizeof err) != JCM_OK) {
    fprintf(stderr, "jcm demo: %s\n", err);
    return 0;
  }
  return 1;
}

int cli_demo(cli *c) {
  const char *case_file = JCM_DATA_DIR "/th014_case.json", *peer_db = NULL;
  step_clock clock = {-1}, *fixed = NULL;
  for (int i = 0; i < c->argc; i++) {
    if (strcmp(c->argv[i], "--case") == 0 && i + 1 < c->argc)
      case_file = c->argv[++i];
    else if (strcmp(c->argv[i], "--at") == 0 && i + 1 < c->argc && (clock.ms = parse_at(c->argv[++i])) >= 0)
      fixed = &clock;
    else if (strcmp(c->argv[i], "--peer-db") == 0 && i + 1 < c->argc)
      peer_db = c->argv[++i];
    else
      return usage(c->argv[i]);
  }
  json_error_t e;
  json_t *cs = json_load_file(case_file, 0, &e);
  if (!cs) {
    fprintf(stderr, "jcm demo: cannot read %s: %s\n", case_file, e.text);
    return EXIT_USAGE;
  }
  const char *host = str(cs, "project.host_party"), *partner = host ? partner_of(cs, host) : NULL;
  char peer_buf[4096], coop[40] = "";
  if (!peer_db) peer_path(c->db, cs, partner ? partner : "peer", peer_buf, sizeof peer_buf), peer_db = peer_buf;
  demo d = {.c = c, .peer_db = peer_db};
  int rc = EXIT_USAGE;
  if (!host || !partner || !registry_of(cs, host) || !registry_of(cs, partner))
    fprintf(stderr, "jcm demo: %s names no host Party, partner Party and their registries\n", case_file);
  else if (fresh(c->db) && fresh(peer_db) && open_both(&d, peer_db, fixed)) {
    host_side(&d, cs, host, coop);
    if (!d.failed) acquiring_side(&d, cs, host, partner, coop);
    if (!d.failed) report(&d, host, partner, target_year(cs));
    if (d.failed) fprintf(stderr, "jcm demo: FAILED\n");
    rc = d.failed ? EXIT_REFUSED : EXIT_OK;
  }
  jcm_close(d.j);
  jcm_close(d.peer);
  json_decref(d.issued);
  json_decref(cs);
  return rc;
}
