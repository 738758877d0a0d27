/*
 * The command table and the validation of a command's JSON against it.
 * Validation is strict: unknown fields, wrong types, empty or overlong
 * texts, control characters and out-of-range numbers are refused before the
 * store is touched, each with its check code and the field's path.
 */
#include <stdio.h>
#include <string.h>

#include "spec.h"

/* ---- identifier forms ---- */

static int span(const char *s, size_t from, size_t n, const char *set) {
  for (size_t i = from; i < from + n; i++)
    if (!s[i] || !strchr(set, s[i])) return 0;
  return 1;
}
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"

int jcm__is_party(const char *s) { return strlen(s) == 3 && span(s, 0, 3, UPPER); }
static int is_iso2(const char *s) { return strlen(s) == 2 && span(s, 0, 2, UPPER); }
int jcm__is_registry(const char *s) { return strlen(s) == 5 && span(s, 0, 3, UPPER) && span(s, 3, 2, DIGIT); }
int jcm__is_org(const char *s) {
  size_t n = strlen(s);
  return n >= 1 && n <= 64 && span(s, 0, 1, LOWER DIGIT) && span(s, 0, n, LOWER DIGIT "._-");
}
int jcm__is_project(const char *s) { return strlen(s) == 5 && span(s, 0, 2, UPPER) && span(s, 2, 3, DIGIT); }
int jcm__is_pin(const char *s) {
  return strlen(s) == 9 && span(s, 0, 2, UPPER) && strncmp(s + 2, "_PIN", 4) == 0 && span(s, 6, 3, DIGIT);
}
int jcm__is_methodology(const char *s) {
  return strlen(s) == 8 && span(s, 0, 2, UPPER) && s[2] == '_' &&
         (strncmp(s + 3, "AM", 2) == 0 || strncmp(s + 3, "PM", 2) == 0) && span(s, 5, 3, DIGIT);
}
int jcm__is_coop(const char *s) {
  size_t n = strlen(s);
  return n >= 2 && n <= 32 && span(s, 0, 1, UPPER) && span(s, 0, n, UPPER DIGIT "-");
}
int jcm__is_key(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 128) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < 0x21 || s[i] > 0x7e) return 0;
  return 1;
}
int jcm__is_version(const char *s) {
  size_t n = strlen(s);
  return n >= 1 && n <= 16 && span(s, 0, n, UPPER LOWER DIGIT "._-");
}
int jcm__is_sha256(const char *s) { return strlen(s) == 64 && span(s, 0, 64, DIGIT "abcdef"); }
int jcm__is_user(const char *s) {
  size_t n = strlen(s);
  return n >= 1 && n <= 64 && span(s, 0, 1, LOWER DIGIT) && span(s, 0, n, LOWER DIGIT "._@-");
}
int jcm__is_token_id(const char *s) { return strlen(s) == 16 && span(s, 0, 16, DIGIT "abcdef"); }
static int is_mwh(const char *s) {
  int64_t v;
  return jcm__decimal(s, 3, &v) == 0;
}
static int is_factor(const char *s) {
  int64_t v;
  return jcm__decimal(s, 6, &v) == 0;
}
static int is_auth_id(const char *s) {
  size_t n = strlen(s);
  return n >= 2 && n <= 40 && span(s, 0, 1, UPPER DIGIT) && span(s, 0, n, UPPER DIGIT "._-");
}
static int is_sector(const char *s) {
  for (const char *const *x = jcm__aef_sectors; *x; x++)
    if (strcmp(*x, s) == 0) return 1;
  return 0;
}
static int is_text(const char *s) { return s[0] != 0; }
static int is_issuance(const char *s) {
  return strlen(s) == 14 && jcm__is_registry((char[6]){s[0], s[1], s[2], s[3], s[4], 0}) &&
         strncmp(s + 5, "-I-", 3) == 0 && span(s, 8, 6, DIGIT);
}
static int is_hex_key(const char *s) { return strlen(s) == 64 && span(s, 0, 64, DIGIT "abcdef"); }
static int is_signature(const char *s) { return strlen(s) == 128 && span(s, 0, 128, DIGIT "abcdef"); }
static int is_xtx(const char *s) {
  return strlen(s) == 14 && jcm__is_registry((char[6]){s[0], s[1], s[2], s[3], s[4], 0}) &&
         strncmp(s + 5, "-X-", 3) == 0 && span(s, 8, 6, DIGIT);
}
static int is_ref(const char *s) { return jcm__is_project(s) || jcm__is_pin(s) || jcm__is_methodology(s); }

