/* docs/check-codes.md and the program's check-code table agree, row for row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void doc_matches_table(void **state) {
  (void)state;
  FILE *f = fopen(JCM_SOURCE_DIR "/docs/check-codes.md", "r");
  assert_non_null(f);
  size_t n;
  const jcm_code_info *codes = jcm_codes(&n);
  size_t row = 0;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    int code;
    char name[128], text[512];
    if (sscanf(line, "| %d | %127[^ |] | %511[^|]|", &code, name, text) != 3) continue;
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == ' ')
      text[--len] = 0;
    assert_true(row < n);
    if (codes[row].code != code || strcmp(codes[row].name, name) != 0 || strcmp(codes[row].text, text) != 0)
      fail_msg("docs/check-codes.md row %zu is '%d %s %s', the program has '%d %s %s'", row + 1, code, name, text,
               codes[row].code, codes[row].name, codes[row].text);
    row++;
  }
  fclose(f);
  if (row != n) fail_msg("docs/check-codes.md lists %zu codes, the program %zu", row, n);
}

static void codes_unique_and_in_range(void **state) {
  (void)state;
  size_t n;
  const jcm_code_info *codes = jcm_codes(&n);
  for (size_t i = 0; i < n; i++) {
    assert_true(codes[i].code >= 1000 && codes[i].code <= 8999);
    for (size_t k = 0; k < i; k++)
      assert_int_not_equal(codes[i].code, codes[k].code);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(doc_matches_table), cmocka_unit_test(codes_unique_and_in_range)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
