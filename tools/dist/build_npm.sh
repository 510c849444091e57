#!/usr/bin/env bash
# Builds the npm package (what npm pack gives) with prebuilt addons: one per
# Node found, each made by the project's own build (node/scripts/build.js)
# with that Node first on PATH, linked with the static libraries of
# build_deps.sh so that it needs nothing but glibc and libstdc++ (which Node
# itself needs). node-gyp-build travels inside the package (node/vendor/), so
# installing needs no registry and no compiler when a prebuilt addon fits.
#   tools/dist/build_npm.sh WORKDIR DEPS_PREFIX DIST
# Nodes: /usr/bin/node (with /usr/include/node) and every prefix in
# $POLYPROF_NODE_PREFIXES (default: ~/.cache/polyprof-runtimes/node-{20,22,24,26},
# as tests/runtimes/node_release.sh makes them). A Node whose build fails is
# reported and left out; the package is made from the rest.
set -euo pipefail
work=${1:?usage: build_npm.sh WORKDIR DEPS_PREFIX DIST}
deps=${2:?usage: build_npm.sh WORKDIR DEPS_PREFIX DIST}
dist=$(mkdir -p "${3:?usage: build_npm.sh WORKDIR DEPS_PREFIX DIST}" && cd "$3" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
runtimes=${POLYPROF_RUNTIMES:-$HOME/.cache/polyprof-runtimes}
prefixes=${POLYPROF_NODE_PREFIXES:-$(printf "$runtimes/node-%s " 20 22 24 26)}
stage=$work/stage
rm -rf "$stage" && mkdir -p "$stage/prebuilds/linux-x64"

# The package's files, as package.json's "files" lists them.
(cd "$root" && python3 -c '
import json, sys
d = json.load(open("package.json"))
print("\n".join(f.rstrip("/") for f in d["files"] if f != "prebuilds/"))' | while read -r f; do
    mkdir -p "$stage/$(dirname "$f")" && cp -r "$f" "$stage/$f"
done)
cp "$root/package.json" "$root/README.md" "$stage/"
[ -f "$root/LICENSE" ] && cp "$root/LICENSE" "$stage/"

# node-gyp: the one the machine's npm carries, for every Node (a Node
# release's own npm is not always there).
npm_cli=$(readlink -f "$(command -v npm)")
export npm_config_node_gyp=${npm_config_node_gyp:-$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js}
nodes=()
[ -x /usr/bin/node ] && [ -f /usr/include/node/node.h ] && nodes+=(/usr/bin/node)
for p in $prefixes; do [ -x "$p/bin/node" ] && nodes+=("$p/bin/node"); done
built=() failed=() seen=" "
for node in "${nodes[@]}"; do
    abi=$("$node" -p process.versions.modules)
    v=$("$node" --version)
    [[ $seen == *" $abi "* ]] && continue
    seen+="$abi "
    rm -rf "$stage/build"
    log=$work/build-node-$v.log
    # -L first: only static archives there, so -lunwind and friends link them.
    # POLYPROF_MHD_LINKED=1: libmicrohttpd.a linked in (binding.gyp), not loaded at run time.
    if (cd "$stage" && PATH="$(dirname "$node"):$PATH" LDFLAGS="-L$deps/lib" POLYPROF_MHD_LINKED=1 \
            nice "$node" node/scripts/build.js) \
            >"$log" 2>&1 && "$node" -e "require(process.argv[1])" "$stage/build/Release/polyprof.node" >>"$log" 2>&1; then
        out=$stage/prebuilds/linux-x64/node.abi$abi.glibc.node
        cp "$stage/build/Release/polyprof.node" "$out"
        floor=$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
        needed=$(readelf -d "$out" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
        echo "dist: prebuilt addon for Node $v (ABI $abi): highest glibc symbol $floor; needs $needed"
        built+=("$v")
    else
        echo "dist: Node $v (ABI $abi): the addon did not build; its log: $log"
        tail -n 5 "$log" | sed 's/^/    /'
        failed+=("$v")
    fi
done
rm -rf "$stage/build"
[ ${#built[@]} -gt 0 ] || { echo "dist: no prebuilt addon was built"; exit 1; }
# node-gyp-build from the npm registry, carried inside the package
# (node/vendor/): a declared or bundled dependency makes npm ask the registry
# for its metadata at install time, even offline.
if [ ! -f "$work/node-gyp-build/package/index.js" ]; then
    rm -rf "$work/node-gyp-build" && mkdir -p "$work/node-gyp-build"
    (cd "$work/node-gyp-build" && npm pack --silent node-gyp-build@4.8.4 >/dev/null && tar xzf node-gyp-build-*.tgz)
fi
mkdir -p "$stage/node/vendor" && cp -r "$work/node-gyp-build/package" "$stage/node/vendor/node-gyp-build"
python3 - "$stage/package.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["files"].append("node/vendor/")
# The checkout's tools (tests, type checks): npm asks the registry about
# devDependencies even when installing the package as a dependency.
d.pop("devDependencies", None)
d["scripts"].pop("test", None)
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
rm -f "$dist"/polyprof-*.tgz
(cd "$stage" && npm pack --silent --pack-destination "$dist" >/dev/null)
echo "dist: $(ls "$dist"/polyprof-*.tgz): prebuilt for Node ${built[*]}${failed:+; not built for Node ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
