/*
 * test_lcodec.c -- messages between VMs: every type round trip, integers
 * kept apart from floats, NaN/inf/-0.0/mininteger, big strings, nested
 * and shared tables, every error with its path, malformed input, the
 * fault walk on the buffer, and the cost of a small message.
 *
 * The cases are Lua chunks run in a real VM with two helpers: rt(...)
 * encodes its arguments, decodes them into the same VM and returns them;
 * post(w, ...) does the same from argument 2, as host.post will.
 */
#include "fault.h"
#include "io.h"
#include "lcodec.h"
#include "t.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

static struct lcodec_buf buf; /* kept across raises, as a worker would */

static int roundtrip_from(lua_State *L, int first) {
  int n = lua_gettop(L) - first + 1;
  lcodec_encode(L, first, n, &buf);
  int top = lua_gettop(L);
  int got = lcodec_decode(L, buf.data, buf.len);
  if (got != n)
    return luaL_error(L, "decoded %d values of %d", got, n);
  return lua_gettop(L) - top;
}

static int l_rt(lua_State *L) { return roundtrip_from(L, 1); }
static int l_post(lua_State *L) { return roundtrip_from(L, 2); }

/* setmax(n): the largest message; msglen(): the last message's bytes. */
static int l_setmax(lua_State *L) {
  buf.max = (size_t)luaL_checkinteger(L, 1);
  return 0;
}
static int l_msglen(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)buf.len);
  return 1;
}
static int l_newud(lua_State *L) {
  lua_newuserdatauv(L, 8, 0);
  return 1;
}
static int l_lightud(lua_State *L) {
  lua_pushlightuserdata(L, &buf);
  return 1;
}

static lua_State *vm(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_register(L, "rt", l_rt);
  lua_register(L, "post", l_post);
  lua_register(L, "setmax", l_setmax);
  lua_register(L, "msglen", l_msglen);
  lua_register(L, "newud", l_newud);
  lua_register(L, "lightud", l_lightud);
  /* checkerr(msg, f, ...): f(...) raises an error containing msg. */
  (void)luaL_dostring(
      L, "function checkerr(msg, f, ...)\n"
         "  local ok, err = pcall(f, ...)\n"
         "  assert(not ok, 'no error, expected: ' .. msg)\n"
         "  if not string.find(err, msg, 1, true) then\n"
         "    error('error \"' .. tostring(err) .. '\", expected \"'"
         " .. msg .. '\"', 2)\n"
         "  end\n"
         "end");
  return L;
}

/* Runs chunk in a fresh VM; fails the test with Lua's message. */
#define RUN(chunk)                                                             \
  do {                                                                         \
    lua_State *L_ = vm();                                                      \
    lcodec_buf_init(&buf, 64u << 20);                                          \
    int r_ = luaL_dostring(L_, chunk);                                         \
    const char *m_ = r_ ? lua_tostring(L_, -1) : "";                           \
    char msg_[512];                                                            \
    snprintf(msg_, sizeof msg_, "%s", m_ ? m_ : "(error object)");             \
    lua_close(L_);                                                             \
    lcodec_buf_free(&buf);                                                     \
    T_ASSERT_STREQ(msg_, "");                                                  \
  } while (0)

static void scalars_round_trip(void) {
  RUN("local vals = {n = 12, true, false, 0, 1, -1, 127, 128, -128, -129,\n"
      "  math.maxinteger, math.mininteger, 1.5, 1e308, 2^53, 3.0, 'x'}\n"
      "local out = table.pack(rt(table.unpack(vals, 1, vals.n)))\n"
      "assert(out.n == vals.n)\n"
      "for i = 1, vals.n do\n"
      "  assert(out[i] == vals[i], i)\n"
      "  assert(math.type(out[i]) == math.type(vals[i]), i)\n"
      "end\n"
      "assert(math.type(select(1, rt(3.0))) == 'float')\n"
      "assert(math.type(select(1, rt(3))) == 'integer')\n"
      "assert(select('#', rt()) == 0)\n"
      "local a, b, c = rt(nil, 1, nil)\n"
      "assert(a == nil and b == 1 and c == nil)\n"
      "assert(select('#', rt(nil, nil)) == 2)\n");
}

static void special_floats_round_trip(void) {
  RUN("local nan, inf, nz = rt(0/0, math.huge, -0.0)\n"
      "assert(nan ~= nan)\n"
      "assert(inf == math.huge)\n"
      "assert(nz == 0 and 1/nz == -math.huge)\n"
      "assert(select(1, rt(-math.huge)) == -math.huge)\n"
      "assert(select(1, rt(math.mininteger)) == math.mininteger)\n"
      "assert(math.type(select(1, rt(math.mininteger))) == 'integer')\n");
}

