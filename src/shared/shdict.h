/*
 * shdict.h -- a dictionary shared by every worker thread of the process:
 * the engine behind host.shared(name [, size_mb]).
 *
 * Keys are byte strings (binary-safe, up to SHDICT_KEY_MAX bytes).
 * Values are byte strings, integers (int64), floats (double), booleans, and
 * lists of those four.  Every operation takes the dictionary's one mutex,
 * does its work, and releases it; nothing inside can raise or call back,
 * and every input (key, value, ttl) is a plain C value prepared before the
 * call, so a Lua binding converts its arguments first, calls, and only then
 * pushes results (a raise while the lock is held is impossible).  A
 * string read out of the dictionary is copied into a buffer the caller
 * provides; if it does not fit, the call returns SHDICT_ESPACE with the
 * size needed in out->len and changes nothing, and the caller grows its
 * buffer and calls again.
 *
 * Memory.  The dictionary is one arena of `size` bytes cut into pages,
 * lent to size classes (slots from 32 bytes up to half a page, growing by
 * about 1.25x, each class sized so its slots fill the page) or taken
 * whole by items bigger than half a page (a chain of pages, not
 * contiguous).  An item takes one slot: a 32-byte header, the key, the
 * value (a list element takes a 16-byte header and its value).  Items move
 * when needed: when a class needs a slot and no page is free, the emptiest
 * page of a class that has a page's worth of free slots is emptied into
 * that class's other pages.  So fragmentation never refuses an
 * allocation; the guarantee, which the tests check literally, is:
 *
 *     an item of charge s is stored whenever used + s <= capacity
 *
 * where an item's charge (shdict_charge) is its slot's share of a page
 * (page_size / slots per page, rounded up) or page_size per page of a big
 * item; `used` is the sum of the charges in use; and `capacity` is the
 * arena minus, for each class, the part of a page it may leave empty
 * (page_size * (k - 1) / k for a class of k slots per page).  With 16 KiB
 * pages that reserve is about 22 pages (2% of a 16 MiB dictionary).
 *
 * Eviction.  Only set (without SHDICT_NOEVICT) evicts: when the new item
 * does not fit, least-recently-used items go (reads and writes make an
 * item recent) until it does, and *evicted says how many went.  add,
 * replace, incr (creating a key), lpush/rpush and set with SHDICT_NOEVICT
 * never evict a live item: they fail with SHDICT_ENOMEM instead (they may
 * reclaim expired items, which are already gone as far as anyone can see).
 * An item whose charge exceeds the capacity fails with SHDICT_ETOOLARGE.
 *
 * Expiry.  ttl is in milliseconds on a monotonic clock; 0 means never.
 * An expired item is invisible at once; its memory is reclaimed when it is
 * next looked up, when it reaches the LRU tail (each write checks two
 * items there), or when room is needed; each reclaim counts in
 * stats.expired.
 *
 * The hash index lives outside the arena: a power-of-two bucket array of
 * 4-byte heads, growing with the item count up to arena/128 buckets (so
 * at most 3.2% of the dictionary's size), keyed by SipHash-1-3 under a
 * random per-dictionary key.  If growing fails, lookups go on with longer
 * chains; nothing fails.  The page descriptors are outside too (16 bytes
 * a page: 0.1% with 16 KiB pages).  A key longer than SHDICT_KEY_MAX is
 * refused by the writes (SHDICT_EINVAL) and never found by the reads.
 */
#ifndef HOST_SHDICT_H
#define HOST_SHDICT_H

#include <stddef.h>
#include <stdint.h>

#define SHDICT_KEY_MAX 65535                 /* bytes in a key */
#define SHDICT_DEFAULT_SIZE (16u << 20)      /* host.shared's default */
#define SHDICT_MIN_SIZE (256u << 10)         /* smallest arena */
#define SHDICT_MAX_SIZE ((size_t)4000 << 20) /* offsets are 32-bit */

enum shdict_type {
  SHDICT_NIL,    /* not found (out only) */
  SHDICT_STRING, /* bytes */
  SHDICT_INT,    /* int64 */
  SHDICT_FLOAT,  /* double */
  SHDICT_BOOL,   /* 0 or 1 */
  SHDICT_LIST    /* out only: get on a list gives its length */
};

