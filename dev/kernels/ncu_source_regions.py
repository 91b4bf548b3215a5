#!/usr/bin/env python3
"""Warp stall samples of a warp-specialised sm90 kernel, split into consumer and producer code.

Input: `ncu -i REPORT --page source --csv --print-source sass` output (plain or .xz). The producer's code
is taken to start at its USETMAXREG.DEALLOC (setmaxnreg.dec) and run to the end of the listing; the rest is
the consumers'. Prints each region's samples by stall reason, and its top instructions with their two largest
stall reasons. Usage: ncu_source_regions.py source_sass.csv[.xz] [top N]
"""
import csv
import io
import lzma
import sys


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    text = lzma.open(path, "rt").read() if path.endswith(".xz") else open(path).read()
    rows = list(csv.reader(io.StringIO(text)))
    hdr, data = rows[1], rows[2:]
    ix = {h: i for i, h in enumerate(hdr)}
    stalls = [h for h in hdr if h.startswith("stall_") and "Not Issued" not in h]
    samples = ix["Warp Stall Sampling (All Samples)"]
    split = next((n for n, r in enumerate(data) if "USETMAXREG.DEALLOC" in r[1]), len(data))
    for name, lo, hi in (("consumer", 0, split), ("producer", split, len(data))):
        region = data[lo:hi]
        total = sum(int(r[samples] or 0) for r in region)
        by = {s: sum(int(r[ix[s]] or 0) for r in region) for s in stalls}
        reasons = ", ".join(f"{s[6:]} {v}" for s, v in sorted(by.items(), key=lambda x: -x[1]) if v > 0)
        print(f"{name}: instructions {lo}-{hi - 1}, samples {total}: {reasons}")
        ranked = sorted(((int(r[samples] or 0), lo + k, r) for k, r in enumerate(region)), key=lambda x: -x[0])
        for smp, n, r in ranked[:top]:
            two = sorted(((int(r[ix[s]] or 0), s[6:]) for s in stalls), reverse=True)[:2]
            print(f"  {n:5d} {smp:6d}  {r[1].strip()[:64]:64s} {two[0][1]} {two[0][0]}, {two[1][1]} {two[1][0]}")


if __name__ == "__main__":
    main()