/* ---- field tables ---- */

static const char *const account_types[] = {"holding",    "government-holding", "pending", "cancellation",
                                            "retirement", "share-of-proceeds",  NULL};
static const char *const account_statuses[] = {"open", "blocked", "closed", NULL};
static const char *const registry_roles[] = {"national", "transaction-log", NULL};
static const char *const import_statuses[] = {"pin", "pin_approved", "pdd_submitted", "validated", "registered", NULL};
static const char *const decision_kinds[] = {
    "pin_approval", "methodology_approval", "methodology_rejection", "project_registration", "issuance", NULL};
static const char *const methodology_statuses[] = {"proposed", "approved", NULL};
static const char *const cancel_kinds[] = {"voluntary", "omge", "other", NULL};
static const char *const ndc_kinds[] = {"single-year", "multi-year", NULL};
static const char *const ndc_methods[] = {"trajectory", "averaging", "multi-year budget", NULL};

#define END                                                                                                            \
  { NULL, F_STR, false, 0, 0, NULL, NULL, NULL, NULL }
#define STR(n, req, max, h)                                                                                            \
  { n, F_STR, req, 0, max, NULL, NULL, NULL, h }
#define INT(n, req, lo, hi, h)                                                                                         \
  { n, F_INT, req, lo, hi, NULL, NULL, NULL, h }
#define DATE(n, req, h)                                                                                                \
  { n, F_DATE, req, 0, 0, NULL, NULL, NULL, h }
#define ACCT(n, req, h)                                                                                                \
  { n, F_ACCOUNT, req, 0, 0, NULL, NULL, NULL, h }
#define ENUM(n, req, ch, h)                                                                                            \
  { n, F_ENUM, req, 0, 0, ch, NULL, NULL, h }
#define ID(n, req, fn, h)                                                                                              \
  { n, F_ID, req, 0, 0, NULL, fn, NULL, h }
#define IDS(n, req, max, fn, h)                                                                                        \
  { n, F_IDS, req, 0, max, NULL, fn, NULL, h }
#define ARR(n, req, max, sub, h)                                                                                       \
  { n, F_ARRAY, req, 0, max, NULL, NULL, sub, h }
#define KEY                                                                                                            \
  { "key", F_ID, false, 0, 128, NULL, jcm__is_key, NULL, "idempotency key (1-128 printable ASCII)" }
#define QTY INT("quantity", false, 1, INT64_MAX, "number of units")

static const field_spec f_init[] = {ID("registry", true, jcm__is_registry, "this registry's id, e.g. THA01"),
                                    ID("party", true, jcm__is_party, "the Party it serves (ISO alpha-3)"),
                                    STR("name", true, 200, "the registry's name"), KEY, END};
static const field_spec f_party_add[] = {ID("code", true, jcm__is_party, "ISO 3166-1 alpha-3"),
                                         ID("iso2", false, is_iso2, "alpha-2"),
                                         STR("name_en", true, 200, "English name"),
                                         STR("name_ja", false, 200, "Japanese name"),
                                         KEY,
                                         END};
static const field_spec f_registry_add[] = {ID("id", true, jcm__is_registry, "registry id"),
                                            ID("party", true, jcm__is_party, "its Party"),
                                            STR("name", true, 200, "its name"),
                                            ENUM("role", true, registry_roles, "national or transaction-log"),
                                            KEY,
                                            END};
static const field_spec f_coop_add[] = {ID("id", true, jcm__is_coop, "CA0000 or a local id such as JCM-JPN-THA"),
                                        STR("name", true, 300, "name"),
                                        IDS("parties", true, 16, jcm__is_party, "participating Parties"),
                                        DATE("agreement_date", false, "date of the agreement"),
                                        KEY,
                                        END};
static const field_spec f_org_add[] = {ID("id", true, jcm__is_org, "short id: lower case, digits, . _ -"),
                                       STR("name", true, 300, "legal name"),
                                       ID("country", true, jcm__is_party, "country (alpha-3)"),
                                       STR("ident", false, 100, "identification number"),
                                       STR("roles", false, 200, "roles"),
                                       KEY,
                                       END};
static const field_spec f_account_open[] = {ENUM("type", true, account_types, "account type"),
                                            ID("holder", true, jcm__is_org, "holder organisation"),
                                            STR("name", true, 200, "account name"), KEY, END};
static const field_spec f_account_status[] = {ACCT("account", true, "account id"),
                                              ENUM("status", true, account_statuses, "new status"),
                                              STR("reason", true, 1000, "why"), KEY, END};
