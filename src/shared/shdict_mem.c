/*
 * shdict_mem.c -- the arena of a shared dictionary: pages lent to size
 * classes, page chains for big objects, and the compaction that makes the
 * guarantee of shdict.h hold (an object of charge s fits whenever
 * used + s <= capacity).
 *
 * Why the guarantee holds.  A class of k slots per page holding n objects
 * needs ceil(n / k) pages once its objects are packed, which is at most
 * n / k + (k - 1) / k.  Each slot is charged ceil(page / k), so n / k is
 * at most the class's share of used / page.  Summed over the classes, the
 * packed layout needs at most used / page + sum (k - 1) / k pages (a big
 * object's pages are charged in full), and capacity is the arena minus
 * exactly that reserve.  So while used <= capacity, packing fits; and
 * packing is reachable one page at a time: when a class has more pages
 * than ceil(n / k), its emptiest page holds no more objects than the free
 * slots on its other pages, so moving them out frees that page
 * (compact_one).  A class that needs a slot and finds neither a free slot
 * nor a free page triggers that, on whichever class has the most pages to
 * spare.
 *
 * Pages of a class are kept on one list with the pages that have free
 * slots first, so the head says at once whether the class has room.  A
 * page whose last object goes returns to the common free list at once.
 */
#include "shdict_internal.h"

#include <stdlib.h>

static uint32_t class_size(uint32_t page, uint32_t want, uint32_t *k) {
  *k = page / want;
  return (page / *k) & ~7u; /* the biggest slot that still fits k */
}

void mem_init(struct shdict *d) {
  uint32_t p = d->page_size, s = 32, k;
  uint64_t reserve = 0;
  d->ncls = 0;
  while (p / s >= 2 && d->ncls < MAX_CLASSES) {
    struct cls *c = &d->cls[d->ncls++];
    c->size = class_size(p, s, &k);
    c->per_page = k;
    c->charge = (p + k - 1) / k;
    c->head = c->tail = NIL;
    reserve += ((uint64_t)p * (k - 1) + k - 1) / k;
    uint32_t next = ((c->size + c->size / 4) + 7) & ~7u;
    s = next > c->size + 8 ? next : c->size + 8;
  }
  d->capacity = (uint64_t)d->npages * p - reserve;
  int ci = 0; /* class sizes are multiples of 8: a table by 8-byte steps */
  for (uint32_t i = 0; i <= p / 2 / 8; i++) {
    while (d->cls[ci].size < i * 8)
      ci++;
    d->size_cls[i] = (uint8_t)ci;
  }
  mem_reset(d);
}

void mem_reset(struct shdict *d) {
  for (int i = 0; i < d->ncls; i++) {
    d->cls[i].pages = d->cls[i].live = 0;
    d->cls[i].head = d->cls[i].tail = NIL;
  }
  d->free_pages = NIL;
  for (uint32_t i = d->npages; i-- > 0;) {
    d->pages[i] = (struct page){PG_FREE, 0, 0, NIL, NIL, d->free_pages};
    d->free_pages = i;
  }
  d->nfree = d->npages;
  d->used = 0;
}

/* The smallest class whose slots hold bytes (bytes <= page / 2). */
static int class_of(const struct shdict *d, uint32_t bytes) {
  return d->size_cls[(bytes + 7) >> 3];
}

static uint64_t pages_for(const struct shdict *d, uint64_t bytes) {
  return (bytes + d->page_size - 1) >> d->page_shift;
}

uint64_t mem_charge(const struct shdict *d, uint64_t bytes) {
  uint64_t c = bytes <= d->page_size / 2
                   ? d->cls[class_of(d, (uint32_t)bytes)].charge
                   : pages_for(d, bytes) << d->page_shift;
  return c <= d->capacity ? c : 0;
}

/* ---- class page lists ------------------------------------------------ */

static void cl_unlink(struct shdict *d, struct cls *c, uint32_t p) {
  struct page *pg = &d->pages[p];
  if (pg->prev != NIL)
    d->pages[pg->prev].next = pg->next;
  else
    c->head = pg->next;
  if (pg->next != NIL)
    d->pages[pg->next].prev = pg->prev;
  else
    c->tail = pg->prev;
  pg->prev = pg->next = NIL;
}

static void cl_push_head(struct shdict *d, struct cls *c, uint32_t p) {
  struct page *pg = &d->pages[p];
  pg->prev = NIL;
  pg->next = c->head;
  if (c->head != NIL)
    d->pages[c->head].prev = p;
  else
    c->tail = p;
  c->head = p;
}

