import re,sys
lines=[re.sub(r'\s*/\* 0x[0-9a-f]+ \*/\s*$','',l).strip() for l in open(sys.argv[1])]
lines=[re.sub(r'^/\*[0-9a-f]+\*/\s*','',l) for l in lines]
lo,hi=int(sys.argv[2]),int(sys.argv[3])
ds=[]
for i in range(lo,hi):
    m=re.match(r'SHFL\.IDX PT, (R\d+),',lines[i])
    if not m: continue
    r=m.group(1)
    for k in range(i+1,hi):
        ops=lines[k].split(' ',1)
        if len(ops)<2: continue
        body=ops[1] if not lines[k].startswith('@') else lines[k].split(' ',2)[2]
        regs=re.findall(r'R\d+',body)
        if r in regs[1:] or (r in regs and 'LDGSTS' in lines[k]):
            ds.append(k-i); break
        if regs and regs[0]==r: break
print(sys.argv[1], 'shfl->first use distances:', ds, 'min', min(ds), 'mean %.1f'%(sum(ds)/len(ds)))
