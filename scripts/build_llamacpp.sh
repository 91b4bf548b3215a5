#!/usr/bin/env bash
# Builds llama.cpp (the independent CPU reference and speed peer) from the copy vendored in the
# PyPI source package llama-cpp-python==0.3.36: llama-bench, llama-completion, llama-tokenize and
# the shared libraries (libllama.so + libggml*.so). Release, native CPU flags, no CUDA, no network.
# Idempotent: does nothing when the stamp for this version is present. Never touches Pagoda's build.
#
# Layout under $PAGODA_HOME/llamacpp (default ~/.cache/pagoda/llamacpp):
#   dl/     the sdist tarball (fetched with `pip download` when missing)
#   src/    the unpacked sdist; llama.cpp is src/llama_cpp_python-<ver>/vendor/llama.cpp
#   build/  the CMake build; binaries and libraries land in build/bin/
#   env.sh  prints LLAMACPP_BIN / LLAMACPP_LIB / LLAMACPP_SRC / LLAMACPP_COMMIT for other scripts
#
# Usage: scripts/build_llamacpp.sh [--jobs N] [--print-env]
#   --print-env  only print the env.sh contents (fails if not built)
# Env: PAGODA_HOME, LLAMACPP_JOBS (default 2: the dev machine has 2 shared cores), PYTHON.
set -euo pipefail

version=0.3.36
jobs="${LLAMACPP_JOBS:-2}"
print_env=0
while (($#)); do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --print-env) print_env=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build_llamacpp: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

home="${PAGODA_HOME:-$HOME/.cache/pagoda}"
root="$home/llamacpp"
dl="$root/dl"
src_parent="$root/src"
sdist_dir="$src_parent/llama_cpp_python-$version"
src="$sdist_dir/vendor/llama.cpp"
build="$root/build"
stamp="$build/.pagoda-built-$version"
python="${PYTHON:-python3}"

if ((print_env)); then
  [ -f "$root/env.sh" ] || { echo "build_llamacpp: not built yet ($root/env.sh missing)" >&2; exit 1; }
  cat "$root/env.sh"
  exit 0
fi

if [ -f "$stamp" ] && [ -x "$build/bin/llama-bench" ] && [ -x "$build/bin/llama-completion" ] \
   && [ -f "$build/bin/libllama.so" ]; then
  echo "build_llamacpp: already built ($build/bin); remove $stamp to rebuild"
  exit 0
fi

mkdir -p "$dl" "$src_parent"

# 1. Source: the PyPI sdist, which vendors llama.cpp (with its git metadata for the commit id).
if [ ! -f "$src/CMakeLists.txt" ]; then
  tarball="$dl/llama_cpp_python-$version.tar.gz"
  if [ ! -f "$tarball" ]; then
    echo "build_llamacpp: downloading llama-cpp-python==$version sdist with pip"
    "$python" -m pip download --quiet --no-deps --no-binary=:all: \
      "llama-cpp-python==$version" -d "$dl"
  fi
  [ -f "$tarball" ] || { echo "build_llamacpp: $tarball not found after pip download" >&2; exit 1; }
  echo "build_llamacpp: unpacking $tarball"
  tar -xzf "$tarball" -C "$src_parent"
fi
[ -f "$src/CMakeLists.txt" ] || { echo "build_llamacpp: no llama.cpp tree at $src" >&2; exit 1; }

# 2. Configure: CPU only, native ISA, shared libs (for ctypes / llama-cpp-python), no network
#    code (curl is gone upstream; OpenSSL off), only what the targets below need.
cmake -S "$src" -B "$build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=ON \
  -DGGML_NATIVE=ON \
  -DGGML_CUDA=OFF \
  -DGGML_OPENMP=ON \
  -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_COMMON=ON \
  -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_UI=OFF

# 3. Build only the needed targets (llama pulls in ggml, ggml-base and ggml-cpu).
cmake --build "$build" --config Release -j "$jobs" \
  --target llama llama-bench llama-completion llama-tokenize

commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
cat > "$root/env.sh" <<EOF
LLAMACPP_VERSION=llama-cpp-python==$version
LLAMACPP_SRC=$src
LLAMACPP_BIN=$build/bin
LLAMACPP_LIB=$build/bin/libllama.so
LLAMACPP_COMMIT=$commit
EOF
touch "$stamp"
echo "build_llamacpp: done; binaries in $build/bin (llama.cpp commit $commit)"
