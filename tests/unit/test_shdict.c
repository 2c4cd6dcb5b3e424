/*
 * test_shdict.c -- the shared dictionary: every operation and failure,
 * value types, TTLs on a fake clock, LRU eviction, the no-eviction ops,
 * size limits, compaction, a million keys under the literal guarantee
 * "never no memory while used + s <= capacity", threads, and the fault
 * walk.  shdict_check runs after every phase.
 */
#include "t.h"
#include "fault.h"
#include "shdict.h"
#include "siphash.h"
#include "sys.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define MIB (1u << 20)
#define ITEM_HDR_BYTES 32 /* shdict.h: an item's header; a node's is 16 */

static char cerr[256];
#define CHECK(d)                                                               \
  T_ASSERT_STREQ((shdict_check((d), cerr, sizeof cerr), cerr), "")

static struct shdict_value S(const char *s, size_t n) {
  struct shdict_value v = {SHDICT_STRING, n, {0}};
  v.v.s = s;
  return v;
} static struct shdict_value I(int64_t i) {
  struct shdict_value v = {SHDICT_INT, 0, {0}};
  v.v.i = i;
  return v;
} static struct shdict_value F(double f) {
  struct shdict_value v = {SHDICT_FLOAT, 0, {0}};
  v.v.f = f;
  return v;
} static struct shdict_value B(int b) {
  struct shdict_value v = {SHDICT_BOOL, 0, {0}};
  v.v.b = b;
  return v;
}

#define K(s) s, sizeof(s) - 1

static int64_t fake_now;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return fake_now;
}

static struct shdict *mk(size_t size) {
  struct shdict *d = shdict_new(size, 0);
  if (d) {
    fake_now = 1000;
    shdict_set_clock(d, fake_clock, NULL);
  }
  return d;
}

static struct shdict_stats stats(struct shdict *d) {
  struct shdict_stats st;
  shdict_stats(d, &st);
  return st;
}

static int set(struct shdict *d, const char *k, const char *v) {
  struct shdict_value sv = S(v, strlen(v));
  return shdict_set(d, k, strlen(k), &sv, 0, 0, NULL);
}

/* The string at k, or "" if absent ("<int>" etc. for other types). */
static const char *get(struct shdict *d, const char *k) {
  static char buf[512];
  struct shdict_value out;
  int r = shdict_get(d, k, strlen(k), &out, buf, sizeof buf - 1);
  if (r != SHDICT_OK)
    return "";
  if (out.type != SHDICT_STRING)
    return "<not a string>";
  buf[out.len] = '\0';
  return buf;
}

/* ---- hashing and life ------------------------------------------------- */

static void siphash13_matches_reference(void) {
  /* Python 3.11's hash() of bytes is SipHash-1-3; with PYTHONHASHSEED=0
   * its key is all zero. */
  unsigned char key[16] = {0};
  unsigned char b63[63];
  for (int i = 0; i < 63; i++)
    b63[i] = (unsigned char)i;
  T_ASSERT(siphash13("a", 1, key) == 4644417185603328019ULL);
  T_ASSERT(siphash13("abc", 3, key) == 13851880170939887858ULL);
  T_ASSERT(siphash13("12345678", 8, key) == 3785724242978802311ULL);
  T_ASSERT(siphash13("hello world, 123", 16, key) == 4496027988053773455ULL);
  T_ASSERT(siphash13(b63, 63, key) == 4061470857350050649ULL);
  key[0] = 1; /* the key matters */
  T_ASSERT(siphash13("a", 1, key) != 4644417185603328019ULL);
}

static void sizes_and_page_sizes(void) {
  T_ASSERT(shdict_new(SHDICT_MIN_SIZE - 1, 0) == NULL);
  T_ASSERT(shdict_new(SHDICT_MAX_SIZE + 1, 0) == NULL);
  T_ASSERT(shdict_new(MIB, 3000) == NULL);
  T_ASSERT(shdict_new(MIB, 2048) == NULL);
  T_ASSERT(shdict_new(MIB, 131072) == NULL);
  struct shdict *d = shdict_new(16 * MIB, 0);
  T_ASSERT(d != NULL);
  struct shdict_stats st = stats(d);
  T_ASSERT_EQ(st.size, 16 * MIB);
  T_ASSERT_EQ(st.page_size, 16384);
  T_ASSERT(st.capacity < st.size && st.capacity > st.size / 100 * 97);
  T_ASSERT_EQ(st.used, 0);
  CHECK(d);
  shdict_release(d);
  d = shdict_new(MIB, 0);
  T_ASSERT_EQ(stats(d).page_size, 4096);
  T_ASSERT(stats(d).capacity > MIB / 100 * 90);
  shdict_release(d);
  d = shdict_new(SHDICT_MIN_SIZE, 0);
  T_ASSERT(d != NULL && stats(d).capacity > 0);
  shdict_release(d);
}

static void named_dictionaries_are_shared(void) {
  int err = 0;
  struct shdict *a = shdict_open(K("cache"), 0, &err);
  struct shdict *b = shdict_open(K("cache"), 2 * MIB, &err);
  struct shdict *c = shdict_open(K("cach\0e"), MIB, &err);
  T_ASSERT(a != NULL && a == b && c != NULL && c != a);
  T_ASSERT_EQ(stats(a).size, SHDICT_DEFAULT_SIZE);
  T_ASSERT_EQ(stats(c).size, MIB);
  T_ASSERT_EQ(set(a, "k", "v"), 0);
  T_ASSERT_STREQ(get(b, "k"), "v");
  shdict_release(a);
  T_ASSERT_STREQ(get(b, "k"), "v"); /* one reference left */
  shdict_retain(b);
  shdict_release(b);
  shdict_release(b); /* the last: gone from the registry */
  struct shdict *again = shdict_open(K("cache"), MIB, &err);
  T_ASSERT_STREQ(get(again, "k"), "");
  T_ASSERT_EQ(stats(again).size, MIB);
  shdict_release(again);
  shdict_release(c);
  T_ASSERT(shdict_open(K("x"), 1000, &err) == NULL);
  T_ASSERT_EQ(err, SHDICT_EINVAL);
}

