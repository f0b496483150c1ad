import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
parts = []
seen = {}
for i in range(n):
    k = "key" + str(i % 100000) + ":" + str(i)
    parts.append(k)
    seen["key" + str(i % 100000)] = i
s = ",".join(parts)
print(len(s), len(seen))
