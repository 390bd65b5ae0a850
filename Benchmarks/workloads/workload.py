# An allocation-heavy python workload: dicts, lists, strings, objects.
class Node:
    __slots__ = ("key", "children")

    def __init__(self, key):
        self.key = key
        self.children = []

total = 0
for round in range(30):
    nodes = {}
    for i in range(20000):
        n = Node("node-%d-%s" % (i, "x" * (i % 50)))
        n.children = [j for j in range(i % 17)]
        nodes[n.key] = n
    total += sum(len(n.children) for n in nodes.values())
    text = " ".join(k for k in nodes)
    total += len(text.split())
print(total)
