/*
 * shdict_internal.h -- the layout shared by shdict.c (index, LRU,
 * operations), shdict_mem.c (pages, classes, moves) and shdict_check.c.
 *
 * Everything inside the arena is addressed by a 32-bit byte offset, NIL
 * for none, so an item can move (compaction rewrites the few offsets that
 * point at it: its bucket chain, its LRU neighbours, its list's ends).
 * Multi-byte fields are reached with memcpy where they may be unaligned
 * (the list header after a key of any length).
 */
#ifndef HOST_SHDICT_INTERNAL_H
#define HOST_SHDICT_INTERNAL_H

#include "shdict.h"
#include "siphash.h"
#include "sys.h"

#include <string.h>

#define NIL UINT32_MAX

/* The kind byte opens every slot, so a page can be walked slot by slot. */
enum {
  K_FREE = 0,  /* a free slot: next free slot's offset at +4 */
  K_ITEM = 1,  /* struct item */
  K_NODE = 2,  /* struct node: a list element */
  K_BIG = 0x10 /* flag: the object is a chain of whole pages */
};

/* struct item: 32 bytes, then the key, then the value. */
struct item {
  uint8_t kind;    /* K_ITEM, maybe | K_BIG */
  uint8_t type;    /* enum shdict_type of the value */
  uint16_t klen;   /* key bytes */
  uint32_t vlen;   /* value bytes (8 for numbers, 1 bool, 12 list) */
  uint32_t hnext;  /* next item in the same bucket */
  uint32_t prev;   /* LRU neighbour towards the most recent, or NIL */
  uint32_t next;   /* LRU neighbour towards the least recent, or NIL */
  uint32_t hash;   /* low 32 bits of the key's SipHash */
  int64_t expires; /* dict clock ms; 0 never */
};

/* struct node: 16 bytes, then the value. */
struct node {
  uint8_t kind;  /* K_NODE, maybe | K_BIG */
  uint8_t type;  /* SHDICT_STRING, INT, FLOAT or BOOL */
  uint16_t pad;  /* zero */
  uint32_t vlen; /* value bytes */
  uint32_t prev; /* previous node, or the list's item at the left end */
  uint32_t next; /* next node, or the list's item at the right end */
};

/* struct listv: a list item's value. */
struct listv {
  uint32_t first; /* leftmost node */
  uint32_t last;  /* rightmost node */
  uint32_t len;   /* nodes, >= 1 (an emptied list is deleted) */
};

#define ITEM_HDR ((uint32_t)sizeof(struct item))
#define NODE_HDR ((uint32_t)sizeof(struct node))

enum { PG_FREE = 0xff, PG_BIG = 0xfe, PG_CONT = 0xfd }; /* page.cls */

/* struct page: one per page of the arena, outside it. */
struct page {
  uint8_t cls;   /* class index, or PG_FREE / PG_BIG / PG_CONT */
  uint8_t pad;   /* zero */
  uint16_t live; /* slots in use (class pages) */
  uint32_t free; /* first free slot's offset, NIL if full */
  uint32_t prev; /* class list: previous page (NIL at the head) */
  uint32_t next; /* class list / free list / big chain: next page */
};

#define MAX_CLASSES 40

struct cls {
  uint32_t size;     /* slot bytes */
  uint32_t per_page; /* slots per page (k >= 2) */
  uint32_t charge;   /* counted in used per slot: ceil(page / k) */
  uint32_t pages;    /* pages lent to the class */
  uint32_t live;     /* slots in use */
  uint32_t head;     /* pages with free slots first, full ones after */
  uint32_t tail;     /* last page of that list */
};

struct shdict {
  sys_mutex lock;                       /* held by every operation */
  unsigned char *arena;                 /* npages * page_size bytes */
  struct page *pages;                   /* npages descriptors */
  uint32_t npages;                      /* pages in the arena */
  uint32_t page_size;                   /* a power of two, 4 KiB .. 64 KiB */
  unsigned page_shift;                  /* log2(page_size) */
  int ncls;                             /* classes in use of cls[] */
  struct cls cls[MAX_CLASSES];          /* by increasing slot size */
  uint8_t size_cls[65536 / 2 / 8 + 1];  /* (bytes + 7) / 8 -> class */
  uint32_t free_pages;                  /* free page list (through page.next) */
  uint32_t nfree;                       /* pages on it */
  uint32_t *buckets;                    /* hash index heads (item offsets) */
  uint32_t nbuckets;                    /* a power of two */
  uint32_t max_buckets;                 /* growth stops here */
  uint32_t lru_head;                    /* most recently used item */
  uint32_t lru_tail;                    /* least recently used item */
  uint64_t capacity;                    /* see shdict.h */
  uint64_t used;                        /* sum of charges in use */
  uint64_t items;                       /* items in the index */
  uint64_t evictions;                   /* stats */
  uint64_t expired;                     /* stats */
  uint64_t moves;                       /* stats */
  unsigned char seed[SIPHASH_KEY_SIZE]; /* the index's hash key */
  int64_t (*clock)(void *);             /* ms; NULL: sys_clock_ms */
  void *clock_ud;                       /* its argument */
  int refs;                             /* references (registry lock) */
  char *name;                           /* registry name, NULL if anonymous */
  size_t nlen;                          /* its length */
  struct shdict *reg_next;              /* registry list */
};

static inline unsigned char *at(const struct shdict *d, uint32_t off) {
  return d->arena + off;
}
static inline struct item *item_at(const struct shdict *d, uint32_t off) {
  return (struct item *)(void *)at(d, off);
}
static inline struct node *node_at(const struct shdict *d, uint32_t off) {
  return (struct node *)(void *)at(d, off);
}
static inline uint32_t page_of(const struct shdict *d, uint32_t off) {
  return off >> d->page_shift;
}

/* ---- shdict_mem.c ---------------------------------------------------- */

/* Builds the class table and page lists of a zeroed dict whose arena,
 * npages and page_size are set; computes capacity. */
void mem_init(struct shdict *d);
/* Every page back to the free list (flush). */
void mem_reset(struct shdict *d);
/* The charge of an object of bytes bytes (header included); 0 if it could
 * never fit (more than capacity). */
uint64_t mem_charge(const struct shdict *d, uint64_t bytes);
/* Room for bytes: an offset, or NIL when used + charge > capacity.  May
 * move other objects.  Adds the charge to used. */
uint32_t mem_alloc(struct shdict *d, uint32_t bytes);
/* Frees the object at off (slot or page chain); subtracts its charge. */
void mem_free(struct shdict *d, uint32_t off);
/* The charge of the object at off. */
uint64_t mem_charge_of(const struct shdict *d, uint32_t off);
/* Whether an object of bytes could reuse the object at off in place. */
int mem_same_size(const struct shdict *d, uint32_t off, uint32_t bytes);
/* Byte access to an object that may be a page chain: pos counts from the
 * start of its header. */
void mem_read(const struct shdict *d, uint32_t off, uint32_t pos, void *dst,
              size_t n);
void mem_write(struct shdict *d, uint32_t off, uint32_t pos, const void *src,
               size_t n);
int mem_equal(const struct shdict *d, uint32_t off, uint32_t pos,
              const void *src, size_t n);

/* ---- shdict.c, used by the mover ------------------------------------- */

/* The object at from now lives at to (already copied): fix every offset
 * that pointed at it. */
void shdict_relink(struct shdict *d, uint32_t from, uint32_t to);
/* A list item's value, read and written. */
void list_get(const struct shdict *d, uint32_t it, struct listv *lv);
void list_put(struct shdict *d, uint32_t it, const struct listv *lv);

#endif
