local function make(d)
  if d == 0 then return {} end
  return { make(d - 1), make(d - 1) }
end
local function check(t)
  if t[1] == nil then return 1 end
  return 1 + check(t[1]) + check(t[2])
end
local n = tonumber(arg[1]) or 16
local maxDepth = math.max(6, n)
print(string.format("stretch tree of depth %d\t check: %d", maxDepth + 1, check(make(maxDepth + 1))))
local long = make(maxDepth)
for d = 4, maxDepth, 2 do
  local iters = 1 << (maxDepth - d + 4)
  local c = 0
  for _ = 1, iters do c = c + check(make(d)) end
  print(string.format("%d\t trees of depth %d\t check: %d", iters, d, c))
end
print(string.format("long lived tree of depth %d\t check: %d", maxDepth, check(long)))