static void error_words(void) {
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ENOTFOUND), "not found");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_EEXISTS), "exists");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ENOTNUM), "not a number");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ENOTLIST), "not a list");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ENOMEM), "no memory");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ETOOLARGE), "too large");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_ESPACE), "buffer too small");
  T_ASSERT_STREQ(shdict_strerror(SHDICT_EINVAL), "invalid argument");
}

/* ---- values ------------------------------------------------------------ */

static void types_round_trip(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value v, out;
  char buf[64];
  const int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1LL << 53};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    v = I(ints[i]);
    T_ASSERT_EQ(shdict_set(d, K("n"), &v, 0, 0, NULL), 0);
    T_ASSERT_EQ(shdict_get(d, K("n"), &out, buf, sizeof buf), 0);
    T_ASSERT_EQ(out.type, SHDICT_INT);
    T_ASSERT(out.v.i == ints[i]);
  }
  const double fl[] = {0.0, -0.0, 1.5, 1e308, -INFINITY, INFINITY, 3.0};
  for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) {
    v = F(fl[i]);
    T_ASSERT_EQ(shdict_set(d, K("n"), &v, 0, 0, NULL), 0);
    T_ASSERT_EQ(shdict_get(d, K("n"), &out, buf, sizeof buf), 0);
    T_ASSERT_EQ(out.type, SHDICT_FLOAT); /* 3.0 stays a float */
    T_ASSERT(memcmp(&out.v.f, &fl[i], sizeof(double)) == 0);
  }
  v = F(NAN);
  T_ASSERT_EQ(shdict_set(d, K("n"), &v, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_get(d, K("n"), &out, buf, sizeof buf), 0);
  T_ASSERT(isnan(out.v.f));
  for (int b = 0; b < 2; b++) {
    v = B(b);
    T_ASSERT_EQ(shdict_set(d, K("b"), &v, 0, 0, NULL), 0);
    T_ASSERT_EQ(shdict_get(d, K("b"), &out, buf, sizeof buf), 0);
    T_ASSERT_EQ(out.type, SHDICT_BOOL);
    T_ASSERT_EQ(out.v.b, b);
  }
  v = S("", 0); /* the empty string, under the empty key */
  T_ASSERT_EQ(shdict_set(d, "", 0, &v, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_get(d, "", 0, &out, buf, sizeof buf), 0);
  T_ASSERT_EQ(out.type, SHDICT_STRING);
  T_ASSERT_EQ(out.len, 0);
  v.type = 99;
  T_ASSERT_EQ(shdict_set(d, K("x"), &v, 0, 0, NULL), SHDICT_EINVAL);
  v.type = SHDICT_LIST;
  T_ASSERT_EQ(shdict_set(d, K("x"), &v, 0, 0, NULL), SHDICT_EINVAL);
  v = S(NULL, 3);
  T_ASSERT_EQ(shdict_set(d, K("x"), &v, 0, 0, NULL), SHDICT_EINVAL);
  v = I(1);
  T_ASSERT_EQ(shdict_set(d, K("x"), &v, -1, 0, NULL), SHDICT_EINVAL);
  char longkey[SHDICT_KEY_MAX + 1];
  memset(longkey, 'k', sizeof longkey);
  T_ASSERT_EQ(shdict_set(d, longkey, sizeof longkey, &v, 0, 0, NULL),
              SHDICT_EINVAL);
  T_ASSERT_EQ(shdict_get(d, longkey, sizeof longkey, &out, buf, 1),
              SHDICT_ENOTFOUND);
  CHECK(d);
  shdict_release(d);
}

static void binary_keys_and_values(void) {
  struct shdict *d = mk(MIB);
  const char k1[] = "a\0b", k2[] = "a\0c", val[] = "x\0y\0\0z";
  struct shdict_value v = S(val, sizeof val), out;
  char buf[64];
  T_ASSERT_EQ(shdict_set(d, k1, sizeof k1, &v, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_get(d, k2, sizeof k2, &out, buf, sizeof buf),
              SHDICT_ENOTFOUND);
  T_ASSERT_EQ(out.type, SHDICT_NIL);
  T_ASSERT_EQ(shdict_get(d, k1, 1, &out, buf, sizeof buf), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_get(d, k1, sizeof k1, &out, buf, sizeof buf), 0);
  T_ASSERT_EQ(out.len, sizeof val);
  T_ASSERT(memcmp(buf, val, sizeof val) == 0);
  CHECK(d);
  shdict_release(d);
}

static void get_into_a_small_buffer(void) {
  struct shdict *d = mk(MIB);
  char buf[8];
  struct shdict_value out;
  T_ASSERT_EQ(set(d, "k", "0123456789"), 0);
  T_ASSERT_EQ(shdict_get(d, K("k"), &out, buf, sizeof buf), SHDICT_ESPACE);
  T_ASSERT_EQ(out.len, 10);
  char big[10];
  T_ASSERT_EQ(shdict_get(d, K("k"), &out, big, out.len), 0);
  T_ASSERT(memcmp(big, "0123456789", 10) == 0);
  shdict_release(d);
}

static void add_replace_delete(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value v = S("one", 3), w = S("a longer value than one", 23);
  T_ASSERT_EQ(shdict_replace(d, K("k"), &v, 0), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_add(d, K("k"), &v, 0), 0);
  T_ASSERT_EQ(shdict_add(d, K("k"), &w, 0), SHDICT_EEXISTS);
  T_ASSERT_STREQ(get(d, "k"), "one");
  T_ASSERT_EQ(shdict_replace(d, K("k"), &w, 0), 0); /* another class */
  T_ASSERT_STREQ(get(d, "k"), "a longer value than one");
  T_ASSERT_EQ(shdict_replace(d, K("k"), &v, 0), 0);
  T_ASSERT_STREQ(get(d, "k"), "one");
  T_ASSERT_EQ(shdict_delete(d, K("k")), 0);
  T_ASSERT_EQ(shdict_delete(d, K("k")), SHDICT_ENOTFOUND);
  T_ASSERT_STREQ(get(d, "k"), "");
  T_ASSERT_EQ(shdict_add(d, K("k"), &w, 0), 0);
  T_ASSERT_EQ(stats(d).items, 1);
  CHECK(d);
  shdict_release(d);
}

static void incr_follows_lua_arithmetic(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value one = I(1), half = F(0.5), out, init = I(10);
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, NULL, 0, &out), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, &init, 0, &out), 0);
  T_ASSERT_EQ(out.type, SHDICT_INT);
  T_ASSERT_EQ(out.v.i, 11); /* init + by, as OpenResty */
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, &init, 0, &out), 0);
  T_ASSERT_EQ(out.v.i, 12); /* init only when absent */
  T_ASSERT_EQ(shdict_incr(d, K("n"), &half, NULL, 0, &out), 0);
  T_ASSERT_EQ(out.type, SHDICT_FLOAT);
  T_ASSERT(out.v.f == 12.5);
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, NULL, 0, &out), 0);
  T_ASSERT_EQ(out.type, SHDICT_FLOAT); /* float + int is a float */
  T_ASSERT(out.v.f == 13.5);
  struct shdict_value max = I(INT64_MAX);
  T_ASSERT_EQ(shdict_set(d, K("m"), &max, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_incr(d, K("m"), &one, NULL, 0, &out), 0);
  T_ASSERT_EQ(out.type, SHDICT_INT);
  T_ASSERT(out.v.i == INT64_MIN); /* wraps around, as Lua 5.4 */
  struct shdict_value fi = F(2.0);
  T_ASSERT_EQ(shdict_incr(d, K("f"), &one, &fi, 0, &out), 0);
  T_ASSERT_EQ(out.type, SHDICT_FLOAT);
  T_ASSERT(out.v.f == 3.0);
  T_ASSERT_EQ(set(d, "s", "5"), 0);
  T_ASSERT_EQ(shdict_incr(d, K("s"), &one, NULL, 0, &out), SHDICT_ENOTNUM);
  struct shdict_value t = B(1);
  T_ASSERT_EQ(shdict_set(d, K("b"), &t, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_incr(d, K("b"), &one, NULL, 0, &out), SHDICT_ENOTNUM);
  size_t len;
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_RIGHT, &one, &len), 0);
  T_ASSERT_EQ(shdict_incr(d, K("l"), &one, NULL, 0, &out), SHDICT_ENOTNUM);
  struct shdict_value s = S("1", 1);
  T_ASSERT_EQ(shdict_incr(d, K("n"), &s, NULL, 0, &out), SHDICT_EINVAL);
  T_ASSERT_EQ(shdict_incr(d, K("z"), &one, &s, 0, &out), SHDICT_EINVAL);
  T_ASSERT_EQ(shdict_incr(d, K("z"), &one, &init, -5, &out), SHDICT_EINVAL);
  CHECK(d);
  shdict_release(d);
}

