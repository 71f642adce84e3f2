package dev.twofour.kernels;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fatbin is part of the build exactly when nvcc is: same lookup as kernels/build-fatbin.sh. */
class FatbinResourceTest {
    static final List<String> EXPECTED = List.of(
            "twofour_fill_f32", "twofour_fill_f16", "twofour_fill_bf16",
            "twofour_fill_sparse24_f16", "twofour_fill_sparse24_bf16",
            "twofour_f16_to_f32", "twofour_bf16_to_f32", "twofour_f32_to_f16", "twofour_f32_to_bf16", "twofour_copy16",
            "twofour_axpby_f32", "twofour_axpby_f16", "twofour_axpby_bf16",
            "twofour_swiglu_f32", "twofour_swiglu_f16", "twofour_swiglu_bf16",
            "twofour_sparse24_gemm_f16_mt8", "twofour_sparse24_gemm_f16_mt16", "twofour_sparse24_gemm_f16_mt32",
            "twofour_sparse24_unpack", "twofour_sparse24_gemm_bf16_mt8", "twofour_sparse24_gemm_bf16_mt16", "twofour_sparse24_gemm_bf16_mt32",
            "twofour_sparse24_stream_f16_mt8", "twofour_sparse24_stream_bf16_mt16", "twofour_sparse24_stream_sp_f16_mt8",
            "twofour_sparse24_stream_sp_bf16_mt16", "twofour_sparse24_stream_sp_f16_mt8_s2", "twofour_sparse24_stream_sp_bf16_mt8_s3",
            "twofour_sparse24_stream_sp_f16_mt16_c8_s4", "twofour_sparse24_stream_sp_bf16_mt8_c8_s8", "twofour_sparse24_stream_sp_f16_mt8_c8_s4",
            "twofour_mmasp_probe_f16", "twofour_mmasp_probe_nonnull_bf16",
            "twofour_sparse24_wide_f16_mt32_bn128", "twofour_sparse24_wide_f16_mt64_bn128", "twofour_sparse24_wide_f16_mt32_bn256",
            "twofour_sparse24_wide_f16_mt64_bn256", "twofour_sparse24_wide_bf16_mt32_bn128", "twofour_sparse24_wide_bf16_mt64_bn128",
            "twofour_sparse24_wide_bf16_mt32_bn256", "twofour_sparse24_wide_bf16_mt64_bn256",
            "twofour_sparse24_wide_f16_mt32_bn128_cl2", "twofour_sparse24_wide_f16_mt32_bn128_cl3", "twofour_sparse24_wide_f16_mt32_bn128_cl4",
            "twofour_sparse24_wide_f16_mt32_bn256_cl2", "twofour_sparse24_wide_f16_mt32_bn256_cl3", "twofour_sparse24_wide_f16_mt32_bn256_cl4",
            "twofour_sparse24_wide_f16_mt64_bn128_cl2", "twofour_sparse24_wide_f16_mt64_bn128_cl3", "twofour_sparse24_wide_f16_mt64_bn128_cl4",
            "twofour_sparse24_wide_f16_mt64_bn256_cl2", "twofour_sparse24_wide_f16_mt64_bn256_cl3", "twofour_sparse24_wide_f16_mt64_bn256_cl4",
            "twofour_sparse24_wide_bf16_mt32_bn128_cl2", "twofour_sparse24_wide_bf16_mt32_bn128_cl3", "twofour_sparse24_wide_bf16_mt32_bn128_cl4",
            "twofour_sparse24_wide_bf16_mt32_bn256_cl2", "twofour_sparse24_wide_bf16_mt32_bn256_cl3", "twofour_sparse24_wide_bf16_mt32_bn256_cl4",
            "twofour_sparse24_wide_bf16_mt64_bn128_cl2", "twofour_sparse24_wide_bf16_mt64_bn128_cl3", "twofour_sparse24_wide_bf16_mt64_bn128_cl4",
            "twofour_sparse24_wide_bf16_mt64_bn256_cl2", "twofour_sparse24_wide_bf16_mt64_bn256_cl3", "twofour_sparse24_wide_bf16_mt64_bn256_cl4",
            "twofour_sparse24_wide_f16_mt64_bn256_r64", "twofour_sparse24_wide_f16_mt64_bn256_r64_cl2", "twofour_sparse24_wide_f16_mt64_bn256_r64_cl3", "twofour_sparse24_wide_f16_mt64_bn256_r64_cl4",
            "twofour_sparse24_wide_bf16_mt64_bn256_r64", "twofour_sparse24_wide_bf16_mt64_bn256_r64_cl2", "twofour_sparse24_wide_bf16_mt64_bn256_r64_cl3", "twofour_sparse24_wide_bf16_mt64_bn256_r64_cl4",
            "twofour_sparse24_wide_f16_mt32_bn96", "twofour_sparse24_wide_f16_mt32_bn96_cl2", "twofour_sparse24_wide_f16_mt32_bn96_cl3", "twofour_sparse24_wide_f16_mt32_bn96_cl4",
            "twofour_sparse24_wide_f16_mt64_bn96", "twofour_sparse24_wide_f16_mt64_bn96_cl2", "twofour_sparse24_wide_f16_mt64_bn96_cl3", "twofour_sparse24_wide_f16_mt64_bn96_cl4",
            "twofour_sparse24_wide_bf16_mt32_bn96", "twofour_sparse24_wide_bf16_mt32_bn96_cl2", "twofour_sparse24_wide_bf16_mt32_bn96_cl3", "twofour_sparse24_wide_bf16_mt32_bn96_cl4",
            "twofour_sparse24_wide_bf16_mt64_bn96", "twofour_sparse24_wide_bf16_mt64_bn96_cl2", "twofour_sparse24_wide_bf16_mt64_bn96_cl3", "twofour_sparse24_wide_bf16_mt64_bn96_cl4");

    static boolean nvccPresent() {
        if (System.getenv("TWOFOUR_NO_NVCC") != null) return false;  // build-fatbin.sh skips nvcc then
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null && Files.isExecutable(Path.of(cudaHome, "bin", "nvcc"))) return true;
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "nvcc"))) return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/local/cuda/bin/nvcc"));
    }

    @Test
    void fatbinPresentExactlyWhenNvccIs() {
        assertEquals(nvccPresent(), Kernels.available(),
                "nvcc present=" + nvccPresent() + " but fatbin resource present=" + Kernels.available());
    }

    @Test
    void fatbinNamesEveryKernel() {
        if (!Kernels.available()) {
            assertTrue(Kernels.unavailableReason().contains("built without CUDA kernels"), Kernels.unavailableReason());
            return;
        }
        assertEquals("", Kernels.unavailableReason());
        // Built with --no-compress, so each kernel's extern "C" name appears as plain bytes.
        String image = new String(Kernels.fatbin(), StandardCharsets.ISO_8859_1);
        for (String name : EXPECTED) assertTrue(image.contains(name + "\0") || image.contains(name + "("), "fatbin lacks kernel " + name);
        assertFalse(image.contains("twofour_no_such_kernel"));
        // sm_90 machine code and compute_90 PTX are both inside.
        assertTrue(image.contains(".target sm_90"), "no compute_90 PTX in the fatbin");
    }
}
