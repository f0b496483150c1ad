local n = tonumber(arg[1]) or 1000000
local m, cnt = {}, 0
for i = 0, n - 1 do m[i * 7] = i; cnt = cnt + 1 end
local sum = 0
for i = 0, n - 1 do sum = sum + m[i * 7] end
for i = 0, n - 1, 2 do m[i * 7] = nil; cnt = cnt - 1 end
local hits = 0
for i = 0, n - 1 do if m[i * 7] ~= nil then hits = hits + 1 end end
print(sum, hits, cnt)