/* ---- expiry ------------------------------------------------------------ */

static void ttl_expires_without_sleeping(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value v = S("v", 1), one = I(1), out;
  int64_t ms;
  T_ASSERT_EQ(shdict_set(d, K("a"), &v, 500, 0, NULL), 0);
  T_ASSERT_EQ(shdict_set(d, K("b"), &v, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_ttl(d, K("a"), &ms), 0);
  T_ASSERT_EQ(ms, 500);
  T_ASSERT_EQ(shdict_ttl(d, K("b"), &ms), 0);
  T_ASSERT_EQ(ms, 0); /* never expires */
  T_ASSERT_EQ(shdict_ttl(d, K("c"), &ms), SHDICT_ENOTFOUND);
  fake_now += 499;
  T_ASSERT_STREQ(get(d, "a"), "v");
  T_ASSERT_EQ(shdict_ttl(d, K("a"), &ms), 0);
  T_ASSERT_EQ(ms, 1);
  fake_now += 1; /* invisible at once */
  T_ASSERT_STREQ(get(d, "a"), "");
  T_ASSERT_EQ(stats(d).expired, 1);
  T_ASSERT_EQ(stats(d).items, 1);
  T_ASSERT_EQ(shdict_expire(d, K("b"), 100), 0);
  T_ASSERT_EQ(shdict_ttl(d, K("b"), &ms), 0);
  T_ASSERT_EQ(ms, 100);
  T_ASSERT_EQ(shdict_expire(d, K("b"), 0), 0);
  fake_now += 1000;
  T_ASSERT_STREQ(get(d, "b"), "v"); /* expire(0): never again */
  T_ASSERT_EQ(shdict_expire(d, K("zz"), 5), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_expire(d, K("b"), -5), SHDICT_EINVAL);
  /* Each operation sees an expired item as absent. */
  T_ASSERT_EQ(shdict_set(d, K("e"), &v, 10, 0, NULL), 0);
  fake_now += 10;
  T_ASSERT_EQ(shdict_replace(d, K("e"), &v, 0), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_set(d, K("e"), &v, 10, 0, NULL), 0);
  fake_now += 10;
  T_ASSERT_EQ(shdict_delete(d, K("e")), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_set(d, K("e"), &v, 10, 0, NULL), 0);
  fake_now += 10;
  T_ASSERT_EQ(shdict_add(d, K("e"), &v, 0), 0);
  T_ASSERT_EQ(shdict_set(d, K("n"), &one, 10, 0, NULL), 0);
  fake_now += 10;
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, NULL, 0, &out), SHDICT_ENOTFOUND);
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, &one, 20, &out), 0);
  T_ASSERT_EQ(shdict_ttl(d, K("n"), &ms), 0);
  T_ASSERT_EQ(ms, 20); /* init_ttl applies to a created key */
  T_ASSERT_EQ(shdict_incr(d, K("n"), &one, &one, 0, &out), 0);
  T_ASSERT_EQ(shdict_ttl(d, K("n"), &ms), 0);
  T_ASSERT_EQ(ms, 20); /* and incr keeps it */
  size_t len;
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_LEFT, &v, &len), 0);
  T_ASSERT_EQ(shdict_expire(d, K("l"), 5), 0);
  fake_now += 5;
  T_ASSERT_EQ(shdict_llen(d, K("l"), &len), 0);
  T_ASSERT_EQ(len, 0);
  CHECK(d);
  shdict_release(d);
}

