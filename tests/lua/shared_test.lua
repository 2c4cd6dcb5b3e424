-- host.shared: the dictionary every worker shares.  `host test` runs one
-- worker; what several workers see of one dictionary is in
-- tests/e2e/coop_test.py.
local host = require "host"

-- A fresh dictionary for each test that needs one (names are process-wide).
local n = 0
local function fresh(size_mb)
  n = n + 1
  return host.shared("test" .. n, size_mb)
end

describe("host.shared", function()
  it("returns the same dictionary for the same name", function()
    local a = host.shared("same")
    assert.equal(a, host.shared("same"))
    assert.equal(a, host.shared("same", 16)) -- the default size
    assert.equal("host.shared (same)", tostring(a))
    a:set("k", 1)
    assert.equal(1, host.shared("same"):get("k"))
    assert.are_not.equal(a, host.shared("other"))
  end)

  it("creates with size_mb; a different size raises", function()
    local d = host.shared("sized", 1)
    local st = d:stats()
    assert.equal(1048576, st.size)
    assert.truthy(st.capacity <= st.size and st.capacity > st.size * 0.9)
    assert.equal(d, host.shared("sized"))
    assert.equal(d, host.shared("sized", 1))
    checkerr("'sized' exists with 1 MB, not 2 MB", host.shared, "sized", 2)
    checkerr("exists with 1 MB, not 0.5 MB", host.shared, "sized", 0.5)
  end)

  it("raises on a bad name or size", function()
    checkerr("bad argument #1 to 'host.shared' (string expected, got no value)",
             host.shared)
    checkerr("(string expected, got table)", host.shared, {})
    checkerr("size out of range (0.25 to 4000 MB)", host.shared, "tiny", 0.1)
    checkerr("size out of range", host.shared, "huge", 5000)
    checkerr("size out of range", host.shared, "neg", -1)
    checkerr("number expected, got string", host.shared, "s", "big")
  end)
end)

describe("get and set", function()
  it("keeps strings binary-safe", function()
    local d = fresh()
    local bin = "a\0b\0\255\0" .. string.rep("\0", 1000)
    assert.is_true(d:set("bin", bin))
    assert.equal(bin, d:get("bin"))
    assert.is_true(d:set("", "empty key"))
    assert.equal("empty key", d:get(""))
    assert.is_true(d:set("empty", ""))
    assert.equal("", d:get("empty"))
    local key = "k\0ey"
    d:set(key, 1)
    assert.equal(1, d:get(key))
    assert.is_nil(d:get("k"))
  end)

  it("keeps integers and floats apart", function()
    local d = fresh()
    local cases = { 0, 1, -1, 3.0, 0.5, -0.0, math.maxinteger, math.mininteger,
                    math.huge, -math.huge, 2^53, 1e308 }
    for i, v in ipairs(cases) do
      d:set("n" .. i, v)
      local got = d:get("n" .. i)
      assert.equal(math.type(v), math.type(got))
      assert.equal(v, got)
    end
    d:set("negzero", -0.0)
    assert.equal("-0.0", tostring(d:get("negzero")))
    d:set("nan", 0 / 0)
    local nan = d:get("nan")
    assert.truthy(nan ~= nan)
  end)

  it("keeps booleans, and a large value", function()
    local d = fresh()
    d:set("t", true)
    d:set("f", false)
    assert.is_true(d:get("t"))
    assert.is_false(d:get("f"))
    local big = string.rep("0123456789", 100000) -- 1 MB: past the scratch
    assert.is_true(d:set("big", big))
    assert.equal(big, d:get("big"))
    assert.equal(big, d:get("big"))
  end)

  it("returns nil for a missing key; set(k, nil) deletes", function()
    local d = fresh()
    assert.is_nil(d:get("nope"))
    d:set("k", "v")
    assert.is_true(d:set("k", nil))
    assert.is_nil(d:get("k"))
  end)

  it("overwrites a value of any type with any other", function()
    local d = fresh()
    d:set("k", "string")
    d:set("k", 12)
    assert.equal(12, d:get("k"))
    d:rpush("k2", "x")
    assert.is_true(d:set("k2", false))
    assert.is_false(d:get("k2"))
  end)

  it("raises on misuse", function()
    local d = fresh()
    local fake = { get = d.get }
    checkerr("calling 'get' on bad self (host.shared expected, got table)",
             function() return fake:get("k") end)
    checkerr("bad argument #1 to 'get' (host.shared expected, got string)",
             function() return d.get("k") end)
    checkerr("(host.shared expected, got no value)", d.get)
    checkerr("(string expected, got number)", d.get, d, 1)
    checkerr("(string expected, got nil)", d.set, d, nil, 1)
    checkerr("(string, number or boolean expected, got table)", d.set, d, "k", {})
    checkerr("(string, number or boolean expected, got function)", d.set, d, "k", print)
    checkerr("ttl must be >= 0 seconds", d.set, d, "k", 1, -1)
    checkerr("number expected, got string", d.set, d, "k", 1, "soon")
    checkerr("key longer than 65535 bytes", d.set, d, string.rep("k", 65536), 1)
    checkerr("key longer than 65535 bytes", d.get, d, string.rep("k", 65536))
    assert.is_true(d:set(string.rep("k", 65535), 1))
  end)
end)

