/*
 * The OpenAPI 3 document of the API, generated from the library's command
 * table (lib/spec.c: fields, types, limits, roles) and query list
 * (jcm_queries), so that it cannot drift from what the server does. A test
 * (tests/sh_api.sh) walks it against a running server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "spec.h"

static const char *const role_names[] = {"admin", "jc_secretariat", "holder", "tpe", "auditor", "peer", "server"};

static json_t *ref(const char *name) {
  char path[96];
  snprintf(path, sizeof path, "#/components/schemas/%s", name);
  return json_pack("{s:s}", "$ref", path);
}

static json_t *field_schema(const field_spec *f);

static json_t *object_schema(const field_spec *fs) {
  json_t *props = json_object(), *req = json_array();
  for (const field_spec *f = fs; f->name; f++) {
    json_object_set_new(props, f->name, field_schema(f));
    if (f->required) json_array_append_new(req, json_string(f->name));
  }
  json_t *o = json_pack("{s:s,s:o,s:b}", "type", "object", "properties", props, "additionalProperties", 0);
  if (json_array_size(req))
    json_object_set_new(o, "required", req);
  else
    json_decref(req);
  return o;
}

static json_t *field_schema(const field_spec *f) {
  json_t *s;
  switch (f->type) {
  case F_INT:
    return json_pack("{s:s,s:s,s:I,s:I,s:s}", "type", "integer", "format", "int64", "minimum", (json_int_t)f->min,
                     "maximum", (json_int_t)(f->max ? f->max : INT64_MAX), "description", f->help);
  case F_DATE: return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date", "description", f->help);
  case F_ENUM:
    s = json_pack("{s:s,s:[],s:s}", "type", "string", "enum", "description", f->help);
    for (const char *const *c = f->choices; *c; c++)
      json_array_append_new(json_object_get(s, "enum"), json_string(*c));
    return s;
  case F_ARRAY:
    return json_pack("{s:s,s:o,s:I,s:s}", "type", "array", "items", object_schema(f->sub), "maxItems",
                     (json_int_t)f->max, "description", f->help);
  case F_IDS:
    return json_pack("{s:s,s:{s:s,s:i},s:I,s:s}", "type", "array", "items", "type", "string", "maxLength", 64,
                     "maxItems", (json_int_t)f->max, "description", f->help);
  case F_ACCOUNT:
    return json_pack("{s:s,s:s,s:s}", "type", "string", "pattern", "^[A-Z]{3}[0-9]{2}-[0-9]{3}-[0-9]{6}-[0-9]{2}$",
                     "description", f->help);
  default:
    return json_pack("{s:s,s:i,s:i,s:s}", "type", "string", "minLength", 1, "maxLength",
                     (int)(f->max             ? f->max
                           : f->type == F_STR ? 200
                                              : 64),
                     "description", f->help);
  }
}

static json_t *responses(const int *codes, size_t n, const char *ok_schema) {
  json_t *r = json_object();
  for (size_t i = 0; i < n; i++) {
    char k[8];
    snprintf(k, sizeof k, "%d", codes[i]);
    int ok = codes[i] < 300;
    json_t *schema = ok ? ref(ok_schema) : ref("Error");
    json_object_set_new(r, k,
                        json_pack("{s:s,s:{s:{s:o}}}", "description", ok ? "done" : "refused, with the check code",
                                  "content",
                                  ok && strcmp(ok_schema, "Lines") == 0 ? "application/x-ndjson" : "application/json",
                                  "schema", schema));
  }
  return r;
}

/* Marks an operation that only some roles may call, the same way for
 * commands and queries: "x-jcm-roles" lists them (role bits as in
 * lib/internal.h, in role_names' order) and the description says so. */
static void only_roles(json_t *op, unsigned roles, const char *more) {
  json_t *list = json_array();
  char text[400] = "Only these roles may call it:";
  size_t n = strlen(text);
  for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
    if (!(roles & (1u << i))) continue;
    json_array_append_new(list, json_string(role_names[i]));
    n += (size_t)snprintf(text + n, sizeof text - n, "%s %s", json_array_size(list) > 1 ? "," : "", role_names[i]);
  }
  snprintf(text + n, sizeof text - n, ". Others are refused with 403 (check 8001), the public with 401 (8005).%s",
           more ? more : "");
  json_object_set_new(op, "x-jcm-roles", list);
  json_object_set_new(op, "description", json_string(text));
}

