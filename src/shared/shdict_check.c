/*
 * shdict_check.c -- shdict_check: every invariant of a dictionary,
 * checked the slow way, for the tests to call after each phase.
 *
 * Pages: each is free (on the free list), lent to a class (its free list
 * and its kind bytes agree with its live count, and it sits on its class's
 * list, pages with room before full ones), or part of exactly one big
 * object's chain of the right length.  Index: every item sits in the bucket
 * its stored hash names, and that hash is the key's.  LRU: a well-linked
 * list of exactly the indexed items.  Lists: well-linked, their length
 * right.  And used is the sum of the charges of what is reachable, no more
 * than capacity; every live slot is reachable.
 */
#include "shdict_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct ck {
  char *err;          /* where the message goes */
  size_t errsize;     /* its size */
  int failed;         /* a message has been written */
  uint64_t used;      /* charges of reachable objects */
  uint64_t slots;     /* reachable slot objects */
  uint64_t bigpg;     /* pages of reachable big objects */
  unsigned char *key; /* a key's bytes, to hash again (NULL: skip) */
};

static int fail(struct ck *c, const char *fmt, ...) {
  if (!c->failed && c->errsize) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errsize, fmt, ap);
    va_end(ap);
  }
  c->failed = 1;
  return -1;
}

static int check_page_lists(struct shdict *d, struct ck *c) {
  uint32_t nfree = 0;
  for (uint32_t p = d->free_pages; p != NIL; p = d->pages[p].next) {
    if (d->pages[p].cls != PG_FREE || ++nfree > d->npages)
      return fail(c, "free list: page %u is not free", p);
  }
  if (nfree != d->nfree)
    return fail(c, "free list holds %u pages, nfree says %u", nfree, d->nfree);
  for (int i = 0; i < d->ncls; i++) {
    struct cls *k = &d->cls[i];
    uint32_t pages = 0, live = 0, prev = NIL;
    int seen_full = 0;
    for (uint32_t p = k->head; p != NIL; prev = p, p = d->pages[p].next) {
      struct page *pg = &d->pages[p];
      if (pg->cls != i || pg->prev != prev || ++pages > k->pages)
        return fail(c, "class %d: page %u misplaced on its list", i, p);
      if (pg->free != NIL && seen_full)
        return fail(c, "class %d: page %u has room behind a full page", i, p);
      seen_full |= pg->free == NIL;
      live += pg->live;
    }
    if (prev != k->tail || pages != k->pages || live != k->live)
      return fail(c, "class %d: %u pages %u live, counted %u %u", i, k->pages,
                  k->live, pages, live);
  }
  return 0;
}

static int check_class_page(struct shdict *d, struct ck *c, uint32_t p) {
  struct page *pg = &d->pages[p];
  struct cls *k = &d->cls[pg->cls];
  uint32_t base = p << d->page_shift, live = 0, nfree = 0;
  for (uint32_t i = 0; i < k->per_page; i++) {
    unsigned char kind = at(d, base + i * k->size)[0];
    if (kind == K_ITEM || kind == K_NODE)
      live++;
    else if (kind != K_FREE)
      return fail(c, "page %u slot %u: kind %u", p, i, kind);
  }
  for (uint32_t s = pg->free; s != NIL; nfree++) {
    if (page_of(d, s) != p || (s - base) % k->size != 0 ||
        at(d, s)[0] != K_FREE || nfree > k->per_page)
      return fail(c, "page %u: bad free slot %u", p, s);
    memcpy(&s, at(d, s) + 4, sizeof s);
  }
  if (live != pg->live || live + nfree != k->per_page || live == 0)
    return fail(c, "page %u: %u live %u free, says %u", p, live, nfree,
                pg->live);
  return 0;
}

static uint32_t obj_bytes(struct shdict *d, uint32_t off) {
  if ((at(d, off)[0] & ~K_BIG) == K_ITEM)
    return ITEM_HDR + item_at(d, off)->klen + item_at(d, off)->vlen;
  return NODE_HDR + node_at(d, off)->vlen;
}

/* One reachable object: where it lives must fit what it is. */
static int check_obj(struct shdict *d, struct ck *c, uint32_t off, int kind) {
  if (off >= d->npages * (uint64_t)d->page_size)
    return fail(c, "offset %u outside the arena", off);
  uint32_t p = page_of(d, off);
  uint32_t bytes = obj_bytes(d, off);
  unsigned char k = at(d, off)[0];
  if (d->pages[p].cls == PG_BIG) {
    uint32_t n = 0;
    for (uint32_t q = d->pages[p].next; q != NIL; q = d->pages[q].next)
      if (d->pages[q].cls != PG_CONT || ++n > d->npages)
        return fail(c, "big object %u: bad chain page %u", off, q);
    if (off != p << d->page_shift || k != (kind | K_BIG) ||
        (uint64_t)(n + 1) << d->page_shift != mem_charge(d, bytes))
      return fail(c, "big object %u: %u pages for %u bytes", off, n + 1, bytes);
    c->bigpg += n + 1;
  } else if (d->pages[p].cls < d->ncls) {
    struct cls *cl = &d->cls[d->pages[p].cls];
    if ((off - (p << d->page_shift)) % cl->size != 0 || k != kind ||
        bytes > cl->size || mem_charge(d, bytes) != cl->charge)
      return fail(c, "object %u (%u bytes) in class of %u", off, bytes,
                  cl->size);
    c->slots++;
  } else {
    return fail(c, "object %u on a page that is not lent", off);
  }
  c->used += mem_charge_of(d, off);
  return 0;
}

