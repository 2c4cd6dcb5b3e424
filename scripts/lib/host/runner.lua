-- The main chunk of `host test`: the host passes the test files it found
-- as arguments; the worker exits non-zero if this returns a count > 0.
local test = require "host.test"
return test.run_files({ ... })
