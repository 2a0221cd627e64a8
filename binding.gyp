{
  "targets": [
    {
      "target_name": "medtune_native",
      "sources": [
        "native/addon.cc",
        "native/threadpool.cc",
        "native/gemm.cc",
        "native/elementwise.cc",
        "native/layernorm.cc",
        "native/attention.cc",
        "native/embedding.cc",
        "native/loss.cc",
        "native/adamw.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
      "conditions": [
        ["OS=='mac'", {
          "defines": ["MEDTUNE_ACCELERATE"],
          "libraries": ["-framework Accelerate"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-fno-math-errno"], "GCC_ENABLE_CPP_EXCEPTIONS": "YES" }
        }, {
          "libraries": ["-lopenblas", "-lpthread"]
        }]
      ]
    }
  ]
}
