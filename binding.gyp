# polyprof's Node addon: the C core (core/src, compiled into the addon, as
# setup.py does for CPython) plus the Node bridge (node/src). Built by
# node/scripts/build.js (the package's install script) against the headers of
# the Node that runs npm; nothing is downloaded.
{
  'targets': [
    {
      'target_name': 'polyprof',
      'sources': [
        # Globbed, so a file added to the core is built without editing this.
        '<!@(node node/scripts/sources.js core/src node/src)',
      ],
      'include_dirs': ['core/include', 'core/src', 'node/src'],
      'defines': ['_GNU_SOURCE'],
      # No -lcrypto: the core's store encryption calls the OpenSSL that Node
      # carries and exports (its headers are in Node's include directory);
      # a second libcrypto in the process would interpose on Node's.
      'libraries': ['-lunwind', '-lz', '-lcjson', '-ldl', '-lpthread', '-lrt', '-lm'],
      # libmicrohttpd (the local endpoint) is loaded at run time, when an
      # endpoint starts; the packaged addons (tools/dist/build_npm.sh sets
      # POLYPROF_MHD_LINKED=1) link its static library in instead.
      'variables': {'mhd_linked%': '<!(node -p "process.env.POLYPROF_MHD_LINKED == 1 ? 1 : 0")'},
      'conditions': [
        ['mhd_linked==1', {
          'defines': ['PP_MHD_LINKED'],
          'libraries': ['-lmicrohttpd'],
        }],
      ],
      # Node's common.gypi silences unused parameters and picks its GNU C++
      # dialect; we want every -Wextra warning in our own files and plain C11
      # and ISO C++ of the standard that Node's V8 headers need (C++17 up to
      # Node 22, C++20 from Node 24): node/scripts/cxx_std.js reads it from
      # those headers' common.gypi.
      'cflags!': ['-Wno-unused-parameter'],
      'cflags_cc/': [['exclude', '^-std=gnu\\+\\+']],
      'cflags': ['-Wall', '-Wextra', '-fvisibility=hidden'],
      'cflags_c': ['-std=c11'],
      # Node's and V8's headers as system headers: their unused parameters
      # are not ours to warn about.
      'cflags_cc': [
        '<!(node node/scripts/cxx_std.js "<(node_root_dir)")',
        '-fvisibility-inlines-hidden', '-isystem', '<(node_root_dir)/include/node',
      ],
      # The core marks its API visibility("default") (PP_API), so
      # -fvisibility=hidden alone would still export pp_* from the addon and
      # let another library's pp_* interpose on them. The version script
      # exports only Node's module entry point; everything else binds locally.
      # -z nodelete: Node dlcloses an addon when the last worker that loaded
      # it exits, but the sampler's signal handler, fork handlers and thread,
      # and libunwind's per-thread destructors, must outlive any one worker.
      'ldflags': ['-Wl,--version-script=<(module_root_dir)/node/src/exports.map', '-Wl,-z,nodelete'],
    },
  ],
}
