#!/usr/bin/env python3
"""The decode planner's pair-kernel constants (src/backend/cuda/attention/attention.cpp) against the shapes measured in
calls 1-2: for each shape, the kernel the planner's cost model picks (16-row CTAs "r16", pair kernel with 2 or 4
key streams "p2" / "p4") next to the one measured fastest. Mirrors decode_plan's split search (64-key steps,
2% tie rule, 132 SMs, 2 / 2 / 1 CTAs per SM). Usage: python3 planner_fit.py [key_cost merge_ks2 merge_ks4 fill]"""
import json, math, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SMS = 132
ALPHA, M2, M4, FILL = [float(x) for x in sys.argv[1:5]] if len(sys.argv) > 4 else (0.7, 1.0, 0.75, 0.9)


def cost(B, ctx, hkv, q, v, per):
    rows = q * 32 // hkv
    n = math.ceil(ctx / per)
    if v == 'r16':
        items, wave, kc, merge = B * hkv * math.ceil(rows / 16), SMS * 2, 1.0, 4 * min(rows, 16) / 4
    else:
        ks = int(v[1])
        items, wave = B * hkv * math.ceil(rows / 32), SMS * (2 if ks == 2 else 1)
        kc, merge = ALPHA * 4 / ks, 4 * min(rows, 32) / 4 * (M2 if ks == 2 else M4)
    return math.ceil(items * n / wave) * (per * kc + 96) + ((170 + merge * n) if n > 1 else 0)


def plan(B, ctx, hkv, q, v):
    wave = SMS * (1 if v == 'p4' else 2)
    best = None
    for s in range(1, max(1, min(math.ceil(ctx / 64), 2 * wave)) + 1):
        per = math.ceil(math.ceil(ctx / s) / 64) * 64
        c = cost(B, ctx, hkv, q, v, per)
        if best is None or c < best[0] * 0.98:
            best = (c, math.ceil(ctx / per))
    return best


def load(path, section=None):
    cur, out = None, []
    for line in open(path):
        if line.startswith('=='):
            cur = line.split()[1]
            continue
        if line.startswith('{') and (section is None or cur == section):
            j = json.loads(line)
            if j['op'] != 'decode-ceiling':
                out.append(j)
    return out


shapes = {}
def add(j, v):
    k = (j['batch'], j['ctx'], j.get('hkv', 8), j.get('q_len', 1))
    shapes.setdefault(k, {}).setdefault(v, []).append((j['us'], j['splits']))

for j in load(f'{HERE}/call1/pair.jsonl'):
    add(j, j['impl'].split('-')[1])
for j in load(f'{HERE}/call2/pair_serve.jsonl', 'B'):
    add(j, j['impl'].split('-')[1])
for f in ('rows', 'mqa'):  # planned launches: "before" is 16-row CTAs, B the pair kernel where call 2 planned it
    for sec in ('before', 'B'):
        for j in load(f'{HERE}/call2/{f}.jsonl', sec):
            if j.get('rows_per_cta', 16) == 32 or sec == 'before':
                add(j, 'r16' if sec == 'before' else 'p%d' % j['key_streams'])

for k, vs in sorted(shapes.items()):
    if k[3] * 32 // k[2] <= 16 or 'r16' not in vs or len(vs) < 2:
        continue
    best = {v: min(x[0] for x in xs) for v, xs in vs.items()}
    pc = {v: plan(*k, v) for v in ('r16', 'p2', 'p4')}
    fills = k[0] * k[2] * math.ceil(k[3] * 32 / k[2] / 16) * pc['r16'][1] >= FILL * SMS * 2
    pick = min([v for v in pc if v == 'r16' or fills], key=lambda v: pc[v][0])
    print('B%-4d ctx %-6d Hkv %d q_len %d  measured %s  fastest %-3s  planner %s (%d splits)%s' % (
        *k, ' '.join('%s %.1f' % (v, best[v]) for v in sorted(best)), min(best, key=best.get), pick, pc[pick][1],
        '' if pick == min(best, key=best.get) else '  <-- differs'))