static const field_spec f_methodology_add[] = {
    ID("id", true, jcm__is_methodology, "e.g. TH_AM003"),
    ID("version", true, jcm__is_version, "e.g. ver02.0"),
    STR("title", true, 300, "title"),
    STR("scope", false, 200, "sectoral scope"),
    ENUM("status", false, methodology_statuses, "proposed (default) or approved before this registry"),
    KEY,
    END};
static const field_spec f_participant[] = {ID("org", true, jcm__is_org, "organisation"),
                                           ID("side", true, jcm__is_party, "its side (Party)"), END};
static const field_spec f_pin_submit[] = {ID("pin", true, jcm__is_pin, "e.g. TH_PIN008"),
                                          STR("title", true, 300, "title"),
                                          ID("host", true, jcm__is_party, "host Party"),
                                          ID("coop", false, jcm__is_coop, "cooperative approach"),
                                          ARR("participants", false, 20, f_participant, "participants"),
                                          KEY,
                                          END};
static const field_spec f_project_pdd[] = {ID("pin", true, jcm__is_pin, "the approved PIN"),
                                           ID("project", true, jcm__is_project, "project id, e.g. TH022"),
                                           ID("methodology", true, jcm__is_methodology, "methodology"),
                                           ID("version", true, jcm__is_version, "its version"),
                                           STR("title", false, 300, "project title, if it differs from the PIN's"),
                                           KEY,
                                           END};
static const field_spec f_project_validate[] = {
    ID("project", true, jcm__is_project, "project"), STR("report", true, 300, "validation report name"),
    ID("report_sha256", false, jcm__is_sha256, "SHA-256 of the report (hex)"), KEY, END};
static const field_spec f_project_import[] = {
    ID("project", true, jcm__is_project, "project id"),
    ID("pin", false, jcm__is_pin, "its PIN"),
    STR("title", true, 300, "title"),
    ID("host", true, jcm__is_party, "host Party"),
    ID("coop", false, jcm__is_coop, "cooperative approach"),
    ID("methodology", false, jcm__is_methodology, "methodology"),
    ID("version", false, jcm__is_version, "its version"),
    ENUM("status", true, import_statuses, "status reached before this registry"),
    ARR("participants", false, 20, f_participant, "participants"),
    STR("source", true, 500, "where the earlier cycle is recorded"),
    KEY,
    END};
static const field_spec f_project_withdraw[] = {ID("project", true, jcm__is_project, "project"),
                                                STR("reason", true, 1000, "why"), KEY, END};
static const field_spec f_decide[] = {ID("coop", false, jcm__is_coop, "cooperative approach"),
                                      INT("meeting", true, 1, 100000, "JC meeting number"),
                                      DATE("date", true, "meeting date"),
                                      ENUM("kind", true, decision_kinds, "decision kind"),
                                      ID("ref", true, is_ref, "PIN, project or methodology it concerns"),
                                      ID("version", false, jcm__is_version, "methodology version"),
                                      KEY,
                                      END};
static const field_spec f_monitoring_submit[] = {
    ID("project", true, jcm__is_project, "project"),
    DATE("first_day", true, "first day of the period"),
    DATE("last_day", true, "last day of the period"),
    INT("calculated", false, 0, INT64_MAX, "calculated emission reductions (tCO2e); computed when omitted"),
    ID("electricity_mwh", false, is_mwh, "electricity fed to the grid, MWh (decimal text, up to 3 places)"),
    ID("emission_factor", false, is_factor, "grid emission factor, tCO2/MWh (decimal text, up to 6 places)"),
    KEY,
    END};
static const field_spec f_monitoring_verify[] = {
    ID("project", true, jcm__is_project, "project"),
    DATE("first_day", true, "first day of the period"),
    DATE("last_day", true, "last day of the period"),
    INT("verified", true, 0, INT64_MAX, "verified emission reductions (tCO2e)"),
    STR("report", true, 300, "verification report name"),
    ID("report_sha256", false, jcm__is_sha256, "SHA-256 of the report (hex)"),
    KEY,
    END};
static const field_spec f_allocation[] = {ACCT("account", true, "receiving account"),
                                          INT("quantity", true, 1, INT64_MAX, "units"), END};