describe("size limits and eviction", function()
  it("stores a value as large as the dictionary allows, not one more", function()
    local d = fresh(1)
    local st = d:stats()
    local max = (st.capacity // st.page_size) * st.page_size - 32 - #"big"
    assert.same({ true }, { d:set("big", string.rep("x", max)) })
    assert.equal(max, #d:get("big"))
    assert.same({ true, "evicted" }, { d:set("bag", string.rep("y", max)) })
    assert.is_nil(d:get("big")) -- had to go
    assert.equal(string.rep("y", max), d:get("bag"))
    assert.same({ nil, "too large" }, { d:set("big2", string.rep("x", max + 1)) })
    assert.same({ nil, "too large" }, { d:add("big2", string.rep("x", st.size)) })
    assert.same({ nil, "too large" }, { d:rpush("l", string.rep("x", st.size)) })
  end)

  it("evicts the least recently used items when full, and says so", function()
    local d = fresh(0.25)
    local val = string.rep("v", 1000)
    local i, evicted = 0, nil
    repeat
      i = i + 1
      local ok, why = d:set("k" .. i, val)
      assert.is_true(ok)
      if i == 10 then d:get("k1") end -- k1 is recent again
      evicted = why
    until evicted == "evicted" or i > 10000
    assert.equal("evicted", evicted)
    assert.equal(1, d:stats().evictions)
    assert.equal(val, d:get("k1")) -- touched: kept
    assert.is_nil(d:get("k2"))     -- least recently used: gone
    assert.equal(val, d:get("k3"))
    assert.equal(val, d:get("k" .. i))
  end)

  it("add and replace never evict: nil, 'no memory'", function()
    local d = fresh(0.25)
    local val = string.rep("v", 1000)
    local i = 0
    while true do
      i = i + 1
      local ok, err = d:add("k" .. i, val)
      if not ok then
        assert.equal("no memory", err)
        break
      end
    end
    local st = d:stats()
    assert.equal(0, st.evictions)
    assert.equal(i - 1, st.items)
    assert.truthy(st.capacity - st.used < 2 * (#val + 64))
    -- replace with a bigger value than there is room for
    assert.same({ nil, "no memory" }, { d:replace("k1", string.rep("v", 20000)) })
    assert.equal(val, d:get("k1"))
    assert.same({ nil, "no memory" }, { d:lpush("list", string.rep("x", 5000)) })
    assert.equal(0, d:stats().evictions)
    -- set does evict
    local ok, why = d:set("new", val)
    assert.is_true(ok)
    assert.equal("evicted", why)
  end)
end)

describe("add, replace, delete", function()
  it("add stores only an absent key", function()
    local d = fresh()
    assert.is_true(d:add("k", 1))
    assert.same({ nil, "exists" }, { d:add("k", 2) })
    assert.equal(1, d:get("k"))
    checkerr("(string, number or boolean expected, got no value)", d.add, d, "k")
    checkerr("(string, number or boolean expected, got nil)", d.add, d, "k", nil, 1)
  end)

  it("replace stores only a present key", function()
    local d = fresh()
    assert.same({ nil, "not found" }, { d:replace("k", 1) })
    assert.is_nil(d:get("k"))
    d:set("k", 1)
    assert.is_true(d:replace("k", "two"))
    assert.equal("two", d:get("k"))
  end)

  it("delete says whether the key was there", function()
    local d = fresh()
    d:set("k", 1)
    assert.is_true(d:delete("k"))
    assert.is_false(d:delete("k"))
    assert.is_nil(d:get("k"))
  end)
end)

describe("expiry", function()
  it("a key expires after its ttl", function()
    local d = fresh()
    assert.is_true(d:set("k", "v", 0.3))
    d:set("forever", "v")
    assert.equal("v", d:get("k"))
    local left = d:ttl("k")
    assert.truthy(left > 0 and left <= 0.3)
    assert.equal(0, d:ttl("forever"))
    host.sleep(0.35)
    assert.is_nil(d:get("k"))
    assert.same({ nil, "not found" }, { d:ttl("k") })
    assert.equal("v", d:get("forever"))
    assert.truthy(d:stats().expired >= 1)
  end)

  it("add takes an expired key; replace does not see it", function()
    local d = fresh()
    d:set("a", 1, 0.01)
    d:set("r", 1, 0.01)
    host.sleep(0.03)
    assert.same({ nil, "not found" }, { d:replace("r", 2) })
    assert.is_true(d:add("a", 2))
    assert.equal(2, d:get("a"))
    assert.equal(0, d:ttl("a"))
  end)

  it("expire sets, changes and removes a ttl", function()
    local d = fresh()
    d:set("k", 1)
    assert.is_true(d:expire("k", 0.5))
    assert.truthy(d:ttl("k") > 0 and d:ttl("k") <= 0.5)
    assert.is_true(d:expire("k", 0)) -- never again
    assert.equal(0, d:ttl("k"))
    host.sleep(0.04)
    assert.equal(1, d:get("k"))
    d:expire("k", 0.01)
    host.sleep(0.03)
    assert.is_nil(d:get("k"))
    assert.same({ nil, "not found" }, { d:expire("k", 1) })
    checkerr("number expected, got no value", d.expire, d, "k")
  end)

  it("a tiny ttl still expires, and math.huge never does", function()
    local d = fresh()
    d:set("tiny", 1, 1e-9) -- rounds up to a millisecond, not to "never"
    d:set("huge", 1, math.huge)
    host.sleep(0.01)
    assert.is_nil(d:get("tiny"))
    assert.equal(0, d:ttl("huge"))
  end)
end)

describe("incr", function()
  it("adds to numbers as Lua's + does", function()
    local d = fresh()
    assert.same({ nil, "not found" }, { d:incr("n", 1) })
    assert.equal(5, d:incr("n", 5, 0))
    assert.equal(7, d:incr("n", 2))
    assert.equal("integer", math.type(d:get("n")))
    assert.equal(7.5, d:incr("n", 0.5))
    assert.equal("float", math.type(d:get("n")))
    assert.equal(math.mininteger, d:incr("wrap", 1, math.maxinteger))
    assert.equal(-1, d:incr("neg", -1, 0))
  end)

  it("refuses what is not a number", function()
    local d = fresh()
    d:set("s", "10")
    assert.same({ nil, "not a number" }, { d:incr("s", 1) })
    d:set("b", true)
    assert.same({ nil, "not a number" }, { d:incr("b", 1) })
    checkerr("number expected, got string", d.incr, d, "n", "1")
    checkerr("number expected, got no value", d.incr, d, "n")
    checkerr("number expected, got boolean", d.incr, d, "n", 1, true)
  end)

  it("gives a created counter its ttl", function()
    local d = fresh()
    d:incr("c", 1, 0, 0.3)
    d:incr("c", 1, 0, 10) -- exists: the ttl stays
    assert.equal(2, d:get("c"))
    host.sleep(0.35)
    assert.is_nil(d:get("c"))
  end)
end)

describe("keys, flush, stats", function()
  it("lists keys, most recently used first, up to max", function()
    local d = fresh()
    for i = 1, 5 do d:set("k" .. i, i) end
    d:get("k1")
    local keys = d:keys()
    assert.equal(5, #keys)
    assert.equal("k1", keys[1])
    assert.equal("k5", keys[2])
    assert.same({ "k1", "k5" }, d:keys(2))
    checkerr("must be >= 0", d.keys, d, -1)
  end)

  it("lists many keys (the snapshot buffer grows)", function()
    local d = fresh()
    for i = 1, 3000 do d:set(string.format("key%08d", i), i) end
    local keys = d:keys()
    assert.equal(3000, #keys)
    local seen = {}
    for _, k in ipairs(keys) do seen[k] = true end
    assert.truthy(seen["key00000001"] and seen["key00003000"])
  end)

  it("flush empties it", function()
    local d = fresh()
    for i = 1, 10 do d:set("k" .. i, i) end
    assert.equal(10, d:stats().items)
    assert.is_true(d:flush())
    assert.equal(0, d:stats().items)
    assert.equal(0, d:stats().used)
    assert.is_nil(d:get("k1"))
    assert.same({}, d:keys())
  end)

  it("stats counts", function()
    local d = fresh()
    local st = d:stats()
    for _, f in ipairs { "capacity", "used", "items", "evictions", "expired",
                         "size", "page_size", "moves" } do
      assert.equal("integer", math.type(st[f]))
    end
    d:set("a", 1)
    assert.equal(1, d:stats().items)
    assert.truthy(d:stats().used > 0)
  end)
end)

describe("lists", function()
  it("pushes and pops at both ends", function()
    local d = fresh()
    assert.equal(1, d:rpush("q", "a"))
    assert.equal(2, d:rpush("q", 2))
    assert.equal(3, d:lpush("q", true))
    assert.equal(4, d:rpush("q", 1.5))
    assert.equal(4, d:llen("q"))
    assert.is_true(d:lpop("q"))
    assert.equal(1.5, d:rpop("q"))
    assert.equal("a", d:lpop("q"))
    assert.equal(2, d:lpop("q"))
    assert.equal("integer", math.type(d:get("x") or 2))
    assert.is_nil(d:lpop("q")) -- emptied lists are deleted
    assert.equal(0, d:llen("q"))
    assert.is_nil(d:get("q"))
  end)

  it("a list is a queue across many elements", function()
    local d = fresh()
    for i = 1, 1000 do d:rpush("q", i) end
    for i = 1, 1000 do assert.equal(i, d:lpop("q")) end
    local big = string.rep("b", 100000) -- past the scratch buffer
    d:rpush("q", big)
    assert.equal(big, d:rpop("q"))
  end)

  it("says 'not a list' and 'is a list'", function()
    local d = fresh()
    d:set("s", "v")
    assert.same({ nil, "not a list" }, { d:lpush("s", 1) })
    assert.same({ nil, "not a list" }, { d:rpop("s") })
    assert.same({ nil, "not a list" }, { d:llen("s") })
    d:rpush("l", 1)
    assert.same({ nil, "is a list" }, { d:get("l") })
    assert.same({ nil, "not a number" }, { d:incr("l", 1) })
    checkerr("(string, number or boolean expected, got no value)", d.rpush, d, "l")
  end)
end)

describe("fragmentation", function()
  -- The guarantee (shdict.h): an item is stored whenever used + its charge
  -- <= capacity.  So "no memory" may only come when capacity - used is
  -- less than the item's charge, which is at most about 1.25 x its bytes
  -- (32-byte header + key + value) plus rounding: 2 x bytes + 64 bounds it.
  local function check_full(d, bytes)
    local st = d:stats()
    if st.capacity - st.used >= 2 * bytes + 64 then
      error(string.format("no memory with %d of %d bytes used (item of %d bytes)",
                          st.used, st.capacity, bytes))
    end
  end

  -- 48 MB holds about 850,000 of these: the fill ends full.
  local d = host.shared("fragmentation", 48)

  it("1,000,000 small keys fill it, with no 'no memory' before full", function()
    local vals = {}
    for i = 0, 23 do vals[i] = string.rep("v", i) end
    local full, stored = 0, 0
    for i = 1, 1000000 do
      local k, v = tostring(i), vals[i % 24]
      local ok, err = d:add(k, v)
      if ok then
        stored = stored + 1
      else
        assert.equal("no memory", err)
        check_full(d, 32 + #k + #v)
        full = full + 1
      end
    end
    assert.truthy(stored > 500000)
    assert.truthy(full > 0) -- it really filled up
  end)

  it("churning it full gives no 'no memory' before full either", function()
    -- Until it has stayed full and pages have changed hands (at least 10
    -- rounds of 2,000; at most 100 rounds or 10 s, for a slow sanitizer
    -- build on a busy machine): delete at random, add values of other
    -- sizes (other classes), so pages must change hands.
    assert.truthy(d:stats().items > 500000)
    local moves0, fails, r = d:stats().moves, 0, 12345
    local deadline = host.now() + 10
    for round = 1, 100 do
      if host.now() > deadline then break end
      if round > 10 and fails > 0 and d:stats().moves > moves0 then break end
      for _ = 1, 2000 do
        r = (r * 1103515245 + 12345) % 2147483648
        d:delete(tostring(r % 1000000 + 1))
        local k, v = "c" .. r, string.rep("w", 20 + r % 200)
        local ok, err = d:add(k, v)
        if not ok then
          assert.equal("no memory", err)
          check_full(d, 32 + #k + #v)
          fails = fails + 1
        end
      end
      if round % 10 == 0 then host.sleep(0) end
    end
    assert.truthy(fails > 0) -- it stayed full
    assert.truthy(d:stats().moves > moves0) -- pages did change hands
    d:flush()
  end)
end)