static void writes_reclaim_expired_items_at_the_tail(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value v = S("v", 1);
  T_ASSERT_EQ(shdict_set(d, K("old1"), &v, 10, 0, NULL), 0);
  T_ASSERT_EQ(shdict_set(d, K("old2"), &v, 10, 0, NULL), 0);
  T_ASSERT_EQ(shdict_set(d, K("old3"), &v, 10, 0, NULL), 0);
  fake_now += 10;
  T_ASSERT_EQ(stats(d).items, 3);
  T_ASSERT_EQ(set(d, "new", "x"), 0); /* checks two at the tail */
  T_ASSERT_EQ(stats(d).items, 2);
  T_ASSERT_EQ(stats(d).expired, 2);
  CHECK(d);
  shdict_release(d);
}

/* ---- keys and flush ----------------------------------------------------- */

static void keys_is_a_bounded_snapshot(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value v = S("v", 1);
  T_ASSERT_EQ(set(d, "a", "1"), 0);
  T_ASSERT_EQ(shdict_set(d, K("b\0b"), &v, 0, 0, NULL), 0);
  T_ASSERT_EQ(shdict_set(d, K("gone"), &v, 5, 0, NULL), 0);
  T_ASSERT_EQ(set(d, "c", "3"), 0);
  fake_now += 5;
  T_ASSERT_STREQ(get(d, "a"), "1"); /* most recent now */
  unsigned char buf[64];
  size_t count, need;
  T_ASSERT_EQ(shdict_keys(d, 1024, buf, sizeof buf, &count, &need), 0);
  T_ASSERT_EQ(count, 3);
  T_ASSERT_EQ(need, 4 + 1 + 4 + 1 + 4 + 3);
  uint32_t l;
  memcpy(&l, buf, 4);
  T_ASSERT_EQ(l, 1);
  T_ASSERT_EQ(buf[4], 'a');
  memcpy(&l, buf + 5, 4);
  T_ASSERT_EQ(buf[9], 'c');
  memcpy(&l, buf + 10, 4);
  T_ASSERT_EQ(l, 3);
  T_ASSERT(memcmp(buf + 14, "b\0b", 3) == 0);
  T_ASSERT_EQ(shdict_keys(d, 2, buf, sizeof buf, &count, &need), 0);
  T_ASSERT_EQ(count, 2);
  T_ASSERT_EQ(shdict_keys(d, 1024, buf, 10, &count, &need), SHDICT_ESPACE);
  T_ASSERT_EQ(need, 17);
  T_ASSERT_EQ(shdict_keys(d, 0, buf, 0, &count, &need), 0);
  T_ASSERT_EQ(count, 0);
  shdict_flush(d);
  T_ASSERT_EQ(stats(d).items, 0);
  T_ASSERT_EQ(stats(d).used, 0);
  T_ASSERT_STREQ(get(d, "a"), "");
  T_ASSERT_EQ(shdict_keys(d, 1024, buf, sizeof buf, &count, &need), 0);
  T_ASSERT_EQ(count, 0);
  CHECK(d);
  T_ASSERT_EQ(set(d, "after", "flush"), 0);
  T_ASSERT_STREQ(get(d, "after"), "flush");
  CHECK(d);
  shdict_release(d);
}

/* ---- lists -------------------------------------------------------------- */

static void lists_push_and_pop(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value out, a = S("a\0", 2), two = I(2), f = F(0.25), t = B(1);
  char buf[16];
  size_t len;
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_LEFT, &out, buf, sizeof buf),
              SHDICT_ENOTFOUND);
  T_ASSERT_EQ(out.type, SHDICT_NIL);
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_RIGHT, &two, &len), 0);
  T_ASSERT_EQ(len, 1);
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_LEFT, &a, &len), 0);
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_RIGHT, &f, &len), 0);
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_RIGHT, &t, &len), 0);
  T_ASSERT_EQ(len, 4); /* a 2 0.25 true */
  T_ASSERT_EQ(shdict_llen(d, K("l"), &len), 0);
  T_ASSERT_EQ(len, 4);
  T_ASSERT_EQ(shdict_get(d, K("l"), &out, buf, sizeof buf), 0);
  T_ASSERT_EQ(out.type, SHDICT_LIST);
  T_ASSERT_EQ(out.len, 4);
  CHECK(d);
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_LEFT, &out, buf, 1),
              SHDICT_ESPACE); /* nothing popped */
  T_ASSERT_EQ(out.len, 2);
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_LEFT, &out, buf, sizeof buf), 0);
  T_ASSERT(out.type == SHDICT_STRING && out.len == 2);
  T_ASSERT(memcmp(buf, "a\0", 2) == 0);
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_RIGHT, &out, buf, sizeof buf), 0);
  T_ASSERT(out.type == SHDICT_BOOL && out.v.b == 1);
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_RIGHT, &out, buf, sizeof buf), 0);
  T_ASSERT(out.type == SHDICT_FLOAT && out.v.f == 0.25);
  T_ASSERT_EQ(shdict_llen(d, K("l"), &len), 0);
  T_ASSERT_EQ(len, 1);
  T_ASSERT_EQ(shdict_pop(d, K("l"), SHDICT_LEFT, &out, buf, sizeof buf), 0);
  T_ASSERT(out.type == SHDICT_INT && out.v.i == 2);
  T_ASSERT_EQ(stats(d).items, 0); /* an emptied list is deleted */
  T_ASSERT_EQ(stats(d).used, 0);
  T_ASSERT_EQ(shdict_llen(d, K("l"), &len), 0);
  T_ASSERT_EQ(len, 0);
  CHECK(d);
  shdict_release(d);
}