/* Members of a command's body taken out (and hashed, or checked) before the
 * command is journaled: they are not in the command table. */
static const struct {
  const char *cmd, *member, *help;
} secrets[] = {
    {"user.add", "password", "Argon2id-hashed, never journaled; without it: tokens only"},
    {"user.password", "password", "the new password: Argon2id-hashed, never journaled"},
    {"user.password", "current", "your current password, when you change your own (never journaled)"},
};

static json_t *command_op(const cmd_spec *s) {
  static const int codes[] = {200, 400, 401, 403, 413, 415, 422, 429};
  json_t *body = object_schema(s->fields);
  for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
    if (strcmp(s->name, secrets[i].cmd) == 0)
      json_object_set_new(json_object_get(body, "properties"), secrets[i].member,
                          json_pack("{s:s,s:i,s:i,s:s}", "type", "string", "minLength", 12, "maxLength", 1024,
                                    "description", secrets[i].help));
  json_t *op = json_pack("{s:s,s:s,s:[s],s:{s:b,s:{s:{s:o}}},s:o}", "operationId", s->name, "summary", s->help, "tags",
                         "commands", "requestBody", "required", 1, "content", "application/json", "schema", body,
                         "responses", responses(codes, sizeof codes / sizeof codes[0], "CommandResult"));
  only_roles(op, s->roles, NULL);
  return json_pack("{s:o}", "post", op);
}

/* The roles the library lets read query name (lib/access.c), asked of it
 * role by role, so that the document says what the server answers. */
static unsigned query_roles(const char *name) {
  unsigned roles = 0;
  jcm_check chk;
  for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
    const jcm_actor a = {"openapi", role_names[i]};
    if (jcm_may_read(&a, name, &chk) == JCM_OK) roles |= 1u << i;
  }
  return roles;
}

static json_t *query_op(const jcm_query_info *q) {
  static const int codes[] = {200, 400, 401, 403, 422, 429};
  json_t *params = json_array();
  for (int i = 0; i < 8 && q->params[i]; i++) {
    const char *p = q->params[i];
    int integer = p[0] == '#', required = p[0] == '!';
    json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", p + (integer || required), "in", "query",
                                            "required", required, "schema", "type", integer ? "integer" : "string"));
  }
  json_t *op = json_pack("{s:s,s:s,s:[s],s:b,s:o,s:o}", "operationId", q->name, "summary", q->name, "tags", "queries",
                         "x-public", q->public_read, "parameters", params, "responses",
                         responses(codes, sizeof codes / sizeof codes[0], q->paged ? "Page" : "Object"));
  unsigned roles = query_roles(q->name);
  if (!q->public_read)
    only_roles(op, roles, roles & R_HOLDER ? " A holder reads only its own accounts and their transactions." : NULL);
  return json_pack("{s:o}", "get", op);
}

static json_t *schemas(void) {
  return json_pack(
      "{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}}},s:{s:s},s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}},s:{s:s},s:{s:s}}",
      "Error", "type", "object", "properties", "error", "type", "object", "properties", "code", "type", "integer",
      "message", "type", "string", "field", "type", "string", "Object", "type", "object", "Page", "type", "object",
      "properties", "rows", "type", "array", "limit", "type", "integer", "offset", "type", "integer", "CommandResult",
      "type", "object", "Lines", "type", "string");
}

