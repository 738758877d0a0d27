/*
 * Jansson's memory. Verify's checking thread builds a tree for every
 * journal entry and frees it when the replay is done with it: some sixty
 * small allocations an entry, freed in bursts of a batch, kept glibc's
 * allocator off its fast paths, and malloc and free were a third of that
 * thread's samples at a million entries (docs/benchmarks.md).
 *
 * So a tree can be built in a slot: 16 KiB taken from one region reserved
 * for them, filled from the bottom, each allocation counted, and given
 * back when the count returns to zero, on whichever thread frees last.
 * Whatever does not fit, and every allocation outside a slot's building,
 * is malloc's. Freeing tells the two apart by address alone (the region's
 * bounds), so json_dumps() results stay malloc's and are freed with free()
 * as everywhere. A reference kept beyond its tree keeps the slot with it.
 * The functions are installed when the library loads, before any JSON
 * value exists: jansson must free with the functions that allocated.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

#define SLOT_BYTES (16 * 1024)
/* 64 MiB of address space, of which only the slots used are ever touched:
 * verify has about 1,100 entries in flight (replay.c's ring and batch) */
#define SLOTS 4096

typedef struct slot {
  _Atomic size_t refs; /* allocations in it, and one while it is being built */
  size_t used;
  struct slot *next_free;
} slot;
#define SLOT_HEAD 64 /* the slot struct, rounded up for the allocations' alignment */

static _Atomic(char *) region;
static pthread_mutex_t slots_m = PTHREAD_MUTEX_INITIALIZER;
static slot *free_slots;
static size_t slots_made;
static _Thread_local slot *building;

static void *json_alloc(size_t n) {
  slot *s = building;
  size_t need = (n + 15) & ~(size_t)15;
  if (!s || SLOT_BYTES - s->used < need) return malloc(n);
  void *p = (char *)s + s->used;
  s->used += need;
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return p;
}

static void slot_drop(slot *s) {
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_lock(&slots_m);
  s->next_free = free_slots;
  free_slots = s;
  pthread_mutex_unlock(&slots_m);
}

static void json_release(void *p) {
  char *r = atomic_load_explicit(&region, memory_order_acquire), *at = p;
  if (r && at >= r && at < r + (size_t)SLOTS * SLOT_BYTES)
    slot_drop((slot *)(r + (size_t)(at - r) / SLOT_BYTES * SLOT_BYTES));
  else
    free(p);
}

__attribute__((constructor)) static void install(void) { json_set_alloc_funcs(json_alloc, json_release); }

/* A free slot, or NULL (the region cannot be reserved, or every slot is in
 * use). Called with slots_m held. */
static slot *take_slot(void) {
  char *r = atomic_load_explicit(&region, memory_order_relaxed);
  if (!r) { /* reserved once, never given back: large enough that malloc maps it, its pages untouched until used */
    r = malloc((size_t)SLOTS * SLOT_BYTES);
    if (!r) return NULL;
    atomic_store_explicit(&region, r, memory_order_release);
  }
  slot *s = free_slots;
  if (s)
    free_slots = s->next_free;
  else if (slots_made < SLOTS)
    s = (slot *)(r + slots_made++ * SLOT_BYTES);
  return s;
}

/* AddressSanitizer watches malloc's memory, not the slots: under it, trees
 * stay on the heap (GCC says so with __SANITIZE_ADDRESS__, clang with
 * __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define SLOTS_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOTS_OFF 1
#endif
#endif

void jcm__json_slot_begin(void) {
#ifdef SLOTS_OFF
  return;
#endif
  pthread_mutex_lock(&slots_m);
  slot *s = take_slot();
  pthread_mutex_unlock(&slots_m);
  if (s) {
    atomic_store_explicit(&s->refs, 1, memory_order_relaxed);
    s->used = SLOT_HEAD;
  }
  building = s;
}

void jcm__json_slot_end(void) {
  slot *s = building;
  building = NULL;
  if (s) slot_drop(s);
}
