/*
 * JSON trees built in slots (lib/jsonmem.c): usable as any value, freed
 * as a whole once every value in them is, whichever thread frees last; a
 * value kept beyond its tree keeps its slot; json_dumps() output stays
 * malloc's; a tree larger than a slot continues on the heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A journal entry's tree, as the checking thread reads one, in a slot. */
static json_t *entry_in_slot(int i) {
  char text[300];
  snprintf(text, sizeof text,
           "{\"actor\":\"admin\",\"args\":{\"from\":\"THA01-100-000001-%02d\",\"quantity\":%d},\"cmd\":\"transfer\","
           "\"out\":{\"ranges\":[{\"first\":%d,\"last\":%d,\"origin\":\"THA01\"}]},\"seq\":%d}",
           i % 100, i, i, i + 9, i);
  jcm__json_slot_begin();
  json_t *ev = jcm__read_canonical(text, strlen(text));
  jcm__json_slot_end();
  assert_non_null(ev);
  return ev;
}

static void trees_in_slots_are_values(void **state) {
  (void)state;
  for (int i = 1; i <= 3000; i++) { /* more trees than a batch keeps in flight, slots reused */
    json_t *ev = entry_in_slot(i);
    assert_int_equal(jcm__i(ev, "seq", 0), i);
    json_t *range = json_array_get(json_object_get(json_object_get(ev, "out"), "ranges"), 0);
    assert_int_equal(jcm__i(range, "last", 0), i + 9);
    /* a value added later (as apply may) is malloc's, and freed with the tree */
    json_object_set_new(json_object_get(ev, "out"), "to", json_string("THA01-100-000002-58"));
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(text, "\"to\":\"THA01-100-000002-58\""));
    free(text); /* json_dumps() output is malloc's, as everywhere */
    json_decref(ev);
  }
}

static void a_kept_value_keeps_its_slot(void **state) {
  (void)state;
  json_t *ev = entry_in_slot(7);
  json_t *from = json_object_get(json_object_get(ev, "args"), "from");
  json_incref(from);
  json_decref(ev);
  /* other trees come and go; none may take the kept value's slot */
  for (int i = 0; i < 2000; i++)
    json_decref(entry_in_slot(1000 + i));
  assert_string_equal(json_string_value(from), "THA01-100-000001-07");
  json_decref(from);
}

static void *free_tree(void *arg) {
  json_decref(arg);
  return NULL;
}

static void freed_on_another_thread(void **state) {
  (void)state;
  for (int i = 0; i < 200; i++) {
    json_t *ev = entry_in_slot(i), *args = json_incref(json_object_get(ev, "args"));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_tree, ev), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(jcm__i(args, "quantity", 0), i); /* still held here */
    json_decref(args);
  }
}

static void a_tree_larger_than_a_slot(void **state) {
  (void)state;
  jcm__json_slot_begin();
  json_t *a = json_array();
  for (int i = 0; i < 5000; i++) /* far more than 16 KiB */
    json_array_append_new(a, json_string("a journal entry's text, repeated"));
  jcm__json_slot_end();
  assert_int_equal(json_array_size(a), 5000);
  assert_string_equal(json_string_value(json_array_get(a, 4999)), "a journal entry's text, repeated");
  json_decref(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(trees_in_slots_are_values),
      cmocka_unit_test(a_kept_value_keeps_its_slot),
      cmocka_unit_test(freed_on_another_thread),
      cmocka_unit_test(a_tree_larger_than_a_slot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