static void fixed_paths(json_t *paths) {
  static const int login[] = {200, 400, 401, 403, 415}, batch[] = {200, 400, 401, 413, 415, 429}, plain[] = {200},
                   logout[] = {200, 401, 403}, aef[] = {200, 401, 403, 422, 429};
  json_object_set_new(
      paths, "/api/v1/login",
      json_pack("{s:{s:s,s:s,s:{s:b,s:{s:{s:{s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:s}}}}}},s:o}}", "post", "operationId",
                "login", "summary",
                "sign in with name and password; returns a session token, or with \"cookie\":true sets an HttpOnly, "
                "SameSite=Strict session cookie and returns the session's anti-CSRF token (send it as X-CSRF-Token)",
                "requestBody", "required", 1, "content", "application/json", "schema", "type", "object", "required",
                "name", "password", "properties", "name", "type", "string", "password", "type", "string", "cookie",
                "type", "boolean", "responses", responses(login, 5, "Object")));
  json_object_set_new(paths, "/api/v1/logout",
                      json_pack("{s:{s:s,s:s,s:o}}", "post", "operationId", "logout", "summary",
                                "ends the session the request is signed in with and clears the session cookie",
                                "responses", responses(logout, 3, "Object")));
  json_object_set_new(
      paths, "/api/v1/session",
      json_pack("{s:{s:s,s:s,s:o}}", "get", "operationId", "session", "summary",
                "who is signed in (signed_in, user, role, org) and, for a cookie session, its csrf token", "responses",
                responses(plain, 1, "Object")));
  json_t *aef_r = responses(aef, 5, "Object");
  json_object_set_new(json_object_get(aef_r, "200"), "content",
                      json_pack("{s:{s:{s:s}},s:{s:{s:s}},s:{s:{s:s,s:s}}}", "text/csv", "schema", "type", "string",
                                "application/json", "schema", "type", "object",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "schema", "type",
                                "string", "format", "binary"));
  json_object_set_new(
      json_object_get(aef_r, "422"), "description",
      json_string("refused: bad parameters, or an inconsistent report (the body's \"problems\" lists every problem)"));
  json_object_set_new(
      paths, "/api/v1/reports/aef",
      json_pack("{s:{s:s,s:s,s:[s],s:b,s:[{s:s,s:s,s:b,s:{s:s}},{s:s,s:s,s:b,s:{s:s,s:[s,s,s]}},"
                "{s:s,s:s,s:b,s:{s:s}},{s:s,s:s,s:b,s:{s:s,s:s}}],s:o}}",
                "get", "operationId", "aef", "summary",
                "the AEF report (decision 4/CMA.6 annex II) of this registry's Party for a year, as a download", "tags",
                "reports", "x-public", 1, "parameters", "name", "year", "in", "query", "required", 1, "schema", "type",
                "integer", "name", "format", "in", "query", "required", 0, "schema", "type", "string", "enum", "csv",
                "json", "xlsx", "name", "version", "in", "query", "required", 0, "schema", "type", "integer", "name",
                "date", "in", "query", "required", 0, "schema", "type", "string", "format", "date", "responses",
                aef_r));
  json_object_set_new(paths, "/api/v1/batch",
                      json_pack("{s:{s:s,s:s,s:{s:b,s:{s:{s:{s:s}}}},s:o}}", "post", "operationId", "batch", "summary",
                                "JSON lines as jcm apply takes them, in one transaction; results as JSON lines",
                                "requestBody", "required", 1, "content", "application/x-ndjson", "schema", "type",
                                "string", "responses", responses(batch, 6, "Lines")));
  const char *gets[][2] = {{"/api/v1/openapi.json", "this document"},
                           {"/healthz", "liveness and the journal head"},
                           {"/metrics", "Prometheus metrics (text)"}};
  for (size_t i = 0; i < 3; i++)
    json_object_set_new(paths, gets[i][0],
                        json_pack("{s:{s:s,s:s,s:o}}", "get", "operationId", gets[i][0], "summary", gets[i][1],
                                  "responses", responses(plain, 1, "Object")));
}

char *srv_openapi(void) {
  json_t *paths = json_object();
  size_t n;
  const cmd_spec *specs = jcm__specs(&n);
  char p[96];
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof p, "/api/v1/commands/%s", specs[i].name);
    json_object_set_new(paths, p, command_op(&specs[i]));
  }
  const jcm_query_info *q = jcm_queries(&n);
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof p, "/api/v1/queries/%s", q[i].name);
    json_object_set_new(paths, p, query_op(&q[i]));
  }
  fixed_paths(paths);
  json_t *doc =
      json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}},s:[{s:[]},{s:[]}]}", "openapi",
                "3.0.3", "info", "title", "jcm registry API", "version", "1", "description",
                "JCM credits and Article 6.2 ITMOs: every command and query of the jcm command", "paths", paths,
                "components", "schemas", schemas(), "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
                "cookie", "type", "apiKey", "in", "cookie", "name", "jcm_session", "security", "bearer", "cookie");
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(doc);
  return text;
}
