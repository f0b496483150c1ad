import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
m = {}
for i in range(n): m[i * 7] = i
s = 0
for i in range(n): s += m[i * 7]
for i in range(0, n, 2): del m[i * 7]
hits = 0
for i in range(n):
    if (i * 7) in m: hits += 1
print(s, hits, len(m))
