/*
 * shdict.c -- the operations of a shared dictionary (see shdict.h): the
 * hash index, the LRU list, lists, expiry, eviction, and the process-wide
 * registry of named dictionaries.  Memory comes from shdict_mem.c.
 *
 * Each operation validates and hashes its inputs before taking the lock
 * (SipHash of the key is the costliest step and needs no lock), then
 * works on arena offsets.  An allocation may move other objects
 * (compaction), so after mem_alloc an operation looks up again anything it
 * held an offset to.  The clock is read at most once per operation and
 * only when a TTL is involved.
 */
#include "shdict_internal.h"

#include "fault.h"

#include <stdlib.h>

#define TAIL_CHECKS 2 /* LRU-tail expiry checks per write */
#define ROOM_SCAN 64  /* tail items scanned for expired ones before ENOMEM */
#define TTL_MAX ((int64_t)1 << 52)

/* ---- small helpers --------------------------------------------------- */

static int64_t now_ms(struct shdict *d, int64_t *cache) {
  if (*cache < 0)
    *cache = d->clock ? d->clock(d->clock_ud) : (int64_t)sys_clock_ms();
  return *cache;
}

static int is_expired(struct shdict *d, uint32_t off, int64_t *now) {
  int64_t e = item_at(d, off)->expires;
  return e != 0 && now_ms(d, now) >= e;
}

static int64_t expiry(struct shdict *d, int64_t ttl, int64_t *now) {
  return ttl == 0 ? 0 : now_ms(d, now) + ttl;
}

static uint32_t value_size(const struct shdict_value *v) {
  switch (v->type) {
  case SHDICT_INT:
  case SHDICT_FLOAT: return 8;
  case SHDICT_BOOL: return 1;
  case SHDICT_LIST: return (uint32_t)sizeof(struct listv);
  default: return (uint32_t)v->len;
  }
}

static int bad_value(const struct shdict_value *v) {
  if (v->type == SHDICT_STRING)
    return v->len > 0 && v->v.s == NULL;
  return v->type < SHDICT_STRING || v->type > SHDICT_BOOL;
}

static int is_number(const struct shdict_value *v) {
  return v->type == SHDICT_INT || v->type == SHDICT_FLOAT;
}

/* Common checks of key, value and ttl; then the object's size. */
static int check_args(size_t klen, const struct shdict_value *v, int64_t ttl,
                      uint32_t hdr, uint32_t *bytes) {
  if (klen > SHDICT_KEY_MAX || (v && bad_value(v)) || ttl < 0 || ttl > TTL_MAX)
    return SHDICT_EINVAL;
  uint64_t n = (uint64_t)hdr + (hdr == ITEM_HDR ? klen : 0);
  if (v)
    n += v->type == SHDICT_STRING ? (uint64_t)v->len : value_size(v);
  if (n > UINT32_MAX)
    return SHDICT_ETOOLARGE;
  *bytes = (uint32_t)n;
  return SHDICT_OK;
}

static uint32_t key_hash(const struct shdict *d, const void *key, size_t klen) {
  return (uint32_t)siphash13(key, klen, d->seed);
}

/* ---- list values ------------------------------------------------------ */

void list_get(const struct shdict *d, uint32_t it, struct listv *lv) {
  mem_read(d, it, ITEM_HDR + item_at(d, it)->klen, lv, sizeof *lv);
}

void list_put(struct shdict *d, uint32_t it, const struct listv *lv) {
  mem_write(d, it, ITEM_HDR + item_at(d, it)->klen, lv, sizeof *lv);
}

/* ---- the index and the LRU list --------------------------------------- */

static uint32_t *bucket(struct shdict *d, uint32_t hash) {
  return &d->buckets[hash & (d->nbuckets - 1)];
}

static uint32_t find(struct shdict *d, uint32_t h, const void *key,
                     size_t klen) {
  for (uint32_t off = *bucket(d, h); off != NIL;) {
    struct item *it = item_at(d, off);
    if (it->hash == h && it->klen == klen &&
        (it->kind & K_BIG ? mem_equal(d, off, ITEM_HDR, key, klen)
                          : memcmp(at(d, off + ITEM_HDR), key, klen) == 0))
      return off;
    off = it->hnext;
  }
  return NIL;
}

