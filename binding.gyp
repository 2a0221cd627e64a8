{
  # One build runs on any machine of its architecture: no -march=native. The GEMM kernels for AVX2 and AVX-512
  # (and AVX512-BF16) are static libraries compiled with their own target flags and only called when CPUID says
  # the CPU has them (native/cpu.cc). BLAS is optional: scripts/detect-blas.mjs says whether OpenBLAS links here
  # (MEDTUNE_NO_BLAS=1 forces "none"); without it medtune uses its own GEMM only.
  "variables": {
    "medtune_blas%": "<!(node scripts/detect-blas.mjs)",
    # MEDTUNE_PORTABLE_ONLY=1: no x86 kernels, no per-ISA clones - the configuration of an ARM64 build, on x86-64
    "medtune_portable_only%": "<!(node -p \"process.env.MEDTUNE_PORTABLE_ONLY === '1' ? 1 : 0\")",
    # 1 when the compiler takes -mamx-tile -mamx-bf16 -mamx-int8 (scripts/detect-amx.mjs); else gemm_amx.cc builds
    # without the AMX kernels. MEDTUNE_NO_AMX_BUILD=1 builds as with an old compiler.
    "medtune_amx%": "<!(node -p \"process.env.MEDTUNE_NO_AMX_BUILD === '1' ? 0 : 1\")",
    "medtune_amx_compiler%": "<!(node scripts/detect-amx.mjs)",
    "medtune_cflags": [
      "-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-fPIC",
      "-Wno-uninitialized", "-Wno-maybe-uninitialized"
    ]
  },
  "target_defaults": {
    # <(SHARED_INTERMEDIATE_DIR)/medtune: op_codes.h and bindings.h, generated from the kernel table (below)
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(SHARED_INTERMEDIATE_DIR)"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
    "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "MACOSX_DEPLOYMENT_TARGET": "11.0" }
  },
  "conditions": [
    ["target_arch=='x64' and medtune_portable_only==0", {
      "targets": [
        {
          "target_name": "medtune_gemm_avx2",
          "type": "static_library",
          "sources": ["native/gemm_avx2.cc"],
          "dependencies": ["medtune_kernel_table"],
          "cflags_cc": ["<@(medtune_cflags)", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["<@(medtune_cflags)", "-mavx2", "-mfma"] }
        },
        {
          "target_name": "medtune_gemm_avx512",
          "type": "static_library",
          "sources": ["native/gemm_avx512.cc"],
          "dependencies": ["medtune_kernel_table"],
          "cflags_cc": ["<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"],
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": [
              "<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"
            ]
          }
        },
        {
          "target_name": "medtune_gemm_avx512vnni",
          "type": "static_library",
          "sources": ["native/gemm_avx512vnni.cc"],
          "dependencies": ["medtune_kernel_table"],
          "cflags_cc": [
            "<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni",
            "-ffp-contract=off"
          ],
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": [
              "<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni",
              "-ffp-contract=off"
            ]
          }
        },
        {
          # AMX tiles (gemm_amx.h): -mavx512* too, which every AMX CPU has, for gcc to vectorise the packing
          "target_name": "medtune_gemm_amx",
          "type": "static_library",
          "sources": ["native/gemm_amx.cc"],
          "dependencies": ["medtune_kernel_table"],
          "cflags_cc": ["<@(medtune_cflags)"],
          "conditions": [
            ["medtune_amx==1 and medtune_amx_compiler==1", {
              "cflags_cc": [
                "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512bf16", "-mfma",
                "-mamx-tile", "-mamx-bf16", "-mamx-int8"
              ]
            }]
          ]
        },
        {
          "target_name": "medtune_gemm_avx512bf16",
          "type": "static_library",
          "sources": ["native/gemm_avx512bf16.cc"],
          "dependencies": ["medtune_kernel_table"],
          "cflags_cc": [
            "<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512bf16", "-mfma"
          ],
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": [
              "<@(medtune_cflags)", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512bf16", "-mfma"
            ]
          }
        }
      ]
    }]
  ],
  "targets": [
    {
      # the portable emulation of the AMX tile instructions (every architecture): one rounding per operation
      "target_name": "medtune_gemm_amx_emu",
      "type": "static_library",
      "sources": ["native/gemm_amx_emu.cc"],
      "dependencies": ["medtune_kernel_table"],
      "cflags_cc": ["<@(medtune_cflags)", "-ffp-contract=off"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["<@(medtune_cflags)", "-ffp-contract=off"] },
      "conditions": [["medtune_portable_only==1", { "defines": ["MEDTUNE_PORTABLE_ONLY", "MEDTUNE_NO_CLONES"] }]]
    },
    {
      # The kernel table (native/kernels.mjs) -> the op-code enums and one N-API binding per kernel
      "target_name": "medtune_kernel_table",
      "type": "none",
      "actions": [
        {
          "action_name": "gen_kernels",
          "inputs": ["native/kernels.mjs", "scripts/gen-kernels.mjs"],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/medtune/op_codes.h", "<(SHARED_INTERMEDIATE_DIR)/medtune/bindings.h"],
          "action": ["node", "scripts/gen-kernels.mjs", "--cc", "<(SHARED_INTERMEDIATE_DIR)/medtune"]
        }
      ]
    },
    {
      "target_name": "medtune_native",
      "dependencies": ["medtune_kernel_table", "medtune_gemm_amx_emu"],
      "sources": [
        "native/addon.cc",
        "native/threadpool.cc",
        "native/cpu.cc",
        "native/gemm.cc",
        "native/gemm_portable.cc",
        "native/gemm_int8_portable.cc",
        "native/int8.cc",
        "native/elementwise.cc",
        "native/layernorm.cc",
        "native/attention.cc",
        "native/embedding.cc",
        "native/loss.cc",
        "native/adamw.cc"
      ],
      "cflags_cc": ["<@(medtune_cflags)"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["<@(medtune_cflags)"] },
      "libraries": ["-lpthread"],
      "conditions": [
        ["target_arch=='x64' and medtune_portable_only==0", {
          "dependencies": [
            "medtune_gemm_avx2", "medtune_gemm_avx512", "medtune_gemm_avx512bf16", "medtune_gemm_avx512vnni",
            "medtune_gemm_amx"
          ]
        }],
        ["medtune_portable_only==1", {
          "defines": ["MEDTUNE_PORTABLE_ONLY", "MEDTUNE_NO_CLONES"]
        }],
        ["medtune_blas=='openblas'", {
          "defines": ["MEDTUNE_OPENBLAS"],
          "libraries": ["-lopenblas"]
        }],
        ["medtune_blas=='accelerate'", {
          "defines": ["MEDTUNE_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"]
        }]
      ]
    }
  ]
}