static void list_ops_on_other_values(void) {
  struct shdict *d = mk(MIB);
  struct shdict_value out, v = S("x", 1), lv = {SHDICT_LIST, 0, {0}};
  char buf[8];
  size_t len;
  T_ASSERT_EQ(set(d, "s", "str"), 0);
  T_ASSERT_EQ(shdict_push(d, K("s"), SHDICT_LEFT, &v, &len), SHDICT_ENOTLIST);
  T_ASSERT_EQ(shdict_pop(d, K("s"), SHDICT_LEFT, &out, buf, sizeof buf),
              SHDICT_ENOTLIST);
  T_ASSERT_EQ(shdict_llen(d, K("s"), &len), SHDICT_ENOTLIST);
  T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_LEFT, &lv, &len), SHDICT_EINVAL);
  for (int i = 0; i < 100; i++)
    T_ASSERT_EQ(shdict_push(d, K("l"), SHDICT_LEFT, &v, &len), 0);
  T_ASSERT_EQ(set(d, "l", "replaced"), 0); /* set frees the whole list */
  T_ASSERT_STREQ(get(d, "l"), "replaced");
  T_ASSERT_EQ(stats(d).items, 2);
  CHECK(d);
  T_ASSERT_EQ(shdict_push(d, K("m"), SHDICT_LEFT, &v, &len), 0);
  T_ASSERT_EQ(shdict_delete(d, K("m")), 0);
  T_ASSERT_EQ(stats(d).items, 2);
  CHECK(d);
  shdict_release(d);
}

/* ---- eviction and the operations that never evict ---------------------- */

static void keyname(char *k, unsigned i) { snprintf(k, 16, "k%07u", i); }

static int set_n(struct shdict *d, unsigned i, size_t vlen, int *evicted) {
  char val[400]; /* not static: threads call this */
  char k[16];
  keyname(k, i);
  memset(val, 'a' + (int)(i % 26), sizeof val);
  struct shdict_value v = S(val, vlen);
  return shdict_set(d, k, strlen(k), &v, 0, 0, evicted);
}

static int has_n(struct shdict *d, unsigned i) {
  char k[16], buf[400];
  struct shdict_value out;
  keyname(k, i);
  return shdict_get(d, k, strlen(k), &out, buf, sizeof buf) == 0;
}

/* Whether key i is there, without making it recent (ttl does not). */
static int in_n(struct shdict *d, unsigned i) {
  char k[16];
  int64_t ms;
  keyname(k, i);
  return shdict_ttl(d, k, strlen(k), &ms) == 0;
}

/* Fills d with 100-byte values by set until the first eviction; returns
 * the number of keys set (the last one evicted key 0). */
static unsigned fill_until_eviction(struct shdict *d) {
  int ev = 0;
  unsigned i = 0;
  while (ev == 0 && i < 100000)
    if (set_n(d, i++, 100, &ev) != 0)
      return 0;
  return ev == 1 ? i : 0;
}

static void set_evicts_least_recently_used(void) {
  struct shdict *d = mk(MIB);
  unsigned n = fill_until_eviction(d);
  T_ASSERT(n > 1000);
  T_ASSERT(!in_n(d, 0));
  T_ASSERT(in_n(d, 1) && in_n(d, 2));
  T_ASSERT(has_n(d, 1)); /* now 1 is recent, 2 the least */
  int ev = 0;
  T_ASSERT_EQ(set_n(d, n, 100, &ev), 0);
  T_ASSERT_EQ(ev, 1);
  T_ASSERT(!in_n(d, 2));
  T_ASSERT(in_n(d, 1) && in_n(d, 3));
  T_ASSERT_EQ(stats(d).evictions, 2);
  /* A bigger value evicts as many as it takes, oldest first. */
  T_ASSERT_EQ(set_n(d, n + 1, 390, &ev), 0);
  T_ASSERT(ev >= 2);
  for (int i = 0; i < ev; i++)
    T_ASSERT(!in_n(d, 3 + (unsigned)i));
  T_ASSERT(in_n(d, 3 + (unsigned)ev));
  T_ASSERT(in_n(d, 1) && in_n(d, n + 1));
  CHECK(d);
  shdict_release(d);
}

static void an_expired_tail_goes_before_live_items(void) {
  struct shdict *d = mk(MIB);
  unsigned n = fill_until_eviction(d); /* evicted key 0; 1 is the tail */
  T_ASSERT(n > 0);
  char k[16];
  keyname(k, 1);
  T_ASSERT_EQ(shdict_expire(d, k, strlen(k), 1), 0);
  fake_now += 1;
  int ev = -1;
  T_ASSERT_EQ(set_n(d, n, 100, &ev), 0);
  T_ASSERT_EQ(ev, 0);
  T_ASSERT_EQ(stats(d).expired, 1);
  T_ASSERT_EQ(stats(d).evictions, 1);
  T_ASSERT(has_n(d, 2));
  CHECK(d);
  shdict_release(d);
}

/* Adds the smallest items until add says no memory; every refusal checked
 * against the guarantee. */
static int fill_to_the_brim(struct shdict *d, unsigned from) {
  struct shdict_value v = S("", 0);
  char k[16];
  for (unsigned i = from;; i++) {
    keyname(k, i);
    struct shdict_stats st = stats(d);
    int r = shdict_add(d, k, strlen(k), &v, 0);
    if (r == SHDICT_ENOMEM)
      return st.used + shdict_charge(d, strlen(k), &v, 0) > st.capacity ? 0
                                                                        : -1;
    if (r != 0)
      return -1;
  }
}