/* Results: 0, or one of these (shdict_strerror gives the API's words). */
enum {
  SHDICT_OK = 0,
  SHDICT_ENOTFOUND = -1, /* "not found" */
  SHDICT_EEXISTS = -2,   /* "exists" */
  SHDICT_ENOTNUM = -3,   /* "not a number" */
  SHDICT_ENOTLIST = -4,  /* "not a list" */
  SHDICT_ENOMEM = -5,    /* "no memory": would need evicting */
  SHDICT_ETOOLARGE = -6, /* "too large": bigger than the capacity */
  SHDICT_ESPACE = -7,    /* "buffer too small": out->len is the need */
  SHDICT_EINVAL = -8     /* "invalid argument": key too long, ttl < 0,
                            a value of a type the op does not take */
};

/* A value going in or coming out.  In: type, and v.s/len for a string
 * (the bytes are copied; the pointer is not kept).  Out: type, v.i/v.f/v.b
 * for numbers and booleans; for a string, len, and the bytes in the
 * caller's buffer; for a list (get only), len = its number of elements. */
struct shdict_value {
  int type;   /* enum shdict_type */
  size_t len; /* string length; list length (out) */
  union {
    int64_t i;
    double f;
    int b;
    const void *s; /* in: the string's bytes */
  } v;
};

struct shdict_stats {
  uint64_t size;      /* arena bytes */
  uint64_t page_size; /* bytes per page */
  uint64_t capacity;  /* the most `used` can reach (see above) */
  uint64_t used;      /* sum of the charges of stored items */
  uint64_t items;     /* keys stored, expired or not yet reclaimed */
  uint64_t evictions; /* live items evicted by set */
  uint64_t expired;   /* expired items reclaimed */
  uint64_t moves;     /* items moved to free a page (compactions) */
};

struct shdict;

/* ---- life ------------------------------------------------------------ */

/* The process-wide dictionary called name (nlen bytes): the first call
 * creates it with size bytes (0: SHDICT_DEFAULT_SIZE); later calls return
 * the same one, whatever size they pass.  Each successful call takes a
 * reference, given back with shdict_release.  NULL with *err (if err is
 * not NULL) set to SHDICT_ENOMEM (out of memory) or SHDICT_EINVAL (size
 * out of range). */
struct shdict *shdict_open(const char *name, size_t nlen, size_t size,
                           int *err);
/* A dictionary of its own, in no registry (tests, benchmarks); one
 * reference.  page_size 0 picks one from size (4 KiB .. 64 KiB, about
 * size/1024); otherwise a power of two in that range.  NULL if out of
 * memory or a size is out of range. */
struct shdict *shdict_new(size_t size, size_t page_size);
/* Another reference to d (a second VM holding it). */
void shdict_retain(struct shdict *d);
/* Gives back a reference; the last one frees the dictionary (a named one
 * leaves the registry first: a later shdict_open makes a new, empty one). */
void shdict_release(struct shdict *d);

/* ---- operations ------------------------------------------------------ */

/* Copies the value of key into out (a string's bytes into buf, cap bytes).
 * SHDICT_ENOTFOUND (out->type = SHDICT_NIL); SHDICT_ESPACE if the string
 * is longer than cap (out->len says how long). */
int shdict_get(struct shdict *d, const void *key, size_t klen,
               struct shdict_value *out, void *buf, size_t cap);

#define SHDICT_NOEVICT 1 /* set flag: fail with ENOMEM rather than evict */

/* Stores key = v for ttl_ms (0: never expires), replacing any old value
 * (a list included).  *evicted (may be NULL) = live items evicted to make
 * room.  SHDICT_ETOOLARGE, SHDICT_ENOMEM (only with SHDICT_NOEVICT),
 * SHDICT_EINVAL. */
int shdict_set(struct shdict *d, const void *key, size_t klen,
               const struct shdict_value *v, int64_t ttl_ms, int flags,
               int *evicted);
/* set if key is absent (or expired): SHDICT_EEXISTS, SHDICT_ENOMEM. */
int shdict_add(struct shdict *d, const void *key, size_t klen,
               const struct shdict_value *v, int64_t ttl_ms);
