local Counter = {}
Counter.__index = Counter
function Counter.new() return setmetatable({ n = 0 }, Counter) end
function Counter:add(k) self.n = self.n + k; return self end
function Counter:value() return self.n end
local n = tonumber(arg[1]) or 10000000
local c = Counter.new()
for i = 0, n - 1 do c:add(i & 3) end
print(c:value())
