/*
 * Downloads of reports. GET /api/v1/reports/aef?year=Y&format=csv|json|xlsx
 * [&version=N&date=YYYY-MM-DD]: the AEF report of this registry's Party
 * (docs/aef.md), built, checked and written by the library (jcm_aef) into a
 * private temporary directory, then sent as a file download. Who may read it
 * is the library's rule (jcm_may_read: a public report). An inconsistent
 * report is 422 with the library's list of problems; nothing is sent then.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#define REPORT_MAX_BYTES (256u << 20)

static const struct {
  const char *format, *type;
} aef_types[] = {
    {"csv", "text/csv; charset=utf-8"},
    {"json", "application/json"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
};

/* The whole file, or NULL. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > 0 && (unsigned long)size < REPORT_MAX_BYTES && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) && fread(buf, 1, (size_t)size, f) == (size_t)size) {
      buf[size] = 0;
      *len = (size_t)size;
    } else {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

/* An integer parameter: its value, 0 when absent, -1 when not a number
 * (the library refuses both out of range with its own code and field). */
static int int_param(srv_req *rq, const char *name) {
  const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
  if (!v) return 0;
  char *end;
  long x = strtol(v, &end, 10);
  return *v && !*end && x >= 0 && x < 100000 ? (int)x : -1;
}

static void refuse_with_problems(srv_resp *rs, int status, const jcm_check *chk, json_t *problems) {
  json_t *list = problems ? json_incref(problems) : json_array();
  json_t *out = json_pack("{s:{s:i,s:s,s:s},s:o}", "error", "code", chk->code, "message", chk->message, "field",
                          chk->field, "problems", list);
  rs->status = status;
  rs->body = out ? json_dumps(out, JSON_COMPACT) : NULL;
  rs->type = "application/json";
  json_decref(out);
  if (!rs->body) srv_error(rs, 500, 0, "", "out of memory");
}

void srv_report_aef(srv_req *rq, srv_resp *rs) {
  rq->route = "reports";
  jcm_check chk;
  if (jcm_may_read(rq->signed_in ? &rq->actor : NULL, "aef", &chk) != JCM_OK) {
    srv_note_refusal(rq, chk.code, chk.field);
    srv_error(rs, srv_status_of(JCM_REFUSED, chk.code), chk.code, chk.field, chk.message);
    return;
  }
  const char *format = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "format");
  const char *type = NULL;
  for (size_t i = 0; format && i < sizeof aef_types / sizeof aef_types[0]; i++)
    if (strcmp(format, aef_types[i].format) == 0) type = aef_types[i].type;
  if (!format) format = "csv", type = aef_types[0].type;
  jcm_aef_options o = {int_param(rq, "year"), int_param(rq, "version"),
                       MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "date"), format, NULL};
  char dir[] = "/tmp/jcm-aef-XXXXXX", path[64];
  if (!mkdtemp(dir)) {
    srv_error(rs, 500, 0, "", "cannot make a temporary directory");
    return;
  }
  snprintf(path, sizeof path, "%s/report", dir);
  o.path = path;
  json_t *problems = NULL;
  int rc = jcm_aef(rq->j, &o, &problems, &chk);
  size_t len = 0;
  char *body = rc == JCM_OK ? slurp(path, &len) : NULL;
  unlink(path);
  rmdir(dir);
  if (rc == JCM_REFUSED) {
    refuse_with_problems(rs, srv_status_of(rc, chk.code), &chk, problems);
  } else if (rc != JCM_OK || !body || !type) {
    srv_error(rs, 500, chk.code, chk.field, rc != JCM_OK ? chk.message : "the report could not be read back");
  } else {
    json_t *head = NULL;
    jcm_check hc;
    char party[9] = "";
    const char *p =
        jcm_query(rq->j, "head", NULL, &head, &hc) == JCM_OK ? json_string_value(json_object_get(head, "party")) : NULL;
    for (size_t i = 0, n = 0; p && p[i] && n < 8; i++) /* letters and digits only in a header */
      if ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9'))
        party[n++] = p[i], party[n] = 0;
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"aef-%s-%d-v%d.%s\"", party, o.year, o.version ? o.version : 1,
             format);
    srv_add_header(rs, "Content-Disposition", disp);
    json_decref(head);
    rs->status = 200;
    rs->body = body;
    rs->body_len = len;
    rs->type = type;
    body = NULL;
  }
  free(body);
  json_decref(problems);
}