static const field_spec f_issue[] = {
    ID("coop", false, jcm__is_coop, "cooperative approach"),
    INT("meeting", true, 1, 100000, "JC meeting number"),
    DATE("date", true, "decision date"),
    ID("project", true, jcm__is_project, "project"),
    DATE("first_day", true, "monitoring period start"),
    DATE("last_day", true, "monitoring period end"),
    INT("total", true, 1, INT64_MAX, "units to issue"),
    INT("vintage", false, 1900, 9999, "vintage year (default: year of the period's last day)"),
    ARR("allocation", true, 100, f_allocation, "account=quantity for each receiving account"),
    KEY,
    END};
static const field_spec f_range[] = {
    INT("first", true, 1, INT64_MAX, "first serial"), INT("last", true, 1, INT64_MAX, "last serial"),
    ID("origin", false, jcm__is_registry, "originating registry (default: this one)"), END};
#define UNITS                                                                                                          \
  QTY, ARR("ranges", false, 1000, f_range, "explicit serial ranges first-last"),                                       \
      ID("project", false, jcm__is_project, "take only units of this project"),                                        \
      INT("vintage", false, 1900, 9999, "take only units of this vintage")
static const field_spec f_transfer[] = {ACCT("from", true, "source account"), ACCT("to", true, "destination account"),
                                        UNITS, KEY, END};
static const field_spec f_cancel[] = {ACCT("from", true, "source account"),
                                      ENUM("kind", true, cancel_kinds, "voluntary, omge or other"),
                                      STR("reason", true, 1000, "why"),
                                      ACCT("to", false, "cancellation account (default: the registry's)"),
                                      UNITS,
                                      KEY,
                                      END};
static const field_spec f_retire[] = {ACCT("from", true, "source account"),
                                      STR("reason", false, 1000, "why"),
                                      ACCT("to", false, "retirement account (default: the registry's)"),
                                      UNITS,
                                      KEY,
                                      END};
/* Article 6 accounting (adjust.c). Years are bounded so that a year is
 * never mistaken for a quantity; emissions at 10^15 t leave room for
 * milli-tonnes in 64 bits. */
#define YEAR(n, h) INT(n, true, 1990, 2100, h)
static const field_spec f_ndc_set[] = {
    ID("party", true, jcm__is_party, "this registry's Party"),
    ENUM("kind", true, ndc_kinds, "single-year or multi-year"),
    YEAR("first_year", "first year of the NDC period"),
    YEAR("last_year", "last year (the target year of a single-year NDC)"),
    ENUM("method", true, ndc_methods, "corresponding-adjustment method"),
    INT("fiscal_start_month", false, 1, 12, "month the NDC's (fiscal) year starts, default 1 (Japan: 4)"),
    KEY,
    END};
static const field_spec f_emissions_report[] = {
    ID("party", true, jcm__is_party, "this registry's Party"), YEAR("year", "inventory year"),
    INT("quantity", true, 0, 1000000000000000, "reported emissions (tCO2e)"), KEY, END};
static const field_spec f_year_finalize[] = {ID("party", true, jcm__is_party, "this registry's Party"),
                                             YEAR("year", "the NDC year to mark final"), KEY, END};

/* Users of the HTTP server (users.c); their secrets never enter the journal. */
static const char *const user_roles[] = {"admin", "jc_secretariat", "holder", "tpe", "auditor", "peer", NULL};
static const char *const security_kinds[] = {"login",         "login_failed", "logout", "refused",
                                             "token_refused", "csrf_refused", NULL};
static const field_spec f_user_add[] = {ID("name", true, jcm__is_user, "user name: lower case, digits, . _ @ -"),
                                        ENUM("role", true, user_roles, "the user's role (DOMAIN.md 2)"),
                                        ID("org", false, jcm__is_org, "organisation (required for a holder)"), KEY,
                                        END};
static const field_spec f_token_create[] = {
    ID("user", true, jcm__is_user, "the user the token acts as"),
    ID("id", false, jcm__is_token_id, "the token's public id (made by the library, never chosen)"),
    INT("days", false, 1, JCM_TOKEN_MAX_DAYS, "days until the token expires (default " JCM_TOKEN_DAYS_TEXT ")"), KEY,
    END};
/* user.password: "password" (and "current") are taken out before validation */
static const field_spec f_user_password[] = {ID("name", true, jcm__is_user, "the user whose password changes"), END};
static const field_spec f_user_disable[] = {ID("name", true, jcm__is_user, "the user"),
                                            STR("reason", false, 1000, "why (kept in the journal)"), KEY, END};
static const field_spec f_user_role[] = {
    ID("name", true, jcm__is_user, "the user"), ENUM("role", true, user_roles, "the user's new role (DOMAIN.md 2)"),
    ID("org", false, jcm__is_org, "organisation (required for a holder)"), KEY, END};
