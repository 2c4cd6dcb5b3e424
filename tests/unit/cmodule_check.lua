-- Run as `host cmodule_check.lua DIR`: require the C module built in DIR.
package.cpath = arg[1] .. "/?.dll;" .. package.cpath
local m = require "cmodule"
assert(m.answer(7) == 42, "the module's function did not run")
print("cmodule: ok")
