/*
 * Command specifications: for each command its name, the roles that may
 * submit it, its fields, and the two functions of the write path: check()
 * reads the state and resolves what the command will do into ctx->out (ids,
 * serial ranges), or refuses; apply() changes the state from args and out
 * alone, so that replaying the journal runs apply() and nothing else.
 * The same table drives JSON validation, the CLI's flags and its help.
 */
#ifndef JCM_SPEC_H
#define JCM_SPEC_H

#include "internal.h"

typedef enum {
  F_STR,     /* text, at most max characters (default 200) */
  F_INT,     /* integer in [min, max] (default 1..2^63-1) */
  F_DATE,    /* YYYY-MM-DD */
  F_ACCOUNT, /* account id with check digits */
  F_ENUM,    /* one of choices */
  F_ID,      /* text of the form valid() accepts */
  F_ARRAY,   /* array of objects of the fields in sub, at most max items */
  F_IDS,     /* array of F_ID texts, at most max items */
} field_type;

typedef struct field_spec {
  const char *name;
  field_type type;
  bool required;
  int64_t min, max;             /* F_INT bounds; F_STR/F_ARRAY/F_IDS max length or items */
  const char *const *choices;   /* F_ENUM */
  int (*valid)(const char *s);  /* F_ID, F_IDS */
  const struct field_spec *sub; /* F_ARRAY */
  const char *help;
} field_spec;

typedef struct cmd_spec {
  const char *name;
  const char *help;
  unsigned roles;
  const field_spec *fields; /* ends with a {NULL} row */
  int (*check)(jcm_ctx *c);
  int (*apply)(jcm_ctx *c);
} cmd_spec;

const cmd_spec *jcm__spec_find(const char *name);
const cmd_spec *jcm__specs(size_t *count);
/* Validates cmd against its spec; on success *spec is set and *args is a new
 * reference to the validated object. */
int jcm__validate(json_t *cmd, const cmd_spec **spec, json_t **args, jcm_check *chk);

/* Validates a journaled command's args (the command without "cmd") against
 * spec, as jcm__validate did when it was submitted. */
int jcm__validate_args(const cmd_spec *spec, json_t *args, jcm_check *chk);

/* Identifier forms (1 when s has the form). */
int jcm__is_party(const char *s);
int jcm__is_registry(const char *s);
int jcm__is_org(const char *s);
int jcm__is_project(const char *s);
int jcm__is_pin(const char *s);
int jcm__is_methodology(const char *s);
int jcm__is_coop(const char *s);
int jcm__is_key(const char *s);
int jcm__is_version(const char *s);
int jcm__is_sha256(const char *s);
int jcm__is_user(const char *s);
int jcm__is_token_id(const char *s);

/* The commands (refdata.c, accounts.c, cycle.c, units.c, adjust.c,
 * foureyes.c). */
#define JCM_COMMAND(n)                                                                                                 \
  int jcm__check_##n(jcm_ctx *c);                                                                                      \
  int jcm__apply_##n(jcm_ctx *c);
JCM_COMMAND(init)
JCM_COMMAND(party_add)
JCM_COMMAND(registry_add)
JCM_COMMAND(coop_add)
JCM_COMMAND(org_add)
JCM_COMMAND(account_open)
JCM_COMMAND(account_status)
JCM_COMMAND(methodology_add)
JCM_COMMAND(pin_submit)
JCM_COMMAND(project_pdd)
JCM_COMMAND(project_validate)
JCM_COMMAND(project_import)
JCM_COMMAND(project_withdraw)
JCM_COMMAND(decide)
JCM_COMMAND(monitoring_submit)
JCM_COMMAND(monitoring_verify)
JCM_COMMAND(issue)
JCM_COMMAND(transfer)
JCM_COMMAND(cancel)
JCM_COMMAND(retire)
JCM_COMMAND(authorize)
JCM_COMMAND(use)
JCM_COMMAND(key_generate)
JCM_COMMAND(registry_key)
JCM_COMMAND(xfer_propose)
JCM_COMMAND(xfer_terminate)
JCM_COMMAND(link_receive)
JCM_COMMAND(tx_approve)
JCM_COMMAND(tx_reject)
JCM_COMMAND(tx_cancel)
JCM_COMMAND(ndc_set)
JCM_COMMAND(emissions_report)
JCM_COMMAND(year_finalize)
JCM_COMMAND(user_add)
JCM_COMMAND(token_create)
JCM_COMMAND(user_password)
JCM_COMMAND(user_disable)
JCM_COMMAND(user_enable)
JCM_COMMAND(user_role)
JCM_COMMAND(token_revoke)
JCM_COMMAND(security_event)
#undef JCM_COMMAND

#endif
