/*
 * Account identifiers: REGISTRY-TYPE-SEQUENCE-CC, e.g. THA01-100-000017-13.
 * CC are ISO 7064 mod 97-10 check digits computed as IBAN does (letters
 * A..Z read as 10..35, the body followed by "00", CC = 98 - n mod 97), so
 * that one mistyped character or two swapped ones are caught.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* n mod 97 of the digit string the body stands for, "00" appended when
 * want_zeros; -1 when a character is not [0-9A-Z]. */
static int mod97(const char *body, int want_zeros) {
  int r = 0;
  for (const char *p = body; *p; p++) {
    if (*p == '-') continue;
    int v;
    if (*p >= '0' && *p <= '9')
      v = *p - '0';
    else if (*p >= 'A' && *p <= 'Z')
      v = *p - 'A' + 10;
    else
      return -1;
    r = v >= 10 ? (r * 100 + v) % 97 : (r * 10 + v) % 97;
  }
  if (want_zeros) r = (r * 100) % 97;
  return r;
}

int jcm__account_make(const char *registry, int type_code, int64_t seq, char out[32]) {
  if (seq < 1 || seq > 999999 || type_code < 100 || type_code > 999) return -1;
  char body[24];
  snprintf(body, sizeof body, "%.5s-%03d-%06lld", registry, type_code, (long long)seq);
  int r = mod97(body, 1);
  if (r < 0) return -1;
  snprintf(out, 32, "%.16s-%02d", body, (98 - r) % 100);
  return 0;
}

static int all_digits(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] < '0' || p[i] > '9') return 0;
  return 1;
}

/* 0 when well-formed with right check digits; else the check code. */
int jcm__account_form(const char *id) {
  /* AAA00-000-000000-00 */
  if (strlen(id) != 19 || id[5] != '-' || id[9] != '-' || id[16] != '-') return C_FORMAT;
  for (int i = 0; i < 3; i++)
    if (id[i] < 'A' || id[i] > 'Z') return C_FORMAT;
  if (!all_digits(id + 3, 2) || !all_digits(id + 6, 3) || !all_digits(id + 10, 6) || !all_digits(id + 17, 2))
    return C_FORMAT;
  char digits[24];
  memcpy(digits, id, 16);
  memcpy(digits + 16, id + 17, 2);
  digits[18] = 0;
  return mod97(digits, 0) == 1 ? 0 : C_CHECK_DIGITS;
}

int jcm_account_id_valid(const char *id) { return id && jcm__account_form(id) == 0; }
