# node-gyp build of the same CPU sources as CMakeLists.txt (cmake-js is the primary build).
# The source list comes from native/sources.json, so the two builds cannot drift.
{
  "targets": [{
    "target_name": "resnode",
    "sources": [
      "<!@(node -p \"require('./native/sources.json').cpu.join(' ')\")",
      "<!@(node -p \"require('./native/sources.json').cuda_disabled.join(' ')\")"
    ],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                "RESNODE_VERSION=\"<!(node -p \"require('./package.json').version\")\""],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-fno-math-errno", "-fvisibility=hidden"],
    "libraries": [
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a",
      "-lpthread", "-lm",
      "-Wl,--version-script=<(module_root_dir)/native/exports.map",
      "-Wl,--exclude-libs,ALL"
    ]
  }]
}