/* set if key is present: SHDICT_ENOTFOUND, SHDICT_ENOMEM. */
int shdict_replace(struct shdict *d, const void *key, size_t klen,
                   const struct shdict_value *v, int64_t ttl_ms);
/* SHDICT_ENOTFOUND if absent or expired. */
int shdict_delete(struct shdict *d, const void *key, size_t klen);

/* Adds by (SHDICT_INT or SHDICT_FLOAT) to the number at key, as Lua's +
 * does: integer + integer wraps around and stays an integer, anything
 * with a float gives a float.  The sum goes in *out.  If key is absent:
 * with init (a number) the key is created as init + by, expiring after
 * init_ttl_ms (0: never), and may fail with SHDICT_ENOMEM; without init
 * (NULL), SHDICT_ENOTFOUND.  SHDICT_ENOTNUM if the value is not a number;
 * SHDICT_EINVAL if by or init is not one. */
int shdict_incr(struct shdict *d, const void *key, size_t klen,
                const struct shdict_value *by, const struct shdict_value *init,
                int64_t init_ttl_ms, struct shdict_value *out);

/* Milliseconds key has left in *ms (0: never expires).  ENOTFOUND. */
int shdict_ttl(struct shdict *d, const void *key, size_t klen, int64_t *ms);
/* Sets key to expire after ttl_ms (0: never).  ENOTFOUND, EINVAL. */
int shdict_expire(struct shdict *d, const void *key, size_t klen,
                  int64_t ttl_ms);

/* A snapshot of up to max live keys, most recently used first, written
 * to buf as records [uint32_t len, native order][len bytes], back to back
 * with no padding; *count = number of keys.  SHDICT_ESPACE if cap is too
 * small: *needed = bytes the same snapshot needs now. */
int shdict_keys(struct shdict *d, size_t max, void *buf, size_t cap,
                size_t *count, size_t *needed);
/* Removes every item at once (counted neither as evicted nor expired). */
void shdict_flush(struct shdict *d);

/* ---- lists ----------------------------------------------------------- */

enum { SHDICT_LEFT, SHDICT_RIGHT };

/* Pushes v (not a list) at the left or right end of the list at key,
 * creating it if absent; *len = the new length.  SHDICT_ENOTLIST,
 * SHDICT_ENOMEM (never evicts), SHDICT_ETOOLARGE, SHDICT_EINVAL. */
int shdict_push(struct shdict *d, const void *key, size_t klen, int end,
                const struct shdict_value *v, size_t *len);
/* Pops the left or right element into out (as shdict_get does; on
 * SHDICT_ESPACE nothing is popped).  An emptied list is deleted.
 * SHDICT_ENOTFOUND (absent: out->type = SHDICT_NIL), SHDICT_ENOTLIST. */
int shdict_pop(struct shdict *d, const void *key, size_t klen, int end,
               struct shdict_value *out, void *buf, size_t cap);
/* *len = the list's length, 0 if key is absent.  SHDICT_ENOTLIST. */
int shdict_llen(struct shdict *d, const void *key, size_t klen, size_t *len);

/* ---- introspection --------------------------------------------------- */

void shdict_stats(struct shdict *d, struct shdict_stats *st);
/* The charge an item of that key length and value would have (a list
 * element's if node is set), or 0 if it is too large for this dictionary
 * whatever is evicted.  Same function the operations use. */
uint64_t shdict_charge(struct shdict *d, size_t klen,
                       const struct shdict_value *v, int node);
/* The longest string value that fits with a key of klen bytes (0 if
 * none). */
size_t shdict_value_max(struct shdict *d, size_t klen);
/* Checks every internal invariant (pages, classes, index, LRU, lists,
 * used); 0, or -1 with the first broken one described in err.  O(size). */
int shdict_check(struct shdict *d, char *err, size_t errsize);
/* The API's word for a result: "not found", "exists", ... */
const char *shdict_strerror(int err);
/* Tests: replace the clock (milliseconds, monotonic) with now(ud). */
void shdict_set_clock(struct shdict *d, int64_t (*now)(void *ud), void *ud);

#endif
