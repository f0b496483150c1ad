local n = tonumber(arg[1]) or 5000000
local xs = {}
for i = 0, n - 1 do xs[#xs + 1] = i end
local sum = 0
for _, x in ipairs(xs) do sum = sum + x end
local ys, seed = {}, 42
for _ = 1, n // 5 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  ys[#ys + 1] = seed
end
table.sort(ys)
print(sum, ys[1], ys[#ys // 2 + 1], ys[#ys])
