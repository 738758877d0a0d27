/*
 * Writing the AEF report: CSV (the five tables stacked, each under its title
 * line), JSON (one object, a member per table) and one XLSX workbook with a
 * sheet per table (libxlsxwriter). The report is built and checked before
 * any of this runs; here nothing is decided, only written. Cells are JSON
 * strings or integers; an empty string is a blank cell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#include "aef.h"

/* Integers beyond 2^53 lose digits as spreadsheet numbers (doubles): the
 * workbook gives those as text, so a serial is never silently changed. */
#define XLSX_EXACT_MAX 9007199254740992LL

void jcm__csv_text(FILE *f, const char *s) {
  int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
  int quote = 0;
  for (const char *p = s; *p; p++)
    quote |= *p == ',' || *p == '"' || *p == '\r' || *p == '\n';
  if (quote) fputc('"', f);
  if (formula) fputc('\'', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  if (quote) fputc('"', f);
}

static void csv_row_end(FILE *f) { fputs("\r\n", f); }

static int write_csv(json_t *report, FILE *f) {
  for (int t = 0; t < JCM_AEF_TABLES; t++) {
    const jcm_aef_table *tb = &jcm__aef_tables[t];
    if (t) csv_row_end(f);
    jcm__csv_text(f, tb->title);
    csv_row_end(f);
    for (int c = 0; tb->cols[c]; c++) {
      if (c) fputc(',', f);
      jcm__csv_text(f, tb->cols[c]);
    }
    csv_row_end(f);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(report, tb->key), i, row) {
      for (int c = 0; tb->cols[c]; c++) {
        json_t *v = json_object_get(row, tb->cols[c]);
        if (c) fputc(',', f);
        if (json_is_integer(v))
          fprintf(f, "%lld", (long long)json_integer_value(v));
        else
          jcm__csv_text(f, json_is_string(v) ? json_string_value(v) : "");
      }
      csv_row_end(f);
    }
  }
  return ferror(f) ? -1 : 0;
}

static int write_json(json_t *report, FILE *f) {
  if (json_dumpf(report, f, JSON_INDENT(1) | JSON_ENSURE_ASCII) != 0) return -1;
  fputc('\n', f);
  return ferror(f) ? -1 : 0;
}

static lxw_error sheet_cell(lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, json_t *v) {
  char digits[24];
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    if (x <= XLSX_EXACT_MAX && x >= -XLSX_EXACT_MAX) return worksheet_write_number(ws, r, c, (double)x, NULL);
    snprintf(digits, sizeof digits, "%lld", (long long)x);
    return worksheet_write_string(ws, r, c, digits, NULL);
  }
  if (json_is_string(v) && json_string_length(v) > 0)
    return worksheet_write_string(ws, r, c, json_string_value(v), NULL);
  return LXW_NO_ERROR; /* a blank cell is no cell */
}

static lxw_error write_sheet(lxw_workbook *wb, const jcm_aef_table *tb, json_t *rows) {
  lxw_worksheet *ws = workbook_add_worksheet(wb, tb->sheet);
  if (!ws) return LXW_ERROR_MEMORY_MALLOC_FAILED;
  lxw_error e = LXW_NO_ERROR;
  for (lxw_col_t c = 0; tb->cols[c] && !e; c++)
    e = worksheet_write_string(ws, 0, c, tb->cols[c], NULL);
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    for (lxw_col_t c = 0; tb->cols[c] && !e; c++)
      e = sheet_cell(ws, (lxw_row_t)(i + 1), c, json_object_get(row, tb->cols[c]));
  }
  return e;
}

static int write_xlsx(json_t *report, const char *path, jcm_check *chk) {
  /* constant memory: rows go to a temporary file as they are written, and
   * strings are stored inline in each sheet */
  lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = LXW_FALSE};
  lxw_workbook *wb = workbook_new_opt(path, &o);
  if (!wb) {
    jcm__set_check(chk, 0, "path", "cannot create the workbook");
    return JCM_ERROR;
  }
  lxw_error e = LXW_NO_ERROR;
  for (int t = 0; t < JCM_AEF_TABLES && !e; t++)
    e = write_sheet(wb, &jcm__aef_tables[t], json_object_get(report, jcm__aef_tables[t].key));
  lxw_error closed = workbook_close(wb); /* frees wb whatever happened */
  if (e || closed) {
    jcm__set_check(chk, 0, "path", "cannot write the workbook: %s", lxw_strerror(e ? e : closed));
    return JCM_ERROR;
  }
  return JCM_OK;
}

static int write_stream(json_t *report, const char *format, FILE *f) {
  return strcmp(format, "json") == 0 ? write_json(report, f) : write_csv(report, f);
}

int jcm__aef_write(json_t *report, const char *format, const char *path, jcm_check *chk) {
  if (!path) {
    if (write_stream(report, format, stdout) != 0 || fflush(stdout) != 0) {
      jcm__set_check(chk, 0, "", "cannot write the report to standard output");
      return JCM_ERROR;
    }
    return JCM_OK;
  }
  size_t n = strlen(path) + 6;
  char *part = malloc(n);
  if (!part) {
    jcm__set_check(chk, 0, "", "out of memory");
    return JCM_ERROR;
  }
  snprintf(part, n, "%s.part", path);
  int rc = JCM_OK;
  if (strcmp(format, "xlsx") == 0) {
    rc = write_xlsx(report, part, chk);
  } else {
    FILE *f = fopen(part, "wb");
    if (!f || write_stream(report, format, f) != 0) rc = JCM_ERROR;
    if (f && fclose(f) != 0) rc = JCM_ERROR;
    if (rc != JCM_OK) jcm__set_check(chk, 0, "path", "cannot write %.200s", part);
  }
  if (rc == JCM_OK && rename(part, path) != 0) {
    jcm__set_check(chk, 0, "path", "cannot rename %.100s to %.100s", part, path);
    rc = JCM_ERROR;
  }
  if (rc != JCM_OK) remove(part);
  free(part);
  return rc;
}