static const field_spec f_user_enable[] = {ID("name", true, jcm__is_user, "the disabled user"), KEY, END};
static const field_spec f_token_revoke[] = {
    ID("id", true, jcm__is_token_id, "the token's public id: its 16 hex digits after jcm_"), KEY, END};
static const field_spec f_security_event[] = {ENUM("kind", true, security_kinds, "what happened"),
                                              STR("user", false, 200, "the user named, if any"),
                                              STR("detail", true, 1000, "route, client, reason"), END};

static const char *const oimp_defs[] = {"Authorisation", "Issuance", "Use or Cancellation", NULL};
static const field_spec f_serials[] = {INT("first", true, 1, INT64_MAX, "first serial"),
                                       INT("last", true, 1, INT64_MAX, "last serial"), END};
static const field_spec f_authorize[] = {
    ID("id", true, is_auth_id, "authorization id (A-Z 0-9 . _ -); an existing id gets a new version"),
    DATE("date", true, "date of the authorization"),
    ID("coop", true, jcm__is_coop, "cooperative approach"),
    INT("quantity", true, 1, INT64_MAX, "authorized quantity (tCO2e)"),
    ENUM("metric", false, jcm__aef_metrics, "GHG (default) or non-GHG"),
    STR("gwp", false, 100, "applicable GWP values"),
    STR("non_ghg_metric", false, 100, "the non-GHG metric"),
    IDS("sectors", true, 40, is_sector, "sectors (AEF list)"),
    IDS("activities", false, 100, is_text, "activity types"),
    ENUM("purposes", true, jcm__aef_purposes, "NDC, OIMP, IMP, OP, NDC and OIMP, NDC and IMP, NDC and OP"),
    IDS("parties", true, 40, jcm__is_party, "authorized (acquiring) Parties"),
    IDS("entities", false, 64, jcm__is_org, "authorized entities (organisations)"),
    STR("oimp_party", false, 200, "OIMP authorized by the Party"),
    INT("first_year", false, 1990, 2100, "first year of the authorized timeframe"),
    INT("last_year", false, 1990, 2100, "last year of the authorized timeframe"),
    STR("terms", false, 2000, "terms and conditions"),
    ENUM("oimp_first_transfer", false, oimp_defs, "for OIMP: Authorisation, Issuance or Use or Cancellation"),
    STR("info", false, 2000, "additional explanatory information"),
    ID("project", false, jcm__is_project, "authorize the units of this project held here"),
    ID("issuance", false, is_issuance, "authorize the units of this issuance held here"),
    ARR("ranges", false, 1000, f_serials, "authorize these serial ranges"),
    KEY,
    END};
static const field_spec f_use[] = {ACCT("from", true, "government holding account"),
                                   INT("year", true, 1990, 2100, "the NDC year the units are used for"),
                                   ACCT("to", false, "retirement account (default: the registry's)"),
                                   STR("reason", false, 1000, "why"),
                                   UNITS,
                                   KEY,
                                   END};
static const field_spec f_key_generate[] = {KEY, END};
static const field_spec f_registry_key[] = {ID("id", true, jcm__is_registry, "peer registry"),
                                            ID("public_key", true, is_hex_key, "its Ed25519 public key (64 hex)"), KEY,
                                            END};
static const field_spec f_xfer_propose[] = {
    ACCT("from", true, "source account"), ACCT("to", true, "destination account in another registry"), UNITS, KEY, END};
static const field_spec f_xfer_terminate[] = {ID("tx", true, is_xtx, "the external transfer"),
                                              STR("reason", true, 1000, "why"), KEY, END};
/* a held transaction: an internal (-T-) or external (-X-) transaction id */
static int is_tx(const char *s) {
  return strlen(s) == 14 && jcm__is_registry((char[6]){s[0], s[1], s[2], s[3], s[4], 0}) &&
         (strncmp(s + 5, "-T-", 3) == 0 || strncmp(s + 5, "-X-", 3) == 0) && span(s, 8, 6, DIGIT);
}
static const field_spec f_tx_approve[] = {ID("tx", true, is_tx, "the transaction awaiting approval"), KEY, END};
static const field_spec f_tx_reject[] = {ID("tx", true, is_tx, "the transaction awaiting approval"),
                                         STR("reason", true, 1000, "why"), KEY, END};
static const field_spec f_link_receive[] = {
    STR("msg", true, 4000000, "the message's exact bytes"),
    {"sig", F_ID, true, 0, 128, NULL, is_signature, NULL, "Ed25519 signature (128 hex)"},
    END};