static int check_list(struct shdict *d, struct ck *c, uint32_t it) {
  struct listv lv;
  list_get(d, it, &lv);
  if (lv.len == 0)
    return fail(c, "list %u is empty", it);
  uint32_t n = 0, prev = it;
  for (uint32_t x = lv.first; x != it; prev = x, x = node_at(d, x)->next) {
    if (++n > lv.len || check_obj(d, c, x, K_NODE) < 0 ||
        node_at(d, x)->prev != prev)
      return fail(c, "list %u: node %u badly linked", it, x);
    unsigned char t = node_at(d, x)->type;
    if (t < SHDICT_STRING || t > SHDICT_BOOL)
      return fail(c, "list %u: node %u of type %u", it, x, t);
  }
  if (n != lv.len || prev != lv.last)
    return fail(c, "list %u: %u nodes, says %u", it, n, lv.len);
  return 0;
}

static int check_items(struct shdict *d, struct ck *c) {
  uint64_t n = 0;
  for (uint32_t b = 0; b < d->nbuckets; b++)
    for (uint32_t off = d->buckets[b]; off != NIL;
         off = item_at(d, off)->hnext) {
      if (++n > d->items || check_obj(d, c, off, K_ITEM) < 0)
        return fail(c, "bucket %u: bad item %u", b, off);
      struct item *it = item_at(d, off);
      uint32_t h = it->hash;
      if ((h & (d->nbuckets - 1)) != b)
        return fail(c, "item %u in bucket %u, hash says another", off, b);
      if (c->key) {
        mem_read(d, off, ITEM_HDR, c->key, it->klen);
        if ((uint32_t)siphash13(c->key, it->klen, d->seed) != h)
          return fail(c, "item %u: stored hash is not its key's", off);
      }
      if (it->type < SHDICT_STRING || it->type > SHDICT_LIST)
        return fail(c, "item %u of type %u", off, it->type);
      if (it->type == SHDICT_LIST && check_list(d, c, off) < 0)
        return -1;
    }
  if (n != d->items)
    return fail(c, "index holds %llu items, count says %llu",
                (unsigned long long)n, (unsigned long long)d->items);
  n = 0;
  uint32_t prev = NIL;
  for (uint32_t off = d->lru_head; off != NIL;
       prev = off, off = item_at(d, off)->next)
    if (++n > d->items || item_at(d, off)->prev != prev ||
        (at(d, off)[0] & ~K_BIG) != K_ITEM)
      return fail(c, "LRU: item %u badly linked", off);
  if (n != d->items || prev != d->lru_tail)
    return fail(c, "LRU holds %llu items of %llu", (unsigned long long)n,
                (unsigned long long)d->items);
  return 0;
}

int shdict_check(struct shdict *d, char *err, size_t errsize) {
  struct ck c = {err, errsize, 0, 0, 0, 0, malloc(SHDICT_KEY_MAX)};
  if (errsize)
    err[0] = '\0';
  sys_mutex_lock(&d->lock);
  int r = check_page_lists(d, &c);
  uint64_t live = 0, bigpg = 0, nfree = 0;
  for (uint32_t p = 0; r == 0 && p < d->npages; p++) {
    uint8_t k = d->pages[p].cls;
    if (k < d->ncls) {
      r = check_class_page(d, &c, p);
      live += d->pages[p].live;
    } else if (k == PG_BIG || k == PG_CONT) {
      bigpg++;
    } else if (k == PG_FREE) {
      nfree++;
    } else {
      r = fail(&c, "page %u: class %u", p, k);
    }
  }
  if (r == 0 && nfree != d->nfree)
    r = fail(&c, "%llu free pages, %u on the free list",
             (unsigned long long)nfree, d->nfree);
  if (r == 0)
    r = check_items(d, &c);
  if (r == 0 && (c.slots != live || c.bigpg != bigpg))
    r = fail(&c,
             "%llu slots and %llu big pages in use, %llu and %llu "
             "reachable",
             (unsigned long long)live, (unsigned long long)bigpg,
             (unsigned long long)c.slots, (unsigned long long)c.bigpg);
  if (r == 0 && (c.used != d->used || d->used > d->capacity))
    r = fail(&c, "used %llu, reachable charges %llu, capacity %llu",
             (unsigned long long)d->used, (unsigned long long)c.used,
             (unsigned long long)d->capacity);
  sys_mutex_unlock(&d->lock);
  free(c.key);
  return r;
}