static void strings_round_trip(void) {
  RUN("for _, n in ipairs{0, 1, 255, 256, 65537, 1 << 20} do\n"
      "  local s = string.rep('a\\0b', n // 3 + 1):sub(1, n)\n"
      "  assert(#s == n)\n"
      "  assert(select(1, rt(s)) == s, n)\n"
      "end\n"
      "local bin = ''\n"
      "for i = 0, 255 do bin = bin .. string.char(i) end\n"
      "assert(select(1, rt(bin)) == bin)\n"
      "local big = string.rep('z', 8 << 20)\n"
      "assert(select(1, rt(big)) == big)\n"
      "assert(msglen() > 8 << 20)\n");
}

static void tables_round_trip(void) {
  RUN("local t = {1, 2, 'three', {4, {5}}, x = 1, ['a b'] = true,\n"
      "  [1.5] = 'f', [true] = false, [false] = 0, [-3] = -3, [0] = 0,\n"
      "  nested = {deep = {deeper = {'bottom'}}}}\n"
      "local u = rt(t)\n"
      "assert(u ~= t)\n"
      "assert(u[1] == 1 and u[2] == 2 and u[3] == 'three')\n"
      "assert(u[4][1] == 4 and u[4][2][1] == 5)\n"
      "assert(u.x == 1 and u['a b'] == true and u[1.5] == 'f')\n"
      "assert(u[true] == false and u[false] == 0)\n"
      "assert(u[-3] == -3 and u[0] == 0)\n"
      "assert(u.nested.deep.deeper[1] == 'bottom')\n"
      "local n = 0\n"
      "for _ in pairs(u) do n = n + 1 end\n"
      "assert(n == 12, n)\n"
      "local holes = rt({1, nil, 3, [10] = 10})\n"
      "assert(holes[1] == 1 and holes[2] == nil and holes[3] == 3)\n"
      "assert(holes[10] == 10)\n"
      "local big = {}\n"
      "for i = 1, 10000 do big[i] = i; big['k' .. i] = i * 1.0 end\n"
      "local b = rt(big)\n"
      "for i = 1, 10000 do\n"
      "  assert(b[i] == i and math.type(b['k' .. i]) == 'float')\n"
      "end\n"
      "local mt = setmetatable({v = 1}, {__index = function() return 9 end})\n"
      "local m = rt(mt)\n"
      "assert(getmetatable(m) == nil and m.v == 1 and m.other == nil)\n");
}

static void shared_subtables_arrive_as_copies(void) {
  RUN("local shared = {v = 1}\n"
      "local t = rt({a = shared, b = shared, list = {shared, shared}})\n"
      "assert(t.a.v == 1 and t.b.v == 1)\n"
      "assert(t.a ~= t.b)\n"
      "assert(t.list[1] ~= t.list[2])\n"
      "local x, y = rt(shared, shared)\n"
      "assert(x ~= y and x.v == 1 and y.v == 1)\n");
}

static void depth_limit(void) {
  RUN("local function nest(n)\n"
      "  local t = {}\n"
      "  local cur = t\n"
      "  for i = 2, n do cur.a = {}; cur = cur.a end\n"
      "  return t\n"
      "end\n"
      "local ok = rt(nest(100))\n"
      "local n = 0\n"
      "while ok do n = n + 1; ok = ok.a end\n"
      "assert(n == 100, n)\n"
      "checkerr(\"too deeply nested (in argument 1, field \"\n"
      "  .. \"'a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a...')\", rt, nest(101))\n");
}

static void what_cannot_be_sent(void) {
  RUN("checkerr('cannot send a function (in argument 1)', rt, print)\n"
      "checkerr(\"cannot send a function (in argument 2, field 'cb')\",\n"
      "  post, 1, {cb = function() end})\n"
      "checkerr(\"cannot send a function (in argument 3, field 'a.b[3]')\",\n"
      "  rt, 1, 2, {a = {b = {1, 2, print}}})\n"
      "checkerr(\"cannot send a coroutine (in argument 1, field 'co')\",\n"
      "  rt, {co = coroutine.create(print)})\n"
      "checkerr('cannot send a userdata (in argument 1)', rt, newud())\n"
      "checkerr(\"cannot send a userdata (in argument 1, field '[2]')\",\n"
      "  rt, {1, lightud()})\n"
      "checkerr(\"(in argument 1, field '[\\\"a b\\\"]')\", rt,\n"
      "  {['a b'] = print})\n"
      "checkerr(\"(in argument 1, field '[1.5]')\", rt, {[1.5] = print})\n"
      "checkerr(\"(in argument 1, field '[true]')\", rt, {[true] = print})\n"
      "checkerr(\"(in argument 1, field '[?]')\", rt, {['\\0'] = print})\n"
      "checkerr(\"(in argument 1, field 'x[-7]')\", rt, {x = {[-7] = "
      "print}})\n");
}

