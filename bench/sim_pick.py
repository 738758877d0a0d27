#!/usr/bin/env python3
# A model of bench_engine's transfer workload, to weigh pick rules before
# building one (docs/benchmarks.md, "What would meet the targets"): 10,000
# accounts, 1,000 issuances of 10 x 1,000 units, random transfers of 1-100
# units between random accounts; blocks are never merged. Prints serial
# ranges per transfer and the block count.
#   python3 bench/sim_pick.py old|new TRANSFERS [RUNS]
# old: the engine's rule, the source's highest serials; new: the top of the
# first of the RUNS highest runs of contiguous serials that covers the
# quantity (default 8), else the old rule. Not a test; not run by CI.
import random, sys, bisect
def run(rule, n_tx, K=8, seed=42):
    rnd = random.Random(seed)
    A = 10000
    hold = [[] for _ in range(A)]  # sorted list of [first,last] blocks
    s = 1
    for i in range(1000):
        for m in range(10):
            hold[i*10+m].append([s, s+999]); s += 1000
    tot_ranges = 0; done = 0; blocks = 10000
    for t in range(n_tx):
        a = rnd.randrange(A); b = rnd.randrange(A)
        if a == b: continue
        q = rnd.randint(1, 100)
        H = hold[a]
        if sum(x[1]-x[0]+1 for x in H[-200:]) < q and sum(x[1]-x[0]+1 for x in H) < q: continue
        taken = []
        chosen = None
        if rule == 'new':
            # runs from the top
            i = len(H)-1; runs = 0
            while i >= 0 and runs < K:
                top = H[i][1]; size = 0; j = i
                while True:
                    size += H[j][1]-H[j][0]+1
                    if size >= q: break
                    if j > 0 and H[j-1][1]+1 == H[j][0]: j -= 1
                    else: break
                if size >= q:
                    chosen = (top-q+1, top); break
                runs += 1; i = j-1
        if chosen:
            f, l = chosen
            # remove [f,l] from H: blocks fully within, split the one containing f
            k = len(H)-1
            while H[k][0] > l: k -= 1
            # blocks from index k down covering [f,l]
            while k >= 0 and H[k][1] >= f:
                bf, bl = H[k]
                if bf < f:
                    H[k] = [bf, f-1]; taken.append([f, bl]); blocks += 1
                    break
                taken.append([bf, bl]); del H[k]; k -= 1
        else:
            need = q
            while need > 0:
                bf, bl = H[-1]
                size = bl-bf+1
                if size > need:
                    H[-1] = [bf, bl-need]; taken.append([bl-need+1, bl]); blocks += 1; need = 0
                else:
                    taken.append(H.pop()); need -= size
        taken.sort()
        r = 1
        for x in range(1, len(taken)):
            if taken[x][0] != taken[x-1][1]+1: r += 1
        tot_ranges += r; done += 1
        D = hold[b]
        for blk in taken:
            bisect.insort(D, blk)
        if done % 100000 == 0:
            print(rule, done, "ranges/transfer over run so far %.2f" % (tot_ranges/done), "blocks", blocks, flush=True)
    print(rule, "final", done, "avg ranges %.2f" % (tot_ranges/done), "blocks", blocks)
run(sys.argv[1], int(sys.argv[2]), K=int(sys.argv[3]) if len(sys.argv) > 3 else 8)