static void hash_unlink(struct shdict *d, uint32_t off, uint32_t to) {
  uint32_t *link = bucket(d, item_at(d, off)->hash);
  while (*link != off)
    link = &item_at(d, *link)->hnext;
  *link = to == NIL ? item_at(d, off)->hnext : to;
}

static void lru_unlink(struct shdict *d, uint32_t off) {
  struct item *it = item_at(d, off);
  if (it->prev != NIL)
    item_at(d, it->prev)->next = it->next;
  else
    d->lru_head = it->next;
  if (it->next != NIL)
    item_at(d, it->next)->prev = it->prev;
  else
    d->lru_tail = it->prev;
}

static void lru_push(struct shdict *d, uint32_t off) {
  struct item *it = item_at(d, off);
  it->prev = NIL;
  it->next = d->lru_head;
  if (d->lru_head != NIL)
    item_at(d, d->lru_head)->prev = off;
  else
    d->lru_tail = off;
  d->lru_head = off;
}

static void touch(struct shdict *d, uint32_t off) {
  if (d->lru_head != off) {
    lru_unlink(d, off);
    lru_push(d, off);
  }
}

/* Doubles the bucket array if it is smaller than the item count; if the
 * allocation fails, chains just get longer. */
static void maybe_grow(struct shdict *d) {
  if (d->items <= d->nbuckets || d->nbuckets >= d->max_buckets)
    return;
  uint32_t n = d->nbuckets * 2;
  uint32_t *b = fault_fail(FAULT_C, "shdict index growth")
                    ? NULL
                    : malloc((size_t)n * sizeof *b);
  if (!b)
    return;
  memset(b, 0xff, (size_t)n * sizeof *b);
  for (uint32_t i = 0; i < d->nbuckets; i++)
    for (uint32_t off = d->buckets[i], next; off != NIL; off = next) {
      struct item *it = item_at(d, off);
      next = it->hnext;
      it->hnext = b[it->hash & (n - 1)];
      b[it->hash & (n - 1)] = off;
    }
  free(d->buckets);
  d->buckets = b;
  d->nbuckets = n;
}

/* ---- dropping items ---------------------------------------------------- */

static void drop(struct shdict *d, uint32_t off) {
  struct item *it = item_at(d, off);
  hash_unlink(d, off, NIL);
  lru_unlink(d, off);
  if (it->type == SHDICT_LIST) {
    struct listv lv;
    list_get(d, off, &lv);
    for (uint32_t n = lv.first, next; n != off; n = next) {
      next = node_at(d, n)->next;
      mem_free(d, n);
    }
  }
  mem_free(d, off);
  d->items--;
}

static uint64_t charge_of_item(struct shdict *d, uint32_t off) {
  uint64_t c = mem_charge_of(d, off);
  if (item_at(d, off)->type == SHDICT_LIST) {
    struct listv lv;
    list_get(d, off, &lv);
    for (uint32_t n = lv.first; n != off; n = node_at(d, n)->next)
      c += mem_charge_of(d, n);
  }
  return c;
}

/* The live item for key, or NIL; an expired one found is reclaimed. */
static uint32_t find_live(struct shdict *d, uint32_t h, const void *key,
                          size_t klen, int64_t *now) {
  uint32_t off = find(d, h, key, klen);
  if (off != NIL && is_expired(d, off, now)) {
    drop(d, off);
    d->expired++;
    return NIL;
  }
  return off;
}

/* Reclaims expired items at the LRU tail: the first `checks` of them, or
 * (scan) every expired one among the last `checks`. */
static void reclaim(struct shdict *d, int checks, int scan, int64_t *now) {
  uint32_t off = d->lru_tail;
  for (int i = 0; i < checks && off != NIL; i++) {
    uint32_t prev = item_at(d, off)->prev;
    if (is_expired(d, off, now)) {
      drop(d, off);
      d->expired++;
    } else if (!scan) {
      break;
    }
    off = prev;
  }
}

/* Whether an object of charge `need` fits once `old` (charge of an item
 * about to go) is gone, without evicting anything live. */
static int room(struct shdict *d, uint64_t need, uint64_t old, int64_t *now) {
  reclaim(d, TAIL_CHECKS, 0, now);
  if (d->used - old + need <= d->capacity)
    return 1;
  reclaim(d, ROOM_SCAN, 1, now);
  return d->used - old + need <= d->capacity;
}