static void cycles_and_bad_keys(void) {
  RUN("local t = {}\n"
      "t.self = t\n"
      "checkerr(\"cannot send a table that contains itself \"\n"
      "  .. \"(in argument 1, field 'self')\", rt, t)\n"
      "local a = {b = {c = {}}}\n"
      "a.b.c.back = a\n"
      "checkerr(\"cannot send a table that contains itself \"\n"
      "  .. \"(in argument 2, field 'b.c.back')\", rt, 1, a)\n"
      "local l = {1, 2}\n"
      "l[3] = l\n"
      "checkerr(\"contains itself (in argument 1, field '[3]')\", rt, l)\n"
      "checkerr(\"cannot send a table key of type table (in argument 1, \"\n"
      "  .. \"field 'inner')\", rt, {inner = {[{}] = 1}})\n"
      "checkerr('cannot send a table key of type function (in argument 1)',\n"
      "  rt, {[print] = 1})\n"
      "checkerr('cannot send a table key of type coroutine (in argument 1)',\n"
      "  rt, {[coroutine.create(print)] = 1})\n"
      "checkerr('cannot send a table key of type userdata (in argument 1)',\n"
      "  rt, {[newud()] = 1})\n");
}

static void message_size_limit(void) {
  RUN("setmax(100)\n"
      "checkerr('message too large', rt, string.rep('x', 100))\n"
      "checkerr('message too large', rt, {string.rep('x', 50),\n"
      "  string.rep('y', 50)})\n"
      "local s = string.rep('x', 100 - 4 - 2)\n"
      "assert(select(1, rt(s)) == s)\n" /* exactly 100 bytes */
      "assert(msglen() == 100)\n"
      "checkerr('message too large', rt, s .. 'x')\n"
      "setmax(64 << 20)\n"
      "assert(select(1, rt('ok')) == 'ok')\n");
}

/* ---- decoding checks its input ------------------------------------------- */

static void malformed_input_is_refused(void) {
  lua_State *L = vm();
  lcodec_buf_init(&buf, 1u << 20);
  T_ASSERT_EQ(luaL_dostring(L, "return 1, 'two', {3, x = {4.5, true}}, "
                               "string.rep('s', 300), -1000000"),
              LUA_OK);
  lcodec_encode(L, 1, 5, &buf);
  lua_settop(L, 0);
  T_ASSERT_EQ(lcodec_decode(L, buf.data, buf.len), 5);
  T_ASSERT_EQ(lua_gettop(L), 5);
  lua_settop(L, 0);
  for (size_t cut = 0; cut < buf.len; cut++) { /* every truncation */
    T_ASSERT_EQ(lcodec_decode(L, buf.data, cut), -1);
    T_ASSERT_EQ(lua_gettop(L), 0);
  }
  unsigned char more[4096];
  memcpy(more, buf.data, buf.len);
  more[buf.len] = 0; /* trailing garbage */
  T_ASSERT_EQ(lcodec_decode(L, more, buf.len + 1), -1);
  T_ASSERT_EQ(lua_gettop(L), 0);
  more[4] = 99; /* an unknown tag */
  T_ASSERT_EQ(lcodec_decode(L, more, buf.len), -1);
  uint32_t huge = 0x7fffffff; /* more values than bytes */
  memcpy(more, &huge, 4);
  T_ASSERT_EQ(lcodec_decode(L, more, buf.len), -1);
  /* A table whose key is NaN or nil: lua_rawset would raise. */
  unsigned char nankey[] = {1, 0, 0, 0, 8, 0, 0, 0, 0,    1,    0, 0,
                            0, 5, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 2};
  T_ASSERT_EQ(lcodec_decode(L, nankey, sizeof nankey), -1);
  unsigned char nilkey[] = {1, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2};
  T_ASSERT_EQ(lcodec_decode(L, nilkey, sizeof nilkey), -1);
  nilkey[13] = 2; /* the same with key true decodes */
  T_ASSERT_EQ(lcodec_decode(L, nilkey, sizeof nilkey), 1);
  lua_settop(L, 0);
  /* Counts that claim more than the input holds. */
  unsigned char liar[] = {1, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0};
  T_ASSERT_EQ(lcodec_decode(L, liar, sizeof liar), -1);
  T_ASSERT_EQ(lua_gettop(L), 0);
  lua_close(L);
  lcodec_buf_free(&buf);
}

