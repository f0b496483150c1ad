import sys
def make(d):
    if d == 0: return (None, None)
    return (make(d - 1), make(d - 1))
def check(t):
    if t[0] is None: return 1
    return 1 + check(t[0]) + check(t[1])
n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
max_depth = max(6, n)
print("stretch tree of depth %d\t check: %d" % (max_depth + 1, check(make(max_depth + 1))))
long = make(max_depth)
for d in range(4, max_depth + 1, 2):
    iters = 1 << (max_depth - d + 4)
    c = 0
    for _ in range(iters): c += check(make(d))
    print("%d\t trees of depth %d\t check: %d" % (iters, d, c))
print("long lived tree of depth %d\t check: %d" % (max_depth, check(long)))