#define A R_ADMIN
#define J R_JCS
#define H R_HOLDER
#define T R_TPE
#define S R_SERVER
#define U (R_ADMIN | R_JCS | R_HOLDER | R_TPE | R_AUDITOR | R_PEER) /* every user */
#define CMD(name, help, roles, f, fn)                                                                                  \
  { name, help, roles, f, jcm__check_##fn, jcm__apply_##fn }
static const cmd_spec specs[] = {
    CMD("init", "initialize this registry node", A, f_init, init),
    CMD("party.add", "add a Party", A, f_party_add, party_add),
    CMD("registry.add", "add a peer registry", A, f_registry_add, registry_add),
    CMD("coop.add", "add a cooperative approach", A, f_coop_add, coop_add),
    CMD("org.add", "add an organisation", A, f_org_add, org_add),
    CMD("account.open", "open an account", A, f_account_open, account_open),
    CMD("account.status", "block, unblock or close an account", A, f_account_status, account_status),
    CMD("methodology.add", "record a methodology version", A | J, f_methodology_add, methodology_add),
    CMD("pin.submit", "record a project idea note", A | J, f_pin_submit, pin_submit),
    CMD("project.pdd", "record the PDD of an approved PIN", A | J, f_project_pdd, project_pdd),
    CMD("project.validate", "file a validation report", T, f_project_validate, project_validate),
    CMD("project.import", "record a project whose earlier cycle happened elsewhere", A, f_project_import,
        project_import),
    CMD("project.withdraw", "withdraw a project", A | J, f_project_withdraw, project_withdraw),
    CMD("decide", "record a Joint Committee decision", A | J, f_decide, decide),
    CMD("monitoring.submit", "record a monitoring period", A | J, f_monitoring_submit, monitoring_submit),
    CMD("monitoring.verify", "file a verification report", T, f_monitoring_verify, monitoring_verify),
    CMD("issue", "issue units by Joint Committee decision", A | J, f_issue, issue),
    CMD("transfer", "move units between two accounts of this registry", A | H, f_transfer, transfer),
    CMD("cancel", "cancel units (voluntary, OMGE, other)", A | H, f_cancel, cancel),
    CMD("retire", "retire units", A | H, f_retire, retire),
    CMD("authorize", "authorize units under Article 6 (a new version for an existing id)", A, f_authorize, authorize),
    CMD("use", "use units toward this Party's NDC", A, f_use, use),
    CMD("key.generate", "make this registry's signing key pair", A, f_key_generate, key_generate),
    CMD("registry.key", "record a peer registry's public key", A, f_registry_key, registry_key),
    CMD("xfer.propose", "propose an external transfer to another registry", A | H, f_xfer_propose, xfer_propose),
    CMD("xfer.terminate", "terminate an external transfer not yet completed", A, f_xfer_terminate, xfer_terminate),
    CMD("tx.approve", "approve a transaction awaiting approval (a second administrator)", A, f_tx_approve, tx_approve),
    CMD("tx.reject", "reject a transaction awaiting approval (terminated)", A, f_tx_reject, tx_reject),
    CMD("tx.cancel", "withdraw a transaction awaiting approval (cancelled)", A | H, f_tx_reject, tx_cancel),
    CMD("link.receive", "handle a signed message from a peer registry", A | R_PEER, f_link_receive, link_receive),
    CMD("ndc.set", "set the Party's NDC: period, kind, adjustment method (a new version)", A, f_ndc_set, ndc_set),
    CMD("emissions.report", "report the Party's inventory emissions of a year (a new version)", A, f_emissions_report,
        emissions_report),
    CMD("year.finalize", "mark a year's adjustment and balance final (a new version)", A, f_year_finalize,
        year_finalize),
    CMD("user.add", "add a user of the HTTP server (the first must be an admin)", A, f_user_add, user_add),
    CMD("token.create", "create an API token for a user (shown once)", A, f_token_create, token_create),
    /* users change their own password and revoke their own tokens, whatever
     * their role (the checks say whose: 8011); an admin anyone's */
    CMD("user.password", "set a user's password (your own, giving the current one; an admin anyone's)", U,
        f_user_password, user_password),
    CMD("user.disable", "disable a user: no sign-in; its sessions and API tokens are refused", A, f_user_disable,
        user_disable),
    CMD("user.enable", "enable a disabled user again", A, f_user_enable, user_enable),
    CMD("user.role", "change a user's role (and organisation); its sessions end", A, f_user_role, user_role),
    CMD("token.revoke", "revoke an API token (your own; an admin anyone's)", U, f_token_revoke, token_revoke),
    CMD("security.event", "record a login, failed login or permission refusal", S, f_security_event, security_event),
};

const cmd_spec *jcm__specs(size_t *count) {
  *count = sizeof specs / sizeof specs[0];
  return specs;
}

const cmd_spec *jcm__spec_find(const char *name) {
  for (size_t i = 0; name && i < sizeof specs / sizeof specs[0]; i++)
    if (strcmp(specs[i].name, name) == 0) return &specs[i];
  return NULL;
}

/* ---- validation ---- */

static int has_control(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
  return 0;
}

static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

static int check_fields(json_t *obj, const field_spec *fs, const char *path, jcm_check *chk);

static int check_string(json_t *v, const field_spec *f, const char *path, jcm_check *chk) {
  if (!json_is_string(v)) {
    jcm__set_check(chk, C_TYPE, path, "%s must be text", path);
    return JCM_REFUSED;
  }
  const char *s = json_string_value(v);
  int64_t max = f->max ? f->max : 200;
  if (f->type == F_STR && (int64_t)utf8_len(s) > max) {
    jcm__set_check(chk, C_TOO_LONG, path, "%s is longer than %lld characters", path, (long long)max);
    return JCM_REFUSED;
  }
  size_t id_max = f->type != F_STR && f->max ? (size_t)f->max : 64;
  if (json_string_length(v) != strlen(s)) {
    jcm__set_check(chk, C_FORMAT, path, "%s contains a NUL character", path);
    return JCM_REFUSED;
  }
  if (f->type != F_STR && strlen(s) > id_max) {
    jcm__set_check(chk, C_TOO_LONG, path, "%s is longer than %zu characters", path, id_max);
    return JCM_REFUSED;
  }
  if (s[0] == 0 || (f->type == F_STR && strspn(s, " ") == strlen(s))) {
    jcm__set_check(chk, C_MISSING, path, "%s must not be empty", path);
    return JCM_REFUSED;
  }
  if (has_control(s)) {
    jcm__set_check(chk, C_FORMAT, path, "%s contains control characters", path);
    return JCM_REFUSED;
  }
  return JCM_OK;
}

static int check_one(json_t *v, const field_spec *f, const char *path, jcm_check *chk) {
  switch (f->type) {
  case F_INT: {
    if (!json_is_integer(v)) {
      jcm__set_check(chk, C_TYPE, path, "%s must be a whole number", path);
      return JCM_REFUSED;
    }
    int64_t x = (int64_t)json_integer_value(v);
    int64_t lo = f->min, hi = f->max ? f->max : INT64_MAX;
    if (x < lo || x > hi) {
      jcm__set_check(chk, C_RANGE, path, "%s must be between %lld and %lld", path, (long long)lo, (long long)hi);
      return JCM_REFUSED;
    }
    return JCM_OK;
  }
  case F_ARRAY:
  case F_IDS: {
    if (!json_is_array(v)) {
      jcm__set_check(chk, C_TYPE, path, "%s must be a list", path);
      return JCM_REFUSED;
    }
    size_t n = json_array_size(v);
    if (n == 0 && f->required) {
      jcm__set_check(chk, C_MISSING, path, "%s must not be empty", path);
      return JCM_REFUSED;
    }
    if ((int64_t)n > f->max) {
      jcm__set_check(chk, C_TOO_MANY, path, "%s has more than %lld items", path, (long long)f->max);
      return JCM_REFUSED;
    }
    for (size_t i = 0; i < n; i++) {
      char sub[64];
      snprintf(sub, sizeof sub, "%s[%zu]", path, i);
      int rc;
      if (f->type == F_ARRAY) {
        json_t *item = json_array_get(v, i);
        if (!json_is_object(item)) {
          jcm__set_check(chk, C_TYPE, sub, "%s must be an object", sub);
          return JCM_REFUSED;
        }
        rc = check_fields(item, f->sub, sub, chk);
      } else {
        field_spec one = *f;
        one.type = F_ID;
        rc = check_one(json_array_get(v, i), &one, sub, chk);
      }
      if (rc != JCM_OK) return rc;
    }
    return JCM_OK;
  }
  default: break;
  }
  int rc = check_string(v, f, path, chk);
  if (rc != JCM_OK) return rc;
  const char *s = json_string_value(v);
  switch (f->type) {
  case F_DATE:
    if (!jcm__date_valid(s)) {
      jcm__set_check(chk, C_DATE, path, "%s: '%s' is not a date YYYY-MM-DD", path, s);
      return JCM_REFUSED;
    }
    break;
  case F_ACCOUNT: {
    int code = jcm__account_form(s);
    if (code == C_FORMAT)
      jcm__set_check(chk, code, path, "%s: '%s' is not an account id (e.g. THA01-100-000001-..)", path, s);
    else if (code == C_CHECK_DIGITS)
      jcm__set_check(chk, code, path, "%s: the check digits of '%s' are wrong: mistyped id?", path, s);
    if (code) return JCM_REFUSED;
    break;
  }
  case F_ENUM: {
    for (const char *const *c = f->choices; *c; c++)
      if (strcmp(*c, s) == 0) return JCM_OK;
    jcm__set_check(chk, C_ENUM, path, "%s: '%s' is not one of the allowed values", path, s);
    return JCM_REFUSED;
  }
  case F_ID:
    if (!f->valid(s)) {
      jcm__set_check(chk, C_FORMAT, path, "%s: '%s' does not have the required form", path, s);
      return JCM_REFUSED;
    }
    break;
  default: break;
  }
  return JCM_OK;
}

/* Writes path.name to sub (name alone at the top; at most name_max bytes of
 * it; cut at 95 bytes, as snprintf would), for every field of every command
 * and replayed event: with snprintf it was 3 % of verify's samples. */
static void field_path(char sub[96], const char *path, const char *name, size_t name_max) {
  size_t at = strnlen(path, 95);
  memcpy(sub, path, at);
  if (at && at < 95) sub[at++] = '.';
  size_t n = strnlen(name, name_max);
  if (n > 95 - at) n = 95 - at;
  memcpy(sub + at, name, n);
  sub[at + n] = 0;
}

static int check_fields(json_t *obj, const field_spec *fs, const char *path, jcm_check *chk) {
  const char *key;
  json_t *v;
  char sub[96];
  json_object_foreach(obj, key, v) {
    const field_spec *f = fs;
    while (f->name && strcmp(f->name, key) != 0)
      f++;
    if (!f->name && !(path[0] == 0 && strcmp(key, "cmd") == 0)) {
      field_path(sub, path, key, 60);
      jcm__set_check(chk, C_UNKNOWN_FIELD, sub, "unknown field '%s'", sub);
      return JCM_REFUSED;
    }
  }
  for (const field_spec *f = fs; f->name; f++) {
    field_path(sub, path, f->name, 95);
    v = json_object_get(obj, f->name);
    if (!v || json_is_null(v)) {
      if (!f->required) continue;
      jcm__set_check(chk, C_MISSING, sub, "%s is required", sub);
      return JCM_REFUSED;
    }
    int rc = check_one(v, f, sub, chk);
    if (rc != JCM_OK) return rc;
  }
  return JCM_OK;
}

int jcm__validate_args(const cmd_spec *spec, json_t *args, jcm_check *chk) {
  if (!json_is_object(args)) {
    jcm__set_check(chk, C_TYPE, "", "a command must be a JSON object");
    return JCM_REFUSED;
  }
  return check_fields(args, spec->fields, "", chk);
}

int jcm__validate(json_t *cmd, const cmd_spec **spec, json_t **args, jcm_check *chk) {
  if (!json_is_object(cmd)) {
    jcm__set_check(chk, C_TYPE, "", "a command must be a JSON object");
    return JCM_REFUSED;
  }
  json_t *name = json_object_get(cmd, "cmd");
  if (!name) {
    jcm__set_check(chk, C_MISSING, "cmd", "cmd is required");
    return JCM_REFUSED;
  }
  if (!json_is_string(name)) {
    jcm__set_check(chk, C_TYPE, "cmd", "cmd must be text");
    return JCM_REFUSED;
  }
  const cmd_spec *s = jcm__spec_find(json_string_value(name));
  if (!s) {
    jcm__set_check(chk, C_UNKNOWN_CMD, "cmd", "no command '%.60s'", json_string_value(name));
    return JCM_REFUSED;
  }
  int rc = check_fields(cmd, s->fields, "", chk);
  if (rc != JCM_OK) return rc;
  /* args: the command without null members and without "cmd" */
  json_t *a = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(cmd, key, v) {
    if (strcmp(key, "cmd") != 0 && !json_is_null(v)) json_object_set(a, key, v);
  }
  *spec = s;
  *args = a;
  return JCM_OK;
}