static void encode_leaves_the_stack_alone(void) {
  lua_State *L = vm();
  lcodec_buf_init(&buf, 1u << 20);
  T_ASSERT_EQ(luaL_dostring(L, "return 'a', {b = {c = {1, 2, 3}}}, 7"), LUA_OK);
  lcodec_encode(L, 1, 3, &buf);
  T_ASSERT_EQ(lua_gettop(L), 3);
  lcodec_encode(L, -2, 2, &buf); /* relative slots work too */
  T_ASSERT_EQ(lua_gettop(L), 3);
  T_ASSERT_EQ(lcodec_decode(L, buf.data, buf.len), 2);
  T_ASSERT_EQ(lua_tointeger(L, -1), 7);
  lua_close(L);
  lcodec_buf_free(&buf);
}

#ifdef HOST_FAULT_INJECTION
static int encode_all(lua_State *L) {
  lcodec_encode(L, 1, lua_gettop(L), &buf);
  return 0;
}
#endif

static void fault_walk_on_the_buffer(void) {
#ifdef HOST_FAULT_INJECTION
  lua_State *L = vm();
  int fired = 0;
  for (long k = 1; k < 50; k++) {
    lcodec_buf_init(&buf, 64u << 20);
    fault_arm(FAULT_C, k);
    lua_pushcfunction(L, encode_all);
    lua_pushstring(L, "small");
    (void)luaL_dostring(L, "return string.rep('x', 100000)");
    (void)luaL_dostring(L, "return string.rep('y', 1000000)");
    int r = lua_pcall(L, 3, 0, 0);
    long left = fault_left(FAULT_C);
    fault_arm(FAULT_C, 0);
    if (r != LUA_OK) {
      T_ASSERT(strstr(lua_tostring(L, -1), "not enough memory") != NULL);
      lua_pop(L, 1);
      fired++;
    }
    lcodec_buf_free(&buf); /* the caller's, whatever happened */
    if (left > 0)
      break;
  }
  T_ASSERT(fired >= 3); /* the first allocation and two growths at least */
  lua_close(L);
#else
  printf("# fault walk skipped: build with -DHOST_FAULT_INJECTION=ON\n");
#endif
}

/* ---- cost ------------------------------------------------------------------
 */

static double now_ns(void) { return (double)io_clock(); }

static void small_message_cost(void) {
  lua_State *L = vm();
  lcodec_buf_init(&buf, 1u << 20);
  T_ASSERT_EQ(luaL_dostring(L, "return 'hello', 42, {id = 7, ok = true, "
                               "name = 'x'}"),
              LUA_OK);
  int iters = 200000;
  double best = 1e18;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
      lcodec_encode(L, 1, 3, &buf);
      lcodec_decode(L, buf.data, buf.len);
      lua_settop(L, 3);
    }
    double ns = (now_ns() - t0) / iters;
    if (ns < best)
      best = ns;
  }
  printf("# encode+decode of ('hello', 42, {id=7, ok=true, name='x'}): "
         "%.0f ns, %zu bytes\n",
         best, buf.len);
  T_ASSERT(best > 0);
  lua_gc(L, LUA_GCCOLLECT);
  lua_close(L);
  lcodec_buf_free(&buf);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "cost") == 0) { /* the measure alone */
    T_RUN(small_message_cost);
    return test_report();
  }
  T_RUN(scalars_round_trip);
  T_RUN(special_floats_round_trip);
  T_RUN(strings_round_trip);
  T_RUN(tables_round_trip);
  T_RUN(shared_subtables_arrive_as_copies);
  T_RUN(depth_limit);
  T_RUN(what_cannot_be_sent);
  T_RUN(cycles_and_bad_keys);
  T_RUN(message_size_limit);
  T_RUN(malformed_input_is_refused);
  T_RUN(encode_leaves_the_stack_alone);
  T_RUN(fault_walk_on_the_buffer);
  T_RUN(small_message_cost);
  return test_report();
}
