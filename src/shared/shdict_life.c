/*
 * shdict_life.c -- making, naming, sharing and freeing dictionaries, and
 * the read-only questions about them (stats, charges, error words).
 *
 * Named dictionaries live on one process-wide list under one mutex,
 * taken only by shdict_open/retain/release (never by an operation), so a
 * worker that opens "cache" while another is using it only waits for the
 * list.  A dictionary's memory is three allocations made at creation (the
 * arena, its page descriptors, the first bucket array); nothing else is
 * allocated afterwards except when the bucket array grows.
 */
#include "shdict_internal.h"

#include "fault.h"

#include <stdlib.h>

#define PAGE_MIN 4096u
#define PAGE_MAX 65536u
#define BUCKETS_MIN 1024u

static sys_once_flag reg_once = SYS_ONCE_INIT;
static sys_mutex reg_lock;
static struct shdict *registry;

static void reg_init(void) { sys_mutex_init(&reg_lock); }

static void *alloc(size_t n, const char *what) {
  (void)what; /* unused where fault_fail is the constant 0 */
  return fault_fail(FAULT_C, what) ? NULL : malloc(n);
}

static size_t pick_page(size_t size) {
  size_t p = PAGE_MIN;
  while (p < PAGE_MAX && p * 2 <= size / 1024)
    p *= 2;
  return p;
}

static void destroy(struct shdict *d) {
  sys_mutex_destroy(&d->lock);
  free(d->buckets);
  free(d->pages);
  free(d->arena);
  free(d->name);
  free(d);
}

struct shdict *shdict_new(size_t size, size_t page_size) {
  if (size < SHDICT_MIN_SIZE || size > SHDICT_MAX_SIZE)
    return NULL;
  if (page_size == 0)
    page_size = pick_page(size);
  if (page_size < PAGE_MIN || page_size > PAGE_MAX ||
      (page_size & (page_size - 1)) != 0)
    return NULL;
  struct shdict *d = alloc(sizeof *d, "shdict");
  if (!d)
    return NULL;
  memset(d, 0, sizeof *d);
  d->page_size = (uint32_t)page_size;
  while ((1u << d->page_shift) < d->page_size)
    d->page_shift++;
  d->npages = (uint32_t)(size / page_size);
  uint64_t arena = (uint64_t)d->npages * page_size;
  d->max_buckets = BUCKETS_MIN;
  while ((uint64_t)d->max_buckets * 2 * 128 <= arena)
    d->max_buckets *= 2;
  d->nbuckets = BUCKETS_MIN;
  d->arena = alloc((size_t)arena, "shdict arena");
  d->pages = alloc((size_t)d->npages * sizeof *d->pages, "shdict pages");
  d->buckets = alloc(d->nbuckets * sizeof *d->buckets, "shdict index");
  sys_mutex_init(&d->lock);
  if (!d->arena || !d->pages || !d->buckets) {
    destroy(d);
    return NULL;
  }
  memset(d->buckets, 0xff, d->nbuckets * sizeof *d->buckets);
  d->lru_head = d->lru_tail = NIL;
  mem_init(d);
  sys_random(d->seed, sizeof d->seed);
  d->refs = 1;
  return d;
}

struct shdict *shdict_open(const char *name, size_t nlen, size_t size,
                           int *err) {
  int ignored;
  if (!err)
    err = &ignored;
  sys_once(&reg_once, reg_init);
  sys_mutex_lock(&reg_lock);
  struct shdict *d = registry;
  while (d && !(d->nlen == nlen && memcmp(d->name, name, nlen) == 0))
    d = d->reg_next;
  if (d) {
    d->refs++;
  } else if (size != 0 && (size < SHDICT_MIN_SIZE || size > SHDICT_MAX_SIZE)) {
    *err = SHDICT_EINVAL;
  } else {
    d = shdict_new(size ? size : SHDICT_DEFAULT_SIZE, 0);
    char *copy = d ? alloc(nlen + 1, "shdict name") : NULL;
    if (copy) {
      memcpy(copy, name, nlen);
      copy[nlen] = '\0';
      d->name = copy;
      d->nlen = nlen;
      d->reg_next = registry;
      registry = d;
    } else {
      if (d)
        destroy(d);
      d = NULL;
      *err = SHDICT_ENOMEM;
    }
  }
  sys_mutex_unlock(&reg_lock);
  return d;
}

void shdict_retain(struct shdict *d) {
  sys_once(&reg_once, reg_init);
  sys_mutex_lock(&reg_lock);
  d->refs++;
  sys_mutex_unlock(&reg_lock);
}

void shdict_release(struct shdict *d) {
  if (!d)
    return;
  sys_once(&reg_once, reg_init);
  sys_mutex_lock(&reg_lock);
  int last = --d->refs == 0;
  if (last && d->name) {
    struct shdict **link = &registry;
    while (*link != d)
      link = &(*link)->reg_next;
    *link = d->reg_next;
  }
  sys_mutex_unlock(&reg_lock);
  if (last)
    destroy(d);
}

/* ---- questions ----------------------------------------------------------- */

void shdict_stats(struct shdict *d, struct shdict_stats *st) {
  sys_mutex_lock(&d->lock);
  st->size = (uint64_t)d->npages * d->page_size;
  st->page_size = d->page_size;
  st->capacity = d->capacity;
  st->used = d->used;
  st->items = d->items;
  st->evictions = d->evictions;
  st->expired = d->expired;
  st->moves = d->moves;
  sys_mutex_unlock(&d->lock);
}

uint64_t shdict_charge(struct shdict *d, size_t klen,
                       const struct shdict_value *v, int node) {
  uint64_t n = node ? NODE_HDR : ITEM_HDR + (uint64_t)klen;
  switch (v->type) {
  case SHDICT_INT:
  case SHDICT_FLOAT: n += 8; break;
  case SHDICT_BOOL: n += 1; break;
  case SHDICT_LIST: n += sizeof(struct listv); break;
  default: n += v->len;
  }
  return n > UINT32_MAX ? 0 : mem_charge(d, n); /* classes never change */
}

size_t shdict_value_max(struct shdict *d, size_t klen) {
  uint64_t bytes = (d->capacity >> d->page_shift) << d->page_shift;
  for (int i = d->ncls; bytes == 0 && i-- > 0;)
    if (d->cls[i].charge <= d->capacity)
      bytes = d->cls[i].size;
  if (bytes > UINT32_MAX)
    bytes = UINT32_MAX;
  uint64_t over = ITEM_HDR + (uint64_t)klen;
  return bytes > over ? (size_t)(bytes - over) : 0;
}

const char *shdict_strerror(int err) {
  switch (err) {
  case SHDICT_OK: return "ok";
  case SHDICT_ENOTFOUND: return "not found";
  case SHDICT_EEXISTS: return "exists";
  case SHDICT_ENOTNUM: return "not a number";
  case SHDICT_ENOTLIST: return "not a list";
  case SHDICT_ENOMEM: return "no memory";
  case SHDICT_ETOOLARGE: return "too large";
  case SHDICT_ESPACE: return "buffer too small";
  case SHDICT_EINVAL: return "invalid argument";
  default: return "unknown error";
  }
}

void shdict_set_clock(struct shdict *d, int64_t (*now)(void *ud), void *ud) {
  sys_mutex_lock(&d->lock);
  d->clock = now;
  d->clock_ud = ud;
  sys_mutex_unlock(&d->lock);
}
