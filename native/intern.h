/*
 * intern: growable arrays and an interning hash table (bytes -> dense id, first come first
 * numbered) for the investigate addon's C files (trace-link.c, name-ids.c). Open addressing,
 * FNV-1a; every allocation failure is reported (-1), never a crash or a silent drop.
 */
#ifndef CORRAL_INTERN_H
#define CORRAL_INTERN_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { double *v; size_t n, cap; } Dbl;

static inline int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * size);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

static inline int dbl_push(Dbl *d, double x) {
  if (grow((void **)&d->v, &d->cap, d->n + 1, sizeof *d->v)) return -1;
  d->v[d->n++] = x;
  return 0;
}

typedef struct {
  uint32_t *slot;  /* 0 empty, else id + 1 */
  uint32_t mask;
  uint32_t n;
  size_t cap;      /* of the per-id arrays */
  uint64_t *hash;
  uint32_t *off, *len;
  uint8_t *arena;
  size_t alen, acap;
} Intern;

static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
  return h ^ (h >> 29);
}

static inline int32_t intern_find(const Intern *t, const uint8_t *p, size_t n, uint64_t h) {
  if (!t->slot) return -1;
  for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
    uint32_t s = t->slot[i];
    if (!s) return -1;
    uint32_t id = s - 1;
    if (t->hash[id] == h && t->len[id] == n && memcmp(t->arena + t->off[id], p, n) == 0) return (int32_t)id;
  }
}

static inline int intern_rehash(Intern *t, uint32_t size) {
  uint32_t *s = calloc(size, sizeof *s);
  if (!s) return -1;
  free(t->slot);
  t->slot = s;
  t->mask = size - 1;
  for (uint32_t id = 0; id < t->n; id++) {
    uint32_t i = (uint32_t)t->hash[id] & t->mask;
    while (t->slot[i]) i = (i + 1) & t->mask;
    t->slot[i] = id + 1;
  }
  return 0;
}

/* Adds bytes not yet in the table; returns the new id, or -1 when memory ran out. */
static inline int32_t intern_add(Intern *t, const uint8_t *p, size_t n, uint64_t h) {
  if (n > UINT32_MAX || t->n >= INT32_MAX - 1) return -1;
  if (!t->slot || (uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1) {
    if (intern_rehash(t, t->slot ? (t->mask + 1) * 2 : 1024)) return -1;
  }
  size_t c = t->cap;
  if (t->n + 1 > c) {
    size_t c1 = c, c2 = c, c3 = c;
    if (grow((void **)&t->hash, &c1, t->n + 1, sizeof *t->hash) || grow((void **)&t->off, &c2, t->n + 1, sizeof *t->off)
        || grow((void **)&t->len, &c3, t->n + 1, sizeof *t->len)) return -1;
    t->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
  }
  if (t->alen + n > UINT32_MAX || grow((void **)&t->arena, &t->acap, t->alen + n + 1, 1)) return -1;
  memcpy(t->arena + t->alen, p, n);
  uint32_t id = t->n++;
  t->hash[id] = h;
  t->off[id] = (uint32_t)t->alen;
  t->len[id] = (uint32_t)n;
  t->alen += n;
  uint32_t i = (uint32_t)h & t->mask;
  while (t->slot[i]) i = (i + 1) & t->mask;
  t->slot[i] = id + 1;
  return (int32_t)id;
}

/* Room for n ids and bytes of text, so that adding them neither rehashes nor moves arrays. Returns 0, or -1. */
static inline int intern_reserve(Intern *t, size_t n, size_t bytes) {
  if (n == 0 || n > INT32_MAX / 2) return 0;
  uint32_t size = 1024;
  while ((uint64_t)size < (uint64_t)n * 2 + 2) size *= 2;
  if ((!t->slot || size > t->mask + 1) && intern_rehash(t, size)) return -1;
  size_t c1 = t->cap, c2 = t->cap, c3 = t->cap;
  if (grow((void **)&t->hash, &c1, n, sizeof *t->hash) || grow((void **)&t->off, &c2, n, sizeof *t->off) || grow((void **)&t->len, &c3, n, sizeof *t->len)) return -1;
  t->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
  return bytes > UINT32_MAX ? 0 : grow((void **)&t->arena, &t->acap, bytes + 1, 1);
}

static inline void intern_free(Intern *t) {
  free(t->slot); free(t->hash); free(t->off); free(t->len); free(t->arena);
}

#endif