static void only_set_evicts(void) {
  struct shdict *d = mk(MIB);
  unsigned n = fill_until_eviction(d);
  T_ASSERT(n > 0);
  T_ASSERT_EQ(fill_to_the_brim(d, 1000000), 0);
  struct shdict_stats full = stats(d);
  static char two_hundred[200];
  struct shdict_value small = S("", 0), big = S(two_hundred, 200), one = I(1),
                      out;
  char k[16];
  size_t len;
  T_ASSERT_EQ(shdict_add(d, K("new"), &small, 0), SHDICT_ENOMEM);
  T_ASSERT_EQ(shdict_set(d, K("new"), &small, 0, SHDICT_NOEVICT, NULL),
              SHDICT_ENOMEM);
  T_ASSERT_EQ(shdict_incr(d, K("new"), &one, &one, 0, &out), SHDICT_ENOMEM);
  T_ASSERT_EQ(shdict_push(d, K("new"), SHDICT_LEFT, &one, &len), SHDICT_ENOMEM);
  keyname(k, 1000000); /* an empty value: a bigger one needs room */
  T_ASSERT_EQ(shdict_replace(d, k, strlen(k), &big, 0), SHDICT_ENOMEM);
  T_ASSERT_STREQ(get(d, k), "");
  T_ASSERT_EQ(shdict_set(d, k, strlen(k), &big, 0, SHDICT_NOEVICT, NULL),
              SHDICT_ENOMEM);
  T_ASSERT_EQ(shdict_replace(d, k, strlen(k), &small, 0), 0); /* in place */
  struct shdict_stats now = stats(d);
  T_ASSERT_EQ(now.items, full.items);
  T_ASSERT_EQ(now.evictions, full.evictions);
  T_ASSERT_EQ(now.used, full.used);
  CHECK(d);
  /* An expired item is fair game for them. */
  keyname(k, 5);
  T_ASSERT_EQ(shdict_expire(d, k, strlen(k), 1), 0);
  fake_now += 1;
  T_ASSERT_EQ(shdict_add(d, K("new"), &small, 0), 0);
  T_ASSERT_EQ(stats(d).expired, full.expired + 1);
  T_ASSERT_EQ(stats(d).evictions, full.evictions);
  /* And set still makes room. */
  int ev = 0;
  T_ASSERT_EQ(shdict_set(d, K("newer"), &big, 0, 0, &ev), 0);
  T_ASSERT(ev >= 1);
  CHECK(d);
  shdict_release(d);
}

static void largest_value_and_one_byte_more(void) {
  struct shdict *d = mk(MIB);
  size_t max = shdict_value_max(d, 1);
  struct shdict_stats st = stats(d);
  T_ASSERT(max > st.capacity - st.page_size - 64 && max < st.capacity);
  char *val = malloc(max + 64);
  T_ASSERT(val != NULL);
  for (size_t i = 0; i < max + 64; i++)
    val[i] = (char)(i * 7);
  struct shdict_value v = S(val, max + 1), out;
  T_ASSERT_EQ(shdict_charge(d, 1, &v, 0), 0);
  T_ASSERT_EQ(shdict_set(d, K("k"), &v, 0, 0, NULL), SHDICT_ETOOLARGE);
  T_ASSERT_EQ(shdict_add(d, K("k"), &v, 0), SHDICT_ETOOLARGE);
  size_t len;
  v.len = max + 1 + ITEM_HDR_BYTES + 1 - 16; /* a node has no key and a
                                                smaller header */
  T_ASSERT_EQ(shdict_push(d, K("k"), SHDICT_LEFT, &v, &len), SHDICT_ETOOLARGE);
  v.len = max;
  T_ASSERT(shdict_charge(d, 1, &v, 0) <= st.capacity);
  for (unsigned i = 0; i < 50; i++) /* things to evict */
    T_ASSERT_EQ(set_n(d, i, 100, NULL), 0);
  int ev = 0;
  T_ASSERT_EQ(shdict_set(d, K("k"), &v, 0, 0, &ev), 0);
  T_ASSERT(ev > 0 && ev <= 50); /* as many as it took */
  T_ASSERT_EQ(stats(d).items, 1 + 50 - ev);
  char *back = malloc(max);
  T_ASSERT(back != NULL);
  T_ASSERT_EQ(shdict_get(d, K("k"), &out, back, max), 0);
  T_ASSERT_EQ(out.len, max);
  T_ASSERT(memcmp(back, val, max) == 0);
  struct shdict_value hundred = S(val, 100);
  T_ASSERT_EQ(stats(d).used,
              shdict_charge(d, 1, &v, 0) +
                  (50u - (unsigned)ev) * shdict_charge(d, 8, &hundred, 0));
  T_ASSERT(stats(d).used + shdict_charge(d, 8, &hundred, 0) >
           stats(d).capacity); /* it evicted no more than it had to */
  CHECK(d);
  free(back);
  free(val);
  shdict_release(d);
}

static void big_values_and_keys_span_pages(void) {
  struct shdict *d = mk(MIB); /* 4 KiB pages */
  static char key[10000], val[40000], back[40000];
  for (size_t i = 0; i < sizeof val; i++)
    val[i] = (char)(i * 31 + 7);
  memset(key, 'q', sizeof key);
  const size_t sizes[] = {2017, 2100, 4064, 4065, 8192, 12345, 40000};
  struct shdict_value out;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    for (size_t kl = 1; kl <= sizeof key; kl += 9998) {
      key[0] = (char)i;
      struct shdict_value v = S(val, sizes[i]);
      T_ASSERT_EQ(shdict_set(d, key, kl, &v, 0, 0, NULL), 0);
      memset(back, 0, sizeof back);
      T_ASSERT_EQ(shdict_get(d, key, kl, &out, back, sizeof back), 0);
      T_ASSERT_EQ(out.len, sizes[i]);
      T_ASSERT(memcmp(back, val, sizes[i]) == 0);
      CHECK(d);
    }
  }
  key[0] = 0; /* replace in place (same pages) and across sizes */
  struct shdict_value v = S(val + 1, 2017);
  T_ASSERT_EQ(shdict_replace(d, key, 1, &v, 0), 0);
  T_ASSERT_EQ(shdict_get(d, key, 1, &out, back, sizeof back), 0);
  T_ASSERT(out.len == 2017 && memcmp(back, val + 1, 2017) == 0);
  v.len = 9;
  T_ASSERT_EQ(shdict_replace(d, key, 1, &v, 0), 0);
  size_t len;
  v.len = 30000;
  T_ASSERT_EQ(shdict_push(d, key, 10000, SHDICT_RIGHT, &v, &len), 0);
  T_ASSERT_EQ(shdict_push(d, key, 10000, SHDICT_LEFT, &v, &len), 0);
  T_ASSERT_EQ(shdict_pop(d, key, 10000, SHDICT_RIGHT, &out, back, 10),
              SHDICT_ESPACE);
  T_ASSERT_EQ(shdict_pop(d, key, 10000, SHDICT_RIGHT, &out, back, sizeof back),
              0);
  T_ASSERT(out.len == 30000 && memcmp(back, val + 1, 30000) == 0);
  CHECK(d);
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    key[0] = (char)i;
    shdict_delete(d, key, 1);
    shdict_delete(d, key, 9999);
  }
  key[0] = 0;
  T_ASSERT_EQ(shdict_delete(d, key, 10000), 0);
  T_ASSERT_EQ(stats(d).used, 0);
  CHECK(d);
  shdict_release(d);
}

