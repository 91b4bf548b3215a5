import heapq
SM=132
def works(B,q,kv,G=4,Hkv=8,BM=128,BN=128):
    mb=(q*G+BM-1)//BM
    out=[]
    for b in range(B):
        for h in range(Hkv):
            for m in range(mb-1,-1,-1):
                last=min((m+1)*BM,q*G)-1
                kend=min(kv,kv-q+last//G+1)
                out.append((kend+BN-1)//BN)
    return out
def static(w,fixed=0.0):
    g=min(len(w),SM); t=[0.0]*g
    for i,x in enumerate(w): t[i%g]+=x+fixed
    return max(t)
def dynamic(w,fixed=0.0,look=0.0):
    # claim next when remaining time of current <= look tiles
    g=min(len(w),SM); h=[(0.0,c) for c in range(g)]
    # each CTA: finish time; claim time = finish - look
    fin=[0.0]*g; q=[(-look if False else 0.0,c) for c in range(g)]
    heapq.heapify(q)
    for i,x in enumerate(w):
        if i<g: fin[i]=x+fixed; heapq.heappush(q,(0,0)) if False else None; continue
    q=[(fin[c]-min(look,fin[c]),c) for c in range(g)]; heapq.heapify(q)
    for x in w[g:]:
        tc,c=heapq.heappop(q)
        fin[c]+=x+fixed
        heapq.heappush(q,(fin[c]-min(look,x+fixed),c))
    return max(fin)
for sh in [(1,2048,8192),(1,2048,32768),(1,1024,8192),(1,512,8192),(4,512,8192),(4,2048,8192),(8,1024,4096),(8,2048,2048),(16,1024,1024),(4,4096,4096),(2,8192,8192),(1,16384,16384),(1,4096,32768),(1,8192,32768)]:
    w=works(*sh); ideal=sum(w)/SM
    print(sh,len(w),"works  ideal %.1f tiles/CTA  static %+.1f%%  dyn %+.1f%%  dyn-look3 %+.1f%% dyn-look1work %+.1f%%"%(ideal,100*(static(w)/ideal-1),100*(dynamic(w)/ideal-1),100*(dynamic(w,look=3)/ideal-1),100*(dynamic(w,look=1e9)/ideal-1)))
print("global LPT order (sorted by tiles desc), look3")
for sh in [(1,2048,8192),(1,2048,32768),(1,1024,8192),(1,512,8192),(4,512,8192),(4,2048,8192),(8,1024,4096),(8,2048,2048),(16,1024,1024),(4,4096,4096),(1,16384,16384),(1,4096,32768)]:
    w=works(*sh); ideal=sum(w)/SM
    ws=sorted(w,reverse=True)
    # m-major order: m_block slowest (heaviest first), heads/seqs fastest
    B,q,kv=sh; mb=(q*4+127)//128
    wm=[w[(bh)*mb+i] for i in range(mb) for bh in range(B*8)]
    print(sh, "lpt %+.1f%%  m-major %+.1f%%"%(100*(dynamic(ws,look=3)/ideal-1),100*(dynamic(wm,look=3)/ideal-1)))
