import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000000
xs = []
for i in range(n): xs.append(i)
s = 0
for x in xs: s += x
ys = []
seed = 42
for _ in range(n // 5):
    seed = (seed * 1103515245 + 12345) % 2147483648
    ys.append(seed)
ys.sort()
print(s, ys[0], ys[len(ys) // 2], ys[-1])