/* Evicts from the LRU tail until need fits; returns live items evicted. */
static int evict(struct shdict *d, uint64_t need, int64_t *now) {
  int n = 0;
  reclaim(d, TAIL_CHECKS, 0, now);
  while (d->used + need > d->capacity && d->lru_tail != NIL) {
    uint32_t off = d->lru_tail;
    if (is_expired(d, off, now)) {
      d->expired++;
    } else {
      d->evictions++;
      n++;
    }
    drop(d, off);
  }
  return n;
}

/* ---- writing items ----------------------------------------------------- */

/* mem_alloc after room() or evict() said it fits: the guarantee of
 * shdict_mem.c makes failure impossible unless the arena is corrupt. */
static uint32_t alloc_sure(struct shdict *d, uint32_t bytes) {
  uint32_t off = mem_alloc(d, bytes);
  if (off == NIL)
    abort();
  return off;
}

static void write_value(struct shdict *d, uint32_t off, uint32_t pos,
                        const struct shdict_value *v) {
  unsigned char b;
  switch (v->type) {
  case SHDICT_INT: mem_write(d, off, pos, &v->v.i, 8); break;
  case SHDICT_FLOAT: mem_write(d, off, pos, &v->v.f, 8); break;
  case SHDICT_BOOL:
    b = v->v.b ? 1 : 0;
    mem_write(d, off, pos, &b, 1);
    break;
  default: mem_write(d, off, pos, v->v.s, v->len);
  }
}

/* Fills a fresh item and links it into the index and the LRU head. */
static void put_item(struct shdict *d, uint32_t off, uint32_t h,
                     const void *key, size_t klen, const struct shdict_value *v,
                     int64_t expires) {
  struct item *it = item_at(d, off);
  int big = d->pages[page_of(d, off)].cls == PG_BIG;
  *it = (struct item){(uint8_t)(K_ITEM | (big ? K_BIG : 0)),
                      (uint8_t)v->type,
                      (uint16_t)klen,
                      value_size(v),
                      NIL,
                      NIL,
                      NIL,
                      h,
                      expires};
  mem_write(d, off, ITEM_HDR, key, klen);
  if (v->type != SHDICT_LIST)
    write_value(d, off, ITEM_HDR + (uint32_t)klen, v);
  uint32_t *b = bucket(d, h);
  it->hnext = *b;
  *b = off;
  lru_push(d, off);
  d->items++;
}

/* Overwrites the value of item off, whose slot fits it. */
static void rewrite(struct shdict *d, uint32_t off,
                    const struct shdict_value *v, int64_t expires) {
  struct item *it = item_at(d, off);
  it->type = (uint8_t)v->type;
  it->vlen = value_size(v);
  it->expires = expires;
  write_value(d, off, ITEM_HDR + it->klen, v);
  touch(d, off);
}

/* The object at from has been copied to to: repoint what pointed at it. */
void shdict_relink(struct shdict *d, uint32_t from, uint32_t to) {
  if (at(d, to)[0] == K_ITEM) {
    struct item *it = item_at(d, to);
    hash_unlink(d, from, to);
    if (it->prev != NIL)
      item_at(d, it->prev)->next = to;
    else
      d->lru_head = to;
    if (it->next != NIL)
      item_at(d, it->next)->prev = to;
    else
      d->lru_tail = to;
    if (it->type == SHDICT_LIST) {
      struct listv lv;
      list_get(d, to, &lv);
      if (lv.len > 0) {
        node_at(d, lv.first)->prev = to;
        node_at(d, lv.last)->next = to;
      }
    }
    return;
  }
  struct node *n = node_at(d, to);
  struct listv lv;
  if ((at(d, n->prev)[0] & ~K_BIG) == K_ITEM) {
    list_get(d, n->prev, &lv);
    lv.first = to;
    list_put(d, n->prev, &lv);
  } else {
    node_at(d, n->prev)->next = to;
  }
  if ((at(d, n->next)[0] & ~K_BIG) == K_ITEM) {
    list_get(d, n->next, &lv);
    lv.last = to;
    list_put(d, n->next, &lv);
  } else {
    node_at(d, n->next)->prev = to;
  }
}

/* ---- reading values ---------------------------------------------------- */

