#!/usr/bin/env bash
# Session 10 call 2 (H200): where clusters of 8 and 16 CTAs are placed (dev/kernels/cluster_placement.cu, built
# with: nvcc -std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a dev/kernels/cluster_placement.cu -o
# build-carryxz-s10/cluster_placement).
./build-carryxz-s10/cluster_placement
