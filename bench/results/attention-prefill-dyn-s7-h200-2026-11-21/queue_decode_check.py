import random
BM=128
def run(q_lens, kv_lens, G, Hkv, grid, order):
    B=len(q_lens); cu=[0]
    for q in q_lens: cu.append(cu[-1]+q)
    counter=[0]
    expected=set()
    for b in range(B):
        nb=(q_lens[b]*G+BM-1)//BM
        for h in range(Hkv):
            for m in range(nb): expected.add((m,h,b))
    got=[]
    for cta in range(grid):
        st=[-32,0,0]; cache=[(0,0,0,0)]*32
        idx=cta
        while True:
            seq0,work0,chunk_end=st
            if idx>=chunk_end and seq0+32<B:
                while True:
                    seq0+=32; work0=chunk_end
                    cs=[]
                    for lane in range(32):
                        s=seq0+lane
                        if s<B:
                            y,z,w=cu[s],cu[s+1],kv_lens[s]
                            x=((z-y)*G+BM-1)//BM*Hkv
                        else: x=y=z=w=0
                        cs.append([x,y,z,w])
                    acc=0
                    for c in cs: acc+=c[0]; c[0]=acc
                    cache=[tuple(c) for c in cs]
                    chunk_end=work0+cache[31][0]
                    if not(idx>=chunk_end and seq0+32<B): break
                st=[seq0,work0,chunk_end]
            found=idx<chunk_end
            if not found: break
            hit=[lane for lane in range(32) if work0+cache[lane][0]>idx]
            L=hit[0]; c=cache[L]
            nb=((c[2]-c[1])*G+BM-1)//BM
            local=idx-(work0+c[0]-nb*Hkv)
            if order==0:
                kvh=local//nb; m=nb-1-(local-kvh*nb)
            else:
                m=nb-1-local//Hkv; kvh=local%Hkv
            got.append((m,kvh,seq0+L))
            assert (c[1],c[2],c[3])==(cu[seq0+L],cu[seq0+L+1],kv_lens[seq0+L])
            # interleave CTAs roughly: claim
            idx=grid+counter[0]; counter[0]+=1
    assert len(got)==len(set(got)), "dup"
    assert set(got)==expected, (len(got),len(expected))
    return len(got)
random.seed(1)
for t in range(300):
    B=random.choice([1,2,3,31,32,33,64,65,70,100])
    q=[random.choice([0,1,5,33,100,300,1000]) if random.random()<0.9 else 0 for _ in range(B)]
    kv=[x+random.randint(0,500) for x in q]
    G=random.choice([1,4,8,32]); Hkv=random.choice([1,2,8])
    grid=random.choice([1,7,132])
    for order in (0,1): run(q,kv,G,Hkv,grid,order)
print("ok")