/* ---- compaction and the guarantee --------------------------------------- */

/* Value bytes for key i: recognisable, so a moved item can be verified. */
static void pattern(char *v, size_t n, unsigned i) {
  for (size_t j = 0; j < n; j++)
    v[j] = (char)(i * 13 + j);
}

/* add (or replace) key i with a patterned value of vlen bytes; returns
 * the result, and if it is ENOMEM, whether the guarantee allowed it. */
static int put_n(struct shdict *d, unsigned i, size_t vlen, int replace,
                 size_t old_len, int *allowed) {
  static char val[20000];
  char k[16];
  keyname(k, i);
  pattern(val, vlen, i);
  struct shdict_value v = S(val, vlen), old = S(val, old_len);
  struct shdict_stats st = stats(d);
  int r = replace ? shdict_replace(d, k, strlen(k), &v, 0)
                  : shdict_add(d, k, strlen(k), &v, 0);
  if (r == SHDICT_ENOMEM) {
    uint64_t keep = replace ? shdict_charge(d, strlen(k), &old, 0) : 0;
    *allowed =
        st.used - keep + shdict_charge(d, strlen(k), &v, 0) > st.capacity;
  }
  return r;
}

/* Whether key i holds a patterned value of vlen bytes. */
static int holds_n(struct shdict *d, unsigned i, size_t vlen) {
  static char buf[20000], want[20000];
  char k[16];
  struct shdict_value out;
  keyname(k, i);
  if (shdict_get(d, k, strlen(k), &out, buf, sizeof buf) != 0)
    return 0;
  pattern(want, vlen, i);
  return out.type == SHDICT_STRING && out.len == vlen &&
         memcmp(buf, want, vlen) == 0;
}