/* Copies the value at pos of object off (type, vlen) into out / buf. */
static int read_value(struct shdict *d, uint32_t off, uint32_t pos, int type,
                      uint32_t vlen, struct shdict_value *out, void *buf,
                      size_t cap) {
  unsigned char b;
  out->type = type;
  out->len = 0;
  switch (type) {
  case SHDICT_INT: mem_read(d, off, pos, &out->v.i, 8); break;
  case SHDICT_FLOAT: mem_read(d, off, pos, &out->v.f, 8); break;
  case SHDICT_BOOL:
    mem_read(d, off, pos, &b, 1);
    out->v.b = b;
    break;
  case SHDICT_LIST: {
    struct listv lv;
    mem_read(d, off, pos, &lv, sizeof lv);
    out->len = lv.len;
    break;
  }
  default:
    out->len = vlen;
    if (vlen > cap)
      return SHDICT_ESPACE;
    mem_read(d, off, pos, buf, vlen);
  }
  return SHDICT_OK;
}

static void not_found(struct shdict_value *out) {
  out->type = SHDICT_NIL;
  out->len = 0;
}

int shdict_get(struct shdict *d, const void *key, size_t klen,
               struct shdict_value *out, void *buf, size_t cap) {
  not_found(out);
  if (klen > SHDICT_KEY_MAX)
    return SHDICT_ENOTFOUND;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  int r = SHDICT_ENOTFOUND;
  if (off != NIL) {
    struct item *it = item_at(d, off);
    r = read_value(d, off, ITEM_HDR + it->klen, it->type, it->vlen, out, buf,
                   cap);
    touch(d, off);
  }
  sys_mutex_unlock(&d->lock);
  return r;
}

/* ---- storing ----------------------------------------------------------- */

enum { M_SET, M_ADD, M_REPLACE };

/* set, add and replace: mode says which, evict whether set may evict. */
static int store(struct shdict *d, const void *key, size_t klen,
                 const struct shdict_value *v, int64_t ttl, int mode,
                 int may_evict, int *evicted) {
  uint32_t bytes;
  int r = check_args(klen, v, ttl, ITEM_HDR, &bytes);
  if (r)
    return r;
  uint64_t charge = mem_charge(d, bytes);
  if (charge == 0)
    return SHDICT_ETOOLARGE;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL && mode == M_ADD) {
    r = SHDICT_EEXISTS;
  } else if (off == NIL && mode == M_REPLACE) {
    r = SHDICT_ENOTFOUND;
  } else if (off != NIL && item_at(d, off)->type != SHDICT_LIST &&
             mem_same_size(d, off, bytes)) {
    rewrite(d, off, v, expiry(d, ttl, &now));
  } else if (!may_evict &&
             !room(d, charge, off != NIL ? charge_of_item(d, off) : 0, &now)) {
    r = SHDICT_ENOMEM;
  } else {
    if (off != NIL)
      drop(d, off);
    int n = may_evict ? evict(d, charge, &now) : 0;
    if (evicted)
      *evicted = n;
    off = alloc_sure(d, bytes);
    put_item(d, off, h, key, klen, v, expiry(d, ttl, &now));
    maybe_grow(d);
  }
  sys_mutex_unlock(&d->lock);
  return r;
}

int shdict_set(struct shdict *d, const void *key, size_t klen,
               const struct shdict_value *v, int64_t ttl_ms, int flags,
               int *evicted) {
  if (evicted)
    *evicted = 0;
  return store(d, key, klen, v, ttl_ms, M_SET, !(flags & SHDICT_NOEVICT),
               evicted);
}

int shdict_add(struct shdict *d, const void *key, size_t klen,
               const struct shdict_value *v, int64_t ttl_ms) {
  return store(d, key, klen, v, ttl_ms, M_ADD, 0, NULL);
}

int shdict_replace(struct shdict *d, const void *key, size_t klen,
                   const struct shdict_value *v, int64_t ttl_ms) {
  return store(d, key, klen, v, ttl_ms, M_REPLACE, 0, NULL);
}

int shdict_delete(struct shdict *d, const void *key, size_t klen) {
  if (klen > SHDICT_KEY_MAX)
    return SHDICT_ENOTFOUND;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL)
    drop(d, off);
  sys_mutex_unlock(&d->lock);
  return off != NIL ? SHDICT_OK : SHDICT_ENOTFOUND;
}

