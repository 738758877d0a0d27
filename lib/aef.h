/* The AEF report's parts shared by lib/aef.c (building and checking the
 * tables) and lib/aef_out.c (writing them as CSV, JSON or XLSX). */
#ifndef JCM_AEF_H
#define JCM_AEF_H

#include <stdio.h>

#include "internal.h"

#define JCM_AEF_TABLES 5

/* One AEF table: its member name in the JSON report, its title line in the
 * CSV, its sheet name in the workbook, and its columns in order (NULL
 * ended). Column titles are those of aef_columns.md without the '*' that
 * marks a secretariat column there. */
typedef struct jcm_aef_table {
  const char *key;
  const char *title;
  const char *sheet;
  const char *const *cols;
} jcm_aef_table;

extern const jcm_aef_table jcm__aef_tables[JCM_AEF_TABLES];

/* Writes report (an object with one array of row objects per table, keyed
 * by jcm__aef_tables[i].key) as format to path, or to standard output when
 * path is NULL (not for xlsx). The file appears whole or not at all: it is
 * written beside path and renamed. JCM_OK, or JCM_ERROR with chk. */
int jcm__aef_write(json_t *report, const char *format, const char *path, jcm_check *chk);

/* Writes a text cell as the CSV has it: prefixed with a single quote when it
 * begins with = + - @ TAB or CR (so that no spreadsheet evaluates it), then
 * quoted as RFC 4180 says when it holds a comma, quote, CR or LF. */
void jcm__csv_text(FILE *f, const char *s);

#endif
