import sys
class Counter:
    def __init__(self): self.n = 0
    def add(self, k):
        self.n = self.n + k
        return self
    def value(self): return self.n
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000000
c = Counter()
for i in range(n): c.add(i & 3)
print(c.value())