/* Lua's a + b: integers wrap around, a float on either side gives one. */
static void add_numbers(const struct shdict_value *a,
                        const struct shdict_value *b,
                        struct shdict_value *out) {
  out->len = 0;
  if (a->type == SHDICT_INT && b->type == SHDICT_INT) {
    out->type = SHDICT_INT;
    out->v.i = (int64_t)((uint64_t)a->v.i + (uint64_t)b->v.i);
  } else {
    out->type = SHDICT_FLOAT;
    out->v.f = (a->type == SHDICT_INT ? (double)a->v.i : a->v.f) +
               (b->type == SHDICT_INT ? (double)b->v.i : b->v.f);
  }
}

int shdict_incr(struct shdict *d, const void *key, size_t klen,
                const struct shdict_value *by, const struct shdict_value *init,
                int64_t init_ttl_ms, struct shdict_value *out) {
  uint32_t bytes;
  int r = check_args(klen, by, init_ttl_ms, ITEM_HDR, &bytes);
  if (r || !is_number(by) || (init && !is_number(init)))
    return r ? r : SHDICT_EINVAL;
  uint64_t charge = mem_charge(d, bytes);
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL) {
    struct item *it = item_at(d, off);
    struct shdict_value cur;
    if (it->type != SHDICT_INT && it->type != SHDICT_FLOAT) {
      r = SHDICT_ENOTNUM;
    } else {
      read_value(d, off, ITEM_HDR + it->klen, it->type, 8, &cur, NULL, 0);
      add_numbers(&cur, by, out);
      rewrite(d, off, out, it->expires);
    }
  } else if (!init) {
    r = SHDICT_ENOTFOUND;
  } else if (charge == 0) {
    r = SHDICT_ETOOLARGE;
  } else if (!room(d, charge, 0, &now)) {
    r = SHDICT_ENOMEM;
  } else {
    add_numbers(init, by, out);
    off = alloc_sure(d, bytes);
    put_item(d, off, h, key, klen, out, expiry(d, init_ttl_ms, &now));
    maybe_grow(d);
  }
  sys_mutex_unlock(&d->lock);
  return r;
}

int shdict_ttl(struct shdict *d, const void *key, size_t klen, int64_t *ms) {
  *ms = 0;
  if (klen > SHDICT_KEY_MAX)
    return SHDICT_ENOTFOUND;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL && item_at(d, off)->expires != 0)
    *ms = item_at(d, off)->expires - now_ms(d, &now);
  sys_mutex_unlock(&d->lock);
  return off != NIL ? SHDICT_OK : SHDICT_ENOTFOUND;
}

int shdict_expire(struct shdict *d, const void *key, size_t klen,
                  int64_t ttl_ms) {
  uint32_t bytes;
  int r = check_args(klen, NULL, ttl_ms, ITEM_HDR, &bytes);
  if (r)
    return r;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL)
    item_at(d, off)->expires = expiry(d, ttl_ms, &now);
  sys_mutex_unlock(&d->lock);
  return off != NIL ? SHDICT_OK : SHDICT_ENOTFOUND;
}

int shdict_keys(struct shdict *d, size_t max, void *buf, size_t cap,
                size_t *count, size_t *needed) {
  unsigned char *p = buf;
  size_t n = 0, need = 0;
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  for (uint32_t off = d->lru_head; off != NIL && n < max;
       off = item_at(d, off)->next) {
    if (is_expired(d, off, &now))
      continue;
    uint32_t klen = item_at(d, off)->klen;
    if (need + 4 + klen <= cap) {
      memcpy(p + need, &klen, 4);
      mem_read(d, off, ITEM_HDR, p + need + 4, klen);
    }
    need += 4 + klen;
    n++;
  }
  sys_mutex_unlock(&d->lock);
  *needed = need;
  *count = need <= cap ? n : 0;
  return need <= cap ? SHDICT_OK : SHDICT_ESPACE;
}

void shdict_flush(struct shdict *d) {
  sys_mutex_lock(&d->lock);
  memset(d->buckets, 0xff, (size_t)d->nbuckets * sizeof *d->buckets);
  mem_reset(d);
  d->lru_head = d->lru_tail = NIL;
  d->items = 0;
  sys_mutex_unlock(&d->lock);
}

/* ---- lists ------------------------------------------------------------- */

/* Creates the empty list item for key (room for it and one node checked by
 * the caller); returns its offset. */
