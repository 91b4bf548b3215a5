# Means (and per-round values) of the calls' JSON lines: python3 summarize.py call1 call2
import json,sys,collections,os
for call in sys.argv[1:]:
    for f,key in [('p16.txt','seq'),('p64.txt','seq'),('chunk.txt',None),('chunk_long.txt',None),('mixed.txt','seqs')]:
        path=os.path.join(call,f)
        if not os.path.exists(path): continue
        d=collections.defaultdict(list); order=[]
        for line in open(path):
            v,r,j=line.split(' ',2)
            try: j=json.loads(j)
            except Exception: continue
            k=j[key] if key else '%dx q%d/%d'%(j['batch'],j['q_len'],j['kv_len'])
            if key=='seqs':
                parts=k.split(); c=collections.Counter(parts); k=','.join(f'{p}*{n}' if n>1 else p for p,n in c.items())
            if v not in order: order.append(v)
            d[(k,v)].append(j['tflops'])
        print(f'== {call}/{f} (TFLOP/s, mean of rounds)')
        keys=sorted({k for k,_ in d}, key=lambda x:(len(str(x)),str(x)))
        print('shape'.ljust(34)+''.join(v.rjust(8) for v in order))
        for k in keys:
            print(str(k)[:34].ljust(34)+''.join(('%8.1f'%(sum(d[(k,v)])/len(d[(k,v)])) if (k,v) in d else '       -') for v in order))