static void cl_push_tail(struct shdict *d, struct cls *c, uint32_t p) {
  struct page *pg = &d->pages[p];
  pg->next = NIL;
  pg->prev = c->tail;
  if (c->tail != NIL)
    d->pages[c->tail].next = p;
  else
    c->head = p;
  c->tail = p;
}

static void free_page(struct shdict *d, uint32_t p) {
  d->pages[p] = (struct page){PG_FREE, 0, 0, NIL, NIL, d->free_pages};
  d->free_pages = p;
  d->nfree++;
}

static uint32_t pop_page(struct shdict *d) {
  uint32_t p = d->free_pages;
  d->free_pages = d->pages[p].next;
  d->nfree--;
  return p;
}

/* ---- slots ----------------------------------------------------------- */

static void mark_free(struct shdict *d, uint32_t off, uint32_t next) {
  unsigned char *s = at(d, off);
  s[0] = K_FREE;
  memcpy(s + 4, &next, sizeof next);
}

static uint32_t free_next(const struct shdict *d, uint32_t off) {
  uint32_t next;
  memcpy(&next, at(d, off) + 4, sizeof next);
  return next;
}

/* Gives free page p to class ci, its slots all on its free list. */
static void lend(struct shdict *d, int ci, uint32_t p) {
  struct cls *c = &d->cls[ci];
  uint32_t base = p << d->page_shift, next = NIL;
  for (uint32_t i = c->per_page; i-- > 0;) {
    mark_free(d, base + i * c->size, next);
    next = base + i * c->size;
  }
  d->pages[p] = (struct page){(uint8_t)ci, 0, 0, next, NIL, NIL};
  c->pages++;
  cl_push_head(d, c, p);
}

/* A slot from the head page of class ci, which must have one. */
static uint32_t slot_take(struct shdict *d, int ci) {
  struct cls *c = &d->cls[ci];
  uint32_t p = c->head;
  struct page *pg = &d->pages[p];
  uint32_t off = pg->free;
  pg->free = free_next(d, off);
  pg->live++;
  c->live++;
  if (pg->free == NIL && c->tail != p) { /* full: behind the others */
    cl_unlink(d, c, p);
    cl_push_tail(d, c, p);
  }
  return off;
}

static void slot_free(struct shdict *d, uint32_t off) {
  uint32_t p = page_of(d, off);
  struct page *pg = &d->pages[p];
  struct cls *c = &d->cls[pg->cls];
  int was_full = pg->free == NIL;
  mark_free(d, off, pg->free);
  pg->free = off;
  pg->live--;
  c->live--;
  if (pg->live == 0) {
    cl_unlink(d, c, p);
    c->pages--;
    free_page(d, p);
  } else if (was_full && c->head != p) { /* has room: to the front */
    cl_unlink(d, c, p);
    cl_push_head(d, c, p);
  }
}

/* ---- compaction ------------------------------------------------------ */

/* Frees one page by emptying the emptiest page of the class with the most
 * pages to spare into that class's other pages.  0, or -1 if no class has
 * a page to spare (then used + s > capacity for whatever was asked). */
static int compact_one(struct shdict *d) {
  int best = -1;
  uint32_t spare = 0;
  for (int i = 0; i < d->ncls; i++) {
    struct cls *c = &d->cls[i];
    uint32_t need = (c->live + c->per_page - 1) / c->per_page;
    if (c->pages - need > spare) {
      spare = c->pages - need;
      best = i;
    }
  }
  if (best < 0)
    return -1;
  struct cls *c = &d->cls[best];
  uint32_t victim = NIL;
  for (uint32_t p = c->head; p != NIL && d->pages[p].free != NIL;
       p = d->pages[p].next)
    if (victim == NIL || d->pages[p].live < d->pages[victim].live)
      victim = p;
  cl_unlink(d, c, victim);
  uint32_t base = victim << d->page_shift;
  uint32_t moved = d->pages[victim].live;
  for (uint32_t i = 0; i < c->per_page; i++) {
    uint32_t from = base + i * c->size;
    if (at(d, from)[0] == K_FREE)
      continue;
    uint32_t to = slot_take(d, best); /* the proof above: there is one */
    memcpy(at(d, to), at(d, from), c->size);
    shdict_relink(d, from, to);
    d->moves++;
  }
  c->live -= moved; /* slot_take counted them again */
  c->pages--;
  free_page(d, victim);
  return 0;
}

static int ensure_free_pages(struct shdict *d, uint64_t n) {
  while (d->nfree < n)
    if (compact_one(d) < 0)
      return -1;
  return 0;
}

/* ---- objects --------------------------------------------------------- */

