import sys, math
def A(i, j): return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)
def mulAv(n, v, av):
    for i in range(n):
        s = 0.0
        for j in range(n): s += A(i, j) * v[j]
        av[i] = s
def mulAtv(n, v, atv):
    for i in range(n):
        s = 0.0
        for j in range(n): s += A(j, i) * v[j]
        atv[i] = s
def mulAtAv(n, v, out, tmp):
    mulAv(n, v, tmp); mulAtv(n, tmp, out)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
u = [1.0] * n; v = [0.0] * n; tmp = [0.0] * n
for _ in range(10):
    mulAtAv(n, u, v, tmp); mulAtAv(n, v, u, tmp)
vBv = sum(u[i] * v[i] for i in range(n)); vv = sum(x * x for x in v)
print(math.floor(math.sqrt(vBv / vv) * 1000000000 + 0.5))