static void fragmentation_never_refuses(void) {
  struct shdict *d = mk(MIB);
  int allowed = 1;
  unsigned na = 0;
  while (put_n(d, na, 30, 0, 0, &allowed) == 0)
    na++;
  T_ASSERT(allowed);
  char k[16];
  for (unsigned i = 0; i < na; i += 2) {
    keyname(k, i);
    T_ASSERT_EQ(shdict_delete(d, k, strlen(k)), 0);
  }
  CHECK(d);
  /* Every page of the small class is now half empty; the big class can
   * only grow if those pages are packed. */
  unsigned nb = 0;
  while (put_n(d, 1000000 + nb, 300, 0, 0, &allowed) == 0)
    nb++;
  T_ASSERT(allowed);
  T_ASSERT(nb > na / 2 * 40 / 400); /* about half the memory came back */
  T_ASSERT(stats(d).moves > 0);
  for (unsigned i = 1; i < na; i += 2)
    T_ASSERT(holds_n(d, i, 30));
  for (unsigned i = 0; i < nb; i++)
    T_ASSERT(holds_n(d, 1000000 + i, 300));
  CHECK(d);
  shdict_release(d);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

#define NKEYS 1000000u
#define CHURN_OPS 2000000u

static void a_million_keys_fill_and_churn(void) {
  struct shdict *d = mk(32 * MIB);
  uint32_t *model = calloc(NKEYS, sizeof *model); /* length + 1; 0 absent */
  T_ASSERT(model != NULL);
  unsigned refused = 0, bad = 0, wrong = 0;
  int allowed = 1;
  for (unsigned i = 0; i < NKEYS; i++) {
    size_t len = rnd() % 17;
    int r = put_n(d, i, len, 0, 0, &allowed);
    if (r == 0)
      model[i] = (uint32_t)len + 1;
    else if (r != SHDICT_ENOMEM || !allowed)
      bad++;
    else
      refused++;
  }
  T_ASSERT_EQ(bad, 0);
  T_ASSERT(refused > 0 && refused < NKEYS / 2); /* it did fill up */
  CHECK(d);
  /* Churn with other sizes, so the classes in use shift and pages must
   * move between them. */
  for (unsigned op = 0; op < CHURN_OPS; op++) {
    unsigned i = rnd() % NKEYS, what = rnd() % 100;
    char k[16];
    keyname(k, i);
    if (what < 40) {
      int r = shdict_delete(d, k, strlen(k));
      wrong += r != (model[i] ? 0 : SHDICT_ENOTFOUND);
      model[i] = 0;
    } else if (what < 90) {
      int replace = what >= 70;
      size_t len = rnd() % 500 == 0 ? 2000 + rnd() % 15000
                                    : rnd() % (replace ? 300 : 160);
      int r = put_n(d, i, len, replace, model[i] ? model[i] - 1 : 0, &allowed);
      if (r == 0)
        model[i] = (uint32_t)len + 1;
      else if (r == SHDICT_ENOMEM)
        bad += !allowed;
      else
        wrong += r != (replace ? SHDICT_ENOTFOUND : SHDICT_EEXISTS);
    } else {
      wrong += model[i] ? !holds_n(d, i, model[i] - 1) : holds_n(d, i, 0);
    }
    if (op == CHURN_OPS / 2)
      CHECK(d);
  }
  T_ASSERT_EQ(bad, 0);
  T_ASSERT_EQ(wrong, 0);
  struct shdict_stats st = stats(d);
  printf("# churn: %llu items, used %llu of %llu, %llu moves, %u refused "
         "while filling\n",
         (unsigned long long)st.items, (unsigned long long)st.used,
         (unsigned long long)st.capacity, (unsigned long long)st.moves,
         refused);
  T_ASSERT(st.moves > 0);
  CHECK(d);
  for (unsigned i = 0; i < NKEYS; i += 97)
    T_ASSERT(model[i] ? holds_n(d, i, model[i] - 1) : !holds_n(d, i, 0));
  free(model);
  shdict_release(d);
}

/* ---- threads ------------------------------------------------------------- */

struct worker {
  struct shdict *d;
  unsigned n;
  unsigned failures;
};

static void incr_loop(void *p) {
  struct worker *w = p;
  struct shdict_value one = I(1), zero = I(0), out;
  for (unsigned i = 0; i < w->n; i++)
    w->failures += shdict_incr(w->d, K("ctr"), &one, &zero, 0, &out) != 0;
}

static void threads_count_exactly(int nthreads) {
  struct shdict *d = mk(MIB);
  struct worker w[4];
  sys_thread t[4];
  for (int i = 0; i < nthreads; i++) {
    w[i] = (struct worker){d, 1000000u / (unsigned)nthreads, 0};
    T_ASSERT_EQ(sys_thread_start(&t[i], incr_loop, &w[i]), 0);
  }
  for (int i = 0; i < nthreads; i++)
    sys_thread_join(t[i]);
  for (int i = 0; i < nthreads; i++)
    T_ASSERT_EQ(w[i].failures, 0);
  struct shdict_value out;
  T_ASSERT_EQ(shdict_get(d, K("ctr"), &out, NULL, 0), 0);
  T_ASSERT_EQ(out.type, SHDICT_INT);
  T_ASSERT_EQ(out.v.i, 1000000);
  CHECK(d);
  shdict_release(d);
}

static void two_threads_count_exactly(void) { threads_count_exactly(2); }
static void four_threads_count_exactly(void) { threads_count_exactly(4); }

static void mixed_loop(void *p) {
  struct worker *w = p;
  uint64_t x = (uint64_t)(size_t)p | 1; /* a generator per thread */
  char k[16];
  for (unsigned i = 0; i < w->n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    unsigned key = (unsigned)(x >> 20) % 20000;
    if (i % 3 == 0) {
      w->failures += set_n(w->d, key, key % 200, NULL) != 0;
    } else if (i % 3 == 1) {
      has_n(w->d, key);
    } else {
      keyname(k, key);
      shdict_delete(w->d, k, strlen(k));
    }
  }
}

static void threads_mix_writes_and_reads(void) {
  struct shdict *d = shdict_new(SHDICT_MIN_SIZE, 0); /* evicting often */
  struct worker w[2] = {{d, 200000, 0}, {d, 200000, 0}};
  sys_thread t[2];
  for (int i = 0; i < 2; i++)
    T_ASSERT_EQ(sys_thread_start(&t[i], mixed_loop, &w[i]), 0);
  for (int i = 0; i < 2; i++)
    sys_thread_join(t[i]);
  T_ASSERT_EQ(w[0].failures + w[1].failures, 0);
  T_ASSERT(stats(d).evictions > 0);
  CHECK(d);
  shdict_release(d);
}

/* ---- the fault walk ------------------------------------------------------ */

static void fault_walk_leaves_the_dict_consistent(void) {
#ifdef HOST_FAULT_INJECTION
  int fired = 0;
  for (long k = 1; k < 100; k++) {
    fault_arm(FAULT_C, k);
    int err = 0;
    struct shdict *d = shdict_open(K("walk"), MIB, &err);
    if (!d) {
      T_ASSERT_EQ(err, SHDICT_ENOMEM);
    } else {
      for (unsigned i = 0; i < 5000; i++) /* the index grows 3 times */
        T_ASSERT_EQ(set_n(d, i, 10, NULL), 0);
      for (unsigned i = 0; i < 5000; i++)
        T_ASSERT(has_n(d, i));
      CHECK(d);
      shdict_release(d);
    }
    long left = fault_left(FAULT_C);
    fault_arm(FAULT_C, 0);
    if (left > 0)
      break; /* went past the last allocation */
    fired++;
  }
  T_ASSERT(fired >= 8); /* 5 at creation + 3 growths */
#else
  printf("# fault walk skipped: build with -DHOST_FAULT_INJECTION=ON\n");
#endif
}

int main(void) {
  sys_init();
  T_RUN(siphash13_matches_reference);
  T_RUN(sizes_and_page_sizes);
  T_RUN(named_dictionaries_are_shared);
  T_RUN(error_words);
  T_RUN(types_round_trip);
  T_RUN(binary_keys_and_values);
  T_RUN(get_into_a_small_buffer);
  T_RUN(add_replace_delete);
  T_RUN(incr_follows_lua_arithmetic);
  T_RUN(ttl_expires_without_sleeping);
  T_RUN(writes_reclaim_expired_items_at_the_tail);
  T_RUN(keys_is_a_bounded_snapshot);
  T_RUN(lists_push_and_pop);
  T_RUN(list_ops_on_other_values);
  T_RUN(set_evicts_least_recently_used);
  T_RUN(an_expired_tail_goes_before_live_items);
  T_RUN(only_set_evicts);
  T_RUN(largest_value_and_one_byte_more);
  T_RUN(big_values_and_keys_span_pages);
  T_RUN(fragmentation_never_refuses);
  T_RUN(a_million_keys_fill_and_churn);
  T_RUN(two_threads_count_exactly);
  T_RUN(four_threads_count_exactly);
  T_RUN(threads_mix_writes_and_reads);
  T_RUN(fault_walk_leaves_the_dict_consistent);
  return test_report();
}