static uint32_t new_list(struct shdict *d, uint32_t h, const void *key,
                         size_t klen, uint32_t bytes) {
  struct shdict_value lv = {SHDICT_LIST, 0, {0}};
  struct listv empty = {NIL, NIL, 0};
  uint32_t off = alloc_sure(d, bytes);
  put_item(d, off, h, key, klen, &lv, 0);
  list_put(d, off, &empty);
  maybe_grow(d);
  return off;
}

int shdict_push(struct shdict *d, const void *key, size_t klen, int end,
                const struct shdict_value *v, size_t *len) {
  uint32_t nbytes, hbytes = ITEM_HDR + (uint32_t)klen + sizeof(struct listv);
  int r = check_args(klen, v, 0, NODE_HDR, &nbytes);
  if (r)
    return r;
  uint64_t nch = mem_charge(d, nbytes), hch = mem_charge(d, hbytes);
  if (nch == 0 || hch == 0)
    return SHDICT_ETOOLARGE;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL && item_at(d, off)->type != SHDICT_LIST) {
    r = SHDICT_ENOTLIST;
  } else if (!room(d, nch + (off == NIL ? hch : 0), 0, &now)) {
    r = SHDICT_ENOMEM;
  } else {
    if (off == NIL)
      new_list(d, h, key, klen, hbytes);
    uint32_t n = alloc_sure(d, nbytes);
    off = find(d, h, key, klen); /* the allocation may have moved it */
    struct listv l;
    list_get(d, off, &l);
    struct node *nd = node_at(d, n);
    int big = d->pages[page_of(d, n)].cls == PG_BIG;
    *nd = (struct node){(uint8_t)(K_NODE | (big ? K_BIG : 0)),
                        (uint8_t)v->type,
                        0,
                        value_size(v),
                        off,
                        off};
    write_value(d, n, NODE_HDR, v);
    if (l.len == 0) {
      l.first = l.last = n;
    } else if (end == SHDICT_LEFT) {
      nd->next = l.first;
      node_at(d, l.first)->prev = n;
      l.first = n;
    } else {
      nd->prev = l.last;
      node_at(d, l.last)->next = n;
      l.last = n;
    }
    *len = ++l.len;
    list_put(d, off, &l);
    touch(d, off);
  }
  sys_mutex_unlock(&d->lock);
  return r;
}

int shdict_pop(struct shdict *d, const void *key, size_t klen, int end,
               struct shdict_value *out, void *buf, size_t cap) {
  not_found(out);
  if (klen > SHDICT_KEY_MAX)
    return SHDICT_ENOTFOUND;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  int r = SHDICT_ENOTFOUND;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL && item_at(d, off)->type != SHDICT_LIST) {
    r = SHDICT_ENOTLIST;
  } else if (off != NIL) {
    struct listv l;
    list_get(d, off, &l);
    uint32_t n = end == SHDICT_LEFT ? l.first : l.last;
    struct node *nd = node_at(d, n);
    r = read_value(d, n, NODE_HDR, nd->type, nd->vlen, out, buf, cap);
    if (r == SHDICT_OK && l.len == 1) {
      drop(d, off);
    } else if (r == SHDICT_OK) {
      if (end == SHDICT_LEFT) {
        l.first = nd->next;
        node_at(d, l.first)->prev = off;
      } else {
        l.last = nd->prev;
        node_at(d, l.last)->next = off;
      }
      l.len--;
      list_put(d, off, &l);
      mem_free(d, n);
      touch(d, off);
    }
  }
  sys_mutex_unlock(&d->lock);
  return r;
}

int shdict_llen(struct shdict *d, const void *key, size_t klen, size_t *len) {
  *len = 0;
  if (klen > SHDICT_KEY_MAX)
    return SHDICT_OK;
  uint32_t h = key_hash(d, key, klen);
  int64_t now = -1;
  int r = SHDICT_OK;
  sys_mutex_lock(&d->lock);
  uint32_t off = find_live(d, h, key, klen, &now);
  if (off != NIL && item_at(d, off)->type != SHDICT_LIST) {
    r = SHDICT_ENOTLIST;
  } else if (off != NIL) {
    struct listv l;
    list_get(d, off, &l);
    *len = l.len;
  }
  sys_mutex_unlock(&d->lock);
  return r;
}