uint32_t mem_alloc(struct shdict *d, uint32_t bytes) {
  uint64_t charge = mem_charge(d, bytes);
  if (charge == 0 || d->used + charge > d->capacity)
    return NIL;
  if (bytes <= d->page_size / 2) {
    int ci = class_of(d, bytes);
    uint32_t h = d->cls[ci].head;
    if (h == NIL || d->pages[h].free == NIL) {
      if (ensure_free_pages(d, 1) < 0)
        return NIL;
      lend(d, ci, pop_page(d));
    }
    d->used += charge;
    return slot_take(d, ci);
  }
  uint64_t n = pages_for(d, bytes);
  if (ensure_free_pages(d, n) < 0)
    return NIL;
  uint32_t first = pop_page(d), p = first;
  d->pages[p].cls = PG_BIG;
  for (uint64_t i = 1; i < n; i++) {
    uint32_t q = pop_page(d);
    d->pages[q].cls = PG_CONT;
    d->pages[p].next = q;
    p = q;
  }
  d->pages[p].next = NIL;
  d->used += charge;
  return first << d->page_shift;
}

void mem_free(struct shdict *d, uint32_t off) {
  uint32_t p = page_of(d, off);
  if (d->pages[p].cls != PG_BIG) {
    d->used -= d->cls[d->pages[p].cls].charge;
    slot_free(d, off);
    return;
  }
  while (p != NIL) {
    uint32_t next = d->pages[p].next;
    free_page(d, p);
    d->used -= d->page_size;
    p = next;
  }
}

uint64_t mem_charge_of(const struct shdict *d, uint32_t off) {
  uint32_t p = page_of(d, off);
  if (d->pages[p].cls != PG_BIG)
    return d->cls[d->pages[p].cls].charge;
  uint64_t n = 0;
  for (; p != NIL; p = d->pages[p].next)
    n++;
  return n << d->page_shift;
}

int mem_same_size(const struct shdict *d, uint32_t off, uint32_t bytes) {
  uint32_t p = page_of(d, off);
  if (d->pages[p].cls != PG_BIG)
    return bytes <= d->page_size / 2 && class_of(d, bytes) == d->pages[p].cls;
  return bytes > d->page_size / 2 &&
         mem_charge_of(d, off) == pages_for(d, bytes) << d->page_shift;
}

/* ---- bytes of an object that may span pages -------------------------- */

/* Calls fn on each contiguous piece of [pos, pos + n) of the object at
 * off; stops early when fn returns nonzero, and returns that. */
static int spans(const struct shdict *d, uint32_t off, uint32_t pos, size_t n,
                 int (*fn)(unsigned char *, size_t, void *), void *ud) {
  uint32_t p = page_of(d, off);
  if (d->pages[p].cls != PG_BIG)
    return fn(at(d, off + pos), n, ud);
  for (uint32_t skip = pos >> d->page_shift; skip > 0; skip--)
    p = d->pages[p].next;
  uint32_t in = pos & (d->page_size - 1);
  while (n > 0) {
    size_t piece = d->page_size - in;
    if (piece > n)
      piece = n;
    int r = fn(at(d, (p << d->page_shift) + in), piece, ud);
    if (r)
      return r;
    n -= piece;
    in = 0;
    p = d->pages[p].next;
  }
  return 0;
}

static int do_read(unsigned char *p, size_t n, void *ud) {
  unsigned char **dst = ud;
  memcpy(*dst, p, n);
  *dst += n;
  return 0;
}

static int do_write(unsigned char *p, size_t n, void *ud) {
  const unsigned char **src = ud;
  memcpy(p, *src, n);
  *src += n;
  return 0;
}

static int do_cmp(unsigned char *p, size_t n, void *ud) {
  const unsigned char **src = ud;
  if (memcmp(p, *src, n) != 0)
    return 1;
  *src += n;
  return 0;
}

void mem_read(const struct shdict *d, uint32_t off, uint32_t pos, void *dst,
              size_t n) {
  unsigned char *q = dst;
  if (n == 0)
    return;
  if (d->pages[page_of(d, off)].cls != PG_BIG)
    memcpy(dst, at(d, off + pos), n); /* a slot: contiguous */
  else
    spans(d, off, pos, n, do_read, &q);
}

void mem_write(struct shdict *d, uint32_t off, uint32_t pos, const void *src,
               size_t n) {
  const unsigned char *q = src;
  if (n == 0)
    return;
  if (d->pages[page_of(d, off)].cls != PG_BIG)
    memcpy(at(d, off + pos), src, n);
  else
    spans(d, off, pos, n, do_write, &q);
}

int mem_equal(const struct shdict *d, uint32_t off, uint32_t pos,
              const void *src, size_t n) {
  const unsigned char *q = src;
  return n == 0 || spans(d, off, pos, n, do_cmp, &q) == 0;
}
